"""The pure core, tested as plain functions: no event loop, no sockets."""

from __future__ import annotations

import json
import pickle
import random
from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict
from yarl import URL

from comfycontrol_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    Timeout,
)
from comfycontrol_async._core import (
    Answer,
    RetryDecision,
    build_url,
    check_id,
    check_page_args,
    decide_retry,
    error_for,
    is_idempotent,
    parse_base_url,
    parse_json_body,
    parse_retry_after,
    rate_limit_pause,
)

from .conftest import EXAMPLES, VENDORED_EXAMPLES

BASE = parse_base_url("https://api.comfycontrol.app")


def answer(status: int, body: bytes | str = b"", **headers: str) -> Answer:
    raw = body.encode() if isinstance(body, str) else body
    return Answer(status=status, headers=CIMultiDict(headers), body=raw)


def test_vendored_examples_are_the_published_ones() -> None:
    vendored = {p.name: p.read_bytes() for p in VENDORED_EXAMPLES.glob("*.json")}
    published = {p.name: p.read_bytes() for p in EXAMPLES.glob("*.json")}
    assert len(vendored) == 16
    assert vendored == published


class TestUrls:
    def test_endpoint_paths(self) -> None:
        assert str(build_url(BASE, "user")) == "https://api.comfycontrol.app/v1/user"
        assert (
            str(build_url(BASE, "managed-runner", "a1b2", "stats"))
            == "https://api.comfycontrol.app/v1/managed-runner/a1b2/stats"
        )

    @pytest.mark.parametrize(
        ("raw", "encoded"),
        [
            ("../x", "%2E%2E%2Fx"),
            ("a/b", "a%2Fb"),
            ("?q", "%3Fq"),
            ("#f", "%23f"),
            ("..", "%2E%2E"),
            ("%2F", "%252F"),
            ("a b", "a%20b"),
            ("t1e2m3p4-l5a6-7890-abcd-ef1234567890", "t1e2m3p4-l5a6-7890-abcd-ef1234567890"),
            ("ünï", "%C3%BCn%C3%AF"),
        ],
    )
    def test_ids_stay_one_segment(self, raw: str, encoded: str) -> None:
        url = build_url(BASE, "runner", raw, "stats")
        assert url.raw_path == f"/v1/runner/{encoded}/stats"
        # Whatever the id, the URL has no query, no fragment, and exactly four segments.
        assert url.query_string == ""
        assert url.fragment == ""
        assert url.raw_path.count("/") == 4
        assert url.path.endswith("/stats")

    def test_base_url_forms(self) -> None:
        assert str(parse_base_url("http://127.0.0.1:8080/")) == "http://127.0.0.1:8080/"
        assert parse_base_url("https://api.comfycontrol.app/v1").path == "/"
        prefixed = parse_base_url("https://proxy.example.com/comfy/")
        assert str(build_url(prefixed, "user")) == "https://proxy.example.com/comfy/v1/user"
        assert build_url(parse_base_url("http://[::1]:9000"), "user").port == 9000

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "  ",
            "ftp://x",
            "api.comfycontrol.app",
            "https://h/?a=1",
            "https://u:p@h/",
            "https://h/#x",
        ],
    )
    def test_bad_base_urls(self, bad: str) -> None:
        with pytest.raises(ValueError, match="base_url"):
            parse_base_url(bad)


class TestArguments:
    @pytest.mark.parametrize(("page", "per_page"), [(1, 1), (1, 100), (7, 50)])
    def test_good_pages(self, page: int, per_page: int) -> None:
        assert check_page_args(page, per_page) == (page, per_page)

    @pytest.mark.parametrize(
        ("page", "per_page", "word"),
        [(0, 10, "page"), (-1, 10, "page"), (1, 0, "per_page"), (1, 101, "per_page")],
    )
    def test_bad_pages(self, page: int, per_page: int, word: str) -> None:
        with pytest.raises(ValueError, match=word):
            check_page_args(page, per_page)

    def test_page_types(self) -> None:
        with pytest.raises(TypeError):
            check_page_args(True, 10)
        with pytest.raises(TypeError):
            check_page_args(1, 10.0)

    def test_ids(self) -> None:
        assert check_id("x") == "x"
        with pytest.raises(ValueError, match="non-empty"):
            check_id("")
        with pytest.raises(ValueError, match="runner_id"):
            check_id("   ", "runner_id")
        with pytest.raises(TypeError):
            check_id(12)

    def test_config_validation(self) -> None:
        with pytest.raises(ValueError, match="requests"):
            RateLimit(requests=0)
        with pytest.raises(ValueError, match="per_seconds"):
            RateLimit(per_seconds=0)
        with pytest.raises(ValueError, match="total"):
            Timeout(total=-1)
        with pytest.raises(TypeError):
            Timeout(total="5")  # type: ignore[arg-type]
        assert Timeout(total=None).total is None


class TestErrors:
    @pytest.mark.parametrize(
        ("name", "cls", "status", "message"),
        [
            ("error-400-name-cannot-be-empty.json", BadRequestError, 400, "name cannot be empty"),
            ("error-401-invalid-token.json", AuthenticationError, 401, "Invalid token"),
            (
                "error-403-managed-runners-require-pro-or-plus.json",
                PermissionDeniedError,
                403,
                "Managed runners require Pro or Plus tier",
            ),
            (
                "error-404-requested-entity-not-found.json",
                NotFoundError,
                404,
                "requested entity not found",
            ),
        ],
    )
    def test_documented_error_bodies(
        self, name: str, cls: type[APIStatusError], status: int, message: str
    ) -> None:
        raw = (EXAMPLES / name).read_text()
        err = error_for(
            answer(status, raw, **{"X-Request-Id": "req-1"}),
            method="GET",
            url="https://api.comfycontrol.app/v1/x",
        )
        assert type(err) is cls
        assert err.status == status
        assert err.message == message
        assert err.body == raw
        assert err.request_id == "req-1"
        assert str(err).startswith(f"{status} {message}")
        assert "GET https://api.comfycontrol.app/v1/x" in str(err)

    def test_cdn_html_429(self) -> None:
        html = (
            "<html><head><title>429 Too Many Requests</title></head><body>slow down</body></html>"
        )
        err = error_for(answer(429, html, **{"Content-Type": "text/html"}), method="GET", url="u")
        assert isinstance(err, RateLimitError)
        assert err.retry_after is None
        assert err.body == html
        assert "429 Too Many Requests" in err.message

    @pytest.mark.parametrize(
        ("status", "cls"),
        [(500, ServerError), (502, ServerError), (503, ServerError), (418, APIStatusError)],
    )
    def test_empty_and_truncated_bodies(self, status: int, cls: type[APIStatusError]) -> None:
        empty = error_for(answer(status), method="GET", url="u")
        assert type(empty) is cls
        assert empty.body == ""
        assert "empty body" in empty.message
        cut = error_for(answer(status, '{"status": 500, "mess'), method="GET", url="u")
        assert type(cut) is cls
        assert cut.body == '{"status": 500, "mess'

    def test_json_without_message_and_binary(self) -> None:
        err = error_for(answer(400, '{"status": 400}'), method="POST", url="u")
        assert isinstance(err, BadRequestError)
        assert err.body == '{"status": 400}'
        binary = error_for(answer(500, b"\xff\xfe\x00"), method="GET", url="u")
        assert isinstance(binary, ServerError)

    def test_retry_after_on_429(self) -> None:
        err = error_for(answer(429, "", **{"Retry-After": "7"}), method="GET", url="u")
        assert isinstance(err, RateLimitError)
        assert err.retry_after == 7.0

    def test_errors_pickle(self) -> None:
        err = error_for(answer(429, "x", **{"Retry-After": "3"}), method="GET", url="u")
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is RateLimitError
        assert (again.status, again.body, again.retry_after) == (429, "x", 3.0)

    def test_long_html_is_excerpted_in_message_but_whole_in_body(self) -> None:
        html = "<html>" + "x" * 5000 + "</html>"
        err = error_for(answer(503, html), method="GET", url="u")
        assert len(err.message) < 400
        assert err.body == html


class TestRetryPolicy:
    def test_idempotency(self) -> None:
        assert is_idempotent("GET")
        assert is_idempotent("get")
        assert not is_idempotent("POST")
        assert not is_idempotent("PUT")

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    def test_retryable(self, status: int) -> None:
        assert decide(status=status).retry

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 501])
    def test_not_retryable(self, status: int) -> None:
        assert not decide(status=status).retry

    def test_retry_after_seconds_and_dates(self) -> None:
        now = datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC)
        assert parse_retry_after("10") == 10.0
        assert parse_retry_after(" 2.5 ") == 2.5
        assert parse_retry_after("-3") == 0.0
        assert parse_retry_after("Mon, 15 Jan 2024 10:30:12 GMT", now=now) == 12.0
        assert parse_retry_after("Mon, 15 Jan 2024 10:29:00 GMT", now=now) == 0.0
        assert parse_retry_after(None) is None
        assert parse_retry_after("") is None
        assert parse_retry_after("soon") is None
        assert parse_retry_after("inf") is None

    def test_full_jitter_backoff(self) -> None:
        rng = random.Random(7)
        for attempt in range(8):
            ceiling = min(8.0, 0.5 * 2**attempt)
            draws = [
                decide_retry(
                    RetryPolicy(max_retries=8, backoff_base=0.5, backoff_cap=8.0),
                    idempotent=True,
                    status=None,
                    retry_after=None,
                    retry_number=attempt + 1,
                    remaining=None,
                    draw=rng.random(),
                ).delay
                for _ in range(200)
            ]
            assert all(0 <= d <= ceiling for d in draws)
            # full jitter spreads over the whole range, not just the top
            assert min(draws) < ceiling * 0.2
            assert max(draws) > ceiling * 0.8


POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_cap=8.0, max_retry_after=60.0)


def decide(
    *,
    idempotent: bool = True,
    status: int | None = 503,
    retry_after: float | None = None,
    retry_number: int = 1,
    remaining: float | None = None,
    held: float = 0.0,
) -> RetryDecision:
    return decide_retry(
        POLICY,
        idempotent=idempotent,
        status=status,
        retry_after=retry_after,
        retry_number=retry_number,
        remaining=remaining,
        held=held,
        draw=0.5,
    )


class TestRetryDecision:
    """The pure retry decision (one home for the policy), driven without a client."""

    def test_policy_checks_its_values(self) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(max_retries=-1)
        with pytest.raises(ValueError):
            RetryPolicy(max_retry_after=float("inf"))
        with pytest.raises(TypeError):
            RetryPolicy(budget=10)  # type: ignore[arg-type]
        assert RetryPolicy().budget == RetryBudget()
        assert RetryPolicy(budget=None).budget is None

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, None])
    def test_retryable(self, status: int | None) -> None:
        decision = decide_retry(
            POLICY,
            idempotent=True,
            status=status,
            retry_after=None,
            retry_number=1,
            remaining=None,
            draw=0.5,
        )
        assert decision.retry

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
    def test_not_retryable(self, status: int) -> None:
        assert not decide(status=status).retry

    def test_writes_never_retried(self) -> None:
        assert not decide(idempotent=False).retry
        assert not decide(idempotent=False, status=None).retry

    def test_max_retries(self) -> None:
        assert decide(retry_number=3).retry
        last = decide(retry_number=4)
        assert not last.retry
        assert "max_retries" in last.reason

    def test_backoff_is_full_jitter_under_a_growing_ceiling(self) -> None:
        for number, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0)]:
            top = decide_retry(
                POLICY,
                idempotent=True,
                status=500,
                retry_after=None,
                retry_number=number,
                remaining=None,
                draw=1.0,
            )
            low = decide_retry(
                POLICY,
                idempotent=True,
                status=500,
                retry_after=None,
                retry_number=number,
                remaining=None,
                draw=0.0,
            )
            assert top.delay == ceiling
            assert low.delay == 0.0
            assert top.spends_budget
        capped = RetryPolicy(max_retries=20, backoff_cap=8.0)
        far = decide_retry(
            capped,
            idempotent=True,
            status=500,
            retry_after=None,
            retry_number=20,
            remaining=None,
            draw=1.0,
        )
        assert far.delay == 8.0

    def test_retry_after_is_the_delay(self) -> None:
        decision = decide(retry_after=2.5)
        assert decision.retry
        assert decision.delay == 2.5

    def test_retry_after_above_the_cap_is_not_waited(self) -> None:
        for status in (429, 503):
            decision = decide(status=status, retry_after=99999.0)
            assert not decision.retry
            assert "max_retry_after" in decision.reason

    def test_a_429_waits_on_the_pause_and_spends_no_budget(self) -> None:
        decision = decide(status=429, retry_after=5.0, held=5.0)
        assert decision.retry
        assert decision.delay == 0.0
        assert not decision.spends_budget

    def test_deadline(self) -> None:
        out = decide(retry_after=10.0, remaining=5.0)
        assert not out.retry
        assert out.out_of_time
        held = decide(status=429, held=30.0, remaining=5.0)
        assert held.out_of_time
        assert decide(retry_after=1.0, remaining=5.0).retry

    def test_rate_limit_pause_never_exceeds_the_cap(self) -> None:
        policy = RetryPolicy(max_retry_after=60.0)
        assert rate_limit_pause(policy, None, cooldown=10.0, jitter=1.0) == 10.0
        assert rate_limit_pause(policy, 30.0, cooldown=10.0, jitter=1.0) == 30.0
        # the pacer adds up to `jitter`: the whole pause stays within max_retry_after
        assert rate_limit_pause(policy, 99999.0, cooldown=10.0, jitter=1.0) == 59.0
        assert rate_limit_pause(policy, 59.5, cooldown=10.0, jitter=1.0) == 59.0
        tiny = RetryPolicy(max_retry_after=0.5)
        assert rate_limit_pause(tiny, None, cooldown=10.0, jitter=1.0) == 0.0


class TestBodies:
    def test_json(self) -> None:
        assert parse_json_body(answer(200, '{"a": 1}')) == {"a": 1}

    @pytest.mark.parametrize("raw", ["", "   ", "{", "<html>", "\xff"])
    def test_not_json(self, raw: str) -> None:
        with pytest.raises(ResponseValidationError):
            parse_json_body(answer(200, raw))

    def test_answer_helpers(self) -> None:
        a = answer(201, json.dumps({"x": 1}), **{"x-request-id": "r"})
        assert a.ok
        assert a.request_id == "r"
        assert not answer(302).ok
        assert URL("https://h/").scheme == "https"

"""The client's request loop: configuration, errors, retries, 429 pauses, deadlines, answer
size, closing and event loops.

Answers come from the in-process fake server (``FakeComfyControl``), which works on every aiohttp
the package supports. aioresponses (0.7.9 cannot build responses on aiohttp 3.14) is kept only for
what it does on every version: raising connection errors and timeouts, hanging, and proving that
nothing was sent. No test races the clock: time only appears as lower bounds ("waited at least")
and as generous guards that turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from comfycontrol_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ComfyControl,
    ComfyControlError,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    Timeout,
    User,
)
from comfycontrol_async.testing import FakeComfyControl

from .conftest import EXAMPLES, FAST_RETRY

API = "https://api.comfycontrol.app"
TOKEN = "cfc_unit_test_token_0123456789"
USER = "GET /v1/user"
MANAGED = "GET /v1/managed-runner/{id}"
STATS = "GET /v1/managed-runner/{id}/stats"
# A 429 pause of 10 ms and no jitter: the pause logic runs, nobody waits for it.
QUICK_PAUSES = RateLimit(requests=100_000, per_seconds=1.0, cooldown=0.01, jitter=0.0)
# Turns a hang (the bug some of these tests guard against) into a failure; never reached when green.
HANG_GUARD = 60.0


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def count(m: aioresponses) -> int:
    return sum(len(v) for v in m.requests.values())


async def until(condition: Callable[[], bool]) -> None:
    """Wait for something the fake records (it has no event to wait on), with a hang guard."""
    async with asyncio.timeout(HANG_GUARD):
        while not condition():  # noqa: ASYNC110 - the fake's request log has no event
            await asyncio.sleep(0.002)


def sent(fake: FakeComfyControl, route: str | None = None) -> int:
    return sum(1 for r in fake.requests if route is None or r.route == route)


def sends_after_close(monkeypatch: pytest.MonkeyPatch, client: ComfyControl) -> list[str]:
    """Requests handed to aiohttp once ``client`` is closed (a spy at the aiohttp boundary)."""
    late: list[str] = []
    real = aiohttp.ClientSession._request

    async def spy(self: aiohttp.ClientSession, method: str, url: Any, *a: Any, **k: Any) -> Any:
        if client.is_closed:
            late.append(f"{method} {url}")
        return await real(self, method, url, *a, **k)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", spy)
    return late


@pytest.fixture
async def cc(fake: FakeComfyControl) -> AsyncIterator[ComfyControl]:
    async with ComfyControl(
        fake.token("pro"), base_url=fake.url, rate_limit=QUICK_PAUSES, retry=FAST_RETRY
    ) as client:
        yield client


@pytest.fixture
async def mocked() -> AsyncIterator[ComfyControl]:
    async with ComfyControl(TOKEN, rate_limit=None, retry=FAST_RETRY) as client:
        yield client


class TestConfiguration:
    def test_missing_token_names_the_variable(self) -> None:
        with pytest.raises(ValueError, match="COMFYCONTROL_API_TOKEN"):
            ComfyControl()

    async def test_token_and_base_url_from_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("COMFYCONTROL_API_TOKEN", "cfc_from_env")
        monkeypatch.setenv("COMFYCONTROL_BASE_URL", "http://127.0.0.1:9999/v1")
        async with ComfyControl() as client:
            assert str(client.base_url) == "http://127.0.0.1:9999/"
            assert "cfc_from_env" not in repr(client)

    def test_defaults(self) -> None:
        client = ComfyControl(TOKEN)
        assert str(client.base_url) == "https://api.comfycontrol.app/"
        assert client.rate_limit == RateLimit(requests=40, per_seconds=10.0)
        assert client.max_retries == 2
        assert client.timeout == Timeout()

    @pytest.mark.parametrize("token", ["", "   ", "cfc_a b", "cfc_\nx"])
    def test_bad_tokens_are_refused_without_echo(self, token: str) -> None:
        with pytest.raises(ValueError) as info:
            ComfyControl(token)
        if token.strip():
            assert token.strip() not in str(info.value)

    def test_repr_hides_token(self) -> None:
        client = ComfyControl(TOKEN)
        assert TOKEN not in repr(client)
        assert TOKEN not in repr(client.runners)

    def test_plain_http_refused_except_loopback(self) -> None:
        with pytest.raises(ValueError, match="http"):
            ComfyControl(TOKEN, base_url="http://api.comfycontrol.app")
        ComfyControl(TOKEN, base_url="http://localhost:8080")
        ComfyControl(TOKEN, base_url="http://127.0.0.5:8080")
        ComfyControl(TOKEN, base_url="http://[::1]:8080")
        ComfyControl(TOKEN, base_url="http://internal.example", allow_insecure_http=True)

    @pytest.mark.parametrize(
        "kwargs",
        [{"max_retries": -1}, {"deadline": 0}, {"deadline": float("nan")}, {"max_retry_after": -1}],
    )
    def test_bad_settings(self, kwargs: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            ComfyControl(TOKEN, **kwargs)

    def test_bad_types(self) -> None:
        with pytest.raises(TypeError):
            ComfyControl(TOKEN, rate_limit=40)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ComfyControl(TOKEN, session="nope")  # type: ignore[arg-type]


class TestRequests:
    async def test_user_get_sends_token_and_decodes(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        me = await cc.user.get()
        assert isinstance(me, User)
        assert me.tier == "pro"
        (request,) = fake.requests
        assert request.path == "/v1/user"
        assert request.headers["Authorization"] == f"Bearer {fake.token('pro')}"
        assert request.headers["User-Agent"].startswith("comfycontrol-async/")

    async def test_any_2xx_is_success(self, cc: ComfyControl, fake: FakeComfyControl) -> None:
        fake.fail_next(201, route=USER, body=example("user-get.json"))
        me = await cc.user.get()
        assert me.name == "John Doe"

    async def test_ids_are_one_encoded_segment(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        for rid in ["../x", "a/b", "?q", "#f"]:
            with pytest.raises(NotFoundError):
                await cc.managed_runners.get(rid)
        paths = [r.path for r in fake.requests]
        assert len(paths) == 4
        assert all(p.startswith("/v1/managed-runner/") and p.count("/") == 3 for p in paths)
        assert all(r.route == MANAGED for r in fake.requests)

    @pytest.mark.parametrize(
        "call",
        [
            lambda cc: cc.runners.list_page(per_page=101),
            lambda cc: cc.runners.list_page(per_page=0),
            lambda cc: cc.managed_runners.list_page(page=0),
            lambda cc: cc.runners.get(""),
            lambda cc: cc.managed_runners.stats(""),
            lambda cc: cc.managed_runners.get("  "),
            # A bool is no duration, on a call as in a sweep (one rule for every duration).
            lambda cc: cc.user.get(deadline=True),
            lambda cc: cc.workflows.wait("w1", deadline=True),
            lambda cc: cc.workflows.wait("w1", poll_interval=True),
            lambda cc: cc.workflows.wait("w1", poll_interval="1"),
            lambda cc: cc.workflows.wait("w1", poll_interval=2, max_poll_interval=1),
            lambda cc: cc.managed_runners.stats_many(["r1"], timeout="5").collect(),
            lambda cc: cc.managed_runners.stats_many(["r1"], deadline=True).collect(),
            lambda cc: cc.capacity(deadline=True),
        ],
    )
    async def test_bad_arguments_send_nothing(self, mocked: ComfyControl, call: Any) -> None:
        with aioresponses() as m:
            with pytest.raises(ValueError):
                await call(mocked)
            assert count(m) == 0

    def test_list_validates_at_once(self) -> None:
        cc = ComfyControl(TOKEN)
        with pytest.raises(ValueError, match="per_page"):
            cc.runners.list(per_page=101)
        with pytest.raises(ValueError, match="page"):
            cc.managed_runners.list(start_page=0)
        with pytest.raises(ValueError, match="max_items"):
            cc.managed_runners.list(max_items=-1)


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "name", "cls"),
        [
            (400, "error-400-name-cannot-be-empty.json", BadRequestError),
            (401, "error-401-invalid-token.json", AuthenticationError),
            (403, "error-403-managed-runners-require-pro-or-plus.json", PermissionDeniedError),
            (404, "error-404-requested-entity-not-found.json", NotFoundError),
        ],
    )
    async def test_typed_errors(
        self,
        cc: ComfyControl,
        fake: FakeComfyControl,
        status: int,
        name: str,
        cls: type[APIStatusError],
    ) -> None:
        raw = (EXAMPLES / name).read_text()
        fake.fail_next(status, route=MANAGED, body=json.loads(raw))
        with pytest.raises(cls) as info:
            await cc.managed_runners.get("x")
        err = info.value
        assert err.status == status
        assert err.message == json.loads(raw)["message"]
        assert json.loads(err.body) == json.loads(raw)
        (request,) = fake.requests  # 4xx are not retried
        assert err.request_id == request.request_id
        assert err.method == "GET"
        assert err.url == f"{fake.url}/v1/managed-runner/x"
        assert fake.token("pro") not in str(err)

    async def test_html_502_after_retries(self, cc: ComfyControl, fake: FakeComfyControl) -> None:
        fake.fail_next(502, times=10, route=USER, html=True)
        with pytest.raises(ServerError) as info:
            await cc.user.get()
        assert "502" in info.value.body
        assert sent(fake) == 3  # one attempt and max_retries=2

    async def test_2xx_with_bad_json_is_validation_error(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        fake.malformed_next(3, route=USER, kind="truncated")
        with pytest.raises(ResponseValidationError):
            await cc.user.get()
        assert sent(fake) == 3  # not JSON: retried like a 5xx (max_retries=2), then raised
        fake.fail_next(200, route=USER, body={"id": "x"})
        with pytest.raises(ResponseValidationError):
            await cc.user.get()


class TestRetries:
    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    async def test_get_retried_then_succeeds(
        self, cc: ComfyControl, fake: FakeComfyControl, status: int
    ) -> None:
        fake.fail_next(status, route=USER, headers={"Retry-After": "0"})
        me = await cc.user.get()
        assert me.tier == "pro"
        assert sent(fake) == 2

    async def test_connection_errors_retried(self, mocked: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", exception=aiohttp.ServerDisconnectedError())
            m.get(f"{API}/v1/user", exception=aiohttp.ClientConnectionError("reset"))
            m.get(f"{API}/v1/user", exception=aiohttp.ClientConnectionError("reset"))
            with pytest.raises(APIConnectionError) as info:
                await mocked.user.get()
        assert not isinstance(info.value, APITimeoutError)
        assert count(m) == 3  # one attempt and max_retries=2

    async def test_dropped_connection_retried_then_succeeds(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        fake.drop_next(2, route=USER)  # aiohttp itself resends a GET once after a disconnect
        assert (await cc.user.get()).tier == "pro"

    async def test_timeouts_typed(self, mocked: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", exception=TimeoutError(), repeat=True)
            with pytest.raises(APITimeoutError):
                await mocked.user.get()

    async def test_post_never_retried(self, cc: ComfyControl, fake: FakeComfyControl) -> None:
        fake.fail_next(503, times=5, route="POST /v1/runner")
        with pytest.raises(ServerError):
            await cc.runners.create(name="n", endpoint="https://e.example")
        assert sent(fake) == 1

    async def test_put_never_retried(self, mocked: ComfyControl) -> None:
        with aioresponses() as m:
            m.put(f"{API}/v1/runner/r1", exception=aiohttp.ServerDisconnectedError(), repeat=True)
            with pytest.raises(APIConnectionError):
                await mocked.runners.update("r1", name="n")
        assert count(m) == 1

    async def test_retry_after_seconds_honoured(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        fake.fail_next(503, route=USER, headers={"Retry-After": "0.2"})
        loop = asyncio.get_running_loop()
        started = loop.time()
        await cc.user.get()
        assert loop.time() - started >= 0.19  # a lower bound: load only makes it longer

    async def test_max_retries_zero(self, fake: FakeComfyControl) -> None:
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=None, max_retries=0
        ) as client:
            fake.fail_next(500, times=5, route=USER)
            with pytest.raises(ServerError):
                await client.user.get()
        assert sent(fake) == 1

    async def test_retry_budget_bounds_retries(self, fake: FakeComfyControl) -> None:
        budget = RetryBudget(capacity=10, retry_cost=5, success_reward=1)
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=None,
            retry_budget=budget,
            retry=FAST_RETRY,
        ) as client:
            fake.fail_next(503, times=100, route=MANAGED)
            for i in range(5):
                with pytest.raises(ServerError):
                    await client.managed_runners.get(f"r{i}")
        # 5 first attempts and only 2 retries in all: the budget held 10 tokens at 5 each
        assert sent(fake) == 7

    async def test_per_call_max_retries(self, cc: ComfyControl, fake: FakeComfyControl) -> None:
        fake.fail_next(503, times=100, route=USER)
        spec_calls: list[int] = []
        requester = cc.user._requester
        with pytest.raises(ServerError):
            await requester.request(
                _user_spec(cc), max_retries=4, on_attempt=lambda: spec_calls.append(1)
            )
        assert sent(fake) == 5
        assert len(spec_calls) == 5  # on_attempt: once per attempt sent

    async def test_cancellation_is_never_swallowed(self, mocked: ComfyControl) -> None:
        started = asyncio.Event()

        async def hang(url: URL, **kwargs: Any) -> CallbackResult:
            started.set()
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        with aioresponses() as m:
            m.get(f"{API}/v1/user", callback=hang, repeat=True)
            task = asyncio.create_task(mocked.user.get())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert count(m) == 1  # cancelled, not retried


def _user_spec(cc: ComfyControl) -> Any:
    from comfycontrol_async._core import RequestSpec

    return RequestSpec(method="GET", url=cc.user._requester.url("user"))


class TestRateLimits:
    """429s: the client-wide pause is their back-off (issue 10, items 4 and 5)."""

    async def test_retry_after_above_cap_raises_at_once(self, fake: FakeComfyControl) -> None:
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=None, max_retry_after=5
        ) as client:
            fake.rate_limit_next(5, retry_after=120, route=USER)
            with pytest.raises(RateLimitError) as info:
                await client.user.get()
        assert info.value.retry_after == 120.0
        assert sent(fake) == 1

    async def test_huge_retry_after_does_not_freeze_the_client(
        self, fake: FakeComfyControl
    ) -> None:
        pacing = RateLimit(requests=1000, per_seconds=1.0, jitter=0.0)
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=pacing, max_retry_after=0.05
        ) as client:
            fake.rate_limit_next(1, retry_after=99999, route=USER)
            with pytest.raises(RateLimitError) as info:
                await client.user.get()
            assert info.value.retry_after == 99999.0
            async with asyncio.timeout(HANG_GUARD):  # the pause was capped at 0.05 s
                assert (await client.user.get()).tier == "pro"

    async def test_huge_retry_after_holds_back_one_runner_of_a_sweep_only(
        self, fake: FakeComfyControl
    ) -> None:
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=None, max_retry_after=0.05
        ) as client:
            fake.rate_limit_next(1, retry_after=99999, route=STATS)
            async with asyncio.timeout(HANG_GUARD):
                results = await client.managed_runners.stats_many(
                    fake.managed_runner_ids(), concurrency=1
                ).collect()
        # The call that got the over-cap Retry-After raised at once (no 27.8 h wait, the guard
        # above), the rest of the sweep went on, and the sweep's one end-of-sweep try read that
        # runner after the capped pause: nothing is lost, at one extra request.
        assert len(results) == 12
        assert all(r.ok for r in results)
        assert sorted(r.attempts for r in results) == [1] * 11 + [2]

    async def test_429_without_retry_after_pauses_whole_client(
        self, fake: FakeComfyControl
    ) -> None:
        pacing = RateLimit(requests=1000, per_seconds=1.0, cooldown=0.2, jitter=0.0)
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=pacing) as client:
            fake.rate_limit_next(1, route=USER, html=True)
            loop = asyncio.get_running_loop()
            started = loop.time()
            first = asyncio.create_task(client.user.get())
            await until(lambda: bool(fake.requests) and fake.requests[0].status == 429)
            await asyncio.sleep(0.01)
            # another call of the same client waits for the pause too
            await client.runners.list_page()
            await first
            assert loop.time() - started >= 0.2

    async def test_429s_do_not_spend_the_retry_budget(self, fake: FakeComfyControl) -> None:
        tight = RetryBudget(capacity=5, retry_cost=5, success_reward=1)  # one backoff retry
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=QUICK_PAUSES,
            max_retries=5,
            retry_budget=tight,
        ) as client:
            fake.rate_limit_next(5, route=USER)
            assert (await client.user.get()).tier == "pro"
        assert sent(fake) == 6

    async def test_endless_429s_end_with_rate_limit_error(self, fake: FakeComfyControl) -> None:
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=QUICK_PAUSES, max_retries=3
        ) as client:
            fake.rate_limit_next(1000, route=USER)
            async with asyncio.timeout(HANG_GUARD):
                with pytest.raises(RateLimitError):
                    await client.user.get()
        assert sent(fake) == 4  # max_retries honoured

    @pytest.mark.parametrize(
        "settings",
        [
            pytest.param({"max_retries": 5}, id="max_retries=5"),
            pytest.param({}, id="cli-defaults"),
        ],
    )
    async def test_unpaced_sweep_against_a_rate_limit_loses_no_runner(
        self, settings: dict[str, Any]
    ) -> None:
        # The fake allows 50 requests per 0.5 s window, then answers 429 (Retry-After: 1) for
        # 0.5 s. With pacing off, the client's pauses alone must carry 200 runners through.
        async with FakeComfyControl(seed=5, managed_runners=200) as fake:
            fake.enable_rate_limit(50, 5.0, 5.0, retry_after=True, scale=0.1)
            async with ComfyControl(
                fake.token("pro"), base_url=fake.url, rate_limit=None, **settings
            ) as client:
                async with asyncio.timeout(HANG_GUARD * 2):
                    results = await client.managed_runners.stats_many(
                        fake.managed_runner_ids()
                    ).collect()
            assert fake.rate_limited_count > 0  # the limit was really hit
        lost = [r for r in results if not r.ok]
        assert len(results) == 200
        assert lost == []


class TestDeadlines:
    """When the deadline passes between retries, the last status error is raised, chained from
    an APITimeoutError that says so (issue 10, item 12)."""

    async def test_deadline_before_retry_after_raises_the_last_error(
        self, cc: ComfyControl, fake: FakeComfyControl
    ) -> None:
        fake.fail_next(503, times=5, route=USER, headers={"Retry-After": "50"})
        with pytest.raises(ServerError) as info:
            await cc.user.get(deadline=20)
        assert isinstance(info.value.__cause__, APITimeoutError)
        assert "deadline" in str(info.value.__cause__)
        assert sent(fake) == 1

    async def test_deadline_passing_at_the_pacer_raises_the_last_error(
        self, fake: FakeComfyControl
    ) -> None:
        one_per_minute = RateLimit(requests=1, per_seconds=60.0)
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=one_per_minute
        ) as client:
            fake.fail_next(503, route=USER, headers={"Retry-After": "0"})
            with pytest.raises(ServerError) as info:
                await client.user.get(deadline=20)
        assert isinstance(info.value.__cause__, APITimeoutError)
        assert sent(fake) == 1

    async def test_deadline_spans_retries(self, fake: FakeComfyControl) -> None:
        slow = RetryPolicy(max_retries=50, backoff_base=10.0, backoff_cap=10.0)
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=None, retry=slow
        ) as client:
            fake.fail_next(503, times=100, route=USER)
            # each backoff draws up to 10 s: the deadline (a generous 1 s on a loaded machine)
            # ends the call long before 50 retries, with the last 503
            async with asyncio.timeout(HANG_GUARD):
                with pytest.raises(ServerError):
                    await client.user.get(deadline=1.0)
        assert sent(fake) < 50

    async def test_deadline_on_the_first_pacing_wait_is_a_timeout(
        self, fake: FakeComfyControl
    ) -> None:
        one_per_minute = RateLimit(requests=1, per_seconds=60.0)
        async with ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=one_per_minute
        ) as client:
            await client.user.get()
            with pytest.raises(APITimeoutError, match="rate-limit slot"):
                await client.user.get(deadline=5)
        assert sent(fake) == 1


class _HugeServer:
    """A loopback server whose answers never end (or are larger than any cap)."""

    def __init__(self) -> None:
        self.hits = 0
        self.written = 0
        app = web.Application()
        app.router.add_get("/v1/user", self.endless)
        app.router.add_get("/v1/managed-runner/{id}", self.error_page)
        app.router.add_get("/storage/{name}", self.endless_refusal)
        self._runner = web.AppRunner(app)
        self.url = ""

    async def __aenter__(self) -> _HugeServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    async def endless(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"[" + b"1," * 32_767
        try:
            while True:  # until the client hangs up
                await response.write(chunk)
                self.written += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def endless_refusal(self, request: web.Request) -> web.StreamResponse:
        """A storage host's 403 with a 40 MB page (written until the client hangs up)."""
        self.hits += 1
        response = web.StreamResponse(status=403, headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>denied</p>" * 4096
        try:
            while self.written < 40_000_000:
                await response.write(chunk)
                self.written += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def error_page(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=500, body=b"<html>" + b"x" * 1_000_000, content_type="text/html")


class TestAnswerSize:
    async def test_endless_answer_is_refused_typed(self) -> None:
        async with _HugeServer() as server:
            async with ComfyControl(
                TOKEN, base_url=server.url, rate_limit=None, max_answer_bytes=1 << 20
            ) as client:
                async with asyncio.timeout(HANG_GUARD):
                    with pytest.raises(ResponseValidationError, match="max_answer_bytes"):
                        await client.user.get()
        assert server.hits == 1  # not retried: the same answer would come back

    async def test_huge_error_page_keeps_an_excerpt(self) -> None:
        async with _HugeServer() as server:
            async with ComfyControl(
                TOKEN, base_url=server.url, rate_limit=None, max_retries=0
            ) as client:
                with pytest.raises(ServerError) as info:
                    await client.managed_runners.get("x")
        assert 0 < len(info.value.body) <= 64 * 1024

    async def test_endless_error_page_of_a_storage_host_is_cut(self, tmp_path: Path) -> None:
        # Downloads go to other hosts: their error pages are read up to the same 64 KiB cap.
        durations = {"accepted": 0.01, "uploaded": 0.01, "queued": 0.01, "running": 0.02}
        async with (
            _HugeServer() as storage,
            FakeComfyControl(seed=7, workflow_durations=durations) as fake,
        ):
            async with ComfyControl(
                fake.token("pro"), base_url=fake.url, rate_limit=None, retry=FAST_RETRY
            ) as client:
                created = await client.workflows.create(name="w", workflow={"1": {"inputs": {}}})
                await client.workflows.wait(created.id, poll_interval=0.01, deadline=HANG_GUARD)
                src = f"{storage.url}/storage/out.png"
                output = {"id": "o1", "workflow_id": created.id, "src": src}
                fake.fail_next(200, route="GET /v1/workflow/{id}/outputs", body=[output])
                async with asyncio.timeout(HANG_GUARD):
                    with pytest.raises(PermissionDeniedError) as info:
                        await client.workflows.download_outputs(created.id, tmp_path)
        assert 0 < len(info.value.body) <= 64 * 1024
        assert list(tmp_path.iterdir()) == []  # no partial file left behind
        # The client hung up after its cap: what the host could write is what socket buffers
        # hold (a few MB on loopback), never the whole page.
        assert storage.written < 20_000_000

    def test_cap_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="max_answer_bytes"):
            ComfyControl(TOKEN, max_answer_bytes=0)


class TestProxies:
    """The client's own session honours HTTP(S)_PROXY and NO_PROXY (aiohttp's trust_env)."""

    async def test_proxy_from_the_environment_is_used(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[str] = []

        async def proxy(request: web.BaseRequest) -> web.Response:
            seen.append(request.raw_path)  # a proxy gets the absolute URL
            return web.json_response(example("user-get.json"))

        runner = web.ServerRunner(web.Server(proxy))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{runner.addresses[0][1]}")
            # nothing listens on port 9: only the proxy can answer
            async with ComfyControl(
                TOKEN, base_url="http://127.0.0.1:9", rate_limit=None
            ) as client:
                assert (await client.user.get()).name == "John Doe"
        finally:
            await runner.cleanup()
        assert seen == ["http://127.0.0.1:9/v1/user"]

    async def test_no_proxy_is_honoured(
        self, fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as client:
            assert (await client.user.get()).tier == "pro"

    async def test_a_netrc_never_interferes(
        self, fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
    ) -> None:
        # aiohttp's trust_env would read this for every request and then refuse to send our
        # Authorization header ("Cannot combine AUTHORIZATION header with AUTH argument").
        netrc = tmp_path / "netrc"
        netrc.write_text("default login someone password elsewhere\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as client:
            assert (await client.user.get()).tier == "pro"
        assert fake.requests[0].headers["Authorization"] == f"Bearer {fake.token('pro')}"

    async def test_proxy_credentials_never_shown(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("HTTP_PROXY", "http://proxyuser:proxy-secret-77@127.0.0.1:9")
        caplog.set_level("DEBUG", logger="comfycontrol_async")
        async with ComfyControl(
            TOKEN, base_url="http://127.0.0.1:9", rate_limit=None, max_retries=1, retry=FAST_RETRY
        ) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.user.get()
        shown = f"{info.value!s} {info.value!r} {caplog.text}"
        assert "proxy-secret-77" not in shown
        assert TOKEN not in shown


class TestLifecycle:
    async def test_closed_client_refuses_work(self) -> None:
        client = ComfyControl(TOKEN)
        await client.aclose()
        await client.aclose()  # idempotent
        assert client.is_closed
        with pytest.raises(ClientClosedError, match="closed"):
            await client.user.get()
        with pytest.raises(ClientClosedError):
            async with client:
                pass

    async def test_callers_session_stays_open(self, fake: FakeComfyControl) -> None:
        async with aiohttp.ClientSession() as session:
            async with ComfyControl(
                fake.token("pro"), base_url=fake.url, session=session, rate_limit=None
            ) as client:
                await client.user.get()
            assert not session.closed

    async def test_own_session_closed_on_exit(self, fake: FakeComfyControl) -> None:
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as client:
            await client.user.get()
            assert client._transport.owns_open_session
        assert not client._transport.owns_open_session

    async def test_unclosed_client_warns(self, fake: FakeComfyControl) -> None:
        client = ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None)
        await client.user.get()
        session = client._transport._own
        assert session is not None
        del client
        with pytest.warns(ResourceWarning, match="unclosed"):
            gc.collect()
        await session.close()

    async def test_session_made_lazily_in_running_loop(self) -> None:
        client = ComfyControl(TOKEN)
        assert client._transport._own is None
        await client.aclose()

    async def test_aclose_ends_pending_calls_and_sends_nothing_more(
        self, fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client = ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None)
        late = sends_after_close(monkeypatch, client)
        fake.fail_next(503, route=USER, headers={"Retry-After": "30"})  # then a 30 s backoff
        fake.hang_next(route=MANAGED)  # an attempt on the wire
        fake.rate_limit_next(1, route="GET /v1/runner", retry_after=30)  # a 30 s client pause
        rid = fake.managed_runner_ids()[0]
        calls = [
            asyncio.create_task(client.user.get()),
            asyncio.create_task(client.managed_runners.get(rid)),
            asyncio.create_task(client.runners.list_page()),
        ]
        await until(
            lambda: (
                sent(fake) == 3
                and all(r.status is not None for r in fake.requests if r.route != MANAGED)
            )
        )
        async with asyncio.timeout(HANG_GUARD):
            await asyncio.sleep(0.05)  # let the answers reach their retry waits
            later = asyncio.create_task(client.templates.list_page())  # waits for the pause
            await asyncio.sleep(0)
            await client.aclose()
            outcomes = await asyncio.gather(*calls, later, return_exceptions=True)
        assert [type(o) for o in outcomes] == [ClientClosedError] * 4
        assert late == []  # nothing sent after aclose()
        assert not client._transport.owns_open_session  # and no new session opened

    async def test_aclose_during_a_sweep(
        self, fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client = ComfyControl(
            fake.token("pro"), base_url=fake.url, rate_limit=None, retry=FAST_RETRY
        )
        late = sends_after_close(monkeypatch, client)
        fake.hang_next(4, route=STATS)  # the first four calls stay on the wire
        fake.set_error_rate(1.0, statuses=(503,), route=STATS)  # the others retry
        sweep = asyncio.create_task(
            client.managed_runners.stats_many(fake.managed_runner_ids(), concurrency=6).collect()
        )
        await until(lambda: sent(fake) >= 12)
        await client.aclose()
        async with asyncio.timeout(HANG_GUARD):
            results = await sweep
        assert len(results) == 12  # every runner accounted for
        assert {type(r.error) for r in results} <= {ClientClosedError, ServerError}
        assert any(isinstance(r.error, ClientClosedError) for r in results)
        assert late == []
        assert not client._transport.owns_open_session

    async def test_aclose_does_not_hide_the_callers_own_cancel(
        self, fake: FakeComfyControl
    ) -> None:
        client = ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None)
        fake.hang_next(route=USER)
        call = asyncio.create_task(client.user.get())
        await until(lambda: sent(fake) == 1)
        call.cancel()
        await client.aclose()
        with pytest.raises(asyncio.CancelledError):
            await call

    def test_second_event_loop_gives_a_clear_error(self) -> None:
        holder: dict[str, ComfyControl] = {}

        async def first() -> None:
            async with FakeComfyControl(seed=2) as fake, aiohttp.ClientSession() as session:
                holder["cc"] = ComfyControl(
                    fake.token("pro"), base_url=fake.url, session=session, rate_limit=None
                )
                await holder["cc"].user.get()

        async def second() -> None:
            with pytest.raises(ComfyControlError, match="event loop"):
                await holder["cc"].user.get()
            await holder["cc"].aclose()

        asyncio.run(first())
        asyncio.run(second())

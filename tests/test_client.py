"""The client against a mocked wire (aioresponses): configuration, errors, retries, lifecycle."""

from __future__ import annotations

import asyncio
import gc
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
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
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    RetryBudget,
    ServerError,
    Timeout,
    User,
)

from .conftest import EXAMPLES

API = "https://api.comfycontrol.app"
TOKEN = "cfc_unit_test_token_0123456789"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def calls(m: aioresponses, method: str = "GET") -> list[tuple[URL, dict[str, Any]]]:
    out: list[tuple[URL, dict[str, Any]]] = []
    for (meth, url), reqs in m.requests.items():
        if meth == method:
            out.extend((url, r.kwargs) for r in reqs)
    return out


def count(m: aioresponses) -> int:
    return sum(len(v) for v in m.requests.values())


@pytest.fixture
async def cc() -> AsyncIterator[ComfyControl]:
    async with ComfyControl(TOKEN, rate_limit=None) as client:
        client._backoff_base = client._backoff_cap = 0.001
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
    async def test_user_get_sends_token_and_decodes(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", payload=example("user-get.json"))
            me = await cc.user.get()
        assert isinstance(me, User)
        assert me.tier == "pro"
        ((url, kwargs),) = calls(m)
        assert url.path == "/v1/user"
        assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert kwargs["headers"]["User-Agent"].startswith("comfycontrol-async/")

    async def test_any_2xx_is_success(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.post(f"{API}/v1/runner", status=201, payload=example("runners-create.json"))
            runner = await cc.runners.create(
                name="Production GPU Runner", endpoint="https://x.example"
            )
        assert runner.id == "550e8400-e29b-41d4-a716-446655440000"

    async def test_seed_endpoints(self, cc: ComfyControl) -> None:
        rid = "550e8400-e29b-41d4-a716-446655440000"
        mid = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
        with aioresponses() as m:
            m.get(f"{API}/v1/runner/{rid}", payload=example("runners-get.json"))
            m.get(f"{API}/v1/managed-runner/{mid}", payload=example("managed-runners-get.json"))
            m.get(
                f"{API}/v1/managed-runner/{mid}/stats",
                payload=example("managed-runners-stats.json"),
            )
            m.get(f"{API}/v1/runner/{rid}/stats", payload=example("managed-runners-stats.json"))
            m.get(
                re.compile(rf"^{re.escape(API)}/v1/runner\?.*"),
                payload=example("runners-list.json"),
            )
            m.get(
                re.compile(rf"^{re.escape(API)}/v1/managed-runner\?.*"),
                payload=example("managed-runners-list.json"),
            )
            runner = await cc.runners.get(rid)
            managed = await cc.managed_runners.get(mid)
            stats = await cc.managed_runners.stats(mid)
            own_stats = await cc.runners.stats(rid)
            page = await cc.runners.list_page(page=1, per_page=10)
            everything = await cc.managed_runners.list().collect()
        assert runner.headers["X-Custom-Header"] == "value"
        assert managed.runner_type == "pro"
        assert stats.devices[0].vram_total == 84942848000
        assert own_stats.system.os == "posix"
        assert page.total == 2
        assert page.page == 1
        assert not page.has_next
        assert [r.name for r in everything] == ["Managed Pro Runner 1", "Managed Plus Runner 1"]

    async def test_ids_are_one_encoded_segment(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(re.compile(r".*"), payload=example("managed-runners-get.json"), repeat=True)
            for rid in ["../x", "a/b", "?q", "#f"]:
                await cc.managed_runners.get(rid)
        paths = [str(url) for url, _ in calls(m)]
        assert all(p.startswith(f"{API}/v1/managed-runner/") for p in paths)
        assert not any("?" in p or "#" in p for p in paths)

    @pytest.mark.parametrize(
        "call",
        [
            lambda cc: cc.runners.list_page(per_page=101),
            lambda cc: cc.runners.list_page(per_page=0),
            lambda cc: cc.managed_runners.list_page(page=0),
            lambda cc: cc.runners.get(""),
            lambda cc: cc.managed_runners.stats(""),
            lambda cc: cc.managed_runners.get("  "),
        ],
    )
    async def test_bad_arguments_send_nothing(
        self, cc: ComfyControl, call: Callable[[ComfyControl], Any]
    ) -> None:
        with aioresponses() as m:
            with pytest.raises(ValueError):
                await call(cc)
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
        self, cc: ComfyControl, status: int, name: str, cls: type[APIStatusError]
    ) -> None:
        raw = (EXAMPLES / name).read_text()
        with aioresponses() as m:
            m.get(
                f"{API}/v1/managed-runner/x",
                status=status,
                body=raw,
                headers={"X-Request-Id": "rq"},
            )
            with pytest.raises(cls) as info:
                await cc.managed_runners.get("x")
        err = info.value
        assert err.status == status
        assert err.message == json.loads(raw)["message"]
        assert err.body == raw
        assert err.request_id == "rq"
        assert err.method == "GET"
        assert err.url == f"{API}/v1/managed-runner/x"
        assert count(m) == 1  # 4xx are not retried
        assert TOKEN not in str(err)

    async def test_html_500_after_retries(self, cc: ComfyControl) -> None:
        html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        with aioresponses() as m:
            m.get(f"{API}/v1/user", status=502, body=html, repeat=True)
            with pytest.raises(ServerError) as info:
                await cc.user.get()
        assert info.value.body == html
        assert count(m) == 3  # one attempt and max_retries=2

    async def test_2xx_with_bad_json_is_validation_error(self, cc: ComfyControl) -> None:
        from comfycontrol_async import ResponseValidationError

        with aioresponses() as m:
            m.get(f"{API}/v1/user", status=200, body='{"id": ', repeat=3)
            with pytest.raises(ResponseValidationError):
                await cc.user.get()
            assert count(m) == 3  # not JSON: retried like a 5xx (max_retries=2), then raised
            m.get(f"{API}/v1/user", status=200, payload={"id": "x"})
            with pytest.raises(ResponseValidationError) as info:
                await cc.user.get()
        assert "name" in str(info.value) or info.value.path != "$"


class TestRetries:
    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    async def test_get_retried_then_succeeds(self, cc: ComfyControl, status: int) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", status=status, headers={"Retry-After": "0"})
            m.get(f"{API}/v1/user", payload=example("user-get.json"))
            me = await cc.user.get()
        assert me.name == "John Doe"
        assert count(m) == 2

    async def test_connection_errors_retried(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", exception=aiohttp.ServerDisconnectedError())
            m.get(f"{API}/v1/user", exception=aiohttp.ClientConnectionError("reset"))
            m.get(f"{API}/v1/user", payload=example("user-get.json"))
            await cc.user.get()
        assert count(m) == 3

    async def test_connection_error_typed_when_retries_run_out(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", exception=aiohttp.ClientConnectionError("refused"), repeat=True)
            with pytest.raises(APIConnectionError) as info:
                await cc.user.get()
        assert not isinstance(info.value, APITimeoutError)
        assert count(m) == 3

    async def test_timeouts_typed(self, cc: ComfyControl) -> None:
        with aioresponses() as m:
            m.get(f"{API}/v1/user", exception=TimeoutError(), repeat=True)
            with pytest.raises(APITimeoutError):
                await cc.user.get()

    @pytest.mark.parametrize("method", ["post", "put"])
    async def test_writes_never_retried(self, cc: ComfyControl, method: str) -> None:
        with aioresponses() as m:
            if method == "post":
                m.post(f"{API}/v1/runner", status=503, repeat=True)
                with pytest.raises(ServerError):
                    await cc.runners.create(name="n", endpoint="https://e.example")
            else:
                m.put(
                    f"{API}/v1/runner/r1", exception=aiohttp.ServerDisconnectedError(), repeat=True
                )
                with pytest.raises(APIConnectionError):
                    await cc.runners.update("r1", name="n")
        assert count(m) == 1

    async def test_retry_after_seconds_honoured(self) -> None:
        async with ComfyControl(TOKEN, rate_limit=None) as client:
            client._backoff_base = client._backoff_cap = 0.001
            with aioresponses() as m:
                m.get(f"{API}/v1/user", status=503, headers={"Retry-After": "0.2"})
                m.get(f"{API}/v1/user", payload=example("user-get.json"))
                loop = asyncio.get_running_loop()
                started = loop.time()
                await client.user.get()
                assert loop.time() - started >= 0.19

    async def test_retry_after_above_cap_raises_at_once(self) -> None:
        async with ComfyControl(TOKEN, rate_limit=None, max_retry_after=5) as client:
            with aioresponses() as m:
                m.get(f"{API}/v1/user", status=429, headers={"Retry-After": "120"}, repeat=True)
                with pytest.raises(RateLimitError) as info:
                    await client.user.get()
        assert info.value.retry_after == 120.0
        assert count(m) == 1

    async def test_429_without_retry_after_pauses_whole_client(self) -> None:
        pacing = RateLimit(requests=1000, per_seconds=1.0, cooldown=0.2, jitter=0.0)
        async with ComfyControl(TOKEN, rate_limit=pacing) as client:
            with aioresponses() as m:
                m.get(f"{API}/v1/user", status=429, body="<html>429</html>")
                m.get(f"{API}/v1/user", payload=example("user-get.json"), repeat=True)
                loop = asyncio.get_running_loop()
                started = loop.time()
                first = asyncio.create_task(client.user.get())
                await asyncio.sleep(0.05)
                # another task of the same client waits for the pause too
                await client.user.get()
                await first
                assert loop.time() - started >= 0.2

    async def test_max_retries_zero(self) -> None:
        async with ComfyControl(TOKEN, rate_limit=None, max_retries=0) as client:
            with aioresponses() as m:
                m.get(f"{API}/v1/user", status=500, repeat=True)
                with pytest.raises(ServerError):
                    await client.user.get()
        assert count(m) == 1

    async def test_retry_budget_bounds_retries(self) -> None:
        budget = RetryBudget(capacity=10, retry_cost=5, success_reward=1)
        async with ComfyControl(TOKEN, rate_limit=None, retry_budget=budget) as client:
            client._backoff_base = client._backoff_cap = 0.001
            with aioresponses() as m:
                m.get(re.compile(r".*/v1/managed-runner/.*"), status=503, repeat=True)
                for i in range(5):
                    with pytest.raises(ServerError):
                        await client.managed_runners.get(f"r{i}")
        # 5 first attempts and only 2 retries in all: the budget held 10 tokens at 5 each
        assert count(m) == 7

    async def test_cancellation_is_never_swallowed(self, cc: ComfyControl) -> None:
        started = asyncio.Event()

        async def hang(url: URL, **kwargs: Any) -> CallbackResult:
            started.set()
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        with aioresponses() as m:
            m.get(f"{API}/v1/user", callback=hang, repeat=True)
            task = asyncio.create_task(cc.user.get())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert count(m) == 1  # cancelled, not retried

    async def test_deadline_spans_retries(self) -> None:
        async with ComfyControl(TOKEN, rate_limit=None, max_retries=50) as client:
            client._backoff_base = client._backoff_cap = 0.05
            with aioresponses() as m:
                m.get(f"{API}/v1/user", status=503, repeat=True)
                loop = asyncio.get_running_loop()
                started = loop.time()
                with pytest.raises(ServerError):
                    await client.user.get(deadline=0.3)
                assert loop.time() - started < 0.6
            assert count(m) < 50


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

    async def test_callers_session_stays_open(self) -> None:
        async with aiohttp.ClientSession() as session:
            async with ComfyControl(TOKEN, session=session, rate_limit=None) as client:
                with aioresponses() as m:
                    m.get(f"{API}/v1/user", payload=example("user-get.json"))
                    await client.user.get()
            assert not session.closed

    async def test_own_session_closed_on_exit(self) -> None:
        async with ComfyControl(TOKEN, rate_limit=None) as client:
            with aioresponses() as m:
                m.get(f"{API}/v1/user", payload=example("user-get.json"))
                await client.user.get()
            assert client._transport.owns_open_session
        assert not client._transport.owns_open_session

    async def test_unclosed_client_warns(self) -> None:
        client = ComfyControl(TOKEN, rate_limit=None)
        with aioresponses() as m:
            m.get(f"{API}/v1/user", payload=example("user-get.json"))
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

"""Fault and load knobs: latency, scripted failures, error rates, 429s, drops, hangs,
malformed answers, rate-limit emulation, and the request log."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from comfycontrol_async.testing import FakeComfyControl, ManualClock

from .conftest import Api, last

EXAMPLE_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
PLUS_ID = "b2c3d4e5-f6a7-8901-bcde-f12345678901"
STATS = "GET /v1/managed-runner/{id}/stats"


async def timed(api: Api, path: str) -> float:
    started = time.monotonic()
    assert (await api.get(path)).status == 200
    return time.monotonic() - started


async def test_global_latency_from_the_constructor() -> None:
    async with FakeComfyControl(latency=0.15) as fake, aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{fake.url}/v1/user") as reply:
            assert reply.status == 401
        assert time.monotonic() - started >= 0.15


async def test_latency_per_route_and_per_runner(api: Api, fake: FakeComfyControl) -> None:
    # Delays are lower bounds (always true); "fast" only needs to beat the delay.
    fake.set_latency(0.25, route="GET /v1/user")
    assert await timed(api, "/v1/user") >= 0.25
    assert await timed(api, "/v1/managed-runner") < 0.2
    fake.set_latency(0, route="GET /v1/user")
    assert await timed(api, "/v1/user") < 0.2
    fake.set_latency(0.25, runner_id=EXAMPLE_ID)
    assert await timed(api, f"/v1/managed-runner/{EXAMPLE_ID}/stats") >= 0.25
    assert await timed(api, f"/v1/managed-runner/{PLUS_ID}/stats") < 0.2
    # The most specific setting wins.
    fake.set_latency(0.0, 0.01, route=STATS, runner_id=EXAMPLE_ID)
    assert await timed(api, f"/v1/managed-runner/{EXAMPLE_ID}/stats") < 0.2


async def test_jitter_is_bounded(api: Api, fake: FakeComfyControl) -> None:
    fake.set_latency(0.05, 0.05)
    for _ in range(3):
        took = await timed(api, "/v1/user")
        assert 0.05 <= took < 0.3


async def test_fail_next_default_body_and_count(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(503, times=2)
    for _ in range(2):
        reply = await api.get("/v1/user")
        assert reply.status == 503
        assert reply.json() == {"status": 503, "message": "Service Unavailable"}
        assert "X-Request-Id" in reply.headers
    assert (await api.get("/v1/user")).status == 200
    assert [r.status for r in fake.requests] == [503, 503, 200]


async def test_fail_next_by_route_and_runner(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(500, route=STATS, runner_id=PLUS_ID)
    assert (await api.get("/v1/user")).status == 200
    assert (await api.get(f"/v1/managed-runner/{EXAMPLE_ID}/stats")).status == 200
    assert (await api.get(f"/v1/managed-runner/{PLUS_ID}")).status == 200
    assert (await api.get(f"/v1/managed-runner/{PLUS_ID}/stats")).status == 500
    assert (await api.get(f"/v1/managed-runner/{PLUS_ID}/stats")).status == 200
    fake.fail_next(502, runner_id=PLUS_ID)  # any runner route
    assert (await api.get(f"/v1/managed-runner/{PLUS_ID}")).status == 502


async def test_fail_next_custom_bodies(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(500, body={"error": "custom"}, headers={"X-Extra": "1"})
    reply = await api.get("/v1/user")
    assert (reply.status, reply.json(), reply.headers["X-Extra"]) == (500, {"error": "custom"}, "1")
    fake.fail_next(502, body="upstream died")
    reply = await api.get("/v1/user")
    assert (reply.status, reply.body) == (502, b"upstream died")
    assert reply.headers["Content-Type"].startswith("text/plain")
    fake.fail_next(502, html=True)
    reply = await api.get("/v1/user")
    assert reply.status == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in reply.body


async def test_faults_apply_before_auth(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(500)
    assert (await api.get("/v1/user", tier=None)).status == 500


async def test_rate_limit_next(api: Api, fake: FakeComfyControl) -> None:
    fake.rate_limit_next()
    reply = await api.get("/v1/user")
    assert reply.status == 429
    assert reply.json() == {"status": 429, "message": "Too many requests"}
    assert "Retry-After" not in reply.headers
    fake.rate_limit_next(2, retry_after=7)
    for _ in range(2):
        reply = await api.get("/v1/user")
        assert (reply.status, reply.headers["Retry-After"]) == (429, "7")
    fake.rate_limit_next(html=True, route="GET /v1/managed-runner")
    assert (await api.get("/v1/user")).status == 200
    reply = await api.get("/v1/managed-runner")
    assert reply.status == 429
    assert reply.headers["Content-Type"].startswith("text/html")
    assert b"rate limited" in reply.body
    assert fake.rate_limited_count == 0  # scripted 429s are not the emulation's


async def test_set_error_rate_is_seeded(clock: ManualClock) -> None:
    async def run(seed: int) -> list[int]:
        async with FakeComfyControl(seed=seed, clock=clock) as fake:
            fake.set_error_rate(0.5, statuses=(500, 503))
            headers = {"Authorization": f"Bearer {fake.token()}"}
            out = []
            async with aiohttp.ClientSession(fake.url, headers=headers) as session:
                for _ in range(40):
                    async with session.get("/v1/user") as reply:
                        out.append(reply.status)
            return out

    first = await run(1)
    assert first == await run(1)
    assert first != await run(2)
    assert set(first) == {200, 500, 503}
    assert 8 <= first.count(200) <= 32


async def test_error_rate_per_route_and_off(api: Api, fake: FakeComfyControl) -> None:
    fake.set_error_rate(1.0, statuses=(503,), route="GET /v1/user")
    assert (await api.get("/v1/user")).status == 503
    assert (await api.get("/v1/managed-runner")).status == 200
    fake.set_error_rate(0.0, route="GET /v1/user")
    assert (await api.get("/v1/user")).status == 200
    with pytest.raises(ValueError, match="rate"):
        fake.set_error_rate(1.5)


async def test_drop_next(api: Api, fake: FakeComfyControl) -> None:
    # aiohttp retries an idempotent request once after a server disconnect: drop twice.
    fake.drop_next(2, route="GET /v1/user")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.get("/v1/user")
    assert [r.status for r in fake.requests] == [None, None]
    assert last(fake).route == "GET /v1/user"
    assert (await api.get("/v1/user")).status == 200


async def test_one_drop_is_hidden_by_aiohttps_own_retry(api: Api, fake: FakeComfyControl) -> None:
    fake.drop_next()
    assert (await api.get("/v1/user")).status == 200
    assert [r.status for r in fake.requests] == [None, 200]
    # Not for POST: that is not idempotent.
    fake.drop_next()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/v1/runner", json={})


async def test_hang_next_until_the_client_gives_up(api: Api, fake: FakeComfyControl) -> None:
    fake.hang_next(route="GET /v1/user")
    with pytest.raises(asyncio.TimeoutError):
        await api.get("/v1/user", timeout=0.2)
    assert last(fake).status is None
    assert (await api.get("/v1/user")).status == 200


async def test_hang_for_some_seconds_then_answer(api: Api, fake: FakeComfyControl) -> None:
    fake.hang_next(seconds=0.15)
    assert await timed(api, "/v1/user") >= 0.15


async def test_closing_the_fake_ends_a_hang_promptly() -> None:
    fake = FakeComfyControl()
    await fake.start()
    fake.hang_next()
    async with aiohttp.ClientSession() as session:

        async def call() -> int:
            async with session.get(f"{fake.url}/v1/user") as reply:
                return reply.status

        task = asyncio.create_task(call())
        while not fake.requests:  # noqa: ASYNC110 - polling the fake's log is the point
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await fake.aclose()
        assert time.monotonic() - started < 1.0
        with pytest.raises(aiohttp.ClientConnectionError):
            await task


async def test_malformed_truncated_invalid_empty(api: Api, fake: FakeComfyControl) -> None:
    whole = (await api.get("/v1/user")).body
    fake.malformed_next(kind="truncated")
    reply = await api.get("/v1/user")
    assert reply.status == 200
    assert reply.body == whole[: len(whole) // 2]
    with pytest.raises(ValueError):
        json.loads(reply.body)
    fake.malformed_next(kind="invalid")
    reply = await api.get("/v1/user")
    assert reply.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(reply.body)
    fake.malformed_next(kind="empty")
    reply = await api.get("/v1/user")
    assert (reply.status, reply.body) == (200, b"")
    fake.malformed_next(kind="html", route="GET /v1/user")
    reply = await api.get("/v1/user")
    assert reply.headers["Content-Type"].startswith("text/html")
    assert (await api.get("/v1/user")).body == whole


async def test_malformed_cut_mid_body(api: Api, fake: FakeComfyControl) -> None:
    fake.malformed_next(kind="cut", runner_id=EXAMPLE_ID)
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.get(f"/v1/managed-runner/{EXAMPLE_ID}/stats")
    assert (await api.get(f"/v1/managed-runner/{EXAMPLE_ID}/stats")).status == 200
    with pytest.raises(ValueError, match="kind"):
        fake.malformed_next(kind="garbled")


async def test_rules_are_served_in_order(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(500)
    fake.rate_limit_next()
    fake.fail_next(404, route="GET /v1/template")
    assert (await api.get("/v1/template")).status == 500
    assert (await api.get("/v1/template")).status == 429
    assert (await api.get("/v1/template")).status == 404
    assert (await api.get("/v1/template")).status == 200


async def test_knobs_refuse_unknown_routes(fake: FakeComfyControl) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        fake.fail_next(500, route="GET /v1/managed-runners")
    with pytest.raises(ValueError, match="times"):
        fake.drop_next(0)


async def test_clear_faults(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next(500, times=5)
    fake.set_latency(1.0)
    fake.set_error_rate(1.0)
    fake.enable_rate_limit(1, 10)
    fake.clear_faults()
    for _ in range(3):
        assert await timed(api, "/v1/user") < 0.5


async def test_rate_limit_emulation_with_a_scaled_window(api: Api, fake: FakeComfyControl) -> None:
    # 40 per 10 s with a 10 s cooldown, scaled down 10x: 40 per 1 s, then 1 s of 429s.
    fake.enable_rate_limit(scale=0.1)
    statuses = [(await api.get("/v1/user")).status for _ in range(41)]
    assert statuses[:40] == [200] * 40
    assert statuses[40] == 429
    reply = await api.get("/v1/user")
    assert reply.status == 429  # cooling down: everything is refused
    assert reply.json() == {"status": 429, "message": "Too many requests"}
    assert "Retry-After" not in reply.headers  # not documented, so not sent by default
    assert fake.rate_limited_count == 2
    assert [r.status for r in fake.requests[-2:]] == [429, 429]
    await asyncio.sleep(1.05)
    assert (await api.get("/v1/user")).status == 200


async def test_rate_limit_emulation_options(api: Api, fake: FakeComfyControl) -> None:
    fake.enable_rate_limit(2, per_seconds=10, cooldown=3, retry_after=True, html=True)
    assert [(await api.get("/v1/user")).status for _ in range(2)] == [200, 200]
    reply = await api.get("/v1/user")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "3"
    assert reply.headers["Content-Type"].startswith("text/html")
    fake.disable_rate_limit()
    assert (await api.get("/v1/user")).status == 200
    assert fake.rate_limited_count == 1


async def test_rate_limit_window_slides(api: Api, fake: FakeComfyControl) -> None:
    fake.enable_rate_limit(3, per_seconds=0.2, cooldown=5)
    for _ in range(3):
        assert (await api.get("/v1/user")).status == 200
    await asyncio.sleep(0.25)  # the window moved past the first three
    for _ in range(3):
        assert (await api.get("/v1/user")).status == 200


async def test_request_log(api: Api, fake: FakeComfyControl, clock: ManualClock) -> None:
    clock.advance(5)
    await api.call("POST", "/v1/runner?x=1&x=2&y=%2F", json={"name": "n", "endpoint": "http://h"})
    data = aiohttp.FormData()
    data.add_field("name", "t")
    data.add_field("description", "d")
    data.add_field("body", b"{}", filename="b.json")
    await api.call("POST", "/v1/template", data=data)
    await api.get("/v1/runner/a%2Fb", encoded=True)
    first, second, third = fake.requests
    assert (first.method, first.path, first.route, first.status) == (
        "POST",
        "/v1/runner",
        "POST /v1/runner",
        201,
    )
    assert first.query == {"x": "1", "y": "/"}
    assert first.json() == {"name": "n", "endpoint": "http://h"}
    assert first.headers["Authorization"] == f"Bearer {fake.token()}"
    assert first.time == clock()
    assert first.remote == "127.0.0.1"
    assert first.form == {}
    assert second.form == {"name": "t", "description": "d", "body": ("b.json", b"{}")}
    assert third.path == "/v1/runner/a%2Fb"
    assert third.id == "a/b"
    assert third.status == 404
    fake.clear_requests()
    assert fake.requests == []


async def test_request_log_can_be_bounded(clock: ManualClock) -> None:
    async with FakeComfyControl(clock=clock, max_recorded=2) as fake:
        async with aiohttp.ClientSession(fake.url) as session:
            for _ in range(5):
                async with session.get("/v1/user") as reply:
                    await reply.read()
        assert len(fake.requests) == 2

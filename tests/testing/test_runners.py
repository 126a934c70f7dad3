"""Own runners: create/update validation, free-tier limit, live stats, history, interrupt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from comfycontrol_async.testing import FakeComfyControl

from .conftest import Api, example

GOOD = {"name": "GPU box", "endpoint": "https://comfy.example.com:8443/base"}


async def test_create_runner_answers_the_runner(api: Api, fake: FakeComfyControl) -> None:
    body = {
        "name": "Production GPU Runner",
        "endpoint": "https://my-comfy.example.com",
        "tags": ["production", "gpu-a100"],
        "headers": {"Authorization": "Bearer secret_token"},
        "something_new": {"ignored": True},
    }
    reply = await api.call("POST", "/v1/runner", json=body)
    assert reply.status == 201
    runner = reply.json()
    shape = example("runners-create.json")
    assert list(runner) == list(shape)
    for key in ("name", "endpoint", "tags", "headers"):
        assert runner[key] == shape[key]
    assert runner["status"] == "active"
    assert runner["user_id"] == fake.user("pro").id
    assert runner["created_at"] == runner["updated_at"]
    assert await api.ok(f"/v1/runner/{runner['id']}") == runner
    assert fake.runner_ids("pro")[0] == runner["id"]


async def test_optional_fields_default_to_empty(api: Api) -> None:
    runner = (await api.call("POST", "/v1/runner", json=GOOD)).json()
    assert runner["tags"] == []
    assert runner["headers"] == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "name cannot be empty"),
        ({"name": "   "}, "name cannot be empty"),
        ({"name": "x" * 101}, "name must be at most 100 characters"),
        ({"name": 7}, "name must be a string"),
        ({"name": None}, "name must be a string"),
        ({"endpoint": "ftp://host"}, "endpoint must be an http or https URL with a host"),
        ({"endpoint": "http://"}, "endpoint must be an http or https URL with a host"),
        ({"endpoint": "comfy.example.com"}, "endpoint must be an http or https URL with a host"),
        ({"endpoint": "http://[::1"}, "endpoint must be an http or https URL with a host"),
        ({"endpoint": 5}, "endpoint must be a string"),
        ({"tags": [str(n) for n in range(11)]}, "a runner can have at most 10 tags"),
        ({"tags": "a,b"}, "tags must be a list of strings"),
        ({"tags": ["a", 1]}, "tags must be a list of strings"),
        ({"headers": ["a"]}, "headers must be an object of strings"),
        ({"headers": {"X": 1}}, "headers must be an object of strings"),
    ],
)
async def test_create_validation(api: Api, change: dict[str, Any], message: str) -> None:
    reply = await api.call("POST", "/v1/runner", json={**GOOD, **change})
    assert reply.status == 400
    assert reply.json() == {"status": 400, "message": message}


async def test_create_needs_name_endpoint_and_a_json_object(api: Api) -> None:
    assert (await api.call("POST", "/v1/runner", json={"endpoint": "http://h"})).json()[
        "message"
    ] == "name must be a string"
    assert (await api.call("POST", "/v1/runner", json={"name": "n"})).json()[
        "message"
    ] == "endpoint is required"
    assert (await api.call("POST", "/v1/runner", json=[1])).status == 400
    reply = await api.call("POST", "/v1/runner", data=b"{nope", headers={"X": "y"})
    assert reply.status == 400
    assert reply.json()["message"] == "request body must be valid JSON"


async def test_ten_tags_and_100_chars_are_fine(api: Api) -> None:
    body = {**GOOD, "name": "n" * 100, "tags": [str(n) for n in range(10)]}
    assert (await api.call("POST", "/v1/runner", json=body)).status == 201


async def test_free_tier_runner_limit_is_403(api: Api, fake: FakeComfyControl) -> None:
    free = fake.add_user(tier="free", name="F", email="f@example.com")
    for _ in range(3):
        assert (await api.call("POST", "/v1/runner", json=GOOD, token=free.token)).status == 201
    reply = await api.call("POST", "/v1/runner", json=GOOD, token=free.token)
    assert reply.status == 403
    assert reply.json()["status"] == 403
    assert "Free tier" in reply.json()["message"]
    # Paid tiers have no such limit.
    for _ in range(4):
        assert (await api.call("POST", "/v1/runner", json=GOOD)).status == 201


async def test_update_is_partial(api: Api, fake: FakeComfyControl) -> None:
    created = (await api.call("POST", "/v1/runner", json={**GOOD, "tags": ["a"]})).json()
    fake.advance(90)
    reply = await api.call("PUT", f"/v1/runner/{created['id']}", json={"status": "disabled"})
    assert reply.status == 200
    updated = reply.json()
    assert updated["status"] == "disabled"
    assert {k: v for k, v in updated.items() if k not in ("status", "updated_at")} == {
        k: v for k, v in created.items() if k not in ("status", "updated_at")
    }
    assert updated["updated_at"] > created["updated_at"]
    change = {
        "name": "renamed",
        "endpoint": "http://new:8188",
        "headers": {"Authorization": "Bearer new"},
        "tags": ["b", "c"],
        "status": "active",
        "unknown": 1,
    }
    updated = (await api.call("PUT", f"/v1/runner/{created['id']}", json=change)).json()
    assert {k: updated[k] for k in change if k != "unknown"} == {
        k: v for k, v in change.items() if k != "unknown"
    }
    assert (await api.call("PUT", f"/v1/runner/{created['id']}", json={})).status == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "paused"}, "status must be 'active' or 'disabled'"),
        ({"name": ""}, "name cannot be empty"),
        ({"endpoint": "nope"}, "endpoint must be an http or https URL with a host"),
        ({"tags": ["t"] * 11}, "a runner can have at most 10 tags"),
        ({"headers": {"a": None}}, "headers must be an object of strings"),
    ],
)
async def test_update_validation(
    api: Api, fake: FakeComfyControl, change: dict[str, Any], message: str
) -> None:
    runner_id = fake.runner_ids("pro")[0]
    reply = await api.call("PUT", f"/v1/runner/{runner_id}", json=change)
    assert reply.status == 400
    assert reply.json() == {"status": 400, "message": message}
    assert (await api.ok(f"/v1/runner/{runner_id}"))["status"] == "active"


async def test_update_unknown_runner_is_404_even_with_a_bad_body(api: Api) -> None:
    assert (await api.call("PUT", "/v1/runner/nope", json={"status": "x"})).status == 404


# -- live stats --------------------------------------------------------------------------


class ComfyStub:
    """A tiny stand-in for a ComfyUI server: /system_stats and /interrupt."""

    def __init__(self) -> None:
        self.seen_headers: list[dict[str, str]] = []
        self.interrupts = 0
        self.status = 200
        self.body: bytes = b""
        self.url = ""

    async def stats(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        return web.Response(status=self.status, body=self.body, content_type="application/json")

    async def interrupt(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        self.interrupts += 1
        return web.Response(status=self.status)


COMFY_STATS = {
    "system": {
        "os": "linux",
        "ram_total": 67322036224,
        "ram_free": 60000000000,
        "comfyui_version": "0.4.1",
        "python_version": "3.12.3",
        "pytorch_version": "2.9.1+cu130",
        "embedded_python": False,
        "argv": ["main.py"],
    },
    "devices": [
        {
            "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
            "type": "cuda",
            "index": 0,
            "vram_total": 25393692672,
            "vram_free": 24000000000,
            "torch_vram_total": 0,
            "torch_vram_free": 0,
        }
    ],
}


@pytest_asyncio.fixture
async def comfy() -> AsyncIterator[ComfyStub]:
    import json

    stub = ComfyStub()
    stub.body = json.dumps(COMFY_STATS).encode()
    app = web.Application()
    app.router.add_get("/prefix/system_stats", stub.stats)
    app.router.add_post("/prefix/interrupt", stub.interrupt)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stub.url = f"http://{host}:{port}/prefix"
    try:
        yield stub
    finally:
        await runner.cleanup()


async def test_live_stats_come_from_the_runner_with_its_headers(
    api: Api, fake: FakeComfyControl, comfy: ComfyStub
) -> None:
    body = {**GOOD, "endpoint": comfy.url + "/", "headers": {"Authorization": "Bearer runner-key"}}
    runner = (await api.call("POST", "/v1/runner", json=body)).json()
    stats = await api.ok(f"/v1/runner/{runner['id']}/stats")
    assert stats == COMFY_STATS  # passed through: nothing added, nothing dropped
    assert comfy.seen_headers[-1]["Authorization"] == "Bearer runner-key"
    # The API token never reaches the runner.
    assert fake.token("pro") not in str(comfy.seen_headers)


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b'{"error": "busy"}'), (200, b"<html>not json</html>"), (200, b"[1, 2]")],
)
async def test_bad_runner_answers_are_500_json(
    api: Api, fake: FakeComfyControl, comfy: ComfyStub, status: int, body: bytes
) -> None:
    comfy.status = status
    comfy.body = body
    runner = fake.add_runner("pro", name="stub", endpoint=comfy.url)
    reply = await api.get(f"/v1/runner/{runner['id']}/stats")
    assert reply.status == 500
    assert reply.json()["status"] == 500
    assert reply.json()["message"].startswith("Failed to get runner stats")


async def test_unreachable_runner_is_500(api: Api, fake: FakeComfyControl) -> None:
    runner = fake.add_runner("pro", name="gone", endpoint="http://127.0.0.1:9")
    reply = await api.get(f"/v1/runner/{runner['id']}/stats")
    assert reply.status == 500
    assert "unreachable" in reply.json()["message"]


async def test_slow_runner_times_out_as_500(comfy: ComfyStub) -> None:
    import asyncio

    import aiohttp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_get("/system_stats", slow)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with FakeComfyControl(runner_timeout=0.2) as fake:
            added = fake.add_runner("pro", name="slow", endpoint=f"http://{host}:{port}")
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"{fake.url}/v1/runner/{added['id']}/stats",
                    headers={"Authorization": f"Bearer {fake.token()}"},
                ) as reply,
            ):
                assert reply.status == 500
                assert "TimeoutError" in (await reply.json())["message"]
    finally:
        await runner.cleanup()


async def test_seeded_runners_point_nowhere(api: Api, fake: FakeComfyControl) -> None:
    for runner_id in fake.runner_ids("pro"):
        reply = await api.get(f"/v1/runner/{runner_id}/stats")
        assert reply.status == 500
        assert reply.json()["message"] == "Failed to get runner stats: runner is unreachable"


async def test_given_stats_are_served_without_network(api: Api, fake: FakeComfyControl) -> None:
    stats = {"devices": [], "anything": ["kept"]}
    runner = fake.add_runner("pro", name="s", endpoint="http://10.255.255.1", stats=stats)
    assert await api.ok(f"/v1/runner/{runner['id']}/stats") == stats


async def test_interrupt_reaches_the_runner_and_stops_its_workflow(
    api: Api, fake: FakeComfyControl, comfy: ComfyStub
) -> None:
    runner = fake.add_runner(
        "pro", name="stub", endpoint=comfy.url, headers={"X-Key": "k"}, tags=["only-here"]
    )
    running = fake.add_workflow("pro", name="r", status=None, tags=["only-here"])
    assert running["user_runner_id"] == runner["id"]
    fake.advance(0.2 + 0.3 + 1.0 + 0.1)  # accepted, uploaded, queued, then running
    assert fake.workflow_status(running["id"]) == "running"
    reply = await api.call("POST", f"/v1/runner/{runner['id']}/interrupt")
    assert reply.status == 200
    assert reply.body == b""
    assert comfy.interrupts == 1
    assert comfy.seen_headers[-1]["X-Key"] == "k"
    detail = await api.ok(f"/v1/workflow/{running['id']}")
    assert detail["status"] == "failed"
    assert detail["exception_type"] == "comfy.model_management.InterruptProcessingException"
    assert detail["completed_at"] is not None
    # Nothing running: still 200.
    assert (await api.call("POST", f"/v1/runner/{runner['id']}/interrupt")).status == 200


async def test_interrupt_of_an_unreachable_runner_is_500(
    api: Api, fake: FakeComfyControl, comfy: ComfyStub
) -> None:
    for runner_id in fake.runner_ids("pro"):
        reply = await api.call("POST", f"/v1/runner/{runner_id}/interrupt")
        assert reply.status == 500
    comfy.status = 502
    stub = fake.add_runner("pro", name="stub", endpoint=comfy.url)
    assert (await api.call("POST", f"/v1/runner/{stub['id']}/interrupt")).status == 500


async def test_history_is_the_last_ten_newest_first(api: Api, fake: FakeComfyControl) -> None:
    runner = fake.add_runner("pro", name="h", endpoint="http://h", stats={})
    other = fake.add_runner("pro", name="o", endpoint="http://o", stats={})
    for n in range(12):
        fake.add_workflow("pro", name=f"w{n}", runner_id=runner["id"], created_at=1e9 + n)
    fake.add_workflow("pro", name="elsewhere", runner_id=other["id"], created_at=2e9)
    history = await api.ok(f"/v1/runner/{runner['id']}/history")
    assert isinstance(history, list)
    assert [w["name"] for w in history] == [f"w{n}" for n in range(11, 1, -1)]
    assert set(history[0]) == set(example("runners-history.json")[0])
    assert [w["name"] for w in await api.ok(f"/v1/runner/{other['id']}/history")] == ["elsewhere"]

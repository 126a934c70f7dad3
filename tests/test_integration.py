"""The SDK against FakeComfyControl over a real loopback socket, endpoint by endpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from comfycontrol_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ComfyControl,
    ListChangedError,
    ManagedRunner,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    Runner,
    RunnerStats,
    ServerError,
    Timeout,
    Workflow,
    WorkflowOutput,
    WorkflowSummary,
)
from comfycontrol_async.placeholders import PlaceholderError
from comfycontrol_async.testing import FakeComfyControl, ManualClock

from .conftest import EXAMPLES, FAST_RETRY

LIST_MANAGED = "GET /v1/managed-runner"
STATS = "GET /v1/managed-runner/{id}/stats"


def routed(fake: FakeComfyControl, route: str) -> list[Any]:
    return [r for r in fake.requests if r.route == route]


async def make_client(fake: FakeComfyControl, tier: str = "pro", **kwargs: Any) -> ComfyControl:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("retry", FAST_RETRY)
    return ComfyControl(fake.token(tier), base_url=fake.url, **kwargs)


class TestReads:
    async def test_user(self, fake: FakeComfyControl, client: ComfyControl) -> None:
        me = await client.user.get()
        assert me.tier == "pro"
        (req,) = fake.requests
        assert req.headers["Authorization"] == f"Bearer {fake.token('pro')}"

    async def test_managed_runners(self, fake: FakeComfyControl, client: ComfyControl) -> None:
        runners = await client.managed_runners.list().collect()
        assert [r.id for r in runners] == fake.managed_runner_ids()
        assert all(isinstance(r, ManagedRunner) for r in runners)
        first = await client.managed_runners.get(runners[0].id)
        assert first == runners[0]
        stats = await client.managed_runners.stats(runners[0].id)
        assert isinstance(stats, RunnerStats)
        assert stats.devices
        history = await client.managed_runners.history(runners[0].id)
        assert isinstance(history, list)

    async def test_the_documented_example_is_the_default(self, client: ComfyControl) -> None:
        doc = json.loads((EXAMPLES / "managed-runners-get.json").read_text())
        got = await client.managed_runners.get(doc["id"])
        assert got.name == doc["name"]
        assert got.tags == doc["tags"]

    async def test_own_runners(self, fake: FakeComfyControl, client: ComfyControl) -> None:
        page = await client.runners.list_page(per_page=2)
        assert page.total == 3
        assert len(page.items) == 2
        assert page.has_next
        everything = await client.runners.list(per_page=1).collect()
        assert [r.id for r in everything] == fake.runner_ids(fake.user("pro"))
        active = await client.runners.list(status="active").collect()
        assert all(r.status == "active" for r in active)
        one = await client.runners.get(everything[0].id)
        assert isinstance(one, Runner)

    async def test_live_stats_of_an_own_runner(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        from aiohttp import web

        seen: list[str] = []

        async def system_stats(request: web.Request) -> web.Response:
            seen.append(request.headers.get("Authorization", ""))
            return web.json_response(
                json.loads((EXAMPLES / "managed-runners-stats.json").read_text())
            )

        app = web.Application()
        app.router.add_get("/system_stats", system_stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            created = await client.runners.create(
                name="local comfy",
                endpoint=f"http://127.0.0.1:{port}",
                headers={"Authorization": "Bearer runner-secret"},
                tags=["local"],
            )
            stats = await client.runners.stats(created.id)
        finally:
            await runner.cleanup()
        assert seen == ["Bearer runner-secret"]
        assert stats.devices[0].name == "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync"
        with pytest.raises(ServerError):
            await client.runners.stats(created.id)  # the server is gone now

    async def test_1234_items_in_13_requests(self) -> None:
        async with FakeComfyControl(managed_runners=1234) as fake:
            async with await make_client(fake) as cc:
                items = await cc.managed_runners.list(per_page=100).collect()
                assert len(items) == 1234
                assert len({r.id for r in items}) == 1234
                assert len(routed(fake, LIST_MANAGED)) == 13
                fake.clear_requests()
                some = await cc.managed_runners.list(max_items=150).collect()
                assert len(some) == 150
                assert len(routed(fake, LIST_MANAGED)) == 2

    async def test_a_peek_costs_at_most_the_initial_window(self) -> None:
        async with FakeComfyControl(managed_runners=2000) as fake:
            fake.set_latency(0.01, route=LIST_MANAGED)
            async with await make_client(fake) as cc:
                async with cc.managed_runners.list() as walk:
                    async for _ in walk:
                        break
                asked = len(routed(fake, LIST_MANAGED))
                assert 1 <= asked <= 9  # page 1 and at most 8 pages ahead, of 20
                fake.clear_requests()
                assert len(await cc.managed_runners.list().collect()) == 2000
                assert len(routed(fake, LIST_MANAGED)) == 20

    async def test_pages(self, fake: FakeComfyControl, client: ComfyControl) -> None:
        pages = [p async for p in client.managed_runners.list(per_page=5).pages()]
        assert [len(p.items) for p in pages] == [5, 5, 2]
        assert [p.page for p in pages] == [1, 2, 3]
        assert all(p.total == 12 for p in pages)

    async def test_early_break_releases_the_connection(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        async for _ in client.managed_runners.list(per_page=2, prefetch=0):
            break
        connector = client._transport._own.connector  # type: ignore[union-attr]
        assert connector is not None
        assert not connector._acquired  # nothing held: back in the pool


class TestErrorsOverTheWire:
    async def test_ids_never_escape_their_segment(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        for rid in ["../user", "a/b", "?page=1", "#x", "..", "%2F"]:
            with pytest.raises(NotFoundError):
                await client.managed_runners.get(rid)
        assert all(r.route == "GET /v1/managed-runner/{id}" for r in fake.requests)

    async def test_bad_token(self, fake: FakeComfyControl) -> None:
        async with ComfyControl("cfc_nope_0000", base_url=fake.url, rate_limit=None) as cc:
            with pytest.raises(AuthenticationError) as info:
                await cc.user.get()
        assert info.value.status == 401
        assert "cfc_nope_0000" not in str(info.value)

    async def test_free_tier_on_managed(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, "free") as cc:
            with pytest.raises(PermissionDeniedError, match="Pro or Plus"):
                await cc.managed_runners.list_page()

    async def test_validation_errors_from_the_server(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        with pytest.raises(BadRequestError) as info:
            await client.workflows.list_page(status="finished")
        assert info.value.status == 400
        assert info.value.body

    async def test_html_429_then_success(self, fake: FakeComfyControl) -> None:
        pacing = RateLimit(requests=1000, per_seconds=1.0, cooldown=0.05, jitter=0.0)
        async with await make_client(fake, rate_limit=pacing) as cc:
            fake.rate_limit_next(1, html=True, route="GET /v1/user")
            me = await cc.user.get()
        assert me.tier == "pro"
        assert [r.status for r in fake.requests] == [429, 200]

    async def test_retry_after_too_long_raises(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, max_retry_after=1.0) as cc:
            fake.rate_limit_next(1, retry_after=30, route="GET /v1/user")
            with pytest.raises(RateLimitError) as info:
                await cc.user.get()
        assert info.value.retry_after == 30.0

    @pytest.mark.parametrize("kind", ["truncated", "invalid", "html", "empty"])
    async def test_malformed_answers(self, fake: FakeComfyControl, kind: str) -> None:
        async with await make_client(fake) as cc:
            fake.malformed_next(1, route="GET /v1/user", kind=kind)
            assert (await cc.user.get()).tier == "pro"  # one spoiled answer: retried
            fake.malformed_next(10, route="GET /v1/user", kind=kind)
            with pytest.raises(ResponseValidationError):
                await cc.user.get()

    async def test_dropped_connections_are_retried(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake) as cc:
            fake.drop_next(2, route="GET /v1/user")
            assert (await cc.user.get()).tier == "pro"
            fake.drop_next(20, route="GET /v1/user")
            with pytest.raises(APIConnectionError):
                await cc.user.get()

    async def test_hanging_answer_times_out(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, timeout=Timeout(total=0.2), max_retries=1) as cc:
            fake.hang_next(5, route="GET /v1/user")
            with pytest.raises(APITimeoutError):
                await cc.user.get()
        assert len(fake.requests) == 2

    async def test_deadline_cuts_a_hang(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, timeout=Timeout(total=30), max_retries=5) as cc:
            fake.hang_next(5, route="GET /v1/user")
            # The guard (well under the 30 s attempt timeout) fails the test if the deadline
            # did not cut the hang; it is not a measurement.
            async with asyncio.timeout(15):
                with pytest.raises(APITimeoutError, match="deadline"):
                    await cc.user.get(deadline=0.3)
        assert len(fake.requests) == 1


class TestWrites:
    async def test_runner_create_update_history_interrupt(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        created = await client.runners.create(
            name="gpu-box", endpoint="https://gpu.example.com", tags=["a100"]
        )
        assert created.name == "gpu-box"
        assert created.tags == ["a100"]
        updated = await client.runners.update(created.id, name="gpu-box-2", status="disabled")
        assert (updated.name, updated.status, updated.tags) == ("gpu-box-2", "disabled", ["a100"])
        put = [r for r in fake.requests if r.method == "PUT"][-1]
        assert put.json() == {"name": "gpu-box-2", "status": "disabled"}
        assert await client.runners.history(created.id) == []
        # gpu.example.com cannot be reached from here: a 500, and a POST is never retried
        with pytest.raises(ServerError, match="unreachable"):
            await client.runners.interrupt(created.id)
        assert sum(r.path.endswith("/interrupt") for r in fake.requests) == 1

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"name": "", "endpoint": "https://x.example"},
            {"name": "x" * 101, "endpoint": "https://x.example"},
            {"name": "ok", "endpoint": "ftp://x.example"},
            {"name": "ok", "endpoint": "not a url"},
            {"name": "ok", "endpoint": "https://x.example", "tags": [str(i) for i in range(11)]},
        ],
    )
    async def test_runner_limits_checked_before_sending(
        self, fake: FakeComfyControl, client: ComfyControl, kwargs: dict[str, Any]
    ) -> None:
        with pytest.raises(ValueError):
            await client.runners.create(**kwargs)
        assert fake.requests == []

    async def test_templates(
        self, fake: FakeComfyControl, client: ComfyControl, tmp_path: Path
    ) -> None:
        body = json.loads((EXAMPLES / "concepts-template-text-placeholders.json").read_text())
        created = await client.templates.create(name="t2i", description="text to image", body=body)
        assert created.body == body
        path = tmp_path / "wf.json"
        path.write_text(json.dumps({"1": {"inputs": {}}}))
        updated = await client.templates.update(created.id, body=path)
        assert updated.body == {"1": {"inputs": {}}}
        listed = await client.templates.list().collect()
        assert created.id in [t.id for t in listed]
        got = await client.templates.get(created.id)
        assert got.name == "t2i"
        post = next(r for r in fake.requests if r.method == "POST")
        assert set(post.form) == {"name", "description", "body"}

    async def test_workflow_lifecycle_and_downloads(self, tmp_path: Path) -> None:
        durations = {"accepted": 0.02, "uploaded": 0.02, "queued": 0.02, "running": 0.05}
        async with FakeComfyControl(workflow_durations=durations) as fake:
            async with await make_client(fake) as cc:
                workflow = {
                    "6": {"inputs": {"text": "$text(prompt)", "seed": "$random()"}},
                    "7": {"inputs": {"sampler": "$choice(sampler, euler, dpmpp_2m)"}},
                    "10": {"inputs": {"image": "$file(input_image)"}},
                }
                created = await cc.workflows.create(
                    name="sunset",
                    workflow=workflow,
                    tags=["managed"],
                    params={"prompt": "A sunset", "sampler": "dpmpp_2m"},
                    files={"input_image": ("in.png", b"\x89PNG fake")},
                )
                assert isinstance(created, WorkflowSummary)
                post = next(r for r in fake.requests if r.method == "POST")
                form = post.form
                assert form["$prompt"] == "A sunset"
                assert form["#sampler"] == "dpmpp_2m"
                assert form["tags"] == "managed"
                assert form["$input_image"] == ("in.png", b"\x89PNG fake")
                assert form["workflow_json"][0].endswith(".json")
                done = await cc.workflows.wait(created.id, poll_interval=0.02, deadline=10)
                assert isinstance(done, Workflow)
                assert done.status == "completed"
                assert ["$text(prompt)", "A sunset"] in [list(p) for p in done.workflow_params]
                outputs = await cc.workflows.outputs(created.id)
                assert outputs
                paths = await cc.workflows.download_outputs(created.id, tmp_path / "out")
                assert len(paths) == len(outputs)
                assert all(p.stat().st_size > 0 for p in paths)
                storage = [r for r in fake.requests if r.route is None or "storage" in r.path]
                assert storage
                assert all("Authorization" not in r.headers for r in storage)

    async def test_failed_workflow_carries_its_error(self) -> None:
        durations = {"accepted": 0.01, "uploaded": 0.01, "queued": 0.01, "running": 0.01}
        async with FakeComfyControl(workflow_durations=durations) as fake:
            fake.fail_next_workflow(error_node="3")
            async with await make_client(fake) as cc:
                created = await cc.workflows.create(name="oom", workflow={"3": {"inputs": {}}})
                done = await cc.workflows.wait(created.id, poll_interval=0.01, deadline=10)
                assert done.status == "failed"
                assert done.error_node == "3"
                assert done.exception_type == "torch.OutOfMemoryError"

    async def test_cancel_only_queued_or_running(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        queued = fake.add_workflow(fake.user("pro"), name="q", status="queued")
        await client.workflows.cancel(queued["id"])
        assert fake.workflow_status(queued["id"]) == "cancelled"
        with pytest.raises(BadRequestError):
            await client.workflows.cancel(queued["id"])
        listed = await client.workflows.list(status="cancelled").collect()
        assert [w.id for w in listed] == [queued["id"]]

    async def test_wait_times_out_with_last_status(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        stuck = fake.add_workflow(fake.user("pro"), name="stuck", status="running")
        # 2 s: polls go on until then; a loaded machine took over 0.1 s (the old value) for
        # one poll, which then failed as that poll's own deadline instead of the wait's.
        with pytest.raises(APITimeoutError, match="running"):
            await client.workflows.wait(
                stuck["id"], poll_interval=0.05, max_poll_interval=0.5, deadline=2.0
            )

    async def test_placeholders_checked_before_upload(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        workflow = {"1": {"inputs": {"t": "$text(prompt)", "c": "$choice(s, a, b)"}}}
        with pytest.raises(PlaceholderError) as info:
            await client.workflows.create(
                name="x", workflow=workflow, params={"s": "z", "unknown": "1"}
            )
        assert len(info.value.problems) == 3
        assert fake.requests == []


class TestDownloads:
    async def test_expired_urls_are_renewed(self, tmp_path: Path) -> None:
        clock = ManualClock()
        async with FakeComfyControl(clock=clock, signed_url_ttl=300) as fake:
            async with await make_client(fake) as cc:
                created = await cc.workflows.create(name="w", workflow={"1": {"inputs": {}}})
                fake.advance(3600)  # the whole lifecycle passes
                assert (await cc.workflows.get(created.id)).status == "completed"
                stale = await cc.workflows.outputs(created.id)
                fake.advance(301)  # every signed URL has expired now
                real = cc.workflows.outputs
                asked = 0

                async def stale_first(wid: str, **kwargs: Any) -> list[WorkflowOutput]:
                    nonlocal asked
                    asked += 1
                    return stale if asked == 1 else await real(wid, **kwargs)

                cc.workflows.outputs = stale_first  # type: ignore[method-assign,assignment]
                paths = await cc.workflows.download_outputs(created.id, tmp_path)
        assert asked == 2
        assert sorted(p.name for p in paths) == sorted(p.name for p in tmp_path.iterdir())
        assert all(p.exists() and p.stat().st_size > 0 for p in paths)
        assert not list(tmp_path.glob("*.part"))
        storage = [r for r in fake.requests if "/storage/" in r.path]
        assert storage[0].status == 403
        assert all(r.status == 200 for r in storage[1:])

    async def test_unknown_workflow_is_an_error(
        self, fake: FakeComfyControl, client: ComfyControl, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFoundError):
            await client.workflows.download_outputs("no-such-workflow", tmp_path)

    async def test_outputs_of_unfinished_workflow(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        running = fake.add_workflow(fake.user("pro"), name="r", status="running")
        with pytest.raises(BadRequestError):
            await client.workflows.outputs(running["id"])


class TestListsThatChange:
    """The API documentation: newest first, so an insert repeats an item and a delete skips one."""

    @pytest.mark.parametrize("prefetch", [0, 10])
    async def test_insert_mid_walk_yields_no_duplicate_and_reports(self, prefetch: int) -> None:
        async with FakeComfyControl(managed_runners=250) as fake:
            before = fake.managed_runner_ids()
            fake.mutate_between_pages(LIST_MANAGED, insert=3, after_page=1)
            async with await make_client(fake) as cc:
                walk = cc.managed_runners.list(per_page=100, prefetch=prefetch)
                got = [r.id async for r in walk]
            assert len(got) == len(set(got))  # the three repeats were dropped
            assert set(before) <= set(got)
            assert walk.total_changed
            assert (walk.first_total, walk.total) == (250, 253)
            assert walk.duplicates_dropped == 3

    async def test_settle_picks_up_the_new_head(self) -> None:
        async with FakeComfyControl(managed_runners=250) as fake:
            fake.mutate_between_pages(LIST_MANAGED, insert=2, after_page=1)
            async with await make_client(fake) as cc:
                got = [r.id async for r in cc.managed_runners.list(settle=True, prefetch=0)]
            assert sorted(got) == sorted(fake.managed_runner_ids())

    @pytest.mark.parametrize("prefetch", [0, 10])
    async def test_delete_mid_walk_skips_nothing(self, prefetch: int) -> None:
        async with FakeComfyControl(managed_runners=250) as fake:
            fake.mutate_between_pages(LIST_MANAGED, delete=2, after_page=1)
            async with await make_client(fake) as cc:
                walk = cc.managed_runners.list(per_page=100, prefetch=prefetch)
                got = [r.id async for r in walk]
            after = fake.managed_runner_ids()
            assert len(got) == len(set(got))
            assert set(after) <= set(got)  # every survivor yielded: the skip was recovered
            assert walk.total_changed

    async def test_strict_walk_raises(self) -> None:
        async with FakeComfyControl(managed_runners=250) as fake:
            fake.mutate_between_pages(LIST_MANAGED, insert=1, after_page=1)
            async with await make_client(fake) as cc:
                walk = cc.managed_runners.list(strict=True, prefetch=0)
                with pytest.raises(ListChangedError) as info:
                    await walk.collect()
            assert (info.value.old_total, info.value.new_total) == (250, 251)
            assert info.value.next_page == 2


async def test_pacing_narrows_the_prefetch_window() -> None:
    async with FakeComfyControl(managed_runners=1500) as fake:
        pacing = RateLimit(requests=40, per_seconds=0.2, jitter=0.0)
        async with await make_client(fake, rate_limit=pacing) as cc:
            walk = cc.managed_runners.list()
            assert walk._prefetch == 10  # a quarter of the 40 requests of a window
            assert len(await walk.collect()) == 1500

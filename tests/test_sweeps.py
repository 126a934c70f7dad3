"""stats_many, client-wide pacing and capacity reports, against the fake server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from comfycontrol_async import (
    APIConnectionError,
    APITimeoutError,
    ComfyControl,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RunnerStats,
    ServerError,
    StatsResult,
    SweepProgress,
    Timeout,
)
from comfycontrol_async.capacity import CapacityReport, parse_size
from comfycontrol_async.testing import FakeComfyControl

from .conftest import FAST_RETRY

STATS = "GET /v1/managed-runner/{id}/stats"
LIST = "GET /v1/managed-runner"


async def make_client(fake: FakeComfyControl, tier: str = "pro", **kwargs: Any) -> ComfyControl:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("retry", FAST_RETRY)
    return ComfyControl(fake.token(tier), base_url=fake.url, **kwargs)


def _server_side(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    where = code.co_filename if code is not None else ""
    return "aiohttp/web_" in where or "comfycontrol_async/testing" in where


def other_tasks() -> set[asyncio.Task[Any]]:
    """Pending tasks of the client side (the fake's own handler tasks are not ours)."""
    current = asyncio.current_task()
    return {
        t for t in asyncio.all_tasks() if t is not current and not t.done() and not _server_side(t)
    }


class TestStatsMany:
    async def test_every_runner_exactly_once_under_mixed_faults(self) -> None:
        async with FakeComfyControl(managed_runners=40, seed=3) as fake:
            ids = fake.managed_runner_ids()
            fake.fail_next(500, times=1, route=STATS, runner_id=ids[0])  # recovers on retry
            fake.fail_next(503, times=10, route=STATS, runner_id=ids[1])  # never recovers
            fake.fail_next(404, times=1, route=STATS, runner_id=ids[2])
            fake.drop_next(10, route=STATS, runner_id=ids[3])
            fake.hang_next(10, route=STATS, runner_id=ids[4])
            fake.malformed_next(5, route=STATS, runner_id=ids[5], kind="truncated")
            given = [*ids, ids[7], "does-not-exist", ""]
            async with await make_client(fake, timeout=Timeout(total=0.3), max_retries=2) as cc:
                results = await cc.managed_runners.stats_many(given, concurrency=8).collect()
        by_id = {r.runner_id: r for r in results}
        assert len(results) == len(by_id) == 42  # 40 + the unknown + the empty id; dup dropped
        assert by_id[ids[0]].ok
        assert by_id[ids[0]].attempts == 2
        assert isinstance(by_id[ids[1]].error, ServerError)
        # once, then once more at the end of the sweep with the client's 2 retries
        assert by_id[ids[1]].attempts == 4
        assert isinstance(by_id[ids[2]].error, NotFoundError)
        assert isinstance(by_id[ids[3]].error, APIConnectionError)
        assert isinstance(by_id[ids[4]].error, APITimeoutError)
        assert not by_id[ids[5]].ok
        assert isinstance(by_id["does-not-exist"].error, NotFoundError)
        assert isinstance(by_id[""].error, ValueError)
        assert by_id[""].attempts == 0
        healthy = [by_id[i] for i in ids[6:]]
        assert all(r.ok and isinstance(r.stats, RunnerStats) for r in healthy)
        assert all(r.elapsed >= 0 for r in results)

    async def test_concurrency_is_bounded(self, fake: FakeComfyControl) -> None:
        fake.set_latency(0.02, route=STATS)
        in_flight = 0
        peak = 0
        async with await make_client(fake) as cc:
            real = cc.managed_runners._fetch_stats

            async def counted(rid: str, **kwargs: Any) -> RunnerStats:
                nonlocal in_flight, peak
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    return await real(rid, **kwargs)
                finally:
                    in_flight -= 1

            cc.managed_runners._fetch_stats = counted  # type: ignore[method-assign,assignment]
            results = await cc.managed_runners.stats_many(
                fake.managed_runner_ids(), concurrency=3
            ).collect()
        assert len(results) == 12
        assert peak == 3

    async def test_accepts_objects_and_a_live_paginator(self) -> None:
        async with FakeComfyControl(managed_runners=30) as fake:
            fake.set_latency(0.03, route=LIST)
            async with await make_client(fake) as cc:
                listing = cc.managed_runners.list(per_page=5, prefetch=0)
                results = await cc.managed_runners.stats_many(listing, concurrency=4).collect()
            assert sorted(r.runner_id for r in results) == sorted(fake.managed_runner_ids())
            assert all(r.runner is not None and r.runner.id == r.runner_id for r in results)
            order = [r.route for r in fake.requests]
            # stats began before the last page was fetched: one pipeline, not two phases
            assert order.index(STATS) < max(i for i, route in enumerate(order) if route == LIST)

    async def test_source_failure_surfaces_after_the_runners_read(
        self, fake: FakeComfyControl
    ) -> None:
        async with await make_client(fake, "free") as cc:
            with pytest.raises(PermissionDeniedError):
                await cc.managed_runners.stats_many(cc.managed_runners.list()).collect()

    async def test_bad_items_are_results(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake) as cc:
            ids = fake.managed_runner_ids()[:2]
            results = await cc.managed_runners.stats_many([ids[0], 42, ids[1]]).collect()
        assert len(results) == 3
        assert sum(isinstance(r.error, TypeError) for r in results) == 1

    @pytest.mark.parametrize(
        "kwargs", [{"concurrency": 0}, {"timeout": 0}, {"deadline": -1}, {"concurrency": 1.5}]
    )
    def test_bad_arguments(self, kwargs: dict[str, Any]) -> None:
        cc = ComfyControl("cfc_x_0000")
        with pytest.raises(ValueError):
            cc.managed_runners.stats_many(["a"], **kwargs)
        with pytest.raises(TypeError):
            cc.managed_runners.stats_many("not-a-list")

    async def test_deadline_accounts_for_every_runner(self, fake: FakeComfyControl) -> None:
        fake.set_latency(0.2, route=STATS)
        async with await make_client(fake) as cc:
            results = await cc.managed_runners.stats_many(
                fake.managed_runner_ids(), concurrency=2, deadline=0.3
            ).collect()
        assert len(results) == 12
        late = [r for r in results if not r.ok]
        assert late
        assert all(isinstance(r.error, APITimeoutError) for r in late)

    async def test_progress_callback(self, fake: FakeComfyControl) -> None:
        seen: list[tuple[int, int, int | None]] = []

        def progress(counts: SweepProgress, result: StatsResult) -> None:
            seen.append((counts.done, counts.ok + counts.failed, counts.total))

        async with await make_client(fake) as cc:
            await cc.managed_runners.stats_many(
                fake.managed_runner_ids(), progress=progress
            ).collect()
        assert [d for d, _, _ in seen] == list(range(1, 13))
        assert all(d == s for d, s, _ in seen)
        assert seen[-1][2] == 12

    async def test_early_break_and_close_leave_no_tasks(self, fake: FakeComfyControl) -> None:
        fake.set_latency(0.05, route=STATS)
        async with await make_client(fake) as cc:
            before = other_tasks()
            async for _ in cc.managed_runners.stats_many(fake.managed_runner_ids(), concurrency=4):
                break
            for _ in range(5):
                await asyncio.sleep(0)
            assert other_tasks() - before == set()
            async with cc.managed_runners.stats_many(fake.managed_runner_ids()) as sweep:
                async for _ in sweep:
                    break
            assert other_tasks() - before == set()
            assert (await cc.user.get()).tier == "pro"  # the client still works

    async def test_cancelling_the_caller_cancels_every_child(self, fake: FakeComfyControl) -> None:
        fake.set_latency(10, route=STATS)
        async with await make_client(fake) as cc:
            before = other_tasks()
            task = asyncio.create_task(
                cc.managed_runners.stats_many(fake.managed_runner_ids(), concurrency=6).collect()
            )
            for _ in range(20):
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert other_tasks() - before == set()
            connector = cc._transport._own.connector  # type: ignore[union-attr]
            assert connector is not None
            assert not connector._acquired


class TestPacing:
    async def test_paced_sweep_sees_no_429(self) -> None:
        # the documented limit, 20 times faster: 40 requests per 0.5 s, 0.5 s cooldown
        async with FakeComfyControl(managed_runners=100) as fake:
            fake.enable_rate_limit(40, 10.0, 10.0, scale=0.05)
            pacing = RateLimit(requests=40, per_seconds=0.5, cooldown=0.5, jitter=0.0)
            async with await make_client(fake, rate_limit=pacing) as cc:
                report = await cc.capacity(concurrency=16)
        assert fake.rate_limited_count == 0
        assert len(report.rows) == 100
        assert not report.failures

    async def test_unpaced_sweep_recovers_from_429s(self) -> None:
        async with FakeComfyControl(managed_runners=60) as fake:
            # 40 per 10 s, then 0.2 s of 429s: the 41st request is refused however slowly a
            # loaded machine runs the sweep (a 0.2 s window was not always filled).
            fake.enable_rate_limit(40, 10.0, 0.2)
            pacing = RateLimit(requests=10_000, per_seconds=1.0, cooldown=0.2, jitter=0.01)
            async with await make_client(fake, rate_limit=pacing, max_retries=4) as cc:
                results = await cc.managed_runners.stats_many(
                    fake.managed_runner_ids(), concurrency=16
                ).collect()
                assert cc._pacer.pauses >= 1
        assert fake.rate_limited_count > 0
        assert all(r.ok for r in results)


class TestCapacity:
    async def test_report(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake) as cc:
            report = await cc.capacity(managed=True, own=True)
        assert isinstance(report, CapacityReport)
        assert len(report) == 15  # 12 managed + 3 own (unreachable)
        assert {r.kind for r in report.rows} == {"managed", "own"}
        own = [r for r in report.rows if r.kind == "own"]
        assert all(not r.ok and r.status == 500 for r in own)
        assert report.rows[-len(own) :] == tuple(own)  # failures last
        ok = report.ok
        frees = [r.best_vram_free or 0 for r in ok]
        assert frees == sorted(frees, reverse=True)
        big = report.select(min_vram_free="40GB")
        assert all((r.best_vram_free or 0) >= 40 * 10**9 for r in big)
        assert set(big) <= set(ok)
        tagged = report.select(tags=["managed"])
        assert all("managed" in r.tags for r in tagged)
        cpu = report.select(device_type="cpu")
        assert all(any(d.type == "cpu" for d in r.devices) for r in cpu)
        data = json.loads(json.dumps(report.to_dict()))
        assert data["summary"]["runners"] == 15
        assert data["summary"]["failed"] == 3
        models = report.by_gpu_model()
        assert sum(m.devices for m in models) == report.gpus
        assert report.vram_free == sum(m.vram_free for m in models)

    async def test_free_tier_gets_the_typed_error(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, "free") as cc:
            with pytest.raises(PermissionDeniedError, match="Pro or Plus"):
                await cc.capacity(managed=True, own=True)
            own_only = await cc.capacity(managed=False, own=True)
        assert {r.kind for r in own_only.rows} <= {"own"}

    async def test_tags_filter_and_kinds(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake) as cc:
            with pytest.raises(ValueError):
                await cc.capacity(managed=False, own=False)
            report = await cc.capacity(tags=["no-such-tag"])
        assert len(report) == 0

    @pytest.mark.parametrize(
        ("text", "size"),
        [
            ("24GiB", 24 * 2**30),
            ("40GB", 40 * 10**9),
            ("512 MiB", 512 * 2**20),
            ("1.5g", 1_500_000_000),
            (1024, 1024),
        ],
    )
    def test_sizes(self, text: str | int, size: int) -> None:
        assert parse_size(text) == size

    @pytest.mark.parametrize(
        "bad", ["", "lots", "12 parsecs", "-1GB", -5, float("inf"), float("nan"), "9" * 400 + "GB"]
    )
    def test_bad_sizes(self, bad: str | float) -> None:
        with pytest.raises(ValueError):
            parse_size(bad)


class TestDeadlineCoversListing:
    async def test_stats_many_ends_when_its_source_hangs(self, fake: FakeComfyControl) -> None:
        # A source that lists five runners and then never ends (an event nobody sets).
        never = asyncio.Event()
        ids = fake.managed_runner_ids()

        async def listing() -> Any:
            for rid in ids[:5]:
                yield rid
            await never.wait()

        async with await make_client(fake) as cc:
            results = []
            with pytest.raises(APITimeoutError, match="5 runners listed before it"):
                async for result in cc.managed_runners.stats_many(listing(), deadline=0.5):
                    results.append(result)
        # nothing lost: a result for every runner listed, then the error for the rest
        assert sorted(r.runner_id for r in results) == sorted(ids[:5])

    async def test_stats_many_over_a_paginator_whose_page_hangs(
        self, fake: FakeComfyControl
    ) -> None:
        # Rules are served first come first served: page 1 passes, page 2 hangs for ever.
        fake.hang_next(1, route=LIST, seconds=0)
        fake.hang_next(1, route=LIST)
        async with await make_client(fake) as cc:
            results = []
            with pytest.raises(APITimeoutError, match="5 runners listed before it"):
                # 3 s is a margin for page 1 on a loaded machine, not a measured time.
                listing = cc.managed_runners.list(per_page=5, prefetch=0)
                async for result in cc.managed_runners.stats_many(listing, deadline=3):
                    results.append(result)
        assert sorted(r.runner_id for r in results) == sorted(fake.managed_runner_ids()[:5])

    async def test_capacity_returns_what_was_listed_by_the_deadline(self) -> None:
        async with FakeComfyControl(managed_runners=150, seed=2) as fake:
            # Rules are served first come first served: page 1 passes, page 2 hangs for ever.
            fake.hang_next(1, route=LIST, seconds=0)
            fake.hang_next(1, route=LIST)
            async with await make_client(fake) as cc:
                # 3 s is a margin for page 1 on a loaded machine, not a measured time.
                report = await cc.capacity(deadline=3)
        assert len(report.rows) == 100  # page 1, each runner with its stats or its error
        assert len({r.runner_id for r in report.rows}) == 100
        assert not report.complete
        assert "deadline" in report.listing_errors[0]
        assert report.to_dict()["summary"]["complete"] is False

    async def test_capacity_raises_when_nothing_could_be_listed(
        self, fake: FakeComfyControl
    ) -> None:
        fake.hang_next(1, route=LIST)
        async with await make_client(fake) as cc:
            with pytest.raises(APITimeoutError, match="0 runners listed"):
                await cc.capacity(deadline=0.3)


class TestDownRunners:
    async def test_a_down_runner_costs_two_requests_the_second_at_the_end(self) -> None:
        async with FakeComfyControl(managed_runners=20, seed=4) as fake:
            down = fake.add_managed_runner(name="down", status="active", gpu="H100")["id"]
            fake.fail_next(500, times=100, route=STATS, runner_id=down)
            async with await make_client(fake, max_retries=5) as cc:
                results = await cc.managed_runners.stats_many(
                    [down, *fake.managed_runner_ids()[:21]], concurrency=4
                ).collect()
        by_id = {r.runner_id: r for r in results}
        assert len(by_id) == 21
        assert isinstance(by_id[down].error, ServerError)
        assert by_id[down].attempts == 2
        asked = [r.id for r in fake.requests if r.route == STATS]
        assert asked.count(down) == 2
        # the retry waited for every other runner's first request
        assert asked.index(down, asked.index(down) + 1) == len(asked) - 1

    async def test_max_retries_zero_turns_the_second_try_off(self, fake: FakeComfyControl) -> None:
        rid = fake.managed_runner_ids()[0]
        fake.fail_next(500, times=10, route=STATS, runner_id=rid)
        async with await make_client(fake) as cc:
            [result] = await cc.managed_runners.stats_many([rid], max_retries=0).collect()
        assert result.attempts == 1

    async def test_max_retries_given_caps_a_runners_attempts(self, fake: FakeComfyControl) -> None:
        rid = fake.managed_runner_ids()[0]
        fake.fail_next(503, times=10, route=STATS, runner_id=rid)
        async with await make_client(fake, max_retries=6) as cc:
            [result] = await cc.managed_runners.stats_many([rid], max_retries=3).collect()
        assert isinstance(result.error, ServerError)
        assert result.attempts == 4  # 1 + max_retries: the first, then 3 at the end

    async def test_other_failures_get_the_clients_retries_at_the_end(
        self, fake: FakeComfyControl
    ) -> None:
        rid = fake.managed_runner_ids()[0]
        fake.fail_next(503, times=2, route=STATS, runner_id=rid)
        async with await make_client(fake, max_retries=3) as cc:
            [result] = await cc.managed_runners.stats_many([rid]).collect()
        assert result.ok
        assert result.attempts == 3  # 503, then at the end: 503, ok

    async def test_capacity_rows_carry_attempts_and_age(self, fake: FakeComfyControl) -> None:
        now = [1000.0]
        async with await make_client(fake) as cc:
            report = await cc.capacity(own=True, clock=lambda: now[0])
        own = [r for r in report.rows if r.kind == "own"]
        assert own
        assert all(r.attempts == 2 for r in own)  # unreachable: 500, once more at the end
        assert all(r.age == 0.0 and r.read_at == 1000.0 for r in report.rows)


def test_sweeps_never_import_the_client() -> None:
    # capacity takes the resources it sweeps; attempts are counted where
    # they are sent (on_attempt), not through a context variable the client reads.
    import ast
    from pathlib import Path

    import comfycontrol_async
    from comfycontrol_async.resources import _fanout

    root = Path(comfycontrol_async.__file__).parent
    owned = [
        *root.glob("capacity/*.py"),
        root / "resources" / "_fanout.py",
        root / "resources" / "_stats_result.py",
    ]
    for path in owned:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:  # the package's own
                assert (node.module or "").split(".")[-1] != "_client", path
    assert not hasattr(_fanout, "attempt_counter")

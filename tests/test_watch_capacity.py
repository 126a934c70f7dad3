"""watch_capacity: a live view within a share of the client's rate, stalest first, clean stops."""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

import pytest

from comfycontrol_async import ComfyControl, RateLimit
from comfycontrol_async.testing import FakeComfyControl
from tests.test_sweeps import other_tasks

WATCHED = ("GET /v1/managed-runner", "GET /v1/managed-runner/{id}/stats")


def most_in_a_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


async def test_stays_within_its_share_while_other_calls_run(fake: FakeComfyControl) -> None:
    # The documented limit, 25 times faster: 40 requests per 0.4 s; the watch may use half.
    pacing = RateLimit(requests=40, per_seconds=0.4, jitter=0.0)
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=pacing) as cc:
        stop = asyncio.Event()
        others = 0

        async def other_work() -> None:
            nonlocal others
            while not stop.is_set():
                await cc.user.get()
                others += 1

        worker = asyncio.create_task(other_work())
        reports = []
        async for report in cc.watch_capacity(share=0.5, batch=12):
            reports.append(report)
            if len(reports) == 4:
                break
        stop.set()
        await worker
    watched = [r.time for r in fake.requests if r.route in WATCHED]
    assert len(watched) == 1 + 4 * 12  # one list page, four rounds of the 12 runners
    # Whatever the timing, no window of the rate holds more than half its requests of the watch.
    assert most_in_a_window(watched, 0.4) <= 20
    assert others > 0  # the service's own calls went on meanwhile
    assert all(len(r.rows) == 12 for r in reports)


async def test_reads_the_stalest_first_and_rows_carry_their_age(fake: FakeComfyControl) -> None:
    now = [0.0]
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        reports = []
        async for report in cc.watch_capacity(batch=4, clock=lambda: now[0]):
            reports.append(report)
            now[0] += 10.0  # the next round happens 10 s later
            if len(reports) == 4:
                break
    assert [len(r.rows) for r in reports] == [4, 8, 12, 12]
    # Each row says how long its read took, as in a sweep (a round trip is never 0 s).
    assert all(row.elapsed > 0 for r in reports for row in r.rows if row.ok)
    first_round = {r.runner_id for r in reports[0].rows}
    third = {r.runner_id: r.age or 0.0 for r in reports[2].rows}
    assert sorted(third.values()) == [0.0] * 4 + [10.0] * 4 + [20.0] * 4
    assert {rid for rid, age in third.items() if age == 20.0} == first_round
    # round 4 read again the four stalest: the first round's runners
    fourth = {r.runner_id: r.age or 0.0 for r in reports[3].rows}
    assert {rid for rid, age in fourth.items() if age == 0.0} == first_round
    # no row is older than fleet size / batch rounds
    assert max(fourth.values()) <= 12 / 4 * 10.0


async def test_most_promising_first_among_equally_stale(fake: FakeComfyControl) -> None:
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        reports = []
        async for report in cc.watch_capacity(batch=12, min_vram_free="40GB"):
            reports.append(report)
            if len(reports) == 1:
                break
        fake.clear_requests()
        # all read once at the same round: now those whose GPUs can hold 40 GB come first
        async for _ in cc.watch_capacity(batch=3, min_vram_free="40GB"):
            break
    asked = [r.id for r in fake.requests if r.route == WATCHED[1]]
    big = {
        r.runner_id
        for r in reports[0].rows
        if any((d.vram_total or 0) >= 40e9 for d in r.devices if d.is_gpu)
    }
    assert set(asked) <= big


async def test_break_and_cancel_leave_nothing_running(fake: FakeComfyControl) -> None:
    fake.set_latency(0.05, route=WATCHED[1])
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        before = other_tasks()
        async for _ in cc.watch_capacity(batch=2):
            break
        assert other_tasks() - before == set()

        started = asyncio.Event()

        async def watch() -> None:
            async for _ in cc.watch_capacity(batch=12):
                started.set()

        task = asyncio.create_task(watch())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert other_tasks() - before == set()
        sent = len(fake.requests)
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(fake.requests) == sent
        assert (await cc.user.get()).tier == "pro"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"share": 0},
        {"share": 1.5},
        {"share": True},
        {"batch": 0},
        {"relist_every": True},
        {"relist_every": None},
        {"relist_every": "60"},
        {"timeout": 0},
        {"timeout": "5"},
        {"managed": False},
    ],
)
async def test_bad_arguments(fake: FakeComfyControl, kwargs: dict[str, Any]) -> None:
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        fake.clear_requests()
        with pytest.raises(ValueError):
            async for _ in cc.watch_capacity(**kwargs):
                break
    assert fake.requests == []  # refused before anything is sent

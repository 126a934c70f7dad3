"""The pacer and the retry quota, on their own (no HTTP)."""

from __future__ import annotations

import asyncio
import random

import pytest

from comfycontrol_async import RateLimit, RetryBudget
from comfycontrol_async._ratelimit import Pacer, RetryQuota


async def run_requests(
    pacer: Pacer, count: int, concurrency: int, seed: int
) -> list[tuple[float, float]]:
    """Send ``count`` fake requests through the pacer; return (granted, ended) times."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    spans: list[tuple[float, float]] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            queue.get_nowait()
            slot = await pacer.acquire()
            granted = loop.time()
            await asyncio.sleep(rng.uniform(0, 0.01))  # the request's latency
            pacer.release(slot)
            spans.append((granted, loop.time()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return spans


class TestPacer:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_no_window_holds_more_than_the_limit(self, seed: int) -> None:
        rate = RateLimit(requests=5, per_seconds=0.05, jitter=0.0)
        pacer = Pacer(rate)
        spans = await run_requests(pacer, count=30, concurrency=8, seed=seed)
        assert len(spans) == 30
        # The server counts a request when it arrives, at some time between its grant and its
        # end. The k-th grant may only happen once k - requests + 1 earlier requests have ended
        # a whole window before it: then no server window can see more than `requests`.
        grants = sorted(g for g, _ in spans)
        ends = sorted(e for _, e in spans)
        for k in range(rate.requests, len(grants)):
            assert grants[k] >= ends[k - rate.requests] + rate.per_seconds - 1e-3

    async def test_unpaced_is_free(self) -> None:
        pacer = Pacer(None)
        slots = [await pacer.acquire() for _ in range(1000)]
        assert pacer.in_flight == 0
        for slot in slots:
            pacer.release(slot)

    async def test_pause_holds_everyone(self) -> None:
        pacer = Pacer(RateLimit(requests=100, per_seconds=1.0, cooldown=0.05, jitter=0.0))
        loop = asyncio.get_running_loop()
        assert pacer.pause(None) == pytest.approx(0.05)
        assert pacer.paused_for() > 0
        started = loop.time()
        slots = await asyncio.gather(*(pacer.acquire() for _ in range(5)))
        assert loop.time() - started >= 0.045
        assert pacer.pauses == 1
        for slot in slots:
            pacer.release(slot)
        assert pacer.pause(0.01) == pytest.approx(0.01)

    async def test_pause_without_pacing_uses_the_documented_cooldown(self) -> None:
        pacer = Pacer(None, rng=random.Random(0))
        length = pacer.pause(None)
        assert 10.0 <= length <= 11.0

    async def test_cancelled_wait_takes_nothing(self) -> None:
        pacer = Pacer(RateLimit(requests=1, per_seconds=5.0, jitter=0.0))
        first = await pacer.acquire()
        waiter = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert pacer.in_flight == 1  # the cancelled waiter holds nothing
        pacer.release(first)
        assert pacer.delay_for_next() > 4.0

    async def test_a_finished_request_frees_its_place_after_a_window(self) -> None:
        pacer = Pacer(RateLimit(requests=1, per_seconds=0.05, jitter=0.0))
        loop = asyncio.get_running_loop()
        slot = await pacer.acquire()
        pacer.release(slot)
        pacer.release(slot)  # idempotent
        started = loop.time()
        pacer.release(await pacer.acquire())
        assert loop.time() - started >= 0.049


class TestRetryQuota:
    def test_spend_and_refill(self) -> None:
        quota = RetryQuota(RetryBudget(capacity=10, retry_cost=4, success_reward=1))
        assert quota.try_spend()
        assert quota.try_spend()
        assert not quota.try_spend()  # 2 tokens left, a retry costs 4
        assert quota.denied == 1
        quota.refill()
        quota.refill()
        assert quota.try_spend()
        for _ in range(100):
            quota.refill()
        assert quota.tokens == 10

    def test_unlimited(self) -> None:
        quota = RetryQuota(None)
        assert all(quota.try_spend() for _ in range(10_000))

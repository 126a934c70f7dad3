"""Pacing shared through Redis: one window and one 429 pause for many clients and processes.

Every test that needs Redis talks to a real ``redis-server``, never a mock: ``scripts/test``
starts one on a free loopback port and passes its URL in ``CCA_TEST_REDIS_URL`` (with
``CCA_TEST_REDIS_REQUIRED=1``, so a missing server fails the run instead of skipping). Tests
that kill and restart Redis start their own ``redis-server`` (the same binary). The multi-process
tests run worker processes (``benchmarks/bench_workers.py``) against the fake server's
rate-limit emulation, time scaled down to 20 requests per 1 s window and a 1 s cooldown. They
assert on 429 counts and on accounting, never on timings (those are in the benchmark).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from benchmarks import bench_workers
from benchmarks._common import QUICK
from benchmarks.bench_workers import RedisServer, free_port, run_workers
from comfycontrol_async import (
    DEFAULT_RATE_LIMIT,
    ComfyControl,
    ComfyControlError,
    RateLimit,
    RateLimitStoreError,
)
from comfycontrol_async._ratelimit import Pacer
from comfycontrol_async.testing import FakeComfyControl

REDIS_URL = os.environ.get("CCA_TEST_REDIS_URL")
REDIS_REQUIRED = os.environ.get("CCA_TEST_REDIS_REQUIRED") == "1"
SECRET = "s3cret-Redis-pw"
# The fake's emulated limit and the workers' pacing, time scaled down 10x.
WORKER_RATE = {"requests": 20, "per_seconds": 1.0, "cooldown": 1.0, "jitter": 0.1}


@pytest.fixture
def redis_url() -> str:
    if REDIS_URL:
        return REDIS_URL
    if REDIS_REQUIRED:
        pytest.fail("CCA_TEST_REDIS_URL is not set although scripts/test requires Redis")
    pytest.skip("needs a real Redis: run scripts/test (it starts one), or set CCA_TEST_REDIS_URL")


@pytest.fixture
def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if REDIS_REQUIRED or REDIS_URL:
        pytest.fail("redis-server is not on PATH although scripts/test requires Redis")
    pytest.skip("needs redis-server on PATH: run scripts/test (it installs one)")


@pytest.fixture
async def own_redis(redis_binary: str) -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, to kill and restart."""
    async with RedisServer(redis_binary) as server:
        yield server


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def shared(url: str, key: str, **kwargs: Any) -> RateLimit:
    settings: dict[str, Any] = {"requests": 3, "per_seconds": 30.0, "jitter": 0.0} | kwargs
    return RateLimit(store=url, key=key, **settings)


def closed_port_url(password: str = SECRET) -> str:
    """A Redis URL nobody listens on (connections are refused at once)."""
    return f"redis://:{password}@127.0.0.1:{free_port()}/0"


async def until(condition: Any, what: str) -> None:
    """Wait for ``condition()`` to hold (an event, not a timing: bounded only against hangs)."""
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def slot_members(url: str, key: str) -> list[str]:
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        return [str(m) for m in await client.zrange(f"{{{key}}}:slots", 0, -1)]
    finally:
        await client.aclose()


def sharing(pacer: Pacer) -> bool:
    """``pacer.sharing``, read anew (a property mypy would otherwise take as fixed)."""
    return pacer.sharing


class TestConfiguration:
    def test_store_comes_from_the_environment_when_not_given(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert RateLimit().resolved_store() is None
        monkeypatch.setenv("COMFYCONTROL_RATE_LIMIT_STORE", "redis://cache:6379/1")
        assert RateLimit().resolved_store() == "redis://cache:6379/1"
        assert DEFAULT_RATE_LIMIT.resolved_store() == "redis://cache:6379/1"
        # An explicit None keeps the in-process pacer whatever the environment says.
        assert RateLimit(store=None).resolved_store() is None
        assert RateLimit(store="redis://other/0").resolved_store() == "redis://other/0"

    def test_a_bad_environment_value_is_a_clear_value_error(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("COMFYCONTROL_RATE_LIMIT_STORE", f"http://:{SECRET}@cache:6379")
        with pytest.raises(ValueError, match="COMFYCONTROL_RATE_LIMIT_STORE") as caught:
            ComfyControl("cfc_token", base_url="http://127.0.0.1:1")
        assert SECRET not in str(caught.value)

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"store": "http://cache:6379"}, ValueError),
            ({"store": "cache:6379"}, ValueError),
            ({"store": 6379}, TypeError),
            ({"key": ""}, ValueError),
            ({"key": "  "}, ValueError),
            ({"on_store_error": "ignore"}, ValueError),
        ],
    )
    def test_bad_values_fail_at_construction(
        self, kwargs: dict[str, Any], error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            RateLimit(**kwargs)

    def test_the_password_never_shows_in_a_repr(self) -> None:
        for url in (
            f"redis://:{SECRET}@cache:6379/0",
            f"rediss://worker:{SECRET}@cache:6379/0",
            f"redis://cache:6379/0?password={SECRET}",
            f"rediss://cache:6379/0?ssl_password={SECRET}",
            f"redis://cache:6379/0?db=0&token={SECRET}",
            f"redis://cache:6379/0?API_KEY={SECRET}",
        ):
            rate = RateLimit(store=url)
            assert SECRET not in repr(rate)
            assert "cache" in repr(rate)
            pacer = Pacer(rate)
            assert pacer.store is not None
            assert SECRET not in pacer.store

    async def test_the_cli_default_honours_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The CLI builds its client with DEFAULT_RATE_LIMIT: the variable reaches it.
        monkeypatch.setenv("COMFYCONTROL_RATE_LIMIT_STORE", f"redis://:{SECRET}@cache:6379/0")
        async with ComfyControl("cfc_token", base_url="http://127.0.0.1:1") as cc:
            assert cc._pacer.store == "redis://***@cache:6379/0"
        monkeypatch.delenv("COMFYCONTROL_RATE_LIMIT_STORE")
        async with ComfyControl("cfc_token", base_url="http://127.0.0.1:1") as cc:
            assert cc._pacer.store is None

    def test_the_sdk_works_without_the_redis_extra(self) -> None:
        # A fresh interpreter where `import redis` fails, as when the extra is not installed.
        code = f"""
import sys
sys.modules["redis"] = None
import comfycontrol_async
from comfycontrol_async import ComfyControl, RateLimit
assert "redis" not in [m for m in sys.modules if sys.modules[m] is not None]
ComfyControl("cfc_token", base_url="http://127.0.0.1:1", rate_limit=RateLimit())
try:
    ComfyControl("cfc_token", base_url="http://127.0.0.1:1",
                 rate_limit=RateLimit(store="redis://:{SECRET}@cache:6379/0"))
except ImportError as err:
    print(err)
"""
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "pip install 'comfycontrol-async[redis]'" in done.stdout
        assert SECRET not in done.stdout + done.stderr


class TestSharedWindow:
    async def test_clients_of_one_key_share_one_window(self, redis_url: str, key: str) -> None:
        first, second = Pacer(shared(redis_url, key)), Pacer(shared(redis_url, key))
        other = Pacer(shared(redis_url, key + ":elsewhere"))
        try:
            slots = [await first.acquire(), await first.acquire(), await second.acquire()]
            assert first.shared_grants == 2
            assert second.shared_grants == 1
            # The window is full for both: a fourth request of either must wait.
            blocked = asyncio.create_task(second.acquire())
            await asyncio.sleep(0.1)
            assert not blocked.done()
            # Releasing does not free a place: a slot counts a window after its request ends.
            first.release(slots[0])
            await asyncio.sleep(0.05)
            assert not blocked.done()
            blocked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocked
            # Another key (workers behind another IP) has a window of its own.
            await other.acquire()
            assert other.shared_grants == 1
        finally:
            for pacer in (first, second, other):
                await pacer.aclose()
        # Three slots held, nothing taken by the cancelled wait.
        assert len(await slot_members(redis_url, key)) == 3

    async def test_a_slot_frees_one_window_after_its_request_ends(
        self, redis_url: str, key: str
    ) -> None:
        rate = shared(redis_url, key, requests=2, per_seconds=0.3)
        first, second = Pacer(rate), Pacer(rate)
        loop = asyncio.get_running_loop()
        try:
            for slot in [await first.acquire(), await first.acquire()]:
                first.release(slot)
            ended = loop.time()
            await first.aclose()  # the releases are written to Redis
            await second.acquire()
            # The server's clock (Redis TIME) and ours may tick apart by a few milliseconds.
            assert loop.time() - ended >= 0.3 - 0.02
        finally:
            await second.aclose()

    async def test_a_429_pauses_every_client(self, redis_url: str, key: str) -> None:
        rate = shared(redis_url, key, requests=10, cooldown=30.0)
        hit, other = Pacer(rate), Pacer(rate)
        try:
            other.release(await other.acquire())
            hit.pause(None)
            await hit.aclose()  # the pause is written to Redis
            waiting = asyncio.create_task(other.acquire())
            await until(lambda: other.paused_for() > 0, "the shared pause seen")
            assert 25.0 < other.paused_for() <= 30.0
            assert not waiting.done()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        finally:
            await other.aclose()

    async def test_a_cancelled_acquire_gives_its_slot_back(self, redis_url: str, key: str) -> None:
        pacer = Pacer(shared(redis_url, key))
        task = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(0)  # the request to Redis is on its way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pacer.aclose()
        assert await slot_members(redis_url, key) == []

    async def test_the_client_closes_every_background_task(self, redis_url: str, key: str) -> None:
        async with FakeComfyControl(seed=1, managed_runners=4) as fake:
            cc = ComfyControl(
                fake.token("pro"),
                base_url=fake.url,
                rate_limit=shared(redis_url, key, requests=40),
            )
            async with cc:
                async with cc.managed_runners.stats_many(fake.managed_runner_ids()) as sweep:
                    results = [r async for r in sweep]
                assert all(r.ok for r in results)
            assert cc._pacer.shared_grants == 4
            assert not cc._pacer._tasks
        assert asyncio.all_tasks() == {asyncio.current_task()}
        # The four slots were released (counted one window from their end), not leaked.
        assert len(await slot_members(redis_url, key)) == 4


class TestStoreFailures:
    async def test_down_at_start_falls_back_with_one_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        rate = RateLimit(requests=8, per_seconds=0.2, jitter=0.0, store=closed_port_url())
        pacer = Pacer(rate)
        caplog.set_level(logging.INFO, logger="comfycontrol_async")
        try:
            for _ in range(2):
                pacer.release(await pacer.acquire())
            assert not pacer.sharing
            # Nobody was ever seen on the store: a quarter of the limit, 2 per window here.
            assert pacer.delay_for_next() > 0.1
            for _ in range(4):
                pacer.release(await pacer.acquire())
        finally:
            await pacer.aclose()
        assert pacer.granted == 6
        assert pacer.store_failures >= 1
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        assert "pacing this process alone at 2 requests per 0.2 s" in warnings[0].getMessage()
        assert "redis://***@127.0.0.1" in caplog.text
        assert SECRET not in caplog.text

    async def test_raise_makes_it_a_typed_error(self, fake: FakeComfyControl) -> None:
        rate = RateLimit(store=closed_port_url(), on_store_error="raise")
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=rate) as cc:
            with pytest.raises(RateLimitStoreError) as caught:
                await cc.user.get()
        err = caught.value
        assert isinstance(err, ComfyControlError)
        assert err.store.startswith("redis://***@127.0.0.1:")
        assert "rate-limit store" in str(err)
        assert err.__cause__ is None
        assert SECRET not in str(err) + repr(err)
        assert fake.requests == []  # nothing was sent unpaced

    async def test_a_real_redis_error_does_not_leak_the_password(
        self, redis_url: str, key: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        # The test server has no such user: AUTH fails, on the real server.
        wrong = redis_url.replace("redis://", f"redis://nobody:{SECRET}@", 1)
        pacer = Pacer(shared(wrong, key, on_store_error="raise"))
        try:
            with pytest.raises(RateLimitStoreError) as caught:
                await pacer.acquire()
        finally:
            await pacer.aclose()
        assert "AuthenticationError" in str(caught.value)
        assert SECRET not in str(caught.value)
        pacer = Pacer(shared(wrong, key))
        try:
            pacer.release(await pacer.acquire())
        finally:
            await pacer.aclose()
        assert "rate-limit store" in caplog.text
        assert SECRET not in caplog.text

    async def test_a_restart_between_calls_costs_no_fallback(
        self, own_redis: RedisServer, key: str
    ) -> None:
        # The pooled connection is stale after a restart: the pool replaces it on the next
        # call, so the pacer never paces alone for a restart it did not see.
        rate = RateLimit(requests=40, per_seconds=1.0, jitter=0.0, store=own_redis.url, key=key)
        pacer = Pacer(rate)
        try:
            pacer.release(await pacer.acquire())
            await own_redis.kill()
            await own_redis.start()
            pacer.release(await pacer.acquire())
            assert (pacer.store_failures, pacer.shared_grants) == (0, 2)
            assert sharing(pacer)
        finally:
            await pacer.aclose()

    async def test_sharing_resumes_when_redis_comes_back(
        self, own_redis: RedisServer, key: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        rate = RateLimit(requests=40, per_seconds=1.0, jitter=0.0, store=own_redis.url, key=key)
        pacer = Pacer(rate)
        try:
            pacer.release(await pacer.acquire())
            assert sharing(pacer)
            await own_redis.kill()
            alone = await pacer.acquire()
            pacer.release(alone)
            assert not sharing(pacer)
            await own_redis.start()  # empty: no persistence
            for _ in range(500):
                if sharing(pacer):
                    break
                pacer.release(await pacer.acquire())
                await asyncio.sleep(0.01)
            assert sharing(pacer)
            assert pacer.store_recoveries == 1
        finally:
            await pacer.aclose()
        # Back, the pacer handed over the slot it took alone, so the others count it.
        assert alone.member in await slot_members(own_redis.url, key)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1


async def managed_ids(fake: FakeComfyControl, count: int) -> list[str]:
    ids = fake.managed_runner_ids()[:count]
    assert len(ids) == count
    return ids


def check_accounted(reports: list[dict[str, Any]], each: int) -> None:
    """Every worker exited cleanly and accounted for every one of its runners."""
    for report in reports:
        assert report["returncode"] == 0, report["stderr"]
        assert report["runners"] == each
        assert report["ok"] + sum(report["errors"].values()) == each, report
        assert report["tasks_left"] == 0


class TestWorkerProcesses:
    async def test_four_workers_with_the_store_see_no_429(self, redis_url: str, key: str) -> None:
        each = 30
        async with FakeComfyControl(seed=2, managed_runners=4 * each) as fake:
            fake.enable_rate_limit(20, 1.0, 1.0)
            reports, _ = await run_workers(
                url=fake.url,
                token=fake.token("pro"),
                ids=await managed_ids(fake, 4 * each),
                processes=4,
                rate=WORKER_RATE,
                store=redis_url,
                key=key,
            )
            assert fake.rate_limited_count == 0
        check_accounted(reports, each)
        for report in reports:
            assert report["errors"] == {}
            assert report["shared_grants"] == report["granted"] == each

    async def test_four_workers_without_the_store_cause_429s(self) -> None:
        # The problem the store solves: each worker paces itself, together they overrun.
        each = 15
        async with FakeComfyControl(seed=3, managed_runners=4 * each) as fake:
            fake.enable_rate_limit(20, 1.0, 1.0)
            reports, _ = await run_workers(
                url=fake.url,
                token=fake.token("pro"),
                ids=await managed_ids(fake, 4 * each),
                processes=4,
                rate=WORKER_RATE,
                store=None,
            )
            assert fake.rate_limited_count > 0
        check_accounted(reports, each)

    async def test_redis_killed_mid_sweep_then_back(self, own_redis: RedisServer, key: str) -> None:
        each, workers = 40, 4
        async with FakeComfyControl(seed=4, managed_runners=workers * each) as fake:
            fake.enable_rate_limit(20, 1.0, 1.0)
            ids = await managed_ids(fake, workers * each)
            owner = {rid: n // each for n, rid in enumerate(ids)}  # run_workers splits in order

            def sent() -> list[int]:
                """Requests each worker has sent so far (its runners' ids tell them apart)."""
                counts = [0] * workers
                for r in fake.requests:
                    counts[owner[r.path.split("/")[3]]] += 1
                return counts

            at_kill: list[int] = []
            at_restart: list[int] = []

            async def kill_then_restart() -> None:
                # Triggered by each worker's own progress, not by a total that one fast worker
                # (or a late one, on a loaded machine) could make up alone.
                await until(lambda: min(sent()) >= 3, "3 requests from each worker")
                at_kill.extend(sent())
                await own_redis.kill()

                def two_more_each() -> bool:
                    pairs = zip(sent(), at_kill, strict=True)
                    return all(n >= k + 2 or n >= each for n, k in pairs)

                await until(two_more_each, "2 requests from each worker without Redis")
                at_restart.extend(sent())
                await own_redis.start()

            reports, _ = await run_workers(
                url=fake.url,
                token=fake.token("pro"),
                ids=ids,
                processes=workers,
                rate=WORKER_RATE,
                store=own_redis.url,
                key=key,
                on_go=kill_then_restart,
            )
            rejected = fake.rate_limited_count
            at_end = sent()
        check_accounted(reports, each)
        # Each switch (to the fallback, back to the store) may overrun the limit once; one
        # overrun costs at most a window's worth of 429s (the requests in flight into the
        # cooldown), and every worker then pauses.
        assert rejected <= 2 * WORKER_RATE["requests"], reports
        # A worker paces alone at 20 // 4 = 5 a window, granted before the restart at most that
        # many: one that sent more after it has asked the restarted Redis and shares again.
        share = int(WORKER_RATE["requests"]) // workers
        back = [end - restart > share + 1 for end, restart in zip(at_end, at_restart, strict=True)]
        assert any(back), (at_kill, at_restart, at_end)
        for report, killed_before_done, came_back in zip(
            reports, (k < each for k in at_kill), back, strict=True
        ):
            if killed_before_done:
                assert report["store_failures"] >= 1
                assert report["stderr"].count("pacing this process alone") == 1
            if came_back:
                assert report["store_recoveries"] >= 1
                assert report["sharing_at_end"]  # its last slot came from the restarted Redis

    async def test_the_benchmark_runs_both_variants(self, redis_binary: str) -> None:
        # Shape only (its timing figures are for a quiet machine), and no 429 with the store.
        result = await bench_workers.run(dataclasses.replace(QUICK, workers_runners=10))
        assert result.key == "workers"
        assert [f.name.split(" runners ")[1].split(":")[0] for f in result.figures] == [
            "with the store",
            "with the store",
            "without the store",
        ]
        assert result.metrics["store_rate_limited"] == 0
        assert result.metrics["store_ok"] + result.metrics["store_failed"] == 40
        assert result.metrics["alone_ok"] + result.metrics["alone_failed"] == 40
        assert result.metrics["store_crashed"] == result.metrics["alone_crashed"] == 0
        assert any("| with the store | 0 |" in line for line in result.details)

"""find_runners: few requests per answer, only runners that fit, the static facts cache."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_find import populate_sparse_fleet
from comfycontrol_async import APITimeoutError, ComfyControl, FactsCache, PermissionDeniedError
from comfycontrol_async.testing import FakeComfyControl

STATS = "GET /v1/managed-runner/{id}/stats"
LIST = "GET /v1/managed-runner"
NEED = 40 * 10**9


async def make_client(fake: FakeComfyControl, tier: str = "pro", **kwargs: Any) -> ComfyControl:
    kwargs.setdefault("rate_limit", None)
    return ComfyControl(fake.token(tier), base_url=fake.url, **kwargs)


@pytest.fixture
async def sparse() -> Any:
    async with FakeComfyControl(managed_runners=0, seed=5) as fake:
        roles = populate_sparse_fleet(fake, 300, seed=5)
        yield fake, roles


class TestFewRequests:
    async def test_cold_then_warm_cache(self, sparse: Any) -> None:
        fake, roles = sparse
        cache = FactsCache()
        async with await make_client(fake) as cc:
            fake.clear_requests()
            cold = await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            cold_sent = len(fake.requests)
            fake.clear_requests()
            warm = await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            warm_sent = len(fake.requests)
        for found in (cold, warm):
            assert len(found.rows) == 5
            assert all(roles[r.runner_id] == "fit" for r in found.rows)
            assert all((r.best_vram_free or 0) >= NEED for r in found.rows)
            assert all(r.age is not None and r.age >= 0 for r in found.rows)
            frees = [r.best_vram_free or 0 for r in found.rows]
            assert frees == sorted(frees, reverse=True)  # best first
            assert not found.complete  # it stopped at the limit
        # .requests is what the server received: list pages, workflow lists, stats
        assert cold.requests == cold_sent
        assert warm.requests == warm_sent
        full_sweep = 3 + 300  # three list pages and every runner's stats, at least
        assert cold_sent <= full_sweep * 0.25
        assert warm_sent <= full_sweep * 0.10
        # warm: runners seen to be too small are ruled out without a request, with the reason
        small = [r for r in warm.ruled_out if roles[r.runner_id] == "small"]
        assert small
        assert all("less than the 40000000000 asked" in r.reason for r in small)
        assert not {r.runner_id for r in warm.ruled_out} & {r.runner_id for r in warm.checked}

    async def test_fewer_fit_than_wanted_reads_every_plausible_runner(self, sparse: Any) -> None:
        fake, roles = sparse
        async with await make_client(fake, max_retries=4) as cc:
            fake.clear_requests()
            found = await cc.find_runners(min_vram_free="40GB", limit=50)
        fitting = {rid for rid, role in roles.items() if role == "fit"}
        assert {r.runner_id for r in found.rows} == fitting
        assert found.complete
        checked = {r.runner_id for r in found.checked}
        ruled = {r.runner_id for r in found.ruled_out}
        assert checked | ruled == set(roles)  # every runner accounted for
        assert not ruled  # a cold cache rules nothing out: every runner was read
        per_runner = Counter(r.id for r in fake.requests if r.route == STATS)
        down = [rid for rid, role in roles.items() if role == "down"]
        assert down
        assert all(per_runner[rid] == 2 for rid in down)  # a down runner costs two requests
        rows = {r.runner_id: r for r in found.checked}
        assert all(rows[rid].attempts == 2 and rows[rid].status == 500 for rid in down)
        assert max(per_runner.values()) == 2

    async def test_tags_and_device_type(self, sparse: Any) -> None:
        fake, _ = sparse
        async with await make_client(fake) as cc:
            found = await cc.find_runners(tags=["gpu-h100"], limit=3)
            cpu = await cc.find_runners(device_type="cpu", limit=100)
        assert found.rows
        assert all("gpu-h100" in r.tags for r in found.rows)
        assert all("lacks the tags gpu-h100" in r.reason for r in found.ruled_out)
        assert cpu.complete
        assert cpu.rows
        assert all(any(d.type == "cpu" for d in r.devices) for r in cpu.rows)


class TestIdleFirst:
    async def test_busy_runners_come_last_and_workflow_runners_are_cached(
        self, sparse: Any
    ) -> None:
        fake, roles = sparse
        fits = [rid for rid, role in roles.items() if role == "fit"]
        busy = fits[0]
        fake.add_workflow("pro", status="running", runner_id=busy)
        fake.add_workflow("pro", status="queued", runner_id=busy)
        async with await make_client(fake) as cc:
            found = await cc.find_runners(min_vram_free="40GB", limit=len(fits))
            assert found.rows[-1].runner_id == busy
            assert found.rows[-1].queue_depth == 2
            assert all(r.queue_depth == 0 for r in found.rows[:-1])
            # asked last: only the down runners' end-of-search retries came after it
            order = [r.runner_id for r in found.checked]
            assert {roles[rid] for rid in order[order.index(busy) + 1 :]} <= {"down"}
            fake.clear_requests()
            again = await cc.find_runners(min_vram_free="40GB", limit=1)
        # a workflow's runner never changes: no workflow is read twice
        assert not [r for r in fake.requests if r.route == "GET /v1/workflow/{id}"]
        assert again.rows[0].runner_id != busy


class TestFactsCache:
    async def test_save_and_load(self, sparse: Any, tmp_path: Path) -> None:
        fake, _ = sparse
        path = tmp_path / "cache" / "facts.json"
        assert len(FactsCache.load(path)) == 0  # no file yet: an empty cache
        cache = FactsCache()
        async with await make_client(fake) as cc:
            await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            cache.save(path)
            loaded = FactsCache.load(path)
            assert len(loaded) == len(cache) > 0
            assert loaded.runners() == cache.runners()
            fake.clear_requests()
            warm = await cc.find_runners(min_vram_free="40GB", limit=5, cache=loaded)
        assert warm.ruled_out  # the file carried what the first run learned

    def test_bad_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "facts.json"
        bad.write_text(json.dumps({"format": "something else"}))
        with pytest.raises(ValueError, match="not a runner facts cache"):
            FactsCache.load(bad)
        bad.write_text("{")
        with pytest.raises(ValueError, match="not a runner facts cache"):
            FactsCache.load(bad)
        bad.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")  # not even text
        with pytest.raises(ValueError, match="not a runner facts cache"):
            FactsCache.load(bad)

    async def test_old_facts_rule_nothing_out(self, sparse: Any) -> None:
        fake, _ = sparse
        now = [1_000_000.0]
        cache = FactsCache(clock=lambda: now[0])
        async with await make_client(fake) as cc:
            await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache, clock=cache.now)
            assert (await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)).ruled_out
            now[0] += 8 * 86400  # older than the default week
            stale = await cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            fresh_enough = await cc.find_runners(
                min_vram_free="40GB", limit=5, cache=cache, facts_max_age=30 * 86400
            )
        assert not stale.ruled_out
        assert fresh_enough.ruled_out
        assert all("seen 691200 s ago" in r.reason for r in fresh_enough.ruled_out)


class TestErrorsAndDeadline:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"limit": 0},
            {"limit": True},
            {"tags": "gpu-h100"},
            {"min_vram_free": "lots"},
            {"deadline": 0},
            {"deadline": True},
            {"timeout": True},
            {"timeout": "5"},
            {"max_retries": -1},
            {"managed": False},
        ],
    )
    async def test_bad_arguments(self, fake: FakeComfyControl, kwargs: dict[str, Any]) -> None:
        async with await make_client(fake) as cc:
            fake.clear_requests()
            with pytest.raises(ValueError):
                await cc.find_runners(**kwargs)
        assert fake.requests == []

    async def test_free_tier(self, fake: FakeComfyControl) -> None:
        async with await make_client(fake, "free") as cc:
            with pytest.raises(PermissionDeniedError):
                await cc.find_runners(min_vram_free="40GB")

    async def test_deadline_covers_listing(self, fake: FakeComfyControl) -> None:
        fake.hang_next(1, route=LIST)
        async with await make_client(fake) as cc:
            found = await cc.find_runners(min_vram_free="40GB", deadline=0.3)
        assert not found.complete
        assert found.rows == ()
        assert "deadline" in found.listing_errors[0]

    async def test_deadline_while_reading(self, fake: FakeComfyControl) -> None:
        fake.hang_next(100, route=STATS)
        async with await make_client(fake) as cc:
            # 3 s: a margin for listing on a loaded machine; the stats hang for ever
            found = await cc.find_runners(min_vram_free="1GB", limit=3, deadline=3)
        assert not found.complete
        assert found.rows == ()
        assert all(isinstance(r, object) for r in found.checked)
        assert (
            APITimeoutError.__name__ in {r.error_type for r in found.checked} or not found.checked
        )

"""Figure 8: ``find_runners`` against a full sweep, in requests and time per answer.

The fleet (:func:`populate_sparse_fleet`) has ``find_runners`` managed runners in the managed
runners' tag style, in seeded random order: one in ten has a big GPU with room for a 40 GB job,
three in ten have a big GPU that is busy, the rest have 24 GB cards or none, and one in thirty
is down (its stats answer 500). Each answer is ``find_runners(min_vram_free="40GB", limit=5)``;
the cold run starts from an empty :class:`FactsCache`, the warm one from the cache the cold run
left. The full sweep is ``capacity()``. Requests are counted at the fake server (every request
it received, listing and workflows included). Times are under the client's default pacing
(40 requests per 10 s) with every duration scaled by ``find_scale`` (so a 75 s sweep takes
75 x scale s), against the fake's emulation of the same limit: the ratio to the sweep's time
is what the issue's time goal is about.
"""

from __future__ import annotations

import random
import time
from typing import Any

from comfycontrol_async import ComfyControl, RateLimit
from comfycontrol_async.capacity import FactsCache
from comfycontrol_async.testing import FakeComfyControl
from comfycontrol_async.testing._fleet import GPUS

from ._common import BenchResult, Figure, Sizes, fmt

__all__ = ["populate_sparse_fleet", "run"]

_NEED = 40 * 10**9


def _stats(gpu_key: str, free: int) -> dict[str, Any]:
    gpu = GPUS[gpu_key]
    is_gpu = gpu.device_type not in ("cpu", "mps")
    return {
        "system": {
            "os": "linux",
            "ram_total": gpu.ram_total,
            "ram_free": gpu.ram_total // 2,
            "comfyui_version": "0.4.1",
            "python_version": "3.12.12",
        },
        "devices": [
            {
                "name": f"cuda:0 {gpu.label} : {gpu.allocator}" if is_gpu else gpu.device_type,
                "type": gpu.device_type,
                "index": 0 if is_gpu else None,
                "vram_total": gpu.vram_total,
                "vram_free": free,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        ],
        "dev_mode": False,
        "extensions": [],
    }


def populate_sparse_fleet(fake: FakeComfyControl, size: int, *, seed: int = 0) -> dict[str, str]:
    """Add ``size`` managed runners where one in ten fits a 40 GB job; returns id -> role.

    Roles: ``fit`` (big GPU, room for 40 GB), ``busy`` (big GPU, no room), ``small`` (a 24 GB
    card or a CPU), ``down`` (stats answer 500). The fake must have been made with
    ``managed_runners=0``.
    """
    rng = random.Random(seed)
    roles = ["fit"] * (size // 10)
    roles += ["down"] * (size // 30)
    roles += ["busy"] * (3 * size // 10)
    roles += ["small"] * (size - len(roles))
    rng.shuffle(roles)
    purposes = ("image-generation", "video-generation", "upscaling", "training", "batch")
    out: dict[str, str] = {}
    for n, role in enumerate(roles):
        big = role in ("fit", "busy", "down")
        gpu_key = (
            rng.choice(("H100", "A100-80GB"))
            if big
            else rng.choice(("RTX4090", "RTX3090", "A10G", "cpu"))
        )
        gpu = GPUS[gpu_key]
        free = (
            int(gpu.vram_total * rng.uniform(0.6, 0.95))
            if role == "fit"
            else int(min(gpu.vram_total, _NEED) * rng.uniform(0.05, 0.45))
        )
        tier = "pro" if big else "plus"
        tags = ["managed", gpu.tag, "high-performance" if big else "standard"]
        tags.append(purposes[rng.randrange(len(purposes))])
        runner = fake.add_managed_runner(
            name=f"Managed Runner {n + 1}",
            runner_type=tier,
            tags=tags,
            stats=_stats(gpu_key, free),
            gpu=gpu_key,
        )
        if role == "down":
            fake.fail_next(
                500, times=10**6, route="GET /v1/managed-runner/{id}/stats", runner_id=runner["id"]
            )
        out[runner["id"]] = role
    return out


async def run(sizes: Sizes) -> BenchResult:
    size = sizes.find_runners
    scale = sizes.find_scale
    pacing = RateLimit(requests=40, per_seconds=10.0 * scale, cooldown=10.0 * scale, jitter=0.0)
    async with FakeComfyControl(managed_runners=0, seed=7) as fake:
        roles = populate_sparse_fleet(fake, size, seed=7)
        fake.enable_rate_limit(40, 10.0, 10.0, scale=scale)
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=pacing) as cc:

            async def measure(call: Any) -> tuple[int, float, Any]:
                fake.clear_requests()
                started = time.perf_counter()
                answer = await call()
                return len(fake.requests), time.perf_counter() - started, answer

            sweep_n, sweep_s, report = await measure(lambda: cc.capacity())
            await _cooldown(scale)
            cache = FactsCache()
            cold_n, cold_s, cold = await measure(
                lambda: cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            )
            await _cooldown(scale)
            warm_n, warm_s, warm = await measure(
                lambda: cc.find_runners(min_vram_free="40GB", limit=5, cache=cache)
            )
        limited = fake.rate_limited_count
    for found in (cold, warm):
        if len(found.rows) != 5 or any(roles[r.runner_id] != "fit" for r in found.rows):
            raise RuntimeError("find_runners returned a runner that does not fit")
    if len(report.rows) != size:
        raise RuntimeError(f"the sweep returned {len(report.rows)} of {size} runners")
    fits = sum(1 for role in roles.values() if role == "fit")
    metrics = {
        "sweep_requests": sweep_n,
        "sweep_s": sweep_s,
        "cold_requests": cold_n,
        "cold_s": cold_s,
        "warm_requests": warm_n,
        "warm_s": warm_s,
        "cold_share": cold_n / sweep_n,
        "warm_share": warm_n / sweep_n,
        "cold_time_share": cold_s / sweep_s,
        "warm_time_share": warm_s / sweep_s,
        "rate_limited": limited,
    }
    figures = [
        Figure(
            name=f"find_runners(40GB, limit=5), cold cache: requests / full sweep's ({size:,})",
            value=metrics["cold_share"],
            unit="x",
            op="<=",
            goal=0.25,
            reps=1,
            note=f"{cold_n} vs {sweep_n} requests; time {fmt(metrics['cold_time_share'], 'x')}",
        ),
        Figure(
            name=f"find_runners(40GB, limit=5), warm cache: requests / full sweep's ({size:,})",
            value=metrics["warm_share"],
            unit="x",
            op="<=",
            goal=0.10,
            reps=1,
            note=f"{warm_n} vs {sweep_n} requests; time {fmt(metrics['warm_time_share'], 'x')}",
        ),
    ]
    details = [
        f"{size:,} managed runners, {fits} of them fit a 40 GB job (one in ten), one in thirty "
        "down; the fake emulates the documented rate limit and the client paces at its default "
        f"(40 per 10 s), every duration scaled by {scale}. Requests counted at the server.",
        "",
        "| answer | requests | / sweep | time s | / sweep |",
        "|---|---:|---:|---:|---:|",
        f"| full sweep `capacity()` | {sweep_n} | 1.00x | {sweep_s:.2f} | 1.00x |",
        f"| `find_runners` cold cache | {cold_n} | {fmt(metrics['cold_share'], 'x')} "
        f"| {cold_s:.2f} | {fmt(metrics['cold_time_share'], 'x')} |",
        f"| `find_runners` warm cache | {warm_n} | {fmt(metrics['warm_share'], 'x')} "
        f"| {warm_s:.2f} | {fmt(metrics['warm_time_share'], 'x')} |",
        "",
        f"429s seen: {limited}. Ruled out without a request, warm: {len(warm.ruled_out)}.",
    ]
    return BenchResult(
        key="find",
        title="8. find_runners vs a full sweep",
        figures=figures,
        details=details,
        metrics=metrics,
    )


async def _cooldown(scale: float) -> None:
    """Let the last window of requests age out, so each answer starts with a fresh budget."""
    import asyncio

    await asyncio.sleep(10.0 * scale * 1.05)

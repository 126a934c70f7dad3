"""Figure 3: ``stats_many`` over 1,000 runners at 50 ms latency, concurrency 64, pacing off.

The fake server (child process) holds ``fanout_runners`` managed runners and answers
``GET /v1/managed-runner/{id}/stats`` after a fixed latency. The SDK sweep is
``cc.managed_runners.stats_many(ids, concurrency=64)`` on ``ComfyControl(rate_limit=None)``,
consumed to the end; every result must be ``ok``. The bound it is judged against is
``ceil(runners / concurrency) x latency``: with 64 calls in flight and each taking the latency,
no sweep can finish sooner (800 ms for 1,000 runners at 50 ms).

For reference (not judged) the same calls are made by 64 raw aiohttp workers sharing a queue,
each body parsed with ``json.loads``: what the server and loopback allow, without the SDK.
"""

from __future__ import annotations

import asyncio
import json
import math
import time

import aiohttp

from comfycontrol_async import ComfyControl

from ._common import BenchResult, Figure, Sizes, fmt, median, paired_ratios
from ._server import ServerProcess

__all__ = ["run"]

_ROUTE = "GET /v1/managed-runner/{id}/stats"


async def run(sizes: Sizes) -> BenchResult:
    runners = sizes.fanout_runners
    latency = sizes.fanout_latency
    concurrency = sizes.fanout_concurrency
    reps = sizes.fanout_reps
    bound = math.ceil(runners / concurrency) * latency
    async with ServerProcess("fake", managed=runners) as server:
        ids = server.ids[:runners]
        if len(ids) != runners:
            raise RuntimeError(f"the fake has {len(ids)} visible runners, expected {runners}")
        await server.call("set_latency", fixed=latency, route=_ROUTE)
        headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=100, limit_per_host=100)
        async with (
            ComfyControl(server.token, base_url=server.url, rate_limit=None) as cc,
            aiohttp.ClientSession(connector=connector, headers=headers, trust_env=False) as raw,
        ):

            async def sdk() -> float:
                started = time.perf_counter()
                ok = 0
                async with cc.managed_runners.stats_many(ids, concurrency=concurrency) as sweep:
                    async for result in sweep:
                        ok += result.ok
                elapsed = time.perf_counter() - started
                if ok != runners:
                    raise RuntimeError(f"stats_many: {ok} of {runners} runners ok")
                return elapsed

            async def reference() -> float:
                queue = iter(ids)

                async def worker() -> None:
                    for rid in queue:
                        url = f"{server.url}/v1/managed-runner/{rid}/stats"
                        async with raw.get(url) as response:
                            if response.status != 200:
                                raise RuntimeError(f"raw aiohttp got {response.status}")
                            json.loads(await response.read())

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return time.perf_counter() - started

            await sdk()  # warm up: open the pools' connections
            await reference()
            sdk_times: list[float] = []
            ref_times: list[float] = []
            for rep in range(reps):
                if rep % 2:
                    ref_times.append(await reference())
                    sdk_times.append(await sdk())
                else:
                    sdk_times.append(await sdk())
                    ref_times.append(await reference())

    ratio = median([t / bound for t in sdk_times])
    ref_ratio = median([t / bound for t in ref_times])
    metrics = {
        "sdk_ms": median(sdk_times) * 1e3,
        "raw_ms": median(ref_times) * 1e3,
        "bound_ms": bound * 1e3,
        "sdk_vs_bound": ratio,
        "raw_vs_bound": ref_ratio,
        "sdk_vs_raw": median(paired_ratios(sdk_times, ref_times)),
    }
    figures = [
        Figure(
            name=f"stats_many {runners:,} @ {latency * 1e3:.0f} ms, concurrency {concurrency}: "
            f"SDK / ceil({runners}/{concurrency}) x {latency * 1e3:.0f} ms",
            value=ratio,
            unit="x",
            op="<=",
            goal=1.2,
            reps=reps,
            note=f"{metrics['sdk_ms']:.0f} ms vs {metrics['bound_ms']:.0f} ms",
        )
    ]
    details = [
        f"{runners:,} distinct managed runners, {latency * 1e3:.0f} ms latency on `{_ROUTE}`, "
        f"concurrency {concurrency}, pacing off (`rate_limit=None`), {reps} repetitions after "
        "one warm-up sweep, fake server in a child process. Every result was checked `ok`.",
        "",
        "| sweep | median ms | / bound |",
        "|---|---:|---:|",
        f"| bound: ceil({runners}/{concurrency}) x {latency * 1e3:.0f} ms "
        f"| {metrics['bound_ms']:.0f} | 1.00x |",
        f"| SDK `stats_many(ids, concurrency={concurrency})` | {metrics['sdk_ms']:.0f} "
        f"| {fmt(ratio, 'x')} |",
        f"| reference: {concurrency} raw aiohttp workers + `json.loads` "
        f"| {metrics['raw_ms']:.0f} | {fmt(ref_ratio, 'x')} |",
        "",
        f"SDK / raw reference, run by run: {fmt(metrics['sdk_vs_raw'], 'x')}.",
    ]
    return BenchResult(
        key="fanout",
        title="3. Stats fan-out",
        figures=figures,
        details=details,
        metrics=metrics,
    )

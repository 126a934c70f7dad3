"""Figure 1: the cost of one ``get()``, SDK against raw aiohttp and against httpx + pydantic.

The fake server runs in a child process with no latency. This process sends the same sequential
``GET /v1/managed-runner/{id}`` requests (cycling over the fleet's ids) through three clients,
each opened once and kept warm:

* **SDK**: ``await cc.managed_runners.get(id)`` on ``ComfyControl(rate_limit=None)``: request,
  JSON parsing and decoding into the attrs ``ManagedRunner``.
* **raw aiohttp**: a ``ClientSession`` with the SDK's connector limits (100 per host), the same
  default timeouts (30 s total, 10 s connect) and the same three headers; the body read and
  parsed with ``json.loads`` to a dict, then nothing.
* **httpx + pydantic**: ``httpx.AsyncClient`` with the same limits and timeouts, the body
  validated by ``ManagedRunnerP.model_validate_json`` (a pydantic v2 model mirroring
  ``ManagedRunner``): the stack most users would otherwise write by hand.

Inside each repetition the three take turns on slices of 100 requests (their order rotating), so
that they see the same machine state even when this shared machine's speed changes from one
second to the next; each figure is the median over the repetitions of the run-by-run ratio.
Besides wall time per request, the client's CPU time per request (``time.process_time`` of this
process; the server's CPU is in the child) is reported: it isolates each client's own overhead.
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections.abc import Awaitable, Callable
from itertools import cycle, islice

import aiohttp
import httpx

from comfycontrol_async import ComfyControl

from ._common import BenchResult, Figure, Sizes, fmt, median, paired_ratios
from ._models import ManagedRunnerP
from ._server import ServerProcess

__all__ = ["run"]

_SLICE = 100  # requests per turn
_POOL = 100  # the SDK's connector limit (comfycontrol_async/_transport.py, _POOL_SIZE)
_USER_AGENT = "benchmark"

Batch = Callable[[list[str]], Awaitable[None]]


async def _timed(batch: Batch, ids: list[str]) -> tuple[float, float]:
    """Run one batch; return (wall µs, client CPU µs) per request."""
    gc.collect()  # no client pays for the garbage of the one before it (httpx leaves the most)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    await batch(ids)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return wall * 1e6 / len(ids), cpu * 1e6 / len(ids)


async def run(sizes: Sizes) -> BenchResult:
    n = sizes.get_requests
    reps = sizes.get_reps
    async with ServerProcess("fake", managed=50) as server:
        ids = list(islice(cycle(server.ids), n))
        headers = {
            "Authorization": f"Bearer {server.token}",
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
        }
        base = server.url
        timeout = aiohttp.ClientTimeout(total=30.0, connect=10.0, sock_connect=10.0)
        connector = aiohttp.TCPConnector(limit=_POOL, limit_per_host=_POOL)
        async with (
            ComfyControl(server.token, base_url=base, rate_limit=None) as cc,
            aiohttp.ClientSession(
                connector=connector, headers=headers, timeout=timeout, trust_env=False
            ) as session,
            httpx.AsyncClient(
                base_url=base,
                headers=headers,
                limits=httpx.Limits(max_connections=_POOL, max_keepalive_connections=_POOL),
                timeout=httpx.Timeout(30.0, connect=10.0),
                trust_env=False,
            ) as hx,
        ):

            async def sdk(batch: list[str]) -> None:
                get = cc.managed_runners.get
                for rid in batch:
                    await get(rid)

            async def raw(batch: list[str]) -> None:
                for rid in batch:
                    async with session.get(f"{base}/v1/managed-runner/{rid}") as response:
                        if response.status != 200:
                            raise RuntimeError(f"raw aiohttp got {response.status}")
                        json.loads(await response.read())

            async def hxp(batch: list[str]) -> None:
                for rid in batch:
                    response = await hx.get(f"/v1/managed-runner/{rid}")
                    if response.status_code != 200:
                        raise RuntimeError(f"httpx got {response.status_code}")
                    ManagedRunnerP.model_validate_json(response.content)

            variants: dict[str, Batch] = {"sdk": sdk, "raw": raw, "httpx": hxp}
            warm = ids[: max(20, n // 10)]
            for batch in variants.values():
                await batch(warm)
            wall: dict[str, list[float]] = {k: [] for k in variants}
            cpu: dict[str, list[float]] = {k: [] for k in variants}
            names = list(variants)
            for _ in range(reps):
                spent = {k: [0.0, 0.0] for k in variants}
                for turn, start in enumerate(range(0, n, _SLICE)):
                    for name in names[turn % 3 :] + names[: turn % 3]:
                        w, c = await _timed(variants[name], ids[start : start + _SLICE])
                        spent[name][0] += w
                        spent[name][1] += c
                slices = math.ceil(n / _SLICE)
                for name, (w, c) in spent.items():
                    wall[name].append(w / slices)
                    cpu[name].append(c / slices)

    vs_raw = median(paired_ratios(wall["sdk"], wall["raw"]))
    vs_httpx = median(paired_ratios(wall["sdk"], wall["httpx"]))
    cpu_vs_raw = median(paired_ratios(cpu["sdk"], cpu["raw"]))
    cpu_vs_httpx = median(paired_ratios(cpu["sdk"], cpu["httpx"]))
    metrics = {f"{k}_wall_us": median(v) for k, v in wall.items()}
    metrics |= {f"{k}_cpu_us": median(v) for k, v in cpu.items()}
    metrics |= {
        "sdk_vs_raw": vs_raw,
        "sdk_vs_httpx": vs_httpx,
        "sdk_vs_raw_cpu": cpu_vs_raw,
        "sdk_vs_httpx_cpu": cpu_vs_httpx,
    }
    figures = [
        Figure(
            name="get(): SDK / raw aiohttp, wall time per request",
            value=vs_raw,
            unit="x",
            op="<=",
            goal=1.3,
            reps=reps,
            note=f"{metrics['sdk_wall_us']:.0f} µs vs {metrics['raw_wall_us']:.0f} µs",
        ),
        Figure(
            name="get(): SDK / httpx + pydantic, wall time per request",
            value=vs_httpx,
            unit="x",
            op="<",
            goal=1.0,
            reps=reps,
            note=f"{metrics['sdk_wall_us']:.0f} µs vs {metrics['httpx_wall_us']:.0f} µs",
        ),
    ]
    details = [
        f"{n:,} sequential `GET /v1/managed-runner/{{id}}` per client and repetition, "
        f"{reps} repetitions, server latency 0, fake server in a child process.",
        "",
        "| client | wall µs/request | client CPU µs/request |",
        "|---|---:|---:|",
        f"| SDK `cc.managed_runners.get(id)` | {metrics['sdk_wall_us']:.0f} "
        f"| {metrics['sdk_cpu_us']:.0f} |",
        f"| raw aiohttp + `json.loads` | {metrics['raw_wall_us']:.0f} "
        f"| {metrics['raw_cpu_us']:.0f} |",
        f"| httpx + pydantic v2 `model_validate_json` | {metrics['httpx_wall_us']:.0f} "
        f"| {metrics['httpx_cpu_us']:.0f} |",
        "",
        f"Ratios (median of run-by-run ratios): wall SDK/raw {fmt(vs_raw, 'x')}, "
        f"SDK/httpx+pydantic {fmt(vs_httpx, 'x')}; client CPU SDK/raw {fmt(cpu_vs_raw, 'x')}, "
        f"SDK/httpx+pydantic {fmt(cpu_vs_httpx, 'x')}. Wall time is the judged figure; it "
        "includes the server's time, the same for all three. The CPU ratio is the client's own "
        "overhead alone, and is the stricter reading.",
    ]
    return BenchResult(
        key="get",
        title="1. get() per request",
        figures=figures,
        details=details,
        metrics=metrics,
    )

"""Figure 2: walking a 10,000-item list at 20 ms server latency, with and without prefetch.

The fake server (child process) holds ``walk_items`` managed runners and answers the list route
``GET /v1/managed-runner`` after a fixed latency; ``per_page=100`` makes it 100 pages. Pacing is
off (``rate_limit=None``): with the default 40 requests / 10 s any 100-page walk takes 25 s and
the figure would measure the limiter, not the paginator. Walks, each consuming every item:

* **SDK default**: ``cc.managed_runners.list(per_page=100)`` (the paginator's default prefetch);
* **sequential**: the same with ``prefetch=0`` (one page after another);
* **latency limit**: what no client can beat with this server, measured with raw aiohttp on a
  warm pool: fetch page 1 (its ``total`` is needed to know the page count), then every other
  page at once with ``asyncio.gather``, each body parsed with ``json.loads``. That is two round
  trips (about 2 x the latency) plus transfer and JSON parsing; it does not include decoding
  into models, which is the SDK's own work;
* **SDK prefetch=k** for several ``k``, to find which prefetch meets the goal.

All walks of one repetition run back to back (their order rotates); each figure is the median
of run-by-run ratios.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable

import aiohttp

from comfycontrol_async import ComfyControl
from comfycontrol_async._pagination import DEFAULT_PREFETCH

from ._common import BenchResult, Figure, Sizes, fmt, median, paired_ratios
from ._server import ServerProcess

__all__ = ["run"]

_ROUTE = "GET /v1/managed-runner"
_PER_PAGE = 100
_POOL = 100

Walk = Callable[[], Awaitable[int]]


def _waves(times: list[float], latency: float) -> int:
    """How many rounds of requests a walk sent, from the server's arrival times.

    Requests sent together arrive together; a gap of more than half the latency between two
    arrivals means the later one waited for an answer: a new round.
    """
    ordered = sorted(times)
    return 1 + sum(1 for a, b in itertools.pairwise(ordered) if b - a > latency / 2)


async def run(sizes: Sizes) -> BenchResult:
    items = sizes.walk_items
    latency = sizes.walk_latency
    reps = sizes.walk_reps
    pages = math.ceil(items / _PER_PAGE)
    sweep = sorted({k for k in sizes.walk_prefetch if k != DEFAULT_PREFETCH})
    async with ServerProcess("fake", managed=items, max_recorded=max(1000, 2 * pages)) as server:
        await server.call("set_latency", fixed=latency, route=_ROUTE)
        base = server.url
        headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=_POOL, limit_per_host=_POOL)
        async with (
            ComfyControl(server.token, base_url=base, rate_limit=None) as cc,
            aiohttp.ClientSession(connector=connector, headers=headers, trust_env=False) as raw,
        ):

            def sdk(prefetch: int | None) -> Walk:
                async def walk() -> int:
                    if prefetch is None:
                        paginator = cc.managed_runners.list(per_page=_PER_PAGE)
                    else:
                        paginator = cc.managed_runners.list(per_page=_PER_PAGE, prefetch=prefetch)
                    count = 0
                    async with paginator:
                        async for _ in paginator:
                            count += 1
                    return count

                return walk

            async def fetch(page: int) -> dict[str, object]:
                url = f"{base}/v1/managed-runner?page={page}&per_page={_PER_PAGE}"
                async with raw.get(url) as response:
                    if response.status != 200:
                        raise RuntimeError(f"raw aiohttp got {response.status}")
                    data = json.loads(await response.read())
                    assert isinstance(data, dict)
                    return data

            async def limit() -> int:
                first = await fetch(1)
                total = first["total"]
                assert isinstance(total, int)
                rest = await asyncio.gather(
                    *(fetch(p) for p in range(2, math.ceil(total / _PER_PAGE) + 1))
                )
                counts = [page["runners"] for page in [first, *rest]]
                return sum(len(c) for c in counts if isinstance(c, list))

            walks: dict[str, Walk] = {
                "default": sdk(None),
                "sequential": sdk(0),
                "limit": limit,
            }
            for k in sweep:
                walks[f"prefetch={k}"] = sdk(k)
            # Warm both pools to their full width, then check that every walk sees every item.
            await sdk(max(1, pages - 1))()
            await limit()
            for name, walk in walks.items():
                got = await walk()
                if got != items:
                    raise RuntimeError(f"walk {name!r} saw {got} items, expected {items}")
            times: dict[str, list[float]] = {k: [] for k in walks}
            names = list(walks)
            for rep in range(reps):
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    started = time.perf_counter()
                    await walks[name]()
                    times[name].append(time.perf_counter() - started)
            # One more walk each, to count its rounds of requests from the server's log.
            waves: dict[str, int] = {}
            metrics_rounds: dict[str, float] = {}
            for name, walk in walks.items():
                await server.call("clear_requests")
                await walk()
                arrivals = await server.call("arrivals")
                waves[name] = _waves([float(t) for t in arrivals["times"]], latency)
                metrics_rounds[f"{name}_rounds"] = float(waves[name])

    speedup = median(paired_ratios(times["sequential"], times["default"]))
    vs_limit = median(paired_ratios(times["default"], times["limit"]))
    metrics = {f"{k}_ms": median(v) * 1e3 for k, v in times.items()}
    metrics |= {"speedup_vs_sequential": speedup, "default_vs_limit": vs_limit}
    metrics |= metrics_rounds
    sweep_rows: list[tuple[int, float, float]] = [
        (
            DEFAULT_PREFETCH,
            median(paired_ratios(times["default"], times["limit"])),
            speedup,
        )
    ]
    for k in sweep:
        name = f"prefetch={k}"
        ratio = median(paired_ratios(times[name], times["limit"]))
        metrics[f"prefetch_{k}_vs_limit"] = ratio
        sweep_rows.append((k, ratio, median(paired_ratios(times["sequential"], times[name]))))
    sweep_rows.sort()
    meeting = [k for k, ratio, speed in sweep_rows if ratio <= 1.5 and speed >= 8.0]
    recommended = float(meeting[0]) if meeting else math.nan
    metrics["recommended_prefetch"] = recommended
    figures = [
        Figure(
            name=f"walk {items:,} items @ {latency * 1e3:.0f} ms: sequential / SDK (speed-up)",
            value=speedup,
            unit="x",
            op=">=",
            goal=8.0,
            reps=reps,
            note=f"{metrics['sequential_ms']:.0f} ms vs {metrics['default_ms']:.0f} ms "
            f"(default prefetch={DEFAULT_PREFETCH})",
        ),
        Figure(
            name=f"walk {items:,} items @ {latency * 1e3:.0f} ms: SDK / latency limit",
            value=vs_limit,
            unit="x",
            op="<=",
            goal=1.5,
            reps=reps,
            note=f"{metrics['default_ms']:.0f} ms vs {metrics['limit_ms']:.0f} ms "
            f"(default prefetch={DEFAULT_PREFETCH})",
        ),
    ]
    details = [
        f"{items:,} managed runners, `per_page=100` ({pages} pages), {latency * 1e3:.0f} ms "
        f"latency on `{_ROUTE}`, pacing off, {reps} repetitions, fake server in a child "
        "process. The consumer only counts items.",
        "",
        "**Latency limit**, defined: on a warm pool, raw aiohttp fetches page 1, then all "
        f"{pages - 1} remaining pages at once (`asyncio.gather`), each body parsed by "
        "`json.loads`; the limit is that wall time. It is two round trips plus transfer and "
        "JSON parsing, and nothing else (no model decoding), so no client can walk faster.",
        "",
        "| walk | rounds of requests | median ms | / limit | speed-up over sequential |",
        "|---|---:|---:|---:|---:|",
        f"| latency limit (raw aiohttp, page 1 then gather) | {waves['limit']} "
        f"| {metrics['limit_ms']:.0f} | 1.00x | |",
        f"| SDK sequential (`prefetch=0`) | {waves['sequential']} "
        f"| {metrics['sequential_ms']:.0f} "
        f"| {fmt(median(paired_ratios(times['sequential'], times['limit'])), 'x')} | 1.00x |",
    ]
    for k, ratio, speed in sweep_rows:
        name = "default" if k == DEFAULT_PREFETCH else f"prefetch={k}"
        label = f"SDK `prefetch={k}`" + (" (default)" if k == DEFAULT_PREFETCH else "")
        details.append(
            f"| {label} | {waves[name]} | {metrics[f'{name}_ms']:.0f} "
            f"| {fmt(ratio, 'x')} | {fmt(speed, 'x')} |"
        )
    details += [
        "",
        "Rounds of requests, counted from the server's arrival log in one extra walk of each "
        "kind: requests that arrive together were sent together; a gap of more than half the "
        "latency starts a new round. Each round costs at least one latency, so a walk takes "
        "about (rounds x latency) plus the server's and the client's CPU time per page; the "
        "limit needs two rounds (page 1, then everything else).",
        "",
    ]
    if meeting:
        details.append(
            "Smallest prefetch in this sweep that meets both goals (>= 8x sequential, <= 1.5x "
            f"the limit): **{meeting[0]}** "
            f"(default is {DEFAULT_PREFETCH}, `DEFAULT_PREFETCH` in "
            "`comfycontrol_async/_pagination.py`)."
        )
    else:
        details.append("No prefetch in this sweep meets both goals.")
    details += [
        "",
        "What a larger prefetch costs: up to `prefetch + 1` pages held in memory (about 1 MB "
        "per 10 pages of 100 runners), and up to `prefetch` requests wasted when the consumer "
        "stops early. With the default pacing (40 requests per 10 s) a walk of more than 40 "
        "pages is bound by the pacer whatever the prefetch, and a prefetch above the pacer's "
        "40 only queues at the client-wide limiter, ahead of the client's other requests.",
    ]
    return BenchResult(
        key="walk",
        title="2. Walking a list at server latency",
        figures=figures,
        details=details,
        metrics=metrics,
    )

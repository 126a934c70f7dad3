"""Figure 4: a paced sweep against the rate-limit emulation: no 429, and close to the allowed rate.

The fake server (child process) emulates the CDN's limit: per client address, 40 requests per
sliding 10 s window, then 429 to everything for a 10 s cooldown. To span many windows in a
reasonable time both sides are scaled by the same factor ``s`` (``paced_scale``): the server
with ``enable_rate_limit(40, 10, 10, scale=s)`` and the client with the default ``RateLimit``
semantics scaled alike, ``RateLimit(requests=40, per_seconds=10 s, cooldown=10 s, jitter=1 s)``
with every duration multiplied by ``s``. The sweep is ``stats_many`` over ``paced_requests``
distinct runners with default settings otherwise (concurrency 32), a fresh client and a fresh
server-side limiter in each repetition.

Throughput. ``N`` requests at 40 per window ``W`` take at least ``(ceil(N / 40) - 1) x W``: the
first 40 go at once, every later batch of 40 one window after the one before. The figure is
that minimum divided by the measured wall time of the sweep (1.0 = as fast as the limit allows).
Equivalently it is the steady-state rate (the requests after the first window's 40, per second)
normalised to the allowed 40 per window. It is also reported per window from the server's own
arrival log: requests after the first 40 divided by the windows between the first and last
arrival, against the allowed 40, and the largest number of arrivals seen in any window ``W``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from comfycontrol_async import ComfyControl, RateLimit, _ratelimit

from ._common import BenchResult, Figure, Sizes, fmt, median
from ._server import ServerProcess

__all__ = ["run", "window_stats"]

_REQUESTS = 40
_PER_SECONDS = 10.0
_COOLDOWN = 10.0
_JITTER = 1.0  # the RateLimit default, scaled like the rest


def window_stats(times: Sequence[float], window: float, allowed: int) -> tuple[int, float]:
    """Return (the most arrivals in any window, the smallest headroom in seconds).

    The headroom is ``t[i + allowed] - t[i] - window`` minimised over ``i``: how much later than
    needed the ``allowed``-th next request arrived. Negative means some window held too many.
    """
    ordered = sorted(times)
    most = 0
    start = 0
    for end, t in enumerate(ordered):
        # The server's window for an arrival at t holds the arrivals in (t - window, t].
        while ordered[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    gaps = [ordered[i + allowed] - ordered[i] - window for i in range(len(ordered) - allowed)]
    return most, (min(gaps) if gaps else math.inf)


def _margin_note(window: float) -> str:
    """`` (client margin: N ms)`` from the pacer's window margin, if the SDK has one."""
    margin = getattr(_ratelimit, "_WINDOW_MARGIN", None)
    if not isinstance(margin, int | float):
        return ""
    return f" (client margin: {window * margin * 1e3:.0f} ms)"


async def _sweeps(
    server: ServerProcess, scale: float, n: int, reps: int
) -> tuple[list[Figure], list[str], dict[str, float]]:
    window = _PER_SECONDS * scale
    minimum = (math.ceil(n / _REQUESTS) - 1) * window
    rate = RateLimit(
        requests=_REQUESTS,
        per_seconds=_PER_SECONDS * scale,
        cooldown=_COOLDOWN * scale,
        jitter=_JITTER * scale,
    )
    elapsed: list[float] = []
    throughput: list[float] = []
    per_window: list[float] = []
    most_seen: list[int] = []
    headroom: list[float] = []
    rejected: list[int] = []
    failed: list[int] = []
    ids = server.ids[:n]
    if len(ids) != n:
        raise RuntimeError(f"the fake has {len(ids)} visible runners, expected {n}")
    for _ in range(reps):
        await server.call("clear")
        await server.call(
            "enable_rate_limit",
            requests=_REQUESTS,
            per_seconds=_PER_SECONDS,
            cooldown=_COOLDOWN,
            scale=scale,
        )
        ok = bad = 0
        async with ComfyControl(server.token, base_url=server.url, rate_limit=rate) as cc:
            started = time.perf_counter()
            async with cc.managed_runners.stats_many(ids) as sweep:
                async for result in sweep:
                    if result.ok:
                        ok += 1
                    else:
                        bad += 1
            took = time.perf_counter() - started
        counters = await server.call("counters")
        arrivals = await server.call("arrivals")
        await server.call("disable_rate_limit")
        times = [float(t) for t in arrivals["times"]]
        most, room = window_stats(times, window, _REQUESTS)
        span = (max(times) - min(times)) / window if len(times) > 1 else math.nan
        elapsed.append(took)
        throughput.append(minimum / took if took > 0 else math.nan)
        per_window.append((len(times) - _REQUESTS) / span if span > 0 else math.nan)
        most_seen.append(most)
        headroom.append(room)
        rejected.append(int(counters["rate_limited"]))
        failed.append(bad)
        if ok + bad != n:
            raise RuntimeError(f"paced sweep: {ok + bad} results for {n} runners")

    total_429 = float(sum(rejected))
    ratio = median(throughput)
    tag = f"s{scale:g}"
    metrics = {
        f"{tag}_requests": float(n),
        f"{tag}_window_s": window,
        f"{tag}_elapsed_s": median(elapsed),
        f"{tag}_minimum_s": minimum,
        f"{tag}_throughput_vs_allowed": ratio,
        f"{tag}_per_window": median(per_window),
        f"{tag}_most_in_window": float(max(most_seen)),
        f"{tag}_min_headroom_ms": min(headroom) * 1e3,
        f"{tag}_rate_limited": total_429,
        f"{tag}_failed_results": float(sum(failed)),
    }
    where = f"W = {window:g} s (scale {scale:g})"
    figures = [
        Figure(
            name=f"paced sweep, {n} requests, {where}: 429s seen",
            value=total_429,
            unit="count",
            op="==",
            goal=0.0,
            reps=reps,
            note=f"{reps} run(s) x {n} requests; per run: {', '.join(map(str, rejected))}",
        ),
        Figure(
            name=f"paced sweep, {n} requests, {where}: throughput / allowed",
            value=ratio,
            unit="x",
            op=">=",
            goal=0.9,
            reps=reps,
            note=f"{median(per_window):.1f} req/window after the first 40 (allowed 40)",
        ),
    ]
    details = [
        f"**Scale {scale:g}**: window W = {window:g} s, cooldown {_COOLDOWN * scale:g} s, "
        f"429-pause jitter up to {_JITTER * scale:g} s, on both sides; {n} distinct runners "
        f"per sweep, {reps} run(s).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| minimum time, (ceil({n}/40) - 1) x W | {minimum:.2f} s |",
        f"| measured sweep time (median) | {median(elapsed):.2f} s |",
        f"| throughput / allowed = minimum / measured (median) | {fmt(ratio, 'x')} |",
        f"| requests per window after the first 40, server arrivals (median; allowed 40) "
        f"| {median(per_window):.2f} |",
        f"| most arrivals in any window W, all runs (allowed 40) | {max(most_seen)} |",
        f"| smallest headroom t[i+40] - t[i] - W, all runs{_margin_note(window)} "
        f"| {min(headroom) * 1e3:.1f} ms |",
        f"| 429s seen by the server, per run | {', '.join(map(str, rejected))} |",
        f"| results that were errors, all runs | {sum(failed)} |",
        "",
    ]
    return figures, details, metrics


async def run(sizes: Sizes) -> BenchResult:
    largest = max(n for _, n, _ in sizes.paced_runs)
    figures: list[Figure] = []
    details = [
        "Each run: a fresh client with the scaled default `RateLimit`, a fresh server-side "
        "limiter, `stats_many` over distinct runners with default concurrency (32). Long "
        "benchmark: few runs per scale.",
        "",
    ]
    metrics: dict[str, float] = {}
    async with ServerProcess("fake", managed=largest, max_recorded=2 * largest) as server:
        for scale, n, reps in sizes.paced_runs:
            f, d, m = await _sweeps(server, scale, n, reps)
            figures += f
            details += d
            metrics |= m
    metrics["rate_limited"] = sum(v for k, v in metrics.items() if k.endswith("_rate_limited"))
    details += [
        "Headroom, from the server's arrival log: how much later than strictly necessary the "
        "41st request after any request arrived (`t[i+40] - t[i] - W`, minimised over `i`). "
        "Negative means some window held 41 and the server answered 429. It is what is left "
        "of the client's safety margin after dispatch delays (connection set-up of a cold "
        "pool, the first window's burst queueing in the server).",
    ]
    return BenchResult(
        key="paced",
        title="4. Paced sweep against the rate-limit emulation",
        figures=figures,
        details=details,
        metrics=metrics,
    )

"""The child process of the memory benchmark: walk a long list and report this process's peak RSS.

Run as ``python -m benchmarks._walker URL TOKEN ITEMS``; prints one JSON line. The walk is
``cc.managed_runners.list(per_page=100)`` with the default prefetch and pacing off, consuming
every item (counted, then dropped). Peak RSS growth is the process's peak resident set during
the walk minus its resident set just before it (after imports, client creation and a full
``gc.collect()``). On Linux the peak is reset right before the walk (``5`` written to
``/proc/self/clear_refs``), so that an import-time peak cannot hide the walk's; where that is not
possible the peak before the walk is used as the base instead, and the output says which.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import time
from collections.abc import Sequence

__all__ = ["main", "read_status_kib"]

_STATUS = "/proc/self/status"


def read_status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM``-style field of ``/proc/self/status`` in KiB, or ``None``."""
    try:
        with open(_STATUS, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def _maxrss_kib() -> int:
    # ru_maxrss is in KiB on Linux (bytes on macOS, which this benchmark does not target).
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def _walk(url: str, token: str, items: int) -> dict[str, object]:
    from comfycontrol_async import ComfyControl
    from comfycontrol_async._pagination import DEFAULT_PREFETCH

    async with ComfyControl(token, base_url=url, rate_limit=None) as cc:
        # Warm up: one page, so that the session, the pool and every code path exist already.
        await cc.managed_runners.list_page(page=1, per_page=100)
        gc.collect()
        rss_before = read_status_kib("VmRSS")
        hwm_before = read_status_kib("VmHWM")
        maxrss_before = _maxrss_kib()
        reset = _reset_peak()
        count = 0
        started = time.perf_counter()
        async with cc.managed_runners.list(per_page=100) as walk:
            async for _ in walk:
                count += 1
        elapsed = time.perf_counter() - started
        hwm_after = read_status_kib("VmHWM")
        rss_after = read_status_kib("VmRSS")
        maxrss_after = _maxrss_kib()
        duplicates = walk.duplicates_dropped
    if rss_before is not None and hwm_after is not None:
        base = rss_before if reset else max(rss_before, hwm_before or 0)
        growth = hwm_after - base
        method = "VmHWM after - VmRSS before (peak reset)" if reset else "VmHWM after - before"
    else:
        growth = maxrss_after - maxrss_before
        method = "ru_maxrss after - before"
    return {
        "items": count,
        "expected": items,
        "duplicates_dropped": duplicates,
        "seconds": elapsed,
        "growth_kib": growth,
        "method": method,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "hwm_after_kib": hwm_after,
        "maxrss_after_kib": maxrss_after,
        "prefetch": DEFAULT_PREFETCH,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        raise SystemExit("usage: python -m benchmarks._walker URL TOKEN ITEMS")
    url, token, items = args[0], args[1], int(args[2])
    print(json.dumps(asyncio.run(_walk(url, token, items))), flush=True)


if __name__ == "__main__":
    main()

"""Figure 5: peak RSS growth of a process walking 1,000,000 items.

Two child processes: a synthetic list server (``benchmarks._server``, kind ``synthetic``) that
generates pages of managed runners on the fly in the API's wire format, and a walker
(``benchmarks._walker``) that walks the whole list with the SDK's default settings and measures
its own peak RSS growth. The fake server is not used here: it holds every runner as a Python
object, which for a million runners costs over a gigabyte and minutes to build, and it must not
share a process with the walker anyway. One run (it is long); the walker's output says how the
peak was read.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from ._common import BenchResult, Figure, Sizes
from ._server import ServerProcess, _child_env

__all__ = ["run"]

_BYTES_PER_KIB = 1024
_BYTES_PER_MB = 1_000_000  # MB = 10^6 bytes: the strict reading of the goal's "64 MB"


async def _walker(url: str, token: str, items: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks._walker",
        url,
        token,
        str(items),
        stdout=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    try:
        out, _ = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"the walker failed with exit code {process.returncode}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    if not isinstance(data, dict):
        raise RuntimeError(f"the walker said {out[:200]!r}")
    return data


async def run(sizes: Sizes) -> BenchResult:
    items = sizes.memory_items
    async with ServerProcess("synthetic", managed=items) as server:
        data = await _walker(server.url, server.token, items)
    if data["items"] != items:
        raise RuntimeError(f"the walker saw {data['items']} items, expected {items}")
    growth = float(data["growth_kib"]) * _BYTES_PER_KIB / _BYTES_PER_MB
    seconds = float(data["seconds"])
    metrics = {
        "growth_mb": growth,
        "seconds": seconds,
        "items_per_second": items / seconds if seconds > 0 else 0.0,
        "rss_before_mb": float(data["rss_before_kib"] or 0) * _BYTES_PER_KIB / _BYTES_PER_MB,
        "rss_after_mb": float(data["rss_after_kib"] or 0) * _BYTES_PER_KIB / _BYTES_PER_MB,
        "duplicates_dropped": float(data["duplicates_dropped"]),
    }
    figures = [
        Figure(
            name=f"walk {items:,} items: peak RSS growth of the walking process",
            value=growth,
            unit="MB",
            op="<=",
            goal=64.0,
            reps=1,
            note=f"{seconds:.1f} s, {metrics['items_per_second']:,.0f} items/s",
        )
    ]
    details = [
        f"{items:,} managed runners, `per_page=100` ({-(-items // 100):,} pages), default "
        f"prefetch ({data['prefetch']}), pacing off, one run (long benchmark). The server is a "
        "synthetic list server in its own process (pages generated on the fly, same wire "
        "format and fields as `GET /v1/managed-runner`), because the fake would need over a "
        "gigabyte to hold a million runners; the walker is a third process that measures itself.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| RSS before the walk (after imports, client, one page, `gc.collect()`) "
        f"| {metrics['rss_before_mb']:.1f} MB |",
        f"| peak RSS growth during the walk ({data['method']}) | {growth:.1f} MB |",
        f"| RSS after the walk | {metrics['rss_after_mb']:.1f} MB |",
        f"| items walked / duplicates dropped | {data['items']:,} / {data['duplicates_dropped']} |",
        f"| wall time | {seconds:.1f} s ({metrics['items_per_second']:,.0f} items/s) |",
        "",
        "MB = 10^6 bytes (the strict reading of the goal; 64 MB = 61.0 MiB).",
    ]
    return BenchResult(
        key="memory",
        title="5. Memory of a 1,000,000-item walk",
        figures=figures,
        details=details,
        metrics=metrics,
    )

"""Read the live stats of every runner you can use, with a progress line, then rank them.

    COMFYCONTROL_API_TOKEN=cfc_... python examples/bulk_sweep.py [--concurrency 32] [--top 10]

Managed runners need a Pro or Plus account: on a free account the sweep reads your own runners
only. Every runner gets one result, failures included: a runner that is down is reported, it does
not end the sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from comfycontrol_async import (
    ComfyControl,
    PermissionDeniedError,
    StatsResult,
    SweepProgress,
)


def show_progress(counts: SweepProgress, result: StatsResult) -> None:
    total = counts.total if counts.total is not None else "?"
    print(f"\r{counts.done}/{total} read, {counts.failed} failed", end="", file=sys.stderr)


async def sweep(cc: ComfyControl, concurrency: int) -> list[StatsResult]:
    results = [
        res
        async for res in cc.runners.stats_many(
            cc.runners.list(status="active"), concurrency=concurrency, progress=show_progress
        )
    ]
    try:
        async for res in cc.managed_runners.stats_many(
            cc.managed_runners.list(), concurrency=concurrency, progress=show_progress
        ):
            results.append(res)
    except PermissionDeniedError:
        print("\nmanaged runners need a Pro or Plus account: skipped", file=sys.stderr)
    print(file=sys.stderr)
    return results


def best_free_vram(result: StatsResult) -> int:
    if result.stats is None:
        return -1
    return max((d.vram_free or 0 for d in result.stats.devices if d.type != "cpu"), default=0)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    async with ComfyControl() as cc:
        results = await sweep(cc, args.concurrency)
    ok = sorted((r for r in results if r.ok), key=best_free_vram, reverse=True)
    print(f"{len(results)} runners: {len(ok)} answered, {len(results) - len(ok)} failed")
    for res in ok[: args.top]:
        print(f"{res.runner_id}\t{best_free_vram(res) / 2**30:.1f} GiB free")
    for res in results:
        if not res.ok:
            print(f"{res.runner_id}\tfailed: {res.error}")
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

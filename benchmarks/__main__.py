"""``python -m benchmarks [--quick] [--only NAME ...] [--output PATH]``: run the benchmarks and
write ``benchmarks/RESULTS.md``.

Every benchmark talks to a server in a child process over loopback (see ``benchmarks._server``);
nothing goes to the network. ``--quick`` uses tiny sizes and finishes in well under a minute;
the default, full sizes take a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from . import (
    bench_coldstart,
    bench_decode,
    bench_fanout,
    bench_find,
    bench_get,
    bench_memory,
    bench_paced,
    bench_walk,
    bench_workers,
)
from ._common import FULL, QUICK, BenchResult, Sizes
from ._report import LoadMeter, command_line, render, sdk_fingerprint, write

__all__ = ["BENCHMARKS", "main", "run_all"]

Benchmark = Callable[[Sizes], Awaitable[BenchResult]]

#: Every benchmark, in the order of the figures in the issue.
BENCHMARKS: dict[str, Benchmark] = {
    "get": bench_get.run,
    "walk": bench_walk.run,
    "fanout": bench_fanout.run,
    "paced": bench_paced.run,
    "memory": bench_memory.run,
    "decode": bench_decode.run,
    "coldstart": bench_coldstart.run,
    "find": bench_find.run,
    "workers": bench_workers.run,
}

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"


async def run_all(
    sizes: Sizes,
    names: Sequence[str] | None = None,
    *,
    echo: Callable[[str], object] | None = None,
) -> list[BenchResult]:
    """Run the named benchmarks (all by default) one after another; return their results."""
    results: list[BenchResult] = []
    for name in names or list(BENCHMARKS):
        if echo is not None:
            echo(f"-- {name} ...")
        started = time.perf_counter()
        load = LoadMeter()
        result = await BENCHMARKS[name](sizes)
        result.seconds = time.perf_counter() - started
        result.other_load = load.other_share()
        results.append(result)
        if echo is not None:
            for figure in result.figures:
                shown = f"{figure.shown()} ({figure.goal_shown()})"
                echo(f"   {figure.verdict}  {figure.name}: {shown}")
            other = "" if result.other_load is None else f", other load {result.other_load:.0%}"
            echo(f"   ({result.seconds:.1f} s{other})")
    return results


def main(argv: Sequence[str] | None = None, *, sizes: Sizes | None = None) -> int:
    """The command line. ``sizes`` overrides ``--quick`` and the full sizes (for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the comfycontrol_async benchmarks and write RESULTS.md.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: seconds, not minutes")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the results (default: benchmarks/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    if sizes is None:
        sizes = QUICK if args.quick else FULL
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    load = LoadMeter()
    before = sdk_fingerprint()
    results = asyncio.run(run_all(sizes, args.only, echo=print))
    seconds = time.perf_counter() - started
    other = load.other_share()
    after = sdk_fingerprint()
    if after != before:
        print("warning: the SDK's sources changed during the run (see RESULTS.md)")
    text = render(
        results,
        sizes=sizes,
        command=command_line(argv),
        started=started_at,
        seconds=seconds,
        other_load=other,
        sources=(before, after),
    )
    write(args.output, text)
    missed = sum(not f.passed for r in results for f in r.figures)
    if other is not None:
        print(f"other processes used {other:.0%} of the machine's CPU during the run")
    print(f"wrote {args.output} ({missed} figure(s) missed their goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

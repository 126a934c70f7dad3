"""``comfycontrol capacity``: who has room, right now.

Without ``--limit`` it sweeps every runner's live stats; with ``--limit N`` it asks
``find_runners`` for up to N fitting runners, for a fraction of a sweep's requests, helped by
a facts cache kept in a file between runs (``_find_view``). ``--format prometheus`` prints the
report in the Prometheus text format.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, positive_float, positive_int, size, tag_list

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["add_sweep_options", "add_which", "register", "which_runners"]


def which_runners(ctx: Ctx) -> tuple[bool, bool]:
    """``(managed, own)`` from ``--managed/--runners/--all`` (managed when none is given)."""
    args = ctx.args
    own = bool(args.runners or args.all)
    managed = bool(args.managed or args.all or not own)
    ctx.managed_scope = managed
    return managed, own


async def capacity(ctx: Ctx) -> int:
    from ._context import EXIT_API, EXIT_OK

    args = ctx.args
    if args.limit is None and (args.facts_cache or args.no_facts_cache):
        from ._context import usage_error

        usage_error("--facts-cache and --no-facts-cache go with --limit (a sweep needs no cache)")
    if args.format == "prometheus":
        from ._find_view import need_prometheus

        need_prometheus(ctx)
    if args.limit is not None:
        from ._find_view import find

        return await find(ctx)
    from ._capacity_view import Selection, print_report, run_sweep

    managed, own = which_runners(ctx)
    selection = Selection(min_vram=args.min_vram, tags=args.tags, top=args.top)
    async with ctx.client() as cc:
        report = await run_sweep(
            ctx,
            cc,
            managed=managed,
            own=own,
            tags=args.tags,
            concurrency=args.concurrency,
            timeout=args.timeout_per_runner,
            deadline=args.deadline,
        )
    if args.format == "prometheus":
        from ._find_view import print_prometheus

        print_prometheus(report)
    else:
        print_report(ctx, report, selection)
    return EXIT_API if report.failures else EXIT_OK


def add_which(p: argparse.ArgumentParser) -> None:
    """``--managed``, ``--runners``, ``--all``."""
    which = p.add_argument_group("which runners (default: --managed)")
    which.add_argument("--managed", action="store_true", help="managed runners (Pro/Plus)")
    which.add_argument("--runners", action="store_true", help="your own runners")
    which.add_argument("--all", action="store_true", help="both")


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    """``--concurrency``, ``--timeout-per-runner``, ``--deadline``."""
    p.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="stats calls in flight at once (default: the SDK's, 32; 8 with --limit)",
    )
    p.add_argument(
        "--timeout-per-runner",
        type=positive_float,
        metavar="S",
        help="seconds for each attempt at a runner's stats (default: --timeout); a runner "
        "that fails is asked once more at the end, not at once",
    )
    p.add_argument(
        "--deadline",
        type=positive_float,
        metavar="S",
        help="seconds for the whole sweep, listing included",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "capacity",
        capacity,
        help="who has free VRAM now (a sweep, or --limit N for a quick answer)",
        description=(
            "List runners and read their live stats concurrently, then print them by free VRAM "
            "on one GPU (most first), the runners that could not be read with their reasons, "
            "and per-GPU-model totals. With --limit N, stop once N runners that fit are found, "
            "asking the most promising first and ruling out without a request the runners "
            "whose total VRAM is known (from earlier runs, kept in a facts cache file) to be "
            "too small. Exit status: 0 when every runner answered (with --limit: when N were "
            "found or every runner that could fit was read), 1 when some could not be read, "
            "2 for usage, authentication or tier errors."
        ),
    )
    add_which(p)
    p.add_argument(
        "--tags", type=tag_list, default=[], metavar="A,B", help="only runners with all these tags"
    )
    p.add_argument(
        "--min-vram",
        type=size,
        metavar="SIZE",
        help="only runners with this much free on one GPU: 40GB (10^9 bytes) or 24GiB (2^30); "
        "figures are then shown in the unit you typed",
    )
    p.add_argument("--top", type=positive_int, metavar="N", help="show only the first N runners")
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="find up to N runners that fit, for a fraction of a sweep's requests "
        "(without it: the full sweep)",
    )
    p.add_argument(
        "--facts-cache",
        metavar="PATH",
        help="with --limit: the file of runners' static facts kept between runs (default: "
        "$XDG_CACHE_HOME/comfycontrol/facts.json, else ~/.cache/comfycontrol/facts.json)",
    )
    p.add_argument(
        "--no-facts-cache",
        action="store_true",
        help="with --limit: neither read nor write the facts cache file",
    )
    p.add_argument(
        "--format",
        choices=("prometheus",),
        help="prometheus: the Prometheus text format, DCGM-style names (needs "
        "'pip install comfycontrol-async[prometheus]'); default: a table, TSV when piped",
    )
    add_sweep_options(p)

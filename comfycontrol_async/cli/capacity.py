"""``comfycontrol capacity``: sweep the fleet's live stats and show who has room, right now."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, positive_float, positive_int, size, tag_list

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]


async def capacity(ctx: Ctx) -> int:
    from ._capacity_view import Selection, print_report, run_sweep
    from ._context import EXIT_API, EXIT_OK

    args = ctx.args
    own = bool(args.runners or args.all)
    managed = bool(args.managed or args.all or not own)
    ctx.managed_scope = managed
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
    print_report(ctx, report, selection)
    return EXIT_API if report.failures else EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "capacity",
        capacity,
        help="sweep live stats and show who has free VRAM now",
        description=(
            "List runners and read their live stats concurrently, then print them by free VRAM "
            "on one GPU (most first), the runners that could not be read with their reasons, "
            "and per-GPU-model totals. Exit status: 0 when every runner answered, 1 when some "
            "could not be read, 2 for usage, authentication or tier errors."
        ),
    )
    which = p.add_argument_group("which runners (default: --managed)")
    which.add_argument("--managed", action="store_true", help="managed runners (Pro/Plus)")
    which.add_argument("--runners", action="store_true", help="your own runners")
    which.add_argument("--all", action="store_true", help="both")
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
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="stats calls in flight at once (default: the SDK's, 32)",
    )
    p.add_argument(
        "--timeout-per-runner",
        type=positive_float,
        metavar="S",
        help="seconds for each runner's stats, retries included",
    )
    p.add_argument(
        "--deadline", type=positive_float, metavar="S", help="seconds for the whole sweep"
    )

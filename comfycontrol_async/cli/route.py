"""``comfycontrol route``: which tags send a job only to runners that fit now.

A workflow cannot be sent to a runner by id: ComfyControl runs it on a runner having all of its
tags, and an untagged runner takes any workflow. This sweeps the runners (every one: untagged
runners are eligible whatever the tags, so ``--tags`` is not a listing filter here) and prints
``report.route(...)``: the tag sets under which every eligible runner fits, most specific
first, with their runner counts; the share of eligible runners that fit; and the warnings.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, positive_int, size, tag_list
from .capacity import add_sweep_options, add_which

if TYPE_CHECKING:
    from ..capacity import CapacityReport, RouteAdvice
    from ._context import Ctx

__all__ = ["register", "route_data"]


def route_data(report: CapacityReport, advice: RouteAdvice) -> dict[str, Any]:
    """The JSON shape: ``advice.to_dict()`` (``tags``, ``min_vram_free``, ``eligible`` and
    ``fitting`` as runner ids, ``share``, ``untagged``, ``tag_sets`` as ``{"tags", "runners"}``,
    ``warnings``) plus ``summary``, the sweep's summary."""
    return {**advice.to_dict(), "summary": report.summary()}


async def route(ctx: Ctx) -> int:
    from ._capacity_view import run_sweep
    from ._context import EXIT_API, EXIT_OK, Column
    from ._find_view import aside, warn
    from .capacity import which_runners

    args = ctx.args
    managed, own = which_runners(ctx)
    async with ctx.client() as cc:
        report = await run_sweep(
            ctx,
            cc,
            managed=managed,
            own=own,
            concurrency=args.concurrency,
            timeout=args.timeout_per_runner,
            deadline=args.deadline,
        )
    advice = report.route(tags=args.tags, min_vram_free=args.min_vram.bytes)
    code = EXIT_API if report.failures or not report.complete else EXIT_OK
    if ctx.json:
        ctx.print_json(route_data(report, advice))
        return code
    asked = f"tags {', '.join(advice.tags)}" if advice.tags else "no tags"
    summary = (
        f"A workflow with {asked} may run on {len(advice.eligible)} of the {len(report)} "
        f"runners ({advice.untagged} of them untagged); {len(advice.fitting)} have "
        f"{args.min_vram.text} free on one GPU now ({advice.share:.0%})."
    )
    if report.failures:
        summary += f" {len(report.failures)} could not be read and count as not fitting."
    options = advice.tag_sets[: args.top]
    rows = [
        [",".join(o.tags) or "-", str(o.runners), f"{o.runners}/{len(advice.fitting)}"]
        for o in options
    ]
    cols = (
        Column("tags", essential=True),
        Column("runners", essential=True, right=True),
        Column("of fitting", right=True),
    )
    empty = "No tag set sends this job only to runners that fit now."
    if ctx.out.is_terminal:
        ctx.line(summary)
        title = "Tag sets that keep it on runners that fit, most specific first"
        if len(advice.tag_sets) > len(options):
            title += f" ({len(options)} of {len(advice.tag_sets)})"
        ctx.print_rows(cols, rows, title=title, empty=empty)
    else:
        ctx.print_rows(cols, rows, empty=empty)
        aside(ctx, summary)
    for text in advice.warnings:
        warn(text)
    return code


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "route",
        route,
        help="which tags send a job only to runners that fit now",
        description=(
            "Sweep the runners' live stats and say which tag sets would send a workflow only "
            "to runners with SIZE free on one GPU, most specific first, with how many runners "
            "each reaches. ComfyControl runs a workflow on a runner having all of its tags, and "
            "an untagged runner takes any workflow: untagged runners that do not fit make every "
            "tag set unsafe (a warning says so). TSV when piped; --json: the fields of "
            "report.route() plus the sweep's summary. Exit status: 0 when every runner answered, "
            "1 when some could not be read (they count as not fitting)."
        ),
    )
    p.add_argument(
        "--min-vram",
        type=size,
        required=True,
        metavar="SIZE",
        help="what the job needs free on one GPU: 40GB (10^9 bytes) or 24GiB (2^30)",
    )
    p.add_argument(
        "--tags",
        type=tag_list,
        default=[],
        metavar="A,B",
        help="the workflow's tags: every tag set shown holds them",
    )
    p.add_argument("--top", type=positive_int, metavar="N", help="show only the first N tag sets")
    add_which(p)
    add_sweep_options(p)

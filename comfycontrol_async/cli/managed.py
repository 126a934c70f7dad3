"""``comfycontrol managed ...``: managed runners (Pro and Plus tiers; 403 otherwise)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, group, positive_int

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]


async def list_(ctx: Ctx) -> int:
    from ._context import Column, tags_text

    ctx.managed_scope = True
    async with ctx.client() as cc:
        items = await cc.managed_runners.list(max_items=ctx.args.limit).collect()
    columns = (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("type", essential=True),
        Column("status"),
        Column("tags"),
    )
    return ctx.print_items(
        items,
        noun="managed runner",
        columns=columns,
        cells=lambda r: (r.name, r.id, r.runner_type, r.status, tags_text(r.tags)),
    )


async def get(ctx: Ctx) -> int:
    from ._context import plain
    from ._views import managed_rows

    ctx.managed_scope = True
    async with ctx.client() as cc:
        runner = await cc.managed_runners.get(ctx.args.id)
    return ctx.print_record(plain(runner), managed_rows(runner))


async def stats(ctx: Ctx) -> int:
    from ._views import print_stats

    ctx.managed_scope = True
    async with ctx.client() as cc:
        result = await cc.managed_runners.stats(ctx.args.id)
    return print_stats(ctx, ctx.args.id, result)


async def history(ctx: Ctx) -> int:
    from ._views import print_history

    ctx.managed_scope = True
    async with ctx.client() as cc:
        items = await cc.managed_runners.history(ctx.args.id)
    return print_history(ctx, items)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    managed = group(sub, "managed", help="managed runners (Pro and Plus tiers)")
    p = command(managed, common, "list", list_, help="list the managed runners open to you")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N runners")
    p = command(managed, common, "get", get, help="show one managed runner")
    p.add_argument("id", help="the managed runner id")
    p = command(managed, common, "stats", stats, help="live system stats of a managed runner")
    p.add_argument("id", help="the managed runner id")
    p = command(
        managed, common, "history", history, help="your last 10 workflows there, newest first"
    )
    p.add_argument("id", help="the managed runner id")

"""``comfycontrol runners ...``: your own runners (ComfyUI servers you registered).

Header values are secrets: ``--header K=V`` values are never printed, in any output form.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, group, key_values, positive_int, tag_list

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]


async def list_(ctx: Ctx) -> int:
    from ._context import Column, header_names, safe_url, tags_text

    args = ctx.args
    async with ctx.client() as cc:
        items = await cc.runners.list(status=args.status, max_items=args.limit).collect()
    columns = (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("status", essential=True),
        Column("tags"),
        Column("endpoint"),
        Column("headers"),
    )
    return ctx.print_items(
        items,
        noun="runner",
        columns=columns,
        cells=lambda r: (
            r.name,
            r.id,
            r.status,
            tags_text(r.tags),
            safe_url(r.endpoint),
            header_names(r.headers),
        ),
    )


async def get(ctx: Ctx) -> int:
    from ._context import plain
    from ._views import runner_rows

    async with ctx.client() as cc:
        runner = await cc.runners.get(ctx.args.id)
    return ctx.print_record(plain(runner), runner_rows(runner))


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("name", "endpoint", "tags", "status"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if args.header is not None:
        headers = key_values(args.header, "--header")
        changes["headers"] = headers
    return changes


async def create(ctx: Ctx) -> int:
    from ._context import plain
    from ._scrub import remember
    from ._views import runner_rows

    changes = _changes(ctx.args)
    remember(changes.get("headers", {}).values())
    async with ctx.client() as cc:
        runner = await cc.runners.create(**changes)
    return ctx.print_record(plain(runner), runner_rows(runner))


async def update(ctx: Ctx) -> int:
    from ._context import plain, usage_error
    from ._scrub import remember
    from ._views import runner_rows

    changes = _changes(ctx.args)
    if not changes:
        usage_error("nothing to change: give --name, --endpoint, --header, --tags or --status")
    remember(changes.get("headers", {}).values())
    async with ctx.client() as cc:
        runner = await cc.runners.update(ctx.args.id, **changes)
    return ctx.print_record(plain(runner), runner_rows(runner))


async def stats(ctx: Ctx) -> int:
    from ._views import print_stats

    async with ctx.client() as cc:
        result = await cc.runners.stats(ctx.args.id)
    return print_stats(ctx, ctx.args.id, result)


async def history(ctx: Ctx) -> int:
    from ._views import print_history

    async with ctx.client() as cc:
        items = await cc.runners.history(ctx.args.id)
    return print_history(ctx, items)


async def interrupt(ctx: Ctx) -> int:
    async with ctx.client() as cc:
        await cc.runners.interrupt(ctx.args.id)
    if ctx.json:
        return ctx.print_json({"id": ctx.args.id, "interrupted": True})
    ctx.line(f"interrupted the execution on runner {ctx.args.id}")
    return 0


def _fields(p: argparse.ArgumentParser, *, create: bool) -> None:
    p.add_argument("--name", required=create, help="1 to 100 characters")
    p.add_argument(
        "--endpoint", required=create, metavar="URL", help="the ComfyUI server's http(s) URL"
    )
    p.add_argument(
        "--header",
        action="append",
        metavar="K=V",
        help="a header ComfyControl sends to the server, e.g. 'Authorization=Bearer ...' "
        "(repeatable; values are secrets and never printed)"
        + ("" if create else "; replaces all headers"),
    )
    p.add_argument(
        "--tags", type=tag_list, metavar="A,B", help="at most 10 tags (replaces them all)"
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    runners = group(sub, "runners", help="your own runners (ComfyUI servers you registered)")
    p = command(runners, common, "list", list_, help="list your runners")
    p.add_argument("--status", choices=("active", "disabled"), help="only runners in this status")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N runners")
    p = command(runners, common, "get", get, help="show one runner (header values hidden)")
    p.add_argument("id", help="the runner id")
    p = command(runners, common, "create", create, help="register a ComfyUI server as a runner")
    _fields(p, create=True)
    p = command(runners, common, "update", update, help="change some fields of a runner")
    p.add_argument("id", help="the runner id")
    _fields(p, create=False)
    p.add_argument("--status", choices=("active", "disabled"), help="enable or disable it")
    p = command(runners, common, "stats", stats, help="live system stats of one runner")
    p.add_argument("id", help="the runner id")
    p = command(runners, common, "history", history, help="its last 10 workflows, newest first")
    p.add_argument("id", help="the runner id")
    p = command(
        runners, common, "interrupt", interrupt, help="hard-stop the execution running there now"
    )
    p.add_argument("id", help="the runner id")

"""``comfycontrol whoami``, ``runners ...`` and ``managed ...``: one API call each, printed.

This module owns how a user, a runner, a managed runner and a runner's stats look on the screen
(rich tables) and in ``--json`` output. A runner's header values never appear in either: only
their names, with ``***``.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from ._cli_common import (
    EXIT_OK,
    Ctx,
    add_row,
    fields_table,
    gib,
    gib_pair,
    header_names,
    open_client,
    plain,
    positive_int,
    safe_url,
    tags_text,
    when,
)
from .models import ManagedRunner, Runner, RunnerStats, User

__all__ = ["add_parsers"]


# -- whoami -----------------------------------------------------------------------------------


def _user_rows(user: User) -> list[tuple[str, str]]:
    return [
        ("name", user.name),
        ("email", user.email),
        ("tier", user.tier),
        ("id", user.id),
        ("provider", user.provider or "-"),
        ("created", when(user.created_at)),
    ]


async def whoami(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        user = await cc.user.get()
    return ctx.print_record(user, _user_rows(user))


# -- own runners ------------------------------------------------------------------------------


def _runner_rows(runner: Runner) -> list[tuple[str, str]]:
    return [
        ("id", runner.id),
        ("name", runner.name),
        ("status", runner.status),
        ("endpoint", safe_url(runner.endpoint)),
        ("tags", tags_text(runner.tags)),
        ("headers", header_names(runner.headers)),
        ("created", when(runner.created_at)),
        ("updated", when(runner.updated_at)),
    ]


async def runners_list(ctx: Ctx) -> int:
    args = ctx.args
    async with open_client(ctx) as cc:
        runners = await cc.runners.list(status=args.status, max_items=args.limit).collect()
    return ctx.print_items(
        runners,
        noun="runner",
        columns=("id", "name", "status", "endpoint", "tags", "headers"),
        cells=lambda r: (
            r.id,
            r.name,
            r.status,
            safe_url(r.endpoint),
            tags_text(r.tags),
            header_names(r.headers),
        ),
    )


async def runners_get(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        runner = await cc.runners.get(ctx.args.id)
    return ctx.print_record(runner, _runner_rows(runner))


def _print_stats(ctx: Ctx, runner_id: str, stats: RunnerStats) -> None:
    if ctx.json:
        ctx.print_json(plain(stats))
        return
    system = stats.system
    ctx.out.print(
        fields_table(
            [
                ("runner", runner_id),
                ("os", system.os or "-"),
                ("ComfyUI", system.comfyui_version or "-"),
                ("Python", (system.python_version or "-").split()[0]),
                ("PyTorch", system.pytorch_version or "-"),
                ("RAM free / total", gib_pair(system.ram_free, system.ram_total)),
                ("GPUs", str(len(stats.gpus))),
                ("VRAM free / total", gib_pair(stats.vram_free_total, stats.vram_total_total)),
            ]
        )
    )
    table = Table(title="devices", title_justify="left")
    for column in ("index", "type", "model", "VRAM free", "VRAM total"):
        table.add_column(column)
    for device in stats.devices:
        add_row(
            table,
            "-" if device.index is None else str(device.index),
            device.kind or "-",
            device.model or "-",
            gib(device.vram_free),
            gib(device.vram_total),
        )
    ctx.out.print(table)


async def runners_stats(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        stats = await cc.runners.stats(ctx.args.id)
    _print_stats(ctx, ctx.args.id, stats)
    return EXIT_OK


# -- managed runners --------------------------------------------------------------------------


def _managed_rows(runner: ManagedRunner) -> list[tuple[str, str]]:
    return [
        ("id", runner.id),
        ("name", runner.name),
        ("type", runner.runner_type),
        ("status", runner.status),
        ("tags", tags_text(runner.tags)),
        ("created", when(runner.created_at)),
        ("updated", when(runner.updated_at)),
    ]


async def managed_list(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        runners = await cc.managed_runners.list(max_items=ctx.args.limit).collect()
    return ctx.print_items(
        runners,
        noun="managed runner",
        columns=("id", "name", "type", "status", "tags"),
        cells=lambda r: (r.id, r.name, r.runner_type, r.status, tags_text(r.tags)),
    )


async def managed_get(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        runner = await cc.managed_runners.get(ctx.args.id)
    return ctx.print_record(runner, _managed_rows(runner))


async def managed_stats(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        stats = await cc.managed_runners.stats(ctx.args.id)
    _print_stats(ctx, ctx.args.id, stats)
    return EXIT_OK


# -- parsers ----------------------------------------------------------------------------------


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``whoami``, ``runners`` and ``managed`` to the subcommand parsers ``sub``."""
    p = sub.add_parser("whoami", parents=[common], help="show the account the token belongs to")
    p.set_defaults(func=whoami)

    runners = sub.add_parser("runners", help="your own runners (ComfyUI servers)")
    rsub = runners.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("list", parents=[common], help="list your runners")
    p.add_argument("--status", choices=("active", "disabled"), help="only runners in this status")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N runners")
    p.set_defaults(func=runners_list)
    p = rsub.add_parser("get", parents=[common], help="show one runner (header values hidden)")
    p.add_argument("id", help="the runner id")
    p.set_defaults(func=runners_get)
    p = rsub.add_parser("stats", parents=[common], help="live system stats of one runner")
    p.add_argument("id", help="the runner id")
    p.set_defaults(func=runners_stats)

    managed = sub.add_parser("managed", help="managed runners (Pro and Plus tiers)")
    msub = managed.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = msub.add_parser("list", parents=[common], help="list the managed runners open to you")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N runners")
    p.set_defaults(func=managed_list, managed_scope=True)
    p = msub.add_parser("get", parents=[common], help="show one managed runner")
    p.add_argument("id", help="the managed runner id")
    p.set_defaults(func=managed_get, managed_scope=True)
    p = msub.add_parser("stats", parents=[common], help="live system stats of a managed runner")
    p.add_argument("id", help="the managed runner id")
    p.set_defaults(func=managed_stats, managed_scope=True)

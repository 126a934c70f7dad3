"""``comfycontrol templates ...``: stored workflows with placeholders.

Run one with ``comfycontrol workflows run --template ID --param key=value``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, group, positive_int

if TYPE_CHECKING:
    from pathlib import Path

    from ..models import Template
    from ._context import Ctx

__all__ = ["existing_file", "register"]


def existing_file(text: str, what: str) -> Path:
    """The path of a file the user named; a missing one is a usage error (before any request)."""
    from pathlib import Path

    from ._context import usage_error

    path = Path(text).expanduser()
    if not path.is_file():
        usage_error(f"{what}: file not found: {path}")
    return path


def _print(ctx: Ctx, template: Template) -> int:
    from ._context import plain, when

    rows = [
        ("id", template.id),
        ("name", template.name),
        ("description", template.description),
        ("body", f"{len(template.body)} node(s) ('templates get --body ID' prints it)"),
        ("created", when(template.created_at)),
        ("updated", when(template.updated_at)),
    ]
    return ctx.print_record(plain(template), rows)


async def list_(ctx: Ctx) -> int:
    from ._context import Column, when

    async with ctx.client() as cc:
        items = await cc.templates.list(max_items=ctx.args.limit).collect()
    columns = (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("updated"),
        Column("description"),
    )
    return ctx.print_items(
        items,
        noun="template",
        columns=columns,
        cells=lambda t: (t.name, t.id, when(t.updated_at), t.description),
    )


async def get(ctx: Ctx) -> int:
    async with ctx.client() as cc:
        template = await cc.templates.get(ctx.args.id)
    if ctx.args.body:
        return ctx.print_json(template.body)
    return _print(ctx, template)


async def create(ctx: Ctx) -> int:
    args = ctx.args
    body = existing_file(args.body_file, "template file")
    async with ctx.client() as cc:
        template = await cc.templates.create(
            name=args.name, description=args.description, body=body
        )
    return _print(ctx, template)


async def update(ctx: Ctx) -> int:
    from ._context import usage_error

    args = ctx.args
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.description is not None:
        changes["description"] = args.description
    if args.body is not None:
        changes["body"] = existing_file(args.body, "--body")
    if not changes:
        usage_error("nothing to change: give --name, --description or --body")
    async with ctx.client() as cc:
        template = await cc.templates.update(args.id, **changes)
    return _print(ctx, template)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    templates = group(sub, "templates", help="stored workflows with placeholders")
    p = command(templates, common, "list", list_, help="list templates")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N templates")
    p = command(templates, common, "get", get, help="show one template")
    p.add_argument("id", help="the template id")
    p.add_argument("--body", action="store_true", help="print only its body (workflow JSON)")
    p = command(templates, common, "create", create, help="upload a template")
    p.add_argument("body_file", metavar="FILE", help="the workflow JSON with placeholders")
    p.add_argument("--name", required=True, help="1 to 100 characters")
    p.add_argument("--description", required=True, help="1 to 500 characters")
    p = command(templates, common, "update", update, help="change a template's fields")
    p.add_argument("id", help="the template id")
    p.add_argument("--name", help="a new name")
    p.add_argument("--description", help="a new description")
    p.add_argument("--body", metavar="FILE", help="a new body from a workflow JSON file")

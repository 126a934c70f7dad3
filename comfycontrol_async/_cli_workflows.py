"""``comfycontrol workflows ...`` and ``templates ...``: from a workflow file to images on disk.

This module owns the workflow and template commands: reading ``--param k=v`` and ``--file k=PATH``,
creating, waiting (with a spinner on stderr when it is a terminal), downloading, and printing
workflows, outputs and templates. Signed output URLs are credentials: only an output's id, host
and file name are printed, never the query of its URL.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from yarl import URL

from ._cli_common import (
    EXIT_API,
    EXIT_OK,
    Ctx,
    add_row,
    fields_table,
    open_client,
    plain,
    positive_float,
    positive_int,
    tags_text,
    usage_error,
    when,
)
from .models import Template, Workflow, WorkflowOutput

__all__ = ["add_parsers"]

_WORKFLOW_STATUSES = ("completed", "running", "queued", "failed", "cancelled")


def _pairs(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; a missing ``=`` or key is a usage error."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            usage_error(f"{option} takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _existing_file(text: str, what: str) -> Path:
    """The path of a file the user named; a missing one is a usage error (before any request)."""
    path = Path(text).expanduser()
    if not path.is_file():
        usage_error(f"{what}: file not found: {path}")
    return path


# -- workflows --------------------------------------------------------------------------------


def _workflow_rows(wf: Workflow) -> list[tuple[str, str]]:
    runner = wf.user_runner_id or wf.managed_runner_id
    kind = "own" if wf.user_runner_id else "managed"
    rows = [
        ("id", wf.id),
        ("name", wf.name),
        ("status", wf.status),
        ("tags", tags_text(wf.tags)),
        ("runner", f"{runner} ({kind})" if runner else "-"),
        ("created", when(wf.created_at)),
        ("started", when(wf.started_at)),
        ("completed", when(wf.completed_at)),
        ("queue number", "-" if wf.queue_number is None else str(wf.queue_number)),
        ("params", ", ".join(f"{k} = {v}" for k, v in wf.workflow_params) or "-"),
    ]
    if wf.error_node or wf.exception_type or wf.exception_message:
        rows += [
            ("error node", wf.error_node or "-"),
            ("exception", wf.exception_type or "-"),
            ("message", wf.exception_message or "-"),
        ]
    return rows


def _failure_text(wf: Workflow) -> str:
    detail = ": ".join(x for x in (wf.exception_type, wf.exception_message) if x)
    node = f" at node {wf.error_node}" if wf.error_node else ""
    return f"workflow {wf.id} ended {wf.status}{node}" + (f" ({detail})" if detail else "")


async def workflows_run(ctx: Ctx) -> int:
    args = ctx.args
    source = _existing_file(args.workflow_file, "workflow file")
    params = _pairs(args.param, "--param")
    files = {
        key: _existing_file(value, f"--file {key}")
        for key, value in _pairs(args.upload, "--file").items()
    }
    wait = args.wait or args.download is not None
    async with open_client(ctx) as cc:
        created = await cc.workflows.create(
            name=args.name or source.stem,
            workflow=source,
            tags=args.tag or None,
            params=params or None,
            files=files or None,
        )
        if not ctx.json:
            ctx.line(f"created workflow {created.id} ({created.status})")
        if not wait:
            if ctx.json:
                ctx.print_json({"workflow": plain(created)})
            return EXIT_OK
        spinner = (
            ctx.err.status(f"waiting for workflow {created.id}...")
            if ctx.interactive
            else contextlib.nullcontext()
        )
        with spinner:
            final = await cc.workflows.wait(
                created.id, deadline=args.wait_timeout, poll_interval=args.poll_interval
            )
        written: list[Path] = []
        if final.status == "completed" and args.download is not None:
            written = await cc.workflows.download_outputs(created.id, args.download)
    if ctx.json:
        ctx.print_json({"workflow": plain(final), "downloaded": [str(p) for p in written]})
    else:
        ctx.line(f"workflow {final.id} {final.status}")
        for path in written:
            ctx.line(f"downloaded {path}")
        if args.download is not None and final.status == "completed" and not written:
            ctx.line("the workflow made no outputs")
    if final.status != "completed":
        ctx.fail(_failure_text(final))
        return EXIT_API
    return EXIT_OK


async def workflows_list(ctx: Ctx) -> int:
    args = ctx.args
    async with open_client(ctx) as cc:
        items = await cc.workflows.list(status=args.status, max_items=args.limit).collect()
    return ctx.print_items(
        items,
        noun="workflow",
        columns=("id", "name", "status", "tags", "created", "completed"),
        cells=lambda wf: (
            wf.id,
            wf.name,
            wf.status,
            tags_text(wf.tags),
            when(wf.created_at),
            when(wf.completed_at),
        ),
    )


async def workflows_get(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        wf = await cc.workflows.get(ctx.args.id)
    return ctx.print_record(wf, _workflow_rows(wf))


async def workflows_cancel(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        await cc.workflows.cancel(ctx.args.id)
    if ctx.json:
        ctx.print_json({"id": ctx.args.id, "cancelled": True})
    else:
        ctx.line(f"cancel requested for workflow {ctx.args.id}")
    return EXIT_OK


def _output_row(output: WorkflowOutput) -> tuple[str, str, str]:
    try:
        url = URL(output.src)
        return output.id, url.host or "-", url.name or "-"
    except (ValueError, TypeError):
        return output.id, "-", "-"


async def workflows_outputs(ctx: Ctx) -> int:
    args = ctx.args
    async with open_client(ctx) as cc:
        if args.download is not None:
            written = await cc.workflows.download_outputs(args.id, args.download)
            if ctx.json:
                ctx.print_json({"downloaded": [str(p) for p in written]})
            else:
                for path in written:
                    ctx.line(f"downloaded {path}")
                if not written:
                    ctx.line("the workflow has no outputs")
            return EXIT_OK
        outputs = await cc.workflows.outputs(args.id)
    if ctx.json:
        ctx.print_json(plain(outputs))
        return EXIT_OK
    table = Table(
        title=f"{len(outputs)} output(s); signed URLs hidden (--download DIR fetches them)",
        title_justify="left",
    )
    for column in ("id", "host", "file"):
        table.add_column(column, overflow="fold")
    for output in outputs:
        add_row(table, *_output_row(output))
    ctx.out.print(table)
    return EXIT_OK


# -- templates --------------------------------------------------------------------------------


def _template_rows(t: Template) -> list[tuple[str, str]]:
    return [
        ("id", t.id),
        ("name", t.name),
        ("description", t.description),
        ("body", f"{len(t.body)} node(s) (--body prints it)"),
        ("created", when(t.created_at)),
        ("updated", when(t.updated_at)),
    ]


async def templates_list(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        items = await cc.templates.list(max_items=ctx.args.limit).collect()
    return ctx.print_items(
        items,
        noun="template",
        columns=("id", "name", "description", "updated"),
        cells=lambda t: (t.id, t.name, t.description, when(t.updated_at)),
    )


def _print_template(ctx: Ctx, template: Template, *, body_only: bool = False) -> None:
    if body_only:
        ctx.print_json(template.body)
    elif ctx.json:
        ctx.print_json(plain(template))
    else:
        ctx.out.print(fields_table(_template_rows(template)))


async def templates_get(ctx: Ctx) -> int:
    async with open_client(ctx) as cc:
        template = await cc.templates.get(ctx.args.id)
    _print_template(ctx, template, body_only=ctx.args.body)
    return EXIT_OK


async def templates_create(ctx: Ctx) -> int:
    args = ctx.args
    body = _existing_file(args.body_file, "template file")
    async with open_client(ctx) as cc:
        template = await cc.templates.create(
            name=args.name, description=args.description, body=body
        )
    _print_template(ctx, template)
    return EXIT_OK


async def templates_update(ctx: Ctx) -> int:
    args = ctx.args
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.description is not None:
        changes["description"] = args.description
    if args.body is not None:
        changes["body"] = _existing_file(args.body, "--body")
    if not changes:
        usage_error("nothing to change: give --name, --description or --body")
    async with open_client(ctx) as cc:
        template = await cc.templates.update(args.id, **changes)
    _print_template(ctx, template)
    return EXIT_OK


# -- parsers ----------------------------------------------------------------------------------


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``workflows`` and ``templates`` to the subcommand parsers ``sub``."""
    workflows = sub.add_parser("workflows", help="run ComfyUI workflows and fetch their outputs")
    wsub = workflows.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = wsub.add_parser(
        "run",
        parents=[common],
        help="create a workflow from a ComfyUI workflow JSON file",
        description=(
            "Upload a workflow file and schedule it. Placeholders in the file get their values "
            "from --param (text and choice) and --file (uploads); every problem is reported "
            "before anything is sent. With --wait or --download, exit status 1 when the "
            "workflow does not complete."
        ),
    )
    p.add_argument("workflow_file", metavar="FILE", help="the ComfyUI workflow JSON")
    p.add_argument("--name", help="the workflow's name (default: the file's name)")
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a value for a $text or $choice placeholder (repeatable)",
    )
    p.add_argument(
        "--file",
        dest="upload",
        action="append",
        metavar="KEY=PATH",
        help="a file for a $file placeholder (repeatable)",
    )
    p.add_argument(
        "--tag", action="append", metavar="TAG", help="run only on runners with this tag"
    )
    p.add_argument("--wait", action="store_true", help="wait until the workflow finishes")
    p.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=positive_float,
        metavar="S",
        help="give up waiting after S seconds",
    )
    p.add_argument(
        "--poll-interval",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="first interval between status checks (default 1 s; it grows up to 15 s)",
    )
    p.add_argument(
        "--download",
        metavar="DIR",
        help="wait, then download the outputs into DIR (implies --wait)",
    )
    p.set_defaults(func=workflows_run)

    p = wsub.add_parser("list", parents=[common], help="list workflows, newest first")
    p.add_argument("--status", choices=_WORKFLOW_STATUSES, help="only workflows in this status")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N workflows")
    p.set_defaults(func=workflows_list)
    p = wsub.add_parser("get", parents=[common], help="show one workflow in full")
    p.add_argument("id", help="the workflow id")
    p.set_defaults(func=workflows_get)
    p = wsub.add_parser("cancel", parents=[common], help="cancel a queued or running workflow")
    p.add_argument("id", help="the workflow id")
    p.set_defaults(func=workflows_cancel)
    p = wsub.add_parser(
        "outputs",
        parents=[common],
        help="list (or download) a completed workflow's outputs; signed URLs are not shown",
    )
    p.add_argument("id", help="the workflow id")
    p.add_argument("--download", metavar="DIR", help="download the outputs into DIR")
    p.set_defaults(func=workflows_outputs)

    templates = sub.add_parser("templates", help="stored workflows with placeholders")
    tsub = templates.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = tsub.add_parser("list", parents=[common], help="list templates")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N templates")
    p.set_defaults(func=templates_list)
    p = tsub.add_parser("get", parents=[common], help="show one template")
    p.add_argument("id", help="the template id")
    p.add_argument("--body", action="store_true", help="print only its body (workflow JSON)")
    p.set_defaults(func=templates_get)
    p = tsub.add_parser("create", parents=[common], help="upload a template")
    p.add_argument("--name", required=True, help="1 to 100 characters")
    p.add_argument("--description", required=True, help="1 to 500 characters")
    p.add_argument("body_file", metavar="FILE", help="the workflow JSON with placeholders")
    p.set_defaults(func=templates_create)
    p = tsub.add_parser("update", parents=[common], help="change a template's fields")
    p.add_argument("id", help="the template id")
    p.add_argument("--name", help="a new name")
    p.add_argument("--description", help="a new description")
    p.add_argument("--body", metavar="FILE", help="a new body from a workflow JSON file")
    p.set_defaults(func=templates_update)

"""``comfycontrol workflows ...``: from a workflow file or a template to images on disk.

Placeholders get their values from ``--param key=value`` (text and choice) and
``--file key=PATH`` (uploads); every problem is reported before anything is sent. Signed output
URLs are credentials: only an output's id, host and file name are printed. Downloads never
overwrite a file unless ``--force``. Ctrl-C while waiting leaves the workflow running and says
how to cancel it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, group, key_values, positive_float, positive_int
from .templates import existing_file

if TYPE_CHECKING:
    from pathlib import Path

    from .._client import ComfyControl
    from ..models import Workflow
    from ._context import Ctx

__all__ = ["register"]

_STATUSES = ("accepted", "uploaded", "queued", "running", "completed", "failed", "cancelled")


def _rows(wf: Workflow) -> list[tuple[str, str]]:
    from ._context import tags_text, when

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


def _staging(directory: str) -> tuple[Path, Path]:
    """The target directory (created) and a fresh staging directory inside it."""
    import tempfile
    from pathlib import Path

    target = Path(directory).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    return target, Path(tempfile.mkdtemp(prefix=".comfycontrol-", dir=target))


def _place(fetched: list[Path], target: Path, *, force: bool) -> list[Path]:
    """Move downloaded files into ``target``; refuse (moving nothing) to overwrite one."""
    from ._context import CliError

    final = [target / path.name for path in fetched]
    taken = [str(path) for path in final if path.exists()]
    if taken and not force:
        raise CliError(
            f"would overwrite {', '.join(taken)}; nothing was written "
            "(--force overwrites, or choose another directory)"
        )
    for source, dest in zip(fetched, final, strict=True):
        source.replace(dest)
    return final


async def _download(cc: ComfyControl, wid: str, directory: str, *, force: bool) -> list[Path]:
    """Download into a staging directory inside the target, then move the files in."""
    import asyncio
    import shutil

    target, staging = await asyncio.to_thread(_staging, directory)
    try:
        fetched = await cc.workflows.download_outputs(wid, staging)
        return await asyncio.to_thread(_place, fetched, target, force=force)
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)


async def _wait(ctx: Ctx, cc: ComfyControl, wid: str) -> Workflow:
    """Wait for the workflow, with a spinner on stderr; Ctrl-C says it keeps running."""
    import asyncio
    import contextlib

    args = ctx.args
    spinner = (
        ctx.err.status(f"waiting for workflow {wid}... (Ctrl-C stops waiting, not the workflow)")
        if ctx.live
        else contextlib.nullcontext()
    )
    try:
        with spinner:
            return await cc.workflows.wait(
                wid, deadline=args.deadline, poll_interval=args.poll_interval
            )
    except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C cancels this task
        # The command on a line of its own: copied whole, even from an 80-column terminal.
        ctx.err.print(f"stopped waiting; workflow {wid} keeps running. Cancel it with:")
        ctx.err.print(f"  comfycontrol workflows cancel {wid}", soft_wrap=True)
        raise


async def _finish(ctx: Ctx, cc: ComfyControl, wid: str) -> int:
    """Wait, download when asked, print the final workflow (JSON: it, plus ``downloaded``)."""
    from ._context import EXIT_API, EXIT_OK, plain

    args = ctx.args
    final = await _wait(ctx, cc, wid)
    written: list[Path] = []
    if final.status == "completed" and args.download is not None:
        written = await _download(cc, wid, args.download, force=args.force)
    if ctx.json:
        ctx.print_json({**plain(final), "downloaded": [str(p) for p in written]})
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


async def run(ctx: Ctx) -> int:
    from ._context import plain, usage_error

    args = ctx.args
    if (args.workflow_file is None) == (args.template is None):
        usage_error("give a workflow FILE or --template ID (one of them)")
    params = key_values(args.param, "--param")
    files = {
        key: existing_file(value, f"--file {key}")
        for key, value in key_values(args.upload, "--file").items()
    }
    source = None if args.workflow_file is None else existing_file(args.workflow_file, "FILE")
    async with ctx.client() as cc:
        if source is not None:
            workflow: Any = source
            name = args.name or source.stem
        else:
            template = await cc.templates.get(args.template)
            workflow, name = template.body, args.name or template.name
        created = await cc.workflows.create(
            name=name,
            workflow=workflow,
            tags=args.tag or None,
            params=params or None,
            files=files or None,
        )
        if not (args.wait or args.download is not None):
            if ctx.json:
                return ctx.print_json(plain(created))
            ctx.line(f"created workflow {created.id} ({created.status})")
            return 0
        ctx.note(f"created workflow {created.id} ({created.status})")
        return await _finish(ctx, cc, created.id)


async def wait(ctx: Ctx) -> int:
    async with ctx.client() as cc:
        return await _finish(ctx, cc, ctx.args.id)


async def list_(ctx: Ctx) -> int:
    from ._context import Column, tags_text, when

    args = ctx.args
    async with ctx.client() as cc:
        items = await cc.workflows.list(status=args.status, max_items=args.limit).collect()
    columns = (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("status", essential=True),
        Column("created"),
        Column("completed"),
        Column("tags"),
    )
    return ctx.print_items(
        items,
        noun="workflow",
        columns=columns,
        cells=lambda w: (
            w.name,
            w.id,
            w.status,
            when(w.created_at),
            when(w.completed_at),
            tags_text(w.tags),
        ),
    )


async def get(ctx: Ctx) -> int:
    from ._context import plain

    async with ctx.client() as cc:
        wf = await cc.workflows.get(ctx.args.id)
    return ctx.print_record(plain(wf), _rows(wf))


async def cancel(ctx: Ctx) -> int:
    async with ctx.client() as cc:
        await cc.workflows.cancel(ctx.args.id)
    if ctx.json:
        return ctx.print_json({"id": ctx.args.id, "cancelled": True})
    ctx.line(f"cancel requested for workflow {ctx.args.id}")
    return 0


async def outputs(ctx: Ctx) -> int:
    from yarl import URL

    from ._context import Column, plain

    async with ctx.client() as cc:
        items = await cc.workflows.outputs(ctx.args.id)
    if ctx.json:
        return ctx.print_json(plain(items))

    def cells(output: Any) -> tuple[str, str, str]:
        try:
            url = URL(output.src)
        except (ValueError, TypeError):
            return output.id, "-", "-"
        return output.id, url.name or "-", url.host or "-"

    columns = (Column("id", essential=True, head=True), Column("file", essential=True))
    ctx.print_rows(
        (*columns, Column("host")),
        [cells(o) for o in items],
        title=f"{len(items)} outputs (signed URLs hidden; 'workflows download' fetches them)",
        empty="The workflow has no outputs.",
    )
    return 0


async def download(ctx: Ctx) -> int:
    async with ctx.client() as cc:
        written = await _download(cc, ctx.args.id, ctx.args.directory, force=ctx.args.force)
    if ctx.json:
        return ctx.print_json({"id": ctx.args.id, "downloaded": [str(p) for p in written]})
    for path in written:
        ctx.line(f"downloaded {path}")
    if not written:
        ctx.line("The workflow has no outputs.")
    return 0


def _waiting(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--deadline", type=positive_float, metavar="S", help="give up waiting after S seconds"
    )
    p.add_argument(
        "--poll-interval",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="first interval between status checks (default 1 s; it grows up to 15 s)",
    )
    p.add_argument("--download", metavar="DIR", help="then download the outputs into DIR")
    p.add_argument("--force", action="store_true", help="let --download overwrite files")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    workflows = group(sub, "workflows", help="run ComfyUI workflows and fetch their outputs")
    p = command(
        workflows,
        common,
        "run",
        run,
        help="create a workflow from a workflow JSON file or a template",
        description=(
            "Create and schedule a workflow from a ComfyUI workflow JSON FILE or a stored "
            "template (--template ID). Placeholders get their values from --param (text and "
            "choice) and --file (uploads); every problem is reported before anything is sent. "
            "With --wait or --download, exit status 1 when the workflow does not complete; "
            "Ctrl-C stops waiting, not the workflow."
        ),
    )
    p.add_argument("workflow_file", nargs="?", metavar="FILE", help="the ComfyUI workflow JSON")
    p.add_argument("--template", metavar="ID", help="run this template instead of a FILE")
    p.add_argument("--name", help="the workflow's name (default: the file's or template's)")
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
    _waiting(p)

    p = command(workflows, common, "list", list_, help="list workflows, newest first")
    p.add_argument("--status", choices=_STATUSES, help="only workflows in this status")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N workflows")
    p = command(workflows, common, "get", get, help="show one workflow in full")
    p.add_argument("id", help="the workflow id")
    p = command(workflows, common, "wait", wait, help="wait until a workflow finishes")
    p.add_argument("id", help="the workflow id")
    _waiting(p)
    p = command(workflows, common, "cancel", cancel, help="cancel a queued or running workflow")
    p.add_argument("id", help="the workflow id")
    p = command(
        workflows,
        common,
        "outputs",
        outputs,
        help="list a completed workflow's outputs (signed URLs hidden)",
    )
    p.add_argument("id", help="the workflow id")
    p = command(
        workflows, common, "download", download, help="download a completed workflow's outputs"
    )
    p.add_argument("id", help="the workflow id")
    p.add_argument("directory", metavar="DIR", help="where to write (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")

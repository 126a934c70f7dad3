"""``comfycontrol capacity``: sweep the fleet's live stats and show who has room, right now.

This module owns the sweep's progress bar (stderr, only on a terminal), the capacity table, the
summary line and the per-GPU-model totals (stdout), and the ``--json`` form of the report. The
``demo`` command (``_cli_demo``) prints its report with the same functions, so both look alike.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final

from rich import box
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ._cli_common import (
    EXIT_API,
    EXIT_OK,
    Ctx,
    add_row,
    clean,
    gib,
    gib_pair,
    open_client,
    positive_float,
    positive_int,
    scrub_text,
    tags_text,
)
from ._client import ComfyControl
from .capacity import CapacityReport, CapacityRow, parse_size
from .resources._fanout import DEFAULT_CONCURRENCY, StatsResult, SweepProgress

__all__ = ["Selection", "SweepBar", "add_parser", "print_report", "run_sweep"]


class Selection:
    """The table filters of ``--min-vram`` and ``--tags`` (inactive when neither is given)."""

    def __init__(self, *, min_vram: int | None, tags: Sequence[str]) -> None:
        self.min_vram = min_vram
        self.tags = list(tags)

    @property
    def active(self) -> bool:
        return self.min_vram is not None or bool(self.tags)

    def apply(self, report: CapacityReport) -> list[CapacityRow]:
        return report.select(min_vram_free=self.min_vram, tags=self.tags or None)

    def describe(self) -> str:
        parts = []
        if self.min_vram is not None:
            parts.append(f"at least {gib(self.min_vram)} free on one GPU")
        if self.tags:
            parts.append(f"tags {clean(', '.join(self.tags))}")
        return " and ".join(parts)


class SweepBar:
    """A transient progress bar on stderr, fed by the sweep's ``progress(counts, result)``.

    A sweep of several kinds (managed and own) runs one fan-out per kind, each with its own
    counts; the bar adds them up, and knows the total once every kind has told its own.
    """

    def __init__(self, ctx: Ctx, *, kinds: int) -> None:
        self._kinds = kinds
        self._totals: dict[int, int | None] = {}
        self._done = 0
        self._failed = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("sweeping runners"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=ctx.err,
            transient=True,
            disable=not ctx.interactive,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> SweepBar:
        self._progress.start()
        self._task = self._progress.add_task("sweep", total=None, failed=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, counts: SweepProgress, result: StatsResult) -> None:
        self._totals[id(counts)] = counts.total
        self._done += 1
        if not result.ok:
            self._failed += 1
        known = list(self._totals.values())
        total = None
        if len(known) == self._kinds and all(t is not None for t in known):
            total = sum(t for t in known if t is not None)
        if self._task is not None:
            self._progress.update(
                self._task, completed=self._done, total=total, failed=self._failed
            )


async def run_sweep(
    ctx: Ctx,
    cc: ComfyControl,
    *,
    managed: bool,
    own: bool,
    tags: Sequence[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float | None = None,
    deadline: float | None = None,
) -> CapacityReport:
    """Run a capacity sweep with a progress bar on stderr (when it is a terminal)."""
    with SweepBar(ctx, kinds=int(managed) + int(own)) as bar:
        return await cc.capacity(
            managed=managed,
            own=own,
            tags=list(tags) if tags else None,
            concurrency=concurrency,
            timeout=timeout,
            deadline=deadline,
            progress=bar,
        )


# -- rendering --------------------------------------------------------------------------------


def gpu_text(row: CapacityRow) -> str:
    """The GPUs of a runner, grouped: ``2x NVIDIA A100-SXM4-80GB`` (or its CPU/MPS device)."""
    models = row.gpu_models
    if not models:
        others = [d.model or d.name or d.type or "?" for d in row.devices]
        return ", ".join(dict.fromkeys(others)) or "-"
    counts: dict[str, int] = {}
    for model in models:
        counts[model] = counts.get(model, 0) + 1
    return ", ".join(f"{n}x {m}" if n > 1 else m for m, n in counts.items())


_COLUMNS: Final = (
    "kind",
    "name",
    "GPU",
    "VRAM free/total",
    "best GPU",
    "RAM free/total",
    "ComfyUI",
    "tags",
    "error",
)
_RIGHT: Final = frozenset({"VRAM free/total", "best GPU", "RAM free/total"})
# Text columns may shrink, down to these widths.
_SHRINK: Final = {"tags": 10, "error": 12, "ComfyUI": 8, "GPU": 14, "name": 12}
# Optional columns are dropped in this order when even the smallest widths do not fit.
_DROP_ORDER: Final = ("tags", "ComfyUI", "RAM free/total", "kind")


def _cells(ctx: Ctx, row: CapacityRow) -> dict[str, str | Text]:
    # cpu and mps report system RAM as "VRAM": a runner without a GPU has no VRAM to show.
    has_gpu = any(d.is_gpu for d in row.devices)
    vram = gib_pair(row.vram_free, row.vram_total) if has_gpu else "no GPU"
    return {
        "kind": row.kind,
        "name": row.name or row.runner_id,
        "GPU": gpu_text(row) if row.ok else "-",
        "VRAM free/total": vram if row.ok else "-",
        "best GPU": gib(row.best_vram_free) if row.ok and has_gpu else "-",
        "RAM free/total": gib_pair(row.ram_free, row.ram_total) if row.ok else "-",
        "ComfyUI": row.comfyui_version or "-",
        "tags": tags_text(row.tags),
        "error": Text(scrub_text(row.error, ctx.secrets), style="red") if row.error else Text(""),
    }


def _fit(widest: dict[str, int], width: int) -> tuple[list[str], dict[str, int]]:
    """Choose the columns and their widths for a console ``width`` columns wide.

    Figures keep their full width. Optional columns are dropped (tags first, kind last) while
    even the smallest widths do not fit; then the widest text columns give way first.
    """
    keep = list(widest)

    def room(cols: list[str]) -> int:
        return width - (3 * len(cols) + 1)  # padding and separators of a SIMPLE_HEAD table

    def smallest(col: str) -> int:
        return min(_SHRINK.get(col, widest[col]), widest[col])

    def wanted(col: str) -> int:  # names and GPU models are worth more than extra columns
        return min(widest[col], 30) if col in ("name", "GPU") else smallest(col)

    for col in _DROP_ORDER:
        if sum(wanted(c) for c in keep) <= room(keep):
            break
        if col in keep:
            keep.remove(col)
    widths = {c: widest[c] for c in keep}
    excess = sum(widths.values()) - room(keep)
    while excess > 0:  # take from the widest text column that can still give
        givers = [c for c in keep if c in _SHRINK and widths[c] > smallest(c)]
        if not givers:
            break
        col = max(givers, key=lambda c: widths[c])
        widths[col] -= 1
        excess -= 1
    return keep, widths


def capacity_table(ctx: Ctx, rows: Sequence[CapacityRow], *, title: str) -> Table:
    """The table of runners, one line each, in the order given (most free VRAM first).

    On a narrow console the less important columns (tags, ComfyUI version, RAM, kind) are left
    out and the caption says so; ``--json`` always has everything.
    """
    failures = any(not row.ok for row in rows)
    cells = [_cells(ctx, row) for row in rows]
    widest = {
        col: max([len(col), *(len(str(c[col])) for c in cells)])
        for col in _COLUMNS
        if col != "error" or failures
    }
    keep, widths = _fit(widest, ctx.out.width)
    hidden = [col for col in widest if col not in keep]
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=(
            f"(a wider terminal shows {', '.join(hidden)}; --json has everything)"
            if hidden
            else None
        ),
        caption_justify="left",
    )
    for col in keep:
        table.add_column(
            col,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if col in _RIGHT else "left",
            width=widths[col],
        )
    for c in cells:
        add_row(table, *(c[col] for col in keep))
    return table


def summary_line(report: CapacityReport) -> str:
    """One line: how many runners, how many answered, the free VRAM, and the time it took."""
    return (
        f"{len(report)} runners: {len(report.ok)} ok, {len(report.failures)} failed; "
        f"free VRAM {gib(report.vram_free)} of {gib(report.vram_total)} "
        f"on {report.gpus} GPUs; swept in {report.elapsed:.2f} s"
    )


def gpu_totals_table(report: CapacityReport) -> Table:
    """Free and total VRAM per GPU model, most free first."""
    table = Table(title="free VRAM by GPU model", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("GPU model")
    table.add_column("GPUs", justify="right")
    table.add_column("runners", justify="right")
    table.add_column("VRAM free", justify="right")
    table.add_column("VRAM total", justify="right")
    for t in report.by_gpu_model():
        add_row(table, t.model, str(t.devices), str(t.runners), gib(t.vram_free), gib(t.vram_total))
    return table


def report_data(ctx: Ctx, report: CapacityReport, selection: Selection) -> dict[str, Any]:
    """The report as plain data: ``report.to_dict()``, with only the matches when filtered."""
    data = report.to_dict()
    if selection.active:
        picked = selection.apply(report)
        data["runners"] = [row.to_dict() for row in picked]
        data["selection"] = {
            "min_vram_free": selection.min_vram,
            "tags": selection.tags,
            "matched": len(picked),
        }
    for row in data["runners"]:
        if row.get("error"):
            row["error"] = scrub_text(row["error"], ctx.secrets)
    return data


def print_report(ctx: Ctx, report: CapacityReport, selection: Selection) -> None:
    """Print the report: JSON, or the table, the summary line and the per-model totals."""
    if ctx.json:
        ctx.print_json(report_data(ctx, report, selection))
        return
    if selection.active:
        rows: Sequence[CapacityRow] = selection.apply(report)
        title = f"{len(rows)} of {len(report)} runners match: {selection.describe()}"
    else:
        rows = report.rows
        title = f"capacity of {len(report)} runners, most free VRAM first"
    ctx.out.print(capacity_table(ctx, rows, title=title))
    ctx.line(summary_line(report))
    if selection.active and report.failures:
        ctx.line(
            f"{len(report.failures)} runner(s) could not be read and match nothing; "
            "run without filters to see why"
        )
    if report.gpus:
        ctx.out.print(gpu_totals_table(report))


# -- the command ------------------------------------------------------------------------------


async def capacity(ctx: Ctx) -> int:
    args = ctx.args
    own = bool(args.runners or args.all)
    managed = bool(args.managed or args.all or not own)
    ctx.args.managed_scope = managed
    ctx.args.hint_runners = managed and own
    selection = Selection(min_vram=args.min_vram, tags=args.tags)
    async with open_client(ctx) as cc:
        if cc.rate_limit is not None and ctx.interactive:
            ctx.note(
                f"pacing at {cc.rate_limit.requests} requests per {cc.rate_limit.per_seconds:g} s "
                "(the API's limit); --no-pacing turns it off"
            )
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


def tag_list(text: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]`` (for ``--tags``)."""
    tags = [t.strip() for t in text.split(",") if t.strip()]
    if not tags:
        raise argparse.ArgumentTypeError("give at least one tag, e.g. --tags gpu,production")
    return tags


def size(text: str) -> int:
    """``24GiB``, ``40GB``, ``512MiB``; a bare number is GiB (for ``--min-vram``)."""
    stripped = text.strip()
    try:
        if stripped.replace(".", "", 1).isdigit():
            return int(float(stripped) * 1024**3)
        return parse_size(stripped)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``capacity`` to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "capacity",
        parents=[common],
        help="sweep live stats and show who has free VRAM now",
        description=(
            "List runners and read their live stats concurrently, then print a table sorted by "
            "free VRAM, a summary and per-GPU-model totals. Exit status: 0 when every runner "
            "answered, 1 when some could not be read, 2 for usage or authentication errors."
        ),
    )
    which = p.add_argument_group("which runners (default: --managed)")
    which.add_argument("--managed", action="store_true", help="managed runners (Pro/Plus)")
    which.add_argument("--runners", action="store_true", help="your own runners")
    which.add_argument("--all", action="store_true", help="both")
    p.add_argument(
        "--tags",
        type=tag_list,
        default=[],
        metavar="A,B",
        help="only runners with all of these tags",
    )
    p.add_argument(
        "--min-vram",
        type=size,
        metavar="SIZE",
        help="show only runners with this much free on one GPU (24GiB, 40GB; a number is GiB)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"stats calls in flight at once (default {DEFAULT_CONCURRENCY})",
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
    p.set_defaults(func=capacity)

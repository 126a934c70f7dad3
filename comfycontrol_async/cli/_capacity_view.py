"""How a capacity sweep looks: its progress on stderr, its table, failures and totals.

The table answers "who has room?": a runner's name and id, its best free VRAM on one GPU and
its GPU model always show, in full; other columns give way as the terminal narrows. Runners that
could not be read are listed under the table with their full reasons. Sizes are shown in the unit
the user typed in ``--min-vram`` (``GB`` or ``GiB``; ``GiB`` otherwise); JSON keeps bytes.
``demo`` prints its report with the same functions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

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

from .._client import ComfyControl
from .._config import RateLimit
from ..capacity import CapacityReport, CapacityRow
from ..resources._fanout import StatsResult, SweepProgress
from ._args import Size
from ._context import Column, Ctx, fmt_size, tags_text

__all__ = ["Selection", "SweepBar", "print_report", "report_data", "run_sweep"]


class Selection:
    """What the user asked to see: ``--min-vram``, ``--tags``, ``--top``, and the size unit."""

    def __init__(
        self, *, min_vram: Size | None, tags: Sequence[str], top: int | None = None
    ) -> None:
        self.min_vram = min_vram
        self.tags = list(tags)
        self.top = top
        self.unit = min_vram.unit if min_vram is not None else "GiB"

    @property
    def filtered(self) -> bool:
        return self.min_vram is not None or bool(self.tags)

    def apply(self, report: CapacityReport) -> list[CapacityRow]:
        if not self.filtered:
            return [row for row in report.rows if row.ok]
        return report.select(
            min_vram_free=None if self.min_vram is None else self.min_vram.bytes,
            tags=self.tags or None,
        )

    def describe(self) -> str:
        parts = []
        if self.min_vram is not None:
            parts.append(f"at least {self.min_vram.text} free on one GPU")
        if self.tags:
            parts.append(f"tags {', '.join(self.tags)}")
        return " and ".join(parts)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


class SweepBar:
    """A transient progress bar on stderr, fed by the sweep's ``progress(counts, result)``.

    Its ETA knows the pacing: with a rate limit of R requests per S seconds, the runners left
    cannot take less than ``left * S / R``, whatever the speed so far. A sweep of several kinds
    (managed and own) runs one fan-out per kind; the bar adds up their counts.
    """

    def __init__(self, ctx: Ctx, *, kinds: int, rate_limit: RateLimit | None) -> None:
        self._kinds = kinds
        self._rate = rate_limit
        self._totals: dict[int, int | None] = {}
        self._done = 0
        self._failed = 0
        self._start = time.monotonic()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("sweeping runners"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=ctx.err,
            transient=True,
            disable=not ctx.live,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> SweepBar:
        self._progress.start()
        self._task = self._progress.add_task("sweep", total=None, failed=0, eta="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def eta(self, total: int | None, now: float) -> float | None:
        """Seconds left: the pace so far, and never less than the rate limit allows."""
        if total is None or self._done == 0:
            return None
        left = max(0, total - self._done)
        observed = (now - self._start) / self._done * left
        if self._rate is None:
            return observed
        return max(observed, left * self._rate.per_seconds / self._rate.requests)

    def __call__(self, counts: SweepProgress, result: StatsResult) -> None:
        self._totals[id(counts)] = counts.total
        self._done += 1
        if not result.ok:
            self._failed += 1
        known = list(self._totals.values())
        total = None
        if len(known) == self._kinds and all(t is not None for t in known):
            total = sum(t for t in known if t is not None)
        eta = self.eta(total, time.monotonic())
        if self._task is not None:
            self._progress.update(
                self._task,
                completed=self._done,
                total=total,
                failed=self._failed,
                eta="" if eta is None else f"ETA {_clock(eta)}",
            )


async def run_sweep(
    ctx: Ctx,
    cc: ComfyControl,
    *,
    managed: bool,
    own: bool,
    tags: Sequence[str] | None = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
) -> CapacityReport:
    """Run a capacity sweep with a progress bar on stderr (when it is a terminal)."""
    if cc.rate_limit is not None and ctx.live:
        ctx.note(
            f"pacing at {cc.rate_limit.requests} requests per {cc.rate_limit.per_seconds:g} s "
            "(the API's limit); --no-pacing turns it off"
        )
    options: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    with SweepBar(ctx, kinds=int(managed) + int(own), rate_limit=cc.rate_limit) as bar:
        return await cc.capacity(
            managed=managed,
            own=own,
            tags=list(tags) if tags else None,
            timeout=timeout,
            deadline=deadline,
            progress=bar,
            **options,
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


def _pair(free: int | None, total: int | None, unit: str) -> str:
    if free is None and total is None:
        return "-"
    return f"{fmt_size(free, unit).split()[0]}/{fmt_size(total, unit)}"


def columns(unit: str) -> tuple[Column, ...]:
    """The capacity table's columns, most important first (the last give way first)."""
    return (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("best free", essential=True, right=True),
        Column("GPU", essential=True),
        Column("kind"),
        Column("VRAM free/total", right=True),
        Column("ComfyUI"),
        Column("RAM free/total", right=True),
        Column("tags"),
    )


def cells(row: CapacityRow, unit: str) -> list[str]:
    # cpu and mps report system RAM as "VRAM": a runner without a GPU has no VRAM to show.
    has_gpu = any(d.is_gpu for d in row.devices)
    return [
        row.name or "-",
        row.runner_id,
        fmt_size(row.best_vram_free, unit) if has_gpu else ("no GPU" if row.ok else "-"),
        gpu_text(row) if row.ok else "-",
        row.kind,
        _pair(row.vram_free, row.vram_total, unit) if has_gpu else "-",
        row.comfyui_version or "-",
        _pair(row.ram_free, row.ram_total, unit),
        tags_text(row.tags),
    ]


def summary_line(report: CapacityReport, unit: str) -> str:
    """One line: how many runners, how many answered, the free VRAM, and the time it took."""
    return (
        f"{len(report)} runners: {len(report.ok)} ok, {len(report.failures)} failed; "
        f"free VRAM {fmt_size(report.vram_free, unit)} of {fmt_size(report.vram_total, unit)} "
        f"on {report.gpus} GPUs; swept in {report.elapsed:.2f} s"
    )


def gpu_totals_table(report: CapacityReport, unit: str) -> Table:
    """Free and total VRAM per GPU model, most free first."""
    table = Table(title="free VRAM by GPU model", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("GPU model", no_wrap=True)
    table.add_column("GPUs", justify="right")
    table.add_column("runners", justify="right")
    table.add_column("VRAM free", justify="right", no_wrap=True)
    table.add_column("VRAM total", justify="right", no_wrap=True)
    for t in report.by_gpu_model():
        table.add_row(
            Text(t.model),
            str(t.devices),
            str(t.runners),
            fmt_size(t.vram_free, unit),
            fmt_size(t.vram_total, unit),
        )
    return table


def report_data(report: CapacityReport, selection: Selection) -> dict[str, Any]:
    """The report as plain data: ``report.to_dict()`` with ``id`` on each runner, and only the
    matches (plus a ``selection`` object) when filtered. Failed runners are always included."""
    data = report.to_dict()
    if selection.filtered or selection.top:
        picked = selection.apply(report)[: selection.top]
        data["runners"] = [row.to_dict() for row in picked] + [
            row.to_dict() for row in report.failures
        ]
        data["selection"] = {
            "min_vram_free": None if selection.min_vram is None else selection.min_vram.bytes,
            "tags": selection.tags,
            "top": selection.top,
            "matched": len(selection.apply(report)),
        }
    for row in data["runners"]:
        row["id"] = row["runner_id"]
    return data


def print_report(ctx: Ctx, report: CapacityReport, selection: Selection) -> None:
    """Print the report: JSON; TSV rows (failures included, with their error); or the table,
    the failures under it, a summary line and the per-model totals."""
    if ctx.json:
        ctx.print_json(report_data(report, selection))
        return
    unit = selection.unit
    rows = selection.apply(report)
    matched = len(rows)
    rows = rows[: selection.top]
    if not ctx.out.is_terminal:
        tsv_rows = [[*cells(r, unit), ""] for r in rows]
        tsv_rows += [[*cells(r, unit), r.error or ""] for r in report.failures]
        ctx.print_rows((*columns(unit), Column("error")), tsv_rows, empty=_empty(report, selection))
        return
    if selection.filtered:
        title = f"{matched} of {len(report)} runners have {selection.describe()}"
    else:
        title = f"{len(report.ok)} of {len(report)} runners answered, most free VRAM first"
    if matched > len(rows):
        title += f" (showing the first {len(rows)})"
    if rows:
        ctx.print_rows(columns(unit), [cells(r, unit) for r in rows], title=title, empty="")
    else:
        ctx.line(_empty(report, selection))
    if report.failures:
        ctx.line(f"{len(report.failures)} runner(s) could not be read:")
        for row in report.failures:
            ctx.line(f"  {row.name or '-'} ({row.kind} {row.runner_id}): {row.error}")
    ctx.line(summary_line(report, unit))
    if report.gpus:
        ctx.out.print(gpu_totals_table(report, unit))


def _empty(report: CapacityReport, selection: Selection) -> str:
    if not len(report):
        return "No runners to sweep."
    if selection.filtered:
        return f"No runner has {selection.describe()} right now ({len(report)} swept)."
    return f"None of the {len(report)} runners could be read."

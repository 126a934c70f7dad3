"""How runners, stats and workflow summaries look (shared by ``runners`` and ``managed``).

Loaded when a command runs. A runner's header values never appear: only their names, with
``***``; a server's ``argv`` never appears at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import ManagedRunner, Runner, RunnerStats, WorkflowSummary
from ._context import (
    EXIT_OK,
    Column,
    Ctx,
    fmt_size,
    header_names,
    plain,
    safe_url,
    tags_text,
    when,
)

__all__ = ["managed_rows", "print_history", "print_stats", "runner_rows"]


def runner_rows(runner: Runner) -> list[tuple[str, str]]:
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


def managed_rows(runner: ManagedRunner) -> list[tuple[str, str]]:
    return [
        ("id", runner.id),
        ("name", runner.name),
        ("type", runner.runner_type),
        ("status", runner.status),
        ("tags", tags_text(runner.tags)),
        ("created", when(runner.created_at)),
        ("updated", when(runner.updated_at)),
    ]


def _pair(free: int | None, total: int | None) -> str:
    if free is None and total is None:
        return "-"
    return f"{fmt_size(free)} free of {fmt_size(total)}"


def print_stats(ctx: Ctx, runner_id: str, stats: RunnerStats) -> int:
    """A runner's stats: JSON (the stats with ``id``), or one field per line, one per device."""
    system = stats.system
    rows = [
        ("id", runner_id),
        ("os", system.os or "-"),
        ("ComfyUI", system.comfyui_version or "-"),
        ("Python", (system.python_version or "-").split()[0]),
        ("PyTorch", system.pytorch_version or "-"),
        ("RAM", _pair(system.ram_free, system.ram_total)),
        ("VRAM", _pair(stats.vram_free_total, stats.vram_total_total)),
    ]
    for number, device in enumerate(stats.devices):
        label = device.model or device.name or device.kind or "?"
        index = number if device.index is None else device.index
        rows.append(
            (
                f"device {index}",
                f"{label} ({device.kind or '?'}): {_pair(device.vram_free, device.vram_total)}",
            )
        )
    return ctx.print_record({"id": runner_id, **plain(stats)}, rows)


_HISTORY = (
    Column("id", essential=True, head=True),
    Column("name", essential=True, head=True),
    Column("status", essential=True),
    Column("created"),
    Column("completed"),
)


def print_history(ctx: Ctx, items: Sequence[WorkflowSummary]) -> int:
    """A runner's last workflows, newest first."""
    ctx.print_items(
        items,
        noun="workflow",
        columns=_HISTORY,
        cells=lambda w: (w.id, w.name, w.status, when(w.created_at), when(w.completed_at)),
    )
    return EXIT_OK

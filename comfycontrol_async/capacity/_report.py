"""The capacity report: one :class:`CapacityRow` per runner, and what a report answers.

Every runner a sweep or a search read comes back as one row, with its stats or its error, and
the age of its figures. :class:`CapacityReport` adds the aggregates, :meth:`CapacityReport.select`
answers "who can take this job", :meth:`CapacityReport.route` "which tags send it there",
:meth:`CapacityReport.to_dict` gives plain data for JSON and
:meth:`CapacityReport.to_prometheus` the Prometheus text format. This module does no I/O.

VRAM figures: ComfyUI reports "VRAM" for ``cpu`` and ``mps`` devices that is really system RAM,
so only GPU devices count towards VRAM here. A job runs on one device, so ``select`` compares
``min_vram_free`` with the largest free VRAM of a single GPU of the runner (``best_vram_free``),
not with the sum over its GPUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._exceptions import APIStatusError, ComfyControlError
from .._redact import scrub_text
from ..models import Device, RunnerStats
from ..resources._stats_result import StatsResult
from ._units import check_positive_int, parse_size

if TYPE_CHECKING:
    from ._route import RouteAdvice

RunnerKind = Literal["managed", "own"]

__all__ = [
    "CapacityReport",
    "CapacityRow",
    "DeviceCapacity",
    "GpuModelTotals",
    "RunnerKind",
    "check_positive_int",
    "parse_size",
    "row_from_result",
]


@attrs.frozen(kw_only=True)
class DeviceCapacity:
    """One compute device of a runner, as the sweep saw it."""

    name: str | None
    model: str | None
    type: str | None
    is_gpu: bool
    vram_free: int | None
    vram_total: int | None


@attrs.frozen(kw_only=True)
class CapacityRow:
    """One runner in a capacity report: its identity, and its capacity or its error.

    Attributes:
        kind: ``managed`` or ``own``.
        runner_id: The runner's id.
        name: Its name, if known.
        tags: Its tags.
        runner_type: ``pro``/``plus`` for managed runners, ``None`` for your own.
        devices: Its devices, main first.
        vram_free: Free VRAM summed over GPU devices, in bytes (``None`` if unknown).
        vram_total: Total VRAM summed over GPU devices.
        best_vram_free: The largest free VRAM of a single GPU (what one job can use).
        ram_free: Free system RAM.
        ram_total: Total system RAM.
        comfyui_version: The ComfyUI version the runner reports.
        error: A short description of the failure, when stats could not be read.
        error_type: The error's class name.
        status: The HTTP status of the failure, if it was an API answer.
        elapsed: Seconds spent reading its stats.
        attempts: HTTP requests spent on its stats.
        read_at: When its figures were read (Unix time), ``None`` if never.
        age: Seconds between ``read_at`` and the making of the report it belongs to.
        queue_depth: Your own queued and running workflows on it, when known.
    """

    kind: RunnerKind
    runner_id: str
    name: str | None = None
    tags: tuple[str, ...] = ()
    runner_type: str | None = None
    devices: tuple[DeviceCapacity, ...] = ()
    vram_free: int | None = None
    vram_total: int | None = None
    best_vram_free: int | None = None
    ram_free: int | None = None
    ram_total: int | None = None
    comfyui_version: str | None = None
    error: str | None = None
    error_type: str | None = None
    status: int | None = None
    elapsed: float = 0.0
    attempts: int = 0
    read_at: float | None = None
    age: float | None = None
    queue_depth: int | None = None

    @property
    def ok(self) -> bool:
        """Whether stats were read for this runner."""
        return self.error is None

    @property
    def gpu_models(self) -> tuple[str, ...]:
        """The models of its GPUs, main first."""
        return tuple(d.model or d.name or "?" for d in self.devices if d.is_gpu)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        data = attrs.asdict(self, recurse=True, value_serializer=_plain)
        data["ok"] = self.ok
        return data


def _plain(_: object, __: object, value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


@attrs.frozen(kw_only=True)
class GpuModelTotals:
    """Totals for one GPU model across the fleet."""

    model: str
    devices: int
    runners: int
    vram_free: int
    vram_total: int


def _device(device: Device) -> DeviceCapacity:
    gpu = device.is_gpu
    return DeviceCapacity(
        name=device.name,
        model=device.model,
        type=device.type,
        is_gpu=gpu,
        vram_free=device.vram_free,
        vram_total=device.vram_total,
    )


def _describe_error(error: Exception) -> tuple[str, str, int | None]:
    if isinstance(error, APIStatusError):
        return f"{error.status} {error.message}", type(error).__name__, error.status
    if isinstance(error, ComfyControlError):
        return error.message, type(error).__name__, None
    # Not built by the SDK, so not scrubbed when built: scrub it here.
    return scrub_text(str(error)) or type(error).__name__, type(error).__name__, None


def row_from_result(
    kind: RunnerKind, result: StatsResult, *, read_at: float | None = None
) -> CapacityRow:
    """Build the row of one runner from its stats result (success or failure)."""
    runner = result.runner
    name = getattr(runner, "name", None)
    tags = tuple(getattr(runner, "tags", ()) or ())
    runner_type = getattr(runner, "runner_type", None)
    if result.error is not None or result.stats is None:
        err = result.error or ComfyControlError("no stats")
        text, etype, status = _describe_error(err)
        return CapacityRow(
            kind=kind,
            runner_id=result.runner_id,
            name=name,
            tags=tags,
            runner_type=runner_type,
            error=text,
            error_type=etype,
            status=status,
            elapsed=result.elapsed,
            attempts=result.attempts,
            read_at=read_at,
        )
    stats: RunnerStats = result.stats
    devices = tuple(_device(d) for d in stats.devices)
    gpus = [d for d in devices if d.is_gpu]
    frees = [d.vram_free for d in gpus if d.vram_free is not None]
    totals = [d.vram_total for d in gpus if d.vram_total is not None]
    return CapacityRow(
        kind=kind,
        runner_id=result.runner_id,
        name=name,
        tags=tags,
        runner_type=runner_type,
        devices=devices,
        vram_free=sum(frees) if frees else (0 if not gpus else None),
        vram_total=sum(totals) if totals else (0 if not gpus else None),
        best_vram_free=max(frees) if frees else (0 if not gpus else None),
        ram_free=stats.system.ram_free,
        ram_total=stats.system.ram_total,
        comfyui_version=stats.system.comfyui_version,
        elapsed=result.elapsed,
        attempts=result.attempts,
        read_at=read_at,
    )


@attrs.frozen(kw_only=True)
class CapacityReport:
    """The capacity of a fleet at one moment: a row per runner, and the totals.

    Attributes:
        rows: One row per runner swept, sorted by free VRAM (largest first), failures last.
        elapsed: Seconds the sweep took.
        made_at: When the report was made (Unix time); rows' ``age`` is counted to it.
        listing_errors: Why some runners could not be listed (the sweep's deadline passed, a
            page failed after others were read); empty when every runner was listed.
    """

    rows: tuple[CapacityRow, ...]
    elapsed: float = 0.0
    made_at: float | None = None
    listing_errors: tuple[str, ...] = ()

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[CapacityRow],
        *,
        elapsed: float = 0.0,
        made_at: float | None = None,
        listing_errors: Iterable[str] = (),
    ) -> CapacityReport:
        """Sort the rows (free VRAM first, failures last), age them, and build the report."""
        ordered = sorted(
            rows,
            key=lambda r: (not r.ok, -(r.best_vram_free or 0), -(r.vram_free or 0), r.name or ""),
        )
        if made_at is not None:
            ordered = [
                attrs.evolve(r, age=None if r.read_at is None else max(0.0, made_at - r.read_at))
                for r in ordered
            ]
        return cls(
            rows=tuple(ordered),
            elapsed=elapsed,
            made_at=made_at,
            listing_errors=tuple(listing_errors),
        )

    @property
    def complete(self) -> bool:
        """Whether every runner was listed (see ``listing_errors``)."""
        return not self.listing_errors

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ok(self) -> tuple[CapacityRow, ...]:
        """Rows whose stats were read."""
        return tuple(r for r in self.rows if r.ok)

    @property
    def failures(self) -> tuple[CapacityRow, ...]:
        """Rows whose stats failed."""
        return tuple(r for r in self.rows if not r.ok)

    @property
    def vram_free(self) -> int:
        """Free VRAM over every GPU of every runner read."""
        return sum(r.vram_free or 0 for r in self.rows)

    @property
    def vram_total(self) -> int:
        """Total VRAM over every GPU of every runner read."""
        return sum(r.vram_total or 0 for r in self.rows)

    @property
    def gpus(self) -> int:
        """GPU devices seen."""
        return sum(1 for r in self.rows for d in r.devices if d.is_gpu)

    def by_gpu_model(self) -> list[GpuModelTotals]:
        """Free and total VRAM per GPU model, most free VRAM first."""
        acc: dict[str, list[int]] = {}
        runners: dict[str, set[str]] = {}
        for row in self.rows:
            for device in row.devices:
                if not device.is_gpu:
                    continue
                model = device.model or device.name or "unknown"
                slot = acc.setdefault(model, [0, 0, 0])
                slot[0] += 1
                slot[1] += device.vram_free or 0
                slot[2] += device.vram_total or 0
                runners.setdefault(model, set()).add(row.runner_id)
        totals = [
            GpuModelTotals(
                model=m, devices=v[0], runners=len(runners[m]), vram_free=v[1], vram_total=v[2]
            )
            for m, v in acc.items()
        ]
        return sorted(totals, key=lambda t: (-t.vram_free, t.model))

    def select(
        self,
        *,
        min_vram_free: int | str | None = None,
        tags: Sequence[str] | None = None,
        device_type: str | None = None,
        kind: RunnerKind | None = None,
        min_ram_free: int | str | None = None,
    ) -> list[CapacityRow]:
        """The runners that can take a job, most free VRAM first.

        Args:
            min_vram_free: Bytes (or ``"40GB"``, ``"24GiB"``) free on a single GPU.
            tags: The runner must have all of these tags.
            device_type: The runner must have a device of this type (``cuda``, ``cpu``...).
            kind: Only ``managed`` or only ``own`` runners.
            min_ram_free: Bytes (or a size string) of free system RAM.

        Returns:
            Matching rows; failed runners never match.
        """
        need_vram = None if min_vram_free is None else parse_size(min_vram_free)
        need_ram = None if min_ram_free is None else parse_size(min_ram_free)
        wanted = set(tags or ())
        picked = []
        for row in self.ok:
            if kind is not None and row.kind != kind:
                continue
            if wanted and not wanted.issubset(row.tags):
                continue
            if device_type is not None and not any(d.type == device_type for d in row.devices):
                continue
            if need_vram is not None and (row.best_vram_free or 0) < need_vram:
                continue
            if need_ram is not None and (row.ram_free or 0) < need_ram:
                continue
            picked.append(row)
        return picked

    def summary(self) -> dict[str, Any]:
        """The aggregates as plain data."""
        return {
            "runners": len(self.rows),
            "ok": len(self.ok),
            "failed": len(self.failures),
            "gpus": self.gpus,
            "vram_free": self.vram_free,
            "vram_total": self.vram_total,
            "elapsed": round(self.elapsed, 3),
            "by_gpu_model": [attrs.asdict(t) for t in self.by_gpu_model()],
            "failures_by_type": _count(r.error_type or "?" for r in self.failures),
            "complete": self.complete,
            "listing_errors": list(self.listing_errors),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain data (JSON-ready)."""
        return {"summary": self.summary(), "runners": [r.to_dict() for r in self.rows]}

    def route(
        self,
        *,
        tags: Sequence[str] = (),
        min_vram_free: int | str | None = None,
    ) -> RouteAdvice:
        """Which runners ComfyControl may pick for a workflow with ``tags``, and which fit.

        ComfyControl runs a workflow on a runner that has all of its tags, and a runner with no
        tags takes any workflow (the API docs). A workflow cannot be sent to a runner by id: what
        you choose is its tag set. See :class:`RouteAdvice`.

        Args:
            tags: The workflow's tags.
            min_vram_free: What the job needs free on one GPU (bytes, ``"40GB"``, ``"24GiB"``);
                ``None``: any runner whose stats were read fits.
        """
        from ._route import route

        return route(self.rows, tags=tags, min_vram_free=min_vram_free)

    def to_prometheus(self) -> str:
        """The report in the Prometheus text exposition format, with DCGM-style names.

        Needs the ``prometheus`` extra (``pip install 'comfycontrol-async[prometheus]'``).
        See :mod:`comfycontrol_async.capacity._prometheus` for the metrics.

        Raises:
            ImportError: ``prometheus_client`` is not installed (the message says how).
        """
        from ._prometheus import to_prometheus

        return to_prometheus(self)


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out

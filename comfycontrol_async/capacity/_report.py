"""The capacity report and what it answers, without I/O: rows, totals, ``select``, routing."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, Literal

import attrs

from .._exceptions import APIStatusError, ComfyControlError
from .._redact import scrub_text
from ..resources._stats_result import StatsResult

_MIB = 1024 * 1024
# The row's attribute -> the metric's name after ``comfycontrol_runner_``, its help.
_PER_RUNNER = {
    "ok": ("up", "1 if the runner's stats were read."),
    "ram_free": ("ram_free_bytes", "Free system RAM."),
    "ram_total": ("ram_total_bytes", "Total system RAM."),
    "queue_depth": ("queue_depth", "Your own queued and running workflows on the runner."),
    "age": ("stats_age_seconds", "Age of the runner's figures when the report was made."),
}

RunnerKind = Literal["managed", "own"]

_UNITS: Final = {"": 1, "b": 1} | {
    prefix + suffix: base ** (power + 1)
    for power, prefix in enumerate("kmgt")
    for suffix, base in (("", 1000), ("b", 1000), ("ib", 1024))
}
_SIZE: Final = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: str | int | float) -> int:
    """Bytes from ``24GiB`` (2^30 each), ``40GB`` (10^9 each), ``512 MiB`` or a number of bytes.

    Raises:
        ValueError: The text is not a size.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int | float):
        size = float(value)
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"not a size: {value!r} (try 24GiB, 40GB or a number of bytes)")
        number, unit = match.groups()
        factor = _UNITS.get(unit.lower())
        if factor is None:
            known = "B, KB, MB, GB, KiB, MiB, GiB"
            raise ValueError(f"unknown unit {unit!r} in {value!r} (use {known})")
        size = float(number) * factor
    if not 0 <= size < float("inf"):  # NaN fails too; int() would raise OverflowError on inf
        raise ValueError(f"a size must be a finite number of bytes, at least 0: {value!r}")
    return int(size)


def plain(_: object, __: object, value: Any) -> Any:
    """An ``attrs.asdict`` value serializer for JSON: tuples become lists, rows their ids."""
    if isinstance(value, tuple):
        return [v.runner_id if isinstance(v, CapacityRow) else v for v in value]
    return value


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
    """One runner in a capacity report (sizes in bytes; VRAM counts GPUs only).

    Attributes:
        runner_type: ``pro``/``plus`` for managed runners, ``None`` for your own.
        best_vram_free: The largest free VRAM of one GPU (what one job can use).
        error: Why its stats could not be read (``status``: the HTTP status, if any).
        age: Seconds from ``read_at`` (Unix time) to the making of its report.
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
        return {**attrs.asdict(self, value_serializer=plain), "ok": self.ok}


@attrs.frozen(kw_only=True)
class GpuModelTotals:
    """Totals for one GPU model across the fleet."""

    model: str
    devices: int
    runners: int
    vram_free: int
    vram_total: int


def row_from_result(
    kind: RunnerKind, result: StatsResult, *, read_at: float | None = None
) -> CapacityRow:
    """Build the row of one runner from its stats result (success or failure)."""
    row = CapacityRow(
        kind=kind,
        runner_id=result.runner_id,
        name=getattr(result.runner, "name", None),
        tags=tuple(getattr(result.runner, "tags", ()) or ()),
        runner_type=getattr(result.runner, "runner_type", None),
        elapsed=result.elapsed,
        attempts=result.attempts,
        read_at=read_at,
    )
    if result.error is not None or result.stats is None:
        err = result.error or ComfyControlError("no stats")
        status = err.status if isinstance(err, APIStatusError) else None
        if isinstance(err, ComfyControlError):
            text = err.message if status is None else f"{status} {err.message}"
        else:  # not built by the SDK, so not scrubbed when built: scrub it here
            text = scrub_text(str(err)) or type(err).__name__
        return attrs.evolve(row, error=text, error_type=type(err).__name__, status=status)
    stats = result.stats
    names = [a.name for a in attrs.fields(DeviceCapacity)]
    devices = tuple(DeviceCapacity(**{n: getattr(d, n) for n in names}) for d in stats.devices)
    frees = [d.vram_free for d in stats.gpus if d.vram_free is not None]
    totals = [d.vram_total for d in stats.gpus if d.vram_total is not None]
    unknown = 0 if not stats.gpus else None  # no GPU: no VRAM; GPUs without figures: unknown
    return attrs.evolve(
        row,
        devices=devices,
        vram_free=sum(frees) if frees else unknown,
        vram_total=sum(totals) if totals else unknown,
        best_vram_free=max(frees) if frees else unknown,
        ram_free=stats.system.ram_free,
        ram_total=stats.system.ram_total,
        comfyui_version=stats.system.comfyui_version,
    )


def fits(row: CapacityRow, need: int | None, device_type: str | None = None) -> bool:
    """Read, ``need`` bytes free on one GPU (a job runs on one) and a ``device_type`` device."""
    return (
        row.ok
        and (need is None or (row.best_vram_free or 0) >= need)
        and (device_type is None or any(d.type == device_type for d in row.devices))
    )


def aged(row: CapacityRow, now: float) -> CapacityRow:
    return attrs.evolve(row, age=None if row.read_at is None else max(0.0, now - row.read_at))


@attrs.frozen(kw_only=True)
class CapacityReport:
    """The capacity of a fleet at ``made_at`` (Unix time, rows' ``age`` counts to it): a row per
    runner (most free VRAM on one GPU first, failures last), and the totals."""

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
            ordered = [aged(r, made_at) for r in ordered]
        listing = tuple(listing_errors)
        return cls(rows=tuple(ordered), elapsed=elapsed, made_at=made_at, listing_errors=listing)

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
        groups: dict[str, list[tuple[str, DeviceCapacity]]] = {}
        for rid, d in ((r.runner_id, d) for r in self.rows for d in r.devices if d.is_gpu):
            groups.setdefault(d.model or d.name or "unknown", []).append((rid, d))
        totals = [
            GpuModelTotals(
                model=model,
                devices=len(group),
                runners=len({rid for rid, _ in group}),
                vram_free=sum(d.vram_free or 0 for _, d in group),
                vram_total=sum(d.vram_total or 0 for _, d in group),
            )
            for model, group in groups.items()
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
        """The runners that can take a job (never a failed one), most free VRAM first.

        Args:
            min_vram_free: Bytes (or ``"40GB"``, ``"24GiB"``) free on one GPU.
        """
        need = None if min_vram_free is None else parse_size(min_vram_free)
        need_ram = None if min_ram_free is None else parse_size(min_ram_free)
        wanted = set(tags or ())
        return [
            row
            for row in self.rows
            if fits(row, need, device_type)
            and (kind is None or row.kind == kind)
            and wanted.issubset(row.tags)
            and (need_ram is None or (row.ram_free or 0) >= need_ram)
        ]

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
            "failures_by_type": dict(Counter(r.error_type or "?" for r in self.failures)),
            "complete": self.complete,
            "listing_errors": list(self.listing_errors),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain data (JSON-ready)."""
        return {"summary": self.summary(), "runners": [r.to_dict() for r in self.rows]}

    def route(
        self, *, tags: Sequence[str] = (), min_vram_free: int | str | None = None
    ) -> RouteAdvice:
        """Which runners may take a workflow with ``tags``, which fit, and the tag sets to use."""
        if isinstance(tags, str):
            raise ValueError("tags must be a list of tags, not one string")
        wanted = frozenset(tags)
        need = None if min_vram_free is None else parse_size(min_vram_free)
        eligible = tuple(r for r in self.rows if not r.tags or wanted.issubset(r.tags))
        fitting = sorted(
            (r for r in eligible if fits(r, need)),
            key=lambda r: (r.queue_depth or 0, -(r.best_vram_free or 0), r.runner_id),
        )
        untagged = [r for r in eligible if not r.tags]
        misfits = sum(1 for r in untagged if not fits(r, need))
        # Only sets between ``wanted`` and a fitting runner's tags (<= 10 tags) can do better.
        sizes = Counter(frozenset(r.tags) for r in eligible if r.tags)
        misfit_sets = {frozenset(r.tags) for r in eligible if r.tags and not fits(r, need)}
        seeds = set() if misfits else {wanted, *(frozenset(r.tags) for r in fitting if r.tags)}
        candidates = {
            wanted.union(chosen)
            for tagset in seeds
            for size in range(len(tagset - wanted) + 1)
            for chosen in itertools.combinations(sorted(tagset - wanted), size)
        }
        options = []
        for candidate in candidates:
            runners = len(untagged) + sum(n for tagset, n in sizes.items() if candidate <= tagset)
            if runners and not any(candidate <= bad for bad in misfit_sets):
                options.append(TagSetOption(tags=tuple(sorted(candidate)), runners=runners))
        options.sort(key=lambda o: (-len(o.tags), -o.runners, o.tags))
        warning = (
            f"{misfits} of the {len(untagged)} untagged runners do not fit now and "
            "take any workflow: no tag set keeps the job off them"
        )
        return RouteAdvice(
            tags=tuple(sorted(wanted)),
            min_vram_free=need,
            eligible=eligible,
            fitting=tuple(fitting),
            share=len(fitting) / len(eligible) if eligible else 0.0,
            untagged=len(untagged),
            tag_sets=tuple(options),
            warnings=(warning,) if misfits else (),
        )

    def to_prometheus(self) -> str:
        """In the Prometheus text format. GPU memory has the names, units and labels of NVIDIA's
        DCGM exporter (``DCGM_FI_DEV_FB_FREE``, ``_USED``, ``_TOTAL`` in MiB; ``gpu``, ``device``,
        ``modelName``, ``Hostname``), so DCGM dashboards work; per runner,
        ``comfycontrol_runner_up``, ``_ram_free_bytes``, ``_ram_total_bytes``, ``_queue_depth``,
        ``_stats_age_seconds``; ``comfycontrol_stats_read_errors`` by error type.

        Raises:
            ImportError: ``prometheus_client`` (the ``prometheus`` extra) is not installed.
        """
        try:
            from prometheus_client import CollectorRegistry, generate_latest
            from prometheus_client.core import GaugeMetricFamily
        except ImportError as err:
            raise ImportError(
                "report.to_prometheus() needs prometheus_client: "
                "pip install 'comfycontrol-async[prometheus]'"
            ) from err

        fb = {
            part: GaugeMetricFamily(
                f"DCGM_FI_DEV_FB_{part.upper()}",
                f"{part.title()} frame buffer, MiB.",
                labels=["gpu", "device", "modelName", "Hostname", "runner_id", "kind"],
            )
            for part in ("free", "used", "total")
        }
        runner_labels = ["runner_id", "Hostname", "kind"]
        per_runner = {
            attr: GaugeMetricFamily(f"comfycontrol_runner_{name}", text, labels=runner_labels)
            for attr, (name, text) in _PER_RUNNER.items()
        }
        errors = GaugeMetricFamily(
            "comfycontrol_stats_read_errors",
            "Runners whose stats could not be read, by error type.",
            labels=["error_type"],
        )
        for row in self.rows:
            host = row.name or row.runner_id
            ident = [row.runner_id, host, row.kind]
            for attr, family in per_runner.items():
                if (value := getattr(row, attr)) is not None:
                    family.add_metric(ident, value)
            for index, device in enumerate(d for d in row.devices if d.is_gpu):
                name = device.name or ""
                device_label = name.split(" ", 1)[0] or device.type or ""
                labels = [
                    str(index),
                    device_label,
                    device.model or name,
                    host,
                    row.runner_id,
                    row.kind,
                ]
                free, total = device.vram_free, device.vram_total
                used = None if free is None or total is None else total - free
                for part, value in (("free", free), ("used", used), ("total", total)):
                    if value is not None:
                        fb[part].add_metric(labels, value / _MIB)
        failed = Counter(row.error_type or "unknown" for row in self.rows if not row.ok)
        for error_type, count in sorted(failed.items()):
            errors.add_metric([error_type], count)
        families = [*fb.values(), *per_runner.values(), errors]

        class _Report(CollectorRegistry):
            def collect(self) -> Iterator[Any]:
                return iter(families)

        return generate_latest(_Report()).decode()


@attrs.frozen(kw_only=True)
class TagSetOption:
    """A tag set (sorted) that routes the job only to runners that fit, and how many it reaches."""

    tags: tuple[str, ...]
    runners: int


@attrs.frozen(kw_only=True)
class RouteAdvice:
    """Where a workflow with ``tags`` may run, and what fits there now.

    Attributes:
        eligible: The runners with all of ``tags`` and the untagged ones (unreadable ones too).
        fitting: Those that fit now, fewest of your workflows first, then most free VRAM.
        tag_sets: Tag sets holding ``tags`` under which every eligible runner fits, most tags first.
    """

    tags: tuple[str, ...]
    min_vram_free: int | None
    eligible: tuple[CapacityRow, ...]
    fitting: tuple[CapacityRow, ...]
    share: float
    untagged: int
    tag_sets: tuple[TagSetOption, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready); runners as ids."""
        return attrs.asdict(self, value_serializer=plain)

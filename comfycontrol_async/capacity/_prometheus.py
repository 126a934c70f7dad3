"""A capacity report in the Prometheus text format, for an existing Prometheus/Grafana.

GPU memory has the names, units and labels of NVIDIA's DCGM exporter (``DCGM_FI_DEV_FB_FREE``,
``_USED``, ``_TOTAL`` in MiB; ``gpu``, ``device``, ``modelName``, ``Hostname``), so DCGM dashboards
work; per runner, ``comfycontrol_runner_up``, ``_ram_free_bytes``, ``_ram_total_bytes``,
``_queue_depth``, ``_stats_age_seconds``; ``comfycontrol_stats_read_errors`` by error type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._report import CapacityReport

_MIB = 1024 * 1024
# The row's attribute -> the metric's name after ``comfycontrol_runner_``, its help.
_PER_RUNNER = {
    "ok": ("up", "1 if the runner's stats were read."),
    "ram_free": ("ram_free_bytes", "Free system RAM."),
    "ram_total": ("ram_total_bytes", "Total system RAM."),
    "queue_depth": ("queue_depth", "Your own queued and running workflows on the runner."),
    "age": ("stats_age_seconds", "Age of the runner's figures when the report was made."),
}


def to_prometheus(report: CapacityReport) -> str:
    """Render ``report`` (see :meth:`CapacityReport.to_prometheus`)."""
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
    for row in report.rows:
        host = row.name or row.runner_id
        ident = [row.runner_id, host, row.kind]
        for attr, family in per_runner.items():
            if (value := getattr(row, attr)) is not None:
                family.add_metric(ident, value)
        for index, device in enumerate(d for d in row.devices if d.is_gpu):
            name = device.name or ""
            device_label = name.split(" ", 1)[0] or device.type or ""
            labels = [str(index), device_label, device.model or name, host, row.runner_id, row.kind]
            free, total = device.vram_free, device.vram_total
            used = None if free is None or total is None else total - free
            for part, value in (("free", free), ("used", used), ("total", total)):
                if value is not None:
                    fb[part].add_metric(labels, value / _MIB)
    failed = Counter(row.error_type or "unknown" for row in report.rows if not row.ok)
    for error_type, count in sorted(failed.items()):
        errors.add_metric([error_type], count)
    families = [*fb.values(), *per_runner.values(), errors]

    class _Report(CollectorRegistry):
        def collect(self) -> Iterator[Any]:
            return iter(families)

    return generate_latest(_Report()).decode()

"""A capacity report in the Prometheus text format, for an existing Prometheus/Grafana.

GPU memory uses the names and units of NVIDIA's DCGM exporter (``DCGM_FI_DEV_FB_FREE`` and
friends, in MiB, labels ``gpu``, ``device``, ``modelName``, ``Hostname``), so dashboards made
for DCGM work on a ComfyControl fleet; the rest is ``comfycontrol_*`` in base units. The text
format itself is ``prometheus_client``'s (the ``prometheus`` extra), imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._report import CapacityReport

__all__ = ["to_prometheus"]

_MIB = 1024 * 1024
_MISSING = (
    "report.to_prometheus() needs prometheus_client: pip install 'comfycontrol-async[prometheus]'"
)


def to_prometheus(report: CapacityReport) -> str:
    """Render ``report`` (see :meth:`CapacityReport.to_prometheus`)."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.core import GaugeMetricFamily
    except ImportError as err:
        raise ImportError(_MISSING) from err

    def collect() -> Iterator[Any]:
        gpu_labels = ["gpu", "device", "modelName", "Hostname", "runner_id", "kind"]
        fb_free = GaugeMetricFamily(
            "DCGM_FI_DEV_FB_FREE", "Free frame buffer, MiB.", labels=gpu_labels
        )
        fb_used = GaugeMetricFamily(
            "DCGM_FI_DEV_FB_USED", "Used frame buffer, MiB.", labels=gpu_labels
        )
        fb_total = GaugeMetricFamily(
            "DCGM_FI_DEV_FB_TOTAL", "Total frame buffer, MiB.", labels=gpu_labels
        )
        runner_labels = ["runner_id", "Hostname", "kind"]
        up = GaugeMetricFamily(
            "comfycontrol_runner_up", "1 if the runner's stats were read.", labels=runner_labels
        )
        ram_free = GaugeMetricFamily(
            "comfycontrol_runner_ram_free_bytes", "Free system RAM.", labels=runner_labels
        )
        ram_total = GaugeMetricFamily(
            "comfycontrol_runner_ram_total_bytes", "Total system RAM.", labels=runner_labels
        )
        queue = GaugeMetricFamily(
            "comfycontrol_runner_queue_depth",
            "Your own queued and running workflows on the runner.",
            labels=runner_labels,
        )
        age = GaugeMetricFamily(
            "comfycontrol_runner_stats_age_seconds",
            "Age of the runner's figures when the report was made.",
            labels=runner_labels,
        )
        errors = GaugeMetricFamily(
            "comfycontrol_stats_read_errors",
            "Runners whose stats could not be read, by error type.",
            labels=["error_type"],
        )
        by_type: dict[str, int] = {}
        for row in report.rows:
            host = row.name or row.runner_id
            ident = [row.runner_id, host, row.kind]
            up.add_metric(ident, 1.0 if row.ok else 0.0)
            if not row.ok:
                by_type[row.error_type or "unknown"] = (
                    by_type.get(row.error_type or "unknown", 0) + 1
                )
            if row.ram_free is not None:
                ram_free.add_metric(ident, row.ram_free)
            if row.ram_total is not None:
                ram_total.add_metric(ident, row.ram_total)
            if row.queue_depth is not None:
                queue.add_metric(ident, row.queue_depth)
            if row.age is not None:
                age.add_metric(ident, row.age)
            gpus = (d for d in row.devices if d.is_gpu)
            for index, device in enumerate(gpus):
                name = device.name or ""
                labels = [
                    str(index),
                    name.split(" ", 1)[0] or device.type or "",
                    device.model or name,
                    host,
                    row.runner_id,
                    row.kind,
                ]
                if device.vram_free is not None:
                    fb_free.add_metric(labels, device.vram_free / _MIB)
                if device.vram_total is not None:
                    fb_total.add_metric(labels, device.vram_total / _MIB)
                if device.vram_free is not None and device.vram_total is not None:
                    fb_used.add_metric(labels, (device.vram_total - device.vram_free) / _MIB)
        for error_type, count in sorted(by_type.items()):
            errors.add_metric([error_type], count)
        yield from (fb_free, fb_used, fb_total, up, ram_free, ram_total, queue, age, errors)

    class _Report:
        def collect(self) -> Iterator[Any]:
            return collect()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Report())
    return generate_latest(registry).decode()

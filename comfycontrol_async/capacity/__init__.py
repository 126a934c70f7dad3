"""Fleet capacity: "which of my runners can take a 40 GB job right now?".

- :func:`sweep` (``await cc.capacity(...)``): every runner's live stats, as a
  :class:`CapacityReport`.
- :func:`find_runners` (``await cc.find_runners(...)``): up to ``limit`` runners that fit, for a
  fraction of a sweep's requests, helped by a :class:`FactsCache` of static facts.
- :meth:`CapacityReport.route`: which tag sets send a workflow only to runners that fit.
- :func:`watch_capacity` (``async for report in cc.watch_capacity(...)``): a live view within a
  share of the client's rate.
- :meth:`CapacityReport.to_prometheus`: the Prometheus text format, DCGM-style names.

These take the resources they read (``cc.managed_runners``, ``cc.runners``, ``cc.workflows``),
never the client. VRAM figures: ComfyUI reports "VRAM" for ``cpu`` and ``mps`` devices that is
really system RAM, so only GPU devices count towards VRAM here. A job runs on one device, so a
runner fits ``min_vram_free`` when one of its GPUs has that much free (``best_vram_free``), not
the sum over its GPUs.
"""

from __future__ import annotations

from ._facts import FactsCache, RunnerFacts
from ._find import FoundRunners, RuledOut, find_runners
from ._report import (
    CapacityReport,
    CapacityRow,
    DeviceCapacity,
    GpuModelTotals,
    RunnerKind,
    parse_size,
    row_from_result,
)
from ._route import RouteAdvice, TagSetOption
from ._sweep import sweep
from ._watch import watch_capacity

__all__ = [
    "CapacityReport",
    "CapacityRow",
    "DeviceCapacity",
    "FactsCache",
    "FoundRunners",
    "GpuModelTotals",
    "RouteAdvice",
    "RuledOut",
    "RunnerFacts",
    "RunnerKind",
    "TagSetOption",
    "find_runners",
    "parse_size",
    "row_from_result",
    "sweep",
    "watch_capacity",
]

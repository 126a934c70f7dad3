"""Fleet capacity: "which of my runners can take a 40 GB job right now?".

:func:`sweep` (``cc.capacity()``) reads every runner; :func:`find_runners` finds a few that fit
for few requests; :meth:`CapacityReport.route` says which tag sets reach them;
:func:`watch_capacity` keeps a live view. They take the resources they read, never the client.
"""

from __future__ import annotations

from ._facts import FactsCache, RunnerFacts
from ._find import FoundRunners, RuledOut, find_runners
from ._report import (
    CapacityReport,
    CapacityRow,
    DeviceCapacity,
    GpuModelTotals,
    RouteAdvice,
    RunnerKind,
    TagSetOption,
    parse_size,
    row_from_result,
)
from ._sweep import sweep, watch_capacity

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

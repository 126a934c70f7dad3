"""Fleet capacity: :func:`sweep` reads every runner, :func:`find_runners` a few that fit,
:meth:`CapacityReport.route` finds tag sets, :func:`watch_capacity` keeps a live view. They take
the resources they read, never the client."""

from __future__ import annotations

from ._facts import FactsCache, RunnerFacts
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
from ._sweep import FoundRunners, RuledOut, find_runners, sweep, watch_capacity

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

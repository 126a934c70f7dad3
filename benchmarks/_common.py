"""What every benchmark shares: the sizes of a run, the shape of a result, and small statistics.

A benchmark is an ``async def run(sizes) -> BenchResult`` function. Its result holds the judged
figures (:class:`Figure`: a measured value, its goal, PASS or MISS) and the lines of detail that
explain them; :mod:`benchmarks._report` turns a list of results into ``RESULTS.md``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from typing import Literal

__all__ = [
    "FULL",
    "QUICK",
    "BenchResult",
    "Figure",
    "Sizes",
    "fmt",
    "median",
    "paired_ratios",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sizes:
    """How big and how often each benchmark runs (``FULL``, ``QUICK``, or tiny ones in tests)."""

    label: str
    # 1. get() per request
    get_requests: int
    get_reps: int
    # 2. walking a list at server latency
    walk_items: int
    walk_latency: float
    walk_reps: int
    walk_prefetch: tuple[int, ...]
    # 3. stats fan-out
    fanout_runners: int
    fanout_latency: float
    fanout_concurrency: int
    fanout_reps: int
    # 4. paced sweep against the rate-limit emulation
    paced_runs: tuple[tuple[float, int, int], ...]  # (time scale, requests, repetitions)
    # 5. memory of a long walk
    memory_items: int
    # 6. decoding
    decode_reps: int
    decode_items: int  # items decoded per timed batch and variant
    # 7. find_runners against a full sweep (paced, durations times find_scale)
    find_runners: int = 60
    find_scale: float = 0.02


FULL = Sizes(
    label="full",
    get_requests=2000,
    get_reps=7,
    walk_items=10_000,
    walk_latency=0.020,
    walk_reps=5,
    walk_prefetch=(10, 12, 16, 24, 32, 40, 50, 64, 99),
    fanout_runners=1000,
    fanout_latency=0.050,
    fanout_concurrency=64,
    fanout_reps=5,
    paced_runs=((0.1, 480, 3), (1.0, 400, 1)),
    memory_items=1_000_000,
    decode_reps=9,
    decode_items=20_000,
    find_runners=300,
    find_scale=0.05,
)

QUICK = Sizes(
    label="quick",
    get_requests=200,
    get_reps=5,
    walk_items=2_000,
    walk_latency=0.020,
    walk_reps=3,
    walk_prefetch=(10, 20),
    fanout_runners=200,
    fanout_latency=0.050,
    fanout_concurrency=64,
    fanout_reps=3,
    paced_runs=((0.1, 120, 1),),
    memory_items=20_000,
    decode_reps=5,
    decode_items=2_000,
    find_runners=200,
    find_scale=0.02,
)


Op = Literal["<=", ">=", "<", "=="]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Figure:
    """One judged figure: what was measured, against which goal.

    Attributes:
        name: What it is, e.g. ``"get(): SDK / raw aiohttp"``.
        value: The measured value (a median, or a count).
        unit: How to print it: ``"x"`` for a ratio, ``"MB"``, ``"count"``.
        op: How ``value`` must compare with ``goal`` to pass.
        goal: The goal's number.
        reps: How many runs the median is over.
        note: One short line shown beside the figure.
    """

    name: str
    value: float
    unit: str
    op: Op
    goal: float
    reps: int
    note: str = ""

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        if self.op == "<=":
            return self.value <= self.goal
        if self.op == ">=":
            return self.value >= self.goal
        if self.op == "<":
            return self.value < self.goal
        return self.value == self.goal

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"

    def shown(self) -> str:
        text = fmt(self.value, self.unit)
        if text == fmt(self.goal, self.unit) and self.value != self.goal:
            # Rounded onto the goal: show enough digits to see which side of it the value is.
            text = fmt(self.value, self.unit, digits=4)
        return text

    def goal_shown(self) -> str:
        return f"{self.op} {fmt(self.goal, self.unit)}"


@dataclasses.dataclass(kw_only=True)
class BenchResult:
    """What one benchmark returns.

    Attributes:
        key: Short machine name (``get``, ``walk``, ...).
        title: The section title in RESULTS.md.
        figures: The judged figures.
        details: Markdown lines explaining the figures (definitions, raw medians).
        metrics: The raw numbers behind the figures, by name (for tests and tooling).
        seconds: Wall time the benchmark took, set by the runner.
        other_load: Share of the machine's CPU that other processes used meanwhile (0 to 1),
            set by the runner when it can be measured.
    """

    key: str
    title: str
    figures: list[Figure]
    details: list[str]
    metrics: dict[str, float]
    seconds: float = 0.0
    other_load: float | None = None


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else math.nan


def paired_ratios(top: Sequence[float], bottom: Sequence[float]) -> list[float]:
    """Run-by-run ratios ``top[i] / bottom[i]`` of measurements taken side by side."""
    return [a / b for a, b in zip(top, bottom, strict=True) if b > 0]


def fmt(value: float, unit: str, *, digits: int = 2) -> str:
    """A value for a table cell, with as many digits as its size deserves."""
    if math.isnan(value):
        return "n/a"
    if unit == "count":
        return f"{value:.0f}"
    if unit == "x":
        return f"{value:.{digits}f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"

"""What :func:`find_runners` decides before and between its reads: who is ruled out for free,
who to ask next, and the shape of its answer. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ._facts import FactsCache
from ._report import CapacityReport, CapacityRow, RunnerKind

__all__ = ["Candidate", "FoundRunners", "RuledOut", "Search"]


@attrs.frozen(kw_only=True)
class RuledOut:
    """A runner :func:`find_runners` did not need to ask, and why."""

    runner_id: str
    kind: RunnerKind
    name: str | None
    reason: str


@attrs.frozen(kw_only=True)
class FoundRunners:
    """The answer of :func:`find_runners`.

    Attributes:
        rows: The fitting runners, best first (fewest of your workflows queued or running on
            them, then most free VRAM on one GPU), at most ``limit``; each row carries the age
            of its figures.
        requests: API requests spent: list pages (a page the client had to retry counts
            once), workflow list pages and detail reads, and every stats attempt.
        checked: Every runner whose stats it asked for, in the order the answers came
            (failures included; a runner tried again at the end comes when that try ends).
        ruled_out: Runners it did not need to ask, each with the reason.
        complete: Whether it considered every runner that could fit: true when fewer than
            ``limit`` fit, as every plausible runner was then read.
        listing_errors: Why some runners could not be listed, if any.
        elapsed: Seconds the search took.
    """

    rows: tuple[CapacityRow, ...]
    requests: int
    checked: tuple[CapacityRow, ...]
    ruled_out: tuple[RuledOut, ...]
    complete: bool
    listing_errors: tuple[str, ...] = ()
    elapsed: float = 0.0

    def report(self) -> CapacityReport:
        """The runners checked as a (partial) :class:`CapacityReport`, e.g. for ``route``."""
        return CapacityReport.from_rows(self.checked, elapsed=self.elapsed)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "rows": [r.to_dict() for r in self.rows],
            "requests": self.requests,
            "checked": [r.runner_id for r in self.checked],
            "ruled_out": [attrs.asdict(r) for r in self.ruled_out],
            "complete": self.complete,
            "listing_errors": list(self.listing_errors),
            "elapsed": round(self.elapsed, 3),
        }


@attrs.define
class Candidate:
    kind: RunnerKind
    runner: Any
    order: int
    queue_depth: int | None = None
    attempts: int = 0
    elapsed: float = 0.0
    error: Exception | None = None

    @property
    def rid(self) -> str:
        return str(self.runner.id)


class Search:
    """The state of one search: who is left, in what order, and what it cost."""

    def __init__(
        self,
        cache: FactsCache,
        *,
        need: int | None,
        tags: frozenset[str],
        device_type: str | None,
        facts_max_age: float,
        clock: Callable[[], float],
    ) -> None:
        self.cache = cache
        self.need = need
        self.tags = tags
        self.device_type = device_type
        self.max_age = facts_max_age
        self.clock = clock
        self.requests = 0
        self.pending: list[Candidate] = []
        self.ruled_out: list[RuledOut] = []
        self._largest_by_tag: dict[str, int] | None = None

    def count(self) -> None:
        self.requests += 1

    def consider(self, candidate: Candidate) -> None:
        """Rule a runner out for free, or queue it."""
        runner = candidate.runner
        reason = None
        missing = self.tags.difference(runner.tags or ())
        if missing:
            reason = f"lacks the tags {', '.join(sorted(missing))}"
        elif (facts := self.cache.get(candidate.rid, max_age=self.max_age)) is not None:
            age = f"seen {self.cache.age(facts):.0f} s ago"
            if self.need is not None and facts.best_vram_total < self.need:
                reason = (
                    f"its largest GPU has {facts.best_vram_total} bytes of VRAM in all, "
                    f"less than the {self.need} asked ({age})"
                )
            elif self.device_type is not None and self.device_type not in facts.device_types:
                reason = f"has no {self.device_type} device ({age})"
        if reason is None:
            self.pending.append(candidate)
        else:
            self.ruled_out.append(
                RuledOut(
                    runner_id=candidate.rid,
                    kind=candidate.kind,
                    name=getattr(runner, "name", None),
                    reason=reason,
                )
            )

    def _promise(self, c: Candidate) -> tuple[int, int, int, int]:
        """Sort key, smallest first: idle ones; then, in this order, those known big enough
        that had room when last read, those guessed big enough from their tags, those known
        big enough but busy when last read, those nothing is known of, and those guessed too
        small; the largest GPU first within each."""
        busy = 1 if c.queue_depth else 0
        facts = self.cache.get(c.rid, max_age=self.max_age)
        if facts is not None:
            had_room = facts.last_vram_free is not None and (
                self.need is None or facts.last_vram_free >= self.need
            )
            return (busy, 0 if had_room else 2, -facts.best_vram_total, c.order)
        guess = self._guess(c.runner.tags or ())
        if guess is None:
            return (busy, 3, 0, c.order)
        if self.need is not None and guess < self.need:
            return (busy, 4, -guess, c.order)
        return (busy, 1, -guess, c.order)

    def _guess(self, tags: Sequence[str]) -> int | None:
        """What a runner never read likely has, from the runners read that share its tags.

        Fleets tag by GPU model and tier, so for each of its tags the largest GPU seen on a
        runner with that tag bounds what the tag allows; the tightest of those bounds is the
        guess. A tag no runner read carries says nothing. It only orders the reads: a guess
        never rules a runner out.
        """
        if self._largest_by_tag is None:
            largest: dict[str, int] = {}
            for facts in self.cache.runners():
                for tag in facts.tags:
                    largest[tag] = max(largest.get(tag, 0), facts.best_vram_total)
            self._largest_by_tag = largest
        bounds = [self._largest_by_tag[t] for t in tags if t in self._largest_by_tag]
        return min(bounds, default=None)

    def learned(self) -> None:
        """New facts came in: guesses are made afresh."""
        self._largest_by_tag = None

    def pop_best(self) -> Candidate:
        best = min(self.pending, key=self._promise)
        self.pending.remove(best)
        return best

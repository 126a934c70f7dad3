"""Tag routing: which runners ComfyControl may pick for a workflow, and which tags keep it on
runners that fit.

A workflow cannot be sent to a runner by id. ComfyControl runs it on a runner that has all of the
workflow's tags, and a runner with no tags takes any workflow (the API docs, "Tags"); what a user
chooses is the tag set. This module answers from the rows of a report (full or partial: it only
knows the runners in it). It is pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ._report import CapacityRow, parse_size

__all__ = ["RouteAdvice", "TagSetOption", "route"]


@attrs.frozen(kw_only=True)
class TagSetOption:
    """A tag set that routes the job only to runners that fit.

    Attributes:
        tags: The tag set, sorted.
        runners: How many runners of the report ComfyControl may pick for it (all fit).
    """

    tags: tuple[str, ...]
    runners: int


@attrs.frozen(kw_only=True)
class RouteAdvice:
    """Where a workflow with ``tags`` may run, and what fits there now.

    Attributes:
        tags: The workflow's tags, sorted.
        min_vram_free: Bytes free on one GPU the job needs (``None``: any readable runner).
        eligible: The runners ComfyControl may pick: every runner having all of ``tags``, and
            every untagged runner. A runner whose stats could not be read is eligible and does
            not fit (nothing says it would).
        fitting: Those of them that fit now, best first.
        share: ``len(fitting) / len(eligible)`` (0.0 when nothing is eligible).
        untagged: How many of the eligible runners have no tags.
        tag_sets: Tag sets (each holding ``tags``) under which every eligible runner fits, most
            specific first (most tags, then most runners, then by name).
        warnings: What the user should know, e.g. untagged runners that do not fit dilute every
            tag set, so no tag set can keep the job off them.
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
        return {
            "tags": list(self.tags),
            "min_vram_free": self.min_vram_free,
            "eligible": [r.runner_id for r in self.eligible],
            "fitting": [r.runner_id for r in self.fitting],
            "share": self.share,
            "untagged": self.untagged,
            "tag_sets": [{"tags": list(o.tags), "runners": o.runners} for o in self.tag_sets],
            "warnings": list(self.warnings),
        }


def fits(row: CapacityRow, need: int | None) -> bool:
    """Whether the runner's stats were read and one of its GPUs has ``need`` bytes free."""
    return row.ok and (need is None or (row.best_vram_free or 0) >= need)


def eligible_for(row: CapacityRow, tags: frozenset[str]) -> bool:
    """Whether ComfyControl may run a workflow with ``tags`` on this runner."""
    return not row.tags or tags.issubset(row.tags)


def route(
    rows: Iterable[CapacityRow],
    *,
    tags: Sequence[str] = (),
    min_vram_free: int | str | None = None,
) -> RouteAdvice:
    """See :meth:`CapacityReport.route`."""
    if isinstance(tags, str):
        raise ValueError("tags must be a list of tags, not one string")
    wanted = frozenset(tags)
    need = None if min_vram_free is None else parse_size(min_vram_free)
    rows = tuple(rows)
    eligible = tuple(r for r in rows if eligible_for(r, wanted))
    fitting = tuple(
        sorted(
            (r for r in eligible if fits(r, need)),
            key=lambda r: (r.queue_depth or 0, -(r.best_vram_free or 0), r.runner_id),
        )
    )
    untagged = [r for r in eligible if not r.tags]
    untagged_misfits = sum(1 for r in untagged if not fits(r, need))
    warnings = []
    if untagged_misfits:
        warnings.append(
            f"{untagged_misfits} of the {len(untagged)} untagged runners do not fit now and "
            "take any workflow: no tag set keeps the job off them"
        )
    return RouteAdvice(
        tags=tuple(sorted(wanted)),
        min_vram_free=need,
        eligible=eligible,
        fitting=fitting,
        share=len(fitting) / len(eligible) if eligible else 0.0,
        untagged=len(untagged),
        tag_sets=() if untagged_misfits else _tag_sets(eligible, wanted, need),
        warnings=tuple(warnings),
    )


def _tag_sets(
    eligible: tuple[CapacityRow, ...], wanted: frozenset[str], need: int | None
) -> tuple[TagSetOption, ...]:
    """Every tag set S holding ``wanted`` whose eligible runners all fit (untagged ones do).

    The candidates are ``wanted`` itself and the sets between ``wanted`` and a fitting tagged
    runner's tags (at most 2**10 each: a runner has at most 10 tags); any other S would leave
    only untagged runners, which ``wanted`` already says. S qualifies when some runner is
    eligible for it and none of those is a misfit. Runners are grouped by tag set first, which
    keeps this small on real fleets.
    """
    groups: dict[frozenset[str], list[int]] = {}  # tag set -> [fitting, not fitting]
    untagged = 0
    for row in eligible:
        if not row.tags:
            untagged += 1
            continue
        slot = groups.setdefault(frozenset(row.tags), [0, 0])
        slot[0 if fits(row, need) else 1] += 1
    misfit_sets = [s for s, (_, bad) in groups.items() if bad]
    seen: set[frozenset[str]] = set()
    options = []
    # The requested tags alone, even when only untagged runners take them.
    seeds = [wanted, *(s for s, (good, _) in groups.items() if good)]
    for tagset in seeds:
        extra = sorted(tagset - wanted)
        for size in range(len(extra) + 1):
            for chosen in itertools.combinations(extra, size):
                candidate = wanted.union(chosen)
                if candidate in seen:
                    continue
                seen.add(candidate)
                if any(candidate <= bad for bad in misfit_sets):
                    continue
                runners = untagged + sum(g + b for s, (g, b) in groups.items() if candidate <= s)
                if runners:
                    options.append(TagSetOption(tags=tuple(sorted(candidate)), runners=runners))
    options.sort(key=lambda o: (-len(o.tags), -o.runners, o.tags))
    return tuple(options)

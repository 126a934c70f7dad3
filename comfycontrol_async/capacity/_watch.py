"""``watch_capacity``: a live capacity view for long-running services, within a share of the rate.

The watch keeps its requests under ``share`` of the client's rate with a limiter of its own (the
client's limiter still paces everything together) and reads the stalest and most promising
runners first, so a row is never older than about ``fleet size / (share x rate)`` plus a window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from .._config import RateLimit
from .._ratelimit import Pacer
from ..resources.managed_runners import ManagedRunners
from ..resources.runners import Runners
from ._facts import FactsCache
from ._report import (
    CapacityReport,
    CapacityRow,
    RunnerKind,
    check_positive_int,
    parse_size,
    row_from_result,
)
from ._sweep import list_runners, read_stats, runner_kinds

__all__ = ["watch_capacity"]

_T = TypeVar("_T")


async def watch_capacity(
    *,
    managed: ManagedRunners | None = None,
    own: Runners | None = None,
    rate: RateLimit | None = None,
    share: float = 0.5,
    tags: Sequence[str] | None = None,
    min_vram_free: int | str | None = None,
    batch: int | None = None,
    relist_every: float = 300.0,
    timeout: float | None = None,
    cache: FactsCache | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[CapacityReport]:
    """Yield capacity reports forever, refreshing within ``share`` of the client's rate.

    Stopping the loop (``break``) or cancelling the task ends it cleanly: nothing is left running.

    Args:
        managed: The managed runners resource to watch, or ``None``.
        own: Your own runners resource to watch (active ones), or ``None``.
        rate: The client's rate (the documented 40 per 10 s when ``None``).
        share: The part of ``rate`` the watch may use, in (0, 1].
        tags: Only runners with all of these tags.
        min_vram_free: What "most promising" means: runners whose largest GPU can hold this
            are read first among equally stale ones (the largest GPUs first without it).
        batch: Runners read per report (the watch's requests per window by default).
        relist_every: Seconds between two listings of the runners (new and removed ones).
        timeout: Seconds for each attempt (the client's if not given).
        cache: Static facts cache to read and update (a new one if not given).
        clock: Wall-clock seconds for ``read_at``, ``made_at`` and the rows' ages.

    Yields:
        A report of every runner read so far, after each round of ``batch`` reads.

    Raises:
        ValueError: Bad arguments, or neither ``managed`` nor ``own``.
        PermissionDeniedError: Managed runners were asked for on a tier without them.
    """
    kinds = runner_kinds("watch_capacity", managed, own)
    given: object = share
    if not (isinstance(given, int | float) and 0 < given <= 1):
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    if not (math.isfinite(relist_every) and relist_every > 0):
        raise ValueError(f"relist_every must be a positive number of seconds, got {relist_every!r}")
    base = rate or RateLimit()
    allowed = max(1, math.floor(base.requests * share))
    if batch is None:
        batch = allowed
    check_positive_int("batch", batch)
    need = None if min_vram_free is None else parse_size(min_vram_free)
    wanted = frozenset(tags or ())
    facts = cache if cache is not None else FactsCache(clock=clock)
    # The watch's own limiter: at most `allowed` of its requests in any window of the rate.
    budget = Pacer(RateLimit(requests=allowed, per_seconds=base.per_seconds, jitter=0.0))
    loop = asyncio.get_running_loop()
    resources = dict(kinds)
    runners: dict[str, tuple[RunnerKind, Any]] = {}
    rows: dict[str, CapacityRow] = {}
    listed_at: float | None = None

    async def paced(call: Callable[[], Awaitable[_T]]) -> _T:
        slot = await budget.acquire()
        try:
            return await call()
        finally:
            budget.release(slot)

    async def relist() -> None:
        fresh: dict[str, tuple[RunnerKind, Any]] = {}
        for kind, resource in kinds:
            listing = list_runners(resource, prefetch=0)
            async with listing:
                pages = aiter(listing.pages())
                while (page := await paced(partial(anext, pages, None))) is not None:
                    fresh.update(
                        (r.id, (kind, r)) for r in page.items if wanted <= set(r.tags or ())
                    )
        runners.clear()
        runners.update(fresh)
        for gone in set(rows) - set(fresh):
            del rows[gone]

    def promise(rid: str) -> tuple[float, int, int]:
        row = rows.get(rid)
        known = facts.get(rid)
        biggest = known.best_vram_total if known is not None else 0
        can = 0 if need is None or known is None or biggest >= need else 1
        stale = -math.inf if row is None or row.read_at is None else row.read_at
        return (stale, can, -biggest)

    async def read(rid: str) -> None:
        kind, runner = runners[rid]
        # A down runner is asked again on its next turn, not at once: one request a round.
        result = await paced(
            lambda: read_stats(resources[kind], runner, timeout=timeout, max_retries=0)
        )
        row = row_from_result(kind, result, read_at=clock())
        facts.remember(row)
        rows[rid] = row

    while True:
        if listed_at is None or loop.time() - listed_at >= relist_every:
            await relist()
            listed_at = loop.time()
        started = loop.time()
        turn = sorted(runners, key=promise)[:batch]
        async with asyncio.TaskGroup() as group:
            for rid in turn:
                group.create_task(read(rid))
        yield CapacityReport.from_rows(
            rows.values(), elapsed=loop.time() - started, made_at=clock()
        )
        if not turn:
            await asyncio.sleep(base.per_seconds)  # an empty fleet: look again later

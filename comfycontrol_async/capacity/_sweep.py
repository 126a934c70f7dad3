"""What reads a fleet: :func:`sweep`, :func:`watch_capacity` and the listing they share."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from .._config import NOT_GIVEN, NotGiven, RateLimit
from .._core import check_count, check_seconds
from .._exceptions import ComfyControlError
from .._ratelimit import Pacer
from ..resources._fanout import DEFAULT_CONCURRENCY
from ..resources._stats_result import ProgressCallback, StatsResult, read_stats
from ..resources.managed_runners import ManagedRunners
from ..resources.runners import Runners
from ._facts import FactsCache
from ._report import CapacityReport, CapacityRow, RunnerKind, parse_size, row_from_result

_T = TypeVar("_T")

Resource = ManagedRunners | Runners


def runner_kinds(
    who: str, managed: ManagedRunners | None, own: Runners | None
) -> list[tuple[RunnerKind, Resource]]:
    """The resources to read, by kind (``ValueError`` when neither is given)."""
    given: tuple[tuple[RunnerKind, Resource | None], ...] = (("managed", managed), ("own", own))
    kinds = [(kind, resource) for kind, resource in given if resource is not None]
    if not kinds:
        raise ValueError(f"{who} needs managed=True, own=True, or both")
    return kinds


def list_runners(resource: Resource, **options: Any) -> Any:
    """The paginator of a kind's runners (your own: the active ones)."""
    if isinstance(resource, Runners):
        return resource.list(status="active", **options)
    return resource.list(**options)


async def sweep(
    *,
    managed: ManagedRunners | None = None,
    own: Runners | None = None,
    tags: Sequence[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float | None = None,
    deadline: float | None = None,
    max_retries: int | NotGiven = NOT_GIVEN,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.time,
) -> CapacityReport:
    """List runners and read their live stats in one pipeline (a row per runner listed).

    Args:
        own: Your own runners to sweep (the active ones), or ``None``.
        concurrency: Stats calls in flight at once, per kind.
        timeout: Seconds per attempt (the client's if not given).
        deadline: Seconds for the whole sweep, listing included.
        max_retries: At most ``1 + max_retries`` attempts per runner (see ``stats_many``).
        progress: Called as ``progress(counts, result)`` after each runner.

    Returns:
        The report; if a kind's listing failed after some runners, ``listing_errors`` says so.

    Raises:
        ValueError: Neither ``managed`` nor ``own``.
        PermissionDeniedError: Managed runners were asked for on a tier without them.
        ComfyControlError: Listing a kind failed before any of its runners was listed.
    """
    kinds = runner_kinds("a sweep", managed, own)
    loop = asyncio.get_running_loop()
    started = loop.time()
    wanted = set(tags or ())
    listing_errors: list[str] = []

    async def one_kind(kind: RunnerKind, resource: Resource) -> list[CapacityRow]:
        listing = list_runners(resource)
        source = (r async for r in listing if wanted.issubset(r.tags)) if wanted else listing
        rows: list[CapacityRow] = []
        async with (
            listing,
            resource.stats_many(
                source,
                concurrency=concurrency,
                timeout=timeout,
                deadline=deadline,
                max_retries=max_retries,
                progress=progress,
            ) as results,
        ):
            try:
                async for result in results:
                    rows.append(row_from_result(kind, result, read_at=clock()))
            except ComfyControlError as err:
                if not rows and not results.progress.done:
                    raise  # nothing of this kind was listed: the error is the answer
                listing_errors.append(f"{kind} runners: {err.message}")
        return rows

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one_kind(kind, res)) for kind, res in kinds]
    except BaseExceptionGroup as failed:
        # One kind failed (e.g. a 403) and the other was cancelled: raise the typed error.
        raise failed.exceptions[0] from None
    rows = [row for task in tasks for row in task.result()]
    return CapacityReport.from_rows(
        rows, elapsed=loop.time() - started, made_at=clock(), listing_errors=listing_errors
    )


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

    A limiter of its own keeps the watch under ``share`` of the rate (the client's still paces
    all); it reads the stalest, most promising runners first, so a row is never older than about
    ``fleet size / (share x rate)`` plus a window. ``break`` or cancelling ends it cleanly.

    Args:
        own: Your own runners to watch (the active ones), or ``None``.
        rate: The client's rate (the documented 40 per 10 s when ``None``).
        share: The part of ``rate`` the watch may use, in (0, 1].
        min_vram_free: Among equally stale runners, those whose largest GPU can hold this are
            read first (the largest GPUs first without it).
        batch: Runners read per report (the watch's requests per window by default).
        timeout: Seconds per attempt (the client's if not given).

    Yields:
        A report of every runner read so far, after each round of ``batch`` reads.

    Raises:
        ValueError: Bad arguments, or neither ``managed`` nor ``own``.
        PermissionDeniedError: Managed runners were asked for on a tier without them.
    """
    kinds = runner_kinds("watch_capacity", managed, own)
    given: object = share
    if isinstance(given, bool) or not (isinstance(given, int | float) and 0 < given <= 1):
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    check_seconds("relist_every", relist_every, none=False)
    check_seconds("timeout", timeout)
    base = rate or RateLimit()
    allowed = max(1, math.floor(base.requests * share))
    if batch is None:
        batch = allowed
    check_count("batch", batch)
    need = None if min_vram_free is None else parse_size(min_vram_free)
    wanted = frozenset(tags or ())
    facts = cache if cache is not None else FactsCache(clock=clock)
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
        fetch, job = resources[kind]._fetch_stats, StatsResult(runner_id=rid, runner=runner)
        # A down runner is asked again on its next turn, not at once: one request a round.
        result = await paced(lambda: read_stats(fetch, job, timeout=timeout, max_retries=0))
        rows[rid] = row = row_from_result(kind, result, read_at=clock())
        facts.remember(row)

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

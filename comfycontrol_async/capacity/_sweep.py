"""What reads a fleet: :func:`sweep`, :func:`find_runners`, :func:`watch_capacity`."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Final, TypeVar

import attrs

from .._config import NOT_GIVEN, NotGiven, RateLimit
from .._core import check_count, check_seconds
from .._exceptions import APITimeoutError, ComfyControlError
from .._ratelimit import Pacer
from ..resources._fanout import DEFAULT_CONCURRENCY
from ..resources._stats_result import ProgressCallback, StatsResult, read_stats, retry_later
from ..resources.managed_runners import ManagedRunners
from ..resources.runners import Runners
from ..resources.workflows import Workflows
from . import _report
from ._facts import FactsCache
from ._report import CapacityReport, CapacityRow, RunnerKind

_T = TypeVar("_T")
DEFAULT_FACTS_MAX_AGE: Final = 7 * 86400.0
#: Workflow detail reads spent per search to learn where your queued/running workflows are.
MAX_WORKFLOW_LOOKUPS: Final = 20

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
    active: dict[str, Any] = {"status": "active"} if isinstance(resource, Runners) else {}
    return resource.list(**active, **options)


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
    """List runners and read their live stats: a row per runner listed, what could not be listed
    in ``listing_errors`` (README, "Capacity sweeps", for retries and ``deadline``).

    Args:
        concurrency: Stats calls in flight at once, per kind.
        progress: Called as ``progress(counts, result)`` after each runner.

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
                    rows.append(_report.row_from_result(kind, result, read_at=clock()))
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
    """Yield a report of every runner read so far after each round of ``batch`` reads, forever,
    stalest runners first, within ``share`` (in (0, 1]) of the client's rate.

    Args:
        rate: The client's rate (the documented 40 per 10 s when ``None``).
        min_vram_free: Among equally stale runners, read those whose largest GPU can hold it first.
        batch: Runners read per report (the watch's requests per window by default).

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
    batch = allowed if batch is None else batch
    check_count("batch", batch)
    need = None if min_vram_free is None else _report.parse_size(min_vram_free)
    wanted = frozenset(tags or ())
    facts = cache if cache is not None else FactsCache(clock=clock)
    budget = Pacer(RateLimit(requests=allowed, per_seconds=base.per_seconds, jitter=0.0))
    loop = asyncio.get_running_loop()
    rows: dict[str, CapacityRow] = {}
    listed_at: float | None = None

    async def paced(call: Callable[[], Awaitable[_T]]) -> _T:
        slot = await budget.acquire()
        try:
            return await call()
        finally:
            budget.release(slot)

    async def relist() -> dict[str, tuple[RunnerKind, Any]]:
        fresh: dict[str, tuple[RunnerKind, Any]] = {}
        for kind, resource in kinds:
            listing = list_runners(resource, prefetch=0)
            async with listing:
                pages = aiter(listing.pages())
                while (page := await paced(partial(anext, pages, None))) is not None:
                    fresh.update(
                        (r.id, (kind, r)) for r in page.items if wanted <= set(r.tags or ())
                    )
        return fresh

    def promise(rid: str) -> tuple[float, int, int]:
        row = rows.get(rid)
        known = facts.get(rid)
        biggest = known.best_vram_total if known is not None else 0
        can = 0 if need is None or known is None or biggest >= need else 1
        stale = -math.inf if row is None or row.read_at is None else row.read_at
        return (stale, can, -biggest)

    async def read(rid: str) -> None:
        kind, runner = runners[rid]
        fetch, job = dict(kinds)[kind]._fetch_stats, StatsResult(runner_id=rid, runner=runner)
        # A down runner is asked again on its next turn, not at once: one request a round.
        result = await paced(lambda: read_stats(fetch, job, timeout=timeout, max_retries=0))
        rows[rid] = row = _report.row_from_result(kind, result, read_at=clock())
        facts.remember(row)

    while True:
        if listed_at is None or loop.time() - listed_at >= relist_every:
            runners = await relist()
            rows = {rid: row for rid, row in rows.items() if rid in runners}
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
        rows: Up to ``limit`` fitting runners, fewest of your workflows first, then most free VRAM.
        requests: API requests spent (a retried page counts once, every stats attempt counts).
        checked: Every runner whose stats it asked for, in the order the answers came.
        complete: Whether it considered every runner that could fit (true when fewer fit).
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
        """Plain data (JSON-ready); runners checked as ids."""
        data = attrs.asdict(self, value_serializer=_report.plain)
        return data | {"rows": [r.to_dict() for r in self.rows], "elapsed": round(self.elapsed, 3)}


@attrs.define
class _Candidate:
    kind: RunnerKind
    job: StatsResult  # a fresh result, or its failed first read
    queue_depth: int | None = None


async def find_runners(
    *,
    managed: ManagedRunners | None = None,
    own: Runners | None = None,
    workflows: Workflows | None = None,
    cache: FactsCache,
    min_vram_free: int | str | None = None,
    tags: Sequence[str] | None = None,
    device_type: str | None = None,
    limit: int = 5,
    concurrency: int = 8,
    timeout: float | None = None,
    deadline: float | None = None,
    max_retries: int | NotGiven = NOT_GIVEN,
    facts_max_age: float = DEFAULT_FACTS_MAX_AGE,
    clock: Callable[[], float] = time.time,
) -> FoundRunners:
    """Find up to ``limit`` runners that can take a job now, for as few requests as possible
    (how: README, "Where can this job run now?").

    Args:
        workflows: Read to learn which runners your queued and running workflows keep busy.
        facts_max_age: Seconds after which facts are not used to rule out.

    Raises:
        ValueError: Bad arguments, or neither ``managed`` nor ``own``.
        PermissionDeniedError: Managed runners were asked for on a tier without them.
    """
    kinds = runner_kinds("find_runners", managed, own)
    check_count("limit", limit)
    check_count("concurrency", concurrency)
    if isinstance(tags, str):
        raise ValueError("tags must be a list of tags, not one string")
    check_seconds("deadline", deadline)
    check_seconds("timeout", timeout)
    if not isinstance(max_retries, NotGiven):
        check_count("max_retries", max_retries, zero=True)
    need = None if min_vram_free is None else _report.parse_size(min_vram_free)
    wanted = frozenset(tags or ())
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline_at = None if deadline is None else started + deadline
    spent: list[None] = []  # one entry per request
    count = partial(spent.append, None)
    listed: list[tuple[RunnerKind, Any]] = []
    listing_errors: list[str] = []
    depths: dict[str, int] | None = None
    cut = False
    try:
        async with asyncio.timeout_at(deadline_at):
            for kind, resource in kinds:
                before = len(listed)
                try:
                    async for runner in _counted_items(list_runners(resource), count):
                        listed.append((kind, runner))
                except ComfyControlError as err:
                    if len(listed) == before:
                        raise
                    listing_errors.append(f"{kind} runners: {err.message}")
            if workflows is not None:  # your queued and running workflows per runner
                depths, lookups = {}, 0
                for status in ("running", "queued"):
                    async for summary in _counted_items(workflows.list(status=status), count):
                        rid = cache.workflow_runner(summary.id)
                        if rid is None and lookups < MAX_WORKFLOW_LOOKUPS:
                            lookups += 1
                            count()
                            try:
                                detail = await workflows.get(summary.id)
                            except ComfyControlError:
                                continue  # gone or unreadable: it tells nothing about a runner
                            rid = detail.managed_runner_id or detail.user_runner_id
                            if rid is not None:  # fixed once assigned: cached for good
                                cache.remember_workflow(summary.id, rid)
                        if rid is not None:
                            depths[rid] = depths.get(rid, 0) + 1
    except TimeoutError:
        cut = True
        listing_errors.append(f"the search's deadline of {deadline} s passed while listing")

    pending: list[_Candidate] = []
    ruled_out: list[RuledOut] = []
    for kind, runner in listed:
        rid = str(runner.id)
        facts = cache.get(rid, max_age=facts_max_age)
        seen = "" if facts is None else f"seen {cache.age(facts):.0f} s ago"
        if missing := wanted.difference(runner.tags or ()):
            reason = f"lacks the tags {', '.join(sorted(missing))}"
        elif facts and need is not None and facts.best_vram_total < need:
            reason = (
                f"its largest GPU has {facts.best_vram_total} bytes of VRAM in all, "
                f"less than the {need} asked ({seen})"
            )
        elif facts and device_type is not None and device_type not in facts.device_types:
            reason = f"has no {device_type} device ({seen})"
        else:
            job = StatsResult(runner_id=rid, runner=runner)
            pending.append(_Candidate(kind, job, None if depths is None else depths.get(rid, 0)))
            continue
        ruled_out.append(RuledOut(runner_id=rid, kind=kind, name=runner.name, reason=reason))

    # A runner never read is guessed from its tags (fleets tag by GPU model and tier): the
    # tightest of its tags' largest GPUs. A guess orders the reads, never rules one out.
    largest: dict[str, int] = {}

    def promise(c: _Candidate) -> tuple[int, int, int]:
        # Idle first; then known with room, guessed big enough, known, unknown, guessed small.
        busy = 1 if c.queue_depth else 0
        facts = cache.get(c.job.runner_id, max_age=facts_max_age)
        if facts is not None:
            free = facts.last_vram_free
            had_room = free is not None and (need is None or free >= need)
            return (busy, 0 if had_room else 2, -facts.best_vram_total)
        tags = c.job.runner.tags or ()
        guess = min((largest[t] for t in tags if t in largest), default=None)
        if guess is None:
            return (busy, 3, 0)
        return (busy, 4 if need is not None and guess < need else 1, -guess)

    def remaining() -> float | None:
        return None if deadline_at is None else deadline_at - loop.time()

    found: list[CapacityRow] = []
    checked: list[CapacityRow] = []
    later: list[_Candidate] = []
    in_flight: dict[asyncio.Task[StatsResult], _Candidate] = {}
    try:
        for first in (True, False):
            queue = pending if first else later
            while len(found) < limit and not cut:
                largest.clear()  # from the facts as they are now, reads of the last round included
                for known in cache.runners():
                    for tag in known.tags:
                        largest[tag] = max(largest.get(tag, 0), known.best_vram_total)
                while queue and len(in_flight) < min(concurrency, limit - len(found)):
                    c = min(queue, key=promise) if first else queue[0]  # the first among equals
                    queue.remove(c)
                    read = read_stats(
                        dict(kinds)[c.kind]._fetch_stats,
                        c.job,
                        timeout=timeout,
                        deadline=remaining(),
                        max_retries=max_retries,
                        count=count,
                    )
                    in_flight[loop.create_task(read)] = c
                if not in_flight:
                    break
                left = remaining()
                if left is not None and left <= 0:
                    cut = True
                    break
                done, _ = await asyncio.wait(
                    in_flight, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    c = in_flight.pop(task)
                    result = task.result()
                    row = _report.row_from_result(c.kind, result, read_at=clock())
                    row = attrs.evolve(row, queue_depth=c.queue_depth)
                    cache.remember(row)
                    if retry_later(c.job, result, max_retries):
                        c.job = result
                        later.append(c)
                        continue
                    checked.append(row)
                    if _report.fits(row, need, device_type):
                        found.append(row)
    finally:
        unread = bool(in_flight)  # the limit was met while these were asked: never read
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
    # Runners to retry at the end but not reached (the limit was met first) are checked too.
    checked.extend(_report.row_from_result(c.kind, c.job, read_at=clock()) for c in later)
    if cut and not listing_errors:
        listing_errors.append(str(APITimeoutError(f"the search's deadline of {deadline} s passed")))
    now = clock()
    rows = sorted(found, key=lambda r: (r.queue_depth or 0, -(r.best_vram_free or 0)))
    return FoundRunners(
        rows=tuple(_report.aged(r, now) for r in rows[:limit]),
        requests=len(spent),
        checked=tuple(_report.aged(r, now) for r in checked),
        ruled_out=tuple(ruled_out),
        complete=not (cut or listing_errors or pending or later or unread),
        listing_errors=tuple(listing_errors),
        elapsed=loop.time() - started,
    )


async def _counted_items(listing: Any, count: Callable[[], None]) -> AsyncIterator[Any]:
    async with listing:
        async for page in listing.pages():
            count()
            for item in page.items:
                yield item

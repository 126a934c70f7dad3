"""``find_runners``: "where can this job run now?" for a fraction of a full sweep's requests.

The API's rate limit is the wall (40 requests per 10 s), so the only way to answer faster is to
spend fewer requests per answer. :func:`find_runners` lists the runners (a request per hundred),
rules out without a stats request every runner whose tags or known static facts cannot meet the
request (:class:`FactsCache`), asks the most promising ones first (idle, then the largest known
GPU), stops once ``limit`` fitting runners are confirmed, and retries a runner that failed in a
way worth retrying once at the end, only if still needed. Every row it returns fits by the live
stats it read.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

import attrs

from .._config import NOT_GIVEN, NotGiven
from .._exceptions import APITimeoutError, ComfyControlError
from ..resources._fanout import StatsResult, is_down, retry_later
from ..resources.managed_runners import ManagedRunners
from ..resources.runners import Runners
from ..resources.workflows import Workflows
from ._facts import FactsCache
from ._plan import Candidate, FoundRunners, RuledOut, Search
from ._report import (
    CapacityRow,
    check_positive_int,
    parse_size,
    row_from_result,
)
from ._route import fits

__all__ = ["FoundRunners", "RuledOut", "find_runners"]

DEFAULT_FACTS_MAX_AGE: Final = 7 * 86400.0
#: Workflow detail reads spent per search to learn where your queued/running workflows are.
MAX_WORKFLOW_LOOKUPS: Final = 20


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
    """Find up to ``limit`` runners that can take a job now, spending as few requests as possible.

    Args:
        managed: The managed runners resource to search, or ``None``.
        own: Your own runners resource to search (active ones), or ``None``.
        workflows: The workflows resource: your queued and running workflows tell which runners
            are busy (``None``: do not look).
        cache: The static facts cache, read and updated.
        min_vram_free: Bytes (or ``"40GB"``, ``"24GiB"``) free on a single GPU.
        tags: The runner must have all of these tags.
        device_type: The runner must have a device of this type (``cuda``, ``cpu``...).
        limit: How many fitting runners are wanted.
        concurrency: At most this many stats requests in flight (fewer as ``limit`` nears).
        timeout: Seconds for each attempt (the client's if not given).
        deadline: Seconds for the whole search, listing included; what was found by then is
            returned, with ``complete`` false.
        max_retries: A runner's attempts in all are at most ``1 + max_retries`` when given;
            not given, its end-of-search try gets the client's retries (a 500 gets none).
        facts_max_age: Static facts older than this many seconds are not used to rule out.
        clock: Wall-clock seconds for the rows' ``read_at`` and the cache.

    Raises:
        ValueError: Bad arguments, or neither ``managed`` nor ``own``.
        PermissionDeniedError: Managed runners were asked for on a tier without them.
    """
    if managed is None and own is None:
        raise ValueError("find_runners needs managed=True, own=True, or both")
    check_positive_int("limit", limit)
    check_positive_int("concurrency", concurrency)
    if isinstance(tags, str):
        raise ValueError("tags must be a list of tags, not one string")
    if deadline is not None and not (math.isfinite(deadline) and deadline > 0):
        raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
    need = None if min_vram_free is None else parse_size(min_vram_free)
    search = Search(
        cache,
        need=need,
        tags=frozenset(tags or ()),
        device_type=device_type,
        facts_max_age=facts_max_age,
        clock=clock,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline_at = None if deadline is None else started + deadline
    listing_errors: list[str] = []
    cut = False

    def remaining() -> float | None:
        return None if deadline_at is None else deadline_at - loop.time()

    # 1. Who is there (a request per hundred runners), and who is busy with your work.
    listed: list[Candidate] = []
    try:
        async with asyncio.timeout_at(deadline_at):
            for kind, resource in (("managed", managed), ("own", own)):
                if resource is None:
                    continue
                listing: Any = (
                    resource.list(status="active")
                    if isinstance(resource, Runners)
                    else resource.list()
                )
                before = len(listed)
                try:
                    async for runner in _counted_items(listing, search.count):
                        listed.append(Candidate(kind, runner, len(listed)))  # type: ignore[arg-type]
                except ComfyControlError as err:
                    if len(listed) == before:
                        raise
                    listing_errors.append(f"{kind} runners: {err.message}")
            depths = {} if workflows is None else await _queue_depths(workflows, search)
    except TimeoutError:
        cut = True
        depths = {}
        listing_errors.append(f"the search's deadline of {deadline} s passed while listing")
    for candidate in listed:
        if workflows is not None and not cut:
            candidate.queue_depth = depths.get(candidate.rid, 0)
        search.consider(candidate)

    # 2. Read stats, most promising first, until `limit` fit; then the retries at the end.
    found: list[CapacityRow] = []
    checked: list[CapacityRow] = []
    later: list[Candidate] = []
    in_flight: dict[asyncio.Task[StatsResult], Candidate] = {}

    async def read(c: Candidate, retries: int | NotGiven) -> StatsResult:
        def on_attempt() -> None:
            c.attempts += 1
            search.count()

        resource = managed if c.kind == "managed" else own
        assert resource is not None
        left = remaining()
        begun = loop.time()
        try:
            stats = await resource._fetch_stats(
                c.rid,
                timeout=NOT_GIVEN if timeout is None else timeout,
                deadline=NOT_GIVEN if left is None else left,
                max_retries=retries,
                on_attempt=on_attempt,
            )
        except Exception as err:
            c.elapsed += loop.time() - begun
            return StatsResult(
                runner_id=c.rid, runner=c.runner, error=err, elapsed=c.elapsed, attempts=c.attempts
            )
        c.elapsed += loop.time() - begun
        return StatsResult(
            runner_id=c.rid, runner=c.runner, stats=stats, elapsed=c.elapsed, attempts=c.attempts
        )

    unread = False
    try:
        for first in (True, False):
            queue = search.pending if first else later
            while len(found) < limit and not cut:
                wanted = min(concurrency, limit - len(found))
                while queue and len(in_flight) < wanted:
                    c = search.pop_best() if first else queue.pop(0)
                    if first:
                        retries: int | NotGiven = 0
                    elif c.error is not None and is_down(c.error):
                        retries = 0
                    else:
                        retries = (
                            max_retries
                            if isinstance(max_retries, NotGiven)
                            else max(0, max_retries - 1)
                        )
                    in_flight[loop.create_task(read(c, retries))] = c
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
                    row = row_from_result(c.kind, result, read_at=clock())
                    row = attrs.evolve(row, queue_depth=c.queue_depth)
                    search.cache.remember(row)
                    search.learned()
                    if result.error is not None:
                        c.error = result.error
                        if first and max_retries != 0 and retry_later(result.error):
                            later.append(c)
                            continue
                    checked.append(row)
                    if _matches(row, need, device_type):
                        found.append(row)
    finally:
        unread = bool(in_flight)  # the limit was met while these were asked: never read
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    # Runners retried at the end but not reached (the limit was met first) are checked too.
    for c in later:
        if c.error is not None:
            checked.append(
                row_from_result(
                    c.kind,
                    StatsResult(
                        runner_id=c.rid,
                        runner=c.runner,
                        error=c.error,
                        elapsed=c.elapsed,
                        attempts=c.attempts,
                    ),
                    read_at=clock(),
                )
            )
    if cut and not listing_errors:
        listing_errors.append(str(APITimeoutError(f"the search's deadline of {deadline} s passed")))
    complete = not (cut or listing_errors or search.pending or later or unread)
    now = clock()
    rows = sorted(found, key=lambda r: (r.queue_depth or 0, -(r.best_vram_free or 0)))
    return FoundRunners(
        rows=tuple(_aged(r, now) for r in rows[:limit]),
        requests=search.requests,
        checked=tuple(_aged(r, now) for r in checked),
        ruled_out=tuple(search.ruled_out),
        complete=complete,
        listing_errors=tuple(listing_errors),
        elapsed=loop.time() - started,
    )


def _matches(row: CapacityRow, need: int | None, device_type: str | None) -> bool:
    if not fits(row, need):
        return False
    return device_type is None or any(d.type == device_type for d in row.devices)


def _aged(row: CapacityRow, now: float) -> CapacityRow:
    return attrs.evolve(row, age=None if row.read_at is None else max(0.0, now - row.read_at))


async def _counted_items(listing: Any, count: Callable[[], None]) -> AsyncIterator[Any]:
    """Walk a paginator's items, counting one request per page."""
    async with listing:
        async for page in listing.pages():
            count()
            for item in page.items:
                yield item


async def _queue_depths(workflows: Workflows, search: Search) -> dict[str, int]:
    """Your queued and running workflows per runner (a workflow's runner is cached for good)."""
    depths: dict[str, int] = {}
    lookups = 0
    for status in ("running", "queued"):
        async for summary in _counted_items(workflows.list(status=status), search.count):
            rid = search.cache.workflow_runner(summary.id)
            if rid is None and lookups < MAX_WORKFLOW_LOOKUPS:
                lookups += 1
                search.count()
                try:
                    detail = await workflows.get(summary.id)
                except ComfyControlError:
                    continue  # gone or unreadable: it tells nothing about a runner
                rid = detail.managed_runner_id or detail.user_runner_id
                if rid is not None:
                    search.cache.remember_workflow(summary.id, rid)
            if rid is not None:
                depths[rid] = depths.get(rid, 0) + 1
    return depths

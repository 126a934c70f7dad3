"""A full capacity sweep (:func:`sweep`), and the reads that every capacity helper shares."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._config import NOT_GIVEN, NotGiven
from .._exceptions import ComfyControlError
from ..resources._fanout import DEFAULT_CONCURRENCY, ProgressCallback, StatsResult
from ..resources.managed_runners import ManagedRunners
from ..resources.runners import Runners
from ._report import CapacityReport, CapacityRow, RunnerKind, row_from_result

__all__ = ["list_runners", "read_stats", "runner_kinds", "sweep"]

Resource = ManagedRunners | Runners


def runner_kinds(
    who: str, managed: ManagedRunners | None, own: Runners | None
) -> list[tuple[RunnerKind, Resource]]:
    """The resources to read, by kind (``ValueError`` when neither is given)."""
    kinds: list[tuple[RunnerKind, Resource]] = []
    if managed is not None:
        kinds.append(("managed", managed))
    if own is not None:
        kinds.append(("own", own))
    if not kinds:
        raise ValueError(f"{who} needs managed=True, own=True, or both")
    return kinds


def list_runners(resource: Resource, **options: Any) -> Any:
    """The paginator of a kind's runners (your own: the active ones)."""
    if isinstance(resource, Runners):
        return resource.list(status="active", **options)
    return resource.list(**options)


async def read_stats(
    resource: Resource,
    runner: Any,
    *,
    timeout: float | None,
    deadline: float | None = None,
    max_retries: int | NotGiven,
    count: Callable[[], None] | None = None,
) -> StatsResult:
    """One runner's stats as a result, a failure included; ``count()`` on every attempt."""
    attempts = 0

    def on_attempt() -> None:
        nonlocal attempts
        attempts += 1
        if count is not None:
            count()

    loop = asyncio.get_running_loop()
    begun = loop.time()
    rid = str(runner.id)
    try:
        outcome: dict[str, Any] = {
            "stats": await resource._fetch_stats(
                rid,
                timeout=NOT_GIVEN if timeout is None else timeout,
                deadline=NOT_GIVEN if deadline is None else deadline,
                max_retries=max_retries,
                on_attempt=on_attempt,
            )
        }
    except Exception as err:
        outcome = {"error": err}
    elapsed = loop.time() - begun
    return StatsResult(runner_id=rid, runner=runner, elapsed=elapsed, attempts=attempts, **outcome)


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
    """List runners and read their live stats in one pipeline; return the report.

    Stats start while later pages are still being fetched; every runner listed is one row.

    Args:
        managed: The managed runners resource to sweep (``cc.managed_runners``), or ``None``.
        own: Your own runners resource to sweep (``cc.runners``; active ones), or ``None``.
        tags: Only runners with all of these tags (filtered as they are listed).
        concurrency: Stats calls in flight at once, per kind.
        timeout: Seconds for each attempt (the client's timeout if not given).
        deadline: Seconds for the whole sweep, listing included.
        max_retries: A runner's attempts in all are at most ``1 + max_retries`` when given
            (see ``stats_many``).
        progress: Called as ``progress(counts, result)`` after each runner.
        clock: Wall-clock seconds for the rows' ``read_at`` and the report's ``made_at``.

    Returns:
        The report. If listing a kind failed or ran out of time after some of its runners
        were listed, those runners are in it and ``listing_errors`` says what is missing.

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
        # One kind failed (e.g. a 403 listing managed runners) and the other was cancelled:
        # raise the typed error itself, as documented, not the group around it.
        raise failed.exceptions[0] from None
    rows = [row for task in tasks for row in task.result()]
    return CapacityReport.from_rows(
        rows, elapsed=loop.time() - started, made_at=clock(), listing_errors=listing_errors
    )

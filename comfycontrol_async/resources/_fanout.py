"""``stats_many``: live stats of many runners at once, each runner accounted for exactly once.

This module owns the fan-out: reading runners from any source (ids, model objects, sync or async
iterables, a paginator that is still fetching), dropping duplicates, running a bounded pool of
workers, and handing back one :class:`StatsResult` per runner in completion order. A runner's
failure becomes a result, never an exception that ends the batch. It owns its tasks: closing the
sweep, cancelling its consumer, or dropping it cancels every one of them.

Two policies live here because they are about a sweep, not a request. The sweep's ``deadline``
covers its listing too: a source still listing when it passes is cut off, and the sweep ends with
an :class:`APITimeoutError` after a result for every runner listed. And a runner that fails in a
way worth retrying (a 500 usually means ComfyControl cannot reach it) is not retried at once but
once more at the end of the sweep, so a down runner costs two requests of the rate budget, not
``1 + max_retries``. Pacing and the retry mechanics are the client's; this module only calls the
resource's ``_fetch_stats`` and counts attempts with its ``on_attempt`` hook.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Final, Self

import attrs

from .._config import NOT_GIVEN, NotGiven
from .._exceptions import APITimeoutError
from ..models import RunnerStats
from ._stats_result import (
    FetchStats,
    ProgressCallback,
    StatsResult,
    SweepProgress,
    is_down,
    retry_later,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FetchStats",
    "ProgressCallback",
    "StatsResult",
    "StatsSweep",
    "SweepProgress",
    "is_down",
    "retry_later",
]

DEFAULT_CONCURRENCY: Final = 32


def _runner_id(item: object) -> str:
    if isinstance(item, str):
        return item
    ident = getattr(item, "id", None)
    if isinstance(ident, str):
        return ident
    if isinstance(item, StatsResult):
        return item.runner_id
    raise TypeError(
        "stats_many takes runner ids (str) or runner objects with an .id, "
        f"got {type(item).__name__}"
    )


def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()


class _ListingCut(Exception):
    """The sweep's deadline passed while the source was still listing."""


@attrs.define
class _Job:
    rid: str
    obj: object
    attempts: int = 0
    elapsed: float = 0.0
    error: Exception | None = None


class _SweepEngine:
    """The state and task of one sweep. The task holds the engine, never the :class:`StatsSweep`,
    so a sweep the caller drops (a ``break``) can be collected and cancel it."""

    def __init__(
        self,
        fetch: FetchStats,
        source: object,
        *,
        concurrency: object,
        timeout: float | None,
        deadline: float | None,
        max_retries: int | NotGiven,
        progress: ProgressCallback | None,
    ) -> None:
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        retries: object = max_retries
        if not isinstance(retries, NotGiven) and (
            not isinstance(retries, int) or isinstance(retries, bool) or retries < 0
        ):
            raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
        if isinstance(source, str) or not isinstance(source, Iterable | AsyncIterable):
            raise TypeError(
                "stats_many takes an iterable or async iterable of runner ids or runners"
            )
        self._fetch = fetch
        self._source = source
        self._concurrency: int = concurrency
        self._timeout = timeout
        self._deadline = deadline
        self._max_retries = max_retries
        self._progress_cb = progress
        self.progress = SweepProgress(total=self._known_total())
        self._results: asyncio.Queue[StatsResult | None] = asyncio.Queue()
        self._work: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=concurrency)
        self._later: list[_Job] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed = False
        self._error: BaseException | None = None
        self._deadline_at: float | None = None
        self.duplicates = 0

    def _known_total(self) -> int | None:
        try:
            return len(self._source)  # type: ignore[arg-type]
        except TypeError:
            return None

    # -- lifecycle ---------------------------------------------------------------------------

    def _start(self) -> None:
        self._started = True
        loop = asyncio.get_running_loop()
        if self._deadline is not None:
            self._deadline_at = loop.time() + self._deadline
        self._tasks.add(loop.create_task(self._run(), name="stats_many"))

    async def aclose(self) -> None:
        self._closed = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def next(self) -> StatsResult:
        if self._closed:
            raise StopAsyncIteration
        try:
            result = await self._results.get()
        except BaseException:
            await self.aclose()
            raise
        if result is None:
            await self.aclose()
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return result

    # -- the task ----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._produce())
                for _ in range(self._concurrency):
                    group.create_task(self._work_loop(self._work, first=True))
            # The end of the sweep: one more try for the runners that failed in a way worth
            # retrying, after everyone else had their turn.
            later, self._later = self._later, []
            if later:
                queue: asyncio.Queue[_Job | None] = asyncio.Queue()
                for job in later:
                    queue.put_nowait(job)
                workers = min(self._concurrency, len(later))
                for _ in range(workers):
                    queue.put_nowait(None)
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(self._work_loop(queue, first=False))
        except Exception as err:  # a progress callback that raised, say: the caller's error
            failed: BaseException = err
            while isinstance(failed, BaseExceptionGroup):
                failed = failed.exceptions[0]
            self._error = failed
        self._results.put_nowait(None)

    def _remaining(self) -> float | None:
        if self._deadline_at is None:
            return None
        return self._deadline_at - asyncio.get_running_loop().time()

    async def _next_item(self, items: AsyncIterator[object]) -> object:
        if self._deadline_at is None:
            return await anext(items)
        try:
            async with asyncio.timeout_at(self._deadline_at) as scope:
                return await anext(items)
        except TimeoutError:
            if scope.expired():
                raise _ListingCut from None
            raise

    async def _produce(self) -> None:
        seen: set[str] = set()

        async def offer(item: object) -> None:
            try:
                rid = _runner_id(item)
            except TypeError as err:
                rid = repr(item)[:80]
                self._emit(StatsResult(runner_id=rid, error=err))
                return
            if rid in seen:
                self.duplicates += 1
                return
            seen.add(rid)
            await self._work.put(_Job(rid, None if isinstance(item, str) else item))

        source = self._source
        try:
            if isinstance(source, AsyncIterable):
                items = aiter(source)
                while True:
                    try:
                        item = await self._next_item(items)
                    except StopAsyncIteration:
                        break
                    if self.progress.total is None:
                        self.progress.total = _paginator_total(source)
                    await offer(item)
            else:
                for item in source:
                    await offer(item)
        except _ListingCut:
            self._error = APITimeoutError(
                f"the sweep's deadline of {self._deadline} s passed while runners were still "
                f"being listed: the {len(seen)} runners listed before it have their results, "
                "the rest were not listed"
            )
        except Exception as err:  # the source itself failed (e.g. a list that 403s)
            self._error = err
        finally:
            close = getattr(source, "aclose", None)
            if close is not None and isinstance(source, AsyncIterable):
                await close()
        if self._error is None:
            self.progress.total = len(seen)
        for _ in range(self._concurrency):
            await self._work.put(None)

    async def _work_loop(self, queue: asyncio.Queue[_Job | None], *, first: bool) -> None:
        while (job := await queue.get()) is not None:
            await self._one(job, first=first)

    async def _one(self, job: _Job, *, first: bool) -> None:
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            error = job.error or APITimeoutError(
                "the sweep's deadline passed before this runner's turn"
            )
            self._emit(self._result(job, error=error))
            return
        if first:
            retries: int | NotGiven = 0  # failures worth a retry get it at the end
        elif job.error is not None and is_down(job.error):
            retries = 0  # a down runner costs two requests in all
        else:
            retries = (
                self._max_retries
                if isinstance(self._max_retries, NotGiven)
                else max(0, self._max_retries - 1)
            )

        def on_attempt() -> None:
            job.attempts += 1

        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            stats = await self._fetch(
                job.rid,
                timeout=NOT_GIVEN if self._timeout is None else self._timeout,
                deadline=NOT_GIVEN if remaining is None else remaining,
                max_retries=retries,
                on_attempt=on_attempt,
            )
        except Exception as err:  # every failure is this runner's result, never the batch's
            job.elapsed += loop.time() - started
            job.error = err
            if first and self._max_retries != 0 and retry_later(err):
                self._later.append(job)
                return
            self._emit(self._result(job, error=err))
            return
        job.elapsed += loop.time() - started
        self._emit(self._result(job, stats=stats))

    @staticmethod
    def _result(
        job: _Job, *, stats: RunnerStats | None = None, error: Exception | None = None
    ) -> StatsResult:
        return StatsResult(
            runner_id=job.rid,
            runner=job.obj,
            stats=stats,
            error=error,
            elapsed=job.elapsed,
            attempts=job.attempts,
        )

    def _emit(self, result: StatsResult) -> None:
        p = self.progress
        p.done += 1
        if result.ok:
            p.ok += 1
        else:
            p.failed += 1
        self._results.put_nowait(result)
        if self._progress_cb is not None:
            self._progress_cb(p, result)


class StatsSweep:
    """An async iterator of :class:`StatsResult`, in completion order.

    Made by ``stats_many``. Use it with ``async for``; use ``async with`` (or ``aclose()``) to
    stop early deterministically. Breaking out of ``async for`` and dropping the sweep also
    cancels its tasks at once (they are cancelled when the sweep object is collected).

    Attributes:
        progress: The running counts (done, ok, failed, total when known).
    """

    def __init__(
        self,
        fetch: FetchStats,
        source: object,
        *,
        concurrency: object,
        timeout: float | None,
        deadline: float | None,
        max_retries: int | NotGiven = NOT_GIVEN,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._engine = _SweepEngine(
            fetch,
            source,
            concurrency=concurrency,
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            progress=progress,
        )
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def progress(self) -> SweepProgress:
        """The running counts."""
        return self._engine.progress

    @property
    def duplicates(self) -> int:
        """How many repeated runners were dropped."""
        return self._engine.duplicates

    async def aclose(self) -> None:
        """Stop the sweep: cancel every task and wait for them to end. Idempotent."""
        await self._engine.aclose()
        if self._finalizer is not None:
            self._finalizer.detach()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StatsResult:
        engine = self._engine
        if not engine._started and not engine._closed:
            engine._start()
            # Dropped without aclose() (a `break` out of `async for`): cancel at once.
            self._finalizer = weakref.finalize(self, _cancel_all, engine._tasks)
        return await engine.next()

    async def collect(self) -> list[StatsResult]:
        """Run the whole sweep and return every result (completion order)."""
        async with self:
            return [result async for result in self]


def _paginator_total(source: object) -> int | None:
    total = getattr(source, "total", None)
    return total if isinstance(total, int) else None

"""``stats_many``: live stats of many runners by a bounded pool of workers, in completion order."""

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Sized
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Final

import attrs

from .._config import NOT_GIVEN, NotGiven
from .._core import check_count, check_seconds
from .._exceptions import APITimeoutError
from ._stats_result import FetchStats, ProgressCallback, read_stats, retry_later
from ._stats_result import StatsResult as StatsResult
from ._stats_result import SweepProgress as SweepProgress

DEFAULT_CONCURRENCY: Final = 32


def _job_or_error(item: object) -> StatsResult:
    ident = item.runner_id if isinstance(item, StatsResult) else getattr(item, "id", item)
    if isinstance(ident, str):
        return StatsResult(runner_id=ident, runner=None if isinstance(item, str) else item)
    error = TypeError(
        "stats_many takes runner ids (str) or runner objects with an .id, "
        f"got {type(item).__name__}"
    )
    return StatsResult(runner_id=repr(item)[:80], error=error)


@attrs.define(eq=False)
class _Engine:
    """One sweep's state; its task never holds the sweep, so a dropped sweep is collected."""

    fetch: FetchStats
    source: Iterable[object] | AsyncIterable[object]
    concurrency: int
    timeout: float | None
    deadline: float | None
    max_retries: int | NotGiven
    on_progress: ProgressCallback | None
    progress: SweepProgress
    results: asyncio.Queue[StatsResult | None] = attrs.Factory(asyncio.Queue)
    queue: asyncio.Queue[StatsResult | None] = attrs.Factory(
        lambda self: asyncio.Queue(self.concurrency), takes_self=True
    )
    later: list[StatsResult] = attrs.Factory(list)  # failed first tries, to try again at the end
    seen: set[str] = attrs.Factory(set)
    duplicates: int = 0
    deadline_at: float | None = None
    error: BaseException | None = None

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._produce())
                for _ in range(self.concurrency):
                    group.create_task(self._work())
            jobs = iter(self.later)
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(self.later))):
                    group.create_task(self._drain(jobs))
        except Exception as err:  # a progress callback that raised, say: the caller's error
            failed: BaseException = err
            while isinstance(failed, BaseExceptionGroup):
                failed = failed.exceptions[0]
            self.error = failed
        self.results.put_nowait(None)

    async def _items(self) -> AsyncGenerator[object, None]:
        source = self.source
        if not isinstance(source, AsyncIterable):
            for item in source:
                yield item
            return
        items = aiter(source)
        while True:
            try:
                async with asyncio.timeout_at(self.deadline_at) as scope:
                    item = await anext(items)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not scope.expired():
                    raise
                raise APITimeoutError(
                    f"the sweep's deadline of {self.deadline} s passed while runners were still "
                    f"being listed: the {len(self.seen)} runners listed before it have their "
                    "results, the rest were not listed"
                ) from None
            if self.progress.total is None:
                total = getattr(source, "total", None)  # a paginator's, once it is known
                self.progress.total = total if isinstance(total, int) else None
            yield item

    async def _produce(self) -> None:
        try:
            async with aclosing(self._items()) as items:
                async for item in items:
                    job = _job_or_error(item)
                    if job.error is not None:
                        self._emit(job)
                    elif job.runner_id in self.seen:
                        self.duplicates += 1
                    else:
                        self.seen.add(job.runner_id)
                        await self.queue.put(job)
        except Exception as err:  # the source failed (a list that 403s) or the deadline passed
            self.error = err
        finally:
            if isinstance(self.source, AsyncIterable) and hasattr(self.source, "aclose"):
                await self.source.aclose()
        if self.error is None:
            self.progress.total = len(self.seen)
        for _ in range(self.concurrency):
            await self.queue.put(None)

    async def _work(self) -> None:
        while (job := await self.queue.get()) is not None:
            await self._one(job)

    async def _drain(self, jobs: Iterable[StatsResult]) -> None:
        for job in jobs:
            await self._one(job)

    async def _one(self, job: StatsResult) -> None:
        remaining = None
        if self.deadline_at is not None:
            remaining = self.deadline_at - asyncio.get_running_loop().time()
            if remaining <= 0:
                error = APITimeoutError("the sweep's deadline passed before this runner's turn")
                self._emit(attrs.evolve(job, error=job.error or error))
                return
        result = await read_stats(
            self.fetch, job, timeout=self.timeout, deadline=remaining, max_retries=self.max_retries
        )
        if retry_later(job, result, self.max_retries):
            self.later.append(result)
        else:
            self._emit(result)

    def _emit(self, result: StatsResult) -> None:
        counts = self.progress
        counts.done += 1
        counts.ok += result.ok
        counts.failed += not result.ok
        self.results.put_nowait(result)
        if self.on_progress is not None:
            self.on_progress(counts, result)


class StatsSweep(AsyncIterator[StatsResult], AbstractAsyncContextManager["StatsSweep"]):
    """The async iterator of :class:`StatsResult` that ``stats_many`` returns, in completion order.

    ``async with`` (or ``aclose()``) stops it early, as does dropping it after a ``break``;
    ``progress`` holds the running counts (:class:`SweepProgress`).
    """

    def __init__(
        self,
        fetch: FetchStats,
        source: object,
        *,
        concurrency: int,
        timeout: float | None,
        deadline: float | None,
        max_retries: int | NotGiven = NOT_GIVEN,
        progress: ProgressCallback | None = None,
    ) -> None:
        check_count("concurrency", concurrency)
        if not isinstance(max_retries, NotGiven):
            check_count("max_retries", max_retries, zero=True)
        check_seconds("timeout", timeout)
        check_seconds("deadline", deadline)
        if isinstance(source, str) or not isinstance(source, Iterable | AsyncIterable):
            raise TypeError("stats_many takes a sync or async iterable of runner ids or runners")
        self.progress = SweepProgress(total=len(source) if isinstance(source, Sized) else None)
        self._engine = _Engine(
            fetch, source, concurrency, timeout, deadline, max_retries, progress, self.progress
        )
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def duplicates(self) -> int:
        """How many repeated runners were dropped."""
        return self._engine.duplicates

    async def aclose(self) -> None:
        """Stop the sweep: cancel every task and wait for them to end. Idempotent."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def __anext__(self) -> StatsResult:
        if self._closed:
            raise StopAsyncIteration
        engine = self._engine
        if self._task is None:
            loop = asyncio.get_running_loop()
            if engine.deadline is not None:
                engine.deadline_at = loop.time() + engine.deadline
            self._task = loop.create_task(engine.run(), name="stats_many")
            weakref.finalize(self, self._task.cancel)
        try:
            result = await engine.results.get()
        except BaseException:
            await self.aclose()
            raise
        if result is None:
            await self.aclose()
            if engine.error is not None:
                raise engine.error
            raise StopAsyncIteration
        return result

    async def collect(self) -> list[StatsResult]:
        """Run the whole sweep and return every result (completion order)."""
        async with self:
            return [result async for result in self]

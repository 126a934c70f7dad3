"""``stats_many``: live stats of many runners at once, each runner accounted for exactly once.

This module owns the fan-out: reading runners from any source (ids, model objects, sync or async
iterables, a paginator that is still fetching), dropping duplicates, running a bounded pool of
workers, and handing back one :class:`StatsResult` per runner in completion order. A runner's
failure becomes a result, never an exception that ends the batch. It owns its tasks: closing the
sweep, cancelling its consumer, or dropping it cancels every one of them. Pacing and retries are
the client's; this module only calls ``self.stats``.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import attrs

from .._config import NOT_GIVEN, NotGiven
from .._exceptions import APITimeoutError
from ..models import RunnerStats

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_CONCURRENCY",
    "StatsResult",
    "StatsSweep",
    "SweepProgress",
]

DEFAULT_CONCURRENCY: Final = 32

# fetch(runner_id, deadline, on_attempt): on_attempt is called once per HTTP attempt sent.
StatsFetch = Callable[[str, float | NotGiven | None, Callable[[], None]], Awaitable[RunnerStats]]


@attrs.frozen(kw_only=True)
class StatsResult:
    """The outcome of one runner's stats in a sweep.

    Attributes:
        runner_id: The runner's id.
        runner: The model object given for it, if one was (``None`` for a bare id).
        stats: The stats when the call succeeded, else ``None``.
        error: The typed error when it failed (``APIStatusError``, ``APIConnectionError``,
            ``APITimeoutError``, ``ResponseValidationError``; ``ValueError`` for a bad id),
            else ``None``.
        elapsed: Seconds from the first attempt to the outcome, retries included.
        attempts: HTTP attempts sent for it (0 if none was sent).
    """

    runner_id: str
    runner: Any = attrs.field(default=None, repr=False)
    stats: RunnerStats | None = attrs.field(default=None, repr=False)
    error: Exception | None = None
    elapsed: float = 0.0
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """Whether the stats were read."""
        return self.error is None and self.stats is not None


@attrs.define(kw_only=True)
class SweepProgress:
    """A running count, passed to the ``progress`` callback after each result.

    Attributes:
        done: Results produced so far.
        ok: Of which succeeded.
        failed: Of which failed.
        total: Runners to expect, when known (a sized source, an exhausted one, or a paginator
            that has read its first page), else ``None``.
    """

    done: int = 0
    ok: int = 0
    failed: int = 0
    total: int | None = None


ProgressCallback = Callable[[SweepProgress, StatsResult], object]


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


class _SweepEngine:
    """The state and tasks of one sweep. Tasks hold the engine, never the :class:`StatsSweep`,
    so a sweep the caller drops (a ``break``) can be collected and cancel them."""

    def __init__(
        self,
        fetch: StatsFetch,
        source: object,
        *,
        concurrency: object,
        timeout: float | None,
        deadline: float | None,
        progress: ProgressCallback | None,
    ) -> None:
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(source, str) or not isinstance(source, Iterable | AsyncIterable):
            raise TypeError(
                "stats_many takes an iterable or async iterable of runner ids or runners"
            )
        self._fetch = fetch
        self._source = source
        self._concurrency: int = concurrency
        self._timeout = timeout
        self._deadline = deadline
        self._progress_cb = progress
        self.progress = SweepProgress(total=self._known_total())
        self._results: asyncio.Queue[StatsResult | None] = asyncio.Queue()
        self._work: asyncio.Queue[tuple[str, object] | None] = asyncio.Queue(maxsize=concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed = False
        self._source_error: BaseException | None = None
        self._deadline_at: float | None = None
        self._workers_left = 0
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
        self._workers_left = self._concurrency
        self._tasks.add(loop.create_task(self._produce(), name="stats_many-producer"))
        for i in range(self._concurrency):
            self._tasks.add(loop.create_task(self._work_loop(), name=f"stats_many-worker-{i}"))

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
            if self._source_error is not None:
                raise self._source_error
            raise StopAsyncIteration
        return result

    # -- the tasks ---------------------------------------------------------------------------

    def _remaining(self) -> float | None:
        if self._deadline_at is None:
            return None
        return self._deadline_at - asyncio.get_running_loop().time()

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
            await self._work.put((rid, None if isinstance(item, str) else item))

        try:
            source = self._source
            if isinstance(source, AsyncIterable):
                async for item in source:
                    if self.progress.total is None:
                        self.progress.total = _paginator_total(source)
                    await offer(item)
            else:
                for item in source:
                    await offer(item)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the source itself failed (e.g. a list that 403s)
            self._source_error = err
        finally:
            close = getattr(self._source, "aclose", None)
            if close is not None and isinstance(self._source, AsyncIterable):
                await close()
        if self._source_error is None:
            self.progress.total = len(seen)
        for _ in range(self._concurrency):
            await self._work.put(None)

    async def _work_loop(self) -> None:
        try:
            while True:
                job = await self._work.get()
                if job is None:
                    break
                rid, obj = job
                self._emit(await self._one(rid, obj))
        finally:
            self._workers_left -= 1
            if self._workers_left == 0:
                self._results.put_nowait(None)

    async def _one(self, rid: str, obj: object) -> StatsResult:
        loop = asyncio.get_running_loop()
        counter = [0]

        def on_attempt() -> None:
            counter[0] += 1

        started = loop.time()
        remaining = self._remaining()
        limit: float | NotGiven | None = self._timeout if self._timeout is not None else NOT_GIVEN
        if remaining is not None:
            if remaining <= 0:
                return StatsResult(
                    runner_id=rid,
                    runner=obj,
                    error=APITimeoutError("the sweep's deadline passed before this runner's turn"),
                )
            limit = remaining if self._timeout is None else min(self._timeout, remaining)
        try:
            stats = await self._fetch(rid, limit, on_attempt)
        except Exception as err:  # every failure is this runner's result, never the batch's
            return StatsResult(
                runner_id=rid,
                runner=obj,
                error=err,
                elapsed=loop.time() - started,
                attempts=counter[0],
            )
        return StatsResult(
            runner_id=rid,
            runner=obj,
            stats=stats,
            elapsed=loop.time() - started,
            attempts=counter[0],
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
        fetch: StatsFetch,
        source: object,
        *,
        concurrency: object,
        timeout: float | None,
        deadline: float | None,
        progress: ProgressCallback | None,
    ) -> None:
        self._engine = _SweepEngine(
            fetch,
            source,
            concurrency=concurrency,
            timeout=timeout,
            deadline=deadline,
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

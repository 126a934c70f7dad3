"""What a sweep hands back, one try at a runner's stats, and the end-of-sweep retry policy."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import attrs

from .._config import NOT_GIVEN, NotGiven
from .._exceptions import APIConnectionError, APIStatusError, ResponseValidationError, ServerError
from ..models import RunnerStats


class FetchStats(Protocol):
    """``RunnerResource._fetch_stats``."""

    def __call__(
        self,
        runner_id: str,
        *,
        timeout: float | NotGiven | None,
        deadline: float | NotGiven | None,
        max_retries: int | NotGiven,
        on_attempt: Callable[[], None] | None,
    ) -> Coroutine[Any, Any, RunnerStats]: ...


@attrs.frozen(kw_only=True)
class StatsResult:
    """The outcome of one runner's stats in a sweep.

    Attributes:
        runner: The model object given for it (``None`` for a bare id).
        error: The typed API error (or ``ValueError`` for a bad id) when it failed.
        elapsed: Seconds spent in calls for it, both tries included.
        attempts: HTTP attempts sent for it; a down runner (500) shows 2, never more.
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
    """Results so far (``done`` = ``ok`` + ``failed``) of ``total`` runners, once known."""

    done: int = 0
    ok: int = 0
    failed: int = 0
    total: int | None = None


ProgressCallback = Callable[[SweepProgress, StatsResult], object]


async def read_stats(
    fetch: FetchStats,
    job: StatsResult,
    *,
    timeout: float | None,
    deadline: float | None = None,
    max_retries: int | NotGiven,
    count: Callable[[], None] | None = None,
) -> StatsResult:
    """One try at ``job``'s runner, a failure in the result; only the end-of-sweep try retries."""
    retries: int | NotGiven = 0
    failed = job.error
    # The API docs: a 500 on /stats means ComfyControl could not reach the runner or read its stats.
    if failed is not None and not (isinstance(failed, ServerError) and failed.status == 500):
        retries = max_retries if isinstance(max_retries, NotGiven) else max(0, max_retries - 1)
    attempts = job.attempts

    def on_attempt() -> None:
        nonlocal attempts
        attempts += 1
        if count is not None:
            count()

    started = asyncio.get_running_loop().time()
    stats = error = None
    try:
        stats = await fetch(
            job.runner_id,
            timeout=NOT_GIVEN if timeout is None else timeout,
            deadline=NOT_GIVEN if deadline is None else deadline,
            max_retries=retries,
            on_attempt=on_attempt,
        )
    except Exception as err:  # every failure is this runner's result, never the batch's
        error = err
    elapsed = job.elapsed + (asyncio.get_running_loop().time() - started)
    return attrs.evolve(job, stats=stats, error=error, elapsed=elapsed, attempts=attempts)


def retry_later(job: StatsResult, result: StatsResult, max_retries: int | NotGiven) -> bool:
    """Whether ``result``, the first try at ``job``, failed in a way that may recover."""
    error = result.error
    if job.error is not None or error is None or max_retries == 0:
        return False
    if isinstance(error, APIStatusError):
        return error.status == 429 or error.status >= 500
    # Stats decode leniently: a ResponseValidationError is a 2xx answer that is not JSON at all.
    return isinstance(error, APIConnectionError | ResponseValidationError)

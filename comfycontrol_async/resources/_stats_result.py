"""What a sweep hands back (:class:`StatsResult`, :class:`SweepProgress`) and its end-of-sweep
retry policy (:func:`retry_later`, :func:`is_down`), for ``stats_many`` and capacity; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import attrs

from .._config import NotGiven
from .._exceptions import APIConnectionError, APIStatusError, ResponseValidationError, ServerError
from ..models import RunnerStats

__all__ = [
    "FetchStats",
    "ProgressCallback",
    "StatsResult",
    "SweepProgress",
    "is_down",
    "retry_later",
]


class FetchStats(Protocol):
    """``RunnerResource._fetch_stats``: one runner's stats, one call."""

    def __call__(
        self,
        runner_id: str,
        *,
        timeout: float | NotGiven | None = ...,
        deadline: float | NotGiven | None = ...,
        max_retries: int | NotGiven = ...,
        on_attempt: Callable[[], None] | None = ...,
    ) -> Coroutine[Any, Any, RunnerStats]: ...


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
        elapsed: Seconds spent in calls for it, both tries included.
        attempts: HTTP attempts sent for it (0 if none was sent); a down runner (500) shows
            2, never more.
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


def retry_later(error: Exception) -> bool:
    """Worth one more try at the end of the sweep: the runner or the way to it may recover.

    Stats decode leniently, so a ``ResponseValidationError`` only comes from a 2xx answer that is
    not JSON at all (cut short, a proxy's page), which the client also retries.
    """
    if isinstance(error, APIStatusError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, APIConnectionError | ResponseValidationError)


def is_down(error: Exception) -> bool:
    # The API docs: a 500 on /stats means ComfyControl could not reach the runner or read its stats.
    return isinstance(error, ServerError) and error.status == 500

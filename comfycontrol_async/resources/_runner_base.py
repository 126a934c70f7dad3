"""What ``cc.runners`` and ``cc.managed_runners`` share: live stats, history and ``stats_many``
(the same endpoints under each one's path segment)."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode, decode_list
from .._core import RequestSpec, check_id
from ..models import RunnerStats, WorkflowSummary
from ._base import Resource
from ._fanout import DEFAULT_CONCURRENCY, StatsSweep
from ._stats_result import ProgressCallback


class RunnerResource(Resource):
    """Base of the two runner resources."""

    async def stats(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> RunnerStats:
        """Live system stats, read from the runner's ComfyUI (``/system_stats``) at call time.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner (or not yours, or not open to your tier).
            ServerError: The runner could not be reached or its stats read (500).
        """
        return await self._fetch_stats(runner_id, deadline=deadline)

    async def _fetch_stats(
        self,
        runner_id: str,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> RunnerStats:
        """:meth:`stats` with every knob of :meth:`Requester.request`, for the sweeps."""
        url = self._requester.url(self._segment, check_id(runner_id, "runner_id"), "stats")
        data = await self._requester.request(
            RequestSpec(method="GET", url=url),
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            on_attempt=on_attempt,
        )
        return decode(data, RunnerStats)

    async def history(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> builtins.list[WorkflowSummary]:
        """Your last (at most 10) workflows run on this runner, newest first.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner (or not yours, or not open to your tier).
        """
        rid = check_id(runner_id, "runner_id")
        return decode_list(
            await self._call("GET", rid, "history", deadline=deadline), WorkflowSummary
        )

    def stats_many(
        self,
        runners: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float | None = None,
        deadline: float | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        progress: ProgressCallback | None = None,
    ) -> StatsSweep:
        """Live stats of many runners, concurrently: a :class:`StatsSweep`, one result per runner.

        A runner's failure is its result's ``.error``; only a failing source (a paginator's 403)
        ends the sweep with its exception, after the results read before it. A failure worth
        retrying (5xx, 429, no answer) gets one more try at the end of the sweep; for a 500 (the
        runner cannot be reached) that is its only retry.

        Args:
            runners: Runner ids or runner objects, from any sync or async iterable (a paginator).
            concurrency: At most this many stats calls in flight.
            timeout: Seconds for each attempt (``None``: the client's timeout).
            deadline: Seconds for the whole sweep, listing included: listing is cut off (then
                :class:`APITimeoutError` at the end) and unfinished runners get that error.
            max_retries: At most ``1 + max_retries`` attempts per runner (``0``: no end-of-sweep
                try; default: the client's retries on it).
            progress: Called as ``progress(counts, result)`` after each result.

        Raises:
            ValueError: ``concurrency`` < 1, or a bad ``timeout``/``deadline``/``max_retries``.
        """
        return StatsSweep(
            self._fetch_stats,
            runners,
            concurrency=concurrency,
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            progress=progress,
        )

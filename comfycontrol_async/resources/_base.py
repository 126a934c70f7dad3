"""What resources share: the :class:`Requester` (never the client), list methods, runner stats."""

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from yarl import URL

from .._config import NOT_GIVEN, NotGiven, RateLimit
from .._converter import decode, decode_list, decode_page
from .._core import RequestSpec, check_id, check_int, check_page_args
from .._pagination import DEFAULT_PREFETCH, Paginator
from ..models import Page, RunnerStats, WorkflowSummary
from ._checks import FormFields, check_status
from ._fanout import DEFAULT_CONCURRENCY, StatsSweep
from ._stats_result import ProgressCallback

T = TypeVar("T")


class Requester(Protocol):
    """The part of the client a resource uses (``NOT_GIVEN``: the client's setting)."""

    @property
    def rate_limit(self) -> RateLimit | None: ...
    def url(self, *segments: str) -> URL: ...

    async def request(
        self,
        spec: RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        """The parsed JSON of one request (``None``: empty body); ``on_attempt()`` per attempt."""

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None:
        """Stream ``url`` into ``path`` without the API token, in one attempt."""


class Resource:
    _segment: ClassVar[str]  # the path segment under /v1

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._requester!r}>"

    async def _call(
        self,
        method: str,
        *segments: str,
        deadline: float | NotGiven | None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        form: FormFields | None = None,
        expect_body: bool = True,
    ) -> Any:
        spec = RequestSpec(
            method=method,
            url=self._requester.url(self._segment, *segments),
            params=params or {},
            json=json,
            form=form,
            expect_body=expect_body,
        )
        return await self._requester.request(spec, deadline=deadline)


class ListResource(Resource, Generic[T]):
    """A resource whose list (``GET /v1/<_segment>``) holds ``_item``'s under ``_list_key``."""

    _item: type[T]
    _list_key: ClassVar[str]

    def list(
        self,
        *,
        per_page: int = 100,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
        strict: bool = False,
        settle: bool = False,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Paginator[T]:
        """Every item, newest first, as a :class:`Paginator` (see README, "Pagination").

        Args:
            prefetch: Pages fetched ahead once the total is known.
            strict: Raise :class:`ListChangedError` if the list changes during the walk.
            settle: Re-read the list's head after the walk for items added meanwhile.
            deadline: Seconds for each page request, retries included.
        """
        return self._walk(None, per_page, max_items, start_page, prefetch, strict, settle, deadline)

    async def list_page(
        self, *, page: int = 1, per_page: int = 100, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Page[T]:
        """One page of the list, with the list's ``total``."""
        check_page_args(page, per_page)
        return await self._read_page(page, per_page, {}, deadline)

    def _received(self, item: T) -> T:
        """Hook for every item received (Runners registers credentials as secrets)."""
        return item

    async def _read_page(
        self,
        page: int,
        per_page: int,
        filters: Mapping[str, str],
        deadline: float | NotGiven | None,
    ) -> Page[T]:
        # Unchecked: list_page() and _walk() check the page arguments once, before this runs.
        params = {"page": str(page), "per_page": str(per_page), **filters}
        data = await self._call("GET", params=params, deadline=deadline)
        got = decode_page(data, key=self._list_key, cls=self._item, page=page, per_page=per_page)
        for item in got.items:
            self._received(item)
        return got

    def _walk(
        self,
        status: str | None,
        per_page: int,
        max_items: int | None,
        start_page: int,
        prefetch: int,
        strict: bool,
        settle: bool,
        deadline: float | NotGiven | None,
    ) -> Paginator[T]:
        filters = {} if status is None else {"status": check_status(status)}
        check_page_args(start_page, per_page, page_name="start_page")
        if max_items is not None:
            check_int("max_items", max_items, 0)
        rate = self._requester.rate_limit
        if rate is not None and type(prefetch) is int and prefetch > 0:
            # Under pacing a wide window only queues fetches ahead of the client's other work.
            prefetch = min(prefetch, max(1, rate.requests // 4))
        return Paginator(
            partial(self._read_page, filters=filters, deadline=deadline),
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            description=f"GET /v1/{self._segment}",
        )


class FilteredListResource(ListResource[T]):
    """A list that the API filters by ``status`` (``GET /v1/runner`` and ``GET /v1/workflow``)."""

    def list(
        self,
        *,
        status: str | None = None,
        per_page: int = 100,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
        strict: bool = False,
        settle: bool = False,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Paginator[T]:
        """:meth:`ListResource.list` of the items in ``status`` (see the class) when given."""
        return self._walk(
            status, per_page, max_items, start_page, prefetch, strict, settle, deadline
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        status: str | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[T]:
        """:meth:`ListResource.list_page` of the items in ``status`` when given."""
        check_page_args(page, per_page)
        filters = {} if status is None else {"status": check_status(status)}
        return await self._read_page(page, per_page, filters, deadline)


class RunnerResource(Resource):
    async def stats(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> RunnerStats:
        """Live system stats, read from the runner's ComfyUI (``/system_stats``) at call time.

        Raises:
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
    ) -> list[WorkflowSummary]:
        """Your last (at most 10) workflows run on this runner, newest first."""
        rid = check_id(runner_id, "runner_id")
        data = await self._call("GET", rid, "history", deadline=deadline)
        return decode_list(data, WorkflowSummary)

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
        """Live stats of many runners, concurrently (see README, "Capacity sweeps").

        A failing source (a list that gets a 403) ends the sweep with its error, after the results.

        Args:
            runners: Runner ids or runner objects, from any sync or async iterable.
            timeout: Seconds for each attempt (``None``: the client's).
            deadline: Seconds for the whole sweep, listing included.
            max_retries: At most ``1 + max_retries`` attempts per runner (``0``: no end try).
            progress: Called as ``progress(counts, result)`` after each result.
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

"""What every resource shares: the requester it talks through, the shapes of a read, the lists.

A resource turns one endpoint into one method: it checks the arguments (``ValueError`` before
anything is sent), builds the :class:`RequestSpec`, hands it to its :class:`Requester`, and decodes
the JSON into models. It knows the client only through that small protocol and must never import
it: pacing, attempts, retries and the connection pool are the client's, not a resource's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from yarl import URL

from .._config import NOT_GIVEN, NotGiven, RateLimit
from .._converter import decode, decode_list, decode_page
from .._core import RequestSpec, check_page_args
from .._pagination import DEFAULT_PREFETCH, Paginator
from ..models import Page

__all__ = [
    "DEFAULT_PREFETCH",
    "FilteredListResource",
    "ListResource",
    "Requester",
    "Resource",
    "check_status",
    "check_walk_args",
    "status_filter",
]

T = TypeVar("T")

Form = tuple[tuple[str, str | tuple[str, bytes, str]], ...]


class Requester(Protocol):
    """The part of the client a resource uses; the client implements it.

    ``timeout`` is per attempt, ``deadline`` covers the whole call (attempts, backoff and
    pacing waits), and ``NOT_GIVEN`` means the client's own setting.
    """

    @property
    def rate_limit(self) -> RateLimit | None:
        """The client's pacing, or ``None`` when it is off."""
        ...

    def url(self, *segments: str) -> URL:
        """The absolute URL of an endpoint; each segment is encoded as exactly one segment."""
        ...

    async def request(
        self,
        spec: RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        """Run one logical request: the parsed JSON, or ``None`` for an empty body.

        ``on_attempt`` is called once for every attempt actually sent.
        """
        ...

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None:
        """Stream ``url`` into ``path`` without the API token, in one attempt of ``timeout``."""
        ...


def check_walk_args(*, per_page: object, start_page: object, max_items: object) -> None:
    """The checks of a walk's arguments, made once, before anything is sent.

    Raises:
        TypeError: A value is not an int.
        ValueError: A value is out of range.
    """
    check_page_args(start_page, per_page, page_name="start_page")
    if max_items is None:
        return
    if not isinstance(max_items, int) or isinstance(max_items, bool):
        raise TypeError(f"max_items must be an int or None, got {type(max_items).__name__}")
    if max_items < 0:
        raise ValueError(f"max_items must be at least 0, got {max_items}")


def check_status(status: object) -> str:
    """A status value, checked for type only (the server owns the values).

    Raises:
        ValueError: ``status`` is not a non-empty string.
    """
    if not isinstance(status, str) or not status.strip():
        raise ValueError("status must be a non-empty string")
    return status


def status_filter(status: object) -> dict[str, str]:
    """The ``status`` query filter: none for ``None``, else a checked status."""
    return {} if status is None else {"status": check_status(status)}


class Resource:
    """Base of ``cc.runners``, ``cc.managed_runners`` and the others.

    Args:
        requester: What sends the requests: the client's, or any object with its shape.
    """

    #: The resource's path segment under ``/v1``.
    _segment: ClassVar[str]

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._requester!r}>"

    async def _get_json(
        self,
        *segments: str,
        params: Mapping[str, str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Any:
        spec = RequestSpec(method="GET", url=self._requester.url(*segments), params=params or {})
        return await self._requester.request(spec, deadline=deadline)

    async def _get(
        self, cls: type[T], *segments: str, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> T:
        return decode(await self._get_json(*segments, deadline=deadline), cls)

    async def _get_list(
        self, cls: type[T], *segments: str, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> list[T]:
        return decode_list(await self._get_json(*segments, deadline=deadline), cls)

    async def _send(
        self,
        method: str,
        cls: type[T] | None,
        *segments: str,
        json: Any = None,
        form: Form | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> T | None:
        spec = RequestSpec(
            method=method,
            url=self._requester.url(*segments),
            json=json,
            form=form,
            expect_body=cls is not None,
        )
        data = await self._requester.request(spec, deadline=deadline)
        return None if cls is None else decode(data, cls)


class ListResource(Resource, Generic[T]):
    """A resource with a paged list endpoint (``GET /v1/<segment>``), newest first.

    A subclass names its item model in ``_item`` and the answer's key in ``_list_key``;
    ``list()`` and ``list_page()`` are defined here once for all of them.
    """

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
        """Every item of the list, newest first, page after page.

        Returns a paginator at once (no ``await``): ``async for`` over it, or call
        ``.collect()`` or ``.pages()``; ``async with`` closes it early. Nothing is sent until
        it is iterated.

        Args:
            per_page: Items per request, 1 to 100.
            max_items: Stop after this many items (``None``: all of them).
            start_page: The page to start from (to resume a walk).
            prefetch: Pages fetched ahead concurrently once the total is known (0: none).
            strict: Raise :class:`ListChangedError` if the list changes during the walk.
            settle: After the walk, re-read the head of the list for items added meanwhile.
            deadline: Overall seconds for each page request, retries included.

        Returns:
            A :class:`Paginator` of the items.

        Raises:
            ValueError: An argument is out of range (raised here, before any request).
            TypeError: A page argument is not an int.
        """
        return self._walk(
            {},
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            deadline=deadline,
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[T]:
        """One page of the list.

        Args:
            page: The page number, from 1.
            per_page: Items per page, 1 to 100.
            deadline: Overall seconds for this call, retries included.

        Returns:
            The :class:`Page`: its items and the list's ``total``.

        Raises:
            ValueError: ``page`` < 1 or ``per_page`` outside 1-100 (before any request).
            TypeError: ``page`` or ``per_page`` is not an int.
            PermissionDeniedError: The list is closed to your tier (managed runners, free tier).
        """
        check_page_args(page, per_page)
        return await self._read_page(page, per_page, {}, deadline)

    async def _read_page(
        self,
        page: int,
        per_page: int,
        filters: Mapping[str, str],
        deadline: float | NotGiven | None,
    ) -> Page[T]:
        # Unchecked: list_page() and _walk() check the page arguments once, before this runs.
        params = {"page": str(page), "per_page": str(per_page), **filters}
        data = await self._get_json(self._segment, params=params, deadline=deadline)
        return decode_page(data, key=self._list_key, cls=self._item, page=page, per_page=per_page)

    def _walk(
        self,
        filters: Mapping[str, str],
        *,
        per_page: int,
        max_items: int | None,
        start_page: int,
        prefetch: int,
        strict: bool,
        settle: bool,
        deadline: float | NotGiven | None,
    ) -> Paginator[T]:
        check_walk_args(per_page=per_page, start_page=start_page, max_items=max_items)
        rate = self._requester.rate_limit
        if rate is not None and type(prefetch) is int and prefetch > 0:
            # Under pacing, a wide window would only queue fetches at the client-wide limiter
            # ahead of the client's other work: a quarter of the window's requests is plenty.
            prefetch = min(prefetch, max(1, rate.requests // 4))
        frozen = dict(filters)

        async def fetch(page: int, size: int) -> Page[T]:
            return await self._read_page(page, size, frozen, deadline)

        return Paginator(
            fetch,
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            key=_item_id,
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
        """Every item of the list, or those in one status, newest first, page after page.

        Returns a paginator at once (no ``await``): ``async for`` over it, or call
        ``.collect()`` or ``.pages()``; ``async with`` closes it early. Nothing is sent until
        it is iterated.

        Args:
            status: Only items in this status (runners: ``active``, ``disabled``; workflows:
                ``completed``, ``running``, ``queued``, ``failed``, ``cancelled``).
            per_page: Items per request, 1 to 100.
            max_items: Stop after this many items (``None``: all of them).
            start_page: The page to start from (to resume a walk).
            prefetch: Pages fetched ahead concurrently once the total is known (0: none).
            strict: Raise :class:`ListChangedError` if the list changes during the walk.
            settle: After the walk, re-read the head of the list for items added meanwhile.
            deadline: Overall seconds for each page request, retries included.

        Returns:
            A :class:`Paginator` of the items.

        Raises:
            ValueError: An argument is out of range, or ``status`` is empty (raised here,
                before any request).
            TypeError: A page argument is not an int.
        """
        return self._walk(
            status_filter(status),
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            deadline=deadline,
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        status: str | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[T]:
        """One page of the list, or of the items in one status.

        Args:
            page: The page number, from 1.
            per_page: Items per page, 1 to 100.
            status: Only items in this status (see :meth:`list`).
            deadline: Overall seconds for this call, retries included.

        Returns:
            The :class:`Page`: its items and the ``total`` of the (filtered) list.

        Raises:
            ValueError: ``page`` < 1, ``per_page`` outside 1-100 or an empty ``status``
                (before any request).
            TypeError: ``page`` or ``per_page`` is not an int.
        """
        check_page_args(page, per_page)
        return await self._read_page(page, per_page, status_filter(status), deadline)


def _item_id(item: Any) -> Any:
    return item.id

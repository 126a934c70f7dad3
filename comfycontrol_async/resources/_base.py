"""What every resource shares: a handle on the client, and the three shapes of a read.

A resource turns one endpoint into one method: it checks the arguments (``ValueError`` before
anything is sent), builds the :class:`RequestSpec`, lets the client run it, and decodes the JSON
into models. It must not talk to aiohttp or retry on its own: the client does that.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from yarl import URL

from .._config import NOT_GIVEN, NotGiven, RateLimit
from .._converter import decode, decode_list, decode_page
from .._core import RequestSpec, check_page_args
from .._pagination import DEFAULT_PREFETCH, Paginator
from ..models import Page

__all__ = ["DEFAULT_PREFETCH", "Requester", "Resource", "status_filter"]

T = TypeVar("T")


def _check_max_items(max_items: object) -> None:
    if max_items is None:
        return
    if not isinstance(max_items, int) or isinstance(max_items, bool):
        raise TypeError("max_items must be an int or None")
    if max_items < 0:
        raise ValueError(f"max_items must be >= 0, got {max_items}")


class Requester(Protocol):
    """What a resource needs of the client (INTERFACES I1); the client passes an inner object.

    ``timeout`` is per attempt and ``deadline`` per call; ``NOT_GIVEN`` takes the client's.
    ``on_attempt`` is called once per HTTP attempt sent.
    """

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
    ) -> Any: ...

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None: ...


class Resource:
    """Base of ``cc.runners``, ``cc.managed_runners`` and the others."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    async def _get_json(
        self,
        *segments: str,
        params: Mapping[str, str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        spec = RequestSpec(method="GET", url=self._client.url(*segments), params=params or {})
        return await self._client.request(spec, deadline=deadline, on_attempt=on_attempt)

    async def _get(
        self,
        cls: type[T],
        *segments: str,
        deadline: float | NotGiven | None = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> T:
        return decode(
            await self._get_json(*segments, deadline=deadline, on_attempt=on_attempt), cls
        )

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
        form: tuple[tuple[str, str | tuple[str, bytes, str]], ...] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> T | None:
        spec = RequestSpec(
            method=method,
            url=self._client.url(*segments),
            json=json,
            form=form,
            expect_body=cls is not None,
        )
        data = await self._client.request(spec, deadline=deadline)
        return None if cls is None else decode(data, cls)

    async def _page(
        self,
        cls: type[T],
        key: str,
        segment: str,
        *,
        page: int,
        per_page: int,
        filters: Mapping[str, str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[T]:
        check_page_args(page, per_page)
        params = {"page": str(page), "per_page": str(per_page), **(filters or {})}
        data = await self._get_json(segment, params=params, deadline=deadline)
        return decode_page(data, key=key, cls=cls, page=page, per_page=per_page)

    def _paginate(
        self,
        cls: type[T],
        key: str,
        segment: str,
        *,
        per_page: int,
        max_items: int | None,
        start_page: int,
        prefetch: int,
        strict: bool,
        settle: bool,
        filters: Mapping[str, str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Paginator[T]:
        check_page_args(start_page, per_page)
        _check_max_items(max_items)
        rate = self._client.rate_limit
        if rate is not None and type(prefetch) is int and prefetch > 0:
            # Under pacing, a wide window would only queue fetches at the client-wide limiter
            # ahead of the client's other work: a quarter of the window's requests is plenty.
            prefetch = min(prefetch, max(1, rate.requests // 4))
        frozen = dict(filters or {})

        async def fetch(page: int, size: int) -> Page[T]:
            return await self._page(
                cls, key, segment, page=page, per_page=size, filters=frozen, deadline=deadline
            )

        ident: Callable[[T], Hashable] = _item_id
        return Paginator(
            fetch,
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            key=ident,
            description=f"GET /v1/{segment}",
        )


def _item_id(item: Any) -> Hashable:
    return item.id  # type: ignore[no-any-return]


def status_filter(status: object) -> dict[str, str]:
    """The ``status`` query filter, checked for type only (the server owns the values)."""
    if status is None:
        return {}
    if not isinstance(status, str) or not status.strip():
        raise ValueError("status must be a non-empty string or None")
    return {"status": status}

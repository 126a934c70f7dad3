"""Auto-pagination over ``fetch(page, per_page)``: every item, in order, none lost silently.

Knows nothing of HTTP: ``fetch`` retries and paces, the caller checks the arguments.
"""

import asyncio
import logging
import math
import operator
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, Generic, Protocol, Self, TypeAlias, TypeVar

from ._core import MAX_PER_PAGE
from ._exceptions import ComfyControlError, ListChangedError, PaginationError
from ._logging import log

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_R = TypeVar("_R")

#: Pages fetched ahead once the total is known (the client's pool size; pacing narrows it).
DEFAULT_PREFETCH: Final = 100
_MIN_KEYS: Final = 2_000  # keys remembered for dropping repeats, at least
_MAX_STALLS: Final = 3  # pages in a row that did not move the walk before it gives up
_MAX_REREADS: Final = 8  # pages read back at most to find the items a boundary skipped


class PageLike(Protocol[T_co]):
    """One page as ``fetch`` returns it; the SDK's :class:`~comfycontrol_async.Page` is one."""

    @property
    def items(self) -> Sequence[T_co]: ...
    @property
    def total(self) -> int: ...
    @property
    def page(self) -> int: ...
    @property
    def per_page(self) -> int: ...


#: ``fetch(page, per_page)``: one page; it retries and paces, and raises ComfyControlError.
FetchPage: TypeAlias = Callable[[int, int], Awaitable[PageLike[T]]]
_Task: TypeAlias = asyncio.Task[tuple[int, PageLike[T]]]  # (answer number, page)


class _Closed(Exception):
    """The walk was closed while its consumer waited: end quietly."""


class Paginator(Generic[T], AbstractAsyncContextManager["Paginator[T]"]):
    """Every item of a list in order, no ``key(item)`` twice, ``prefetch`` pages ahead. Single-use.

    A changed total sets ``total_changed``, too few distinct items ``incomplete`` (a warning, or
    an error with ``strict``). A failed first request raises its own error, a later one a
    resumable :class:`PaginationError`. See README, "Pagination".
    """

    def __init__(
        self,
        fetch: FetchPage[T],
        *,
        per_page: int = MAX_PER_PAGE,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
        strict: bool = False,
        settle: bool = False,
        key: Callable[[T], Hashable] = operator.attrgetter("id"),
        description: str = "list",
    ) -> None:
        if settle and start_page != 1:
            raise ValueError("settle=True needs start_page=1 (it compares the list's head)")
        self._fetch, self._key, self._description, self._settle = fetch, key, description, settle
        self._asked = self._size = per_page  # _size: the server's page size, as last seen
        self._max_items = math.inf if max_items is None else max_items
        self._start_page, self._prefetch, self._strict = start_page, prefetch, strict
        self.total: int | None = None
        self.first_total: int | None = None
        self.total_changed = self.incomplete = self._closed = self._busy = False
        self.totals_seen: list[int] = []
        self.duplicates_dropped = self.items_recovered = self.rereads = self.items_settled = 0
        self.items_yielded = self.requests_made = 0
        self._claimed: str | None = None
        self._done = max_items == 0  # the forward walk is over
        self._start = self._offset = (start_page - 1) * per_page  # list positions
        self._limit = math.inf  # positions the walk may reach before it gives up
        self._end_total = 0  # the total of the page that ended the walk
        self._buffer: deque[T] = deque()  # items of the page being yielded
        self._buffer_page = self._resume_at = start_page
        self._ahead: dict[int, _Task[T]] = {}  # page -> fetch at _size
        self._running: set[_Task[T]] = set()
        self._seen: set[Hashable] = set()
        self._order: deque[Hashable] = deque()
        self._head: frozenset[Hashable] | None = None  # keys of page 1, for settle
        self._previous: tuple[int, int] | None = None  # (total, answer number) of the last page
        self._seq = self._answers = self._distinct = self._warnings = 0  # _seq: the answer taken

    def __repr__(self) -> str:
        state = f"{'closed' if self._done else 'open'}: {self.items_yielded} items yielded"
        return f"<Paginator {self._description} {state}, next {self.next_page}>"

    @property
    def next_page(self) -> int:
        """The ``start_page`` (in pages of :attr:`per_page`) that resumes at the next item."""
        return self._buffer_page if self._buffer else self._resume_at

    @property
    def per_page(self) -> int:
        """The page size the walk uses now: the one asked for, or the server's (short pages)."""
        return self._size

    def __aiter__(self) -> AsyncIterator[T]:
        self._claim("async for")
        return _Items(self)

    def pages(self) -> AsyncIterator[PageLike[T]]:
        """The pages as ``fetch`` returned them, in order, unfiltered; up to ``max_items``."""
        self._claim("pages()")
        return _Pages(self)

    async def collect(self) -> list[T]:
        """Every item of the walk in a list (at most ``max_items``). Single-use."""
        self._claim("collect()")
        return [item async for item in _Items(self)]

    async def aclose(self) -> None:
        """Stop the walk: cancel the fetches in flight and wait for them. Idempotent."""
        self._closed = True
        await self._shutdown()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _next_page_of_walk(self) -> tuple[int, PageLike[T]] | None:
        stalls = 0
        while not self._done:
            size, offset, number = self._size, self._offset, self._offset // self._size + 1
            if offset >= self._limit:
                why = f"the server announces more pages than its first total ({self.first_total})"
                raise self._stopped(f"{why} allowed (now {self.total})", number)
            task = self._ahead.pop(number) if number in self._ahead else self._spawn(number)
            page = await self._take(task, number)
            if self._limit == math.inf:  # twice the first total, and some slack, then give up
                self._limit = self._start + 2 * max(0, page.total - self._start) + 4 * self._asked
            got, start = len(page.items), (number - 1) * size
            if 0 < got < size and self._seen and self._key(page.items[0]) not in self._seen:
                got = size  # served where asked: the list ends early, not a smaller page size
            if not got or start + got >= page.total:  # the last page
                if not got and start < page.total:
                    self._log(f"page {number} came back empty before the total ({page.total})")
                self._done, self._end_total = True, page.total
                self._drop_ahead()
                return number, page
            if got != size:  # SPEC "Decision (short pages)": the server's page size is ``got``
                self._log(f"page {number} holds {got} items, not {size}: going on so", logging.INFO)
                self._size = got
                self._drop_ahead()
            # Positions held whether the server paged by ``size`` or ``got`` (rest: repeat filter).
            low, high = max(start, (number - 1) * got), min(start + got, number * got)
            if low <= offset < high:
                self._offset = high
                self._fill(page.total, len(page.items))
                return number, page
            stalls += 1
            if stalls > _MAX_STALLS:
                raise self._stopped("the server's page size keeps changing", number)
        if self._closed:
            raise _Closed
        return None

    def _fill(self, total: int, coming: int) -> None:
        if not self._prefetch or any(
            t.done() and not t.cancelled() and t.exception() for t in self._ahead.values()
        ):
            return  # a page ahead failed: the walk stops there, fetch nothing more
        size, first = self._size, self._offset // self._size + 1
        last = min(-(-max(total, self.total or 0) // size), first + self._prefetch - 1)
        wanted = self._max_items - self.items_yielded
        for number in range(first, last + 1):
            position = (number - 1) * size
            if position >= self._limit or position - self._offset >= wanted - coming:
                break
            if number not in self._ahead:
                self._ahead[number] = self._spawn(number)

    def _drop_ahead(self) -> None:
        for task in self._ahead.values():
            task.cancel()
        self._ahead = {}

    async def _step(self, step: Callable[[], Awaitable[_R | None]]) -> _R:
        """Run one step of a consumer; end the walk when it is over, failed or cancelled."""
        if self._busy:
            raise RuntimeError("this Paginator is already being awaited by another consumer")
        self._busy, result = True, None
        try:
            result = await step()
        except _Closed:
            pass
        finally:
            self._busy = False
            if result is None:  # over, failed or cancelled: release everything
                await self._shutdown()
        if result is None:
            raise StopAsyncIteration
        return result

    async def _next_batch(self) -> deque[T] | None:
        if self._closed:
            return None
        while not self._buffer:
            if self.items_yielded >= self._max_items:
                return None
            got = await self._next_page_of_walk()
            if got is None:
                if self._head is not None:  # settle: the items added at the head meanwhile
                    grew = -(-(max(self.totals_seen) - (self.first_total or 0)) // self._size)
                    back = min(_MAX_REREADS, grew + 1)  # always down to page 1: the newest
                    head, self._head = self._head, None
                    self._buffer.extend(await self._recover(back, head, anchored=False))
                    self.items_settled += len(self._buffer)
                    continue
                self._check_complete()
                return None
            number, page = got
            fresh, seq = self._fresh(page.items), self._seq
            self.duplicates_dropped += len(page.items) - len(fresh)
            # Skipped items at this boundary: a lower total, or a change and answers out of order.
            if self._previous is not None and (
                page.total < self._previous[0] or (seq < self._previous[1] and self.total_changed)
            ):
                skipped = await self._recover(number, map(self._key, page.items), anchored=True)
                self.items_recovered += len(skipped)
                fresh[:0] = skipped
            self._previous = page.total, seq
            if self._settle and number == 1:
                self._head = frozenset(map(self._key, page.items))
            self._buffer_page, self._resume_at = number, self._page_after(number)
            room = self._max_items - self.items_yielded
            if len(fresh) > room:  # the rest of this page is not yielded
                fresh, self._resume_at = fresh[: int(room)], number
            self._buffer.extend(fresh)
        return self._buffer

    async def _next_page_out(self) -> PageLike[T] | None:
        stop = self._closed or self.items_yielded >= self._max_items
        got = None if stop else await self._next_page_of_walk()
        if got is None:
            self._check_complete()
            return None
        self._fresh(got[1].items)  # counts distinct items for the completeness check
        self.items_yielded += len(got[1].items)
        self._resume_at = self._page_after(got[0])
        return got[1]

    def _page_after(self, number: int) -> int:
        return number + 1 if self._done else self._offset // self._size + 1

    def _fresh(self, items: Sequence[T]) -> list[T]:
        seen, order, keys = self._seen, self._order, list(map(self._key, items))
        if seen.isdisjoint(keys) and len(set(keys)) == len(keys):  # the usual page: all new
            out = list(items)
            seen.update(keys)
            order.extend(keys)
        else:
            out = []
            for item, k in zip(items, keys, strict=True):
                if k not in seen:
                    seen.add(k)
                    order.append(k)
                    out.append(item)
        self._distinct += len(out)
        keep = max(_MIN_KEYS, (self._prefetch + 2) * max(self._size, self._asked))
        while len(order) > keep:
            seen.discard(order.popleft())
        return out

    def _check_complete(self) -> None:
        if self._distinct >= (expected := self._end_total - self._start):
            return
        self.incomplete = True
        message = (
            f"the walk ended with {self._distinct} distinct items where the total announces "
            f"{expected} (the server repeated or left out items, or the list grew meanwhile)"
        )
        if self._strict:
            raise self._stopped(f"{message} (strict=True)", self._start_page)
        self._log(message)

    async def _recover(self, number: int, later: Iterable[Hashable], anchored: bool) -> list[T]:
        """Unseen items before the first of ``later``, re-reading pages right to left from
        ``number``; after the last item seen (``anchored``) or from the head (settle)."""
        key, seen, later = self._key, self._seen, set(later)
        found: list[T] = []
        for again in range(number, max(0, number - _MAX_REREADS), -1):
            self.rereads += 1
            items = list((await self._take(self._spawn(again), self._resume_at)).items)
            cut = next((i for i, item in enumerate(items) if key(item) in later), len(items))
            anchor = [i for i, item in enumerate(items[:cut]) if anchored and key(item) in seen]
            found[:0] = items[anchor[-1] + 1 if anchor else 0 : cut]
            if anchor or again == 1:
                break
        else:
            self._log(f"the list moved by more than {_MAX_REREADS} pages before page {number}")
        return self._fresh(found)

    def _spawn(self, number: int) -> _Task[T]:
        if self._closed:
            raise _Closed
        call = self._call(number, min(self._size, self._asked))  # never more than the API allows
        task = asyncio.create_task(call, name=f"{self._description} page {number}")
        self._running.add(task)
        task.add_done_callback(self._fetch_done)
        return task

    async def _call(self, number: int, per_page: int) -> tuple[int, PageLike[T]]:
        self.requests_made += 1  # here: a task cancelled before it ran never called fetch
        page = await self._fetch(number, per_page)
        total = page.total  # noted in the order the answers arrive
        self.first_total = total if self.first_total is None else self.first_total
        self.total_changed |= total != self.first_total
        if total not in self.totals_seen and len(self.totals_seen) < 64:
            self.totals_seen.append(total)
        if self.total is not None and total != self.total:
            self._warnings += 1  # three warnings per walk, then DEBUG
            level = logging.DEBUG if self._warnings > 3 else logging.WARNING
            self._log(f"the list changed during the walk: total {self.total} -> {total}", level)
        self.total = total
        self._answers += 1
        return self._answers, page

    def _fetch_done(self, task: _Task[T]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: the consumer gets it by awaiting the task

    async def _take(self, task: _Task[T], next_page: int) -> PageLike[T]:
        try:
            self._seq, page = await task
        except asyncio.CancelledError:
            if self._closed and ((me := asyncio.current_task()) is None or not me.cancelling()):
                raise _Closed from None  # aclose() from another task cancelled the fetch
            raise
        except ComfyControlError as err:
            if self.first_total is None:
                raise  # nothing walked yet: the request's own error says it all
            raise self._stopped(f"{type(err).__name__}: {err}", next_page) from err
        if self._closed:
            raise _Closed  # closed while the answer was on its way
        if self._strict and page.total != self.first_total:
            why = f"the list changed: total {self.first_total} -> {page.total} (strict=True)"
            changed = {"old_total": self.first_total or 0, "new_total": page.total}
            raise self._stopped(why, next_page, ListChangedError, **changed)
        return page

    def _stopped(
        self, why: str, number: int, cls: type[PaginationError] = PaginationError, **more: int
    ) -> PaginationError:
        resume = f"start_page={number}" + (f", per_page={self._size}" * (self._size != self._asked))
        message = f"{self._description}: {why}; stopped at page {number} after "
        message += f"{self.items_yielded} items (resume with {resume})"
        return cls(
            message, next_page=number, items_yielded=self.items_yielded, per_page=self._size, **more
        )

    def _log(self, message: str, level: int = logging.WARNING) -> None:
        log.log(level, "%s: %s", self._description, message)

    def _claim(self, how: str) -> None:
        if self._claimed is not None or self._closed:
            was = f"iterated (with {self._claimed})" if self._claimed else "closed"
            raise RuntimeError(f"a Paginator is single-use; this one was {was}: call list() again")
        self._claimed = how

    def _abandon(self, closing: bool = True) -> None:
        """Cancel every fetch, synchronously (a dropped iterator's finalizer calls it)."""
        self._done, self._closed = True, self._closed or closing
        for task in self._running:
            if not task.get_loop().is_closed():
                task.cancel()

    async def _shutdown(self) -> None:
        self._abandon(closing=False)
        if self._running:
            await asyncio.wait(set(self._running))


class _Pages(Generic[T]):
    """:meth:`Paginator.pages`; its finalizer cancels the fetches (``break``)."""

    __slots__ = ("__weakref__", "_walk")

    def __init__(self, walk: Paginator[T]) -> None:
        self._walk = walk
        weakref.finalize(self, walk._abandon).atexit = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> PageLike[T]:
        return await self._walk._step(self._walk._next_page_out)

    async def aclose(self) -> None:
        await self._walk.aclose()


class _Items(_Pages[T]):
    """What ``async for`` gets: the items of a buffer refilled a page at a time."""

    async def __anext__(self) -> T:  # type: ignore[override]
        walk, buffer = self._walk, self._walk._buffer
        if not buffer or walk._closed:
            buffer = await walk._step(walk._next_batch)
        walk.items_yielded += 1
        return buffer.popleft()

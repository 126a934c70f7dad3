"""Auto-pagination: every item of a ``page``/``per_page`` list, in order, fast, and bounded.

This module owns :class:`Paginator`, the object that ``cc.<resource>.list()`` returns. It walks
the pages of one list endpoint through a page fetcher the client hands it
(``fetch_page(page, per_page)``, which already retries and paces), keeps a bounded window of
pages in flight ahead of the consumer, yields items strictly in list order, drops the repeats
and recovers the skips that a list changing under the walk causes (the API lists newest first,
see "Pagination" in ``api/SPEC.md``), and turns a failure into an error that says where to
resume. It must not know about HTTP, build requests or retry: that is the client's job.

Design notes, for whoever changes this file:

* Every fetch runs in its own task, created only once the first ``__anext__`` runs (``list()``
  must return at once, outside any loop). The tasks are the only thing that holds resources, so
  releasing means cancelling them; :meth:`Paginator._finish` does it synchronously, and
  :meth:`Paginator._shutdown` also waits for them, so no task is ever left pending and no task
  exception is ever left unretrieved (a done callback retrieves every one).
* The iterators handed out by ``__aiter__``/``pages()`` are small objects that the paginator only
  knows through a ``weakref.finalize``: when an ``async for`` is left by ``break`` the iterator
  is freed at once (CPython reference counting) and its finalizer cancels the fetches in flight.
  ``aclose()``/``async with`` is the deterministic way and the one to document.
* Totals are compared in *page order* to detect skips (a lower total on page n+1 than on page
  n means items moved up across that boundary, if page n was read first; pages answered out
  of order are checked whenever the list is changing), and in *time order* (the order the
  fetches completed) for :attr:`Paginator.total`. A skip is then located by content, not by
  position, which makes it exact however the list moved: see :meth:`Paginator._recover`.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Any, Final, Generic, Protocol, Self, TypeAlias, TypeVar, cast

from ._exceptions import ComfyControlError, ListChangedError, PaginationError

__all__ = [
    "DEFAULT_PREFETCH",
    "INITIAL_WINDOW",
    "MAX_PER_PAGE",
    "FetchPage",
    "PageLike",
    "Paginator",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: The most pages fetched concurrently ahead of the consumer once the first page has given the
#: total (the size of the client's connection pool). While the consumer reads the first page
#: only :data:`INITIAL_WINDOW` pages are asked for, so one that stops there wastes at most 8
#: requests of the shared rate budget; once it has read a whole page the window opens fully,
#: so a walk of 100 pages asks for every page by its second round trip (the benchmark goal is
#: <= 1.5x the limit set by latency). At ``per_page=100`` at most 10,100 items are held.
DEFAULT_PREFETCH: Final = 100
#: Pages fetched ahead while the consumer reads the first page.
INITIAL_WINDOW: Final = 8
#: The API's maximum ``per_page`` (and the paginator's default).
MAX_PER_PAGE: Final = 100

# A walk may take twice the pages its first total announced, plus this many, before it
# decides that the server is not converging (a list growing that fast would never be walked
# to its end anyway) and raises.
_CAP_SLACK_PAGES: Final = 4
# Keys remembered for dropping repeats: at least this many, and at least (prefetch + 2) pages.
_DEDUP_MIN_KEYS: Final = 2_000
# Windows of the list read at most, per page boundary, to recover the items that a drop of
# the total skipped (3 more than the drop spans, and never more than this).
_MAX_RECOVERY_READS: Final = 8
# Distinct totals remembered in ``totals_seen``; warnings logged per walk before going quiet.
_MAX_TOTALS_SEEN: Final = 64
_MAX_CHANGE_WARNINGS: Final = 3

_log = logging.getLogger("comfycontrol_async")


class PageLike(Protocol[T_co]):
    """One page as ``fetch_page`` returns it; the SDK's :class:`~comfycontrol_async.Page` is one.

    The paginator reads only ``items`` and ``total``; ``page`` and ``per_page`` (the request's
    own) are there for the users of :meth:`Paginator.pages`.
    """

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def total(self) -> int: ...

    @property
    def page(self) -> int: ...

    @property
    def per_page(self) -> int: ...


#: ``fetch_page(page, per_page)``: one page of the list. It retries and paces on its own and
#: raises :class:`~comfycontrol_async.ComfyControlError` subclasses when it gives up.
FetchPage: TypeAlias = Callable[[int, int], Awaitable[PageLike[T]]]

_Fetched: TypeAlias = tuple[int, PageLike[T]]  # (completion number, page)


class _Closed(Exception):
    """Internal: the walk was closed while the consumer waited; ends the iteration."""


def _pages_for(total: int | None, per_page: int) -> int:
    return 0 if total is None or total <= 0 else -(-total // per_page)


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _window(low: int, high: int, *, keep_low: bool = False) -> tuple[int, int]:
    """A ``(page, per_page)`` whose page holds the most of places ``low`` to ``high - 1``.

    It always holds ``high - 1`` (or ``low`` with ``keep_low``); among equal coverings, the
    smallest page wins.
    """
    low = max(0, low)
    high = max(high, low + 1)
    kept = low if keep_low else high - 1
    best = (-1, 1, MAX_PER_PAGE)
    for size in range(1, MAX_PER_PAGE + 1):
        first = kept // size * size
        cover = min(first + size, high) - max(first, low)
        if cover > best[0]:
            best = (cover, kept // size + 1, size)
    return best[1], best[2]


def _last_index(
    items: Sequence[T], stop: int, key: Callable[[T], Hashable], seen: set[Hashable]
) -> int | None:
    """The index of the last item before ``stop`` whose key is in ``seen``."""
    for i in range(stop - 1, -1, -1):
        if key(items[i]) in seen:
            return i
    return None


def _cancelling() -> bool:
    """Whether the current task has been asked to cancel (not just a task it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


# -- errors that keep their type ------------------------------------------------------------


class _WalkStopped(PaginationError):
    """Base of the error classes a walk raises when ``fetch_page`` fails.

    For an original error of class ``E`` the walk raises an instance of a class derived from
    both :class:`PaginationError` and ``E`` (named ``PaginationError[E]``): ``except E`` and
    ``except PaginationError`` both catch it, every attribute of the original is there
    (``status``, ``body``, ``request_id``...), and ``__cause__`` is the original itself.
    """

    _original: ComfyControlError
    _walk: str

    def __str__(self) -> str:
        return (
            f"{super().__str__()} [{self._walk}: stopped at page {self.next_page} after "
            f"{self.items_yielded} items; resume with start_page={self.next_page}]"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_stopped_error, (self._original, self.next_page, self.items_yielded, self._walk))


_STOPPED_CLASSES: dict[type[ComfyControlError], type[_WalkStopped] | None] = {}


def _stopped_class(cls: type[ComfyControlError]) -> type[_WalkStopped] | None:
    try:
        return _STOPPED_CLASSES[cls]
    except KeyError:
        pass
    made: type[_WalkStopped] | None
    name = f"PaginationError[{cls.__name__}]"
    try:
        made = cast(
            "type[_WalkStopped]",
            type(name, (_WalkStopped, cls), {"__module__": __name__, "__qualname__": name}),
        )
    except TypeError:  # an unusual layout or MRO: fall back to a plain PaginationError
        made = None
    _STOPPED_CLASSES[cls] = made
    return made


def _stopped_error(
    err: ComfyControlError, next_page: int, items_yielded: int, walk: str
) -> PaginationError:
    """The error a walk raises (``from err``) when ``fetch_page`` raised ``err``."""
    cls = _stopped_class(type(err))
    if cls is not None:
        try:
            new = cls.__new__(cls)
            new.__dict__.update(err.__dict__)
            new.args = err.args
        except TypeError:
            pass
        else:
            new.next_page = next_page
            new.items_yielded = items_yielded
            new._original = err
            new._walk = walk
            return new
    return PaginationError(
        f"{walk}: {type(err).__name__}: {err} (stopped at page {next_page} after "
        f"{items_yielded} items; resume with start_page={next_page})",
        next_page=next_page,
        items_yielded=items_yielded,
    )


# -- the paginator --------------------------------------------------------------------------


class Paginator(Generic[T]):
    """Every item of every page of one list, walked lazily with concurrent prefetch.

    ``cc.runners.list()`` and its siblings return one at once (no ``await``); nothing is sent
    until it is iterated. It is single-use: iterate it once, with ``async for``, ``pages()`` or
    ``collect()``; a second iteration raises :class:`RuntimeError` (call ``list()`` again).

    ```python
    async with cc.workflows.list(per_page=100) as walk:   # closes the walk on the way out
        async for wf in walk:
            ...
    print(walk.items_yielded, walk.total_changed)
    ```

    **The walk.** Page ``start_page`` is fetched first; its ``total`` fixes the number of pages
    (``ceil(total / per_page)``); the walk ends after the last page, on an empty page, or once
    ``max_items`` items were yielded, and it never asks for a page past the last one it knows
    of (1,234 items at ``per_page=100``: 13 requests; ``max_items=150``: 2 requests; an empty
    list: 1 request). If the server keeps announcing more pages, past twice the pages its first
    total announced plus 4 (a list growing that fast could never be walked to its end), the
    walk stops with a :class:`PaginationError` (resumable, like any other) instead of going on
    forever.

    **Prefetch.** Once the total is known, later pages are fetched concurrently while the
    consumer works through the current one: :data:`INITIAL_WINDOW` (8) pages ahead while it
    reads the first page, then up to ``prefetch`` (default 100, :data:`DEFAULT_PREFETCH`). So
    at most ``prefetch`` fetches are in flight, at most ``prefetch + 1`` pages are held in
    memory, and a consumer that stops within the first page has cost at most 8 extra
    requests. Items still come out strictly in list order; a failure of a page fetched ahead
    stops further prefetch and is raised when the consumer reaches that page.
    ``prefetch=0`` walks strictly one page after another. The client's pacing still applies
    to every fetch.

    **Releasing.** ``aclose()``, leaving ``async with``, the end of the walk, an error or the
    cancellation of the consumer cancels every fetch in flight and waits for it to finish.
    Breaking out of ``async for`` also cancels them at once on CPython, as the iterator is
    freed (``async for`` itself never closes an iterator); ``async with``/``aclose()`` is the
    deterministic way, on every Python.

    **Lists that change under the walk** (newest first: an insert repeats an item on the next
    page, a delete skips one):

    * No key (``key(item)``, the ``id`` by default) is yielded twice: the last
      ``max(2,000, (prefetch + 2) x per_page)`` keys are remembered, which catches every repeat
      unless more items than that were added between two page fetches. Memory stays bounded
      for walks of any length.
    * A change of ``total`` is exposed (:attr:`total`, :attr:`total_changed`,
      :attr:`totals_seen`) and logged as a warning on the ``comfycontrol_async`` logger;
      ``strict=True`` raises :class:`ListChangedError` instead, before yielding any item of the
      page that showed the change.
    * Skipped items are found again (item iteration only: ``pages()`` is raw). Items are only
      ever added at the head, so the items skipped at a page boundary are exactly the unseen
      ones between the last item yielded before the boundary and the first item of the page
      after it, however the list changed. A boundary is checked when the later page reports a
      lower total than the page before it (which every skip causes when the pages were read
      in order), or, once the list has been seen changing, when the two pages were answered
      out of order (prefetch). The check reads one small window of the list holding both
      anchor items (any ``per_page`` up to 100 is a window; at most 8 windows for a long run)
      and the unseen items in between come out before the later page's items, in list order.
      If it cannot find them (the anchors were deleted meanwhile, or the run is longer than
      8 windows), a warning saying so is logged. So, in a list whose total moves at all during
      the walk, every item present from the walk's start to its end is yielded unless a
      warning says otherwise. The blind spot: pages answered out of order while additions and
      deletions balance so exactly that no total ever differs from the first one.
    * ``settle=True`` (only with ``start_page=1``): after a walk that reached its end (not one
      cut short by ``max_items``), page 1 is re-read, and more pages while the total grew by
      more than a page; the unseen items placed before the first surviving item of the walk's
      first page, that is those added during the walk, come out last, newest first. It costs
      at least one request. (Should every item of the first page have been deleted meanwhile,
      it takes the unseen items of the pages it reads.)

    **Errors.** When ``fetch_page`` fails (after the client's own retries) with ``E``, a
    :class:`ComfyControlError`, the walk raises an error that is *both* a
    :class:`PaginationError` and an ``E``: ``except NotFoundError`` still works, ``next_page``
    and ``items_yielded`` say where to resume (``list(start_page=err.next_page)`` yields exactly
    the items not yet yielded, if the list did not change), and ``__cause__`` is the original
    error. Errors raised inside the walk are raised in order: a prefetched page that failed is
    only reported when the consumer reaches it. Other exceptions (bugs) pass through untouched;
    :class:`asyncio.CancelledError` is never swallowed.

    Args:
        fetch_page: ``await fetch_page(page, per_page)`` returns one page.
        per_page: Items per page, 1 to 100 (the API's maximum, the default).
        max_items: Stop after this many items (``None``: all; ``0``: send nothing).
        start_page: The first page to fetch, >= 1; pass ``err.next_page`` to resume.
        prefetch: Pages fetched ahead concurrently, >= 0 (default :data:`DEFAULT_PREFETCH`).
        strict: Raise :class:`ListChangedError` when the list's total changes.
        settle: Re-read the head of the list after the walk for items added meanwhile.
        key: The identity of an item, for dropping repeats (default: its ``id``).
        description: Names the list in messages and logs, e.g. ``"GET /v1/runner"``.

    Raises:
        ValueError: A bad ``per_page``, ``max_items``, ``start_page`` or ``prefetch``, or
            ``settle=True`` with ``start_page`` > 1; raised here, before any request.
        TypeError: An argument of the wrong type.

    Attributes:
        total: The list's total as last seen (from the most recently fetched page), or ``None``
            before the first page.
        first_total: The total given by the first page.
        total_changed: Whether any page reported another total than the first.
        totals_seen: The distinct totals seen, in the order seen (at most 64 kept).
        duplicates_dropped: Items received but not yielded because their key was yielded.
        items_recovered: Items that a boundary check found skipped (and yielded).
        rereads: Requests made by boundary checks (included in ``requests_made``).
        items_settled: Items found by the ``settle`` pass.
        items_yielded: Items yielded so far (with ``pages()``: items of the pages yielded).
        requests_made: Calls made to ``fetch_page`` (including any cancelled while running).
    """

    total: int | None
    first_total: int | None
    total_changed: bool
    totals_seen: list[int]
    duplicates_dropped: int
    items_recovered: int
    items_settled: int
    rereads: int
    items_yielded: int
    requests_made: int

    def __init__(
        self,
        fetch_page: FetchPage[T],
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
        if not callable(fetch_page):
            raise TypeError("fetch_page must be callable")
        if not callable(key):
            raise TypeError("key must be callable")
        self._fetch_page = fetch_page
        self._per_page = _check_int("per_page", per_page, 1, MAX_PER_PAGE)
        self._max_items = None if max_items is None else _check_int("max_items", max_items, 0)
        self._start_page = _check_int("start_page", start_page, 1)
        self._prefetch = _check_int("prefetch", prefetch, 0)
        self._strict = bool(strict)
        self._settle = bool(settle)
        if self._settle and self._start_page != 1:
            raise ValueError(
                "settle=True needs start_page=1: the settle pass compares the head of the list "
                "with the first page of this walk"
            )
        self._key = key
        self._description = str(description)

        self.total = None
        self.first_total = None
        self.total_changed = False
        self.totals_seen = []
        self.duplicates_dropped = 0
        self.items_recovered = 0
        self.items_settled = 0
        self.rereads = 0
        self.items_yielded = 0
        self.requests_made = 0

        # Lifecycle.
        self._claimed: str | None = None  # "async for", "pages()" or "collect()"
        self._closed = False  # aclose() was called
        self._finished = False  # the walk is over, for any reason; nothing runs any more
        self._busy = False  # a consumer is inside a slow step
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[_Fetched[T]]] = set()
        # The forward walk.
        self._ahead: dict[int, asyncio.Task[_Fetched[T]]] = {}
        self._cursor = self._start_page  # the next page of the forward walk
        self._forward_done = False
        self._cap: int | None = None
        self._boundary_total: int | None = None  # total of the previous forward page
        self._boundary_seq = 0  # ...and the completion number of its fetch
        self._page_seq = 0  # completion number of the forward page just taken
        self._completed = 0  # fetches completed, numbering the snapshots in time order
        self._total_seq = 0  # completion number of the page that gave ``total``
        self._max_total = 0
        self._change_warnings = 0
        self._settled = False
        self._next_page_final: int | None = None
        # Items.
        self._buffer: deque[T] = deque()
        self._buffer_page = self._start_page
        self._window_size = max(_DEDUP_MIN_KEYS, self._per_page * (self._prefetch + 2))
        # Pages allowed ahead right now: INITIAL_WINDOW until the consumer has read a whole
        # page, then ``prefetch``.
        self._ramp = min(self._prefetch, INITIAL_WINDOW)
        self._last = 0  # the last page the totals seen so far announce
        self._window: deque[Hashable] = deque()
        self._seen: set[Hashable] = set()
        self._head: frozenset[Hashable] = frozenset()
        self._page_out: PageLike[T] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._finished else "open"
        return (
            f"<Paginator {self._description} {state}: {self.items_yielded} items yielded, "
            f"next page {self.next_page}, total {self.total}>"
        )

    @property
    def next_page(self) -> int:
        """The page to pass as ``start_page=`` to resume the walk from where it is now.

        It is the page of the next item to yield: items of that page already yielded would be
        yielded again by a resumed walk (never when resuming from an error, which is always
        raised at a page boundary).
        """
        if self._next_page_final is not None:
            return self._next_page_final
        return self._buffer_page if self._buffer else self._cursor

    # -- public API --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[T]:
        """Start the walk over items; see the class docstring. Single-use."""
        self._claim("async for")
        it: _ItemIterator[T] = _ItemIterator(self)
        self._watch(it)
        return it

    def pages(self) -> AsyncIterator[PageLike[T]]:
        """Walk the list page by page instead of item by item. Single-use, like ``async for``.

        Each page is yielded exactly as ``fetch_page`` returned it, in page order, the empty
        page that may end the walk included (so an empty list yields one empty page): no key
        is dropped, no page is re-read, ``settle`` does not apply. The total checks
        (``strict``, the warning, the page cap) and error handling are the same as for items.
        ``max_items`` stops the walk after the page that reaches it; pages are never cut.
        """
        self._claim("pages()")
        it: _PageIterator[T] = _PageIterator(self)
        self._watch(it)
        return it

    async def collect(self) -> list[T]:
        """Every item of the walk in a list (at most ``max_items``). Single-use.

        Raises:
            PaginationError: The walk could not go on (see the class docstring).
            ListChangedError: ``strict=True`` and the list changed.
        """
        self._claim("collect()")
        out: list[T] = []
        try:
            while not self._max_reached() and await self._step(self._refill_items):
                buffer = self._buffer
                take = len(buffer)
                if self._max_items is not None:
                    take = min(take, self._max_items - self.items_yielded)
                if take == len(buffer):
                    out.extend(buffer)
                    buffer.clear()
                else:
                    out.extend(buffer.popleft() for _ in range(take))
                self.items_yielded += take
        finally:
            await self._shutdown()
        return out

    async def aclose(self) -> None:
        """Stop the walk: cancel the fetches in flight and wait for them. Idempotent.

        An iteration in progress ends (its next step raises ``StopAsyncIteration``); a
        paginator closed before it was iterated can no longer be iterated.
        """
        self._closed = True
        await self._shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- lifecycle ---------------------------------------------------------------------------

    def _claim(self, how: str) -> None:
        if self._claimed is not None:
            raise RuntimeError(
                f"this Paginator was already iterated (with {self._claimed}); a Paginator is "
                "single-use: call list() again for a new walk"
            )
        if self._closed:
            raise RuntimeError("this Paginator was closed before it was iterated")
        self._claimed = how

    def _watch(self, iterator: object) -> None:
        # The paginator never holds its iterator: when the consumer drops it (``break`` out of
        # ``async for``), the finalizer cancels the fetches in flight at once.
        fin = weakref.finalize(iterator, self._abandon)
        fin.atexit = False

    def _abandon(self) -> None:
        """The iterator was garbage-collected: cancel the fetches, from the loop's thread."""
        loop = self._loop
        if self._finished or loop is None:
            self._finish()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._finish()
        elif not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._finish)
            except RuntimeError:  # pragma: no cover - the loop closed in the meantime
                self._finished = True
        else:
            self._finished = True

    def _finish(self) -> None:
        """End the walk now: cancel every fetch in flight and drop what is held (sync)."""
        if not self._finished:
            self._next_page_final = self.next_page
            self._finished = True
        self._buffer.clear()
        self._ahead.clear()
        self._seen.clear()
        self._window.clear()
        self._page_out = None
        for task in self._tasks:
            task.cancel()

    async def _shutdown(self) -> None:
        """:meth:`_finish`, then wait until every fetch task is done."""
        self._finish()
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending)

    async def _step(self, refill: Callable[[], Awaitable[bool]]) -> bool:
        """Run one slow step of the walk; release everything when it ends or fails."""
        if self._finished:
            return False
        if self._busy:
            raise RuntimeError("this Paginator is already being awaited by another consumer")
        self._busy = True
        try:
            more = await refill()
        except _Closed:
            more = False
        except BaseException:
            await self._shutdown()
            raise
        finally:
            self._busy = False
        if not more:
            await self._shutdown()
        return more

    # -- fetching ----------------------------------------------------------------------------

    async def _call(self, page: int, per_page: int) -> _Fetched[T]:
        self.requests_made += 1  # here: a task cancelled before it ran never called it
        result = await self._fetch_page(page, per_page)
        self._completed += 1
        return self._completed, result

    def _spawn(self, page: int, per_page: int = 0) -> asyncio.Task[_Fetched[T]]:
        if self._finished:
            raise _Closed
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        task = asyncio.create_task(
            self._call(page, per_page or self._per_page), name=f"{self._description} page {page}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._fetch_done)
        return task

    def _fetch_done(self, task: asyncio.Task[_Fetched[T]]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # mark it retrieved; the consumer gets it by awaiting the task

    async def _await(self, task: asyncio.Task[_Fetched[T]], next_page: int) -> _Fetched[T]:
        try:
            return await task
        except asyncio.CancelledError:
            if self._finished and not _cancelling():
                raise _Closed from None  # aclose() from another task cancelled the fetch
            raise
        except ComfyControlError as err:
            raise _stopped_error(err, next_page, self.items_yielded, self._description) from err

    def _observe(self, total: int, seq: int, where: str, next_page: int) -> None:
        """Take note of a page's total: expose it, warn about a change, or raise if strict."""
        if self.first_total is None:
            self.first_total = self.total = self._max_total = total
            self._total_seq = seq
            self.totals_seen.append(total)
            return
        self._max_total = max(self._max_total, total)
        if total != self.first_total:
            self.total_changed = True
        if total not in self.totals_seen and len(self.totals_seen) < _MAX_TOTALS_SEEN:
            self.totals_seen.append(total)
        old = self.total
        if seq > self._total_seq:
            self._total_seq = seq
            self.total = total
        if self._strict and total != self.first_total:
            raise ListChangedError(
                f"{self._description} changed during the walk: its total was "
                f"{self.first_total} on the first page and is {total} on {where} (strict=True)",
                next_page=next_page,
                items_yielded=self.items_yielded,
                old_total=self.first_total,
                new_total=total,
            )
        if self.total != old:
            self._change_warnings += 1
            level = logging.WARNING
            if self._change_warnings > _MAX_CHANGE_WARNINGS:
                level = logging.DEBUG
            _log.log(
                level,
                "%s changed during the walk: total %s -> %s (seen on %s); repeats are dropped "
                "and skips re-read",
                self._description,
                old,
                self.total,
                where,
            )

    # -- the forward walk --------------------------------------------------------------------

    def _max_reached(self) -> bool:
        return self._max_items is not None and self.items_yielded >= self._max_items

    async def _take_forward(self) -> tuple[int, PageLike[T]]:
        """The next page of the forward walk, in page order."""
        page_no = self._cursor
        if self._cap is not None and page_no > self._cap:
            raise PaginationError(
                f"{self._description}: the server announces more pages than its first total "
                f"({self.first_total}, now {self.total}) allowed; stopped before page {page_no} "
                f"(limit {self._cap} pages). Resume with start_page={page_no} if that is expected",
                next_page=page_no,
                items_yielded=self.items_yielded,
            )
        if page_no > self._start_page and self._ramp < self._prefetch:
            # The consumer read a whole page: a walk, not a peek. Open the window fully now,
            # before waiting for this page, so the rest is asked for in one round trip.
            self._ramp = self._prefetch
            self._fill()
        task = self._ahead.pop(page_no, None)
        if task is None:
            task = self._spawn(page_no)
        seq, page = await self._await(task, next_page=page_no)
        self._observe(page.total, seq, f"page {page_no}", next_page=page_no)
        self._page_seq = seq
        return page_no, page

    def _advance(self, page_no: int, page: PageLike[T]) -> None:
        """After page ``page_no``: decide whether the walk goes on, and fill the window."""
        self._cursor = page_no + 1
        per_page = self._per_page
        if self._cap is None:
            first_last = _pages_for(self.first_total, per_page)
            walk = max(0, first_last - self._start_page + 1)
            self._cap = max(self._start_page, first_last) + walk + _CAP_SLACK_PAGES
        last = max(_pages_for(page.total, per_page), _pages_for(self.total, per_page))
        done = False
        if not page.items:
            done = True
            if page_no <= last:
                _log.warning(
                    "%s: page %d came back empty although the total (%s) announces %d pages; "
                    "the walk stops there",
                    self._description,
                    page_no,
                    page.total,
                    last,
                )
        elif page_no >= last or (
            self._max_items is not None
            and self.items_yielded + len(self._buffer) >= self._max_items
        ):
            done = True
        if done:
            self._forward_done = True
            for task in self._ahead.values():
                task.cancel()
            self._ahead.clear()
            return
        self._last = last
        self._fill()

    def _fill(self) -> None:
        """Ask for the pages of the window ahead of the cursor that are not asked for yet."""
        if self._prefetch == 0 or self._forward_done or self._cap is None:
            return
        cursor = self._cursor
        per_page = self._per_page
        high = min(cursor - 1 + self._ramp, self._last, self._cap)
        if any(t.done() and not t.cancelled() and t.exception() for t in self._ahead.values()):
            return  # a page ahead failed: the walk will stop there, fetch nothing more
        committed = self.items_yielded + len(self._buffer)
        for ahead in range(cursor, high + 1):
            if ahead in self._ahead:
                continue
            if (
                self._max_items is not None
                and committed + (ahead - cursor) * per_page >= self._max_items
            ):
                break
            self._ahead[ahead] = self._spawn(ahead)

    # -- items -------------------------------------------------------------------------------

    async def _next_item(self) -> T:
        """The next item, when the buffer cannot give it at once (the fast path is inline)."""
        if not await self._step(self._refill_items):
            raise StopAsyncIteration
        self.items_yielded += 1
        return self._buffer.popleft()

    async def _refill_items(self) -> bool:
        while True:
            if self._finished:
                raise _Closed
            if self._max_reached():
                return False
            if self._buffer:
                return True
            if not self._forward_done:
                await self._forward_items()
            elif self._settle and not self._settled:
                self._settled = True
                await self._run_settle()
            else:
                return False

    async def _forward_items(self) -> None:
        page_no, page = await self._take_forward()
        previous, previous_seq = self._boundary_total, self._boundary_seq
        self._boundary_total, self._boundary_seq = page.total, self._page_seq
        self._buffer_page = page_no
        if previous is not None:
            # Items are only ever added at the head, so a skip at this boundary shows as a
            # lower total here than on the page before, if that page was read first. If it was
            # read after this one (prefetched pages may be answered in any order), additions
            # can cause a skip too, whatever the totals: then any change of the list counts.
            if page.total < previous:
                await self._recover(page_no, previous - page.total, page)
            elif self._page_seq < previous_seq and self.total_changed:
                await self._recover(page_no, max(1, page.total - previous), page)
        if self._settle and page_no == self._start_page:
            key = self._key
            self._head = frozenset(key(item) for item in page.items)
        self._take_items(page.items)
        self._advance(page_no, page)

    def _take_items(self, items: Sequence[T]) -> int:
        """Buffer the items whose key was not yielded recently; return how many."""
        key = self._key
        seen = self._seen
        window = self._window
        buffer = self._buffer
        size = self._window_size
        added = 0
        for item in items:
            k = key(item)
            if k in seen:
                self.duplicates_dropped += 1
                continue
            if len(window) >= size:
                seen.discard(window.popleft())
            seen.add(k)
            window.append(k)
            buffer.append(item)
            added += 1
        return added

    async def _recover(self, page_no: int, drop: int, later: PageLike[T]) -> None:
        """Page ``page_no`` reports ``drop`` fewer items than the page before it: find the skip.

        The API only adds items at the head of the list, so the items that sit between two
        items never change, except by deletion. The items skipped at this boundary are exactly
        the unseen ones between the last item yielded before page ``page_no`` and page
        ``page_no``'s first item: this reads one window of the list (any ``per_page`` up to 100
        makes a window) that holds both anchors, guessed from the totals, and moves it when an
        anchor is not in it. A run too long for one window is read in several, right to left.
        Found items are buffered in list order, ahead of page ``page_no``'s own items.
        """
        key = self._key
        seen = self._seen
        right = {key(item) for item in later.items}  # page_no's items, then the run found
        last_place = (page_no - 1) * self._per_page  # where page_no started, in its own list
        anchor = max(0, last_place + (self.total or 0) - later.total)  # ...in the newest one
        low, high = anchor - drop - 3, anchor + 3
        keep_low = False
        limit = min(_MAX_RECOVERY_READS, 3 + _pages_for(drop, MAX_PER_PAGE))
        chunks: list[list[T]] = []  # runs of skipped items, found right to left
        reads = 0
        while True:
            if reads == limit:
                _log.warning(
                    "%s: the total dropped by %d before page %d; re-read %d windows of the "
                    "list, some items may have been skipped",
                    self._description,
                    drop,
                    page_no,
                    reads,
                )
                break
            number, size = _window(low, high, keep_low=keep_low)
            keep_low = False
            seq, page = await self._await(self._spawn(number, size), next_page=page_no)
            reads += 1
            self.rereads += 1
            start = (number - 1) * size
            where = f"a re-read of items {start + 1}-{start + size}"
            self._observe(page.total, seq, where, next_page=page_no)
            items = page.items
            stop = next((i for i, item in enumerate(items) if key(item) in right), None)
            at_end = start + len(items) >= page.total or len(items) < size
            if stop is None:
                if not items:  # past the end: look before it
                    if page.total <= 0:
                        break
                    low, high = page.total - MAX_PER_PAGE, page.total
                    continue
                if not later.items:  # page_no was empty: the skipped items end the list
                    if not at_end:
                        low, high = page.total - MAX_PER_PAGE, page.total
                        continue
                    stop = len(items)
                else:
                    last_seen = _last_index(items, len(items), key, seen)
                    if last_seen is None and start > 0:  # all after the anchors: look before
                        low, high = start - MAX_PER_PAGE + 1, start + 1
                        continue
                    if not at_end:  # the right anchor is further on
                        low = start + (len(items) - 1 if last_seen is None else last_seen)
                        high, keep_low = low + MAX_PER_PAGE, True
                        continue
                    _log.warning(
                        "%s: the items of page %d were deleted before they could be located "
                        "again; items skipped before it may be missing",
                        self._description,
                        page_no,
                    )
                    break
            first = _last_index(items, stop, key, seen)
            run = [
                item
                for item in items[(0 if first is None else first + 1) : stop]
                if key(item) not in seen and key(item) not in right
            ]
            chunks.append(run)
            if first is not None or start == 0:
                break
            # No item yielded before the run in this window: the run goes on to the left.
            right.update(key(item) for item in run)
            low, high = start - MAX_PER_PAGE + 1, start + 1
        for run in reversed(chunks):
            self.items_recovered += self._take_items(run)

    async def _run_settle(self) -> None:
        """Re-read the head of the list; buffer the items placed before the walk's first page."""
        per_page = self._per_page
        key = self._key
        head = self._head
        next_page = self._buffer_page = self._cursor
        page_no = 1
        while True:
            growth = max(0, self._max_total - (self.first_total or 0))
            limit = _pages_for(growth, per_page) + 1
            if page_no > limit or (self._cap is not None and page_no > self._cap):
                break
            seq, page = await self._await(self._spawn(page_no), next_page=next_page)
            self._observe(page.total, seq, f"page {page_no} (settle)", next_page=next_page)
            fresh: list[T] = []
            anchored = False
            for item in page.items:
                if key(item) in head:
                    anchored = True
                    break
                fresh.append(item)
            self.items_settled += self._take_items(fresh)
            if anchored or len(page.items) < per_page:
                break
            page_no += 1

    # -- pages -------------------------------------------------------------------------------

    async def _next_page_out(self) -> PageLike[T]:
        if not await self._step(self._refill_page):
            raise StopAsyncIteration
        page = self._page_out
        self._page_out = None
        assert page is not None
        return page

    async def _refill_page(self) -> bool:
        if self._forward_done or self._max_reached():
            return False
        page_no, page = await self._take_forward()
        if self._finished:
            raise _Closed
        self.items_yielded += len(page.items)
        self._advance(page_no, page)
        self._page_out = page
        return True


class _ItemIterator(Generic[T]):
    """What ``async for`` gets from a :class:`Paginator`: its items, in order."""

    __slots__ = ("__weakref__", "_walk")

    def __init__(self, walk: Paginator[T]) -> None:
        self._walk = walk

    def __aiter__(self) -> _ItemIterator[T]:
        return self

    async def __anext__(self) -> T:
        # A coroutine of this object's own, so that the iterator stays alive while it runs
        # (``await anext(aiter(walk))`` must not free it half-way).
        walk = self._walk
        buffer = walk._buffer
        if buffer and (walk._max_items is None or walk.items_yielded < walk._max_items):
            walk.items_yielded += 1
            return buffer.popleft()
        return await walk._next_item()

    async def aclose(self) -> None:
        """Close the walk (see :meth:`Paginator.aclose`)."""
        await self._walk.aclose()


class _PageIterator(Generic[T]):
    """What :meth:`Paginator.pages` returns: the pages, in order."""

    __slots__ = ("__weakref__", "_walk")

    def __init__(self, walk: Paginator[T]) -> None:
        self._walk = walk

    def __aiter__(self) -> _PageIterator[T]:
        return self

    async def __anext__(self) -> PageLike[T]:
        return await self._walk._next_page_out()

    async def aclose(self) -> None:
        """Close the walk (see :meth:`Paginator.aclose`)."""
        await self._walk.aclose()

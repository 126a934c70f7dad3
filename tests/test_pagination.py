"""The auto-paginator, against an in-memory newest-first list served page by page.

Nothing here measures time: overlap and memory are checked by counting fetches in flight and
pages held, and every wait is on a condition (``until``), so the tests are deterministic.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import pickle
import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

import attrs
import pytest

from comfycontrol_async import ComfyControl
from comfycontrol_async._exceptions import (
    APIConnectionError,
    ComfyControlError,
    ListChangedError,
    NotFoundError,
    PaginationError,
    ServerError,
)
from comfycontrol_async._pagination import DEFAULT_PREFETCH, Paginator
from comfycontrol_async.testing import FakeComfyControl

# -- the fake list ----------------------------------------------------------------------------


@attrs.frozen
class Item:
    id: str


@attrs.frozen
class FakePage:
    items: list[Item]
    total: int
    page: int
    per_page: int


class FakeList:
    """A newest-first list served page by page, with hooks to change it and to misbehave.

    ``snapshot="request"`` reads the list when a call starts (calls then see the list in the
    order they were made); ``"response"`` reads it after the latency, so concurrent calls may
    see it in any order.
    """

    def __init__(
        self,
        n: int,
        *,
        latency: float | Callable[[int], float] = 0.0,
        snapshot: str = "request",
    ) -> None:
        self.items = [Item(f"item-{k:06d}") for k in range(n)]
        self.latency = latency
        self.snapshot = snapshot
        self.calls: list[int] = []
        self.sizes: list[int] = []  # per_page of each call
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed = 0
        self.cancelled: list[int] = []
        self.before: dict[int, Callable[[FakeList], object]] = {}  # page -> change, 1st call
        self.on_call: Callable[[FakeList, int], object] | None = None
        self.fail: dict[int, BaseException] = {}  # page -> raised, once
        self.block: set[int] = set()  # pages that wait for ``release``
        self.release = asyncio.Event()
        self.lie: Callable[[int, int], int] | None = None  # (page, real total) -> total sent
        # Hostile servers: the page size really served (page, per_page asked) -> size, and the
        # page really served (a stale cache) page -> page.
        self.page_size: Callable[[int, int], int] | None = None
        self.stale: Callable[[int], int] | None = None
        self._made = 0

    def insert(self, count: int = 1) -> list[Item]:
        new = [Item(f"new-{self._made + k:06d}") for k in range(count)]
        self._made += count
        self.items[:0] = new
        return new

    def delete(self, index: int) -> Item:
        return self.items.pop(index)

    def _serve(self, page: int, per_page: int) -> FakePage:
        size = per_page if self.page_size is None else self.page_size(page, per_page)
        start = ((page if self.stale is None else self.stale(page)) - 1) * size
        total = len(self.items)
        if self.lie is not None:
            total = self.lie(page, total)
        return FakePage(self.items[start : start + size], total, page, per_page)

    async def fetch(self, page: int, per_page: int) -> FakePage:
        self.calls.append(page)
        self.sizes.append(per_page)
        hook = self.before.pop(page, None)
        if hook is not None:
            hook(self)
        if self.on_call is not None:
            self.on_call(self, page)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            served = self._serve(page, per_page) if self.snapshot == "request" else None
            delay = self.latency(page) if callable(self.latency) else self.latency
            if delay:
                await asyncio.sleep(delay)
            if page in self.block:
                await self.release.wait()
            error = self.fail.pop(page, None)
            if error is not None:
                raise error
            if served is None:
                served = self._serve(page, per_page)
            self.completed += 1
            return served
        except asyncio.CancelledError:
            self.cancelled.append(page)
            raise
        finally:
            self.in_flight -= 1


def ids(items: Iterable[Item]) -> list[str]:
    return [item.id for item in items]


async def until(condition: Callable[[], bool], spins: int = 10_000) -> None:
    """Let the loop run (no clock involved) until ``condition()`` holds."""
    for _ in range(spins):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def drain(iterator: AsyncIterable[Any]) -> list[Any]:
    return [x async for x in iterator]


def server_error(status: int = 503) -> ServerError:
    return ServerError(
        "unavailable", status=status, body="<html>busy</html>", method="GET", url="https://x/v1/a"
    )


@pytest.fixture(autouse=True)
async def _no_stray_tasks_or_loop_errors() -> AsyncIterator[None]:
    """Every test must leave no task behind and no unretrieved exception in the loop."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    before = asyncio.all_tasks()
    yield
    gc.collect(1)  # the young generations are enough to free what a test left, and cheap
    await asyncio.sleep(0)
    me = asyncio.current_task()
    assert {t for t in asyncio.all_tasks() if t not in before and t is not me} == set()
    assert errors == []
    loop.set_exception_handler(None)


# -- walking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 4, DEFAULT_PREFETCH, 50])
async def test_every_item_in_order_in_exactly_the_pages_needed(prefetch: int) -> None:
    fake = FakeList(1234)
    walk = Paginator(fake.fetch, prefetch=prefetch)
    got = await drain(walk)
    assert ids(got) == ids(fake.items)
    assert sorted(fake.calls) == list(range(1, 14))  # 13 requests, never page 14
    assert walk.requests_made == 13
    assert (walk.total, walk.first_total, walk.total_changed) == (1234, 1234, False)
    assert walk.totals_seen == [1234]
    assert walk.items_yielded == 1234
    assert walk.duplicates_dropped == 0
    assert walk.next_page == 14


@pytest.mark.parametrize("prefetch", [0, 4, DEFAULT_PREFETCH])
async def test_max_items_sends_only_the_requests_it_needs(prefetch: int) -> None:
    fake = FakeList(1234)
    got = await Paginator(fake.fetch, max_items=150, prefetch=prefetch).collect()
    assert ids(got) == ids(fake.items[:150])
    assert sorted(fake.calls) == [1, 2]


async def test_max_items_on_a_page_boundary_and_in_async_for() -> None:
    fake = FakeList(1234)
    walk = Paginator(fake.fetch, max_items=200, per_page=50)
    assert ids(await drain(walk)) == ids(fake.items[:200])
    assert sorted(fake.calls) == [1, 2, 3, 4]
    assert walk.next_page == 5


async def test_max_items_mid_page_resumes_from_that_page() -> None:
    fake = FakeList(500)
    walk = Paginator(fake.fetch, max_items=150)
    assert len(await drain(walk)) == 150
    assert walk.next_page == 2  # page 2 was only half yielded


async def test_max_items_zero_sends_nothing() -> None:
    fake = FakeList(10)
    assert await Paginator(fake.fetch, max_items=0).collect() == []
    assert await drain(Paginator(fake.fetch, max_items=0).pages()) == []
    assert fake.calls == []


async def test_an_empty_list_is_one_request() -> None:
    fake = FakeList(0)
    walk = Paginator(fake.fetch)
    assert await walk.collect() == []
    assert fake.calls == [1]
    assert walk.total == 0
    pages = await drain(Paginator(fake.fetch).pages())
    assert [(p.page, p.items, p.total) for p in pages] == [(1, [], 0)]


async def test_an_empty_page_ends_the_walk(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeList(250)
    fake.lie = lambda page, total: 1000  # announces 10 pages, has 3
    walk = Paginator(fake.fetch, prefetch=0)
    with caplog.at_level(logging.WARNING, logger="comfycontrol_async"):
        got = await walk.collect()
    assert ids(got) == ids(fake.items)
    assert fake.calls == [1, 2, 3, 4]
    assert "page 4 came back empty" in caplog.text


async def test_an_empty_page_ends_the_walk_with_prefetch() -> None:
    fake = FakeList(250)
    fake.lie = lambda page, total: 1000
    got = await Paginator(fake.fetch, prefetch=3).collect()
    assert ids(got) == ids(fake.items)
    assert max(fake.calls) <= 7  # pages already asked for are cancelled, none added


async def test_a_total_below_the_items_is_trusted_for_the_page_count() -> None:
    fake = FakeList(1000)
    fake.lie = lambda page, total: 250  # full pages keep coming, the total says 3 pages
    got = await Paginator(fake.fetch).collect()
    assert len(got) == 300
    assert sorted(fake.calls) == [1, 2, 3]


@pytest.mark.parametrize("prefetch", [0, 3])
async def test_a_total_that_keeps_growing_hits_the_page_cap(prefetch: int) -> None:
    fake = FakeList(1000)
    fake.lie = lambda page, total: page * 10 + 1  # always "one more page"
    walk = Paginator(fake.fetch, per_page=10, prefetch=prefetch)
    got: list[Item] = []
    with pytest.raises(PaginationError, match="more pages than its first total") as info:
        async for item in walk:
            got.append(item)
    # First total 11: twice that plus 4 pages of positions (62) walked, page 8 refused.
    assert (info.value.next_page, info.value.items_yielded) == (8, 70)
    assert len(got) == 70
    assert max(fake.calls) == 7
    assert not isinstance(info.value, ListChangedError)
    # The error is resumable like any other: a new walk starts with a new cap.
    rest = await Paginator(fake.fetch, per_page=10, start_page=8, max_items=30).collect()
    assert ids(got + rest) == ids(fake.items[:100])


async def test_start_page_past_the_end_is_one_request() -> None:
    fake = FakeList(1234)
    assert await Paginator(fake.fetch, start_page=20).collect() == []
    assert fake.calls == [20]


async def test_per_page_is_passed_through() -> None:
    seen: list[tuple[int, int]] = []
    fake = FakeList(95)

    async def fetch(page: int, per_page: int) -> FakePage:
        seen.append((page, per_page))
        return await fake.fetch(page, per_page)

    got = await Paginator(fetch, per_page=7, prefetch=0).collect()
    assert ids(got) == ids(fake.items)
    assert seen == [(p, 7) for p in range(1, 15)]


# -- prefetch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_order_is_kept_under_random_latencies(seed: int) -> None:
    rng = random.Random(seed)
    fake = FakeList(1003, latency=lambda page: rng.random() * 0.002)
    walk = Paginator(fake.fetch, per_page=37, prefetch=5)
    assert ids(await drain(walk)) == ids(fake.items)
    fake2 = FakeList(1003, latency=lambda page: rng.random() * 0.002)
    pages = await drain(Paginator(fake2.fetch, per_page=37, prefetch=5).pages())
    assert [p.page for p in pages] == list(range(1, 29))
    assert ids(i for p in pages for i in p.items) == ids(fake2.items)


@pytest.mark.parametrize("prefetch", [0, 1, 4, 10])
async def test_fetches_overlap_up_to_prefetch_and_never_more(prefetch: int) -> None:
    fake = FakeList(2000, latency=0.001)
    got = await Paginator(fake.fetch, prefetch=prefetch).collect()
    assert len(got) == 2000
    # 20 pages: with prefetch=4, four fetches run at once, so the walk takes ~6 latencies, not 20.
    assert fake.max_in_flight == max(1, prefetch)


@pytest.mark.parametrize("prefetch", [0, 2, 5])
async def test_at_most_prefetch_plus_one_pages_are_held(prefetch: int) -> None:
    fake = FakeList(1000)
    walk = Paginator(fake.fetch, per_page=50, prefetch=prefetch)
    held_max = 0
    async for index, _item in _enumerate(walk):
        if index % 50 == 25:
            # A slow consumer: let every fetch started so far finish before going on.
            await until(lambda: not walk._running)
        held = fake.completed - index // 50  # pages served but not yet fully consumed
        assert held <= prefetch + 1
        held_max = max(held_max, held)
    assert held_max == prefetch + 1


async def _enumerate(iterator: AsyncIterable[Item]) -> AsyncIterator[tuple[int, Item]]:
    index = 0
    async for item in iterator:
        yield index, item
        index += 1


# -- releasing --------------------------------------------------------------------------------


async def test_break_cancels_the_fetches_in_flight_at_once() -> None:
    fake = FakeList(1000)
    fake.block = set(range(2, 11))
    before = asyncio.all_tasks()
    walk = Paginator(fake.fetch, prefetch=4)
    count = 0
    async for _item in walk:
        count += 1
        if count == 1:
            await until(lambda: fake.in_flight == 4)  # pages 2-5 are being fetched
        if count == 30:
            break
    # The iterator was freed by the break; its finalizer cancelled the four fetches.
    assert all(t.done() or t.cancelling() for t in asyncio.all_tasks() - before)
    await until(lambda: fake.in_flight == 0)
    assert sorted(fake.cancelled) == [2, 3, 4, 5]
    assert asyncio.all_tasks() == before
    assert (walk.items_yielded, walk.next_page) == (30, 1)
    await walk.aclose()  # still fine, and idempotent


@pytest.mark.parametrize("how", ["aclose", "async with", "iterator aclose"])
async def test_closing_cancels_and_waits_for_the_fetches(how: str) -> None:
    fake = FakeList(1000)
    fake.block = set(range(2, 11))
    before = asyncio.all_tasks()
    walk = Paginator(fake.fetch, prefetch=3)
    if how == "async with":
        async with walk as entered:
            assert entered is walk
            it = aiter(walk)  # kept alive on purpose: closing must not depend on the GC
            await anext(it)
            await until(lambda: fake.in_flight == 3)
    else:
        it = aiter(walk)
        await anext(it)
        await until(lambda: fake.in_flight == 3)
        if how == "aclose":
            await walk.aclose()
        else:
            await it.aclose()  # type: ignore[attr-defined]
    # No loop iteration needed: closing waited for the cancelled fetches.
    assert fake.in_flight == 0
    assert sorted(fake.cancelled) == [2, 3, 4]
    assert asyncio.all_tasks() == before
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    await walk.aclose()


async def test_a_dropped_iterator_is_released() -> None:
    fake = FakeList(1000)
    fake.block = set(range(2, 11))
    walk = Paginator(fake.fetch, prefetch=2)
    it = aiter(walk)
    await anext(it)
    await until(lambda: fake.in_flight == 2)
    del it
    await until(lambda: fake.in_flight == 0)
    assert sorted(fake.cancelled) == [2, 3]


async def test_anext_of_a_fresh_iterator_keeps_it_alive_while_it_runs() -> None:
    fake = FakeList(300)
    walk = Paginator(fake.fetch, prefetch=2)
    first = await anext(aiter(walk))  # the iterator is dropped right after this
    assert first == fake.items[0]
    await until(lambda: fake.in_flight == 0)
    assert walk.items_yielded == 1


async def test_cancelling_the_consumer_cancels_the_fetches() -> None:
    fake = FakeList(1000)
    fake.block = set(range(3, 11))
    walk = Paginator(fake.fetch, prefetch=4)
    got: list[Item] = []

    async def consume() -> None:
        async for item in walk:
            got.append(item)

    consumer = asyncio.create_task(consume())
    await until(lambda: len(got) == 200 and fake.in_flight == 4)  # waiting for page 3
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert fake.in_flight == 0  # already: the paginator waited for them
    assert sorted(fake.cancelled) == [3, 4, 5, 6]
    assert walk.next_page == 3


async def test_a_timeout_around_the_walk_works() -> None:
    fake = FakeList(1000)
    fake.block = {2}
    walk = Paginator(fake.fetch, prefetch=3)
    got: list[Item] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            async for item in walk:
                got.append(item)
    assert len(got) == 100
    assert fake.in_flight == 0
    assert 2 in fake.cancelled


async def test_a_cancelled_error_from_fetch_page_is_not_swallowed() -> None:
    fake = FakeList(500)
    fake.fail[2] = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):
        await Paginator(fake.fetch, prefetch=2).collect()
    assert fake.in_flight == 0


async def test_aclose_from_another_task_ends_the_iteration() -> None:
    fake = FakeList(1000)
    fake.block = {2}
    walk = Paginator(fake.fetch, prefetch=0)
    got: list[Item] = []

    async def consume() -> None:
        async for item in walk:
            got.append(item)

    consumer = asyncio.create_task(consume())
    await until(lambda: len(got) == 100 and fake.in_flight == 1)
    await walk.aclose()
    await consumer  # ends normally
    assert fake.cancelled == [2]
    assert walk.next_page == 2


@pytest.mark.parametrize("prefetch", [0, 1])
@pytest.mark.parametrize("mode", ["items", "pages"])
async def test_a_walk_closed_while_a_page_was_on_its_way_stops_cleanly(
    mode: str, prefetch: int
) -> None:
    fake = FakeList(1000)
    walk: Paginator[Item]

    async def fetch(page: int, per_page: int) -> FakePage:
        result = await fake.fetch(page, per_page)
        if page == 2:
            # As if aclose() ran after the answer came, before the consumer's turn.
            asyncio.get_running_loop().call_soon(walk._abandon)
        return result

    walk = Paginator(fetch, prefetch=prefetch)
    if mode == "items":
        assert len(await drain(walk)) == 100
    else:
        assert len(await drain(walk.pages())) == 1
    assert fake.calls[:2] == [1, 2]


async def test_the_pages_iterator_can_be_closed() -> None:
    fake = FakeList(1000)
    fake.block = set(range(2, 11))
    walk = Paginator(fake.fetch, prefetch=2)
    pages = walk.pages()
    await anext(pages)
    await until(lambda: fake.in_flight == 2)
    await pages.aclose()  # type: ignore[attr-defined]
    assert fake.in_flight == 0
    assert walk.next_page == 2


def test_a_dropped_iterator_after_its_loop_closed() -> None:
    fake = FakeList(1000)
    walk = Paginator(fake.fetch, prefetch=0)
    loop = asyncio.new_event_loop()
    it = aiter(walk)
    try:
        loop.run_until_complete(anext(it))
    finally:
        loop.close()
    del it  # the finalizer must not touch the closed loop
    assert "closed" in repr(walk)


async def test_two_consumers_at_once_are_refused() -> None:
    fake = FakeList(300)
    fake.block = {1}
    walk = Paginator(fake.fetch)
    it = aiter(walk)

    async def take() -> Item:
        return await anext(it)

    first = asyncio.create_task(take())
    await until(lambda: fake.in_flight == 1)
    with pytest.raises(RuntimeError, match="already being awaited"):
        await anext(it)
    fake.release.set()
    assert await first == fake.items[0]
    await walk.aclose()


# -- lists that change during the walk --------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_an_insert_repeats_an_item_which_is_dropped(
    prefetch: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeList(500)
    original = ids(fake.items)
    fake.before[3] = lambda f: f.insert()  # pushes page 2's last item onto page 3
    walk = Paginator(fake.fetch, prefetch=prefetch, description="GET /v1/workflow")
    with caplog.at_level(logging.WARNING, logger="comfycontrol_async"):
        got = ids(await drain(walk))
    assert got == original  # each once, in order; the new item is at the head, behind us
    assert walk.duplicates_dropped == 1
    assert (walk.first_total, walk.total, walk.total_changed) == (500, 501, True)
    assert walk.totals_seen == [500, 501]
    assert sorted(fake.calls) == [1, 2, 3, 4, 5, 6]  # 501 items: a 6th page appeared
    changed, short = [r for r in caplog.records if r.name == "comfycontrol_async"]
    assert changed.levelno == short.levelno == logging.WARNING
    assert "GET /v1/workflow" in changed.getMessage()
    assert "500 -> 501" in changed.getMessage()
    # The new item is not in the walk: 500 distinct items of 501 is said, not hidden.
    assert walk.incomplete
    assert "500 distinct items where the total announces 501" in short.getMessage()


async def test_many_inserts_between_two_pages_are_all_dropped() -> None:
    fake = FakeList(500)
    original = ids(fake.items)
    fake.before[3] = lambda f: f.insert(150)  # more than a page
    walk = Paginator(fake.fetch, prefetch=0)
    got = ids(await drain(walk))
    assert got == original
    assert walk.duplicates_dropped == 150


async def test_strict_raises_list_changed_before_the_changed_page() -> None:
    fake = FakeList(500)
    fake.before[3] = lambda f: f.insert()
    walk = Paginator(fake.fetch, strict=True, prefetch=2)
    got: list[Item] = []
    with pytest.raises(ListChangedError) as info:
        async for item in walk:
            got.append(item)
    err = info.value
    assert (err.old_total, err.new_total) == (500, 501)
    assert (err.next_page, err.items_yielded) == (3, 200)
    assert len(got) == 200
    assert walk.total_changed
    assert fake.in_flight == 0


async def test_strict_applies_to_pages_too() -> None:
    fake = FakeList(500)
    fake.before[2] = lambda f: f.delete(0)
    with pytest.raises(ListChangedError, match="strict=True"):
        await drain(Paginator(fake.fetch, strict=True).pages())


async def test_strict_with_no_change_walks_normally() -> None:
    fake = FakeList(500)
    assert ids(await Paginator(fake.fetch, strict=True).collect()) == ids(fake.items)


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_settle_yields_the_items_added_during_the_walk(prefetch: int) -> None:
    fake = FakeList(500)
    original = ids(fake.items)
    added: list[Item] = []
    fake.before[3] = lambda f: added.extend(f.insert(2))
    fake.before[5] = lambda f: added.extend(f.insert(1))
    walk = Paginator(fake.fetch, prefetch=prefetch, settle=True)
    got = ids(await drain(walk))
    # Everything once; the additions last, newest first, as the list has them.
    assert got == original + ids(fake.items[:3])
    assert sorted(ids(added)) == sorted(got[500:])
    assert walk.items_settled == 3
    assert fake.calls.count(1) == 2  # page 1 re-read once


async def test_settle_reads_more_than_one_page_when_many_were_added() -> None:
    fake = FakeList(300)
    original = ids(fake.items)
    fake.before[3] = lambda f: f.insert(130)
    walk = Paginator(fake.fetch, prefetch=0, settle=True)
    got = ids(await drain(walk))
    assert got == original + ids(fake.items[:130])
    assert fake.calls == [1, 2, 3, 4, 5, 3, 2, 1]  # the growth spans 2 pages: read back to 1
    assert not walk.incomplete


async def test_settle_on_a_list_that_did_not_change_costs_one_request() -> None:
    fake = FakeList(250)
    walk = Paginator(fake.fetch, settle=True)
    assert ids(await walk.collect()) == ids(fake.items)
    assert sorted(fake.calls) == [1, 1, 2, 3]
    assert walk.items_settled == 0


async def test_settle_on_a_list_that_was_empty() -> None:
    fake = FakeList(0)
    # The first page says 0; three items arrive before the settle pass reads page 1.
    fake.on_call = lambda f, page: f.insert(3) if len(f.calls) == 2 else None
    walk = Paginator(fake.fetch, settle=True)
    assert ids(await walk.collect()) == ids(fake.items)
    assert fake.calls == [1, 1]
    assert walk.items_settled == 3


async def test_settle_reads_back_only_what_the_walk_saw_grow() -> None:
    fake = FakeList(10)
    fake.on_call = _on_call(2, lambda f: f.insert(100))  # just before the settle pass
    walk = Paginator(fake.fetch, per_page=10, settle=True)
    got = await walk.collect()
    assert fake.calls == [1, 1]  # the walk saw no growth: page 1 only
    assert walk.items_settled == 10
    assert len(got) == 20


async def test_settle_reads_back_at_most_eight_pages_down_to_the_head() -> None:
    fake = FakeList(100)
    fake.before[5] = lambda f: f.insert(100)  # 10 pages of 10 added before page 5
    walk = Paginator(fake.fetch, per_page=10, prefetch=0, settle=True)
    got = ids(await walk.collect())
    # Pages 5-10 now hold added items 40-99 (the walk yields them where they are); settle
    # reads pages 8 down to 1 and yields the 40 newest, last.
    assert sorted(got) == sorted(ids(fake.items))
    assert got[-40:] == ids(fake.items[:40])
    assert (walk.items_settled, walk.rereads) == (40, 8)
    assert fake.calls[-8:] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert not walk.incomplete


async def test_settle_is_not_run_when_max_items_stopped_the_walk() -> None:
    fake = FakeList(500)
    fake.before[2] = lambda f: f.insert()
    got = await Paginator(fake.fetch, settle=True, max_items=150, prefetch=0).collect()
    assert len(got) == 150
    assert fake.calls == [1, 2]


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_a_delete_skip_is_recovered_in_order(prefetch: int) -> None:
    fake = FakeList(500)
    original = ids(fake.items)
    fake.before[3] = lambda f: f.delete(10)  # pulls page 3's first item up onto page 2
    walk = Paginator(fake.fetch, prefetch=prefetch)
    got = ids(await drain(walk))
    assert got == original  # item 10 was yielded before it went; item 200 was recovered
    assert (walk.items_recovered, walk.rereads) == (1, 2)
    assert (walk.first_total, walk.total) == (500, 499)
    assert not walk.incomplete
    # Two extra requests: page 3 again (item 200 is not on it), then page 2, right to left.
    assert len(fake.calls) == 7
    assert set(fake.sizes) == {100}


async def test_a_delete_between_the_page_and_its_re_read_is_covered() -> None:
    fake = FakeList(500)
    original = ids(fake.items)
    fake.before[3] = lambda f: f.delete(10)
    fake.on_call = lambda f, page: f.delete(0) if len(f.calls) == 4 else None  # the re-read
    got = ids(await drain(Paginator(fake.fetch, prefetch=0)))
    assert got == original


@pytest.mark.parametrize("deletes", [1, 3])
async def test_a_skip_between_pages_answered_out_of_order_is_found(deletes: int) -> None:
    # Page 3 is answered first; then two items are added at the head and some far below are
    # deleted; then page 2 is answered. Page 2 now ends two items before page 3 begins, so two
    # items were skipped, while the total went from 500 to 501 or 499: a drop from page 2 to
    # page 3 in the first case, a rise in the second. Both are found by their content.
    fake = FakeList(500, snapshot="response")
    original = ids(fake.items)
    fake.block = {2}
    walk = Paginator(fake.fetch, prefetch=2)
    it = aiter(walk)
    await anext(it)
    await until(lambda: fake.completed == 2)  # pages 1 and 3
    fake.insert(2)
    gone = {fake.delete(450).id for _ in range(deletes)}
    fake.release.set()
    got = [original[0], *ids([x async for x in it])]
    assert got == [i for i in original if i not in gone]
    assert walk.items_recovered == 2  # the last two items of page 2 as it was
    assert walk.rereads <= 6  # at most two pages per boundary checked


def _on_call(number: int, change: Callable[[FakeList], object]) -> Callable[[FakeList, int], None]:
    """A change made just before the ``number``-th call is answered."""

    def hook(f: FakeList, page: int) -> None:
        if len(f.calls) == number:
            change(f)

    return hook


async def test_a_skip_at_the_end_of_a_list_that_lost_its_last_page() -> None:
    fake = FakeList(300)
    original = ids(fake.items)
    # Page 3 comes back empty after 120 deletions from the head; the last 180 items are now
    # pages 1-2, and everything after the last item yielded was skipped.
    fake.before[3] = lambda f: [f.delete(0) for _ in range(120)]
    walk = Paginator(fake.fetch, per_page=100, prefetch=0)
    assert ids(await drain(walk)) == original
    assert walk.items_recovered == 100


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("change", ["insert", "delete", "mixed"])
async def test_a_list_changing_all_along_yields_no_repeat_and_skips_nothing(
    seed: int, change: str
) -> None:
    rng = random.Random(seed)
    # Read after a random latency, so concurrent pages see the list in any order.
    fake = FakeList(600, latency=lambda page: rng.random() * 0.002, snapshot="response")
    original = ids(fake.items)
    deleted: set[str] = set()

    def mutate(f: FakeList, page: int) -> None:
        if rng.random() < 0.5:
            return
        for _ in range(rng.randint(1, 3)):
            if change == "insert" or (change == "mixed" and rng.random() < 0.5):
                f.insert()
            elif f.items:
                deleted.add(f.delete(rng.randrange(len(f.items))).id)

    fake.on_call = mutate
    walk = Paginator(fake.fetch, per_page=25, prefetch=4)
    got = ids(await drain(walk))
    assert len(got) == len(set(got))  # never twice
    kept = [i for i in original if i not in deleted]
    assert set(kept) <= set(got)  # never skipped
    kept_set = set(kept)
    assert [i for i in got if i in kept_set] == kept  # in list order
    assert walk.total_changed


async def test_the_dedup_key_is_configurable() -> None:
    fake = FakeList(10)
    fake.items = [Item(f"{k % 5}") for k in range(10)]
    got = await Paginator(fake.fetch, key=lambda item: item.id, per_page=3).collect()
    assert ids(got) == ["0", "1", "2", "3", "4"]


async def test_pages_are_raw() -> None:
    fake = FakeList(500)
    fake.before[3] = lambda f: f.insert()
    walk = Paginator(fake.fetch, prefetch=0)
    pages = await drain(walk.pages())
    assert [p.page for p in pages] == [1, 2, 3, 4, 5, 6]
    flat = ids(i for p in pages for i in p.items)
    assert len(flat) == 501  # the repeat is kept: pages are as the server sent them
    assert walk.duplicates_dropped == 0
    assert walk.items_yielded == 501
    assert walk.total_changed


async def test_pages_with_max_items_stop_after_the_page_that_reaches_it() -> None:
    fake = FakeList(1234)
    walk = Paginator(fake.fetch, max_items=150)
    pages = await drain(walk.pages())
    assert [len(p.items) for p in pages] == [100, 100]
    assert sorted(fake.calls) == [1, 2]
    assert walk.next_page == 3


# -- errors and resuming ----------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 3])
async def test_a_failure_says_where_to_resume_and_keeps_its_cause(prefetch: int) -> None:
    fake = FakeList(1234)
    original = server_error()
    fake.fail[5] = original
    walk = Paginator(fake.fetch, prefetch=prefetch, description="GET /v1/runner")
    got: list[Item] = []
    with pytest.raises(PaginationError) as info:
        async for item in walk:
            got.append(item)
    err = info.value
    assert err.__cause__ is original  # the request's own error, status and body included
    assert (err.next_page, err.items_yielded, err.per_page) == (5, 400, 100)
    assert walk.next_page == 5
    assert len(got) == 400
    assert "ServerError: 503 unavailable" in str(err)
    assert "GET /v1/runner" in str(err)
    assert "resume with start_page=5)" in str(err)
    assert fake.in_flight == 0
    rest = await Paginator(fake.fetch, start_page=err.next_page).collect()
    assert ids(got + rest) == ids(fake.items)  # exactly the rest


async def test_a_failure_of_the_first_request_is_raised_as_is() -> None:
    # Nothing walked, nothing to resume: ``except PermissionDeniedError`` (a tier without
    # managed runners) must work on a list as on any call.
    fake = FakeList(10)
    error = NotFoundError("no such list", status=404, method="GET", url="u")
    fake.fail[1] = error
    with pytest.raises(NotFoundError) as info:
        await Paginator(fake.fetch).collect()
    assert info.value is error


async def test_a_failure_in_pages_mode() -> None:
    fake = FakeList(500)
    fake.fail[3] = APIConnectionError("reset", method="GET", url="u")
    walk = Paginator(fake.fetch, prefetch=2)
    seen: list[int] = []
    with pytest.raises(PaginationError) as info:
        async for page in walk.pages():
            seen.append(len(page.items))
    assert seen == [100, 100]
    assert isinstance(info.value.__cause__, APIConnectionError)
    assert (info.value.next_page, info.value.items_yielded) == (3, 200)


async def test_a_failed_prefetched_page_stops_further_prefetch() -> None:
    fake = FakeList(2000)
    fake.fail[3] = server_error()
    fake.block = {2}
    walk = Paginator(fake.fetch, prefetch=3)
    it = aiter(walk)
    await anext(it)
    await until(lambda: 3 not in fake.fail and fake.in_flight == 1)  # 3 failed, 2 waits
    fake.release.set()
    with pytest.raises(PaginationError) as info:
        while True:
            await anext(it)
    assert isinstance(info.value.__cause__, ServerError)
    assert max(fake.calls) == 4  # nothing scheduled past the failure


async def test_a_failed_page_never_reached_leaves_no_unretrieved_exception() -> None:
    fake = FakeList(1000)
    fake.fail[2] = server_error(500)
    fake.fail[4] = server_error(502)  # fails too, but the walk stops at page 2
    fake.block = {2}
    walk = Paginator(fake.fetch, prefetch=4)
    it = aiter(walk)
    await anext(it)
    await until(lambda: 4 not in fake.fail and fake.in_flight == 1)
    fake.release.set()
    with pytest.raises(PaginationError) as info:
        while True:
            await anext(it)
    assert isinstance(info.value.__cause__, ServerError)
    assert info.value.__cause__.status == 500
    del it, info
    # The fixture checks that page 4's exception was not reported as never retrieved.


@pytest.mark.parametrize(
    "error",
    [server_error(), NotFoundError("gone", status=404), APIConnectionError("reset", url="u")],
)
async def test_the_resumable_error_pickles(error: ComfyControlError) -> None:
    fake = FakeList(300)
    fake.fail[2] = error
    with pytest.raises(PaginationError) as info:
        await Paginator(fake.fetch).collect()
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is PaginationError
    assert type(error).__name__ in str(copy)
    assert (copy.next_page, copy.items_yielded, copy.per_page) == (2, 100, 100)
    assert str(copy) == str(info.value)


async def test_other_exceptions_pass_through_untouched() -> None:
    fake = FakeList(500)
    boom = KeyError("bug")
    fake.fail[2] = boom
    with pytest.raises(KeyError) as info:
        await Paginator(fake.fetch, prefetch=2).collect()
    assert info.value is boom
    assert fake.in_flight == 0


async def test_a_failing_key_function_releases_the_walk() -> None:
    fake = FakeList(500)
    fake.block = set(range(2, 11))
    walk = Paginator(fake.fetch, key=lambda item: item.missing, prefetch=2)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        await walk.collect()
    assert fake.calls == [1]


# -- arguments and lifecycle ------------------------------------------------------------------


def test_a_paginator_is_made_without_an_event_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    fake = FakeList(10)
    walk = Paginator(fake.fetch)
    assert walk.requests_made == 0
    assert walk.total is None
    assert walk.next_page == 1
    assert "0 items yielded" in repr(walk)


async def test_a_paginator_is_single_use() -> None:
    fake = FakeList(150)
    walk = Paginator(fake.fetch)
    assert len(await walk.collect()) == 150
    with pytest.raises(RuntimeError, match="single-use"):
        aiter(walk)
    with pytest.raises(RuntimeError, match="single-use"):
        walk.pages()
    with pytest.raises(RuntimeError, match=r"with collect\(\)"):
        await walk.collect()
    other = Paginator(fake.fetch)
    aiter(other)
    with pytest.raises(RuntimeError, match="with async for"):
        await other.collect()


async def test_a_paginator_closed_before_use_cannot_be_iterated() -> None:
    fake = FakeList(10)
    walk = Paginator(fake.fetch)
    await walk.aclose()
    await walk.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        aiter(walk)
    assert fake.calls == []


async def test_an_exhausted_iterator_stays_exhausted() -> None:
    fake = FakeList(150)
    walk = Paginator(fake.fetch)
    it = aiter(walk)
    assert len(await drain(it)) == 150
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    assert "closed" in repr(walk)
    pages_it = Paginator(fake.fetch).pages()
    assert len(await drain(pages_it)) == 2
    with pytest.raises(StopAsyncIteration):
        await anext(pages_it)
    assert aiter(pages_it) is pages_it


# -- hostile servers: short pages, stale caches, lying totals (SPEC "Decision (short pages)") --


@pytest.mark.parametrize("prefetch", [0, 4, DEFAULT_PREFETCH])
async def test_a_server_that_ignores_per_page_loses_nothing(prefetch: int) -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: 10  # serves 10 a page whatever is asked
    walk = Paginator(fake.fetch, per_page=100, prefetch=prefetch)
    assert ids(await drain(walk)) == ids(fake.items)
    assert walk.per_page == 10
    assert not walk.incomplete
    assert sorted(fake.calls) == list(range(1, 125))  # 124 pages of 10, none past the last
    assert set(fake.sizes[1:]) == {10}  # asked again with the size the server uses


async def test_a_server_that_caps_per_page_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: min(asked, 50)
    walk = Paginator(fake.fetch, prefetch=4)
    with caplog.at_level(logging.INFO, logger="comfycontrol_async"):
        assert ids(await walk.collect()) == ids(fake.items)
    assert sorted(fake.calls) == list(range(1, 26))
    assert "page 1 holds 50 items, not 100" in caplog.text


@pytest.mark.parametrize("prefetch", [0, 1, 4, DEFAULT_PREFETCH])
async def test_a_cap_that_starts_mid_walk_re_plans_the_pages_fetched_ahead(prefetch: int) -> None:
    fake = FakeList(1234)
    # A proxy starts capping at 30 from the third request on: pages asked ahead at 100 come
    # back with 30 items from elsewhere in the list.
    fake.page_size = lambda page, asked: asked if len(fake.calls) <= 2 else min(asked, 30)
    walk = Paginator(fake.fetch, prefetch=prefetch)
    got = ids(await drain(walk))
    assert got == ids(fake.items)  # each once, in order
    assert walk.per_page == 30
    assert not walk.incomplete


async def test_a_page_larger_than_asked_loses_nothing() -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: 200
    walk = Paginator(fake.fetch, per_page=100, prefetch=3)
    assert ids(await drain(walk)) == ids(fake.items)
    assert walk.per_page == 200
    assert sorted(fake.calls) == list(range(1, 8))
    assert set(fake.sizes) == {100}  # never asks for more than the API allows


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_a_stale_cache_that_repeats_a_page_is_flagged(
    prefetch: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeList(450)
    fake.stale = lambda page: 1 if page == 2 else page  # page 2 is page 1 again
    walk = Paginator(fake.fetch, prefetch=prefetch, description="GET /v1/template")
    with caplog.at_level(logging.WARNING, logger="comfycontrol_async"):
        got = ids(await walk.collect())
    assert got == ids(fake.items[:100] + fake.items[200:])  # no item twice
    assert walk.incomplete
    assert walk.duplicates_dropped == 100
    assert "GET /v1/template: the walk ended with 350 distinct items" in caplog.text
    assert "announces 450" in caplog.text


async def test_a_stale_cache_raises_in_a_strict_walk() -> None:
    fake = FakeList(450)
    fake.stale = lambda page: 1 if page == 2 else page
    with pytest.raises(PaginationError, match=r"350 distinct items.*strict=True") as info:
        await Paginator(fake.fetch, strict=True).collect()
    assert not isinstance(info.value, ListChangedError)
    assert info.value.next_page == 1  # the only remedy: walk it again
    pages = Paginator(fake.fetch).pages()  # raw pages, but the walk still says it
    walk = pages._walk  # type: ignore[attr-defined]
    assert len(await drain(pages)) == 5
    assert walk.incomplete


async def test_a_server_that_ignores_page_ends_and_is_flagged() -> None:
    fake = FakeList(500)
    fake.stale = lambda page: 1  # every page is page 1
    walk = Paginator(fake.fetch, prefetch=2)
    assert ids(await walk.collect()) == ids(fake.items[:100])
    assert sorted(fake.calls) == [1, 2, 3, 4, 5]  # never more than the total announces
    assert walk.incomplete


async def test_a_last_page_shorter_than_the_total_says(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeList(1234)
    fake.lie = lambda page, total: total + 14  # 14 items announced that never come
    walk = Paginator(fake.fetch, prefetch=0)
    with caplog.at_level(logging.WARNING, logger="comfycontrol_async"):
        assert ids(await walk.collect()) == ids(fake.items)
    # Page 13 holds 34 new items, not a smaller page size: the list ends early, and is flagged.
    assert fake.calls == list(range(1, 14))
    assert set(fake.sizes) == {100}
    assert walk.incomplete
    assert "1234 distinct items where the total announces 1248" in caplog.text


async def test_an_empty_page_mid_list_ends_the_walk_and_is_flagged() -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: 0 if page == 5 else asked
    walk = Paginator(fake.fetch, prefetch=3)
    assert ids(await walk.collect()) == ids(fake.items[:400])
    assert walk.incomplete
    fake.page_size = lambda page, asked: 0 if page == 5 else asked
    with pytest.raises(PaginationError, match="400 distinct items"):
        await Paginator(fake.fetch, prefetch=3, strict=True).collect()


async def test_a_total_that_shrinks_ends_the_walk_where_it_says() -> None:
    fake = FakeList(1234)
    fake.lie = lambda page, total: total - (page - 1) * 300  # 1234, 934, 634, 334
    walk = Paginator(fake.fetch, prefetch=0)
    assert ids(await walk.collect()) == ids(fake.items[:400])
    assert max(fake.calls) == 4  # page 4 reaches the total it announces
    assert walk.rereads == 6  # each drop re-read its boundary (nothing was skipped there)
    assert walk.total_changed
    assert walk.totals_seen == [1234, 934, 634, 334]
    assert not walk.incomplete  # 400 distinct items of the 334 the list says it has


async def test_a_page_size_that_keeps_changing_never_loops_forever() -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: 7 + (len(fake.calls) * 13) % 50
    walk = Paginator(fake.fetch, prefetch=2)
    got: list[Item] = []
    with pytest.raises(PaginationError, match="page size keeps changing"):
        async for item in walk:
            got.append(item)
    assert len(got) == len(set(ids(got)))  # never twice
    assert len(fake.calls) < 200


async def test_a_capped_walk_resumes_with_the_server_s_page_size() -> None:
    fake = FakeList(300)
    fake.page_size = lambda page, asked: min(asked, 10)
    fake.fail[5] = server_error()
    got: list[Item] = []
    with pytest.raises(PaginationError, match=r"start_page=5, per_page=10\)") as info:
        async for item in Paginator(fake.fetch, prefetch=0):
            got.append(item)
    err = info.value
    assert (err.next_page, err.per_page, err.items_yielded) == (5, 10, 40)
    rest = await Paginator(fake.fetch, start_page=err.next_page, per_page=10).collect()
    assert ids(got + rest) == ids(fake.items)


async def test_a_resumed_walk_against_a_capping_server_starts_where_asked() -> None:
    fake = FakeList(1234)
    fake.page_size = lambda page, asked: 10
    walk = Paginator(fake.fetch, start_page=3, prefetch=4)
    assert ids(await walk.collect()) == ids(fake.items[200:])
    assert not walk.incomplete


# -- the same hostile servers over the wire (the in-process fake) --------------------------------

MANAGED = "GET /v1/managed-runner"


async def _walk_the_fake(fake: FakeComfyControl, **kwargs: Any) -> tuple[list[str], Paginator[Any]]:
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        walk = cc.managed_runners.list(**kwargs)
        return [r.id async for r in walk], walk


@pytest.mark.parametrize("prefetch", [0, 10])
async def test_over_the_wire_a_server_serving_10_a_page_loses_nothing(prefetch: int) -> None:
    async with FakeComfyControl(managed_runners=1234) as fake:
        fake.misbehave_paging(MANAGED, page_size=10)
        got, walk = await _walk_the_fake(fake, per_page=100, prefetch=prefetch)
        assert got == fake.managed_runner_ids()  # all 1,234, in order, once
        assert (walk.per_page, walk.incomplete) == (10, False)
        assert sum(r.route == MANAGED for r in fake.requests) == 124


async def test_over_the_wire_a_capping_proxy_loses_nothing() -> None:
    async with FakeComfyControl(managed_runners=1234) as fake:
        fake.misbehave_paging(MANAGED, max_per_page=50)
        got, walk = await _walk_the_fake(fake)
        assert got == fake.managed_runner_ids()
        assert walk.per_page == 50


async def test_over_the_wire_a_stale_cache_does_not_pass_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeComfyControl(managed_runners=450) as fake:
        fake.misbehave_paging(MANAGED, stale={2: 1})
        with caplog.at_level(logging.WARNING, logger="comfycontrol_async"):
            got, walk = await _walk_the_fake(fake, prefetch=0)
        assert len(got) == len(set(got)) == 350
        assert walk.incomplete
        assert "350 distinct items where the total announces 450" in caplog.text
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
            with pytest.raises(PaginationError, match="strict=True"):
                await cc.managed_runners.list(strict=True).collect()
        fake.clear_faults()
        got, walk = await _walk_the_fake(fake)
        assert len(got) == 450 and not walk.incomplete

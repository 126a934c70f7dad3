"""Client-wide pacing (:class:`Pacer`: the request window and the 429 pause) and retry budget.

The API counts a request when it *arrives*, so a slot is held until a window after its request
ended. With ``RateLimit.store`` slots and pause live in Redis (:mod:`._ratestore`; fallback: see
README, "When Redis fails"). Nothing here sends, retries or knows HTTP.
"""

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Final

from ._config import RateLimit, RetryBudget
from ._exceptions import RateLimitStoreError
from ._logging import log
from ._ratestore import RedisWindow, StoreUnavailable, Verdict

_WINDOW_MARGIN: Final = 0.005  # clock granularity and scheduling slop: the window is longer
_UNKNOWN_PEERS: Final = 4  # peers assumed when the store was never reached (2 cores x 2)
_CLOSE_GRACE: Final = 1.0  # seconds aclose() lets pending store writes finish


@dataclasses.dataclass(eq=False, slots=True)
class Slot:
    """One granted request: in flight until :meth:`Pacer.release`, then counted a window more."""

    member: str = ""  # its name in the shared store ("" if not a real request)
    ended: float | None = None


_UNPACED: Final = Slot()


class Pacer:
    """A sliding-window limiter for a whole client: ``acquire()`` a slot before each attempt,
    ``release()`` it once the attempt ended. ``rate=None`` paces nothing but the 429 pause;
    ``host`` names the shared window when ``rate.key`` is not set."""

    def __init__(
        self,
        rate: RateLimit | None,
        *,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        host: str | None = None,
    ) -> None:
        self.rate = rate
        self.window = 0.0 if rate is None else rate.per_seconds * (1.0 + _WINDOW_MARGIN)
        self._now = clock or (lambda: asyncio.get_running_loop().time())
        self._rng = rng or random.Random()
        self._held: list[Slot] = []
        self._lock, self._released = asyncio.Lock(), asyncio.Event()
        self._resume_at = self._retry_at = 0.0
        self.pauses = self.granted = 0
        self.shared_grants = self.store_failures = self.store_recoveries = 0
        self._client_id, self._serial = secrets.token_hex(8), itertools.count()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._fallback = self._warned = self._closed = False
        self._peers: int | None = None
        self._store: RedisWindow | None = None
        if rate is not None and (url := rate.resolved_store()) is not None:
            key = rate.key or f"comfycontrol:ratelimit:{host or 'default'}"
            self._store = RedisWindow(url, key, requests=rate.requests, window=self.window)
            self._retry_every = min(1.0, rate.per_seconds / 10)

    @property
    def store(self) -> str | None:
        """The shared store's URL with its password hidden, or ``None``."""
        return self._store.shown if self._store is not None else None

    @property
    def sharing(self) -> bool:
        """Whether slots come from the shared store now (``False`` without one or in fallback)."""
        return self._store is not None and not self._fallback

    @property
    def in_flight(self) -> int:
        """Granted slots whose request has not finished."""
        return sum(1 for slot in self._held if slot.ended is None)

    def _limit(self) -> int | None:
        """Slots this process may hold on its own, or ``None`` when the store decides."""
        if self.rate is None or self.sharing:
            return None
        peers = 1 if self._store is None else self._peers or _UNKNOWN_PEERS
        return max(1, self.rate.requests // peers)

    def paused_for(self) -> float:
        """Seconds left in the current 429 pause (0 when not paused)."""
        return max(0.0, self._resume_at - self._now())

    def _prune(self, now: float) -> None:
        self._held = [s for s in self._held if s.ended is None or s.ended + self.window > now]

    def delay_for_next(self) -> float:
        """A lower bound on the seconds the next send would wait if asked now."""
        now = self._now()
        wait = max(0.0, self._resume_at - now)
        limit = self._limit()
        if limit is not None:
            self._prune(now)
            ends = sorted(s.ended for s in self._held if s.ended is not None)
            excess = len(self._held) - limit
            if 0 <= excess < len(ends):
                wait = max(wait, ends[excess] + self.window - now)
        return wait

    async def acquire(self) -> Slot:
        """Wait for a slot, then take it; cancelling the wait takes nothing. Raises
        RateLimitStoreError when the store failed and ``on_store_error="raise"``."""
        rate = self.rate
        if rate is None and self._resume_at <= self._now() and not self._lock.locked():
            return _UNPACED
        async with self._lock:
            while True:
                now = self._now()
                if self._resume_at > now:
                    await asyncio.sleep(self._resume_at - now)
                    continue
                if rate is None:
                    slot = _UNPACED
                    break
                self._prune(now)
                if self._store is not None and now >= self._retry_at:
                    shared = await self._acquire_shared(self._store, now)
                    if isinstance(shared, Slot):
                        slot = shared
                        break
                    if shared is not None:
                        await asyncio.sleep(shared)
                        continue
                limit = self._limit()
                assert limit is not None  # no store, or the store just failed
                if len(self._held) < limit:
                    slot = Slot(self._member() if self._store is not None else "")
                    self._held.append(slot)
                    break
                # Full: until a slot leaves the window, one in flight ends, or the store is due.
                ends = [s.ended + self.window for s in self._held if s.ended is not None]
                if self._store is not None:
                    ends.append(self._retry_at)
                timeout = min(ends) - now if ends else None
                self._released.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._released.wait()
        self.granted += 1
        return slot

    def _member(self) -> str:
        return f"{self._client_id}:{next(self._serial)}"

    async def _acquire_shared(self, store: RedisWindow, now: float) -> Slot | float | None:
        """A slot, or seconds to wait before asking again, or ``None`` (the store failed)."""
        member = self._member()
        call = asyncio.ensure_future(self._ask_store(store, member, now))
        self._track(call)
        try:
            verdict = await asyncio.shield(call)
        except asyncio.CancelledError:
            # The store may grant the slot after all: give it back in the background.
            def give_back(done: asyncio.Future[Verdict]) -> None:
                if not done.cancelled() and done.exception() is None and done.result().granted:
                    self._spawn(store.forget(member))

            call.add_done_callback(give_back)
            raise
        except StoreUnavailable as err:
            self._store_failed(err, now)
            return None
        if verdict.granted:
            slot = Slot(member)
            self._held.append(slot)
            self.shared_grants += 1
            return slot
        if verdict.paused:
            self._resume_at = max(self._resume_at, self._now() + verdict.wait)
        return verdict.wait

    async def _ask_store(self, store: RedisWindow, member: str, now: float) -> Verdict:
        if self._fallback:
            # Back: first hand over what this process took alone, so that the others count it.
            lease, ends = store.lease, [(s.member, s.ended) for s in self._held if s.member]
            await store.adopt([(m, lease if e is None else e + self.window - now) for m, e in ends])
        verdict = await store.acquire(member, self._client_id)
        self._peers = verdict.peers
        if self._fallback:
            self._fallback = False
            self.store_recoveries += 1
            log.info("rate-limit store %s is back: pacing is shared again", store.shown)
        return verdict

    def _store_failed(self, err: StoreUnavailable, now: float) -> None:
        rate = self.rate
        assert rate is not None
        self.store_failures += 1
        if rate.on_store_error == "raise":
            raise RateLimitStoreError(str(err), store=self.store or "") from None
        self._retry_at = now + self._retry_every
        if self._fallback:
            return
        self._fallback = True
        share = self._limit()
        assert share is not None
        if self._peers is not None:  # lost mid-sweep: count the window as full (README)
            self._held.extend(Slot(ended=now) for _ in range(share))
        level = logging.INFO if self._warned else logging.WARNING
        self._warned = True
        why = "%s; pacing this process alone at %d requests per %g s until it is back"
        log.log(level, why, err, share, rate.per_seconds)

    def _spawn(self, write: Coroutine[Any, Any, None]) -> None:
        """Run a store write in the background; aclose() finishes or cancels it."""

        async def quietly() -> None:
            try:
                await write
            except StoreUnavailable as err:
                log.debug("%s", err)  # the next acquire falls back; a lost write costs little

        self._track(asyncio.get_running_loop().create_task(quietly()))

    def _track(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def release(self, slot: Slot) -> None:
        """The request of ``slot`` finished: it counts one more window from now."""
        if slot is _UNPACED or slot.ended is not None:
            return
        slot.ended = self._now()
        self._released.set()
        if self._store is not None and slot.member and self.sharing and not self._closed:
            self._spawn(self._store.adopt([(slot.member, self.window)]))

    def pause(self, seconds: float | None) -> float:
        """Hold every later send (with a store, every client's) for ``seconds`` or the cooldown,
        plus jitter; return the pause applied."""
        rate = self.rate or RateLimit()
        base = rate.cooldown if seconds is None else seconds
        length = base + self._rng.uniform(0.0, rate.jitter)
        resume = self._now() + length
        if resume > self._resume_at:
            self._resume_at = resume
            self.pauses += 1
        # The server's count before the 429 is spent after the pause; those in flight may count.
        self._held = [s for s in self._held if s.ended is None]
        if self._store is not None and self.sharing and not self._closed:
            self._spawn(self._store.pause(length))
        return length

    async def aclose(self) -> None:
        """Finish (or, after a short grace, cancel) pending store writes; close the store."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _CLOSE_GRACE
        # A finished task may start another (a cancelled acquire gives its slot back).
        while self._tasks and loop.time() < give_up:
            await asyncio.wait(set(self._tasks), timeout=give_up - loop.time())
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._store is not None:
            await self._store.aclose()


class RetryQuota:
    """The client-wide retry budget, a token bucket (``budget=None``: unlimited retries)."""

    def __init__(self, budget: RetryBudget | None) -> None:
        self.budget = budget
        self.tokens = budget.capacity if budget is not None else 0.0
        self.denied = 0

    def try_spend(self) -> bool:
        """Take the price of one retry; ``False`` (and nothing taken) when the bucket is short."""
        if self.budget is None:
            return True
        if self.tokens < self.budget.retry_cost:
            self.denied += 1
            return False
        self.tokens -= self.budget.retry_cost
        return True

    def refill(self) -> None:
        """Give back the reward of one success, up to the bucket's size."""
        if self.budget is not None:
            self.tokens = min(self.budget.capacity, self.tokens + self.budget.success_reward)

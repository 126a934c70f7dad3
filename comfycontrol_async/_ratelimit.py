"""Client-wide pacing: one limiter for every request a client sends, and the 429 pause.

The API allows 40 requests per 10 s per IP and, past that, answers 429 to everything for a 10 s
cooldown (SPEC.md, "Rate limit"). The server counts requests when they *arrive*, which is some
time after the client let them go and before their answer comes back. So a :class:`Pacer` holds
a slot per request from the moment it grants it until the request has finished *and* a whole
window has passed since; a new request goes only while fewer than ``requests`` slots are held.
Whatever the delays on the way, no window of ``per_seconds`` at the server can then see more than
``requests`` of ours; the price is one request's latency per window (well under 1% at 10 s).
Waiters are served first come, first served. A 429 calls :meth:`Pacer.pause`, which holds every
later send of the client until the pause ends. :class:`RetryQuota` is the client-wide retry
budget. This module owns only these counters and their timing; it does not send, retry or know
about HTTP.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Final

from ._config import RateLimit, RetryBudget

__all__ = ["Pacer", "RetryQuota", "Slot"]

# Clock granularity and scheduling slop: the window is taken this much longer.
_WINDOW_MARGIN: Final = 0.005


class Slot:
    """One granted request: in flight until :meth:`Pacer.release`, then counted a window more."""

    __slots__ = ("ended",)

    def __init__(self) -> None:
        self.ended: float | None = None


_UNPACED: Final = Slot()


class Pacer:
    """A sliding-window limiter shared by a whole client, with a client-wide pause.

    Use ``slot = await pacer.acquire()`` before sending and ``pacer.release(slot)`` once the
    answer is in (or the attempt failed or was cancelled).

    Args:
        rate: The limit to keep under, or ``None`` for no pacing (the 429 pause still works).
        clock: Monotonic seconds (the event loop's clock by default).
        rng: Random source for the pause jitter.
    """

    def __init__(
        self,
        rate: RateLimit | None,
        *,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._rng = rng or random.Random()
        self._held: list[Slot] = []
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()
        self._resume_at = 0.0
        self.pauses = 0
        self.waited = 0.0
        self.granted = 0

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    @property
    def window(self) -> float:
        """The window used for spacing, margin included (0 without pacing)."""
        if self.rate is None:
            return 0.0
        return self.rate.per_seconds * (1.0 + _WINDOW_MARGIN)

    @property
    def in_flight(self) -> int:
        """Granted slots whose request has not finished."""
        return sum(1 for slot in self._held if slot.ended is None)

    def paused_for(self) -> float:
        """Seconds left in the current 429 pause (0 when not paused)."""
        return max(0.0, self._resume_at - self._now())

    def _prune(self, now: float) -> None:
        window = self.window
        self._held = [s for s in self._held if s.ended is None or s.ended + window > now]

    def delay_for_next(self) -> float:
        """A lower bound on the seconds the next send would wait if asked now."""
        now = self._now()
        wait = max(0.0, self._resume_at - now)
        rate = self.rate
        if rate is not None:
            self._prune(now)
            if len(self._held) >= rate.requests:
                ends = sorted(s.ended for s in self._held if s.ended is not None)
                excess = len(self._held) - rate.requests
                if excess < len(ends):
                    wait = max(wait, ends[excess] + self.window - now)
        return wait

    async def acquire(self) -> Slot:
        """Wait for a slot, then take it. Cancelling the wait takes nothing."""
        rate = self.rate
        if rate is None and self._resume_at <= self._now() and not self._lock.locked():
            return _UNPACED
        started = self._now()
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
                if len(self._held) < rate.requests:
                    slot = Slot()
                    self._held.append(slot)
                    break
                # Full: wait for the first finished slot to leave the window, or for a request
                # in flight to finish (which may be sooner to free a place).
                ends = [s.ended for s in self._held if s.ended is not None]
                timeout = min(ends) + self.window - now if ends else None
                self._released.clear()
                try:
                    async with asyncio.timeout(timeout):
                        await self._released.wait()
                except TimeoutError:
                    pass
        self.granted += 1
        self.waited += self._now() - started
        return slot

    def release(self, slot: Slot) -> None:
        """The request of ``slot`` finished: it counts one more window from now."""
        if slot is _UNPACED or slot.ended is not None:
            return
        slot.ended = self._now()
        self._released.set()

    def pause(self, seconds: float | None) -> float:
        """Hold every later send for ``seconds`` (or the cooldown) plus jitter.

        Args:
            seconds: The server's ``Retry-After``, or ``None`` for the documented cooldown.

        Returns:
            The pause applied, in seconds.
        """
        rate = self.rate or RateLimit()
        base = rate.cooldown if seconds is None else seconds
        length = base + self._rng.uniform(0.0, rate.jitter)
        resume = self._now() + length
        if resume > self._resume_at:
            self._resume_at = resume
            self.pauses += 1
        # What the server counted before the 429 is spent once the pause is over: keep only the
        # requests still in flight, which it may yet count.
        self._held = [s for s in self._held if s.ended is None]
        return length


class RetryQuota:
    """The client-wide retry budget: a token bucket that retries spend and successes refill.

    Args:
        budget: The bucket's size and prices, or ``None`` for unlimited retries.
    """

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

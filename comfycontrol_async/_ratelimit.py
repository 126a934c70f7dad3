"""Client-wide pacing: one limiter for every request a client sends, and the 429 pause.

The API allows 40 requests per 10 s per IP and, past that, answers 429 to everything for a 10 s
cooldown (SPEC.md, "Rate limit"). A :class:`Pacer` keeps the send times of the last ``requests``
requests and lets a new one go only when the oldest of them left the window, so no window of
``per_seconds`` ever holds more than ``requests`` sends. Waiters are served first come, first
served. A 429 calls :meth:`Pacer.pause`, which holds every later send of the client until the
pause ends. :class:`RetryQuota` is the client-wide retry budget. This module owns only these
counters and their timing; it does not send, retry or know about HTTP.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from typing import Final

from ._config import RateLimit, RetryBudget

__all__ = ["Pacer", "RetryQuota"]

# Send times are taken when a slot is granted; the server counts arrivals. A small margin on the
# window absorbs the difference (loopback or network jitter) at a cost of about 1% throughput.
_WINDOW_MARGIN: Final = 0.01


class Pacer:
    """A sliding-window limiter shared by a whole client, with a client-wide pause.

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
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._resume_at = 0.0
        self.pauses = 0
        self.waited = 0.0

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

    def paused_for(self) -> float:
        """Seconds left in the current 429 pause (0 when not paused)."""
        return max(0.0, self._resume_at - self._now())

    def delay_for_next(self) -> float:
        """Seconds the next send would wait if asked now (pause and window together)."""
        now = self._now()
        wait = max(0.0, self._resume_at - now)
        if self.rate is not None and len(self._sent) >= self.rate.requests:
            wait = max(wait, self._sent[0] + self.window - now)
        return wait

    async def acquire(self) -> None:
        """Wait for a slot, then take it. Cancelling the wait takes nothing."""
        if self.rate is None and self._resume_at <= self._now() and not self._lock.locked():
            return
        started = self._now()
        async with self._lock:
            while True:
                now = self._now()
                if self._resume_at > now:
                    await asyncio.sleep(self._resume_at - now)
                    continue
                rate = self.rate
                if rate is None:
                    break
                window = self.window
                while self._sent and self._sent[0] + window <= now:
                    self._sent.popleft()
                if len(self._sent) < rate.requests:
                    self._sent.append(now)
                    break
                await asyncio.sleep(self._sent[0] + window - now)
        self.waited += self._now() - started

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
        # Whatever the server counted before the 429 is spent: start the window afresh.
        self._sent.clear()
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

"""Client configuration: frozen value objects, their defaults and ``NOT_GIVEN``; no state, no I/O.
A bad value fails when an object is built, not in the middle of a sweep."""

from __future__ import annotations

import enum
import functools
import math
import os
from typing import Any, Final, Literal

import attrs

from ._redact import redact_store_url

DEFAULT_BASE_URL: Final = "https://api.comfycontrol.app"
# Stats and pages are kilobytes: a hostile or broken server cannot make us hold hundreds of MB.
DEFAULT_MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024
TOKEN_ENV: Final = "COMFYCONTROL_API_TOKEN"
BASE_URL_ENV: Final = "COMFYCONTROL_BASE_URL"
STORE_ENV: Final = "COMFYCONTROL_RATE_LIMIT_STORE"


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: an argument the caller did not pass at all."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""Sentinel for "leave this as it is", distinct from ``None`` (which may be a real value)."""


def _seconds(positive: bool, _: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A finite number of seconds: positive (or ``None``), or else at least 0."""
    if value is None and positive:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "a positive number of seconds" if positive else ">= 0 seconds"
        raise ValueError(f"{attribute.name} must be {bound}, got {value!r}")


_positive = functools.partial(_seconds, True)
_non_negative = functools.partial(_seconds, False)


@attrs.frozen(kw_only=True)
class Timeout:
    """Seconds (or ``None``) for one attempt: ``total`` for all of it (connect, send, read the
    answer), ``connect`` to get a pooled connection or connect. Never the wait for pacing."""

    total: float | None = attrs.field(default=30.0, validator=_positive)
    connect: float | None = attrs.field(default=10.0, validator=_positive)


DEFAULT_TIMEOUT: Final = Timeout()


def check_store_url(url: object, *, source: str = "store") -> str:
    """Return ``url`` if it is a Redis URL the store can use, else raise ``ValueError``."""
    if not isinstance(url, str):
        raise TypeError(f"{source} must be a redis:// URL string or None, got {type(url).__name__}")
    if not url.lower().startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"{source} must be a redis://, rediss:// or unix:// URL, got {redact_store_url(url)!r}"
        )
    return url


@attrs.frozen(kw_only=True)
class RateLimit:
    """Client-side pacing: at most ``requests`` in any ``per_seconds`` (the API: 40 per 10 s).

    Clients sharing a ``store`` and ``key`` share one window and one 429 pause (README, "Running
    many workers").

    Attributes:
        cooldown: Seconds to pause everything after a 429 that carries no ``Retry-After``.
        jitter: Up to this many seconds added at random to a 429 pause.
        store: A ``redis://``, ``rediss://`` or ``unix://`` URL (the ``redis`` extra); ``None``
            paces this client alone; not given: ``COMFYCONTROL_RATE_LIMIT_STORE``.
        key: The shared window's name in the store; by default one per API host.
        on_store_error: ``"fallback"`` paces alone while the store is down; ``"raise"`` raises
            :class:`~comfycontrol_async.RateLimitStoreError`.
    """

    requests: int = attrs.field(default=40)
    per_seconds: float = attrs.field(default=10.0, validator=_positive)
    cooldown: float = attrs.field(default=10.0, validator=_positive)
    jitter: float = attrs.field(default=1.0)
    store: str | NotGiven | None = attrs.field(
        default=NOT_GIVEN,
        repr=lambda v: repr(redact_store_url(v)) if isinstance(v, str) else repr(v),
    )
    key: str | None = attrs.field(default=None)
    on_store_error: Literal["fallback", "raise"] = attrs.field(default="fallback")

    def __attrs_post_init__(self) -> None:
        values: tuple[object, ...] = (self.requests, self.jitter, self.key, self.on_store_error)
        requests, jitter, key, policy = values  # as objects: the checks are for any input
        if not isinstance(requests, int) or isinstance(requests, bool) or requests < 1:
            raise ValueError(f"requests must be a positive integer, got {requests!r}")
        if not isinstance(jitter, int | float) or not math.isfinite(jitter) or jitter < 0:
            raise ValueError(f"jitter must be a non-negative number of seconds, got {jitter!r}")
        if self.store is not None and self.store is not NOT_GIVEN:
            check_store_url(self.store)
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ValueError(f"key must be a non-empty string or None, got {key!r}")
        if policy not in ("fallback", "raise"):
            raise ValueError(f"on_store_error must be 'fallback' or 'raise', got {policy!r}")

    def resolved_store(self) -> str | None:
        """The store URL in force: ``store`` if given, else ``COMFYCONTROL_RATE_LIMIT_STORE``.

        Raises:
            ValueError: The environment variable holds something that is not a Redis URL.
        """
        if not isinstance(self.store, NotGiven):
            return self.store
        value = os.environ.get(STORE_ENV, "").strip()
        return check_store_url(value, source=STORE_ENV) if value else None


DEFAULT_RATE_LIMIT: Final = RateLimit()


@attrs.frozen(kw_only=True)
class RetryBudget:
    """A client-wide token bucket of ``capacity`` that bounds retries: each retry spends
    ``retry_cost``, each success earns ``success_reward``; when empty, failures raise at once."""

    capacity: float = attrs.field(default=100.0, validator=_positive)
    retry_cost: float = attrs.field(default=5.0, validator=_positive)
    success_reward: float = attrs.field(default=1.0, validator=_positive)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When a GET is tried again (on 408, 429, 500, 502, 503, 504, no answer, or a 2xx that is
    not JSON), and after how long: the n-th retry waits a uniform draw below
    ``min(backoff_cap, backoff_base * 2**(n-1))`` seconds; a 429 waits for the client's pause.

    Attributes:
        max_retries: Retries after the first attempt, 429s included (they never spend ``budget``).
        max_retry_after: A longer ``Retry-After`` is raised at once (``.retry_after`` set), and
            no client-wide 429 pause lasts longer.
    """

    max_retries: int = attrs.field(default=2)
    backoff_base: float = attrs.field(default=0.5, validator=_non_negative)
    backoff_cap: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    budget: RetryBudget | None = attrs.field(
        factory=RetryBudget,
        validator=attrs.validators.optional(attrs.validators.instance_of(RetryBudget)),
    )

    @max_retries.validator
    def _check_retries(self, _: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {value!r}")


DEFAULT_RETRY_POLICY: Final = RetryPolicy()

"""Client configuration: frozen, keyword-only value objects with named defaults.

This module owns the knobs a user can turn (timeouts, retries, pacing), their defaults and the
``NOT_GIVEN`` sentinel. It holds no state and does no I/O; a bad value fails when an object is
built, not in the middle of a sweep.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable
from typing import Any, Final, Literal

import attrs

from ._redact import redact_store_url

DEFAULT_BASE_URL: Final = "https://api.comfycontrol.app"
# Stats and pages are kilobytes; 16 MiB is far above any real answer and far below a memory
# problem, so a hostile or broken server cannot make the client hold hundreds of megabytes.
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


def _seconds(*, positive: bool) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A finite number of seconds: positive (or ``None``), or else at least 0."""

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and positive:
            return
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"{attribute.name} must be a number of seconds, got {value!r}")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            bound = "a positive number of seconds" if positive else ">= 0 seconds"
            raise ValueError(f"{attribute.name} must be {bound}, got {value!r}")

    return check


_positive = _seconds(positive=True)
_non_negative = _seconds(positive=False)


@attrs.frozen(kw_only=True)
class Timeout:
    """How long one attempt of one request may take (never the wait for a rate-limit slot).

    Attributes:
        total: Seconds for a whole attempt (connect, send, read the answer), or ``None``.
        connect: Seconds to get a connection from the pool and connect, or ``None``.
    """

    total: float | None = attrs.field(default=30.0, validator=_positive)
    connect: float | None = attrs.field(default=10.0, validator=_positive)


DEFAULT_TIMEOUT: Final = Timeout()


def check_store_url(url: object, *, source: str = "store") -> str:
    """Return ``url`` if it is a Redis URL the store can use, else raise ``ValueError``."""
    if not isinstance(url, str):
        raise TypeError(f"{source} must be a redis:// URL string or None, got {type(url).__name__}")
    if "://" not in url or url.partition("://")[0].lower() not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"{source} must be a redis://, rediss:// or unix:// URL, got {redact_store_url(url)!r}"
        )
    return url


@attrs.frozen(kw_only=True)
class RateLimit:
    """Client-side pacing under the API's documented limit.

    The API allows 40 requests per 10 seconds per IP and answers 429 for a 10 second cooldown
    past it (the API docs, "Rate limit"). The client spaces its requests so that no window of
    ``per_seconds`` holds more than ``requests`` of them. With a ``store``, every client using
    the same store and ``key`` (any process, any host) shares one window and one 429 pause.

    Attributes:
        requests: Requests allowed per window.
        per_seconds: The window, in seconds.
        cooldown: Seconds to pause everything after a 429 that carries no ``Retry-After``.
        jitter: Up to this many seconds are added at random to a 429 pause, so that clients
            sharing an IP do not all come back at once.
        store: A Redis URL (``redis://``, ``rediss://`` or ``unix://``; needs the ``redis``
            extra) holding the shared window; ``None`` paces this client alone. When not given,
            the ``COMFYCONTROL_RATE_LIMIT_STORE`` environment variable (read when a client is
            made), else ``None``. Its password never appears in a repr, log line or error.
        key: The name of the shared window in the store. By default one per API host; give
            workers behind different egress IPs different keys.
        on_store_error: ``"fallback"`` (default): when the store cannot be reached, pace this
            process alone at a conservative share of the limit, log one warning, and share
            again once the store is back. ``"raise"``: raise
            :class:`~comfycontrol_async.RateLimitStoreError` instead.
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

    @requests.validator
    def _check_requests(self, _: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"requests must be a positive integer, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"jitter must be a non-negative number of seconds, got {value!r}")

    @store.validator
    def _check_store(self, _: attrs.Attribute[Any], value: object) -> None:
        if value is not None and value is not NOT_GIVEN:
            check_store_url(value)

    @key.validator
    def _check_key(self, _: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"key must be a non-empty string or None, got {value!r}")

    @on_store_error.validator
    def _check_policy(self, _: attrs.Attribute[Any], value: object) -> None:
        if value not in ("fallback", "raise"):
            raise ValueError(f"on_store_error must be 'fallback' or 'raise', got {value!r}")

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
    """A token bucket shared by the whole client that bounds how many retries it makes.

    Each retry spends ``retry_cost`` tokens; each success earns ``success_reward`` back, up to
    ``capacity``. When the bucket is empty, failures are raised at once instead of retried, so
    an outage does not turn a sweep of 1,000 runners into thousands of retries.

    Attributes:
        capacity: Tokens in a full bucket.
        retry_cost: Tokens one retry spends.
        success_reward: Tokens one success earns back.
    """

    capacity: float = attrs.field(default=100.0, validator=_positive)
    retry_cost: float = attrs.field(default=5.0, validator=_positive)
    success_reward: float = attrs.field(default=1.0, validator=_positive)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When the client tries a request again, and how long it waits first: one home for it all.

    Only GET requests are retried (POST and PUT never), on 408, 429, 500, 502, 503, 504, on
    connection errors and on 2xx answers that are not JSON at all. The pure decision is
    ``comfycontrol_async._core.decide_retry``; the client only carries it out.

    Attributes:
        max_retries: Retries after the first attempt, 429s included. The retry after a 429
            waits for the client-wide pause (its back-off) and never takes from the budget.
        backoff_base: The ceiling, in seconds, of the first backoff (exponential backoff with
            full jitter: the n-th retry waits a uniform draw below
            ``min(backoff_cap, backoff_base * 2**(n-1))``).
        backoff_cap: The largest backoff ceiling, in seconds.
        max_retry_after: A ``Retry-After`` longer than this is not waited out: the call that got
            it raises at once with ``.retry_after`` set, and a client-wide 429 pause never
            lasts longer than this.
        budget: The client-wide retry budget, or ``None`` for unlimited retries.
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

"""Client configuration: frozen, keyword-only value objects with named defaults.

This module owns the knobs a user can turn (timeouts, retries, pacing) and their defaults, plus
the ``NOT_GIVEN`` sentinel that tells "leave as is" apart from ``None``. It holds no state and
does no I/O; validation happens when an object is built, so a bad value fails at construction,
not in the middle of a sweep.
"""

from __future__ import annotations

import enum
import math
from typing import Any, Final, Literal

import attrs

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "NotGiven",
    "RateLimit",
    "RetryBudget",
    "Timeout",
]

DEFAULT_BASE_URL: Final = "https://api.comfycontrol.app"
DEFAULT_MAX_RETRIES: Final = 2
TOKEN_ENV: Final = "COMFYCONTROL_API_TOKEN"
BASE_URL_ENV: Final = "COMFYCONTROL_BASE_URL"


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: an argument the caller did not pass at all."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""Sentinel for "leave this as it is", distinct from ``None`` (which may be a real value)."""


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeout:
    """How long one attempt of one request may take.

    The wait for a rate-limit slot is not part of it: pacing never makes a request time out.

    Attributes:
        total: Seconds for a whole attempt (connect, send, read the answer), or ``None`` for no
            limit.
        connect: Seconds to get a connection from the pool and connect, or ``None``.
    """

    total: float | None = attrs.field(default=30.0, validator=_positive)
    connect: float | None = attrs.field(default=10.0, validator=_positive)


DEFAULT_TIMEOUT: Final = Timeout()


@attrs.frozen(kw_only=True)
class RateLimit:
    """Client-side pacing under the API's documented limit.

    The API allows 40 requests per 10 seconds per IP and answers 429 for a 10 second cooldown
    past it (SPEC.md, "Rate limit"). The client spaces its requests so that no window of
    ``per_seconds`` holds more than ``requests`` of them, shared by everything it does.

    Attributes:
        requests: Requests allowed per window.
        per_seconds: The window, in seconds.
        cooldown: Seconds to pause everything after a 429 that carries no ``Retry-After``.
        jitter: Up to this many seconds are added at random to a 429 pause, so that clients
            sharing an IP do not all come back at once.
    """

    requests: int = attrs.field(default=40)
    per_seconds: float = attrs.field(default=10.0, validator=_positive)
    cooldown: float = attrs.field(default=10.0, validator=_positive)
    jitter: float = attrs.field(default=1.0)

    @requests.validator
    def _check_requests(self, _: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"requests must be a positive integer, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"jitter must be a non-negative number of seconds, got {value!r}")


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

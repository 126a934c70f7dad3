"""The pure core: building requests, reading answers and deciding retries, from plain values.
No I/O, no aiohttp, no sleeping or logging; time and randomness come in as arguments."""

from __future__ import annotations

import email.utils
import functools
import math
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import attrs
import orjson
from yarl import URL

from ._config import RetryPolicy
from ._exceptions import BODY_LIMIT, APIStatusError, ResponseValidationError, make_status_error

MAX_PER_PAGE: Final = 100
# An error document is small: a bigger body is quoted, never parsed; of its start, enough bytes
# are decoded for the characters the error keeps (at most 4 bytes a character).
ERROR_BODY_LIMIT: Final = 64 * 1024
_ERROR_BODY_READ: Final = 4 * BODY_LIMIT + 8192


@attrs.frozen(kw_only=True)
class RequestSpec:
    """One request: ``form`` maps multipart names to ``str`` or ``(filename, bytes, type)``;
    ``expect_body`` is ``False`` where the API answers an empty 2xx body."""

    method: str
    url: URL
    params: Mapping[str, str] = attrs.field(factory=dict)
    json: Any = None
    form: tuple[tuple[str, str | tuple[str, bytes, str]], ...] | None = None
    expect_body: bool = True


@attrs.frozen(kw_only=True)
class Answer:
    """An HTTP answer read whole (up to the size cap): the transport's output, the core's input."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx (the API docs: any 2xx is a success)."""
        return 200 <= self.status < 300

    @property
    def request_id(self) -> str | None:
        return self.headers.get("X-Request-Id") or self.headers.get("x-request-id")


def parse_base_url(value: object) -> URL:
    """Check and normalise a base URL: absolute http(s), no query, fragment or user info."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("base_url must be a non-empty http(s) URL")
    url = URL(value.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {value!r}")
    if url.query_string or url.fragment:
        raise ValueError("base_url must not carry a query string or a fragment")
    if url.user or url.password:
        raise ValueError("base_url must not carry credentials; pass the token instead")
    path = url.path.rstrip("/").removesuffix("/v1")
    return url.with_path(path or "/")


def check_id(value: object, what: str = "id") -> str:
    """Check an id argument: a non-empty string. Its format is never validated (the API docs)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value


@functools.lru_cache(maxsize=256)
def build_url(base: URL, *segments: str) -> URL:
    """Join ``/v1`` and ``segments`` to ``base``, each percent-encoded as one segment (dots too);
    cached, as polls and sweeps ask the same URLs and aiohttp reads a reused URL's parts faster."""
    encoded = (quote(s, safe="-_~").replace(".", "%2E") for s in segments)
    return base.with_path(base.raw_path.rstrip("/") + "/v1/" + "/".join(encoded), encoded=True)


def check_seconds(name: str, value: object, *, none: bool = True) -> None:
    """Check a duration: finite seconds above 0 (not a bool), or ``None`` when ``none``."""
    if (value is not None or not none) and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        also = " or None" if none else ""
        raise ValueError(f"{name} must be a positive number of seconds{also}, got {value!r}")


def check_count(name: str, value: object, *, zero: bool = False) -> None:
    """Check a count argument: an int above 0 (at least 0 with ``zero``); a bool is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        kind = "non-negative" if zero else "positive"
        raise ValueError(f"{name} must be a {kind} int, got {value!r}")


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Check an int argument (not a bool) between ``low`` and ``high`` (``None``: no bound)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_page_args(page: object, per_page: object, *, page_name: str = "page") -> tuple[int, int]:
    """Check ``page`` (>= 1, named ``page_name`` in messages) and ``per_page`` (1 to 100)."""
    return check_int(page_name, page, 1), check_int("per_page", per_page, 1, MAX_PER_PAGE)


def is_idempotent(method: str) -> bool:
    """Whether ``method`` may be retried (POST and PUT never are)."""
    return method.upper() in ("GET", "HEAD", "OPTIONS")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds (>= 0) from a ``Retry-After`` of seconds or an HTTP date; ``None`` if unreadable."""
    text = (value or "").strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


@attrs.frozen(kw_only=True)
class RetryDecision:
    """Retry after ``delay`` s (0 after a 429: the pause holds it), spending the budget if
    ``spends_budget``; or not, for ``reason`` (``out_of_time``: the deadline would pass first)."""

    retry: bool
    delay: float = 0.0
    spends_budget: bool = False
    reason: str = ""
    out_of_time: bool = False


def decide_retry(
    policy: RetryPolicy,
    *,
    idempotent: bool,
    status: int | None,
    retry_after: float | None,
    retry_number: int,
    remaining: float | None,
    held: float = 0.0,
    draw: float = 1.0,
) -> RetryDecision:
    """Whether and when to retry; ``status`` is ``None`` without a usable answer, ``remaining``
    the seconds to the deadline, ``held`` those the client is paused anyway, ``draw`` in [0, 1)."""
    if not idempotent:
        return RetryDecision(retry=False, reason="not idempotent")
    if status is not None and status not in {408, 429, 500, 502, 503, 504}:
        return RetryDecision(retry=False, reason=f"status {status} is not retried")
    if retry_after is not None and retry_after > policy.max_retry_after:
        return RetryDecision(retry=False, reason="Retry-After above max_retry_after")
    if retry_number > policy.max_retries:
        return RetryDecision(retry=False, reason="max_retries reached")
    if status == 429:
        # The client-wide pause is the back-off for a 429: no sleep of its own, no budget.
        delay, spends = 0.0, False
    elif retry_after is not None:
        delay, spends = retry_after, True
    else:
        ceiling = min(policy.backoff_cap, policy.backoff_base * 2.0 ** (retry_number - 1))
        delay, spends = ceiling * draw, True
    if remaining is not None and max(delay, held) >= remaining:
        return RetryDecision(retry=False, reason="the deadline would pass first", out_of_time=True)
    return RetryDecision(retry=True, delay=delay, spends_budget=spends)


def rate_limit_pause(
    policy: RetryPolicy, retry_after: float | None, *, cooldown: float, jitter: float
) -> float:
    """Seconds to pause the client after a 429: ``Retry-After`` or the cooldown, capped so that
    jitter included it stays within ``max_retry_after`` (a hostile header must not freeze it)."""
    wanted = cooldown if retry_after is None else retry_after
    if wanted + jitter > policy.max_retry_after:
        return max(0.0, min(wanted, policy.max_retry_after - jitter))
    return wanted


def parse_json_body(answer: Answer) -> Any:
    try:
        return orjson.loads(answer.body)
    except ValueError as err:  # orjson's errors and UnicodeDecodeError are ValueErrors
        empty = not answer.body.strip()
        why = "was empty where JSON was expected" if empty else f"is not valid JSON: {err}"
        body = "" if empty else answer.body[:200].decode("utf-8", errors="replace")
        raise ResponseValidationError(f"the answer {why}", body=body) from None


def error_for(
    answer: Answer, *, method: str, url: str, now: datetime | None = None
) -> APIStatusError:
    """The typed error for a non-2xx answer, with the ``message`` of a documented error body;
    HTML, empty or truncated bodies are quoted (their start only)."""
    data = None
    if len(answer.body) <= ERROR_BODY_LIMIT:
        with suppress(ValueError):
            data = orjson.loads(answer.body)
    message = data.get("message") if isinstance(data, dict) else None
    return make_status_error(
        answer.status,
        api_message=message if isinstance(message, str) and message.strip() else None,
        body=answer.body[:_ERROR_BODY_READ].decode("utf-8", errors="replace"),
        request_id=answer.request_id,
        method=method,
        url=url,
        retry_after=parse_retry_after(answer.headers.get("Retry-After"), now=now),
    )

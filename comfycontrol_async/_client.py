"""The client: configuration, lifecycle, and the request loop every endpoint goes through.

:class:`ComfyControl` owns the token, the transport, the client-wide pacer and retry budget, and
the resources (``cc.runners`` and friends). Its private ``_call`` runs one logical request:
pacing, attempts, retries with backoff, ``Retry-After``, the deadline, logging, and the mapping
of answers to typed errors through the pure core. It must never put the token in a message, a
log line or a repr, and it must never swallow ``asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import math
import os
import platform
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import aiohttp
from yarl import URL

from . import _core
from ._config import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    TOKEN_ENV,
    NotGiven,
    RateLimit,
    RetryBudget,
    Timeout,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    RateLimitError,
    ResponseValidationError,
)
from ._logging import body_excerpt, configure_from_env, log, register_secret, verbose
from ._ratelimit import Pacer, RetryQuota, Slot
from ._transport import Transport
from ._version import __version__
from .resources._fanout import attempt_counter

if TYPE_CHECKING:
    from .capacity import CapacityReport
    from .resources.managed_runners import ManagedRunners
    from .resources.runners import Runners
    from .resources.templates import Templates
    from .resources.user import UserResource
    from .resources.workflows import Workflows

__all__ = ["ComfyControl"]


DEFAULT_MAX_RETRY_AFTER: Final = 60.0
_BACKOFF_BASE: Final = 0.5
_BACKOFF_CAP: Final = 8.0
_DEFAULT_RETRY_BUDGET: Final = RetryBudget()


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_token(token: str) -> str:
    if not isinstance(token, str):
        raise TypeError("token must be a str")
    token = token.strip()
    if not token:
        raise ValueError(
            f"the API token is empty; pass token=... or set {TOKEN_ENV} "
            "(make a token in the ComfyControl dashboard)"
        )
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in token):
        # Never echo the token: it is a secret even when malformed.
        raise ValueError("the API token contains whitespace or control characters")
    return token


def _as_timeout(value: float | Timeout | None) -> Timeout:
    if isinstance(value, Timeout):
        return value
    if value is None:
        return Timeout(total=None, connect=None)
    return Timeout(total=float(value))


class ComfyControl:
    """The async client for the ComfyControl API.

    Use it as ``async with ComfyControl() as cc: ...`` or close it with ``await cc.aclose()``.
    Everything it does shares one connection pool, one rate limiter and one retry budget.

    Args:
        token: The API token (``cfc_...``). Defaults to the ``COMFYCONTROL_API_TOKEN``
            environment variable.
        base_url: The API's base URL. Defaults to ``COMFYCONTROL_BASE_URL``, then
            ``https://api.comfycontrol.app``. A trailing ``/v1`` is accepted.
        timeout: Per-attempt timeout: seconds, a :class:`Timeout`, or ``None`` for none.
        max_retries: Retries after the first attempt, for GET requests only (POST and PUT are
            never retried).
        rate_limit: Client-side pacing, by default the documented 40 requests per 10 s;
            ``None`` turns pacing off (a 429 still pauses the client).
        session: An :class:`aiohttp.ClientSession` to use. It stays yours: the client never
            closes it.
        deadline: Default overall deadline in seconds for one call, spanning its retries,
            backoff sleeps and pacing waits; ``None`` for none.
        retry_budget: The client-wide retry budget, or ``None`` for unlimited retries.
        max_retry_after: A ``Retry-After`` longer than this many seconds is not waited out: the
            :class:`RateLimitError` (or status error) is raised with ``.retry_after`` set.
        allow_insecure_http: Allow sending the token over plain ``http://`` to a host that is
            not loopback. Off by default.
        user_agent: Extra text appended to the ``User-Agent`` header.

    Raises:
        ValueError: No token was given or found, or an argument is out of range.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        deadline: float | None = None,
        retry_budget: RetryBudget | None = _DEFAULT_RETRY_BUDGET,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV)
            if not token:
                raise ValueError(
                    f"no API token: pass token=... or set the {TOKEN_ENV} environment variable "
                    "(tokens are made in the ComfyControl dashboard)"
                )
        self._token = _check_token(token)
        raw_base = (
            base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        )
        self._base_url = _core.parse_base_url(raw_base)
        if (
            self._base_url.scheme == "http"
            and not allow_insecure_http
            and not _is_loopback(self._base_url.host)
        ):
            raise ValueError(
                f"refusing to send the API token over plain http to {self._base_url.host}; "
                "use https, or pass allow_insecure_http=True if you really mean it"
            )
        retries: object = max_retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
        if deadline is not None and not (math.isfinite(deadline) and deadline > 0):
            raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
        if not (math.isfinite(max_retry_after) and max_retry_after >= 0):
            raise ValueError(f"max_retry_after must be >= 0 seconds, got {max_retry_after!r}")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError("rate_limit must be a RateLimit or None")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError("session must be an aiohttp.ClientSession")
        self._timeout = _as_timeout(timeout)
        self.max_retries = max_retries
        self.deadline = deadline
        self.max_retry_after = max_retry_after
        agent = (
            f"comfycontrol-async/{__version__} python/{platform.python_version()} "
            f"aiohttp/{aiohttp.__version__}"
        )
        self._user_agent = f"{agent} {user_agent}" if user_agent else agent
        self._transport = Transport(session, timeout=self._timeout, user_agent=self._user_agent)
        self._pacer = Pacer(rate_limit)
        self._quota = RetryQuota(retry_budget)
        self._rng = random.Random()
        self._backoff_base = _BACKOFF_BASE
        self._backoff_cap = _BACKOFF_CAP
        self._state = _State.OPEN
        self._auth = {"Authorization": f"Bearer {self._token}"}
        self._secret_handle = register_secret(self._token)
        self._verbose = verbose()
        configure_from_env()

        from .resources.managed_runners import ManagedRunners
        from .resources.runners import Runners
        from .resources.templates import Templates
        from .resources.user import UserResource
        from .resources.workflows import Workflows

        requester = _Requester(self)
        self.user: UserResource = UserResource(requester)
        self.runners: Runners = Runners(requester)
        self.managed_runners: ManagedRunners = ManagedRunners(requester)
        self.templates: Templates = Templates(requester)
        self.workflows: Workflows = Workflows(requester)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> URL:
        """The API's base URL (without ``/v1``)."""
        return self._base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The pacing in force, or ``None``."""
        return self._pacer.rate

    @property
    def timeout(self) -> Timeout:
        """The per-attempt timeout."""
        return self._timeout

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._state is _State.CLOSED

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its own session (a session you passed stays open).

        Idempotent. The client cannot be used afterwards: make a new one.
        """
        self._state = _State.CLOSED
        await self._transport.aclose()

    def __del__(self) -> None:
        # No cleanup here (the loop may be gone); only a warning, as files and sockets do.
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            warnings.warn(
                f"unclosed {self!r}: use 'async with ComfyControl()' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    def __repr__(self) -> str:
        state = getattr(self, "_state", _State.CLOSED).value
        return f"<ComfyControl base_url={str(getattr(self, '_base_url', '?'))!r} token=*** {state}>"

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this ComfyControl client is closed; make a new one")

    # -- helpers used by resources -------------------------------------------------------------

    def _url(self, *segments: str) -> URL:
        return _core.build_url(self._base_url, *segments)

    def _deadline(self, deadline: float | NotGiven | None) -> float | None:
        if isinstance(deadline, NotGiven):
            return self.deadline
        if deadline is not None and not (math.isfinite(deadline) and deadline > 0):
            raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
        return deadline

    def _attempt_timeout(self, timeout: float | NotGiven | None) -> float | None:
        if isinstance(timeout, NotGiven):
            return self._timeout.total
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return timeout

    async def _call(
        self,
        spec: _core.RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        """Run one logical request and return its parsed JSON (``None`` for an empty body)."""
        retries: object = self.max_retries if isinstance(max_retries, NotGiven) else max_retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
        return await self._send(
            spec,
            deadline=self._deadline(deadline),
            timeout=self._attempt_timeout(timeout),
            max_retries=retries,
            on_attempt=on_attempt,
        )

    async def _send(
        self,
        spec: _core.RequestSpec,
        *,
        deadline: float | None,
        timeout: float | None,
        max_retries: int,
        on_attempt: Callable[[], None] | None,
    ) -> Any:
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline_at = None if deadline is None else loop.time() + deadline
        method, url = spec.method, str(spec.url)
        path = spec.url.raw_path
        attempt = 0
        while True:
            attempt += 1
            slot = await self._wait_for_slot(deadline_at, method, url)
            per_attempt = timeout
            if deadline_at is not None:
                remaining = deadline_at - loop.time()
                per_attempt = remaining if per_attempt is None else min(per_attempt, remaining)
            counter = attempt_counter.get()
            if counter is not None:
                counter[0] += 1
            if on_attempt is not None:
                on_attempt()
            started = loop.time()
            try:
                answer = await self._transport.send(spec, headers=self._auth, timeout=per_attempt)
            except APIConnectionError as err:
                self._pacer.release(slot)
                elapsed = loop.time() - started
                if (
                    isinstance(err, APITimeoutError)
                    and deadline_at is not None
                    and loop.time() >= deadline_at - 1e-3
                ):
                    raise APITimeoutError(
                        f"{method} {url}: deadline of {deadline} s exceeded "
                        f"after {attempt} attempt(s)",
                        method=method,
                        url=url,
                    ) from err
                log.info(
                    "%s %s failed: %s (attempt %d, %.3f s)",
                    method,
                    path,
                    type(err).__name__,
                    attempt,
                    elapsed,
                )
                delay = self._retry_delay(spec, attempt, max_retries, None, deadline_at)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                continue
            finally:
                # Cancelled or failed or answered: the slot counts one more window from now.
                self._pacer.release(slot)
            elapsed = loop.time() - started
            log.debug(
                "%s %s -> %d (attempt %d, %.3f s, request id %s)",
                method,
                path,
                answer.status,
                attempt,
                elapsed,
                answer.request_id,
            )
            if self._verbose:
                log.debug("%s %s answer: %s", method, path, body_excerpt(answer.body))
            if answer.ok:
                if not spec.expect_body:
                    # Documented as "200, empty body"; whatever a server puts there is ignored.
                    self._quota.refill()
                    return None
                try:
                    data = _core.parse_json_body(answer)
                except ResponseValidationError:
                    # A 2xx body that is not JSON at all (cut short, an HTML page from a proxy,
                    # empty) is a fault on the way, not a change of the API: retried like a 5xx.
                    delay = self._retry_delay(spec, attempt, max_retries, None, deadline_at)
                    if delay is None:
                        raise
                    log.info(
                        "%s %s -> %d, not JSON, retrying (attempt %d)",
                        method,
                        path,
                        answer.status,
                        attempt,
                    )
                    await asyncio.sleep(delay)
                    continue
                self._quota.refill()
                return data
            error = _core.error_for(answer, method=method, url=url)
            if isinstance(error, RateLimitError):
                paused = self._pacer.pause(error.retry_after)
                log.warning(
                    "%s %s -> 429: pausing every request of this client for %.1f s",
                    method,
                    path,
                    paused,
                )
            if not _core.is_retryable_status(answer.status):
                raise error
            delay = self._retry_delay(spec, attempt, max_retries, error, deadline_at)
            if delay is None:
                raise error
            log.info("%s %s -> %d, retrying (attempt %d)", method, path, answer.status, attempt)
            await asyncio.sleep(delay)

    async def _wait_for_slot(self, deadline_at: float | None, method: str, url: str) -> Slot:
        if deadline_at is None:
            return await self._pacer.acquire()
        loop = asyncio.get_running_loop()
        remaining = deadline_at - loop.time()
        if remaining <= 0 or self._pacer.delay_for_next() > remaining:
            raise APITimeoutError(
                f"{method} {url}: the deadline would pass while waiting for a rate-limit slot",
                method=method,
                url=url,
            )
        try:
            async with asyncio.timeout(remaining):
                return await self._pacer.acquire()
        except TimeoutError:
            raise APITimeoutError(
                f"{method} {url}: the deadline passed while waiting for a rate-limit slot",
                method=method,
                url=url,
            ) from None

    def _retry_delay(
        self,
        spec: _core.RequestSpec,
        attempt: int,
        max_retries: int,
        error: APIStatusError | None,
        deadline_at: float | None,
    ) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` when not to retry at all."""
        if not spec.idempotent or attempt > max_retries:
            return None
        if isinstance(error, RateLimitError):
            # The pacer holds every send of the client until the pause ends: no extra sleep.
            if error.retry_after is not None and error.retry_after > self.max_retry_after:
                return None
            delay = 0.0
            wait = self._pacer.delay_for_next()
        else:
            retry_after = error.retry_after if error is not None else None
            if retry_after is not None and retry_after > self.max_retry_after:
                return None
            delay = (
                retry_after
                if retry_after is not None
                else _core.backoff_delay(
                    attempt - 1, base=self._backoff_base, cap=self._backoff_cap, rng=self._rng
                )
            )
            wait = delay
        if deadline_at is not None:
            loop = asyncio.get_running_loop()
            if loop.time() + wait >= deadline_at:
                return None
        if not self._quota.try_spend():
            log.warning(
                "retry budget exhausted: not retrying %s %s", spec.method, spec.url.raw_path
            )
            return None
        return delay

    # -- fleet-wide helpers --------------------------------------------------------------------

    async def capacity(self, **kwargs: Any) -> CapacityReport:
        """Sweep runners and build a :class:`CapacityReport`. See :func:`capacity.sweep`."""
        from .capacity import sweep

        return await sweep(self, **kwargs)


class _Requester:
    """What the resources see of a client: the ``Requester`` protocol of ``resources/_base.py``.

    A separate object, so that the public surface of :class:`ComfyControl` does not grow.
    """

    __slots__ = ("_client",)

    def __init__(self, client: ComfyControl) -> None:
        self._client = client

    def __repr__(self) -> str:
        return repr(self._client)

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._client.rate_limit

    def url(self, *segments: str) -> URL:
        return self._client._url(*segments)

    async def request(
        self,
        spec: _core.RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        return await self._client._call(
            spec,
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            on_attempt=on_attempt,
        )

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None:
        await self._client._transport.download(url, path, timeout=timeout)

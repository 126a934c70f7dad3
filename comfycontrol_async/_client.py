"""The client: configuration, lifecycle and ``_send``, the request loop of every endpoint
(pacing, retries, the 429 pause, the deadline). It never shows the token, never swallows a
cancellation not its own, and sends nothing once closed."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import os
import platform
import random
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Self

import aiohttp
import attrs
from yarl import URL

from . import _config, _core, _exceptions
from ._config import NOT_GIVEN, NotGiven, RateLimit, RetryBudget, RetryPolicy, Timeout
from ._logging import body_excerpt, configure_from_env, log, verbose
from ._ratelimit import Pacer, RetryQuota
from ._redact import register_secret
from ._transport import Transport
from ._version import __version__
from .capacity import CapacityReport, FactsCache, FoundRunners, find_runners, sweep, watch_capacity
from .resources.managed_runners import ManagedRunners
from .resources.runners import Runners
from .resources.templates import Templates
from .resources.user import UserResource
from .resources.workflows import Workflows

_CLOSED_MESSAGE = "this ComfyControl client is closed; make a new one"
# Log lines carry metadata only (README, "Logging and secrets").
_FAILED = "%s %s failed: %s (attempt %d, %.3f s)"
_ANSWERED = "%s %s -> %d (attempt %d, %.3f s, request id %s)"
_RETRYING = "%s %s -> %d, %sretrying (attempt %d)"
_PAUSING = "%s %s -> 429: pausing every request of this client for %.1f s"


def _deadline_error(spec: _core.RequestSpec, what: str) -> _exceptions.APITimeoutError:
    url = str(spec.url)
    return _exceptions.APITimeoutError(f"{spec.method} {url}: {what}", method=spec.method, url=url)


class ComfyControl:
    """The async client for the ComfyControl API: ``async with`` it, or ``await cc.aclose()``.
    Its calls share one pool, rate limiter and retry budget, in one event loop; README,
    "Configuration", lists every default and environment variable.

    Args:
        token: The API token (``cfc_...``); else ``COMFYCONTROL_API_TOKEN``.
        timeout: Per attempt: seconds, a :class:`Timeout`, or ``None`` for none.
        max_retries: Retries after the first attempt (GET only); overrides ``retry``'s.
        rate_limit: Client-side pacing; ``None`` turns it off (a 429 still pauses the client).
        session: An :class:`aiohttp.ClientSession` to use; it stays yours.
        deadline: Default seconds for one call, retries, backoff and pacing waits included.
        retry_budget: The retry budget, ``None`` for unlimited; overrides ``retry``'s.
        max_retry_after: The longest ``Retry-After`` waited out; overrides ``retry``'s.
        user_agent: Extra text appended to the ``User-Agent`` header.
        max_answer_bytes: A bigger answer raises :class:`ResponseValidationError`, unread.

    Raises:
        ValueError: No token was given or found, or an argument is out of range.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout | None = _config.DEFAULT_TIMEOUT,
        max_retries: int | NotGiven = NOT_GIVEN,
        rate_limit: RateLimit | None = _config.DEFAULT_RATE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        deadline: float | None = None,
        retry_budget: RetryBudget | NotGiven | None = NOT_GIVEN,
        max_retry_after: float | NotGiven = NOT_GIVEN,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
        retry: RetryPolicy = _config.DEFAULT_RETRY_POLICY,
        max_answer_bytes: int = _config.DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        token = os.environ.get(_config.TOKEN_ENV, "") if token is None else token
        if not isinstance(token, str):
            raise TypeError("token must be a str")
        token = token.strip()
        if not token:
            raise ValueError(
                f"no API token: pass token=... or set the {_config.TOKEN_ENV} environment variable "
                "(tokens are made in the ComfyControl dashboard)"
            )
        if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in token):
            raise ValueError("the API token contains whitespace or control characters")
        if base_url is None:
            base_url = os.environ.get(_config.BASE_URL_ENV) or _config.DEFAULT_BASE_URL
        self._base_url = _core.parse_base_url(base_url)
        host = self._base_url.host or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost" or host.endswith(".localhost")
        if self._base_url.scheme == "http" and not (allow_insecure_http or loopback):
            raise ValueError(
                f"refusing to send the API token over plain http to {host}; "
                "use https, or pass allow_insecure_http=True if you really mean it"
            )
        if not isinstance(retry, RetryPolicy):
            raise TypeError("retry must be a RetryPolicy")
        names = ("max_retries", "budget", "max_retry_after")
        given = zip(names, (max_retries, retry_budget, max_retry_after), strict=True)
        overrides: dict[str, Any] = {k: v for k, v in given if not isinstance(v, NotGiven)}
        self._retry = attrs.evolve(retry, **overrides) if overrides else retry
        _core.check_seconds("deadline", deadline)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError("rate_limit must be a RateLimit or None")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError("session must be an aiohttp.ClientSession")
        _core.check_count("max_answer_bytes", max_answer_bytes)
        if timeout is None:
            timeout = Timeout(total=None, connect=None)
        elif not isinstance(timeout, Timeout):
            timeout = Timeout(total=float(timeout))
        self._timeout = timeout
        self.deadline = deadline
        agent = f"comfycontrol-async/{__version__} python/{platform.python_version()}"
        agent += f" aiohttp/{aiohttp.__version__}" + (f" {user_agent}" if user_agent else "")
        self._transport = Transport(
            session, timeout=timeout, user_agent=agent, max_answer_bytes=max_answer_bytes
        )
        self._pacer = Pacer(rate_limit, host=f"{self._base_url.host}:{self._base_url.port}")
        self._quota = RetryQuota(self._retry.budget)
        self._rng = random.Random()
        self._pause_epoch = 0  # bumped by every 429 that starts a client-wide pause
        self._resending = 0  # calls about to resend after a 429
        self._no_resends = asyncio.Event()
        self._no_resends.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: set[asyncio.Task[Any]] = set()  # for aclose() to end
        self._ended_by_close: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._auth = {"Authorization": f"Bearer {token}"}
        self._secret_handle = register_secret(token)
        self._verbose = verbose()
        configure_from_env()
        requester = _Requester(self)
        self.user: UserResource = UserResource(requester)
        self.runners: Runners = Runners(requester)
        self.managed_runners: ManagedRunners = ManagedRunners(requester)
        self.templates: Templates = Templates(requester)
        self.workflows: Workflows = Workflows(requester)
        self._facts = FactsCache()  # find_runners' static facts, kept while the client lives

    @property
    def base_url(self) -> URL:
        """The API's base URL (without ``/v1``)."""
        return self._base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._pacer.rate

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt (GET only)."""
        return self._retry.max_retries

    @property
    def max_retry_after(self) -> float:
        """The longest ``Retry-After`` waited out, and the longest client-wide pause."""
        return self._retry.max_retry_after

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Self:
        if self._closed:
            raise _exceptions.ClientClosedError(_CLOSED_MESSAGE)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client for good (calls in progress end with :class:`ClientClosedError`) and
        its own session (yours stays open). Idempotent; nothing is sent afterwards."""
        self._closed = True
        me = asyncio.current_task()
        for task in self._calls:
            if task is not me and not task.done() and task not in self._ended_by_close:
                self._ended_by_close.add(task)
                task.cancel()
        await self._transport.aclose()
        await self._pacer.aclose()

    def __del__(self) -> None:
        # Only a warning, as files and sockets give: the loop may be gone.
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            use = "use 'async with ComfyControl()' or 'await client.aclose()'"
            warnings.warn(f"unclosed {self!r}: {use}", ResourceWarning, stacklevel=1, source=self)

    def __repr__(self) -> str:
        state = "closed" if getattr(self, "_closed", True) else "open"
        return f"<ComfyControl base_url={str(getattr(self, '_base_url', '?'))!r} token=*** {state}>"

    def _check_usable(self) -> asyncio.AbstractEventLoop:
        """The running loop, once sure that the client is open and was made for it."""
        if self._closed:
            raise _exceptions.ClientClosedError(_CLOSED_MESSAGE)
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            # Else aiohttp fails deep inside ("Event loop is closed") or hangs.
            raise _exceptions.ComfyControlError(
                "this ComfyControl client was first used in another event loop; make one "
                "client per event loop (for example inside the function given to asyncio.run)"
            )
        return loop

    async def _send(
        self,
        spec: _core.RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        """Run one logical request and return its parsed JSON (``None`` for an empty body)."""
        loop = self._check_usable()
        deadline = self.deadline if isinstance(deadline, NotGiven) else deadline
        _core.check_seconds("deadline", deadline)
        per_attempt = self._timeout.total if isinstance(timeout, NotGiven) else timeout
        _core.check_seconds("timeout", per_attempt)
        policy = self._retry
        if not isinstance(max_retries, NotGiven):
            policy = attrs.evolve(policy, max_retries=max_retries)
        task = asyncio.current_task()
        assert task is not None  # an await always runs inside a task
        self._calls.add(task)
        deadline_at = None if deadline is None else loop.time() + deadline
        method, url, path = spec.method, str(spec.url), spec.url.raw_path
        attempt = 0  # every failed attempt, a 429 too, uses one of the call's max_retries
        last: Exception | None = None
        queued = False  # refused by a 429 and about to resend: new calls wait behind it
        try:
            if self._resending:
                try:
                    async with asyncio.timeout_at(deadline_at):
                        await self._no_resends.wait()
                except TimeoutError:
                    what = "the deadline passed while calls refused by a 429 went first"
                    raise _deadline_error(spec, what) from None
            while True:
                if deadline_at is None:
                    slot = await self._pacer.acquire()
                else:
                    remaining = deadline_at - loop.time()
                    try:
                        if remaining <= 0 or self._pacer.delay_for_next() > remaining:
                            raise TimeoutError
                        async with asyncio.timeout_at(deadline_at):
                            slot = await self._pacer.acquire()
                    except TimeoutError:
                        what = "the deadline passed while waiting for a rate-limit slot"
                        timeout_error = _deadline_error(spec, what)
                        if last is not None:
                            raise last from timeout_error  # between retries: the last error
                        raise timeout_error from None
                if queued:
                    queued = False
                    self._resent()
                if self._closed:
                    raise _exceptions.ClientClosedError(_CLOSED_MESSAGE)
                attempt += 1
                limit = per_attempt
                if deadline_at is not None:
                    limit = min(per_attempt or math.inf, deadline_at - loop.time())
                sent_epoch = self._pause_epoch
                if on_attempt is not None:
                    on_attempt()
                started = loop.time()
                answer = None
                try:
                    answer = await self._transport.send(spec, headers=self._auth, timeout=limit)
                except _exceptions.APITimeoutError as err:
                    if deadline_at is not None and loop.time() >= deadline_at - 1e-3:
                        what = f"deadline of {deadline} s exceeded after {attempt} attempt(s)"
                        raise _deadline_error(spec, what) from err
                    error: Exception = err
                except _exceptions.APIConnectionError as err:
                    error = err
                finally:
                    self._pacer.release(slot)  # cancelled, failed or answered: a window from now
                took = loop.time() - started
                if answer is None:
                    log.info(_FAILED, method, path, type(error).__name__, attempt, took)
                else:
                    log.debug(
                        _ANSWERED, method, path, answer.status, attempt, took, answer.request_id
                    )
                    if self._verbose:
                        log.debug("%s %s answer: %s", method, path, body_excerpt(answer.body))
                    if not answer.ok:
                        error = _core.error_for(answer, method=method, url=url)
                        if isinstance(error, _exceptions.RateLimitError):
                            self._rate_limited(error, sent_epoch, path)
                    else:
                        try:
                            # A 2xx that is not JSON (cut short, a proxy's page): a fault, retried.
                            data = _core.parse_json_body(answer) if spec.expect_body else None
                        except _exceptions.ResponseValidationError as err:
                            error = err
                        else:
                            self._quota.refill()
                            return data
                status = retry_after = None
                if isinstance(error, _exceptions.APIStatusError):
                    status, retry_after = error.status, error.retry_after
                decision = _core.decide_retry(
                    policy,
                    idempotent=_core.is_idempotent(method),
                    status=status,
                    retry_after=retry_after,
                    retry_number=attempt,
                    remaining=None if deadline_at is None else deadline_at - loop.time(),
                    held=self._pacer.delay_for_next(),
                    draw=self._rng.random(),
                )
                if not decision.retry:
                    if decision.out_of_time:  # the last error, with the deadline as its cause
                        what = f"the deadline would pass before retry {attempt}"
                        raise error from _deadline_error(spec, what)
                    raise error
                if decision.spends_budget and not self._quota.try_spend():
                    log.warning("retry budget exhausted: not retrying %s %s", method, path)
                    raise error
                if isinstance(error, _exceptions.RateLimitError):
                    # Refused calls go first after the pause: its burst cannot refuse them again.
                    queued = True
                    self._resending += 1
                    self._no_resends.clear()
                if answer is not None:
                    why = "" if isinstance(error, _exceptions.APIStatusError) else "not JSON, "
                    log.info(_RETRYING, method, path, answer.status, why, attempt)
                last = error
                await asyncio.sleep(decision.delay)
        except asyncio.CancelledError:
            if task in self._ended_by_close and task.uncancel() == 0:
                # Our own cancellation from aclose(), and nobody else's: the call ends typed.
                raise _exceptions.ClientClosedError(_CLOSED_MESSAGE) from None
            raise
        finally:
            if queued:
                self._resent()
            self._calls.discard(task)
            self._ended_by_close.discard(task)

    def _resent(self) -> None:
        self._resending -= 1
        if not self._resending:
            self._no_resends.set()

    def _rate_limited(self, error: _exceptions.RateLimitError, sent_epoch: int, path: str) -> None:
        """Pause the client after a 429, unless sent before the latest pause (an overload known)."""
        if sent_epoch != self._pause_epoch:
            return
        rate = self._pacer.rate or RateLimit()
        seconds = _core.rate_limit_pause(
            self._retry, error.retry_after, cooldown=rate.cooldown, jitter=rate.jitter
        )
        paused = self._pacer.pause(seconds)
        self._pause_epoch += 1
        log.warning(_PAUSING, error.method, path, paused)

    def _fleet(self, managed: bool, own: bool) -> dict[str, Any]:
        return {
            "managed": self.managed_runners if managed else None,
            "own": self.runners if own else None,
        }

    async def capacity(
        self, *, managed: bool = True, own: bool = False, **kwargs: Any
    ) -> CapacityReport:
        """Sweep runners and build a :class:`CapacityReport`. See :func:`capacity.sweep`."""
        return await sweep(**self._fleet(managed, own), **kwargs)

    async def find_runners(
        self,
        *,
        managed: bool = True,
        own: bool = False,
        cache: FactsCache | None = None,
        **kwargs: Any,
    ) -> FoundRunners:
        """Up to ``limit`` runners that fit, see :func:`capacity.find_runners`; ``cache=None``
        uses the client's own :class:`FactsCache` (kept while it lives)."""
        cache = cache if cache is not None else self._facts
        fleet = self._fleet(managed, own)
        return await find_runners(**fleet, workflows=self.workflows, cache=cache, **kwargs)

    def watch_capacity(
        self, *, managed: bool = True, own: bool = False, share: float = 0.5, **kwargs: Any
    ) -> AsyncIterator[CapacityReport]:
        """Live capacity reports within ``share`` of this client's rate. See
        :func:`capacity.watch_capacity`."""
        kwargs.setdefault("cache", self._facts)
        fleet = self._fleet(managed, own)
        return watch_capacity(**fleet, rate=self.rate_limit, share=share, **kwargs)


class _Requester:
    """The resources' view of the client: the ``Requester`` protocol of ``resources/_base.py``."""

    __slots__ = ("_client", "rate_limit", "request")

    def __init__(self, client: ComfyControl) -> None:
        self._client = client
        self.rate_limit = client.rate_limit  # fixed for the client's life
        self.request = client._send  # bound once: no extra frame per request

    def __repr__(self) -> str:
        return repr(self._client)

    def url(self, *segments: str) -> URL:
        return _core.build_url(self._client.base_url, *segments)

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None:
        self._client._check_usable()
        await self._client._transport.download(url, path, timeout=timeout)

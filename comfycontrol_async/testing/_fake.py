"""The fake's HTTP side: an aiohttp low-level server, its routing and its fault knobs.

This module owns everything that touches the wire: reading requests (raw path, capped body),
routing the 21 endpoints of the API docs plus the storage route, authentication, the fault and load
knobs (latency, scripted failures, error rates, 429s, dropped, hanging and malformed answers,
rate-limit emulation), the request log, and the live ``/system_stats`` fetch for user runners.
The rules themselves live in ``_state.py``; this module must not grow domain logic.

Routing works on the *raw* request path, split on ``/`` before any percent-decoding, and decodes
the single id segment itself: ``a%2Fb`` is the id ``a/b`` and ``..`` is just an id, so no id can
ever reach another route.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ._fleet import mix
from ._multipart import FormError, parse_form
from ._placeholders import FormValue
from ._state import (
    NOT_FOUND,
    TIERS,
    ApiError,
    FakeUser,
    ManagedRunner,
    Mutation,
    Runner,
    State,
    Workflow,
    WorkflowFailure,
    dumps,
    page_bytes,
)

__all__ = ["ROUTES", "FakeComfyControl", "ManualClock", "RecordedRequest"]

_log = logging.getLogger(__name__)

#: Every route the fake serves, spelled as in the API docs' endpoint table (the knobs' names).
ROUTES: tuple[str, ...] = (
    "GET /v1/user",
    "POST /v1/runner",
    "GET /v1/runner",
    "GET /v1/runner/{id}",
    "PUT /v1/runner/{id}",
    "GET /v1/runner/{id}/stats",
    "GET /v1/runner/{id}/history",
    "POST /v1/runner/{id}/interrupt",
    "GET /v1/managed-runner",
    "GET /v1/managed-runner/{id}",
    "GET /v1/managed-runner/{id}/stats",
    "GET /v1/managed-runner/{id}/history",
    "POST /v1/template",
    "GET /v1/template",
    "GET /v1/template/{id}",
    "PUT /v1/template/{id}",
    "POST /v1/workflow",
    "GET /v1/workflow",
    "GET /v1/workflow/{id}",
    "POST /v1/workflow/{id}/cancel",
    "GET /v1/workflow/{id}/outputs",
    "GET /storage/{key}",
)
STORAGE_ROUTE = "GET /storage/{key}"
LIST_ROUTES = ("GET /v1/runner", "GET /v1/managed-runner", "GET /v1/template", "GET /v1/workflow")
_RUNNER_PREFIXES = ("/v1/runner/{id}", "/v1/managed-runner/{id}")
_MALFORMED_KINDS = ("truncated", "invalid", "html", "empty", "cut")
_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"
DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024

_CDN_429 = (
    "<!DOCTYPE html>\n<html><head><title>Error 1015 | Rate limited</title></head>\n"
    "<body><h1>You are being rate limited</h1>\n"
    "<p>The owner of this website (api.comfycontrol.app) has banned you temporarily from "
    "accessing this website.</p><p>Cloudflare Ray ID: 8c2f1a9e5b7d4e21</p></body></html>\n"
)
_MAINTENANCE = (
    "<!DOCTYPE html>\n<html><head><title>ComfyControl</title></head>\n"
    "<body><h1>We'll be right back</h1><p>ComfyControl is undergoing maintenance.</p>"
    "</body></html>\n"
)


def _cdn_error_page(status: int, reason: str) -> str:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(status: int, message: str) -> bytes:
    """The documented error document."""
    return dumps({"status": status, "message": message})


class ManualClock:
    """A clock that only moves when told to: pass it as ``clock=`` for fully deterministic tests.

    ``FakeComfyControl.advance(seconds)`` moves it too.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.now += seconds


@dataclass(slots=True, eq=False)
class RecordedRequest:
    """One request as the fake saw it (see ``FakeComfyControl.requests``).

    Attributes:
        method: HTTP method.
        path: the raw path, percent-encoding preserved, without the query string.
        query: the query string's parameters (first value of each name).
        headers: a copy of the request headers.
        body: the raw body (empty for GET).
        route: the the API documentation pattern it matched (``"GET /v1/runner/{id}"``), or None.
        status: the status answered; None when the fake answered nothing (drop, hang).
        time: the fake clock when it arrived.
        remote: the client address.
        request_id: the ``X-Request-Id`` sent back.
        id: the decoded id segment of the path, if the route has one.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    route: str | None
    status: int | None
    time: float
    remote: str | None
    request_id: str
    id: str | None = None
    _form: dict[str, FormValue] | None = None

    @property
    def form(self) -> dict[str, FormValue]:
        """The parsed form fields (text as ``str``, files as ``(filename, bytes)``); {} if none."""
        if self._form is None:
            content_type = self.headers.get("Content-Type", "")
            try:
                self._form = parse_form(content_type, self.body) if self.body else {}
            except FormError:
                self._form = {}
        return self._form

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass(slots=True)
class _Rule:
    kind: str  # "fail", "429", "drop", "hang", "malformed"
    route: str | None
    runner_id: str | None
    remaining: int
    status: int = 0
    body: Any = None
    headers: Mapping[str, str] | None = None
    html: bool = False
    retry_after: float | str | None = None
    seconds: float | None = None
    malformed: str = "truncated"
    echo: bool | Callable[[str], str | bytes] = False


@dataclass(slots=True)
class _RateLimiter:
    requests: int
    window: float
    cooldown: float
    retry_after: bool
    html: bool
    hits: dict[str, deque[float]] = field(default_factory=dict)
    blocked: dict[str, float] = field(default_factory=dict)

    def check(self, address: str, now: float) -> float | None:
        """None if the request may pass, else the seconds of cooldown left."""
        until = self.blocked.get(address)
        if until is not None:
            if now < until:
                return until - now
            del self.blocked[address]
        hits = self.hits.get(address)
        if hits is None:
            hits = self.hits[address] = deque()
        edge = now - self.window
        while hits and hits[0] <= edge:
            hits.popleft()
        if len(hits) >= self.requests:
            hits.clear()
            self.blocked[address] = now + self.cooldown
            return self.cooldown
        hits.append(now)
        return None


class _Answer:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str | None = _JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


class _Ctx:
    __slots__ = ("body", "ident", "now", "query", "request", "route", "user")

    def __init__(
        self,
        request: web.BaseRequest,
        route: str,
        ident: str | None,
        query: dict[str, str],
        body: bytes,
        now: float,
        user: FakeUser,
    ) -> None:
        self.request = request
        self.route = route
        self.ident = ident
        self.query = query
        self.body = body
        self.now = now
        self.user = user


_Handler = Callable[[_Ctx], Any]  # returns _Answer, or an awaitable of it


class _Dropped(Exception):
    """Internal: answer nothing and close the connection."""


def _ok(data: bytes, status: int = 200) -> _Answer:
    return _Answer(status, data)


_EMPTY_OK = _Answer(200, b"", None)


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        text = raw.strip()
        if not text or not (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
            raise ApiError(400, f"{name} must be an integer")
        return int(text)

    page = number("page", 1)
    per_page = number("per_page", 10)
    if page < 1:
        raise ApiError(400, "page must be at least 1")
    if not 1 <= per_page <= 100:
        raise ApiError(400, "per_page must be between 1 and 100")
    return page, per_page


class FakeComfyControl:
    """An in-process ComfyControl API server for tests, demos and benchmarks.

    Use it as an async context manager (or ``await start()`` / ``await aclose()``). Everything the
    API documents is served from memory under ``{url}/v1``; see the package docstring for the
    knobs. Registering a real ComfyUI as a runner works too: ``add_runner(user,
    endpoint="http://127.0.0.1:8188")`` makes ``GET /v1/runner/{id}/stats`` fetch that server's
    ``/system_stats`` live, with the runner's ``headers``.

    Args:
        host: interface to listen on.
        port: TCP port; 0 picks a free one.
        seed: makes ids, tokens, the fleet, stats and error rates reproducible.
        managed_runners: size of the seeded managed fleet (the first is the documented example).
        runners: own runners seeded for each default user. They never touch the network: their
            stats answer 500 (runner unreachable) at once.
        clock: callable returning "now" in seconds for the workflow lifecycle, signed URL expiry
            and timestamps of new objects; default ``time.monotonic`` plus :meth:`advance` offset.
        latency: fixed latency (seconds) added to every answer.
        workflow_durations: seconds spent in ``accepted``, ``uploaded``, ``queued`` and
            ``running`` (keys of those names; missing ones keep their defaults).
        signed_url_ttl: lifetime of output URLs, in seconds of the clock.
        runner_timeout: total timeout of the live fetch from a user runner.
        max_upload_bytes: request bodies above this get 413 (default 50 MiB).
        max_recorded: keep only the last N requests in :attr:`requests` (None: keep all).
        free_runner_limit: how many own runners a free user may register (403 past it).
        storage_rejects_auth: a storage download that carries an ``Authorization`` header gets
            400, as a presigned-URL object store answers: proves a client never leaks the token.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        managed_runners: int = 12,
        runners: int = 0,
        clock: Callable[[], float] | None = None,
        latency: float = 0.0,
        workflow_durations: Mapping[str, float] | None = None,
        signed_url_ttl: float = 300.0,
        runner_timeout: float = 5.0,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
        max_recorded: int | None = None,
        free_runner_limit: int = 3,
        storage_rejects_auth: bool = True,
    ) -> None:
        if managed_runners < 0 or runners < 0:
            raise ValueError("managed_runners and runners must be >= 0")
        self._host = host
        self._port = port
        self._seed = seed
        self._offset = 0.0
        self._builtin_clock = clock is None
        self._clock: Callable[[], float] = clock if clock is not None else self._default_clock
        self._runner_timeout = runner_timeout
        self._max_upload = max_upload_bytes
        self._storage_rejects_auth = storage_rejects_auth
        self._state = State(
            seed=seed,
            clock=self._clock,
            managed_runners=managed_runners,
            runners=runners,
            durations=workflow_durations,
            signed_url_ttl=signed_url_ttl,
            free_runner_limit=free_runner_limit,
        )
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._counter = 0
        self._rules: list[_Rule] = []
        self._latency: dict[tuple[str | None, str | None], tuple[float, float]] = {}
        if latency:
            self._latency[(None, None)] = (float(latency), 0.0)
        self._error_rates: dict[str | None, tuple[float, tuple[int, ...]]] = {}
        self._fault_rng = random.Random(mix(seed, 0xFA17))
        self._limiter: _RateLimiter | None = None
        self._page_quirks: dict[str, tuple[Callable[[int], int], Mapping[int, int]]] = {}
        self.rate_limited_count = 0
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing: asyncio.Event | None = None
        self._url: str | None = None
        self._table: dict[tuple[str, bool, str | None], dict[str, tuple[str, _Handler, bool]]] = {}
        self._build_table()

    # -- lifecycle ---------------------------------------------------------------------------

    def _default_clock(self) -> float:
        return time.monotonic() + self._offset

    async def start(self) -> Self:
        """Start listening. Returns the fake itself."""
        if self._runner is not None:
            raise RuntimeError("the fake is already started")
        self._closing = asyncio.Event()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._runner_timeout)
        )
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.25)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self._session.close()
            self._session = None
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}"
        self._state.base_url = self._url
        return self

    async def aclose(self) -> None:
        """Stop serving: hanging answers are dropped, open connections closed."""
        runner, self._runner = self._runner, None
        if self._closing is not None:
            self._closing.set()
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            session, self._session = self._session, None
            if session is not None:
                await session.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = self._url or "not started"
        return f"<FakeComfyControl {where} seed={self._seed} managed={len(self._state.managed)}>"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (API paths are under ``/v1``)."""
        if self._url is None:
            raise RuntimeError("the fake is not started (use 'async with' or 'await start()')")
        return self._url

    @property
    def seed(self) -> int:
        return self._seed

    def now(self) -> float:
        """The fake clock."""
        return self._clock()

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward (built-in clock, or a clock with an ``advance`` method)."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        if self._builtin_clock:
            self._offset += seconds
            return
        advance = getattr(self._clock, "advance", None)
        if advance is None:
            raise RuntimeError("advance() needs the built-in clock or a clock with .advance()")
        advance(seconds)

    # -- users and data ------------------------------------------------------------------------

    def token(self, tier: str = "pro") -> str:
        """The token of the default seeded user of ``tier`` (free, plus, pro, enterprise)."""
        return self.user(tier).token

    def user(self, tier: str = "pro") -> FakeUser:
        """The default seeded user of ``tier``."""
        try:
            return self._state.default_users[tier]
        except KeyError:
            raise ValueError(f"unknown tier {tier!r}; use one of {TIERS}") from None

    def add_user(
        self,
        tier: str = "pro",
        name: str = "Ada",
        email: str = "ada@example.com",
        token: str | None = None,
        expired: bool = False,
        *,
        provider: str | None = None,
    ) -> FakeUser:
        """Add a user (any tier string works; the four documented ones behave as documented)."""
        return self._state.add_user(
            tier=tier, name=name, email=email, token=token, expired=expired, provider=provider
        )

    def _resolve_user(self, user: FakeUser | str) -> FakeUser:
        if isinstance(user, FakeUser):
            return user
        found = self._state.tokens.get(user)
        if found is None:
            found = self._state.default_users.get(user)
        if found is None:
            raise ValueError("unknown user: pass a FakeUser, a token or a tier name")
        return found

    def add_runner(
        self,
        user: FakeUser | str,
        *,
        name: str = "Runner",
        endpoint: str = "http://127.0.0.1:8188",
        headers: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        status: str = "active",
        stats: dict[str, Any] | None = None,
        created_at: str | datetime | float | None = None,
    ) -> dict[str, Any]:
        """Add an own runner for ``user`` (no validation, no tier limit); returns its JSON.

        With ``stats`` the runner's stats are that document (no network); without, they are
        fetched live from ``{endpoint}/system_stats`` on every stats call.
        """
        runner = self._state.add_runner(
            self._resolve_user(user),
            name=name,
            endpoint=endpoint,
            headers=headers,
            tags=tags,
            status=status,
            stats=stats,
            created_at=created_at,
        )
        return runner.to_json()

    def add_managed_runner(
        self,
        *,
        name: str = "Managed Runner",
        runner_type: str = "pro",
        tags: Sequence[str] | None = None,
        status: str = "active",
        stats: dict[str, Any] | None = None,
        gpu: str | None = None,
        created_at: str | datetime | float | None = None,
    ) -> dict[str, Any]:
        """Add a managed runner; returns its JSON.

        ``gpu`` picks a profile for generated stats: ``H100`` (default), ``A100-80GB``,
        ``A100-40GB``, ``L40S``, ``RTX4090``, ``RTX3090``, ``A10G``, ``MI300X``, ``cpu``, ``mps``,
        optionally with a device count such as ``"8xH100"``. ``stats`` overrides them with a fixed
        document. ``status="offline"`` makes its stats answer 500; any status other than
        ``active`` hides it from the list.
        """
        runner = self._state.add_managed_runner(
            name=name,
            runner_type=runner_type,
            tags=tags,
            status=status,
            stats=stats,
            gpu=gpu,
            created_at=created_at,
        )
        return runner.to_json()

    def set_managed_runner(
        self,
        runner_id: str,
        *,
        status: str | None = None,
        stats: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Change a managed runner in place (status, fixed stats, tags); returns its JSON."""
        runner = self._state.managed[runner_id]
        if status is not None:
            runner.status = status
        if stats is not None:
            runner.stats = stats
        if tags is not None:
            runner.tags = list(tags)
        runner._json = None
        self._state.touch_managed()
        return runner.to_json()

    def add_template(
        self,
        user: FakeUser | str,
        *,
        name: str = "Template",
        description: str = "A template",
        body: dict[str, Any] | None = None,
        created_at: str | datetime | float | None = None,
    ) -> dict[str, Any]:
        """Add a template for ``user``; returns its JSON (with ``body``)."""
        template = self._state.add_template(
            self._resolve_user(user),
            name=name,
            description=description,
            body=body if body is not None else {},
            created_at=created_at,
        )
        return template.to_json()

    def add_workflow(
        self,
        user: FakeUser | str,
        *,
        name: str = "Workflow",
        workflow_json: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        status: str | None = "queued",
        runner_id: str | None = None,
        workflow_params: list[list[str]] | None = None,
        created_at: str | datetime | float | None = None,
    ) -> dict[str, Any]:
        """Add a workflow for ``user``; returns its full JSON.

        With a ``status`` the workflow stays in it (no lifecycle) until cancelled or interrupted;
        with ``status=None`` it starts at ``accepted`` and moves on with the clock, like one made
        through ``POST /v1/workflow``. ``runner_id`` names one of the user's runners or a managed
        runner; without it the workflow is scheduled by tags.
        """
        state = self._state
        owner = self._resolve_user(user)
        runner: Runner | ManagedRunner | None = None
        if runner_id is not None:
            runner = state.runners.get(runner_id) or state.managed.get(runner_id)
            if runner is None:
                raise ValueError(f"no runner {runner_id!r}")
        try:
            workflow = state.add_workflow(
                owner,
                name=name,
                workflow_json=workflow_json if workflow_json is not None else {},
                tags=list(tags or []),
                params=workflow_params,
                status=status,
                runner=runner,
                created_at=created_at,
            )
        except ApiError as exc:
            raise ValueError(exc.message) from None
        return state.workflow_detail(workflow, self._clock())

    def set_workflow_durations(self, **durations: float) -> None:
        """Seconds new workflows spend in ``accepted``, ``uploaded``, ``queued``, ``running``."""
        self._state.set_durations(**durations)

    def fail_next_workflow(
        self,
        times: int = 1,
        *,
        error_node: str | None = None,
        exception_type: str = "torch.OutOfMemoryError",
        exception_message: str = "CUDA out of memory. Tried to allocate 2.00 GiB.",
    ) -> None:
        """Make the next ``times`` new workflows end ``failed`` instead of ``completed``.

        ``error_node`` defaults to the first node id of the workflow JSON.
        """
        for _ in range(times):
            self._state.workflow_failures.append(
                WorkflowFailure(error_node, exception_type, exception_message)
            )

    def managed_runner_ids(self, *, include_inactive: bool = False) -> list[str]:
        """Managed runner ids, newest first (active only unless asked: what a pro user lists)."""
        return [r.id for r in self._state.managed_list if include_inactive or r.status == "active"]

    def runner_ids(self, user: FakeUser | str) -> list[str]:
        """The user's own runner ids, newest first."""
        return [r.id for r in self._state.runners_by_user[self._resolve_user(user).id]]

    def template_ids(self, user: FakeUser | str) -> list[str]:
        """The user's template ids, newest first."""
        return [t.id for t in self._state.templates_by_user[self._resolve_user(user).id]]

    def workflow_ids(self, user: FakeUser | str) -> list[str]:
        """The user's workflow ids, newest first."""
        return [w.id for w in self._state.workflows_by_user[self._resolve_user(user).id]]

    def workflow_status(self, workflow_id: str) -> str:
        """A workflow's status right now."""
        return self._state.workflows[workflow_id].status(self._clock())

    # -- request log ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order."""
        return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the request log (not the rate-limit counter)."""
        self._requests.clear()

    # -- knobs ----------------------------------------------------------------------------------

    @staticmethod
    def _check_route(route: str | None) -> None:
        if route is not None and route not in ROUTES:
            raise ValueError(
                f"unknown route {route!r}; routes are spelled as in the API docs: {ROUTES}"
            )

    @staticmethod
    def _check_times(times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")

    def set_latency(
        self,
        fixed: float,
        jitter: float = 0.0,
        *,
        route: str | None = None,
        runner_id: str | None = None,
    ) -> None:
        """Delay answers by ``fixed`` plus a seeded uniform ``[0, jitter)`` seconds.

        The most specific setting wins: runner and route, then runner, then route, then global.
        ``set_latency(0)`` with the same scope removes it.
        """
        self._check_route(route)
        if fixed < 0 or jitter < 0:
            raise ValueError("latency must be >= 0")
        if fixed == 0 and jitter == 0:
            self._latency.pop((route, runner_id), None)
        else:
            self._latency[(route, runner_id)] = (float(fixed), float(jitter))

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        route: str | None = None,
        runner_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        html: bool = False,
        echo: bool | Callable[[str], str | bytes] = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``body`` None sends the documented ``{"status", "message"}`` JSON; a dict or list is sent
        as JSON, ``str``/``bytes`` as ``text/plain``. ``html=True`` sends a CDN error page.
        ``echo`` sends the request back, as some gateways and WAF pages do: ``True`` answers
        the request as text (request line, headers, a blank line, body); a callable gets that
        text and returns the body to send (labelled JSON when it parses as JSON).
        """
        self._check_route(route)
        self._check_times(times)
        self._rules.append(
            _Rule(
                "fail",
                route,
                runner_id,
                times,
                status,
                body=body,
                headers=headers,
                html=html,
                echo=echo,
            )
        )

    def rate_limit_next(
        self,
        times: int = 1,
        *,
        retry_after: float | str | None = None,
        html: bool = False,
        route: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with 429 (``Retry-After`` if given)."""
        self._check_route(route)
        self._check_times(times)
        self._rules.append(
            _Rule("429", route, None, times, 429, html=html, retry_after=retry_after)
        )

    def drop_next(
        self, times: int = 1, *, route: str | None = None, runner_id: str | None = None
    ) -> None:
        """Close the connection of the next ``times`` matching requests without answering.

        Note that aiohttp's client silently retries an idempotent request (GET, PUT, ...) once
        after a server disconnect: to make one GET fail, drop it twice.
        """
        self._check_route(route)
        self._check_times(times)
        self._rules.append(_Rule("drop", route, runner_id, times))

    def hang_next(
        self,
        times: int = 1,
        *,
        route: str | None = None,
        runner_id: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """Do not answer the next ``times`` matching requests.

        With ``seconds`` the answer comes (normally) after that long; without, never: the
        request hangs until the client gives up or the fake closes (then the connection drops).
        """
        self._check_route(route)
        self._check_times(times)
        self._rules.append(_Rule("hang", route, runner_id, times, seconds=seconds))

    def malformed_next(
        self,
        times: int = 1,
        *,
        route: str | None = None,
        runner_id: str | None = None,
        kind: str = "truncated",
    ) -> None:
        """Spoil the next ``times`` matching answers (status kept).

        Kinds: ``truncated`` (the JSON cut in half, correctly framed), ``invalid`` (not JSON at
        all, still labelled JSON), ``html`` (an HTML maintenance page, 200 ``text/html``),
        ``empty`` (no body, labelled JSON), ``cut`` (the full Content-Length is announced but the
        connection closes halfway through the body).
        """
        self._check_route(route)
        self._check_times(times)
        if kind not in _MALFORMED_KINDS:
            raise ValueError(f"kind must be one of {_MALFORMED_KINDS}")
        self._rules.append(_Rule("malformed", route, runner_id, times, malformed=kind))

    def set_error_rate(
        self, rate: float, *, statuses: Sequence[int] = (500,), route: str | None = None
    ) -> None:
        """Fail a seeded ``rate`` share (0..1) of matching requests with one of ``statuses``."""
        self._check_route(route)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        if rate == 0.0:
            self._error_rates.pop(route, None)
        else:
            if not statuses:
                raise ValueError("statuses must not be empty")
            self._error_rates[route] = (rate, tuple(statuses))

    def clear_faults(self) -> None:
        """Forget every pending scripted fault, latency, error rate and rate-limit emulation."""
        self._rules.clear()
        self._latency.clear()
        self._error_rates.clear()
        self._limiter = None
        self._page_quirks.clear()

    def enable_rate_limit(
        self,
        requests: int = 40,
        per_seconds: float = 10.0,
        cooldown: float = 10.0,
        *,
        retry_after: bool = False,
        html: bool = False,
        scale: float = 1.0,
    ) -> None:
        """Emulate the CDN limit: per client address, ``requests`` per sliding ``per_seconds``
        window, then every request gets 429 for ``cooldown`` seconds (real time, times ``scale``).

        ``retry_after=True`` adds ``Retry-After`` (whole seconds of cooldown left, at least 1);
        ``html=True`` sends the CDN's HTML page instead of the JSON error.
        """
        if requests < 1 or per_seconds <= 0 or cooldown < 0 or scale <= 0:
            raise ValueError("invalid rate limit")
        self._limiter = _RateLimiter(
            requests, per_seconds * scale, cooldown * scale, retry_after, html
        )

    def disable_rate_limit(self) -> None:
        """Stop the rate-limit emulation."""
        self._limiter = None

    def mutate_between_pages(
        self,
        endpoint: str = "GET /v1/managed-runner",
        *,
        insert: int = 0,
        delete: int = 0,
        after_page: int = 1,
        user: FakeUser | str | None = None,
    ) -> None:
        """Once a client has fetched page ``after_page`` of ``endpoint``, change the list.

        ``insert`` new newest items push every later item down (the next page repeats
        ``insert`` items); deleting the ``delete`` newest items (all on earlier pages) pulls them
        up (the next page skips ``delete`` items). Applies once, to the user who fetched the page
        (or only when ``user`` fetches it, if given).
        """
        if endpoint not in LIST_ROUTES:
            raise ValueError(f"endpoint must be one of {LIST_ROUTES}")
        if insert < 0 or delete < 0 or after_page < 1:
            raise ValueError("insert and delete must be >= 0 and after_page >= 1")
        owner = self._resolve_user(user) if user is not None else None
        self._state.mutations.append(Mutation(endpoint, insert, delete, after_page, owner))

    def misbehave_paging(
        self,
        endpoint: str = "GET /v1/managed-runner",
        *,
        page_size: int | None = None,
        max_per_page: int | None = None,
        stale: Mapping[int, int] | None = None,
    ) -> None:
        """Make a list endpoint page like a misbehaving server, proxy or cache would.

        ``page_size``: serve that many items a page, whatever ``per_page`` asks (more or fewer);
        ``max_per_page``: cut ``per_page`` to it (a capping proxy); ``stale``: page -> the page
        served instead (a cache answering page 2 with page 1). ``clear_faults()`` ends it.
        """
        if endpoint not in LIST_ROUTES:
            raise ValueError(f"endpoint must be one of {LIST_ROUTES}")
        if (page_size is not None and page_size < 0) or (max_per_page or 1) < 1:
            raise ValueError("page_size must be >= 0 and max_per_page >= 1")

        def size(asked: int) -> int:
            if page_size is not None:
                return page_size
            return asked if max_per_page is None else min(asked, max_per_page)

        self._page_quirks[endpoint] = (size, dict(stale or {}))

    # -- routing ---------------------------------------------------------------------------------

    def _build_table(self) -> None:
        handlers: dict[str, _Handler] = {
            "GET /v1/user": self._get_user,
            "POST /v1/runner": self._create_runner,
            "GET /v1/runner": self._list_runners,
            "GET /v1/runner/{id}": self._get_runner,
            "PUT /v1/runner/{id}": self._update_runner,
            "GET /v1/runner/{id}/stats": self._runner_stats,
            "GET /v1/runner/{id}/history": self._runner_history,
            "POST /v1/runner/{id}/interrupt": self._interrupt,
            "GET /v1/managed-runner": self._list_managed,
            "GET /v1/managed-runner/{id}": self._get_managed,
            "GET /v1/managed-runner/{id}/stats": self._managed_stats,
            "GET /v1/managed-runner/{id}/history": self._managed_history,
            "POST /v1/template": self._create_template,
            "GET /v1/template": self._list_templates,
            "GET /v1/template/{id}": self._get_template,
            "PUT /v1/template/{id}": self._update_template,
            "POST /v1/workflow": self._create_workflow,
            "GET /v1/workflow": self._list_workflows,
            "GET /v1/workflow/{id}": self._get_workflow,
            "POST /v1/workflow/{id}/cancel": self._cancel_workflow,
            "GET /v1/workflow/{id}/outputs": self._outputs,
        }
        for pattern, handler in handlers.items():
            method, path = pattern.split(" ", 1)
            parts = path.split("/")  # ["", "v1", resource, ("{id}", (action))]
            has_id = len(parts) >= 4
            action = parts[4] if len(parts) == 5 else None
            is_async = inspect.iscoroutinefunction(handler)
            self._table.setdefault((parts[2], has_id, action), {})[method] = (
                pattern,
                handler,
                is_async,
            )

    # -- the request pipeline ------------------------------------------------------------------

    def _request_id(self) -> str:
        self._counter += 1
        return f"req_{mix(self._seed, self._counter) & 0xFFFFFFFFFFFF:012x}{self._counter:06d}"

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        now = self._clock()
        raw = request.raw_path
        path, _, _ = raw.partition("?")
        path = path.partition("#")[0]
        method = request.method
        query = dict(request.query) if "?" in raw else {}
        request_id = self._request_id()

        # Route on the raw path: split first, decode the one id segment after.
        segments = path.split("/")
        count = len(segments)
        route: str | None = None
        entry: tuple[str, _Handler, bool] | None = None
        allowed: dict[str, tuple[str, _Handler, bool]] | None = None
        ident: str | None = None
        storage_key: str | None = None
        if count >= 3 and segments[0] == "" and segments[1] == "v1":
            if count == 3:
                allowed = self._table.get((segments[2], False, None))
            elif count in (4, 5) and segments[3]:
                allowed = self._table.get((segments[2], True, segments[4] if count == 5 else None))
                seg = segments[3]
                ident = unquote(seg) if "%" in seg else seg
            if allowed is not None:
                entry = allowed.get(method)
                if entry is not None:
                    route = entry[0]
        elif count >= 3 and segments[0] == "" and segments[1] == "storage":
            if method in ("GET", "HEAD"):
                route = STORAGE_ROUTE
            storage_key = unquote("/".join(segments[2:]))

        record = RecordedRequest(
            method=method,
            path=path,
            query=query,
            headers=CIMultiDict(request.headers),
            body=b"",
            route=route,
            status=None,
            time=now,
            remote=request.remote,
            request_id=request_id,
            id=ident if route is not None else None,
        )
        self._requests.append(record)

        too_large = False
        if request.can_read_body:
            body = await self._read_body(request)
            if body is None:
                too_large = True
            else:
                record.body = body

        try:
            answer = await self._answer(
                request, record, route, entry, allowed, ident, storage_key, too_large, now
            )
        except _Dropped:
            return self._drop(request)
        if isinstance(answer, web.StreamResponse):
            return answer
        headers = {"X-Request-Id": request_id}
        if answer.content_type is not None:
            headers["Content-Type"] = answer.content_type
        if answer.headers:
            headers.update(answer.headers)
        record.status = answer.status
        return web.Response(body=answer.body, status=answer.status, headers=headers)

    async def _read_body(self, request: web.BaseRequest) -> bytes | None:
        limit = self._max_upload
        declared = request.content_length
        if declared is not None and declared > limit:
            return None
        data = bytearray()
        stream = request.content
        while True:
            chunk = await stream.readany()
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > limit:
                return None

    def _drop(self, request: web.BaseRequest) -> web.StreamResponse:
        # Closing the transport makes aiohttp's write fail quietly; the client sees a
        # disconnection with no status line.
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=204)

    async def _answer(
        self,
        request: web.BaseRequest,
        record: RecordedRequest,
        route: str | None,
        entry: tuple[str, _Handler, bool] | None,
        allowed: Mapping[str, tuple[str, _Handler, bool]] | None,
        ident: str | None,
        storage_key: str | None,
        too_large: bool,
        now: float,
    ) -> _Answer | web.StreamResponse:
        api = route != STORAGE_ROUTE

        # 1. The CDN's rate limit (per client address), before anything reaches the origin.
        limiter = self._limiter
        if limiter is not None and api:
            left = limiter.check(request.remote or "?", time.monotonic())
            if left is not None:
                self.rate_limited_count += 1
                extra = (
                    {"Retry-After": str(max(1, int(left + 0.999)))} if limiter.retry_after else None
                )
                if limiter.html:
                    return _Answer(429, _CDN_429.encode(), _HTML, extra)
                return _Answer(429, error_body(429, "Too many requests"), _JSON, extra)

        # 2. Latency.
        if self._latency:
            delay = self._delay_for(route, ident)
            if delay > 0:
                await asyncio.sleep(delay)

        # 3. Scripted faults, first registered first served.
        malformed: str | None = None
        if self._rules:
            rule = self._take_rule(route, ident, api)
            if rule is not None:
                kind = rule.kind
                if kind == "drop":
                    raise _Dropped
                if kind == "hang":
                    assert self._closing is not None
                    try:
                        await asyncio.wait_for(self._closing.wait(), rule.seconds)
                    except TimeoutError:
                        pass  # hung for the given time: now answer normally
                    else:
                        raise _Dropped
                elif kind == "fail":
                    return self._failure(rule, record)
                elif kind == "429":
                    extra = None
                    if rule.retry_after is not None:
                        extra = {"Retry-After": str(rule.retry_after)}
                    if rule.html:
                        return _Answer(429, _CDN_429.encode(), _HTML, extra)
                    return _Answer(429, error_body(429, "Too many requests"), _JSON, extra)
                else:
                    malformed = rule.malformed

        # 4. Random errors at a seeded rate.
        if self._error_rates and api:
            setting = self._error_rates.get(route) or self._error_rates.get(None)
            if setting is not None and self._fault_rng.random() < setting[0]:
                status = setting[1][self._fault_rng.randrange(len(setting[1]))]
                return _Answer(status, error_body(status, _reason(status)))

        answer = await self._serve(
            request, record, route, entry, allowed, ident, storage_key, too_large, now
        )
        if malformed is not None:
            return await self._spoil(request, answer, malformed, record)
        return answer

    def _delay_for(self, route: str | None, ident: str | None) -> float:
        latency = self._latency
        setting = None
        if (
            ident is not None
            and route is not None
            and route.split(" ", 1)[1].startswith(_RUNNER_PREFIXES)
        ):
            setting = latency.get((route, ident)) or latency.get((None, ident))
        if setting is None:
            setting = latency.get((route, None)) or latency.get((None, None))
        if setting is None:
            return 0.0
        fixed, jitter = setting
        return fixed + (jitter * self._fault_rng.random() if jitter else 0.0)

    def _take_rule(self, route: str | None, ident: str | None, api: bool) -> _Rule | None:
        runnerish = route is not None and route.split(" ", 1)[1].startswith(_RUNNER_PREFIXES)
        for n, rule in enumerate(self._rules):
            if rule.route is None:
                if not api:
                    continue
            elif rule.route != route:
                continue
            if rule.runner_id is not None and (not runnerish or rule.runner_id != ident):
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                del self._rules[n]
            return rule
        return None

    def _failure(self, rule: _Rule, record: RecordedRequest) -> _Answer:
        status = rule.status
        headers = dict(rule.headers) if rule.headers else None
        if rule.echo:
            query = f"?{urlencode(record.query)}" if record.query else ""
            lines = [f"{record.method} {record.path}{query} HTTP/1.1"]
            lines += [f"{name}: {value}" for name, value in record.headers.items()]
            text = "\r\n".join(lines) + "\r\n\r\n" + record.body.decode("utf-8", "replace")
            sent = text if rule.echo is True else rule.echo(text)
            raw = sent.encode() if isinstance(sent, str) else sent
            try:
                json.loads(raw)
            except ValueError:
                return _Answer(status, raw, "text/plain; charset=utf-8", headers)
            return _Answer(status, raw, _JSON, headers)
        if rule.html:
            return _Answer(
                status, _cdn_error_page(status, _reason(status)).encode(), _HTML, headers
            )
        body = rule.body
        if body is None:
            return _Answer(status, error_body(status, _reason(status)), _JSON, headers)
        if isinstance(body, bytes):
            return _Answer(status, body, "text/plain; charset=utf-8", headers)
        if isinstance(body, str):
            return _Answer(status, body.encode(), "text/plain; charset=utf-8", headers)
        return _Answer(status, dumps(body), _JSON, headers)

    async def _spoil(
        self,
        request: web.BaseRequest,
        answer: _Answer | web.StreamResponse,
        kind: str,
        record: RecordedRequest,
    ) -> _Answer | web.StreamResponse:
        if isinstance(answer, web.StreamResponse):  # pragma: no cover - handlers answer _Answer
            return answer
        body = answer.body or b'{"status":200}'
        status = answer.status
        if kind == "truncated":
            return _Answer(status, body[: max(1, len(body) // 2)])
        if kind == "invalid":
            return _Answer(status, b"{'status': ok, \"runners\": [}")
        if kind == "html":
            return _Answer(200, _MAINTENANCE.encode(), _HTML)
        if kind == "empty":
            return _Answer(status, b"")
        # "cut": announce the whole body, send half of it, then close the connection.
        response = web.StreamResponse(
            status=status,
            headers={"X-Request-Id": record.request_id, "Content-Type": _JSON},
        )
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: max(1, len(body) // 2)])
        record.status = status
        transport = request.transport
        if transport is not None:
            transport.close()
        return response

    async def _serve(
        self,
        request: web.BaseRequest,
        record: RecordedRequest,
        route: str | None,
        entry: tuple[str, _Handler, bool] | None,
        allowed: Mapping[str, tuple[str, _Handler, bool]] | None,
        ident: str | None,
        storage_key: str | None,
        too_large: bool,
        now: float,
    ) -> _Answer:
        if too_large:
            limit = self._max_upload
            shown = f"{limit // 2**20} MB" if limit % 2**20 == 0 else f"{limit} bytes"
            return _Answer(
                413,
                error_body(413, f"request body exceeds the {shown} limit"),
                _JSON,
                {"Connection": "close"},
            )
        if route == STORAGE_ROUTE:
            assert storage_key is not None
            return self._storage(request, storage_key)
        if entry is None:
            if allowed:
                return _Answer(
                    405,
                    error_body(405, f"method {request.method} not allowed"),
                    _JSON,
                    {"Allow": ", ".join(sorted(allowed))},
                )
            return _Answer(404, error_body(404, NOT_FOUND))
        pattern, handler, is_async = entry
        state = self._state
        try:
            user = state.authenticate(request.headers.get("Authorization"))
            if "managed-runner" in pattern:
                state.check_managed_access(user)
            ctx = _Ctx(request, pattern, ident, record.query, record.body, now, user)
            answer: _Answer = await handler(ctx) if is_async else handler(ctx)
            return answer
        except ApiError as exc:
            return _Answer(exc.status, error_body(exc.status, exc.message))
        except Exception:
            # A bug in the fake must still answer in the documented error format.
            _log.exception("FakeComfyControl failed on %s %s", request.method, request.raw_path)
            return _Answer(500, error_body(500, "internal error in FakeComfyControl"))

    # -- handlers: user and runners --------------------------------------------------------

    def _get_user(self, ctx: _Ctx) -> _Answer:
        return _ok(dumps(ctx.user.to_json()))

    def _json_body(self, ctx: _Ctx) -> Any:
        try:
            return json.loads(ctx.body) if ctx.body else None
        except ValueError:
            raise ApiError(400, "request body must be valid JSON") from None

    def _create_runner(self, ctx: _Ctx) -> _Answer:
        runner = self._state.create_runner(ctx.user, self._json_body(ctx))
        return _ok(runner.json_bytes(), 201)

    def _list(
        self, ctx: _Ctx, key: bytes, items: Sequence[Any], fragment: Callable[[Any], bytes]
    ) -> _Answer:
        page, per_page = _paging(ctx.query)
        served = page
        if ctx.route in self._page_quirks:  # misbehave_paging(): another size, or another page
            size, stale = self._page_quirks[ctx.route]
            per_page, served = size(per_page), stale.get(page, page)
        start = (served - 1) * per_page
        data = page_bytes(key, [fragment(i) for i in items[start : start + per_page]], len(items))
        state = self._state
        if state.mutations:
            mutation = state.take_mutation(ctx.route, page, ctx.user)
            if mutation is not None:
                state.apply_mutation(mutation, ctx.user)
        return _ok(data)

    def _list_runners(self, ctx: _Ctx) -> _Answer:
        items = self._state.runner_list(ctx.user, ctx.query.get("status"))
        return self._list(ctx, b"runners", items, Runner.json_bytes)

    def _get_runner(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        return _ok(self._state.own_runner(ctx.user, ctx.ident).json_bytes())

    def _update_runner(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        self._state.own_runner(ctx.user, ctx.ident)  # 404 before 400
        runner = self._state.update_runner(ctx.user, ctx.ident, self._json_body(ctx))
        return _ok(runner.json_bytes())

    async def _runner_stats(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        runner = self._state.own_runner(ctx.user, ctx.ident)
        if runner.stats is not None:
            return _ok(dumps(runner.stats))
        if not runner.reachable:
            raise ApiError(500, "Failed to get runner stats: runner is unreachable")
        url = runner.endpoint.rstrip("/") + "/system_stats"
        assert self._session is not None
        try:
            async with self._session.get(url, headers=runner.headers) as response:
                data = await response.read()
                if not 200 <= response.status < 300:
                    raise ApiError(
                        500, f"Failed to get runner stats: runner answered HTTP {response.status}"
                    )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ApiError(
                500, f"Failed to get runner stats: runner is unreachable ({type(exc).__name__})"
            ) from None
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ApiError(500, "Failed to get runner stats: runner did not answer a JSON object")
        return _ok(data)

    def _workflow_array(self, workflows: list[Workflow], now: float) -> _Answer:
        state = self._state
        return _ok(b"[" + b",".join(state.workflow_summary_bytes(w, now) for w in workflows) + b"]")

    def _runner_history(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        runner = self._state.own_runner(ctx.user, ctx.ident)
        return self._workflow_array(self._state.history(ctx.user, runner_id=runner.id), ctx.now)

    async def _interrupt(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        runner = self._state.own_runner(ctx.user, ctx.ident)
        if runner.stats is None:
            if not runner.reachable:
                raise ApiError(500, "Failed to interrupt: runner is unreachable")
            url = runner.endpoint.rstrip("/") + "/interrupt"
            assert self._session is not None
            try:
                async with self._session.post(url, headers=runner.headers) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError, ValueError):
                ok = False
            if not ok:
                raise ApiError(500, "Failed to interrupt: runner is unreachable")
        self._state.interrupt_runner(runner.id)
        return _EMPTY_OK

    # -- handlers: managed runners -----------------------------------------------------------

    def _list_managed(self, ctx: _Ctx) -> _Answer:
        items = self._state.visible_managed(ctx.user)
        return self._list(ctx, b"runners", items, ManagedRunner.json_bytes)

    def _get_managed(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        return _ok(self._state.managed_for(ctx.user, ctx.ident).json_bytes())

    def _managed_stats(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        state = self._state
        return _ok(dumps(state.managed_stats(state.managed_for(ctx.user, ctx.ident))))

    def _managed_history(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        runner = self._state.managed_for(ctx.user, ctx.ident)
        return self._workflow_array(self._state.history(ctx.user, managed_id=runner.id), ctx.now)

    # -- handlers: templates and workflows ---------------------------------------------------

    def _form(self, ctx: _Ctx) -> dict[str, FormValue]:
        content_type = ctx.request.headers.get("Content-Type", "")
        try:
            return parse_form(content_type, ctx.body)
        except FormError as exc:
            raise ApiError(400, str(exc)) from None

    def _create_template(self, ctx: _Ctx) -> _Answer:
        template = self._state.create_template(ctx.user, self._form(ctx))
        return _ok(dumps(template.to_json()), 201)

    def _list_templates(self, ctx: _Ctx) -> _Answer:
        items = self._state.templates_by_user[ctx.user.id]
        return self._list(ctx, b"templates", items, lambda t: t.summary_bytes())

    def _get_template(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        return _ok(dumps(self._state.own_template(ctx.user, ctx.ident).to_json()))

    def _update_template(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        self._state.own_template(ctx.user, ctx.ident)  # 404 before 400
        template = self._state.update_template(ctx.user, ctx.ident, self._form(ctx))
        return _ok(dumps(template.to_json()))

    def _create_workflow(self, ctx: _Ctx) -> _Answer:
        workflow = self._state.create_workflow(ctx.user, self._form(ctx))
        return _ok(dumps(self._state.workflow_summary(workflow, self._clock())), 201)

    def _list_workflows(self, ctx: _Ctx) -> _Answer:
        state = self._state
        now = ctx.now
        items = state.workflow_list(ctx.user, ctx.query.get("status"), now)
        return self._list(ctx, b"workflows", items, lambda w: state.workflow_summary_bytes(w, now))

    def _get_workflow(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        workflow = self._state.own_workflow(ctx.user, ctx.ident)
        return _ok(dumps(self._state.workflow_detail(workflow, ctx.now)))

    def _cancel_workflow(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        self._state.cancel_workflow(ctx.user, ctx.ident)
        return _EMPTY_OK

    def _outputs(self, ctx: _Ctx) -> _Answer:
        assert ctx.ident is not None
        return _ok(dumps(self._state.outputs(ctx.user, ctx.ident)))

    # -- storage ---------------------------------------------------------------------------------

    def _storage(self, request: web.BaseRequest, key: str) -> _Answer:
        if self._storage_rejects_auth and "Authorization" in request.headers:
            return _Answer(
                400,
                error_body(
                    400,
                    "Only one auth mechanism allowed: the signed URL already authorises this "
                    "download, do not send an Authorization header",
                ),
            )
        query = request.query
        try:
            data = self._state.fetch_object(key, query.get("expires"), query.get("sig"))
        except ApiError as exc:
            return _Answer(exc.status, error_body(exc.status, exc.message))
        return _Answer(200, data, "image/png", {"Cache-Control": "private, max-age=300"})

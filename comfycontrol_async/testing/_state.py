"""What the fake remembers, and the rules of the API documentation applied to it, without any HTTP.

This module owns the fake's data (users, runners, managed runners, templates, workflows, stored
outputs) and every domain rule: validation, tier limits, ownership (404 for other users' objects),
newest-first ordering, pagination, scheduling, the workflow lifecycle on the fake clock, and
signed output URLs. Operations raise :class:`ApiError` for answers the API documents; the HTTP
layer (``_fake.py``) turns that into a JSON error. It must not import aiohttp or do I/O, so it can
be exercised without an event loop.

JSON is encoded once per object and cached as bytes (invalidated on change), so list pages are a
join of ready-made fragments: that is what keeps the fake cheap under load.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import random
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from ._fleet import ERAS, GPUS, StatsModel, fleet_plan, make_stats_model, mix
from ._placeholders import FormValue, PlaceholderError, resolve, scan

__all__ = [
    "DEFAULT_DURATIONS",
    "TIERS",
    "ApiError",
    "FakeUser",
    "ManagedRunner",
    "Runner",
    "State",
    "Template",
    "Workflow",
    "dumps",
    "page_bytes",
]

TIERS = ("free", "plus", "pro", "enterprise")
RUNNER_STATUSES = ("active", "disabled")
WORKFLOW_FILTERS = ("completed", "running", "queued", "failed", "cancelled")
WORKFLOW_STATUSES = (
    "accepted",
    "uploaded",
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "invalid",
)
TERMINAL = frozenset({"completed", "failed", "cancelled", "invalid"})
#: Seconds of fake clock a new workflow spends in accepted, uploaded, queued and running.
DEFAULT_DURATIONS: Mapping[str, float] = {
    "accepted": 0.2,
    "uploaded": 0.3,
    "queued": 1.0,
    "running": 3.0,
}
FREE_RUNNER_LIMIT = 3


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact JSON bytes (stdlib: measured as fast as orjson here)."""
    return _encoder.encode(value).encode("utf-8")


class ApiError(Exception):
    """An answer the API documents as an error: ``{"status": status, "message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


NOT_FOUND = "requested entity not found"


def iso(ts: float) -> str:
    """Unix seconds as the API writes them: ``2024-01-15T10:30:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_when(value: str | datetime | float) -> float:
    """Accept an ISO 8601 string, an aware datetime or unix seconds; return unix seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass(slots=True, eq=False)
class FakeUser:
    """A user of the fake and their token.

    Set ``expired = True`` at any time to make the token answer 401.
    """

    id: str
    token: str
    tier: str
    name: str
    email: str
    expired: bool = False
    provider: str | None = None
    created_at: str = "2024-01-01T00:00:00Z"
    updated_at: str = "2024-01-15T10:30:00Z"
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``GET /v1/user`` answer for this user."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "deleted": self.deleted,
            "tier": self.tier,
        }
        if self.provider is not None:
            out["provider"] = self.provider
        out["created_at"] = self.created_at
        out["updated_at"] = self.updated_at
        return out


class _Ordered(Protocol):
    order: tuple[float, int]


T = TypeVar("T", bound=_Ordered)


class Newest(list[T]):
    """A list kept newest first: by created_at, then by insertion (later is newer)."""

    def add(self, item: T) -> None:
        bisect.insort(self, item, key=_order)


def _order(item: _Ordered) -> tuple[float, int]:
    return item.order


@dataclass(slots=True, eq=False)
class Runner:
    """A user's own runner."""

    id: str
    user_id: str
    name: str
    status: str
    endpoint: str
    tags: list[str]
    headers: dict[str, str]
    created_ts: float
    updated_ts: float
    seq: int
    order: tuple[float, int] = (0.0, 0)
    stats: dict[str, Any] | None = None  # served as is when set (no network)
    reachable: bool = True  # False: seeded runners that point nowhere (500 without network)
    assigned: int = 0
    _json: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "status": self.status,
            "endpoint": self.endpoint,
            "tags": list(self.tags),
            "headers": dict(self.headers),
            "created_at": iso(self.created_ts),
            "updated_at": iso(self.updated_ts),
        }

    def json_bytes(self) -> bytes:
        data = self._json
        if data is None:
            data = self._json = dumps(self.to_json())
        return data


@dataclass(slots=True, eq=False)
class ManagedRunner:
    """A runner hosted by ComfyControl."""

    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_ts: float
    updated_ts: float
    seq: int
    model: StatsModel | None
    stats: dict[str, Any] | None = None
    order: tuple[float, int] = (0.0, 0)
    assigned: int = 0
    _json: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "runner_type": self.runner_type,
            "status": self.status,
            "tags": list(self.tags),
            "created_at": iso(self.created_ts),
            "updated_at": iso(self.updated_ts),
        }

    def json_bytes(self) -> bytes:
        data = self._json
        if data is None:
            data = self._json = dumps(self.to_json())
        return data


@dataclass(slots=True, eq=False)
class Template:
    """A stored template; the list shows it without ``body``."""

    id: str
    user_id: str
    name: str
    description: str
    body: dict[str, Any]
    created_ts: float
    updated_ts: float
    seq: int
    order: tuple[float, int] = (0.0, 0)
    _summary: bytes | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "description": self.description,
            "created_at": iso(self.created_ts),
            "updated_at": iso(self.updated_ts),
        }

    def summary_bytes(self) -> bytes:
        data = self._summary
        if data is None:
            data = self._summary = dumps(self.summary())
        return data

    def to_json(self) -> dict[str, Any]:
        out = self.summary()
        out["body"] = self.body
        return out


@dataclass(slots=True, eq=False)
class Workflow:
    """One execution. Its status is a function of the fake clock unless pinned or stopped."""

    id: str
    user_id: str
    name: str
    tags: list[str]
    workflow_json: dict[str, Any]
    params: list[list[str]]
    user_runner_id: str | None
    managed_runner_id: str | None
    created_ts: float  # wall seconds
    t0: float  # clock seconds at creation
    marks: tuple[float, float, float, float]  # clock: uploaded, queued, running, finished
    seq: int
    prompt_id: str
    queue_number: int
    outcome: str = "completed"
    failure: tuple[str | None, str | None, str | None] = (None, None, None)
    pinned: str | None = None  # a status set by add_workflow(): no lifecycle
    pinned_times: tuple[float, float] = (0.0, 0.0)  # wall: started, finished (when pinned)
    stopped: str | None = None  # set by cancel/interrupt
    stopped_at: float = 0.0
    order: tuple[float, int] = (0.0, 0)
    outputs: list[tuple[str, str]] | None = None  # (output id, storage key)
    _cache: tuple[str, bytes] | None = None

    def status(self, now: float) -> str:
        if self.stopped is not None:
            return self.stopped
        if self.pinned is not None:
            return self.pinned
        m = self.marks
        if now < m[0]:
            return "accepted"
        if now < m[1]:
            return "uploaded"
        if now < m[2]:
            return "queued"
        if now < m[3]:
            return "running"
        return self.outcome


# A minimal valid PNG (8x8, one colour) for stored outputs.
def _png(seed: int) -> bytes:
    colour = mix(seed).to_bytes(8, "big")[:3]
    raw = b"".join(b"\x00" + colour * 8 for _ in range(8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _check_name(value: Any, limit: int, what: str = "name") -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"{what} must be a string")
    if not value.strip():
        raise ApiError(400, f"{what} cannot be empty")
    if len(value) > limit:
        raise ApiError(400, f"{what} must be at most {limit} characters")
    return value


def _check_endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "endpoint must be a string")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ApiError(400, "endpoint must be an http or https URL with a host")
    return value


def _check_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ApiError(400, "tags must be a list of strings")
    if len(value) > 10:
        raise ApiError(400, "a runner can have at most 10 tags")
    return list(value)


def _check_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ApiError(400, "headers must be an object of strings")
    return dict(value)


def _check_status(value: Any) -> str:
    if value not in RUNNER_STATUSES:
        raise ApiError(400, "status must be 'active' or 'disabled'")
    return str(value)


def _json_object(value: FormValue | None, what: str, *, required: bool) -> dict[str, Any] | None:
    if value is None:
        if required:
            raise ApiError(400, f"{what} is required")
        return None
    raw = value[1] if isinstance(value, tuple) else value.encode("utf-8")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"{what} must be a JSON object") from exc
    if not isinstance(document, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return document


def _text_field(value: FormValue | None, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        try:
            return value[1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"{what} must be text") from exc
    return value


def parse_tags(value: str) -> list[str]:
    """A ``tags`` form field: comma-separated, blanks dropped, case kept."""
    return [tag.strip() for tag in value.split(",") if tag.strip()]


@dataclass(slots=True)
class Mutation:
    """A one-shot change applied right after a client fetched a given page of a list."""

    endpoint: str
    insert: int
    delete: int
    after_page: int
    user: FakeUser | None


@dataclass(slots=True)
class WorkflowFailure:
    error_node: str | None
    exception_type: str
    exception_message: str


class State:
    """The fake's memory and rules. One instance per :class:`FakeComfyControl`."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Callable[[], float],
        managed_runners: int,
        runners: int,
        durations: Mapping[str, float] | None = None,
        signed_url_ttl: float = 300.0,
        free_runner_limit: int = FREE_RUNNER_LIMIT,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(mix(seed, 0x1D5))
        self.clock = clock
        self.clock0 = clock()
        self.wall0 = float(int(time.time()))
        self.seq = 0
        self.signed_url_ttl = signed_url_ttl
        self.free_runner_limit = free_runner_limit
        self.durations = dict(DEFAULT_DURATIONS)
        if durations:
            self.set_durations(**durations)
        self.secret = (
            mix(seed, 0x5EC).to_bytes(8, "big") + uuid.UUID(int=self.rng.getrandbits(128)).bytes
        )
        self.base_url = ""
        self.users: dict[str, FakeUser] = {}
        self.tokens: dict[str, FakeUser] = {}
        self.default_users: dict[str, FakeUser] = {}
        self.runners: dict[str, Runner] = {}
        self.runners_by_user: dict[str, Newest[Runner]] = {}
        self.managed: dict[str, ManagedRunner] = {}
        self.managed_list: Newest[ManagedRunner] = Newest()
        self._visible: dict[str, tuple[int, list[ManagedRunner]]] = {}
        self.managed_version = 0
        self.templates: dict[str, Template] = {}
        self.templates_by_user: dict[str, Newest[Template]] = {}
        self.workflows: dict[str, Workflow] = {}
        self.workflows_by_user: dict[str, Newest[Workflow]] = {}
        self.storage: dict[str, bytes] = {}
        self.mutations: list[Mutation] = []
        self.workflow_failures: list[WorkflowFailure] = []
        self.queue_numbers: dict[str, int] = {}
        self._seed_users(runners)
        self._seed_fleet(managed_runners)

    # -- time and identity -------------------------------------------------------------

    def wall(self, now: float | None = None) -> float:
        """Unix seconds on the fake clock."""
        if now is None:
            now = self.clock()
        return self.wall0 + (now - self.clock0)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_token(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "cfc_" + "".join(self.rng.choice(alphabet) for _ in range(40))

    def set_durations(self, **durations: float) -> None:
        for key, value in durations.items():
            if key not in DEFAULT_DURATIONS:
                raise ValueError(f"unknown workflow phase {key!r}; use {sorted(DEFAULT_DURATIONS)}")
            if value < 0:
                raise ValueError("durations must be >= 0")
            self.durations[key] = float(value)

    # -- seeding ---------------------------------------------------------------------------

    def _seed_users(self, runners: int) -> None:
        base = parse_when("2024-01-01T00:00:00Z")
        for tier in TIERS:
            if tier == "pro":
                user = self.add_user(
                    tier="pro",
                    name="John Doe",
                    email="john@example.com",
                    user_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
                )
            else:
                user = self.add_user(
                    tier=tier,
                    name=f"{tier.capitalize()} User",
                    email=f"{tier}@example.com",
                )
                user.created_at = iso(base)
            self.default_users[tier] = user
            self._seed_runners(user, runners)

    def _seed_runners(self, user: FakeUser, count: int) -> None:
        examples = [
            (
                "550e8400-e29b-41d4-a716-446655440000",
                "Production GPU Runner",
                "https://my-comfy.example.com",
                ["production", "gpu-a100", "image-generation"],
                {"Authorization": "Bearer secret_token", "X-Custom-Header": "value"},
                "2024-01-15T10:30:00Z",
            ),
            (
                "660e8400-e29b-41d4-a716-446655440001",
                "Development Runner",
                "http://192.168.1.100:8188",
                ["development", "cpu"],
                {},
                "2024-01-14T08:20:00Z",
            ),
        ]
        oldest_example = parse_when("2024-01-14T08:20:00Z")
        for n in range(count):
            if user.tier == "pro" and n < len(examples):
                rid, name, endpoint, tags, headers, created = examples[n]
                created_ts = parse_when(created)
            else:
                rid = self.new_id()
                name = f"Runner {n + 1}"
                endpoint = f"http://10.0.{n // 250}.{n % 250 + 2}:8188"
                tags = ["gpu", ("image-generation", "video-generation", "upscaling")[n % 3]]
                headers = {"Authorization": f"Bearer runner_secret_{n + 1}"} if n % 2 == 0 else {}
                created_ts = oldest_example - 86400.0 * (n + 1)
            runner = self.add_runner(
                user,
                name=name,
                endpoint=endpoint,
                headers=headers,
                tags=tags,
                created_at=created_ts,
                runner_id=rid,
            )
            runner.reachable = False

    def _seed_fleet(self, size: int) -> None:
        plan = fleet_plan(self.seed, size)
        top = parse_when("2024-01-10T08:00:00Z")
        # Insert oldest first so that the example runner (number 0) is the newest.
        for number in range(len(plan) - 1, -1, -1):
            entry, model = plan[number]
            if entry.created_at is not None:
                created = parse_when(entry.created_at)
            else:
                created = top - 3600.0 * (number * 7 + mix(self.seed, number) % 5)
            updated = (
                parse_when(entry.updated_at)
                if entry.updated_at is not None
                else created + 86400.0 * (1 + number % 6)
            )
            runner = self._new_managed(
                name=entry.name,
                runner_type=entry.runner_type,
                tags=list(entry.tags),
                status="active",
                created_ts=created,
                runner_id=entry.id or self._fleet_id(number),
            )
            runner.updated_ts = updated
            runner.model = model

    def _fleet_id(self, number: int) -> str:
        return str(uuid.UUID(int=mix(self.seed, number, 0xF1) << 64 | mix(number), version=4))

    # -- users -----------------------------------------------------------------------------

    def add_user(
        self,
        *,
        tier: str,
        name: str,
        email: str,
        token: str | None = None,
        expired: bool = False,
        user_id: str | None = None,
        provider: str | None = None,
    ) -> FakeUser:
        if token is not None and token in self.tokens:
            raise ValueError("token already in use")
        now = iso(self.wall())
        user = FakeUser(
            id=user_id or self.new_id(),
            token=token or self.new_token(),
            tier=tier,
            name=name,
            email=email,
            expired=expired,
            provider=provider,
        )
        if user_id is None:
            user.created_at = user.updated_at = now
        self.users[user.id] = user
        self.tokens[user.token] = user
        self.runners_by_user[user.id] = Newest()
        self.templates_by_user[user.id] = Newest()
        self.workflows_by_user[user.id] = Newest()
        return user

    def authenticate(self, header: str | None) -> FakeUser:
        if not header:
            raise ApiError(401, "Missing bearer token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Invalid token")
        user = self.tokens.get(token.strip())
        if user is None:
            raise ApiError(401, "Invalid token")
        if user.expired:
            raise ApiError(401, "Token expired")
        return user

    # -- runners ---------------------------------------------------------------------------

    def add_runner(
        self,
        user: FakeUser,
        *,
        name: str,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        status: str = "active",
        stats: dict[str, Any] | None = None,
        created_at: str | datetime | float | None = None,
        runner_id: str | None = None,
    ) -> Runner:
        now = self.wall()
        created = now if created_at is None else parse_when(created_at)
        seq = self.next_seq()
        runner = Runner(
            id=runner_id or self.new_id(),
            user_id=user.id,
            name=name,
            status=status,
            endpoint=endpoint,
            tags=list(tags or []),
            headers=dict(headers or {}),
            created_ts=created,
            updated_ts=created,
            seq=seq,
            order=(-created, -seq),
            stats=stats,
        )
        if runner.id in self.runners:
            raise ValueError(f"runner id {runner.id!r} already exists")
        self.runners[runner.id] = runner
        self.runners_by_user[user.id].add(runner)
        return runner

    def create_runner(self, user: FakeUser, body: Any) -> Runner:
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        name = _check_name(body.get("name"), 100)
        if "endpoint" not in body:
            raise ApiError(400, "endpoint is required")
        endpoint = _check_endpoint(body["endpoint"])
        headers = _check_headers(body["headers"]) if "headers" in body else {}
        tags = _check_tags(body["tags"]) if "tags" in body else []
        owned = self.runners_by_user[user.id]
        if user.tier == "free" and len(owned) >= self.free_runner_limit:
            raise ApiError(
                403,
                f"Free tier is limited to {self.free_runner_limit} runners; upgrade to add more",
            )
        return self.add_runner(user, name=name, endpoint=endpoint, headers=headers, tags=tags)

    def update_runner(self, user: FakeUser, runner_id: str, body: Any) -> Runner:
        runner = self.own_runner(user, runner_id)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = _check_name(body["name"], 100)
        if "endpoint" in body:
            changes["endpoint"] = _check_endpoint(body["endpoint"])
        if "headers" in body:
            changes["headers"] = _check_headers(body["headers"])
        if "tags" in body:
            changes["tags"] = _check_tags(body["tags"])
        if "status" in body:
            changes["status"] = _check_status(body["status"])
        for key, value in changes.items():
            setattr(runner, key, value)
        runner.updated_ts = max(self.wall(), runner.created_ts)
        runner._json = None
        return runner

    def own_runner(self, user: FakeUser, runner_id: str) -> Runner:
        runner = self.runners.get(runner_id)
        if runner is None or runner.user_id != user.id:
            raise ApiError(404, NOT_FOUND)
        return runner

    # -- managed runners -------------------------------------------------------------------

    def _new_managed(
        self,
        *,
        name: str,
        runner_type: str,
        tags: list[str],
        status: str,
        created_ts: float,
        runner_id: str | None = None,
    ) -> ManagedRunner:
        seq = self.next_seq()
        runner = ManagedRunner(
            id=runner_id or self.new_id(),
            name=name,
            runner_type=runner_type,
            status=status,
            tags=tags,
            created_ts=created_ts,
            updated_ts=created_ts,
            seq=seq,
            model=None,
            order=(-created_ts, -seq),
        )
        if runner.id in self.managed:
            raise ValueError(f"managed runner id {runner.id!r} already exists")
        self.managed[runner.id] = runner
        self.managed_list.add(runner)
        self.managed_version += 1
        return runner

    def add_managed_runner(
        self,
        *,
        name: str,
        runner_type: str = "pro",
        tags: Sequence[str] | None = None,
        status: str = "active",
        stats: dict[str, Any] | None = None,
        gpu: str | None = None,
        created_at: str | datetime | float | None = None,
        runner_id: str | None = None,
    ) -> ManagedRunner:
        created = self.wall() if created_at is None else parse_when(created_at)
        count = 1
        gpu_key = gpu or "H100"
        if "x" in gpu_key and gpu_key.split("x", 1)[0].isdigit():
            head, gpu_key = gpu_key.split("x", 1)
            count = int(head)
        if gpu_key not in GPUS:
            raise ValueError(f"unknown gpu {gpu!r}; use one of {sorted(GPUS)} (or e.g. '4xH100')")
        if not 1 <= count <= 8:
            raise ValueError("a runner has 1 to 8 devices")
        profile = GPUS[gpu_key]
        if profile.device_type != "cuda":
            count = 1
        runner = self._new_managed(
            name=name,
            runner_type=runner_type,
            tags=list(tags) if tags is not None else ["managed", profile.tag],
            status=status,
            created_ts=created,
            runner_id=runner_id,
        )
        number = 10_000 + runner.seq
        era = ERAS["new"] if profile.device_type == "cuda" else ERAS["2025"]
        runner.model = make_stats_model(self.seed, number, profile, count, era)
        runner.stats = stats
        return runner

    def remove_managed(self, runner: ManagedRunner) -> None:
        self.managed.pop(runner.id, None)
        self.managed_list.remove(runner)
        self.managed_version += 1

    def visible_managed(self, user: FakeUser) -> list[ManagedRunner]:
        """Active managed runners open to the user's tier, newest first.

        ``plus`` sees runners of type ``plus``; ``pro``, ``enterprise`` (and any other paid tier)
        see every type.
        """
        tier = user.tier
        cached = self._visible.get(tier)
        if cached is not None and cached[0] == self.managed_version:
            return cached[1]
        items = [
            r
            for r in self.managed_list
            if r.status == "active" and (tier != "plus" or r.runner_type == "plus")
        ]
        self._visible[tier] = (self.managed_version, items)
        return items

    def check_managed_access(self, user: FakeUser) -> None:
        if user.tier == "free":
            raise ApiError(403, "Managed runners require Pro or Plus tier")

    def managed_for(self, user: FakeUser, runner_id: str) -> ManagedRunner:
        runner = self.managed.get(runner_id)
        if runner is None or (user.tier == "plus" and runner.runner_type != "plus"):
            raise ApiError(404, NOT_FOUND)
        return runner

    def managed_stats(self, runner: ManagedRunner) -> dict[str, Any]:
        if runner.status == "offline":
            raise ApiError(500, "could not read runner stats: runner is offline")
        if runner.stats is not None:
            return runner.stats
        if runner.model is None:  # pragma: no cover - every managed runner gets a model
            raise ApiError(500, "could not read runner stats")
        return runner.model.next()

    def touch_managed(self) -> None:
        self.managed_version += 1

    # -- templates -------------------------------------------------------------------------

    def add_template(
        self,
        user: FakeUser,
        *,
        name: str,
        description: str,
        body: dict[str, Any],
        created_at: str | datetime | float | None = None,
        template_id: str | None = None,
    ) -> Template:
        created = self.wall() if created_at is None else parse_when(created_at)
        seq = self.next_seq()
        template = Template(
            id=template_id or self.new_id(),
            user_id=user.id,
            name=name,
            description=description,
            body=body,
            created_ts=created,
            updated_ts=created,
            seq=seq,
            order=(-created, -seq),
        )
        self.templates[template.id] = template
        self.templates_by_user[user.id].add(template)
        return template

    def create_template(self, user: FakeUser, form: dict[str, FormValue]) -> Template:
        name = _check_name(_text_field(form.get("name"), "name"), 100)
        description = _check_name(
            _text_field(form.get("description"), "description"), 500, "description"
        )
        body = _json_object(form.get("body"), "body", required=True)
        assert body is not None
        return self.add_template(user, name=name, description=description, body=body)

    def update_template(
        self, user: FakeUser, template_id: str, form: dict[str, FormValue]
    ) -> Template:
        template = self.own_template(user, template_id)
        name = description = None
        if "name" in form:
            name = _check_name(_text_field(form["name"], "name"), 100)
        if "description" in form:
            description = _check_name(
                _text_field(form["description"], "description"), 500, "description"
            )
        body = _json_object(form.get("body"), "body", required=False)
        if name is not None:
            template.name = name
        if description is not None:
            template.description = description
        if body is not None:
            template.body = body
        template.updated_ts = max(self.wall(), template.created_ts)
        template._summary = None
        return template

    def own_template(self, user: FakeUser, template_id: str) -> Template:
        template = self.templates.get(template_id)
        if template is None or template.user_id != user.id:
            raise ApiError(404, NOT_FOUND)
        return template

    # -- workflows -------------------------------------------------------------------------

    def _marks(self, t0: float) -> tuple[float, float, float, float]:
        d = self.durations
        a = t0 + d["accepted"]
        b = a + d["uploaded"]
        c = b + d["queued"]
        return (a, b, c, c + d["running"])

    def schedule(self, user: FakeUser, tags: Sequence[str]) -> Runner | ManagedRunner:
        """Pick a runner for a workflow: the user's own active runners first, then managed ones.

        A runner qualifies when it has every tag of the workflow (a runner without tags takes
        anything); among those, the one given the fewest workflows so far wins.
        """
        wanted = set(tags)

        def fits(runner_tags: list[str]) -> bool:
            return not runner_tags or wanted.issubset(runner_tags)

        own = [r for r in self.runners_by_user[user.id] if r.status == "active" and fits(r.tags)]
        if own:
            return min(own, key=lambda r: r.assigned)
        if user.tier != "free":
            managed = [r for r in self.visible_managed(user) if fits(r.tags)]
            if managed:
                return min(managed, key=lambda r: r.assigned)
        raise ApiError(400, f"no active runner matches the workflow's tags {sorted(wanted)}")

    def add_workflow(
        self,
        user: FakeUser,
        *,
        name: str,
        workflow_json: dict[str, Any],
        tags: Sequence[str] = (),
        params: list[list[str]] | None = None,
        status: str | None = None,
        runner: Runner | ManagedRunner | None = None,
        created_at: str | datetime | float | None = None,
    ) -> Workflow:
        if runner is None:
            runner = self.schedule(user, tags)
        runner.assigned += 1
        now = self.clock()
        created = self.wall(now) if created_at is None else parse_when(created_at)
        seq = self.next_seq()
        queue_number = self.queue_numbers.get(runner.id, 0) + 1
        self.queue_numbers[runner.id] = queue_number
        workflow = Workflow(
            id=self.new_id(),
            user_id=user.id,
            name=name,
            tags=list(tags),
            workflow_json=workflow_json,
            params=params or [],
            user_runner_id=runner.id if isinstance(runner, Runner) else None,
            managed_runner_id=runner.id if isinstance(runner, ManagedRunner) else None,
            created_ts=created,
            t0=now,
            marks=self._marks(now),
            seq=seq,
            prompt_id=self.new_id(),
            queue_number=queue_number,
            order=(-created, -seq),
            pinned=status,
        )
        if status is not None:
            # A pinned workflow ran a while ago: started 5 s and finished 65 s after creation,
            # but never later than now (a fresh one gets no time in the future).
            room = max(0.0, self.wall(now) - created)
            workflow.pinned_times = (created + min(5.0, room), created + min(65.0, room))
        if self.workflow_failures:
            failure = self.workflow_failures.pop(0)
            node = failure.error_node
            if node is None:
                node = next(iter(workflow_json), "1") if workflow_json else "1"
            workflow.outcome = "failed"
            workflow.failure = (node, failure.exception_type, failure.exception_message)
        if status == "failed" and workflow.failure[0] is None:
            workflow.failure = (
                next(iter(workflow_json), "1") if workflow_json else "1",
                "torch.OutOfMemoryError",
                "CUDA out of memory. Tried to allocate 2.00 GiB.",
            )
        self.workflows[workflow.id] = workflow
        self.workflows_by_user[user.id].add(workflow)
        return workflow

    def create_workflow(self, user: FakeUser, form: dict[str, FormValue]) -> Workflow:
        name = _check_name(_text_field(form.get("name"), "name"), 200)
        document = _json_object(form.get("workflow_json"), "workflow_json", required=True)
        assert document is not None
        raw_tags = _text_field(form.get("tags"), "tags")
        tags = parse_tags(raw_tags) if raw_tags else []
        try:
            params = resolve(scan(document), form)
        except PlaceholderError as exc:
            raise ApiError(400, str(exc)) from exc
        return self.add_workflow(user, name=name, workflow_json=document, tags=tags, params=params)

    def own_workflow(self, user: FakeUser, workflow_id: str) -> Workflow:
        workflow = self.workflows.get(workflow_id)
        if workflow is None or workflow.user_id != user.id:
            raise ApiError(404, NOT_FOUND)
        return workflow

    def workflow_summary(self, workflow: Workflow, now: float) -> dict[str, Any]:
        status = workflow.status(now)
        started = completed = None
        updated = workflow.created_ts
        wall = self.wall
        if workflow.stopped is not None:
            if workflow.pinned == "running":
                started = workflow.pinned_times[0]
            elif workflow.pinned is None and workflow.stopped_at >= workflow.marks[2]:
                started = wall(workflow.marks[2])
            completed = updated = wall(workflow.stopped_at)
        elif workflow.pinned is not None:
            if status in ("running", "completed", "failed"):
                started = updated = workflow.pinned_times[0]
            if status in TERMINAL:
                completed = updated = workflow.pinned_times[1]
        else:
            marks = workflow.marks
            for mark in marks:
                if now >= mark:
                    updated = wall(mark)
            if now >= marks[2]:
                started = wall(marks[2])
            if now >= marks[3]:
                completed = wall(marks[3])
        return {
            "id": workflow.id,
            "name": workflow.name,
            "status": status,
            "tags": list(workflow.tags),
            "created_at": iso(workflow.created_ts),
            "updated_at": iso(updated),
            "started_at": iso(started) if started is not None else None,
            "completed_at": iso(completed) if completed is not None else None,
        }

    def workflow_summary_bytes(self, workflow: Workflow, now: float) -> bytes:
        status = workflow.status(now)
        cached = workflow._cache
        if cached is not None and cached[0] == status:
            return cached[1]
        data = dumps(self.workflow_summary(workflow, now))
        workflow._cache = (status, data)
        return data

    def workflow_detail(self, workflow: Workflow, now: float) -> dict[str, Any]:
        out = self.workflow_summary(workflow, now)
        status = out["status"]
        reached_queue = status not in ("accepted", "uploaded")
        failed = status == "failed"
        out.update(
            {
                "user_id": workflow.user_id,
                "user_runner_id": workflow.user_runner_id,
                "managed_runner_id": workflow.managed_runner_id,
                "workflow_json": workflow.workflow_json,
                "workflow_params": workflow.params,
                "prompt_id": workflow.prompt_id if reached_queue else None,
                "queue_number": workflow.queue_number if reached_queue else None,
                "error_node": workflow.failure[0] if failed else None,
                "exception_type": workflow.failure[1] if failed else None,
                "exception_message": workflow.failure[2] if failed else None,
            }
        )
        return out

    def cancel_workflow(self, user: FakeUser, workflow_id: str) -> None:
        workflow = self.own_workflow(user, workflow_id)
        now = self.clock()
        status = workflow.status(now)
        if status not in ("queued", "running"):
            raise ApiError(400, f"cannot cancel a workflow that is {status}")
        workflow.stopped = "cancelled"
        workflow.stopped_at = now

    def interrupt_runner(self, runner_id: str) -> int:
        """Stop every workflow running on the runner: they become ``failed``. Returns how many."""
        now = self.clock()
        stopped = 0
        for workflow in self.workflows.values():
            if workflow.user_runner_id != runner_id or workflow.status(now) != "running":
                continue
            workflow.stopped = "failed"
            workflow.stopped_at = now
            node = next(iter(workflow.workflow_json), "1") if workflow.workflow_json else "1"
            workflow.failure = (
                node,
                "comfy.model_management.InterruptProcessingException",
                "Processing interrupted",
            )
            stopped += 1
        return stopped

    def history(
        self, user: FakeUser, *, runner_id: str | None = None, managed_id: str | None = None
    ) -> list[Workflow]:
        found: list[Workflow] = []
        for workflow in self.workflows_by_user[user.id]:
            if (runner_id is not None and workflow.user_runner_id == runner_id) or (
                managed_id is not None and workflow.managed_runner_id == managed_id
            ):
                found.append(workflow)
                if len(found) == 10:
                    break
        return found

    def outputs(self, user: FakeUser, workflow_id: str) -> list[dict[str, str]]:
        workflow = self.own_workflow(user, workflow_id)
        now = self.clock()
        status = workflow.status(now)
        if status != "completed":
            raise ApiError(400, f"outputs are only available for completed workflows ({status})")
        if workflow.outputs is None:
            saves = sum(
                1
                for node in workflow.workflow_json.values()
                if isinstance(node, dict) and str(node.get("class_type", "")).startswith("Save")
            )
            outputs = []
            for n in range(min(max(saves, 1), 4)):
                digest = mix(self.seed, workflow.seq, n)
                output_id = f"output-{digest:016x}"
                key = f"{workflow.id}/{output_id}.png"
                self.storage[key] = _png(digest)
                outputs.append((output_id, key))
            workflow.outputs = outputs
        expires = int(self.wall(now) + self.signed_url_ttl)
        return [
            {"id": output_id, "workflow_id": workflow.id, "src": self.sign(key, expires)}
            for output_id, key in workflow.outputs
        ]

    # -- storage ---------------------------------------------------------------------------

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, key: str, expires: int) -> str:
        return (
            f"{self.base_url}/storage/{quote(key, safe='/')}"
            f"?expires={expires}&sig={self.signature(key, expires)}"
        )

    def fetch_object(self, key: str, expires: str | None, sig: str | None) -> bytes:
        if not expires or not sig:
            raise ApiError(403, "missing signature")
        try:
            when = int(expires)
        except ValueError as exc:
            raise ApiError(403, "invalid signature") from exc
        if not hmac.compare_digest(sig, self.signature(key, when)):
            raise ApiError(403, "signature does not match")
        if self.wall() > when:
            raise ApiError(403, "signature expired")
        data = self.storage.get(key)
        if data is None:
            raise ApiError(404, NOT_FOUND)
        return data

    # -- lists -----------------------------------------------------------------------------

    def runner_list(self, user: FakeUser, status: str | None) -> Sequence[Runner]:
        items = self.runners_by_user[user.id]
        if status is None:
            return items
        if status not in RUNNER_STATUSES:
            raise ApiError(400, "status must be 'active' or 'disabled'")
        return [r for r in items if r.status == status]

    def workflow_list(self, user: FakeUser, status: str | None, now: float) -> Sequence[Workflow]:
        items = self.workflows_by_user[user.id]
        if status is None:
            return items
        if status not in WORKFLOW_FILTERS:
            raise ApiError(400, f"status must be one of {', '.join(WORKFLOW_FILTERS)}")
        return [w for w in items if w.status(now) == status]

    # -- mutation between pages ------------------------------------------------------------

    def take_mutation(self, endpoint: str, page: int, user: FakeUser) -> Mutation | None:
        for n, mutation in enumerate(self.mutations):
            if (
                mutation.endpoint == endpoint
                and mutation.after_page == page
                and (mutation.user is None or mutation.user is user)
            ):
                return self.mutations.pop(n)
        return None

    def apply_mutation(self, mutation: Mutation, user: FakeUser) -> None:
        endpoint = mutation.endpoint
        for _ in range(mutation.delete):
            victims: Sequence[Any]
            if endpoint == "GET /v1/managed-runner":
                victims = self.visible_managed(user)
                if victims:
                    self.remove_managed(victims[0])
                continue
            if endpoint == "GET /v1/runner":
                victims = self.runners_by_user[user.id]
                if victims:
                    self.runners.pop(victims[0].id, None)
                    victims.pop(0)
            elif endpoint == "GET /v1/template":
                victims = self.templates_by_user[user.id]
                if victims:
                    self.templates.pop(victims[0].id, None)
                    victims.pop(0)
            else:
                victims = self.workflows_by_user[user.id]
                if victims:
                    self.workflows.pop(victims[0].id, None)
                    victims.pop(0)
        for n in range(mutation.insert):
            label = f"Inserted {self.seq + 1}"
            created = self._newest_ts(endpoint, user)
            if endpoint == "GET /v1/managed-runner":
                self.add_managed_runner(
                    name=f"Managed Pro Runner ({label})",
                    runner_type="plus" if user.tier == "plus" else "pro",
                    created_at=created,
                )
            elif endpoint == "GET /v1/runner":
                self.add_runner(
                    user,
                    name=f"Runner ({label})",
                    endpoint=f"http://10.9.0.{n % 250 + 2}:8188",
                    created_at=created,
                )
            elif endpoint == "GET /v1/template":
                self.add_template(
                    user,
                    name=f"Template ({label})",
                    description="inserted while a client walked the list",
                    body={},
                    created_at=created,
                )
            else:
                runner = self._any_runner(user)
                self.add_workflow(
                    user,
                    name=f"Workflow ({label})",
                    workflow_json={},
                    status="completed",
                    runner=runner,
                    created_at=created,
                )

    def _newest_ts(self, endpoint: str, user: FakeUser) -> float:
        items: Sequence[_HasCreated]
        if endpoint == "GET /v1/managed-runner":
            items = self.managed_list
        elif endpoint == "GET /v1/runner":
            items = self.runners_by_user[user.id]
        elif endpoint == "GET /v1/template":
            items = self.templates_by_user[user.id]
        else:
            items = self.workflows_by_user[user.id]
        newest = items[0].created_ts if items else 0.0
        return max(newest, self.wall())

    def _any_runner(self, user: FakeUser) -> Runner | ManagedRunner:
        own = self.runners_by_user[user.id]
        if own:
            return own[0]
        if self.managed_list:
            return self.managed_list[0]
        raise ValueError("the user has no runner and there is no managed runner to put it on")


class _HasCreated(Protocol):
    created_ts: float


def page_bytes(key: bytes, fragments: Iterable[bytes], total: int) -> bytes:
    """``{"<key>": [...], "total": n}`` from ready-made item fragments."""
    return b'{"' + key + b'":[' + b",".join(fragments) + b'],"total":' + str(total).encode() + b"}"

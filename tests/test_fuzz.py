"""Fuzzing the edges where outside data enters the SDK.

Four doors, each fed random input:

* decoding: random JSON, and documents that are almost right, into every model (one object,
  bare arrays and pages), with a lenient and a strict converter: the answer is the model or a
  ``ResponseValidationError``, nothing else; lenient stats never fail at all;
* URL building: random ids (slashes, ``?``, ``#``, ``%``, dots, unicode, padding) never change
  the request path outside their own segment;
* error mapping: random error answers of any status, content type and body give the typed error
  of their status, with the raw text kept;
* the socket: random ids sent through the client to the fake only ever reach the route they
  were meant for.

Hypothesis runs derandomized and without its example database, so CI sees the same examples on
every run.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, TypeVar
from urllib.parse import unquote

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from comfycontrol_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ComfyControl,
    ComfyControlError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    _core,
)
from comfycontrol_async._converter import decode, decode_list, decode_page, make_converter
from comfycontrol_async._exceptions import BODY_LIMIT
from comfycontrol_async._redact import excerpt, printable
from comfycontrol_async.models import (
    Device,
    ManagedRunner,
    Page,
    Runner,
    RunnerStats,
    SystemInfo,
    Template,
    TemplateSummary,
    User,
    Workflow,
    WorkflowOutput,
    WorkflowSummary,
)
from comfycontrol_async.testing import FakeComfyControl

T = TypeVar("T")

LENIENT: Final = make_converter(strict=False)
STRICT: Final = make_converter(strict=True)
CONVERTERS: Final = (("lenient", LENIENT), ("strict", STRICT))


def fuzz(examples: int) -> settings:
    """Derandomized (the same examples on every run), no example database, no deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- random JSON ---------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and the infinities too: Python's json module reads them
    st.text(max_size=24),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=10), inner, max_size=5),
    ),
    max_leaves=16,
)

# Values that look like what the API sends, right and wrong, so that fields get past the first
# type test often enough to reach the deeper checks.
_TIMESTAMPS = [
    "2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00.123456+02:00",
    "2024-01-15T10:30:00",  # naive
    "2024-01-15",
    "2024-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "+10000-01-01T00:00:00Z",
    "2024-01-15T10:30:00ZZ",
    "",
    " ",
    "yesterday",
]
plausible: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(_TIMESTAMPS),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.lists(st.text(max_size=8), max_size=4),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.sampled_from([0, -1, 1, 8.0e9, 8.5, 2**63, True, "0", "n/a", None, [], {}]),
    st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)).map(list), max_size=3),
)
field_values = st.one_of(plausible, json_values)

MODELS: Final[tuple[type[Any], ...]] = (
    User,
    Runner,
    ManagedRunner,
    RunnerStats,
    SystemInfo,
    Device,
    WorkflowSummary,
    Workflow,
    TemplateSummary,
    Template,
    WorkflowOutput,
)
STATS_MODELS: Final = (RunnerStats, SystemInfo, Device)

_WHEN = "2024-01-15T10:30:00Z"
_SUMMARY = {
    "id": "w1",
    "name": "wf",
    "status": "completed",
    "tags": ["a"],
    "created_at": _WHEN,
    "updated_at": _WHEN,
    "started_at": _WHEN,
    "completed_at": None,
}
# One valid document per model: the starting points of the "almost right" documents.
VALID: Final[dict[type[Any], dict[str, Any]]] = {
    User: {
        "id": "u1",
        "name": "Ada",
        "email": "ada@example.com",
        "deleted": False,
        "tier": "pro",
        "provider": "github",
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    Runner: {
        "id": "r1",
        "user_id": "u1",
        "name": "box",
        "status": "active",
        "endpoint": "https://comfy.example.com",
        "tags": ["gpu"],
        "headers": {"Authorization": "Bearer x"},
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    ManagedRunner: {
        "id": "m1",
        "name": "managed",
        "runner_type": "pro",
        "status": "active",
        "tags": ["managed"],
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    RunnerStats: {
        "system": {
            "os": "posix",
            "ram_total": 2**35,
            "ram_free": 2**34,
            "comfyui_version": "0.3.77",
            "python_version": "3.12.1",
            "argv": ["main.py"],
        },
        "devices": [
            {
                "name": "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync",
                "type": "cuda",
                "index": 0,
                "vram_total": 84942848000,
                "vram_free": 84316848128,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        ],
        "dev_mode": False,
        "extensions": ["/extensions/core/groupNode.js"],
    },
    SystemInfo: {"os": "linux", "ram_total": 1, "ram_free": 0, "embedded_python": False},
    Device: {"name": "cpu", "type": "cpu", "index": None, "vram_total": 1, "vram_free": 1},
    WorkflowSummary: dict(_SUMMARY),
    Workflow: {
        **_SUMMARY,
        "user_id": "u1",
        "user_runner_id": None,
        "managed_runner_id": "m1",
        "workflow_json": {"3": {"inputs": {}}},
        "workflow_params": [["$text(prompt)", "a sunset"]],
        "prompt_id": None,
        "queue_number": 7,
        "error_node": None,
        "exception_type": None,
        "exception_message": None,
    },
    TemplateSummary: {
        "id": "t1",
        "user_id": "u1",
        "name": "t",
        "description": "d",
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    Template: {
        "id": "t1",
        "user_id": "u1",
        "name": "t",
        "description": "d",
        "body": {"1": {"inputs": {}}},
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    WorkflowOutput: {"id": "output-1", "workflow_id": "w1", "src": "https://s.example/o.png"},
}
# Nested models, so that the documents inside stats are fuzzed as documents too.
NESTED: Final[dict[type[Any], dict[str, type[Any]]]] = {
    RunnerStats: {"system": SystemInfo},
}
NESTED_LISTS: Final[dict[type[Any], dict[str, type[Any]]]] = {
    RunnerStats: {"devices": Device},
}


def _field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in attrs.fields(cls) if f.name != "extra"]


@st.composite
def mutated(draw: st.DrawFn, cls: type[Any]) -> dict[str, Any]:
    """A valid document of ``cls`` with a few keys removed, nulled, replaced or added."""
    doc: dict[str, Any] = json.loads(json.dumps(VALID[cls]))
    names = sorted(set(doc) | set(_field_names(cls)))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "null", "replace", "replace", "add", "nest"]))
        key = draw(st.sampled_from(names))
        if action == "drop":
            doc.pop(key, None)
        elif action == "null":
            doc[key] = None
        elif action == "replace":
            doc[key] = draw(field_values)
        elif action == "add":
            doc[draw(st.text(max_size=10))] = draw(json_values)
        elif key in NESTED.get(cls, {}):
            doc[key] = draw(documents(NESTED[cls][key]))
        elif key in NESTED_LISTS.get(cls, {}):
            inner = NESTED_LISTS[cls][key]
            doc[key] = draw(st.lists(st.one_of(documents(inner), json_values), max_size=3))
    return doc


@st.composite
def shaped(draw: st.DrawFn, cls: type[Any]) -> dict[str, Any]:
    """A document built from the model's own field names with random values."""
    names = _field_names(cls)
    doc: dict[str, Any] = {}
    for name in names:
        if draw(st.booleans()) or draw(st.booleans()):
            doc[name] = draw(field_values)
    doc.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return doc


def documents(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Anything from random JSON to a valid document of ``cls`` with one thing wrong."""
    return st.one_of(json_values, shaped(cls), mutated(cls), mutated(cls))


def _outcome(fn: Callable[[], T]) -> T | ResponseValidationError:
    """The value of ``fn()``, or the ResponseValidationError it raised; anything else escapes."""
    try:
        return fn()
    except ResponseValidationError as err:
        assert isinstance(err.path, str)
        assert err.path.startswith("$")
        assert str(err)  # a message that says something
        return err


def _check_model(value: object, cls: type[Any]) -> None:
    assert isinstance(value, cls)
    repr(value)  # a model that cannot show itself would break every log line


# -- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_random_json_into_every_model(cls: type[Any]) -> None:
    @fuzz(100)
    @given(data=documents(cls))
    def check(data: Any) -> None:
        for mode, conv in CONVERTERS:
            result = _outcome(partial(decode, data, cls, converter=conv))
            if isinstance(result, ResponseValidationError):
                # Lenient stats never fail: the whole answer (RunnerStats), and the objects
                # inside it whenever they are objects at all.
                never = cls is RunnerStats or (cls in STATS_MODELS and isinstance(data, dict))
                assert not (mode == "lenient" and never), (
                    f"lenient {cls.__name__} raised on {data!r}: {result}"
                )
            else:
                _check_model(result, cls)

    check()


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_random_json_into_bare_arrays(cls: type[Any]) -> None:
    @fuzz(40)
    @given(data=st.one_of(json_values, st.lists(documents(cls), max_size=4)))
    def check(data: Any) -> None:
        for mode, conv in CONVERTERS:
            result = _outcome(partial(decode_list, data, cls, converter=conv))
            if isinstance(result, ResponseValidationError):
                lenient_stats = mode == "lenient" and cls is RunnerStats
                assert not (lenient_stats and isinstance(data, list)), f"{data!r}: {result}"
                continue
            assert isinstance(result, list)
            assert len(result) == (0 if data is None else len(data))
            for item in result:
                _check_model(item, cls)

    check()


PAGE_KEYS: Final = {
    Runner: "runners",
    ManagedRunner: "runners",
    TemplateSummary: "templates",
    WorkflowSummary: "workflows",
}


@st.composite
def envelopes(draw: st.DrawFn, cls: type[Any], key: str) -> Any:
    doc: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        doc[key] = draw(st.one_of(st.lists(documents(cls), max_size=4), json_values))
    if draw(st.integers(0, 9)):
        doc["total"] = draw(st.one_of(st.integers(-3, 10**12), json_values))
    if not draw(st.integers(0, 4)):
        doc.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return doc


@pytest.mark.parametrize("cls", list(PAGE_KEYS), ids=lambda c: c.__name__)
def test_random_json_into_pages(cls: type[Any]) -> None:
    key = PAGE_KEYS[cls]

    @fuzz(80)
    @given(data=st.one_of(json_values, envelopes(cls, key)))
    def check(data: Any) -> None:
        for _, conv in CONVERTERS:
            result = _outcome(
                partial(decode_page, data, key=key, cls=cls, page=3, per_page=7, converter=conv)
            )
            if isinstance(result, ResponseValidationError):
                continue
            assert isinstance(result, Page)
            assert isinstance(data, dict)
            assert result.total == data["total"]
            assert len(result.items) == len(data[key] or [])
            assert (result.page, result.per_page) == (3, 7)
            for item in result.items:
                _check_model(item, cls)
            repr(result)

    check()


def test_lenient_stats_never_raise() -> None:
    """The API documentation: nothing in the stats ever fails a sweep, whatever the runner sends."""

    @fuzz(300)
    @given(data=st.one_of(json_values, documents(RunnerStats), shaped(RunnerStats)))
    def check(data: Any) -> None:
        stats = decode(data, RunnerStats, converter=LENIENT)
        assert isinstance(stats, RunnerStats)
        assert isinstance(stats.system, SystemInfo)
        assert all(isinstance(d, Device) for d in stats.devices)
        repr(stats)
        stats.main_device  # noqa: B018 - the helpers must cope with whatever was decoded
        for device in stats.devices:
            device.model  # noqa: B018

    check()


# -- URL building --------------------------------------------------------------------------------

_PIECES: Final = [
    "/",
    "?",
    "#",
    "%",
    "%2F",
    "%2e",
    "%25",
    "..",
    ".",
    "./",
    "../",
    "\\",
    ";",
    "&",
    "=",
    "+",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "é",
    "ü",
    "日本",
    "🙂",
    "\u202e",
    "\ufeff",
    "a",
    "Z9",
    "-",
    "_",
    "~",
    "v1",
    "user",
    "stats",
]
tricky_ids: st.SearchStrategy[str] = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join),
    st.tuples(
        st.sampled_from(["", " ", "  ", "\t", "\n"]),
        st.text(min_size=1, max_size=12),
        st.sampled_from(["", " ", "\t ", "\n"]),
    ).map("".join),
)
BASES: Final = (
    "https://api.comfycontrol.app",
    "https://api.comfycontrol.app/v1/",
    "http://127.0.0.1:8080/gateway/comfy",
)
SHAPES: Final[tuple[tuple[str, ...], ...]] = (
    ("managed-runner", "{id}"),
    ("runner", "{id}", "stats"),
    ("workflow", "{id}", "outputs"),
)


@fuzz(400)
@given(ident=tricky_ids, base=st.sampled_from(BASES), shape=st.sampled_from(SHAPES))
def test_ids_never_leave_their_segment(ident: str, base: str, shape: tuple[str, ...]) -> None:
    try:
        _core.check_id(ident)  # what every resource method does first
    except ValueError:
        assert not ident.strip()
        return
    base_url = _core.parse_base_url(base)
    segments = [ident if s == "{id}" else s for s in shape]
    url = _core.build_url(base_url, *segments)

    prefix = base_url.raw_path.rstrip("/") + "/v1/"
    raw = url.raw_path
    assert raw.startswith(prefix)
    parts = raw[len(prefix) :].split("/")
    assert len(parts) == len(shape), (ident, raw)
    for part, expected in zip(parts, shape, strict=True):
        if expected == "{id}":
            assert unquote(part, errors="strict") == ident
            assert part not in ("", ".", ".."), raw
            assert not set(part) & set("?#/\\ \t\r\n")
        else:
            assert part == expected
    assert url.raw_query_string == ""
    assert url.raw_fragment == ""
    assert (url.scheme, url.host, url.port) == (base_url.scheme, base_url.host, base_url.port)
    # What goes on the wire is the same path when the URL is read back as already encoded.
    assert URL(str(url), encoded=True).raw_path == raw


@fuzz(100)
@given(ident=st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1))
def test_unencodable_ids_are_a_value_error(ident: str) -> None:
    """A lone surrogate cannot be UTF-8: refused as a bad argument, never sent mangled."""
    base_url = _core.parse_base_url(BASES[0])
    try:
        url = _core.build_url(base_url, "managed-runner", ident)
    except ValueError:
        assert any(0xD800 <= ord(ch) <= 0xDFFF for ch in ident)
        return
    assert unquote(url.raw_path.split("/")[-1], errors="strict") == ident


# -- error mapping -------------------------------------------------------------------------------

EXPECTED_CLASS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def _expected_class(status: int) -> type[APIStatusError]:
    if status in EXPECTED_CLASS:
        return EXPECTED_CLASS[status]
    return ServerError if status >= 500 else APIStatusError


_HTML_PAGES: Final = [
    "<!DOCTYPE html><html><head><title>Error 1015 | Rate limited</title></head>"
    "<body><h1>You are being rate limited</h1></body></html>",
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
    "<h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body></html>",
    "<html><body>We'll be right back</body></html>",
]


@st.composite
def error_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "json", "truncated", "html", "bytes", "text", "empty"]))
    if kind == "json":
        doc = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"status": st.integers(100, 599)}, optional={"message": field_values}
                ),
                json_values,
            )
        )
        return json.dumps(doc).encode()
    if kind == "truncated":
        text = json.dumps({"status": 500, "message": draw(st.text(max_size=40))})
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    if kind == "html":
        return draw(st.sampled_from(_HTML_PAGES)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", errors="surrogatepass")
    return draw(st.sampled_from([b"", b" ", b"\r\n", b"\t \n"]))


_CONTENT_TYPES: Final = [
    "application/json",
    "application/json; charset=utf-8",
    "text/html; charset=utf-8",
    "text/plain",
    "application/octet-stream",
    "application/problem+json",
    "",
]
retry_after_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "0.5",
            "-3",
            "1e400",
            "inf",
            "nan",
            "",
            " 7 ",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2099 07:28:00 GMT",
            "Mon, 01 Jan 99999 00:00:00 GMT",
            "Fri, 31 Feb 2025 00:00:00 GMT",
            "soon",
        ]
    ),
    st.text(max_size=30),
    st.floats().map(str),
)


@st.composite
def error_headers(draw: st.DrawFn) -> dict[str, str]:
    headers: dict[str, str] = {}
    content_type = draw(st.one_of(st.sampled_from(_CONTENT_TYPES), st.text(max_size=20)))
    if content_type:
        headers["Content-Type"] = content_type
    if draw(st.booleans()):
        headers["Retry-After"] = draw(retry_after_values)
    if draw(st.booleans()):
        headers["X-Request-Id"] = draw(st.text(min_size=1, max_size=20))
    return headers


@fuzz(400)
@given(
    status=st.one_of(st.integers(400, 599), st.sampled_from([400, 401, 403, 404, 429, 500, 503])),
    body=error_bodies(),
    headers=error_headers(),
)
def test_error_answers_give_the_typed_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    answer = _core.Answer(status=status, headers=headers, body=body)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    err = _core.error_for(answer, method="GET", url="https://api.example/v1/user", now=now)

    assert type(err) is _expected_class(status)
    assert isinstance(err, ComfyControlError)
    assert err.status == status
    # The body as received, with secrets hidden and at most BODY_LIMIT characters kept.
    assert err.body == excerpt(body.decode("utf-8", errors="replace"), BODY_LIMIT)
    assert isinstance(str(err), str)
    assert isinstance(repr(err), str)
    assert err.message.strip()
    if err.retry_after is not None:
        assert math.isfinite(err.retry_after)
        assert err.retry_after >= 0
    if "Retry-After" not in headers:
        assert err.retry_after is None
    if headers.get("X-Request-Id"):
        assert err.request_id == headers["X-Request-Id"]
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        message = doc.get("message")
        if isinstance(message, str) and message.strip():
            assert err.message == printable(excerpt(message, 2000))
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert (copy.status, copy.body, copy.message) == (err.status, err.body, err.message)


# -- the socket ----------------------------------------------------------------------------------

ONE: Final = "GET /v1/managed-runner/{id}"
STATS: Final = "GET /v1/managed-runner/{id}/stats"
_FIXED_IDS: Final = [
    "..",
    ".",
    "../user",
    "../../v1/user",
    "a/b",
    "x/stats",
    "?page=2",
    "#top",
    "%2F",
    "%",
    "%%",
    "%zz",
    "a%00b",
    " padded ",
    "\tpadded",
    "stats",
    "日本語",
    "🙂/../🙂",
    "\u202eevil",
    "a;b=c",
    "a+b c",
    "",
    " ",
    "\t\n",
]


def _random_ids(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = _PIECES + list(string.ascii_letters + string.digits)
    out = []
    for _ in range(count):
        ident = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        if rng.random() < 0.2:
            ident = rng.choice([" ", "\t", "\n", ""]) + ident + rng.choice([" ", "", "\n"])
        out.append(ident)
    return out


async def test_random_ids_only_reach_their_own_route(
    fake: FakeComfyControl, client: ComfyControl
) -> None:
    ids = _FIXED_IDS + _random_ids(seed=20240615, count=40)
    # A real id with something stuck to it must not find the real runner either.
    real = fake.managed_runner_ids()[0]
    ids += [real + "/stats", real + "/../" + real, " " + real, real + "?x=1", real + "#x"]
    sent = 0
    for ident in ids:
        before = len(fake.requests)
        if not ident.strip():
            with pytest.raises(ValueError):
                await client.managed_runners.get(ident)
            assert len(fake.requests) == before, f"a request was sent for {ident!r}"
            continue
        with pytest.raises(NotFoundError):
            await client.managed_runners.get(ident)
        assert len(fake.requests) == before + 1, ident  # one request, a 404 is not retried
        seen = fake.requests[-1]
        assert seen.route == ONE, (ident, seen.path)
        assert seen.id == ident, (ident, seen.path)
        assert seen.query == {}
        with pytest.raises(NotFoundError):
            await client.managed_runners.stats(ident)
        seen = fake.requests[-1]
        assert (seen.route, seen.id) == (STATS, ident), (ident, seen.path)
        sent += 1
    assert sent >= 40
    # The real one still resolves, through the same client.
    assert (await client.managed_runners.get(real)).id == real

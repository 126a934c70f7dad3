"""The redaction module on its own: every encoding of a remembered secret, the credentials that
their position gives away, the bounded registry, cut excerpts and control characters.

Secrets are drawn fresh by hypothesis (or ``secrets``) in every run; the alphabet holds the
characters that each encoding changes (``/ + = % & < " \\``, spaces, non-ASCII).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import html
import json
import secrets
import sys
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comfycontrol_async import _redact
from comfycontrol_async._redact import (
    MAX_REMEMBERED,
    REDACTED,
    excerpt,
    printable,
    redact_data,
    register_secret,
    remember,
    scrub_text,
)

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~/+=%&<>\"'\\:;,!?#@ é€😀"
)
secret_values = st.text(alphabet=ALPHABET, min_size=12, max_size=80).filter(
    lambda s: s.strip() == s and len(set(s)) > 4
)


def _b64_middle(data: bytes, before: int) -> str:
    """The base64 characters of ``data`` placed after ``before`` other bytes, without the
    characters that also depend on its neighbours (computed here, not by the module)."""
    blob = base64.b64encode(b"\x01" * before + data + b"\x02\x02\x02").decode()
    first = (before * 8 + 5) // 6 + 1
    last = ((before + len(data)) * 8) // 6 - 1
    return blob[first:last]


def _encodings(value: str) -> dict[str, tuple[str, str]]:
    """name -> (text a server sends back, the part of it that gives the secret away)."""
    raw = value.encode()
    out: dict[str, tuple[str, str]] = {}

    def add(name: str, encoded: str) -> None:
        out[name] = (f"error: {encoded} was refused", encoded)

    add("raw", value)
    add("json", json.dumps(value)[1:-1])
    add("json ascii", json.dumps(value, ensure_ascii=True)[1:-1])
    add("json escaped slashes", json.dumps(value)[1:-1].replace("/", "\\/"))
    units = value.encode("utf-16-be")
    code_units = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    add("json all \\u (upper)", "".join(f"\\u{u:04X}" for u in code_units))
    add("json all \\u (lower)", "".join(f"\\u{u:04x}" for u in code_units))
    add("python repr", repr(value)[1:-1])
    add("quote", urllib.parse.quote(value, safe=""))
    add("quote (lower hex)", urllib.parse.quote(value, safe="").replace("%2F", "%2f"))
    add("quote_plus", urllib.parse.quote_plus(value))
    add("double quote", urllib.parse.quote(urllib.parse.quote(value, safe=""), safe=""))
    add("json of quote", json.dumps(urllib.parse.quote(value))[1:-1])
    add("quote of json", urllib.parse.quote(json.dumps(value)))
    add("html", html.escape(value))
    add("html decimal", "".join(f"&#{ord(c)};" for c in value))
    add("html hex", "".join(f"&#x{ord(c):X};" for c in value))
    add("hex", raw.hex())
    add("hex upper", raw.hex().upper())
    for before in range(3):
        blob = base64.b64encode(b"\x01" * before + raw + b"\x02\x02\x02").decode()
        out[f"base64 +{before}"] = (f"body={blob}", _b64_middle(raw, before))
        url = base64.urlsafe_b64encode(b"\x01" * before + raw + b"\x02\x02\x02").decode()
        middle = _b64_middle(raw, before).replace("+", "-").replace("/", "_")
        out[f"urlsafe base64 +{before}"] = (f"body={url}", middle)
    return out


ENCODING_NAMES = sorted(_encodings("x" * 12))


@pytest.fixture(autouse=True)
def _own_registry() -> Iterator[None]:
    """Each test starts from an empty registry (hypothesis draws from this file's constants,
    so a value one test remembers may be a word another test expects to see)."""
    unowned = dict(_redact._unowned)
    _redact.forget(list(unowned))
    yield
    _redact.forget(list(_redact._unowned))
    remember(unowned)


@pytest.mark.parametrize("encoding", ENCODING_NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=secret_values)
def test_a_remembered_secret_is_hidden_in_every_encoding(encoding: str, value: str) -> None:
    remember([value])
    text, giveaway = _encodings(value)[encoding]
    assert giveaway, "the encoding must show something"
    cleaned = scrub_text(text)
    assert giveaway not in cleaned
    assert value not in cleaned
    assert REDACTED in cleaned


@settings(max_examples=30, deadline=None)
@given(value=secret_values, at=st.integers(min_value=0, max_value=300))
def test_excerpt_never_leaves_half_a_secret_at_the_cut(value: str, at: int) -> None:
    remember([value])
    text = "x" * at + value + "y" * 50
    for limit in range(max(1, at - 2), at + len(value) + 2):
        cut = excerpt(text, limit)
        core = value[: min(len(value), 6)]
        assert core not in cut.replace(REDACTED, "\0")
        # Whatever is kept is the start of the text, and it says it was cut.
        assert cut.endswith(f"[... cut after {limit} characters]")


def test_a_secret_cut_at_either_edge_of_a_text_is_hidden() -> None:
    value = "hdr-" + secrets.token_urlsafe(30)
    remember([value])
    assert value[:20] not in scrub_text("the answer was {" + value[:20])
    assert value[-20:] not in scrub_text(value[-20:] + '", "name": "box"}')


def test_compound_values_are_remembered_piece_by_piece() -> None:
    token = secrets.token_urlsafe(24)
    password = "pw-" + secrets.token_hex(6)
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    cookie_value = secrets.token_hex(12)
    remember([f"Bearer {token}", f"Basic {basic}", f"session={cookie_value}; theme=dark"])
    for text in (
        f"token {token} is not valid",
        f"user alice:{password} refused",
        f"bad password {password}",
        f"cookie session value {cookie_value}",
    ):
        cleaned = scrub_text(text)
        assert token not in cleaned
        assert password not in cleaned
        assert cookie_value not in cleaned


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Bearer Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
        ("proxy-authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ('{"Authorization": "Token t0k3n-abcdef"}', "t0k3n-abcdef"),
        ("Cookie: session=s3cr3t-cookie-value; lang=en", "s3cr3t-cookie-value"),
        ("see https://alice:hunter22@runner.example.com:8188/x", "hunter22"),
        ("https://storage.example.com/o/a.png?expires=1&sig=0a1b2c3d4e", "0a1b2c3d4e"),
        ('x-api-key: "ak_live_12345678"', "ak_live_12345678"),
        ('{"name": "box", "headers": {"X-Key": "unregistered-value"', "unregistered-value"),
        ('"argv": ["main.py", "--api-key", "argv-secret-1"]', "argv-secret-1"),
        # a gateway that echoes the JSON body base64-encoded
        (
            base64.b64encode(b'{"name":"box","headers":{"X-Key":"in-a-blob-123"}}').decode(),
            "in-a-blob-123",
        ),
        # ... and the same escaped for a JSON string
        ('{"message": "bad \\"Authorization\\": \\"Bearer abc-def-123456\\""}', "abc-def-123456"),
    ],
)
def test_credentials_their_position_gives_away_are_hidden(text: str, hidden: str) -> None:
    cleaned = scrub_text(text)
    assert REDACTED in cleaned
    assert hidden not in cleaned
    assert not any(hidden in scrub_text(v) for v in _base64_views(cleaned))


def _base64_views(text: str) -> list[str]:
    out = []
    for word in text.split():
        with contextlib.suppress(ValueError):
            out.append(base64.b64decode(word, validate=True).decode("utf-8"))
    return out


@pytest.mark.parametrize(
    "text",
    [
        "Runner.headers.Authorization: expected a string, got an integer",
        "comfycontrol_async.AuthenticationError: 401 Unauthorized (GET https://x/v1/user)",
        "no API token: set the COMFYCONTROL_TOKEN environment variable",
        "GET /v1/runner -> 200 (attempt 1, 0.012 s, request id abc)",
        "the author of this template",
        "Basic information about runners",
    ],
)
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert scrub_text(text) == text


def test_a_value_is_not_split_into_common_words() -> None:
    phrase = "correct horse battery " + secrets.token_hex(4)
    remember([phrase])
    assert scrub_text(f"it said {phrase}.") == "it said ***."
    assert scrub_text("the horse is here") == "the horse is here"


def test_very_short_values_are_not_searched_for_everywhere() -> None:
    """'on' or '42' as a header value must not turn every 'on' of every message into ***."""
    remember(["on", "42", "abc"])
    assert scrub_text("connection refused on port 42, abc") == "connection refused on port 42, abc"
    remember(["k3y!"])  # four characters: short, but hidden
    assert "k3y!" not in scrub_text("the key k3y! is wrong")


def test_the_registry_is_bounded_and_forgets_the_oldest() -> None:
    first = "first-" + secrets.token_hex(8)
    remember([first])
    assert first not in scrub_text(first)
    remember(f"filler-{i:05d}-{secrets.token_hex(4)}" for i in range(MAX_REMEMBERED))
    assert len(_redact._unowned) <= MAX_REMEMBERED
    assert first in scrub_text(first)  # pushed out by newer values
    last = "last-" + secrets.token_hex(8)
    remember([last])
    assert last not in scrub_text(last)


def test_a_value_with_an_owner_is_kept_as_long_as_the_owner_lives() -> None:
    token = "cfc_" + secrets.token_hex(20)
    handle = register_secret(token)
    # However many other values come and go, a live client's token stays hidden.
    remember(f"filler-{i:05d}-{secrets.token_hex(4)}" for i in range(MAX_REMEMBERED + 10))
    assert token not in scrub_text(f"echo {token}")
    twin = register_secret(token)  # a second client with the same token
    del handle
    gc.collect()
    assert token not in scrub_text(f"echo {token}")
    del twin
    gc.collect()
    assert token in scrub_text(f"echo {token}")  # both clients gone: forgotten


def test_control_characters_are_shown_not_obeyed() -> None:
    text = "\x1b[2J\x1b]0;pwned\x07 ok\r\nnext\u202eevil\x9b"
    shown = printable(text)
    assert not any(c in shown for c in "\x1b\x07\r\n\u202e\x9b")
    assert "\\x1b[2J" in shown
    assert "\\u202e" in shown
    assert printable("line one\nline two", keep_newlines=True) == "line one\nline two"
    assert printable(shown) == shown  # idempotent


def test_redact_data_hides_by_key_at_any_depth_and_scrubs_strings() -> None:
    value = "rv-" + secrets.token_hex(10)
    remember([value])
    data = {
        "headers": {"Authorization": "Bearer x", "X-Key": "y"},
        "system": {"argv": ["main.py", "--key", "k"]},
        "extra": {"nested": [{"client_secret": "s", "api_key": "a"}]},
        "author": "Ada",
        "note": f"it said {value}",
        "src": "https://s.example.com/a.png?sig=abcdef123",
    }
    out = redact_data(data)
    assert out["headers"] == {"Authorization": REDACTED, "X-Key": REDACTED}
    assert out["system"]["argv"] == [REDACTED] * 3
    assert out["extra"]["nested"] == [{"client_secret": REDACTED, "api_key": REDACTED}]
    assert out["author"] == "Ada"
    assert value not in out["note"]
    assert "abcdef123" not in out["src"]
    assert data["headers"] == {"Authorization": "Bearer x", "X-Key": "y"}  # a copy


def test_redact_data_never_raises_on_deep_nesting() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(sys.getrecursionlimit() * 3):
        child: list[object] = []
        node.append(child)
        node = child
    out = redact_data(deep)
    assert "..." in json.dumps(out)


def _leaks(value: str, text: str) -> bool:
    return any(value[i : i + 8] in text for i in range(max(1, len(value) - 7)))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda v: f"<html><body><pre>Authorization: Bearer {html.escape(v)}</pre></body></html>",
        lambda v: json.dumps({"message": f"invalid header value {v!r}"}),
        lambda v: urllib.parse.urlencode({"echo": v}),
    ],
)
def test_many_remembered_values_are_searched_at_once(wrap: Callable[[str], str]) -> None:
    """Past a few dozen values the registry is searched by index, not one by one."""
    values = [secrets.token_urlsafe(18) for _ in range(200)]
    remember(values)
    for value in values[::37]:
        assert not _leaks(value, scrub_text(wrap(value)))


class _NoReentry:
    """A lock that fails, instead of hanging, when the thread holding it takes it again."""

    def __init__(self) -> None:
        self.held = False

    def __enter__(self) -> None:
        assert not self.held, "the registry lock was taken again while held (a deadlock)"
        self.held = True

    def __exit__(self, *exc: object) -> None:
        self.held = False


def test_an_owner_collected_during_a_registry_update_does_not_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A garbage collection can run an owner's finalizer while the registry lock is held."""
    lock = _NoReentry()
    monkeypatch.setattr(_redact, "_lock", lock)
    token = "cfc_" + secrets.token_hex(20)
    handle = register_secret(token)
    assert token not in scrub_text(token)
    with lock:  # as if the collection happened inside remember() or a snapshot
        del handle
        gc.collect()
    assert token in scrub_text(token)  # released at the next use of the registry

"""One home for keeping credentials out of every text the SDK makes; no other SDK import, no I/O.
It hides :func:`remember`-ed values raw or as a server may echo them (JSON, Python, percent and HTML
escapes, nested, base64 at any alignment, hex, cut at an edge), and by position URL user-info and
query, ``Authorization``/``Cookie``/key-like pairs, ``Bearer``/``Basic``, JSON ``headers``/``argv``.
"""

from __future__ import annotations

import base64
import bisect
import codecs
import contextlib
import functools
import html.entities
import re
import threading
import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED: Final = "***"
MIN_LENGTH: Final = 4  # shorter values are hidden by position only (hiding "on" garbles text)
MAX_REMEMBERED: Final = 4096  # values without an owner kept, the least recently remembered go
_MIN_ENCODED: Final = 8  # values this long are also searched as base64 and hex
_MIN_PARTIAL: Final = 6  # a piece this long of a value cut off at a text's edge is hidden
_AUTH_SCHEMES: Final = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey"})

_lock = threading.Lock()
# A finalizer may run in a garbage collection while the lock is held: it only queues.
_released: deque[tuple[str, ...]] = deque()
_unowned: OrderedDict[str, None] = OrderedDict()
_owned: Counter[str] = Counter()
_cache: _Known | None = None  # the registry ready to search; None after any change


def remember(values: Iterable[object], *, owner: object | None = None) -> None:
    """Hide these ``str`` values and their parts while ``owner`` lives, else in the bounded set."""
    fresh = _split(values)
    if not fresh:
        return
    global _cache
    with _lock:
        _drop_released()
        # Values seen again (every decoded runner repeats its headers) keep the search index.
        if not all(v in _owned or v in _unowned for v in fresh):
            _cache = None
        if owner is not None:
            _owned.update(fresh)
            weakref.finalize(owner, _released.append, tuple(fresh))
        else:
            for value in fresh:
                _unowned[value] = None
                _unowned.move_to_end(value)
        while len(_unowned) > MAX_REMEMBERED:
            _unowned.popitem(last=False)
            _cache = None


class _Handle:
    """Its owner (a client, a store) keeps a registered secret alive."""


def register_secret(value: str) -> object:
    """Remember ``value`` while the returned handle lives (closed clients' secrets go)."""
    remember([value], owner=(handle := _Handle()))
    return handle


def forget(values: Iterable[object]) -> None:
    """Drop values registered without an owner."""
    global _cache
    with _lock:
        for part in _split(values):
            _unowned.pop(part, None)
        _cache = None


def _drop_released() -> None:
    global _cache, _owned
    while _released:
        _owned -= Counter(_released.popleft())
        _cache = None


def _split(values: Iterable[object]) -> list[str]:
    """Each ``str``, its credential after a scheme (Basic: decoded) and ``k=v`` values; no words."""
    found = []
    for value in values:
        if not isinstance(value, str):
            continue
        found.append(value)
        scheme, _, rest = value.strip().partition(" ")
        rest = rest.strip()
        if scheme.lower() in _AUTH_SCHEMES and rest:
            found.append(rest)
            if scheme.lower() == "basic":
                with contextlib.suppress(ValueError):
                    decoded = base64.b64decode(rest, validate=True).decode("utf-8")
                    found += (decoded, decoded.partition(":")[2])
        if "=" in value:
            found.extend(pair.partition("=")[2].strip() for pair in re.split(r"[;,]", value))
    return [p for p in dict.fromkeys(found) if len(p) >= MIN_LENGTH]


@functools.lru_cache(maxsize=4 * MAX_REMEMBERED)
def _variants_of(value: str) -> tuple[str, ...]:
    """The forms of ``value`` the decoding views cannot undo: hex cases, base64 and hex."""
    forms = {value}
    if all(c in "0123456789abcdefABCDEF" for c in value):
        forms.update((value.lower(), value.upper()))
    if len(value) >= _MIN_ENCODED:
        raw = value.encode("utf-8")
        forms.update((raw.hex(), raw.hex().upper()))
        for shift in range(3):
            # The characters that depend on these bytes only, whatever surrounds them.
            padded = base64.b64encode(b"\0" * shift + raw + b"\0\0\0").decode("ascii")
            core = padded[-(-shift * 8 // 6) : (shift + len(raw)) * 8 // 6]
            if len(core) >= _MIN_ENCODED:
                forms.update((core, core.replace("+", "-").replace("/", "_")))
    return tuple(forms)


class _Known:
    """Literal forms indexed by their start; values by their ends (for cut-off pieces)."""

    def __init__(self, values: tuple[str, ...]) -> None:
        self.literals = tuple(dict.fromkeys(f for v in values for f in _variants_of(v)))
        self.index: dict[str, list[str]] = {}
        for literal in self.literals:
            self.index.setdefault(literal[:MIN_LENGTH], []).append(literal)
        self.heads: dict[str, list[str]] = {}
        self.tails: dict[str, list[str]] = {}
        for value in values:
            if len(value) > _MIN_PARTIAL:
                self.heads.setdefault(value[:_MIN_PARTIAL], []).append(value)
                self.tails.setdefault(value[-_MIN_PARTIAL:], []).append(value)
        self.longest = max(map(len, values), default=0)


# One layer of each family of escapes; _unescape reads the group names.
_JSON: Final = (
    r"\\u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u(?P<u4>[0-9a-fA-F]{4})|\\x(?P<x2>[0-9a-fA-F]{2})|\\(?P<simple>[\\/\"'bfnrt])"
)
_PERCENT: Final = r"(?P<percent>(?:%[0-9a-fA-F]{2})+)"
_HTML: Final = (
    r"&#(?P<dec>[0-9]{1,7});?|&#[xX](?P<hexa>[0-9a-fA-F]{1,6});?"
    r"|&(?P<named>[a-zA-Z][a-zA-Z0-9]{1,31};)"
)
_QUOTE_PLUS: Final = rf"{_PERCENT}|(?P<simple>\+)"
_ALL: Final = f"{_JSON}|{_PERCENT}|{_HTML}"
# Each family alone (a secret may hold another family's escape, "%12"), quote_plus, and all.
_DECODERS: Final = tuple(map(re.compile, (_JSON, _PERCENT, _HTML, _QUOTE_PLUS, _ALL)))
_SIMPLE: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "+": " "}


class _View(NamedTuple):
    """A text with escapes decoded; ``marks`` map each decoded escape to its span in ``parent``."""

    text: str
    marks: list[tuple[int, int, int]]  # (position here, start, end in the parent)
    parent: _View | None

    def _origin(self, pos: int, end: bool) -> int:
        lo = bisect.bisect_right(self.marks, pos, key=lambda mark: mark[0])
        at, start, stop = self.marks[lo - 1] if lo else (-1, 0, 0)
        if at == pos:
            return stop if end else start
        return stop + pos - at - 1 + end

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``[start, end)`` of this view came from."""
        a, b = self._origin(start, False), self._origin(end - 1, True)
        return self.parent.span(a, b) if self.parent is not None else (a, b)


def _decode(parent: _View, pattern: re.Pattern[str]) -> _View | None:
    """``parent`` with one more layer of escapes decoded, or ``None`` if it has none."""
    text = parent.text
    out: list[str] = []
    marks: list[tuple[int, int, int]] = []
    last = shrunk = 0  # how much shorter the decoded text is so far
    for m in pattern.finditer(text):
        kind, found, (start, stop) = m.lastgroup, m.group(m.lastgroup or 0), m.span()
        if kind == "percent":
            # A run of %XX is UTF-8: each character maps to the escapes of its bytes.
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            pieces: list[tuple[str, int, int]] = []  # characters and the spans they came from
            begin = start
            for k in range(0, len(found), 3):
                chars = decoder.decode(bytes([int(found[k + 1 : k + 3], 16)]))
                pieces.extend((char, begin, start + k + 3) for char in chars)
                if chars:
                    begin = start + k + 3
            pieces.extend((char, begin, stop) for char in decoder.decode(b"", final=True))
        else:
            if kind == "simple":
                char = _SIMPLE.get(found, found)
            elif kind == "named":
                char = html.entities.html5.get(found, "")
            else:
                code = int(found, 10 if kind == "dec" else 16)
                if kind == "low":  # a UTF-16 surrogate pair
                    code = 0x10000 + ((int(m["high"], 16) - 0xD800) << 10) + (code - 0xDC00)
                char = chr(code) if code <= 0x10FFFF else ""
            if len(char) != 1:
                continue  # not an escape after all: it stays in the text around it
            pieces = [(char, start, stop)]
        out.append(text[last:start])
        for at, (char, a, b) in enumerate(pieces, start - shrunk):
            out.append(char)
            marks.append((at, a, b))
        shrunk += stop - start - len(pieces)
        last = stop
    if not marks:
        return None
    out.append(text[last:])
    return _View("".join(out), marks, parent)


def _views(text: str) -> list[_View]:
    """The text, and each decoder's view of it, two layers deep (a percent-encoded JSON string)."""
    views = [_View(text, [], None)]
    seen = {text}
    for parent in views:  # grows as it goes: breadth first
        if parent.parent is None or parent.parent.parent is None:
            for pattern in _DECODERS:
                view = _decode(parent, pattern)
                if view is not None and view.text not in seen:
                    seen.add(view.text)
                    views.append(view)
    return views


_SCHEME: Final = r"\b[a-zA-Z][a-zA-Z0-9+.-]*://"
# A credential, not a word: 6+ characters, a digit or a symbol among them ("expected a string").
_CODED: Final = r"(?=[^\s\"'<>,;&]*[0-9_\-+/=.~])[^\s\"'<>,;&]{6,}"
_AUTH: Final = r"(?:bearer|basic|token|digest)\s+[^\s\"'<>,;]+"
_KEY: Final = r"api[-_]?key|apikey|token|secret|passw(?:or)?d|pwd|credentials?|signature"
_KEY_WORDS: Final = ("key", "token", "secret", "pass", "pwd", "credential", "signature")
_IS: Final = r"[\"']?\s*[:=]\s*[\"']?"  # key: value, key=value, "key": "value"
# Credentials their position gives away, each run only on a text with a trigger word: 10x faster.
_STRUCTURE: Final = tuple(
    (triggers, re.compile(pattern, re.IGNORECASE))
    for triggers, pattern in (
        (("://",), rf"{_SCHEME}([^/\s@\"'<>?#]+)@"),  # URL user-info
        (("://",), rf"{_SCHEME}[^\s?#\"'<>]*\?([^\s\"'<>#]+)"),  # URL query (a signature)
        (("authorization",), rf"\b(?:proxy-)?authorization{_IS}({_AUTH}|{_CODED})"),
        (("cookie",), rf"\b(?:set-)?cookie{_IS}([^\s=;\"'<>]+=[^\r\n\"'<>]*)"),
        (("bearer", "basic"), rf"\b(?:bearer|basic)\s+({_CODED}|[A-Za-z]{{20,}})"),
        (('"headers"',), r"\"headers\"\s*:\s*\{([^}]*)"),  # even cut short
        (('"argv"',), r"\"argv\"\s*:\s*\[([^\]]*)"),
        (_KEY_WORDS, rf"(?:{_KEY}){_IS}({_CODED})"),
    )
)
# An echoed base64 or hex blob is decoded and searched too, and hidden whole if it holds one.
_BLOB: Final = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def _from_blob(run: str) -> str | None:
    data = run.rstrip("=")
    data += "=" * (-len(data) % 4)
    try:
        if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", run):
            return bytes.fromhex(run).decode("utf-8")
        if "-" in data or "_" in data:
            return base64.urlsafe_b64decode(data).decode("utf-8")
        return base64.b64decode(data, validate=True).decode("utf-8")
    except ValueError:  # not base64, or not text
        return None


def _spans(text: str, also: tuple[str, ...] = (), nested: bool = False) -> list[tuple[int, int]]:
    """Every span of ``text`` that holds a secret (or one of ``also``) in any view."""
    global _cache
    with _lock:
        _drop_released()
        if _cache is None:
            _cache = _Known(tuple(dict.fromkeys([*_owned, *reversed(_unowned)])))
        known = _cache
    few = len(known.literals) <= 32  # a few: str.find; many: one pass over the index
    found: list[tuple[int, int]] = []
    for view in _views(text):
        body = view.text
        hits: list[tuple[int, int]] = []
        for literal in (*known.literals, *also) if few else also:
            at = body.find(literal)
            while at >= 0:
                hits.append((at, at + len(literal)))
                at = body.find(literal, at + 1)
        if not few:
            get = known.index.get
            for at in range(len(body) - MIN_LENGTH + 1):
                for literal in get(body[at : at + MIN_LENGTH], ()):
                    if body.startswith(literal, at):
                        hits.append((at, at + len(literal)))
        # A value's end at the text's start, or its beginning at the text's end (an excerpt).
        size = len(body)
        for at in range(max(0, size - known.longest + 1), size - _MIN_PARTIAL + 1):
            for value in known.heads.get(body[at : at + _MIN_PARTIAL], ()):
                if size - at < len(value) and value.startswith(body[at:]):
                    hits.append((at, size))
        for end in range(_MIN_PARTIAL, min(size, known.longest - 1) + 1):
            for value in known.tails.get(body[end - _MIN_PARTIAL : end], ()):
                if value.endswith(body[:end]):
                    hits.append((0, end))
        lowered = body.lower()
        for triggers, pattern in _STRUCTURE:
            if any(t in lowered for t in triggers):
                hits.extend(m.span(1) for m in pattern.finditer(body) if m.end(1) > m.start(1))
        if not nested:
            for m in _BLOB.finditer(body):
                decoded = _from_blob(m.group())
                if decoded is not None and _spans(decoded, also, nested=True):
                    hits.append(m.span())
        found.extend(view.span(a, b) for a, b in hits)
    return found


def _replace(text: str, spans: list[tuple[int, int]], limit: int | None = None) -> str:
    """``text`` up to ``limit`` with every span as ``***`` (a span over the limit is whole)."""
    out: list[str] = []
    last = 0
    stop = len(text) if limit is None else min(limit, len(text))
    for start, end in sorted(spans):
        if out and start <= last:  # overlaps or touches the span just hidden
            last = max(last, end)
        elif start < stop:
            out += (text[last:start], REDACTED)
            last = end
        else:
            break
    out.append(text[last:stop])
    return "".join(out)


def scrub_text(text: str, *, also: Iterable[str] = ()) -> str:
    """``text`` with every secret hidden, and the values in ``also`` however short."""
    return _replace(text, _spans(text, tuple(filter(None, also)))) if text else text


def excerpt(text: str, limit: int) -> str:
    """:func:`scrub_text` of ``text`` cut to ``limit`` (saying so); a secret at the cut is whole."""
    window = text[: limit + 2048]
    cut = f" [... cut after {limit} characters]" if len(text) > limit else ""
    return _replace(window, _spans(window), limit) + cut


# C0 and C1 controls (ESC among them), DEL, and the bidirectional overrides that reorder text.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES: Final = re.compile(rf"(?![\t\n]){_CONTROL.pattern}")


def _show(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters escaped visibly (ESC as ``\\x1b``): no forged lines."""
    return (_CONTROL_BUT_LINES if keep_newlines else _CONTROL).sub(_show, text)


_SENSITIVE_KEY: Final = re.compile(
    r"(?i)header|auth(?!or(?!i))|token|secret|passw|pwd|api[-_ ]?key|apikey|cookie|credential"
    r"|private[-_ ]?key|signature|^sig$|[-_]sig$|^argv$"
)


def redact_data(obj: Any, *, depth: int = 0) -> Any:
    """Decoded JSON with credential-like keys' values hidden, strings scrubbed, 64 levels deep."""
    if depth >= 64:
        return "..."
    if isinstance(obj, Mapping):
        return {k: _item(k, v, depth) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_data(v, depth=depth + 1) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


def _item(key: object, value: Any, depth: int) -> Any:
    """A mapping's value; under a credential-like key a dict keeps its keys, a list its length."""
    if not (isinstance(key, str) and _SENSITIVE_KEY.search(key)):
        return redact_data(value, depth=depth + 1)
    if isinstance(value, Mapping):
        return {str(k): REDACTED for k in value}
    if isinstance(value, list | tuple):
        return [REDACTED for _ in value]
    return REDACTED


def redact_store_url(url: str) -> str:
    """``url`` with its user-info, user names and credential-like query values as ``***``."""
    from yarl import URL  # loaded here: the CLI's output needs this module, not yarl

    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<unparsable store URL>"
    if parsed.user is not None or parsed.password is not None:
        # yarl cannot set a user-info of "***" without a user; rebuild the authority instead.
        parsed = parsed.with_user(REDACTED).with_password(None)
    query = dict(parsed.query.items())
    secret = [k for k in query if _SENSITIVE_KEY.search(k) or k.lower() in ("user", "username")]
    hidden = {**query, **dict.fromkeys(secret, REDACTED)}
    return str(parsed.with_query(hidden) if hidden != query else parsed)


def store_url_secrets(url: str) -> list[str]:
    """A store URL's password (raw, decoded) and credential-like query values (no user names)."""
    try:
        parts = urlsplit(url)
        found = [parts.password or "", unquote(parts.password or "")]
        found += [v for k, v in parse_qsl(parts.query) if _SENSITIVE_KEY.search(k)]
    except ValueError:
        return []
    return [s for s in dict.fromkeys(found) if s]

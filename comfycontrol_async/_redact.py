"""One home for keeping credentials out of every text the SDK makes: models, logs, errors, CLI.

By value: :func:`remember` registers credentials (client tokens, runner header values, URL
user-info) and :func:`scrub_text` hides each wherever it appears, raw or as a server echoes it:
JSON and Python escapes, percent-encoding (``quote``/``quote_plus``, either hex case), HTML
entities, one escape layer inside another, base64 (standard or URL-safe, at any alignment) and
hex, or cut short at a text's edge. By position, for values nobody registered: URL user-info and
queries, ``Authorization``/``Cookie``/key-like pairs, ``Bearer``/``Basic`` credentials, JSON
``headers`` and ``argv``; :func:`redact_data` hides decoded JSON by key, and
:func:`redact_store_url` a store URL's credentials. Values shorter than :data:`MIN_LENGTH` are
hidden only by position (hiding every "on" would garble every message).
Owned values live as long as their owner, the others in a bounded least-recently-remembered
set: forgetting is safe because texts are scrubbed when they are made. This module imports
nothing else of the SDK and does no I/O.
"""

from __future__ import annotations

import base64
import bisect
import codecs
import functools
import html.entities
import re
import threading
import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "MAX_REMEMBERED",
    "MIN_LENGTH",
    "REDACTED",
    "excerpt",
    "forget",
    "printable",
    "redact_data",
    "redact_store_url",
    "register_secret",
    "remember",
    "scrub_text",
    "store_url_secrets",
]

REDACTED: Final = "***"  # what a hidden value shows as
MIN_LENGTH: Final = 4  # remembered values shorter than this are not searched for in free text
MAX_REMEMBERED: Final = 4096  # values without an owner remembered at most; the oldest go first

_MIN_ENCODED: Final = 8  # values at least this long are also searched as base64 and hex
_MIN_PARTIAL: Final = 6  # a cut-off piece of a value this long at a text's edge is hidden
_MAX_DEPTH: Final = 64  # redact_data: deeper nesting is shown as one placeholder
_AUTH_SCHEMES: Final = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey"})

# -- the registry -----------------------------------------------------------------------------

_lock = threading.Lock()
# Values of collected owners. Their finalizer only queues them: it may run in the middle of a
# registry update (a garbage collection while the lock is held), so it must not take the lock.
_released: deque[tuple[str, ...]] = deque()
_unowned: OrderedDict[str, None] = OrderedDict()
_owned: Counter[str] = Counter()
_cache: _Known | None = None  # the registry ready to search, dropped whenever it changes


def remember(values: Iterable[object], *, owner: object | None = None) -> None:
    """Hide these credentials (non-empty ``str`` values) from every text made from now on.

    A compound value is split too: ``Bearer abc...`` also registers ``abc...``, ``Basic <b64>``
    the decoded ``user:password`` and its password, ``a=1; b=2`` each value. With an ``owner``
    (weakly referenceable) the values stay while it lives, else in the bounded recent set.
    """
    fresh = _split(values)
    if not fresh:
        return
    global _cache
    with _lock:
        _drop_released()
        # Values seen again (every decoded runner repeats its headers) keep the search index.
        known = all(v in _owned or v in _unowned for v in fresh)
        if owner is not None:
            _owned.update(fresh)
        else:
            for value in fresh:
                _unowned[value] = None
                _unowned.move_to_end(value)
        while len(_unowned) > MAX_REMEMBERED:
            _unowned.popitem(last=False)
            known = False
        if not known:
            _cache = None
    if owner is not None:
        weakref.finalize(owner, _released.append, tuple(fresh))


class _Handle:
    """Keeps a registered secret alive: its owner (a client, a store) holds it."""


def register_secret(value: str) -> object:
    """Remember ``value`` for as long as the returned handle is referenced, so that the secrets
    of closed, collected clients do not pile up in the registry."""
    handle = _Handle()
    remember([value], owner=handle)
    return handle


def forget(values: Iterable[object]) -> None:
    """Drop values registered without an owner (owned values go when their owner goes)."""
    global _cache
    parts = _split(values)
    with _lock:
        _drop_released()
        for part in parts:
            _unowned.pop(part, None)
        _cache = None


def _drop_released() -> None:
    """Forget the values of collected owners (the caller holds the lock)."""
    global _cache, _owned
    while _released:
        _owned -= Counter(_released.popleft())
        _cache = None


def _split(values: Iterable[object]) -> list[str]:
    return [part for v in values if isinstance(v, str) and v for part in _parts(v)]


def _parts(value: str) -> list[str]:
    """The value and its pieces (see :func:`remember`) of at least MIN_LENGTH characters, never
    words: ``"my pass phrase"`` must not hide every "pass"."""
    found = [value]
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() in _AUTH_SCHEMES and rest:
        found.append(rest)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(rest, validate=True).decode("utf-8")
            except ValueError:
                decoded = ""
            found.extend((decoded, decoded.partition(":")[2]))
    if "=" in value:
        found.extend(pair.partition("=")[2].strip() for pair in re.split(r"[;,]", value))
    return [p for p in dict.fromkeys(found) if len(p) >= MIN_LENGTH]


@functools.lru_cache(maxsize=4 * MAX_REMEMBERED)
def _variants_of(value: str) -> tuple[str, ...]:
    """Literal forms of ``value`` that the escape-decoding views cannot undo: base64 and hex."""
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
    """The registry, ready to search: literal forms indexed by their first characters, and
    values by their first and last characters (for pieces cut off at a text's edge)."""

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


def _snapshot() -> _Known:
    global _cache
    with _lock:
        _drop_released()
        if _cache is None:
            _cache = _Known(tuple(dict.fromkeys([*_owned, *reversed(_unowned)])))
        return _cache


# -- decoding views -------------------------------------------------------------------------

# One layer of each family of escapes; _unescape reads the group names.
_JSON_ESCAPES: Final = (
    r"\\u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u(?P<u4>[0-9a-fA-F]{4})"
    r"|\\x(?P<x2>[0-9a-fA-F]{2})"
    r"|\\(?P<simple>[\\/\"'bfnrt])"
)
_PERCENT_ESCAPES: Final = r"(?P<percent>(?:%[0-9a-fA-F]{2})+)"
_HTML_ESCAPES: Final = (
    r"&#(?P<dec>[0-9]{1,7});?|&#[xX](?P<hexa>[0-9a-fA-F]{1,6});?"
    r"|&(?P<named>[a-zA-Z][a-zA-Z0-9]{1,31};)"
)
# Each family alone (a secret may hold what looks like another family's escape, "%12"),
# percent-encoding in quote_plus form, and all together (a JSON string in a page).
_DECODERS: Final = tuple(
    re.compile(p)
    for p in (
        _JSON_ESCAPES,
        _PERCENT_ESCAPES,
        _HTML_ESCAPES,
        rf"{_PERCENT_ESCAPES}|(?P<plus>\+)",
        f"{_JSON_ESCAPES}|{_PERCENT_ESCAPES}|{_HTML_ESCAPES}",
    )
)
_SIMPLE: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _View(NamedTuple):
    """A text with its escapes decoded and, to map positions back to its ``parent``, ``marks``:
    ``(position here, start, end in the parent)`` per escape; other characters map one to one."""

    text: str
    marks: list[tuple[int, int, int]]
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
    length = last = 0
    for m in pattern.finditer(text):
        pieces = _unescape(m)
        if pieces is None:  # not an escape after all: it stays in the text around it
            continue
        out.append(text[last : m.start()])
        length += m.start() - last
        last = m.end()
        for char, start, stop in pieces:
            out.append(char)
            marks.append((length, start, stop))
            length += 1
    if not marks:
        return None
    out.append(text[last:])
    return _View("".join(out), marks, parent)


def _unescape(m: re.Match[str]) -> list[tuple[str, int, int]] | None:
    """The characters of one escape, each with the span of the source it came from."""
    kind = m.lastgroup
    found = m.group(kind or 0)
    start, stop = m.span()
    if kind == "percent":
        # A run of %XX is UTF-8: each character maps to the escapes of its bytes.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pieces: list[tuple[str, int, int]] = []
        begin = start
        for k in range(0, len(found), 3):
            chars = decoder.decode(bytes([int(found[k + 1 : k + 3], 16)]))
            pieces.extend((char, begin, start + k + 3) for char in chars)
            if chars:
                begin = start + k + 3
        pieces.extend((char, begin, stop) for char in decoder.decode(b"", final=True))
        return pieces
    if kind == "simple":
        char = _SIMPLE.get(found, found)
    elif kind == "named":
        char = html.entities.html5.get(found, "")
    elif kind == "plus":  # quote_plus form
        char = " "
    else:
        code = int(found, 10 if kind == "dec" else 16)
        if kind == "low":  # a UTF-16 surrogate pair
            code = 0x10000 + ((int(m["high"], 16) - 0xD800) << 10) + (code - 0xDC00)
        char = chr(code) if code <= 0x10FFFF else ""
    return [(char, start, stop)] if len(char) == 1 else None


def _views(text: str) -> list[_View]:
    """The text itself, and the text with each family of escapes decoded alone and all of
    them together, once and then again (a percent-encoded JSON string, a JSON page in HTML)."""
    views = level = [_View(text, [], None)]
    seen = {text}
    for _ in range(2):
        deeper = []
        for parent in level:
            for pattern in _DECODERS:
                view = _decode(parent, pattern)
                if view is not None and view.text not in seen:
                    seen.add(view.text)
                    deeper.append(view)
        views = views + deeper
        level = deeper
    return views


# -- finding secrets --------------------------------------------------------------------------

_SCHEME: Final = r"\b[a-zA-Z][a-zA-Z0-9+.-]*://"
# A value that looks like a credential rather than a word: 6 characters or more, a digit or a
# symbol among them ("Authorization: expected a string" is a message, not a leak).
_CODED: Final = r"(?=[^\s\"'<>,;&]*[0-9_\-+/=.~])[^\s\"'<>,;&]{6,}"
# Credentials their position gives away, each pattern with the words that must be in a text
# (lower case) for it to be worth running: one big alternation is ten times slower.
_STRUCTURE: Final = tuple(
    (triggers, re.compile(pattern, re.IGNORECASE))
    for triggers, pattern in (
        # URL user-info (scheme://user:password@host) and query (a signed URL's signature)
        (("://",), rf"{_SCHEME}([^/\s@\"'<>?#]+)@"),
        (("://",), rf"{_SCHEME}[^\s?#\"'<>]*\?([^\s\"'<>#]+)"),
        # Authorization and Cookie values (a header line, a JSON pair or key=value)
        (
            ("authorization",),
            r"\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
            rf"((?:bearer|basic|token|digest)\s+[^\s\"'<>,;]+|{_CODED})",
        ),
        (("cookie",), r"\b(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?([^\s=;\"'<>]+=[^\r\n\"'<>]*)"),
        # A credential after its scheme word, anywhere
        (("bearer", "basic"), rf"\b(?:bearer|basic)\s+({_CODED}|[A-Za-z]{{20,}})"),
        # "headers": {...} and "argv": [...], even cut short
        (('"headers"',), r"\"headers\"\s*:\s*\{([^}]*)"),
        (('"argv"',), r"\"argv\"\s*:\s*\[([^\]]*)"),
        # key: value, key=value or "key": "value" where the key names a credential
        (
            ("key", "token", "secret", "pass", "pwd", "credential", "signature"),
            r"(?:api[-_]?key|apikey|token|secret|passw(?:or)?d|pwd|credentials?|signature)"
            rf"[\"']?\s*[:=]\s*[\"']?({_CODED})",
        ),
    )
)
# A base64 or hex blob (a gateway that echoes the request encoded) is decoded and searched too,
# and hidden whole if it holds a credential nobody registered (an echoed "headers" object).
_BLOB: Final = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _from_blob(run: str) -> str | None:
    data = run.rstrip("=")
    data += "=" * (-len(data) % 4)
    try:
        if _HEX.fullmatch(run):
            return bytes.fromhex(run).decode("utf-8")
        if "-" in data or "_" in data:
            return base64.urlsafe_b64decode(data).decode("utf-8")
        return base64.b64decode(data, validate=True).decode("utf-8")
    except ValueError:  # not base64, or not text: nothing to read in it
        return None


def _spans(text: str, also: tuple[str, ...] = (), nested: bool = False) -> list[tuple[int, int]]:
    """Every span of ``text`` that holds a secret (or one of ``also``), in any view, possibly
    overlapping."""
    known = _snapshot()
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
        hits.extend(_edge_pieces(body, known))
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


def _edge_pieces(body: str, known: _Known) -> list[tuple[int, int]]:
    """A value's end at the text's start, or its beginning at the text's end (a cut excerpt)."""
    hits = []
    size = len(body)
    for at in range(max(0, size - known.longest + 1), size - _MIN_PARTIAL + 1):
        rest = body[at:]
        for value in known.heads.get(body[at : at + _MIN_PARTIAL], ()):
            if len(rest) < len(value) and value.startswith(rest):
                hits.append((at, size))
    for end in range(_MIN_PARTIAL, min(size, known.longest - 1) + 1):
        for value in known.tails.get(body[end - _MIN_PARTIAL : end], ()):
            if value.endswith(body[:end]):
                hits.append((0, end))
    return hits


def _replace(text: str, spans: list[tuple[int, int]], limit: int | None = None) -> str:
    """``text`` up to ``limit`` with every span replaced by ``***`` (a span over it is whole)."""
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
    """``text`` with every remembered secret, in any common encoding, and every credential its
    position gives away (URL user-info and query, ``Authorization`` values...) replaced by
    ``***``; so are the values in ``also``, however short (a store's password in its errors)."""
    extra = tuple(value for value in also if value)
    return _replace(text, _spans(text, extra)) if text else text


def excerpt(text: str, limit: int) -> str:
    """:func:`scrub_text` of the first ``limit`` characters of ``text``, saying if it was cut
    (a secret over the cut is hidden whole: secrets are looked for a little past it)."""
    window = text[: limit + 2048]
    cut = f" [... cut after {limit} characters]" if len(text) > limit else ""
    return _replace(window, _spans(window), limit) + cut


# -- control characters and data --------------------------------------------------------------

# C0 and C1 controls (ESC among them), DEL, and the bidirectional overrides that reorder text.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES: Final = re.compile(rf"(?![\t\n]){_CONTROL.pattern}")


def _show(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters escaped visibly (ESC shows as ``\\x1b``), so a server's
    page cannot move the cursor, recolour a terminal or forge a log line."""
    return (_CONTROL_BUT_LINES if keep_newlines else _CONTROL).sub(_show, text)


# Keys whose values are credentials ("headers", "argv", "api_key"...).
_SENSITIVE_KEY: Final = re.compile(
    r"header|auth(?!or(?!i))|token|secret|passw|pwd|api[-_ ]?key|apikey|cookie|credential"
    r"|private[-_ ]?key|signature|^sig$|[-_]sig$|^argv$",
    re.IGNORECASE,
)


def _hide(value: Any) -> Any:
    """A hidden value: a mapping keeps its keys (header names), a list its length."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED for k in value}
    if isinstance(value, list | tuple):
        return [REDACTED for _ in value]
    return REDACTED


def redact_data(obj: Any, *, depth: int = 0) -> Any:
    """A copy of decoded JSON with every value under a credential-like key hidden, at any depth,
    and every string passed through :func:`scrub_text`. Never raises on deep nesting: beyond
    64 levels the rest is shown as ``"..."``."""
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(obj, Mapping):
        return {
            k: _hide(v)
            if isinstance(k, str) and _SENSITIVE_KEY.search(k)
            else redact_data(v, depth=depth + 1)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_data(v, depth=depth + 1) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


# -- store URLs -------------------------------------------------------------------------------


def redact_store_url(url: str) -> str:
    """``url`` with its user-info and the values of credential-like query keys as ``***``."""
    from yarl import URL  # loaded here: the CLI's output needs this module, not yarl

    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<unparsable store URL>"
    if parsed.user is not None or parsed.password is not None:
        # yarl cannot set a user-info of "***" without a user; rebuild the authority instead.
        parsed = parsed.with_user(REDACTED).with_password(None)
    query = dict(parsed.query.items())
    # The credential keys of data, and user names (shown nowhere in a store URL).
    hidden = {
        k: REDACTED if _SENSITIVE_KEY.search(k) or k.lower() in ("user", "username") else v
        for k, v in query.items()
    }
    return str(parsed.with_query(hidden) if hidden != query else parsed)


def store_url_secrets(url: str) -> list[str]:
    """The password of ``url`` (raw and decoded) and its credential-like query values: what a
    store hides from its error texts (user names are not: they are often plain words)."""
    try:
        parts = urlsplit(url)
        found = [parts.password or "", unquote(parts.password or "")]
        found += [v for k, v in parse_qsl(parts.query) if _SENSITIVE_KEY.search(k)]
    except ValueError:
        return []
    return [s for s in dict.fromkeys(found) if s]

"""One home for keeping credentials out of every text that leaves the SDK.

Models, logs, exceptions and the command line all hide secrets through this module, in two ways:

* **by value**: :func:`remember` registers the values the SDK sends or receives as credentials
  (the API token of every client, every runner header value, user-info of endpoint URLs).
  :func:`scrub_text` then replaces each one wherever it appears in a text, raw or in the
  encodings a server uses when it echoes a request back: JSON escapes (``\\/``, ``\\uXXXX``,
  ``\\"``), percent-encoding (``quote`` and ``quote_plus``, either hex case), HTML escapes
  (named, decimal and hex entities), Python ``\\xNN`` escapes, base64 (standard and URL-safe, at
  any alignment inside a larger blob), hex dumps, and one escape layer inside another. A value cut
  short at the start or end of a text (a truncated answer) is hidden too.
* **by position**, for values nobody registered: URL user-info and query strings (signed URLs
  carry their signature there), ``Authorization``/``Cookie``/key-like header lines and
  ``Bearer``/``Basic`` credentials, and in JSON-like text the ``headers`` object, the ``argv``
  list and any pair whose key names a credential. :func:`redact_data` does the same on decoded
  JSON, by key.

Short values: a value shorter than :data:`MIN_LENGTH` (4) characters is not searched for in free
text, as hiding every ``"on"`` or ``"42"`` would garble every message while hiding nothing worth
stealing; it is still hidden wherever its position says it is a credential (header values in
reprs and data, ``Authorization`` lines, URL user-info). Encodings that produce short, common
fragments (base64, hex dumps) are searched for only for values of at least 8 characters.

The registry is bounded and forgets. Values registered with an ``owner`` (a client registers its
token that way) are kept exactly as long as the owner lives; other values (runner credentials)
live in a least-recently-remembered set of at most :data:`MAX_REMEMBERED` values. Forgetting is
safe because texts are scrubbed when they are made: an exception is clean from its construction,
so a forgotten token cannot come back through an old error.

This module must not import the rest of the SDK (everything else imports it) nor do I/O.
"""

from __future__ import annotations

import base64
import codecs
import html.entities
import re
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "MAX_REMEMBERED",
    "MIN_LENGTH",
    "REDACTED",
    "excerpt",
    "forget",
    "is_sensitive_key",
    "printable",
    "redact_data",
    "register_secret",
    "remember",
    "scrub_text",
]

REDACTED: Final = "***"
"""What a hidden value shows as."""

MIN_LENGTH: Final = 4
"""Remembered values shorter than this are not searched for in free text (see above)."""

MAX_REMEMBERED: Final = 4096
"""At most this many values without an owner are remembered; the oldest go first."""

_MIN_ENCODED: Final = 8  # values at least this long are also searched as base64 and hex
_MIN_PARTIAL: Final = 6  # a cut-off piece of a value this long at a text's edge is hidden
_MAX_DEPTH: Final = 64  # redact_data: deeper nesting is shown as one placeholder
# Words before a credential in an Authorization-like value ("Bearer <token>").
_AUTH_SCHEMES: Final = frozenset({"bearer", "basic", "token", "digest", "negotiate", "apikey"})

# -- the registry -----------------------------------------------------------------------------

_lock = threading.Lock()
# Values of owners just collected. The finalizer only queues them: it may run in the middle of
# a registry update (a garbage collection while the lock is held), so it must not take the lock.
_released: deque[tuple[str, ...]] = deque()
_unowned: OrderedDict[str, None] = OrderedDict()
_owned: dict[str, int] = {}
_variants: dict[str, tuple[str, ...]] = {}
# Built from the registry on demand, dropped whenever it changes.
_cache: _Known | None = None


def remember(values: Iterable[object], *, owner: object | None = None) -> None:
    """Register credential values to hide from every text the SDK produces from now on.

    A compound value is split too: ``Bearer abc...`` also registers ``abc...``, ``Basic <b64>``
    registers the decoded ``user:password`` and its password, and ``a=1; b=2`` each value.

    Args:
        values: The credential values (empty and non-``str`` items are ignored).
        owner: If given, the values stay registered while ``owner`` lives (it must be weakly
            referenceable); otherwise they join the bounded set of recent values.
    """
    fresh: list[str] = []
    for value in values:
        if isinstance(value, str) and value:
            fresh.extend(_parts(value))
    if not fresh:
        return
    global _cache
    with _lock:
        _drop_released()
        # Values seen again (every decoded runner repeats its headers) keep the search index.
        known = _cache is not None and all(v in _owned or v in _unowned for v in fresh)
        for value in fresh:
            if owner is not None:
                _owned[value] = _owned.get(value, 0) + 1
            else:
                _unowned[value] = None
                _unowned.move_to_end(value)
        while len(_unowned) > MAX_REMEMBERED:
            _unowned.popitem(last=False)
            known = False
        if not known:
            _cache = None
    if owner is not None:
        weakref.finalize(owner, _release, tuple(fresh))


class _Handle:
    """Keeps a registered secret alive: its owner (a client, a store) holds it."""

    __slots__ = ("__weakref__",)


def register_secret(value: str) -> object:
    """Remember ``value`` for as long as the returned handle is referenced.

    A client keeps the handle of its token, so the secrets of closed, collected clients do not
    pile up in the registry.
    """
    handle = _Handle()
    remember([value], owner=handle)
    return handle


def forget(values: Iterable[object]) -> None:
    """Drop values registered without an owner (owned values go when their owner goes)."""
    global _cache
    with _lock:
        _drop_released()
        for value in values:
            for part in _parts(value) if isinstance(value, str) and value else ():
                _unowned.pop(part, None)
        _cache = None


def _release(values: tuple[str, ...]) -> None:
    _released.append(values)


def _drop_released() -> None:
    """Forget the values of collected owners (the caller holds the lock)."""
    global _cache
    while _released:
        for value in _released.popleft():
            left = _owned.get(value, 0) - 1
            if left > 0:
                _owned[value] = left
            else:
                _owned.pop(value, None)
        _cache = None


def _parts(value: str) -> list[str]:
    """The value and the secret pieces of the structures it may have, each at least
    MIN_LENGTH long: the credential after an auth scheme, the values of ``k=v; k2=v2`` (a
    cookie) and the decoded ``user:password`` of ``Basic``. A value is not split into words:
    ``"my pass phrase here"`` must not hide every "here" of every message."""
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


def _variants_of(value: str) -> tuple[str, ...]:
    """Literal forms of ``value`` that the escape-decoding views cannot undo: base64 and hex."""
    cached = _variants.get(value)
    if cached is not None:
        return cached
    forms = {value}
    if all(c in "0123456789abcdefABCDEF" for c in value):
        forms.update((value.lower(), value.upper()))
    if len(value) >= _MIN_ENCODED:
        raw = value.encode("utf-8")
        forms.update((raw.hex(), raw.hex().upper()))
        for shift in range(3):
            # The characters that depend on these bytes only, whatever surrounds them.
            padded = base64.b64encode(b"\0" * shift + raw + b"\0\0\0").decode("ascii")
            first = -(-shift * 8 // 6)
            last = (shift + len(raw)) * 8 // 6
            core = padded[first:last]
            if len(core) >= _MIN_ENCODED:
                forms.update((core, core.replace("+", "-").replace("/", "_")))
    result = tuple(forms)
    if len(_variants) > 4 * MAX_REMEMBERED:
        _variants.clear()
    _variants[value] = result
    return result


class _Known:
    """The registry, ready to search: literal forms indexed by their first characters, and
    values by their first and last characters (for pieces cut off at a text's edge)."""

    __slots__ = ("heads", "index", "literals", "longest", "tails")

    def __init__(self, values: Iterable[str]) -> None:
        values = tuple(values)
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
        self.longest = max((len(v) for v in values), default=0)


def _snapshot() -> _Known:
    global _cache
    with _lock:
        _drop_released()
        if _cache is None:
            _cache = _Known(dict.fromkeys([*_owned, *reversed(_unowned)]))
        return _cache


# -- decoding views -------------------------------------------------------------------------

# One layer of each family of escapes; the groups are named for _unescape.
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
_PLUS: Final = r"(?P<plus>\+)"
# Each family alone (a secret may hold what looks like another family's escape, "%12"), all
# together (a JSON string in a page), and percent-encoding in quote_plus form.
_FAMILIES: Final = tuple(
    re.compile(p)
    for p in (
        _JSON_ESCAPES,
        _PERCENT_ESCAPES,
        _HTML_ESCAPES,
        f"{_PERCENT_ESCAPES}|{_PLUS}",
    )
)
_DECODERS: Final = (
    *_FAMILIES,
    re.compile(f"{_JSON_ESCAPES}|{_PERCENT_ESCAPES}|{_HTML_ESCAPES}"),
)
_SIMPLE: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _View:
    """A text with its escapes decoded, and the way back to positions in the original text.

    ``marks`` holds, for each decoded escape, ``(position in this view, start, end in the
    source)``; characters between escapes map one to one.
    """

    __slots__ = ("marks", "parent", "text")

    def __init__(self, text: str, marks: list[tuple[int, int, int]], parent: _View | None):
        self.text = text
        self.marks = marks
        self.parent = parent

    def _source(self, pos: int, end: bool) -> int:
        # The last escape at or before pos, found by bisection on view positions.
        lo, hi = 0, len(self.marks)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.marks[mid][0] <= pos:
                lo = mid + 1
            else:
                hi = mid
        if lo == 0:
            src = pos
        else:
            at, start, stop = self.marks[lo - 1]
            src = (stop if end else start) if at == pos else stop + (pos - at - 1)
        if end and (lo == 0 or self.marks[lo - 1][0] != pos):
            src += 1
        return src

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``[start, end)`` of this view came from."""
        a, b = self._source(start, False), self._source(end - 1, True)
        if self.parent is not None:
            return self.parent.span(a, b)
        return a, b


def _decode(text: str, pattern: re.Pattern[str], parent: _View | None) -> _View | None:
    """``text`` with one layer of escapes decoded, or ``None`` if it has none."""
    out: list[str] = []
    marks: list[tuple[int, int, int]] = []
    length = 0
    last = 0
    for m in pattern.finditer(text):
        chunk = text[last : m.start()]
        out.append(chunk)
        length += len(chunk)
        last = m.end()
        pieces = _unescape(m)
        if pieces is None:  # not an escape after all: keep it as it is
            out.append(m.group())
            length += len(m.group())
            continue
        for char, start, stop in pieces:
            out.append(char)
            marks.append((length, start, stop))
            length += 1
    if not marks:
        return None
    out.append(text[last:])
    return _View("".join(out), marks, parent)


def _unescape(m: re.Match[str]) -> list[tuple[str, int, int]] | None:
    found: dict[str, str | None] = m.groupdict()
    high, low, u4, x2, simple = (found.get(k) for k in ("high", "low", "u4", "x2", "simple"))
    percent, dec, hexa, named = (found.get(k) for k in ("percent", "dec", "hexa", "named"))
    start, stop = m.span()
    if high is not None and low is not None:
        code = 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)
        return [(chr(code), start, stop)]
    if (code_point := u4 or x2) is not None:
        return [(chr(int(code_point, 16)), start, stop)]
    if simple is not None:
        return [(_SIMPLE.get(simple, simple), start, stop)]
    if percent is not None:
        # A run of %XX is UTF-8: each character maps to the escapes of its bytes.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pieces: list[tuple[str, int, int]] = []
        begin = start
        for k in range(0, len(percent), 3):
            chars = decoder.decode(bytes([int(percent[k + 1 : k + 3], 16)]))
            for char in chars:
                pieces.append((char, begin, start + k + 3))
            if chars:
                begin = start + k + 3
        for char in decoder.decode(b"", final=True):
            pieces.append((char, begin, stop))
        return pieces
    if dec is not None or hexa is not None:
        code = int(dec, 10) if dec is not None else int(hexa or "0", 16)
        return [(chr(code), start, stop)] if code <= 0x10FFFF else None
    if named is not None:
        entity = html.entities.html5.get(named)
        return [(entity, start, stop)] if entity is not None and len(entity) == 1 else None
    return [(" ", start, stop)]  # "+" in quote_plus form


def _views(text: str) -> list[_View]:
    """The text itself, and the text with each family of escapes decoded alone and all of
    them together, once and then again (a percent-encoded JSON string, a JSON page in HTML)."""
    views = [_View(text, [], None)]
    seen = {text}
    level = views
    for _ in range(2):
        deeper = []
        for parent in level:
            for pattern in _DECODERS:
                view = _decode(parent.text, pattern, parent if parent.marks else None)
                if view is not None and view.text not in seen:
                    seen.add(view.text)
                    deeper.append(view)
        views.extend(deeper)
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
        # URL user-info: scheme://user:password@host
        (("://",), rf"{_SCHEME}([^/\s@\"'<>?#]+)@"),
        # URL query strings (a signed URL's signature lives there)
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


# A base64 or hex blob (a gateway that echoes the request encoded): decoded, it is searched
# too, and hidden whole if it holds a credential nobody registered (an echoed "headers" object).
_BLOB: Final = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _from_blob(run: str) -> str | None:
    data = run.rstrip("=")
    data += "=" * (-len(data) % 4)
    try:
        if _HEX.fullmatch(run):
            return bytes.fromhex(run).decode("utf-8")
        if "-" in data or "_" in data:
            raw = base64.urlsafe_b64decode(data)
        else:
            raw = base64.b64decode(data, validate=True)
        return raw.decode("utf-8")
    except ValueError:  # not base64, or not text: nothing to read in it
        return None


def _spans(text: str, nested: bool = False) -> list[tuple[int, int]]:
    """Every span of ``text`` that holds a secret, in any view, possibly overlapping."""
    known = _snapshot()
    literals, index = known.literals, known.index
    found: list[tuple[int, int]] = []
    for view in _views(text):
        body = view.text
        hits: list[tuple[int, int]] = []
        if len(literals) <= 32:
            for literal in literals:
                at = body.find(literal)
                while at >= 0:
                    hits.append((at, at + len(literal)))
                    at = body.find(literal, at + 1)
        elif index:
            get = index.get
            for at in range(len(body) - MIN_LENGTH + 1):
                bucket = get(body[at : at + MIN_LENGTH])
                if bucket is not None:
                    for literal in bucket:
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
                if decoded is not None and _spans(decoded, nested=True):
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
        start = body[:end]
        for value in known.tails.get(body[end - _MIN_PARTIAL : end], ()):
            if value.endswith(start):
                hits.append((0, end))
    return hits


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _replace(text: str, spans: list[tuple[int, int]], limit: int | None = None) -> str:
    """``text`` up to ``limit`` with every span replaced by ``***`` (a span over it is whole)."""
    out: list[str] = []
    last = 0
    stop = len(text) if limit is None else min(limit, len(text))
    for start, end in _merge(spans):
        if start >= stop:
            break
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    if last < stop:
        out.append(text[last:stop])
    return "".join(out)


def scrub_text(text: str) -> str:
    """``text`` with every remembered secret, in any common encoding, and every credential its
    position gives away (URL user-info and query, ``Authorization`` values...) replaced by
    ``***``."""
    if not text:
        return text
    return _replace(text, _spans(text))


def excerpt(text: str, limit: int) -> str:
    """:func:`scrub_text` of the first ``limit`` characters of ``text``, saying if it was cut.

    The secrets are looked for in a little more than ``limit`` characters, so that one running
    over the cut is hidden whole rather than leaving its first half behind.
    """
    if len(text) <= limit:
        return scrub_text(text)
    window = text[: limit + 2048]
    return _replace(window, _spans(window), limit) + f" [... cut after {limit} characters]"


# -- control characters -----------------------------------------------------------------------

# C0 and C1 controls (ESC among them), DEL, and the bidirectional overrides that reorder text.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _show(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters escaped visibly (ESC shows as ``\\x1b``), so a server's
    page cannot move the cursor, recolour a terminal or forge a log line."""
    return (_CONTROL_KEEP_LINES if keep_newlines else _CONTROL).sub(_show, text)


# -- data -------------------------------------------------------------------------------------

_SENSITIVE_KEY: Final = re.compile(
    r"header|auth(?!or(?!i))|token|secret|passw|pwd|api[-_ ]?key|apikey|cookie|credential"
    r"|private[-_ ]?key|signature|^sig$|[-_]sig$|^argv$",
    re.IGNORECASE,
)


def is_sensitive_key(key: object) -> bool:
    """Whether a value under ``key`` is a credential (``headers``, ``argv``, ``api_key``...)."""
    return isinstance(key, str) and _SENSITIVE_KEY.search(key) is not None


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
            k: _hide(v) if is_sensitive_key(k) else redact_data(v, depth=depth + 1)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_data(v, depth=depth + 1) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj

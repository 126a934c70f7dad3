"""Logging for the SDK: one logger, metadata only by default, secrets always redacted.

Everything logs through ``logging.getLogger("comfycontrol_async")``. By default a line holds
metadata only: method, path, status, attempt, request id, elapsed. ``COMFYCONTROL_LOG=debug``
adds a stderr handler at DEBUG and an excerpt of each answer's body, passed through
:func:`redact` first. Two guards keep secrets out: bodies are redacted by key (a runner's
``headers`` values, ``argv``, anything named like a token or password), and a filter on the
logger replaces every registered secret (the API tokens of live clients) wherever it appears in a
formatted line. This module must not log on its own or touch the root logger.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import weakref
from typing import Any, Final

__all__ = [
    "REDACTED",
    "body_excerpt",
    "log",
    "redact",
    "redact_text",
    "register_secret",
    "verbose",
]

log = logging.getLogger("comfycontrol_async")

REDACTED: Final = "***"
LOG_ENV: Final = "COMFYCONTROL_LOG"
_EXCERPT: Final = 500
_SECRET_KEYS: Final = re.compile(
    r"(authorization|token|secret|password|passwd|api[-_]?key|cookie|credential|signature|sig)",
    re.IGNORECASE,
)
# In text that is not JSON (a truncated answer): a headers object, even cut short, and any
# "key": "value" pair whose key names a credential.
_TEXT_HEADERS: Final = re.compile(r'("headers"\s*:\s*)\{[^}]*(\}|$)', re.IGNORECASE)
# ... and a server's command line (an argv list, even cut short), which may hold its keys.
_TEXT_ARGV: Final = re.compile(r'("argv"\s*:\s*)\[[^\]]*(\]|$)', re.IGNORECASE)
_TEXT_SECRET_PAIR: Final = re.compile(
    r'("[^"]*(?:authorization|token|secret|password|api[-_]?key|cookie|signature|sig)[^"]*"'
    r'\s*:\s*)"[^"]*("|$)',
    re.IGNORECASE,
)
# A URL's query string (signed URLs carry their signature there).
_URL_QUERY: Final = re.compile(r"(https?://[^\s\"'?#]*)\?[^\s\"'#]*", re.IGNORECASE)


class _Secret(str):
    """A ``str`` that can be held in a WeakSet (plain ``str`` cannot be weakly referenced)."""

    __slots__ = ("__weakref__",)


_secrets: weakref.WeakSet[_Secret] = weakref.WeakSet()


def register_secret(value: str) -> object:
    """Register a secret to scrub from every log line; returns a handle that keeps it alive.

    The secret stays registered as long as the returned handle is referenced (the client keeps
    it), so secrets of closed, collected clients do not pile up.
    """
    handle = _Secret(value)
    if len(value) >= 4:
        _secrets.add(handle)
    return handle


def _scrub(text: str) -> str:
    for secret in list(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RedactingFilter(logging.Filter):
    """Formats the record once and replaces registered secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is logging's problem, not ours
            return True
        cleaned = _scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_filter = _RedactingFilter()
if _filter not in log.filters:
    log.addFilter(_filter)


def redact(value: Any, *, key: str | None = None) -> Any:
    """A copy of decoded JSON with secret-bearing values replaced by ``***``.

    A runner's ``headers`` keep their names but lose their values; ``argv`` (a server's command
    line) is dropped whole; any key that looks like a credential is masked.
    """
    if key is not None:
        lowered = key.lower()
        if lowered == "headers" and isinstance(value, dict):
            return {str(k): REDACTED for k in value}
        if lowered == "argv":
            return REDACTED
        if _SECRET_KEYS.search(lowered) and not isinstance(value, dict | list):
            return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and "?" in value:
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """Text with URL query strings, headers objects, argv lists and credential pairs masked."""
    text = _URL_QUERY.sub(r"\1?" + REDACTED, text)
    text = _TEXT_HEADERS.sub(r"\1{" + REDACTED + "}", text)
    text = _TEXT_ARGV.sub(r'\1"' + REDACTED + '"', text)
    return _TEXT_SECRET_PAIR.sub(r'\1"' + REDACTED + '"', text)


def body_excerpt(body: bytes) -> str:
    """A redacted, shortened rendering of a body for debug logs."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:_EXCERPT].decode("utf-8", errors="replace")
        return _scrub(redact_text(text)) + ("..." if len(body) > _EXCERPT else "")
    text = json.dumps(redact(data), ensure_ascii=False)
    return _scrub(text[:_EXCERPT]) + ("..." if len(text) > _EXCERPT else "")


def verbose() -> bool:
    """Whether ``COMFYCONTROL_LOG=debug`` asks for body excerpts."""
    return os.environ.get(LOG_ENV, "").strip().lower() == "debug"


def configure_from_env() -> None:
    """Honour ``COMFYCONTROL_LOG``: add one stderr handler at that level, once."""
    level_name = os.environ.get(LOG_ENV, "").strip().upper()
    if not level_name:
        return
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        return
    log.setLevel(level)
    if not any(getattr(h, "_comfycontrol", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._comfycontrol = True  # type: ignore[attr-defined]
        log.addHandler(handler)

"""Logging for the SDK: one logger, metadata only by default, secrets always hidden.

Everything logs through ``logging.getLogger("comfycontrol_async")``, which has a
:class:`logging.NullHandler` so that an application without logging set up sees nothing. By
default a line holds metadata only: method, path, status, attempt, request id, elapsed.
``COMFYCONTROL_LOG=debug`` adds a stderr handler at DEBUG and an excerpt of each answer's body.

A filter on the logger passes every formatted line (and the traceback of ``log.exception``)
through :func:`comfycontrol_async._redact.scrub_text`, which hides every credential the SDK knows
and every one its position gives away, and escapes control characters, so a server's page can
neither leak a secret nor drive the terminal through a log. Neither the filter nor
:func:`body_excerpt` ever raises: a log line must never change what a caller gets. This module
must not log on its own or touch the root logger.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Final

import orjson

from ._redact import REDACTED, printable, redact_data, scrub_text

__all__ = [
    "REDACTED",
    "body_excerpt",
    "log",
    "verbose",
]

log = logging.getLogger("comfycontrol_async")

LOG_ENV: Final = "COMFYCONTROL_LOG"
_EXCERPT: Final = 500
# Bodies larger than this are shown from their raw start, never parsed for a debug line.
_PARSE_LIMIT: Final = 256 * 1024


def _clean(text: str) -> str:
    return printable(scrub_text(text))


class _RedactingFilter(logging.Filter):
    """Formats the record once, hides secrets and escapes control characters in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is logging's problem, not ours
            return True
        try:
            cleaned = _clean(message)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text when it is set: the traceback is shown scrubbed.
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = printable(scrub_text(text), keep_newlines=True)
        except Exception:  # never let logging change what the caller gets
            record.msg, record.args = "<log line hidden: it could not be checked for secrets>", None
        return True


_filter = _RedactingFilter()
if _filter not in log.filters:
    log.addFilter(_filter)
if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
    log.addHandler(logging.NullHandler())


def body_excerpt(body: bytes) -> str:
    """A scrubbed, shortened rendering of a body for debug logs. Never raises."""
    try:
        return _excerpt(body)
    except Exception as err:  # a debug line must never change the error a caller gets
        return f"<{len(body)} bytes; no excerpt: {type(err).__name__}>"


def _excerpt(body: bytes) -> str:
    if len(body) <= _PARSE_LIMIT:
        try:
            # orjson refuses nesting deeper than 1024 with a ValueError, never a RecursionError.
            data = orjson.loads(body)
        except ValueError:
            pass
        else:
            text = orjson.dumps(redact_data(data)).decode("utf-8")
            return _cut(text)
    return _cut(body[: _EXCERPT + 2048].decode("utf-8", errors="replace"), len(body) > _EXCERPT)


def _cut(text: str, longer: bool = False) -> str:
    # Scrubbed before the cut (in a window past it), so a secret over the cut is hidden whole.
    shown = printable(scrub_text(text[: _EXCERPT + 2048]))
    return shown[:_EXCERPT] + "..." if longer or len(text) > _EXCERPT else shown


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

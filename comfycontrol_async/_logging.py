"""The SDK's one logger (``comfycontrol_async``, with a NullHandler): metadata only, secrets hidden.
``COMFYCONTROL_LOG=debug`` adds a stderr handler and body excerpts. A filter scrubs every line and
traceback; neither it nor :func:`body_excerpt` ever raises. Never touches the root logger.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Final

import orjson

from ._redact import excerpt, printable, redact_data, scrub_text

log = logging.getLogger("comfycontrol_async")

LOG_ENV: Final = "COMFYCONTROL_LOG"
_EXCERPT: Final = 500
_PARSE_LIMIT: Final = 256 * 1024  # larger bodies are shown raw, never parsed


def _redacting_filter(record: logging.LogRecord) -> bool:
    """Formats the record once, hides secrets and escapes control characters."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is logging's problem, not ours
        return True
    try:
        cleaned = printable(scrub_text(message))
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse a set exc_text: the traceback is shown scrubbed.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = printable(scrub_text(text), keep_newlines=True)
    except Exception:  # never let logging change what the caller gets
        record.msg, record.args = "<log line hidden: it could not be checked for secrets>", None
    return True


log.addFilter(_redacting_filter)
if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
    log.addHandler(logging.NullHandler())


def body_excerpt(body: bytes) -> str:
    """A scrubbed, shortened rendering of a body for debug logs. Never raises."""
    try:
        text = body[: _EXCERPT + 2048].decode("utf-8", errors="replace")
        if len(body) <= _PARSE_LIMIT:
            # Not JSON, or deeper than orjson's 1024 levels (a ValueError, not a RecursionError).
            with contextlib.suppress(ValueError):
                text = orjson.dumps(redact_data(orjson.loads(body))).decode("utf-8")
        return printable(excerpt(text, _EXCERPT))
    except Exception as err:  # a debug line must never change the error a caller gets
        return f"<{len(body)} bytes; no excerpt: {type(err).__name__}>"


def verbose() -> bool:
    """Whether ``COMFYCONTROL_LOG=debug`` asks for body excerpts."""
    return os.environ.get(LOG_ENV, "").strip().lower() == "debug"


def configure_from_env() -> None:
    """Honour ``COMFYCONTROL_LOG``: add one stderr handler at that level, once."""
    level = logging.getLevelName(os.environ.get(LOG_ENV, "").strip().upper())
    if not isinstance(level, int):
        return
    log.setLevel(level)
    if not any(getattr(h, "_comfycontrol", False) for h in log.handlers):
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._comfycontrol = True  # type: ignore[attr-defined]
        log.addHandler(handler)

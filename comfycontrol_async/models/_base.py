"""What every model shares: the ``extra`` field, and reprs that keep secrets out of logs."""

from collections.abc import Mapping
from typing import Any

import attrs

from .._redact import REDACTED, redact_data, scrub_text


def repr_extra(value: Mapping[str, Any]) -> str:
    """Values under credential-like keys hidden at any depth, known secrets in every string."""
    return scrub_text(repr(redact_data(value)))


def repr_signed_url(value: str) -> str:
    """A signed URL without its query string: the signature is a credential."""
    base, sep, _ = value.partition("?")
    return scrub_text(repr(base + ("?" + REDACTED if sep else "")))


def repr_argv(value: list[str] | None) -> str:
    return "None" if value is None else f"<{len(value)} arguments hidden>"


def repr_opaque_object(value: Mapping[str, Any]) -> str:
    """Only the size of a workflow graph: large, and it may hold API keys of custom nodes."""
    return f"<object with {len(value)} keys>"


def extra_field() -> Any:
    return attrs.field(factory=dict, repr=repr_extra, kw_only=True)

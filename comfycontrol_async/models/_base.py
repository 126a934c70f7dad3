"""Pieces every model shares: the ``extra`` field and the helpers that keep secrets out of reprs.

This module owns how a model shows itself. It must not decode anything (that is
``comfycontrol_async._converter``'s job) and must not import other model modules.

Secrets can reach a model in three places: ``Runner.headers`` (the runner's credentials),
``SystemInfo.argv`` (a server command line, which may carry tokens) and whatever unknown keys the
server adds (kept in ``extra``). The repr helpers here hide the values in all three, so a model can
be logged or printed safely. The values themselves stay reachable on the attributes.
"""

from collections.abc import Mapping
from typing import Any

import attrs

from .._redact import REDACTED, redact_data, scrub_text

__all__ = [
    "REDACTED",
    "extra_field",
    "repr_argv",
    "repr_extra",
    "repr_header_names",
    "repr_opaque_object",
    "repr_signed_url",
    "repr_url_without_credentials",
]


def repr_extra(value: Mapping[str, Any]) -> str:
    """Repr of an ``extra`` mapping: values under credential-like keys hidden at any depth,
    remembered secrets and signed URLs' queries hidden in every string."""
    return scrub_text(repr(redact_data(value)))


def repr_signed_url(value: str) -> str:
    """A signed URL without its query string: the signature is a credential."""
    base, sep, _ = value.partition("?")
    return scrub_text(repr(base + ("?" + REDACTED if sep else "")))


def repr_url_without_credentials(value: str) -> str:
    """A URL with any ``user:password@`` masked (runner endpoints may carry them)."""
    return scrub_text(repr(value))


def repr_header_names(value: Mapping[str, str]) -> str:
    """Repr of HTTP headers that shows their names only, e.g. ``{'Authorization': '***'}``."""
    return repr(redact_data({"headers": value})["headers"])


def repr_argv(value: list[str] | None) -> str:
    """Repr of a server command line: only how many arguments it has."""
    if value is None:
        return "None"
    return f"<{len(value)} arguments hidden>"


def repr_opaque_object(value: Mapping[str, Any]) -> str:
    """Repr of a large opaque JSON object (a workflow graph): only its size.

    Workflow graphs can be large and can hold API keys of custom nodes, so they are not printed.
    """
    return f"<object with {len(value)} keys>"


def extra_field() -> Any:
    """The ``extra`` field every model ends with.

    It holds the keys of the payload that the model does not know, exactly as received, so that a
    key the server adds later is reachable (``model.extra["new_key"]``) rather than dropped. It is
    empty when the payload had no unknown keys. Its repr hides sensitive values.
    """
    return attrs.field(factory=dict, repr=repr_extra, kw_only=True)

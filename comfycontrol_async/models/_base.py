"""Pieces every model shares: the ``extra`` field and the helpers that keep secrets out of reprs.

This module owns how a model shows itself. It must not decode anything (that is
``comfycontrol_async._converter``'s job) and must not import other model modules.

Secrets can reach a model in three places: ``Runner.headers`` (the runner's credentials),
``SystemInfo.argv`` (a server command line, which may carry tokens) and whatever unknown keys the
server adds (kept in ``extra``). The repr helpers here hide the values in all three, so a model can
be logged or printed safely. The values themselves stay reachable on the attributes.
"""

import re
from collections.abc import Mapping
from typing import Any

import attrs

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

REDACTED = "***"
"""What a hidden value shows as in a repr."""

# Keys whose values are hidden in reprs: anything that names headers, auth, tokens, secrets,
# passwords, API keys, cookies or credentials, in any case and anywhere in the key.
_SENSITIVE_KEY = re.compile(
    r"header|auth|token|secret|passw|api[-_ ]?key|cookie|credential|private[-_ ]?key",
    re.IGNORECASE,
)


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and _SENSITIVE_KEY.search(key) is not None


def _hide(value: Any) -> Any:
    """Hide a value found under a sensitive key: a mapping keeps its key names only."""
    if isinstance(value, Mapping):
        return dict.fromkeys(value, REDACTED)
    return REDACTED


def _scrub(value: Any) -> Any:
    """Copy of ``value`` with every value under a sensitive key (at any depth) hidden."""
    if isinstance(value, Mapping):
        return {k: _hide(v) if _is_sensitive(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def repr_extra(value: Mapping[str, Any]) -> str:
    """Repr of an ``extra`` mapping with sensitive values hidden, at any depth."""
    return repr(_scrub(value))


def repr_signed_url(value: str) -> str:
    """A signed URL without its query string: the signature is a credential."""
    base, sep, _ = value.partition("?")
    return repr(base + ("?***" if sep else ""))


def repr_url_without_credentials(value: str) -> str:
    """A URL with any ``user:password@`` masked (runner endpoints may carry them)."""
    scheme, sep, rest = value.partition("://")
    authority, slash, path = rest.partition("/")
    if sep and "@" in authority:
        authority = REDACTED + "@" + authority.rpartition("@")[2]
        return repr(scheme + sep + authority + slash + path)
    return repr(value)


def repr_header_names(value: Mapping[str, str]) -> str:
    """Repr of HTTP headers that shows their names only, e.g. ``{'Authorization': '***'}``."""
    return repr(_hide(value))


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

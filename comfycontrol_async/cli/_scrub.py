"""The one function every line the command line prints goes through: :func:`scrub`.

It is the SDK's redaction (:mod:`comfycontrol_async._redact`: every remembered secret in any
common encoding, URL user-info and queries, credentials given away by their position) plus
visible escapes for control characters, so that a server's text cannot drive the terminal.
This run's own secrets are remembered before anything is parsed: the API token (``--token`` or
the environment) and the values of ``--header K=V``.

The redaction module loads on the first :func:`scrub` only (``--help`` never needs it); the
values remembered before then wait here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["REDACTED", "remember", "remember_argv", "scrub"]

REDACTED: Final = "***"

_pending: list[str] = []


def remember(values: Iterable[str]) -> None:
    """Hide these values wherever they would be printed, from now on."""
    _pending.extend(v for v in values if v)


def remember_argv(argv: Sequence[str], *, token_env: str | None) -> None:
    """Remember the secrets on a command line before it is parsed (and the token in the env).

    ``--token X``, ``--token=X``, ``--header K=V`` and ``--header=K=V``: the token and the header
    values, so that even a usage error about them cannot echo one.
    """
    values: list[str] = [token_env] if token_env else []
    for index, arg in enumerate(argv):
        name, sep, inline = arg.partition("=")
        if name not in ("--token", "--header"):
            continue
        value = inline if sep else (argv[index + 1] if index + 1 < len(argv) else "")
        if name == "--header":
            value = value.partition("=")[2] or value
        values.append(value)
    remember(values)


def scrub(text: str) -> str:
    """``text`` with every known secret hidden (``***``) and control characters escaped."""
    from .. import _redact

    if _pending:
        _redact.remember(_pending)
        _pending.clear()
    return _redact.printable(_redact.scrub_text(text), keep_newlines=True)

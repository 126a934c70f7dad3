"""The one function every line the command line prints goes through: :func:`scrub`.

It hides the secrets this run knows (the API token from ``--token`` or the environment, the
values of ``--header K=V``, and any value a command registers with :func:`remember`) and, in
any text, a URL's user-info and query (a password or a signature). It also shows control
characters, terminal escapes among them, as ``?``, so a server's text cannot drive the terminal.

It imports nothing heavy: usage errors are scrubbed before any command module loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["REDACTED", "remember", "remember_argv", "scrub"]

REDACTED: Final = "***"

_SECRETS: set[str] = set()
# C0 and C1 control characters, ESC among them, except tab and newline.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A URL in free text, up to the start of its query; the query (a signature, maybe) follows.
_URL_QUERY: Final = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"'<>]+)\?[^\s\"'<>]*")
# user:password@ in a URL's authority.
_URL_USERINFO: Final = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@\"'<>]+@")
# Secrets shorter than this are not replaced in free text: "a" would blank every "a".
_MIN_SECRET: Final = 4


def remember(values: Iterable[str]) -> None:
    """Hide these values (and their surrounding-whitespace-stripped forms) wherever printed."""
    for value in values:
        for form in (value, value.strip()):
            if len(form) >= _MIN_SECRET:
                _SECRETS.add(form)


def remember_argv(argv: Sequence[str], *, token_env: str | None) -> None:
    """Remember the secrets on a command line before it is parsed (and the token in the env).

    ``--token X``, ``--token=X``, ``--header K=V`` and ``--header=K=V``: the token and the header
    values, so that even a usage error about them cannot echo one.
    """
    values: list[str] = []
    if token_env:
        values.append(token_env)
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
    """``text`` with every known secret, URL user-info and URL query replaced by ``***``."""
    # Longest first, so a secret that contains another is hidden whole.
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_QUERY.sub(rf"\1?{REDACTED}", text)
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    return _CONTROL.sub("?", text)

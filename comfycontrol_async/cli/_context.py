"""What every command gets when it runs: :class:`Ctx` (options, consoles, output) and its client.

Loaded only once a command runs (it imports rich and the SDK). Output rules, one place each:

- results go to stdout: JSON with ``--json``; tab-separated rows with a header when stdout is
  not a terminal; a table or a field list on a terminal; an empty answer is a sentence;
- progress and notes go to stderr, whenever stderr is a terminal (whatever stdout is), unless
  ``--quiet``; errors are one ``error: ...`` line on stderr;
- every printed text passes :func:`~._scrub.scrub` (secrets, URL user-info and queries,
  terminal escapes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, NoReturn, TypeVar

import attrs
from rich.console import Console
from rich.table import Table
from rich.text import Text
from yarl import URL

from .._client import ComfyControl
from .._config import DEFAULT_RATE_LIMIT, TOKEN_ENV
from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ComfyControlError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
)
from .._redact import redact_data
from ._scrub import REDACTED, remember, scrub
from ._table import Column, render_table, tsv_lines

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "Column",
    "Ctx",
    "describe_error",
    "fmt_size",
    "header_names",
    "make_ctx",
    "plain",
    "safe_url",
    "tags_text",
    "usage_error",
    "when",
]

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_API: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

_UNITS: Final = {"GiB": 1024**3, "GB": 1000**3}


class CliError(Exception):
    """A failure the command line explains in one line, with its own exit code."""

    def __init__(self, message: str, code: int = EXIT_API) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def usage_error(message: str) -> NoReturn:
    """Stop the command with a usage error (exit 2)."""
    raise CliError(message, EXIT_USAGE)


@attrs.define(kw_only=True)
class Ctx:
    """One run of a command: its arguments, its two consoles and how to print results.

    Attributes:
        args: The parsed arguments (global options filled in).
        out: The console for results (stdout).
        err: The console for progress, notes and errors (stderr).
        managed_scope: The command touches managed runners (a 403 then means the tier).
    """

    args: argparse.Namespace
    out: Console
    err: Console
    managed_scope: bool = False

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)

    @property
    def live(self) -> bool:
        """Whether progress may be drawn: stderr is a terminal and ``--quiet`` is not given."""
        return self.err.is_terminal and not self.quiet

    # -- the client ------------------------------------------------------------------------

    def client(self) -> ComfyControl:
        """The client the global options describe; the token from ``--token`` or the env.

        Raises:
            CliError: No token (exit 2, naming the environment variable), or a bad option.
        """
        args = self.args
        token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
        if not token or not token.strip():
            usage_error(
                f"no API token: set the {TOKEN_ENV} environment variable (or pass --token); "
                "tokens are made in the ComfyControl dashboard"
            )
        remember([token])
        try:
            return ComfyControl(
                token,
                base_url=args.base_url,
                timeout=args.timeout,
                rate_limit=None if args.no_pacing else DEFAULT_RATE_LIMIT,
            )
        except ValueError as err:
            raise CliError(str(err), EXIT_USAGE) from None

    # -- output ----------------------------------------------------------------------------

    def print_json(self, data: Any) -> int:
        """Print ``data`` as JSON on stdout (secrets hidden); returns exit status 0.

        The data is redacted (by key, every string scrubbed), not the JSON text: a text rule
        would hide a ``headers`` object whole and break the JSON. JSON escapes control
        characters itself.
        """
        text = json.dumps(redact_data(data), indent=2, ensure_ascii=False, default=_json_default)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return EXIT_OK

    def line(self, text: str) -> None:
        """A line of plain text on stdout."""
        self.out.print(Text(scrub(text)))

    def note(self, text: str) -> None:
        """A dim remark on stderr (never on stdout, which may carry JSON); not with --quiet."""
        if not self.quiet:
            self.err.print(Text(scrub(text), style="dim"))

    def fail(self, message: str) -> None:
        """Write ``error: message`` on stderr as one plain line, with secrets hidden."""
        sys.stderr.write(f"error: {scrub(' '.join(message.split()))}\n")
        sys.stderr.flush()

    def print_rows(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        empty: str,
    ) -> None:
        """Rows as a table on a terminal, TSV with a header otherwise; ``empty`` if none."""
        if not rows:
            if self.out.is_terminal:
                self.line(empty)
            else:
                self.note(empty)
            return
        if not self.out.is_terminal:
            sys.stdout.write("".join(f"{line}\n" for line in tsv_lines(columns, rows)))
            sys.stdout.flush()
            return
        table, hidden = render_table(self.out, columns, rows, title=title)
        self.out.print(table)
        if hidden:
            self.note(f"(a wider terminal shows {', '.join(hidden)}; --json has everything)")

    def print_items(
        self,
        items: Sequence[T],
        *,
        noun: str,
        columns: Sequence[Column],
        cells: Callable[[T], Sequence[str]],
    ) -> int:
        """A list command's result: a JSON array (``plain`` items) or rows."""
        if self.json:
            return self.print_json(plain(list(items)))
        self.print_rows(
            columns,
            [cells(item) for item in items],
            title=f"{len(items)} {noun}{'' if len(items) == 1 else 's'}",
            empty=f"No {noun}s.",
        )
        return EXIT_OK

    def print_record(self, data: Any, rows: Sequence[tuple[str, str]]) -> int:
        """One object: JSON (``data``), ``field<TAB>value`` lines off a terminal, or a list."""
        if self.json:
            return self.print_json(data)
        if not self.out.is_terminal:
            lines = (f"{key}\t{' '.join(scrub(value).split())}" for key, value in rows)
            sys.stdout.write("".join(f"{line}\n" for line in lines))
            sys.stdout.flush()
            return EXIT_OK
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in rows:
            table.add_row(key, Text(scrub(value)))
        self.out.print(table)
        return EXIT_OK


def make_ctx(args: argparse.Namespace, **console: Any) -> Ctx:
    """The context of one run: no colour unless on a terminal, no markup, no highlighting.

    ``console`` options go to both consoles (tests pass ``force_terminal`` and ``width``).
    """
    # No markup or emoji codes: runner names, tags and messages are printed as they are.
    options: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False, **console}
    return Ctx(args=args, out=Console(**options), err=Console(stderr=True, **options))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


# -- plain data and formats -------------------------------------------------------------------


def safe_url(url: str | None) -> str:
    """A URL with its query and user info replaced by ``***`` (both may be credentials)."""
    return scrub(url) if url else ""


def plain(obj: Any) -> Any:
    """A model (or list of models) as JSON-ready data with every credential hidden.

    The SDK's ``redact_data`` does the hiding, by key at any depth: a runner's ``headers`` keep
    their names with ``***`` values, a server's ``argv`` becomes a list of ``***``, and every
    string is scrubbed (a signed ``src`` URL loses its query, an endpoint its user-info).
    """
    return redact_data(_plain(obj))


def _plain(obj: Any) -> Any:
    if attrs.has(type(obj)):
        return {f.name: _plain(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    return obj


def fmt_size(size: int | None, unit: str = "GiB") -> str:
    """Bytes in ``unit`` (``GiB`` or ``GB``) with one decimal; ``-`` when unknown."""
    if size is None:
        return "-"
    return f"{size / _UNITS[unit]:.1f} {unit}"


def when(value: dt.datetime | None) -> str:
    """A timestamp as ``2024-01-15 10:30:00 UTC`` (``-`` when absent)."""
    if value is None:
        return "-"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def tags_text(tags: Sequence[str]) -> str:
    """Tags as ``a, b`` (``-`` when none)."""
    return ", ".join(tags) or "-"


def header_names(headers: Mapping[str, str]) -> str:
    """Header names only: ``Authorization: ***, X-Key: ***`` (``-`` when none)."""
    return ", ".join(f"{name}: {REDACTED}" for name in headers) or "-"


# -- errors -----------------------------------------------------------------------------------


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _where(err: APIStatusError) -> str:
    if not err.method:
        return ""
    try:
        path = URL(err.url).path if err.url else ""
    except ValueError:
        path = ""
    return f" ({err.method} {path})" if path else f" ({err.method})"


def describe_error(exc: BaseException, *, managed: bool = False) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a command.

    Args:
        exc: The exception (exception groups are looked into).
        managed: Whether the command touched managed runners (a 403 then means the tier).
    """
    exc = _leaf(exc)
    if isinstance(exc, CliError):
        return exc.code, exc.message
    if isinstance(exc, AuthenticationError):
        return EXIT_USAGE, (
            f"authentication failed (401: {exc.message}): the API token is missing, unknown or "
            f"expired; check --token or the {TOKEN_ENV} environment variable"
        )
    if isinstance(exc, PermissionDeniedError):
        if managed:
            return EXIT_USAGE, (
                "managed runners need a Pro or Plus tier, and this account's tier does not "
                f"include them (403: {exc.message}); sweep your own runners with "
                "'capacity --runners'"
            )
        return EXIT_USAGE, f"permission denied (403: {exc.message}){_where(exc)}"
    if isinstance(exc, NotFoundError):
        return EXIT_API, f"not found (404: {exc.message}){_where(exc)}"
    if isinstance(exc, RateLimitError):
        wait = f"; retry in {exc.retry_after:.0f} s" if exc.retry_after else ""
        return EXIT_API, f"rate limited (429: {exc.message}){_where(exc)}{wait}"
    if isinstance(exc, APIStatusError):
        return EXIT_API, f"the API answered {exc.status}: {exc.message}{_where(exc)}"
    if isinstance(exc, APITimeoutError):
        return EXIT_API, f"timed out: {exc.message}"
    if isinstance(exc, APIConnectionError):
        return EXIT_API, f"could not reach the API: {exc.message}"
    if isinstance(exc, ResponseValidationError):
        return EXIT_API, f"unexpected answer from the API at {exc.path}: {exc.message}"
    if isinstance(exc, PaginationError):
        return EXIT_API, f"{exc.message} (resume at page {exc.next_page})"
    if isinstance(exc, ComfyControlError):
        return EXIT_API, exc.message
    if isinstance(exc, ValueError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError):
        return EXIT_API, str(exc)
    return EXIT_API, f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)"

"""What every ``comfycontrol`` command shares: output, redaction, errors and the client.

This module owns how the command line talks to the terminal: the two rich consoles (tables on
stdout, progress and errors on stderr), JSON output, human sizes, and the rules that keep secrets
off the screen (a runner's header values, a signed URL's query, a server's ``argv``, the API
token). It also maps exceptions to one ``error: ...`` line and an exit code. It holds no command
logic and parses no arguments; ``_cli`` does that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn, TypeVar

import attrs
from rich.console import Console
from rich.table import Table
from rich.text import Text
from yarl import URL

from . import _redact
from ._client import ComfyControl
from ._config import DEFAULT_RATE_LIMIT, TOKEN_ENV
from ._exceptions import (
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

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "REDACTED",
    "CliError",
    "Ctx",
    "add_row",
    "clean",
    "describe_error",
    "gib",
    "open_client",
    "plain",
    "positive_float",
    "positive_int",
    "safe_url",
    "scrub_text",
]

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_API: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
REDACTED: Final = "***"

_GIB: Final = 1024**3
# C0 and C1 control characters, ESC among them, except tab and newline.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Keys under which a value is a credential, in any case (the same idea as the models' reprs).
_SENSITIVE_KEY: Final = re.compile(
    r"header|auth|token|secret|passw|api[-_ ]?key|cookie|credential|private[-_ ]?key",
    re.IGNORECASE,
)


class CliError(Exception):
    """A failure the command line explains in one line, with its own exit code."""

    def __init__(self, message: str, code: int = EXIT_API) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@attrs.define(kw_only=True)
class Ctx:
    """One run of the command line: its arguments, its consoles, and the secrets to hide.

    Attributes:
        args: The parsed arguments.
        out: The console for results (stdout).
        err: The console for progress, notes and errors (stderr).
        json: Whether results are printed as JSON.
        secrets: Strings that must never be printed (the token in use).
    """

    args: argparse.Namespace
    out: Console
    err: Console
    json: bool = False
    secrets: set[str] = attrs.field(factory=set)

    @property
    def interactive(self) -> bool:
        """Whether live progress may be drawn: stderr is a terminal and stdout is not JSON."""
        return self.err.is_terminal and not self.json

    def print_json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout, unstyled, and end with a newline."""
        text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def print_items(
        self,
        items: Sequence[T],
        *,
        noun: str,
        columns: Sequence[str],
        cells: Callable[[T], Sequence[str | Text]],
    ) -> int:
        """Print a list command's result: JSON, or a table with one row per item."""
        if self.json:
            self.print_json(plain(items))
            return EXIT_OK
        table = Table(title=f"{len(items)} {noun}(s)", title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for item in items:
            add_row(table, *cells(item))
        self.out.print(table)
        return EXIT_OK

    def print_record(self, obj: Any, rows: Sequence[tuple[str, str]]) -> int:
        """Print one object: JSON, or a table of its fields."""
        if self.json:
            self.print_json(plain(obj))
        else:
            self.out.print(fields_table(rows))
        return EXIT_OK

    def line(self, text: str) -> None:
        """A line of plain text on stdout (server strings in it are made harmless)."""
        self.out.print(Text(clean(text)))

    def note(self, text: str) -> None:
        """A dim remark on stderr (never on stdout, which may carry JSON)."""
        self.err.print(Text(clean(text), style="dim"))

    def fail(self, message: str) -> None:
        """Write ``error: message`` on stderr as one plain line, with secrets hidden."""
        line = clean(" ".join(scrub_text(message, self.secrets).split()))
        sys.stderr.write(f"error: {line}\n")
        sys.stderr.flush()


def make_consoles() -> tuple[Console, Console]:
    """The stdout and stderr consoles: no colour unless they are terminals, no highlighting."""
    # No markup or emoji codes: runner names, tags and messages are printed as they are.
    out = Console(highlight=False, soft_wrap=False, markup=False, emoji=False)
    err = Console(stderr=True, highlight=False, markup=False, emoji=False)
    return out, err


def clean(text: str) -> str:
    """``text`` with control characters (terminal escapes among them) shown as ``?``."""
    return _CONTROL.sub("?", text)


def fields_table(rows: Sequence[tuple[str, str]]) -> Table:
    """A borderless two-column table of ``(field, value)`` rows, for one object."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        add_row(table, key, value)
    return table


def add_row(table: Table, *values: str | Text) -> None:
    """Add a row of plain text: no markup, control characters made harmless."""
    table.add_row(*(v if isinstance(v, Text) else Text(clean(v)) for v in values))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


# -- redaction --------------------------------------------------------------------------------


def safe_url(url: str | None) -> str:
    """A URL with its query and user info replaced by ``***`` (both may be credentials)."""
    if not url:
        return ""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return scrub_text(url, ())
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None).with_user(REDACTED)  # drops the password too
    text = str(parsed.with_query(None).with_fragment(None))
    return f"{text}?{REDACTED}" if parsed.raw_query_string else text


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with known secrets, URL queries and URL user info replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _redact.scrub_text(text)


def _hide_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): REDACTED for k in value}
    if isinstance(value, list | tuple):
        return [REDACTED for _ in value]
    return REDACTED


def _scrub_data(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _hide_value(v) if _SENSITIVE_KEY.search(str(k)) else _scrub_data(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_data(v) for v in value]
    return value


def plain(obj: Any) -> Any:
    """A model (or list of models) as JSON-ready data with every credential hidden.

    A runner's ``headers`` keep their names with ``***`` values, a server's ``argv`` becomes a
    list of ``***``, a signed ``src`` URL loses its query, and in ``extra`` every value under a
    key that names a credential is hidden.
    """
    if attrs.has(type(obj)):
        data: dict[str, Any] = {}
        for field in attrs.fields(type(obj)):
            value = getattr(obj, field.name)
            if field.name in ("headers", "argv") and value is not None:
                data[field.name] = _hide_value(value)
            elif field.name in ("src", "endpoint") and isinstance(value, str):
                data[field.name] = safe_url(value)
            elif field.name == "extra":
                data[field.name] = _scrub_data(plain(value))
            else:
                data[field.name] = plain(value)
        return data
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    return obj


# -- formatting -------------------------------------------------------------------------------


def gib(size: int | None) -> str:
    """Bytes as GiB with one decimal (``-`` when unknown)."""
    if size is None:
        return "-"
    return f"{size / _GIB:.1f} GiB"


def gib_pair(free: int | None, total: int | None) -> str:
    """``free / total GiB`` (``-`` when both are unknown)."""
    if free is None and total is None:
        return "-"
    left = "-" if free is None else f"{free / _GIB:.1f}"
    right = "-" if total is None else f"{total / _GIB:.1f}"
    return f"{left} / {right} GiB"


def when(value: dt.datetime | None) -> str:
    """A timestamp as ``2024-01-15 10:30:00 UTC`` (``-`` when absent)."""
    if value is None:
        return "-"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def tags_text(tags: Iterable[str]) -> str:
    """Tags as ``a, b`` (``-`` when none)."""
    joined = ", ".join(tags)
    return joined or "-"


def header_names(headers: Mapping[str, str]) -> str:
    """Header names only: ``Authorization: ***, X-Key: ***`` (``-`` when none)."""
    return ", ".join(f"{name}: {REDACTED}" for name in headers) or "-"


# -- the client -------------------------------------------------------------------------------


def open_client(ctx: Ctx) -> ComfyControl:
    """The client the global options describe; the token comes from ``--token`` or the env.

    Raises:
        CliError: No token (exit 2, naming the environment variable), or a bad option.
    """
    args = ctx.args
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    if not token or not token.strip():
        raise CliError(
            f"no API token: set the {TOKEN_ENV} environment variable (or pass --token); "
            "tokens are made in the ComfyControl dashboard",
            EXIT_USAGE,
        )
    ctx.secrets.add(token.strip())
    try:
        return ComfyControl(
            token,
            base_url=args.base_url,
            timeout=args.timeout,
            rate_limit=None if args.no_pacing else DEFAULT_RATE_LIMIT,
        )
    except ValueError as err:
        raise CliError(str(err), EXIT_USAGE) from None


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
                f"include them (403: {exc.message})"
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


def usage_error(message: str) -> NoReturn:
    """Stop the command with a usage error (exit 2)."""
    raise CliError(message, EXIT_USAGE)


# -- argument types ---------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value

"""Argument parsing shared by every command: the parser class, global options, value types.

Light on purpose (argparse and re only): ``comfycontrol --help``, ``--version`` and shell
completion build the whole parser, and must not load aiohttp, rich or cattrs to do it.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn, TypeVar

from ._scrub import scrub

N = TypeVar("N", int, float)

__all__ = [
    "EXIT_USAGE",
    "GLOBAL_DEFAULTS",
    "Parser",
    "Size",
    "command",
    "count",
    "global_options",
    "group",
    "key_values",
    "positive_float",
    "positive_int",
    "size",
    "suggest",
    "tag_list",
]

EXIT_USAGE: Final = 2

# The value of each global option when it is given nowhere on the command line.
GLOBAL_DEFAULTS: Final[dict[str, Any]] = {
    "token": None,
    "base_url": None,
    "timeout": 30.0,
    "no_pacing": False,
    "json": False,
    "quiet": False,
    "debug": False,
}


def suggest(word: str, candidates: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate, or nothing."""
    import difflib  # only on a usage error

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors suggest a close match and never echo a secret.

    An unknown subcommand suggests the closest one; unknown options are reported by name only
    (never their values, which may be a mistyped ``--tokn SECRET``) with the closest known
    option. Every message goes through :func:`scrub`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # a prefix today is an ambiguity tomorrow
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            word = choice.group(1)
            message = (
                f"{message.split(':')[0]}: unknown {word!r}{suggest(word, options)}"
                f" (choose from {', '.join(options)})"
            )
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {scrub(message)}\n")
        sys.stderr.write(f"Run '{self.prog} --help' for more.\n")
        raise SystemExit(EXIT_USAGE)

    def unknown_arguments(self, extras: Sequence[str]) -> NoReturn:
        """Report arguments nothing accepted: options by name with a suggestion, no values."""
        known = [s for action in self._actions for s in action.option_strings]
        options = [e.partition("=")[0] for e in extras if e.startswith("-") and e != "-"]
        if options:
            name = options[0]
            self.error(f"unknown option {name}{suggest(name, known)}")
        self.error(f"unexpected argument {extras[0]!r}")


def global_options() -> argparse.ArgumentParser:
    """The options every command accepts, before or after the subcommand.

    Added to the root parser and to every subcommand, with no defaults (``SUPPRESS``), so an
    option given before the subcommand is not reset by the subcommand's parser;
    ``GLOBAL_DEFAULTS`` fills in what was given nowhere.
    """
    parent = Parser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parent.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--token", metavar="TOKEN", help="the API token (default: $COMFYCONTROL_API_TOKEN)"
    )
    group.add_argument(
        "--base-url", metavar="URL", help="the API URL (default: $COMFYCONTROL_BASE_URL)"
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        metavar="S",
        help="seconds for each HTTP attempt (default 30)",
    )
    group.add_argument(
        "--no-pacing",
        action="store_true",
        help="do not pace requests under the API's limit (40 per 10 s)",
    )
    group.add_argument(
        "--json", action="store_true", help="print the result as JSON (shapes: README)"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress and no notes on stderr"
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="log every request and show a traceback on errors (secrets hidden)",
    )
    return parent


# -- value types ------------------------------------------------------------------------------


def ranged(
    parse: Callable[[str], N], ok: Callable[[N], bool], rule: str, noun: str = "a number"
) -> Callable[[str], N]:
    """An argparse type: ``parse`` the text, then refuse a value that is not ``ok`` by ``rule``."""

    def value_of(text: str) -> N:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    return value_of


positive_int = ranged(int, lambda v: v >= 1, "must be at least 1", "a whole number")
count = ranged(int, lambda v: v >= 0, "must be 0 or more", "a whole number")
# Seconds: finite and above 0 (float() reads "nan" and "inf").
positive_float = ranged(float, lambda v: 0 < v < math.inf, "must be a positive number")


class Size:
    """A size the user typed: its bytes, and the unit to show figures in (``GB`` or ``GiB``)."""

    __slots__ = ("bytes", "text", "unit")

    def __init__(self, nbytes: int, unit: str, text: str) -> None:
        self.bytes = nbytes
        self.unit = unit
        self.text = text

    def __repr__(self) -> str:
        return f"Size({self.text!r})"


_SIZE_UNIT: Final = re.compile(r"^\s*[0-9]*\.?[0-9]+\s*([A-Za-z]+)\s*$")


def size(text: str) -> Size:
    """``40GB`` (10^9 bytes), ``24GiB`` (2^30), ``512MiB``...; a unit is required.

    The SDK's ``parse_size`` reads a bare number as bytes; on a command line ``--min-vram 40``
    means nobody knows what, so it is refused rather than guessed.
    """
    match = _SIZE_UNIT.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} needs a unit: 40GB (10^9 bytes) or 24GiB (2^30 bytes)"
        )
    from ..capacity import parse_size  # only when the option is given

    try:
        nbytes = parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    unit = match.group(1)
    shown = "GiB" if unit.lower().endswith("ib") else "GB"
    return Size(nbytes, shown, text.strip())


def tag_list(text: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]``."""
    tags = [t.strip() for t in text.split(",") if t.strip()]
    if not tags:
        raise argparse.ArgumentTypeError("give at least one tag, e.g. gpu,production")
    return tags


def key_values(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; a missing ``=`` or key is a usage error.

    The error names the key only: the value may be a secret (``--header``).
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} takes KEY=VALUE (got an item without '=' or key)")
        out[key.strip()] = value
    return out


# -- registering commands ---------------------------------------------------------------------


def command(
    sub: Any,
    common: argparse.ArgumentParser,
    name: str,
    func: Any,
    *,
    help: str,
    description: str | None = None,
    **defaults: Any,
) -> argparse.ArgumentParser:
    """Add the command ``name`` run by ``func(ctx)``; it accepts the global options too."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[common], help=help, description=description or help
    )
    parser.set_defaults(func=func, command_parser=parser, **defaults)
    return parser


def group(sub: Any, name: str, *, help: str) -> Any:
    """Add the command group ``name`` (``runners``...) and return its subcommand parsers."""
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

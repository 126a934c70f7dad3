"""The ``comfycontrol`` command's shape: the parser, the global options, running one command.

Each command is one ``async def name(ctx) -> int`` in a module named after its noun
(``runners``, ``managed``, ``templates``, ``workflows``, ``capacity``, ``demo``...), registered
by that module's ``register(sub, common)``. Command modules import only argparse at load time
and what they need when they run, so ``--help``, ``--version`` and shell completion never load
aiohttp, rich or cattrs.

Exit status: 0 success; 1 an API error on a single call, or some runners failed in a sweep;
2 usage errors, authentication errors (401, no token) and permission errors (403); 130 when
interrupted. Errors are one ``error: ...`` line on stderr, never a traceback (unless ``--debug``)
and never a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from . import (
    capacity,
    completion,
    demo,
    exporter,
    managed,
    route,
    runners,
    templates,
    user,
    workflows,
)
from ._args import EXIT_USAGE, GLOBAL_DEFAULTS, Parser, global_options
from ._scrub import remember_argv, scrub

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["build_parser", "main"]

# The same names as the SDK's _config (a test checks): importing it here would cost attrs.
TOKEN_ENV: Final = "COMFYCONTROL_API_TOKEN"
BASE_URL_ENV: Final = "COMFYCONTROL_BASE_URL"
EXIT_INTERRUPTED: Final = 130

_EPILOG = f"""\
environment:
  {TOKEN_ENV}   the API token (made in the ComfyControl dashboard)
  {BASE_URL_ENV}    the API's base URL (default https://api.comfycontrol.app)
  COMFYCONTROL_LOG=debug   log every request to stderr (secrets hidden)

output: a table on a terminal; tab-separated rows with a header when piped; --json for
one stable JSON shape per command. Progress goes to stderr when it is a terminal.

exit status: 0 success; 1 API error, or some runners failed in a sweep; 2 usage,
authentication (401, no token) or permission (403) error; 130 interrupted.
Shell completion: comfycontrol completion bash|zsh|fish (see its --help).
Try 'comfycontrol demo': a capacity sweep of a fake fleet, no token needed."""


class _Version(argparse.Action):
    """``--version``: reads the installed metadata only when asked (it costs ~20 ms)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from .._version import __version__

        sys.stdout.write(f"comfycontrol {__version__}\n")
        parser.exit()


def build_parser() -> Parser:
    """The whole command line: global options and every subcommand."""
    parser = Parser(
        prog="comfycontrol",
        description="Command line for the ComfyControl API: runners, capacity sweeps, workflows.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options()],
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.set_defaults(func=None, command_parser=parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = global_options()
    for module in (
        user,
        runners,
        managed,
        capacity,
        route,
        exporter,
        templates,
        workflows,
        demo,
        completion,
    ):
        module.register(sub, common)
    return parser


@contextlib.contextmanager
def _debug_logging(on: bool) -> Iterator[None]:
    """``--debug``: the SDK's request log (metadata; bodies with COMFYCONTROL_LOG=debug) on
    stderr while the command runs. The SDK's logger scrubs its records; this handler scrubs the
    formatted line too."""
    if not on:
        yield
        return
    import logging

    class Scrubbed(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return scrub(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Scrubbed("debug: %(message)s"))
    logger = logging.getLogger("comfycontrol_async")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _run(ctx: Ctx) -> int:
    from ._context import describe_error

    try:
        with _debug_logging(ctx.args.debug):
            code: int = await ctx.args.func(ctx)
    except Exception as exc:  # every failure becomes one line and an exit status
        if ctx.args.debug:
            import traceback

            sys.stderr.write(scrub(traceback.format_exc()))
        code, message = describe_error(exc, managed=ctx.managed_scope)
        ctx.fail(message)
    return code


def _complete(parser: Parser) -> None:
    """Answer the shell's completion request (argcomplete's protocol) and exit, if it is one."""
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (``sys.exit(main())`` in scripts).

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    remember_argv(arguments, token_env=os.environ.get(TOKEN_ENV))
    parser = build_parser()
    _complete(parser)
    try:
        args, extras = parser.parse_known_args(arguments)
        if extras:
            args.command_parser.unknown_arguments(extras)
    except SystemExit as stop:  # --help, --version, or a usage error (already printed)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    import asyncio

    from ._context import make_ctx

    ctx = make_ctx(args)
    try:
        return asyncio.run(_run(ctx))
    except KeyboardInterrupt:
        if getattr(args, "interrupt_ok", False):
            return 0
        ctx.fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`comfycontrol ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1

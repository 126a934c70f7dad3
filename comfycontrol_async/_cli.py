"""The ``comfycontrol`` command (also ``python -m comfycontrol_async``).

This module owns the command line's shape: the argument parser, the global options, running a
command in its own event loop, and turning whatever ended it into an exit status. The commands
live in ``_cli_api`` (whoami, runners, managed), ``_cli_capacity``, ``_cli_workflows``
(workflows, templates) and ``_cli_demo`` (demo, fake-server); output and error rules live in
``_cli_common``.

Exit status: 0 success; 1 an API error on a single call, or some runners failed in a sweep;
2 usage errors, authentication errors (401, no token) and permission errors (403); 130 when
interrupted. Errors are one ``error: ...`` line on stderr, never a traceback (unless ``--debug``)
and never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence

from . import _cli_api, _cli_capacity, _cli_demo, _cli_workflows
from ._cli_common import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Ctx,
    describe_error,
    make_consoles,
    positive_float,
)
from ._config import BASE_URL_ENV, TOKEN_ENV
from ._version import __version__

__all__ = ["build_parser", "main"]

_EPILOG = f"""\
environment:
  {TOKEN_ENV}   the API token (made in the ComfyControl dashboard)
  {BASE_URL_ENV}    the API's base URL (default https://api.comfycontrol.app)
  COMFYCONTROL_LOG=debug   log every request to stderr (secrets redacted)

exit status: 0 success; 1 API error, or some runners failed in a sweep; 2 usage,
authentication (401, no token) or permission (403) error; 130 interrupted.
Try 'comfycontrol demo': a capacity sweep of a fake fleet, no token needed."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options and every subcommand."""
    parser = argparse.ArgumentParser(
        prog="comfycontrol",
        description="Command line for the ComfyControl API: runners, capacity sweeps, workflows.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"comfycontrol {__version__}")
    parser.add_argument("--token", metavar="TOKEN", help=f"the API token (default: ${TOKEN_ENV})")
    parser.add_argument("--base-url", metavar="URL", help=f"the API URL (default: ${BASE_URL_ENV})")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="seconds for each HTTP attempt (default 30)",
    )
    parser.add_argument(
        "--no-pacing",
        action="store_true",
        help="do not pace requests under the API's rate limit (40 per 10 s)",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.set_defaults(func=None, managed_scope=False, hint_runners=False, interrupt_ok=False)

    # Lets these flags follow the subcommand too, without resetting one given before it.
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print results as JSON"
    )
    local.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common = argparse.ArgumentParser(add_help=False, parents=[local])
    common.add_argument(
        "--no-pacing",
        action="store_true",
        default=argparse.SUPPRESS,
        help="do not pace requests under the API's rate limit",
    )

    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _cli_api.add_parsers(sub, common)
    _cli_capacity.add_parser(sub, common)
    _cli_workflows.add_parsers(sub, common)
    _cli_demo.add_parsers(sub, local)  # the demo never paces: the embedded fake has no limit
    return parser


async def _run(ctx: Ctx) -> int:
    args = ctx.args
    try:
        code: int = await args.func(ctx)
    except Exception as exc:  # every failure becomes one line and an exit status
        if args.debug:
            traceback.print_exc()
        code, message = describe_error(exc, managed=args.managed_scope)
        if args.hint_runners and code == EXIT_USAGE and "Pro or Plus" in message:
            message += "; sweep only your own runners with 'capacity --runners'"
        ctx.fail(message)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (``sys.exit(main())`` in scripts).

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error (already printed)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if args.func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    out, err = make_consoles()
    ctx = Ctx(args=args, out=out, err=err, json=args.json)
    try:
        return asyncio.run(_run(ctx))
    except KeyboardInterrupt:
        if args.interrupt_ok:
            return EXIT_OK
        ctx.fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`comfycontrol ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_API

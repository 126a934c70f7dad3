"""``comfycontrol completion SHELL``: print the shell completion script (via argcomplete).

The script asks ``comfycontrol`` itself for completions, so they always match the installed
version: commands, options, and choices such as ``--status``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]

_HELP = """\
Print a completion script for your shell. Install it with:

  bash:  comfycontrol completion bash >> ~/.bashrc
  zsh:   comfycontrol completion zsh >> ~/.zshrc
  fish:  comfycontrol completion fish > ~/.config/fish/completions/comfycontrol.fish

then open a new shell."""


async def completion(ctx: Ctx) -> int:
    import sys

    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode(["comfycontrol"], shell=ctx.args.shell))
    sys.stdout.flush()
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "completion",
        completion,
        help="print the shell completion script (bash, zsh or fish)",
        description=_HELP,
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="your shell")

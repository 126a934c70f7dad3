"""Run the fake as a standalone server (the ``comfycontrol fake-server`` command).

This module owns only starting :class:`FakeComfyControl` with a demo-sized fleet, printing how to
point a client at it, and serving until cancelled. It must not parse command lines (the CLI does).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ._fake import FakeComfyControl
from ._state import TIERS

__all__ = ["serve"]


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    managed: int = 50,
    runners: int = 10,
    out: TextIO = sys.stdout,
    seed: int = 0,
) -> None:
    """Start a fake ComfyControl, print its URL and one token per tier, serve until cancelled.

    The output is shell-friendly: the first lines are ``export`` statements for the pro user;
    every tier's token follows on a comment line of its own.

    Args:
        host: interface to listen on.
        port: TCP port (0 picks a free one).
        managed: size of the managed fleet.
        runners: own runners seeded for each default user (their stats answer 500: they point
            nowhere).
        out: where to print.
        seed: makes the fleet, ids and tokens reproducible.
    """
    # Keep the request log bounded: a demo server may run for hours.
    async with FakeComfyControl(
        host=host,
        port=port,
        seed=seed,
        managed_runners=managed,
        runners=runners,
        max_recorded=10_000,
    ) as fake:
        print(f"export COMFYCONTROL_BASE_URL={fake.url}", file=out)
        print(f"export COMFYCONTROL_API_TOKEN={fake.token('pro')}", file=out)
        for tier in TIERS:
            print(f"# {tier:<10} COMFYCONTROL_API_TOKEN={fake.token(tier)}", file=out)
        print(
            f"# fake ComfyControl on {fake.url} ({managed} managed runners, "
            f"{runners} runners per user); Ctrl-C to stop",
            file=out,
        )
        out.flush()
        await asyncio.Event().wait()

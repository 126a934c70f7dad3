"""``comfycontrol exporter``: the fleet's capacity for an existing Prometheus/Grafana.

Serves ``/metrics`` (``report.to_prometheus()``: DCGM-style GPU memory names) from a background
``cc.watch_capacity(share=...)``, which leaves the rest of the API's rate to other work. Stops
cleanly on Ctrl-C or SIGTERM. The server itself is in ``_metrics``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import command, count, ranged, tag_list
from .capacity import add_which

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]


async def exporter(ctx: Ctx) -> int:
    import asyncio
    import importlib.util
    import json
    import signal
    import sys

    from ._context import EXIT_OK, EXIT_USAGE, CliError
    from .capacity import which_runners

    if importlib.util.find_spec("prometheus_client") is None:
        raise CliError(
            "the exporter needs prometheus_client: pip install 'comfycontrol-async[prometheus]'",
            EXIT_USAGE,
        )
    from ._find_view import aside
    from ._metrics import Latest, serve

    args = ctx.args
    managed, own = which_runners(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: Ctrl-C still interrupts

    def ready(url: str) -> None:
        sys.stdout.write((json.dumps({"url": url}) if ctx.json else url) + "\n")
        sys.stdout.flush()
        aside(
            ctx,
            f"serving the fleet's capacity at {url} (watching within {args.share:g} of the "
            "API's rate); Ctrl-C stops",
        )

    try:
        async with ctx.client() as cc:
            await serve(
                cc,
                Latest(),
                host=args.host,
                port=args.port,
                share=args.share,
                managed=managed,
                own=own,
                tags=args.tags,
                stop=stop,
                ready=ready,
            )
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    ctx.note("stopped")
    return EXIT_OK


_share = ranged(float, lambda v: 0 < v <= 1, "must be above 0 and at most 1")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "exporter",
        exporter,
        help="serve the fleet's capacity to Prometheus at /metrics, until Ctrl-C",
        description=(
            "Watch the runners' live stats within a share of the API's rate and serve the "
            "latest capacity report at http://HOST:PORT/metrics in the Prometheus text format "
            "(DCGM-style names: DCGM_FI_DEV_FB_FREE... per GPU, comfycontrol_runner_* per "
            "runner). Needs 'pip install comfycontrol-async[prometheus]'. Prints the metrics "
            "URL on stdout once listening. Before the first report, /metrics answers 503 with "
            "the reason. Ctrl-C or SIGTERM stops it (exit 0)."
        ),
        interrupt_ok=True,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=count, default=9400, help="TCP port (default 9400; 0: any)")
    p.add_argument(
        "--share",
        type=_share,
        default=0.5,
        metavar="P",
        help="the part of the API's rate the watch may use, above 0 and at most 1 (default 0.5)",
    )
    p.add_argument(
        "--tags", type=tag_list, default=[], metavar="A,B", help="only runners with all these tags"
    )
    add_which(p)

"""A long-running asyncio service that keeps a live view of fleet capacity.

    COMFYCONTROL_API_TOKEN=cfc_... python examples/capacity_service.py --min-vram 24GiB

It refreshes the view with at most half of the client's request rate (the other half stays free
for the service's own calls), and after each refresh logs how many runners could take a job
that needs --min-vram of free VRAM right now. --reports N stops after N refreshes; without it the
service runs until it is stopped (Ctrl-C or SIGTERM), and stops cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from comfycontrol_async import ComfyControl

log = logging.getLogger("capacity-service")


async def watch(min_vram: str, reports: int | None) -> None:
    async with ComfyControl() as cc:
        seen = 0
        async for report in cc.watch_capacity(share=0.5):
            fitting = report.select(min_vram_free=min_vram)
            best = max((row.best_vram_free for row in fitting), default=0)
            log.info(
                "%d of %d runners have %s free (best: %.1f GiB); %d unreadable",
                len(fitting),
                len(report),
                min_vram,
                best / 2**30,
                len(report.failures),
            )
            seen += 1
            if reports is not None and seen >= reports:
                return


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-vram", default="24GiB")
    parser.add_argument("--reports", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await watch(args.min_vram, args.reports)
    except asyncio.CancelledError:
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

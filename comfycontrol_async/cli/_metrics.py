"""The exporter's server: ``/metrics`` serves the latest ``report.to_prometheus()`` of a
background ``cc.watch_capacity(share=...)``, on aiohttp's web server (already a dependency).

A scrape never waits for the API: it answers with the last report's text, rendered once when
the report arrived; before the first report, 503 with the reason. A watch that fails (a listing
error) is started again after a pause, and the last report is served meanwhile; an
authentication or tier error ends the exporter (nothing would ever change).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .._client import ComfyControl
from .._exceptions import AuthenticationError, ComfyControlError, PermissionDeniedError
from ._context import CliError
from ._scrub import scrub

__all__ = ["Latest", "serve"]

#: Seconds before a failed watch is started again (one window of the API's rate limit).
RESTART_PAUSE = 10.0


class Latest:
    """What ``/metrics`` serves: the latest report's text, or why there is none yet.

    Attributes:
        text: The Prometheus text of the latest report (scrubbed), ``None`` before the first.
        problem: Why there is no report yet (served with a 503).
        reports: How many reports have arrived.
        updated: Set each time a report arrives (tests wait on it).
    """

    def __init__(self) -> None:
        self.text: str | None = None
        self.problem = "no capacity report yet: the first runners' stats are being read"
        self.reports = 0
        self.updated = asyncio.Event()

    def publish(self, text: str) -> None:
        self.text = scrub(text)
        self.reports += 1
        self.updated.set()

    async def metrics(self, request: web.Request) -> web.Response:
        if self.text is None:
            return web.Response(
                status=503, text=f"{scrub(self.problem)}\n", headers={"Retry-After": "10"}
            )
        return web.Response(body=self.text.encode(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text="comfycontrol exporter: the fleet's capacity is at /metrics\n")


async def _watch(
    cc: ComfyControl,
    latest: Latest,
    *,
    share: float,
    managed: bool,
    own: bool,
    tags: Sequence[str],
) -> None:
    while True:
        try:
            async for report in cc.watch_capacity(
                managed=managed, own=own, share=share, tags=list(tags) or None
            ):
                latest.publish(report.to_prometheus())
        except (AuthenticationError, PermissionDeniedError):
            raise
        except ComfyControlError as err:
            latest.problem = (
                f"the capacity watch failed ({err.message}); it starts again in {RESTART_PAUSE:g} s"
            )
            sys.stderr.write(f"warning: {scrub(latest.problem)}\n")
            await asyncio.sleep(RESTART_PAUSE)


def _url(address: object, path: str) -> str:
    host, port = address[:2] if isinstance(address, tuple) else (str(address), 0)
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}{path}"


async def serve(
    cc: ComfyControl,
    latest: Latest,
    *,
    host: str,
    port: int,
    share: float,
    managed: bool,
    own: bool,
    tags: Sequence[str] = (),
    stop: asyncio.Event,
    ready: Callable[[str], None],
) -> None:
    """Serve ``/metrics`` on ``host:port`` (0: any free port) until ``stop`` is set.

    ``ready(url)`` is called once the socket listens. Returns once everything is closed.

    Raises:
        CliError: The address cannot be served.
        AuthenticationError, PermissionDeniedError: The watch cannot read the fleet.
    """
    app = web.Application()
    app.router.add_get("/metrics", latest.metrics)
    app.router.add_get("/", latest.index)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as err:
            raise CliError(f"could not serve on {host}:{port}: {err.strerror or err}") from None
        ready(_url(runner.addresses[0], "/metrics"))
        watch = asyncio.create_task(
            _watch(cc, latest, share=share, managed=managed, own=own, tags=tags)
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({watch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watch, stopping):
                task.cancel()
            await asyncio.gather(watch, stopping, return_exceptions=True)
        if watch in done:
            watch.result()  # the watch ended: only a fatal error does
    finally:
        await runner.cleanup()

"""The servers the benchmarks talk to, each in a child process of its own.

Timing benchmarks must not share an event loop (or, on a 2-core machine, a core) with the server
they measure, so every server here runs in a separate Python process started with
``python -m benchmarks._server``. Two kinds:

* ``fake``: :class:`comfycontrol_async.testing.FakeComfyControl`, the SDK's own fake API server,
  driven over a line protocol on the child's stdin/stdout (one JSON object per line) so that the
  parent can turn its knobs (latency, rate-limit emulation) and read its counters between runs.
* ``synthetic``: a minimal aiohttp app that serves ``GET /v1/managed-runner`` pages of any size
  generated on the fly, in the API's wire format (``{"runners": [...], "total": N}``). It exists
  for the 1,000,000-item walk: the fake keeps every runner as a Python object (about 1.4 KB each
  and a sorted insert per runner), which for a million runners costs over a gigabyte and minutes
  to build.

:class:`ServerProcess` is the parent's handle: an async context manager that starts the child,
reads its first line (URL, token, runner ids), sends commands and, on exit, closes the child's
stdin (the child then shuts down cleanly) and waits for it, killing it only if it hangs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

__all__ = ["ServerProcess", "synthetic_runner_bytes"]

# The line with every runner id can be long (10,000 ids are ~370 KB): raise the reader's limit.
_LINE_LIMIT: Final = 64 * 1024 * 1024
_PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import this package (and the SDK) however the parent was started.
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(_PROJECT_ROOT) + (os.pathsep + current if current else "")
    # Benchmarks measure production behaviour: no debug logging.
    env.pop("COMFYCONTROL_LOG", None)
    return env


class ServerProcess:
    """A benchmark server running in a child process.

    Args:
        kind: ``"fake"`` or ``"synthetic"``.
        managed: For ``fake``, the size of the managed fleet; for ``synthetic``, the list's total.
        max_recorded: For ``fake``, how many requests its log keeps.

    Attributes:
        url: The server's base URL (``http://127.0.0.1:PORT``).
        token: A pro-tier token.
        ids: The managed runner ids a pro user sees, newest first (``fake`` only).
    """

    def __init__(self, kind: str, *, managed: int, max_recorded: int = 1000) -> None:
        if kind not in ("fake", "synthetic"):
            raise ValueError(f"unknown server kind {kind!r}")
        self._argv = [
            sys.executable,
            "-m",
            "benchmarks._server",
            kind,
            "--managed",
            str(managed),
            "--max-recorded",
            str(max_recorded),
        ]
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.url = ""
        self.token = ""
        self.ids: list[str] = []
        self.pid = 0

    async def __aenter__(self) -> Self:
        process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_child_env(),
            limit=_LINE_LIMIT,
        )
        self._process = process
        self.pid = process.pid
        try:
            hello = await self._read()
        except BaseException:
            await self.aclose()
            raise
        self.url = str(hello["url"])
        self.token = str(hello["token"])
        self.ids = [str(i) for i in hello.get("ids", [])]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _read(self) -> dict[str, Any]:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark server {self._argv[3]} exited early")
        data = json.loads(line)
        if not isinstance(data, dict):
            raise RuntimeError(f"benchmark server said {line[:200]!r}")
        if "error" in data:
            raise RuntimeError(f"benchmark server: {data['error']}")
        return data

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one command to the child and return its answer."""
        process = self._process
        if process is None or process.stdin is None:
            raise RuntimeError("the server is not running")
        async with self._lock:
            process.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
            await process.stdin.drain()
            return await self._read()

    async def aclose(self) -> None:
        """Stop the child: close its stdin, wait for it, kill it if it does not end in time."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10.0)
        except TimeoutError:
            process.kill()
            await process.wait()
        finally:
            if process.stdin is not None:
                # Closing twice is harmless; waiting makes sure the pipe transport is released.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    await process.stdin.wait_closed()


# -- the child ----------------------------------------------------------------------------------


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def _commands() -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    return reader, transport


def _fake_command(fake: Any, op: str, args: dict[str, Any]) -> dict[str, Any]:
    if op == "set_latency":
        fake.set_latency(
            float(args["fixed"]), float(args.get("jitter", 0.0)), route=args.get("route")
        )
        return {"ok": True}
    if op == "enable_rate_limit":
        fake.enable_rate_limit(
            int(args["requests"]),
            float(args["per_seconds"]),
            float(args["cooldown"]),
            scale=float(args.get("scale", 1.0)),
        )
        return {"ok": True}
    if op == "disable_rate_limit":
        fake.disable_rate_limit()
        return {"ok": True}
    if op == "clear":
        fake.clear_faults()
        fake.clear_requests()
        fake.rate_limited_count = 0
        return {"ok": True}
    if op == "clear_requests":
        fake.clear_requests()
        return {"ok": True}
    if op == "counters":
        return {"rate_limited": fake.rate_limited_count, "cpu": time.process_time()}
    if op == "arrivals":
        # Arrival times (monotonic seconds, the clock the fake's rate limiter uses) of the
        # requests still in the log, with their statuses.
        return {
            "times": [r.time for r in fake.requests],
            "statuses": [r.status for r in fake.requests],
        }
    return {"error": f"unknown command {op!r}"}


async def _run_fake(managed: int, max_recorded: int) -> None:
    from comfycontrol_async.testing import FakeComfyControl

    reader, transport = await _commands()
    try:
        async with FakeComfyControl(
            managed_runners=managed, seed=0, max_recorded=max_recorded
        ) as fake:
            _emit({"url": fake.url, "token": fake.token("pro"), "ids": fake.managed_runner_ids()})
            while line := (await reader.readline()).strip():
                request = json.loads(line)
                args = {k: v for k, v in request.items() if k != "op"}
                try:
                    _emit(_fake_command(fake, str(request["op"]), args))
                except Exception as err:  # report it to the parent, keep serving
                    _emit({"error": f"{type(err).__name__}: {err}"})
    finally:
        transport.close()


_TIMESTAMPS: Final = tuple(
    (f"2024-01-{1 + d:02d}T{h:02d}:00:00Z", f"2024-02-{1 + d:02d}T{h:02d}:30:00Z")
    for d in range(28)
    for h in range(24)
)


def synthetic_runner_bytes(index: int) -> bytes:
    """The JSON of the ``index``-th managed runner of the synthetic list (as the API writes it)."""
    created, updated = _TIMESTAMPS[index % len(_TIMESTAMPS)]
    kind = "plus" if index % 3 == 0 else "pro"
    return (
        f'{{"id":"00000000-0000-4000-8000-{index:012d}","name":"Managed {kind} runner {index}",'
        f'"runner_type":"{kind}","status":"active","tags":["managed","gpu-h100","bench"],'
        f'"created_at":"{created}","updated_at":"{updated}"}}'
    ).encode()


def _page_bytes(total: int, page: int, per_page: int) -> bytes:
    start = (page - 1) * per_page
    stop = min(total, start + per_page)
    items = b",".join(synthetic_runner_bytes(i) for i in range(start, stop))
    return b'{"runners":[' + items + b'],"total":' + str(total).encode() + b"}"


async def _run_synthetic(total: int) -> None:
    from aiohttp import web

    async def list_page(request: web.Request) -> web.Response:
        try:
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "10"))
        except ValueError:
            page = per_page = 0
        if page < 1 or not 1 <= per_page <= 100:
            body = b'{"status":400,"message":"bad page or per_page"}'
            return web.Response(body=body, status=400, content_type="application/json")
        return web.Response(
            body=_page_bytes(total, page, per_page), content_type="application/json"
        )

    reader, transport = await _commands()
    app = web.Application()
    app.router.add_get("/v1/managed-runner", list_page)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        _emit({"url": f"http://{host}:{port}", "token": "cfc_synthetic_benchmark_token"})
        while line := (await reader.readline()).strip():
            request = json.loads(line)
            if request.get("op") == "counters":
                _emit({"rate_limited": 0, "cpu": time.process_time()})
            else:
                _emit({"error": f"unknown command {request.get('op')!r}"})
    finally:
        await runner.cleanup()
        transport.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A benchmark server (child process).")
    parser.add_argument("kind", choices=["fake", "synthetic"])
    parser.add_argument("--managed", type=int, default=12)
    parser.add_argument("--max-recorded", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        if args.kind == "fake":
            asyncio.run(_run_fake(args.managed, args.max_recorded))
        else:
            asyncio.run(_run_synthetic(args.managed))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

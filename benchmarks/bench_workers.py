"""Figure 9: many worker processes, one rate limit: with the shared Redis store and without it.

Four worker processes (``python -m benchmarks.bench_workers WORKER-JSON``, each its own
interpreter and event loop) each sweep 100 distinct managed runners with ``stats_many`` against
one fake server (a child process) that emulates the CDN's limit per client address (all workers
come from 127.0.0.1, so they share it, as workers behind one NAT do). Time is scaled like the
paced benchmark: 40 requests per ``10 s x scale`` window, a ``10 s x scale`` cooldown, on both
sides. The workers start together (each connects, says ``ready``, and waits for ``go``).

* **With the store**: every worker has ``RateLimit(store=redis://...)`` on a real
  ``redis-server`` started here on a free loopback port. Goal: 0 429s, and the four together at
  >= 90% of the allowed rate: ``(ceil(N / 40) - 1) x W`` (the least time ``N`` requests can take
  at 40 per window ``W``) over the measured time from ``go`` to the last result.
* **Without the store**: every worker paces itself alone, so the four send four times the
  allowed rate. The 429s the server answered are the reason the store exists.

The helpers here (:class:`RedisServer`, :func:`run_workers`, the worker's ``main``) are also
what ``tests/test_ratelimit_store.py`` uses for its multi-process tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from ._common import BenchResult, Figure, Sizes, fmt

__all__ = ["RedisServer", "WorkerReport", "free_port", "main", "run", "run_workers"]

_PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
_REQUESTS: Final = 40
_PER_SECONDS: Final = 10.0
_COOLDOWN: Final = 10.0
_JITTER: Final = 1.0
# Upper bound for a redis-server to start answering (a loaded machine may be slow).
_START_WAIT: Final = 20.0

WorkerReport = dict[str, Any]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A real ``redis-server`` on 127.0.0.1, no persistence, that can be killed and restarted.

    Use ``async with RedisServer() as redis:``; ``redis.url`` is its URL, ``await redis.kill()``
    stops it at once (SIGKILL, as a crash would), ``await redis.start()`` brings it back on the
    same port, empty.
    """

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.binary = found
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="cca-redis-")
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        try:
            give_up = time.monotonic() + _START_WAIT
            while True:
                try:
                    if await client.ping():
                        return
                except (redis.exceptions.ConnectionError, OSError):
                    if self._process.returncode is not None or time.monotonic() > give_up:
                        raise RuntimeError(f"redis-server did not start on {self.url}") from None
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """Kill the server (SIGKILL) and wait for it to be gone."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.kill()
        self._dir.cleanup()


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYCONTROL_")}
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(_PROJECT_ROOT) + (os.pathsep + current if current else "")
    return env


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr = b""

    async def line(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode().strip()


async def run_workers(
    *,
    url: str,
    token: str,
    ids: Sequence[str],
    processes: int,
    rate: dict[str, float],
    store: str | None,
    key: str | None = None,
    on_go: Any = None,
) -> tuple[list[WorkerReport], float]:
    """Run ``processes`` workers, each sweeping its own share of ``ids``, all started together.

    Returns each worker's report (its last stdout line as JSON, plus ``returncode`` and
    ``stderr``) and the seconds from ``go`` to the last worker's end. ``on_go``, if given, is
    awaited once every worker runs (the tests use it to kill and restart Redis mid-sweep).
    """
    share = len(ids) // processes
    workers: list[_Worker] = []
    try:
        for n in range(processes):
            config = {
                "url": url,
                "token": token,
                "ids": list(ids[n * share : (n + 1) * share]),
                "rate": rate,
                "store": store,
                "key": key,
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.bench_workers",
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=_child_env(),
                cwd=str(_PROJECT_ROOT),
            )
            workers.append(_Worker(process))
        for worker in workers:
            ready = await worker.line()
            if ready != "ready":
                raise RuntimeError(f"a worker did not start: {ready!r}")
        started = time.perf_counter()
        for worker in workers:
            assert worker.process.stdin is not None
            worker.process.stdin.write(b"go\n")
            await worker.process.stdin.drain()
        if on_go is not None:
            await on_go()
        outputs = await asyncio.gather(*(w.process.communicate() for w in workers))
        took = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.process.returncode is None:
                worker.process.kill()
                await worker.process.wait()
    reports: list[WorkerReport] = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        lines = out.decode().strip().splitlines()
        report: WorkerReport = json.loads(lines[-1]) if lines else {}
        report["returncode"] = worker.process.returncode
        report["stderr"] = err.decode(errors="replace")
        reports.append(report)
    return reports, took


async def _worker(config: dict[str, Any]) -> WorkerReport:
    from comfycontrol_async import ComfyControl, RateLimit

    rate = RateLimit(
        requests=int(config["rate"]["requests"]),
        per_seconds=float(config["rate"]["per_seconds"]),
        cooldown=float(config["rate"]["cooldown"]),
        jitter=float(config["rate"]["jitter"]),
        store=config["store"],
        key=config["key"],
    )
    ids: list[str] = config["ids"]
    errors: Counter[str] = Counter()
    ok = 0
    loop = asyncio.get_running_loop()
    async with ComfyControl(config["token"], base_url=config["url"], rate_limit=rate) as cc:
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        async with cc.managed_runners.stats_many(ids) as sweep:
            async for result in sweep:
                if result.ok:
                    ok += 1
                else:
                    errors[type(result.error).__name__] += 1
        pacer = cc._pacer
        report: WorkerReport = {
            "runners": len(ids),
            "ok": ok,
            "errors": dict(errors),
            "granted": pacer.granted,
            "shared_grants": pacer.shared_grants,
            "store_failures": pacer.store_failures,
            "store_recoveries": pacer.store_recoveries,
            "sharing_at_end": pacer.sharing,
            "pauses": pacer.pauses,
        }
    # Every background task of the client must be gone once it is closed.
    report["tasks_left"] = len(asyncio.all_tasks()) - 1
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The worker process: ``python -m benchmarks.bench_workers CONFIG-JSON``."""
    args = list(sys.argv[1:] if argv is None else argv)
    # As a service would: the SDK's logger only has a NullHandler, so warnings (the store lost,
    # pacing alone) reach stderr only through the application's own logging set-up.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = asyncio.run(_worker(json.loads(args[0])))
    print(json.dumps(report), flush=True)
    return 0


def _scaled_rate(scale: float) -> dict[str, float]:
    return {
        "requests": _REQUESTS,
        "per_seconds": _PER_SECONDS * scale,
        "cooldown": _COOLDOWN * scale,
        "jitter": _JITTER * scale,
    }


async def run(sizes: Sizes) -> BenchResult:
    from ._server import ServerProcess
    from .bench_paced import window_stats

    processes, each, scale = sizes.workers_processes, sizes.workers_runners, sizes.workers_scale
    total = processes * each
    window = _PER_SECONDS * scale
    minimum = (math.ceil(total / _REQUESTS) - 1) * window
    figures: list[Figure] = []
    metrics: dict[str, float] = {}
    rows: list[str] = []
    async with ServerProcess("fake", managed=total, max_recorded=4 * total) as server:
        ids = server.ids[:total]
        if len(ids) != total:
            raise RuntimeError(f"the fake has {len(ids)} visible runners, expected {total}")
        redis_cm: contextlib.AbstractAsyncContextManager[RedisServer | None]
        try:
            redis_cm = RedisServer()
        except FileNotFoundError:
            redis_cm = contextlib.nullcontext(None)
        async with redis_cm as redis:
            variants: list[tuple[str, str | None]] = [("without the store", None)]
            if redis is not None:
                variants.insert(0, ("with the store", redis.url))
            else:
                figures.append(
                    Figure(
                        name="with the store: not measured (redis-server is not installed)",
                        value=math.nan,
                        unit="count",
                        op="==",
                        goal=0.0,
                        reps=1,
                    )
                )
            for label, store in variants:
                await server.call("clear")
                await server.call(
                    "enable_rate_limit",
                    requests=_REQUESTS,
                    per_seconds=_PER_SECONDS,
                    cooldown=_COOLDOWN,
                    scale=scale,
                )
                reports, took = await run_workers(
                    url=server.url,
                    token=server.token,
                    ids=ids,
                    processes=processes,
                    rate=_scaled_rate(scale),
                    store=store,
                    key=f"bench:{time.time_ns()}",
                )
                counters = await server.call("counters")
                arrivals = await server.call("arrivals")
                await server.call("disable_rate_limit")
                rejected = int(counters["rate_limited"])
                ok = sum(int(r.get("ok", 0)) for r in reports)
                failed = sum(sum(r.get("errors", {}).values()) for r in reports)
                crashed = sum(r["returncode"] != 0 for r in reports)
                times = [
                    float(t)
                    for t, s in zip(arrivals["times"], arrivals["statuses"], strict=True)
                    if s != 429
                ]
                most, _ = window_stats(times, window, _REQUESTS) if times else (0, math.nan)
                # The rate while sweeping: the least span the answered requests could take over
                # their span in the server's arrival log (start-up and exit left out).
                span = max(times) - min(times) if len(times) > 1 else math.nan
                least = (math.ceil(len(times) / _REQUESTS) - 1) * window
                share = least / span if span > 0 else math.nan
                # Only meaningful when every request was answered (failures end early).
                wall = minimum / took if took > 0 and failed == 0 else math.nan
                tag = "store" if store else "alone"
                metrics |= {
                    f"{tag}_rate_limited": float(rejected),
                    f"{tag}_share_of_allowed": share,
                    f"{tag}_wall_share": wall,
                    f"{tag}_elapsed_s": took,
                    f"{tag}_ok": float(ok),
                    f"{tag}_failed": float(failed),
                    f"{tag}_crashed": float(crashed),
                }
                rows.append(
                    f"| {label} | {rejected} | {fmt(share, 'x')} | {fmt(wall, 'x')} | "
                    f"{took:.2f} s | {ok} | "
                    f"{failed} | {crashed} | {most} |"
                )
                name = f"{processes} workers x {each} runners {label}"
                if store:
                    figures += [
                        Figure(
                            name=f"{name}: 429s seen",
                            value=float(rejected),
                            unit="count",
                            op="==",
                            goal=0.0,
                            reps=1,
                            note=f"{ok + failed} of {total} runners accounted for",
                        ),
                        Figure(
                            name=f"{name}: share of the allowed rate",
                            value=share,
                            unit="x",
                            op=">=",
                            goal=0.9,
                            reps=1,
                            note=f"arrivals: (ceil(n/40) - 1) x W / span, W = {window:g} s; "
                            f"wall clock from go to exit: {fmt(wall, 'x')}",
                        ),
                    ]
                else:
                    figures.append(
                        Figure(
                            name=f"{name}: 429s caused (why the store exists)",
                            value=float(rejected),
                            unit="count",
                            op=">=",
                            goal=1.0,
                            reps=1,
                            note=f"{failed} of {total} runners ended in an error",
                        )
                    )
    details = [
        f"{processes} worker processes, each sweeping {each} distinct runners with "
        f"`stats_many` (default concurrency 32), all from 127.0.0.1 against one fake server "
        f"limiting 40 requests per W = {window:g} s window per address, 429 for a "
        f"{_COOLDOWN * scale:g} s cooldown (scale {scale:g}). The least time {total} requests "
        f"can take is (ceil({total}/40) - 1) x W = {minimum:.2f} s.",
        "",
        "| variant | 429s | share of allowed rate (arrivals) | same, wall clock | time | ok | "
        "errors | crashed | most arrivals in a window (allowed 40) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Share of allowed rate (judged) = (ceil(n/40) - 1) x W / (last arrival - first "
        "arrival), over the n answered (non-429) requests in the server's arrival log: the "
        "rate the workers kept while sweeping. The wall-clock share divides the least time for "
        f"all {total} by the time from `go` to the last worker's exit, so it also counts "
        "process start-up (the first connection to Redis) and teardown. Without the store each "
        "worker paces itself perfectly, so together they send up to four times the limit and "
        "the address spends its time in cooldown.",
    ]
    return BenchResult(
        key="workers",
        title="9. Many workers, one rate limit (shared Redis store)",
        figures=figures,
        details=details,
        metrics=metrics,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Measure what the fake costs under load: CPU seconds it burns per 1,000 requests.

Run ``python -m benchmarks.loadcheck [--requests 5000] [--connections 64]
[--managed 300]``. The fake runs in a child process (so its CPU time is its own); this process
drives it over loopback with raw aiohttp and asks the child for ``time.process_time()`` before and
after the run. The mix is sweep-like: stats of managed runners mostly, plus list pages, single
runners and the user. Nothing here is imported by the package; it is a developer tool.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

__all__ = ["main"]


async def _child(managed: int, runners: int) -> None:
    from comfycontrol_async.testing import FakeComfyControl

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        async with FakeComfyControl(
            managed_runners=managed, runners=runners, max_recorded=1000
        ) as fake:
            print(fake.url, fake.token("pro"), ",".join(fake.managed_runner_ids()), flush=True)
            mark = time.process_time()
            while line := (await reader.readline()).strip():
                if line == b"mark":
                    mark = time.process_time()
                    print("ok", flush=True)
                elif line == b"report":
                    print(f"{time.process_time() - mark:.6f}", flush=True)
    finally:
        transport.close()


async def _drive(requests: int, connections: int, managed: int) -> None:
    import aiohttp

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.loadcheck",
        "--child",
        "--managed",
        str(managed),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        url, token, ids_text = (await process.stdout.readline()).decode().split()
        ids = ids_text.split(",")
        pages = max(1, -(-len(ids) // 100))
        paths: list[str] = []
        for n in range(requests):
            kind = n % 10
            rid = ids[(n * 7) % len(ids)]
            if kind < 6:
                paths.append(f"/v1/managed-runner/{rid}/stats")
            elif kind < 8:
                paths.append(f"/v1/managed-runner?per_page=100&page={n % pages + 1}")
            elif kind == 8:
                paths.append(f"/v1/managed-runner/{rid}")
            else:
                paths.append("/v1/user")

        async def ask(command: bytes) -> str:
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(command + b"\n")
            await process.stdin.drain()
            return (await process.stdout.readline()).decode().strip()

        connector = aiohttp.TCPConnector(limit=connections)
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(url, connector=connector, headers=headers) as session:
            statuses: dict[int, int] = {}
            feed = iter(paths)

            async def worker() -> None:
                for path in feed:
                    async with session.get(path) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1

            # Warm up the connections and caches, then measure.
            warm = iter(paths[: connections * 2])
            for path in warm:
                async with session.get(path) as response:
                    await response.read()
            await ask(b"mark")
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - started
            cpu = float(await ask(b"report"))
        total = sum(statuses.values())
        print(f"requests:              {total} over {connections} connections ({statuses})")
        print(f"managed fleet:         {managed} runners")
        print(f"wall time:             {elapsed:.2f} s ({total / elapsed:,.0f} req/s)")
        print(f"fake CPU:              {cpu:.3f} s")
        print(f"fake CPU per 1,000:    {cpu * 1000 / total:.3f} s")
    finally:
        if process.stdin is not None:
            process.stdin.close()
        await process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--managed", type=int, default=300)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(args.managed, 0))
    else:
        asyncio.run(_drive(args.requests, args.connections, args.managed))


if __name__ == "__main__":
    main()

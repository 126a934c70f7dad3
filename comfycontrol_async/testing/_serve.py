"""Run the fake as a standalone server (the ``comfycontrol fake-server`` command).

What the fake simulates, in memory: the whole REST API of the SDK's contract (users of every
tier, own and managed runners, templates, workflows, outputs and their signed download URLs),
with managed runners' stats generated from a seed and workflows moved through their statuses on
a clock; no workflow is ever sent to a ComfyUI server. What it forwards: for an own runner
registered *without* canned stats (``runners create`` against the fake), ``runners stats``
fetches ``GET {endpoint}/system_stats`` and ``runners interrupt`` sends
``POST {endpoint}/interrupt``, each with the runner's headers. The runners this module seeds
carry canned stats, so every one of them answers.

This module owns only starting :class:`FakeComfyControl` with a demo fleet and the faults asked
for, printing how to point a client at it, and serving until cancelled. It parses no command
line (the CLI does).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from typing import Any, Final, TextIO

from ._fake import FakeComfyControl
from ._state import TIERS

__all__ = ["own_stats", "serve"]

_GIB: Final = 1024**3
# Cards people run ComfyUI on at home and in small studios: (label, tag, VRAM GiB, count, RAM GiB).
_OWN_CARDS: Final = (
    ("NVIDIA GeForce RTX 4090", "gpu-rtx4090", 24, 1, 64),
    ("NVIDIA GeForce RTX 3090", "gpu-rtx3090", 24, 1, 64),
    ("NVIDIA RTX A6000", "gpu-a6000", 48, 1, 128),
    ("NVIDIA RTX 6000 Ada Generation", "gpu-rtx6000", 48, 2, 256),
    ("NVIDIA GeForce RTX 4080 SUPER", "gpu-rtx4080", 16, 1, 32),
    ("NVIDIA L4", "gpu-l4", 24, 1, 64),
    ("NVIDIA GeForce RTX 4090", "gpu-rtx4090", 24, 2, 128),
    ("NVIDIA H100 PCIe", "gpu-h100", 80, 1, 256),
)
_VERSIONS: Final = ("0.3.77", "0.3.68", "0.3.43", "v0.3.27-4-g2b8e3f1")
_OWN_TAGS: Final = ("image-generation", "video-generation", "upscaling")


def own_stats(rng: random.Random) -> tuple[dict[str, Any], list[str]]:
    """A ``/system_stats`` document of a home or studio ComfyUI server, and its tags."""
    label, gpu_tag, vram_gib, count, ram_gib = rng.choice(_OWN_CARDS)
    devices = []
    for index in range(count):
        total = int(vram_gib * _GIB * 0.985)
        devices.append(
            {
                "name": f"cuda:{index} {label} : cudaMallocAsync",
                "type": "cuda",
                "index": index,
                "vram_total": total,
                "vram_free": int(total * rng.uniform(0.05, 0.97)),
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        )
    ram_total = ram_gib * _GIB
    stats = {
        "system": {
            "os": "linux",
            "ram_total": ram_total,
            "ram_free": int(ram_total * rng.uniform(0.2, 0.8)),
            "comfyui_version": rng.choice(_VERSIONS),
            "python_version": "3.12.9 (main, Feb  4 2025, 14:38:38) [GCC 12.2.0]",
            "pytorch_version": "2.6.0+cu126",
            "embedded_python": False,
            "argv": ["main.py", "--listen", "0.0.0.0"],
        },
        "devices": devices,
    }
    return stats, ["gpu", gpu_tag, rng.choice(_OWN_TAGS)]


def seed_own_runners(fake: FakeComfyControl, count: int, *, seed: int) -> None:
    """Give each seeded user ``count`` own runners with canned stats (they always answer)."""
    rng = random.Random(seed)
    for tier in TIERS:
        for index in range(count):
            stats, tags = own_stats(rng)
            fake.add_runner(
                tier,
                name=f"studio-{tier}-{index + 1:03d}",
                endpoint=f"https://comfy-{index + 1:03d}.{tier}.studio.example",
                headers={"Authorization": f"Bearer demo-{rng.getrandbits(64):016x}"},
                tags=tags,
                stats=stats,
            )


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    managed: int = 50,
    runners: int = 10,
    out: TextIO = sys.stdout,
    seed: int = 0,
    latency: float = 0.0,
    error_rate: float = 0.0,
    rate_limit: tuple[int, float] | None = None,
    as_json: bool = False,
) -> None:
    """Start a fake ComfyControl, print its URL and one token per tier, serve until cancelled.

    The output is shell-friendly: the first lines are ``export`` statements for the pro user;
    every tier's token follows on a comment line of its own.

    Args:
        host: interface to listen on.
        port: TCP port (0 picks a free one).
        managed: size of the managed fleet.
        runners: own runners seeded for each default user, with canned stats that answer.
        out: where to print.
        seed: makes the fleet, ids, tokens and faults reproducible.
        latency: seconds added to every answer (with as much seeded jitter again).
        error_rate: the share (0..1) of API requests answered 500 or 503.
        rate_limit: ``(requests, per_seconds)``: emulate the API's CDN limit (429 with
            ``Retry-After`` past it, for a cooldown as long as the window).
        as_json: print one JSON line instead (``base_url``, ``token`` of the pro user,
            ``tokens`` by tier), for tools that start the fake and read where it is.
    """
    # Keep the request log bounded: a demo server may run for hours.
    async with FakeComfyControl(
        host=host, port=port, seed=seed, managed_runners=managed, max_recorded=10_000
    ) as fake:
        seed_own_runners(fake, runners, seed=seed)
        if latency:
            fake.set_latency(latency, jitter=latency)
        if error_rate:
            fake.set_error_rate(error_rate, statuses=(500, 503))
        if rate_limit is not None:
            requests, per_seconds = rate_limit
            fake.enable_rate_limit(requests, per_seconds, per_seconds, retry_after=True)
        if as_json:
            tokens = {tier: fake.token(tier) for tier in TIERS}
            line = {"base_url": fake.url, "token": fake.token("pro"), "tokens": tokens}
            print(json.dumps(line), file=out, flush=True)
            await asyncio.Event().wait()
        print(f"export COMFYCONTROL_BASE_URL={fake.url}", file=out)
        print(f"export COMFYCONTROL_API_TOKEN={fake.token('pro')}", file=out)
        for tier in TIERS:
            print(f"# {tier:<10} COMFYCONTROL_API_TOKEN={fake.token(tier)}", file=out)
        faults = [
            f"{latency:g} s latency" if latency else "",
            f"{error_rate:.0%} errors" if error_rate else "",
            f"rate limit {rate_limit[0]} per {rate_limit[1]:g} s" if rate_limit else "",
        ]
        extra = "; ".join(f for f in faults if f)
        print(
            f"# fake ComfyControl on {fake.url} ({managed} managed runners, "
            f"{runners} runners per user{'; ' + extra if extra else ''}); Ctrl-C to stop",
            file=out,
        )
        out.flush()
        await asyncio.Event().wait()

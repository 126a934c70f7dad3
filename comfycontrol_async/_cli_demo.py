"""``comfycontrol demo`` and ``comfycontrol fake-server``: the SDK against the embedded fake.

``demo`` starts :class:`~comfycontrol_async.testing.FakeComfyControl` in-process with a seeded
fleet (managed runners, own runners that answer, a few that fail like unreachable ComfyUI servers
or a flaky service), sweeps it exactly as ``capacity --all`` does and answers "which runners can
take a 40 GB job right now?". It never reads a token or a base URL from the environment and never
leaves the loopback interface. ``fake-server`` serves the same fake until Ctrl-C.

The testing package is imported only when one of these commands runs: the other commands must not
pay for it.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any, Final

from rich.table import Table

from ._cli_capacity import Selection, gpu_text, print_report, report_data, run_sweep
from ._cli_common import EXIT_OK, CliError, Ctx, add_row, gib, usage_error
from ._client import ComfyControl
from .capacity import CapacityReport, parse_size

__all__ = ["add_parsers"]

_STATS_ROUTES: Final = ("GET /v1/managed-runner/{id}/stats", "GET /v1/runner/{id}/stats")
_JOB: Final = "40GB"
_SHOW: Final = 5
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


def _answer_40gb(ctx: Ctx, report: CapacityReport) -> dict[str, Any]:
    """Answer "which runners can take a 40 GB job right now?" (as data for ``--json``)."""
    picks = report.select(min_vram_free=_JOB)
    if ctx.json:
        return {
            "question": f"which runners can take a {_JOB} job right now?",
            "min_vram_free": parse_size(_JOB),
            "runners": [
                {
                    "runner_id": r.runner_id,
                    "name": r.name,
                    "kind": r.kind,
                    "best_vram_free": r.best_vram_free,
                }
                for r in picks
            ],
        }
    ctx.line(
        f"Which runners can take a 40 GB job right now? {len(picks)} of {len(report)}"
        + (", most free VRAM first:" if picks else ".")
    )
    table = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
    table.add_column("name", no_wrap=True, overflow="ellipsis")
    table.add_column("free", justify="right", no_wrap=True)
    table.add_column("GPU", no_wrap=True, overflow="ellipsis")
    for row in picks[:_SHOW]:
        add_row(
            table, row.name or row.runner_id, f"{gib(row.best_vram_free)} free on", gpu_text(row)
        )
    if picks:
        ctx.out.print(table)
    if len(picks) > _SHOW:
        ctx.line(f"  ... and {len(picks) - _SHOW} more ('capacity --min-vram 40GB' lists them all)")
    return {}


async def demo(ctx: Ctx) -> int:
    from .testing import FakeComfyControl

    args = ctx.args
    if not args.managed and not args.runners:
        usage_error("the demo needs some runners: --managed N or --runners N above 0")
    rng = random.Random(args.seed)
    failing_own = min(args.runners, max(1, args.runners // 20)) if args.runners else 0
    async with FakeComfyControl(
        seed=args.seed, managed_runners=args.managed, runners=failing_own
    ) as fake:
        for index in range(args.runners - failing_own):
            stats, tags = own_stats(rng)
            fake.add_runner(
                "pro",
                name=f"studio-{index + 1:03d}",
                endpoint=f"https://comfy-{index + 1:03d}.studio.example",
                headers={"Authorization": f"Bearer demo-{rng.getrandbits(64):016x}"},
                tags=tags,
                stats=stats,
            )
        # Realistic stats latency, and a few managed runners whose stats keep failing.
        for route in _STATS_ROUTES:
            fake.set_latency(0.02, jitter=0.06, route=route)
        managed_ids = fake.managed_runner_ids()
        flaky = rng.sample(managed_ids, k=min(len(managed_ids), max(1, args.managed // 60)))
        for number, runner_id in enumerate(flaky):
            fake.fail_next(
                503 if number % 2 else 500, times=10, route=_STATS_ROUTES[0], runner_id=runner_id
            )
        if not ctx.json:
            ctx.note(
                f"embedded fake ComfyControl at {fake.url} (seed {args.seed}): "
                f"{args.managed} managed runners, {args.runners} own runners, "
                f"{len(flaky) + failing_own} of them failing on purpose; pacing is off, as the "
                "embedded fake does not rate-limit"
            )
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
            report = await run_sweep(ctx, cc, managed=args.managed > 0, own=args.runners > 0)
    selection = Selection(min_vram=None, tags=())
    if ctx.json:
        data = report_data(ctx, report, selection)
        data["answer"] = _answer_40gb(ctx, report)
        ctx.print_json(data)
    else:
        print_report(ctx, report, selection)
        _answer_40gb(ctx, report)
    return EXIT_OK


async def fake_server(ctx: Ctx) -> int:
    from .testing._serve import serve

    args = ctx.args
    try:
        await serve(
            host=args.host,
            port=args.port,
            managed=args.managed,
            runners=args.runners,
            seed=args.seed,
            out=sys.stdout,
        )
    except OSError as err:
        raise CliError(
            f"could not serve on {args.host}:{args.port}: {err.strerror or err}"
        ) from None
    return EXIT_OK


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo`` and ``fake-server`` to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="a capacity sweep of an embedded fake fleet (no token, no network)",
        description=(
            "Start an embedded fake ComfyControl with a seeded fleet (realistic stats latency, "
            "a few runners failing on purpose), sweep it as 'capacity --all' does, and answer "
            "'which runners can take a 40 GB job right now?'. Needs no token and no network. "
            "Exit status 0 when the sweep itself worked, even though the runners that fail on "
            "purpose are reported as failed."
        ),
    )
    p.add_argument(
        "--managed", type=_count, default=240, metavar="N", help="managed runners (default 240)"
    )
    p.add_argument(
        "--runners", type=_count, default=60, metavar="N", help="own runners (default 60)"
    )
    p.add_argument("--seed", type=int, default=0, help="makes the fleet reproducible (default 0)")
    p.set_defaults(func=demo)

    p = sub.add_parser(
        "fake-server",
        help="serve a fake ComfyControl API for local testing, until Ctrl-C",
        description=(
            "Serve the fake ComfyControl API on HOST:PORT and print the base URL and a token for "
            "each tier (free, plus, pro, enterprise), as shell exports. Ctrl-C stops it."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=_count, default=8080, help="TCP port (default 8080; 0: any)")
    p.add_argument(
        "--managed", type=_count, default=50, metavar="N", help="managed runners (default 50)"
    )
    p.add_argument(
        "--runners",
        type=_count,
        default=10,
        metavar="N",
        help="own runners of each seeded user (default 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="makes the fleet reproducible (default 0)")
    p.set_defaults(func=fake_server, interrupt_ok=True)

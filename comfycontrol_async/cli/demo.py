"""``comfycontrol demo`` and ``comfycontrol fake-server``: the SDK against the embedded fake.

``demo`` starts :class:`~comfycontrol_async.testing.FakeComfyControl` in-process with a seeded
fleet (managed runners, own runners that answer, a few that fail like unreachable ComfyUI servers
or a flaky service), sweeps it exactly as ``capacity --all`` does and answers "which runners can
take a 40 GB job right now?". It never reads a token or a base URL from the environment and never
leaves the loopback interface. ``fake-server`` serves a fake until Ctrl-C, for other tools.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Final

from ._args import command, count, positive_int, ranged

if TYPE_CHECKING:
    from ..capacity import CapacityReport
    from ._context import Ctx

__all__ = ["register"]

_STATS_ROUTES: Final = ("GET /v1/managed-runner/{id}/stats", "GET /v1/runner/{id}/stats")
_JOB: Final = "40GB"
_SHOW: Final = 5


def _answer_40gb(ctx: Ctx, report: CapacityReport) -> dict[str, Any]:
    """Answer "which runners can take a 40 GB job right now?" (as data for ``--json``)."""
    from ..capacity import parse_size
    from ._capacity_view import gpu_text
    from ._context import Column, fmt_size

    picks = report.select(min_vram_free=_JOB)
    if ctx.json:
        return {
            "question": f"which runners can take a {_JOB} job right now?",
            "min_vram_free": parse_size(_JOB),
            "runners": [
                {
                    "id": r.runner_id,
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
    columns = (
        Column("name", essential=True, head=True),
        Column("id", essential=True, head=True),
        Column("best free", essential=True, right=True),
        Column("GPU", essential=True),
    )
    rows = [
        [r.name or "-", r.runner_id, fmt_size(r.best_vram_free, "GB"), gpu_text(r)]
        for r in picks[:_SHOW]
    ]
    if rows:
        ctx.print_rows(columns, rows, empty="")
    if len(picks) > _SHOW:
        ctx.line(f"... and {len(picks) - _SHOW} more ('capacity --min-vram 40GB' lists them all)")
    return {}


async def demo(ctx: Ctx) -> int:
    import random

    from .._client import ComfyControl
    from ..testing import FakeComfyControl
    from ..testing._serve import own_stats
    from ._capacity_view import Selection, print_report, report_data, run_sweep
    from ._context import usage_error

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
        ctx.note(
            f"embedded fake ComfyControl at {fake.url} (seed {args.seed}): "
            f"{args.managed} managed runners, {args.runners} own runners, "
            f"{len(flaky) + failing_own} of them failing on purpose; pacing is off, as the "
            "embedded fake does not rate-limit"
        )
        async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
            report = await run_sweep(ctx, cc, managed=args.managed > 0, own=args.runners > 0)
    selection = Selection(min_vram=None, tags=(), top=args.top)
    if ctx.json:
        data = report_data(report, selection)
        data["answer"] = _answer_40gb(ctx, report)
        return ctx.print_json(data)
    print_report(ctx, report, selection)
    if ctx.out.is_terminal:
        _answer_40gb(ctx, report)
    return 0


async def fake_server(ctx: Ctx) -> int:
    from ..testing import _serve
    from ._context import CliError

    args = ctx.args
    try:
        await _serve.serve(
            host=args.host,
            port=args.port,
            managed=args.managed,
            runners=args.runners,
            seed=args.seed,
            latency=args.latency,
            error_rate=args.error_rate,
            rate_limit=args.rate_limit,
            as_json=ctx.json,
        )
    except OSError as err:
        raise CliError(
            f"could not serve on {args.host}:{args.port}: {err.strerror or err}"
        ) from None
    return 0


_seconds = ranged(float, lambda v: 0 <= v <= 60, "must be within 0 and 60 seconds")
_share = ranged(float, lambda v: 0 <= v <= 1, "must be within 0 and 1")


def _rate(text: str) -> tuple[int, float]:
    requests, sep, seconds = text.partition("/")
    try:
        pair = (int(requests), float(seconds) if sep else 10.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N/S (e.g. 40/10), got {text!r}") from None
    if pair[0] < 1 or not pair[1] > 0:
        raise argparse.ArgumentTypeError(f"expected N >= 1 and S > 0, got {text!r}")
    return pair


_FAKE_HELP = """\
Serve a fake ComfyControl API on HOST:PORT, for trying the CLI and testing other tools, and
print the base URL and a token per tier (free, plus, pro, enterprise) as shell exports.

What it simulates, in memory: the whole REST API (users, own and managed runners, templates,
workflows, outputs with signed download URLs). Managed runners' stats are generated from the
seed; workflows move through their statuses on a clock and are never sent to any ComfyUI
server; outputs are served by the fake itself. Each user gets --runners own runners with canned
stats, so 'capacity --all' answers for every runner (exit 0).

What it forwards: only for an own runner you register yourself ('runners create' against the
fake), 'runners stats' fetches GET {endpoint}/system_stats and 'runners interrupt' sends
POST {endpoint}/interrupt, each with the runner's headers. Nothing else leaves the fake.

Faults for other tools: --latency, --error-rate, --rate-limit. With --json it prints one line,
{"base_url": ..., "token": ..., "tokens": {tier: token}}, instead of the exports. Ctrl-C stops
it."""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(
        sub,
        common,
        "demo",
        demo,
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
        "--managed", type=count, default=240, metavar="N", help="managed runners (default 240)"
    )
    p.add_argument(
        "--runners", type=count, default=60, metavar="N", help="own runners (default 60)"
    )
    p.add_argument("--seed", type=int, default=0, help="makes the fleet reproducible (default 0)")
    p.add_argument("--top", type=positive_int, metavar="N", help="show only the first N runners")

    p = command(
        sub,
        common,
        "fake-server",
        fake_server,
        help="serve a fake ComfyControl API for local testing, until Ctrl-C",
        description=_FAKE_HELP,
        interrupt_ok=True,
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=count, default=8080, help="TCP port (default 8080; 0: any)")
    p.add_argument(
        "--managed", type=count, default=50, metavar="N", help="managed runners (default 50)"
    )
    p.add_argument(
        "--runners",
        type=count,
        default=10,
        metavar="N",
        help="own runners of each seeded user, all answering (default 10)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="makes fleet, tokens and faults reproducible"
    )
    p.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="delay every answer by S to 2S seconds (default 0)",
    )
    p.add_argument(
        "--error-rate",
        type=_share,
        default=0.0,
        metavar="P",
        help="answer this share (0 to 1) of API requests with 500 or 503 (default 0)",
    )
    p.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N/S",
        help="allow N requests per S seconds per client, then 429 with Retry-After for S "
        "seconds (the real API: 40/10); default: no limit",
    )

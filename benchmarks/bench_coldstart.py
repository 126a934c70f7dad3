"""Figure 7: cold start, whole process, as a command-line user feels it.

Each run starts a fresh interpreter (bytecode compiled beforehand, as an installed wheel has it)
and times it to exit: ``python -c pass`` (the floor), ``comfycontrol --help``,
``comfycontrol --version``, a shell-completion request (what pressing Tab runs), and
``python -c "import comfycontrol_async"``. The commands take turns, run after run, so that a
burst of load elsewhere hits them alike; the figures are medians. ``comfycontrol`` is run the
way its console script runs it (``from comfycontrol_async.cli import main``), from this
checkout. A last check lists which heavy modules (aiohttp, rich, cattrs, the CLI) each of these
processes loads: ``--help`` must load none, and the SDK's import must load neither rich nor the
CLI.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import BenchResult, Figure, Sizes, fmt, median

__all__ = ["COMMANDS", "run"]

_ROOT = Path(__file__).resolve().parent.parent
_CLI = "import sys; from comfycontrol_async.cli import main; sys.exit(main())"
_GOAL_MS = 150.0
_HEAVY = ("aiohttp", "rich", "cattrs", "comfycontrol_async.cli")

#: name -> (argv after the interpreter, extra environment)
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "python -c pass": (["-c", "pass"], {}),
    "comfycontrol --help": (["-c", _CLI, "--help"], {}),
    "comfycontrol --version": (["-c", _CLI, "--version"], {}),
    "completion (Tab after 'comfycontrol ru')": (
        ["-c", _CLI],
        {"_ARGCOMPLETE": "1", "COMP_LINE": "comfycontrol ru", "COMP_POINT": "15"},
    ),
    'python -c "import comfycontrol_async"': (["-c", "import comfycontrol_async"], {}),
}


def _env(extra: dict[str, str], out: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARGCOMPLETE", "COMP_"))}
    env.update(extra)
    if extra:
        env["_ARGCOMPLETE_STDOUT_FILENAME"] = out  # where argcomplete writes its answer
    return env


def _time_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *argv],
        cwd=_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def _heavy_modules(argv: list[str], env: dict[str, str]) -> list[str]:
    """The heavy modules a command loads (read from ``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return [name for name in _HEAVY if name in loaded]


async def run(sizes: Sizes) -> BenchResult:
    reps = {"full": 25, "quick": 5}.get(sizes.label, 1)
    compileall.compile_dir(_ROOT / "comfycontrol_async", quiet=2)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "completions")
        for argv, extra in COMMANDS.values():  # one warm-up each (file caches)
            _time_once(argv, _env(extra, out))
        for _ in range(reps):
            for name, (argv, extra) in COMMANDS.items():
                times[name].append(_time_once(argv, _env(extra, out)))
        heavy = {
            name: _heavy_modules(argv, _env(extra, out)) for name, (argv, extra) in COMMANDS.items()
        }
    ms = {name: median(values) * 1000 for name, values in times.items()}
    floor = ms["python -c pass"]
    figures = [
        Figure(
            name=f"`{name}`, whole process",
            value=ms[name],
            unit="ms",
            op="<=",
            goal=_GOAL_MS,
            reps=reps,
            note=f"{fmt(ms[name] - floor, 'ms')} over `python -c pass`",
        )
        for name in COMMANDS
        if name.startswith(("comfycontrol", "completion"))
    ]
    forbidden = {
        name: ("rich", "comfycontrol_async.cli")
        if "import" in name
        else ("aiohttp", "rich", "cattrs")
        for name in COMMANDS
        if name != "python -c pass"
    }
    broken = sorted({m for name, bad in forbidden.items() for m in heavy[name] if m in bad})
    figures.append(
        Figure(
            name="forbidden modules loaded (CLI: aiohttp, rich, cattrs; SDK import: rich, the CLI)",
            value=float(len(broken)),
            unit="count",
            op="==",
            goal=0,
            reps=1,
            note=", ".join(broken) or "none",
        )
    )
    details = [
        f"Medians of {reps} runs each, taking turns; `python -c pass` takes {fmt(floor, 'ms')}.",
        "",
        "| command | median | over `python -c pass` | heavy modules loaded |",
        "|---|---:|---:|---|",
        *(
            f"| `{name}` | {fmt(ms[name], 'ms')} | {fmt(ms[name] - floor, 'ms')} "
            f"| {', '.join(heavy[name]) or 'none'} |"
            for name in COMMANDS
        ),
        "",
        "Heavy modules looked for: " + ", ".join(f"`{m}`" for m in _HEAVY) + ". The package's "
        "names are imported on first use (PEP 562), so `import comfycontrol_async` alone loads "
        "none of them.",
    ]
    metrics = {f"{name} ms": value for name, value in ms.items()}
    return BenchResult(
        key="coldstart",
        title="7. Cold start (whole process)",
        figures=figures,
        details=details,
        metrics=metrics,
    )

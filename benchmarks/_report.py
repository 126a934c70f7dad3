"""Writing ``RESULTS.md``: the summary table, the machine, the run, and each benchmark's details.

This module only formats: it takes the results the benchmarks returned and facts about the
machine and writes Markdown. It measures nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ._common import BenchResult, Sizes

__all__ = [
    "LoadMeter",
    "command_line",
    "cpu_model",
    "git_head",
    "machine",
    "render",
    "sdk_fingerprint",
    "write",
]

_ROOT = Path(__file__).resolve().parent.parent

_PACKAGES = ("comfycontrol-async", "aiohttp", "cattrs", "attrs", "pydantic", "httpx", "msgspec")


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_head(root: Path = _ROOT) -> str:
    """The commit checked out at ``root``, read from ``.git`` (git itself is not run)."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="ascii").strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        path = git / ref
        if path.exists():
            return path.read_text(encoding="ascii").strip()[:12]
        for line in (git / "packed-refs").read_text(encoding="ascii").splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return "unknown"


def sdk_fingerprint(root: Path = _ROOT) -> str:
    """A short hash of the SDK's Python sources as they are on disk (edits included)."""
    digest = hashlib.sha256()
    package = root / "comfycontrol_async"
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot (``/proc/stat``), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class LoadMeter:
    """How much CPU other processes used while the benchmarks ran.

    The machine's busy time (``/proc/stat``) minus this process's and its waited-for children's
    CPU time, as a share of the machine's capacity over the run. A benchmark run shares the
    machine with whatever else runs; this says how much it did.
    """

    def __init__(self) -> None:
        self._busy = _busy_seconds()
        self._own = _own_seconds()
        self._wall = time.perf_counter()

    def other_share(self) -> float | None:
        """Share (0 to 1) of all cores' time used by other processes since construction."""
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return None
        wall = time.perf_counter() - self._wall
        capacity = wall * (os.cpu_count() or 1)
        if capacity <= 0:
            return None
        other = (busy - self._busy) - (_own_seconds() - self._own)
        return min(1.0, max(0.0, other / capacity))


def machine() -> list[tuple[str, str]]:
    """Facts about this machine and interpreter, as (label, value) rows."""
    affinity = getattr(os, "sched_getaffinity", None)
    usable = len(affinity(0)) if affinity is not None else os.cpu_count()
    rows = [
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} (usable by this process: {usable})"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]
    rows += [(name, _version(name)) for name in _PACKAGES]
    return rows


def _sources_line(sources: tuple[str, str] | None) -> str:
    line = f"- SDK: commit {git_head()}, sources on disk hashed "
    if sources is None:
        return line + "(not recorded)"
    before, after = sources
    line += f"`{before}` (uncommitted edits included)"
    if after != before:
        line += (
            f", **changed to `{after}` during the run**: later benchmarks (and the child "
            "processes) may have measured newer code"
        )
    return line


def render(
    results: Sequence[BenchResult],
    *,
    sizes: Sizes,
    command: str,
    started: dt.datetime,
    seconds: float,
    machine_rows: Sequence[tuple[str, str]] | None = None,
    other_load: float | None = None,
    sources: tuple[str, str] | None = None,
) -> str:
    """The whole of RESULTS.md as a string.

    ``sources`` is the SDK's source fingerprint at the start and at the end of the run.
    """
    rows = machine() if machine_rows is None else list(machine_rows)
    figures = [f for r in results for f in r.figures]
    missed = [f for f in figures if not f.passed]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `{command}` on {started.strftime('%Y-%m-%d %H:%M UTC')} "
        f"({sizes.label} sizes, {seconds:.0f} s in all). Every figure is measured in this one "
        "run; ratios compare variants run side by side (taking turns) and are the median of "
        "the run-by-run ratios. See `benchmarks/README.md` for what each benchmark does.",
        "",
        f"**{len(figures) - len(missed)} of {len(figures)} figures meet their goal.**",
        "",
        "| # | figure | measured | goal | result | runs | note |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for result in results:
        number = result.title.split(".", 1)[0]
        for figure in result.figures:
            lines.append(
                f"| {number} | {figure.name} | {figure.shown()} | {figure.goal_shown()} "
                f"| {figure.verdict} | {figure.reps} | {figure.note} |"
            )
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    lines += [
        "",
        "## Run",
        "",
        f"- command: `{command}`",
        f"- date: {started.isoformat(timespec='seconds')}",
        f"- sizes: {sizes.label}",
        _sources_line(sources),
        f"- wall time: {seconds:.0f} s",
        "- other load: "
        + (
            "not measured"
            if other_load is None
            else f"other processes used {other_load:.0%} of the machine's CPU during the run "
            "(`/proc/stat` busy time minus this run's own, children included)"
        ),
        "- repetitions per benchmark: "
        + ", ".join(
            f"{r.key} {'/'.join(sorted({str(f.reps) for f in r.figures}))}" for r in results
        )
        + " (the long ones, the paced sweeps and the 1,000,000-item walk, run fewer times)",
        "- servers: the SDK's `FakeComfyControl` (a synthetic list server for the "
        "1,000,000-item walk) in a child process, on loopback; clients in this process "
        "(figure 8 runs its fake in this process too: it counts requests, and its times are "
        "set by pacing)",
    ]
    for result in results:
        lines += ["", f"## {result.title}", "", *result.details, ""]
        other = ""
        if result.other_load is not None:
            other = f"; other processes used {result.other_load:.0%} of the CPU meanwhile"
        lines.append(f"_This benchmark took {result.seconds:.1f} s{other}._")
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (atomically: a reader never sees half a file)."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that ran the benchmarks with these arguments (default: this process's)."""
    args = " ".join(sys.argv[1:] if argv is None else argv)
    return f"python -m benchmarks {args}".strip()

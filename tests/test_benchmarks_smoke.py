"""Smoke run of the benchmark suite: every benchmark runs with tiny sizes and returns a
well-formed result, and the RESULTS.md writer produces the table.

These tests check shape, never speed: timing goals are for ``python -m benchmarks`` on a quiet
machine, not for CI. The one behaviour asserted is that a paced sweep against the rate-limit
emulation sees no 429 (at a time scale whose pacing margin is far above loopback delays).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import pytest

import benchmarks.__main__ as cli
from benchmarks import (
    bench_decode,
    bench_fanout,
    bench_find,
    bench_get,
    bench_memory,
    bench_paced,
    bench_walk,
)
from benchmarks._common import QUICK, BenchResult, Figure, Sizes, fmt, median, paired_ratios
from benchmarks._report import LoadMeter, machine, render, write

TINY = Sizes(
    label="tiny",
    get_requests=20,
    get_reps=2,
    walk_items=300,
    walk_latency=0.005,
    walk_reps=1,
    walk_prefetch=(2,),
    fanout_runners=40,
    fanout_latency=0.010,
    fanout_concurrency=8,
    fanout_reps=1,
    # W = 4 s: long enough that loopback dispatch delays (10 to 20 ms for a cold client's
    # first burst, measured) are far inside the pacer's margin, so 41 requests (one past the
    # first window) must see no 429.
    paced_runs=((0.4, 41, 1),),
    memory_items=2_000,
    decode_reps=1,
    decode_items=200,
)


def check(result: BenchResult, key: str, positive: list[str]) -> None:
    """A result is well formed: its key, figures with goals, and the named metrics > 0."""
    assert result.key == key
    assert result.title
    assert result.figures
    assert result.details
    for figure in result.figures:
        assert isinstance(figure, Figure)
        assert figure.name
        assert figure.reps >= 1
        assert math.isfinite(figure.value)
        assert figure.verdict in ("PASS", "MISS")
        assert figure.goal_shown()
    for name in positive:
        assert name in result.metrics, name
        assert math.isfinite(result.metrics[name]), name
        assert result.metrics[name] > 0, name


async def test_get() -> None:
    result = await bench_get.run(TINY)
    check(
        result,
        "get",
        [
            "sdk_wall_us",
            "raw_wall_us",
            "httpx_wall_us",
            "sdk_cpu_us",
            "sdk_vs_raw",
            "sdk_vs_httpx",
        ],
    )
    assert [f.goal for f in result.figures] == [1.3, 1.0]


async def test_walk() -> None:
    result = await bench_walk.run(TINY)
    check(
        result,
        "walk",
        [
            "default_ms",
            "sequential_ms",
            "limit_ms",
            "prefetch=2_ms",
            "speedup_vs_sequential",
            "default_vs_limit",
            "prefetch_2_vs_limit",
            "default_rounds",
        ],
    )
    assert result.metrics["sequential_rounds"] == 3  # 300 items, 100 per page
    # Rounds are read from arrival times: on a loaded machine the "all at once" round may look
    # split, never merged with page 1 (which is answered a latency before the others go).
    assert result.metrics["limit_rounds"] >= 2
    assert [(f.op, f.goal) for f in result.figures] == [(">=", 8.0), ("<=", 1.5)]


async def test_fanout() -> None:
    result = await bench_fanout.run(TINY)
    check(result, "fanout", ["sdk_ms", "raw_ms", "bound_ms", "sdk_vs_bound", "raw_vs_bound"])
    assert result.metrics["bound_ms"] == pytest.approx(50.0)  # ceil(40 / 8) x 10 ms


async def test_find() -> None:
    result = await bench_find.run(TINY)
    check(result, "find", ["sweep_requests", "cold_requests", "warm_requests", "cold_share"])
    assert result.metrics["cold_requests"] < result.metrics["sweep_requests"]


async def test_paced_sweep_sees_no_429() -> None:
    result = await bench_paced.run(TINY)
    check(result, "paced", ["s0.4_elapsed_s", "s0.4_minimum_s", "s0.4_throughput_vs_allowed"])
    assert result.metrics["rate_limited"] == 0, result.details
    assert result.metrics["s0.4_failed_results"] == 0
    assert result.metrics["s0.4_most_in_window"] <= 40
    count, throughput = result.figures
    assert (count.value, count.op, count.goal, count.verdict) == (0.0, "==", 0.0, "PASS")
    assert (throughput.op, throughput.goal) == (">=", 0.9)


def test_rounds_of_requests() -> None:
    # Two requests together, one 20 ms later, three more 25 ms after that: three rounds.
    times = [0.0, 0.001, 0.021, 0.046, 0.0461, 0.0465]
    assert bench_walk._waves(times, 0.020) == 3
    assert bench_walk._waves([5.0], 0.020) == 1


def test_window_stats() -> None:
    # Arrivals 0.0, 0.1 ... 0.9: with a window of 0.35 s at most 4 fall in one window.
    times = [i / 10 for i in range(10)]
    most, headroom = bench_paced.window_stats(times, 0.35, 3)
    assert most == 4
    assert headroom == pytest.approx(-0.05)


async def test_memory() -> None:
    result = await bench_memory.run(TINY)
    check(result, "memory", ["seconds", "items_per_second", "rss_before_mb"])
    assert result.metrics["growth_mb"] >= 0
    assert result.metrics["duplicates_dropped"] == 0
    (figure,) = result.figures
    assert (figure.unit, figure.op, figure.goal) == ("MB", "<=", 64.0)


async def test_decode() -> None:
    result = await bench_decode.run(TINY)
    keys = []
    for payload in ("runner_page", "managed_runner", "runner_stats", "managed_page"):
        for mode in ("bytes", "dicts"):
            keys += [f"{payload}_{mode}_{d}_us" for d in ("sdk", "pydantic", "msgspec")]
            keys.append(f"{payload}_{mode}_vs_pydantic")
    check(result, "decode", keys)
    # µs per item from bytes: list items (two pages) at most 10, a stats object at most 30
    assert [(f.unit, f.op, f.goal) for f in result.figures] == [
        ("µs", "<=", 10.0),
        ("µs", "<=", 30.0),
        ("µs", "<=", 10.0),
    ]


def test_payloads_decode_alike() -> None:
    for payload in bench_decode.PAYLOADS():
        payload.check()  # raises if the SDK, pydantic and msgspec disagree


def test_statistics_and_format() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert math.isnan(median([]))
    assert paired_ratios([2.0, 9.0], [1.0, 3.0]) == [2.0, 3.0]
    assert fmt(1.234, "x") == "1.23x"
    assert fmt(1234.0, "ms") == "1,234 ms"
    assert fmt(0.0, "count") == "0"
    near = Figure(name="n", value=1.5004, unit="x", op="<=", goal=1.5, reps=3)
    assert (near.shown(), near.verdict) == ("1.5004x", "MISS")
    assert dataclasses.replace(QUICK, label="x").label == "x"


def _result() -> BenchResult:
    return BenchResult(
        key="demo",
        title="9. A demo benchmark",
        figures=[
            Figure(name="fast thing", value=0.8, unit="x", op="<=", goal=1.0, reps=5, note="ok"),
            Figure(name="slow thing", value=2.0, unit="x", op="<=", goal=1.0, reps=5),
        ],
        details=["| a | b |", "|---|---|", "| 1 | 2 |"],
        metrics={"x": 1.0},
        seconds=1.5,
        other_load=0.03,
    )


def test_report_writer(tmp_path: Path) -> None:
    started = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC)
    text = render(
        [_result()],
        sizes=TINY,
        command="python -m benchmarks --quick",
        started=started,
        seconds=12.0,
        other_load=0.25,
        sources=("aaaaaaaaaaaa", "bbbbbbbbbbbb"),
    )
    target = tmp_path / "RESULTS.md"
    write(target, text)
    written = target.read_text(encoding="utf-8")
    assert written == text
    assert "| # | figure | measured | goal | result | runs | note |" in written
    assert "| 9 | fast thing | 0.80x | <= 1.00x | PASS | 5 | ok |" in written
    assert "| 9 | slow thing | 2.00x | <= 1.00x | MISS | 5 |  |" in written
    assert "**1 of 2 figures meet their goal.**" in written
    assert "`python -m benchmarks --quick`" in written
    assert "2025-01-02" in written
    assert "other processes used 25% of the machine's CPU" in written
    assert "**changed to `bbbbbbbbbbbb` during the run**" in written
    assert "## 9. A demo benchmark" in written
    assert "_This benchmark took 1.5 s; other processes used 3% of the CPU meanwhile._" in written
    for label, _ in machine():
        assert f"| {label} |" in written
    assert any(label == "CPU" for label, _ in machine())
    assert not list(tmp_path.glob("*.part"))


def test_load_meter() -> None:
    share = LoadMeter().other_share()
    assert share is None or 0.0 <= share <= 1.0


def test_command_line_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.md"
    assert cli.main(["--only", "decode", "--output", str(target)], sizes=TINY) == 0
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results")
    assert "python -m benchmarks --only decode --output" in text
    assert "## 6. Decoding" in text
    assert "- other load: " in text
    assert "- SDK: commit " in text
    assert "wrote" in capsys.readouterr().out
    assert cli.BENCHMARKS.keys() == {
        "get",
        "walk",
        "fanout",
        "paced",
        "memory",
        "decode",
        "coldstart",
        "find",
        "workers",
    }
    # The committed results are never touched by the tests.
    assert target != cli.DEFAULT_OUTPUT

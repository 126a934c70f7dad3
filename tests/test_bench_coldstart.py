"""The cold-start benchmark runs and judges what the issue asks (its speed is not asserted)."""

from __future__ import annotations

import dataclasses

from benchmarks import bench_coldstart
from benchmarks._common import QUICK


async def test_coldstart_measures_every_command_and_finds_no_forbidden_module() -> None:
    result = await bench_coldstart.run(dataclasses.replace(QUICK, label="tiny"))
    assert result.key == "coldstart"
    assert set(result.metrics) == {f"{name} ms" for name in bench_coldstart.COMMANDS}
    assert all(value > 0 for value in result.metrics.values())
    timed = [f for f in result.figures if f.unit == "ms"]
    assert {f.goal for f in timed} == {150.0}
    assert len(timed) == 3  # --help, --version, completion
    (modules,) = [f for f in result.figures if f.unit == "count"]
    assert modules.passed, modules.note
    assert any("python -c pass" in line for line in result.details)

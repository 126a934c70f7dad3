"""The programs in examples/ run as a user runs them (a separate process, the token and the base
URL from the environment) against the in-process fake, and do what their docstrings say."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from comfycontrol_async.testing import FakeComfyControl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# A guard against a hang only: the programs finish in seconds.
HANG_GUARD = 180.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeComfyControl]:
    durations = {"accepted": 0.0, "uploaded": 0.0, "queued": 0.0, "running": 0.0}
    async with FakeComfyControl(managed_runners=12, workflow_durations=durations) as server:
        yield server


async def run_example(
    fake: FakeComfyControl, name: str, *args: str, tier: str = "pro", cwd: Path | None = None
) -> tuple[int, str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMFYCONTROL_")}
    env.update(COMFYCONTROL_API_TOKEN=fake.token(tier), COMFYCONTROL_BASE_URL=fake.url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / name),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), HANG_GUARD)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_bulk_sweep_reads_every_runner_and_ranks_them(fake: FakeComfyControl) -> None:
    code, out, err = await run_example(fake, "bulk_sweep.py", "--top", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "12 runners: 12 answered, 0 failed"
    assert len(lines) == 4
    free = [float(line.split("\t")[1].split()[0]) for line in lines[1:]]
    assert free == sorted(free, reverse=True)
    assert "12/12 read, 0 failed" in err


async def test_bulk_sweep_on_a_free_account_skips_managed_runners(fake: FakeComfyControl) -> None:
    code, out, err = await run_example(fake, "bulk_sweep.py", tier="free")
    assert code == 0, err
    assert out.splitlines()[0] == "0 runners: 0 answered, 0 failed"
    assert "managed runners need a Pro or Plus account" in err


async def test_template_bot_runs_prompts_and_downloads_outputs(
    fake: FakeComfyControl, tmp_path: Path
) -> None:
    code, out, err = await run_example(
        fake, "template_bot.py", "a red fox", "a lighthouse", "--out", str(tmp_path)
    )
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["'a red fox'", "'a lighthouse'"]
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert files, "no output was downloaded"
    assert all(str(path) in out for path in files)
    assert all(path.stat().st_size > 0 for path in files)
    sent = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/workflow"]
    assert len(sent) == 2


async def test_capacity_service_reports_and_stops(fake: FakeComfyControl) -> None:
    code, out, err = await run_example(
        fake, "capacity_service.py", "--min-vram", "24GiB", "--reports", "2"
    )
    assert code == 0, err
    reports = [line for line in out.splitlines() if "runners have 24GiB free" in line]
    assert len(reports) == 2
    assert all(" of 12 runners " in line for line in reports)

"""report.to_prometheus(): the Prometheus text format with DCGM-style names."""

from __future__ import annotations

import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from comfycontrol_async import ComfyControl
from comfycontrol_async.capacity import CapacityReport
from comfycontrol_async.testing import FakeComfyControl

MIB = 1024 * 1024


async def sweep(fake: FakeComfyControl) -> CapacityReport:
    now = [500.0]
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        return await cc.capacity(own=True, clock=lambda: now[0])


async def test_metrics_parse_and_match_the_report(fake: FakeComfyControl) -> None:
    report = await sweep(fake)
    families = {f.name: f for f in text_string_to_metric_families(report.to_prometheus())}
    assert {
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_TOTAL",
        "comfycontrol_runner_up",
        "comfycontrol_runner_ram_free_bytes",
        "comfycontrol_runner_ram_total_bytes",
        "comfycontrol_runner_stats_age_seconds",
        "comfycontrol_stats_read_errors",
    } <= set(families)
    free = families["DCGM_FI_DEV_FB_FREE"].samples
    assert len(free) == report.gpus
    assert sum(s.value for s in free) == pytest.approx(report.vram_free / MIB)
    h100 = next(s for s in free if "H100" in s.labels["modelName"])
    assert h100.labels["device"] == "cuda:0"
    assert h100.labels["gpu"] == "0"
    up = {s.labels["runner_id"]: s.value for s in families["comfycontrol_runner_up"].samples}
    assert up == {r.runner_id: (1.0 if r.ok else 0.0) for r in report.rows}
    errors = families["comfycontrol_stats_read_errors"].samples
    assert [(s.labels["error_type"], s.value) for s in errors] == [("ServerError", 3.0)]
    ages = families["comfycontrol_runner_stats_age_seconds"].samples
    assert {s.value for s in ages} == {0.0}


async def test_a_clear_error_without_prometheus_client(
    fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await sweep(fake)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"pip install 'comfycontrol-async\[prometheus\]'"):
        report.to_prometheus()

"""The models themselves: construction, derived properties, and reprs that keep secrets hidden.

Decoding is tested in ``test_converter.py``; here models are mostly built directly.
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from comfycontrol_async import models
from comfycontrol_async.models import (
    TERMINAL_STATUSES,
    Device,
    ManagedRunner,
    Page,
    Runner,
    RunnerStats,
    SystemInfo,
    Template,
    TemplateSummary,
    User,
    Workflow,
    WorkflowOutput,
    WorkflowSummary,
)

T0 = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
GIB = 1024**3


def make_runner(**changes: Any) -> Runner:
    values: dict[str, Any] = {
        "id": "r1",
        "user_id": "u1",
        "name": "GPU box",
        "status": "active",
        "endpoint": "https://comfy.example.com",
        "tags": ["gpu"],
        "headers": {"Authorization": "Bearer secret_token", "X-Api-Key": "secret_key_2"},
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Runner(**values)


def make_summary(status: str) -> WorkflowSummary:
    return WorkflowSummary(id="w1", name="wf", status=status, tags=[], created_at=T0, updated_at=T0)


# --- the public surface ------------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    assert models.__all__ == sorted(models.__all__, key=lambda n: (not n.isupper(), n))
    public = {n for n in dir(models) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(models.__all__)
    for name in models.__all__:
        assert hasattr(models, name)


@pytest.mark.parametrize(
    "cls",
    [
        User,
        Runner,
        ManagedRunner,
        RunnerStats,
        SystemInfo,
        Device,
        WorkflowSummary,
        Workflow,
        TemplateSummary,
        Template,
        WorkflowOutput,
        Page,
    ],
)
def test_models_are_frozen_keyword_only_slotted_with_extra(cls: type[Any]) -> None:
    assert attrs.has(cls)
    assert "__slots__" in vars(cls)
    fields = attrs.fields(cls)
    assert all(a.kw_only for a in fields)
    extra = attrs.fields_dict(cls)["extra"]
    assert extra.default is not attrs.NOTHING
    assert fields[-1].name == "extra"  # extra stays last, in reprs too


def test_models_cannot_be_changed() -> None:
    runner = make_runner()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        runner.name = "other"  # type: ignore[misc]


def test_extra_defaults_to_an_empty_mapping_per_instance() -> None:
    a, b = make_runner(), make_runner()
    assert a.extra == {}
    assert a.extra is not b.extra


def test_models_survive_pickle_and_copy() -> None:
    runner = make_runner(extra={"new_field": [1, 2]})
    assert pickle.loads(pickle.dumps(runner)) == runner
    assert copy.deepcopy(runner) == runner
    stats = RunnerStats(system=SystemInfo(os="linux"), devices=[Device(name="cpu", type="cpu")])
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_server_owned_strings_take_any_value() -> None:
    user = User(
        id="u",
        name="n",
        email="e@example.com",
        deleted=False,
        tier="ultra",  # a tier the SDK does not know
        created_at=T0,
        updated_at=T0,
    )
    assert user.tier == "ultra"
    assert user.provider is None
    managed = ManagedRunner(
        id="m",
        name="n",
        runner_type="max",
        status="draining",
        tags=[],
        created_at=T0,
        updated_at=T0,
    )
    assert (managed.runner_type, managed.status) == ("max", "draining")


# --- workflows -----------------------------------------------------------------------------


def test_terminal_statuses_are_the_documented_four() -> None:
    assert frozenset({"completed", "failed", "cancelled", "invalid"}) == TERMINAL_STATUSES


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("accepted", False),
        ("uploaded", False),
        ("queued", False),
        ("running", False),
        ("completed", True),
        ("failed", True),
        ("cancelled", True),
        ("invalid", True),
        ("paused", False),  # unknown to the SDK: not terminal
    ],
)
def test_is_terminal(status: str, terminal: bool) -> None:
    assert make_summary(status).is_terminal is terminal


def test_workflow_is_a_summary_with_details() -> None:
    workflow = Workflow(
        id="w",
        name="wf",
        status="failed",
        tags=["t"],
        created_at=T0,
        updated_at=T0,
        user_id="u",
        workflow_json={"3": {"class_type": "KSampler", "inputs": {"api_key": "sk-live-123"}}},
        workflow_params=[("$text(prompt)", "a cat")],
        error_node="3",
    )
    assert isinstance(workflow, WorkflowSummary)
    assert workflow.is_terminal
    assert workflow.user_runner_id is None
    assert workflow.managed_runner_id is None
    assert workflow.prompt_id is None
    assert workflow.queue_number is None
    assert workflow.exception_message is None
    text = repr(workflow)
    assert "<object with 1 keys>" in text
    assert "sk-live-123" not in text  # workflow graphs can embed API keys of custom nodes


def test_template_is_a_summary_with_an_opaque_body() -> None:
    template = Template(
        id="t1e2m3p4-l5a6-7890-abcd-ef1234567890",
        user_id="u",
        name="n",
        description="d",
        created_at=T0,
        updated_at=T0,
        body={"6": {"inputs": {"text": "$text(prompt)"}}},
    )
    assert isinstance(template, TemplateSummary)
    assert repr(template).endswith("body=<object with 1 keys>, extra={})")


def test_output() -> None:
    out = WorkflowOutput(id="output-1a2b", workflow_id="w", src="https://storage.example/x.png")
    assert out.src.startswith("https://")


# --- secrets stay out of reprs ---------------------------------------------------------------


def test_runner_repr_shows_header_names_only() -> None:
    runner = make_runner()
    for text in (repr(runner), str(runner), f"{runner}", f"{runner!r}"):
        assert "secret_token" not in text
        assert "secret_key_2" not in text
        assert "headers={'Authorization': '***', 'X-Api-Key': '***'}" in text
    assert runner.headers["Authorization"] == "Bearer secret_token"  # still reachable


@pytest.mark.parametrize(
    "key",
    [
        "headers",
        "Authorization",
        "proxy_authorization",
        "token",
        "access_token",
        "client_secret",
        "password",
        "API-Key",
        "cookie",
        "credentials",
    ],
)
def test_extra_hides_values_under_sensitive_keys(key: str) -> None:
    runner = make_runner(extra={key: "hunter2-value", "plain": "visible-value"})
    text = repr(runner)
    assert "hunter2-value" not in text
    assert "visible-value" in text
    assert repr(key) in text  # the key name stays visible


def test_extra_hides_sensitive_values_at_any_depth() -> None:
    extra = {
        "config": {"nested": [{"auth_token": "deep-secret"}, {"name": "ok-value"}]},
        "upstream_headers": {"Authorization": "Bearer deep-secret-2"},
    }
    text = repr(make_runner(extra=extra))
    assert "deep-secret" not in text
    assert "ok-value" in text
    assert "'upstream_headers': {'Authorization': '***'}" in text


def test_system_info_repr_hides_argv() -> None:
    argv = ["main.py", "--listen", "--api-key", "sk-argv-secret"]
    info = SystemInfo(os="linux", argv=argv)
    text = repr(info)
    assert "sk-argv-secret" not in text
    assert "--listen" not in text
    assert "argv=<4 arguments hidden>" in text
    assert info.argv == argv
    assert "argv=None" in repr(SystemInfo())
    assert "sk-argv-secret" not in repr(RunnerStats(system=info))


# --- devices and stats -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync", "NVIDIA H100 80GB HBM3"),
        ("cuda:1 NVIDIA GeForce RTX 4090 : native", "NVIDIA GeForce RTX 4090"),
        ("cuda:0 AMD Radeon RX 7900 XTX : ", "AMD Radeon RX 7900 XTX"),
        ("xpu:0 Intel(R) Arc(TM) A770 Graphics", "Intel(R) Arc(TM) A770 Graphics"),
        ("npu:0 Ascend910B", "Ascend910B"),
        ("CUDA 0: NVIDIA GeForce GTX 1080", "NVIDIA GeForce GTX 1080"),
        ("cpu", "cpu"),
        ("mps", "mps"),
        ("privateuseone", "privateuseone"),
        ("  cuda:0 NVIDIA A100-SXM4-40GB : cudaMallocAsync  ", "NVIDIA A100-SXM4-40GB"),
    ],
)
def test_device_model(name: str, model: str) -> None:
    assert Device(name=name).model == model


def test_device_model_without_name() -> None:
    assert Device().model is None


@pytest.mark.parametrize(
    ("device", "is_gpu"),
    [
        (Device(name="cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync", type="cuda"), True),
        (Device(name="xpu:0 Intel(R) Arc(TM) A770 Graphics", type="xpu"), True),
        (Device(name="privateuseone", type="privateuseone"), True),
        (Device(name="npu:0 Ascend910B", type="npu"), True),
        (Device(name="mlu:0 MLU370", type="mlu"), True),
        (Device(name="cpu", type="cpu"), False),
        (Device(name="mps", type="mps"), False),
        (Device(name="cpu", type="CPU"), False),
        # no type: read it from the name
        (Device(name="cuda:0 NVIDIA L4 : cudaMallocAsync"), True),
        (Device(name="cpu"), False),
        (Device(), False),
    ],
)
def test_device_is_gpu(device: Device, is_gpu: bool) -> None:
    assert device.is_gpu is is_gpu


def test_stats_defaults_for_the_oldest_servers() -> None:
    stats = RunnerStats()
    assert stats.system == SystemInfo()
    assert stats.system.os is None
    assert stats.devices == []
    assert stats.dev_mode is None
    assert stats.extensions == []
    assert stats.main_device is None
    assert stats.vram_free_total == 0
    assert stats.vram_total_total == 0
    assert stats.gpus == []


def test_vram_sums_cover_gpus_only() -> None:
    stats = RunnerStats(
        devices=[
            Device(name="cuda:0 A", type="cuda", index=0, vram_total=80 * GIB, vram_free=70 * GIB),
            Device(name="cuda:1 B", type="cuda", index=1, vram_total=24 * GIB, vram_free=None),
            # "VRAM" of cpu and mps is system RAM: never counted
            Device(name="cpu", type="cpu", index=None, vram_total=512 * GIB, vram_free=500 * GIB),
            Device(name="mps", type="mps", index=None, vram_total=64 * GIB, vram_free=32 * GIB),
            # torch_vram is memory PyTorch holds, not a capacity
            Device(
                name="xpu:0 C",
                type="xpu",
                index=0,
                vram_total=16 * GIB,
                vram_free=16 * GIB,
                torch_vram_total=40 * GIB,
            ),
        ]
    )
    assert stats.vram_total_total == (80 + 24 + 16) * GIB
    assert stats.vram_free_total == (70 + 0 + 16) * GIB
    assert stats.main_device is stats.devices[0]
    assert [d.type for d in stats.gpus] == ["cuda", "cuda", "xpu"]


def test_cpu_only_server_has_no_vram() -> None:
    stats = RunnerStats(devices=[Device(name="cpu", type="cpu", vram_total=GIB, vram_free=GIB)])
    assert stats.main_device is not None
    assert stats.main_device.name == "cpu"
    assert stats.vram_total_total == 0
    assert stats.vram_free_total == 0


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "per_page", "total", "has_next"),
    [
        (1, 10, 0, False),
        (1, 10, 10, False),
        (1, 10, 11, True),
        (2, 10, 25, True),
        (3, 10, 25, False),
        (5, 100, 1000, True),
        (10, 100, 1000, False),
    ],
)
def test_page_has_next(page: int, per_page: int, total: int, has_next: bool) -> None:
    assert Page[int](items=[], total=total, page=page, per_page=per_page).has_next is has_next


def test_page_iterates_its_items() -> None:
    page = Page(items=["a", "b", "c"], total=7, page=1, per_page=3)
    assert list(page) == ["a", "b", "c"]
    assert len(page) == 3
    assert page.extra == {}
    assert len(Page[str](items=[], total=0, page=1, per_page=3)) == 0


def test_runner_repr_masks_endpoint_credentials() -> None:
    import json

    from comfycontrol_async._converter import decode, make_converter

    from .conftest import EXAMPLES

    raw = json.loads((EXAMPLES / "runners-get.json").read_text())
    raw["endpoint"] = "https://admin:hunter2@comfy.example.com:8188/base"
    runner = decode(raw, Runner, converter=make_converter(strict=True))
    assert runner.endpoint == raw["endpoint"]  # the value itself is untouched
    shown = repr(runner)
    assert "hunter2" not in shown
    assert "admin" not in shown
    assert "***@comfy.example.com:8188/base" in shown

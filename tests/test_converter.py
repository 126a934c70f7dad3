"""Decoding JSON into the models: the documented examples, lenient and strict modes, stats that
never fail a sweep, and errors that say where.

Every test passes its converter explicitly, except those about the default one (which the
suite's conftest makes strict for every test).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfycontrol_async import _converter
from comfycontrol_async._converter import decode, decode_list, decode_page, make_converter
from comfycontrol_async._exceptions import ResponseValidationError
from comfycontrol_async.models import (
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

from .conftest import EXAMPLES

LENIENT = make_converter(strict=False)
STRICT = make_converter(strict=True)
both_modes = pytest.mark.parametrize("conv", [LENIENT, STRICT], ids=["lenient", "strict"])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def rve(call: Callable[[], object]) -> ResponseValidationError:
    """Run ``call``, which must raise exactly ResponseValidationError, and return the error."""
    with pytest.raises(ResponseValidationError) as info:
        call()
    assert type(info.value) is ResponseValidationError
    return info.value


# --- realistic payloads the examples do not cover -------------------------------------------

WORKFLOW_COMPLETED: dict[str, Any] = {
    "id": "3f0c6d4e-2b1a-4c9e-8f7d-6a5b4c3d2e1f",
    "name": "Text to Image Generation",
    "status": "completed",
    "tags": ["text2img", "production"],
    "created_at": "2024-01-15T14:30:00Z",
    "updated_at": "2024-01-15T14:32:15Z",
    "started_at": "2024-01-15T14:30:05Z",
    "completed_at": "2024-01-15T14:32:15Z",
    "user_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "user_runner_id": "550e8400-e29b-41d4-a716-446655440000",
    "managed_runner_id": None,
    "workflow_json": {
        "3": {"class_type": "KSampler", "inputs": {"seed": 8566257, "steps": 20, "cfg": 8}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "A sunset", "clip": ["4", 1]}},
    },
    "workflow_params": [["$text(prompt)", "A sunset"], ["#choice(sampler)", "euler_ancestral"]],
    "prompt_id": "b7e5c2d1-9a8f-4e3d-b2c1-a0f9e8d7c6b5",
    "queue_number": 42,
    "error_node": None,
    "exception_type": None,
    "exception_message": None,
}

WORKFLOW_FAILED: dict[str, Any] = {
    **WORKFLOW_COMPLETED,
    "id": "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a",
    "status": "failed",
    "user_runner_id": None,
    "managed_runner_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "queue_number": 7,
    "error_node": "3",
    "exception_type": "torch.OutOfMemoryError",
    "exception_message": "CUDA out of memory. Tried to allocate 20.00 MiB.",
}

OUTPUTS: list[dict[str, Any]] = [
    {
        "id": "output-1a2b3c4d",
        "workflow_id": "3f0c6d4e-2b1a-4c9e-8f7d-6a5b4c3d2e1f",
        "src": "https://storage.example.com/outputs/ComfyUI_00001_.png?X-Goog-Signature=abc",
    },
    {
        "id": "output-5e6f7a8b",
        "workflow_id": "3f0c6d4e-2b1a-4c9e-8f7d-6a5b4c3d2e1f",
        "src": "https://storage.example.com/outputs/ComfyUI_00002_.png?X-Goog-Signature=def",
    },
]

TEMPLATE: dict[str, Any] = {
    "id": "t1e2m3p4-l5a6-7890-abcd-ef1234567890",
    "user_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "name": "Text to Image - Standard",
    "description": "Basic text-to-image generation with SDXL",
    "created_at": "2024-01-15T10:00:00Z",
    "updated_at": "2024-01-15T10:00:00Z",
    "body": {"6": {"inputs": {"text": "$text(prompt)", "negative_prompt": "$text(negative)"}}},
}

H100 = 84942848000

# A modern server (ComfyUI >= 0.4) with every key the SDK knows.
STATS_MODERN: dict[str, Any] = {
    "system": {
        "os": "linux",
        "ram_total": 270014775296,
        "ram_free": 251325566976,
        "comfyui_version": "0.3.77",
        "python_version": "3.12.12 (main, Oct 15 2025, 09:20:08) [GCC]",
        "pytorch_version": "2.9.1+cu128",
        "embedded_python": False,
        "argv": ["main.py", "--listen", "0.0.0.0", "--port", "8188"],
        "required_frontend_version": "1.32.9",
        "installed_templates_version": "0.7.25",
    },
    "devices": [
        {
            "name": "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync",
            "type": "cuda",
            "index": 0,
            "vram_total": H100,
            "vram_free": 84316848128,
            "torch_vram_total": 0,
            "torch_vram_free": 0,
        }
    ],
    "dev_mode": False,
    "extensions": ["/extensions/core/groupNode.js"],
}


# --- the documented examples -------------------------------------------------------------------

# Every example that is a model payload, and the test below that checks its values.
EXAMPLE_MODELS = {
    "user-get.json": User,
    "runners-create.json": Runner,
    "runners-get.json": Runner,
    "runners-update.json": Runner,
    "runners-list.json": Page,
    "runners-history.json": list,
    "managed-runners-get.json": ManagedRunner,
    "managed-runners-list.json": Page,
    "managed-runners-stats.json": RunnerStats,
    "templates-list.json": Page,
}


def test_every_model_example_is_covered() -> None:
    names = {
        p.name
        for p in EXAMPLES.glob("*.json")
        if not p.name.startswith(("error-", "concepts-"))  # not models: tested elsewhere
    }
    assert names == set(EXAMPLE_MODELS)


@both_modes
def test_user_get(conv: cattrs.Converter) -> None:
    user = decode(example("user-get.json"), User, converter=conv)
    assert user == User(
        id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
        name="John Doe",
        email="john@example.com",
        deleted=False,
        tier="pro",
        provider=None,  # documented as required, missing from the example
        created_at=utc(2024, 1, 1),
        updated_at=utc(2024, 1, 15, 10, 30),
    )


@both_modes
def test_runner_get_create_update(conv: cattrs.Converter) -> None:
    got = decode(example("runners-get.json"), Runner, converter=conv)
    assert got.id == "550e8400-e29b-41d4-a716-446655440000"
    assert got.user_id == "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    assert got.name == "Production GPU Runner"
    assert got.status == "active"
    assert got.endpoint == "https://my-comfy.example.com"
    assert got.tags == ["production", "gpu-a100", "image-generation"]
    assert got.headers == {"Authorization": "Bearer secret_token", "X-Custom-Header": "value"}
    assert got.created_at == got.updated_at == utc(2024, 1, 15, 10, 30)
    assert got.created_at.tzinfo is not None
    assert got.extra == {}

    created = decode(example("runners-create.json"), Runner, converter=conv)
    assert created.tags == ["production", "gpu-a100"]
    assert created.headers == {"Authorization": "Bearer secret_token"}

    updated = decode(example("runners-update.json"), Runner, converter=conv)
    assert updated.name == "Production GPU Runner - Updated"
    assert updated.endpoint == "https://new-endpoint.example.com"
    assert updated.headers == {"Authorization": "Bearer new_token"}
    assert updated.updated_at == utc(2024, 1, 16, 14, 20)


@both_modes
def test_runners_list(conv: cattrs.Converter) -> None:
    page = decode_page(
        example("runners-list.json"), key="runners", cls=Runner, page=1, per_page=10, converter=conv
    )
    assert isinstance(page, Page)
    assert (page.total, page.page, page.per_page, page.has_next) == (2, 1, 10, False)
    assert [r.name for r in page] == ["Production GPU Runner", "Development Runner"]
    assert all(type(r) is Runner for r in page.items)
    dev = page.items[1]
    assert dev.endpoint == "http://192.168.1.100:8188"
    assert dev.headers == {}
    assert dev.created_at == utc(2024, 1, 14, 8, 20)
    assert page.extra == {}


@both_modes
def test_managed_runners(conv: cattrs.Converter) -> None:
    one = decode(example("managed-runners-get.json"), ManagedRunner, converter=conv)
    assert one == ManagedRunner(
        id="a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        name="Managed Pro Runner 1",
        runner_type="pro",
        status="active",
        tags=["managed", "gpu-a100", "high-performance", "image-generation"],
        created_at=utc(2024, 1, 10, 8),
        updated_at=utc(2024, 1, 15, 10, 30),
    )
    page = decode_page(
        example("managed-runners-list.json"),
        key="runners",
        cls=ManagedRunner,
        page=1,
        per_page=1,
        converter=conv,
    )
    assert page.total == 2
    assert page.has_next  # page 1 of 2 with one item per page
    assert [r.runner_type for r in page] == ["pro", "plus"]
    assert page.items[1].tags == ["managed", "gpu-rtx4090", "standard"]


@both_modes
def test_managed_runner_stats(conv: cattrs.Converter) -> None:
    stats = decode(example("managed-runners-stats.json"), RunnerStats, converter=conv)
    assert stats.system == SystemInfo(
        os="posix",
        ram_free=239499096064,
        ram_total=253344550912,
        comfyui_version="0.3.77",
        python_version="3.12.12 (main, Oct 15 2025, 09:20:08) [GCC]",
    )
    assert stats.system.pytorch_version is None
    assert stats.system.argv is None
    assert len(stats.devices) == 1
    gpu = stats.devices[0]
    assert gpu.name == "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync"
    assert gpu.type == "cuda"
    assert gpu.index is None  # not sent
    assert gpu.vram_total == H100
    assert gpu.vram_free == 84316848128
    assert gpu.torch_vram_total is None
    assert gpu.is_gpu
    assert gpu.model == "NVIDIA H100 80GB HBM3"
    assert stats.main_device is gpu
    assert stats.vram_total_total == H100
    assert stats.vram_free_total == 84316848128
    assert stats.dev_mode is False
    assert stats.extensions[0] == "/extensions/core/groupNodeManage.js"
    assert len(stats.extensions) == 4
    assert stats.extra == {}


@both_modes
def test_runner_history(conv: cattrs.Converter) -> None:
    history = decode_list(example("runners-history.json"), WorkflowSummary, converter=conv)
    assert [(w.name, w.status) for w in history] == [
        ("Text to Image Generation", "completed"),
        ("Image Upscaling", "failed"),
        ("ControlNet Test", "running"),
    ]
    assert all(type(w) is WorkflowSummary for w in history)
    assert [w.is_terminal for w in history] == [True, True, False]
    assert history[0].started_at == utc(2024, 1, 15, 14, 30, 5)
    assert history[0].completed_at == utc(2024, 1, 15, 14, 32, 15)
    running = history[2]
    assert running.completed_at is None
    assert running.started_at == utc(2024, 1, 15, 12, 0, 20)
    assert running.tags == ["controlnet", "test"]


@both_modes
def test_templates_list(conv: cattrs.Converter) -> None:
    page = decode_page(
        example("templates-list.json"),
        key="templates",
        cls=TemplateSummary,
        page=1,
        per_page=10,
        converter=conv,
    )
    assert page.total == 1
    (template,) = page.items
    assert template.id == "t1e2m3p4-l5a6-7890-abcd-ef1234567890"  # not a UUID: kept as is
    assert template.description == "Basic text-to-image generation with SDXL"
    assert template.created_at == utc(2024, 1, 15, 10)
    assert type(template) is TemplateSummary


# --- workflows, templates, outputs -------------------------------------------------------------


@both_modes
def test_workflow_completed(conv: cattrs.Converter) -> None:
    workflow = decode(WORKFLOW_COMPLETED, Workflow, converter=conv)
    assert type(workflow) is Workflow
    assert workflow.status == "completed"
    assert workflow.is_terminal
    assert workflow.user_runner_id == "550e8400-e29b-41d4-a716-446655440000"
    assert workflow.managed_runner_id is None
    assert workflow.workflow_json["3"]["inputs"]["seed"] == 8566257
    assert workflow.workflow_params == [
        ("$text(prompt)", "A sunset"),
        ("#choice(sampler)", "euler_ancestral"),
    ]
    assert workflow.prompt_id == "b7e5c2d1-9a8f-4e3d-b2c1-a0f9e8d7c6b5"
    assert workflow.queue_number == 42
    assert workflow.error_node is None
    assert workflow.exception_type is None
    assert workflow.exception_message is None
    assert workflow.completed_at == utc(2024, 1, 15, 14, 32, 15)


@both_modes
def test_workflow_failed(conv: cattrs.Converter) -> None:
    workflow = decode(WORKFLOW_FAILED, Workflow, converter=conv)
    assert workflow.status == "failed"
    assert workflow.is_terminal
    assert workflow.user_runner_id is None
    assert workflow.managed_runner_id == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    assert workflow.error_node == "3"
    assert workflow.exception_type == "torch.OutOfMemoryError"
    assert workflow.exception_message == "CUDA out of memory. Tried to allocate 20.00 MiB."


@both_modes
def test_workflow_without_the_optional_keys(conv: cattrs.Converter) -> None:
    # The failure fields are documented as present on failure only; a queued workflow has no
    # prompt, queue number or times yet. Absent keys decode as None, like null ones.
    payload = {
        k: v
        for k, v in WORKFLOW_COMPLETED.items()
        if k
        not in {
            "error_node",
            "exception_type",
            "exception_message",
            "prompt_id",
            "queue_number",
            "managed_runner_id",
            "started_at",
            "completed_at",
        }
    }
    payload["status"] = "queued"
    workflow = decode(payload, Workflow, converter=conv)
    assert workflow.status == "queued"
    assert not workflow.is_terminal
    assert workflow.prompt_id is None
    assert workflow.queue_number is None
    assert workflow.started_at is None
    assert workflow.error_node is None
    assert workflow.extra == {}


@both_modes
def test_workflow_summary_from_create(conv: cattrs.Converter) -> None:
    created = {
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "name": "portrait",
        "status": "accepted",
        "tags": [],
        "created_at": "2024-01-15T14:30:00Z",
        "updated_at": "2024-01-15T14:30:00Z",
    }
    summary = decode(created, WorkflowSummary, converter=conv)
    assert summary.status == "accepted"
    assert summary.started_at is None
    assert summary.completed_at is None


@both_modes
def test_workflow_page(conv: cattrs.Converter) -> None:
    summaries = [
        {k: v for k, v in w.items() if k in attrs.fields_dict(WorkflowSummary)}
        for w in (WORKFLOW_COMPLETED, WORKFLOW_FAILED)
    ]
    page = decode_page(
        {"workflows": summaries, "total": 25},
        key="workflows",
        cls=WorkflowSummary,
        page=2,
        per_page=2,
        converter=conv,
    )
    assert [w.status for w in page] == ["completed", "failed"]
    assert page.has_next


@both_modes
def test_template_with_body(conv: cattrs.Converter) -> None:
    template = decode(TEMPLATE, Template, converter=conv)
    assert type(template) is Template
    assert template.body == TEMPLATE["body"]
    assert template.name == "Text to Image - Standard"


@both_modes
def test_outputs(conv: cattrs.Converter) -> None:
    outputs = decode_list(OUTPUTS, WorkflowOutput, converter=conv)
    assert [o.id for o in outputs] == ["output-1a2b3c4d", "output-5e6f7a8b"]
    assert outputs[0].workflow_id == "3f0c6d4e-2b1a-4c9e-8f7d-6a5b4c3d2e1f"
    assert outputs[1].src.endswith("X-Goog-Signature=def")


@both_modes
def test_bare_arrays(conv: cattrs.Converter) -> None:
    assert decode_list([], WorkflowOutput, converter=conv) == []
    assert decode_list(None, WorkflowSummary, converter=conv) == []  # Go writes nil as null


# --- what the decoded objects are ----------------------------------------------------------


@both_modes
def test_decoded_objects_equal_constructed_ones(conv: cattrs.Converter) -> None:
    # Decoded objects are plain instances: rebuilt, pickled or compared, they are the same.
    decoded: list[Any] = [
        decode(example("runners-get.json"), Runner, converter=conv),
        decode(example("user-get.json"), User, converter=conv),
        decode(WORKFLOW_FAILED, Workflow, converter=conv),
        decode(TEMPLATE, Template, converter=conv),
        decode(STATS_MODERN, RunnerStats, converter=conv),
        decode_page(
            example("runners-list.json"),
            key="runners",
            cls=Runner,
            page=1,
            per_page=10,
            converter=conv,
        ),
    ]
    for obj in decoded:
        rebuilt = attrs.evolve(obj)  # goes through __init__
        assert rebuilt == obj
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert type(rebuilt) is type(obj)
        assert attrs.asdict(obj, recurse=False) == attrs.asdict(rebuilt, recurse=False)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            obj.extra = {}


@both_modes
def test_absent_and_null_optional_keys_decode_alike(conv: cattrs.Converter) -> None:
    with_nulls = decode(WORKFLOW_COMPLETED | {"error_node": None}, Workflow, converter=conv)
    without = {k: v for k, v in WORKFLOW_COMPLETED.items() if k != "error_node"}
    assert decode(without, Workflow, converter=conv) == with_nulls


def test_lists_of_strings_are_kept_as_received() -> None:
    payload = copy.deepcopy(WORKFLOW_COMPLETED)
    workflow = decode(payload, Workflow, converter=LENIENT)
    assert workflow.tags is payload["tags"]  # checked, not copied
    assert workflow.workflow_json is payload["workflow_json"]


@both_modes
def test_null_lists_and_headers_read_as_empty(conv: cattrs.Converter) -> None:
    payload = {**WORKFLOW_COMPLETED, "tags": None, "workflow_params": None}
    workflow = decode(payload, Workflow, converter=conv)
    assert workflow.tags == []
    assert workflow.workflow_params == []
    runner = decode(runner_payload(headers=None, tags=None), Runner, converter=conv)
    assert runner.headers == {}
    assert runner.tags == []


# --- timestamps ------------------------------------------------------------------------------


def runner_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "user_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "name": "Production GPU Runner",
        "status": "active",
        "endpoint": "https://my-comfy.example.com",
        "tags": ["production", "gpu-a100"],
        "headers": {"Authorization": "Bearer secret_token"},
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
    }
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T10:30:00Z", utc(2024, 1, 15, 10, 30)),
        ("2024-01-15T10:30:00z", utc(2024, 1, 15, 10, 30)),
        ("2024-01-15T10:30:00+00:00", utc(2024, 1, 15, 10, 30)),
        ("2024-01-15T10:30:00.123456Z", utc(2024, 1, 15, 10, 30, 0, 123456)),
        ("2024-01-15T10:30:00.123456789Z", utc(2024, 1, 15, 10, 30, 0, 123456)),  # Go's nanos
        ("2024-01-15 10:30:00", utc(2024, 1, 15, 10, 30)),  # naive: taken as UTC
        (
            "2024-01-15T12:30:00+02:00",
            datetime(2024, 1, 15, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
@both_modes
def test_timestamps(conv: cattrs.Converter, text: str, expected: datetime) -> None:
    runner = decode(runner_payload(created_at=text), Runner, converter=conv)
    assert runner.created_at == expected
    assert runner.created_at.utcoffset() == expected.utcoffset()
    assert runner.created_at.tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "", "2024-13-45T99:99:99Z", "15/01/2024 10:30"])
@both_modes
def test_bad_timestamps_name_the_path(conv: cattrs.Converter, text: str) -> None:
    items = [runner_payload(), runner_payload(), runner_payload(created_at=text)]
    err = rve(
        lambda: decode_page(
            {"runners": items, "total": 3},
            key="runners",
            cls=Runner,
            page=1,
            per_page=10,
            converter=conv,
        )
    )
    assert err.path == "$.runners[2].created_at"
    assert "Runner.created_at" in str(err)
    assert "not an ISO 8601 timestamp" in str(err)
    assert repr(text) in str(err)


def test_a_long_bad_timestamp_is_cut_in_the_message() -> None:
    err = rve(lambda: decode(runner_payload(updated_at="x" * 500), Runner, converter=LENIENT))
    assert err.path == "$.updated_at"
    assert len(str(err)) < 200


# --- unknown keys --------------------------------------------------------------------------


UNKNOWN_KEY_CASES: list[tuple[Any, type[Any], str]] = [
    (runner_payload(region="eu-west", gpu_count=2), Runner, "$.gpu_count"),
    ({**WORKFLOW_FAILED, "retry_of": None}, Workflow, "$.retry_of"),
    ({**TEMPLATE, "version": 3}, Template, "$.version"),
    ({**OUTPUTS[0], "expires_at": "2024-01-15T10:35:00Z"}, WorkflowOutput, "$.expires_at"),
]


@pytest.mark.parametrize(("payload", "cls", "path"), UNKNOWN_KEY_CASES)
def test_unknown_keys_land_in_extra_when_lenient(payload: Any, cls: type[Any], path: str) -> None:
    obj = decode(payload, cls, converter=LENIENT)
    known = set(attrs.fields_dict(cls))
    assert dict(obj.extra) == {k: v for k, v in payload.items() if k not in known}
    assert obj.extra  # something landed there


@pytest.mark.parametrize(("payload", "cls", "path"), UNKNOWN_KEY_CASES)
def test_unknown_keys_raise_when_strict(payload: Any, cls: type[Any], path: str) -> None:
    err = rve(lambda: decode(payload, cls, converter=STRICT))
    assert err.path in {path, *(f"$.{k}" for k in payload)}
    assert "unknown key" in str(err)


def test_strict_names_every_unknown_key() -> None:
    err = rve(lambda: decode(runner_payload(alpha=1, beta=2), Runner, converter=STRICT))
    assert err.path == "$.alpha"
    assert "Runner.alpha: unknown key" in str(err)
    assert "$.beta" in str(err)


def test_a_key_named_extra_is_just_unknown() -> None:
    runner = decode(runner_payload(extra={"a": 1}), Runner, converter=LENIENT)
    assert runner.extra == {"extra": {"a": 1}}
    assert rve(lambda: decode(runner_payload(extra=1), Runner, converter=STRICT)).path == "$.extra"


def test_unknown_keys_in_list_items_and_pages() -> None:
    items = [runner_payload(), runner_payload(shard=4)]
    data = {"runners": items, "total": 2, "next_cursor": "abc"}
    page = decode_page(data, key="runners", cls=Runner, page=1, per_page=2, converter=LENIENT)
    assert page.extra == {"next_cursor": "abc"}
    assert page.items[0].extra == {}
    assert page.items[1].extra == {"shard": 4}

    err = rve(
        lambda: decode_page(data, key="runners", cls=Runner, page=1, per_page=2, converter=STRICT)
    )
    assert err.path == "$.next_cursor"
    strict_items = {"runners": items, "total": 2}
    err = rve(
        lambda: decode_page(
            strict_items, key="runners", cls=Runner, page=1, per_page=2, converter=STRICT
        )
    )
    assert err.path == "$.runners[1].shard"


# --- errors say where ------------------------------------------------------------------------


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


def example_user_payload() -> dict[str, Any]:
    return {
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "name": "John Doe",
        "email": "john@example.com",
        "deleted": False,
        "tier": "pro",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
    }


ERROR_CASES: list[tuple[str, Any, type[Any], str, str]] = [
    ("not an object", [], Runner, "$", "Runner: expected an object, got an array"),
    ("null", None, Runner, "$", "expected an object, got null"),
    ("a string", "runner", Runner, "$", "expected an object, got a string"),
    ("missing", without(runner_payload(), "name"), Runner, "$.name", "required field is missing"),
    ("null id", runner_payload(id=None), Runner, "$.id", "expected a string, got null"),
    ("int name", runner_payload(name=7), Runner, "$.name", "expected a string, got an integer"),
    ("tag", runner_payload(tags=["a", 3]), Runner, "$.tags[1]", "expected a string"),
    ("tags", runner_payload(tags="a,b"), Runner, "$.tags", "expected an array of strings"),
    (
        "header value",
        runner_payload(headers={"Authorization": 5}),
        Runner,
        "$.headers.Authorization",
        "expected a string, got an integer",
    ),
    (
        "odd header name",
        runner_payload(headers={"X-Custom-Header": None}),
        Runner,
        "$.headers['X-Custom-Header']",
        "Runner.headers['X-Custom-Header']: expected a string, got null",
    ),
    ("headers", runner_payload(headers=[]), Runner, "$.headers", "expected an object"),
    (
        "bool",
        {**example_user_payload(), "deleted": "false"},
        User,
        "$.deleted",
        "User.deleted: expected a boolean, got a string",
    ),
    (
        "bool for int",
        {**WORKFLOW_FAILED, "queue_number": True},
        Workflow,
        "$.queue_number",
        "expected an integer or null, got a boolean",
    ),
    (
        "string int",
        {**WORKFLOW_FAILED, "queue_number": "7"},
        Workflow,
        "$.queue_number",
        "expected an integer or null, got a string",
    ),
    (
        "short pair",
        {**WORKFLOW_FAILED, "workflow_params": [["$text(a)", "x"], ["$text(b)"]]},
        Workflow,
        "$.workflow_params[1]",
        "expected a [placeholder, value] pair, got an array",
    ),
    (
        "pair value",
        {**WORKFLOW_FAILED, "workflow_params": [["$text(a)", 5]]},
        Workflow,
        "$.workflow_params[0][1]",
        "expected a string, got an integer",
    ),
    (
        "graph",
        {**WORKFLOW_FAILED, "workflow_json": "{}"},
        Workflow,
        "$.workflow_json",
        "expected an object, got a string",
    ),
    ("body", {**TEMPLATE, "body": None}, Template, "$.body", "expected an object, got null"),
    (
        "src",
        without(OUTPUTS[0], "src"),
        WorkflowOutput,
        "$.src",
        "WorkflowOutput.src: required field is missing",
    ),
]


@pytest.mark.parametrize(
    ("payload", "cls", "path", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
@both_modes
def test_errors_name_path_and_problem(
    conv: cattrs.Converter, payload: Any, cls: type[Any], path: str, message: str
) -> None:
    err = rve(lambda: decode(payload, cls, converter=conv))
    assert err.path == path
    assert message in str(err)
    assert f"(at {path})" in str(err)
    assert err.__cause__ is None  # no KeyError or TypeError from deep inside


@both_modes
def test_errors_in_bare_arrays(conv: cattrs.Converter) -> None:
    items = [
        {k: v for k, v in w.items() if k in attrs.fields_dict(WorkflowSummary)}
        for w in (WORKFLOW_COMPLETED, WORKFLOW_FAILED, WORKFLOW_COMPLETED)
    ]
    items[2] = {**items[2], "started_at": 12}
    err = rve(lambda: decode_list(items, WorkflowSummary, converter=conv))
    assert err.path == "$[2].started_at"
    assert "WorkflowSummary.started_at" in str(err)
    err = rve(lambda: decode_list({"workflows": []}, WorkflowSummary, converter=conv))
    assert err.path == "$"
    assert "expected an array, got an object" in str(err)
    err = rve(lambda: decode_list([OUTPUTS[0], "output-2"], WorkflowOutput, converter=conv))
    assert err.path == "$[1]"


def test_several_problems_are_counted() -> None:
    payload = runner_payload(name=None, created_at="soon", tags=[1])
    err = rve(lambda: decode(payload, Runner, converter=LENIENT))
    assert err.path == "$.name"  # the first, in field order
    assert "2 more problems at $.tags[0], $.created_at" in str(err)


def test_messages_never_show_header_values() -> None:
    payload = runner_payload(headers={"Authorization": ["Bearer secret_token"]})
    err = rve(lambda: decode(payload, Runner, converter=LENIENT))
    assert err.path == "$.headers.Authorization"
    assert "secret_token" not in str(err)
    assert "secret_token" not in repr(err)


PAGE_ERROR_CASES: list[tuple[str, Any, str, str]] = [
    ("array", [], "$", "Page[Runner]: expected an object, got an array"),
    ("null", None, "$", "expected an object, got null"),
    ("no list", {"total": 0}, "$.runners", "Page[Runner].runners: required field is missing"),
    ("list type", {"runners": {}, "total": 0}, "$.runners", "expected an array, got an object"),
    ("no total", {"runners": []}, "$.total", "Page[Runner].total: required field is missing"),
    ("null total", {"runners": [], "total": None}, "$.total", "expected an integer, got null"),
    ("str total", {"runners": [], "total": "2"}, "$.total", "expected an integer, got a string"),
    ("float total", {"runners": [], "total": 2.0}, "$.total", "expected an integer, got a number"),
    ("bool total", {"runners": [], "total": True}, "$.total", "expected an integer, got a boolean"),
    ("negative", {"runners": [], "total": -1}, "$.total", "must not be negative, got -1"),
    ("wrong key", {"templates": [], "total": 0}, "$.runners", "required field is missing"),
]


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [case[1:] for case in PAGE_ERROR_CASES],
    ids=[case[0] for case in PAGE_ERROR_CASES],
)
@both_modes
def test_page_envelope_errors(conv: cattrs.Converter, data: Any, path: str, message: str) -> None:
    err = rve(
        lambda: decode_page(data, key="runners", cls=Runner, page=1, per_page=10, converter=conv)
    )
    assert err.path == path
    assert message in str(err)


@both_modes
def test_page_with_null_list_is_empty(conv: cattrs.Converter) -> None:
    page = decode_page(
        {"runners": None, "total": 0},
        key="runners",
        cls=Runner,
        page=1,
        per_page=10,
        converter=conv,
    )
    assert page.items == []
    assert not page.has_next


def test_a_page_item_error_in_a_long_list() -> None:
    items = [runner_payload(id=f"r{i}") for i in range(50)]
    items[37] = without(items[37], "endpoint")
    err = rve(
        lambda: decode_page(
            {"runners": items, "total": 50},
            key="runners",
            cls=Runner,
            page=1,
            per_page=50,
            converter=LENIENT,
        )
    )
    assert err.path == "$.runners[37].endpoint"


def test_page_keys_that_are_not_identifiers() -> None:
    err = rve(
        lambda: decode_page(
            {"odd-key": [runner_payload(id=1)], "total": 1},
            key="odd-key",
            cls=Runner,
            page=1,
            per_page=1,
            converter=LENIENT,
        )
    )
    assert err.path == "$['odd-key'][0].id"


def test_decoding_a_class_that_is_not_a_model_is_a_caller_bug() -> None:
    class NotAModel:
        pass

    with pytest.raises(cattrs.errors.StructureHandlerNotFoundError):
        decode({}, NotAModel, converter=LENIENT)


# --- stats ------------------------------------------------------------------------------------


@both_modes
def test_stats_with_every_known_key(conv: cattrs.Converter) -> None:
    stats = decode(STATS_MODERN, RunnerStats, converter=conv)
    assert stats.system.os == "linux"
    assert stats.system.pytorch_version == "2.9.1+cu128"
    assert stats.system.embedded_python is False
    assert stats.system.argv == ["main.py", "--listen", "0.0.0.0", "--port", "8188"]
    assert stats.system.required_frontend_version == "1.32.9"
    assert stats.system.installed_templates_version == "0.7.25"
    assert stats.system.extra == {}
    assert stats.devices[0].index == 0
    assert stats.devices[0].torch_vram_total == 0
    assert stats.devices[0].extra == {}
    assert stats.extra == {}


@both_modes
def test_stats_from_the_oldest_servers_have_no_system(conv: cattrs.Converter) -> None:
    data = {
        "devices": [
            {
                "name": "cuda:0 NVIDIA GeForce RTX 3090 : native",
                "type": "cuda",
                "index": 0,
                "vram_total": 25447170048,
                "vram_free": 24141692928,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        ]
    }
    stats = decode(data, RunnerStats, converter=conv)
    assert stats.system == SystemInfo()
    assert stats.dev_mode is None
    assert stats.extensions == []
    assert stats.vram_total_total == 25447170048
    assert stats.main_device is not None
    assert stats.main_device.model == "NVIDIA GeForce RTX 3090"


@both_modes
def test_stats_from_old_posix_servers_without_ram(conv: cattrs.Converter) -> None:
    data = {
        "system": {
            "os": "nt",
            "python_version": "3.10.9 (tags/v3.10.9:1dd9be6, Dec  6 2022, 20:01:21) [MSC v.1934]",
            "embedded_python": True,
        },
        "devices": [],
    }
    stats = decode(data, RunnerStats, converter=conv)
    assert stats.system.os == "nt"
    assert stats.system.embedded_python is True
    assert stats.system.ram_total is None
    assert stats.system.ram_free is None
    assert stats.system.comfyui_version is None
    assert stats.devices == []
    assert stats.main_device is None


@pytest.mark.parametrize("version", ["unknown", "v0.3.7-12-g1c8d11e", "0.4.0", ""])
@both_modes
def test_stats_comfyui_versions_are_opaque(conv: cattrs.Converter, version: str) -> None:
    stats = decode({"system": {"comfyui_version": version}}, RunnerStats, converter=conv)
    assert stats.system.comfyui_version == version


@both_modes
def test_stats_cpu_mps_and_multi_device(conv: cattrs.Converter) -> None:
    gib = 1024**3
    data = {
        "system": {"os": "darwin", "ram_total": 64 * gib, "ram_free": 30 * gib},
        "devices": [
            {
                "name": "cuda:0 NVIDIA A100-SXM4-80GB : cudaMallocAsync",
                "type": "cuda",
                "index": 0,
                "vram_total": 80 * gib,
                "vram_free": 10 * gib,
                "torch_vram_total": 90 * gib,  # above vram_total: PyTorch's reservation
                "torch_vram_free": gib,
            },
            {
                "name": "cuda:1 NVIDIA A100-SXM4-80GB : cudaMallocAsync",
                "type": "cuda",
                "index": 1,
                "vram_total": 80 * gib,
                "vram_free": 79 * gib,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            },
            {
                "name": "mps",
                "type": "mps",
                "index": None,
                "vram_total": 64 * gib,
                "vram_free": 30 * gib,
            },
            {
                "name": "cpu",
                "type": "cpu",
                "index": None,
                "vram_total": 64 * gib,
                "vram_free": 30 * gib,
            },
        ],
    }
    stats = decode(data, RunnerStats, converter=conv)
    assert [d.index for d in stats.devices] == [0, 1, None, None]
    assert [d.is_gpu for d in stats.devices] == [True, True, False, False]
    assert stats.devices[0].torch_vram_total == 90 * gib
    assert stats.vram_total_total == 160 * gib
    assert stats.vram_free_total == 89 * gib
    assert stats.main_device is stats.devices[0]


def test_stats_unknown_keys_at_every_level() -> None:
    data = copy.deepcopy(STATS_MODERN)
    data["cluster"] = "eu"
    data["system"]["kernel"] = "6.8"
    data["devices"][0]["pci_bus"] = "0000:3b:00.0"
    stats = decode(data, RunnerStats, converter=LENIENT)
    assert stats.extra == {"cluster": "eu"}
    assert stats.system.extra == {"kernel": "6.8"}
    assert stats.devices[0].extra == {"pci_bus": "0000:3b:00.0"}

    err = rve(lambda: decode(data, RunnerStats, converter=STRICT))
    assert err.path == "$.system.kernel"
    assert "$.devices[0].pci_bus" in str(err)
    assert "$.cluster" in str(err)


LENIENT_STATS_CASES: list[tuple[str, dict[str, Any], Callable[[RunnerStats], None]]] = []


def stats_case(name: str, data: dict[str, Any]) -> Callable[[Callable[[RunnerStats], None]], Any]:
    def register(check: Callable[[RunnerStats], None]) -> Any:
        LENIENT_STATS_CASES.append((name, data, check))
        return check

    return register


@stats_case("ram_free n/a", {"system": {"os": "linux", "ram_free": "n/a", "ram_total": 8}})
def _ram_na(s: RunnerStats) -> None:
    assert s.system.ram_free is None
    assert s.system.ram_total == 8
    assert s.system.os == "linux"
    assert s.system.extra == {"ram_free": "n/a"}


@stats_case("index as string", {"devices": [{"name": "cuda:0 X", "type": "cuda", "index": "0"}]})
def _index_str(s: RunnerStats) -> None:
    (device,) = s.devices
    assert device.index is None
    assert device.extra == {"index": "0"}
    assert device.name == "cuda:0 X"


@stats_case(
    "devices that are not objects",
    {"devices": [3, {"name": "cpu", "type": "cpu"}, "cuda:0", None, ["x"]]},
)
def _bad_devices(s: RunnerStats) -> None:
    assert [d.name for d in s.devices] == ["cpu"]
    assert s.extra == {"devices": [3, {"name": "cpu", "type": "cpu"}, "cuda:0", None, ["x"]]}


@stats_case("system not an object", {"system": "linux", "devices": []})
def _system_str(s: RunnerStats) -> None:
    assert s.system == SystemInfo()
    assert s.extra == {"system": "linux"}


@stats_case("devices not an array", {"devices": {"name": "cpu"}})
def _devices_obj(s: RunnerStats) -> None:
    assert s.devices == []
    assert s.extra == {"devices": {"name": "cpu"}}


@stats_case("nulls", {"system": None, "devices": None, "dev_mode": None, "extensions": None})
def _nulls(s: RunnerStats) -> None:
    assert s == RunnerStats()


@stats_case("dev_mode and extensions", {"dev_mode": "false", "extensions": "/a.js"})
def _flags(s: RunnerStats) -> None:
    assert s.dev_mode is None
    assert s.extensions == []
    assert s.extra == {"dev_mode": "false", "extensions": "/a.js"}


@stats_case("extensions with a non-string", {"extensions": ["/a.js", 5]})
def _mixed_extensions(s: RunnerStats) -> None:
    assert s.extensions == []
    assert s.extra == {"extensions": ["/a.js", 5]}


@stats_case(
    "numbers",
    {
        "system": {"ram_total": 8.0e9, "ram_free": 1.5, "embedded_python": 0},
        "devices": [{"vram_total": True, "vram_free": float("nan"), "torch_vram_total": -1}],
    },
)
def _numbers(s: RunnerStats) -> None:
    assert s.system.ram_total == 8_000_000_000
    assert type(s.system.ram_total) is int
    assert s.system.ram_free is None
    assert s.system.embedded_python is None
    assert s.system.extra == {"ram_free": 1.5, "embedded_python": 0}
    device = s.devices[0]
    assert device.vram_total is None
    assert device.vram_free is None
    assert device.torch_vram_total == -1  # an int: kept, whatever it means
    assert set(device.extra) == {"vram_total", "vram_free"}


@stats_case("argv with a non-string", {"system": {"argv": ["main.py", 8188]}})
def _argv(s: RunnerStats) -> None:
    assert s.system.argv is None
    assert s.system.extra == {"argv": ["main.py", 8188]}


@stats_case("name and type of the wrong type", {"devices": [{"name": 0, "type": None}]})
def _device_names(s: RunnerStats) -> None:
    (device,) = s.devices
    assert device.name is None
    assert device.type is None
    assert device.extra == {"name": 0}
    assert not device.is_gpu
    assert s.vram_total_total == 0


@pytest.mark.parametrize(
    ("data", "check"),
    [case[1:] for case in LENIENT_STATS_CASES],
    ids=[case[0] for case in LENIENT_STATS_CASES],
)
def test_lenient_stats_degrade_instead_of_failing(
    data: dict[str, Any], check: Callable[[RunnerStats], None]
) -> None:
    check(decode(data, RunnerStats, converter=LENIENT))


@pytest.mark.parametrize(
    "data",
    [case[1] for case in LENIENT_STATS_CASES if case[0] != "nulls"],
    ids=[case[0] for case in LENIENT_STATS_CASES if case[0] != "nulls"],
)
def test_strict_stats_reject_what_lenient_sets_aside(data: dict[str, Any]) -> None:
    err = rve(lambda: decode(data, RunnerStats, converter=STRICT))
    assert err.path.startswith(("$.system", "$.devices", "$.dev_mode", "$.extensions"))


def test_strict_stats_paths() -> None:
    data = {"system": {"ram_free": "n/a"}, "devices": [{"index": "0"}, 3]}
    err = rve(lambda: decode(data, RunnerStats, converter=STRICT))
    assert err.path == "$.system.ram_free"
    assert "SystemInfo.ram_free: expected an integer or null, got a string" in str(err)
    assert "$.devices[0].index, $.devices[1]" in str(err)


@pytest.mark.parametrize("body", [None, [], "Internal error", 0])
def test_lenient_stats_body_that_is_not_an_object(body: Any) -> None:
    stats = decode(body, RunnerStats, converter=LENIENT)
    assert stats.system == SystemInfo()
    assert stats.devices == []
    assert stats.extra == {"$": body}
    assert rve(lambda: decode(body, RunnerStats, converter=STRICT)).path == "$"


def test_stats_repr_hides_argv_and_secrets() -> None:
    data = copy.deepcopy(STATS_MODERN)
    data["system"]["argv"] = ["main.py", "--api-key", "sk-very-secret"]
    data["system"]["auth_token"] = "sk-other-secret"
    stats = decode(data, RunnerStats, converter=LENIENT)
    assert stats.system.argv == ["main.py", "--api-key", "sk-very-secret"]
    text = repr(stats)
    assert "sk-very-secret" not in text
    assert "sk-other-secret" not in text


# --- repr of decoded runners -------------------------------------------------------------------


@both_modes
def test_decoded_runner_never_shows_its_token(conv: cattrs.Converter) -> None:
    runners = [
        decode(example("runners-get.json"), Runner, converter=conv),
        decode(example("runners-create.json"), Runner, converter=conv),
        *decode_page(
            example("runners-list.json"),
            key="runners",
            cls=Runner,
            page=1,
            per_page=10,
            converter=conv,
        ),
    ]
    lenient_only = decode(
        runner_payload(proxy={"headers": {"Authorization": "Bearer secret_token"}}),
        Runner,
        converter=LENIENT,
    )
    page = decode_page(
        example("runners-list.json"), key="runners", cls=Runner, page=1, per_page=10, converter=conv
    )
    for obj in [*runners, lenient_only, page]:
        assert "secret_token" not in repr(obj)
        assert "secret_token" not in str(obj)
    assert "'Authorization': '***'" in repr(runners[0])


# --- properties: whatever arrives, decoding either works or raises our error ------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def stats_shaped() -> st.SearchStrategy[Any]:
    device_keys = st.sampled_from([a.name for a in attrs.fields(Device)] + ["other"])
    system_keys = st.sampled_from([a.name for a in attrs.fields(SystemInfo)] + ["other"])
    device = st.dictionaries(device_keys, json_values, max_size=6) | json_values
    system = st.dictionaries(system_keys, json_values, max_size=6) | json_values
    top = st.fixed_dictionaries(
        {},
        optional={
            "system": system,
            "devices": st.lists(device, max_size=4) | json_values,
            "dev_mode": json_values,
            "extensions": st.lists(st.text(max_size=5) | json_values, max_size=3) | json_values,
            "extra": json_values,
        },
    )
    return top | json_values


@settings(max_examples=150, deadline=None)
@given(stats_shaped())
def test_lenient_stats_never_fail(data: Any) -> None:
    stats = decode(data, RunnerStats, converter=LENIENT)
    assert isinstance(stats, RunnerStats)
    assert all(isinstance(d, Device) for d in stats.devices)
    assert isinstance(stats.vram_free_total, int)
    repr(stats)
    for device in stats.devices:
        assert device.model is None or isinstance(device.model, str)
    error = error_of(lambda: decode(data, RunnerStats, converter=STRICT))
    assert error is None or error.path.startswith("$")


def error_of(call: Callable[[], object]) -> ResponseValidationError | None:
    """Run ``call``; return the ResponseValidationError it raised, or None."""
    try:
        call()
    except ResponseValidationError as exc:
        return exc
    return None


def runner_shaped() -> st.SearchStrategy[Any]:
    keys = st.sampled_from([a.name for a in attrs.fields(Runner)] + ["other"])
    return (
        st.dictionaries(keys, json_values, max_size=10).map(lambda d: {**runner_payload(), **d})
        | json_values
    )


@settings(max_examples=150, deadline=None)
@given(runner_shaped())
def test_any_json_decodes_or_raises_response_validation_error(data: Any) -> None:
    for conv in (LENIENT, STRICT):
        error = error_of(functools.partial(decode, data, Runner, converter=conv))
        if error is not None:
            assert error.path.startswith("$")
            assert str(error)
            continue
        runner = decode(data, Runner, converter=conv)
        assert isinstance(runner.created_at, datetime)
        assert runner.created_at.tzinfo is not None
        assert all(isinstance(t, str) for t in runner.tags)


# --- the converters ----------------------------------------------------------------------------


def test_make_converter_returns_private_cattrs_converters() -> None:
    conv = make_converter()
    assert isinstance(conv, cattrs.Converter)
    assert conv is not cattrs.global_converter
    assert conv is not make_converter()
    assert _converter.CONVERTER is not cattrs.global_converter


def test_the_suite_decodes_strictly() -> None:
    # tests/conftest.py swaps a strict converter in for every test, so that a key the models do
    # not know fails CI wherever the SDK decodes (resources, client, fake server round trips).
    err = rve(lambda: decode(runner_payload(brand_new=True), Runner))
    assert err.path == "$.brand_new"
    # an explicit converter wins over the default
    assert decode(runner_payload(brand_new=True), Runner, converter=LENIENT).extra == {
        "brand_new": True
    }


def test_production_decoding_is_lenient() -> None:
    # Outside the test suite nothing swaps the converter: unknown keys land in ``extra``.
    code = (
        "from comfycontrol_async._converter import decode\n"
        "from comfycontrol_async.models import Runner\n"
        f"print(decode({runner_payload(brand_new=True)!r}, Runner).extra)\n"
    )
    root = Path(__file__).resolve().parents[1]  # this checkout first on sys.path
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "{'brand_new': True}"


def test_the_converters_structure_method_decodes_too() -> None:
    # structure() decodes alike; only its errors are cattrs' own (the decode functions explain).
    assert LENIENT.structure(runner_payload(), Runner) == decode(runner_payload(), Runner)
    with pytest.raises(cattrs.errors.ClassValidationError):
        STRICT.structure(runner_payload(brand_new=True), Runner)


# --- the examples decode exactly, in both modes -----------------------------------------------


def typed(value: Any) -> Any:
    """``value`` with every type and every key order spelled out: 8 and 8.0, or True and 1,
    or two orders of the same ``extra``, compare different."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value), tuple((a.name, typed(getattr(value, a.name))) for a in fields))
    if isinstance(value, dict):
        return (dict, tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value), tuple(typed(v) for v in value))
    return (type(value), value)


def _default(a: attrs.Attribute[Any]) -> Any:
    default: Any = a.default
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


def assert_decoded_exactly(obj: Any, payload: dict[str, Any]) -> None:
    """Every field of ``obj`` holds what ``payload`` sent (timestamps parsed, placeholder pairs
    as tuples), or its default where ``payload`` sent nothing or null; ``extra`` holds the rest.
    """
    fields = {a.name: a for a in attrs.fields(type(obj)) if a.name != "extra"}
    for name, a in fields.items():
        value, sent = getattr(obj, name), payload.get(name)
        if sent is None:
            assert typed(value) == typed(_default(a)), name
        elif attrs.has(type(value)):
            assert_decoded_exactly(value, sent)
        elif isinstance(value, datetime):
            assert value == datetime.fromisoformat(sent.replace("Z", "+00:00")), name
            assert value.tzinfo is not None
        elif name == "devices":
            assert len(value) == len(sent)
            for device, raw in zip(value, sent, strict=True):
                assert_decoded_exactly(device, raw)
        elif name == "workflow_params":
            assert typed(value) == typed([tuple(pair) for pair in sent])
        else:
            assert typed(value) == typed(sent), name
    assert typed(obj.extra) == typed({k: v for k, v in payload.items() if k not in fields})


@both_modes
def test_usual_payloads_decode_exactly(conv: cattrs.Converter) -> None:
    # Every published example (items of pages and arrays one by one) and the realistic payloads
    # above, field by field against the payload itself.
    for data, cls in usual_payloads():
        decoded = decode(data, cls, converter=conv)
        assert type(decoded) is cls
        assert_decoded_exactly(decoded, data)
        assert typed(decoded) == typed(
            decode(data, cls, converter=LENIENT if conv is STRICT else STRICT)
        )


def test_unknown_stats_keys_at_every_level_when_lenient() -> None:
    with_unknown = copy.deepcopy(STATS_MODERN)
    with_unknown["system"]["kernel"] = "6.8"
    with_unknown["devices"][0]["pci_bus"] = "0000:3b:00.0"
    with_unknown["cluster"] = "eu"
    stats = decode(with_unknown, RunnerStats, converter=LENIENT)
    assert_decoded_exactly(stats, with_unknown)
    assert (stats.extra, stats.system.extra) == ({"cluster": "eu"}, {"kernel": "6.8"})
    assert stats.devices[0].extra == {"pci_bus": "0000:3b:00.0"}


STATS_MULTI_DEVICE: dict[str, Any] = {
    **STATS_MODERN,
    "devices": [
        {**STATS_MODERN["devices"][0], "name": f"cuda:{i} NVIDIA H100", "index": i}
        for i in range(4)
    ]
    + [{"name": "cpu", "type": "cpu", "index": None, "vram_total": 1, "vram_free": 1}],
}


def usual_payloads() -> list[tuple[Any, type[Any]]]:
    """Payloads as the API sends them, one per model (list items and page items apart)."""
    pages = {
        "runners-list.json": ("runners", Runner),
        "managed-runners-list.json": ("runners", ManagedRunner),
        "templates-list.json": ("templates", TemplateSummary),
    }
    usual: list[tuple[Any, type[Any]]] = []
    for name, cls in EXAMPLE_MODELS.items():
        data = example(name)
        if cls is Page:
            key, cls = pages[name]
            usual += [(item, cls) for item in data[key]]
        elif cls is list:
            usual += [(item, WorkflowSummary) for item in data]
        else:
            usual.append((data, cls))
    without_optional = {k: v for k, v in WORKFLOW_COMPLETED.items() if v is not None}
    usual += [(WORKFLOW_COMPLETED, Workflow), (WORKFLOW_FAILED, Workflow)]
    usual += [(without_optional, Workflow), (TEMPLATE, Template)]
    usual += [(output, WorkflowOutput) for output in OUTPUTS]
    usual += [(STATS_MODERN, RunnerStats), (STATS_MULTI_DEVICE, RunnerStats)]
    usual += [({"devices": STATS_MODERN["devices"]}, RunnerStats), ({}, RunnerStats)]
    return usual


# --- properties: the two modes, and the lenient stats rules -----------------------------------

# Values that fit each field type, and odd ones (edge cases, near misses) for it.
FITTING: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=5),
    int: st.integers(),
    bool: st.booleans(),
    datetime: st.sampled_from(
        ["2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123456+02:00", "2024-01-15T10:30:00"]
    ),
    list[str]: st.lists(st.text(max_size=3), max_size=3),
    dict[str, str]: st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    dict[str, Any]: st.dictionaries(st.text(max_size=3), json_values, max_size=2),
    list[tuple[str, str]]: st.lists(st.lists(st.text(max_size=3), min_size=2, max_size=2)),
}
ODD: dict[Any, st.SearchStrategy[Any]] = {
    str: st.sampled_from([b"x", 0, ["x"]]),
    int: st.sampled_from([8.0e9, 1.5, True, False, float("nan"), float("inf"), "0", -(2**70)]),
    bool: st.sampled_from([0, 1, "true", 1.0]),
    datetime: st.sampled_from(["2024-01-15T10:30:00z", "2024-01-15", "15/01/2024", "", 0]),
    list[str]: st.lists(json_scalars, min_size=1, max_size=3),
    dict[str, str]: st.dictionaries(st.text(max_size=3), json_scalars, min_size=1, max_size=2),
    dict[str, Any]: st.lists(json_scalars, max_size=2),
    list[tuple[str, str]]: st.lists(st.lists(json_scalars, max_size=3), min_size=1, max_size=2),
}


def _base_type(tp: Any) -> Any:
    plain = [arg for arg in getattr(tp, "__args__", ()) if arg is not type(None)]
    return plain[0] if len(plain) == 1 and len(tp.__args__) == 2 else tp


def plausible(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects for ``cls`` that mostly fit: every required field and some optional ones with a
    fitting value (or null), then a change or two: an odd value, null, any JSON value, an
    absent required field or an unknown key."""
    fields = [a for a in attrs.fields(cls) if a.name != "extra"]
    fit = {a.name: FITTING[_base_type(a.type)] for a in fields}
    required = {a.name: fit[a.name] for a in fields if a.default is attrs.NOTHING}
    optional = {a.name: fit[a.name] | st.none() for a in fields if a.default is not attrs.NOTHING}
    base = st.fixed_dictionaries(required, optional=optional)
    odd = st.sampled_from(fields).flatmap(
        lambda a: st.tuples(
            st.just(a.name), ODD[_base_type(a.type)] | st.none() | json_values | st.just(KeyError)
        )
    )
    unknown = st.tuples(st.sampled_from(["other", "extra", "0"]), json_values)
    changes = st.lists(odd | unknown, max_size=2)

    def apply(pair: tuple[dict[str, Any], list[tuple[str, Any]]]) -> dict[str, Any]:
        data, edits = pair
        for key, value in edits:
            data[key] = value
            if value is KeyError:
                del data[key]
        return data

    return st.tuples(base, st.just([]) | changes).map(apply)


def plausible_stats() -> st.SearchStrategy[Any]:
    devices = st.lists(plausible(Device) | json_scalars, max_size=3) | json_values
    top = st.fixed_dictionaries(
        {},
        optional={
            "system": plausible(SystemInfo) | json_values,
            "devices": devices,
            "dev_mode": FITTING[bool] | ODD[bool] | st.none(),
            "extensions": FITTING[list[str]] | ODD[list[str]] | st.none(),
            "cluster": json_values,
        },
    )
    return top | json_values


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [Runner, ManagedRunner, Workflow, WorkflowSummary, User, Template, WorkflowOutput]
    ).flatmap(lambda cls: st.tuples(st.just(cls), plausible(cls)))
)
def test_lenient_differs_from_strict_only_in_keeping_unknown_keys(
    case: tuple[type[Any], dict[str, Any]],
) -> None:
    cls, data = case
    known = {a.name for a in attrs.fields(cls)} - {"extra"}
    unknown = {k: v for k, v in data.items() if k not in known}
    lenient_error = error_of(functools.partial(decode, data, cls, converter=LENIENT))
    strict_error = error_of(functools.partial(decode, data, cls, converter=STRICT))
    if lenient_error is not None:  # a problem with a known field: strict finds it first too
        assert strict_error is not None
        assert strict_error.path == lenient_error.path
        return
    lenient = decode(data, cls, converter=LENIENT)
    assert typed(lenient.extra) == typed(unknown)
    assert (strict_error is None) == (not unknown)
    only_known = {k: v for k, v in data.items() if k in known}
    strict = decode(only_known, cls, converter=STRICT)
    assert typed(strict) == typed(attrs.evolve(lenient, extra={}))


def _fit(tp: Any, value: Any) -> tuple[bool, Any]:
    """The documented lenient rule for one stats value: whether it fits, and as what."""
    base = _base_type(tp)
    if base is int and type(value) is float and math.isfinite(value) and value.is_integer():
        return True, int(value)
    if base in (int, bool):
        return type(value) is base, value
    if base is str:
        return isinstance(value, str), value
    assert base == list[str]
    return type(value) is list and all(isinstance(item, str) for item in value), value


def assert_lenient_rules(obj: Any, data: Any) -> None:
    """``obj`` is what the documented lenient stats rules make of ``data`` (see _converter)."""
    cls = type(obj)
    if cls is RunnerStats and not isinstance(data, dict):
        assert typed(obj) == typed(RunnerStats(extra={"$": data}))
        return
    fields = {a.name: a for a in attrs.fields(cls) if a.name != "extra"}
    extra = {k: v for k, v in data.items() if k not in fields}
    for name, a in fields.items():
        value, sent = getattr(obj, name), data.get(name)
        if name == "system" and isinstance(sent, dict):
            assert_lenient_rules(value, sent)
        elif name == "devices" and type(sent) is list:
            objects = [d for d in sent if isinstance(d, dict)]
            assert len(value) == len(objects)
            for device, raw in zip(value, objects, strict=True):
                assert_lenient_rules(device, raw)
            if len(objects) != len(sent):
                extra[name] = sent
        elif name in ("system", "devices") or sent is None or not _fit(a.type, sent)[0]:
            assert typed(value) == typed(_default(a)), name
            if sent is not None:
                extra[name] = sent
        else:
            assert typed(value) == typed(_fit(a.type, sent)[1]), name
    assert obj.extra == extra  # the very objects received: nan equals itself here


@settings(max_examples=400, deadline=None)
@given(plausible_stats() | stats_shaped())
def test_lenient_stats_follow_the_documented_rules(data: Any) -> None:
    stats = decode(data, RunnerStats, converter=LENIENT)
    assert_lenient_rules(stats, data)
    if error_of(functools.partial(decode, data, RunnerStats, converter=STRICT)) is None:
        assert typed(decode(data, RunnerStats, converter=STRICT)) == typed(stats)


@pytest.mark.parametrize(
    "data",
    [case[1] for case in LENIENT_STATS_CASES] + [None, [], "Internal error", {"devices": [3]}],
)
def test_lenient_stats_never_fail_through_structure_either(data: Any) -> None:
    # The converter's own structure() raises cattrs' errors, but lenient stats have none.
    assert LENIENT.structure(data, RunnerStats) == decode(data, RunnerStats, converter=LENIENT)


def test_strict_stats_keep_refusing_a_null_system() -> None:
    # null reads as empty only where a list or a headers object is expected.
    err = rve(lambda: decode({"system": None}, RunnerStats, converter=STRICT))
    assert err.path == "$.system"
    assert decode({"system": None}, RunnerStats, converter=LENIENT) == RunnerStats()


def test_decoded_stats_share_nothing_with_each_other() -> None:
    first, second = (decode({}, RunnerStats, converter=conv) for conv in (LENIENT, STRICT))
    assert first.system is not second.system
    assert first.devices is not second.devices
    assert first.extra is not second.extra
    assert first.system.extra is not second.system.extra

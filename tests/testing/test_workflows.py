"""Workflows: multipart create, placeholders, scheduling, lifecycle, cancel, outputs, storage."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from comfycontrol_async.testing import FakeComfyControl, ManualClock

from .conftest import Api, example

GRAPH: dict[str, Any] = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": "$random()",
            "sampler_name": "$choice(sampler, euler, euler_ancestral, dpmpp_2m)",
            "steps": "$text(steps, 20)",
        },
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "$text(prompt)"}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "out_$timestamp()"}},
}


def workflow_form(
    graph: dict[str, Any] | None = None, *, name: str = "Sunset", **fields: Any
) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("name", name)
    data.add_field(
        "workflow_json",
        json.dumps(GRAPH if graph is None else graph).encode(),
        filename="workflow.json",
        content_type="application/json",
    )
    for key, value in fields.items():
        field = key.replace("text_", "$").replace("choice_", "#").replace("file_", "$")
        if isinstance(value, bytes):
            data.add_field(field, value, filename=f"{field[1:]}.png", content_type="image/png")
        else:
            data.add_field(field, value)
    return data


async def create(api: Api, data: aiohttp.FormData, **kwargs: Any) -> dict[str, Any]:
    reply = await api.call("POST", "/v1/workflow", data=data, **kwargs)
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.json()
    return result


async def test_create_echoes_params(api: Api, fake: FakeComfyControl) -> None:
    created = await create(
        api, workflow_form(text_prompt="A sunset", choice_sampler="euler_ancestral")
    )
    assert created["status"] == "accepted"
    assert set(created) == set(example("runners-history.json")[0])
    assert created["started_at"] is None
    assert created["completed_at"] is None
    detail = await api.ok(f"/v1/workflow/{created['id']}")
    assert detail["workflow_params"] == [
        ["#choice(sampler)", "euler_ancestral"],
        ["$text(steps)", "20"],
        ["$text(prompt)", "A sunset"],
    ]
    assert detail["workflow_json"] == GRAPH
    assert detail["user_id"] == fake.user("pro").id
    assert detail["prompt_id"] is None
    assert detail["queue_number"] is None
    assert (detail["user_runner_id"] is None) != (detail["managed_runner_id"] is None)
    for key in ("error_node", "exception_type", "exception_message"):
        assert detail[key] is None


@pytest.mark.parametrize(
    ("graph", "fields", "message"),
    [
        (None, {}, "missing form field $prompt for $text(prompt)"),
        (None, {"text_prompt": "x", "choice_sampler": "heun"}, "'heun' is not an option"),
        ({"1": {"inputs": {"image": "$file(input_image)"}}}, {}, "missing file $input_image"),
        (
            {"1": {"inputs": {"image": "$file(input_image)"}}},
            {"file_input_image": "not a file"},
            "form field $input_image must be a file upload",
        ),
        ({"1": {"inputs": {"x": "$choice(only, one)"}}}, {}, "$choice() needs"),
        ({"1": {"inputs": {"x": "$choice(c, a, b, c, d, e)"}}}, {}, "$choice() needs"),
        ({"1": {"inputs": {"x": "$file(bad name!)"}}}, {}, "$file() name must be"),
        ({"1": {"inputs": {"x": "$random(5)"}}}, {}, "$random() takes no arguments"),
        ({"1": {"inputs": {"x": "$text()"}}}, {}, "$text() needs a key"),
    ],
)
async def test_placeholder_rules(
    api: Api, graph: dict[str, Any] | None, fields: dict[str, Any], message: str
) -> None:
    reply = await api.call("POST", "/v1/workflow", data=workflow_form(graph, **fields))
    assert reply.status == 400
    assert reply.json()["status"] == 400
    assert message in reply.json()["message"]


async def test_file_placeholders(api: Api) -> None:
    graph = example("concepts-template-file-placeholders.json")
    created = await create(
        api, workflow_form(graph, file_input_image=b"\x89PNG...", file_mask_image=b"\x89PNG")
    )
    detail = await api.ok(f"/v1/workflow/{created['id']}")
    assert detail["workflow_params"] == [
        ["$file(input_image)", "input_image.png"],
        ["$file(mask_image)", "mask_image.png"],
    ]


async def test_partial_placeholders_are_plain_text(api: Api) -> None:
    graph = {"1": {"inputs": {"a": "prefix_$random()", "b": "$text(x) tail", "c": "$other(y)"}}}
    created = await create(api, workflow_form(graph))
    assert (await api.ok(f"/v1/workflow/{created['id']}"))["workflow_params"] == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name cannot be empty"),
        ({"name": "n" * 201}, "name must be at most 200 characters"),
    ],
)
async def test_name_rules(api: Api, fields: dict[str, Any], message: str) -> None:
    data = workflow_form(
        {}, **{k: v for k, v in fields.items() if k != "name"}, name=fields["name"]
    )
    reply = await api.call("POST", "/v1/workflow", data=data)
    assert reply.status == 400
    assert reply.json()["message"] == message


async def test_workflow_json_is_required_and_an_object(api: Api) -> None:
    data = aiohttp.FormData()
    data.add_field("name", "n")
    assert (await api.call("POST", "/v1/workflow", data=data)).json()[
        "message"
    ] == "workflow_json is required"
    data = aiohttp.FormData()
    data.add_field("name", "n")
    data.add_field("workflow_json", b"[1]", filename="w.json")
    assert (await api.call("POST", "/v1/workflow", data=data)).json()[
        "message"
    ] == "workflow_json must be a JSON object"
    assert (
        await api.call("POST", "/v1/workflow", data=workflow_form({}, name="n" * 200))
    ).status == 201


async def test_scheduling_by_tags(api: Api, fake: FakeComfyControl) -> None:
    own = fake.add_runner("pro", name="video", endpoint="http://v", tags=["video", "gpu"], stats={})
    data = workflow_form({})
    data.add_field("tags", " video , gpu ,")
    created = await create(api, data)
    assert created["tags"] == ["video", "gpu"]
    detail = await api.ok(f"/v1/workflow/{created['id']}")
    assert detail["user_runner_id"] == own["id"]
    assert detail["managed_runner_id"] is None
    # Only a managed runner has "gpu-rtx4090": it is chosen.
    data = workflow_form({})
    data.add_field("tags", "gpu-rtx4090")
    detail = await api.ok(f"/v1/workflow/{(await create(api, data))['id']}")
    assert detail["user_runner_id"] is None
    assert detail["managed_runner_id"] == "b2c3d4e5-f6a7-8901-bcde-f12345678901"
    # Nothing has this tag: 400.
    data = workflow_form({})
    data.add_field("tags", "quantum")
    reply = await api.call("POST", "/v1/workflow", data=data)
    assert reply.status == 400
    assert "no active runner" in reply.json()["message"]


async def test_free_users_run_on_their_own_runners_only(api: Api, fake: FakeComfyControl) -> None:
    free = fake.add_user(tier="free", name="F", email="f@example.com")
    reply = await api.call("POST", "/v1/workflow", data=workflow_form({}), token=free.token)
    assert reply.status == 400
    runner = fake.add_runner(free, name="mine", endpoint="http://m", stats={})
    created = await create(api, workflow_form({}), token=free.token)
    detail = await api.ok(f"/v1/workflow/{created['id']}", token=free.token)
    assert detail["user_runner_id"] == runner["id"]


async def test_lifecycle_on_the_fake_clock(api: Api, fake: FakeComfyControl) -> None:
    created = await create(api, workflow_form(text_prompt="x"))
    path = f"/v1/workflow/{created['id']}"
    seen = []
    for step in (0.0, 0.2, 0.3, 1.0, 3.0):
        fake.advance(step)
        detail = await api.ok(path)
        seen.append(detail["status"])
        if detail["status"] == "queued":
            assert isinstance(detail["queue_number"], int)
            assert isinstance(detail["prompt_id"], str)
            assert detail["started_at"] is None
        if detail["status"] == "running":
            assert detail["started_at"] is not None
            assert detail["completed_at"] is None
    assert seen == ["accepted", "uploaded", "queued", "running", "completed"]
    assert detail["completed_at"] >= detail["started_at"] >= detail["created_at"]
    assert detail["updated_at"] == detail["completed_at"]
    assert (await api.ok("/v1/workflow?status=completed"))["total"] == 1


async def test_durations_are_configurable(clock: ManualClock) -> None:
    async with FakeComfyControl(clock=clock, workflow_durations={"running": 100.0}) as fake:
        workflow = fake.add_workflow("pro", status=None)
        clock.advance(0.2 + 0.3 + 1.0 + 99)
        assert fake.workflow_status(workflow["id"]) == "running"
        fake.set_workflow_durations(accepted=0, uploaded=0, queued=0, running=0)
        later = fake.add_workflow("pro", status=None)
        assert fake.workflow_status(later["id"]) == "completed"
        with pytest.raises(ValueError, match="unknown workflow phase"):
            fake.set_workflow_durations(sleeping=1)


async def test_queue_numbers_grow_per_runner(api: Api, fake: FakeComfyControl) -> None:
    runner = fake.add_runner("pro", name="q", endpoint="http://q", stats={})
    numbers = []
    for _ in range(3):
        w = fake.add_workflow("pro", status="queued", runner_id=runner["id"])
        numbers.append((await api.ok(f"/v1/workflow/{w['id']}"))["queue_number"])
    assert numbers == [1, 2, 3]


async def test_forced_failure(api: Api, fake: FakeComfyControl) -> None:
    fake.fail_next_workflow(exception_message="boom")
    created = await create(api, workflow_form(text_prompt="x"))
    fake.advance(10)
    detail = await api.ok(f"/v1/workflow/{created['id']}")
    assert detail["status"] == "failed"
    assert detail["error_node"] == "3"
    assert detail["exception_type"] == "torch.OutOfMemoryError"
    assert detail["exception_message"] == "boom"
    assert detail["completed_at"] is not None
    second = await create(api, workflow_form(text_prompt="x"))
    fake.advance(10)
    assert (await api.ok(f"/v1/workflow/{second['id']}"))["status"] == "completed"
    reply = await api.get(f"/v1/workflow/{created['id']}/outputs")
    assert reply.status == 400


@pytest.mark.parametrize("status", ["queued", "running"])
async def test_cancel_when_queued_or_running(api: Api, fake: FakeComfyControl, status: str) -> None:
    workflow = fake.add_workflow("pro", status=status)
    reply = await api.call("POST", f"/v1/workflow/{workflow['id']}/cancel")
    assert reply.status == 200
    assert reply.body == b""
    detail = await api.ok(f"/v1/workflow/{workflow['id']}")
    assert detail["status"] == "cancelled"
    assert detail["completed_at"] is not None


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "accepted", "uploaded"])
async def test_cancel_otherwise_is_400(api: Api, fake: FakeComfyControl, status: str) -> None:
    workflow = fake.add_workflow("pro", status=status)
    reply = await api.call("POST", f"/v1/workflow/{workflow['id']}/cancel")
    assert reply.status == 400
    assert reply.json() == {"status": 400, "message": f"cannot cancel a workflow that is {status}"}


async def test_cancel_follows_the_clock(api: Api, fake: FakeComfyControl) -> None:
    created = await create(api, workflow_form(text_prompt="x"))
    path = f"/v1/workflow/{created['id']}/cancel"
    assert (await api.call("POST", path)).status == 400  # accepted
    fake.advance(0.6)
    assert (await api.call("POST", path)).status == 200  # queued
    fake.advance(100)
    assert (await api.ok(f"/v1/workflow/{created['id']}"))["status"] == "cancelled"


async def test_outputs_and_storage(api: Api, fake: FakeComfyControl) -> None:
    graph = {
        "9": {"class_type": "SaveImage", "inputs": {}},
        "10": {"class_type": "SaveImage", "inputs": {}},
    }
    created = await create(api, workflow_form(graph))
    path = f"/v1/workflow/{created['id']}/outputs"
    early = await api.get(path)
    assert early.status == 400
    assert early.json()["message"].startswith("outputs are only available for completed")
    fake.advance(10)
    outputs = await api.ok(path)
    assert len(outputs) == 2
    for output in outputs:
        assert set(output) == {"id", "workflow_id", "src"}
        assert output["id"].startswith("output-")
        assert output["workflow_id"] == created["id"]
        assert output["src"].startswith(f"{fake.url}/storage/")
        assert "expires=" in output["src"]
        assert "sig=" in output["src"]
    src = outputs[0]["src"]
    # No API token needed (and none accepted).
    reply = await api.get(src.removeprefix(fake.url), tier=None, encoded=True)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.body.startswith(b"\x89PNG\r\n\x1a\n")
    assert fake.requests[-1].route == "GET /storage/{key}"
    with_token = await api.get(src.removeprefix(fake.url), encoded=True)
    assert with_token.status == 400
    assert "Authorization" in with_token.json()["message"]
    # A bad or missing signature is 403.
    tampered = src.removeprefix(fake.url)[:-4] + "0000"
    assert (await api.get(tampered, tier=None, encoded=True)).status == 403
    unsigned = src.removeprefix(fake.url).split("?")[0]
    reply = await api.get(unsigned, tier=None, encoded=True)
    assert reply.status == 403
    assert reply.json() == {"status": 403, "message": "missing signature"}
    # After ~300 s of fake clock the URL expires; a fresh outputs call signs again.
    fake.advance(301)
    expired = await api.get(src.removeprefix(fake.url), tier=None, encoded=True)
    assert expired.status == 403
    assert expired.json()["message"] == "signature expired"
    fresh = (await api.ok(path))[0]
    assert fresh["id"] == outputs[0]["id"]
    assert (
        await api.get(fresh["src"].removeprefix(fake.url), tier=None, encoded=True)
    ).status == 200


async def test_signed_url_ttl_is_configurable(clock: ManualClock) -> None:
    async with FakeComfyControl(clock=clock, signed_url_ttl=10) as fake:
        workflow = fake.add_workflow("pro", status="completed")
        headers = {"Authorization": f"Bearer {fake.token()}"}
        async with aiohttp.ClientSession(fake.url) as session:
            async with session.get(
                f"/v1/workflow/{workflow['id']}/outputs", headers=headers
            ) as reply:
                src = (await reply.json())[0]["src"]
            clock.advance(9)
            async with session.get(src) as reply:
                assert reply.status == 200
            clock.advance(2)
            async with session.get(src) as reply:
                assert reply.status == 403


async def test_unknown_storage_key_is_404_even_when_signed(
    api: Api, fake: FakeComfyControl
) -> None:
    state = fake._state
    expires = int(state.wall() + 60)
    url = state.sign("nothing/here.png", expires)
    assert (await api.get(url.removeprefix(fake.url), tier=None, encoded=True)).status == 404


async def test_storage_can_allow_a_token(clock: ManualClock) -> None:
    async with FakeComfyControl(clock=clock, storage_rejects_auth=False) as fake:
        workflow = fake.add_workflow("pro", status="completed")
        headers = {"Authorization": f"Bearer {fake.token()}"}
        async with aiohttp.ClientSession(fake.url, headers=headers) as session:
            async with session.get(f"/v1/workflow/{workflow['id']}/outputs") as reply:
                src = (await reply.json())[0]["src"]
            async with session.get(src) as reply:
                assert reply.status == 200


async def test_add_workflow_needs_a_runner(fake: FakeComfyControl) -> None:
    free = fake.add_user(tier="free", name="F", email="f@example.com")
    with pytest.raises(ValueError, match="no active runner"):
        fake.add_workflow(free)
    with pytest.raises(ValueError, match="no runner"):
        fake.add_workflow("pro", runner_id="nope")
    assert fake.workflow_ids("pro") == []


async def test_pinned_workflows_never_have_times_in_the_future(
    api: Api, fake: FakeComfyControl
) -> None:
    fresh = fake.add_workflow("pro", name="fresh", status="completed")
    old = fake.add_workflow(
        "pro", name="old", status="completed", created_at="2024-01-15T14:30:00Z"
    )
    detail = await api.ok(f"/v1/workflow/{fresh['id']}")
    assert detail["created_at"] == detail["started_at"] == detail["completed_at"]
    detail = await api.ok(f"/v1/workflow/{old['id']}")
    assert (detail["started_at"], detail["completed_at"]) == (
        "2024-01-15T14:30:05Z",
        "2024-01-15T14:31:05Z",
    )
    assert detail["updated_at"] == detail["completed_at"]

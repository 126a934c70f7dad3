"""The fake's defaults look exactly like the published example payloads."""

from __future__ import annotations

from comfycontrol_async.testing import FakeComfyControl

from .conftest import Api, example


async def test_user(api: Api) -> None:
    assert await api.ok("/v1/user") == example("user-get.json")


async def test_runner_get_and_list(api: Api, fake: FakeComfyControl) -> None:
    documented = example("runners-get.json")
    assert await api.ok(f"/v1/runner/{documented['id']}") == documented
    page = await api.ok("/v1/runner")
    listed = example("runners-list.json")
    assert page["total"] == listed["total"]
    assert page["runners"][0] == documented
    assert page["runners"][1] == listed["runners"][1]
    assert [list(r) for r in page["runners"]] == [list(r) for r in listed["runners"]]


async def test_runner_update_shape(api: Api) -> None:
    documented = example("runners-update.json")
    change = {k: documented[k] for k in ("name", "endpoint", "tags", "headers")}
    updated = await api.call("PUT", f"/v1/runner/{documented['id']}", json=change)
    body = updated.json()
    assert list(body) == list(documented)
    assert {k: body[k] for k in change} == change


async def test_template_list_shape(api: Api, fake: FakeComfyControl) -> None:
    documented = example("templates-list.json")["templates"][0]
    fake.add_template(
        "pro",
        name=documented["name"],
        description=documented["description"],
        body=example("concepts-template-text-placeholders.json"),
        created_at=documented["created_at"],
    )
    page = await api.ok("/v1/template")
    got = page["templates"][0]
    assert list(got) == list(documented)
    assert {k: v for k, v in got.items() if k != "id"} == {
        k: v for k, v in documented.items() if k != "id"
    }


async def test_history_shape(api: Api, fake: FakeComfyControl) -> None:
    documented = example("runners-history.json")
    runner_id = fake.runner_ids("pro")[0]
    for status in ("running", "failed", "completed"):
        fake.add_workflow("pro", name=status, status=status, runner_id=runner_id)
    history = await api.ok(f"/v1/runner/{runner_id}/history")
    assert [list(w) for w in history] == [list(w) for w in documented]
    by_status = {w["status"]: w for w in history}
    assert by_status["running"]["completed_at"] is None
    assert by_status["running"]["started_at"] is not None
    assert by_status["failed"]["completed_at"] is not None

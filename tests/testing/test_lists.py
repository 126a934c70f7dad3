"""List endpoints: keys, total, newest-first order, page/per_page rules, filters, mutation."""

from __future__ import annotations

import math

import pytest

from comfycontrol_async.testing import FakeComfyControl, ManualClock

from .conftest import Api

LISTS = [
    ("/v1/runner", "runners"),
    ("/v1/managed-runner", "runners"),
    ("/v1/template", "templates"),
    ("/v1/workflow", "workflows"),
]


@pytest.mark.parametrize(("path", "key"), LISTS)
async def test_lists_answer_exactly_key_and_total(api: Api, path: str, key: str) -> None:
    page = await api.ok(path)
    assert set(page) == {key, "total"}
    assert isinstance(page[key], list)
    assert isinstance(page["total"], int)


@pytest.mark.parametrize(("path", "key"), LISTS)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page must be at least 1"),
        ("page=-1", "page must be at least 1"),
        ("page=abc", "page must be an integer"),
        ("page=1.5", "page must be an integer"),
        ("page=", "page must be an integer"),
        ("per_page=0", "per_page must be between 1 and 100"),
        ("per_page=101", "per_page must be between 1 and 100"),
        ("per_page=ten", "per_page must be an integer"),
    ],
)
async def test_paging_bounds_are_400(
    api: Api, path: str, key: str, query: str, message: str
) -> None:
    reply = await api.get(f"{path}?{query}")
    assert reply.status == 400
    assert reply.json() == {"status": 400, "message": message}


async def test_paging_defaults_and_extremes(api: Api, fake: FakeComfyControl) -> None:
    ids = fake.managed_runner_ids()
    assert len(ids) == 12
    first = await api.ok("/v1/managed-runner")
    assert [r["id"] for r in first["runners"]] == ids[:10]
    assert first["total"] == 12
    second = await api.ok("/v1/managed-runner?page=2")
    assert [r["id"] for r in second["runners"]] == ids[10:]
    beyond = await api.ok("/v1/managed-runner?page=99&per_page=100")
    assert beyond == {"runners": [], "total": 12}
    one = await api.ok("/v1/managed-runner?per_page=1&page=12")
    assert [r["id"] for r in one["runners"]] == ids[11:]


async def test_1234_items_make_13_pages_of_100(api: Api, fake: FakeComfyControl) -> None:
    user = fake.user("pro")
    for n in range(1234):
        fake.add_template(user, name=f"t{n}", description="d", body={}, created_at=1e9 + n)
    seen: list[str] = []
    pages = 0
    total = None
    while True:
        page = await api.ok(f"/v1/template?per_page=100&page={pages + 1}")
        total = page["total"]
        if not page["templates"]:
            break
        pages += 1
        assert len(page["templates"]) == (100 if pages < 13 else 34)
        seen.extend(t["name"] for t in page["templates"])
    assert total == 1234
    assert pages == 13 == math.ceil(1234 / 100)
    assert seen == [f"t{n}" for n in range(1233, -1, -1)]  # newest first


async def test_lists_are_newest_first_by_created_at(api: Api, fake: FakeComfyControl) -> None:
    user = fake.user("pro")
    fake.add_runner(user, name="middle", endpoint="http://m", created_at="2024-06-01T00:00:00Z")
    fake.add_runner(user, name="newest", endpoint="http://n", created_at="2025-06-01T00:00:00Z")
    fake.add_runner(user, name="oldest", endpoint="http://o", created_at="2020-06-01T00:00:00Z")
    page = await api.ok("/v1/runner?per_page=100")
    names = [r["name"] for r in page["runners"]]
    assert names == ["newest", "middle", "Production GPU Runner", "Development Runner", "oldest"]
    stamps = [r["created_at"] for r in page["runners"]]
    assert stamps == sorted(stamps, reverse=True)
    assert fake.runner_ids(user) == [r["id"] for r in page["runners"]]


async def test_runner_status_filter(api: Api, fake: FakeComfyControl) -> None:
    user = fake.user("pro")
    fake.add_runner(user, name="off", endpoint="http://off", status="disabled")
    active = await api.ok("/v1/runner?status=active")
    disabled = await api.ok("/v1/runner?status=disabled")
    assert active["total"] == 2
    assert {r["status"] for r in active["runners"]} == {"active"}
    assert [r["name"] for r in disabled["runners"]] == ["off"]
    assert disabled["total"] == 1
    reply = await api.get("/v1/runner?status=paused")
    assert reply.status == 400
    assert "status" in reply.json()["message"]


async def test_workflow_status_filter(api: Api, fake: FakeComfyControl, clock: ManualClock) -> None:
    user = fake.user("pro")
    for status in ("completed", "completed", "failed", "running", "queued", "cancelled"):
        fake.add_workflow(user, name=status, status=status)
    for status, count in (
        ("completed", 2),
        ("failed", 1),
        ("running", 1),
        ("queued", 1),
        ("cancelled", 1),
    ):
        page = await api.ok(f"/v1/workflow?status={status}")
        assert page["total"] == count, status
        assert {w["status"] for w in page["workflows"]} == {status}
    for bad in ("accepted", "done", "COMPLETED", ""):
        reply = await api.get("/v1/workflow", params={"status": bad})
        assert reply.status == 400, bad


async def test_lists_without_filters_ignore_status(api: Api) -> None:
    assert (await api.get("/v1/managed-runner?status=bogus")).status == 200
    assert (await api.get("/v1/template?status=bogus")).status == 200


async def test_lists_only_show_the_callers_objects(api: Api, fake: FakeComfyControl) -> None:
    other = fake.add_user(tier="pro", name="Eve", email="eve@example.com")
    fake.add_runner(other, name="eve", endpoint="http://e")
    fake.add_template(other, name="eve", description="d", body={})
    assert (await api.ok("/v1/runner"))["total"] == 2
    assert (await api.ok("/v1/template"))["total"] == 0
    assert (await api.ok("/v1/runner", token=other.token))["total"] == 1


async def _walk(api: Api, path: str, key: str, per_page: int) -> tuple[list[str], int]:
    names: list[str] = []
    page_number = 1
    total = 0
    while True:
        page = await api.ok(f"{path}?per_page={per_page}&page={page_number}")
        total = page["total"]
        names.extend(item["id"] for item in page[key])
        if page_number * per_page >= total:
            return names, total
        page_number += 1


async def test_insert_between_pages_repeats_one_item(api: Api, fake: FakeComfyControl) -> None:
    before = fake.managed_runner_ids()
    fake.mutate_between_pages("GET /v1/managed-runner", insert=1, after_page=1)
    seen, total = await _walk(api, "/v1/managed-runner", "runners", 5)
    assert total == 13
    duplicates = [i for i in set(seen) if seen.count(i) > 1]
    assert duplicates == [before[4]]  # the last of page 1 comes again first on page 2
    assert seen[4] == seen[5] == before[4]
    after = fake.managed_runner_ids()
    assert after[1:] == before
    assert after[0] not in seen  # the new item sits on a page already read


async def test_delete_between_pages_skips_one_item(api: Api, fake: FakeComfyControl) -> None:
    before = fake.managed_runner_ids()
    fake.mutate_between_pages("GET /v1/managed-runner", delete=1, after_page=1)
    seen, total = await _walk(api, "/v1/managed-runner", "runners", 5)
    assert total == 11
    assert len(seen) == len(set(seen)) == 11
    skipped = [i for i in before if i not in seen]
    assert skipped == [before[5]]  # the first of page 2 moved up to page 1, already read


OWN_LISTS = [pair for pair in LISTS if pair[0] != "/v1/managed-runner"]


@pytest.mark.parametrize(("path", "key"), OWN_LISTS)
async def test_mutation_works_on_every_list(
    api: Api, fake: FakeComfyControl, path: str, key: str
) -> None:
    user = fake.user("pro")
    for n in range(4):
        fake.add_template(user, name=f"t{n}", description="d", body={}, created_at=1e9 + n)
        fake.add_workflow(user, name=f"w{n}", status="completed", created_at=1e9 + n)
        fake.add_runner(user, name=f"r{n}", endpoint="http://r", created_at=1e9 + n)
    fake.mutate_between_pages(f"GET {path}", insert=1, after_page=1)
    seen, _ = await _walk(api, path, key, 2)
    assert len(seen) - len(set(seen)) == 1
    fake.mutate_between_pages(f"GET {path}", delete=1, after_page=2)
    before_total = (await api.ok(path))["total"]
    seen, total = await _walk(api, path, key, 2)
    assert total == before_total - 1
    assert len(seen) == len(set(seen))


async def test_mutation_can_target_one_user_and_applies_once(
    api: Api, fake: FakeComfyControl
) -> None:
    plus_ids = (await api.ok("/v1/managed-runner?per_page=100", tier="plus"))["runners"]
    fake.mutate_between_pages(
        "GET /v1/managed-runner", insert=1, after_page=2, user=fake.user("enterprise")
    )
    await api.ok("/v1/managed-runner?page=2&per_page=5")  # pro: no effect
    assert len(fake.managed_runner_ids()) == 12
    await api.ok("/v1/managed-runner?page=2&per_page=5", tier="enterprise")
    assert len(fake.managed_runner_ids()) == 13
    await api.ok("/v1/managed-runner?page=2&per_page=5", tier="enterprise")
    assert len(fake.managed_runner_ids()) == 13
    assert len(plus_ids) == 6


def test_mutation_arguments_are_checked(fake: FakeComfyControl) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        fake.mutate_between_pages("GET /v1/user", insert=1)
    with pytest.raises(ValueError, match="after_page"):
        fake.mutate_between_pages(insert=1, after_page=0)

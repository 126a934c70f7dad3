"""Authentication, tiers, ownership and raw-path routing, rule by rule against the API docs."""

from __future__ import annotations

import pytest

from comfycontrol_async.testing import ROUTES, FakeComfyControl

from .conftest import Api, example, last

MANAGED_PATHS = [
    "/v1/managed-runner",
    "/v1/managed-runner/a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "/v1/managed-runner/a1b2c3d4-e5f6-7890-abcd-ef1234567890/stats",
    "/v1/managed-runner/a1b2c3d4-e5f6-7890-abcd-ef1234567890/history",
]


def test_routes_are_the_21_of_the_spec_plus_storage() -> None:
    api_routes = [r for r in ROUTES if " /v1/" in r]
    assert len(api_routes) == 21
    assert len(set(ROUTES)) == 22
    assert "GET /storage/{key}" in ROUTES


async def test_missing_token_is_401_json(api: Api) -> None:
    reply = await api.get("/v1/user", tier=None)
    assert reply.status == 401
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"status": 401, "message": "Missing bearer token"}


async def test_unknown_token_is_the_documented_401(api: Api) -> None:
    reply = await api.get("/v1/user", token="cfc_nope")
    assert reply.status == 401
    assert reply.json() == example("error-401-invalid-token.json")


async def test_non_bearer_scheme_is_401(api: Api) -> None:
    reply = await api.get(
        "/v1/user", tier=None, headers={"Authorization": f"Basic {api.fake.token()}"}
    )
    assert reply.status == 401


async def test_expired_token_is_401(api: Api, fake: FakeComfyControl) -> None:
    user = fake.add_user(tier="pro", name="Old", email="old@example.com", expired=True)
    reply = await api.get("/v1/user", token=user.token)
    assert reply.status == 401
    assert reply.json() == {"status": 401, "message": "Token expired"}
    user.expired = False
    assert (await api.ok("/v1/user", token=user.token))["id"] == user.id


async def test_every_api_route_requires_a_token(api: Api) -> None:
    for route in ROUTES:
        method, path = route.split(" ", 1)
        if not path.startswith("/v1/"):
            continue
        reply = await api.call(method, path.replace("{id}", "x"), tier=None)
        assert reply.status == 401, route


@pytest.mark.parametrize("path", MANAGED_PATHS)
async def test_free_tier_gets_403_on_managed_endpoints(api: Api, path: str) -> None:
    reply = await api.get(path, tier="free")
    assert reply.status == 403
    assert reply.json() == example("error-403-managed-runners-require-pro-or-plus.json")


@pytest.mark.parametrize("tier", ["plus", "pro", "enterprise"])
async def test_paid_tiers_may_use_managed_endpoints(api: Api, tier: str) -> None:
    assert (await api.get("/v1/managed-runner", tier=tier)).status == 200


async def test_user_is_the_callers_profile(api: Api, fake: FakeComfyControl) -> None:
    for tier in ("free", "plus", "pro", "enterprise"):
        me = await api.ok("/v1/user", tier=tier)
        assert me["tier"] == tier
        assert me["id"] == fake.user(tier).id
    ada = fake.add_user(tier="plus", name="Ada", email="ada@example.com", provider="github")
    me = await api.ok("/v1/user", token=ada.token)
    assert (me["name"], me["email"], me["provider"], me["deleted"]) == (
        "Ada",
        "ada@example.com",
        "github",
        False,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/runner/nope",
        "/v1/runner/nope/stats",
        "/v1/runner/nope/history",
        "/v1/managed-runner/nope",
        "/v1/managed-runner/nope/stats",
        "/v1/managed-runner/nope/history",
        "/v1/template/nope",
        "/v1/workflow/nope",
        "/v1/workflow/nope/outputs",
    ],
)
async def test_unknown_ids_are_the_documented_404(api: Api, path: str) -> None:
    reply = await api.get(path)
    assert reply.status == 404
    assert reply.json() == example("error-404-requested-entity-not-found.json")


async def test_other_users_objects_are_404(api: Api, fake: FakeComfyControl) -> None:
    other = fake.add_user(tier="pro", name="Eve", email="eve@example.com")
    runner = fake.add_runner(other, name="eve's", endpoint="http://10.0.0.1", stats={})
    template = fake.add_template(other, name="t", description="d", body={})
    workflow = fake.add_workflow(other, name="w", status="completed", runner_id=runner["id"])
    for path in (
        f"/v1/runner/{runner['id']}",
        f"/v1/runner/{runner['id']}/stats",
        f"/v1/runner/{runner['id']}/history",
        f"/v1/template/{template['id']}",
        f"/v1/workflow/{workflow['id']}",
        f"/v1/workflow/{workflow['id']}/outputs",
    ):
        assert (await api.get(path)).status == 404, path
        assert (await api.get(path, token=other.token)).status == 200, path
    for method, path in (
        ("PUT", f"/v1/runner/{runner['id']}"),
        ("POST", f"/v1/runner/{runner['id']}/interrupt"),
        ("POST", f"/v1/workflow/{workflow['id']}/cancel"),
    ):
        assert (await api.call(method, path, json={})).status == 404, path
    assert (await api.call("PUT", f"/v1/template/{template['id']}", data={})).status == 404


async def test_percent_encoded_slash_is_one_id(api: Api, fake: FakeComfyControl) -> None:
    runner = fake.add_runner(fake.user("pro"), name="odd", endpoint="http://x", stats={"a": 1})
    # Give a runner an id with a slash through the state (ids are opaque strings).
    state = fake._state
    obj = state.runners.pop(runner["id"])
    obj.id = "a/b"
    obj._json = None
    state.runners["a/b"] = obj
    got = await api.ok("/v1/runner/a%2Fb", encoded=True)
    assert got["id"] == "a/b"
    assert await api.ok("/v1/runner/a%2Fb/stats", encoded=True) == {"a": 1}
    # Unencoded, the slash makes a different (unknown) route: never the runner.
    assert (await api.get("/v1/runner/a/b", encoded=True)).status == 404
    assert last(fake).route is None
    assert fake.requests[-2:][0].id == "a/b"


async def test_dot_dot_in_an_id_never_reaches_another_route(
    api: Api, fake: FakeComfyControl
) -> None:
    # "/v1/runner/../user" would be "/v1/user" after normalisation: the fake must not do that.
    reply = await api.get("/v1/runner/../user", encoded=True)
    assert reply.status == 404
    assert last(fake).route is None
    reply = await api.get("/v1/runner/%2E%2E", encoded=True)
    assert reply.status == 404
    assert last(fake).route == "GET /v1/runner/{id}"
    assert last(fake).id == ".."
    reply = await api.get("/v1/managed-runner/..%2F..%2Fv1%2Fuser", encoded=True)
    assert reply.status == 404
    assert last(fake).id == "../../v1/user"
    assert last(fake).path == "/v1/managed-runner/..%2F..%2Fv1%2Fuser"


async def test_query_and_fragment_characters_stay_in_the_segment(
    api: Api, fake: FakeComfyControl
) -> None:
    reply = await api.get("/v1/workflow/a%3Fb%23c", encoded=True)
    assert reply.status == 404
    assert last(fake).id == "a?b#c"
    assert last(fake).route == "GET /v1/workflow/{id}"


async def test_unknown_path_is_404_and_wrong_method_405(api: Api) -> None:
    assert (await api.get("/v1/nothing")).status == 404
    assert (await api.get("/v2/user")).status == 404
    assert (await api.get("/v1/user/")).status == 404
    reply = await api.call("DELETE", "/v1/runner/x")
    assert reply.status == 405
    assert reply.json()["status"] == 405
    assert set(reply.headers["Allow"].split(", ")) == {"GET", "PUT"}


async def test_every_answer_has_a_request_id(api: Api, fake: FakeComfyControl) -> None:
    replies = []
    for path, tier in (("/v1/user", "pro"), ("/v1/user", None), ("/nope", "pro")):
        reply = await api.get(path, tier=tier)
        request_id = reply.headers["X-Request-Id"]
        assert request_id.startswith("req_")
        replies.append(request_id)
    assert len(set(replies)) == 3
    assert [r.request_id for r in fake.requests] == replies


async def test_a_bug_in_the_fake_still_answers_json(
    api: Api, fake: FakeComfyControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(user: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake._state, "visible_managed", broken)
    reply = await api.get("/v1/managed-runner")
    assert reply.status == 500
    assert reply.json() == {"status": 500, "message": "internal error in FakeComfyControl"}


def test_repr_and_url_before_start() -> None:
    fake = FakeComfyControl(managed_runners=1)
    assert "not started" in repr(fake)
    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.url
    with pytest.raises(ValueError, match="unknown tier"):
        fake.token("gold")

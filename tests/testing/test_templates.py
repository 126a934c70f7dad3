"""Templates: multipart create/update, validation, list without body, get with body, 413."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from comfycontrol_async.testing import FakeComfyControl

from .conftest import Api, example

BODY = example("concepts-template-text-placeholders.json")


def form(**fields: Any) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, dict | list):
            data.add_field(
                name,
                json.dumps(value).encode(),
                filename=f"{name}.json",
                content_type="application/json",
            )
        elif isinstance(value, bytes):
            data.add_field(name, value, filename=f"{name}.bin")
        else:
            data.add_field(name, value)
    return data


async def test_create_get_list(api: Api, fake: FakeComfyControl) -> None:
    reply = await api.call(
        "POST", "/v1/template", data=form(name="T2I", description="SDXL", body=BODY)
    )
    assert reply.status == 201
    created = reply.json()
    assert created["body"] == BODY
    assert created["user_id"] == fake.user("pro").id
    got = await api.ok(f"/v1/template/{created['id']}")
    assert got == created
    page = await api.ok("/v1/template")
    assert page["total"] == 1
    assert "body" not in page["templates"][0]
    assert page["templates"][0] == {k: v for k, v in created.items() if k != "body"}
    assert list(page["templates"][0]) == list(example("templates-list.json")["templates"][0])
    assert fake.requests[0].form["name"] == "T2I"
    assert fake.requests[0].form["body"] == ("body.json", json.dumps(BODY).encode())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "d", "body": BODY}, "name must be a string"),
        ({"name": "", "description": "d", "body": BODY}, "name cannot be empty"),
        ({"name": "n" * 101, "description": "d", "body": BODY}, "name must be at most 100"),
        ({"name": "n", "body": BODY}, "description must be a string"),
        ({"name": "n", "description": "", "body": BODY}, "description cannot be empty"),
        ({"name": "n", "description": "d" * 501, "body": BODY}, "description must be at most 500"),
        ({"name": "n", "description": "d"}, "body is required"),
        ({"name": "n", "description": "d", "body": [1, 2]}, "body must be a JSON object"),
        ({"name": "n", "description": "d", "body": b"{not json"}, "body must be a JSON object"),
    ],
)
async def test_create_validation(api: Api, fields: dict[str, Any], message: str) -> None:
    reply = await api.call("POST", "/v1/template", data=form(**fields))
    assert reply.status == 400
    assert reply.json()["status"] == 400
    assert reply.json()["message"].startswith(message)


async def test_limits_are_inclusive(api: Api) -> None:
    fields = form(name="n" * 100, description="d" * 500, body={})
    assert (await api.call("POST", "/v1/template", data=fields)).status == 201


async def test_json_body_is_not_a_form(api: Api) -> None:
    reply = await api.call("POST", "/v1/template", json={"name": "n"})
    assert reply.status == 400
    assert reply.json()["message"] == "expected a multipart/form-data body"


async def test_broken_multipart_is_400(api: Api) -> None:
    reply = await api.call(
        "POST",
        "/v1/template",
        data=b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nn',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert reply.status == 400
    assert reply.json()["message"] == "multipart body is not terminated"


async def test_update_is_partial(api: Api, fake: FakeComfyControl) -> None:
    created = fake.add_template("pro", name="old", description="desc", body={"a": 1})
    fake.advance(5)
    reply = await api.call("PUT", f"/v1/template/{created['id']}", data=form(name="new"))
    assert reply.status == 200
    updated = reply.json()
    assert (updated["name"], updated["description"], updated["body"]) == ("new", "desc", {"a": 1})
    assert updated["updated_at"] > created["updated_at"]
    reply = await api.call("PUT", f"/v1/template/{created['id']}", data=form(body={"b": 2}))
    assert reply.json()["body"] == {"b": 2}
    assert reply.json()["name"] == "new"
    bad = await api.call("PUT", f"/v1/template/{created['id']}", data=form(description=""))
    assert bad.status == 400
    assert (await api.ok(f"/v1/template/{created['id']}"))["description"] == "desc"


async def test_upload_over_the_limit_is_413() -> None:
    async with FakeComfyControl(max_upload_bytes=1000) as fake, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {fake.token()}"}
        big = form(name="n", description="d", body={"x": "y" * 2000})
        async with session.post(f"{fake.url}/v1/template", data=big, headers=headers) as r:
            assert r.status == 413
            assert await r.json() == {
                "status": 413,
                "message": "request body exceeds the 1000 bytes limit",
            }
        # Chunked (no Content-Length) is counted as it arrives.

        async def chunks() -> Any:
            for _ in range(5):
                yield b"x" * 400

        async with session.post(f"{fake.url}/v1/workflow", data=chunks(), headers=headers) as r:
            assert r.status == 413
        small = form(name="n", description="d", body={})
        async with session.post(f"{fake.url}/v1/template", data=small, headers=headers) as r:
            assert r.status == 201


def test_default_upload_limit_is_50_mib() -> None:
    assert FakeComfyControl()._max_upload == 50 * 1024 * 1024

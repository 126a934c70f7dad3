"""Fixtures for the fake's own tests: a fake on a manual clock and a raw aiohttp client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from multidict import CIMultiDictProxy

from comfycontrol_async.testing import FakeComfyControl, ManualClock, RecordedRequest

from ..conftest import EXAMPLES


def example(name: str) -> Any:
    """A published example payload (copied from the API contract's examples/)."""
    return json.loads((EXAMPLES / name).read_text())


def last(fake: FakeComfyControl) -> RecordedRequest:
    """The latest recorded request (a call, so that type checkers do not narrow it)."""
    return fake.requests[-1]


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A thin raw-aiohttp caller: the SDK is not used here on purpose."""

    def __init__(self, session: aiohttp.ClientSession, fake: FakeComfyControl) -> None:
        self.session = session
        self.fake = fake

    async def call(
        self,
        method: str,
        path: str,
        *,
        tier: str | None = "pro",
        token: str | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        encoded: bool = False,
        timeout: float | None = None,
    ) -> Reply:
        sent: dict[str, str] = dict(headers or {})
        if token is None and tier is not None:
            token = self.fake.token(tier)
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        url: Any = path
        if encoded:
            from yarl import URL

            url = URL(self.fake.url + path, encoded=True)
        options: dict[str, Any] = {}
        if timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=timeout)
        async with self.session.request(
            method, url, json=json, data=data, headers=sent, params=params, **options
        ) as response:
            body = await response.read()
            return Reply(response.status, response.headers, body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def ok(self, path: str, **kwargs: Any) -> Any:
        reply = await self.call("GET", path, **kwargs)
        assert reply.status == 200, (reply.status, reply.body)
        return reply.json()


@pytest_asyncio.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest_asyncio.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeComfyControl]:
    async with FakeComfyControl(clock=clock, runners=2) as server:
        yield server


@pytest_asyncio.fixture
async def api(fake: FakeComfyControl) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(fake.url) as session:
        yield Api(session, fake)

"""Shared fixtures. Decoding is strict here, so a model that drifts from the API fails CI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from comfycontrol_async import ComfyControl, _redact
from comfycontrol_async._converter import set_strict
from comfycontrol_async.testing import FakeComfyControl

# The published example payloads: from ../shared/api/examples beside the repository when it is
# there (as in CI), else from the copy in tests/examples, which test_core keeps identical.
SHARED_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "api" / "examples"
VENDORED_EXAMPLES = Path(__file__).resolve().parent / "examples"
EXAMPLES = SHARED_EXAMPLES if SHARED_EXAMPLES.is_dir() else VENDORED_EXAMPLES

set_strict(True)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own settings must never leak into a test.
    for name in list(os.environ):
        if name.startswith("COMFYCONTROL_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _forget_remembered_secrets() -> Iterator[None]:
    # The registry of credentials is process-wide: the runner credentials one test decodes (the
    # published example's header value is the word "value") must not hide words from the texts
    # of the tests after it.
    before = set(_redact._unowned)
    yield
    _redact.forget([value for value in _redact._unowned if value not in before])


@pytest.fixture
async def fake() -> AsyncIterator[FakeComfyControl]:
    async with FakeComfyControl(seed=1, managed_runners=12, runners=3) as server:
        yield server


@pytest.fixture
async def client(fake: FakeComfyControl) -> AsyncIterator[ComfyControl]:
    async with ComfyControl(fake.token("pro"), base_url=fake.url, rate_limit=None) as cc:
        cc._backoff_base = cc._backoff_cap = 0.001
        yield cc

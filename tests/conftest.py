"""Shared fixtures. Decoding is strict in every test, so a model drifting from the API fails CI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from comfycontrol_async import ComfyControl, RetryPolicy, _converter, _redact
from comfycontrol_async.testing import FakeComfyControl

# The published example payloads: from ../shared/api/examples beside the repository when it is
# there (as in CI), else from the copy in tests/examples, which test_core keeps identical.
SHARED_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "api" / "examples"
VENDORED_EXAMPLES = Path(__file__).resolve().parent / "examples"
EXAMPLES = SHARED_EXAMPLES if SHARED_EXAMPLES.is_dir() else VENDORED_EXAMPLES

_STRICT = _converter.make_converter(strict=True)


@pytest.fixture(autouse=True)
def _strict_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Wherever the SDK decodes an answer without being given a converter (every resource does),
    # a key the models do not know raises instead of landing in ``extra``. Production decoding
    # stays lenient: this swaps the default for the duration of one test only.
    monkeypatch.setattr(_converter, "CONVERTER", _STRICT)


_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy"})

# Backoff in milliseconds: the tests count attempts, they do not wait them out.
FAST_RETRY = RetryPolicy(backoff_base=0.001, backoff_cap=0.001)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own settings must never leak into a test.
    for name in list(os.environ):
        # Proxies too: the client's own session honours them, and the fake is on loopback.
        if name.startswith("COMFYCONTROL_") or name.lower() in _PROXY_VARIABLES:
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
    async with ComfyControl(
        fake.token("pro"), base_url=fake.url, rate_limit=None, retry=FAST_RETRY
    ) as cc:
        yield cc

"""Opt-in pytest fixtures for testing code that talks to ComfyControl.

Enable them in a ``conftest.py`` (or a test module)::

    pytest_plugins = ["comfycontrol_async.testing.pytest_plugin"]

Fixtures (function-scoped; they need an asyncio test runner such as pytest-asyncio):

- ``comfy_fake``: a started :class:`~comfycontrol_async.testing.FakeComfyControl`. Configure it
  per test with ``@pytest.mark.comfy_fake(managed_runners=3, runners=2, seed=1, ...)``: the
  marker's keyword arguments go to the constructor (or parametrize it indirectly with a dict of
  them: ``@pytest.mark.parametrize("comfy_fake", [{"seed": 2}], indirect=True)``). The marker is
  registered by the plugin, so enable the plugin in a conftest.py for ``--strict-markers``.
- ``comfy_client``: a ``comfycontrol_async.ComfyControl`` bound to ``comfy_fake`` with the default
  pro user's token, closed after the test.

This module imports pytest and pytest-asyncio; ``comfycontrol_async.testing`` itself never does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from ._fake import FakeComfyControl

if TYPE_CHECKING:
    from comfycontrol_async import ComfyControl

__all__ = ["comfy_client", "comfy_fake"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "comfy_fake(**kwargs): keyword arguments for the comfy_fake fixture's FakeComfyControl",
    )


@pytest_asyncio.fixture
async def comfy_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeComfyControl]:
    """A started FakeComfyControl (see the ``comfy_fake`` marker for options)."""
    kwargs: dict[str, Any] = {}
    marker = request.node.get_closest_marker("comfy_fake")
    if marker is not None:
        if marker.args:
            raise TypeError("the comfy_fake marker takes keyword arguments only")
        kwargs.update(marker.kwargs)
    # Indirect parametrization works too: parametrize("comfy_fake", [{...}], indirect=True).
    kwargs.update(getattr(request, "param", None) or {})
    async with FakeComfyControl(**kwargs) as fake:
        yield fake


@pytest_asyncio.fixture
async def comfy_client(comfy_fake: FakeComfyControl) -> AsyncIterator[ComfyControl]:
    """An SDK client bound to ``comfy_fake``, authenticated as its default pro user."""
    # Imported here so that the plugin loads even where only the fake is wanted.
    from comfycontrol_async import ComfyControl

    # The fake does not rate-limit unless asked to, so pacing would only slow the tests down.
    async with ComfyControl(
        token=comfy_fake.token("pro"), base_url=comfy_fake.url, rate_limit=None
    ) as client:
        yield client

"""comfycontrol-async: the async-first Python SDK for the ComfyControl API.

```python
from comfycontrol_async import ComfyControl

async with ComfyControl() as cc:      # token from COMFYCONTROL_API_TOKEN
    async for runner in cc.managed_runners.list():
        print(runner.name)
```

The names below are imported on first use (PEP 562), so that ``import comfycontrol_async`` and
the ``comfycontrol`` command's ``--help`` stay fast: aiohttp, cattrs and the models load when
a program first touches a name that needs them. Nothing here imports rich or the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from ._client import ComfyControl
    from ._config import (
        DEFAULT_BASE_URL,
        DEFAULT_RATE_LIMIT,
        DEFAULT_TIMEOUT,
        NOT_GIVEN,
        NotGiven,
        RateLimit,
        RetryBudget,
        RetryPolicy,
        Timeout,
    )
    from ._exceptions import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ComfyControlError,
        ListChangedError,
        NotFoundError,
        PaginationError,
        PermissionDeniedError,
        RateLimitError,
        RateLimitStoreError,
        ResponseValidationError,
        ServerError,
    )
    from ._pagination import Paginator
    from ._version import __version__
    from .capacity import CapacityReport, CapacityRow, FactsCache, FoundRunners, RouteAdvice
    from .models import (
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
    from .placeholders import PlaceholderError
    from .resources._fanout import StatsResult, StatsSweep, SweepProgress

# Where each public name lives: module -> names.
_HOMES: Final[dict[str, tuple[str, ...]]] = {
    "._client": ("ComfyControl",),
    "._config": (
        "DEFAULT_BASE_URL",
        "DEFAULT_RATE_LIMIT",
        "DEFAULT_TIMEOUT",
        "NOT_GIVEN",
        "NotGiven",
        "RateLimit",
        "RetryBudget",
        "RetryPolicy",
        "Timeout",
    ),
    "._exceptions": (
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "ClientClosedError",
        "ComfyControlError",
        "ListChangedError",
        "NotFoundError",
        "PaginationError",
        "PermissionDeniedError",
        "RateLimitError",
        "RateLimitStoreError",
        "ResponseValidationError",
        "ServerError",
    ),
    "._pagination": ("Paginator",),
    ".capacity": ("CapacityReport", "CapacityRow", "FactsCache", "FoundRunners", "RouteAdvice"),
    ".models": (
        "Device",
        "ManagedRunner",
        "Page",
        "Runner",
        "RunnerStats",
        "SystemInfo",
        "Template",
        "TemplateSummary",
        "User",
        "Workflow",
        "WorkflowOutput",
        "WorkflowSummary",
    ),
    ".placeholders": ("PlaceholderError",),
    ".resources._fanout": ("StatsResult", "StatsSweep", "SweepProgress"),
    "._version": ("__version__",),  # reading the metadata costs ~20 ms: only when asked
}
_LAZY: Final = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapacityReport",
    "CapacityRow",
    "ClientClosedError",
    "ComfyControl",
    "ComfyControlError",
    "Device",
    "FactsCache",
    "FoundRunners",
    "ListChangedError",
    "ManagedRunner",
    "NotFoundError",
    "NotGiven",
    "Page",
    "PaginationError",
    "Paginator",
    "PermissionDeniedError",
    "PlaceholderError",
    "RateLimit",
    "RateLimitError",
    "RateLimitStoreError",
    "ResponseValidationError",
    "RetryBudget",
    "RetryPolicy",
    "RouteAdvice",
    "Runner",
    "RunnerStats",
    "ServerError",
    "StatsResult",
    "StatsSweep",
    "SweepProgress",
    "SystemInfo",
    "Template",
    "TemplateSummary",
    "Timeout",
    "User",
    "Workflow",
    "WorkflowOutput",
    "WorkflowSummary",
    "__version__",
]

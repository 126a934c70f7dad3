"""comfycontrol-async: the async-first Python SDK for the ComfyControl API.

```python
from comfycontrol_async import ComfyControl

async with ComfyControl() as cc:      # token from COMFYCONTROL_API_TOKEN
    async for runner in cc.managed_runners.list():
        print(runner.name)
```
"""

from __future__ import annotations

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
    ResponseValidationError,
    ServerError,
)
from ._pagination import Paginator
from ._version import __version__
from .capacity import CapacityReport, CapacityRow
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
    "ResponseValidationError",
    "RetryBudget",
    "RetryPolicy",
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

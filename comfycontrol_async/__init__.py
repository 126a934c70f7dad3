"""comfycontrol-async: the async-first Python SDK for the ComfyControl API.

Public names load on first use (PEP 562): importing the package loads neither aiohttp, the models,
rich nor the CLI, so ``comfycontrol --help`` stays fast."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from ._client import ComfyControl as ComfyControl
    from ._config import DEFAULT_BASE_URL as DEFAULT_BASE_URL
    from ._config import DEFAULT_RATE_LIMIT as DEFAULT_RATE_LIMIT
    from ._config import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
    from ._config import NOT_GIVEN as NOT_GIVEN
    from ._config import NotGiven as NotGiven
    from ._config import RateLimit as RateLimit
    from ._config import RetryBudget as RetryBudget
    from ._config import RetryPolicy as RetryPolicy
    from ._config import Timeout as Timeout
    from ._exceptions import APIConnectionError as APIConnectionError
    from ._exceptions import APIStatusError as APIStatusError
    from ._exceptions import APITimeoutError as APITimeoutError
    from ._exceptions import AuthenticationError as AuthenticationError
    from ._exceptions import BadRequestError as BadRequestError
    from ._exceptions import ClientClosedError as ClientClosedError
    from ._exceptions import ComfyControlError as ComfyControlError
    from ._exceptions import ListChangedError as ListChangedError
    from ._exceptions import NotFoundError as NotFoundError
    from ._exceptions import PaginationError as PaginationError
    from ._exceptions import PermissionDeniedError as PermissionDeniedError
    from ._exceptions import RateLimitError as RateLimitError
    from ._exceptions import RateLimitStoreError as RateLimitStoreError
    from ._exceptions import ResponseValidationError as ResponseValidationError
    from ._exceptions import ServerError as ServerError
    from ._pagination import Paginator as Paginator
    from ._version import __version__ as __version__
    from .capacity import CapacityReport as CapacityReport
    from .capacity import CapacityRow as CapacityRow
    from .capacity import FactsCache as FactsCache
    from .capacity import FoundRunners as FoundRunners
    from .capacity import RouteAdvice as RouteAdvice
    from .models import Device as Device
    from .models import ManagedRunner as ManagedRunner
    from .models import Page as Page
    from .models import Runner as Runner
    from .models import RunnerStats as RunnerStats
    from .models import SystemInfo as SystemInfo
    from .models import Template as Template
    from .models import TemplateSummary as TemplateSummary
    from .models import User as User
    from .models import Workflow as Workflow
    from .models import WorkflowOutput as WorkflowOutput
    from .models import WorkflowSummary as WorkflowSummary
    from .placeholders import PlaceholderError as PlaceholderError
    from .resources._fanout import StatsResult as StatsResult
    from .resources._fanout import StatsSweep as StatsSweep
    from .resources._fanout import SweepProgress as SweepProgress

_HOMES: Final = {
    "._client": "ComfyControl",
    "._config": "DEFAULT_BASE_URL DEFAULT_RATE_LIMIT DEFAULT_TIMEOUT NOT_GIVEN NotGiven RateLimit "
    "RetryBudget RetryPolicy Timeout",
    "._exceptions": "APIConnectionError APIStatusError APITimeoutError AuthenticationError "
    "BadRequestError ClientClosedError ComfyControlError ListChangedError NotFoundError "
    "PaginationError PermissionDeniedError RateLimitError RateLimitStoreError "
    "ResponseValidationError ServerError",
    "._pagination": "Paginator",
    "._version": "__version__",
    ".capacity": "CapacityReport CapacityRow FactsCache FoundRunners RouteAdvice",
    ".models": "Device ManagedRunner Page Runner RunnerStats SystemInfo Template TemplateSummary "
    "User Workflow WorkflowOutput WorkflowSummary",
    ".placeholders": "PlaceholderError",
    ".resources._fanout": "StatsResult StatsSweep SweepProgress",
}
_LAZY: Final = {name: module for module, names in _HOMES.items() for name in names.split()}
# In ruff's order (RUF022): SCREAMING_CASE, then CamelCase, then the rest.
__all__ = sorted(_LAZY, key=lambda name: (not name.isupper(), not name[0].isupper(), name))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

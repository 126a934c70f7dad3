"""The objects the ComfyControl API answers with, as frozen attrs classes.

One module per API resource. Field names are the API's own; timestamps are timezone-aware
``datetime`` objects; every model keeps the keys it does not know in ``extra``. Decoding JSON
into these classes is the job of ``comfycontrol_async._converter``, not of this package.
"""

from .managed_runner import ManagedRunner, RunnerType
from .output import WorkflowOutput
from .page import Page
from .runner import Runner, RunnerStatus
from .stats import Device, RunnerStats, SystemInfo
from .template import Template, TemplateSummary
from .user import Provider, Tier, User
from .workflow import TERMINAL_STATUSES, Workflow, WorkflowStatus, WorkflowSummary

__all__ = [
    "TERMINAL_STATUSES",
    "Device",
    "ManagedRunner",
    "Page",
    "Provider",
    "Runner",
    "RunnerStats",
    "RunnerStatus",
    "RunnerType",
    "SystemInfo",
    "Template",
    "TemplateSummary",
    "Tier",
    "User",
    "Workflow",
    "WorkflowOutput",
    "WorkflowStatus",
    "WorkflowSummary",
]

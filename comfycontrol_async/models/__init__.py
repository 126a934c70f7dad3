"""The objects the ComfyControl API answers with: frozen attrs classes, one module per resource,
timestamps timezone-aware, decoded by ``comfycontrol_async._converter``. Status-like fields are
plain ``str`` (a new value still decodes); the ``Literal`` aliases list the documented values."""

from ._base import Page
from .managed_runner import ManagedRunner, RunnerType
from .runner import Runner, RunnerStatus
from .stats import Device, RunnerStats, SystemInfo
from .template import Template, TemplateSummary
from .user import Provider, Tier, User
from .workflow import TERMINAL_STATUSES, Workflow, WorkflowOutput, WorkflowStatus, WorkflowSummary

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

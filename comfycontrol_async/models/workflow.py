"""Workflows: one execution of a ComfyUI workflow each (``/v1/workflow`` and runner history), and
their output files (``GET /v1/workflow/{id}/outputs``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from ._base import extra_field, repr_opaque_object, repr_signed_url

WorkflowStatus = Literal[
    "accepted", "uploaded", "queued", "running", "completed", "failed", "cancelled", "invalid"
]
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "cancelled", "invalid"})
"""Statuses after which a workflow never changes again."""


@attrs.frozen(kw_only=True)
class WorkflowSummary:
    """A workflow as lists, history and ``POST /v1/workflow`` return it; its ``status`` goes
    ``accepted``, ``uploaded``, ``queued``, ``running``, then one of :data:`TERMINAL_STATUSES`."""

    id: str
    name: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_terminal(self) -> bool:
        """Whether the status is one of :data:`TERMINAL_STATUSES`."""
        return self.status in TERMINAL_STATUSES


@attrs.frozen(kw_only=True)
class Workflow(WorkflowSummary):
    """One workflow in full (``GET /v1/workflow/{id}``): ``workflow_json`` as submitted (the repr
    shows its size), ``workflow_params`` as pairs, e.g. ``("$text(prompt)", "A sunset")``."""

    user_id: str
    user_runner_id: str | None = None
    managed_runner_id: str | None = None
    workflow_json: dict[str, Any] = attrs.field(repr=repr_opaque_object)
    workflow_params: list[tuple[str, str]]
    prompt_id: str | None = None
    queue_number: int | None = None
    error_node: str | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    extra: Mapping[str, Any] = extra_field()  # again: it stays the last field


@attrs.frozen(kw_only=True)
class WorkflowOutput:
    """One output of a workflow: ``src`` is a signed URL valid about five minutes (download it
    without the API token; the repr hides its query); ``id`` is not a UUID."""

    id: str
    workflow_id: str
    src: str = attrs.field(repr=repr_signed_url)
    extra: Mapping[str, Any] = extra_field()

"""Workflows: one execution of a ComfyUI workflow each (``/v1/workflow`` and runner history).

Only the models live here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from ._base import extra_field, repr_opaque_object

__all__ = ["TERMINAL_STATUSES", "Workflow", "WorkflowStatus", "WorkflowSummary"]

WorkflowStatus = Literal[
    "accepted", "uploaded", "queued", "running", "completed", "failed", "cancelled", "invalid"
]
"""The workflow statuses the API documents. ``status`` fields are plain ``str``: a status the
server adds later still decodes (and is treated as not terminal)."""

TERMINAL_STATUSES: Final[frozenset[str]] = frozenset(
    {"completed", "failed", "cancelled", "invalid"}
)
"""Statuses after which a workflow never changes again."""


@attrs.frozen(kw_only=True)
class WorkflowSummary:
    """A workflow as lists, history and ``POST /v1/workflow`` return it.

    The documented life cycle is ``accepted`` -> ``uploaded`` -> ``queued`` -> ``running`` ->
    ``completed`` | ``failed`` | ``cancelled``, plus ``invalid``.

    Attributes:
        id: The workflow id.
        name: Display name.
        status: Its status (see :data:`WorkflowStatus`); unknown values are kept as is.
        tags: Tags a runner must all have to run it.
        created_at: When it was created (timezone-aware).
        updated_at: When it last changed (timezone-aware).
        started_at: When it started running, or ``None`` (null or absent).
        completed_at: When it finished, or ``None`` (null or absent).
        extra: Keys of the answer this model does not know, as received.
    """

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
        """Whether the status is final: ``completed``, ``failed``, ``cancelled`` or ``invalid``."""
        return self.status in TERMINAL_STATUSES


@attrs.frozen(kw_only=True)
class Workflow(WorkflowSummary):
    """The full detail of one workflow (``GET /v1/workflow/{id}``).

    Attributes:
        user_id: The owner.
        user_runner_id: The user runner it was scheduled on, or ``None``.
        managed_runner_id: The managed runner it was scheduled on, or ``None``.
        workflow_json: The workflow graph as submitted (its repr shows only its size).
        workflow_params: The placeholder values sent, as ``(placeholder, value)`` pairs, e.g.
            ``("$text(prompt)", "A sunset")`` or ``("#choice(sampler)", "euler")``.
        prompt_id: ComfyUI's prompt id once queued there, else ``None``.
        queue_number: ComfyUI's queue number once queued there, else ``None``.
        error_node: On failure, the id of the node that failed (the API documents these three
            as present on failure only; they are ``None`` when null or absent).
        exception_type: On failure, the Python exception type ComfyUI reported.
        exception_message: On failure, its message.
    """

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
    # Declared again so that it stays the last field (in reprs too).
    extra: Mapping[str, Any] = extra_field()

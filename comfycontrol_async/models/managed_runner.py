"""A runner hosted by ComfyControl, open to Pro and Plus accounts (``/v1/managed-runner``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field

__all__ = ["ManagedRunner", "RunnerType"]

RunnerType = Literal["pro", "plus"]
"""The documented managed runner types; ``ManagedRunner.runner_type`` is a plain ``str``."""


@attrs.frozen(kw_only=True)
class ManagedRunner:
    """A ComfyControl-hosted runner. It has no endpoint, headers or owner.

    Attributes:
        runner_type: ``pro`` or ``plus`` (see :data:`RunnerType`); other values are kept.
        status: The list endpoint returns ``active`` ones only.
        tags: Case-sensitive.
    """

    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

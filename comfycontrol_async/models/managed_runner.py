"""A runner hosted by ComfyControl, open to Pro and Plus accounts (``/v1/managed-runner``).

Only the model lives here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field

__all__ = ["ManagedRunner", "RunnerType"]

RunnerType = Literal["pro", "plus"]
"""The managed runner types the API documents. ``ManagedRunner.runner_type`` is a plain ``str``."""


@attrs.frozen(kw_only=True)
class ManagedRunner:
    """A ComfyControl-hosted runner. It has no endpoint, headers or owner.

    Attributes:
        id: The managed runner id.
        name: Display name.
        runner_type: ``pro`` or ``plus`` (see :data:`RunnerType`); other values are kept.
        status: Its status (the list endpoint only returns ``active`` ones).
        tags: Its tags (case-sensitive).
        created_at: When it was created (timezone-aware).
        updated_at: When it was last changed (timezone-aware).
        extra: Keys of the answer this model does not know, as received.
    """

    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

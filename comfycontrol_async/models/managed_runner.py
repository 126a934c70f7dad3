"""A runner hosted by ComfyControl, open to Pro and Plus accounts (``/v1/managed-runner``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field

RunnerType = Literal["pro", "plus"]


@attrs.frozen(kw_only=True)
class ManagedRunner:
    """A ComfyControl-hosted runner: no endpoint, headers or owner; the list gives active ones."""

    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

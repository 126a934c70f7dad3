"""A runner the user registered: their own ComfyUI server (``/v1/runner``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from .._redact import redact_data, scrub_text
from ._base import extra_field

RunnerStatus = Literal["active", "disabled"]


@attrs.frozen(kw_only=True)
class Runner:
    """A user-registered ComfyUI server: ``endpoint`` is its base URL, ``headers`` the credentials
    ComfyControl sends it (the repr shows their names only)."""

    id: str
    user_id: str
    name: str
    status: str
    endpoint: str = attrs.field(repr=lambda url: scrub_text(repr(url)))  # hides user:password@
    tags: list[str]
    headers: dict[str, str] = attrs.field(
        repr=lambda headers: repr(redact_data({"headers": headers})["headers"])
    )
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

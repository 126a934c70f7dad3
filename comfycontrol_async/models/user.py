"""The account behind the API token (``GET /v1/user``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field

Tier = Literal["free", "pro", "plus", "enterprise"]
Provider = Literal["github", "google"]


@attrs.frozen(kw_only=True)
class User:
    """The caller's profile; ``provider`` is ``None`` when absent (as in the documented example)."""

    id: str
    name: str
    email: str
    deleted: bool
    tier: str
    provider: str | None = None
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

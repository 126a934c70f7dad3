"""A runner the user registered: their own ComfyUI server (``/v1/runner``).

Only the model lives here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field, repr_header_names, repr_url_without_credentials

__all__ = ["Runner", "RunnerStatus"]

RunnerStatus = Literal["active", "disabled"]
"""The runner statuses the API documents. ``Runner.status`` is a plain ``str``."""


@attrs.frozen(kw_only=True)
class Runner:
    """A user-registered ComfyUI server.

    ``headers`` are the runner's credentials (e.g. ``Authorization: Bearer ...``): the repr shows
    their names only, never their values.

    Attributes:
        id: The runner id.
        user_id: The owner.
        name: Display name.
        status: ``active`` or ``disabled`` (see :data:`RunnerStatus`); other values are kept.
        endpoint: The ComfyUI base URL.
        tags: The runner's tags (case-sensitive).
        headers: Headers ComfyControl sends to the runner.
        created_at: When it was registered (timezone-aware).
        updated_at: When it was last changed (timezone-aware).
        extra: Keys of the answer this model does not know, as received.
    """

    id: str
    user_id: str
    name: str
    status: str
    endpoint: str = attrs.field(repr=repr_url_without_credentials)
    tags: list[str]
    headers: dict[str, str] = attrs.field(repr=repr_header_names)
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

"""The account behind the API token (``GET /v1/user``).

Only the model lives here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._base import extra_field

__all__ = ["Provider", "Tier", "User"]

Tier = Literal["free", "pro", "plus", "enterprise"]
"""The tiers the API documents. ``User.tier`` is a plain ``str``: a new tier still decodes."""

Provider = Literal["github", "google"]
"""The sign-in providers the API documents. ``User.provider`` is a plain ``str`` (or ``None``)."""


@attrs.frozen(kw_only=True)
class User:
    """The caller's profile.

    Attributes:
        id: The user id.
        name: Display name.
        email: E-mail address.
        deleted: Whether the account is deleted.
        tier: ``free``, ``pro``, ``plus`` or ``enterprise`` (see :data:`Tier`); any other value
            the server sends is kept as is.
        provider: The sign-in provider (``github``, ``google``), or ``None`` when the answer
            leaves it out (the documented example does).
        created_at: When the account was created (timezone-aware).
        updated_at: When it was last changed (timezone-aware).
        extra: Keys of the answer this model does not know, as received.
    """

    id: str
    name: str
    email: str
    deleted: bool
    tier: str
    provider: str | None = None
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()

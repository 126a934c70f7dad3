"""Workflow templates: ComfyUI workflow JSON with placeholders (``/v1/template``).

Only the models live here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ._base import extra_field, repr_opaque_object

__all__ = ["Template", "TemplateSummary"]


@attrs.frozen(kw_only=True)
class TemplateSummary:
    """A template as the list endpoint returns it (without its body).

    Attributes:
        id: The template id (the documented examples are not UUIDs; never assume a format).
        user_id: The owner.
        name: Display name.
        description: Free text.
        created_at: When it was uploaded (timezone-aware).
        updated_at: When it was last changed (timezone-aware).
        extra: Keys of the answer this model does not know, as received.
    """

    id: str
    user_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Template(TemplateSummary):
    """A template with its body, as ``GET``/``POST``/``PUT /v1/template`` return it.

    Attributes:
        body: The workflow JSON object with its placeholders, opaque to the SDK. Its repr shows
            only its size (workflow graphs are large and may embed API keys of custom nodes).
    """

    body: dict[str, Any] = attrs.field(repr=repr_opaque_object)
    # Declared again so that it stays the last field (in reprs too).
    extra: Mapping[str, Any] = extra_field()

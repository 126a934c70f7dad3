"""Workflow templates: ComfyUI workflow JSON with placeholders (``/v1/template``)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ._base import extra_field, repr_opaque_object


@attrs.frozen(kw_only=True)
class TemplateSummary:
    """A template as the list endpoint returns it, without its body (``id`` may be no UUID)."""

    id: str
    user_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Template(TemplateSummary):
    """A template with its ``body``, the workflow JSON (the repr shows only its size)."""

    body: dict[str, Any] = attrs.field(repr=repr_opaque_object)
    extra: Mapping[str, Any] = extra_field()  # again: it stays the last field

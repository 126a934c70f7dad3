"""One output file of a completed workflow (``GET /v1/workflow/{id}/outputs``)."""

from collections.abc import Mapping
from typing import Any

import attrs

from ._base import extra_field, repr_signed_url

__all__ = ["WorkflowOutput"]


@attrs.frozen(kw_only=True)
class WorkflowOutput:
    """A signed download URL for one output of a workflow (the API's *Output* object).

    It expires after about five minutes; download it without the API token.

    Attributes:
        id: The output id (not a UUID).
        src: The signed URL (the repr hides its query).
    """

    id: str
    workflow_id: str
    src: str = attrs.field(repr=repr_signed_url)
    extra: Mapping[str, Any] = extra_field()

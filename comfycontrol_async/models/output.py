"""One output file of a completed workflow (``GET /v1/workflow/{id}/outputs``)."""

from collections.abc import Mapping
from typing import Any

import attrs

from ._base import extra_field, repr_signed_url


@attrs.frozen(kw_only=True)
class WorkflowOutput:
    """One output of a workflow: ``src`` is a signed URL valid about five minutes (download it
    without the API token; the repr hides its query); ``id`` is not a UUID."""

    id: str
    workflow_id: str
    src: str = attrs.field(repr=repr_signed_url)
    extra: Mapping[str, Any] = extra_field()

"""One output file of a completed workflow (``GET /v1/workflow/{id}/outputs``).

Only the model lives here; decoding is done by ``comfycontrol_async._converter``.
"""

from collections.abc import Mapping
from typing import Any

import attrs

from ._base import extra_field, repr_signed_url

__all__ = ["WorkflowOutput"]


@attrs.frozen(kw_only=True)
class WorkflowOutput:
    """A signed download URL for one output of a workflow (the API's *Output* object).

    The URL points at a storage host and expires after about five minutes. Download it without
    the API token: it is already signed.

    Attributes:
        id: The output id (not a UUID).
        workflow_id: The workflow that produced it.
        src: The signed URL.
        extra: Keys of the answer this model does not know, as received.
    """

    id: str
    workflow_id: str
    src: str = attrs.field(repr=repr_signed_url)
    extra: Mapping[str, Any] = extra_field()

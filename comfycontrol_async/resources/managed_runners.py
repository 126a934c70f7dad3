"""``cc.managed_runners``: runners hosted by ComfyControl (``/v1/managed-runner``, Pro/Plus)."""

from typing import ClassVar

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode
from .._core import check_id
from ..models import ManagedRunner
from ._base import ListResource, RunnerResource


class ManagedRunners(RunnerResource, ListResource[ManagedRunner]):
    """Managed runners open to your tier; a free account gets :class:`PermissionDeniedError`.

    An id that is not open to your tier raises :class:`NotFoundError`.
    """

    _segment: ClassVar[str] = "managed-runner"
    _list_key: ClassVar[str] = "runners"
    _item = ManagedRunner

    async def get(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> ManagedRunner:
        """One managed runner by id."""
        data = await self._call("GET", check_id(runner_id, "runner_id"), deadline=deadline)
        return decode(data, ManagedRunner)

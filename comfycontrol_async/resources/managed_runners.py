"""``cc.managed_runners``: runners hosted by ComfyControl (Pro/Plus tiers; 403 otherwise)."""

from __future__ import annotations

from typing import ClassVar

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from .._pagination import Paginator
from ..models import ManagedRunner, Page
from ._base import DEFAULT_PREFETCH
from ._runner_base import RunnerResource

__all__ = ["ManagedRunners"]


class ManagedRunners(RunnerResource):
    """Managed runners: list, get, live stats and history (endpoints 9-12 of SPEC.md)."""

    _segment: ClassVar[str] = "managed-runner"

    def list(
        self,
        *,
        per_page: int = 100,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
        strict: bool = False,
        settle: bool = False,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Paginator[ManagedRunner]:
        """Every managed runner open to your tier, newest first, page after page.

        Returns a paginator at once (no ``await``): ``async for`` over it, or call
        ``.collect()``, ``.pages()``. Nothing is sent until it is iterated.

        Args:
            per_page: Items per request, 1 to 100.
            max_items: Stop after this many items.
            start_page: The page to start from (to resume a walk).
            prefetch: Pages fetched ahead concurrently once the total is known (0: none).
            strict: Raise :class:`ListChangedError` if the list changes during the walk.
            settle: After the walk, re-read the head of the list for items added meanwhile.
            deadline: Overall seconds for each page request, retries included.

        Raises:
            ValueError: An argument is out of range (raised here, before any request).
        """
        return self._paginate(
            ManagedRunner,
            "runners",
            self._segment,
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            deadline=deadline,
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[ManagedRunner]:
        """One page of managed runners.

        Raises:
            ValueError: ``page`` < 1 or ``per_page`` outside 1-100 (before any request).
            PermissionDeniedError: The account's tier has no managed runners (free).
        """
        return await self._page(
            ManagedRunner, "runners", self._segment, page=page, per_page=per_page, deadline=deadline
        )

    async def get(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> ManagedRunner:
        """One managed runner by id.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner open to your tier.
        """
        return await self._get(
            ManagedRunner, self._segment, check_id(runner_id, "runner_id"), deadline=deadline
        )

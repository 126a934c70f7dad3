"""``cc.runners``: your own ComfyUI servers (endpoints 2-8 of SPEC.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from .._pagination import Paginator
from ..models import Page, Runner
from ._base import DEFAULT_PREFETCH, status_filter
from ._checks import check_endpoint, check_headers, check_name, check_tags
from ._runner_base import RunnerResource

__all__ = ["Runners"]


class Runners(RunnerResource):
    """Your own runners: register, list, get, update, live stats, history and interrupt."""

    _segment: ClassVar[str] = "runner"

    def list(
        self,
        *,
        status: str | None = None,
        per_page: int = 100,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
        strict: bool = False,
        settle: bool = False,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Paginator[Runner]:
        """Every runner of yours, newest first, page after page.

        Returns a paginator at once (no ``await``); nothing is sent until it is iterated.

        Args:
            status: Only runners with this status (``active`` or ``disabled``).
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
            Runner,
            "runners",
            self._segment,
            per_page=per_page,
            max_items=max_items,
            start_page=start_page,
            prefetch=prefetch,
            strict=strict,
            settle=settle,
            filters=status_filter(status),
            deadline=deadline,
        )

    async def list_page(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        status: str | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Page[Runner]:
        """One page of your runners.

        Raises:
            ValueError: ``page`` < 1 or ``per_page`` outside 1-100 (before any request).
        """
        return await self._page(
            Runner,
            "runners",
            self._segment,
            page=page,
            per_page=per_page,
            filters=status_filter(status),
            deadline=deadline,
        )

    async def get(self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN) -> Runner:
        """One of your runners by id.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner, or it is not yours.
        """
        return await self._get(
            Runner, self._segment, check_id(runner_id, "runner_id"), deadline=deadline
        )

    async def interrupt(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> None:
        """Hard-stop the execution running on this runner now. Never retried.

        Raises:
            ServerError: The runner could not be reached (500).
        """
        await self._send(
            "POST",
            None,
            self._segment,
            check_id(runner_id, "runner_id"),
            "interrupt",
            deadline=deadline,
        )

    async def create(
        self,
        *,
        name: str,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Runner:
        """Register a ComfyUI server as a runner. Never retried.

        Args:
            name: 1 to 100 characters.
            endpoint: The server's http(s) URL, as ComfyControl will reach it.
            headers: Headers ComfyControl sends to it (its credentials, e.g. a Bearer token).
            tags: At most 10 tags; workflows with tags run only on runners with all of them.
            deadline: Overall seconds for this call.

        Raises:
            ValueError: An argument breaks a documented limit (before anything is sent).
            PermissionDeniedError: Your tier's runner limit is reached.
        """
        body: dict[str, Any] = {"name": check_name(name), "endpoint": check_endpoint(endpoint)}
        if headers is not None:
            body["headers"] = check_headers(headers)
        if tags is not None:
            body["tags"] = check_tags(tags)
        runner = await self._send("POST", Runner, self._segment, json=body, deadline=deadline)
        assert runner is not None
        return runner

    async def update(
        self,
        runner_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        endpoint: str | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        tags: Sequence[str] | NotGiven = NOT_GIVEN,
        status: str | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Runner:
        """Change some fields of a runner; only the fields given are sent. Never retried.

        Raises:
            ValueError: Nothing to change, or a value breaks a documented limit.
        """
        body: dict[str, Any] = {}
        if not isinstance(name, NotGiven):
            body["name"] = check_name(name)
        if not isinstance(endpoint, NotGiven):
            body["endpoint"] = check_endpoint(endpoint)
        if not isinstance(headers, NotGiven):
            body["headers"] = check_headers(headers)
        if not isinstance(tags, NotGiven):
            body["tags"] = check_tags(tags)
        if not isinstance(status, NotGiven):
            body["status"] = status_filter(status)["status"]
        if not body:
            raise ValueError("update() needs at least one field to change")
        runner = await self._send(
            "PUT",
            Runner,
            self._segment,
            check_id(runner_id, "runner_id"),
            json=body,
            deadline=deadline,
        )
        assert runner is not None
        return runner

"""``cc.runners``: your own ComfyUI servers, registered as runners (``/v1/runner``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from yarl import URL

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from .._redact import remember
from ..models import Page, Runner
from ._base import FilteredListResource, check_status
from ._checks import check_endpoint, check_headers, check_name, check_tags
from ._runner_base import RunnerResource

__all__ = ["Runners"]


def _remember_credentials(endpoint: str | None, headers: Mapping[str, str] | None) -> None:
    """Register a runner's credentials (header values, endpoint user-info) as secrets.

    Every text the SDK makes from now on (errors, logs, reprs, CLI output) hides them, also
    when a server echoes them back. Done before a request carrying them is sent, and for
    every runner received.
    """
    values = list(headers.values()) if headers else []
    if endpoint:
        try:
            url = URL(endpoint)
        except (TypeError, ValueError):
            url = None
        if url is not None:
            # The password when there is one; a lone user name is then the credential itself
            # (``https://<token>@host``).
            values.append(url.password or url.user or "")
    remember(values)


def _received(runner: Runner) -> Runner:
    _remember_credentials(runner.endpoint, runner.headers)
    return runner


class Runners(RunnerResource, FilteredListResource[Runner]):
    """Your own runners: register, list, get, update, live stats, history and interrupt.

    ``list()`` and ``list_page()`` take ``status`` (``active`` or ``disabled``). A runner's
    header values and the user-info of its endpoint, sent or received, are registered as
    secrets: no error, log line or repr the SDK makes shows them afterwards.
    """

    _segment: ClassVar[str] = "runner"
    _list_key: ClassVar[str] = "runners"
    _item = Runner

    async def _read_page(
        self,
        page: int,
        per_page: int,
        filters: Mapping[str, str],
        deadline: float | NotGiven | None,
    ) -> Page[Runner]:
        got = await super()._read_page(page, per_page, filters, deadline)
        for runner in got.items:
            _received(runner)
        return got

    async def get(self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN) -> Runner:
        """One of your runners by id.

        Args:
            runner_id: The runner.
            deadline: Overall seconds for this call, retries included.

        Returns:
            The :class:`Runner`.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner, or it is not yours.
        """
        return _received(
            await self._get(
                Runner, self._segment, check_id(runner_id, "runner_id"), deadline=deadline
            )
        )

    async def interrupt(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> None:
        """Hard-stop the execution running on this runner now. Never retried.

        Args:
            runner_id: The runner.
            deadline: Overall seconds for this call.

        Raises:
            ValueError: ``runner_id`` is empty.
            NotFoundError: No such runner, or it is not yours.
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

        Returns:
            The new :class:`Runner`.

        Raises:
            ValueError: An argument breaks a documented limit (before anything is sent).
            TypeError: An argument is of the wrong type (before anything is sent).
            PermissionDeniedError: Your tier's runner limit is reached.
        """
        body: dict[str, Any] = {"name": check_name(name), "endpoint": check_endpoint(endpoint)}
        if headers is not None:
            body["headers"] = check_headers(headers)
        if tags is not None:
            body["tags"] = check_tags(tags)
        _remember_credentials(body["endpoint"], body.get("headers"))
        runner = await self._send("POST", Runner, self._segment, json=body, deadline=deadline)
        assert runner is not None
        return _received(runner)

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

        Args:
            runner_id: The runner.
            name: 1 to 100 characters.
            endpoint: The server's http(s) URL.
            headers: Replace the headers ComfyControl sends to it.
            tags: Replace its tags (at most 10).
            status: ``active`` or ``disabled``.
            deadline: Overall seconds for this call.

        Returns:
            The updated :class:`Runner`.

        Raises:
            ValueError: Nothing to change, or a value breaks a documented limit (before
                anything is sent).
            TypeError: A value is of the wrong type (before anything is sent).
            NotFoundError: No such runner, or it is not yours.
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
            body["status"] = check_status(status)
        if not body:
            raise ValueError("update() needs at least one field to change")
        _remember_credentials(body.get("endpoint"), body.get("headers"))
        runner = await self._send(
            "PUT",
            Runner,
            self._segment,
            check_id(runner_id, "runner_id"),
            json=body,
            deadline=deadline,
        )
        assert runner is not None
        return _received(runner)

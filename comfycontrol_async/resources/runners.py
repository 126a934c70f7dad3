"""``cc.runners``: your own ComfyUI servers, registered as runners (``/v1/runner``)."""

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from yarl import URL

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode
from .._core import check_id
from .._redact import remember
from ..models import Runner
from ._base import FilteredListResource, RunnerResource
from ._checks import check_endpoint, check_headers, check_name, check_status, check_tags

_CHECKS: Final[dict[str, Callable[[object], Any]]] = {
    "name": check_name,
    "endpoint": check_endpoint,
    "headers": check_headers,
    "tags": check_tags,
    "status": check_status,
}


def _remember_credentials(endpoint: str | None, headers: Mapping[str, str] | None) -> None:
    values = list(headers.values()) if headers else []
    if endpoint:
        with contextlib.suppress(TypeError, ValueError):
            url = URL(endpoint)
            # A lone user name is the credential itself (``https://<token>@host``).
            values.append(url.password or url.user or "")
    remember(values)


def _body(**fields: object) -> dict[str, Any]:
    """The checked JSON body of the fields given; its credentials become secrets."""
    body = {key: _CHECKS[key](value) for key, value in fields.items() if value is not NOT_GIVEN}
    _remember_credentials(body.get("endpoint"), body.get("headers"))
    return body


class Runners(RunnerResource, FilteredListResource[Runner]):
    """Your own runners (``status``: ``active``, ``disabled``); header values are kept secret.

    Arguments are checked before sending (README, "Configuration"); an id that is not yours
    raises :class:`NotFoundError`; ``create``, ``update`` and ``interrupt`` are never retried.
    """

    _segment: ClassVar[str] = "runner"
    _list_key: ClassVar[str] = "runners"
    _item = Runner

    def _received(self, item: Runner) -> Runner:
        _remember_credentials(item.endpoint, item.headers)
        return item

    async def get(self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN) -> Runner:
        """One of your runners by id."""
        data = await self._call("GET", check_id(runner_id, "runner_id"), deadline=deadline)
        return self._received(decode(data, Runner))

    async def interrupt(
        self, runner_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> None:
        """Hard-stop the execution running on this runner now.

        Raises:
            ServerError: The runner could not be reached (500).
        """
        rid = check_id(runner_id, "runner_id")
        await self._call("POST", rid, "interrupt", deadline=deadline, expect_body=False)

    async def create(
        self,
        *,
        name: str,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Runner:
        """Register a ComfyUI server as a runner (``name``: 1 to 100 characters).

        Args:
            endpoint: The server's http(s) URL, as ComfyControl will reach it.
            headers: Headers ComfyControl sends to it (its credentials, e.g. a Bearer token).
            tags: At most 10; workflows with tags run only on runners with all of them.

        Raises:
            PermissionDeniedError: Your tier's runner limit is reached.
        """
        optional = {k: v for k, v in {"headers": headers, "tags": tags}.items() if v is not None}
        body = _body(name=name, endpoint=endpoint, **optional)
        data = await self._call("POST", json=body, deadline=deadline)
        return self._received(decode(data, Runner))

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
        """Change the fields given, as :meth:`create` checks them.

        Raises:
            ValueError: Nothing to change.
        """
        body = _body(name=name, endpoint=endpoint, headers=headers, tags=tags, status=status)
        if not body:
            raise ValueError("update() needs at least one field to change")
        rid = check_id(runner_id, "runner_id")
        data = await self._call("PUT", rid, json=body, deadline=deadline)
        return self._received(decode(data, Runner))

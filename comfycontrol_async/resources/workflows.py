"""``cc.workflows``: the ``/v1/workflow`` endpoints, plus ``wait`` and ``download_outputs``."""

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

from yarl import URL

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode, decode_list
from .._core import check_id, check_seconds
from .._exceptions import APIStatusError, APITimeoutError, NotFoundError
from ..models import Workflow, WorkflowOutput, WorkflowSummary
from ..placeholders import ParamValue, file_fields, validate_params
from . import _checks
from ._base import FilteredListResource
from ._checks import FormFields, JsonSource

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


def _output_filename(output: WorkflowOutput, taken: set[str]) -> str:
    """A safe local file name not in ``taken``: the URL's last segment, else the output id."""
    base = URL(output.src).name if output.src else ""
    name = _SAFE_NAME.sub("_", base).strip("._") or _SAFE_NAME.sub("_", output.id).strip("._")
    name = name or "output"
    candidate, n = name, 1
    while candidate in taken:
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


class Workflows(FilteredListResource[WorkflowSummary]):
    """Workflows; ``status``: ``completed``, ``running``, ``queued``, ``failed``, ``cancelled``.

    Arguments are checked before sending (README, "Configuration"); an id that is not yours
    raises :class:`NotFoundError`; ``create`` and ``cancel`` are never retried.
    """

    _segment: ClassVar[str] = "workflow"
    _list_key: ClassVar[str] = "workflows"
    _item = WorkflowSummary

    async def get(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Workflow:
        """Full detail of one workflow (with its error on failure)."""
        data = await self._call("GET", check_id(workflow_id, "workflow_id"), deadline=deadline)
        return decode(data, Workflow)

    async def cancel(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> None:
        """Cancel gracefully.

        Raises:
            BadRequestError: The workflow is not ``queued`` or ``running``.
        """
        wid = check_id(workflow_id, "workflow_id")
        await self._call("POST", wid, "cancel", deadline=deadline, expect_body=False)

    async def outputs(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> list[WorkflowOutput]:
        """The outputs of a completed workflow, with signed URLs that expire in about 5 minutes.

        Raises:
            BadRequestError: The workflow has not completed.
        """
        wid = check_id(workflow_id, "workflow_id")
        data = await self._call("GET", wid, "outputs", deadline=deadline)
        return decode_list(data, WorkflowOutput)

    async def create(
        self,
        *,
        name: str,
        workflow: JsonSource,
        tags: Sequence[str] | None = None,
        params: Mapping[str, ParamValue] | None = None,
        files: Mapping[str, Any] | None = None,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> WorkflowSummary:
        """Create and schedule a workflow (``name``: 1 to 200 characters).

        Args:
            workflow: The ComfyUI workflow JSON: a dict, a path to a file, or bytes.
            tags: The workflow runs only on a runner with all of them (at most 10).
            params: Values for ``$text`` and ``$choice`` placeholders, by name.
            files: For ``$file`` placeholders, by name: a path, bytes or ``(filename, bytes)``.

        Raises:
            PlaceholderError: The params or files do not fit the placeholders (all problems).
        """
        obj, raw, filename = _checks.load_json_object(workflow, "workflow")
        fields = validate_params(obj, params=params, files=files)
        form: FormFields = (
            ("name", _checks.check_name(name, 200)),
            ("workflow_json", (filename, raw, "application/json")),
            *([("tags", ",".join(_checks.check_tags(tags)))] if tags else []),
            *fields.items(),
            *(_checks.file_part(field, value) for field, value in file_fields(files or {}).items()),
        )
        data = await self._call("POST", form=_checks.check_size(form), deadline=deadline)
        return decode(data, WorkflowSummary)

    async def wait(
        self,
        workflow_id: str,
        *,
        deadline: float | None = None,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> Workflow:
        """Poll until the workflow is in a terminal status and return it (failed is not raised).

        Args:
            deadline: Seconds for the whole wait (``None``: none; each poll has the client's).
            poll_interval: The first interval; it grows by half each poll.

        Raises:
            APITimeoutError: ``deadline`` passed first; the message names the last status.
        """
        wid = check_id(workflow_id, "workflow_id")
        check_seconds("poll_interval", poll_interval, none=False)
        check_seconds("max_poll_interval", max_poll_interval, none=False)
        if poll_interval > max_poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        check_seconds("deadline", deadline)
        loop = asyncio.get_running_loop()
        give_up = None if deadline is None else loop.time() + deadline
        interval = poll_interval
        while True:
            left = None if give_up is None else max(give_up - loop.time(), 0.001)
            current = await self.get(wid, deadline=NOT_GIVEN if left is None else left)
            if current.is_terminal:
                return current
            if give_up is not None and loop.time() + interval > give_up:
                raise APITimeoutError(
                    f"workflow {wid} did not finish within {deadline} s "
                    f"(last status: {current.status})",
                    method="GET",
                    url=str(self._requester.url(self._segment, wid)),
                )
            await asyncio.sleep(interval)
            interval = min(max_poll_interval, interval * 1.5)

    async def download_outputs(
        self,
        workflow_id: str,
        directory: str | os.PathLike[str],
        *,
        timeout: float | None = 300.0,
        deadline: float | None = None,
    ) -> list[Path]:
        """Download a completed workflow's outputs into ``directory`` (made if missing); the paths.

        Args:
            timeout: Seconds for each file (one attempt; ``None``: no limit).
            deadline: Seconds for the whole call, the output list and renewals included.

        Raises:
            BadRequestError: The workflow has not completed.
            APITimeoutError: A file took longer than ``timeout``, or ``deadline`` passed.
            APIStatusError: The storage host refused a file (a 403 even after renewal).
        """
        wid = check_id(workflow_id, "workflow_id")
        check_seconds("timeout", timeout)
        check_seconds("deadline", deadline)
        scope = asyncio.timeout(deadline)
        try:
            async with scope:
                return await self._download_all(wid, Path(directory), timeout)
        except TimeoutError:
            if not scope.expired():
                raise
            raise APITimeoutError(
                f"the outputs of workflow {wid} were not all downloaded within {deadline} s",
                method="GET",
                url=str(self._requester.url(self._segment, wid, "outputs")),
            ) from None

    async def _download_all(self, wid: str, target: Path, timeout: float | None) -> list[Path]:
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        try:
            outputs = await self.outputs(wid)
        except NotFoundError:
            await self.get(wid)  # a workflow that does not exist is still an error
            return []
        download = self._requester.download
        taken: set[str] = set()
        written: list[Path] = []
        for output in outputs:
            path = target / _output_filename(output, taken)
            try:
                await download(URL(output.src, encoded=True), path, timeout=timeout)
            except APIStatusError as err:
                # Signed URLs live about 5 minutes: an expired one answers 403 (or 401).
                if err.status not in (401, 403):
                    raise
                fresh = [o for o in await self.outputs(wid) if o.id == output.id]
                if not fresh:
                    raise
                await download(URL(fresh[0].src, encoded=True), path, timeout=timeout)
            written.append(path)
        return written

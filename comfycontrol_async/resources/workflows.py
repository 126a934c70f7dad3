"""``cc.workflows``: run ComfyUI workflows, follow them, and fetch what they made.

Endpoints 17-21 of SPEC.md, plus two helpers: ``wait`` (poll until a terminal status) and
``download_outputs`` (stream each output to disk from its signed URL, never with our token).
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from yarl import URL

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from .._exceptions import APIStatusError, APITimeoutError, NotFoundError
from .._pagination import Paginator
from ..models import Page, Workflow, WorkflowOutput, WorkflowSummary
from ..placeholders import ParamValue, file_fields, validate_params
from ._base import DEFAULT_PREFETCH, Resource, status_filter
from ._checks import check_name, check_tags
from ._upload import FormFields, JsonSource, check_size, file_part, json_part, load_json_object

__all__ = ["Workflows"]

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
DEFAULT_POLL_INTERVAL: Final = 1.0
MAX_POLL_INTERVAL: Final = 15.0


def _output_filename(output: WorkflowOutput, taken: set[str]) -> str:
    """A safe local file name for an output: the URL's last segment, else the output id."""
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


class Workflows(Resource):
    """Workflows: create (multipart, with placeholders), list, get, cancel, outputs, wait."""

    _segment = "workflow"

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
    ) -> Paginator[WorkflowSummary]:
        """Every workflow, newest first. Returns a paginator at once.

        Args:
            status: Only workflows in this status (``completed``, ``running``, ``queued``,
                ``failed``, ``cancelled``).
            per_page: Items per request, 1 to 100.
            max_items: Stop after this many items.
            start_page: The page to start from (to resume a walk).
            prefetch: Pages fetched ahead concurrently once the total is known (0: none).
            strict: Raise :class:`ListChangedError` if the list changes during the walk.
            settle: After the walk, re-read the head of the list for items added meanwhile.
            deadline: Overall seconds for each page request, retries included.
        """
        return self._paginate(
            WorkflowSummary,
            "workflows",
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
    ) -> Page[WorkflowSummary]:
        """One page of workflows."""
        return await self._page(
            WorkflowSummary,
            "workflows",
            self._segment,
            page=page,
            per_page=per_page,
            filters=status_filter(status),
            deadline=deadline,
        )

    async def get(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Workflow:
        """Full detail of one workflow (with its error on failure)."""
        return await self._get(
            Workflow, self._segment, check_id(workflow_id, "workflow_id"), deadline=deadline
        )

    async def cancel(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> None:
        """Cancel gracefully; only ``queued`` or ``running`` workflows. Never retried.

        Raises:
            BadRequestError: The workflow is in another status.
        """
        await self._send(
            "POST",
            None,
            self._segment,
            check_id(workflow_id, "workflow_id"),
            "cancel",
            deadline=deadline,
        )

    async def outputs(
        self, workflow_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> builtins.list[WorkflowOutput]:
        """Signed output URLs of a completed workflow (they expire in about 5 minutes)."""
        return await self._get_list(
            WorkflowOutput,
            self._segment,
            check_id(workflow_id, "workflow_id"),
            "outputs",
            deadline=deadline,
        )

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
        """Create and schedule a workflow. Never retried.

        The workflow's placeholders are checked against ``params`` and ``files`` first; every
        problem is reported at once, before anything is uploaded.

        Args:
            name: 1 to 200 characters.
            workflow: The ComfyUI workflow JSON: a dict, a path to a file, or bytes.
            tags: The workflow runs only on a runner with all of them (at most 10).
            params: Values for ``$text`` and ``$choice`` placeholders, by name.
            files: Uploads for ``$file`` placeholders, by name: a path, bytes or
                ``(filename, bytes)``.
            deadline: Overall seconds for this call.

        Returns:
            The new workflow's summary (status usually ``accepted``).

        Raises:
            PlaceholderError: The params or files do not fit the placeholders (a ValueError).
            ValueError: Another argument breaks a documented limit.
        """
        obj, raw, filename = load_json_object(workflow, "workflow")
        fields = validate_params(obj, params=params, files=files)
        form: builtins.list[tuple[str, str | tuple[str, bytes, str]]] = [
            ("name", check_name(name, 200)),
            json_part("workflow_json", raw, filename),
        ]
        if tags:
            form.append(("tags", ",".join(check_tags(tags))))
        form.extend(fields.items())
        form.extend(file_part(field, value) for field, value in file_fields(files or {}).items())
        frozen: FormFields = check_size(tuple(form))
        summary = await self._send(
            "POST", WorkflowSummary, self._segment, form=frozen, deadline=deadline
        )
        assert summary is not None
        return summary

    async def wait(
        self,
        workflow_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = MAX_POLL_INTERVAL,
    ) -> Workflow:
        """Poll until the workflow reaches a terminal status, and return it.

        The interval grows by half each poll, from ``poll_interval`` up to
        ``max_poll_interval``. A failed workflow is returned, not raised: look at its
        ``status``, ``error_node``, ``exception_type`` and ``exception_message``.

        Args:
            workflow_id: The workflow.
            timeout: Give up after this many seconds (``None``: wait as long as it takes).
            poll_interval: The first interval, in seconds.
            max_poll_interval: The largest interval.

        Raises:
            APITimeoutError: ``timeout`` passed first; the message names the last status.
        """
        wid = check_id(workflow_id, "workflow_id")
        if poll_interval <= 0 or max_poll_interval < poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        loop = asyncio.get_running_loop()
        give_up = None if timeout is None else loop.time() + timeout
        interval = poll_interval
        while True:
            left = None if give_up is None else give_up - loop.time()
            current = await self.get(wid, deadline=left if left is None or left > 0 else 0.001)
            if current.is_terminal:
                return current
            if give_up is not None and loop.time() + interval > give_up:
                raise APITimeoutError(
                    f"workflow {wid} did not finish within {timeout} s "
                    f"(last status: {current.status})",
                    method="GET",
                    url=str(self._client.url(self._segment, wid)),
                )
            await asyncio.sleep(interval)
            interval = min(max_poll_interval, interval * 1.5)

    async def download_outputs(
        self,
        workflow_id: str,
        directory: str | os.PathLike[str],
        *,
        timeout: float | None = 300.0,
    ) -> builtins.list[Path]:
        """Download every output of a completed workflow into ``directory``.

        Each file streams from its signed URL with no ``Authorization`` header (the API token
        never reaches the storage host). A URL that expired meanwhile (403) is replaced by a
        fresh one, once. A completed workflow with no outputs (an empty list or a 404) gives
        an empty list.

        Args:
            workflow_id: The workflow.
            directory: Where to write; created if missing.
            timeout: Seconds for each file.

        Returns:
            The paths written, in the order of the outputs.
        """
        wid = check_id(workflow_id, "workflow_id")
        target = Path(directory)
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        try:
            outputs = await self.outputs(wid)
        except NotFoundError:
            await self.get(wid)  # a workflow that does not exist is still an error
            return []
        taken: set[str] = set()
        names = [_output_filename(output, taken) for output in outputs]
        written: builtins.list[Path] = []
        for output, name in zip(outputs, names, strict=True):
            path = target / name
            try:
                await self._client.download(URL(output.src, encoded=True), path, timeout=timeout)
            except APIStatusError as err:
                # Signed URLs live about 5 minutes: an expired one answers 403 (or 401).
                if err.status not in (401, 403):
                    raise
                renewed = _renewed(output, await self.outputs(wid))
                if renewed is None:
                    raise
                await self._client.download(URL(renewed.src, encoded=True), path, timeout=timeout)
            written.append(path)
        return written


def _renewed(output: WorkflowOutput, fresh: builtins.list[WorkflowOutput]) -> WorkflowOutput | None:
    """The same output (by id) in a freshly fetched list, with a newly signed URL."""
    for candidate in fresh:
        if candidate.id == output.id:
            return candidate
    return None

"""``cc.templates``: stored ComfyUI workflows with placeholders (``/v1/template``)."""

from __future__ import annotations

import builtins
from typing import ClassVar

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from ..models import Template, TemplateSummary
from ._base import ListResource
from ._checks import check_name, check_text
from ._upload import FormFields, JsonSource, check_size, json_part, load_json_object

__all__ = ["Templates"]


class Templates(ListResource[TemplateSummary]):
    """Templates: create and update (multipart), list (without bodies), get."""

    _segment: ClassVar[str] = "template"
    _list_key: ClassVar[str] = "templates"
    _item = TemplateSummary

    async def get(
        self, template_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Template:
        """One template, with its ``body``.

        Args:
            template_id: The template.
            deadline: Overall seconds for this call, retries included.

        Returns:
            The :class:`Template`.

        Raises:
            ValueError: ``template_id`` is empty.
            NotFoundError: No such template, or it is not yours.
        """
        return await self._get(
            Template, self._segment, check_id(template_id, "template_id"), deadline=deadline
        )

    async def create(
        self,
        *,
        name: str,
        description: str,
        body: JsonSource,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Template:
        """Upload a template. Never retried.

        Args:
            name: 1 to 100 characters.
            description: 1 to 500 characters.
            body: The ComfyUI workflow JSON: a dict, a path to a file, or bytes.
            deadline: Overall seconds for this call.

        Returns:
            The new :class:`Template`.

        Raises:
            ValueError: A limit is broken, ``body`` is not a JSON object, or the upload is over
                50 MB (before anything is sent).
            TypeError: ``body`` is neither a mapping, a path nor bytes.
        """
        _, raw, filename = load_json_object(body, "body")
        form: FormFields = (
            ("name", check_name(name)),
            ("description", check_text(description, "description", 1, 500)),
            json_part("body", raw, filename),
        )
        template = await self._send(
            "POST", Template, self._segment, form=check_size(form), deadline=deadline
        )
        assert template is not None
        return template

    async def update(
        self,
        template_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        body: JsonSource | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Template:
        """Change some fields of a template; only those given are sent. Never retried.

        Args:
            template_id: The template.
            name: 1 to 100 characters.
            description: 1 to 500 characters.
            body: The new ComfyUI workflow JSON: a dict, a path to a file, or bytes.
            deadline: Overall seconds for this call.

        Returns:
            The updated :class:`Template`.

        Raises:
            ValueError: Nothing to change, or a value breaks a documented limit (before
                anything is sent).
            TypeError: ``body`` is neither a mapping, a path nor bytes.
            NotFoundError: No such template, or it is not yours.
        """
        tid = check_id(template_id, "template_id")
        parts: builtins.list[tuple[str, str | tuple[str, bytes, str]]] = []
        if not isinstance(name, NotGiven):
            parts.append(("name", check_name(name)))
        if not isinstance(description, NotGiven):
            parts.append(("description", check_text(description, "description", 1, 500)))
        if not isinstance(body, NotGiven):
            _, raw, filename = load_json_object(body, "body")
            parts.append(json_part("body", raw, filename))
        if not parts:
            raise ValueError("update() needs at least one field to change")
        template = await self._send(
            "PUT", Template, self._segment, tid, form=check_size(tuple(parts)), deadline=deadline
        )
        assert template is not None
        return template

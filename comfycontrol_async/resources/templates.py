"""``cc.templates``: stored ComfyUI workflows with placeholders (endpoints 13-16 of SPEC.md)."""

from __future__ import annotations

import builtins

from .._config import NOT_GIVEN, NotGiven
from .._core import check_id
from .._pagination import Paginator
from ..models import Page, Template, TemplateSummary
from ._base import DEFAULT_PREFETCH, Resource
from ._checks import check_name, check_text
from ._upload import FormFields, JsonSource, check_size, json_part, load_json_object

__all__ = ["Templates"]


class Templates(Resource):
    """Templates: create and update (multipart), list, get."""

    _segment = "template"

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
    ) -> Paginator[TemplateSummary]:
        """Every template, newest first (without bodies). Returns a paginator at once.

        Raises:
            ValueError: An argument is out of range (raised here, before any request).
        """
        return self._paginate(
            TemplateSummary,
            "templates",
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
        self, *, page: int = 1, per_page: int = 100, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Page[TemplateSummary]:
        """One page of templates."""
        return await self._page(
            TemplateSummary,
            "templates",
            self._segment,
            page=page,
            per_page=per_page,
            deadline=deadline,
        )

    async def get(
        self, template_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Template:
        """One template, with its ``body``."""
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

        Raises:
            ValueError: A limit is broken or ``body`` is not a JSON object (before sending).
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

        Raises:
            ValueError: Nothing to change, or a value breaks a documented limit.
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

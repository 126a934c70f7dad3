"""``cc.templates``: stored ComfyUI workflows with placeholders (``/v1/template``)."""

from typing import ClassVar

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode
from .._core import check_id
from ..models import Template, TemplateSummary
from ._base import ListResource
from ._checks import FormFields, JsonSource, check_name, check_size, check_text, load_json_object


def _form(
    name: str | NotGiven, description: str | NotGiven, body: JsonSource | NotGiven
) -> FormFields:
    form: FormFields = ()
    if name is not NOT_GIVEN:
        form += (("name", check_name(name)),)
    if description is not NOT_GIVEN:
        form += (("description", check_text(description, "description", 1, 500)),)
    if body is not NOT_GIVEN:
        _, raw, filename = load_json_object(body, "body")
        form += (("body", (filename, raw, "application/json")),)
    return check_size(form)


class Templates(ListResource[TemplateSummary]):
    """Templates: create and update (multipart), list (without bodies), get.

    Arguments are checked before sending (README, "Configuration"); an id that is not yours
    raises :class:`NotFoundError`; ``create`` and ``update`` are never retried.
    """

    _segment: ClassVar[str] = "template"
    _list_key: ClassVar[str] = "templates"
    _item = TemplateSummary

    async def get(
        self, template_id: str, *, deadline: float | NotGiven | None = NOT_GIVEN
    ) -> Template:
        """One template, with its ``body``."""
        data = await self._call("GET", check_id(template_id, "template_id"), deadline=deadline)
        return decode(data, Template)

    async def create(
        self,
        *,
        name: str,
        description: str,
        body: JsonSource,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Template:
        """Upload a template (``name``: 1 to 100 characters, ``description``: 1 to 500).

        Args:
            body: The ComfyUI workflow JSON: a dict, a path to a file, or bytes (at most 50 MB).
        """
        form = _form(name, description, body)
        return decode(await self._call("POST", form=form, deadline=deadline), Template)

    async def update(
        self,
        template_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        body: JsonSource | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> Template:
        """Change the fields given, as :meth:`create` checks them.

        Raises:
            ValueError: Nothing to change.
        """
        tid = check_id(template_id, "template_id")
        form = _form(name, description, body)
        if not form:
            raise ValueError("update() needs at least one field to change")
        return decode(await self._call("PUT", tid, form=form, deadline=deadline), Template)

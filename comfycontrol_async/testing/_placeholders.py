"""The fake's own reading of workflow placeholders (the API documentation, "Placeholders").

This module owns two pure steps the fake's ``POST /v1/workflow`` needs: finding the whole-string
placeholders in a workflow JSON document, and matching them against the submitted form fields.
It is written independently of the SDK's client-side validator on purpose (the fake is the
referee, so it must not share the player's code) and does no I/O.

A value is a placeholder only when the *whole* string is one: ``"$text(prompt)"`` is,
``"prefix_$random()"`` is not. A string that starts like a known placeholder but breaks its rules
(``"$choice(x, only_one)"``, ``"$file(bad name)"``) is an error, not plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["FormValue", "Placeholder", "PlaceholderError", "resolve", "scan"]

#: A multipart field as the fake parsed it: text, or (filename, content) for a file part.
FormValue = str | tuple[str, bytes]

_WHOLE = re.compile(r"\$(text|choice|file|random|timestamp)\((.*)\)", re.DOTALL)
_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")


class PlaceholderError(ValueError):
    """A placeholder is malformed, or the form does not satisfy it (the fake answers 400)."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One distinct placeholder found in a workflow (first occurrence wins)."""

    kind: str  # "text", "choice", "file", "random", "timestamp"
    name: str  # "" for random/timestamp
    default: str | None = None  # text default, or the first choice
    options: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        """The form field that carries its value: ``$name`` or ``#name``."""
        return ("#" if self.kind == "choice" else "$") + self.name

    @property
    def label(self) -> str:
        """How ``workflow_params`` names it: ``$text(prompt)``, ``#choice(sampler)``."""
        if self.kind == "choice":
            return f"#choice({self.name})"
        return f"${self.kind}({self.name})"


def _parse(value: str) -> Placeholder | None:
    match = _WHOLE.fullmatch(value)
    if match is None:
        return None
    kind, inner = match.group(1), match.group(2)
    if kind in ("random", "timestamp"):
        if inner.strip():
            raise PlaceholderError(f"${kind}() takes no arguments: {value!r}")
        return Placeholder(kind, "")
    if kind == "text":
        name, sep, default = inner.partition(",")
        name = name.strip()
        if not name:
            raise PlaceholderError(f"$text() needs a key: {value!r}")
        return Placeholder("text", name, default.strip() if sep else None)
    if kind == "file":
        name = inner.strip()
        if not _FILE_NAME.fullmatch(name):
            raise PlaceholderError(
                f"$file() name must be 1-255 letters, digits, '-', '_' or '.': {value!r}"
            )
        return Placeholder("file", name)
    parts = [part.strip() for part in inner.split(",")]
    name, options = parts[0], tuple(parts[1:])
    if not name or not 2 <= len(options) <= 4 or not all(options):
        raise PlaceholderError(f"$choice() needs a name and 2 to 4 options: {value!r}")
    return Placeholder("choice", name, options[0], options)


def scan(document: Any) -> list[Placeholder]:
    """Every distinct placeholder in ``document``, in order of first appearance.

    Raises:
        PlaceholderError: a string looks like a placeholder but breaks its rules.
    """
    found: dict[tuple[str, str], Placeholder] = {}
    stack: list[Any] = [document]
    ordered: list[Placeholder] = []
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if node.startswith("$"):
                placeholder = _parse(node)
                if placeholder is not None:
                    key = (placeholder.kind, placeholder.name)
                    if key not in found:
                        found[key] = placeholder
                        ordered.append(placeholder)
        elif isinstance(node, dict):
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return ordered


def resolve(placeholders: list[Placeholder], form: dict[str, FormValue]) -> list[list[str]]:
    """Match the form against the placeholders and build ``workflow_params``.

    Returns:
        ``[[label, value], ...]`` for every text, choice and file placeholder (defaults included;
        a file's value is its filename). ``$random()`` and ``$timestamp()`` need no field.

    Raises:
        PlaceholderError: a required text or file is missing, a text field came as a file (or the
            other way round), or a choice is not one of its options.
    """
    params: list[list[str]] = []
    for placeholder in placeholders:
        kind = placeholder.kind
        if kind in ("random", "timestamp"):
            continue
        given = form.get(placeholder.field)
        if kind == "text":
            if given is None:
                if placeholder.default is None:
                    raise PlaceholderError(
                        f"missing form field {placeholder.field} for $text({placeholder.name})"
                    )
                value = placeholder.default
            elif isinstance(given, str):
                value = given
            else:
                raise PlaceholderError(f"form field {placeholder.field} must be text, not a file")
        elif kind == "file":
            if given is None:
                raise PlaceholderError(
                    f"missing file {placeholder.field} for $file({placeholder.name})"
                )
            if isinstance(given, str):
                raise PlaceholderError(f"form field {placeholder.field} must be a file upload")
            value = given[0]
        else:
            if given is None:
                value = placeholder.options[0]
            elif isinstance(given, str) and given in placeholder.options:
                value = given
            else:
                shown = given if isinstance(given, str) else "a file"
                raise PlaceholderError(
                    f"{shown!r} is not an option of {placeholder.field} "
                    f"(one of: {', '.join(placeholder.options)})"
                )
        params.append([placeholder.label, value])
    return params

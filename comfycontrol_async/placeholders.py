"""Find the placeholders of a ComfyUI workflow and check the values given for them (pure: no I/O).

The grammar is the README's ("Placeholders"). Where the API docs are silent, whitespace around an
argument is ignored, a text default is all after the first comma and choice options are split on
every comma; a string of a placeholder's shape breaking the rules is malformed, a problem."""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias, cast

__all__ = [
    "MAX_CHOICE_OPTIONS",
    "MAX_NAME_LENGTH",
    "MIN_CHOICE_OPTIONS",
    "ParamValue",
    "Placeholder",
    "PlaceholderError",
    "PlaceholderKind",
    "PlaceholderList",
    "file_fields",
    "is_valid_file_name",
    "parse_placeholder",
    "scan_placeholders",
    "validate_params",
]

PlaceholderKind: TypeAlias = Literal["text", "choice", "file", "random", "timestamp"]
JSONPath: TypeAlias = tuple[str | int, ...]
ParamValue: TypeAlias = str | int | float | bool
"""What a caller may give for a text or choice placeholder."""

MAX_NAME_LENGTH: Final = 255  # of a file placeholder's name
MIN_CHOICE_OPTIONS: Final = 2
MAX_CHOICE_OPTIONS: Final = 4
_KINDS: Final[tuple[PlaceholderKind, ...]] = ("text", "choice", "file", "random", "timestamp")
_PREFIXES: Final = {"text": "$", "file": "$", "choice": "#"}  # the named kinds' form fields
_SHAPE: Final = re.compile(r"\$(text|choice|file|random|timestamp)\((.*)\)", re.DOTALL)
_FILE_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")
_NOT_NODES: Final = (str, bytes, bytearray, memoryview)  # sequences that hold no placeholder


def is_valid_file_name(name: str) -> bool:
    """Tell whether ``name`` may name a file: 1 to 255 ASCII letters, digits, ``-_.``."""
    return len(name) <= MAX_NAME_LENGTH and _FILE_NAME.fullmatch(name) is not None


def _show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")  # quoted, at most 80 characters


def _where(path: JSONPath) -> str:
    """``at`` and the path as a JSON pointer (RFC 6901)."""
    pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return f"at {pointer}" if path else "at the root"


def _faults(kind: str, name: object, default: str | None, options: Sequence[str]) -> list[str]:
    """What is wrong with a definition, as the messages of a malformed or invalid placeholder."""
    if kind not in _KINDS:
        return [f"the kind must be one of {', '.join(_KINDS)}"]
    faults: list[str] = []
    if kind not in _PREFIXES:
        if name is not None:
            faults.append("it takes no name")
    elif not isinstance(name, str):
        return ["a name is needed"]
    elif not name:
        faults.append("the name is empty")
    elif kind == "file":
        if len(name) > MAX_NAME_LENGTH:
            faults.append(f"the name is {len(name)} characters long (at most {MAX_NAME_LENGTH})")
        if _FILE_NAME.fullmatch(name) is None:
            faults.append(f"the name {_show(name)} may only hold letters, digits, '-', '_' and '.'")
    elif "," in name or name != name.strip():  # only by hand: parsing splits and strips
        faults.append(f"the name {_show(name)} cannot hold a comma or surrounding whitespace")
    if kind != "choice":
        if options:
            faults.append("only a choice has options")
        if kind != "text" and default is not None:
            faults.append("only a text or a choice has a default")
        return faults
    if not MIN_CHOICE_OPTIONS <= len(options) <= MAX_CHOICE_OPTIONS:
        span = f"{MIN_CHOICE_OPTIONS} to {MAX_CHOICE_OPTIONS}"
        faults.append(f"a choice needs {span} options, got {len(options)}")
    for number, option in enumerate(options, start=1):
        if not option:
            faults.append(f"option {number} is empty")
        elif "," in option or option != option.strip():
            faults.append(f"option {number} ({_show(option)}) cannot be written in a placeholder")
    if default is not None and options and default != options[0]:
        faults.append("the default of a choice is its first option")
    return faults


@dataclasses.dataclass(frozen=True, slots=True)
class Placeholder:
    """One placeholder (:class:`ValueError` unless well formed): ``raw`` is as written (built if
    empty), ``path`` where it first occurs, ``default`` a text's or a choice's first option."""

    kind: PlaceholderKind
    name: str | None = None
    default: str | None = None
    options: tuple[str, ...] = ()
    raw: str = ""
    path: JSONPath = ()

    def __post_init__(self) -> None:
        if faults := _faults(self.kind, self.name, self.default, self.options):
            raise ValueError(f"invalid {self.kind!r} placeholder: " + "; ".join(faults))
        if self.kind == "choice" and self.default is None:
            object.__setattr__(self, "default", self.options[0])
        if not self.raw:
            parts = (self.name, *(self.options or (self.default,)))
            spelled = ", ".join(part for part in parts if part is not None)
            object.__setattr__(self, "raw", f"${self.kind}({spelled})")

    @property
    def required(self) -> bool:
        """True for a text without a default and for a file: the caller must give a value."""
        return self.kind == "file" or (self.kind == "text" and self.default is None)

    @property
    def form_field(self) -> str | None:
        """The ``POST /v1/workflow`` form field: ``$NAME``, ``#NAME`` for a choice, or ``None``."""
        prefix = _PREFIXES.get(self.kind)
        return None if prefix is None else f"{prefix}{self.name}"


_definition: Final = operator.attrgetter("kind", "name", "default", "options")  # same: no conflict


def _conflict(first: Placeholder, other: Placeholder) -> str:
    return (
        f"conflicting definitions of {first.name!r}: {_show(first.raw)} {_where(first.path)} "
        f"and {_show(other.raw)} {_where(other.path)}"
    )


class _MalformedError(Exception):
    """``args``: the message, and the name the author meant when one can be read."""


def _parse(text: str, path: JSONPath) -> Placeholder | None:
    """Read one string: a placeholder, ``None`` for ordinary text, or :class:`_MalformedError`."""
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        return None
    kind = cast(PlaceholderKind, shape.group(1))
    if kind not in _PREFIXES:
        if shape.group(2).strip():
            raise _MalformedError(f"${kind}() takes no arguments", None)
        return Placeholder(kind, raw=text, path=path)
    name, comma, rest = (part.strip() for part in shape.group(2).partition(","))
    default = rest if kind == "text" and comma else None
    options = tuple(part.strip() for part in rest.split(",")) if kind == "choice" and comma else ()
    if kind == "file" and comma:
        faults = ["$file() takes only a name"]
    else:
        faults = _faults(kind, name, default, options)
    if faults:
        meant = name and (kind != "file" or is_valid_file_name(name))
        raise _MalformedError("; ".join(faults), name if meant else None)
    return Placeholder(kind, name, default, options, text, path)


def parse_placeholder(text: str) -> Placeholder | None:
    """Read one string value of a workflow: its placeholder, or ``None`` for ordinary text.

    Raises:
        PlaceholderError: It is a malformed placeholder.
    """
    try:
        return _parse(text, ())
    except _MalformedError as exc:
        raise PlaceholderError([f"malformed placeholder {_show(text)}: {exc.args[0]}"]) from None


class PlaceholderError(ValueError):
    """The placeholders or the values given are wrong: ``problems`` (and ``str``) list them all."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        head = f"{count} placeholder problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([head, *(f"- {problem}" for problem in self.problems)]))

    def __reduce__(self) -> tuple[type[PlaceholderError], tuple[list[str]]]:
        return (type(self), (self.problems,))


class PlaceholderList(list[Placeholder]):
    """The placeholders found; ``problems`` lists the malformed and conflicting ones met."""

    __slots__ = ("_ignored", "problems")

    def __init__(
        self,
        placeholders: Iterable[Placeholder] = (),
        problems: Iterable[str] = (),
        *,
        ignored_names: Iterable[str] = (),
    ) -> None:
        super().__init__(placeholders)
        self.problems: list[str] = list(problems)
        self._ignored: frozenset[str] = frozenset(ignored_names)  # already problems: not checked


def _walk(workflow: object) -> Iterator[tuple[JSONPath, str]]:
    """Yield every string value with its path, depth first, in document order."""
    stack: list[tuple[JSONPath, object]] = [((), workflow)]
    seen: set[int] = set()  # shared or cyclic containers are walked once
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node
        elif isinstance(node, Mapping | Sequence) and not isinstance(node, _NOT_NODES):
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = node.items() if isinstance(node, Mapping) else enumerate(node)
            stack.extend(
                ((*path, key if isinstance(key, str | int) else str(key)), value)
                for key, value in reversed(list(items))
            )


def scan_placeholders(workflow: Mapping[str, Any] | Sequence[Any]) -> PlaceholderList:
    """Find the first occurrence of each placeholder of a decoded workflow, in document order.

    Raises:
        TypeError: ``workflow`` is not a mapping or a sequence (a ``str`` is refused).
    """
    if isinstance(workflow, _NOT_NODES) or not isinstance(workflow, Mapping | Sequence):
        kind = type(workflow).__name__
        raise TypeError(f"a workflow is the decoded JSON: a mapping or a sequence, not {kind}")
    found: dict[tuple[str, str | None], Placeholder] = {}  # the first of each kind and name
    first_by_name: dict[str, Placeholder] = {}
    conflicts_seen: set[tuple[str, str | None, str | None, tuple[str, ...]]] = set()
    problems: list[str] = []
    ignored: set[str] = set()
    for path, text in _walk(workflow):
        try:
            placeholder = _parse(text, path)
        except _MalformedError as exc:
            problems.append(f"malformed placeholder {_show(text)} {_where(path)}: {exc.args[0]}")
            ignored.update([exc.args[1]] if exc.args[1] else [])
            continue
        if placeholder is None:
            continue
        found.setdefault((placeholder.kind, placeholder.name), placeholder)
        if placeholder.name is None:
            continue
        first = first_by_name.setdefault(placeholder.name, placeholder)
        definition = _definition(placeholder)
        if definition != _definition(first) and definition not in conflicts_seen:
            conflicts_seen.add(definition)
            ignored.add(placeholder.name)
            problems.append(_conflict(first, placeholder))
    return PlaceholderList(found.values(), problems, ignored_names=ignored)


def validate_params(
    workflow_or_placeholders: Mapping[str, Any] | Sequence[Any],
    *,
    params: Mapping[str, ParamValue] | None = None,
    files: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Check ``params`` (text and choice values) and ``files`` (uploads) against the placeholders.

    Keys are names or form fields (``"prompt"``, ``"#sampler"``); returns the fields to send.

    Raises:
        PlaceholderError: Every problem at once, from malformed placeholders to unknown names.
        TypeError: The first argument is neither a workflow nor a list of placeholders.
    """
    placeholders = workflow_or_placeholders
    if not isinstance(placeholders, PlaceholderList):
        listed = isinstance(placeholders, Sequence) and not isinstance(placeholders, _NOT_NODES)
        marked = [isinstance(item, Placeholder) for item in placeholders] if listed else []
        if any(marked) and not all(marked):
            raise TypeError("give either a workflow or a list of Placeholder, not a mix")
        found = cast(Sequence[Placeholder], placeholders)
        placeholders = PlaceholderList(found) if any(marked) else scan_placeholders(placeholders)
    problems = list(placeholders.problems)
    ignored = set(placeholders._ignored)
    by_name: dict[str, Placeholder] = {}
    for placeholder in placeholders:
        if placeholder.name is None:
            continue
        first = by_name.setdefault(placeholder.name, placeholder)
        # A list built by hand may hold conflicts that no scan has reported yet.
        if placeholder.name not in ignored and _definition(first) != _definition(placeholder):
            ignored.add(placeholder.name)
            problems.append(_conflict(first, placeholder))

    given: dict[str, tuple[str, str]] = {}  # name -> where and how the caller spelled it
    values: dict[str, str] = {}
    for what, move, mapping in (
        ("parameter", "files= instead of params=", params),
        ("file", "params= instead of files=", files),
    ):
        for key, value in cast(Mapping[object, object], mapping or {}).items():
            if not isinstance(key, str):  # typed as str, but callers do not always obey
                problems.append(f"{what} names must be strings, not {key!r}")
                continue
            bare = key in by_name or key in ignored or key[:1] not in ("$", "#")
            prefix, name = ("", key) if bare else (key[0], key[1:])
            if name in ignored:
                continue
            target = by_name.get(name)
            if target is None and what == "file" and not is_valid_file_name(name):
                faults = "; ".join(_faults("file", name, None, ()))
                problems.append(f"invalid file name {_show(key)} in files=: {faults}")
            elif target is None:
                close = difflib.get_close_matches(name, list(by_name), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                unknown = f"unknown {what} {key!r}: the workflow has no placeholder named {name!r}"
                problems.append(unknown + (hint if by_name else " (it has no named placeholders)"))
            elif given.setdefault(name, (what, key)) != (what, key):  # given before
                problems.append(f"{name!r} is given twice, as {given[name][1]!r} and as {key!r}")
            elif (target.kind == "file") != (what == "file"):
                problems.append(
                    f"{what} {key!r}: {name!r} is a {target.kind} placeholder, give it in {move}"
                )
            elif prefix and prefix + name != target.form_field:
                problems.append(
                    f"file {key!r}: the form field of a file is {target.form_field!r}, not {key!r}"
                    if what == "file"
                    else f"parameter {key!r}: {name!r} is a {target.kind} placeholder, "
                    f"its form field is {target.form_field!r}"
                )
            elif what == "parameter":
                try:
                    values[name] = _to_text(value, target)
                except ValueError as exc:
                    problems.append(f"parameter {name!r}: {exc}")

    for name, p in by_name.items():
        if name not in ignored and name not in given and p.required:
            what = "file" if p.kind == "file" else "text parameter"
            problems.append(f"missing required {what} {name!r} ({_show(p.raw)} {_where(p.path)})")
    if problems:
        raise PlaceholderError(problems)
    return {cast(str, p.form_field): values[name] for name, p in by_name.items() if name in values}


def _to_text(value: object, target: Placeholder) -> str:
    """The text a value is sent as; :class:`ValueError` says why it cannot be sent."""
    # The dunder calls keep str and int subclasses (enums) from printing their class name.
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = str.__str__(value)
    elif isinstance(value, int):
        try:
            text = int.__repr__(value)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            raise ValueError("the integer is too large to write out") from None
    elif isinstance(value, float) and math.isfinite(value):
        text = float.__repr__(value)
    elif isinstance(value, float):
        raise ValueError(f"{value!r} is not a finite number")
    else:
        raise ValueError(f"a value must be str, int, float or bool, not {type(value).__name__}")
    if target.kind == "choice" and text not in target.options:
        options = ", ".join(map(repr, target.options))
        unfit = f"{_show(text)} is not one of the options of {_show(target.raw)}"
        raise ValueError(f"{unfit}: {options}")
    return text


def file_fields(files: Mapping[str, Any]) -> dict[str, Any]:
    """Key accepted uploads by form field: ``{"input_image": x}`` gives ``{"$input_image": x}``."""
    return {"$" + key.removeprefix("$"): value for key, value in files.items()}

"""Find the placeholders of a ComfyUI workflow and check the values meant for them.

Templates and workflows sent to ComfyControl are ComfyUI workflow JSON in which some string values
are *placeholders*. The service replaces them when a workflow runs: with values sent as form fields
of ``POST /v1/workflow``, or with values of its own. This module finds them
(:func:`scan_placeholders`) and checks the ``params`` and ``files`` a caller gives before anything
is uploaded (:func:`validate_params`). It is pure: no I/O, standard library only.

Grammar
-------
A placeholder is a string value, at any depth of the JSON (inside objects and lists alike; object
keys are never placeholders), whose *whole* text is one of:

==================================  =========================================================
``$text(NAME)``                     required text, e.g. ``"$text(prompt)"``
``$text(NAME, DEFAULT)``            text with a default, e.g. ``"$text(negative, blurry)"``;
                                    not required
``$choice(NAME, A, B[, C[, D]])``   one of 2 to 4 options, the first is the default, e.g.
                                    ``"$choice(sampler, euler, euler_ancestral)"``
``$file(NAME)``                     required upload, e.g. ``"$file(input_image)"``
``$random()``                       a fresh 64-bit integer for each occurrence, chosen by the
                                    server: nothing to send
``$timestamp()``                    Unix time in milliseconds, the same for the whole run, set
                                    by the server: nothing to send
==================================  =========================================================

``"prefix_$random()"`` is not a placeholder: the string holds more than the placeholder, so it is
left alone. The examples of the API documentation::

    {"6": {"inputs": {"text": "$text(prompt)", "negative_prompt": "$text(negative)",
                      "steps": "$text(num_steps)"}}}
    {"10": {"inputs": {"image": "$file(input_image)", "mask": "$file(mask_image)"}}}

On ``POST /v1/workflow`` a text or file placeholder is sent as the form field ``$NAME`` and a choice
as ``#NAME``; ``GET /v1/workflow/{id}`` echoes them in ``workflow_params``, e.g.
``["$text(prompt)", "A sunset"]`` and ``["#choice(sampler)", "euler_ancestral"]``.

Decisions on the points the API documentation leaves open
---------------------------------------------------------
* **Whole string, exactly.** A string is a placeholder only when all of it, with nothing stripped,
  reads ``$KEYWORD(...)`` with one of the five lower-case keywords. ``" $text(x)"``,
  ``"$text(x) tail"``, ``"prefix_$random()"`` and ``"$Text(x)"`` are ordinary text: the service
  leaves them as they are, and they are never reported here.
* **Whitespace inside the parentheses** around each argument is ignored: ``$choice(s,a,b)``,
  ``$choice(s, a, b)`` and ``$choice( s , a , b )`` are the same. Whitespace within an argument is
  kept.
* **Names.** A file name has 1 to 255 ASCII letters, digits, ``-``, ``_`` or ``.``: the API
  documentation allows the first four, yet its own example is ``$file(input_image.png)``, so
  ``.`` is accepted too (the SDK never refuses what the published examples use). The
  documentation sets no rule for text and choice names, so any non-empty one is accepted
  (``$text(my prompt)`` is sent as the field ``$my prompt``). Names form one namespace:
  ``$NAME`` is shared by text and file fields, and a name used by two kinds of placeholder is
  ambiguous.
* **Defaults and options.** A text default is everything after the first comma, so it may hold
  commas and parentheses: ``$text(prompt, a cat, a dog)`` has the default ``"a cat, a dog"``;
  ``$text(key, )`` has the empty default and is not required. Choice options are split on every
  comma; there must be 2 to 4 and none may be empty (a repeated option is allowed).
* **Malformed placeholders.** A string of the shape above that breaks these rules is *malformed*:
  ``$text()``, ``$text(, x)``, ``$choice(x, onlyone)``, a choice with 5 options or an empty one,
  ``$file(bad name!)``, a file name of 256 characters, ``$file(a, b)``, ``$random(1)``.
  :func:`scan_placeholders` does not raise for it: it collects a problem in
  :attr:`PlaceholderList.problems`, and :func:`validate_params` reports it with every other
  problem.
* **Repeats and conflicts.** The same placeholder may appear many times (``$text(prompt)`` in two
  nodes): that is one parameter. Two different definitions of one name (text and choice, a text with
  and without a default, two defaults, choices with different options or a different order) are a
  conflict, reported as a problem.
* **Values.** ``params`` values are sent as text: ``str`` as is, ``bool`` as ``"true"``/``"false"``
  (the JSON spelling), ``int`` in decimal, ``float`` as :func:`repr` gives it (``0.5``, ``1e+16``);
  NaN and infinities are refused. A choice is checked after this conversion, so ``7`` matches the
  option ``7`` but ``7.0`` does not. An empty string is a value like any other.
* **Keys.** ``params`` keys may be bare names or carry their form-field prefix (``"$prompt"``,
  ``"#sampler"``); a wrong prefix is a problem, and a key that is itself a name is taken as it is
  (the odd ``$text($x)`` is reached by ``"$x"`` or ``"$$x"``). ``files`` keys may be bare or
  carry ``$``; use :func:`file_fields` to get the form field name of each.
* **Nothing sent for defaults.** A text with a default or a choice that the caller does not set is
  left out of the form: the server applies the default itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
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
"""The five kinds of placeholder."""

ParamValue: TypeAlias = str | int | float | bool
"""What a caller may give for a text or choice placeholder."""

JSONPath: TypeAlias = tuple[str | int, ...]

MAX_NAME_LENGTH: Final = 255
"""Longest file placeholder name, in characters."""

MIN_CHOICE_OPTIONS: Final = 2
"""Fewest options a ``$choice`` may have."""

MAX_CHOICE_OPTIONS: Final = 4
"""Most options a ``$choice`` may have."""

_KINDS: Final[tuple[PlaceholderKind, ...]] = ("text", "choice", "file", "random", "timestamp")
_NAMED_KINDS: Final = frozenset({"text", "choice", "file"})
# The shape of a placeholder, matched against the whole string: what fits it and breaks the
# rules is malformed, what does not fit it is ordinary text.
_SHAPE: Final = re.compile(r"\$(text|choice|file|random|timestamp)\((.*)\)", re.DOTALL)
_FILE_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")
_SHOWN_CHARS: Final = 80


def is_valid_file_name(name: str) -> bool:
    """Tell whether ``name`` may name a file placeholder.

    Args:
        name: The candidate name.

    Returns:
        True when it has 1 to 255 characters, each an ASCII letter, a digit, ``-``, ``_`` or ``.``.
    """
    return len(name) <= MAX_NAME_LENGTH and _FILE_NAME.fullmatch(name) is not None


def _name_faults(name: str, kind: str) -> list[str]:
    if not name:
        return ["the name is empty"]
    if kind != "file":
        # Only reachable by building a Placeholder by hand: parsing never yields such names.
        if "," in name or name != name.strip():
            return [f"the name {_show(name)} cannot hold a comma or surrounding whitespace"]
        return []
    faults: list[str] = []
    if len(name) > MAX_NAME_LENGTH:
        faults.append(f"the name is {len(name)} characters long (at most {MAX_NAME_LENGTH})")
    if _FILE_NAME.fullmatch(name) is None:
        faults.append(f"the name {_show(name)} may only hold letters, digits, '-', '_' and '.'")
    return faults


def _show(text: str) -> str:
    """Quote ``text`` for a message, cut short when long."""
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return repr(text)


def _pointer(path: JSONPath) -> str:
    """Spell a path as a JSON pointer (RFC 6901), ``""`` being the root."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _where(path: JSONPath) -> str:
    return f"at {_pointer(path)}" if path else "at the root"


@dataclasses.dataclass(frozen=True, slots=True)
class Placeholder:
    """One placeholder of a workflow.

    Instances are always well formed: the constructor raises :class:`ValueError` otherwise.

    Attributes:
        kind: ``"text"``, ``"choice"``, ``"file"``, ``"random"`` or ``"timestamp"``.
        name: The parameter name; ``None`` for ``random`` and ``timestamp``.
        default: The text default (``None`` when the text is required), the first option of a
            choice, ``None`` for the other kinds.
        options: The options of a choice, in order; empty for the other kinds.
        raw: The placeholder as written in the workflow, e.g. ``"$text(prompt)"``; built from the
            other fields when not given.
        path: Where it first occurs in the workflow JSON: object keys and list indexes from the
            root, e.g. ``("6", "inputs", "text")``.
    """

    kind: PlaceholderKind
    name: str | None = None
    default: str | None = None
    options: tuple[str, ...] = ()
    raw: str = ""
    path: JSONPath = ()

    def __post_init__(self) -> None:
        faults = _definition_faults(self)
        if faults:
            raise ValueError(f"invalid {self.kind!r} placeholder: " + "; ".join(faults))
        if self.kind == "choice" and self.default is None:
            object.__setattr__(self, "default", self.options[0])
        if not self.raw:
            object.__setattr__(self, "raw", _spell(self))

    @property
    def required(self) -> bool:
        """True for a text without a default and for a file: the caller must give a value."""
        return self.kind == "file" or (self.kind == "text" and self.default is None)

    @property
    def form_field(self) -> str | None:
        """The form field of ``POST /v1/workflow``: ``$NAME`` for text and file, ``#NAME`` for a
        choice, ``None`` for random and timestamp (nothing is sent for them)."""
        if self.kind in ("text", "file"):
            return f"${self.name}"
        if self.kind == "choice":
            return f"#{self.name}"
        return None


def _definition_faults(p: Placeholder) -> list[str]:
    if p.kind not in _KINDS:
        return [f"the kind must be one of {', '.join(_KINDS)}"]
    faults: list[str] = []
    if p.kind in _NAMED_KINDS:
        if not isinstance(p.name, str):
            return ["a name is needed"]
        faults += _name_faults(p.name, p.kind)
    elif p.name is not None:
        faults.append("it takes no name")
    if p.kind == "choice":
        faults += _option_faults(p.options)
        if p.default is not None and p.options and p.default != p.options[0]:
            faults.append("the default of a choice is its first option")
    else:
        if p.options:
            faults.append("only a choice has options")
        if p.kind != "text" and p.default is not None:
            faults.append("only a text or a choice has a default")
    return faults


def _option_faults(options: Sequence[str]) -> list[str]:
    faults: list[str] = []
    if not MIN_CHOICE_OPTIONS <= len(options) <= MAX_CHOICE_OPTIONS:
        faults.append(
            f"a choice needs {MIN_CHOICE_OPTIONS} to {MAX_CHOICE_OPTIONS} options, "
            f"got {len(options)}"
        )
    for number, option in enumerate(options, start=1):
        if not option:
            faults.append(f"option {number} is empty")
        elif "," in option or option != option.strip():
            # Only reachable by building a Placeholder by hand.
            faults.append(f"option {number} ({_show(option)}) cannot be written in a placeholder")
    return faults


def _spell(p: Placeholder) -> str:
    if p.kind == "text":
        return f"$text({p.name})" if p.default is None else f"$text({p.name}, {p.default})"
    if p.kind == "choice":
        return f"$choice({', '.join([cast(str, p.name), *p.options])})"
    if p.kind == "file":
        return f"$file({p.name})"
    return f"${p.kind}()"


def _definition(p: Placeholder) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    """What two occurrences of one name must share not to conflict."""
    return (p.kind, p.name, p.default, p.options)


class _MalformedError(Exception):
    def __init__(self, reasons: list[str], name: str | None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.name = name  # the name the author meant, when one can be read


def _parse(text: str, path: JSONPath) -> Placeholder | None:
    """Read one string: a placeholder, ``None`` for ordinary text, or :class:`_MalformedError`."""
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        return None
    kind = cast(PlaceholderKind, shape.group(1))
    inner: str = shape.group(2)
    if kind in ("random", "timestamp"):
        if inner.strip():
            raise _MalformedError([f"${kind}() takes no arguments"], None)
        return Placeholder(kind, raw=text, path=path)
    if kind == "text":
        name, comma, default = (part.strip() for part in inner.partition(","))
        faults = _name_faults(name, kind)
        if faults:
            raise _MalformedError(faults, None)
        return Placeholder("text", name, default if comma else None, (), text, path)
    if kind == "file":
        name = inner.strip()
        if "," in name:
            first = name.partition(",")[0].strip()
            raise _MalformedError(
                ["$file() takes only a name"], first if is_valid_file_name(first) else None
            )
        faults = _name_faults(name, kind)
        if faults:
            raise _MalformedError(faults, None)
        return Placeholder("file", name, None, (), text, path)
    name, *rest = (part.strip() for part in inner.split(","))
    options = tuple(rest)
    name_faults = _name_faults(name, kind)
    faults = name_faults + _option_faults(options)
    if faults:
        raise _MalformedError(faults, None if name_faults else name)
    return Placeholder("choice", name, options[0], options, text, path)


def parse_placeholder(text: str) -> Placeholder | None:
    """Read one string value of a workflow.

    Args:
        text: The string, e.g. ``"$choice(sampler, euler, dpmpp_2m)"``.

    Returns:
        The placeholder it is (with an empty ``path``), or ``None`` when it is ordinary text.

    Raises:
        PlaceholderError: It is a malformed placeholder (see the module notes).
    """
    try:
        return _parse(text, ())
    except _MalformedError as exc:
        raise PlaceholderError([f"malformed placeholder {_show(text)}: {exc}"]) from None


class PlaceholderError(ValueError):
    """The placeholders of a workflow, or the values given for them, are not right.

    ``str(error)`` lists every problem, one per line.

    Attributes:
        problems: One message per problem, each naming the placeholder concerned.
    """

    problems: list[str]

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} placeholder problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([head, *(f"- {problem}" for problem in self.problems)]))

    def __reduce__(self) -> tuple[type[PlaceholderError], tuple[list[str]]]:
        return (type(self), (self.problems,))


class PlaceholderList(list[Placeholder]):
    """What :func:`scan_placeholders` returns: a list of :class:`Placeholder`, plus the problems met
    while scanning (malformed placeholders, conflicting definitions) in :attr:`problems`.

    Pass it to :func:`validate_params` so that those problems are reported with the others.

    Attributes:
        problems: The scanning problems, in document order; empty when the workflow is sound.
    """

    __slots__ = ("_ignored", "problems")

    problems: list[str]
    _ignored: frozenset[str]

    def __init__(
        self,
        placeholders: Iterable[Placeholder] = (),
        problems: Iterable[str] = (),
        *,
        ignored_names: Iterable[str] = (),
    ) -> None:
        super().__init__(placeholders)
        self.problems = list(problems)
        # Names whose values are not checked further: their definition is already a problem.
        self._ignored = frozenset(ignored_names)


def _walk(workflow: object) -> Iterator[tuple[JSONPath, str]]:
    """Yield every string value with its path, depth first, in document order."""
    stack: list[tuple[JSONPath, object]] = [((), workflow)]
    seen: set[int] = set()  # containers already walked: shared or cyclic ones are walked once
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node
            continue
        children: list[tuple[JSONPath, object]]
        if isinstance(node, Mapping):
            if id(node) in seen:
                continue
            seen.add(id(node))
            children = [
                ((*path, key if isinstance(key, str | int) else str(key)), value)
                for key, value in node.items()
            ]
        elif isinstance(node, Sequence) and not isinstance(node, bytes | bytearray | memoryview):
            if id(node) in seen:
                continue
            seen.add(id(node))
            children = [((*path, index), value) for index, value in enumerate(node)]
        else:
            continue
        stack.extend(reversed(children))


def _check_workflow(workflow: object) -> None:
    if isinstance(workflow, str | bytes | bytearray | memoryview) or not isinstance(
        workflow, Mapping | Sequence
    ):
        raise TypeError(
            "a workflow is the decoded JSON: a mapping or a sequence, "
            f"not {type(workflow).__name__}"
        )


def scan_placeholders(workflow: Mapping[str, Any] | Sequence[Any]) -> PlaceholderList:
    """Find the placeholders of a workflow.

    Args:
        workflow: The decoded workflow JSON (objects as mappings, arrays as lists or tuples).

    Returns:
        The placeholders in document order (depth first, keys in mapping order): one per distinct
        kind and name for text, choice and file, at its first occurrence; ``random`` and
        ``timestamp`` once each when present. Malformed placeholders and conflicting definitions
        are not raised: they are listed in the result's ``problems``.

    Raises:
        TypeError: ``workflow`` is not a mapping or a sequence (a ``str`` is refused).

    Examples:
        >>> [p.raw for p in scan_placeholders({"6": {"inputs": {"text": "$text(prompt)"}}})]
        ['$text(prompt)']
    """
    _check_workflow(workflow)
    found: list[Placeholder] = []
    kinds_seen: set[tuple[str, str | None]] = set()
    first_by_name: dict[str, Placeholder] = {}
    conflicts_seen: set[tuple[str, str | None, str | None, tuple[str, ...]]] = set()
    problems: list[str] = []
    ignored: set[str] = set()
    for path, text in _walk(workflow):
        try:
            placeholder = _parse(text, path)
        except _MalformedError as exc:
            problems.append(f"malformed placeholder {_show(text)} {_where(path)}: {exc}")
            if exc.name is not None:
                ignored.add(exc.name)
            continue
        if placeholder is None:
            continue
        if (placeholder.kind, placeholder.name) not in kinds_seen:
            kinds_seen.add((placeholder.kind, placeholder.name))
            found.append(placeholder)
        if placeholder.name is None:
            continue
        first = first_by_name.setdefault(placeholder.name, placeholder)
        definition = _definition(placeholder)
        if definition != _definition(first) and definition not in conflicts_seen:
            conflicts_seen.add(definition)
            ignored.add(placeholder.name)
            problems.append(_conflict(first, placeholder))
    return PlaceholderList(found, problems, ignored_names=ignored)


def _conflict(first: Placeholder, other: Placeholder) -> str:
    return (
        f"conflicting definitions of {first.name!r}: {_show(first.raw)} {_where(first.path)} "
        f"and {_show(other.raw)} {_where(other.path)}"
    )


def _as_placeholders(source: object) -> PlaceholderList:
    if isinstance(source, PlaceholderList):
        return source
    if isinstance(source, Sequence) and not isinstance(source, str | bytes | bytearray):
        marked = [isinstance(item, Placeholder) for item in source]
        if marked and all(marked):
            return PlaceholderList(cast(Sequence[Placeholder], source))
        if any(marked):
            raise TypeError("give either a workflow or a list of Placeholder, not a mix")
    return scan_placeholders(cast(Mapping[str, Any] | Sequence[Any], source))


class _BadValueError(Exception):
    pass


def _to_text(value: object) -> str:
    # The dunder calls keep str and int subclasses (enums) from printing their class name.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError as exc:  # beyond sys.get_int_max_str_digits()
            raise _BadValueError("the integer is too large to write out") from exc
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _BadValueError(f"{value!r} is not a finite number")
        return float.__repr__(value)
    raise _BadValueError(f"a value must be str, int, float or bool, not {type(value).__name__}")


def _split_key(key: str, known: Mapping[str, Placeholder], ignored: set[str]) -> tuple[str, str]:
    """Split a key into its form-field prefix (``""`` when bare) and the placeholder name."""
    if key in known or key in ignored or key[:1] not in ("$", "#"):
        return "", key
    return key[0], key[1:]


def _unknown(key: str, name: str, known: Mapping[str, Placeholder], where: str) -> str:
    message = f"unknown {where} {key!r}: the workflow has no placeholder named {name!r}"
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    if not known:
        return f"{message} (it has no named placeholders)"
    return message


def validate_params(
    workflow_or_placeholders: Mapping[str, Any] | Sequence[Any],
    *,
    params: Mapping[str, ParamValue] | None = None,
    files: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Check the values given for the placeholders of a workflow, before anything is uploaded.

    Args:
        workflow_or_placeholders: The decoded workflow JSON, or what :func:`scan_placeholders`
            returned for it (a plain list of :class:`Placeholder` is accepted too).
        params: Values for text and choice placeholders, keyed by name, bare (``"prompt"``) or
            with the form-field prefix (``"$prompt"``, ``"#sampler"``). See the module notes for
            how values become text.
        files: Uploads for file placeholders, keyed by name, bare or with ``$``. The values are
            not looked at.

    Returns:
        The form fields to send for text and choice placeholders, in document order, e.g.
        ``{"$prompt": "A sunset", "#sampler": "euler"}``. A text with a default or a choice
        that is not given is left out: the server applies the default.

    Raises:
        PlaceholderError: With every problem at once: malformed placeholders, conflicting
            definitions, a missing required text or file, an unknown name, a name given twice, a
            value given in ``params`` for a file or in ``files`` for a text or a choice, a wrong
            prefix, a value that is not text or a number, a choice outside its options, an
            invalid file name.
        TypeError: The first argument is neither a workflow nor a list of placeholders.

    Examples:
        >>> workflow = {"3": {"inputs": {"text": "$text(prompt)",
        ...                              "sampler": "$choice(sampler, euler, dpmpp_2m)"}}}
        >>> validate_params(workflow, params={"prompt": "A sunset", "#sampler": "dpmpp_2m"})
        {'$prompt': 'A sunset', '#sampler': 'dpmpp_2m'}
    """
    placeholders = _as_placeholders(workflow_or_placeholders)
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

    given: dict[str, str] = {}  # name -> key as the caller spelled it, in params or files
    values: dict[str, str] = {}
    for given_key, value in (params or {}).items():
        key: object = given_key  # typed as str, but callers do not always obey
        if not isinstance(key, str):
            problems.append(f"parameter names must be strings, not {key!r}")
            continue
        prefix, name = _split_key(key, by_name, ignored)
        if name in ignored:
            continue
        target = by_name.get(name)
        if target is None:
            problems.append(_unknown(key, name, by_name, "parameter"))
            continue
        if name in given:
            problems.append(f"{name!r} is given twice, as {given[name]!r} and as {key!r}")
            continue
        given[name] = key
        if target.kind == "file":
            problems.append(
                f"parameter {key!r}: {name!r} is a file placeholder, give it in files= "
                "instead of params="
            )
            continue
        if prefix and prefix + name != target.form_field:
            problems.append(
                f"parameter {key!r}: {name!r} is a {target.kind} placeholder, "
                f"its form field is {target.form_field!r}"
            )
            continue
        try:
            text = _to_text(value)
        except _BadValueError as exc:
            problems.append(f"parameter {name!r}: {exc}")
            continue
        if target.kind == "choice" and text not in target.options:
            problems.append(
                f"parameter {name!r}: {_show(text)} is not one of the options of "
                f"{_show(target.raw)}: {', '.join(map(repr, target.options))}"
            )
            continue
        values[name] = text

    for given_file_key in files or {}:
        key = cast(object, given_file_key)
        if not isinstance(key, str):
            problems.append(f"file names must be strings, not {key!r}")
            continue
        prefix, name = _split_key(key, by_name, ignored)
        if name in ignored:
            continue
        target = by_name.get(name)
        if target is None:
            if is_valid_file_name(name):
                problems.append(_unknown(key, name, by_name, "file"))
            else:
                faults = "; ".join(_name_faults(name, "file"))
                problems.append(f"invalid file name {_show(key)} in files=: {faults}")
            continue
        if name in given:
            problems.append(f"{name!r} is given twice, as {given[name]!r} and as {key!r}")
            continue
        given[name] = key
        if target.kind != "file":
            problems.append(
                f"file {key!r}: {name!r} is a {target.kind} placeholder, give it in "
                "params= instead of files="
            )
        elif prefix == "#":
            problems.append(f"file {key!r}: the form field of a file is '${name}', not '#{name}'")

    for name, placeholder in by_name.items():
        if name in ignored or name in given or not placeholder.required:
            continue
        what = "file" if placeholder.kind == "file" else "text parameter"
        problems.append(
            f"missing required {what} {name!r} ({_show(placeholder.raw)} "
            f"{_where(placeholder.path)})"
        )

    if problems:
        raise PlaceholderError(problems)
    return {
        cast(str, placeholder.form_field): values[name]
        for name, placeholder in by_name.items()
        if name in values
    }


def file_fields(files: Mapping[str, Any]) -> dict[str, Any]:
    """Name the form field of each upload, after :func:`validate_params` has accepted ``files``.

    Args:
        files: Uploads keyed by placeholder name, bare or with ``$``.

    Returns:
        The same values keyed by form field: ``{"input_image": x}`` gives ``{"$input_image": x}``.
    """
    return {"$" + key.removeprefix("$"): value for key, value in files.items()}

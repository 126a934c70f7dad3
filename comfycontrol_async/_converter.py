"""Turning decoded JSON into the models of :mod:`comfycontrol_async.models`, fast and with exact
error locations.

This module owns the SDK's private cattrs converters and the three functions the resources call:
:func:`decode` (one object), :func:`decode_list` (the bare arrays: history, outputs) and
:func:`decode_page` (``{"<key>": [...], "total": N}``). It works on data already parsed from JSON:
it must not do I/O, parse text, or touch cattrs' global converter. Every failure leaves here as
:class:`~comfycontrol_async.ResponseValidationError`, whose ``path`` says where (JSONPath-style,
e.g. ``$.runners[3].created_at``) and whose message names the field and the problem. Messages
describe a wrong value by its JSON type, not its content (only a timestamp that does not parse
is quoted, cut to 40 characters), so header values and other secrets never appear in them.

**Lenient and strict.** Production decoding is lenient: keys a model does not know are kept in
its ``extra`` mapping (and in :attr:`Page.extra` for the page envelope). Strict decoding, used by
the test suite so that drift from the documented API fails CI, raises on any unknown key instead,
stats included. Both modes reject a missing required field, a value of the wrong type and a
timestamp that does not parse, on every model except the stats (below). Both read ``null`` where
a list or a headers object is expected as empty: Go services write empty slices and maps as
``null``. The process default is lenient; :func:`set_strict` switches it, and so does the
environment variable ``COMFYCONTROL_STRICT_DECODE=1`` read at import.

**Stats in lenient mode never fail** (the API's decision: nothing in them may fail a sweep). The
rules, for :class:`RunnerStats`, :class:`SystemInfo` and :class:`Device`:

- a missing or ``null`` field takes its default: ``None``, an empty :class:`SystemInfo` for
  ``system``, an empty list for ``devices`` and ``extensions``;
- a value of the wrong type (``"ram_free": "n/a"``, ``"index": "0"``, ``"system": 5``) also takes
  the default, and the value is kept, as received, in that model's ``extra`` under its own key;
  integer fields accept a float with no fractional part (``8.0e9``) as that integer, nothing else
  is converted;
- a device entry that is not an object is dropped from ``devices``; the whole ``devices`` array,
  as received, is then kept in ``RunnerStats.extra["devices"]``;
- a stats answer that is not an object at all decodes as an empty :class:`RunnerStats` whose
  ``extra["$"]`` holds what was received.

In strict mode the stats are checked like every other model.

**Speed.** Decoding takes an optimistic fast path first. Each model is structured by a function
generated for it here, stats included, that makes no call per field: it reads each key once,
tests each value inline with ``type(x) is`` tests (lists of strings and string maps are taken as
they are once checked, timestamps go through :meth:`datetime.fromisoformat`), and stores the
values straight into the frozen model's slots instead of going through attrs' ``__init__``.
When the payload has no unknown keys, which one ``len()`` or one set test tells, ``extra`` is a
new empty dict and nothing else is built. Whatever the fast path refuses (a bad value, an
unknown key in strict mode, anything unusual) is decoded again by a slower path that accepts
every valid payload and, for an invalid one, says exactly where and why: twin functions
generated with cattrs' detailed validation, and for the lenient stats the careful functions
that apply the rules above.
"""

from __future__ import annotations

import math
import os
import string
import sysconfig
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar, cast

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
    StructureHandlerNotFoundError,
)
from cattrs.gen import make_dict_structure_fn, override

from ._exceptions import ResponseValidationError
from .models import (
    Device,
    ManagedRunner,
    Page,
    Runner,
    RunnerStats,
    SystemInfo,
    Template,
    TemplateSummary,
    User,
    Workflow,
    WorkflowOutput,
    WorkflowSummary,
)

__all__ = [
    "STRICT_ENV_VAR",
    "decode",
    "decode_list",
    "decode_page",
    "get_converter",
    "is_strict",
    "make_converter",
    "set_strict",
]

T = TypeVar("T")

_Hook = Callable[[Any, Any], Any]

STRICT_ENV_VAR: Final = "COMFYCONTROL_STRICT_DECODE"
"""Set to ``1`` (or ``true``/``yes``/``on``) to make strict decoding the default at import."""

_TRUTHY: Final = frozenset({"1", "true", "yes", "on"})

# Models decoded alike in both modes but for unknown keys (the stats models are handled apart:
# their slow path is the careful functions below when lenient, the detailed twin when strict).
_MODELS: Final[tuple[type[Any], ...]] = (
    User,
    Runner,
    ManagedRunner,
    WorkflowSummary,
    Workflow,
    TemplateSummary,
    Template,
    WorkflowOutput,
)


# --------------------------------------------------------------------------------------------
# Describing problems


class _Invalid(Exception):
    """A value did not fit. ``subpath`` locates it below the place where it was raised."""

    def __init__(self, problem: str, subpath: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.subpath = subpath


def _json_kind(value: Any) -> str:
    """The JSON type of a value, with its article, for messages (``an integer``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a Python {type(value).__name__}"


def _expected(what: str, value: Any, subpath: str = "") -> _Invalid:
    return _Invalid(f"expected {what}, got {_json_kind(value)}", subpath)


def _key_step(key: object) -> str:
    """The JSONPath step to a member: ``.name``, or ``['odd key']`` when it is no identifier."""
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    text = str(key).replace("\\", "\\\\").replace("'", "\\'")
    return f"['{text}']"


def _note_of(exc: BaseException, note_type: type[Any]) -> Any:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, note_type):
            return note
    return None


def _problems(exc: BaseException, path: str, label: str) -> Iterator[tuple[str, str, str]]:
    """Walk an error of a detailed decode and yield ``(path, label, problem)`` for each leaf.

    ``label`` names the model and field (``Runner.created_at``), ``path`` the place in the
    document (``$.runners[3].created_at``).
    """
    if isinstance(exc, ClassValidationError):
        owner = getattr(exc.cl, "__name__", "object")
        for sub in exc.exceptions:
            note = _note_of(sub, AttributeValidationNote)
            step = "" if note is None else _key_step(note.name)
            yield from _problems(sub, path + step, owner + step)
    elif isinstance(exc, IterableValidationError):
        for sub in exc.exceptions:
            note = _note_of(sub, IterableValidationNote)
            step = "" if note is None else f"[{note.index!r}]"
            yield from _problems(sub, path + step, label + step)
    elif isinstance(exc, _Invalid):
        yield path + exc.subpath, label + exc.subpath, exc.problem
    elif isinstance(exc, KeyError):
        yield path, label, "required field is missing"
    else:
        yield path, label, f"{type(exc).__name__}: {exc}"


def _error(problems: list[tuple[str, str, str]]) -> ResponseValidationError:
    path, label, problem = problems[0]
    message = f"{label}: {problem} (at {path})"
    if len(problems) > 1:
        shown = [p for p, _, _ in problems[1:4]]
        more = ", ..." if len(problems) > 4 else ""
        count = len(problems) - 1
        message += f"; {count} more problem{'s' if count > 1 else ''} at {', '.join(shown)}{more}"
    return ResponseValidationError(message, path=path)


def _one_error(path: str, label: str, problem: str) -> ResponseValidationError:
    return _error([(path, label, problem)])


_UNKNOWN_KEY: Final = "unknown key (strict decoding allows only the documented keys)"


# --------------------------------------------------------------------------------------------
# Hooks for the field types. Each takes (value, type) as cattrs calls them, returns the value
# when it fits (as is, without copying) and raises _Invalid otherwise.


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise _expected("a string", value)


def _structure_optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return _structure_str(value, _)


def _structure_int(value: Any, _: Any) -> int:
    # bool is an int subclass in Python but not a number in JSON: the type test rejects it.
    if type(value) is int:
        return value
    raise _expected("an integer", value)


def _structure_optional_int(value: Any, _: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    raise _expected("an integer or null", value)


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is bool:
        return value
    raise _expected("a boolean", value)


def _structure_optional_bool(value: Any, _: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise _expected("a boolean or null", value)


def _bad_timestamp(value: Any) -> _Invalid:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return _Invalid(f"not an ISO 8601 timestamp: {shown!r}")
    return _expected("an ISO 8601 timestamp string", value)


_fromisoformat = datetime.fromisoformat


def _structure_datetime(value: Any, _: Any) -> datetime:
    # The API sends UTC with a "Z" (fromisoformat reads it from Python 3.11 on). A timestamp
    # without an offset is taken as UTC; one with another offset keeps it.
    try:
        parsed = _fromisoformat(value)
    except (TypeError, ValueError):
        # RFC 3339 also allows a lower-case "z", which fromisoformat does not read.
        if not (isinstance(value, str) and value.endswith("z")):
            raise _bad_timestamp(value) from None
        try:
            parsed = _fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            raise _bad_timestamp(value) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def _structure_optional_datetime(value: Any, _: Any) -> datetime | None:
    if value is None:
        return None
    return _structure_datetime(value, _)


def _structure_str_list(value: Any, _: Any) -> list[str]:
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                break
        else:
            return value
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _expected("a string", item, f"[{index}]")
        return [str(item) for item in value]
    if value is None:
        return []
    raise _expected("an array of strings", value)


def _structure_optional_str_list(value: Any, _: Any) -> list[str] | None:
    if value is None:
        return None
    return _structure_str_list(value, _)


def _structure_str_map(value: Any, _: Any) -> dict[str, str]:
    if type(value) is dict:
        for item in value.values():
            if type(item) is not str:
                break
        else:
            return value
    elif value is None:
        return {}
    elif not isinstance(value, Mapping):
        raise _expected("an object of strings", value)
    for key, item in value.items():
        if not isinstance(item, str):
            # The step names the key only: these are headers, their values are credentials.
            raise _expected("a string", item, _key_step(key))
    return {str(k): str(v) for k, v in value.items()}


def _structure_object(value: Any, _: Any) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise _expected("an object", value)


def _structure_params(value: Any, _: Any) -> list[tuple[str, str]]:
    """``workflow_params``: ``[[placeholder, value], ...]`` as a list of pairs."""
    if value is None:
        return []
    if type(value) is not list:
        raise _expected("an array of [placeholder, value] pairs", value)
    pairs: list[tuple[str, str]] = []
    for index, pair in enumerate(value):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise _expected("a [placeholder, value] pair", pair, f"[{index}]")
        name, given = pair
        if not isinstance(name, str):
            raise _expected("a string", name, f"[{index}][0]")
        if not isinstance(given, str):
            raise _expected("a string", given, f"[{index}][1]")
        pairs.append((name, given))
    return pairs


# --------------------------------------------------------------------------------------------
# Lenient stats: every known key is checked on its own and a misfit is set aside, never raised.

_MISFIT: Final = object()


def _fit_str(value: Any) -> Any:
    return value if isinstance(value, str) else _MISFIT


def _fit_int(value: Any) -> Any:
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value) and value.is_integer():
        return int(value)
    return _MISFIT


def _fit_bool(value: Any) -> Any:
    return value if type(value) is bool else _MISFIT


def _fit_str_list(value: Any) -> Any:
    if type(value) is list and all(isinstance(item, str) for item in value):
        return value
    return _MISFIT


_FITS_BY_TYPE: Final[dict[Any, Callable[[Any], Any]]] = {
    str | None: _fit_str,
    int | None: _fit_int,
    bool | None: _fit_bool,
    list[str] | None: _fit_str_list,
}


def _field_fits(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    # Derived from the model so the two cannot drift apart; a field type without a rule fails
    # at import, not at a customer's.
    return {a.name: _FITS_BY_TYPE[a.type] for a in attrs.fields(cls) if a.name != "extra"}


_SYSTEM_FITS: Final = _field_fits(SystemInfo)
_DEVICE_FITS: Final = _field_fits(Device)


def _lenient_flat(cls: type[Any], fits: Mapping[str, Callable[[Any], Any]]) -> _Hook:
    def structure(data: Any, _: Any) -> Any:
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            fit = fits.get(key)
            if fit is None:
                extra[key] = value
            elif value is not None:
                fitted = fit(value)
                if fitted is _MISFIT:
                    extra[key] = value
                else:
                    values[key] = fitted
        return cls(**values, extra=extra)

    return structure


_lenient_system = _lenient_flat(SystemInfo, _SYSTEM_FITS)
_lenient_device = _lenient_flat(Device, _DEVICE_FITS)


def _lenient_stats(data: Any, _: Any) -> RunnerStats:
    if not isinstance(data, Mapping):
        return RunnerStats(extra={"$": data})
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if value is None and key in ("system", "devices", "dev_mode", "extensions"):
            continue
        if key == "system":
            if isinstance(value, Mapping):
                values[key] = _lenient_system(value, SystemInfo)
            else:
                extra[key] = value
        elif key == "devices":
            if isinstance(value, list):
                devices = [_lenient_device(d, Device) for d in value if isinstance(d, Mapping)]
                if len(devices) != len(value):
                    extra[key] = value
                values[key] = devices
            else:
                extra[key] = value
        elif key == "dev_mode":
            if type(value) is bool:
                values[key] = value
            else:
                extra[key] = value
        elif key == "extensions":
            if _fit_str_list(value) is _MISFIT:
                extra[key] = value
            else:
                values[key] = value
        else:
            extra[key] = value
    return RunnerStats(**values, extra=extra)


# --------------------------------------------------------------------------------------------
# Fast construction


def _bypass_refused(cls: type[Any]) -> bool:
    """Whether building ``cls`` without its ``__init__`` could skip something ``__init__`` does.

    False only for a slotted attrs class whose fields are all keyword-only, without validators,
    converters or ``takes_self`` factories, and which has no ``__attrs_pre_init__`` or
    ``__attrs_post_init__``: then ``__init__`` does nothing beyond storing values and defaults.
    """
    if (
        not attrs.has(cls)
        or "__slots__" not in vars(cls)
        or hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
    ):
        return True
    for a in attrs.fields(cls):
        default = a.default
        if (
            not a.init
            or not a.kw_only
            or a.validator is not None
            or a.converter is not None
            or not isinstance(getattr(cls, a.name, None), types.MemberDescriptorType)
            or not a.alias.isidentifier()
            or (isinstance(default, attrs.Factory) and default.takes_self)  # type: ignore[arg-type]
        ):
            return True
    return False


def _builder_class(cls: type[Any]) -> type[Any] | None:
    """A private subclass of ``cls`` whose instances generated code fills, then makes ``cls``.

    The subclass adds no slot and takes back ``object``'s ``__init__``, ``__setattr__`` and
    ``__delattr__``: a blank instance is made by a plain call, and each field is stored by a
    plain attribute store, which CPython specialises into a direct write to the model's slot
    (the frozen model's own ``__setattr__`` rules that out on the model). Assigning
    ``__class__`` then turns the filled instance into a ``cls``, indistinguishable from one
    made by ``__init__``. ``None`` when ``cls`` has its own ``__new__`` or ``__init_subclass__``,
    on a free-threaded build (where assigning ``__class__`` may stop every thread), or when
    this interpreter refuses the assignment (tried once, here).
    """
    if cls not in _builders:
        _builders[cls] = _make_builder_class(cls)
    return _builders[cls]


_builders: dict[type[Any], type[Any] | None] = {}


def _make_builder_class(cls: type[Any]) -> type[Any] | None:
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    for base in cls.__mro__:
        if base not in (object, Generic) and (
            "__new__" in vars(base) or "__init_subclass__" in vars(base)
        ):
            return None
    builder = type(
        f"_{cls.__name__}Builder",
        (cls,),
        {
            "__slots__": (),
            "__module__": __name__,
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    try:
        builder().__class__ = cls
    except TypeError:
        return None
    return builder


class _Assembly:
    """How generated code makes an instance of a model from values it holds in variables.

    attrs' ``__init__`` for a frozen slotted class sets each field through
    ``object.__setattr__``, once the largest single cost of decoding. Unless
    :func:`_bypass_refused`, the code made here skips it: it fills an instance of the
    :func:`_builder_class` and turns it into the model (about four times faster than
    ``__init__``), or, where there is no builder class, makes the instance with
    ``object.__new__`` and sets each slot through its member descriptor (about 1.5 times as
    fast). Otherwise it calls the class.

    ``tag`` prefixes the names the code uses, so that one generated function can build several
    models; :attr:`namespace` holds what those names refer to.
    """

    def __init__(self, cls: type[Any], tag: str) -> None:
        self.cls = cls
        self.tag = tag
        self.fields = attrs.fields(cls)
        self.namespace: dict[str, Any] = {f"_cls_{tag}": cls}
        self.bypass = not _bypass_refused(cls)
        self.builder = _builder_class(cls) if self.bypass else None
        if self.builder is not None:
            self.namespace[f"_builder_{tag}"] = self.builder
        elif self.bypass:
            self.namespace["_new"] = object.__new__
            for a in self.fields:
                self.namespace[f"_set_{tag}_{a.name}"] = getattr(cls, a.name).__set__

    def build(self, obj: str, values: Mapping[str, str]) -> list[str]:
        """Lines that leave in ``obj`` the model made of ``values`` (field name -> expression).

        Every field needs a value unless the class itself is called (no bypass).
        """
        tag = self.tag
        if not self.bypass:
            args = [f"{a.alias}={values[a.name]}" for a in self.fields if a.name in values]
            return [f"{obj} = _cls_{tag}({', '.join(args)})"]
        if self.builder is None:
            lines = [f"{obj} = _new(_cls_{tag})"]
            lines += [f"_set_{tag}_{a.name}({obj}, {values[a.name]})" for a in self.fields]
            return lines
        lines = [f"{obj} = _builder_{tag}()"]
        lines += [f"{obj}.{a.name} = {values[a.name]}" for a in self.fields]
        return [*lines, f"{obj}.__class__ = _cls_{tag}"]


def _compile(name: str, lines: list[str], namespace: dict[str, Any], what: str) -> Any:
    """Compile the generated function ``name`` from ``lines``; return it."""
    code = compile("\n".join(lines), f"<comfycontrol_async {what}>", "exec")
    exec(code, namespace)
    function = namespace[name]
    function.__qualname__ = name
    function.__module__ = __name__
    return function


def _fast_constructor(cls: type[Any]) -> Callable[..., Any] | None:
    """A keyword-only constructor for ``cls`` that skips its ``__init__`` (see :class:`_Assembly`).

    It applies the same defaults, so it builds an instance equal to the one ``__init__`` would,
    several times faster. Only decoding uses it; the models' ``__init__`` is untouched. Returns
    ``None`` (use the class itself) when :func:`_bypass_refused` says ``__init__`` may not be
    skipped.
    """
    if _bypass_refused(cls):
        return None
    asm = _Assembly(cls, "m")
    namespace: dict[str, Any] = {**asm.namespace, "_unset": attrs.NOTHING}
    params: list[str] = []
    values: dict[str, str] = {}
    for index, a in enumerate(asm.fields):
        arg = a.alias
        default = a.default
        if default is attrs.NOTHING:
            params.append(arg)
            values[a.name] = arg
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            params.append(f"{arg}=_unset")
            if default.factory is dict:
                made = "{}"
            elif default.factory is list:
                made = "[]"
            else:
                namespace[f"_factory{index}"] = default.factory
                made = f"_factory{index}()"
            values[a.name] = f"({made} if {arg} is _unset else {arg})"
        else:
            namespace[f"_default{index}"] = default
            params.append(f"{arg}=_default{index}")
            values[a.name] = arg
    name = f"build_{cls.__name__}"
    lines = [
        f"def {name}(*, {', '.join(params)}):",
        *_indent(asm.build("obj", values)),
        "    return obj",
    ]
    build = _compile(name, lines, namespace, f"constructor {cls.__qualname__}")
    return cast(Callable[..., Any], build)


# --------------------------------------------------------------------------------------------
# Generated fast structure functions
#
# Each model gets a structure function generated for it that makes no call per field: each
# field is read with one subscript (required) or ``get`` (optional), tested inline with
# ``type(x) is`` tests, and stored straight into the new instance (see _Assembly). Whether all
# the keys are known costs one ``len()``: the keys read and found are counted as they go, and
# only when some optional field is absent or null does it take a ``frozenset.issuperset``.
# Then ``extra`` is a new empty dict, and nothing else is built. What such a function does
# not take it hands on: those of the regular models, and of the stats in strict mode, raise
# _Refused and the decode functions ask the detailed twin; those of the lenient stats call the
# careful functions above themselves, and so never fail, even when cattrs' ``structure``
# calls them. Being stricter than the slow path is fine; accepting what it would reject, or
# building something else from what it accepts, is not.


class _Refused(ValueError):
    """The fast path does not take this payload; the slow path will decode it or say why not."""


# The inline test of each field type, as source lines: ``$v`` is the variable holding the value
# (rebound to the value to store where they differ), ``$x`` a free name, ``$bail`` the statement
# that leaves when the value does not fit, ``$none`` the statement run when the value is None
# (read as absent). Values are tested for their type before ``None``: in the usual payload
# they are there.
_CHECKS: Final[dict[Any, str]] = {
    str: "if type($v) is not str:\n    $bail",
    str | None: "if type($v) is not str:\n    if $v is not None:\n        $bail\n    $none",
    int: "if type($v) is not int:\n    $bail",
    int | None: "if type($v) is not int:\n    if $v is not None:\n        $bail\n    $none",
    bool: "if type($v) is not bool:\n    $bail",
    bool | None: "if type($v) is not bool:\n    if $v is not None:\n        $bail\n    $none",
    list[str]: (
        "if type($v) is list:\n"
        "    for $x in $v:\n"
        "        if type($x) is not str:\n"
        "            $bail\n"
        "elif $v is None:\n"
        "    $v = []\n"
        "    $none\n"
        "else:\n"
        "    $bail"
    ),
    list[str] | None: (
        "if type($v) is list:\n"
        "    for $x in $v:\n"
        "        if type($x) is not str:\n"
        "            $bail\n"
        "elif $v is None:\n"
        "    $none\n"
        "else:\n"
        "    $bail"
    ),
    dict[str, str]: (
        "if type($v) is dict:\n"
        "    for $x in $v.values():\n"
        "        if type($x) is not str:\n"
        "            $bail\n"
        "elif $v is None:\n"
        "    $v = {}\n"
        "    $none\n"
        "else:\n"
        "    $bail"
    ),
    dict[str, Any]: "if type($v) is not dict:\n    $bail",
    # _structure_datetime without its retry for a lower-case "z". What does not parse raises
    # here, instead of bailing out: these are only used where bailing out raises too.
    datetime: "$v = _fromiso($v)\nif $v.tzinfo is None:\n    $v = $v.replace(tzinfo=_UTC)",
    datetime | None: (
        "if $v is None:\n"
        "    $none\n"
        "else:\n"
        "    $v = _fromiso($v)\n"
        "    if $v.tzinfo is None:\n"
        "        $v = $v.replace(tzinfo=_UTC)"
    ),
}
_RAISING_CHECKS: Final = frozenset({datetime, datetime | None})

_BASE_NAMESPACE: Final[dict[str, Any]] = {
    "_Refused": _Refused,
    "_fromiso": _fromisoformat,
    "_UTC": UTC,
}


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return [("    " * depth) + line for line in lines]


def _check(tp: Any, value: str, bail: str, none: str = "pass") -> list[str]:
    """The lines that test ``value`` as a ``tp``; see _CHECKS."""
    template = string.Template(_CHECKS[tp])
    return template.substitute(v=value, x=f"{value}_item", bail=bail, none=none).split("\n")


def _extra(
    conv: _ModelConverter, data: str, var: str, tag: str, all_known: str, bail: str
) -> list[str]:
    """The lines that set ``var`` to the ``extra`` of ``data`` (strict: bail on unknown keys)."""
    lines = [f"if {all_known}:", f"    {var} = {{}}", "else:"]
    if conv.strict:
        return [*lines, f"    {bail}"]
    return [*lines, f"    {var} = {{k: w for k, w in {data}.items() if k not in _known_{tag}}}"]


def _raise_refused(label: str) -> str:
    return f"raise _Refused({label!r})"


def _flat_block(
    conv: _ModelConverter, asm: _Assembly, data: str, obj: str, bail: Callable[[str], str]
) -> list[str]:
    """The lines that decode the dict in ``data`` into a new instance of a flat model, ``obj``.

    ``bail(label)`` is the statement that leaves (``raise`` or ``return``) when the value of
    the field ``label`` names does not fit, or when strict decoding meets an unknown key.
    Required fields, timestamps and field types without an inline test (which go through the
    converter's own hook) can raise instead, so they are only allowed where bailing out raises.
    """
    cls, tag = asm.cls, asm.tag
    raising = bail("").startswith("raise ")
    fields = [a for a in asm.fields if a.name != "extra"]
    if len(fields) == len(asm.fields):
        raise TypeError(f"{cls.__name__} has no extra field")
    known = frozenset(a.name for a in fields)
    asm.namespace[f"_known_{tag}"] = known
    asm.namespace[f"_all_known_{tag}"] = known.issuperset
    # ``count`` (when some field is read with get) counts the keys known to be there: the
    # fields read with a subscript, and those read with get that are not None. When it equals
    # len(data), all of data's keys are known, without looking at them.
    count = f"{tag}_known_keys"
    lines = [f"{count} = {len(fields)}"]
    values: dict[str, str] = {}
    for index, a in enumerate(fields):
        label = f"{cls.__name__}.{a.name}"
        values[a.name] = value = f"{tag}{index}"
        absent = "pass"
        if a.default is attrs.NOTHING and raising:
            lines.append(f"{value} = {data}[{a.name!r}]")
        elif a.default is None:
            lines.append(f"{value} = {data}.get({a.name!r})")
            absent = f"{count} -= 1"
        else:
            raise TypeError(f"{label}: no fast decoding for this default here")
        if a.type in _CHECKS and (raising or a.type not in _RAISING_CHECKS):
            lines += _check(a.type, value, bail(label), absent)
        elif raising:
            asm.namespace[f"_hook_{value}"] = conv.get_structure_hook(a.type)
            asm.namespace[f"_type_{value}"] = a.type
            if absent != "pass":
                lines += [f"if {value} is None:", f"    {absent}"]
            lines.append(f"{value} = _hook_{value}({value}, _type_{value})")
        else:
            raise TypeError(f"{label}: no inline test for {a.type!r}")
    values["extra"] = f"{tag}_extra"
    if raising and all(a.default is attrs.NOTHING for a in fields):
        lines = lines[1:]  # no count needed: every field was there, by subscript
        all_known = f"len({data}) == {len(fields)}"
    else:
        all_known = f"len({data}) == {count} or _all_known_{tag}({data})"
    lines += _extra(conv, data, values["extra"], tag, all_known, bail(cls.__name__))
    return lines + asm.build(obj, values)


def _fast_flat_hook(conv: _ModelConverter, cls: type[Any], careful: _Hook | None) -> _Hook:
    """The fast structure function of a model that holds no other model.

    What it does not take it hands to ``careful`` (the lenient stats functions) or, without
    one, refuses by raising.
    """
    asm = _Assembly(cls, "f")

    def bail(label: str) -> str:
        return "return _careful(data, _)" if careful is not None else _raise_refused(label)

    block = _flat_block(conv, asm, "data", "obj", bail)
    name = f"structure_{cls.__name__}"
    lines = [
        f"def {name}(data, _=None):",
        "    if type(data) is not dict:",
        f"        {bail(cls.__name__)}",
        *_indent(block),
        "    return obj",
    ]
    namespace = {**_BASE_NAMESPACE, **asm.namespace, "_careful": careful}
    what = f"fast {'strict' if conv.strict else 'lenient'} {cls.__qualname__}"
    return cast(_Hook, _compile(name, lines, namespace, what))


def _fast_stats_hook(conv: _ModelConverter) -> _Hook:
    """The fast structure function of RunnerStats, with its system and devices decoded inline.

    Lenient: what it does not take, it hands whole to the careful :func:`_lenient_stats`.
    """
    types_ = {a.name: a.type for a in attrs.fields(RunnerStats)}
    expected = {
        "system": SystemInfo,
        "devices": list[Device],
        "dev_mode": bool | None,
        "extensions": list[str],
        "extra": Mapping[str, Any],
    }
    if types_ != expected:
        raise TypeError("RunnerStats changed: _fast_stats_hook must follow")
    strict = conv.strict
    stats, system, device = (
        _Assembly(RunnerStats, "r"),
        _Assembly(SystemInfo, "s"),
        _Assembly(Device, "d"),
    )

    def bail(label: str) -> str:
        return _raise_refused(label) if strict else "return _careful(data, _)"

    known = frozenset(types_) - {"extra"}
    absent = "known_keys -= 1"  # see _flat_block
    all_known = "len(data) == known_keys or _all_known_r(data)"
    empty_system = {a.name: "None" for a in system.fields if a.name != "extra"} | {"extra": "{}"}
    lines = [
        "def structure_RunnerStats(data, _=None):",
        "    if type(data) is not dict:",
        f"        {bail('RunnerStats')}",
        f"    known_keys = {len(known)}",
        '    raw_system = data.get("system")',
        "    if type(raw_system) is dict:",
        *_indent(_flat_block(conv, system, "raw_system", "system", bail), 2),
        # Absent, or (lenient only) null: an empty SystemInfo.
        '    elif raw_system is None and "system" not in data:'
        if strict
        else "    elif raw_system is None:",
        "        known_keys -= 1",
        *_indent(system.build("system", empty_system), 2),
        "    else:",
        f"        {bail('RunnerStats.system')}",
        '    devices = data.get("devices")',
        "    if type(devices) is list:",
        "        items = []",
        "        for raw_device in devices:",
        "            if type(raw_device) is not dict:",
        f"                {bail('RunnerStats.devices')}",
        *_indent(_flat_block(conv, device, "raw_device", "device", bail), 3),
        "            items.append(device)",
        "        devices = items",
        "    elif devices is None:",
        "        devices = []",
        "        known_keys -= 1",
        "    else:",
        f"        {bail('RunnerStats.devices')}",
        '    dev_mode = data.get("dev_mode")',
        *_indent(_check(bool | None, "dev_mode", bail("RunnerStats.dev_mode"), absent)),
        '    extensions = data.get("extensions")',
        *_indent(_check(list[str], "extensions", bail("RunnerStats.extensions"), absent)),
        *_indent(_extra(conv, "data", "extra", "r", all_known, bail("RunnerStats"))),
        *_indent(stats.build("obj", {name: name for name in types_})),
        "    return obj",
    ]
    namespace = {
        **_BASE_NAMESPACE,
        **stats.namespace,
        **system.namespace,
        **device.namespace,
        "_known_r": known,
        "_all_known_r": known.issuperset,
        "_careful": None if strict else _lenient_stats,
    }
    what = f"fast {'strict' if strict else 'lenient'} RunnerStats"
    return cast(_Hook, _compile("structure_RunnerStats", lines, namespace, what))


# --------------------------------------------------------------------------------------------
# The converters


class _ModelConverter(cattrs.Converter):
    """A cattrs converter that knows every model.

    ``model_hooks`` maps each model class to its structure function, so the decode functions
    call it directly rather than through cattrs' dispatch. The converter :func:`make_converter`
    returns is a fast one; its ``detailed_twin`` is a second converter, of the same strictness,
    whose functions handle every valid payload and explain every invalid one.
    """

    __slots__ = ("detailed_twin", "model_hooks", "strict")

    def __init__(self, *, strict: bool, detailed: bool) -> None:
        super().__init__(detailed_validation=detailed, forbid_extra_keys=strict)
        self.strict = strict
        self.model_hooks: dict[type[Any], _Hook] = {}
        self.detailed_twin: _ModelConverter | None = None


def _detailed_model_hook(conv: _ModelConverter, cls: type[Any]) -> _Hook:
    """The thorough structure function of ``cls``, built with cattrs' detailed validation."""
    base = cast(
        _Hook,
        make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=False,
            _cattrs_detailed_validation=True,
            extra=override(omit=True),
        ),
    )
    known = frozenset(a.name for a in attrs.fields(cls) if a.name != "extra")
    fits = known.issuperset
    strict = conv.strict
    set_field = object.__setattr__

    def structure(data: Any, _: Any) -> Any:
        # Without this test a model whose fields are all optional would take a string or a
        # list for an object (``"os" in "posix"`` is a substring test).
        if not isinstance(data, Mapping):
            raise _expected("an object", data)
        unknown = [] if fits(data) else [k for k in data if k not in known]
        rejected = [_Invalid(_UNKNOWN_KEY, _key_step(k)) for k in unknown] if strict else []
        try:
            obj = base(data, cls)
        except ClassValidationError as exc:
            if rejected:
                raise ClassValidationError(exc.message, [*exc.exceptions, *rejected], cls) from None
            raise
        if rejected:
            raise ClassValidationError(f"While structuring {cls.__name__}", rejected, cls)
        if unknown:
            set_field(obj, "extra", {k: data[k] for k in unknown})
        return obj

    return structure


def _model_list_hook(elem_hook: _Hook, elem: type[Any], *, detailed: bool) -> _Hook:
    """Structure function for a ``list[<model>]`` field (``RunnerStats.devices``)."""

    def structure(value: Any, _: Any) -> list[Any]:
        if value is None:
            return []
        if type(value) is not list:
            raise _expected("an array", value)
        if not detailed:
            return [elem_hook(item, elem) for item in value]
        out: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                out.append(elem_hook(item, elem))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring list @ index {index}", index, elem)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring list[{elem.__name__}]", errors, list)
        return out

    return structure


def _register_exact(conv: cattrs.Converter, tp: Any, hook: _Hook) -> None:
    conv.register_structure_hook_func(lambda t: t == tp, hook)


def _configure(conv: _ModelConverter, *, detailed: bool) -> None:
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _structure_datetime)
    _register_exact(conv, str | None, _structure_optional_str)
    _register_exact(conv, int | None, _structure_optional_int)
    _register_exact(conv, bool | None, _structure_optional_bool)
    _register_exact(conv, datetime | None, _structure_optional_datetime)
    _register_exact(conv, list[str], _structure_str_list)
    _register_exact(conv, list[str] | None, _structure_optional_str_list)
    _register_exact(conv, dict[str, str], _structure_str_map)
    _register_exact(conv, dict[str, Any], _structure_object)
    _register_exact(conv, list[tuple[str, str]], _structure_params)

    def register(cls: type[Any], hook: _Hook) -> None:
        conv.register_structure_hook(cls, hook)
        conv.model_hooks[cls] = hook

    strict = conv.strict
    if detailed:
        if strict:
            register(SystemInfo, _detailed_model_hook(conv, SystemInfo))
            register(Device, _detailed_model_hook(conv, Device))
            devices = _model_list_hook(conv.model_hooks[Device], Device, detailed=True)
            _register_exact(conv, list[Device], devices)
            register(RunnerStats, _detailed_model_hook(conv, RunnerStats))
        else:
            register(SystemInfo, _lenient_system)
            register(Device, _lenient_device)
            register(RunnerStats, _lenient_stats)
        for cls in _MODELS:
            register(cls, _detailed_model_hook(conv, cls))
        return
    register(SystemInfo, _fast_flat_hook(conv, SystemInfo, None if strict else _lenient_system))
    register(Device, _fast_flat_hook(conv, Device, None if strict else _lenient_device))
    if strict:
        devices = _model_list_hook(conv.model_hooks[Device], Device, detailed=False)
        _register_exact(conv, list[Device], devices)
    register(RunnerStats, _fast_stats_hook(conv))
    for cls in _MODELS:
        register(cls, _fast_flat_hook(conv, cls, None))


def make_converter(*, strict: bool = False) -> cattrs.Converter:
    """Build a new private converter for the models.

    Args:
        strict: Raise on keys the models do not know (and check stats like any other model)
            instead of keeping them in ``extra``. The test suite decodes strictly so that drift
            from the documented API fails CI.

    Returns:
        A ``cattrs.Converter`` to pass as ``converter=`` to :func:`decode`,
        :func:`decode_list` and :func:`decode_page`. Use it through those functions: its own
        ``structure`` method takes the fast path only, which refuses anything unusual (a value
        of the wrong type, an unknown key when strict) by raising Python's or cattrs' errors
        instead of ``ResponseValidationError`` (lenient stats excepted: they never fail).
    """
    fast = _ModelConverter(strict=strict, detailed=False)
    _configure(fast, detailed=False)
    twin = _ModelConverter(strict=strict, detailed=True)
    _configure(twin, detailed=True)
    fast.detailed_twin = twin
    return fast


# --------------------------------------------------------------------------------------------
# The process default


def _env_strict() -> bool:
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() in _TRUTHY


_strict_default: bool = _env_strict()
_defaults: dict[bool, cattrs.Converter] = {}
# _defaults[_strict_default] once built, and its model hooks, for decode(). One tuple, so that
# a thread switching modes cannot leave the two out of step.
_current: tuple[cattrs.Converter | None, Mapping[type[Any], _Hook]] = (None, {})


def get_converter() -> cattrs.Converter:
    """The converter decoding uses when none is passed: lenient unless switched to strict.

    Returns:
        The process-wide converter of the current mode (built on first use, then reused).
    """
    strict = _strict_default
    conv = _defaults.get(strict)
    if conv is None:
        conv = _defaults[strict] = make_converter(strict=strict)
    _set_current(conv)
    return conv


def _set_current(conv: cattrs.Converter | None) -> None:
    global _current
    _current = (conv, conv.model_hooks if isinstance(conv, _ModelConverter) else {})


def set_strict(enabled: bool) -> None:
    """Make the default converter strict (``True``) or lenient (``False``).

    Args:
        enabled: Whether unknown keys should raise instead of landing in ``extra``.
    """
    global _strict_default
    _strict_default = bool(enabled)
    _set_current(_defaults.get(_strict_default))


def is_strict() -> bool:
    """Whether the default converter is currently strict."""
    return _strict_default


# --------------------------------------------------------------------------------------------
# Decoding


def _hook_for(conv: cattrs.Converter, cls: type[Any]) -> _Hook:
    if isinstance(conv, _ModelConverter):
        hook = conv.model_hooks.get(cls)
        if hook is not None:
            return hook
    return conv.structure


def _slow_decode(conv: cattrs.Converter, data: Any, cls: type[T], exc: Exception, path: str) -> T:
    """Decode what the fast path refused, with the detailed twin, or raise saying why not.

    Args:
        conv: The converter whose fast path raised ``exc``.
        data: The payload (or the list item) at ``path``.
        cls: The model expected there.
        exc: What the fast path raised.
        path: Where ``data`` sits in the answer (``$``, ``$.runners[3]``).
    """
    label = getattr(cls, "__name__", repr(cls))
    fallback = [(path, label, f"{type(exc).__name__}: {exc}")]
    twin = conv.detailed_twin if isinstance(conv, _ModelConverter) else None
    if twin is None:  # a converter not made here: explain its own error as well as we can
        raise _error(list(_problems(exc, path, label)) or fallback) from None
    try:
        return cast(T, _hook_for(twin, cls)(data, cls))
    except StructureHandlerNotFoundError:
        raise
    except Exception as detailed:
        raise _error(list(_problems(detailed, path, label)) or fallback) from None


def decode(data: Any, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """Decode one JSON object into a model.

    Args:
        data: The parsed JSON (``dict``, as ``json.loads`` returns it).
        cls: The model class, e.g. ``Runner``.
        converter: A converter from :func:`make_converter`; the default one when omitted.

    Returns:
        The model instance.

    Raises:
        ResponseValidationError: ``data`` does not fit ``cls``; ``path`` says where.
    """
    # _hook_for(conv, cls), spelled out for the default converter: this runs for every answer.
    default, default_hooks = _current
    conv = default if converter is None else converter
    hook = default_hooks.get(cls) if conv is default else None
    if hook is None or conv is None:
        if conv is None:
            conv = get_converter()
        hook = _hook_for(conv, cls)
    try:
        result: T = hook(data, cls)
    except StructureHandlerNotFoundError:
        raise  # ``cls`` is not a model: a bug in the caller, not in the answer
    except Exception as exc:
        return _slow_decode(conv, data, cls, exc, "$")
    return result


def _decode_items(conv: cattrs.Converter, raw: list[Any], cls: type[T], key: str | None) -> list[T]:
    """Decode the items of a list found at ``$`` (``key`` None) or at ``$.<key>``."""
    hook = _hook_for(conv, cls)
    try:
        return [hook(item, cls) for item in raw]
    except StructureHandlerNotFoundError:
        raise
    except Exception:
        pass
    # Some item needs the slow path: go again item by item.
    path = "$" if key is None else "$" + _key_step(key)
    out: list[T] = []
    for index, item in enumerate(raw):
        try:
            out.append(hook(item, cls))
        except Exception as exc:
            out.append(_slow_decode(conv, item, cls, exc, f"{path}[{index}]"))
    return out


def decode_list(data: Any, cls: type[T], *, converter: cattrs.Converter | None = None) -> list[T]:
    """Decode a bare JSON array of objects (runner history, workflow outputs).

    ``null`` is read as an empty list.

    Args:
        data: The parsed JSON array.
        cls: The model class of the items.
        converter: A converter from :func:`make_converter`; the default one when omitted.

    Returns:
        The decoded items, in order.

    Raises:
        ResponseValidationError: ``data`` is not an array, or an item does not fit ``cls``;
            ``path`` says where (``$[2].started_at``).
    """
    conv = get_converter() if converter is None else converter
    if type(data) is not list:
        if data is None:
            return []
        name = getattr(cls, "__name__", "item")
        raise _one_error("$", f"list[{name}]", f"expected an array, got {_json_kind(data)}")
    return _decode_items(conv, data, cls, None)


# Pages are built often enough (every page of every walk) to use the fast constructor too.
_build_page: Callable[..., Page[Any]] = _fast_constructor(Page) or Page


def _envelope_error(data: Any, key: str, cls: type[Any]) -> ResponseValidationError:
    """Say what is wrong with a page envelope that failed the quick checks of decode_page."""
    label = f"Page[{getattr(cls, '__name__', 'item')}]"
    if not isinstance(data, Mapping):
        return _one_error("$", label, f"expected an object, got {_json_kind(data)}")
    step = _key_step(key)
    if key not in data:
        return _one_error("$" + step, label + step, "required field is missing")
    items = data[key]
    if items is not None and type(items) is not list:
        return _one_error("$" + step, label + step, f"expected an array, got {_json_kind(items)}")
    if "total" not in data:
        return _one_error("$.total", label + ".total", "required field is missing")
    total = data["total"]
    if type(total) is not int:
        problem = f"expected an integer, got {_json_kind(total)}"
        return _one_error("$.total", label + ".total", problem)
    if total < 0:
        return _one_error("$.total", label + ".total", f"must not be negative, got {total}")
    unknown = [k for k in data if k != key and k != "total"]
    return _error([("$" + _key_step(k), label + _key_step(k), _UNKNOWN_KEY) for k in unknown])


def decode_page(
    data: Any,
    *,
    key: str,
    cls: type[T],
    page: int,
    per_page: int,
    converter: cattrs.Converter | None = None,
) -> Page[T]:
    """Decode one page of a list endpoint: ``{"<key>": [...], "total": N}``.

    ``null`` for the list is read as an empty list. Other keys of the envelope go to
    ``Page.extra`` (lenient) or raise (strict).

    Args:
        data: The parsed JSON object.
        key: The name of the list in it (``runners``, ``templates``, ``workflows``).
        cls: The model class of the items.
        page: The page number the request asked for.
        per_page: The page size the request asked for.
        converter: A converter from :func:`make_converter`; the default one when omitted.

    Returns:
        The page.

    Raises:
        ResponseValidationError: The envelope is not an object, the list or ``total`` is
            missing or of the wrong type, ``total`` is negative, or an item does not fit
            ``cls``; ``path`` says where (``$.runners[3].created_at``).
    """
    conv = get_converter() if converter is None else converter
    if type(data) is not dict and not isinstance(data, Mapping):
        raise _envelope_error(data, key, cls)
    raw = data.get(key)
    total = data.get("total")
    if raw is None and key in data:
        raw = []  # a Go service writes an empty slice as null
    if type(raw) is not list or type(total) is not int or total < 0:
        raise _envelope_error(data, key, cls)
    extra: dict[str, Any] = {}
    if len(data) > 2:
        if getattr(conv, "strict", False):
            raise _envelope_error(data, key, cls)
        extra = {k: v for k, v in data.items() if k != key and k != "total"}
    items = _decode_items(conv, raw, cls, key)
    return _build_page(items=items, total=total, page=page, per_page=per_page, extra=extra)

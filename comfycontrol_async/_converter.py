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

**Speed.** Decoding takes an optimistic fast path first. Each model is structured by a
function cattrs generates for it (no per-call dispatch), built on the assumption that every
field is present (the API sends optional fields as ``null``), and handed a constructor that
fills the frozen model's slots directly instead of going through attrs' ``__init__``. Scalars
are checked with a type test; lists of strings and string maps are taken as they are once
checked; timestamps go through :meth:`datetime.fromisoformat`; the ``extra`` split costs one
``len()`` when the payload has no unknown keys. Whatever the fast path refuses (an absent
optional key, a bad value, an unknown key in strict mode) is decoded again by twin functions
generated with cattrs' detailed validation: they accept every valid payload and, for an
invalid one, say exactly where and why.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, cast

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
    StructureHandlerNotFoundError,
)
from cattrs.gen import make_dict_structure_fn, make_dict_structure_fn_from_attrs, override

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

# Models decoded by generated functions in both modes (the stats models are handled apart:
# generated functions when strict, tolerant hand-written ones when lenient).
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


def _fast_constructor(cls: type[Any]) -> Callable[..., Any] | None:
    """A keyword-only constructor for ``cls`` that fills its slots directly.

    attrs' ``__init__`` for a frozen slotted class sets each field through
    ``object.__setattr__``: that is the largest single cost of decoding (a third of it for a
    Runner). The function made here sets each slot through its member descriptor instead and
    applies the same defaults, so it builds an instance equal to the one ``__init__`` would, in
    about half the time. Only decoding uses it; the models' ``__init__`` is untouched.

    Returns ``None`` (use the class itself) unless ``cls`` is a slotted attrs class whose fields
    are all keyword-only, without validators, converters or ``takes_self`` factories, and which
    has no ``__attrs_pre_init__``/``__attrs_post_init__``: nothing ``__init__`` does beyond
    storing values may be skipped.
    """
    if (
        "__slots__" not in vars(cls)
        or hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
    ):
        return None
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_unset": attrs.NOTHING}
    params: list[str] = []
    body: list[str] = []
    for index, a in enumerate(attrs.fields(cls)):
        slot = getattr(cls, a.name, None)
        if (
            not a.init
            or not a.kw_only
            or a.validator is not None
            or a.converter is not None
            or not isinstance(slot, types.MemberDescriptorType)
            or not a.alias.isidentifier()
        ):
            return None
        arg, setter = a.alias, f"_set{index}"
        namespace[setter] = slot.__set__
        default = a.default
        if default is attrs.NOTHING:
            params.append(arg)
            value = arg
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            if default.takes_self:
                return None
            params.append(f"{arg}=_unset")
            if default.factory is dict:
                made = "{}"
            elif default.factory is list:
                made = "[]"
            else:
                namespace[f"_factory{index}"] = default.factory
                made = f"_factory{index}()"
            value = f"{made} if {arg} is _unset else {arg}"
        else:
            namespace[f"_default{index}"] = default
            params.append(f"{arg}=_default{index}")
            value = arg
        body.append(f"    {setter}(obj, {value})")
    name = f"build_{cls.__name__}"
    lines = [
        f"def {name}(*, {', '.join(params)}):",
        "    obj = _new(_cls)",
        *body,
        "    return obj",
    ]
    code = compile("\n".join(lines), f"<comfycontrol_async constructor {cls.__qualname__}>", "exec")
    exec(code, namespace)
    build = namespace[name]
    build.__qualname__ = name
    build.__module__ = __name__
    return cast(Callable[..., Any], build)


# --------------------------------------------------------------------------------------------
# Structure functions for the models


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


def _fast_model_hook(conv: _ModelConverter, cls: type[Any]) -> _Hook:
    """The optimistic structure function of ``cls``: right for the common payload, else raises.

    It treats every field as present (the API sends optional fields as ``null``), so cattrs'
    generated function needs no per-field presence test and unknown keys show as a longer
    ``len(data)``. Anything else (an absent optional key, an unknown key in strict mode, a bad
    value) raises, and the caller hands the payload to the detailed twin, which decodes it
    correctly or explains why not. Being stricter than the twin is fine; accepting what it
    would reject is not.
    """
    fields = attrs.fields(cls)
    present = [a if a.name == "extra" else a.evolve(default=attrs.NOTHING) for a in fields]
    base = cast(
        _Hook,
        make_dict_structure_fn_from_attrs(
            present,
            # cattrs calls ``cl`` to build the instance and reads its name; any callable works.
            cast(type[Any], _fast_constructor(cls) or cls),
            conv,
            _cattrs_forbid_extra_keys=False,
            _cattrs_detailed_validation=False,
            extra=override(omit=True),
        ),
    )
    known = frozenset(a.name for a in fields if a.name != "extra")
    count = len(known)
    strict = conv.strict
    set_field = object.__setattr__  # the models are frozen; their own __init__ sets this way

    def structure(data: Any, _: Any) -> Any:
        obj = base(data, cls)
        if len(data) == count:
            return obj
        if strict:
            raise _Invalid("unknown keys")  # the twin says which, and where
        set_field(obj, "extra", {k: v for k, v in data.items() if k not in known})
        return obj

    return structure


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
    make_hook = _detailed_model_hook if detailed else _fast_model_hook

    def register(cls: type[Any], hook: _Hook) -> None:
        conv.register_structure_hook(cls, hook)
        conv.model_hooks[cls] = hook

    if conv.strict:
        register(SystemInfo, make_hook(conv, SystemInfo))
        register(Device, make_hook(conv, Device))
        devices = _model_list_hook(conv.model_hooks[Device], Device, detailed=detailed)
        _register_exact(conv, list[Device], devices)
        register(RunnerStats, make_hook(conv, RunnerStats))
    else:
        register(SystemInfo, _lenient_system)
        register(Device, _lenient_device)
        register(RunnerStats, _lenient_stats)
    for cls in _MODELS:
        register(cls, make_hook(conv, cls))


def make_converter(*, strict: bool = False) -> cattrs.Converter:
    """Build a new private converter for the models.

    Args:
        strict: Raise on keys the models do not know (and check stats like any other model)
            instead of keeping them in ``extra``. The test suite decodes strictly so that drift
            from the documented API fails CI.

    Returns:
        A ``cattrs.Converter`` to pass as ``converter=`` to :func:`decode`,
        :func:`decode_list` and :func:`decode_page`. Use it through those functions: its own
        ``structure`` method takes the fast path only, which rejects payloads that leave out
        optional keys and raises cattrs' and Python's errors instead of
        ``ResponseValidationError``.
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


def get_converter() -> cattrs.Converter:
    """The converter decoding uses when none is passed: lenient unless switched to strict.

    Returns:
        The process-wide converter of the current mode (built on first use, then reused).
    """
    strict = _strict_default
    conv = _defaults.get(strict)
    if conv is None:
        conv = _defaults[strict] = make_converter(strict=strict)
    return conv


def set_strict(enabled: bool) -> None:
    """Make the default converter strict (``True``) or lenient (``False``).

    Args:
        enabled: Whether unknown keys should raise instead of landing in ``extra``.
    """
    global _strict_default
    _strict_default = bool(enabled)


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
    conv = get_converter() if converter is None else converter
    hook = _hook_for(conv, cls)
    try:
        return cast(T, hook(data, cls))
    except StructureHandlerNotFoundError:
        raise  # ``cls`` is not a model: a bug in the caller, not in the answer
    except Exception as exc:
        return _slow_decode(conv, data, cls, exc, "$")


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

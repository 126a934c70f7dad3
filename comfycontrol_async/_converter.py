"""Parsed JSON to models: a cattrs converter (a few hooks, then cattrs' generated functions) and
the decode functions, raising ResponseValidationError with a ``path`` (``$.runners[3].created_at``)
and the value's JSON type, never its content. Lenient decoding keeps unknown keys in ``extra``,
strict (the tests') raises; both read ``null`` as an empty list or headers. Lenient stats never
fail (SPEC): a missing, ``null`` or wrong value takes the default (a wrong one kept in ``extra``),
``8.0e9`` reads as an integer, non-object devices are dropped (all kept in ``extra["devices"]``),
a non-object answer decodes as ``RunnerStats(extra={"$": answer})``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn

from ._exceptions import ResponseValidationError
from .models import Device, Page, RunnerStats, SystemInfo

T = TypeVar("T")
_Hook = Callable[[Any, Any], Any]
_Conv = cattrs.Converter | None
_UNKNOWN_KEY: Final = "unknown key (strict decoding allows only the documented keys)"
_KINDS: Final = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
_KINDS.update({list: "an array", dict: "an object", type(None): "null"})


class _Invalid(ValueError):
    """A value did not fit: ``args`` are the problem and the path below the field (``[2]``)."""


def _expected(what: str, value: Any, subpath: str = "") -> _Invalid:
    # The value's JSON type, never its content: it may be a credential.
    kind = _KINDS.get(type(value), f"a Python {type(value).__name__}")
    return _Invalid(f"expected {what}, got {kind}", subpath)


def _step(key: object) -> str:
    """The JSONPath step to a member: ``.name``, or ``['odd key']`` when it is no identifier."""
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    return "['" + str(key).replace("\\", "\\\\").replace("'", "\\'") + "']"


def _problems(exc: BaseException, data: Any, path: str, label: str) -> Iterator[tuple[str, ...]]:
    """``(path, label, problem)`` for each leaf of a cattrs error raised decoding ``data``."""
    if isinstance(exc, cattrs.ClassValidationError):
        fields, others = exc.group_exceptions()
        for sub, field in fields:
            step = _step(field.name)
            yield from _problems(sub, data.get(field.name), path + step, exc.cl.__name__ + step)
        for sub in others:  # unknown keys (strict), or the class's own __init__ refusing
            yield from _problems(sub, data, path, exc.cl.__name__)
    elif isinstance(exc, cattrs.IterableValidationError):  # a list of models: label the model
        items, others = exc.group_exceptions()
        for sub, item in items:
            yield from _problems(sub, data[item.index], f"{path}[{item.index}]", item.type.__name__)
        for sub in others:
            yield from _problems(sub, data, path, label)
    elif isinstance(exc, cattrs.ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields, key=list(data).index):  # in the answer's order
            yield path + _step(key), label + _step(key), _UNKNOWN_KEY
    elif isinstance(exc, _Invalid):
        problem, subpath = exc.args
        yield path + subpath, label + subpath, problem
    elif isinstance(exc, KeyError):  # cattrs' generated code reading a required key
        yield path, label, "required field is missing"
    else:
        yield path, label, f"{type(exc).__name__}: {exc}"


def _error(problems: list[tuple[str, ...]]) -> ResponseValidationError:
    path, label, problem = problems[0]
    message = f"{label}: {problem} (at {path})"
    if len(problems) > 1:
        shown = ", ".join(p for p, _, _ in problems[1:4]) + (", ..." if len(problems) > 4 else "")
        count = len(problems) - 1
        message += f"; {count} more problem{'s' if count > 1 else ''} at {shown}"
    return ResponseValidationError(message, path=path)


# The field types' hooks: each returns the value when it fits (as is, no copy), else raises.
def _exact(kind: type[Any], what: str, *, nullable: bool = False, whole: bool = False) -> _Hook:
    def structure(value: Any, _: Any) -> Any:
        if type(value) is kind or (nullable and value is None):  # JSON's true is no integer
            return value
        if whole and type(value) is float and math.isfinite(value) and value.is_integer():
            return int(value)  # lenient stats only: 8.0e9 reads as 8000000000
        raise _expected(what, value)

    return structure


def _timestamp(value: Any, _: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        if not isinstance(value, str):
            raise _expected("an ISO 8601 timestamp string", value) from None
        try:  # fromisoformat reads no lower-case "z" (RFC 3339 allows it)
            parsed = datetime.fromisoformat(value[:-1] + "Z" if value[-1:] == "z" else value)
        except ValueError:
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise _Invalid(f"not an ISO 8601 timestamp: {shown!r}", "") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)  # no offset: UTC


def _str_list(value: Any, _: Any) -> Any:
    if type(value) is list:
        for item in value:
            if type(item) is not str:  # index(): no string equals a value of another type
                raise _expected("a string", item, f"[{value.index(item)}]")
        return value
    if value is None:
        return []
    raise _expected("an array of strings", value)


def _str_dict(value: Any, _: Any) -> Any:
    if type(value) is dict:
        for key, item in value.items():
            if type(item) is not str:  # the path names a key, never a value: headers are secrets
                raise _expected("a string", item, _step(key))
        return value
    if value is None:
        return {}
    raise _expected("an object of strings", value)


def _params(value: Any, _: Any) -> list[tuple[str, str]]:
    """``workflow_params``: ``[[placeholder, value], ...]`` as a list of pairs."""
    if value is None:
        return []
    if type(value) is not list:
        raise _expected("an array of [placeholder, value] pairs", value)
    for index, pair in enumerate(value):
        if type(pair) is not list or len(pair) != 2:
            raise _expected("a [placeholder, value] pair", pair, f"[{index}]")
        for place, item in enumerate(pair):
            if type(item) is not str:
                raise _expected("a string", item, f"[{index}][{place}]")
    return [(name, given) for name, given in value]


_HOOKS: Final[dict[Any, _Hook]] = {
    str: _exact(str, "a string"),
    int: _exact(int, "an integer"),
    bool: _exact(bool, "a boolean"),
    datetime: _timestamp,
    str | None: _exact(str, "a string", nullable=True),
    int | None: _exact(int, "an integer or null", nullable=True),
    bool | None: _exact(bool, "a boolean or null", nullable=True),
    list[str]: _str_list,
    dict[str, str]: _str_dict,
    dict[str, Any]: _exact(dict, "an object"),
    list[tuple[str, str]]: _params,
}
_WHOLE: Final = _exact(int, "an integer or null", nullable=True, whole=True)  # lenient stats' ints


def _model_list(tp: Any, conv: cattrs.Converter) -> _Hook:
    structure_list = list_structure_factory(tp, conv)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is list:
            return structure_list(value, tp)
        if value is None:
            return []
        raise _expected("an array", value)  # cattrs takes any iterable: a string, a dict's keys

    return structure


def _model(cls: type[Any], conv: cattrs.Converter) -> _Hook:
    """cattrs' generated function for ``cls``, keeping unknown keys in ``extra`` when lenient."""
    strict = conv.forbid_extra_keys
    forgiving = cls in (RunnerStats, SystemInfo, Device) and not strict  # the lenient stats
    fields = [a for a in attrs.fields(cls) if a.name != "extra"]
    overrides: dict[str, Any] = {"extra": cattrs.override(omit=True)}
    if forgiving:
        whole = cattrs.override(struct_hook=_WHOLE)
        overrides |= {a.name: whole for a in fields if a.type == int | None}
    base = make_dict_structure_fn(cls, conv, **overrides)
    known = frozenset(a.name for a in fields)

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):  # a JSON object; else all-optional models take strings
            raise _expected("an object", data)
        unfit: set[str] = set()
        try:
            obj = base(data, cls)
        except cattrs.ClassValidationError as exc:
            if not forgiving:
                raise
            # Set the fields that did not fit aside and decode the rest again: it cannot fail.
            unfit = {field.name for _, field in exc.group_exceptions()[0]}
            obj = base({k: v for k, v in data.items() if k not in unfit}, cls)
        if strict or (not unfit and known.issuperset(data)):
            return obj
        extra = {k: v for k, v in data.items() if k not in known or (k in unfit and v is not None)}
        return attrs.evolve(obj, extra=extra) if extra else obj

    if not (forgiving and cls is RunnerStats):
        return structure

    def structure_stats(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            return RunnerStats(extra={"$": data})
        devices = data.get("devices")
        if type(devices) is not list or all(isinstance(d, dict) for d in devices):
            return structure(data, cls)
        stats = structure({**data, "devices": [d for d in devices if isinstance(d, dict)]}, cls)
        extra = {k: v for k, v in data.items() if k == "devices" or k in stats.extra}
        return attrs.evolve(stats, extra=extra)  # in the answer's order, as everywhere

    return structure_stats


def make_converter(strict: bool = False) -> cattrs.Converter:
    """A converter for the decode functions; ``strict`` raises on unknown keys."""
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=strict)
    for kind in (str, int, bool, datetime):
        conv.register_structure_hook(kind, _HOOKS[kind])
    conv.register_structure_hook_factory(lambda tp: tp in _HOOKS, lambda tp: _HOOKS[tp])
    conv.register_structure_hook_factory(
        lambda tp: getattr(tp, "__origin__", None) is list and attrs.has(tp.__args__[0]),
        _model_list,
    )
    conv.register_structure_hook_factory(attrs.has, _model)
    return conv


# The decode functions' default: lenient (the tests' conftest swaps in a strict one).
CONVERTER: cattrs.Converter = make_converter()


def _structure(conv: _Conv, data: Any, tp: Any, path: str, label: str) -> Any:
    hook = (conv or CONVERTER).get_structure_hook(tp)
    try:
        return hook(data, tp)
    except cattrs.StructureHandlerNotFoundError:
        raise  # not a model: a bug in the caller, not in the answer
    except Exception as exc:
        raise _error(list(_problems(exc, data, path, label))) from None


def decode(data: Any, cls: type[T], *, converter: _Conv = None) -> T:
    """Decode one JSON object into the model ``cls``; raise ResponseValidationError if unfit."""
    return _structure(converter, data, cls, "$", cls.__name__)  # type: ignore[no-any-return]


def decode_list(data: Any, cls: type[T], *, converter: _Conv = None) -> list[T]:
    """Decode a bare JSON array of ``cls`` objects (history, outputs); ``null`` reads as empty."""
    return _structure(converter, data, list[cls], "$", f"list[{cls.__name__}]")  # type: ignore[no-any-return,valid-type]


def decode_page(
    data: Any, *, key: str, cls: type[T], page: int, per_page: int, converter: _Conv = None
) -> Page[T]:
    """Decode one page, ``{"<key>": [...], "total": N}``: a ``null`` list reads as empty, other
    keys go to ``Page.extra`` (lenient) or raise ResponseValidationError, like any problem."""
    label, step = f"Page[{cls.__name__}]", _step(key)
    try:
        if not isinstance(data, dict):
            raise _expected("an object", data)
        for name in (key, "total"):
            if name not in data:
                raise _Invalid("required field is missing", _step(name))
        total = data["total"]
        if type(total) is not int:
            raise _expected("an integer", total, ".total")
        if total < 0:
            raise _Invalid(f"must not be negative, got {total}", ".total")
    except _Invalid as exc:
        raise _error(list(_problems(exc, data, "$", label))) from None
    extra = {k: v for k, v in data.items() if k != key and k != "total"}
    if extra and (converter or CONVERTER).forbid_extra_keys:
        raise _error([("$" + _step(k), label + _step(k), _UNKNOWN_KEY) for k in extra])
    items = _structure(converter, data[key], list[cls], "$" + step, label + step)  # type: ignore[valid-type]
    return Page(items=items, total=total, page=page, per_page=per_page, extra=extra)

"""Multipart parts from what a user hands us (a dict, a path, bytes), checked before anything is
sent: JSON bodies must be objects, a request at most 50 MB (API docs, "Conventions")."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
Part = tuple[str, tuple[str, bytes, str]]
FormFields = tuple[tuple[str, str | tuple[str, bytes, str]], ...]
JsonSource = Mapping[str, Any] | str | os.PathLike[str] | bytes


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{what} is a directory: {path}") from None


def load_json_object(source: JsonSource, what: str) -> tuple[dict[str, Any], bytes, str]:
    """The JSON object of a mapping, a path or bytes, its bytes as sent, and a part filename."""
    match source:
        case Mapping():
            obj = dict(source)
            try:
                return obj, json.dumps(obj, ensure_ascii=False).encode(), f"{what}.json"
            except (TypeError, ValueError) as err:
                raise ValueError(f"{what} is not JSON-serialisable: {err}") from None
        case bytes() | bytearray():
            raw, filename = bytes(source), f"{what}.json"
        case str() | os.PathLike():
            path = Path(source)
            raw, filename = _read(path, f"{what} file"), path.name
        case _:
            raise TypeError(f"{what} must be a dict, a path or bytes, got {type(source).__name__}")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj, raw, filename


def json_part(name: str, source: JsonSource) -> Part:
    """A multipart part holding the JSON object ``source`` (see :func:`load_json_object`)."""
    _, raw, filename = load_json_object(source, name)
    return name, (filename, raw, "application/json")


def file_part(name: str, value: object) -> Part:
    """A multipart file part from a path, bytes, or a ``(filename, bytes)`` pair."""
    match value:
        case str() | os.PathLike():
            filename, data = Path(value).name, _read(Path(value), f"file for {name!r}")
        case bytes() | bytearray():
            filename, data = name.lstrip("$#") or "upload", bytes(value)
        case (str() as filename, bytes() | bytearray() as raw):
            data = bytes(raw)
        case _:
            raise TypeError(
                f"file for {name!r} must be a path, bytes or a (filename, bytes) pair, "
                f"got {type(value).__name__}"
            )
    return name, (filename, data, "application/octet-stream")


def check_size(form: FormFields) -> FormFields:
    """``form``, unless its parts add up to more than 50 MB (a ``ValueError``)."""
    total = sum(
        len(name) + (len(value.encode()) if isinstance(value, str) else len(value[1]))
        for name, value in form
    )
    if total > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"the upload is {total / 1e6:.1f} MB; the API accepts at most 50 MB per request"
        )
    return form

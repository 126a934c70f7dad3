"""Turning what a user hands us (a dict, a path, bytes) into multipart parts, within limits.

The three upload endpoints take ``multipart/form-data`` of at most 50 MB per request (the API
documentation, "Conventions"). This module reads files and serialises JSON; it checks that a
workflow or template body is a JSON object and that the request stays under the limit, before
anything is sent. It does no I/O other than reading the user's files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "MAX_UPLOAD_BYTES",
    "FormFields",
    "check_size",
    "file_part",
    "json_part",
    "load_json_object",
]

MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
FormFields = tuple[tuple[str, str | tuple[str, bytes, str]], ...]

JsonSource = Mapping[str, Any] | str | os.PathLike[str] | bytes


def load_json_object(source: JsonSource, what: str) -> tuple[dict[str, Any], bytes, str]:
    """Read a JSON object from a mapping, a path or bytes.

    Returns:
        The object, its bytes as they will be sent, and a filename for the part.

    Raises:
        ValueError: The file is missing or the content is not a JSON object.
        TypeError: ``source`` is none of the accepted kinds.
    """
    filename = f"{what}.json"
    if isinstance(source, Mapping):
        obj = dict(source)
        try:
            raw = json.dumps(obj, ensure_ascii=False).encode()
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what} is not JSON-serialisable: {err}") from None
        return obj, raw, filename
    if isinstance(source, bytes | bytearray):
        raw = bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ValueError(f"{what} file not found: {path}") from None
        except IsADirectoryError:
            raise ValueError(f"{what} path is a directory: {path}") from None
        filename = path.name
    else:
        raise TypeError(f"{what} must be a dict, a path or bytes, got {type(source).__name__}")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj, raw, filename


def json_part(name: str, raw: bytes, filename: str) -> tuple[str, tuple[str, bytes, str]]:
    """A multipart file part holding JSON."""
    return name, (filename, raw, "application/json")


def file_part(name: str, value: object) -> tuple[str, tuple[str, bytes, str]]:
    """A multipart file part from a path, bytes, or a ``(filename, bytes)`` pair.

    Raises:
        ValueError: A path does not exist.
        TypeError: ``value`` is none of the accepted kinds.
    """
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            return name, (path.name, path.read_bytes(), "application/octet-stream")
        except (FileNotFoundError, IsADirectoryError):
            raise ValueError(f"file for {name!r} not found: {path}") from None
    if isinstance(value, bytes | bytearray):
        return name, (name.lstrip("$#") or "upload", bytes(value), "application/octet-stream")
    if (
        isinstance(value, Sequence)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], bytes | bytearray)
    ):
        return name, (value[0], bytes(value[1]), "application/octet-stream")
    raise TypeError(
        f"file for {name!r} must be a path, bytes or a (filename, bytes) pair, "
        f"got {type(value).__name__}"
    )


def check_size(form: FormFields) -> FormFields:
    """Refuse a request whose parts add up to more than 50 MB.

    Raises:
        ValueError: The upload is over the API's limit.
    """
    total = 0
    for name, value in form:
        total += len(name)
        total += len(value.encode()) if isinstance(value, str) else len(value[1])
    if total > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"the upload is {total / 1e6:.1f} MB; the API accepts at most 50 MB per request"
        )
    return form

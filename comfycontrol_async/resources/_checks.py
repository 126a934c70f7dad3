"""Write arguments and upload parts, checked against the API's documented limits before sending."""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from yarl import URL

MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
FormFields = tuple[tuple[str, str | tuple[str, bytes, str]], ...]
JsonSource = Mapping[str, Any] | str | os.PathLike[str] | bytes


def check_text(value: object, what: str, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} cannot be empty")
    if not low <= len(value) <= high:
        raise ValueError(f"{what} must be {low} to {high} characters, got {len(value)}")
    return value


def check_name(value: object, high: int = 100) -> str:
    return check_text(value, "name", 1, high)


def check_status(status: object) -> str:
    """A status, checked for type only (the server owns the values)."""
    if not isinstance(status, str) or not status.strip():
        raise ValueError("status must be a non-empty string")
    return status


def check_endpoint(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"endpoint must be a str, got {type(value).__name__}")
    try:
        url = URL(value.strip())
    except (ValueError, TypeError):
        raise ValueError("endpoint must be an http or https URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("endpoint must be an absolute http or https URL with a host")
    return value.strip()


def check_tags(value: object) -> list[str]:
    """At most 10 non-empty string tags (case-sensitive, kept in order, duplicates refused)."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError("tags must be a list of strings")
    tags = list(value)
    if len(tags) > 10:
        raise ValueError(f"at most 10 tags are allowed, got {len(tags)}")
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"every tag must be a str, got {type(tag).__name__}")
        if not tag.strip():
            raise ValueError("tags cannot be empty strings")
        if "," in tag:
            raise ValueError(f"tag {tag!r} contains a comma (tags travel comma-separated)")
    if len(set(tags)) != len(tags):
        raise ValueError("tags must not repeat")
    return tags


def check_headers(value: object) -> dict[str, str]:
    """A mapping of non-empty header names to one-line string values (never shown in errors)."""
    if not isinstance(value, Mapping):
        raise TypeError("headers must be a mapping of str to str")
    for name, item in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError("header names must be non-empty strings")
        if not isinstance(item, str):
            raise TypeError(f"the value of header {name!r} must be a str")
        if any(ch in item for ch in "\r\n"):
            raise ValueError(f"the value of header {name!r} contains a line break")
    return dict(value)


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
            raw, filename = _read(Path(source), f"{what} file"), Path(source).name
        case _:
            raise TypeError(f"{what} must be a dict, a path or bytes, got {type(source).__name__}")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj, raw, filename


def file_part(name: str, value: object) -> tuple[str, tuple[str, bytes, str]]:
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
    total = sum(
        len(name) + (len(value.encode()) if isinstance(value, str) else len(value[1]))
        for name, value in form
    )
    if total > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"the upload is {total / 1e6:.1f} MB; the API accepts at most 50 MB per request"
        )
    return form

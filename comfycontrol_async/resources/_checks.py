"""Checks of write arguments against the API's documented limits, before anything is sent.

Each returns the value as the wire wants it or raises naming the argument; never a header value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from yarl import URL


def check_text(value: object, what: str, low: int, high: int) -> str:
    """A non-blank string of ``low`` to ``high`` characters."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} cannot be empty")
    if not low <= len(value) <= high:
        raise ValueError(f"{what} must be {low} to {high} characters, got {len(value)}")
    return value


def check_name(value: object, high: int = 100) -> str:
    """A name of 1 to ``high`` characters."""
    return check_text(value, "name", 1, high)


def check_status(status: object) -> str:
    """A status, checked for type only (the server owns the values)."""
    if not isinstance(status, str) or not status.strip():
        raise ValueError("status must be a non-empty string")
    return status


def check_endpoint(value: object) -> str:
    """An absolute http or https URL with a host."""
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
    """A mapping of non-empty header names to string values without line breaks."""
    if not isinstance(value, Mapping):
        raise TypeError("headers must be a mapping of str to str")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError("header names must be non-empty strings")
        if not isinstance(item, str):
            raise TypeError(f"the value of header {name!r} must be a str")
        if any(ch in item for ch in "\r\n"):
            raise ValueError(f"the value of header {name!r} contains a line break")
        headers[name] = item
    return headers

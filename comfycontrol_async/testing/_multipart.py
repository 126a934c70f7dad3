"""A small, strict reader of ``multipart/form-data`` bodies for the fake's upload endpoints.

This module owns turning an already-read request body into form fields: text parts become
``str``, parts with a filename become ``(filename, bytes)``. It works on bytes in memory (the fake
caps the size before it gets here), does no I/O and never writes temporary files, so a test can
never leak an open file through it. URL-encoded forms are accepted too, as text fields.
"""

from __future__ import annotations

from email.message import Message
from urllib.parse import parse_qsl

from ._placeholders import FormValue

__all__ = ["FormError", "parse_form"]


class FormError(ValueError):
    """The body is not a well-formed form (the fake answers 400)."""


def _header_params(name: str, value: str) -> Message:
    message = Message()
    message[name] = value
    return message


def parse_form(content_type: str, body: bytes) -> dict[str, FormValue]:
    """Parse a form body; the first part wins when a field name repeats.

    Raises:
        FormError: wrong content type, missing boundary, or a body that does not parse.
    """
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("form body is not UTF-8") from exc
        fields: dict[str, FormValue] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            fields.setdefault(key, value)
        return fields
    if mime != "multipart/form-data":
        raise FormError("expected a multipart/form-data body")
    boundary = _header_params("Content-Type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise FormError("multipart body without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    fields = {}
    closed = False
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        head_end = chunk.find(b"\r\n\r\n")
        line_end = chunk.find(b"\r\n")
        if head_end < 0 or line_end < 0:
            raise FormError("malformed multipart part")
        raw_headers = chunk[line_end + 2 : head_end + 2] if head_end > line_end else b""
        content = chunk[head_end + 4 :]
        disposition = ""
        for line in raw_headers.split(b"\r\n"):
            header, sep, header_value = line.partition(b":")
            if sep and header.strip().lower() == b"content-disposition":
                disposition = header_value.strip().decode("utf-8", "replace")
        if not disposition:
            raise FormError("multipart part without Content-Disposition")
        params = _header_params("Content-Disposition", disposition)
        name = params.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise FormError("multipart part without a name")
        filename = params.get_filename()
        if filename is not None:
            fields.setdefault(name, (filename, content))
            continue
        try:
            fields.setdefault(name, content.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise FormError(f"form field {name!r} is not UTF-8 text") from exc
    if not closed:
        raise FormError("multipart body is not terminated")
    return fields

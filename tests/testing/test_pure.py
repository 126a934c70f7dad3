"""The fake's pure helpers: the placeholder scanner and the multipart reader."""

from __future__ import annotations

import pytest

from comfycontrol_async.testing._multipart import FormError, parse_form
from comfycontrol_async.testing._placeholders import (
    FormValue,
    Placeholder,
    PlaceholderError,
    resolve,
    scan,
)


def test_scan_finds_whole_string_placeholders_in_order() -> None:
    document = {
        "b": ["$text(prompt)", {"deep": "$choice(s, a, b)"}],
        "a": "$file(img-1_x)",
        "c": ["$random()", "$timestamp()", "$text(prompt, dup)", "x$text(no)", 5, None],
    }
    found = scan(document)
    assert found == [
        Placeholder("text", "prompt", None),
        Placeholder("choice", "s", "a", ("a", "b")),
        Placeholder("file", "img-1_x"),
        Placeholder("random", ""),
        Placeholder("timestamp", ""),
    ]
    assert [p.field for p in found[:3]] == ["$prompt", "#s", "$img-1_x"]
    assert [p.label for p in found[:3]] == ["$text(prompt)", "#choice(s)", "$file(img-1_x)"]


def test_file_names_with_dots_are_accepted_like_the_published_example() -> None:
    (placeholder,) = scan({"10": {"inputs": {"image": "$file(input_image.png)"}}})
    assert placeholder == Placeholder("file", "input_image.png")
    assert placeholder.field == "$input_image.png"


def test_text_default_keeps_commas() -> None:
    (placeholder,) = scan({"x": "$text(p, a cat, sitting)"})
    assert placeholder.default == "a cat, sitting"
    assert resolve([placeholder], {}) == [["$text(p)", "a cat, sitting"]]


@pytest.mark.parametrize(
    "text",
    [
        "$choice(x)",
        "$choice(x, a)",
        "$choice(x, a, b, c, d, e)",
        "$choice(, a, b)",
        "$choice(x, a, , b)",
        "$file()",
        "$file(" + "a" * 256 + ")",
        "$file(a b)",
        "$text()",
        "$text( , d)",
        "$timestamp(1)",
    ],
)
def test_malformed_placeholders(text: str) -> None:
    with pytest.raises(PlaceholderError):
        scan({"x": text})


def test_file_name_of_255_is_fine() -> None:
    assert scan(["$file(" + "a" * 255 + ")"])[0].name == "a" * 255


def test_resolve_rules() -> None:
    found = scan({"t": "$text(t)", "c": "$choice(c, x, y, z)", "f": "$file(f)"})
    form: dict[str, FormValue] = {"$t": "hello", "#c": "z", "$f": ("f.png", b"data")}
    assert resolve(found, form) == [
        ["$text(t)", "hello"],
        ["#choice(c)", "z"],
        ["$file(f)", "f.png"],
    ]
    assert resolve(found, {"$t": "", "$f": ("f.png", b"")})[1] == ["#choice(c)", "x"]
    bad_forms: list[dict[str, FormValue]] = [
        {"$f": ("f", b"")},
        {"$t": ("t.txt", b"hello"), "$f": ("f", b"")},
        {"$t": "a", "#c": "w", "$f": ("f", b"")},
        {"$t": "a", "#c": ("c", b"x"), "$f": ("f", b"")},
        {"$t": "a"},
    ]
    for bad in bad_forms:
        with pytest.raises(PlaceholderError):
            resolve(found, bad)


def _multipart(*parts: bytes, boundary: str = "BOUND") -> tuple[str, bytes]:
    body = b"preamble\r\n"
    for part in parts:
        body += b"--" + boundary.encode() + b"\r\n" + part + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return f'multipart/form-data; boundary="{boundary}"', body


def test_parse_form_text_and_files() -> None:
    content_type, body = _multipart(
        b'Content-Disposition: form-data; name="name"\r\n\r\nA \xc3\xa9',
        b'Content-Disposition: form-data; name="body"; filename="b.json"\r\n'
        b'Content-Type: application/json\r\n\r\n{"a": 1}\r\n\r\nstill body',
        b'Content-Disposition: form-data; name="name"\r\n\r\nsecond ignored',
        b"Content-Disposition: form-data; name=\"u\"; filename*=utf-8''%C3%A9.png\r\n\r\n\x00\xff",
    )
    form = parse_form(content_type, body)
    assert form == {
        "name": "A é",
        "body": ("b.json", b'{"a": 1}\r\n\r\nstill body'),
        "u": ("é.png", b"\x00\xff"),
    }


def test_parse_form_urlencoded() -> None:
    assert parse_form("application/x-www-form-urlencoded", b"a=1&b=%24x&a=2") == {
        "a": "1",
        "b": "$x",
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        ("multipart/form-data", b"--x--"),
        ('multipart/form-data; boundary="x"', b"--x\r\nno blank line"),
        ('multipart/form-data; boundary="x"', b"--x\r\n\r\nno headers\r\n--x--"),
        ('multipart/form-data; boundary="x"', b"--x\r\nContent-Type: a\r\n\r\nv\r\n--x--"),
        (
            'multipart/form-data; boundary="x"',
            b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--",
        ),
        (
            'multipart/form-data; boundary="x"',
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--x--',
        ),
        ("application/x-www-form-urlencoded", b"\xff"),
    ],
)
def test_parse_form_errors(content_type: str, body: bytes) -> None:
    with pytest.raises(FormError):
        parse_form(content_type, body)

"""Client-side checks of write arguments and upload parts: clear errors before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfycontrol_async.resources._checks import (
    MAX_UPLOAD_BYTES,
    check_endpoint,
    check_headers,
    check_name,
    check_size,
    check_tags,
    check_text,
    file_part,
    load_json_object,
)


class TestChecks:
    def test_names(self) -> None:
        assert check_name("x") == "x"
        assert check_name("y" * 100) == "y" * 100
        assert check_name("w" * 200, 200) == "w" * 200
        with pytest.raises(ValueError, match="1 to 100"):
            check_name("y" * 101)
        with pytest.raises(ValueError, match="empty"):
            check_name("   ")
        with pytest.raises(TypeError):
            check_name(5)
        with pytest.raises(ValueError, match="description"):
            check_text("d" * 501, "description", 1, 500)

    @pytest.mark.parametrize("good", ["http://127.0.0.1:8188", "https://comfy.example.com/base "])
    def test_good_endpoints(self, good: str) -> None:
        assert check_endpoint(good) == good.strip()

    @pytest.mark.parametrize("bad", ["ftp://x", "comfy.example.com", "http://", "https:///path"])
    def test_bad_endpoints(self, bad: str) -> None:
        with pytest.raises(ValueError, match="endpoint"):
            check_endpoint(bad)

    def test_endpoint_type(self) -> None:
        with pytest.raises(TypeError):
            check_endpoint(b"http://x")

    def test_tags(self) -> None:
        assert check_tags(("a", "B")) == ["a", "B"]
        assert check_tags([str(i) for i in range(10)]) == [str(i) for i in range(10)]
        with pytest.raises(ValueError, match="at most 10"):
            check_tags([str(i) for i in range(11)])
        with pytest.raises(TypeError):
            check_tags("gpu")
        with pytest.raises(TypeError):
            check_tags([1])
        with pytest.raises(ValueError, match="empty"):
            check_tags([" "])
        with pytest.raises(ValueError, match="comma"):
            check_tags(["a,b"])
        with pytest.raises(ValueError, match="repeat"):
            check_tags(["a", "a"])

    def test_headers_never_echo_values(self) -> None:
        assert check_headers({"Authorization": "Bearer s3cr3t"}) == {
            "Authorization": "Bearer s3cr3t"
        }
        for bad in ({"X": 1}, {"": "v"}, {"X": "a\r\nInjected: yes"}):
            with pytest.raises((TypeError, ValueError)) as info:
                check_headers(bad)
            assert "s3cr3t" not in str(info.value)
            assert "Injected" not in str(info.value)
        with pytest.raises(TypeError):
            check_headers([("a", "b")])


class TestUploads:
    def test_json_from_dict_path_and_bytes(self, tmp_path: Path) -> None:
        obj = {"1": {"inputs": {"text": "é"}}}
        got, raw, name = load_json_object(obj, "body")
        assert (got, json.loads(raw), name) == (obj, obj, "body.json")
        path = tmp_path / "flow.json"
        path.write_text(json.dumps(obj))
        got, raw, name = load_json_object(path, "workflow")
        assert (got, name) == (obj, "flow.json")
        got, _, _ = load_json_object(json.dumps(obj).encode(), "workflow")
        assert got == obj

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            (b"[1, 2]", "JSON object"),
            (b"{nope", "not valid JSON"),
            ("/definitely/not/here.json", "not found"),
        ],
    )
    def test_bad_json_sources(self, source: Any, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            load_json_object(source, "workflow")

    def test_bad_json_kinds(self, tmp_path: Path) -> None:
        with pytest.raises(TypeError):
            load_json_object(42, "workflow")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="directory"):
            load_json_object(tmp_path, "workflow")
        with pytest.raises(ValueError, match="serialisable"):
            load_json_object({"x": object()}, "body")

    def test_file_parts(self, tmp_path: Path) -> None:
        image = tmp_path / "in.png"
        image.write_bytes(b"\x89PNG")
        assert file_part("$img", image) == (
            "$img",
            ("in.png", b"\x89PNG", "application/octet-stream"),
        )
        assert file_part("$img", b"raw")[1][:2] == ("img", b"raw")
        assert file_part("$img", ("a.png", b"x"))[1][:2] == ("a.png", b"x")
        with pytest.raises(ValueError, match="not found"):
            file_part("$img", tmp_path / "missing.png")
        with pytest.raises(TypeError):
            file_part("$img", 3)

    def test_size_limit(self) -> None:
        small = (("name", "x"),)
        assert check_size(small) == small
        big = (("file", ("f", b"\0" * (MAX_UPLOAD_BYTES + 1), "application/octet-stream")),)
        with pytest.raises(ValueError, match="50 MB"):
            check_size(big)

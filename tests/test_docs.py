"""The README is the manual: its code must stay true to the SDK it describes."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from comfycontrol_async import ComfyControl

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_readme_python_blocks_compile_and_import_what_exists(block: str) -> None:
    tree = compile(block, "README.md", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert isinstance(tree, ast.Module)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("comfycontrol"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"


def test_readme_calls_only_methods_the_client_has() -> None:
    client = ComfyControl(token="cfc_docs", base_url="http://127.0.0.1:9")
    calls = set(re.findall(r"\bcc\.(\w+)(?:\.(\w+))?", README))
    assert calls
    for resource, method in calls:
        target = getattr(client, resource, None)
        assert target is not None, f"README uses cc.{resource}, which does not exist"
        if method:
            assert hasattr(target, method), f"README uses cc.{resource}.{method}"

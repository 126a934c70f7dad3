"""The public surface is kept honest: exports, version, entry points, typing marker."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint, version
from pathlib import Path

import pytest

import comfycontrol_async
from comfycontrol_async import _exceptions

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = ["comfycontrol_async", "comfycontrol_async.models", "comfycontrol_async.testing"]


def test_version_is_the_one_the_build_reads_and_the_metadata_says() -> None:
    assert comfycontrol_async.__version__ == version("comfycontrol-async")


def test_all_is_complete_and_importable() -> None:
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        exported = module.__all__
        assert len(exported) == len(set(exported)), name
        for item in exported:
            assert hasattr(module, item), f"{name}.{item}"
        # every public class or function the module holds is exported
        public = {
            attr
            for attr, value in vars(module).items()
            if not attr.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", "").startswith("comfycontrol_async")
        }
        assert public <= set(exported), f"{name} does not export {public - set(exported)}"


def test_every_error_is_exported_from_the_root() -> None:
    errors = {
        name
        for name, value in vars(_exceptions).items()
        if inspect.isclass(value) and issubclass(value, Exception)
    }
    assert errors <= set(comfycontrol_async.__all__)


def test_typed_package() -> None:
    assert (Path(comfycontrol_async.__file__).parent / "py.typed").is_file()


def test_console_script_and_module_entry() -> None:
    # pyproject.toml is the source (the installed metadata may come from another checkout).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["scripts"]["comfycontrol"]
    assert target == "comfycontrol_async.cli:main"
    assert callable(EntryPoint(name="comfycontrol", value=target, group="console_scripts").load())
    result = subprocess.run(
        [sys.executable, "-m", "comfycontrol_async", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert comfycontrol_async.__version__ in result.stdout


def test_importing_testing_does_not_import_pytest() -> None:
    code = (
        "import sys, comfycontrol_async.testing; "
        "print('pytest' in sys.modules, 'pytest_asyncio' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.split() == ["False", "False"]


def _modules_loaded(code: str) -> set[str]:
    """Which heavy modules a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport sys\n"
        "print(' '.join(m for m in ('aiohttp', 'rich', 'cattrs', 'comfycontrol_async.cli') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_importing_the_sdk_loads_neither_rich_nor_the_cli() -> None:
    assert _modules_loaded("import comfycontrol_async") == set()
    # Names load on first use, and then stay.
    loaded = _modules_loaded("from comfycontrol_async import ComfyControl")
    assert "aiohttp" in loaded
    assert "rich" not in loaded
    assert "comfycontrol_async.cli" not in loaded


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["runners", "--help"]])
def test_help_and_version_load_no_heavy_module(argv: list[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from comfycontrol_async.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({argv!r})"
    )
    assert _modules_loaded(code) == {"comfycontrol_async.cli"}


def test_lazy_names_are_listed_and_cached() -> None:
    assert comfycontrol_async.__all__ == sorted(comfycontrol_async.__all__, key=_all_order)
    assert set(dir(comfycontrol_async)) >= set(comfycontrol_async.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        comfycontrol_async.Nope  # noqa: B018


def test_type_checkers_see_every_lazy_name() -> None:
    # The typed re-exports (``from x import Name as Name`` under TYPE_CHECKING) match __all__.
    tree = ast.parse(Path(comfycontrol_async.__file__).read_text(encoding="utf-8"))
    typed = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }
    assert typed == set(comfycontrol_async.__all__)


def _all_order(name: str) -> tuple[int, str]:
    # ruff's order for __all__ (RUF022): SCREAMING_CASE, then CamelCase, then the rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)

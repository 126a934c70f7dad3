"""The public surface is kept honest: exports, version, entry points, typing marker."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from importlib.metadata import entry_points, version
from pathlib import Path

import comfycontrol_async
from comfycontrol_async import _exceptions

PUBLIC_MODULES = ["comfycontrol_async", "comfycontrol_async.models", "comfycontrol_async.testing"]


def test_version_comes_from_the_installed_metadata() -> None:
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
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "comfycontrol"]
    assert script.value == "comfycontrol_async._cli:main"
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

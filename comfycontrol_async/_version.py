"""The package version, read from the installed distribution's metadata (one source of truth)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("comfycontrol-async")
except PackageNotFoundError:  # pragma: no cover - only when run from a bare source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""The package version: the one source of truth, read by the build (``[tool.hatch.version]``).

A plain string rather than ``importlib.metadata``: reading the installed metadata costs 30-60 ms,
which ``comfycontrol --version`` would pay on every call.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]

"""The ``comfycontrol`` command line (also ``python -m comfycontrol_async``).

The SDK never imports this package. Modules: ``_main`` (parser and dispatch), ``_args``
(global options, value types, usage errors), ``_scrub`` (the one scrubbing function every
printed line goes through), ``_context`` (what a running command gets: options, consoles,
output rules, the client, error messages), ``_table`` (tables that fit, TSV); then one module
per noun, each command one ``async def`` in it.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]

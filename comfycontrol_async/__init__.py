"""comfycontrol-async: the async-first Python SDK for the ComfyControl API."""

from __future__ import annotations

"""``python -m comfycontrol_async``: the same as the ``comfycontrol`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

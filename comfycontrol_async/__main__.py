"""``python -m comfycontrol_async``: the same as the ``comfycontrol`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())

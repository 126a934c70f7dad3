"""Sizes as people write them (``40GB``, ``24GiB``) and the argument checks the helpers share."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["check_positive_int", "parse_size"]

_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE: Final = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: str | int | float) -> int:
    """Bytes from ``24GiB``, ``40GB``, ``512 MiB``, or a plain number of bytes.

    ``GB`` is 10^9 bytes and ``GiB`` 2^30, as their names say.

    Raises:
        ValueError: The text is not a size.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value!r}")
        return int(value)
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (try 24GiB, 40GB or a number of bytes)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit {unit!r} in {value!r} (use B, KB, MB, GB, KiB, MiB, GiB)")
    return int(float(number) * factor)


def check_positive_int(name: str, value: object) -> None:
    """``ValueError`` unless ``value`` is an int >= 1 (a bool is not one)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")

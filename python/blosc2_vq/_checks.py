"""The package's error type and the conversions of Python values to the C fields' types.

ctypes would silently wrap an integer that does not fit (2**32 + 2 becomes 2) and truncate a
float, so every value is checked here; the library checks the meaningful ranges and names
them in its messages.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)


class VQError(ValueError):
    """An error reported by the blosc2-vq library (bad parameters, codebook or data)."""


def integer(name: str, value: object, bounds: tuple[int, int] = INT32) -> int:
    """`value` as a Python int that fits the C field."""
    if isinstance(value, bool):
        raise VQError(f"{name} must be an integer, not {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]  # a TypeError is the answer
    except TypeError:
        raise VQError(f"{name} must be an integer, not {value!r}") from None
    lo, hi = bounds
    if not lo <= number <= hi:
        raise VQError(f"{name} {number} is out of range")
    return number


def real(name: str, value: object) -> float:
    """`value` as a float (ctypes would raise a bare TypeError for a string)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VQError(f"{name} must be a number, not {value!r}")
    return float(value)


def choice(name: str, value: object, options: Mapping[str, T]) -> T:
    """The option `value` names."""
    if not isinstance(value, str) or value not in options:
        names = ", ".join(repr(o) for o in options)
        raise VQError(f"unknown {name} {value!r}: use one of {names}")
    return options[value]


def bound(value: object) -> float:
    """An error bound: a positive, finite real (None is "no bound" before this is called)."""
    number = real("max_error", value)
    if not (number > 0 and math.isfinite(number)):
        raise VQError(f"max_error {number} must be positive and finite (None: no bound)")
    return number

"""Kubernetes resource quantities (`100m`, `2Gi`, `1e3`, `1.5`) as exact numbers.

A quantity is a signed decimal number followed by an optional suffix: binary SI
(`Ki Mi Gi Ti Pi Ei`, powers of 1024), decimal SI (`n u m k M G T P E`, powers of
1000) or a decimal exponent (`e3`, `E-2`). The grammar and the rounding are those of
apimachinery `resource.Quantity`: `Value()` and `MilliValue()` round *up* to the next
integer, so `0.1m` CPU is 1 milli-CPU and `1.5` bytes are 2 bytes.

Parsing is cached because a scheduler sees the same few strings (`100m`, `128Mi`)
thousands of times.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "QuantityError",
    "format_cpu",
    "format_memory",
    "milli_value",
    "parse_quantity",
    "resource_value",
    "value",
]


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


# apimachinery resource/suffix.go: binary suffixes are powers of two, decimal suffixes
# powers of ten; "" is 10^0.
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
# <signedNumber><suffix> from apimachinery resource/quantity.go; the exponent form
# (`1e3`, `5E-2`) is a suffix too.
_QUANTITY_RE = re.compile(
    r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)


@lru_cache(maxsize=4096)
def parse_quantity(text: str | int | float) -> Fraction:
    """Return the exact value of a quantity string (or a plain number).

    Raises QuantityError for anything the API server would reject, such as `1.2.3`,
    `10 Mi`, `Mi` or an empty string.
    """
    if isinstance(text, bool):
        raise QuantityError(f"quantities must match the regular expression: {text!r}")
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        return Fraction(str(text))
    raw = str(text).strip()
    match = _QUANTITY_RE.match(raw)
    if not match or not (match.group("int") or match.group("frac")):
        raise QuantityError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {raw!r}"
        )
    digits = (match.group("int") or "0") + "." + (match.group("frac") or "0")
    number = Fraction(digits)
    if match.group("sign") == "-":
        number = -number
    if match.group("exp"):
        exponent = int(match.group("exp")[1:])
        return number * (Fraction(10) ** exponent)
    suffix = match.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def value(text: str | int | float) -> int:
    """Integer value rounded up, as `Quantity.Value()` (bytes, pods, GPUs)."""
    return math.ceil(parse_quantity(text))


def milli_value(text: str | int | float) -> int:
    """Value in thousandths rounded up, as `Quantity.MilliValue()` (CPU in millicores)."""
    return math.ceil(parse_quantity(text) * 1000)


def resource_value(name: str, text: str | int | float) -> int:
    """The integer the scheduler accounts a resource in: millicores for `cpu`, else `value`."""
    if name == "cpu":
        return milli_value(text)
    return value(text)


def format_cpu(millis: int) -> str:
    """Render millicores the way kubectl shows them (`1`, `250m`)."""
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"


def format_memory(size: int) -> str:
    """Render bytes with the largest exact binary suffix (`2Gi`, `512Mi`, `1000`)."""
    for suffix, factor in sorted(_BINARY.items(), key=lambda item: -item[1]):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)

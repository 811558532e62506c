"""Resource quantities in validation: parsing, formatting, and resource lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.sim.apiserver.validation.names import QUANTITY_MSG, invalid_value
from app.sim.machinery import quantity
from app.sim.machinery.errors import FieldCause

# ---------------------------------------------------------------------------- quantities

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: Any) -> Decimal:
    """A resource quantity (`500m`, `1Gi`, `2`, `1e3`) as an exact Decimal, parsed by
    `app.sim.machinery.quantity`. Raises ValueError (with upstream's message) for anything
    resource.Quantity's JSON decoding rejects."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(QUANTITY_MSG)
    try:
        exact = quantity.parse_quantity(value)
    except (quantity.QuantityError, ValueError, ArithmeticError):
        raise ValueError(QUANTITY_MSG) from None
    return Decimal(exact.numerator) / Decimal(exact.denominator)


def format_quantity(value: Decimal, binary: bool = False) -> str:
    """A canonical short form: `2`, `500m`, `1Gi` (binary) or `1G`."""
    if value == value.to_integral_value():
        whole = int(value)
        if binary and whole:
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                if whole % _BINARY[suffix] == 0:
                    return f"{whole // _BINARY[suffix]}{suffix}"
        return str(whole)
    milli = value * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return str(value.normalize())


def _resource_list(causes: list[FieldCause], path: str, resources: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if not isinstance(resources, dict):
        return out
    for name, value in resources.items():
        try:
            amount = parse_quantity(value)
        except ValueError as exc:
            causes.append(invalid_value(f"{path}[{name}]", value, str(exc)))
            continue
        if amount < 0:
            causes.append(
                invalid_value(f"{path}[{name}]", value, "must be greater than or equal to 0")
            )
        out[name] = amount
    return out

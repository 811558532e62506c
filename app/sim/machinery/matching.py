"""Matching rules the scheduler and the controllers share: taints against tolerations,
and node selector requirements against a label or field value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Upstream `Toleration.ToleratesTaint`: effect and key must match when set;
    `Exists` ignores the value, `Equal` (the default) compares it."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def requirement_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    """One `NodeSelectorRequirement` against a label (or field) value; None when the
    node has no such label. `Gt`/`Lt` take exactly one integer value, as upstream."""
    operator = expr.get("operator")
    values = expr.get("values") or ()
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False

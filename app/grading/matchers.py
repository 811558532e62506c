"""Matching cluster objects against what a lab expects.

`partial_match(expected, actual)` follows kuttl's assert semantics (kuttl docs, "Asserts
and Errors"; `IsSubset` in kudobuilder/kuttl `pkg/test/utils`): a map matches when every
key it names is present in the actual map with a matching value (extra keys are fine);
a list matches only a list of the same length whose elements match in order; any other
value must be equal. Each mismatch is reported with the precise path. As in chainsaw's
assertion trees, a key written `(expression)` is a JMESPath expression evaluated on the
actual map, and its result is matched against the value (`(length(containers)): 2`).

`evaluate_assertion` checks one JMESPath assertion (the chainsaw way: an expression and
an expected value) and words the failure as "expected X, found Y".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

# Comparison operators of count and JMESPath checks, by their spelling in lab files.
OPERATORS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}
# Assertion keys (one per assertion) and what each means.
ASSERTION_OPS = (
    "equals",
    "not_equals",
    "gt",
    "ge",
    "lt",
    "le",
    "contains",
    "not_contains",
    "matches",
    "exists",
    "length",
)


@dataclass(frozen=True)
class Mismatch:
    """One place where the actual object differs from the expected fragment."""

    path: str
    expected: Any
    found: Any
    missing: bool = False

    def __str__(self) -> str:
        where = self.path or "(object)"
        if self.missing:
            return f"{where}: expected {show(self.expected)}, found nothing (field missing)"
        return f"{where}: expected {show(self.expected)}, found {show(self.found)}"


def show(value: Any, limit: int = 80) -> str:
    """A short JSON rendering of a value for messages."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    # Keys with dots or slashes (labels, annotations) are quoted to keep paths readable.
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", text) is None:
        return f'{path}["{text}"]'
    return f"{path}.{text}" if path else text


def _scalar_equal(expected: Any, actual: Any) -> bool:
    # YAML `true` must not equal JSON 1 (Python's bool is an int).
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    return bool(expected == actual)


def partial_match(expected: Any, actual: Any, path: str = "") -> list[Mismatch]:
    """Every mismatch between the `expected` fragment and the `actual` value (empty
    when `actual` matches), in document order."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [Mismatch(path, expected, actual)]
        out: list[Mismatch] = []
        for key, want in expected.items():
            here = _join(path, key)
            projection = _projection(key)
            if projection is not None:
                # chainsaw's `(expression): value`: compare what the JMESPath expression
                # finds in the actual map.
                found = search(projection, actual)
                here = f"{path}.({projection})" if path else f"({projection})"
                out.extend(partial_match(want, found, here))
                continue
            if key not in actual:
                out.append(Mismatch(here, want, None, missing=True))
            else:
                out.extend(partial_match(want, actual[key], here))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [Mismatch(path, expected, actual)]
        if len(expected) != len(actual):
            return [
                Mismatch(f"{path} (length)" if path else "(length)", len(expected), len(actual))
            ]
        out = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            out.extend(partial_match(want, got, _join(path, index)))
        return out
    if _scalar_equal(expected, actual):
        return []
    return [Mismatch(path, expected, actual)]


def _projection(key: Any) -> str | None:
    """The expression of a `(expression)` key, or None for a plain key."""
    if isinstance(key, str) and len(key) > 2 and key[0] == "(" and key[-1] == ")":
        return key[1:-1]
    return None


def fragment_values(expected: Any, actual: Any, path: str = "") -> dict[str, Any]:
    """The actual values at the leaves the `expected` fragment names, by path: what the
    evidence of a match shows (a missing field is None)."""
    if isinstance(expected, dict) and expected:
        source = actual if isinstance(actual, dict) else {}
        out: dict[str, Any] = {}
        for key, want in expected.items():
            projection = _projection(key)
            if projection is not None:
                here = f"{path}.({projection})" if path else f"({projection})"
                out.update(fragment_values(want, search(projection, source), here))
            else:
                out.update(fragment_values(want, source.get(key), _join(path, key)))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = {}
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            out.update(fragment_values(want, got, _join(path, index)))
        return out
    return {path: actual} if path else {}


class ExpressionError(Exception):
    """An assertion could not be evaluated (bad JMESPath expression)."""


def search(expression: str, data: Any) -> Any:
    """Evaluate a JMESPath expression; ExpressionError when it does not compile."""
    try:
        return jmespath.search(expression, data)
    except JMESPathError as exc:
        raise ExpressionError(f"invalid JMESPath {expression!r}: {exc}") from exc


def evaluate_assertion(assertion: dict[str, Any], data: Any) -> tuple[bool, str, Any]:
    """Check one assertion `{expr: ..., <op>: value}` against `data`.

    Returns (passed, message, found value); the message says what was expected and
    what was found. Raises ExpressionError for an expression that does not compile or
    an operator that cannot compare the values found.
    """
    expr = assertion["expr"]
    found = search(expr, data)
    op, want = next((k, assertion[k]) for k in ASSERTION_OPS if k in assertion)
    try:
        passed = _apply(op, want, found)
    except TypeError as exc:
        raise ExpressionError(
            f"{expr}: cannot compare {show(found)} with {show(want)} ({op})"
        ) from exc
    words = {
        "equals": "",
        "not_equals": "not ",
        "gt": "> ",
        "ge": ">= ",
        "lt": "< ",
        "le": "<= ",
        "contains": "to contain ",
        "not_contains": "not to contain ",
        "matches": "to match ",
        "length": "length ",
    }
    if op == "exists":
        expected = "a value" if want else "no value"
        shown = "nothing" if found is None else show(found)
        message = f"{expr}: expected {expected}, found {shown}"
    elif op == "length":
        size = len(found) if isinstance(found, list | dict | str) else None
        message = f"{expr}: expected length {want}, found " + (
            f"length {size}" if size is not None else show(found)
        )
    else:
        message = f"{expr}: expected {words[op]}{show(want)}, found {show(found)}"
    return passed, message, found


def evaluate_assertions(
    assertions: list[dict[str, Any]], data: Any
) -> tuple[list[str], dict[str, Any]]:
    """Check every assertion against `data`: (failure messages, value found per
    expression). Raises ExpressionError as `evaluate_assertion` does."""
    failures, values = [], {}
    for assertion in assertions:
        passed, message, found = evaluate_assertion(assertion, data)
        values[assertion["expr"]] = found
        if not passed:
            failures.append(message)
    return failures, values


def _apply(op: str, want: Any, found: Any) -> bool:
    if op == "equals":
        return not partial_match(want, found) and _same_shape(want, found)
    if op == "not_equals":
        return not (not partial_match(want, found) and _same_shape(want, found))
    if op == "exists":
        return (found is not None) == bool(want)
    if found is None:
        return op == "not_contains"
    if op in ("gt", "ge", "lt", "le"):
        symbol = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
        return bool(OPERATORS[symbol](found, want))
    if op == "contains":
        return want in found
    if op == "not_contains":
        return want not in found
    if op == "matches":
        return isinstance(found, str) and re.search(str(want), found) is not None
    if op == "length":
        return isinstance(found, list | dict | str) and len(found) == want
    raise ExpressionError(f"unknown operator {op!r}")


def _same_shape(want: Any, found: Any) -> bool:
    # `equals` is exact: a map must not have extra keys (partial_match allows them).
    if isinstance(want, dict) and isinstance(found, dict):
        return set(want) == set(found) and all(_same_shape(want[k], found[k]) for k in want)
    if isinstance(want, list) and isinstance(found, list):
        return all(_same_shape(a, b) for a, b in zip(want, found, strict=False))
    return True

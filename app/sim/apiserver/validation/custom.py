"""Custom resources against their CRD's OpenAPI v3 schema."""

from __future__ import annotations

import json
import re
from typing import Any

from app.sim.apiserver.validation.decoding import _json_type
from app.sim.apiserver.validation.names import invalid_value, not_supported, required
from app.sim.machinery.errors import FieldCause

# ---------------------------------------------------------------------------- custom resources

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def validate_against_schema(
    causes: list[FieldCause], value: Any, schema: Any, path: str, depth: int = 0
) -> None:
    """OpenAPI v3 structural checks of a custom resource (type, required, enum,
    minimum/maximum, minLength/maxLength, pattern, minItems/maxItems) with the
    apiextensions messages (`spec.replicas in body must be of type integer: "string"`)."""
    if not isinstance(schema, dict) or depth > 64 or value is None:
        return
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            causes.append(
                invalid_value(
                    path,
                    value,
                    f"{path} in body must be of type integer-or-string: "
                    f"{json.dumps(_json_type(value))}",
                )
            )
        return
    expected = schema.get("type")
    python = _JSON_TYPES.get(expected) if isinstance(expected, str) else None
    wrong = python is not None and (
        not isinstance(value, python)
        or (expected in ("integer", "number") and isinstance(value, bool))
    )
    if expected == "integer" and isinstance(value, float) and value == int(value):
        wrong = False
    if wrong:
        causes.append(
            invalid_value(
                path,
                _json_type(value),
                f"{path} in body must be of type {expected}: {json.dumps(_json_type(value))}",
            )
        )
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        causes.append(not_supported(path, value, [str(e) for e in enum]))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(schema.get("minimum"), int | float) and value < schema["minimum"]:
            causes.append(
                invalid_value(
                    path,
                    value,
                    f"{path} in body should be greater than or equal to {schema['minimum']}",
                )
            )
        if isinstance(schema.get("maximum"), int | float) and value > schema["maximum"]:
            causes.append(
                invalid_value(
                    path,
                    value,
                    f"{path} in body should be less than or equal to {schema['maximum']}",
                )
            )
    if isinstance(value, str):
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            causes.append(
                FieldCause(
                    path,
                    f"Too long: may not be more than {schema['maxLength']} bytes",
                    "FieldValueTooLong",
                )
            )
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            causes.append(
                invalid_value(
                    path,
                    value,
                    f"{path} in body should be at least {schema['minLength']} chars long",
                )
            )
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if not re.search(pattern, value):
                    causes.append(
                        invalid_value(path, value, f"{path} in body should match '{pattern}'")
                    )
            except re.error:
                pass
    if isinstance(value, dict):
        for name in schema.get("required") or []:
            if name not in value:
                causes.append(required(f"{path}.{name}" if path else str(name)))
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if key in props:
                validate_against_schema(causes, sub, props[key], sub_path, depth + 1)
            elif isinstance(additional, dict):
                validate_against_schema(causes, sub, additional, sub_path, depth + 1)
    if isinstance(value, list):
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            causes.append(
                FieldCause(
                    path,
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                    "FieldValueTooMany",
                )
            )
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            causes.append(
                invalid_value(
                    path,
                    len(value),
                    f"{path} in body should have at least {schema['minItems']} items",
                )
            )
        items = schema.get("items")
        for i, item in enumerate(value):
            validate_against_schema(causes, item, items, f"{path}[{i}]", depth + 1)

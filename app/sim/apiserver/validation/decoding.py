"""Decoding checks: field JSON types (`check_types`, a 400 like Go's decoder) and
unknown fields (`check_unknown_fields`, `fieldValidation=Strict|Warn`).
"""

from __future__ import annotations

import re
from typing import Any

from app.sim.apiserver.patch import MAX_DEPTH, nesting_depth
from app.sim.apiserver.validation.quantities import parse_quantity
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceRegistry, ResourceType

# ---------------------------------------------------------------------------- decoding


def _go_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "integer":
        return fmt or "int32"
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return "[]interface {}"
    if kind == "object":
        return "map[string]interface {}"
    return "string"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_INTSTR_ERROR = "json: cannot unmarshal {} into Go value of type intstr.IntOrString"
_ANY_REFS = ("runtime.RawExtension", ".JSON", "JSONSchemaProps")


def _check_node(
    value: Any, schema: dict, cat: Any, path: str, owner: str, depth: int
) -> str | None:
    if depth > 64:
        return None
    ref = schema.get("$ref", "")
    if ref:
        if ref.endswith(_ANY_REFS):
            return None
        if ref.endswith("intstr.IntOrString"):
            if isinstance(value, bool) or not isinstance(value, int | str):
                return _INTSTR_ERROR.format(_json_type(value))
            return None
        if ref.endswith("resource.Quantity"):
            try:
                parse_quantity(value)
            except ValueError as exc:
                return str(exc)
            return None
        owner = ref.rsplit(".", 1)[-1]
        schema = cat.resolve(schema)
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            return _INTSTR_ERROR.format(_json_type(value))
        return None
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return None
    kind = schema.get("type")
    mismatch = (
        (kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)))
        or (kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)))
        or (kind == "boolean" and not isinstance(value, bool))
        or (kind == "string" and not isinstance(value, str))
        or (kind == "array" and not isinstance(value, list))
        or (kind == "object" and not isinstance(value, dict))
    )
    if kind == "integer" and isinstance(value, float) and value == int(value):
        mismatch = False
    if mismatch:
        return (
            f"json: cannot unmarshal {_json_type(value)} into Go struct field "
            f"{owner}.{path} of type {_go_type(schema)}"
        )
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            sub = value[key]
            if sub is None:
                del value[key]  # Go decoding leaves a null field at its zero value
                continue
            sub_schema = props.get(key) or (additional if isinstance(additional, dict) else None)
            if sub_schema is None:
                continue
            error = _check_node(
                sub, sub_schema, cat, f"{path}.{key}" if path else key, owner, depth + 1
            )
            if error:
                return error
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                if item is None:
                    continue
                error = _check_node(item, items, cat, path, owner, depth + 1)
                if error:
                    return error
    return None


def check_types(obj: dict, rt: ResourceType, registry: ResourceRegistry | None = None) -> None:
    """Check every field's JSON type against the kind's schema and drop null fields
    (in place). Raises ApiError 400 for an object nested deeper than any real one,
    and `<Kind> in version "<v>" cannot be handled as a
    <Kind>: ...` on the first mismatch, as upstream's decoder does."""
    from app.sim.apiserver import schema as schemas

    if not isinstance(obj, dict):
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            "the body is not an object",
        )
    if nesting_depth(obj) > MAX_DEPTH:
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"the object nests deeper than {MAX_DEPTH} levels",
        )
    # Built-in kinds resolve fastest without the cluster registry (only CRDs need it).
    found = schemas.schema_for(rt.api_version, rt.kind, registry if rt.custom else None)
    if found is None:
        return
    root, cat = found
    error = _check_node(obj, root, cat, "", rt.kind, 0)
    if error:
        raise ApiError(
            400, f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {error}'
        )


def check_unknown_fields(
    obj: dict, rt: ResourceType, mode: str, registry: ResourceRegistry | None = None
) -> list[str]:
    """Apply `fieldValidation` (`Strict`, `Warn`, `Ignore`; empty means Warn for
    kubectl's default). Returns warning texts for Warn; raises ApiError 400
    `strict decoding error: unknown field "spec.foo"` for Strict."""
    from app.sim.apiserver import schema as schemas

    if mode == "Ignore":
        return []
    if mode not in ("", "Strict", "Warn"):
        raise ApiError(
            400,
            f'fieldValidation: Unsupported value: "{mode}": supported values: '
            '"Ignore", "Strict", "Warn"',
        )
    unknown = [
        p
        for p in schemas.unknown_fields(
            obj, rt.api_version, rt.kind, registry if rt.custom else None
        )
        if not p.startswith("metadata.managedFields")
    ]
    if not unknown:
        return []
    texts = [f'unknown field "{p}"' for p in unknown]
    if mode == "Strict":
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {', '.join(texts)}",
        )
    # Decoding into the typed object drops what it does not know (upstream pruning).
    for path in reversed(unknown):
        prune(obj, path)
    return texts


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def prune(obj: Any, path: str) -> None:
    """Remove the field at a path such as `spec.containers[0].foo` (if present)."""
    tokens: list[str | int] = [
        name if name else int(index) for name, index in _PATH_TOKEN.findall(path)
    ]
    node = obj
    for token in tokens[:-1]:
        if isinstance(token, int):
            node = node[token] if isinstance(node, list) and token < len(node) else None
        else:
            node = node.get(token) if isinstance(node, dict) else None
        if node is None:
            return
    last = tokens[-1] if tokens else None
    if isinstance(node, dict) and isinstance(last, str):
        node.pop(last, None)

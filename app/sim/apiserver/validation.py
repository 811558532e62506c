"""Validation: the checks that turn a bad object into a 400 or 422 `Status`.

Three stages, as upstream runs them:

* `check_types` (decoding): every field has its schema's JSON type, as Go's JSON
  decoder demands; a mismatch is a 400 `... cannot be handled as a ...: json: cannot
  unmarshal ...`. Nulls are dropped, as decoding into Go structs drops them.
* `check_unknown_fields` (`fieldValidation=Strict|Warn`): fields the schema does not
  declare are a 400 `strict decoding error: unknown field "spec.foo"` or warnings.
* `validate` (the registry strategy's Validate/ValidateUpdate): field rules with
  upstream field paths and messages (pkg/apis/core/validation/validation.go,
  apps/batch/rbac/networking/scheduling validation, apimachinery's
  validation.IsDNS1123Subdomain and friends), returned as `FieldCause`s;
  `validate_or_raise` turns them into the 422 Invalid Status.

`validate(ctx, obj, old)` is the request-pipeline stage that runs all three.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any

from app.sim.apiserver.patch import MAX_DEPTH, nesting_depth
from app.sim.machinery import quantity
from app.sim.machinery.errors import ApiError, FieldCause, invalid
from app.sim.machinery.resources import ResourceRegistry, ResourceType

# ---------------------------------------------------------------------------- name rules
# apimachinery/pkg/util/validation/validation.go
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
CONFIG_KEY = r"[-._a-zA-Z0-9]+"
QUANTITY = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
    "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'123-abc', regex used for validation is '{DNS1123_LABEL}')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. "
    f"'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"
)
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
    "with an alphabetic character, and end with an alphanumeric character (e.g. "
    f"'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')"
)
QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
    f"'123-abc', regex used for validation is '{QUALIFIED_NAME}')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', "
    "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
    f"or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
)
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    f"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')"
)
QUANTITY_MSG = f"quantities must match the regular expression '{QUANTITY}'"
# core validation: Secret and ConfigMap payloads are capped at 1 MiB.
MAX_SECRET_BYTES = 1024 * 1024
# apimachinery: total annotation size is capped at 256 KiB.
MAX_ANNOTATIONS_BYTES = 256 * 1024
# scheduling validation: user PriorityClasses are capped at one billion.
HIGHEST_USER_PRIORITY = 1_000_000_000

_RE_CACHE: dict[str, re.Pattern[str]] = {}


def _full(pattern: str) -> re.Pattern[str]:
    if pattern not in _RE_CACHE:
        _RE_CACHE[pattern] = re.compile(f"^(?:{pattern})$")
    return _RE_CACHE[pattern]


def go_value(value: Any) -> str:
    """A value as upstream's `Invalid value: ...` prints it (Go %#v for scalars)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '"null"'
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def invalid_value(path: str, value: Any, detail: str) -> FieldCause:
    """`Invalid value: <value>: <detail>` (FieldValueInvalid)."""
    return FieldCause(path, f"Invalid value: {go_value(value)}: {detail}", "FieldValueInvalid")


def required(path: str, detail: str = "") -> FieldCause:
    """`Required value[: detail]` (FieldValueRequired)."""
    message = "Required value" + (f": {detail}" if detail else "")
    return FieldCause(path, message, "FieldValueRequired")


def not_supported(path: str, value: Any, supported: list[str]) -> FieldCause:
    """`Unsupported value: <value>: supported values: ...` (FieldValueNotSupported)."""
    values = ", ".join(json.dumps(s) for s in supported)
    return FieldCause(
        path,
        f"Unsupported value: {go_value(value)}: supported values: {values}",
        "FieldValueNotSupported",
    )


def duplicate(path: str, value: Any) -> FieldCause:
    """`Duplicate value: <value>` (FieldValueDuplicate)."""
    return FieldCause(path, f"Duplicate value: {go_value(value)}", "FieldValueDuplicate")


def forbidden_field(path: str, detail: str) -> FieldCause:
    """`Forbidden: <detail>` (FieldValueForbidden)."""
    return FieldCause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def immutable(path: str, value: Any) -> FieldCause:
    """`Invalid value: <value>: field is immutable`."""
    return invalid_value(path, value, "field is immutable")


def dns1123_label(value: str) -> list[str]:
    """Why `value` is not a DNS-1123 label (namespaces, container names)."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(DNS1123_LABEL).match(value):
        errs.append(DNS1123_LABEL_MSG)
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    """Why `value` is not a DNS-1123 subdomain (most object names)."""
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _full(DNS1123_SUBDOMAIN).match(value):
        errs.append(DNS1123_SUBDOMAIN_MSG)
    return errs


def dns1035_label(value: str) -> list[str]:
    """Why `value` is not a DNS-1035 label (Service names)."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(DNS1035_LABEL).match(value):
        errs.append(DNS1035_LABEL_MSG)
    return errs


def path_segment_name(value: str) -> list[str]:
    """Why `value` cannot be a URL path segment (RBAC object names)."""
    # apimachinery path.IsValidPathSegmentName: RBAC object names.
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    for bad in ("/", "%"):
        if bad in value:
            return [f"may not contain '{bad}'"]
    return []


def qualified_name(value: str) -> list[str]:
    """apimachinery IsQualifiedName: `[prefix/]name` (label keys, finalizers)."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        errs = [f"prefix part {e}" for e in dns1123_subdomain(prefix)]
        if errs:
            return errs
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is "
            f"'{QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. "
            "'example.com/MyName')"
        ]
    if not name:
        return ["name part must be non-empty"]
    if len(name) > 63:
        return ["name part must be no more than 63 characters"]
    if not _full(QUALIFIED_NAME).match(name):
        return [QUALIFIED_NAME_MSG]
    return []


def label_value(value: str) -> list[str]:
    """Why `value` is not a valid label value."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(LABEL_VALUE).match(value):
        errs.append(LABEL_VALUE_MSG)
    return errs


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


# ---------------------------------------------------------------------------- metadata

# Kinds whose names follow other rules than a DNS-1123 subdomain.
_LABEL_NAMED = {("", "Namespace")}
_DNS1035_NAMED = {("", "Service")}
_PATH_NAMED = {
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
}


def _name_errors(rt: ResourceType, name: str) -> list[str]:
    key = (rt.group, rt.kind)
    if key in _LABEL_NAMED:
        return dns1123_label(name)
    if key in _DNS1035_NAMED:
        return dns1035_label(name)
    if key in _PATH_NAMED:
        return path_segment_name(name)
    return dns1123_subdomain(name)


def validate_labels(causes: list[FieldCause], path: str, labels: Any) -> None:
    """Append causes for label keys and values that are not valid at `path`."""
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        for err in qualified_name(str(key)):
            causes.append(invalid_value(path, key, err))
        if not isinstance(value, str):
            causes.append(invalid_value(path, value, "label values must be strings"))
            continue
        for err in label_value(value):
            causes.append(invalid_value(path, value, err))


def _metadata(causes: list[FieldCause], obj: dict, rt: ResourceType) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        causes.append(required("metadata.name", "name or generateName is required"))
        return
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            causes.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        causes.append(invalid_value("metadata.name", name, "name must be a string"))
    else:
        for err in _name_errors(rt, name):
            causes.append(invalid_value("metadata.name", name, err))
    namespace = meta.get("namespace")
    if rt.namespaced and isinstance(namespace, str) and namespace:
        for err in dns1123_label(namespace):
            causes.append(invalid_value("metadata.namespace", namespace, err))
    elif not rt.namespaced and namespace:
        causes.append(forbidden_field("metadata.namespace", "not allowed on this type"))
    validate_labels(causes, "metadata.labels", meta.get("labels"))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            for err in qualified_name(str(key)):
                causes.append(invalid_value("metadata.annotations", key, err))
            total += len(str(key)) + len(str(value))
        if total > MAX_ANNOTATIONS_BYTES:
            causes.append(
                FieldCause(
                    "metadata.annotations",
                    f"Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes",
                    "FieldValueTooLong",
                )
            )
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        for err in qualified_name(str(finalizer)):
            causes.append(invalid_value(f"metadata.finalizers[{i}]", finalizer, err))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        if not isinstance(ref, dict):
            continue
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                causes.append(required(f"metadata.ownerReferences[{i}].{field}"))


def _metadata_update(causes: list[FieldCause], obj: dict, old: dict) -> None:
    meta = obj.get("metadata") or {}
    old_meta = old.get("metadata") or {}
    for field in ("name", "namespace", "uid", "creationTimestamp"):
        if old_meta.get(field) and meta.get(field) and meta.get(field) != old_meta.get(field):
            causes.append(immutable(f"metadata.{field}", meta.get(field)))


# ---------------------------------------------------------------------------- pods

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_TAINT_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"]
_IANA_SVC_NAME = r"[-a-z0-9]+"


def _port_number(causes: list[FieldCause], path: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        causes.append(invalid_value(path, value, "must be between 1 and 65535, inclusive"))


def _port_name(causes: list[FieldCause], path: str, name: Any) -> None:
    if not isinstance(name, str):
        return
    if len(name) > 15:
        causes.append(invalid_value(path, name, "must be no more than 15 characters"))
    elif not _full(_IANA_SVC_NAME).match(name) or not re.search("[a-z]", name):
        causes.append(
            invalid_value(
                path,
                name,
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                if not _full(_IANA_SVC_NAME).match(name)
                else "must contain at least one letter (a-z)",
            )
        )


def _container(
    causes: list[FieldCause], path: str, c: Any, volumes: set[str], names: set[str]
) -> None:
    if not isinstance(c, dict):
        causes.append(invalid_value(path, c, "must be an object"))
        return
    name = c.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    elif isinstance(name, str):
        for err in dns1123_label(name):
            causes.append(invalid_value(f"{path}.name", name, err))
        if name in names:
            causes.append(duplicate(f"{path}.name", name))
        names.add(name)
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", policy, _PULL_POLICIES))
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(c.get("ports") or []):
        ppath = f"{path}.ports[{i}]"
        if not isinstance(port, dict):
            continue
        if "containerPort" not in port:
            causes.append(required(f"{ppath}.containerPort"))
        else:
            _port_number(causes, f"{ppath}.containerPort", port["containerPort"])
        if "hostPort" in port and port["hostPort"] != 0:
            _port_number(causes, f"{ppath}.hostPort", port["hostPort"])
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            causes.append(not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        if "name" in port:
            _port_name(causes, f"{ppath}.name", port["name"])
        key = (port.get("containerPort"), protocol)
        if key in seen_ports:
            causes.append(duplicate(ppath, port))
        seen_ports.add(key)
    resources = c.get("resources") or {}
    if isinstance(resources, dict):
        limits = _resource_list(causes, f"{path}.resources.limits", resources.get("limits"))
        requests = _resource_list(causes, f"{path}.resources.requests", resources.get("requests"))
        for resource, amount in requests.items():
            if resource in limits and amount > limits[resource]:
                causes.append(
                    invalid_value(
                        f"{path}.resources.requests",
                        str((resources.get("requests") or {}).get(resource)),
                        f"must be less than or equal to {resource} limit of "
                        f"{(resources.get('limits') or {}).get(resource)}",
                    )
                )
    for i, mount in enumerate(c.get("volumeMounts") or []):
        if not isinstance(mount, dict):
            continue
        mpath = f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            causes.append(required(f"{mpath}.name"))
        elif mount["name"] not in volumes:
            causes.append(
                FieldCause(
                    f"{mpath}.name", f"Not found: {go_value(mount['name'])}", "FieldValueNotFound"
                )
            )
        if not mount.get("mountPath"):
            causes.append(required(f"{mpath}.mountPath"))
    env_names: set[str] = set()
    for i, env in enumerate(c.get("env") or []):
        if isinstance(env, dict) and not env.get("name"):
            causes.append(required(f"{path}.env[{i}].name"))
        elif isinstance(env, dict):
            env_names.add(env["name"])


def validate_pod_spec(
    causes: list[FieldCause], path: str, spec: Any, extra_volumes: set[str] | None = None
) -> None:
    """Validate a PodSpec at `path` (`spec`, `spec.template.spec`, ...). `extra_volumes`
    are names mounts may use besides the pod's volumes (a StatefulSet's
    volumeClaimTemplates, which the controller turns into volumes)."""
    if not isinstance(spec, dict):
        causes.append(required(path))
        return
    volumes: set[str] = set(extra_volumes or ())
    for i, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        vname = volume.get("name")
        vpath = f"{path}.volumes[{i}]"
        if not vname:
            causes.append(required(f"{vpath}.name"))
            continue
        for err in dns1123_label(str(vname)):
            causes.append(invalid_value(f"{vpath}.name", vname, err))
        if vname in volumes:
            causes.append(duplicate(f"{vpath}.name", vname))
        volumes.add(str(vname))
    containers = spec.get("containers")
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(key) or []):
            _container(causes, f"{path}.{key}[{i}]", container, volumes, names)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in _RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", policy, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS_POLICIES:
        causes.append(not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        causes.append(
            invalid_value(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        causes.append(
            invalid_value(
                f"{path}.activeDeadlineSeconds",
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )
    validate_labels(causes, f"{path}.nodeSelector", spec.get("nodeSelector"))
    for i, tol in enumerate(spec.get("tolerations") or []):
        if not isinstance(tol, dict):
            continue
        tpath = f"{path}.tolerations[{i}]"
        operator = tol.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            causes.append(not_supported(f"{tpath}.operator", operator, ["Equal", "Exists"]))
        if operator == "Exists" and tol.get("value"):
            causes.append(
                invalid_value(
                    f"{tpath}.operator", operator, "value must be empty when `operator` is 'Exists'"
                )
            )
        if not tol.get("key") and operator != "Exists":
            causes.append(
                invalid_value(
                    f"{tpath}.operator",
                    operator,
                    "operator must be Exists when `key` is empty, which means "
                    '"match all values and all keys"',
                )
            )
        effect = tol.get("effect")
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(f"{tpath}.effect", effect, _TAINT_EFFECTS))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                invalid_value(
                    f"{tpath}.effect",
                    effect or "",
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
    priority_class = spec.get("priorityClassName")
    if isinstance(priority_class, str) and priority_class:
        for err in dns1123_subdomain(priority_class):
            causes.append(invalid_value(f"{path}.priorityClassName", priority_class, err))


# The message of ValidatePodUpdate for a change outside the mutable fields (1.3x).
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _pod_update(causes: list[FieldCause], spec: Any, old_spec: Any) -> None:
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    mutable = json.loads(json.dumps(spec))
    reference = json.loads(json.dumps(old_spec))
    for key in ("containers", "initContainers"):
        new_list = mutable.get(key) or []
        old_list = reference.get(key) or []
        if len(new_list) == len(old_list):
            for new_c, old_c in zip(new_list, old_list, strict=True):
                if isinstance(new_c, dict) and isinstance(old_c, dict):
                    new_c["image"] = old_c.get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates"):
        mutable.pop(key, None)
        reference.pop(key, None)
    old_tolerations = reference.pop("tolerations", None) or []
    new_tolerations = mutable.pop("tolerations", None) or []
    # Only additions: every old toleration is still there.
    for tol in old_tolerations:
        if tol not in new_tolerations:
            causes.append(
                forbidden_field(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
            break
    old_deadline = old_spec.get("activeDeadlineSeconds")
    new_deadline = spec.get("activeDeadlineSeconds")
    if old_deadline is not None and (new_deadline is None or new_deadline > old_deadline):
        causes.append(
            invalid_value(
                "spec.activeDeadlineSeconds",
                new_deadline,
                "must be less than or equal to previous value",
            )
        )
    if mutable != reference:
        causes.append(forbidden_field("spec", POD_UPDATE_FORBIDDEN))


# ---------------------------------------------------------------------------- workloads


def _selector_matches(selector: dict, labels: dict) -> bool:
    from app.sim.machinery.selectors import selector_from_object

    try:
        return selector_from_object(selector).matches(labels)
    except ApiError:
        return False


def _label_selector(causes: list[FieldCause], path: str, selector: Any) -> None:
    if not isinstance(selector, dict):
        return
    validate_labels(causes, f"{path}.matchLabels", selector.get("matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        epath = f"{path}.matchExpressions[{i}]"
        operator = expr.get("operator")
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(
                not_supported(
                    f"{epath}.operator", operator, ["In", "NotIn", "Exists", "DoesNotExist"]
                )
            )
        elif operator in ("In", "NotIn") and not expr.get("values"):
            causes.append(
                required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif operator in ("Exists", "DoesNotExist") and expr.get("values"):
            causes.append(
                forbidden_field(
                    f"{epath}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )


def _nonnegative(causes: list[FieldCause], path: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        causes.append(invalid_value(path, value, "must be greater than or equal to 0"))


def _go_selector(selector: Any) -> str:
    labels = (selector or {}).get("matchLabels") if isinstance(selector, dict) else None
    rendered = json.dumps(labels or {}, sort_keys=True)
    return f"v1.LabelSelector{{MatchLabels:map[string]string{rendered}}}"


def _workload(causes: list[FieldCause], obj: dict, rt: ResourceType, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    kind = rt.kind
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        _nonnegative(causes, f"spec.{field}", spec.get(field))
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, dict):
        causes.append(required("spec.selector"))
    else:
        _label_selector(causes, "spec.selector", selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                invalid_value(
                    "spec.selector",
                    _go_selector(selector),
                    f"empty selector is invalid for {kind.lower()}",
                )
            )
    if not isinstance(template, dict):
        causes.append(required("spec.template"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        validate_labels(causes, "spec.template.metadata.labels", labels)
        selects = isinstance(selector, dict) and bool(
            selector.get("matchLabels") or selector.get("matchExpressions")
        )
        if selects and not _selector_matches(selector, labels):
            causes.append(
                invalid_value(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        pod_spec = template.get("spec")
        claims: set[str] = set()
        if kind == "StatefulSet":
            # Upstream validates the template with the claim templates added as volumes
            # (apps validation: ValidatePodTemplateSpecForStatefulSet).
            claims = {
                str((t.get("metadata") or {}).get("name"))
                for t in spec.get("volumeClaimTemplates") or []
                if isinstance(t, dict) and (t.get("metadata") or {}).get("name")
            }
        validate_pod_spec(causes, "spec.template.spec", pod_spec, claims)
        if isinstance(pod_spec, dict):
            policy = pod_spec.get("restartPolicy", "Always")
            if policy != "Always":
                causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if kind == "Deployment":
        strategy = spec.get("strategy") or {}
        if isinstance(strategy, dict):
            stype = strategy.get("type", "RollingUpdate")
            if stype not in ("Recreate", "RollingUpdate"):
                causes.append(
                    not_supported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"])
                )
            rolling = strategy.get("rollingUpdate")
            if stype == "Recreate" and rolling:
                causes.append(
                    forbidden_field(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    )
                )
            if isinstance(rolling, dict):
                surge = rolling.get("maxSurge")
                unavailable = rolling.get("maxUnavailable")
                if surge in (0, "0%") and unavailable in (0, "0%"):
                    causes.append(
                        invalid_value(
                            "spec.strategy.rollingUpdate.maxUnavailable",
                            unavailable,
                            "may not be 0 when `maxSurge` is 0",
                        )
                    )
    if old is not None and isinstance(old.get("spec"), dict):
        old_spec = old["spec"]
        if rt.group == "apps" and old_spec.get("selector") != spec.get("selector"):
            causes.append(
                invalid_value(
                    "spec.selector", _go_selector(spec.get("selector")), "field is immutable"
                )
            )
        if kind == "StatefulSet":
            allowed = {
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            }
            if {k: v for k, v in spec.items() if k not in allowed} != {
                k: v for k, v in old_spec.items() if k not in allowed
            }:
                causes.append(
                    forbidden_field(
                        "spec",
                        "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                        "'template', 'updateStrategy', 'revisionHistoryLimit', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden",
                    )
                )


def _job_spec(causes: list[FieldCause], path: str, spec: Any, old_spec: Any) -> None:
    if not isinstance(spec, dict):
        causes.append(required(path))
        return
    for field in (
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ):
        _nonnegative(causes, f"{path}.{field}", spec.get(field))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(required(f"{path}.template"))
        return
    pod_spec = template.get("spec")
    validate_pod_spec(causes, f"{path}.template.spec", pod_spec)
    if isinstance(pod_spec, dict):
        policy = pod_spec.get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            if policy is None:
                causes.append(
                    required(
                        f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'
                    )
                )
            else:
                causes.append(
                    not_supported(
                        f"{path}.template.spec.restartPolicy", policy, ["OnFailure", "Never"]
                    )
                )
    selector = spec.get("selector")
    if spec.get("manualSelector") and not isinstance(selector, dict):
        causes.append(required(f"{path}.selector"))
    if isinstance(selector, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not _selector_matches(selector, labels):
            causes.append(
                invalid_value(
                    f"{path}.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    if isinstance(old_spec, dict):
        if old_spec.get("selector") and old_spec.get("selector") != spec.get("selector"):
            causes.append(
                invalid_value(f"{path}.selector", _go_selector(selector), "field is immutable")
            )
        if old_spec.get("completions") != spec.get("completions"):
            causes.append(immutable(f"{path}.completions", spec.get("completions")))
        old_template = json.loads(json.dumps(old_spec.get("template") or {}))
        new_template = json.loads(json.dumps(template))
        if old_template != new_template:
            causes.append(
                invalid_value(f"{path}.template", "core.PodTemplateSpec{...}", "field is immutable")
            )


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(
    r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$"
)


def cron_schedule_error(schedule: str) -> str | None:
    """Why a CronJob schedule does not parse (robfig/cron standard syntax), or None."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text in _CRON_MACROS or text.startswith("@every "):
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"unparseable schedule: expected exactly 5 fields, found {len(fields)}: {schedule}"
    for f in fields:
        if not _CRON_FIELD.match(f):
            return f"unparseable schedule: failed to parse int from {f}"
    return None


# ---------------------------------------------------------------------------- services

_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if stype == "ExternalName":
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
    elif not ports and not headless:
        causes.append(required("spec.ports"))
    names: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        ppath = f"spec.ports[{i}]"
        if len(ports) > 1 and not port.get("name"):
            causes.append(required(f"{ppath}.name"))
        name = port.get("name")
        if name:
            for err in dns1123_label(str(name)):
                causes.append(invalid_value(f"{ppath}.name", name, err))
            if name in names:
                causes.append(duplicate(f"{ppath}.name", name))
            names.add(name)
        if "port" not in port:
            causes.append(required(f"{ppath}.port"))
        else:
            _port_number(causes, f"{ppath}.port", port["port"])
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            causes.append(not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        key = (port.get("port"), protocol)
        if key in keys:
            causes.append(duplicate(ppath, port))
        keys.add(key)
        target = port.get("targetPort")
        if isinstance(target, int):
            _port_number(causes, f"{ppath}.targetPort", target)
        elif isinstance(target, str) and target:
            _port_name(causes, f"{ppath}.targetPort", target)
        node_port = port.get("nodePort")
        if node_port:
            if stype not in ("NodePort", "LoadBalancer"):
                causes.append(
                    forbidden_field(
                        f"{ppath}.nodePort", "may not be used when `type` is 'ClusterIP'"
                    )
                )
            elif isinstance(node_port, int) and not 30000 <= node_port <= 32767:
                causes.append(
                    invalid_value(
                        f"{ppath}.nodePort",
                        node_port,
                        "provided port is not in the valid range. The range of valid ports is "
                        "30000-32767",
                    )
                )
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    selector = spec.get("selector")
    validate_labels(causes, "spec.selector", selector)
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = spec.get("clusterIP")
        if (
            old_ip
            and new_ip != old_ip
            and stype != "ExternalName"
            and (old.get("spec") or {}).get("type") != "ExternalName"
        ):
            causes.append(
                invalid_value(
                    "spec.clusterIPs[0]", [new_ip] if new_ip else [], "may not change once set"
                )
            )


# ---------------------------------------------------------------------------- config


def _config_data(causes: list[FieldCause], obj: dict, old: dict | None, secret: bool) -> None:
    total = 0
    seen: set[str] = set()
    for field in ("data", "stringData", "binaryData"):
        data = obj.get(field)
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            if not _full(CONFIG_KEY).match(str(key)):
                causes.append(invalid_value(f"{field}[{key}]", key, CONFIG_KEY_MSG))
            if len(str(key)) > 253:
                causes.append(
                    invalid_value(f"{field}[{key}]", key, "must be no more than 253 characters")
                )
            if not secret and field in ("data", "binaryData") and key in seen:
                causes.append(
                    invalid_value(
                        f"{field}[{key}]",
                        key,
                        "duplicate of key present in "
                        + ("binaryData" if field == "data" else "data"),
                    )
                )
            seen.add(str(key))
            if secret and field == "data" and isinstance(value, str):
                try:
                    raw = base64.b64decode(value, validate=True)
                    total += len(raw)
                except (binascii.Error, ValueError):
                    causes.append(
                        invalid_value(
                            f"data[{key}]", "<secret contents redacted>", "illegal base64 data"
                        )
                    )
            else:
                total += len(str(value))
    if total > MAX_SECRET_BYTES:
        causes.append(
            FieldCause(
                "data", f"Too long: must have at most {MAX_SECRET_BYTES} bytes", "FieldValueTooLong"
            )
        )
    if old is not None and old.get("immutable") is True:
        for field in ("data", "binaryData"):
            if obj.get(field) != old.get(field):
                causes.append(forbidden_field(field, "field is immutable when `immutable` is set"))
        if obj.get("immutable") is not True:
            causes.append(
                forbidden_field("immutable", "field is immutable when `immutable` is set")
            )
    if secret and old is not None and old.get("type") and obj.get("type") != old.get("type"):
        causes.append(immutable("type", obj.get("type")))


# ---------------------------------------------------------------------------- rbac


def _rules(causes: list[FieldCause], rules: Any, namespaced: bool) -> None:
    for i, rule in enumerate(rules or []):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            continue
        if not rule.get("verbs"):
            causes.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs")
        if urls:
            if namespaced:
                causes.append(
                    invalid_value(
                        f"{path}.nonResourceURLs",
                        urls,
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if rule.get("apiGroups") or rule.get("resources"):
                causes.append(
                    invalid_value(
                        f"{path}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            causes.append(
                required(f"{path}.apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            causes.append(
                required(f"{path}.resources", "resource rules must supply at least one resource")
            )


def _binding(causes: list[FieldCause], obj: dict, rt: ResourceType, old: dict | None) -> None:
    ref = obj.get("roleRef")
    cluster = rt.kind == "ClusterRoleBinding"
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if not isinstance(ref, dict):
        causes.append(required("roleRef"))
    else:
        if ref.get("apiGroup") not in (None, "rbac.authorization.k8s.io"):
            causes.append(
                not_supported(
                    "roleRef.apiGroup", ref.get("apiGroup"), ["rbac.authorization.k8s.io"]
                )
            )
        if ref.get("kind") not in kinds:
            causes.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
        if not ref.get("name"):
            causes.append(required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        if not isinstance(subject, dict):
            continue
        path = f"subjects[{i}]"
        kind = subject.get("kind")
        if kind not in ("Group", "ServiceAccount", "User"):
            causes.append(
                not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"])
            )
        if not subject.get("name"):
            causes.append(required(f"{path}.name"))
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(not_supported(f"{path}.apiGroup", subject["apiGroup"], [""]))
            if cluster and not subject.get("namespace"):
                causes.append(required(f"{path}.namespace"))
        elif kind in ("User", "Group") and subject.get("apiGroup") not in (
            None,
            "rbac.authorization.k8s.io",
        ):
            causes.append(
                not_supported(
                    f"{path}.apiGroup", subject.get("apiGroup"), ["rbac.authorization.k8s.io"]
                )
            )
    if old is not None and isinstance(old.get("roleRef"), dict) and old["roleRef"] != ref:
        causes.append(invalid_value("roleRef", "rbac.RoleRef{...}", "cannot change roleRef"))


# ---------------------------------------------------------------------------- others


def _priority_class(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    value = obj.get("value")
    if value is None:
        causes.append(required("value"))
    system = name in ("system-node-critical", "system-cluster-critical")
    if name.startswith("system-") and not system:
        causes.append(
            invalid_value(
                "metadata.name", name, "priority class names with 'system-' prefix are reserved"
            )
        )
    if isinstance(value, int) and value > HIGHEST_USER_PRIORITY and not system:
        causes.append(
            forbidden_field(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        causes.append(not_supported("preemptionPolicy", policy, ["Never", "PreemptLowerPriority"]))
    if old is not None:
        if old.get("value") != value:
            causes.append(forbidden_field("value", "may not be changed in an update."))
        if old.get("preemptionPolicy") != obj.get("preemptionPolicy"):
            causes.append(immutable("preemptionPolicy", policy))


def _limit_range(causes: list[FieldCause], obj: dict) -> None:
    for i, item in enumerate(((obj.get("spec") or {}).get("limits")) or []):
        if not isinstance(item, dict):
            continue
        path = f"spec.limits[{i}]"
        ltype = item.get("type")
        if ltype not in ("Container", "Pod", "PersistentVolumeClaim"):
            causes.append(
                not_supported(
                    f"{path}.type", ltype or "", ["Container", "Pod", "PersistentVolumeClaim"]
                )
            )
        values = {
            key: _resource_list(causes, f"{path}.{key}", item.get(key))
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        }
        for name, amount in values["default"].items():
            if name in values["max"] and amount > values["max"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.default[{name}]",
                        str(item["default"][name]),
                        f"default value {item['default'][name]} is greater than max value "
                        f"{item['max'][name]}",
                    )
                )
        for name, amount in values["defaultRequest"].items():
            if name in values["default"] and amount > values["default"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.defaultRequest[{name}]",
                        str(item["defaultRequest"][name]),
                        f"default request value {item['defaultRequest'][name]} is greater than "
                        f"default limit value {item['default'][name]}",
                    )
                )
            if name in values["min"] and amount < values["min"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.defaultRequest[{name}]",
                        str(item["defaultRequest"][name]),
                        f"min value {item['min'][name]} is greater than default request value "
                        f"{item['defaultRequest'][name]}",
                    )
                )
        for name, amount in values["min"].items():
            if name in values["max"] and amount > values["max"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.min[{name}]",
                        str(item["min"][name]),
                        f"min value {item['min'][name]} is greater than max value "
                        f"{item['max'][name]}",
                    )
                )


def _pvc(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    modes = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes", "at least 1 access mode is required"))
    for i, mode in enumerate(spec.get("accessModes") or []):
        if mode not in modes:
            causes.append(not_supported(f"spec.accessModes[{i}]", mode, modes))
    requests = ((spec.get("resources") or {}).get("requests")) or {}
    if "storage" not in requests:
        causes.append(required("spec.resources[storage]"))
    else:
        _resource_list(causes, "spec.resources.requests", requests)
    if old is not None and isinstance(old.get("spec"), dict):
        old_storage = (((old["spec"].get("resources") or {}).get("requests")) or {}).get("storage")
        try:
            shrinks = "storage" in requests and parse_quantity(requests["storage"]) < (
                parse_quantity(old_storage)
            )
        except ValueError:
            shrinks = False
        if shrinks:
            causes.append(
                forbidden_field(
                    "spec.resources.requests.storage", "field can not be less than previous value"
                )
            )
        strip = ("resources", "volumeAttributesClassName", "volumeName")
        if {k: v for k, v in spec.items() if k not in strip} != {
            k: v for k, v in old["spec"].items() if k not in strip
        }:
            causes.append(
                forbidden_field(
                    "spec",
                    "spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims",
                )
            )


def _pv(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes"))
    capacity = spec.get("capacity") or {}
    if "storage" not in capacity:
        causes.append(required("spec.capacity", "must specify storage"))
    else:
        _resource_list(causes, "spec.capacity", capacity)
    reclaim = spec.get("persistentVolumeReclaimPolicy")
    if reclaim is not None and reclaim not in ("Delete", "Recycle", "Retain"):
        causes.append(
            not_supported(
                "spec.persistentVolumeReclaimPolicy", reclaim, ["Delete", "Recycle", "Retain"]
            )
        )


def _quota(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec") or {}
    if isinstance(spec, dict):
        _resource_list(causes, "spec.hard", spec.get("hard"))


def _ingress(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return
    if not spec.get("rules") and not spec.get("defaultBackend"):
        causes.append(
            invalid_value(
                "spec",
                "networking.IngressSpec{...}",
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    types = ["Exact", "ImplementationSpecific", "Prefix"]
    for i, rule in enumerate(spec.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        for j, path in enumerate(((rule.get("http") or {}).get("paths")) or []):
            if not isinstance(path, dict):
                continue
            ppath = f"spec.rules[{i}].http.paths[{j}]"
            ptype = path.get("pathType")
            if ptype is None:
                causes.append(required(f"{ppath}.pathType", "pathType must be specified"))
            elif ptype not in types:
                causes.append(not_supported(f"{ppath}.pathType", ptype, types))
            elif ptype in ("Exact", "Prefix") and not str(path.get("path", "")).startswith("/"):
                causes.append(
                    invalid_value(f"{ppath}.path", path.get("path", ""), "must be an absolute path")
                )
            backend = path.get("backend")
            if not isinstance(backend, dict) or not (
                backend.get("service") or backend.get("resource")
            ):
                causes.append(
                    invalid_value(
                        f"{ppath}.backend",
                        "networking.IngressBackend{...}",
                        "one backend must be specified",
                    )
                )


def _crd(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    if not group:
        causes.append(required("spec.group"))
    elif "." not in group:
        causes.append(
            invalid_value("spec.group", group, "should be a domain with at least one dot")
        )
    if not names.get("plural"):
        causes.append(required("spec.names.plural"))
    if not names.get("kind"):
        causes.append(required("spec.names.kind"))
    name = (obj.get("metadata") or {}).get("name")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        causes.append(
            invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            required("spec.versions", "must have exactly one version marked as storage version")
        )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(
            invalid_value(
                "spec.versions",
                versions and "[...]",
                "must have exactly one version marked as storage version",
            )
        )
    for i, version in enumerate(versions):
        if isinstance(version, dict) and not ((version.get("schema") or {}).get("openAPIV3Schema")):
            causes.append(
                required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")
            )


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


# ---------------------------------------------------------------------------- entry points


def validate_object(
    obj: dict, rt: ResourceType, old: dict | None = None, *, subresource: str = ""
) -> list[FieldCause]:
    """Every rule `obj` (of kind `rt`) breaks, as FieldCauses with upstream paths and
    messages; `old` is the stored object on update (immutability rules). A write to
    the status subresource only checks metadata. Never raises."""
    causes: list[FieldCause] = []
    if not isinstance(obj, dict):
        return [invalid_value("", "object", "must be an object")]
    _metadata(causes, obj, rt)
    if old is not None:
        _metadata_update(causes, obj, old)
    if subresource:
        return causes
    key = (rt.group, rt.kind)
    old_spec = (old or {}).get("spec")
    if rt.custom:
        if rt.schema:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            schema = (
                {k: v for k, v in rt.schema.items() if k != "required"}
                if isinstance(rt.schema, dict)
                else {}
            )
            props = {
                k: v
                for k, v in (schema.get("properties") or {}).items()
                if k not in ("apiVersion", "kind", "metadata")
            }
            validate_against_schema(
                causes,
                body,
                {
                    **schema,
                    "properties": props,
                    "required": [
                        r
                        for r in (rt.schema.get("required") or [])
                        if r not in ("apiVersion", "kind", "metadata")
                    ],
                },
                "",
            )
    elif key == ("", "Pod"):
        validate_pod_spec(causes, "spec", obj.get("spec"))
        if old is not None:
            _pod_update(causes, obj.get("spec"), old_spec)
    elif key == ("", "PodTemplate"):
        validate_pod_spec(causes, "template.spec", (obj.get("template") or {}).get("spec"))
    elif key in (
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
    ):
        _workload(causes, obj, rt, old)
    elif key == ("batch", "Job"):
        _job_spec(causes, "spec", obj.get("spec"), old_spec)
    elif key == ("batch", "CronJob"):
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            causes.append(required("spec"))
        else:
            schedule = spec.get("schedule")
            if not schedule:
                causes.append(required("spec.schedule"))
            else:
                error = cron_schedule_error(str(schedule))
                if error:
                    causes.append(invalid_value("spec.schedule", schedule, error))
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy not in ("Allow", "Forbid", "Replace"):
                causes.append(
                    not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"])
                )
            job_template = spec.get("jobTemplate")
            if not isinstance(job_template, dict):
                causes.append(required("spec.jobTemplate"))
            else:
                _job_spec(causes, "spec.jobTemplate.spec", job_template.get("spec"), None)
    elif key == ("", "Service"):
        _service(causes, obj, old)
    elif key == ("", "ConfigMap"):
        _config_data(causes, obj, old, secret=False)
    elif key == ("", "Secret"):
        _config_data(causes, obj, old, secret=True)
    elif key in (
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    ):
        _rules(causes, obj.get("rules"), namespaced=rt.kind == "Role")
    elif key in (
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ):
        _binding(causes, obj, rt, old)
    elif key == ("scheduling.k8s.io", "PriorityClass"):
        _priority_class(causes, obj, old)
    elif key == ("", "LimitRange"):
        _limit_range(causes, obj)
    elif key == ("", "ResourceQuota"):
        _quota(causes, obj)
    elif key == ("", "PersistentVolumeClaim"):
        _pvc(causes, obj, old)
    elif key == ("", "PersistentVolume"):
        _pv(causes, obj)
    elif key == ("networking.k8s.io", "Ingress"):
        _ingress(causes, obj)
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        _crd(causes, obj)
    elif key == ("policy", "PodDisruptionBudget"):
        spec = obj.get("spec") or {}
        if isinstance(spec, dict):
            if "minAvailable" in spec and "maxUnavailable" in spec:
                causes.append(
                    invalid_value(
                        "spec",
                        "policy.PodDisruptionBudgetSpec{...}",
                        "minAvailable and maxUnavailable cannot be both set",
                    )
                )
            _label_selector(causes, "spec.selector", spec.get("selector"))
    elif key == ("networking.k8s.io", "NetworkPolicy"):
        spec = obj.get("spec") or {}
        if isinstance(spec, dict):
            _label_selector(causes, "spec.podSelector", spec.get("podSelector"))
            for i, ptype in enumerate(spec.get("policyTypes") or []):
                if ptype not in ("Ingress", "Egress"):
                    causes.append(
                        not_supported(f"spec.policyTypes[{i}]", ptype, ["Ingress", "Egress"])
                    )
    return causes


def validate_or_raise(
    obj: dict, rt: ResourceType, old: dict | None = None, *, subresource: str = ""
) -> None:
    """Raise the upstream 422 Invalid Status (`Kind "name" is invalid: ...`) when
    `validate` finds anything."""
    causes = validate_object(obj, rt, old, subresource=subresource)
    if causes:
        name = str(((obj.get("metadata") or {}) if isinstance(obj, dict) else {}).get("name") or "")
        raise invalid(rt.kind, name, causes, rt.group)


def validate(ctx: Any, obj: dict, old: dict | None) -> list[FieldCause]:
    """The validation stage of the request pipeline: type checks (400), unknown
    fields per `ctx.field_validation` (400 for Strict, warnings appended to
    `ctx.warnings` for Warn), then the field rules, returned as causes for the
    caller's 422. `ctx` needs `rt`, `registry`, `subresource`, `field_validation`
    and `warnings`."""
    rt: ResourceType = ctx.rt
    registry = getattr(ctx, "registry", None)
    check_types(obj, rt, registry)
    warnings = check_unknown_fields(obj, rt, getattr(ctx, "field_validation", "") or "", registry)
    ctx.warnings.extend(warnings)
    return validate_object(obj, rt, old, subresource=getattr(ctx, "subresource", "") or "")

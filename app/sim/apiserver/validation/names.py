"""Name and value rules (apimachinery's util/validation: DNS labels and subdomains,
qualified names, label values) and the `FieldCause` builders the validators share.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.sim.machinery.errors import FieldCause

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

"""ConfigMaps and Secrets: keys, sizes, immutability."""

from __future__ import annotations

import base64
import binascii
import json

from app.sim.apiserver.validation.names import (
    CONFIG_KEY,
    CONFIG_KEY_MSG,
    MAX_SECRET_BYTES,
    _full,
    forbidden_field,
    immutable,
    invalid_value,
    required,
)
from app.sim.machinery.errors import FieldCause

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


# Keys each built-in Secret type requires (pkg/apis/core/validation ValidateSecret).
_DOCKER_JSON = {
    "kubernetes.io/dockercfg": ".dockercfg",
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
}


def _secret_bytes(obj: dict, key: str) -> bytes | None:
    """The value of `key` as the API sees it after stringData is merged into data."""
    string_data = obj.get("stringData")
    if isinstance(string_data, dict) and isinstance(string_data.get(key), str):
        return str(string_data[key]).encode()
    data = obj.get("data")
    if not isinstance(data, dict) or key not in data:
        return None
    try:
        return base64.b64decode(str(data[key] or ""), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _json_error(raw: bytes) -> str | None:
    """encoding/json's error for a payload that is not a JSON object, else None."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return "unexpected end of JSON input"
        return f"invalid character {text[0]!r} looking for beginning of value"
    if value is None or isinstance(value, dict):
        return None
    go_type = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    return f"json: cannot unmarshal {go_type} into Go value of type map[string]interface {{}}"


def secret_type(causes: list[FieldCause], obj: dict) -> None:
    """The keys a typed Secret must hold, with upstream's field paths."""
    kind = obj.get("type")
    have = lambda key: _secret_bytes(obj, key) is not None  # noqa: E731
    if kind == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in _DOCKER_JSON:
        key = _DOCKER_JSON[str(kind)]
        raw = _secret_bytes(obj, key)
        if raw is None:
            causes.append(required(f"data[{key}]"))
        elif (error := _json_error(raw)) is not None:
            causes.append(invalid_value(f"data[{key}]", "<secret contents redacted>", error))
    elif kind == "kubernetes.io/basic-auth":
        if not have("username") and not have("password"):
            causes.extend([required("data[username]"), required("data[password]")])
    elif kind == "kubernetes.io/ssh-auth":
        if not _secret_bytes(obj, "ssh-privatekey"):
            causes.append(required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        causes.extend(required(f"data[{key}]") for key in ("tls.crt", "tls.key") if not have(key))

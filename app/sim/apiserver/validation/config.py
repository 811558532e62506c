"""ConfigMaps and Secrets: keys, sizes, immutability."""

from __future__ import annotations

import base64
import binascii

from app.sim.apiserver.validation.names import (
    CONFIG_KEY,
    CONFIG_KEY_MSG,
    MAX_SECRET_BYTES,
    _full,
    forbidden_field,
    immutable,
    invalid_value,
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

"""Printers for Namespaces, Secrets, ConfigMaps and ServiceAccounts."""

from __future__ import annotations

from datetime import datetime

from app.sim.apiserver.printers.format import AGE_COL, NAME_COL, Obj, Row, _age, _name, _status, col


def _namespace_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _status(obj).get("phase", ""), _age(obj, now)], None


NAMESPACE_COLUMNS = [
    NAME_COL,
    col("Status", description="The status of the namespace"),
    AGE_COL,
]


def _secret_row(obj: Obj, now: datetime) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("stringData") or {})
    return [_name(obj), obj.get("type", ""), data, _age(obj, now)], None


SECRET_COLUMNS = [
    NAME_COL,
    col("Type", description="The type of the secret"),
    col("Data", "integer", "The number of entries in the secret"),
    AGE_COL,
]


def _configmap_row(obj: Obj, now: datetime) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_name(obj), data, _age(obj, now)], None


CONFIGMAP_COLUMNS = [
    NAME_COL,
    col("Data", "integer", "Number of data in configmap"),
    AGE_COL,
]


def _serviceaccount_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), len(obj.get("secrets") or []), _age(obj, now)], None


SERVICEACCOUNT_COLUMNS = [
    NAME_COL,
    col(
        "Secrets",
        "integer",
        "Secrets is the list of secrets allowed to be used by pods "
        "running using this ServiceAccount.",
    ),
    AGE_COL,
]

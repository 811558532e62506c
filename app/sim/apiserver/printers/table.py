"""The printer table by kind, custom resources' additionalPrinterColumns, and
`to_table`, which renders a `meta.k8s.io/v1 Table`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from app.sim.apiserver.printers.apis import PRINTERS as API_PRINTERS
from app.sim.apiserver.printers.autoscaling import (
    API_SERVICE_COLUMNS,
    HPA_COLUMNS,
    METRICS_COLUMNS,
    _api_service_row,
    _hpa_row,
    _node_metrics_row,
    _pod_metrics_row,
)
from app.sim.apiserver.printers.cluster import (
    BINDING_COLUMNS,
    CONTROLLERREVISION_COLUMNS,
    CREATED_COLUMNS,
    EVENT_COLUMNS,
    LEASE_COLUMNS,
    PDB_COLUMNS,
    PODTEMPLATE_COLUMNS,
    PRIORITYCLASS_COLUMNS,
    RESOURCEQUOTA_COLUMNS,
    WEBHOOK_COLUMNS,
    _binding_row,
    _controllerrevision_row,
    _created_row,
    _event_row,
    _lease_row,
    _pdb_row,
    _podtemplate_row,
    _priorityclass_row,
    _resourcequota_row,
    _webhook_row,
)
from app.sim.apiserver.printers.config import (
    CONFIGMAP_COLUMNS,
    NAMESPACE_COLUMNS,
    SECRET_COLUMNS,
    SERVICEACCOUNT_COLUMNS,
    _configmap_row,
    _namespace_row,
    _secret_row,
    _serviceaccount_row,
)
from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Column,
    Obj,
    Row,
    RowFunc,
    _age,
    _int,
    _meta,
    _name,
    col,
    since,
)
from app.sim.apiserver.printers.network import (
    ENDPOINTS_COLUMNS,
    ENDPOINTSLICE_COLUMNS,
    INGRESS_COLUMNS,
    INGRESSCLASS_COLUMNS,
    NETWORKPOLICY_COLUMNS,
    SERVICE_COLUMNS,
    _endpoints_row,
    _endpointslice_row,
    _ingress_row,
    _ingressclass_row,
    _networkpolicy_row,
    _service_row,
)
from app.sim.apiserver.printers.storage import (
    PV_COLUMNS,
    PVC_COLUMNS,
    STORAGECLASS_COLUMNS,
    _pv_row,
    _pvc_row,
    _storageclass_row,
)
from app.sim.apiserver.printers.workloads import (
    CRONJOB_COLUMNS,
    DAEMONSET_COLUMNS,
    DEPLOYMENT_COLUMNS,
    JOB_COLUMNS,
    NODE_COLUMNS,
    POD_COLUMNS,
    REPLICASET_COLUMNS,
    STATEFULSET_COLUMNS,
    _cronjob_row,
    _daemonset_row,
    _deployment_row,
    _job_row,
    _node_row,
    _pod_row,
    _replicaset_row,
    _statefulset_row,
)
from app.sim.machinery.resources import ResourceType

# (group, kind) -> (columns, row function)
PRINTERS: dict[tuple[str, str], tuple[list[Column], RowFunc]] = {
    ("", "Pod"): (POD_COLUMNS, _pod_row),
    ("", "Node"): (NODE_COLUMNS, _node_row),
    ("", "Namespace"): (NAMESPACE_COLUMNS, _namespace_row),
    ("", "Service"): (SERVICE_COLUMNS, _service_row),
    ("", "Endpoints"): (ENDPOINTS_COLUMNS, _endpoints_row),
    ("", "ConfigMap"): (CONFIGMAP_COLUMNS, _configmap_row),
    ("", "Secret"): (SECRET_COLUMNS, _secret_row),
    ("", "ServiceAccount"): (SERVICEACCOUNT_COLUMNS, _serviceaccount_row),
    ("", "Event"): (EVENT_COLUMNS, _event_row),
    ("events.k8s.io", "Event"): (EVENT_COLUMNS, _event_row),
    ("", "PersistentVolume"): (PV_COLUMNS, _pv_row),
    ("", "PersistentVolumeClaim"): (PVC_COLUMNS, _pvc_row),
    ("", "ResourceQuota"): (RESOURCEQUOTA_COLUMNS, _resourcequota_row),
    ("", "LimitRange"): (CREATED_COLUMNS, _created_row),
    ("", "ReplicationController"): (REPLICASET_COLUMNS, _replicaset_row),
    ("", "PodTemplate"): (PODTEMPLATE_COLUMNS, _podtemplate_row),
    ("apps", "Deployment"): (DEPLOYMENT_COLUMNS, _deployment_row),
    ("apps", "ReplicaSet"): (REPLICASET_COLUMNS, _replicaset_row),
    ("apps", "DaemonSet"): (DAEMONSET_COLUMNS, _daemonset_row),
    ("apps", "StatefulSet"): (STATEFULSET_COLUMNS, _statefulset_row),
    ("apps", "ControllerRevision"): (CONTROLLERREVISION_COLUMNS, _controllerrevision_row),
    ("batch", "Job"): (JOB_COLUMNS, _job_row),
    ("batch", "CronJob"): (CRONJOB_COLUMNS, _cronjob_row),
    ("coordination.k8s.io", "Lease"): (LEASE_COLUMNS, _lease_row),
    ("discovery.k8s.io", "EndpointSlice"): (ENDPOINTSLICE_COLUMNS, _endpointslice_row),
    ("networking.k8s.io", "Ingress"): (INGRESS_COLUMNS, _ingress_row),
    ("networking.k8s.io", "IngressClass"): (INGRESSCLASS_COLUMNS, _ingressclass_row),
    ("networking.k8s.io", "NetworkPolicy"): (NETWORKPOLICY_COLUMNS, _networkpolicy_row),
    ("policy", "PodDisruptionBudget"): (PDB_COLUMNS, _pdb_row),
    ("rbac.authorization.k8s.io", "Role"): (CREATED_COLUMNS, _created_row),
    ("rbac.authorization.k8s.io", "ClusterRole"): (CREATED_COLUMNS, _created_row),
    ("rbac.authorization.k8s.io", "RoleBinding"): (BINDING_COLUMNS, _binding_row),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (BINDING_COLUMNS, _binding_row),
    ("scheduling.k8s.io", "PriorityClass"): (PRIORITYCLASS_COLUMNS, _priorityclass_row),
    ("storage.k8s.io", "StorageClass"): (STORAGECLASS_COLUMNS, _storageclass_row),
    ("autoscaling", "HorizontalPodAutoscaler"): (HPA_COLUMNS, _hpa_row),
    ("apiregistration.k8s.io", "APIService"): (API_SERVICE_COLUMNS, _api_service_row),
    ("metrics.k8s.io", "NodeMetrics"): (METRICS_COLUMNS, _node_metrics_row),
    ("metrics.k8s.io", "PodMetrics"): (METRICS_COLUMNS, _pod_metrics_row),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        WEBHOOK_COLUMNS,
        _webhook_row,
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        WEBHOOK_COLUMNS,
        _webhook_row,
    ),
    **API_PRINTERS,
}


# ---------------------------------------------------------------------------------------
# custom resources: additionalPrinterColumns with simple JSONPath


_JSONPATH_STEP = re.compile(
    r"""\.([^.\[\]]+)|\[(\d+|\*)\]|\[\?\(@\.([^=!<>\s]+)\s*==\s*["']?([^"')]*)["']?\)\]"""
)


def _jsonpath_step(values: list[Any], step: tuple[str, str, str, str]) -> list[Any]:
    name, index, key, wanted = step
    out: list[Any] = []
    for current in values:
        if name:
            if isinstance(current, dict) and name in current:
                out.append(current[name])
        elif index == "*":
            if isinstance(current, list):
                out.extend(current)
        elif index:
            if isinstance(current, list) and int(index) < len(current):
                out.append(current[int(index)])
        elif isinstance(current, list):
            out.extend(v for v in current if isinstance(v, dict) and str(v.get(key)) == wanted)
    return out


def _jsonpath_value(obj: Any, path: str) -> Any:
    """Evaluate the JSONPath of a printer column (`.spec.replicas`, `.a.b[0].c`,
    `.items[*].name`, `.conditions[?(@.type=="Ready")].status`): the first result, as
    the CRD table convertor prints `results[0][0]`; None when nothing matches."""
    values: list[Any] = [obj]
    for step in _JSONPATH_STEP.findall(path.strip().lstrip("{").rstrip("}")):
        values = _jsonpath_step(values, step)
    return values[0] if values else None


def crd_printer_columns(crd: dict[str, Any] | None, version: str) -> list[dict[str, Any]] | None:
    """The additionalPrinterColumns of one version of a CRD object (None when it has none).

    Pass the result as `to_table(..., printer_columns=...)` for that CRD's kind; the CRD
    is `customresourcedefinitions/{plural}.{group}` in the cluster's store.
    """
    for entry in ((crd or {}).get("spec") or {}).get("versions") or []:
        if entry.get("name") == version:
            return entry.get("additionalPrinterColumns") or None
    return None


def custom_columns(printer_columns: list[dict[str, Any]] | None) -> list[Column]:
    """Column definitions of a CRD version: NAME + its additionalPrinterColumns."""
    if not printer_columns:
        return [NAME_COL, AGE_COL]
    out = [NAME_COL]
    for pc in printer_columns:
        out.append(
            col(
                pc.get("name", ""),
                pc.get("type", "string"),
                pc.get("description", ""),
                priority=_int(pc.get("priority")),
                format_=pc.get("format", ""),
            )
        )
    return out


def _custom_row(printer_columns: list[dict[str, Any]] | None) -> RowFunc:
    def row(obj: Obj, now: datetime) -> Row:
        if not printer_columns:
            return [_name(obj), _age(obj, now)], None
        cells: list[Any] = [_name(obj)]
        for pc in printer_columns:
            value = _jsonpath_value(obj, pc.get("jsonPath", ""))
            if value is None:
                cells.append(None)
            elif pc.get("type") == "date":
                cells.append(since(value, now))
            elif pc.get("type") == "string" and isinstance(value, list | dict):
                # The table convertor prints a list or map as JSON (`["a.example.com"]`).
                cells.append(json.dumps(value, separators=(",", ":")))
            else:
                cells.append(value)
        return cells, None

    return row


# ---------------------------------------------------------------------------------------


def columns_for(
    rt: ResourceType, printer_columns: list[dict[str, Any]] | None = None
) -> list[Column]:
    """The column definitions the Table of `rt` carries."""
    if rt.custom:
        return custom_columns(printer_columns)
    printer = PRINTERS.get((rt.group, rt.kind))
    return printer[0] if printer else CREATED_COLUMNS


def _fallback_cells(obj: Any, count: int) -> list[Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return [name if isinstance(name, str) else "", *([""] * (count - 1))]


def partial_metadata(obj: Obj) -> dict[str, Any]:
    """The PartialObjectMetadata a row carries for `includeObject=Metadata`."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _meta(obj),
    }


def to_table(
    rt: ResourceType,
    objects: list[Obj],
    *,
    now: datetime,
    include_object: str = "Metadata",
    wide: bool = True,
    headers: bool = True,
    list_metadata: dict[str, Any] | None = None,
    printer_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `meta.k8s.io/v1 Table` of `objects` of kind `rt`.

    `include_object` is the request's `includeObject` (None, Metadata, Object).
    `wide` keeps the priority-1 columns (the API server always renders them; kubectl
    hides them without `-o wide`). `headers=False` leaves out the column definitions, as
    upstream does for watch events after the first. `printer_columns` are a CRD version's
    additionalPrinterColumns. Raises ValueError on an unknown `include_object`.
    """
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(f"unknown includeObject {include_object!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    columns = columns_for(rt, printer_columns)
    if rt.custom:
        row_func = _custom_row(printer_columns)
    else:
        printer = PRINTERS.get((rt.group, rt.kind))
        row_func = printer[1] if printer else _created_row
    keep = [i for i, c in enumerate(columns) if wide or c["priority"] == 0]
    rows = []
    for obj in objects:
        try:
            cells, conditions = row_func(obj, now)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            # A stored object of the wrong shape (validation keeps these out) still
            # prints: its name and empty cells, never a 500 for the whole list.
            cells, conditions = _fallback_cells(obj, len(columns)), None
        row: dict[str, Any] = {"cells": [cells[i] for i in keep if i < len(cells)]}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_metadata or {}),
        "columnDefinitions": [columns[i] for i in keep] if headers else [],
        "rows": rows,
    }
    return table


def wants_table(accept: str | None) -> bool:
    """True when an Accept header asks for `as=Table;g=meta.k8s.io;v=v1`."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if {"as=Table", "g=meta.k8s.io"} <= params and ("v=v1" in params or "v=v1beta1" in params):
            return True
    return False

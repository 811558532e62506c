"""Printers for HorizontalPodAutoscalers and APIServices.

HPA columns and the TARGETS cell follow `printHorizontalPodAutoscaler` and
`formatHPAMetrics` (pkg/printers/internalversion/printers.go): `cpu: 80%/50%` for a
utilization target, `memory: 120Mi/200Mi` for an average value, `<unknown>` before the
controller measured, the first two metrics then `+ N more...`. APIService columns
follow kube-aggregator's table (NAME SERVICE AVAILABLE AGE): `Local` or the Service's
`namespace/name`, and `False (MissingEndpoints)` when not available.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    Row,
    _age,
    _name,
    _spec,
    _status,
    col,
)

# formatHPAMetrics lists this many metrics before "+ N more...".
MAX_LISTED_METRICS = 2


def _resource_target(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    name = spec.get("name", "")
    target = spec.get("target") or {}
    current = (status or {}).get("current") or {}
    if target.get("averageValue") is not None:
        now = current.get("averageValue")
        return f"{name}: {now if now is not None else '<unknown>'}/{target['averageValue']}"
    now_pct = current.get("averageUtilization")
    shown = f"{now_pct}%" if now_pct is not None else "<unknown>"
    wanted = target.get("averageUtilization")
    return f"{name}: {shown}/{f'{wanted}%' if wanted is not None else '<auto>'}"


def _metric_target(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    kind = spec.get("type", "")
    if kind == "Resource":
        return _resource_target(spec.get("resource") or {}, (status or {}).get("resource"))
    if kind == "ContainerResource":
        source = spec.get("containerResource") or {}
        return _resource_target(source, (status or {}).get("containerResource"))
    return f"<unknown>/{kind or '<unknown>'}"


def format_hpa_metrics(specs: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> str:
    """The TARGETS cell of `kubectl get hpa`."""
    if not specs:
        return "<none>"
    listed = [
        _metric_target(spec, statuses[i] if i < len(statuses) else None)
        for i, spec in enumerate(specs[:MAX_LISTED_METRICS])
    ]
    text = ", ".join(listed)
    if len(specs) > MAX_LISTED_METRICS:
        return f"{text} + {len(specs) - MAX_LISTED_METRICS} more..."
    return text


def _hpa_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    ref = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    cells = [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_hpa_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
        str(min_replicas) if min_replicas is not None else "<unset>",
        int(spec.get("maxReplicas") or 0),
        int(status.get("currentReplicas") or 0),
        _age(obj, now),
    ]
    return cells, None


HPA_COLUMNS = [
    NAME_COL,
    col("Reference", description="the scale target of the autoscaler"),
    col("Targets", description="the current and target metric values"),
    col("MinPods", description="the lower limit for the number of replicas"),
    col("MaxPods", "integer", "the upper limit for the number of replicas"),
    col("Replicas", "integer", "current number of replicas of pods managed by this autoscaler"),
    AGE_COL,
]


def _available_cell(obj: Obj) -> str:
    for condition in _status(obj).get("conditions") or []:
        if condition.get("type") != "Available":
            continue
        state = condition.get("status", "Unknown")
        if state != "True" and condition.get("reason"):
            return f"{state} ({condition['reason']})"
        return str(state)
    return "Unknown"


def _api_service_row(obj: Obj, now: datetime) -> Row:
    service = _spec(obj).get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if service else "Local"
    return [_name(obj), where, _available_cell(obj), _age(obj, now)], None


API_SERVICE_COLUMNS = [
    NAME_COL,
    col("Service", description="The reference to the service that hosts this API endpoint."),
    col("Available", description="Whether this service is available."),
    AGE_COL,
]


# metrics-server's tables (pkg/api/table.go): NAME, one column per resource (cpu,
# memory) holding the quantity, WINDOW; a pod's usage is the sum of its containers.
METRICS_COLUMNS = [
    col("Name", "string", "Name of the resource", format_="name"),
    col("cpu", format_="quantity"),
    col("memory", format_="quantity"),
    col("Window", format_="duration"),
]


def _node_metrics_row(obj: Obj, now: datetime) -> Row:
    usage = obj.get("usage") or {}
    return [_name(obj), usage.get("cpu", "0"), usage.get("memory", "0"), obj.get("window")], None


def _pod_metrics_row(obj: Obj, now: datetime) -> Row:
    from app.sim.apiserver.metrics_api import binary_quantity, decimal_quantity
    from app.sim.machinery.quantity import parse_quantity

    cpu = memory = 0
    for container in obj.get("containers") or []:
        usage = container.get("usage") or {}
        cpu += int(parse_quantity(str(usage.get("cpu", "0"))) * 1_000_000_000)
        memory += int(parse_quantity(str(usage.get("memory", "0"))))
    cells = [_name(obj), decimal_quantity(cpu), binary_quantity(memory), obj.get("window")]
    return cells, None

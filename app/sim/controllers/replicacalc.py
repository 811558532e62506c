"""The HPA's replica calculation for Resource metrics, after upstream's
pkg/controller/podautoscaler/replica_calculator.go (GetResourceReplicas,
GetRawResourceReplicas, groupPods, calculatePodRequests) and metrics/utilization.go.

Values are in milli-units (millicores, milli-bytes), as upstream's `MilliValue()`.
The desired count is `ceil(currentReplicas * usage / target)` over the ready pods, left
unchanged within the 10 % tolerance; pods without metrics count as using their request
(scale down) or nothing (scale up), unready pods as nothing when scaling up, and a
proposal that the missing pods would reverse keeps the current count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.sim.machinery.clock import parse_ts
from app.sim.machinery.quantity import milli_value

# --horizontal-pod-autoscaler-tolerance
TOLERANCE = 0.1
# --horizontal-pod-autoscaler-cpu-initialization-period and
# --horizontal-pod-autoscaler-initial-readiness-delay
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0


class MetricError(Exception):
    """A replica count could not be computed; the message is upstream's."""


@dataclass(frozen=True)
class PodMetric:
    value: int  # milli-units
    timestamp: datetime
    window: float


@dataclass
class PodGroups:
    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def _name(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def _ready_condition(pod: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def _cpu_unready(pod: dict[str, Any], metric: PodMetric, now: datetime) -> bool:
    """Whether a CPU sample of the pod is left out (upstream's groupPods)."""
    condition = _ready_condition(pod)
    started = parse_ts((pod.get("status") or {}).get("startTime"))
    if condition is None or started is None:
        return True
    transition = parse_ts(condition.get("lastTransitionTime")) or started
    if started + timedelta(seconds=CPU_INITIALIZATION_PERIOD) > now:
        # Still initialising: unready, or no whole window measured since it turned ready.
        return condition.get("status") == "False" or metric.timestamp < transition + timedelta(
            seconds=metric.window
        )
    # Later: left out only if it never became ready.
    return (
        condition.get("status") == "False"
        and started + timedelta(seconds=INITIAL_READINESS_DELAY) > transition
    )


def group_pods(
    pods: list[dict[str, Any]], metrics: dict[str, PodMetric], resource: str, now: datetime
) -> PodGroups:
    groups = PodGroups()
    for pod in pods:
        name = _name(pod)
        phase = (pod.get("status") or {}).get("phase")
        if (pod.get("metadata") or {}).get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
        elif phase == "Pending":
            groups.unready.add(name)
        elif name not in metrics:
            groups.missing.add(name)
        elif resource == "cpu" and _cpu_unready(pod, metrics[name], now):
            groups.unready.add(name)
        else:
            groups.ready += 1
    return groups


def pod_requests(pods: list[dict[str, Any]], resource: str) -> dict[str, int]:
    """The summed request of every pod (milli-units); MetricError naming the first
    container without one."""
    out: dict[str, int] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or [])
        containers += [
            c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
        ]
        total = 0
        for container in containers:
            requests = (container.get("resources") or {}).get("requests") or {}
            if resource not in requests:
                raise MetricError(
                    f"missing request for {resource} in container {container.get('name')} "
                    f"of Pod {_name(pod)}"
                )
            total += milli_value(str(requests[resource]))
        out[_name(pod)] = total
    return out


def utilization_ratio(
    metrics: dict[str, int], requests: dict[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio, utilization percent, average raw usage) as upstream's
    GetResourceUtilizationRatio."""
    used = requested = counted = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        used += value
        requested += requests[name]
        counted += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // counted


def _usable(
    pods: list[dict[str, Any]], metrics: dict[str, PodMetric], resource: str, now: datetime
) -> tuple[PodGroups, dict[str, int]]:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now)
    values = {
        name: m.value
        for name, m in metrics.items()
        if name not in groups.ignored and name not in groups.unready
    }
    if not values:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def _settle(current: int, ratio: float, new_ratio: float, counted: int) -> int:
    """The tail shared by both calculations, after filling in missing/unready pods."""
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    proposal = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current
    return proposal


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: list[dict[str, Any]],
    metrics: dict[str, PodMetric],
    now: datetime,
) -> tuple[int, int, int]:
    """(replicas, utilization percent, average usage in milli-units) for a Utilization
    target; MetricError as upstream words it."""
    groups, values = _usable(pods, metrics, resource, now)
    requests = pod_requests(pods, resource)
    ratio, utilization, raw = utilization_ratio(values, requests, target_utilization)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, utilization, raw
        return math.ceil(ratio * groups.ready), utilization, raw
    fallback = max(100, target_utilization)
    for name in groups.missing:
        if ratio < 1.0:
            values[name] = requests.get(name, 0) * fallback // 100
        elif ratio > 1.0:
            values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio, _, _ = utilization_ratio(values, requests, target_utilization)
    return _settle(current, ratio, new_ratio, len(values)), utilization, raw


def raw_resource_replicas(
    current: int,
    target_average: int,
    resource: str,
    pods: list[dict[str, Any]],
    metrics: dict[str, PodMetric],
    now: datetime,
) -> tuple[int, int]:
    """(replicas, average usage in milli-units) for an AverageValue target
    (calcPlainMetricReplicas)."""
    groups, values = _usable(pods, metrics, resource, now)
    average = sum(values.values()) // len(values)
    ratio = average / target_average
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, average
        return math.ceil(ratio * groups.ready), average
    for name in groups.missing:
        values[name] = target_average if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio = (sum(values.values()) // len(values)) / target_average
    return _settle(current, ratio, new_ratio, len(values)), average


def milli_quantity(milli: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI).String(): `80m`, `1`, `200M`, `4194304`."""
    if milli % 1000:
        return f"{milli}m"
    whole = milli // 1000
    for suffix in ("", "k", "M", "G", "T", "P"):
        if whole % 1000 or whole == 0 or suffix == "P":
            return f"{whole}{suffix}"
        whole //= 1000
    return str(whole)

"""HorizontalPodAutoscaler (autoscaling/v2) rules, after
pkg/apis/autoscaling/validation/validation.go: a scale target with kind and name,
`1 <= minReplicas <= maxReplicas`, Resource metrics naming a resource and a target of
a known type, behaviour windows within an hour and policies with positive values.
"""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.validation.names import invalid_value, not_supported, required
from app.sim.machinery.errors import FieldCause

TARGET_TYPES = ["AverageValue", "Utilization", "Value"]
METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
MAX_STABILIZATION_WINDOW = 3600  # seconds (MaxStabilizationWindowSeconds)
MAX_PERIOD_SECONDS = 1800  # MaxPeriodSeconds of a scaling policy


def _target_ref(causes: list[FieldCause], ref: Any) -> None:
    ref = ref if isinstance(ref, dict) else {}
    if not ref.get("kind"):
        causes.append(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(required("spec.scaleTargetRef.name"))


def _replicas(causes: list[FieldCause], spec: dict[str, Any]) -> None:
    low = spec.get("minReplicas", 1)
    high = spec.get("maxReplicas")
    if isinstance(low, int) and low < 1:
        causes.append(invalid_value("spec.minReplicas", low, "must be greater than or equal to 1"))
    if not isinstance(high, int):
        causes.append(required("spec.maxReplicas"))
    elif high < 1:
        causes.append(invalid_value("spec.maxReplicas", high, "must be greater than 0"))
    elif isinstance(low, int) and high < low:
        causes.append(
            invalid_value(
                "spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"
            )
        )


def _target(causes: list[FieldCause], path: str, target: Any) -> None:
    if not isinstance(target, dict):
        causes.append(required(path))
        return
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        causes.append(not_supported(f"{path}.type", kind, TARGET_TYPES))
        return
    field = {"Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}
    if target.get(field[kind]) is None:
        causes.append(required(f"{path}.{field[kind]}", f"must set {field[kind]} for {kind}"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization <= 0:
        causes.append(
            invalid_value(f"{path}.averageUtilization", utilization, "must be greater than 0")
        )


def _metric(causes: list[FieldCause], path: str, metric: Any) -> None:
    metric = metric if isinstance(metric, dict) else {}
    kind = metric.get("type")
    if kind not in METRIC_TYPES:
        causes.append(not_supported(f"{path}.type", kind, METRIC_TYPES))
        return
    if kind not in ("Resource", "ContainerResource"):
        return
    source_field = "resource" if kind == "Resource" else "containerResource"
    source = metric.get(source_field)
    if not isinstance(source, dict):
        causes.append(
            required(
                f"{path}.{source_field}", "must populate information for the given metric source"
            )
        )
        return
    if not source.get("name"):
        causes.append(required(f"{path}.{source_field}.name"))
    _target(causes, f"{path}.{source_field}.target", source.get("target"))


def _rules(causes: list[FieldCause], path: str, rules: Any) -> None:
    if not isinstance(rules, dict):
        return
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and not 0 <= window <= MAX_STABILIZATION_WINDOW:
        causes.append(
            invalid_value(
                f"{path}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW}"
                if window > 0
                else "must be greater than or equal to zero",
            )
        )
    for i, policy in enumerate(rules.get("policies") or []):
        policy = policy if isinstance(policy, dict) else {}
        where = f"{path}.policies[{i}]"
        if policy.get("type") not in ("Pods", "Percent"):
            causes.append(not_supported(f"{where}.type", policy.get("type"), ["Percent", "Pods"]))
        if not isinstance(policy.get("value"), int) or policy["value"] <= 0:
            causes.append(
                invalid_value(f"{where}.value", policy.get("value"), "must be greater than zero")
            )
        period = policy.get("periodSeconds")
        if not isinstance(period, int) or not 0 < period <= MAX_PERIOD_SECONDS:
            causes.append(
                invalid_value(
                    f"{where}.periodSeconds",
                    period,
                    f"must be greater than zero and less than or equal to {MAX_PERIOD_SECONDS}",
                )
            )


def validate_hpa(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    _target_ref(causes, spec.get("scaleTargetRef"))
    _replicas(causes, spec)
    for i, metric in enumerate(spec.get("metrics") or []):
        _metric(causes, f"spec.metrics[{i}]", metric)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        _rules(causes, "spec.behavior.scaleUp", behavior.get("scaleUp"))
        _rules(causes, "spec.behavior.scaleDown", behavior.get("scaleDown"))

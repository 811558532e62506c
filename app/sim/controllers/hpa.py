"""horizontal-pod-autoscaler-controller: HorizontalPodAutoscalers (autoscaling/v2), after
upstream's pkg/controller/podautoscaler/horizontal.go.

Every HPA is reconciled every 15 s of cluster time (--horizontal-pod-autoscaler-sync-period)
and at once when its spec changes:

1. read the scale target (Deployment, ReplicaSet, StatefulSet, ReplicationController);
   `FailedGetScale` when it does not exist;
2. per metric, read PodMetrics through the API (`metrics.k8s.io`, so a stopped
   metrics-server gives `FailedGetResourceMetric` with the aggregator's 503) and compute
   a proposal (`replicacalc`); the largest proposal wins;
3. normalise: without `behavior`, the highest recommendation of the last 300 s
   (--horizontal-pod-autoscaler-downscale-stabilization) and a scale-up limit of
   max(2 x current, 4); with `behavior`, its stabilization windows and rate policies;
   then the min/max clamps;
4. write the target's `spec.replicas` (event `SuccessfulRescale "New size: 3; reason:
   cpu resource utilization (percentage of request) above target"`) and the status:
   currentReplicas, desiredReplicas, currentMetrics, lastScaleTime and the conditions
   AbleToScale, ScalingActive, ScalingLimited with upstream's reasons and messages.

Recommendations and scale events are kept in memory, as upstream: a restarted
controller manager starts with none.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from app.sim.client.events import EventRecorder
from app.sim.controllers.base import ControllerContext, name_of, namespace_of
from app.sim.controllers.replicacalc import (
    MetricError,
    PodMetric,
    milli_quantity,
    raw_resource_replicas,
    resource_replicas,
)
from app.sim.machinery.clock import parse_ts
from app.sim.machinery.errors import ApiError
from app.sim.machinery.quantity import milli_value
from app.sim.machinery.selectors import selector_from_object

log = logging.getLogger(__name__)

GROUP = "autoscaling"
PLURAL = "horizontalpodautoscalers"
COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2  # scaleUpLimitFactor without behavior
SCALE_UP_LIMIT_MINIMUM = 4  # scaleUpLimitMinimum
# Kinds with a scale subresource the controller can drive: kind -> (group, plural).
SCALE_TARGETS = {
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "ReplicationController": ("", "replicationcontrollers"),
}
WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)
READY_FOR_NEW_SCALE = ("ReadyForNewScale", "recommended size matches current size")
DOWN_STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
UP_STABILIZED = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)

Obj = dict[str, Any]


@dataclass
class Stamped:
    value: int  # a recommendation, or a replica change of a scale event
    at: float


@dataclass
class Proposal:
    """What the metrics of one HPA propose."""

    replicas: int = 0
    metric: str = ""
    statuses: list[Obj] = field(default_factory=list)
    error: str = ""


def set_condition(hpa: Obj, kind: str, status: str, reason: str, message: str, now: str) -> None:
    """upstream's setCondition: lastTransitionTime moves only when the status changes."""
    conditions = hpa.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            condition.update({"status": status, "reason": reason, "message": message})
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


def _pod_metric(item: Obj, container: str | None, resource: str) -> PodMetric | None:
    total = 0
    found = False
    for entry in item.get("containers") or []:
        if container and entry.get("name") != container:
            continue
        raw = (entry.get("usage") or {}).get(resource)
        if raw is None:
            return None
        total += milli_value(str(raw))
        found = True
    if not found:
        return None
    stamp = parse_ts(item.get("timestamp"))
    window = str(item.get("window") or "0s").rstrip("s") or "0"
    if stamp is None:
        return None
    return PodMetric(total, stamp, float(window))


class HorizontalPodAutoscalerController:
    name = "horizontal-pod-autoscaler-controller"

    def __init__(self) -> None:
        self.recommendations: dict[str, list[Stamped]] = {}
        self.scale_up_events: dict[str, list[Stamped]] = {}
        self.scale_down_events: dict[str, list[Stamped]] = {}
        self._synced: dict[str, tuple[float, int]] = {}
        self._recorder: EventRecorder | None = None

    # ---- loop ---------------------------------------------------------------------------

    def reconcile(self, ctx: ControllerContext) -> None:
        now = ctx.now().timestamp()
        seen: set[str] = set()
        for hpa in ctx.client.list(GROUP, PLURAL):
            key = f"{namespace_of(hpa)}/{name_of(hpa)}"
            seen.add(key)
            generation = int((hpa.get("metadata") or {}).get("generation") or 0)
            last = self._synced.get(key)
            if last is not None and last[1] == generation and now - last[0] < SYNC_PERIOD:
                continue
            self._synced[key] = (now, generation)
            try:
                self.sync_one(ctx, hpa, key)
            except ApiError as exc:  # a conflict or a vanished object: next period
                log.info("hpa %s: %s", key, exc)
        for gone in set(self._synced) - seen:
            for table in (
                self._synced,
                self.recommendations,
                self.scale_up_events,
                self.scale_down_events,
            ):
                table.pop(gone, None)

    def _events(self, ctx: ControllerContext) -> EventRecorder:
        if self._recorder is None:
            self._recorder = ctx.events.for_component(COMPONENT)
        return self._recorder

    # ---- one HPA ------------------------------------------------------------------------

    def sync_one(self, ctx: ControllerContext, stored: Obj, key: str) -> None:
        hpa = copy.deepcopy(stored)
        original = copy.deepcopy(stored.get("status") or {})
        now_text = ctx.now_str()
        target = self._scale_target(ctx, hpa, now_text)
        if target is None:
            self._write_status(ctx, hpa, original)
            return
        set_condition(
            hpa,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            now_text,
        )
        current = int((target.get("spec") or {}).get("replicas", 1))
        now = ctx.now().timestamp()
        self.recommendations.setdefault(key, [Stamped(current, now)])
        desired, reason, statuses = self._desired(ctx, hpa, key, target, current)
        if desired is None:
            return
        self._apply(ctx, hpa, original, target, current, desired, reason, statuses)

    def _desired(
        self, ctx: ControllerContext, hpa: Obj, key: str, target: Obj, current: int
    ) -> tuple[int | None, str, list[Obj]]:
        """(desired replicas or None when the metrics failed, rescale reason, metric
        statuses); records the failure itself."""
        spec = hpa.get("spec") or {}
        low = int(spec.get("minReplicas", 1))
        high = int(spec.get("maxReplicas") or 1)
        now_text = ctx.now_str()
        if current == 0 and low != 0:
            set_condition(
                hpa,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                now_text,
            )
            return 0, "", []
        if current > high:
            return high, "Current number of replicas above Spec.MaxReplicas", []
        if current < low:
            return low, "Current number of replicas below Spec.MinReplicas", []
        proposal = self._compute_metrics(ctx, hpa, target, current)
        if proposal.error:
            self._write_status(ctx, hpa, None, current=current, statuses=proposal.statuses)
            self._events(ctx).warning(hpa, "FailedComputeMetricsReplicas", proposal.error)
            return None, "", proposal.statuses
        desired = proposal.replicas
        reason = ""
        if desired > current:
            reason = f"{proposal.metric} above target"
        elif desired < current:
            reason = "All metrics below target"
        desired = self._normalize(hpa, key, current, desired, low, high, now_text)
        return desired, reason, proposal.statuses

    def _apply(
        self,
        ctx: ControllerContext,
        hpa: Obj,
        original: Obj,
        target: Obj,
        current: int,
        desired: int,
        reason: str,
        statuses: list[Obj],
    ) -> None:
        now_text = ctx.now_str()
        status = hpa.setdefault("status", {})
        if desired != current:
            kind = (hpa.get("spec") or {}).get("scaleTargetRef", {}).get("kind", "")
            group, plural = SCALE_TARGETS[kind]
            target["spec"]["replicas"] = desired
            try:
                ctx.client.update(group, plural, target)
            except ApiError as exc:
                self._events(ctx).warning(
                    hpa, "FailedRescale", f"New size: {desired}; reason: {reason}; error: {exc}"
                )
                set_condition(
                    hpa,
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {exc}",
                    now_text,
                )
                self._write_status(ctx, hpa, original, current=current, statuses=statuses)
                return
            set_condition(
                hpa,
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
                now_text,
            )
            self._events(ctx).normal(
                hpa, "SuccessfulRescale", f"New size: {desired}; reason: {reason}"
            )
            self._store_scale_event(hpa, ctx.now().timestamp(), current, desired)
            status["lastScaleTime"] = now_text
        else:
            desired = current
        status["desiredReplicas"] = desired
        self._write_status(ctx, hpa, original, current=current, statuses=statuses)

    def _write_status(
        self,
        ctx: ControllerContext,
        hpa: Obj,
        original: Obj | None,
        *,
        current: int | None = None,
        statuses: list[Obj] | None = None,
    ) -> None:
        status = hpa.setdefault("status", {})
        if current is not None:
            status["currentReplicas"] = current
        status.setdefault("desiredReplicas", 0)
        if statuses is not None:
            status["currentMetrics"] = statuses or None
        if status.get("currentMetrics") is None:
            status.pop("currentMetrics", None)
        fresh = ctx.client.get(GROUP, PLURAL, namespace_of(hpa), name_of(hpa))
        if fresh is None or fresh.get("status") == status:
            return
        fresh["status"] = status
        ctx.client.update(GROUP, PLURAL, fresh)

    # ---- scale target -------------------------------------------------------------------

    def _scale_target(self, ctx: ControllerContext, hpa: Obj, now_text: str) -> Obj | None:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        kind, name = ref.get("kind", ""), ref.get("name", "")
        api_group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        found = SCALE_TARGETS.get(kind)
        if found is None or found[0] != api_group:
            message = f'no matches for kind "{kind}" in group "{api_group}"'
        else:
            obj = ctx.client.get(found[0], found[1], namespace_of(hpa), name)
            if obj is not None:
                return obj
            resource = f"{found[1]}.{found[0]}" if found[0] else found[1]
            message = f'{resource} "{name}" not found'
        self._events(ctx).warning(hpa, "FailedGetScale", message)
        set_condition(
            hpa,
            "AbleToScale",
            "False",
            "FailedGetScale",
            f"the HPA controller was unable to get the target's current scale: {message}",
            now_text,
        )
        return None

    # ---- metrics ------------------------------------------------------------------------

    def _compute_metrics(
        self, ctx: ControllerContext, hpa: Obj, target: Obj, current: int
    ) -> Proposal:
        """computeReplicasForMetrics: the largest proposal, or an error when every
        metric (or one that would lower the count) is invalid."""
        specs = (hpa.get("spec") or {}).get("metrics") or []
        out = Proposal()
        invalid = 0
        first: tuple[str, str] | None = None
        for metric in specs:
            try:
                replicas, name, status = self._one_metric(ctx, hpa, metric, target, current)
            except MetricError as exc:
                reason = _failure_reason(metric)
                self._events(ctx).warning(hpa, reason, str(exc))
                first = first or (reason, str(exc))
                invalid += 1
                out.statuses.append({"type": ""})
                continue
            out.statuses.append(status)
            if out.replicas == 0 or replicas > out.replicas:
                out.replicas, out.metric = replicas, name
        now_text = ctx.now_str()
        if first is not None and (invalid >= len(specs) or out.replicas < current):
            set_condition(
                hpa,
                "ScalingActive",
                "False",
                first[0],
                f"the HPA was unable to compute the replica count: {first[1]}",
                now_text,
            )
            out.error = (
                f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: "
                f"{first[1]}"
            )
            return out
        set_condition(
            hpa,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {out.metric}",
            now_text,
        )
        return out

    def _one_metric(
        self, ctx: ControllerContext, hpa: Obj, metric: Obj, target: Obj, current: int
    ) -> tuple[int, str, Obj]:
        kind = metric.get("type", "")
        if kind not in ("Resource", "ContainerResource"):
            raise MetricError(
                "unable to get metric: unable to fetch metrics from custom metrics API: no "
                "custom metrics API (custom.metrics.k8s.io) registered"
            )
        field_name = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(field_name) or {}
        resource = str(source.get("name", ""))
        container = source.get("container") if kind == "ContainerResource" else None
        goal = source.get("target") or {}
        what = "usage" if goal.get("averageValue") is not None else "utilization"
        try:
            return self._resource_proposal(
                ctx, hpa, target, current, (kind, field_name, resource, container), goal
            )
        except MetricError as exc:
            raise MetricError(f"failed to get {resource} {what}: {exc}") from exc

    def _resource_proposal(
        self,
        ctx: ControllerContext,
        hpa: Obj,
        target: Obj,
        current: int,
        source: tuple[str, str, str, str | None],
        goal: Obj,
    ) -> tuple[int, str, Obj]:
        kind, field_name, resource, container = source
        pods, metrics = self._pods_and_metrics(ctx, hpa, target, resource, container)
        now = ctx.now()
        if goal.get("averageValue") is not None:
            replicas, average = raw_resource_replicas(
                current, milli_value(str(goal["averageValue"])), resource, pods, metrics, now
            )
            current_value: Obj = {"averageValue": milli_quantity(average)}
            name = f"{resource} resource"
        elif goal.get("averageUtilization") is not None:
            replicas, utilization, raw = resource_replicas(
                current, int(goal["averageUtilization"]), resource, pods, metrics, now
            )
            current_value = {"averageUtilization": utilization, "averageValue": milli_quantity(raw)}
            name = f"{resource} resource utilization (percentage of request)"
        else:
            raise MetricError(
                "invalid resource metric source: neither a utilization target nor a value "
                "target was set"
            )
        status_source = {"name": resource, "current": current_value}
        if container:
            status_source["container"] = container
        return replicas, name, {"type": kind, field_name: status_source}

    def _pods_and_metrics(
        self,
        ctx: ControllerContext,
        hpa: Obj,
        target: Obj,
        resource: str,
        container: str | None,
    ) -> tuple[list[Obj], dict[str, PodMetric]]:
        namespace = namespace_of(hpa)
        selector = selector_from_object((target.get("spec") or {}).get("selector"))
        try:
            items = ctx.client.list_served(
                "metrics.k8s.io", "v1beta1", "pods", namespace, str(selector)
            )
        except ApiError as exc:
            raise MetricError(
                f"unable to get metrics for resource {resource}: unable to fetch metrics from "
                f"resource metrics API: {exc.message} (get pods.metrics.k8s.io)"
            ) from exc
        metrics: dict[str, PodMetric] = {}
        for item in items:
            found = _pod_metric(item, container, resource)
            if found is not None:
                metrics[name_of(item)] = found
        if not metrics:
            raise MetricError(
                f"unable to get metrics for resource {resource}: no metrics returned from "
                "resource metrics API"
            )
        pods = ctx.client.list("", "pods", namespace, selector)
        return pods, metrics

    # ---- normalisation ------------------------------------------------------------------

    def _normalize(
        self, hpa: Obj, key: str, current: int, desired: int, low: int, high: int, now_text: str
    ) -> int:
        behavior = (hpa.get("spec") or {}).get("behavior")
        now = parse_ts(now_text)
        assert now is not None
        t = now.timestamp()
        if behavior is None:
            stabilized = self._stabilize(key, desired, t)
            able = DOWN_STABILIZED if stabilized != desired else READY_FOR_NEW_SCALE
            limit = max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM)
            result, limited = _clamp(stabilized, low, high, limit)
        else:
            stabilized, stabilized_why = self._stabilize_with_behavior(
                key, current, desired, behavior, t
            )
            able = stabilized_why if stabilized != desired else READY_FOR_NEW_SCALE
            result, limited = self._rate_limit(key, current, stabilized, low, high, behavior, t)
        set_condition(hpa, "AbleToScale", "True", able[0], able[1], now_text)
        flag = "False" if result == stabilized else "True"
        set_condition(hpa, "ScalingLimited", flag, limited[0], limited[1], now_text)
        return result

    def _stabilize(self, key: str, desired: int, now: float) -> int:
        """stabilizeRecommendation: the highest recommendation of the window."""
        cutoff = now - DOWNSCALE_STABILIZATION
        kept = [r for r in self.recommendations.get(key, []) if r.at >= cutoff]
        best = max([desired, *(r.value for r in kept)])
        self.recommendations[key] = [*kept, Stamped(desired, now)]
        return best

    def _stabilize_with_behavior(
        self, key: str, current: int, desired: int, behavior: Obj, now: float
    ) -> tuple[int, tuple[str, str]]:
        up = float((behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds") or 0)
        down_rules = behavior.get("scaleDown") or {}
        down_window = down_rules.get("stabilizationWindowSeconds")
        down = float(DOWNSCALE_STABILIZATION if down_window is None else down_window)
        up_value = down_value = desired
        history = self.recommendations.get(key, [])
        for rec in history:
            if rec.at > now - up:
                up_value = min(up_value, rec.value)
            if rec.at > now - down:
                down_value = max(down_value, rec.value)
        kept = [r for r in history if r.at >= now - max(up, down)]
        self.recommendations[key] = [*kept, Stamped(desired, now)]
        result = min(max(current, up_value), down_value)
        return result, UP_STABILIZED if desired >= current else DOWN_STABILIZED

    def _rate_limit(
        self, key: str, current: int, desired: int, low: int, high: int, behavior: Obj, now: float
    ) -> tuple[int, tuple[str, str]]:
        """convertDesiredReplicasWithBehaviorRate."""
        ups = self.scale_up_events.get(key, [])
        downs = self.scale_down_events.get(key, [])
        if desired > current:
            limit = max(_up_limit(current, ups, downs, behavior.get("scaleUp") or {}, now), current)
            ceiling, why = (limit, UP_LIMIT) if high > limit else (high, TOO_MANY)
            if desired > ceiling:
                return ceiling, why
        elif desired < current:
            rules = behavior.get("scaleDown") or {}
            limit = min(_down_limit(current, ups, downs, rules, now), current)
            floor, why = (limit, DOWN_LIMIT) if low < limit else (low, TOO_FEW)
            if desired < floor:
                return floor, why
        return desired, WITHIN_RANGE

    def _store_scale_event(self, hpa: Obj, now: float, before: int, after: int) -> None:
        if (hpa.get("spec") or {}).get("behavior") is None:
            return
        key = f"{namespace_of(hpa)}/{name_of(hpa)}"
        table = self.scale_up_events if after > before else self.scale_down_events
        # Events older than the longest policy period (at most 30 min) are never read.
        table[key] = [e for e in table.get(key, []) if e.at > now - 1800]
        table[key].append(Stamped(abs(after - before), now))


def _failure_reason(metric: Obj) -> str:
    kind = metric.get("type", "")
    return {
        "Resource": "FailedGetResourceMetric",
        "ContainerResource": "FailedGetContainerResourceMetric",
        "Pods": "FailedGetPodsMetric",
        "Object": "FailedGetObjectMetric",
        "External": "FailedGetExternalMetric",
    }.get(kind, "InvalidMetricSourceType")


def _clamp(desired: int, low: int, high: int, up_limit: int) -> tuple[int, tuple[str, str]]:
    """convertDesiredReplicasWithRules."""
    ceiling, why = (up_limit, UP_LIMIT) if high > up_limit else (high, TOO_MANY)
    if desired < low:
        return low, TOO_FEW
    if desired > ceiling:
        return ceiling, why
    return desired, WITHIN_RANGE


def _changed_in(period: float, events: list[Stamped], now: float) -> int:
    return sum(e.value for e in events if e.at > now - period)


def _up_limit(
    current: int, ups: list[Stamped], downs: list[Stamped], rules: Obj, now: float
) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changed_in(period, ups, now) + _changed_in(period, downs, now)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + value)
        else:
            proposals.append(math.ceil(start * (1 + value / 100)))
    if not proposals:
        return current
    return min(proposals) if select == "Min" else max(proposals)


def _down_limit(
    current: int, ups: list[Stamped], downs: list[Stamped], rules: Obj, now: float
) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changed_in(period, ups, now) + _changed_in(period, downs, now)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start - value)
        else:
            proposals.append(int(start * (1 - value / 100)))
    if not proposals:
        return current
    return max(proposals) if select == "Min" else min(proposals)


__all__ = ["HorizontalPodAutoscalerController", "set_condition"]

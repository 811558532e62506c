"""autoscaling/v1 HorizontalPodAutoscaler, served by conversion from the stored v2.

HPAs are stored as autoscaling/v2 (what `kubectl autoscale` writes); a request for
`autoscaling/v1` is converted as upstream's pkg/apis/autoscaling/v1/conversion.go does:

- v2 -> v1: the `Resource` cpu metric with an `averageUtilization` target becomes
  `spec.targetCPUUtilizationPercentage`, and its current value
  `status.currentCPUUtilizationPercentage`; what v1 cannot hold is kept in annotations,
  in v1's metric shapes (`targetAverageUtilization`, `metricName`, ...):
  `autoscaling.alpha.kubernetes.io/metrics` (the other metrics),
  `autoscaling.alpha.kubernetes.io/current-metrics` (every current metric),
  `autoscaling.alpha.kubernetes.io/behavior` and
  `autoscaling.alpha.kubernetes.io/conditions`;
- v1 -> v2: the reverse; those annotations are read back and removed.

Writes through v1 (create, update, every patch type, server-side apply) are converted
to v2 and run through the v2 pipeline; a patch is applied to the v1 form of the stored
object, so `{"spec":{"targetCPUUtilizationPercentage":70}}` means what it says; reads,
deletes and watch events are converted back. Tables print the same columns for both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from app.sim.apiserver import patch as patch_mod
from app.sim.apiserver.request import (
    APPLY_PATCH,
    JSON,
    PATCH_TYPES,
    ApiResponse,
    EncodedJson,
    RequestContext,
    media_type,
)
from app.sim.apiserver.stages import check_identity, decode_body, decode_yaml
from app.sim.machinery.errors import ApiError, not_found
from app.sim.machinery.resources import ResourceType

GROUP, PLURAL, KIND = "autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler"
V1, V2 = "autoscaling/v1", "autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
Obj = dict[str, Any]
Dispatch = Callable[[RequestContext, ResourceType, str], ApiResponse]


def applies(rt: ResourceType) -> bool:
    return (rt.group, rt.plural, rt.version) == (GROUP, PLURAL, "v1")


# ---- metric shapes ----------------------------------------------------------------


def _target_v2_to_v1(target: Obj, prefix: str) -> Obj:
    """v2 MetricTarget/MetricValueStatus -> v1's flat fields (`targetAverageValue`)."""
    out = {}
    for v2_name, v1_name in (
        ("averageUtilization", "AverageUtilization"),
        ("averageValue", "AverageValue"),
        ("value", "Value"),
    ):
        if target.get(v2_name) is not None:
            out[prefix + v1_name] = target[v2_name]
    return out


def _target_v1_to_v2(source: Obj, prefix: str, spec: bool) -> Obj:
    out: Obj = {}
    for v2_name, v1_name in (
        ("averageUtilization", "AverageUtilization"),
        ("averageValue", "AverageValue"),
        ("value", "Value"),
    ):
        if source.get(prefix + v1_name) is not None:
            out[v2_name] = source[prefix + v1_name]
    if spec:
        kinds = {"averageUtilization": "Utilization", "averageValue": "AverageValue"}
        out["type"] = next((kinds[k] for k in kinds if k in out), "Value")
    return out


def metric_to_v1(metric: Obj, spec: bool) -> Obj:
    """A v2 MetricSpec (spec) or MetricStatus as v1's annotation form."""
    kind = str(metric.get("type") or "")
    key = kind[:1].lower() + kind[1:]
    source = metric.get(key) or {}
    value = source.get("target" if spec else "current") or {}
    prefix = "target" if spec else "current"
    body: Obj = {}
    if kind in ("Resource", "ContainerResource"):
        body = {"name": source.get("name"), **_target_v2_to_v1(value, prefix)}
        if kind == "ContainerResource":
            body["container"] = source.get("container")
    elif kind in ("Pods", "External"):
        ident = source.get("metric") or {}
        body = {"metricName": ident.get("name"), **_target_v2_to_v1(value, prefix)}
        if ident.get("selector") is not None:
            body["selector" if kind == "Pods" else "metricSelector"] = ident["selector"]
    elif kind == "Object":
        ident = source.get("metric") or {}
        body = {"target": source.get("describedObject"), "metricName": ident.get("name")}
        body.update(_target_v2_to_v1(value, prefix))
        if f"{prefix}AverageValue" in body:
            body["averageValue"] = body.pop(f"{prefix}AverageValue")
        if ident.get("selector") is not None:
            body["selector"] = ident["selector"]
    return {"type": kind, key: body}


def metric_to_v2(metric: Obj, spec: bool) -> Obj:
    """v1's annotation form of a metric back to a v2 MetricSpec or MetricStatus."""
    kind = str(metric.get("type") or "")
    key = kind[:1].lower() + kind[1:]
    source = dict(metric.get(key) or {})
    prefix = "target" if spec else "current"
    value_key = "target" if spec else "current"
    body: Obj = {}
    if kind in ("Resource", "ContainerResource"):
        body = {"name": source.get("name"), value_key: _target_v1_to_v2(source, prefix, spec)}
        if kind == "ContainerResource":
            body["container"] = source.get("container")
    elif kind in ("Pods", "External"):
        ident = {"name": source.get("metricName")}
        selector = source.get("selector" if kind == "Pods" else "metricSelector")
        if selector is not None:
            ident["selector"] = selector
        body = {"metric": ident, value_key: _target_v1_to_v2(source, prefix, spec)}
    elif kind == "Object":
        if "averageValue" in source:
            source[f"{prefix}AverageValue"] = source.pop("averageValue")
        ident = {"name": source.get("metricName")}
        if source.get("selector") is not None:
            ident["selector"] = source["selector"]
        body = {
            "describedObject": source.get("target"),
            "metric": ident,
            value_key: _target_v1_to_v2(source, prefix, spec),
        }
    return {"type": kind, key: body}


def _is_cpu_utilization(metric: Obj, field: str) -> bool:
    resource = metric.get("resource") or {}
    value = resource.get(field) or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and value.get("averageUtilization") is not None
    )


# ---- objects --------------------------------------------------------------------------


def to_v1(obj: Obj) -> Obj:
    """A stored (v2) HPA as autoscaling/v1."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    meta = json.loads(json.dumps(obj.get("metadata") or {}))
    notes: dict[str, str] = {}
    out_spec: Obj = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    others = []
    for metric in spec.get("metrics") or []:
        if (
            _is_cpu_utilization(metric, "target")
            and "targetCPUUtilizationPercentage" not in out_spec
        ):
            out_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                "averageUtilization"
            ]
        else:
            others.append(metric_to_v1(metric, spec=True))
    if others:
        notes[METRICS] = _compact(others)
    if spec.get("behavior") is not None:
        notes[BEHAVIOR] = _compact(spec["behavior"])
    out_status: Obj = {
        k: status[k]
        for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
        if k in status
    }
    current = status.get("currentMetrics") or []
    for metric in current:
        if _is_cpu_utilization(metric, "current"):
            out_status["currentCPUUtilizationPercentage"] = metric["resource"]["current"][
                "averageUtilization"
            ]
            break
    if current:
        notes[CURRENT_METRICS] = _compact([metric_to_v1(m, spec=False) for m in current])
    if status.get("conditions"):
        notes[CONDITIONS] = _compact(status["conditions"])
    if notes:
        meta["annotations"] = {**(meta.get("annotations") or {}), **notes}
    # v1's replica counts are not omitempty: a new autoscaler shows them as 0.
    out_status.setdefault("currentReplicas", 0)
    out_status.setdefault("desiredReplicas", 0)
    return {
        "kind": KIND,
        "apiVersion": V1,
        "metadata": meta,
        "spec": out_spec,
        "status": out_status,
    }


def to_v2(obj: Obj) -> Obj:
    """An autoscaling/v1 HPA as v2 (the annotations v1 keeps are read and removed)."""
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    spec = obj.get("spec") or {}
    status = obj.get("status")
    metrics = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        target = {
            "type": "Utilization",
            "averageUtilization": spec["targetCPUUtilizationPercentage"],
        }
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": target}})
    metrics += [metric_to_v2(m, spec=True) for m in _annotation_list(annotations.pop(METRICS, ""))]
    out_spec: Obj = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    if metrics:
        out_spec["metrics"] = metrics
    behavior = _annotation_value(annotations.pop(BEHAVIOR, ""))
    if isinstance(behavior, dict):
        out_spec["behavior"] = behavior
    current = _annotation_list(annotations.pop(CURRENT_METRICS, ""))
    conditions = _annotation_list(annotations.pop(CONDITIONS, ""))
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out: Obj = {"kind": KIND, "apiVersion": V2, "metadata": meta, "spec": out_spec}
    if isinstance(status, dict):
        out["status"] = _status_to_v2(status, current, conditions)
    return out


def _status_to_v2(status: Obj, current: list[Obj], conditions: list[Obj]) -> Obj:
    out: Obj = {
        k: status[k]
        for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
        if k in status
    }
    metrics = [metric_to_v2(m, spec=False) for m in current]
    cpu = status.get("currentCPUUtilizationPercentage")
    if cpu is not None and not any(_is_cpu_utilization(m, "current") for m in metrics):
        usage = {"averageUtilization": cpu}
        metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "current": usage}})
    if metrics:
        out["currentMetrics"] = metrics
    if conditions:
        out["conditions"] = conditions
    return out


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _annotation_value(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _annotation_list(text: str) -> list[Obj]:
    value = _annotation_value(text)
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


# ---- requests -------------------------------------------------------------------------


def serve(ctx: RequestContext, rt: ResourceType, verb: str, dispatch: Dispatch) -> ApiResponse:
    """Run a v1 request through the v2 pipeline, converting its body and its answer."""
    v2 = ctx.cluster.registry.by_plural(GROUP, "v2", PLURAL)
    assert v2 is not None
    request = ctx.request
    method = request.method.upper()
    body: bytes | None = None
    headers = dict(request.headers)
    if method in ("POST", "PUT"):
        obj = decode_body(ctx)
        check_identity(ctx, obj, (V1, KIND))
        body = json.dumps(to_v2(obj)).encode()
        headers["Content-Type"] = JSON
    elif method == "PATCH":
        body, method = _patched(ctx, rt)
        if method == "PUT":
            headers["Content-Type"] = JSON
    if body is not None:
        ctx.request = replace(request, version="v2", method=method, body=body, headers=headers)
    else:
        ctx.request = replace(request, version="v2")
    ctx.rt = v2
    try:
        response = dispatch(ctx, v2, ctx.request.verb)
    finally:
        ctx.rt, ctx.request = rt, request
    response.body = convert_answer(response.body)
    return response


def _patched(ctx: RequestContext, rt: ResourceType) -> tuple[bytes, str]:
    """A v1 patch as the v2 request that does the same: server-side apply of the
    converted configuration, or an update with the patch applied to the v1 form."""
    content_type = media_type(ctx.request.headers.get("Content-Type"))
    if content_type not in PATCH_TYPES:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(PATCH_TYPES),
        )
    if content_type == APPLY_PATCH:
        applied = decode_yaml(ctx.request.body, "error decoding YAML")
        if not isinstance(applied, dict):
            raise ApiError(400, "the apply configuration must be an object")
        check_identity(ctx, applied, (V1, KIND))
        return json.dumps(to_v2(applied)).encode(), "PATCH"
    assert ctx.name is not None
    old = ctx.store.get(GROUP, PLURAL, ctx.namespace, ctx.name)
    if old is None:
        raise not_found(PLURAL, ctx.name, GROUP)
    patched = patch_mod.apply_patch(to_v1(old), ctx.request.body, content_type, rt)
    if not isinstance(patched, dict):
        raise ApiError(400, "the patch did not produce an object")
    patched["apiVersion"], patched["kind"] = V1, KIND
    meta = patched.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(422, "metadata must be an object", reason="Invalid")
    for fixed in ("name", "namespace", "uid"):
        if fixed in old["metadata"]:
            meta[fixed] = old["metadata"][fixed]
    meta.setdefault("resourceVersion", old["metadata"].get("resourceVersion"))
    return json.dumps(to_v2(patched)).encode(), "PUT"


def convert_answer(body: Any) -> Any:
    """A v2 HPA or HPA list in an answer as v1; anything else (Status, Table) as is."""
    if isinstance(body, EncodedJson):
        body = body.decode()
    if not isinstance(body, dict):
        return body
    if body.get("kind") == KIND:
        return to_v1(body)
    if body.get("kind") == f"{KIND}List":
        return {**body, "apiVersion": V1, "items": [to_v1(i) for i in body.get("items") or []]}
    return body

"""`metrics.k8s.io/v1beta1` NodeMetrics and PodMetrics, as metrics-server serves them.

Read-only (get, list with label and field selectors, per namespace or across all),
computed from `cluster.metrics` (the last scrape, plus pods whose containers reached
10 s since: `MetricsCache.refresh`) and never stored. The labels are
those of the node or pod (metrics-server copies them), so `kubectl top pod -l app=web`
selects as `kubectl get pods -l` does. Requests pass the aggregator first:
`aggregator.check_served` answers 503 while the APIService is not Available.
"""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.aggregator import check_served
from app.sim.apiserver.request import ApiResponse, RequestContext
from app.sim.machinery.clock import rfc3339
from app.sim.machinery.errors import not_found
from app.sim.machinery.metrics import NodeSample, PodSample, Usage
from app.sim.machinery.selectors import parse_field_selector, parse_label_selector

GROUP = "metrics.k8s.io"
API_VERSION = "metrics.k8s.io/v1beta1"


def decimal_quantity(nanos: int) -> str:
    """A nano-unit count as Go's canonical DecimalSI quantity: `124m`, `1500m`, `3`,
    `148489388n` (metrics-server's CPU is resource.NewScaledQuantity(n, -9))."""
    value, suffixes = nanos, ("n", "u", "m", "", "k", "M", "G")
    for index, suffix in enumerate(suffixes):
        if value == 0:
            return "0"
        if value % 1000 or index == len(suffixes) - 1:
            return f"{value}{suffix}"
        value //= 1000
    return str(value)


def binary_quantity(count: int) -> str:
    """Bytes as Go's canonical BinarySI quantity: `4Mi`, `899072Ki`, `1000`."""
    value = count
    for suffix in ("", "Ki", "Mi", "Gi", "Ti"):
        if value == 0:
            return "0"
        if value % 1024 or suffix == "Ti":
            return f"{value}{suffix}"
        value //= 1024
    return str(value)


def _usage(usage: Usage) -> dict[str, str]:
    return {
        "cpu": decimal_quantity(usage.cpu_nanocores),
        "memory": binary_quantity(usage.memory_bytes),
    }


def _window(seconds: float) -> str:
    return f"{seconds:g}s"


def _meta(ctx: RequestContext, source: dict[str, Any] | None, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": rfc3339(ctx.cluster.clock.now())}
    labels = ((source or {}).get("metadata") or {}).get("labels")
    if labels:
        meta["labels"] = dict(labels)
    return meta


def node_metrics(ctx: RequestContext, sample: NodeSample) -> dict[str, Any]:
    node = ctx.store.get("", "nodes", None, sample.name)
    return {
        "kind": "NodeMetrics",
        "apiVersion": API_VERSION,
        "metadata": _meta(ctx, node, sample.name),
        "timestamp": rfc3339(sample.timestamp),
        "window": _window(sample.window),
        "usage": _usage(sample.usage),
    }


def pod_metrics(ctx: RequestContext, sample: PodSample) -> dict[str, Any]:
    pod = ctx.store.get("", "pods", sample.namespace, sample.name)
    meta = _meta(ctx, pod, sample.name)
    meta["namespace"] = sample.namespace
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": meta,
        "timestamp": rfc3339(sample.timestamp),
        "window": _window(sample.window),
        "containers": [{"name": name, "usage": _usage(usage)} for name, usage in sample.containers],
    }


def _all(ctx: RequestContext) -> list[dict[str, Any]]:
    rt = ctx.rt
    assert rt is not None
    cache = ctx.cluster.metrics
    if rt.plural == "nodes":
        return [node_metrics(ctx, s) for s in cache.node_samples()]
    cache.refresh(ctx.namespace)
    samples = cache.pod_samples(ctx.namespace)
    return [pod_metrics(ctx, s) for s in samples if ctx.store.get("", "pods", s.namespace, s.name)]


def get(ctx: RequestContext) -> ApiResponse:
    from app.sim.apiserver.reads import render_objects

    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    check_served(ctx.cluster, rt.group, rt.version)
    cache = ctx.cluster.metrics
    if rt.plural == "nodes":
        node_sample = cache.node(ctx.name)
        obj = node_metrics(ctx, node_sample) if node_sample is not None else None
    else:
        cache.refresh(ctx.namespace)
        pod_sample = cache.pod(ctx.namespace or "", ctx.name)
        exists = ctx.store.get("", "pods", ctx.namespace, ctx.name) is not None
        obj = pod_metrics(ctx, pod_sample) if pod_sample is not None and exists else None
    if obj is None:
        # metrics-server names a pod by namespace/name: podmetrics.metrics.k8s.io
        # "default/web" not found.
        shown = ctx.name if rt.plural == "nodes" else f"{ctx.namespace}/{ctx.name}"
        raise not_found(rt.kind.lower(), shown, GROUP)
    return ApiResponse(200, render_objects(ctx, [obj], single=True))


def list_metrics(ctx: RequestContext) -> ApiResponse:
    from app.sim.apiserver.reads import render_objects

    rt = ctx.rt
    assert rt is not None
    check_served(ctx.cluster, rt.group, rt.version)
    query = ctx.request.query
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
    items = [
        obj
        for obj in _all(ctx)
        if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)
    ]
    return ApiResponse(200, render_objects(ctx, items, rv=0))

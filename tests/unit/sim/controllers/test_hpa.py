"""The HPA controller on a real store and a manual clock: upstream's replica formula,
tolerance, limits, stabilization window, conditions and events.

Pods are run by the `Lab` stand-ins; their usage is put into the cluster's metrics
cache (what metrics-server would have scraped) and the controller reads it back
through the `metrics.k8s.io` API, behind the metrics-server APIService.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.sim.apiserver.aggregator import ApiServiceSync
from app.sim.controllers.metrics_server import metrics_server_objects
from app.sim.controllers.replicacalc import (
    MetricError,
    PodMetric,
    milli_quantity,
    resource_replicas,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.metrics import PodSample, Usage
from tests.builders import deployment
from tests.fixtures.controllers import Lab

MIB = 1024 * 1024


def hpa(
    target: str = "web",
    kind: str = "Deployment",
    *,
    low: int = 1,
    high: int = 10,
    metric: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    goal = metric or {"type": "Utilization", "averageUtilization": 50}
    body = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": goal}}],
            **spec,
        },
    }
    return body


def with_requests(obj: dict[str, Any], **requests: str) -> dict[str, Any]:
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": dict(requests)}
    return obj


def serve_metrics(lab: Lab) -> None:
    """metrics-server's objects, its pod running and the APIService Available."""
    for group, plural, obj in metrics_server_objects():
        lab.create(group, plural, obj)
    lab.sync()
    lab.run_all("kube-system")
    lab.sync()
    ApiServiceSync(lab.cluster).tick()
    service = lab.get("apiregistration.k8s.io", "apiservices", "v1beta1.metrics.k8s.io", None)
    assert service["status"]["conditions"][0]["status"] == "True"


def report(lab: Lab, prefix: str = "web-", cpu_m: int = 0, memory_mib: int = 1) -> None:
    """Every running pod named `prefix*` uses `cpu_m` millicores and `memory_mib` MiB,
    measured now."""
    now = lab.clock.now()
    samples = {
        ("default", p["metadata"]["name"]): PodSample(
            "default",
            p["metadata"]["name"],
            now,
            15.0,
            (("app", Usage(cpu_m * 1_000_000, memory_mib * MIB)),),
        )
        for p in lab.pods("default", prefix)
        if p["status"].get("phase") == "Running"
    }
    lab.cluster.metrics.replace({}, samples, now)


def settle(lab: Lab, seconds: float = 20.0) -> None:
    """Let time pass (pods run a whole metrics window), then run the controllers."""
    lab.sync()
    lab.run_all()
    lab.advance(seconds)
    lab.sync()


def conditions(lab: Lab, name: str = "web") -> dict[str, dict[str, Any]]:
    obj = lab.get("autoscaling", "horizontalpodautoscalers", name)
    return {c["type"]: c for c in obj["status"].get("conditions") or []}


def replicas(lab: Lab, plural: str = "deployments", name: str = "web") -> int:
    return lab.get("apps", plural, name)["spec"]["replicas"]


@pytest.fixture
def web(lab: Lab) -> Lab:
    """A Deployment `web` of 2 pods requesting 100m CPU, metrics served."""
    serve_metrics(lab)
    lab.create("apps", "deployments", with_requests(deployment(replicas=2), cpu="100m"))
    settle(lab)
    return lab


def test_scale_up_follows_the_ratio_within_the_scale_up_limit(web: Lab) -> None:
    report(web, cpu_m=150)  # 150% of the request against a 50% target: ratio 3
    web.create("autoscaling", "horizontalpodautoscalers", hpa())
    web.sync()
    # ceil(3 * 2) = 6, but without behavior one step grows to max(2 * 2, 4) at most.
    assert replicas(web) == 4
    status = web.get("autoscaling", "horizontalpodautoscalers", "web")["status"]
    assert status["currentReplicas"] == 2 and status["desiredReplicas"] == 4
    assert status["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "current": {"averageUtilization": 150, "averageValue": "150m"},
            },
        }
    ]
    limited = conditions(web)["ScalingLimited"]
    assert (limited["status"], limited["reason"]) == ("True", "ScaleUpLimit")
    assert conditions(web)["AbleToScale"]["reason"] == "SucceededRescale"
    [event] = web.events("SuccessfulRescale")
    assert event["message"] == (
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"
    )
    assert event["source"]["component"] == "horizontal-pod-autoscaler"


def test_usage_within_tolerance_keeps_the_count(web: Lab) -> None:
    report(web, cpu_m=54)  # 54% against 50%: ratio 1.08, inside the 0.1 tolerance
    web.create("autoscaling", "horizontalpodautoscalers", hpa())
    web.sync()
    assert replicas(web) == 2
    found = conditions(web)
    assert found["AbleToScale"]["reason"] == "ReadyForNewScale"
    assert found["ScalingActive"]["message"] == (
        "the HPA was able to successfully calculate a replica count from cpu resource "
        "utilization (percentage of request)"
    )
    assert found["ScalingLimited"]["reason"] == "DesiredWithinRange"
    assert web.events("SuccessfulRescale") == []


def test_missing_cpu_request_stops_scaling_with_upstreams_message(lab: Lab) -> None:
    serve_metrics(lab)
    lab.create("apps", "deployments", deployment(replicas=1))
    settle(lab)
    report(lab, cpu_m=80)
    lab.create("autoscaling", "horizontalpodautoscalers", hpa())
    lab.sync()
    [pod] = lab.pods("default", "web-")
    active = conditions(lab)["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        f"missing request for cpu in container app of Pod {pod['metadata']['name']}"
    )
    [computed] = lab.events("FailedComputeMetricsReplicas")
    assert computed["message"].startswith("invalid metrics (1 invalid out of 1), first error is")
    assert replicas(lab) == 1


def test_scale_down_waits_for_the_stabilization_window(web: Lab) -> None:
    report(web, cpu_m=10)  # 10% against 50%: ceil(0.2 * 2) = 1
    web.create("autoscaling", "horizontalpodautoscalers", hpa())
    web.sync()
    # The first recommendation is the current size: 300 s pass before going below it.
    assert replicas(web) == 2
    assert conditions(web)["AbleToScale"]["reason"] == "ScaleDownStabilized"
    for _ in range(18):  # 270 s, a sync every 15 s
        web.advance(15)
        report(web, cpu_m=10)
        web.sync()
    assert replicas(web) == 2
    for _ in range(3):
        web.advance(15)
        report(web, cpu_m=10)
        web.sync()
    assert replicas(web) == 1
    [event] = web.events("SuccessfulRescale")
    assert event["message"] == "New size: 1; reason: All metrics below target"


def test_behavior_window_of_zero_scales_down_at_once(web: Lab) -> None:
    report(web, cpu_m=10)
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0}}
    web.create("autoscaling", "horizontalpodautoscalers", hpa(behavior=behavior))
    web.sync()
    assert replicas(web) == 1
    stored = web.get("autoscaling", "horizontalpodautoscalers", "web")["spec"]["behavior"]
    # Defaulted as the API server does once behavior is given.
    assert stored["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}


def test_max_replicas_clamps_and_min_replicas_raises(web: Lab) -> None:
    report(web, cpu_m=100)
    web.create("autoscaling", "horizontalpodautoscalers", hpa(high=3))
    web.sync()
    assert replicas(web) == 3
    limited = conditions(web)["ScalingLimited"]
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    web.create("apps", "deployments", with_requests(deployment("api", replicas=1), cpu="1"))
    settle(web)
    web.create("autoscaling", "horizontalpodautoscalers", hpa("api", low=2, high=4))
    web.sync()
    assert replicas(web, name="api") == 2
    [event] = [e for e in web.events("SuccessfulRescale") if e["involvedObject"]["name"] == "api"]
    assert (
        event["message"] == "New size: 2; reason: Current number of replicas below Spec.MinReplicas"
    )


def test_memory_average_value_target(lab: Lab) -> None:
    serve_metrics(lab)
    lab.create("apps", "deployments", deployment(replicas=2))
    settle(lab)
    report(lab, memory_mib=150)
    target = {"type": "AverageValue", "averageValue": "100Mi"}
    obj = hpa(metric=target)
    obj["spec"]["metrics"][0]["resource"]["name"] = "memory"
    lab.create("autoscaling", "horizontalpodautoscalers", obj)
    lab.sync()
    assert replicas(lab) == 3  # ceil(1.5 * 2)
    status = lab.get("autoscaling", "horizontalpodautoscalers", "web")["status"]
    assert status["currentMetrics"][0]["resource"]["current"] == {"averageValue": str(150 * MIB)}
    [event] = lab.events("SuccessfulRescale")
    assert event["message"] == "New size: 3; reason: memory resource above target"


def test_statefulset_target_is_scaled(web: Lab) -> None:
    sts = with_requests(deployment("db", replicas=1), cpu="200m")
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    web.create("apps", "statefulsets", sts)
    settle(web)
    report(web, prefix="db-", cpu_m=200)  # 100% against 50%: 2 replicas
    web.create("autoscaling", "horizontalpodautoscalers", hpa("db", "StatefulSet"))
    web.sync()
    assert replicas(web, "statefulsets", "db") == 2


def test_unavailable_metrics_api_is_reported(lab: Lab) -> None:
    lab.create("apps", "deployments", with_requests(deployment(replicas=1), cpu="100m"))
    settle(lab)
    for group, plural, obj in metrics_server_objects():
        if plural == "apiservices":
            lab.create(group, plural, obj)
    ApiServiceSync(lab.cluster).tick()  # no Service: not available
    lab.create("autoscaling", "horizontalpodautoscalers", hpa())
    lab.sync()
    active = conditions(lab)["ScalingActive"]
    assert active["reason"] == "FailedGetResourceMetric"
    assert active["message"].endswith(
        "unable to fetch metrics from resource metrics API: the server is currently unable "
        "to handle the request (get pods.metrics.k8s.io)"
    )


def test_missing_target_is_failed_get_scale(lab: Lab) -> None:
    lab.create("autoscaling", "horizontalpodautoscalers", hpa("ghost"))
    lab.sync()
    able = conditions(lab, "ghost")["AbleToScale"]
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert able["message"].endswith('deployments.apps "ghost" not found')


# ---- the calculation alone ----------------------------------------------------------------


def _pod(name: str, request: str = "100m", phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": request}}}]},
        "status": {
            "phase": phase,
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            ],
        },
    }


NOW = datetime.fromisoformat("2026-01-01T00:10:00+00:00")


def _metric(milli: int) -> PodMetric:
    return PodMetric(milli, NOW, 15.0)


def test_missing_pods_count_as_using_their_request_when_scaling_down() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c")]
    # a and b at 10% of a 50% target (ratio 0.2); c has no metrics yet, so it counts
    # at 100% of its request: (10 + 10 + 100) / 300 = 40% -> ratio 0.8 -> ceil(2.4) = 3.
    got = resource_replicas(3, 50, "cpu", pods, {"a": _metric(10), "b": _metric(10)}, NOW)
    assert got == (3, 10, 10)


def test_pending_pods_count_as_idle_when_scaling_up() -> None:
    pods = [_pod("a"), _pod("b", phase="Pending")]
    # a at 200% (ratio 4); the pending pod counts as 0: (200 + 0) / 200 = 100% -> ceil(2 * 2) = 4.
    assert resource_replicas(2, 50, "cpu", pods, {"a": _metric(200)}, NOW)[0] == 4


def test_no_pods_is_an_error() -> None:
    with pytest.raises(MetricError, match="no pods returned by selector"):
        resource_replicas(1, 50, "cpu", [], {"a": _metric(1)}, NOW)


@pytest.mark.parametrize(
    ("milli", "text"),
    [
        (80, "80m"),
        (1000, "1"),
        (1500, "1500m"),
        (200_000_000_000, "200M"),
        (4_194_304_000, "4194304"),
    ],
)
def test_milli_quantities_print_like_decimal_si(milli: int, text: str) -> None:
    assert milli_quantity(milli) == text


def test_validation_and_defaults_through_the_api(lab: Lab) -> None:
    with pytest.raises(ApiError) as raised:
        lab.create("autoscaling", "horizontalpodautoscalers", hpa(low=3, high=2))
    assert raised.value.code == 422
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in (
        str(raised.value.status())
    )
    bare = hpa()
    del bare["spec"]["metrics"], bare["spec"]["minReplicas"]
    created = lab.create("autoscaling", "horizontalpodautoscalers", bare)
    assert created["spec"]["minReplicas"] == 1
    assert created["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]

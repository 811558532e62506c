"""autoscaling/v1 HorizontalPodAutoscaler with the real kubectl: served beside the
stored v2 and converted both ways (`targetCPUUtilizationPercentage`, the
`currentCPUUtilizationPercentage` of a running autoscaler, and upstream's
`autoscaling.alpha.kubernetes.io/*` annotations for what v1 cannot hold)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import KubectlResult, SimCluster

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., KubectlResult]
# The full resource name: kubectl expands the short name of `hpa.v1.autoscaling` to
# the group's preferred version (its shortcut expander), whatever the server serves.
HPA_V1 = "horizontalpodautoscalers.v1.autoscaling"

V1_HPA = """
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  targetCPUUtilizationPercentage: 70
"""
V2_HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: mem}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 30}
"""


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def as_json(kubectl: Kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def test_both_versions_are_served_and_v1_writes_become_v2(kubectl: Kubectl, tmp_path: Path) -> None:
    assert {"autoscaling/v1", "autoscaling/v2"} <= set(kubectl("api-versions").lines)
    kubectl("create", "deployment", "web", "--image=nginx")
    (tmp_path / "v1.yaml").write_text(V1_HPA)
    kubectl("apply", "-f", str(tmp_path / "v1.yaml"))
    stored = as_json(kubectl, "hpa", "api")  # the preferred version, v2
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert (stored["spec"]["minReplicas"], stored["spec"]["maxReplicas"]) == (2, 6)
    kubectl(
        "patch", HPA_V1, "api", "--type=merge",
        "-p", '{"spec":{"targetCPUUtilizationPercentage":55}}',
    )  # fmt: skip
    v1 = as_json(kubectl, HPA_V1, "api")
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 55
    assert "annotations" not in v1["metadata"] or not any(
        k.startswith("autoscaling.alpha") for k in v1["metadata"]["annotations"]
    )
    target = as_json(kubectl, "hpa", "api")["spec"]["metrics"][0]["resource"]["target"]
    assert target["averageUtilization"] == 55
    # kubectl apply again (client-side apply: a strategic merge patch through v1).
    kubectl("apply", "-f", str(tmp_path / "v1.yaml"))
    assert as_json(kubectl, HPA_V1, "api")["spec"]["targetCPUUtilizationPercentage"] == 70
    table = kubectl("get", HPA_V1).lines
    assert table[0].split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert table[1].split()[:2] == ["api", "Deployment/web"]


def test_v2_only_fields_travel_in_annotations_and_come_back(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("create", "deployment", "web", "--image=nginx")
    (tmp_path / "v2.yaml").write_text(V2_HPA)
    kubectl("apply", "-f", str(tmp_path / "v2.yaml"))
    v1 = as_json(kubectl, HPA_V1, "mem")
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    notes = v1["metadata"]["annotations"]
    assert json.loads(notes["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    ]
    assert (
        json.loads(notes["autoscaling.alpha.kubernetes.io/behavior"])["scaleDown"][
            "stabilizationWindowSeconds"
        ]
        == 30
    )
    # A v1 client writes the object back with a change: the v2 fields survive.
    v1["spec"]["maxReplicas"] = 8
    (tmp_path / "back.json").write_text(json.dumps(v1))
    kubectl("replace", "-f", str(tmp_path / "back.json"))
    v2 = as_json(kubectl, "hpa", "mem")
    assert v2["spec"]["maxReplicas"] == 8
    assert [m["resource"]["name"] for m in v2["spec"]["metrics"]] == ["cpu", "memory"]
    assert v2["spec"]["metrics"][1]["resource"]["target"] == {
        "type": "AverageValue",
        "averageValue": "100Mi",
    }
    assert v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 30
    assert not any(
        k.startswith("autoscaling.alpha") for k in (v2["metadata"].get("annotations") or {})
    )

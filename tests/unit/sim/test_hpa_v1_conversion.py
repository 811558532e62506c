"""autoscaling/v2 <-> v1 HorizontalPodAutoscaler conversion (upstream's
pkg/apis/autoscaling/v1/conversion.go): every metric kind survives a round trip
through v1's annotations, and the cpu utilization target uses the v1 field."""

from __future__ import annotations

import json

from app.sim.apiserver.hpa_v1 import CURRENT_METRICS, METRICS, to_v1, to_v2

SELECTOR = {"matchLabels": {"queue": "orders"}}
V2 = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "h", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 9,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 75},
                },
            },
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "rps", "selector": SELECTOR},
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            },
            {
                "type": "Object",
                "object": {
                    "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "web"},
                    "metric": {"name": "hits"},
                    "target": {"type": "Value", "value": "2k"},
                },
            },
            {
                "type": "External",
                "external": {
                    "metric": {"name": "queue", "selector": SELECTOR},
                    "target": {"type": "AverageValue", "averageValue": "30"},
                },
            },
            {
                "type": "ContainerResource",
                "containerResource": {
                    "name": "memory",
                    "container": "app",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
        ],
    },
    "status": {
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": 90, "averageValue": "450m"},
                },
            },
            {
                "type": "Pods",
                "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "12"}},
            },
        ],
        "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}],
    },
}


def test_v1_form_and_round_trip() -> None:
    v1 = to_v1(V2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 75
    assert "metrics" not in v1["spec"]
    others = json.loads(v1["metadata"]["annotations"][METRICS])
    assert [m["type"] for m in others] == ["Pods", "Object", "External", "ContainerResource"]
    assert others[0]["pods"] == {
        "metricName": "rps",
        "targetAverageValue": "10",
        "selector": SELECTOR,
    }
    assert others[1]["object"]["targetValue"] == "2k"
    assert others[2]["external"]["metricSelector"] == SELECTOR
    assert others[3]["containerResource"] == {
        "name": "memory",
        "targetAverageUtilization": 60,
        "container": "app",
    }
    assert v1["status"]["currentCPUUtilizationPercentage"] == 90
    current = json.loads(v1["metadata"]["annotations"][CURRENT_METRICS])
    assert current[0]["resource"] == {
        "name": "cpu",
        "currentAverageUtilization": 90,
        "currentAverageValue": "450m",
    }
    assert v1["metadata"]["annotations"]["team"] == "a"
    back = to_v2(v1)
    assert back["spec"] == V2["spec"]
    assert back["status"] == V2["status"]
    assert back["metadata"]["annotations"] == {"team": "a"}


def test_a_bare_v1_object_and_broken_annotations() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "annotations": {METRICS: "not json"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 2},
    }
    v2 = to_v2(v1)
    assert "metrics" not in v2["spec"] and "annotations" not in v2["metadata"]
    assert "status" not in v2
    shown = to_v1({**v2, "status": {}})
    assert shown["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert "targetCPUUtilizationPercentage" not in shown["spec"]

"""The official Python client's AutoscalingV1Api against the simulator: an HPA created
as autoscaling/v1 is driven by the (v2) controller and reads back with
`currentCPUUtilizationPercentage`, its conditions in upstream's annotation, in get,
list and watch."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, watch

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def _busy_deployment() -> client.V1Deployment:
    container = client.V1Container(
        name="app",
        image="busybox",
        command=["sh", "-c", "while true; do :; done"],
        resources=client.V1ResourceRequirements(requests={"cpu": "500m"}, limits={"cpu": "1"}),
    )
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": "burn"}),
        spec=client.V1PodSpec(containers=[container]),
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="burn"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "burn"}),
            template=template,
        ),
    )


def test_v1_hpa_reports_cpu_utilization(sim_cluster, k8s_client) -> None:
    client.AppsV1Api(k8s_client).create_namespaced_deployment("default", _busy_deployment())
    api = client.AutoscalingV1Api(k8s_client)
    hpa = client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="burn"),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="burn"
            ),
            min_replicas=1,
            max_replicas=3,
            target_cpu_utilization_percentage=50,
        ),
    )
    created = api.create_namespaced_horizontal_pod_autoscaler("default", hpa)
    assert created.api_version == "autoscaling/v1"
    assert created.spec.target_cpu_utilization_percentage == 50
    stored = sim_cluster.store.get("autoscaling", "horizontalpodautoscalers", "default", "burn")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 90)
    read = api.read_namespaced_horizontal_pod_autoscaler("burn", "default")
    # One busy core against a 500m request: 200 % (the HPA then scales out).
    assert read.status.current_cpu_utilization_percentage == 200
    assert read.status.desired_replicas == 3
    conditions = json.loads(read.metadata.annotations[CONDITIONS])
    assert {c["type"] for c in conditions} >= {"AbleToScale", "ScalingActive"}
    current = json.loads(read.metadata.annotations[CURRENT])
    assert current[0] == {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "currentAverageUtilization": 200,
            "currentAverageValue": current[0]["resource"]["currentAverageValue"],
        },
    }
    listed = api.list_namespaced_horizontal_pod_autoscaler("default")
    assert listed.items[0].status.current_cpu_utilization_percentage == 200
    events = watch.Watch().stream(
        api.list_namespaced_horizontal_pod_autoscaler, "default", timeout_seconds=1
    )
    first = next(iter(events))
    assert first["type"] == "ADDED"
    assert first["object"].api_version == "autoscaling/v1"
    assert first["object"].spec.target_cpu_utilization_percentage == 50

"""The official `kubernetes` Python client against a simulated cluster: the same
client the lab grader uses."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def configmap(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "demo"}), data=data
    )


def test_list_nodes_and_namespaces(k8s_client) -> None:
    core = client.CoreV1Api(k8s_client)
    nodes = core.list_node()
    assert [n.metadata.name for n in nodes.items] == ["controlplane", "node01", "node02"]
    assert nodes.items[0].status.node_info.kubelet_version.startswith("v1.3")
    ready = {c.type: c.status for c in nodes.items[1].status.conditions}["Ready"]
    assert ready == "True"
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_create_read_patch_delete(k8s_client) -> None:
    core = client.CoreV1Api(k8s_client)
    created = core.create_namespaced_config_map("default", configmap("settings", mode="fast"))
    assert created.metadata.resource_version
    assert created.metadata.uid
    patched = core.patch_namespaced_config_map("settings", "default", {"data": {"mode": "slow"}})
    assert patched.data == {"mode": "slow"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    read = core.read_namespaced_config_map("settings", "default")
    assert read.data["mode"] == "slow"
    # The client (v37) returns DELETE answers undecoded: a Status dict here.
    status = core.delete_namespaced_config_map("settings", "default")
    assert status["status"] == "Success"
    assert status["details"]["name"] == "settings"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("settings", "default")
    assert err.value.status == 404


def test_create_deployment_and_scale(k8s_client) -> None:
    apps = client.AppsV1Api(k8s_client)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment("default", body)
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.template.spec.containers[0].image_pull_policy == "Always"
    scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 5
    listed = apps.list_deployment_for_all_namespaces(label_selector="app!=other")
    # CoreDNS and metrics-server are the cluster's own Deployments (labelled k8s-app, so
    # app!=other holds).
    assert sorted(d.metadata.name for d in listed.items) == ["coredns", "metrics-server", "web"]


def test_conflict_and_already_exists(k8s_client) -> None:
    core = client.CoreV1Api(k8s_client)
    first = core.create_namespaced_config_map("default", configmap("c1", v="1"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("default", configmap("c1"))
    assert exists.value.status == 409
    first.data = {"v": "2"}
    core.replace_namespaced_config_map("c1", "default", first)
    first.data = {"v": "3"}
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("c1", "default", first)
    assert stale.value.status == 409
    assert "the object has been modified" in stale.value.body


def test_watch_sees_changes(k8s_client, sim_cluster) -> None:
    core = client.CoreV1Api(k8s_client)
    start = core.list_namespaced_config_map("default").metadata.resource_version

    def writer() -> None:
        time.sleep(0.3)
        core.create_namespaced_config_map("default", configmap("w1"))
        core.patch_namespaced_config_map("w1", "default", {"data": {"k": "v"}})
        core.delete_namespaced_config_map("w1", "default")

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    watcher = watch.Watch()
    for event in watcher.stream(
        core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            watcher.stop()
    thread.join()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_with_label_selector_and_timeout(k8s_client) -> None:
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_config_map("default", configmap("labelled"))
    started = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, "default", label_selector="app=demo", timeout_seconds=1
        )
    )
    assert [e["object"].metadata.name for e in events] == ["labelled"]
    assert time.monotonic() - started < 10  # the server ended the stream itself


def test_list_with_limit_and_continue(k8s_client) -> None:
    core = client.CoreV1Api(k8s_client)
    for i in range(4):
        core.create_namespaced_config_map("default", configmap(f"p{i}"))
    first = core.list_namespaced_config_map("default", limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_config_map("default", limit=10, _continue=first.metadata._continue)
    names = [c.metadata.name for c in first.items + rest.items]
    assert names == ["kube-root-ca.crt", "p0", "p1", "p2", "p3"]

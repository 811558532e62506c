"""The real kubectl reading a fresh simulated cluster: get in every output format,
watch, selectors, describe with events, discovery, explain and config commands."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests import builders
from tests.fixtures.sim import SimCluster, kubectl_binary

pytestmark = pytest.mark.kubectl


def make_pod(
    sim: SimCluster,
    name: str,
    namespace: str = "default",
    node: str | None = None,
    phase: str = "Pending",
    **labels: str,
) -> dict:
    pod = builders.pod(name, namespace, labels=labels, image="nginx:1.27")
    pod["status"] = {"phase": phase}
    if node:
        pod["spec"]["nodeName"] = node
        pod["status"]["podIP"] = "10.244.1.7"
    return sim.store.create("", "pods", pod)


def make_event(
    sim: SimCluster,
    obj: dict,
    reason: str,
    message: str,
    kind: str = "Pod",
    api_version: str = "v1",
    type_: str = "Normal",
) -> None:
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    sim.store.create(
        "",
        "events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{reason.lower()}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": api_version,
                "kind": kind,
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": "default-scheduler"},
            "firstTimestamp": meta["creationTimestamp"],
            "lastTimestamp": meta["creationTimestamp"],
            "count": 1,
        },
    )


def test_get_nodes_default_and_wide(kubectl) -> None:
    out = kubectl("get", "nodes").lines
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert out[1].split()[:3] == ["controlplane", "Ready", "control-plane"]
    assert out[2].split()[:3] == ["node01", "Ready", "<none>"]
    wide = kubectl("get", "nodes", "-o", "wide").lines
    assert "INTERNAL-IP" in wide[0] and "CONTAINER-RUNTIME" in wide[0]
    assert "172.30.1.2" in wide[1] and "containerd://" in wide[1]


def test_get_pods_default_wide_and_all_namespaces(kubectl, sim_cluster) -> None:
    make_pod(sim_cluster, "web-1", node="node01", phase="Running", app="web")
    make_pod(sim_cluster, "dns-1", namespace="kube-system", app="dns")
    out = kubectl("get", "pods").lines
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:3] == ["web-1", "0/1", "Running"]
    assert len(out) == 2  # the kube-system pod is not listed
    wide = kubectl("get", "pods", "-o", "wide").lines
    assert wide[0].split()[5:7] == ["IP", "NODE"]
    assert "10.244.1.7" in wide[1] and "node01" in wide[1]
    everything = kubectl("get", "pods", "-A").lines
    assert everything[0].split()[0] == "NAMESPACE"
    listed = {line.split()[1] for line in everything[1:]}
    # Beside the control-plane and add-on pods every kubeadm cluster runs.
    assert {"web-1", "dns-1", "kube-scheduler-controlplane"} <= listed
    short = kubectl("get", "po", "--all-namespaces", "--no-headers").lines
    assert len(short) == len(everything) - 1


def test_get_yaml_json_jsonpath_custom_columns(kubectl, sim_cluster) -> None:
    make_pod(sim_cluster, "web-1", node="node02", app="web")
    as_yaml = kubectl("get", "pod", "web-1", "-o", "yaml").stdout
    assert "kind: Pod" in as_yaml and "nodeName: node02" in as_yaml
    as_json = kubectl("get", "pod", "web-1", "-o", "json").json()
    assert as_json["metadata"]["labels"] == {"app": "web"}
    assert as_json["metadata"]["uid"]
    listed = kubectl("get", "pods", "-o", "json").json()
    assert listed["kind"] == "List" and len(listed["items"]) == 1
    path = kubectl("get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}").stdout
    assert path == "node02"
    names = kubectl(
        "get", "nodes", "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'
    ).lines
    assert names == ["controlplane", "node01", "node02"]
    columns = kubectl(
        "get",
        "pods",
        "-o",
        "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,IMAGE:.spec.containers[0].image",
    ).lines
    assert columns[0].split() == ["NAME", "NODE", "IMAGE"]
    assert columns[1].split() == ["web-1", "node02", "nginx:1.27"]
    taints = kubectl(
        "get",
        "node",
        "controlplane",
        "-o",
        "jsonpath={.spec.taints[0].key}:{.spec.taints[0].effect}",
    ).stdout
    assert taints == "node-role.kubernetes.io/control-plane:NoSchedule"


def test_label_and_field_selectors(kubectl, sim_cluster) -> None:
    make_pod(sim_cluster, "web-1", node="node01", phase="Running", app="web", tier="front")
    make_pod(sim_cluster, "web-2", node="node02", phase="Running", app="web", tier="back")
    make_pod(sim_cluster, "db-1", app="db")
    by_label = kubectl("get", "pods", "-l", "app=web", "-o", "name").lines
    assert by_label == ["pod/web-1", "pod/web-2"]
    set_based = kubectl("get", "pods", "-l", "tier in (front),app!=db", "-o", "name").lines
    assert set_based == ["pod/web-1"]
    on_node = kubectl("get", "pods", "--field-selector", "spec.nodeName=node02", "-o", "name").lines
    assert on_node == ["pod/web-2"]
    pending = kubectl(
        "get", "pods", "-A", "--field-selector", "status.phase=Pending", "--no-headers"
    ).lines
    assert [line.split()[1] for line in pending] == ["db-1"]
    nodes = kubectl(
        "get", "nodes", "-l", "node-role.kubernetes.io/control-plane", "-o", "name"
    ).lines
    assert nodes == ["node/controlplane"]
    bad = kubectl("get", "pods", "--field-selector", "spec.image=nginx", check=False)
    assert bad.returncode == 1
    assert "field label not supported: spec.image" in bad.stderr


def start_watch(sim_cluster, home, *args: str) -> subprocess.Popen:
    """Start `kubectl get ...` in the background; returns once its watch is open."""
    env = {"KUBECONFIG": str(sim_cluster.kubeconfig_path), "HOME": str(home)}
    proc = subprocess.Popen(
        [kubectl_binary(), "get", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for _ in range(200):
        if sim_cluster.store.watcher_count:
            break
        time.sleep(0.05)
    assert sim_cluster.store.watcher_count == 1
    return proc


def test_get_watch_for_a_bounded_time(kubectl, sim_cluster, kubectl_home) -> None:
    make_pod(sim_cluster, "early", app="w")
    proc = start_watch(sim_cluster, kubectl_home, "pods", "-w", "--request-timeout=4s")
    try:
        make_pod(sim_cluster, "late", app="w")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == ["early", "late"], (out, err)


def test_get_watch_only_prints_changes(kubectl, sim_cluster, kubectl_home) -> None:
    pod = make_pod(sim_cluster, "web", app="w")
    columns = "custom-columns=NAME:.metadata.name,PHASE:.status.phase"
    proc = start_watch(
        sim_cluster, kubectl_home, "pods", "--watch-only", "--request-timeout=3s", "-o", columns
    )
    try:
        pod["status"]["phase"] = "Running"
        sim_cluster.store.update("", "pods", pod)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert [line.split() for line in out.splitlines() if line.strip()][-1] == ["web", "Running"]


def test_describe_pod_with_events(kubectl, sim_cluster) -> None:
    pod = make_pod(sim_cluster, "web-1", node="node01", app="web")
    make_event(sim_cluster, pod, "Scheduled", "Successfully assigned default/web-1 to node01")
    out = kubectl("describe", "pod", "web-1").stdout
    assert re.search(r"^Name:\s+web-1$", out, re.M)
    assert re.search(r"^Node:\s+node01", out, re.M)
    assert re.search(r"^\s+Image:\s+nginx:1.27$", out, re.M)
    events = out[out.index("Events:") :]
    assert "Scheduled" in events and "default-scheduler" in events
    assert "Successfully assigned default/web-1 to node01" in events


def test_describe_node(kubectl, sim_cluster) -> None:
    node = sim_cluster.store.get("", "nodes", None, "node01")
    make_event(sim_cluster, node, "NodeReady", "Node node01 status is now: NodeReady", kind="Node")
    make_pod(sim_cluster, "web-1", node="node01", app="web")
    out = kubectl("describe", "node", "node01").stdout
    assert re.search(r"^Roles:\s+<none>$", out, re.M)
    assert "kubernetes.io/hostname=node01" in out
    assert re.search(r"^\s+Ready\s+True", out, re.M)
    assert "Non-terminated Pods:" in out and "web-1" in out
    assert "NodeReady" in out
    cp = kubectl("describe", "node", "controlplane").stdout
    assert re.search(r"^Taints:\s+node-role.kubernetes.io/control-plane:NoSchedule$", cp, re.M)


def test_describe_deployment_with_events(kubectl, sim_cluster) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    deployment = sim_cluster.store.get("apps", "deployments", "default", "web")
    make_event(
        sim_cluster,
        deployment,
        "ScalingReplicaSet",
        "Scaled up replica set web-5d4f8b to 2",
        kind="Deployment",
        api_version="apps/v1",
    )
    out = kubectl("describe", "deployment", "web").stdout
    assert re.search(r"^Replicas:\s+2 desired", out, re.M)
    assert re.search(r"^StrategyType:\s+RollingUpdate$", out, re.M)
    assert "Scaled up replica set web-5d4f8b to 2" in out


def test_get_events_by_involved_object(kubectl, sim_cluster) -> None:
    pod = make_pod(sim_cluster, "payment-api-7d4f8b-xyz", app="payment-api")
    make_event(sim_cluster, pod, "FailedScheduling", "0/3 nodes are available", type_="Warning")
    out = kubectl(
        "get", "events", "--field-selector", "involvedObject.name=payment-api-7d4f8b-xyz"
    ).lines
    assert out[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert "FailedScheduling" in out[1] and "pod/payment-api-7d4f8b-xyz" in out[1]


def test_api_resources_and_versions(kubectl) -> None:
    resources = kubectl("api-resources").lines
    assert resources[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in resources[1:]}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["customresourcedefinitions"][1] == "crd,crds"
    namespaced = kubectl("api-resources", "--namespaced=false", "-o", "name").lines
    assert "nodes" in namespaced and "pods" not in namespaced
    versions = kubectl("api-versions").lines
    assert "apps/v1" in versions and "v1" in versions and "batch/v1" in versions


def test_explain(kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "KIND:       Pod" in out
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out or "image <string>" in out or "image" in out


def test_version_cluster_info_and_config(kubectl, sim_cluster) -> None:
    version = kubectl("version", "-o", "json").json()
    assert version["serverVersion"]["gitVersion"].startswith("v1.3")
    info = kubectl("cluster-info").stdout
    assert f"Kubernetes control plane is running at {sim_cluster.url}" in info
    assert "CoreDNS is running at" in info
    config = kubectl("config", "view").stdout
    assert f"server: {sim_cluster.url}" in config
    assert "certificate-authority-data: DATA+OMITTED" in config
    assert "token: REDACTED" in config
    context = kubectl("config", "current-context").stdout.strip()
    assert context == f"kubernetes-admin@{sim_cluster.id}"


def test_get_raw_health_and_discovery(kubectl) -> None:
    assert kubectl("get", "--raw", "/livez").stdout == "ok"
    verbose = kubectl("get", "--raw", "/readyz?verbose").stdout
    assert "readyz check passed" in verbose
    webhooks = kubectl(
        "get", "--raw", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    )
    assert '"kind":"MutatingWebhookConfigurationList"' in webhooks.stdout


def test_bootstrap_objects(kubectl) -> None:
    namespaces = kubectl("get", "ns", "-o", "name").lines
    assert namespaces == [
        "namespace/default",
        "namespace/kube-node-lease",
        "namespace/kube-public",
        "namespace/kube-system",
    ]
    svc = kubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert svc == "10.96.0.1"
    sas = kubectl("get", "sa", "-A", "--no-headers").lines
    from app.sim.machinery.kubeadm_rbac import CONTROLLERS

    # default in each namespace, kube-proxy, coredns, metrics-server, one per controller.
    assert len(sas) == 7 + len(CONTROLLERS)
    ca = kubectl(
        "get", "cm", "kube-root-ca.crt", "-n", "kube-system", "-o", "jsonpath={.data.ca\\.crt}"
    ).stdout
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    pcs = kubectl("get", "priorityclasses", "--no-headers").lines
    assert [line.split()[:2] for line in pcs] == [
        ["system-cluster-critical", "2000000000"],
        ["system-node-critical", "2000001000"],
    ]
    sc = kubectl("get", "storageclass").lines[1]
    assert "local-path (default)" in sc
    leases = kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name").lines
    assert leases == [
        "lease.coordination.k8s.io/controlplane",
        "lease.coordination.k8s.io/node01",
        "lease.coordination.k8s.io/node02",
    ]
    roles = kubectl("get", "clusterroles", "-o", "name").lines
    assert "clusterrole.rbac.authorization.k8s.io/cluster-admin" in roles


def test_get_all_category(kubectl, sim_cluster) -> None:
    make_pod(sim_cluster, "web-1", app="web")
    out = kubectl("get", "all").stdout
    assert "pod/web-1" in out
    assert "service/kubernetes" in out


def test_logs(kubectl, sim_cluster) -> None:
    make_pod(sim_cluster, "pending")
    waiting = kubectl("logs", "pending", check=False)
    assert waiting.returncode == 1
    assert 'container "app" in pod "pending" is waiting to start: ContainerCreating' in (
        waiting.stderr
    )
    make_pod(sim_cluster, "web", node="node01", phase="Running")
    for line in ("starting", "listening on :80", "GET / 200"):
        sim_cluster.cluster.append_log("default", "web", "app", line)
    assert kubectl("logs", "web").lines == ["starting", "listening on :80", "GET / 200"]
    assert kubectl("logs", "web", "--tail=1").stdout == "GET / 200\n"
    wrong = kubectl("logs", "web", "-c", "sidecar", check=False)
    assert "container sidecar is not valid for pod web" in wrong.stderr


def test_component_statuses(kubectl, sim_cluster) -> None:
    out = kubectl("get", "componentstatuses")
    assert out.lines[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    assert [line.split()[:2] for line in out.lines[1:]] == [
        ["scheduler", "Healthy"],
        ["controller-manager", "Healthy"],
        ["etcd-0", "Healthy"],
    ]
    assert "v1 ComponentStatus is deprecated in v1.19+" in out.stderr
    sim_cluster.cluster.component_health["scheduler"] = (
        False,
        "",
        'Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect: '
        "connection refused",
    )
    broken = kubectl("get", "cs", "scheduler").lines[1]
    assert broken.split()[:2] == ["scheduler", "Unhealthy"]
    assert "connection refused" in broken


def test_describe_shows_events_k8s_io_events(kubectl, sim_cluster, tmp_path) -> None:
    pod = make_pod(sim_cluster, "web-1", node="node01", app="web")
    event = tmp_path / "event.yaml"
    event.write_text(
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: web-1.scheduled\n"
        'eventTime: "2026-03-01T12:00:00.000000Z"\nreportingController: default-scheduler\n'
        "reportingInstance: default-scheduler-controlplane\naction: Binding\n"
        "reason: Scheduled\ntype: Normal\nnote: Successfully assigned default/web-1 to node01\n"
        "regarding:\n  apiVersion: v1\n  kind: Pod\n  namespace: default\n  name: web-1\n"
        f"  uid: {pod['metadata']['uid']}\n"
    )
    kubectl("create", "-f", str(event))
    described = kubectl("describe", "pod", "web-1").stdout
    events = described[described.index("Events:") :]
    assert "Scheduled" in events and "default-scheduler" in events
    # (the nodes' startup events are listed too: pick the pod's)
    listed = kubectl(
        "get", "events.events.k8s.io", "-o", 'jsonpath={.items[?(@.regarding.name=="web-1")].note}'
    ).stdout
    assert listed == "Successfully assigned default/web-1 to node01"


def test_logs_follow(kubectl, sim_cluster, kubectl_home) -> None:
    make_pod(sim_cluster, "web", node="node01", phase="Running")
    cluster = sim_cluster.cluster
    cluster.append_log("default", "web", "app", "booting")
    env = {"KUBECONFIG": str(sim_cluster.kubeconfig_path), "HOME": str(kubectl_home)}
    proc = subprocess.Popen(
        [kubectl_binary(), "logs", "-f", "web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(1.0)
        cluster.append_log("default", "web", "app", "ready")
        time.sleep(0.5)
        sim_cluster.store.delete("", "pods", "default", "web")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert out.splitlines() == ["booting", "ready"], err

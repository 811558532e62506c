"""A cluster object: bootstrap content, CRDs served per cluster, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.sim.bootstrap import create_cluster, node_names
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.resources import shared_builtin_registry
from tests.builders import crd

CRD = crd(
    short_names=["wd"],
    subresources={"status": {}},
    schema={"type": "object"},
    more_versions=[{"name": "v1alpha1", "served": False, "storage": False}],
)


def test_node_names() -> None:
    assert node_names(3) == ["controlplane", "node01", "node02"]
    with pytest.raises(ValueError):
        node_names(0)


def test_bootstrap_shape() -> None:
    cluster = create_cluster("c1", nodes=2, clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    store = cluster.store
    cp = store.get("", "nodes", None, "controlplane")
    assert cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert cp["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    worker = store.get("", "nodes", None, "node01")
    assert "taints" not in worker["spec"]
    assert {c["type"]: c["status"] for c in worker["status"]["conditions"]}["Ready"] == "True"
    assert worker["status"]["allocatable"]["pods"] == "110"
    namespaces = [n["metadata"]["name"] for n in store.list("", "namespaces")[0]]
    assert namespaces == ["default", "kube-node-lease", "kube-public", "kube-system"]
    # A default account per namespace, kube-proxy's, CoreDNS's and metrics-server's (the
    # add-ons), and one per controller in kube-system (kube-controller-manager's
    # bootstrap policy).
    from app.sim.machinery.kubeadm_rbac import CONTROLLERS

    assert len(store.list("", "serviceaccounts")[0]) == 7 + len(CONTROLLERS)
    assert store.get("apps", "daemonsets", "kube-system", "kube-proxy")
    assert store.get("apps", "deployments", "kube-system", "coredns")
    assert store.get("apps", "deployments", "kube-system", "metrics-server")
    api_service = store.get("apiregistration.k8s.io", "apiservices", None, "v1beta1.metrics.k8s.io")
    assert api_service["spec"]["service"] == {
        "name": "metrics-server",
        "namespace": "kube-system",
        "port": 443,
    }
    conditions = worker["status"]["conditions"]
    assert all(c["lastTransitionTime"] and c["lastHeartbeatTime"] for c in conditions)
    assert (
        len(store.list("", "configmaps", field_selector="metadata.name=kube-root-ca.crt")[0]) == 4
    )
    svc = store.get("", "services", "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert store.get("rbac.authorization.k8s.io", "clusterroles", None, "cluster-admin")
    assert cp["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_idle_clusters_share_the_builtin_registry() -> None:
    a, b = create_cluster("a", nodes=1), create_cluster("b", nodes=1)
    assert a.registry is b.registry is shared_builtin_registry()


def test_crd_serves_its_kind_in_one_cluster() -> None:
    cluster, other = create_cluster("a", nodes=1), create_cluster("b", nodes=1)
    cluster.store.create("apiextensions.k8s.io", "customresourcedefinitions", CRD)
    rt = cluster.registry.by_plural("example.com", "v1", "widgets")
    assert rt is not None and rt.custom and rt.short_names == ("wd",)
    assert rt.subresources == ("status",)
    assert cluster.registry.by_plural("example.com", "v1alpha1", "widgets") is None
    assert other.registry.by_plural("example.com", "v1", "widgets") is None
    assert shared_builtin_registry().by_plural("example.com", "v1", "widgets") is None
    crd = cluster.store.get(
        "apiextensions.k8s.io", "customresourcedefinitions", None, "widgets.example.com"
    )
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    cluster.store.create(
        "example.com",
        "widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "default"},
        },
    )
    cluster.store.delete(
        "apiextensions.k8s.io", "customresourcedefinitions", None, "widgets.example.com"
    )
    assert cluster.registry.by_plural("example.com", "v1", "widgets") is None
    assert cluster.store.list("example.com", "widgets")[0] == []
    assert cluster.registry is shared_builtin_registry()


def test_snapshot_and_restore() -> None:
    cluster = create_cluster("a", nodes=1)
    cluster.store.create("apiextensions.k8s.io", "customresourcedefinitions", CRD)
    cluster.append_log("default", "web", "app", "hello")
    token = cluster.auth.add_token("jane", ("dev",))
    snapshot = cluster.snapshot()
    cluster.store.delete(
        "apiextensions.k8s.io", "customresourcedefinitions", None, "widgets.example.com"
    )
    cluster.pod_logs.clear()
    cluster.auth.tokens.pop(token)
    cluster.restore(snapshot)
    assert cluster.registry.by_plural("example.com", "v1", "widgets") is not None
    assert cluster.container_log("default", "web", "app") == ["hello"]
    assert cluster.auth.tokens[token].name == "jane"
    assert "system:authenticated" in cluster.auth.tokens[token].groups


def test_client_certificates_need_tls() -> None:
    cluster = create_cluster("a", nodes=1)
    with pytest.raises(RuntimeError):
        cluster.auth.issue_client_cert("jane")


def test_restore_without_credentials_keeps_the_clusters_own() -> None:
    source, target = create_cluster("a", nodes=1), create_cluster("b", nodes=1)
    source.store.create(
        "",
        "configmaps",
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "setup", "namespace": "default"},
        },
    )
    shared = source.snapshot()
    shared.pop("auth")
    token = target.auth.admin_token
    target.restore(shared)
    assert target.auth.admin_token == token
    assert target.store.get("", "configmaps", "default", "setup") is not None

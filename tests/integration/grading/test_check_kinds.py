"""Each check kind against a live simulated cluster, read through the Kubernetes API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.grading.reader import ClusterReader
from app.sim.machinery.clock import ManualClock, rfc3339
from app.sim.nodes import ClusterNodes
from tests.fixtures.grading import SimulatorNodeAccess, pod


@pytest.fixture
def web(reader: ClusterReader) -> list[dict[str, Any]]:
    """Three pods app=web (two Running, one Pending) and a Deployment `web`."""
    made = []
    for index, phase in enumerate(("Running", "Running", "Pending")):
        created = reader.create(pod(f"web-{index}"))
        if phase == "Running":
            created["status"] = {"phase": "Running"}
            path = f"/api/v1/namespaces/default/pods/web-{index}/status"
            status, data = reader.request("PUT", path, body=created)
            assert status == 200, data
            created = data
        made.append(created)
    reader.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )
    return made


def test_exists_and_absent(run_checks, web) -> None:
    result = run_checks(
        [
            {
                "id": "a",
                "kind": "exists",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "label_selector": "app=web",
            },
            {
                "id": "b",
                "kind": "exists",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "name": "nope",
            },
            {
                "id": "c",
                "kind": "absent",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "where": "status.phase == 'Pending'",
            },
            {
                "id": "d",
                "kind": "absent",
                "apiVersion": "v1",
                "resource": "ConfigMap",
                "namespace": "default",
                "name": "nope",
            },
        ]
    )
    a, b, c, d = result.checks
    assert a.passed and [e["name"] for e in a.evidence] == ["web-0", "web-1", "web-2"]
    assert all(e["resourceVersion"] for e in a.evidence)
    assert not b.passed and b.detail == "expected Pod default/nope to exist, found none"
    assert not c.passed
    assert c.detail == "expected no Pod objects in namespace default, found 1: default/web-2"
    assert d.passed


def test_match_kuttl_fragment(run_checks, web) -> None:
    good = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
        },
    }
    bad = {
        **good,
        "spec": {
            "replicas": 5,
            "template": {"spec": {"containers": [{"image": "nginx:1.25"}]}},
        },
    }
    anonymous = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "default"},
        "status": {"phase": "Running"},
    }
    result = run_checks(
        [
            {"id": "good", "kind": "match", "object": good},
            {"id": "bad", "kind": "match", "object": bad},
            {"id": "any-pod", "kind": "match", "object": anonymous},
        ]
    )
    ok, wrong, any_pod = result.checks
    assert ok.passed
    assert ok.evidence[0]["fields"]["spec.replicas"] == 3
    assert not wrong.passed
    assert wrong.detail == (
        "Deployment web: spec.replicas: expected 5, found 3; "
        'spec.template.spec.containers[0].image: expected "nginx:1.25", found "nginx:1.27"'
    )
    assert any_pod.passed and any_pod.evidence[0]["name"] == "web-0"


def test_jmespath_assertions(run_checks, web) -> None:
    result = run_checks(
        [
            {
                "id": "replicas",
                "kind": "jmespath",
                "apiVersion": "apps/v1",
                "resource": "Deployment",
                "namespace": "default",
                "name": "web",
                "assertions": [
                    {"expr": "spec.replicas", "ge": 3},
                    {"expr": "spec.template.spec.containers[0].image", "matches": "^nginx:1\\.27$"},
                ],
            },
            {
                "id": "strategy",
                "kind": "jmespath",
                "apiVersion": "apps/v1",
                "resource": "Deployment",
                "namespace": "default",
                "name": "web",
                "assertions": [{"expr": "spec.strategy.type", "equals": "Recreate"}],
            },
            {
                "id": "list",
                "kind": "jmespath",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "scope": "list",
                "assertions": [{"expr": "length([?status.phase=='Running'])", "equals": 3}],
            },
            {
                "id": "bad-expr",
                "kind": "jmespath",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "assertions": [{"expr": "metadata.name", "gt": 1}],
            },
        ]
    )
    replicas, strategy, listed, broken = result.checks
    assert replicas.passed
    assert replicas.evidence[0]["fields"] == {
        "spec.replicas": 3,
        "spec.template.spec.containers[0].image": "nginx:1.27",
    }
    assert not strategy.passed
    assert strategy.detail == (
        'Deployment default/web: spec.strategy.type: expected "Recreate", found "RollingUpdate"'
    )
    assert not listed.passed
    assert "length([?status.phase=='Running']): expected 3, found 2" in listed.detail
    assert not broken.passed and broken.error and "cannot compare" in broken.detail


@pytest.mark.parametrize(
    ("op", "value", "passed"), [(">=", 2, True), (">=", 3, False), ("==", 2, True), ("<", 2, False)]
)
def test_count(run_checks, web, op: str, value: int, passed: bool) -> None:
    result = run_checks(
        [
            {
                "kind": "count",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "label_selector": "app=web",
                "where": "status.phase == 'Running'",
                "op": op,
                "value": value,
            }
        ]
    )
    [check] = result.checks
    assert check.passed is passed
    if not passed:
        assert check.detail.endswith(f"expected count {op} {value}, found 2")
    assert [e["fields"]["counted"] for e in check.evidence] == [True, True, False]


def test_count_with_field_selector(run_checks, web) -> None:
    result = run_checks(
        [
            {
                "kind": "count",
                "apiVersion": "v1",
                "resource": "Pod",
                "namespace": "default",
                "field_selector": "status.phase=Pending",
                "op": "==",
                "value": 1,
            }
        ]
    )
    assert result.checks[0].passed


def _set_ready_since(reader: ClusterReader, name: str, since: datetime) -> None:
    """Write node `name`'s Ready=True condition with `since` as lastTransitionTime,
    through the status subresource as a kubelet would."""
    node = reader.get("v1", "Node", name)
    conditions = [c for c in node["status"]["conditions"] if c["type"] != "Ready"]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "lastHeartbeatTime": rfc3339(since),
            "lastTransitionTime": rfc3339(since),
        }
    )
    node["status"]["conditions"] = conditions
    status, data = reader.request("PUT", f"/api/v1/nodes/{name}/status", body=node)
    assert status == 200, data


def test_condition_stable_on_the_cluster_clock(run_checks, reader: ClusterReader) -> None:
    since = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    for name in ("controlplane", "node01", "node02"):
        _set_ready_since(reader, name, since)
    check = {
        "kind": "condition_stable",
        "apiVersion": "v1",
        "resource": "Node",
        "name": "node01",
        "type": "Ready",
        "status": "True",
        "for_seconds": 30,
    }
    early = run_checks([check], clock=ManualClock(since + timedelta(seconds=12)))
    assert not early.checks[0].passed
    assert early.checks[0].detail == (
        "expected Ready=True for >= 30s; node01: Ready=True for only 12s"
    )
    late = run_checks([check], clock=ManualClock(since + timedelta(seconds=31)))
    assert late.checks[0].passed
    assert late.checks[0].evidence[0]["fields"]["condition"]["status"] == "True"
    wrong = run_checks([{**check, "status": "False"}], clock=ManualClock(since))
    assert wrong.checks[0].detail.endswith("node01: Ready is True")
    all_nodes = {k: v for k, v in check.items() if k != "name"}
    everyone = run_checks([all_nodes], clock=ManualClock(since + timedelta(seconds=31)))
    assert everyone.checks[0].passed
    assert len(everyone.checks[0].evidence) == 3


def test_node_file_and_command_through_the_node_library(run_checks, sim_cluster) -> None:
    nodes = SimulatorNodeAccess(ClusterNodes(sim_cluster.cluster))
    manifest = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    result = run_checks(
        [
            {
                "id": "flag",
                "kind": "node_file",
                "node": "controlplane",
                "path": manifest,
                "contains": "--kubeconfig=/etc/kubernetes/scheduler.conf",
                "yaml": [
                    {"expr": "spec.containers[0].image", "matches": "kube-scheduler:v1"},
                    {"expr": "metadata.namespace", "equals": "kube-system"},
                ],
            },
            {
                "id": "image",
                "kind": "node_file",
                "node": "controlplane",
                "path": manifest,
                "yaml": [{"expr": "spec.containers[0].image", "equals": "kube-scheduler:broken"}],
            },
            {
                "id": "gone",
                "kind": "node_file",
                "node": "node01",
                "path": "/etc/nothing",
                "exists": False,
            },
            {
                "id": "missing",
                "kind": "node_file",
                "node": "node01",
                "path": "/etc/nothing",
                "contains": "x",
            },
            {
                "id": "kubelet",
                "kind": "node_command",
                "node": "node01",
                "command": "systemctl is-active kubelet",
                "stdout_contains": "active",
            },
            {
                "id": "ls",
                "kind": "node_command",
                "node": "controlplane",
                "command": "ls /etc/kubernetes/manifests",
                "stdout_regex": "^etcd.yaml",
                "stdout_not_contains": "kube-scheduler.yaml",
            },
        ],
        nodes=nodes,
    )
    flag, image, gone, missing, kubelet, listing = result.checks
    assert flag.passed
    assert flag.evidence[0]["fields"]["metadata.namespace"] == "kube-system"
    assert not image.passed
    assert image.detail.startswith(
        f'controlplane:{manifest}: spec.containers[0].image: expected "kube-scheduler:broken",'
        ' found "registry.k8s.io/kube-scheduler:'
    )
    assert gone.passed
    assert not missing.passed and "cannot read file" in missing.detail
    assert kubelet.passed and kubelet.evidence[0]["exit_code"] == 0
    assert not listing.passed
    assert 'expected output without "kube-scheduler.yaml"' in listing.detail


def test_node_checks_without_node_access_fail_with_a_reason(run_checks) -> None:
    result = run_checks([{"kind": "node_command", "node": "node01", "command": "true"}])
    assert not result.checks[0].passed
    assert "offers no node access" in result.checks[0].detail


def test_access_review_cases(run_checks, reader: ClusterReader) -> None:
    reader.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "bob-view", "namespace": "default"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}],
        }
    )
    result = run_checks(
        [
            {
                "kind": "access_review",
                "cases": [
                    {
                        "user": "bob",
                        "verb": "list",
                        "resource": "pods",
                        "namespace": "default",
                        "allowed": True,
                    },
                    {
                        "user": "bob",
                        "verb": "get",
                        "resource": "secrets",
                        "namespace": "default",
                        "allowed": False,
                    },
                    {
                        "user": "bob",
                        "verb": "list",
                        "resource": "deployments",
                        "group": "apps",
                        "namespace": "kube-system",
                        "allowed": True,
                    },
                    {
                        "user": "ops",
                        "groups": ["system:masters"],
                        "verb": "delete",
                        "resource": "nodes",
                        "allowed": False,
                    },
                ],
            }
        ]
    )
    [check] = result.checks
    assert not check.passed
    assert check.detail == (
        "bob: list deployments.apps -n kube-system: expected allowed, found denied; "
        "ops: delete nodes: expected denied, found allowed"
    )
    assert [e["found"] for e in check.evidence] == ["allowed", "denied", "denied", "allowed"]


def test_unknown_resource_kind_is_an_evaluation_error(run_checks) -> None:
    result = run_checks(
        [{"kind": "exists", "apiVersion": "example.com/v1", "resource": "Widget", "name": "w"}]
    )
    [check] = result.checks
    assert not check.passed and check.error
    assert "does not serve kind 'Widget'" in check.detail

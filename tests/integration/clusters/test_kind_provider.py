"""The kind provider's command lines, recorded by fake `kind` and `docker` executables put
first on PATH; manifests go through the Kubernetes API of a live simulator cluster (the
fake `kind get kubeconfig` prints its kubeconfig)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.clusters import provider_for
from app.clusters.base import ClusterHandle, LabSetup, ProviderError, ProviderNodeAccess
from app.clusters.kind import KindProvider, NodeFileNotFound, kind_config, node_containers
from app.grading.node_access import NodeAccessError
from tests.fixtures.kind_fakes import install_fakes, read_log

SHAPE = {
    "nodes": [
        {
            "name": "controlplane",
            "role": "control-plane",
            "labels": {},
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        },
        {"name": "node01", "role": "worker", "labels": {"disktype": "ssd"}, "taints": []},
        {
            "name": "node02",
            "role": "worker",
            "labels": {},
            "taints": [{"key": "gpu", "value": "true", "effect": "NoExecute"}],
        },
    ]
}


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bin_dir = install_fakes(tmp_path)
    log = tmp_path / "calls.jsonl"
    root = tmp_path / "nodes"
    kubeconfig = tmp_path / "kind.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLUSTER_LOG", str(log))
    monkeypatch.setenv("FAKE_NODE_ROOT", str(root))
    monkeypatch.setenv("FAKE_KUBECONFIG", str(kubeconfig))
    return {"log": log, "root": root, "kubeconfig": kubeconfig}


def test_generated_config_maps_roles_labels_and_taints() -> None:
    config = kind_config(SHAPE)
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert config["nodes"][1]["labels"] == {"disktype": "ssd"}
    init = yaml.safe_load(config["nodes"][0]["kubeadmConfigPatches"][0])
    assert init == {
        "kind": "InitConfiguration",
        "nodeRegistration": {
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        },
    }
    join = yaml.safe_load(config["nodes"][2]["kubeadmConfigPatches"][0])
    assert join["kind"] == "JoinConfiguration"
    assert join["nodeRegistration"]["taints"] == [
        {"key": "gpu", "value": "true", "effect": "NoExecute"}
    ]
    assert "kubeadmConfigPatches" not in config["nodes"][1]


def test_node_containers_follow_kinds_naming() -> None:
    assert node_containers("certprep-ab12", SHAPE) == {
        "controlplane": "certprep-ab12-control-plane",
        "node01": "certprep-ab12-worker",
        "node02": "certprep-ab12-worker2",
    }


def test_create_runs_kind_with_a_generated_config(fake_tools: dict[str, Path]) -> None:
    handle = KindProvider().create(SHAPE)
    assert handle.provider == "kind" and handle.cluster_id.startswith("certprep-")
    (call,) = read_log(fake_tools["log"])
    args = call["args"]
    assert call["tool"] == "kind"
    assert args[:4] == ["create", "cluster", "--name", handle.cluster_id]
    assert args[4] == "--config" and args[6:] == ["--wait", "180s"]
    assert yaml.safe_load(call["config"]) == kind_config(SHAPE)
    assert handle.details["nodes"]["node02"] == f"{handle.cluster_id}-worker2"


def test_node_files_and_commands_go_through_docker_exec(fake_tools: dict[str, Path]) -> None:
    provider = KindProvider()
    handle = ClusterHandle("kind", "certprep-x1", {"nodes": node_containers("certprep-x1", SHAPE)})
    path = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    provider.write_file(handle, "controlplane", path, "image: kube-scheduler:v1.35.0\n")
    assert provider.read_file(handle, "controlplane", path) == "image: kube-scheduler:v1.35.0\n"
    with pytest.raises(NodeFileNotFound, match="No such file"):
        provider.read_file(handle, "node01", "/etc/missing")
    assert provider.exec(handle, "node01", "crictl ps") == (0, "ran: crictl ps\n", "")
    assert provider.exec(handle, "node01", "false fail")[0] == 3
    with pytest.raises(ProviderError, match="no node 'node09'"):
        provider.exec(handle, "node09", "true")

    calls = [c["args"] for c in read_log(fake_tools["log"])]
    assert calls == [
        ["exec", "-i", "certprep-x1-control-plane", "sh", "-c", 'cat > "$1"', "sh", path],
        ["exec", "certprep-x1-control-plane", "cat", "--", path],
        ["exec", "certprep-x1-worker", "cat", "--", "/etc/missing"],
        ["exec", "certprep-x1-worker", "sh", "-c", "crictl ps"],
        ["exec", "certprep-x1-worker", "sh", "-c", "false fail"],
    ]
    assert read_log(fake_tools["log"])[0]["stdin"] == "image: kube-scheduler:v1.35.0\n"
    # The grading engine's node access maps provider failures to NodeAccessError.
    with pytest.raises(NodeAccessError):
        ProviderNodeAccess(provider, handle).read_file("node01", "/etc/missing")


def test_setup_applies_manifests_through_the_api_then_faults_by_docker_exec(
    fake_tools: dict[str, Path], sim_cluster: Any
) -> None:
    fake_tools["kubeconfig"].write_text(sim_cluster.kubeconfig_path.read_text())
    node_file = fake_tools["root"] / "certprep-x2-control-plane" / "etc/kubernetes/manifests"
    node_file.mkdir(parents=True)
    (node_file / "kube-scheduler.yaml").write_text("image: kube-scheduler:v1.35.0\n")
    handle = ClusterHandle("kind", "certprep-x2", {"nodes": node_containers("certprep-x2", SHAPE)})
    setup = LabSetup(
        slug="demo",
        content_hash="h",
        shape=SHAPE,
        manifests=[
            {
                "name": "00.yaml",
                "content": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: demo}\n",
            }
        ],
        faults=[
            {
                "kind": "node_file_edit",
                "node": "controlplane",
                "path": "/etc/kubernetes/manifests/kube-scheduler.yaml",
                "find": r"v1\.35\.0",
                "replace": "v9.9.9",
                "count": 0,
            },
            {"kind": "node_service", "node": "node01", "service": "kubelet", "state": "stopped"},
        ],
    )
    KindProvider().apply_setup(handle, setup)
    assert sim_cluster.store.get("", "configmaps", "demo", "c1") is not None
    assert (node_file / "kube-scheduler.yaml").read_text() == "image: kube-scheduler:v9.9.9\n"
    calls = [c["args"] for c in read_log(fake_tools["log"])]
    assert calls[0] == ["get", "kubeconfig", "--name", "certprep-x2"]
    assert calls[-1] == ["exec", "certprep-x2-worker", "sh", "-c", "systemctl stop kubelet"]


def test_delete_and_snapshot(fake_tools: dict[str, Path]) -> None:
    handle = ClusterHandle("kind", "certprep-x3", {"nodes": node_containers("certprep-x3", SHAPE)})
    provider = KindProvider()
    assert provider.snapshot(handle)["containers"] == "[]\n"
    provider.delete(handle)
    calls = [(c["tool"], c["args"]) for c in read_log(fake_tools["log"])]
    assert calls[-1] == ("kind", ["delete", "cluster", "--name", "certprep-x3"])
    assert calls[0][1][0] == "inspect"


def test_a_missing_binary_is_a_provider_error(tmp_path: Path) -> None:
    provider = KindProvider(kind=str(tmp_path / "no-kind"))
    with pytest.raises(ProviderError, match="not installed"):
        provider.create(SHAPE)


def test_registry_builds_providers_by_name() -> None:
    kind = provider_for("kind", {"CERTPREP_KIND_BINARY": "/opt/kind"})
    assert isinstance(kind, KindProvider) and kind.kind == "/opt/kind"
    with pytest.raises(ProviderError, match="no cluster provider named 'vm'"):
        provider_for("vm", {})
    with pytest.raises(ProviderError, match="CERTPREP_SIM_ADMIN_TOKEN"):
        provider_for("simulator", {"CERTPREP_SIM_URLS": "http://127.0.0.1:1"})

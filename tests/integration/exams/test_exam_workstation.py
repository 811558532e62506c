"""The exam workstation on its own (no web layer): the real kubectl with an exam
attempt's kubeconfig (two contexts on two simulator clusters), switching contexts,
each context's namespace, ssh into the current context's nodes, Tab completion of the
contexts, and the state kept across a reconnect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clusters.simulator import SimulatorProvider, _SnapshotCache
from app.services.exam_attempts import merge_kubeconfigs
from app.workstation import Workstation, complete
from app.workstation.cluster import ClusterUnavailable, ContextClusters

pytestmark = [pytest.mark.kubectl]

NODES = {"k8s-a": ["controlplane", "node01", "node02"], "k8s-b": ["controlplane", "node01"]}


@pytest.fixture
def two_clusters(sim_server: Any, tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any], str]]:
    """A provider, the handles by context and the merged kubeconfig of two clusters."""
    ca_file = tmp_path / "sim-ca.pem"
    ca_file.write_bytes(sim_server.ca.cert_pem)
    provider = SimulatorProvider(
        [sim_server.base_url], sim_server.admin_token, ca_file=str(ca_file),
        snapshots=_SnapshotCache(),
    )  # fmt: skip
    handles = {}
    for context, names in NODES.items():
        shape = {
            "nodes": [
                {"name": n, "role": "control-plane" if n == "controlplane" else "worker"}
                for n in names
            ]
        }
        handles[context] = provider.create(shape, clock="manual")
    kubeconfig = merge_kubeconfigs({c: provider.kubeconfig(h) for c, h in handles.items()})
    try:
        yield provider, handles, kubeconfig
    finally:
        for handle in handles.values():
            provider.delete(handle)


def workstation(clusters: tuple[Any, dict[str, Any], str], state: Any = None) -> Workstation:
    provider, handles, kubeconfig = clusters
    return Workstation(state, ContextClusters(provider, handles, kubeconfig, NODES))


def run(ws: Workstation, line: str) -> str:
    return ws.run(line).output


def test_contexts_switch_and_keep_their_namespaces(two_clusters: Any) -> None:
    ws = workstation(two_clusters)
    listed = run(ws, "kubectl config get-contexts")
    header = ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
    assert listed.splitlines()[0].split() == header
    rows = [line.split() for line in listed.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["*", "k8s-a"], ["k8s-b", "k8s-b"]]
    assert run(ws, "kubectl config current-context") == "k8s-a\n"
    assert "node02" in run(ws, "k get nodes -o name")
    assert run(ws, "kubectl create namespace only-a") == "namespace/only-a created\n"
    run(ws, "kubectl config set-context --current --namespace=only-a")

    # Upstream prints `Switched to context "k8s-b".` (kubectl config use-context).
    assert run(ws, "kubectl config use-context k8s-b") == 'Switched to context "k8s-b".\n'
    assert run(ws, "kubectl config current-context") == "k8s-b\n"
    assert "node02" not in run(ws, "k get nodes -o name")
    assert "only-a" not in run(ws, "kubectl get namespaces -o name")
    # k8s-b kept its own namespace (none set: default).
    assert run(ws, "kubectl config view --minify -o jsonpath={..namespace}") == ""
    failed = ws.run("kubectl config use-context k8s-z")
    assert failed.exit_code == 1 and 'no context exists with the name: "k8s-z"' in failed.stderr

    # The state goes with the workstation: a reconnect finds k8s-b, and k8s-a's namespace.
    again = workstation(two_clusters, ws.to_state())
    assert again.to_state()["cluster"] == {
        "context": "k8s-b",
        "namespaces": {"k8s-a": "only-a", "k8s-b": None},
    }
    assert run(again, "kubectl config current-context") == "k8s-b\n"
    run(again, "kubectl config use-context k8s-a")
    assert run(again, "kubectl config view --minify -o jsonpath={..namespace}") == "only-a"
    # A context added by a command does not stick: the attempt's kubeconfig is rewritten.
    run(again, "kubectl config set-context extra --cluster=k8s-a --user=k8s-a")
    assert "extra" not in run(again, "kubectl config get-contexts -o name")


def test_ssh_reaches_the_current_contexts_nodes(two_clusters: Any) -> None:
    ws = workstation(two_clusters)
    assert run(ws, "ssh node02 hostname") == "node02\n"
    assert run(ws, "ssh controlplane") == ""
    assert ws.prompt() == "root@controlplane:~# "
    run(ws, "echo from-a > /root/mark")
    # vi on the node opens the file of this context's node.
    ws.run("vi /root/mark")
    assert ws.edit is not None and ws.edit.content == "from-a\n"
    run(ws, "exit")

    run(ws, "kubectl config use-context k8s-b")
    refused = ws.run("ssh node02")
    assert refused.exit_code == 255 and "controlplane, node01" in refused.stderr
    assert run(ws, "ssh controlplane cat /root/mark").startswith("cat: ")
    with pytest.raises(ClusterUnavailable):
        ws.cluster.write_node_file("node02", "/root/x", "x")  # type: ignore[union-attr]
    run(ws, "kubectl config use-context k8s-a")
    assert run(ws, "ssh controlplane cat /root/mark") == "from-a\n"


def test_tab_completes_contexts_and_the_current_contexts_nodes(two_clusters: Any) -> None:
    ws = workstation(two_clusters)
    assert complete(ws, "kubectl config use-c") == ("kubectl config use-context ", [])
    assert complete(ws, "kubectl config use-context k8s-") == (
        "kubectl config use-context k8s-",
        ["k8s-a", "k8s-b"],
    )
    assert complete(ws, "k config use-context k8s-b") == ("k config use-context k8s-b ", [])
    assert complete(ws, "ssh node0") == ("ssh node0", ["node01", "node02"])
    run(ws, "kubectl config use-context k8s-b")
    assert complete(ws, "ssh node0") == ("ssh node01 ", [])

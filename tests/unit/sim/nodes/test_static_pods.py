"""Static pods and mirror pods: the control plane comes from manifest files."""

from __future__ import annotations

import pytest

from app.sim.nodes.components import COMPONENTS
from app.sim.nodes.kubelet import MIRROR_ANNOTATION


def test_control_plane_components_get_mirror_pods(sim):
    for component in COMPONENTS:
        pod = sim.mirror(component)
        assert pod is not None, component
        annotations = pod["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.source"] == "file"
        assert annotations[MIRROR_ANNOTATION] == annotations["kubernetes.io/config.hash"]
        assert pod["spec"]["nodeName"] == "controlplane"
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Node"
    sim.tick(60, steps=6)
    for component in COMPONENTS:
        status = sim.mirror(component)["status"]
        assert status["phase"] == "Running"
        assert status["containerStatuses"][0]["ready"] is True
        # Control-plane pods use the host network: the pod IP is the node's.
        assert status["podIP"] == "172.30.1.2"
        assert sim.nodes.component_running(component)


def test_deleted_mirror_pod_returns_without_restarting_the_container(sim):
    before = sim.mirror("kube-scheduler")
    container_id = before["status"]["containerStatuses"][0]["containerID"]
    sim.store.delete("", "pods", "kube-system", "kube-scheduler-controlplane")
    assert sim.mirror("kube-scheduler") is None
    sim.tick(1)
    after = sim.mirror("kube-scheduler")
    assert after is not None
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["status"]["containerStatuses"][0]["containerID"] == container_id
    assert after["status"]["containerStatuses"][0]["restartCount"] == 0


def test_a_new_manifest_file_creates_a_static_pod_and_removing_it_deletes_it(sim):
    manifest = """\
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels:
    role: web
spec:
  containers:
  - name: web
    image: nginx:1.27
    ports:
    - containerPort: 80
"""
    sim.nodes.write_file("node01", "/etc/kubernetes/manifests/static-web.yaml", manifest)
    sim.tick(1)
    pod = sim.pod("static-web-node01")
    assert pod is not None
    assert pod["spec"]["nodeName"] == "node01"
    assert pod["metadata"]["labels"] == {"role": "web"}
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.244.1.")
    result = sim.shell("node01").run("rm /etc/kubernetes/manifests/static-web.yaml")
    assert result.exit_code == 0
    sim.tick(1)
    assert sim.pod("static-web-node01") is None


def test_an_edited_manifest_is_a_new_pod(sim):
    old = sim.mirror("kube-scheduler")
    result = sim.shell().run(
        "sed -i 's/--leader-elect=true/--leader-elect=false/' "
        "/etc/kubernetes/manifests/kube-scheduler.yaml"
    )
    assert result.exit_code == 0, result.stderr
    sim.tick(1)
    new = sim.mirror("kube-scheduler")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    old_hash = old["metadata"]["annotations"]["kubernetes.io/config.hash"]
    assert new["metadata"]["annotations"]["kubernetes.io/config.hash"] != old_hash
    assert "--leader-elect=false" in new["spec"]["containers"][0]["command"]


def test_invalid_yaml_removes_the_mirror_pod_and_logs_the_error(sim):
    sh = sim.shell()
    sh.run("cp /etc/kubernetes/manifests/kube-scheduler.yaml /root/kube-scheduler.yaml")
    sh.run(
        "sed -i 's/^kind: Pod/kind: Pod\\n  bad: [/' /etc/kubernetes/manifests/kube-scheduler.yaml"
    )
    sim.nodes.write_file(
        "controlplane",
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-scheduler\n   namespace: x\n",
    )
    sim.tick(1)
    assert sim.mirror("kube-scheduler") is None
    assert not sim.nodes.component_running("kube-scheduler")
    journal = sh.run("journalctl -u kubelet").stdout
    assert '"Could not process manifest file"' in journal
    assert "kube-scheduler.yaml" in journal
    assert "couldn't parse as pod" in journal
    sh.run("cp /root/kube-scheduler.yaml /etc/kubernetes/manifests/kube-scheduler.yaml")
    sim.tick(30, steps=3)
    assert sim.mirror("kube-scheduler")["status"]["phase"] == "Running"
    assert sim.nodes.component_running("kube-scheduler")


def test_hidden_files_in_the_manifest_directory_are_ignored(sim):
    sh = sim.shell()
    sh.run(
        "mv /etc/kubernetes/manifests/kube-scheduler.yaml "
        "/etc/kubernetes/manifests/.kube-scheduler.yaml"
    )
    sim.tick(1)
    assert sim.mirror("kube-scheduler") is None


def test_static_pod_path_comes_from_the_kubelet_config(sim):
    sh = sim.shell("node01")
    sh.run("mkdir -p /etc/kubelet.d")
    sim.nodes.write_file(
        "node01",
        "/etc/kubelet.d/busy.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: busy\nspec:\n  containers:\n"
        "  - name: busy\n    image: busybox\n    command: ['sleep', '3600']\n",
    )
    sim.tick(1)
    assert sim.pod("busy-node01") is None
    sh.run(
        "sed -i 's|staticPodPath: /etc/kubernetes/manifests|staticPodPath: /etc/kubelet.d|' "
        "/var/lib/kubelet/config.yaml"
    )
    sim.tick(1)
    # The kubelet reads its configuration when it starts.
    assert sim.pod("busy-node01") is None
    assert sh.run("systemctl restart kubelet").exit_code == 0
    sim.tick(1)
    assert sim.pod("busy-node01")["status"]["phase"] == "Running"


def _alias_bomb_pod() -> str:
    lines = ["apiVersion: v1", "kind: Pod", "metadata: {name: lol}"]
    lines.append("x0: &x0 [" + ", ".join(['"lol"'] * 9) + "]")
    lines += [f"x{n}: &x{n} [" + ", ".join([f"*x{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\nspec: {containers: [{name: c, image: *x8}]}\n"


@pytest.mark.reliability
@pytest.mark.parametrize(
    "manifest",
    [
        _alias_bomb_pod(),
        "apiVersion: v1\nkind: Pod\nmetadata: &m {name: loop, again: *m}\n",
        "apiVersion: v1\nkind: Pod\nspec: " + "[" * 500 + "]" * 500 + "\n",
    ],
    ids=["alias-bomb", "self-alias", "deep"],
)
def test_a_hostile_manifest_on_a_node_is_a_manifest_error(sim, manifest: str) -> None:
    """A learner writes the files on a node: the kubelet parses them with the bounded
    loader, so a bomb is an unparseable manifest, not a stalled simulator."""
    sim.nodes.write_file("node01", "/etc/kubernetes/manifests/hostile.yaml", manifest)
    sim.tick(1)
    journal = sim.shell("node01").run("journalctl -u kubelet").stdout
    assert '"Could not process manifest file"' in journal and "hostile.yaml" in journal
    assert [
        p
        for p in sim.store.list("", "pods")[0]
        if "node01" in p["metadata"]["name"] and p["metadata"]["name"].startswith(("lol", "loop"))
    ] == []

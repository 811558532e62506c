"""Breaking and fixing the control plane of a simulated cluster with the real kubectl.

Every test runs on a manual-clock cluster created through the admin API
(`{"clock": "manual"}`): time moves only through `POST /admin/clusters/{id}/tick`,
node files change through the node-access API, and everything a learner sees comes
from kubectl.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from app.sim.server import SimServer
from tests.fixtures.sim import KubectlError, KubectlResult, kubectl_binary

pytestmark = pytest.mark.kubectl

SCHEDULER_MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"
MANAGER_MANIFEST = "/etc/kubernetes/manifests/kube-controller-manager.yaml"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    return session


@dataclass
class LiveCluster:
    """A manual-clock cluster driven over HTTP, as a lab session drives one."""

    server: SimServer
    id: str
    kubeconfig: Path
    home: Path
    ca: Path

    def admin(self, method: str, tail: str, body: Any = None, **params: str) -> Any:
        response = _session().request(
            method,
            f"{self.server.base_url}/admin/clusters/{self.id}{tail}",
            headers={"Authorization": f"Bearer {self.server.admin_token}"},
            json=body,
            params=params,
            verify=str(self.ca),
            timeout=120,
        )
        assert response.status_code < 300, response.text
        return response.json()

    def tick(self, seconds: float) -> str:
        return self.admin("POST", "/tick", {"seconds": seconds})["now"]

    def read(self, node: str, path: str) -> str:
        return self.admin("GET", f"/nodes/{node}/files", path=path)["content"]

    def write(self, node: str, path: str, content: str) -> None:
        self.admin("PUT", f"/nodes/{node}/files", {"content": content}, path=path)

    def exec(self, node: str, command: str) -> dict[str, Any]:
        return self.admin("POST", f"/nodes/{node}/exec", {"command": command})

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> KubectlResult:
        proc = subprocess.run(
            [kubectl_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(self.home),
                "KUBECONFIG": str(self.kubeconfig),
                "LANG": "C.UTF-8",
            },
        )
        result = KubectlResult(list(args), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)}: {proc.stderr}")
        return result

    def pods(self, namespace: str = "default", selector: str = "") -> list[dict[str, Any]]:
        args = ["get", "pods", "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        return self.kubectl(*args).json()["items"]

    def status_of(self, pod: str, namespace: str = "kube-system") -> str:
        """The STATUS column kubectl prints for a pod."""
        for line in self.kubectl("get", "pods", "-n", namespace, "--no-headers").lines:
            fields = line.split()
            if fields[0] == pod:
                return fields[2]
        raise AssertionError(f"pod {pod} not listed")


@pytest.fixture
def live(sim_server: SimServer, tmp_path: Path) -> Iterator[LiveCluster]:
    assert sim_server.ca is not None
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_server.ca.cert_pem)
    response = _session().post(
        f"{sim_server.base_url}/admin/clusters",
        headers={"Authorization": f"Bearer {sim_server.admin_token}"},
        json={"clock": "manual", "nodes": 3},
        verify=str(ca),
        timeout=60,
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(doc["kubeconfig"])
    home = tmp_path / "home"
    home.mkdir()
    yield LiveCluster(sim_server, doc["id"], kubeconfig, home, ca)
    if doc["id"] in sim_server.clusters:
        sim_server.delete_cluster(doc["id"])


def events_about(live: LiveCluster, pod: str) -> list[dict[str, Any]]:
    out = live.kubectl(
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        f"involvedObject.name={pod}",
        "-o",
        "json",
    )
    return out.json()["items"]


def lease_renew_time(live: LiveCluster, name: str) -> str:
    return live.kubectl(
        "get", "lease", "-n", "kube-system", name, "-o", "jsonpath={.spec.renewTime}"
    ).stdout


def test_fresh_cluster_is_running(live: LiveCluster) -> None:
    rows = {line.split()[1]: line.split() for line in live.kubectl("get", "pods", "-A").lines[1:]}
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert rows[f"{component}-controlplane"][3] == "Running"
    proxies = [name for name in rows if name.startswith("kube-proxy-")]
    dns = [name for name in rows if name.startswith("coredns-")]
    assert len(proxies) == 3 and len(dns) == 2
    assert all(rows[name][3] == "Running" for name in proxies + dns)
    nodes = live.kubectl("get", "nodes", "--no-headers").lines
    assert [line.split()[1] for line in nodes] == ["Ready", "Ready", "Ready"]
    # The manual clock moves only when told to.
    before = live.admin("GET", "/controlplane")["now"]
    assert live.admin("GET", "/controlplane")["now"] == before
    after = live.tick(5)
    assert after > before


def test_break_the_scheduler_and_fix_it(live: LiveCluster) -> None:
    original = live.read("controlplane", SCHEDULER_MANIFEST)
    assert "--leader-elect=true" in original
    live.write(
        "controlplane",
        SCHEDULER_MANIFEST,
        original.replace("--leader-elect=true", "--leader-elects=true"),
    )
    live.tick(5)
    assert live.status_of("kube-scheduler-controlplane") in ("Error", "CrashLoopBackOff")
    log = live.kubectl("logs", "-n", "kube-system", "kube-scheduler-controlplane").stdout
    assert "unknown flag: --leader-elects" in log
    health = live.kubectl("get", "componentstatuses", "scheduler", "--no-headers").stdout
    assert health.split()[1] == "Unhealthy" and "connection refused" in health

    live.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    live.tick(20)
    pods = live.pods(selector="app=web")
    assert len(pods) == 2  # the controllers still work
    for pod in pods:
        assert pod["status"]["phase"] == "Pending"
        assert "nodeName" not in pod["spec"]
        # No scheduler ran: neither Scheduled nor FailedScheduling.
        assert events_about(live, pod["metadata"]["name"]) == []

    live.write("controlplane", SCHEDULER_MANIFEST, original)
    live.tick(30)
    assert live.status_of("kube-scheduler-controlplane") == "Running"
    pods = live.pods(selector="app=web")
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}
    for pod in pods:
        scheduled = [
            e for e in events_about(live, pod["metadata"]["name"]) if e["reason"] == "Scheduled"
        ]
        assert len(scheduled) == 1
        assert scheduled[0]["source"]["component"] == "default-scheduler"
        assert pod["spec"]["nodeName"] in scheduled[0]["message"]


def test_bad_kubeconfig_path_stops_the_scheduler(live: LiveCluster) -> None:
    original = live.read("controlplane", SCHEDULER_MANIFEST)
    broken = original.replace(
        "--kubeconfig=/etc/kubernetes/scheduler.conf", "--kubeconfig=/etc/kubernetes/sched.conf"
    )
    assert broken != original
    live.write("controlplane", SCHEDULER_MANIFEST, broken)
    live.tick(15)
    assert live.status_of("kube-scheduler-controlplane") in ("Error", "CrashLoopBackOff")
    log = live.kubectl("logs", "-n", "kube-system", "kube-scheduler-controlplane").stdout
    assert "/etc/kubernetes/sched.conf" in log
    live.kubectl("run", "solo", "--image=nginx")
    live.tick(10)
    [pod] = live.pods(selector="run=solo")
    assert pod["status"]["phase"] == "Pending"


def test_bad_image_shows_err_image_pull(live: LiveCluster) -> None:
    original = live.read("controlplane", SCHEDULER_MANIFEST)
    live.write(
        "controlplane",
        SCHEDULER_MANIFEST,
        original.replace("registry.k8s.io/kube-scheduler:", "registry.k8s.io/kube-schedular:"),
    )
    # Right after the failed pull (no time passed) the status is ErrImagePull; with
    # time it turns into ImagePullBackOff between attempts.
    live.tick(0)
    assert live.status_of("kube-scheduler-controlplane") == "ErrImagePull"
    live.tick(1)
    assert live.status_of("kube-scheduler-controlplane") == "ImagePullBackOff"
    live.tick(20)
    assert live.status_of("kube-scheduler-controlplane") == "ImagePullBackOff"
    live.write("controlplane", SCHEDULER_MANIFEST, original)
    live.tick(5)
    assert live.status_of("kube-scheduler-controlplane") == "Running"


def test_broken_controller_manager_creates_no_replicasets(live: LiveCluster) -> None:
    original = live.read("controlplane", MANAGER_MANIFEST)
    live.write(
        "controlplane",
        MANAGER_MANIFEST,
        original.replace("- kube-controller-manager\n", "- kube-controller-manger\n", 1),
    )
    live.tick(5)
    assert live.status_of("kube-controller-manager-controlplane") in (
        "RunContainerError",
        "CrashLoopBackOff",
        "StartError",
    )
    live.kubectl("create", "deployment", "api", "--image=nginx", "--replicas=2")
    live.tick(20)
    assert live.kubectl("get", "rs", "-l", "app=api", "-o", "name").stdout == ""
    assert live.pods(selector="app=api") == []

    live.write("controlplane", MANAGER_MANIFEST, original)
    live.tick(30)
    assert len(live.kubectl("get", "rs", "-l", "app=api", "-o", "name").lines) == 1
    pods = live.pods(selector="app=api")
    assert len(pods) == 2 and {p["status"]["phase"] for p in pods} == {"Running"}


def test_controller_manager_controllers_flag_is_honoured(live: LiveCluster) -> None:
    original = live.read("controlplane", MANAGER_MANIFEST)
    assert "--controllers=*,bootstrapsigner,tokencleaner" in original
    live.write(
        "controlplane",
        MANAGER_MANIFEST,
        original.replace(
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--controllers=*,-replicaset,bootstrapsigner,tokencleaner",
        ),
    )
    live.tick(30)
    assert live.status_of("kube-controller-manager-controlplane") == "Running"
    live.kubectl("create", "deployment", "partial", "--image=nginx")
    live.tick(10)
    # The deployment controller runs (a ReplicaSet appears), the replicaset one does not.
    assert len(live.kubectl("get", "rs", "-l", "app=partial", "-o", "name").lines) == 1
    assert live.pods(selector="app=partial") == []


def test_stopped_kubelet_makes_the_node_not_ready_then_evicts(live: LiveCluster) -> None:
    live.kubectl("create", "deployment", "spread", "--image=nginx", "--replicas=4")
    live.tick(10)
    on_node01 = [p["metadata"]["name"] for p in live.pods() if p["spec"]["nodeName"] == "node01"]
    assert on_node01
    result = live.exec("node01", "systemctl stop kubelet")
    assert result["exit_code"] == 0
    live.tick(30)
    assert live.kubectl("get", "node", "node01", "--no-headers").stdout.split()[1] == "Ready"
    # node-monitor-grace-period: 50 s without a heartbeat.
    live.tick(30)
    assert live.kubectl("get", "node", "node01", "--no-headers").stdout.split()[1] == "NotReady"
    taints = live.kubectl("get", "node", "node01", "-o", "jsonpath={.spec.taints[*].key}").stdout
    assert "node.kubernetes.io/unreachable" in taints
    # The pods stay bound until their 300 s not-ready/unreachable tolerations run out.
    live.tick(120)
    names = {p["metadata"]["name"] for p in live.pods()}
    assert set(on_node01) <= names
    live.tick(200)
    remaining = live.pods()
    assert not any(
        p["metadata"]["name"] in on_node01 and "deletionTimestamp" not in p["metadata"]
        for p in remaining
    )
    live_pods = [p for p in remaining if "deletionTimestamp" not in p["metadata"]]
    assert len(live_pods) == 4
    assert all(p["spec"]["nodeName"] != "node01" for p in live_pods)

    assert live.exec("node01", "systemctl start kubelet")["exit_code"] == 0
    live.tick(15)
    assert live.kubectl("get", "node", "node01", "--no-headers").stdout.split()[1] == "Ready"


def test_leader_leases_stop_renewing_while_broken(live: LiveCluster) -> None:
    first = lease_renew_time(live, "kube-scheduler")
    live.tick(5)
    renewed = lease_renew_time(live, "kube-scheduler")
    assert renewed > first
    original = live.read("controlplane", SCHEDULER_MANIFEST)
    live.write(
        "controlplane", SCHEDULER_MANIFEST, original.replace("--leader-elect=true", "--bogus")
    )
    live.tick(3)
    stalled = lease_renew_time(live, "kube-scheduler")
    live.tick(30)
    assert lease_renew_time(live, "kube-scheduler") == stalled
    # The controller manager's lease keeps being renewed meanwhile.
    manager_before = lease_renew_time(live, "kube-controller-manager")
    live.tick(5)
    assert lease_renew_time(live, "kube-controller-manager") > manager_before
    live.write("controlplane", SCHEDULER_MANIFEST, original)
    live.tick(30)
    assert lease_renew_time(live, "kube-scheduler") > stalled


def test_deleted_mirror_pod_comes_back(live: LiveCluster) -> None:
    uid = live.kubectl(
        "get",
        "pod",
        "-n",
        "kube-system",
        "kube-scheduler-controlplane",
        "-o",
        "jsonpath={.metadata.uid}",
    ).stdout
    live.kubectl(
        "delete", "pod", "-n", "kube-system", "kube-scheduler-controlplane", "--wait=false"
    )
    live.tick(2)
    again = live.kubectl(
        "get", "pod", "-n", "kube-system", "kube-scheduler-controlplane", "-o", "json"
    ).json()
    assert again["metadata"]["uid"] != uid
    assert "kubernetes.io/config.mirror" in again["metadata"]["annotations"]
    assert live.status_of("kube-scheduler-controlplane") == "Running"


def test_deployment_rolls_out_and_back(live: LiveCluster) -> None:
    live.kubectl("create", "deployment", "shop", "--image=nginx:1.25", "--replicas=3")
    live.tick(10)
    status = live.kubectl("rollout", "status", "deployment/shop", "--watch=false").stdout
    assert 'deployment "shop" successfully rolled out' in status
    live.kubectl("set", "image", "deployment/shop", "nginx=nginx:1.26")
    live.tick(30)
    images = {p["spec"]["containers"][0]["image"] for p in live.pods(selector="app=shop")}
    assert images == {"nginx:1.26"}
    history = live.kubectl("rollout", "history", "deployment/shop").stdout
    assert "1 " in history and "2 " in history
    live.kubectl("rollout", "undo", "deployment/shop")
    live.tick(30)
    pods = [p for p in live.pods(selector="app=shop") if "deletionTimestamp" not in p["metadata"]]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"}
    assert len(pods) == 3
    assert len(live.kubectl("get", "rs", "-l", "app=shop", "-o", "name").lines) == 2


def test_tick_route_contract(live: LiveCluster) -> None:
    before = live.admin("GET", "/controlplane")["now"]
    now = live.tick(1.5)
    assert json.loads(json.dumps(now)) == now and now > before
    response = _session().post(
        f"{live.server.base_url}/admin/clusters/{live.id}/tick",
        headers={"Authorization": f"Bearer {live.server.admin_token}"},
        json={"seconds": -1},
        verify=str(live.ca),
        timeout=30,
    )
    assert response.status_code == 422

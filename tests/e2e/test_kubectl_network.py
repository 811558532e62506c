"""The pod network through the real kubectl: Services, cluster DNS, NodePorts from a
node shell, and the add-ons they depend on (CoreDNS scaled down, kube-proxy broken, a
selector that matches nothing)."""

from __future__ import annotations

import json
import threading

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=3, clock=ManualClock())


def _advance(sim: SimCluster, seconds: int = 10) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


def _node(sim: SimCluster, node: str, command: str):
    return sim.server.call(sim.cluster.control_plane.nodes.shell(node).run, command)


@pytest.fixture
def web(sim_cluster, kubectl) -> SimCluster:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("run", "client", "--image=busybox:1.28", "--", "sleep", "3600")
    _advance(sim_cluster)
    return sim_cluster


def _exec(kubectl, *command: str):
    return kubectl("exec", "client", "--", *command, check=False)


def test_service_name_reaches_a_ready_pod(web, kubectl) -> None:
    for url in ("http://web", "http://web.default", "http://web.default.svc.cluster.local"):
        page = _exec(kubectl, "wget", "-qO-", url)
        assert page.returncode == 0, page.stderr
        assert "<title>Welcome to nginx!</title>" in page.stdout
    missing = _exec(kubectl, "wget", "-qO-", "http://nosuch")
    assert (missing.returncode, missing.stderr.splitlines()[0]) == (1, "wget: bad address 'nosuch'")


def test_nslookup_of_service_headless_and_pod_names(web, kubectl) -> None:
    ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    out = _exec(kubectl, "nslookup", "web").stdout
    assert "Address 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local" in out
    assert f"Address 1: {ip} web.default.svc.cluster.local" in out
    kubectl("create", "service", "clusterip", "web-h", "--clusterip=None", "--tcp=80:80")
    kubectl("set", "selector", "service", "web-h", "app=web")
    _advance(web, 2)
    pod_ips = kubectl(
        "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"
    ).stdout.split()
    headless = _exec(kubectl, "nslookup", "web-h").stdout
    assert len(pod_ips) == 2 and all(f": {ip} " in headless for ip in pod_ips)
    dashed = pod_ips[0].replace(".", "-")
    pod_name = _exec(kubectl, "nslookup", f"{dashed}.default.pod.cluster.local").stdout
    assert pod_ips[0] in pod_name
    unknown = _exec(kubectl, "nslookup", "nosuch")
    assert unknown.returncode == 1 and "can't resolve 'nosuch'" in unknown.stderr


def test_nodeport_from_a_node_shell(web, kubectl) -> None:
    kubectl("create", "service", "nodeport", "web-np", "--tcp=80:80", "--node-port=30080")
    kubectl("set", "selector", "service", "web-np", "app=web")
    _advance(web, 2)
    port = "30080"
    result = _node(web, "controlplane", f"curl -s node01:{port}")
    assert "<title>Welcome to nginx!</title>" in result.stdout
    code = _node(web, "node02", f"curl -s -o /dev/null -w '%{{http_code}}' 172.30.1.3:{port}")
    assert code.stdout == "200"
    rules = _node(web, "node01", "iptables-save -t nat").stdout
    assert '--comment "default/web-np:80-80" -m tcp --dport 30080' in rules


def test_coredns_scaled_to_zero_breaks_resolution(web, kubectl) -> None:
    kubectl("scale", "deployment", "coredns", "-n", "kube-system", "--replicas=0")
    _advance(web, 40)
    result = _exec(kubectl, "nslookup", "web")
    assert result.returncode == 1
    assert ";; connection timed out; no servers could be reached" in result.stdout
    wget = _exec(kubectl, "wget", "-qO-", "http://web")
    assert wget.stderr.splitlines()[0] == "wget: bad address 'web'"


def test_broken_corefile_crash_loops_coredns(web, kubectl) -> None:
    corefile = kubectl(
        "get", "cm", "coredns", "-n", "kube-system", "-o", "jsonpath={.data.Corefile}"
    ).stdout
    broken = corefile.replace("    kubernetes cluster.local", "    kubernets cluster.local")
    patch = {"data": {"Corefile": broken}}
    kubectl("patch", "cm", "coredns", "-n", "kube-system", "-p", json.dumps(patch))
    kubectl("rollout", "restart", "deployment", "coredns", "-n", "kube-system")
    _advance(web, 60)
    pods = kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns").stdout
    assert "CrashLoopBackOff" in pods or "Error" in pods
    name = next(line.split()[0] for line in pods.splitlines()[1:] if "Running" not in line)
    log = kubectl("logs", "-n", "kube-system", name, check=False).stdout
    assert "Error during parsing: Unknown directive 'kubernets'" in log


def test_broken_kube_proxy_stops_service_traffic(web, kubectl) -> None:
    config = kubectl(
        "get", "cm", "kube-proxy", "-n", "kube-system", "-o", "jsonpath={.data.config\\.conf}"
    ).stdout
    patch = {"data": {"config.conf": config.replace('mode: ""', "mode: fast")}}
    kubectl("patch", "cm", "kube-proxy", "-n", "kube-system", "-p", json.dumps(patch))
    kubectl("delete", "pods", "-n", "kube-system", "-l", "k8s-app=kube-proxy", "--wait=false")
    _advance(web, 30)
    ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    result = _exec(kubectl, "wget", "-qO-", "-T", "5", f"http://{ip}")
    assert (result.returncode, result.stderr.splitlines()[0]) == (1, "wget: download timed out")
    logs = kubectl("logs", "-n", "kube-system", "-l", "k8s-app=kube-proxy", check=False).stdout
    assert 'Invalid value: \\"fast\\"' in logs
    assert "KUBE-SVC-" not in _node(web, "node01", "iptables-save").stdout
    pod_ip = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].status.podIP}")
    direct = _exec(kubectl, "wget", "-qO-", f"http://{pod_ip.stdout}")
    assert direct.returncode == 0  # pod-to-pod traffic does not need kube-proxy


def test_selector_mismatch_leaves_the_service_without_endpoints(web, kubectl) -> None:
    kubectl("create", "service", "clusterip", "wrong", "--tcp=80:80")  # selector app=wrong
    _advance(web, 2)
    endpoints = kubectl(
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=wrong",
        "-o",
        "jsonpath={.items[*].endpoints}",
    ).stdout
    assert endpoints in ("", "[]")
    result = _exec(kubectl, "wget", "-qO-", "http://wrong")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith("Connection refused")
    rules = _node(web, "node01", "iptables-save -t filter").stdout
    assert '"default/wrong:80-80 has no endpoints"' in rules
    kubectl("set", "selector", "service", "wrong", "app=web")
    _advance(web, 2)
    assert "Welcome to nginx!" in _exec(kubectl, "wget", "-qO-", "http://wrong").stdout


def test_target_port_mismatch_is_refused_by_the_pod(web, kubectl) -> None:
    kubectl("create", "service", "clusterip", "off", "--tcp=80:8080")
    kubectl("set", "selector", "service", "off", "app=web")
    _advance(web, 2)
    kubectl("run", "curl", "--image=curlimages/curl", "--", "sleep", "3600")
    _advance(web, 5)
    result = kubectl("exec", "curl", "--", "curl", "-sS", "http://off", check=False)
    assert result.returncode == 7
    assert result.stderr.startswith("curl: (7) Failed to connect to off port 80 after")


def test_a_one_shot_client_pod_logs_what_it_fetched(web, kubectl) -> None:
    kubectl(
        "run", "fetch", "--image=busybox", "--restart=Never", "--", "wget", "-qO-", "http://web"
    )
    kubectl("run", "lookup", "--image=busybox:1.28", "--restart=Never", "--", "nslookup", "nope")
    _advance(web, 5)
    assert kubectl("get", "pod", "fetch", "-o", "jsonpath={.status.phase}").stdout == "Succeeded"
    assert "<title>Welcome to nginx!</title>" in kubectl("logs", "fetch").stdout
    assert kubectl("get", "pod", "lookup", "-o", "jsonpath={.status.phase}").stdout == "Failed"
    assert "nslookup: can't resolve 'nope'" in kubectl("logs", "lookup").stdout


def test_run_i_rm_prints_what_the_client_fetched(web, kubectl) -> None:
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.3):
            _advance(web, 1)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        result = kubectl(
            "run",
            "tmp",
            "-i",
            "--rm",
            "--restart=Never",
            "--image=curlimages/curl",
            "--",
            "-s",
            "http://web",
            timeout=60,
        )
    finally:
        stop.set()
        ticker.join(10)
    assert "<title>Welcome to nginx!</title>" in result.stdout
    assert 'pod "tmp" deleted' in result.stdout + result.stderr

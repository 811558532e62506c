"""NetworkPolicy enforcement through the real kubectl, the way a CKA task goes: traffic
flows, a default deny stops it, one app is let back in, another namespace is isolated,
and an egress policy needs its own allowance for DNS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import KubectlResult, SimCluster

pytestmark = pytest.mark.kubectl

DENY_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

WEB_FROM_CLIENT = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-client
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector:
        matchLabels: {run: client}
    ports:
    - port: 80
"""

WEB_FROM_TEAM = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-team
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: team}
"""

CLIENT_EGRESS_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: client-egress
spec:
  podSelector:
    matchLabels: {run: client}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app: web}
    ports:
    - port: 80
"""

CLIENT_EGRESS_DNS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: client-dns
spec:
  podSelector:
    matchLabels: {run: client}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
    ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
"""


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(clock=ManualClock())


def advance(sim: SimCluster, seconds: int = 10) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


@pytest.fixture
def app(sim_cluster: SimCluster, kubectl: Callable) -> SimCluster:
    kubectl("create", "deployment", "web", "--image=nginx", "--port=80")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("run", "client", "--image=busybox:1.28", "--", "sleep", "3600")
    kubectl("run", "other", "--image=busybox:1.28", "--", "sleep", "3600")
    kubectl("create", "namespace", "team")
    kubectl("run", "client", "-n", "team", "--image=busybox:1.28", "--", "sleep", "3600")
    advance(sim_cluster)
    return sim_cluster


def fetch(
    kubectl: Callable, pod: str, url: str = "http://web", namespace: str = "default"
) -> KubectlResult:
    return kubectl("exec", "-n", namespace, pod, "--", "wget", "-qO-", "-T", "2", url, check=False)


def reaches(result: KubectlResult) -> bool:
    return result.returncode == 0 and "Welcome to nginx!" in result.stdout


def timed_out(result: KubectlResult) -> bool:
    return result.returncode == 1 and result.stderr.splitlines()[0] == "wget: download timed out"


def test_deny_then_allow_one_app_then_a_namespace(app: SimCluster, kubectl: Callable) -> None:
    web = "http://web.default.svc.cluster.local"
    assert reaches(fetch(kubectl, "client"))
    assert reaches(fetch(kubectl, "client", web, "team"))
    kubectl("apply", "-f", "-", input=DENY_INGRESS)
    assert timed_out(fetch(kubectl, "client"))
    assert timed_out(fetch(kubectl, "other"))
    kubectl("apply", "-f", "-", input=WEB_FROM_CLIENT)
    assert reaches(fetch(kubectl, "client"))
    assert timed_out(fetch(kubectl, "other"))
    # The same pod label in another namespace is not matched by a bare podSelector.
    assert timed_out(fetch(kubectl, "client", web, "team"))
    kubectl("apply", "-f", "-", input=WEB_FROM_TEAM)
    assert reaches(fetch(kubectl, "client", web, "team"))
    kubectl("delete", "networkpolicy", "--all")
    assert reaches(fetch(kubectl, "other"))


def test_egress_policies_need_their_own_dns_allowance(app: SimCluster, kubectl: Callable) -> None:
    ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    pod_ip = kubectl("get", "pod", "other", "-o", "jsonpath={.status.podIP}").stdout
    refused = fetch(kubectl, "client", f"http://{pod_ip}")
    assert refused.returncode == 1 and "Connection refused" in refused.stderr
    kubectl("apply", "-f", "-", input=CLIENT_EGRESS_WEB)
    by_ip = fetch(kubectl, "client", f"http://{ip}")
    assert reaches(by_ip)
    by_name = fetch(kubectl, "client")
    assert by_name.returncode == 1 and "bad address 'web'" in by_name.stderr
    lookup = kubectl("exec", "client", "--", "nslookup", "web", check=False)
    assert lookup.returncode == 1
    kubectl("apply", "-f", "-", input=CLIENT_EGRESS_DNS)
    assert reaches(fetch(kubectl, "client"))
    # Egress to anything else stays closed; other pods are not affected.
    # (nothing listens there: without the policy wget would be refused, not time out)
    assert timed_out(fetch(kubectl, "client", f"http://{pod_ip}"))
    assert reaches(fetch(kubectl, "other"))

"""`pod_command` against a live simulated cluster: commands in the cluster's own pods
through `pods/exec` over WebSocket, and probe pods that test what a new pod with given
labels can reach under NetworkPolicy (docs "Network Policies": a default deny, one app
let back in, another namespace kept out, egress that needs DNS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

DENY_ALL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""

WEB_FROM_CLIENT = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: default}
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

CLIENT_TO_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-web, namespace: default}
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

DNS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: default}
spec:
  podSelector: {}
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


class Cluster:
    """Live waits of a grade run the cluster's control plane instead of sleeping."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        self.elapsed = 0.0

    def advance(self, seconds: float) -> None:
        self.sim.server.call(self.sim.cluster.control_plane.advance, seconds)
        self.elapsed += seconds

    def context(self) -> dict[str, Any]:
        return {"monotonic": lambda: self.elapsed, "sleep": self.advance}


@pytest.fixture
def cluster(sim_cluster: SimCluster, kubectl: Callable) -> Cluster:
    """nginx `web` behind a Service, busybox `client` and `other` in default, a busybox
    `client` in the namespace `team`."""
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--port=80")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("run", "client", "--image=busybox:1.36", "--", "sleep", "3600")
    kubectl("create", "namespace", "team")
    kubectl("run", "client", "-n", "team", "--image=busybox:1.36", "--", "sleep", "3600")
    # Never scheduled: no node has this label.
    kubectl("run", "stuck", "--image=busybox:1.36", "--overrides", STUCK, "--", "sleep", "3600")
    live = Cluster(sim_cluster)
    live.advance(10)
    return live


STUCK = '{"spec": {"nodeSelector": {"disk": "none"}}}'


def grade(run_checks: Callable[..., GradeResult], live: Cluster, checks: list[dict]) -> GradeResult:
    return run_checks(checks, **live.context())


def fetch(**target: Any) -> dict[str, Any]:
    """wget of the web page with a 2 s timeout, its messages on stdout."""
    return {
        "kind": "pod_command",
        "command": "wget -q -O- -T 2 http://web.default.svc.cluster.local/ 2>&1",
        **target,
    }


def probe(namespace: str = "default", **labels: str) -> dict[str, Any]:
    return {"namespace": namespace, "from_pod": {"labels": labels}}


def test_commands_in_existing_pods(run_checks, cluster: Cluster) -> None:
    result = grade(
        run_checks,
        cluster,
        [
            {"id": "by-name", "kind": "pod_command", "pod": "client", "command": ["hostname"],
             "stdout_regex": "^client$"},
            {"id": "by-labels", "kind": "pod_command", "label_selector": "app=web",
             "command": "echo hi; echo oops >&2; exit 3", "exit_code": 3,
             "stdout_contains": "hi", "stdout_not_contains": "oops"},
            {"id": "wrong-code", "kind": "pod_command", "pod": "client", "command": "exit 2"},
            {"id": "no-binary", "kind": "pod_command", "label_selector": "app=web",
             "command": ["wget", "-q", "http://web"]},
            {"id": "no-container", "kind": "pod_command", "pod": "client", "container": "x",
             "command": "true"},
            {"id": "no-pod", "kind": "pod_command", "pod": "ghost", "command": "true"},
            {"id": "pending", "kind": "pod_command", "pod": "stuck", "command": "true"},
            {"id": "no-match", "kind": "pod_command", "label_selector": "app=none",
             "command": "true"},
            {"id": "other-ns", "kind": "pod_command", "namespace": "team", "pod": "client",
             "command": "wget -q -O- -T 2 http://web.default/",
             "stdout_contains": "Welcome to nginx!"},
        ],
    )  # fmt: skip
    checks = {c.id: c for c in result.checks}
    assert not [c for c in result.checks if c.error], [(c.id, c.error) for c in result.checks]
    assert checks["by-name"].passed, checks["by-name"].detail
    assert checks["by-name"].detail == "default/client$ hostname: as expected"
    assert checks["by-name"].evidence[1] == {
        "container": "client",
        "command": "hostname",
        "exit_code": 0,
        "stdout": "client\n",
        "stderr": "",
    }
    assert checks["by-labels"].passed, checks["by-labels"].detail
    assert checks["by-labels"].evidence[1]["stderr"] == "oops\n"
    assert checks["by-labels"].evidence[0]["name"].startswith("web-")
    assert checks["wrong-code"].detail == ("default/client$ exit 2: expected exit code 0, found 2")
    # nginx's image has curl but no wget: the runtime refuses to start it.
    assert not checks["no-binary"].passed
    assert "did not run:" in checks["no-binary"].detail
    assert 'exec: "wget": executable file not found' in checks["no-binary"].detail
    assert checks["no-container"].detail == (
        "pod default/client has no container 'x' (found client)"
    )
    assert checks["no-pod"].detail == "no pod default/ghost"
    assert checks["pending"].detail == "pod default/stuck is not Running (phase Pending)"
    assert checks["no-match"].detail == (
        "no Running pod in namespace default with labels app=none (0 found)"
    )
    assert checks["other-ns"].passed, checks["other-ns"].detail


def test_a_default_deny_then_one_app_allowed(run_checks, cluster: Cluster, kubectl) -> None:
    checks = [
        {**fetch(**probe(run="client")), "id": "client", "stdout_contains": "Welcome to nginx!"},
        {**fetch(**probe(run="other")), "id": "other", "stdout_contains": "Welcome to nginx!"},
        {**fetch(**probe("team", run="client")), "id": "team",
         "stdout_contains": "Welcome to nginx!"},
    ]  # fmt: skip
    open_result = grade(run_checks, cluster, checks)
    assert [c.passed for c in open_result.checks] == [True, True, True], [
        c.detail for c in open_result.checks
    ]
    first = open_result.checks[0]
    assert first.detail.startswith(
        "new pod labelled run=client in default$ wget -q -O- -T 2 http://web.default"
    )
    assert first.evidence[0]["fields"]["labels"] == {"run": "client"}

    kubectl("apply", "-f", "-", input=DENY_ALL)
    denied = grade(run_checks, cluster, checks)
    assert [c.passed for c in denied.checks] == [False, False, False]
    # The default deny covers egress: not even the name resolves.
    assert "(output: \"wget: bad address 'web.default.svc.cluster.local'\")" in (
        denied.checks[0].detail
    )
    # team has no policy, but web's ingress is isolated: the connection is dropped.
    assert '(output: "wget: download timed out")' in denied.checks[2].detail

    kubectl("apply", "-f", "-", input=WEB_FROM_CLIENT)
    kubectl("apply", "-f", "-", input=CLIENT_TO_WEB)
    no_dns = grade(run_checks, cluster, checks)
    assert "bad address" in no_dns.checks[0].detail

    kubectl("apply", "-f", "-", input=DNS)
    allowed = grade(run_checks, cluster, checks)
    assert [c.passed for c in allowed.checks] == [True, False, False], [
        c.detail for c in allowed.checks
    ]
    # other resolves the name now, and its own egress is still denied.
    assert '(output: "wget: download timed out")' in allowed.checks[1].detail


def test_a_probe_that_passes_only_while_the_connection_is_refused(
    run_checks, cluster: Cluster, kubectl
) -> None:
    """How a lab says "cannot connect": the wget message, not only a non-zero code."""
    refused = {
        **fetch(**probe("team", run="client")),
        "id": "team-refused",
        "exit_code": 1,
        "stdout_contains": "download timed out",
    }
    assert not grade(run_checks, cluster, [refused]).checks[0].passed
    kubectl("apply", "-f", "-", input=DENY_ALL)
    result = grade(run_checks, cluster, [refused])
    assert result.checks[0].passed, result.checks[0].detail
    assert result.checks[0].evidence[1]["exit_code"] == 1


def test_probe_pods_are_deleted_and_a_leftover_is_replaced(
    run_checks, cluster: Cluster, reader: ClusterReader, make_context
) -> None:
    name = make_context().probe_pod_name("probe")
    leftover = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"run": "stale"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "9"]}]},
    }
    reader.create(leftover)
    check = {"id": "probe", "kind": "pod_command", **probe(run="client"),
             "command": "hostname", "stdout_contains": name}  # fmt: skip
    result = grade(run_checks, cluster, [check])
    assert result.checks[0].passed, result.checks[0].detail
    assert result.checks[0].evidence[0]["fields"]["labels"] == {"run": "client"}
    assert reader.get("v1", "Pod", name, "default") is None
    after = reader.list("v1", "Pod", "default")
    assert not [
        p for p in after if (p["metadata"].get("annotations") or {}).get("certprep.io/probe")
    ]


def test_a_probe_that_cannot_start_fails_with_the_reason_and_is_deleted(
    run_checks, cluster: Cluster, reader: ClusterReader, make_context
) -> None:
    check = {
        "id": "bad-image",
        "kind": "pod_command",
        "namespace": "default",
        "from_pod": {"labels": {"run": "client"}, "image": "busybox:9.99", "budget_seconds": 20},
        "command": "true",
    }
    result = grade(run_checks, cluster, [check])
    detail = result.checks[0].detail
    assert not result.checks[0].passed
    assert detail.startswith("a new pod labelled run=client in default: the probe pod did not")
    assert "within 20s (" in detail and "ImagePull" in detail, detail
    assert reader.get("v1", "Pod", make_context().probe_pod_name("bad-image"), "default") is None


def test_a_probe_is_admitted_where_the_restricted_standard_is_enforced(
    run_checks, cluster: Cluster, kubectl
) -> None:
    kubectl("label", "namespace", "team", "pod-security.kubernetes.io/enforce=restricted")
    # The standard applies: a plain busybox pod is refused there.
    refused = kubectl("run", "plain", "-n", "team", "--image=busybox:1.36", check=False)
    assert refused.returncode == 1 and "violates PodSecurity" in refused.stderr
    check = {**fetch(**probe("team", run="client")), "id": "restricted",
             "stdout_contains": "Welcome to nginx!"}  # fmt: skip
    result = grade(run_checks, cluster, [check])
    assert result.checks[0].passed, result.checks[0].detail or result.checks[0].error

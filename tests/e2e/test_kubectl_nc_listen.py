"""`nc -l` as a container's command listens: another pod reaches it with `nc`, `wget`
and `curl`, a TCP readiness probe passes, and a Service in front of it forwards."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

HTTP_LOOP = (
    'while true; do echo -e "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
    'hello from nc" | nc -l -p 8080; done'
)
PONG_POD = """
apiVersion: v1
kind: Pod
metadata: {name: pong, labels: {app: pong}}
spec:
  containers:
  - name: pong
    image: busybox
    command: ["sh", "-c", "echo pong | nc -lk -p 7000"]
    readinessProbe:
      tcpSocket: {port: 7000}
      periodSeconds: 2
"""


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def advance(sim: SimCluster, seconds: int = 6) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


def test_a_netcat_listener_answers_clients(sim_cluster, kubectl: Callable) -> None:
    kubectl("run", "web", "--image=busybox", "--", "sh", "-c", HTTP_LOOP)
    kubectl("expose", "pod", "web", "--port=80", "--target-port=8080")
    kubectl("apply", "-f", "-", input=PONG_POD)
    kubectl("run", "client", "--image=curlimages/curl", "--command", "--", "sleep", "3600")
    advance(sim_cluster)
    ready = "jsonpath={.status.containerStatuses[0].ready}"
    assert kubectl("get", "pod", "pong", "-o", ready).stdout == "true"
    assert kubectl("logs", "web").stdout == ""  # the echo goes into the pipe
    pong_ip = kubectl("get", "pod", "pong", "-o", "jsonpath={.status.podIP}").stdout
    got = kubectl("exec", "client", "--", "nc", pong_ip, "7000")
    assert got.stdout == "pong\n"
    probe = kubectl("exec", "client", "--", "nc", "-zv", pong_ip, "7000")
    assert f"({pong_ip}:7000) open" in probe.stderr
    closed = kubectl("exec", "client", "--", "nc", "-z", pong_ip, "7001", check=False)
    assert closed.returncode == 1
    page = kubectl("exec", "client", "--", "curl", "-s", "http://web")
    assert page.stdout == "hello from nc\n"
    code = kubectl(
        "exec", "client", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "web"
    )
    assert code.stdout == "200"

"""HTTPRoute header and method matches with the real kubectl and curl on a node:
a canary header and a POST reach their own backends through NGINX Gateway Fabric's
NodePort, everything else the default rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.sim.machinery.clock import ManualClock
from tests.e2e.test_kubectl_ingress import SHAPE, advance, node_shell, two_sites
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

ROUTES = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: nginx
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: web}]
  hostnames: ["web.example.com"]
  rules:
  - matches:
    - headers: [{name: x-canary, value: "on"}]
    - method: POST
    backendRefs: [{name: api, port: 8080}]
  - backendRefs: [{name: web, port: 80}]
"""


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(clock=ManualClock(), shape=SHAPE)


def test_header_and_method_matches_pick_the_backend(
    sim_cluster: SimCluster, kubectl: Callable
) -> None:
    two_sites(sim_cluster, kubectl)
    kubectl("apply", "-f", "-", input=ROUTES)
    advance(sim_cluster, 2)
    curl = "curl -s -H 'Host: web.example.com'"

    def server(extra: str) -> str:
        head = node_shell(sim_cluster, "controlplane", f"{curl} -I {extra} node01:30081/")
        return next(line for line in head.splitlines() if line.startswith("Server:"))

    assert server("") == "Server: nginx/1.29.1"  # the default rule: web (nginx)
    assert server("-H 'X-Canary: on'") == "Server: Apache/2.4.65 (Unix)"  # api (httpd)
    assert server("-H 'X-Canary: off'") == "Server: nginx/1.29.1"
    assert server("-X POST") == "Server: Apache/2.4.65 (Unix)"
    posted = node_shell(sim_cluster, "controlplane", f"{curl} -d 'a=1' node01:30081/")
    assert "<h1>It works!</h1>" in posted

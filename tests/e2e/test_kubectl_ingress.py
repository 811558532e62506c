"""Real kubectl against a cluster with the ingress-nginx and Gateway API add-ons: the
classes and CRDs are there, an Ingress gets its address, a Gateway and its HTTPRoute get
their conditions, and `kubectl describe` shows Ingresses and NetworkPolicies."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

SHAPE = {
    "nodes": [
        {"name": "controlplane", "role": "control-plane"},
        {"name": "node01"},
        {"name": "node02"},
    ],
    "addons": ["ingress-nginx", "gateway-api"],
}

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
spec:
  gatewayClassName: nginx
  listeners:
  - name: http
    port: 80
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: web
  hostnames: ["web.example.com"]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
    backendRefs:
    - name: web
      port: 80
"""

NETPOL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-frontend
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: shop}
      podSelector:
        matchLabels: {app: frontend}
    ports:
    - protocol: TCP
      port: 8080
"""


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(clock=ManualClock(), shape=SHAPE)


def advance(sim: SimCluster, seconds: int = 5) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


def node_shell(sim: SimCluster, node: str, command: str) -> str:
    return sim.server.call(sim.cluster.control_plane.nodes.shell(node).run, command).stdout


def two_sites(sim: SimCluster, kubectl: Callable) -> None:
    """Deployments `web` (nginx) and `api` (httpd) behind Services of the same names."""
    kubectl("create", "deployment", "web", "--image=nginx")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("create", "deployment", "api", "--image=httpd")
    kubectl("expose", "deployment", "api", "--port=8080", "--target-port=80")
    advance(sim)


def node_ip(kubectl: Callable, namespace: str) -> str:
    node = kubectl(
        "get", "pods", "-n", namespace, "-o", "jsonpath={.items[0].spec.nodeName}"
    ).stdout
    return kubectl(
        "get", "node", node, "-o", 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}'
    ).stdout


def test_the_addons_show_as_on_a_practice_cluster(kubectl: Callable) -> None:
    classes = kubectl("get", "ingressclass").lines
    assert classes[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert classes[1].split()[:2] == ["nginx", "k8s.io/ingress-nginx"]
    services = kubectl("get", "svc", "-n", "ingress-nginx", "ingress-nginx-controller").stdout
    assert "NodePort" in services and "80:30080/TCP,443:30443/TCP" in services
    crds = kubectl("get", "crd", "-o", "name").lines
    assert (
        "customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io" in crds
    )
    assert (
        "customresourcedefinition.apiextensions.k8s.io/httproutes.gateway.networking.k8s.io" in crds
    )
    gatewayclass = kubectl("get", "gatewayclass").lines
    assert gatewayclass[0].split() == ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]
    assert gatewayclass[1].split()[:3] == [
        "nginx",
        "gateway.nginx.org/nginx-gateway-controller",
        "True",
    ]


def test_an_ingress_gets_the_controller_address(sim_cluster: SimCluster, kubectl: Callable) -> None:
    kubectl("create", "deployment", "web", "--image=nginx")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("create", "ingress", "web", "--class=nginx", "--rule=web.example.com/*=web:80")
    advance(sim_cluster)
    address = node_ip(kubectl, "ingress-nginx")
    row = kubectl("get", "ingress", "web").lines[1].split()
    assert row[:5] == ["web", "nginx", "web.example.com", address, "80"]
    described = kubectl("describe", "ingress", "web").stdout
    assert "web.example.com" in described and "web:80" in described
    assert (
        "Normal  Sync" in described and "nginx-ingress-controller  Scheduled for sync" in described
    )


def test_a_gateway_and_its_route_are_accepted(sim_cluster: SimCluster, kubectl: Callable) -> None:
    kubectl("create", "deployment", "web", "--image=nginx")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl("apply", "-f", "-", input=GATEWAY)
    advance(sim_cluster)
    row = kubectl("get", "gateway", "web").lines[1].split()
    pod_ip = kubectl(
        "get", "pods", "-n", "nginx-gateway", "-o", "jsonpath={.items[0].status.podIP}"
    ).stdout
    assert row[:4] == ["web", "nginx", pod_ip, "True"]
    accepted = kubectl(
        "get", "httproute", "web", "-o",
        'jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")].status}',
    ).stdout  # fmt: skip
    assert accepted == "True"
    kubectl("wait", "--for=condition=Programmed", "gateway/web", "--timeout=5s")
    attached = kubectl(
        "get", "gateway", "web", "-o", "jsonpath={.status.listeners[0].attachedRoutes}"
    )
    assert attached.stdout == "1"


def test_describe_networkpolicy_and_validation(kubectl: Callable) -> None:
    kubectl("apply", "-f", "-", input=NETPOL)
    described = kubectl("describe", "networkpolicy", "api-from-frontend").stdout
    assert "PodSelector:     app=api" in described
    assert "To Port: 8080/TCP" in described
    assert "NamespaceSelector: kubernetes.io/metadata.name=shop" in described
    assert "Policy Types: Ingress" in described
    bad = kubectl(
        "apply", "-f", "-", check=False,
        input=NETPOL.replace("port: 8080", "port: 8080\n      endPort: 80"),
    )  # fmt: skip
    assert bad.returncode == 1
    assert (
        "spec.ingress[0].ports[0].endPort: Invalid value: 80: "
        "must be greater than or equal to `port`" in bad.stderr
    )


def test_requests_through_the_ingress_node_port_reach_the_backends(
    sim_cluster: SimCluster, kubectl: Callable
) -> None:
    two_sites(sim_cluster, kubectl)
    kubectl(
        "create", "ingress", "shop", "--class=nginx",
        "--rule=shop.example.com/*=web:80", "--rule=shop.example.com/api*=api:8080",
    )  # fmt: skip
    advance(sim_cluster, 2)
    home = node_shell(
        sim_cluster, "controlplane", "curl -s -H 'Host: shop.example.com' node01:30080/"
    )
    assert "<title>Welcome to nginx!</title>" in home
    api = node_shell(
        sim_cluster, "controlplane", "curl -s -H 'Host: shop.example.com' node02:30080/api/v1"
    )
    # httpd answered: the path is passed on unchanged (no rewrite without annotations).
    assert "The requested URL was not found on this server." in api
    code = "curl -s -o /dev/null -w '%{http_code}' -H 'Host: other.example.com' node01:30080/"
    assert node_shell(sim_cluster, "node01", code) == "404"


def test_requests_through_the_gateway_node_port_follow_the_route(
    sim_cluster: SimCluster, kubectl: Callable
) -> None:
    two_sites(sim_cluster, kubectl)
    api_rule = (
        "  - matches:\n    - path: {type: PathPrefix, value: /api}\n"
        "    backendRefs:\n    - name: api\n      port: 8080\n"
    )
    routes = GATEWAY + api_rule
    kubectl("apply", "-f", "-", input=routes)
    advance(sim_cluster, 2)
    page = node_shell(
        sim_cluster, "controlplane", "curl -s -H 'Host: web.example.com' node01:30081/"
    )
    assert "<title>Welcome to nginx!</title>" in page
    api = node_shell(
        sim_cluster, "controlplane", "curl -s -H 'Host: web.example.com' node01:30081/api"
    )
    # httpd answered: the path is passed on unchanged (no rewrite without annotations).
    assert "The requested URL was not found on this server." in api
    code = "curl -s -o /dev/null -w '%{http_code}' -H 'Host: nope.example.com' node01:30081/"
    assert node_shell(sim_cluster, "node01", code) == "404"


def test_the_default_ingress_class_is_filled_in(sim_cluster: SimCluster, kubectl: Callable) -> None:
    kubectl("create", "ingress", "before", "--rule=a.example.com/*=web:80")
    kubectl("annotate", "ingressclass", "nginx", "ingressclass.kubernetes.io/is-default-class=true")
    kubectl("create", "ingress", "after", "--rule=b.example.com/*=web:80")
    spec = "jsonpath={.spec.ingressClassName}"
    assert kubectl("get", "ingress", "before", "-o", spec).stdout == ""
    assert kubectl("get", "ingress", "after", "-o", spec).stdout == "nginx"
    advance(sim_cluster, 2)
    address = "jsonpath={.status.loadBalancer.ingress[0].ip}"
    assert kubectl("get", "ingress", "before", "-o", address).stdout == ""
    assert kubectl("get", "ingress", "after", "-o", address).stdout == node_ip(
        kubectl, "ingress-nginx"
    )


def test_rewrite_target_serves_the_backend_root(sim_cluster: SimCluster, kubectl: Callable) -> None:
    two_sites(sim_cluster, kubectl)
    kubectl("create", "ingress", "pay", "--class=nginx", "--rule=/pay=web:80")
    advance(sim_cluster, 2)
    url = "curl -s -o /dev/null -w '%{http_code}' node01:30080/pay"
    assert node_shell(sim_cluster, "controlplane", url) == "404"  # nginx has no /pay
    kubectl("annotate", "ingress", "pay", "nginx.ingress.kubernetes.io/rewrite-target=/")
    assert node_shell(sim_cluster, "controlplane", url) == "200"
    page = node_shell(sim_cluster, "controlplane", "curl -s node01:30080/pay")
    assert "<title>Welcome to nginx!</title>" in page

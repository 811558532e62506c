"""The ingress-nginx and NGINX Gateway Fabric add-ons on a bootstrapped cluster: their
objects, and the status their controller pods write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.sim.bootstrap import create_cluster, validate_shape
from app.sim.controlplane import ControlPlane
from app.sim.machinery.clock import ManualClock
from app.sim.network import gateway as gw
from app.sim.network.ingress import INGRESSES

SHAPE = {
    "nodes": [
        {"name": "controlplane", "role": "control-plane"},
        {"name": "node01"},
        {"name": "node02"},
    ],
    "addons": ["ingress-nginx", "gateway-api"],
}


class Env:
    def __init__(self) -> None:
        self.cluster = create_cluster("ingress", clock=ManualClock(), shape=SHAPE)
        self.plane = ControlPlane(self.cluster)
        self.plane.settle()
        self.store = self.cluster.store

    def create(self, resource: tuple[str, str], body: dict[str, Any]) -> None:
        self.store.create(*resource, body)
        self.plane.settle()

    def get(self, resource: tuple[str, str], namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(*resource, namespace, name)
        assert obj is not None
        return obj


@pytest.fixture
def env() -> Iterator[Env]:
    made = Env()
    yield made
    made.plane.close()


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """type -> (status, reason) of an object's status conditions (or of a status entry)."""
    found = obj.get("conditions") or (obj.get("status") or {}).get("conditions") or []
    return {c["type"]: (c["status"], c["reason"]) for c in found}


def test_shape_addons_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"shape.addons\[0\]: must be one of ingress-nginx, gateway-api"
    ):
        validate_shape({**SHAPE, "addons": ["traefik"]})
    with pytest.raises(ValueError, match=r"shape\.addons: must be a list of distinct"):
        validate_shape({**SHAPE, "addons": ["gateway-api", "gateway-api"]})


def test_the_addons_run_and_the_crds_are_established(env: Env) -> None:
    pods = {p["metadata"]["namespace"]: p for p in env.store.list("", "pods")[0]}
    assert pods["ingress-nginx"]["status"]["phase"] == "Running"
    assert pods["nginx-gateway"]["status"]["phase"] == "Running"
    service = env.get(("", "services"), "ingress-nginx", "ingress-nginx-controller")
    assert [(p["port"], p["nodePort"]) for p in service["spec"]["ports"]] == [
        (80, 30080),
        (443, 30443),
    ]
    crd = env.get(
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        None,
        "httproutes.gateway.networking.k8s.io",
    )
    assert conditions(crd)["Established"] == ("True", "InitialNamesAccepted")
    assert conditions(env.get(gw.GATEWAY_CLASSES, None, "nginx"))["Accepted"] == (
        "True",
        "Accepted",
    )


def test_served_ingresses_get_the_controller_nodes_address(env: Env) -> None:
    rules = [
        {
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                    }
                ]
            }
        }
    ]
    env.create(
        INGRESSES,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ingressClassName": "nginx", "rules": rules},
        },
    )
    env.create(
        INGRESSES,
        {
            "metadata": {"name": "other", "namespace": "default"},
            "spec": {"ingressClassName": "traefik", "rules": rules},
        },
    )
    controller = env.store.list("", "pods", "ingress-nginx")[0][0]
    node = env.get(("", "nodes"), None, controller["spec"]["nodeName"])
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    assert env.get(INGRESSES, "default", "web")["status"] == {
        "loadBalancer": {"ingress": [{"ip": node_ip}]}
    }
    # Another controller's class: ingress-nginx leaves it alone.
    other = env.get(INGRESSES, "default", "other")
    assert not ((other.get("status") or {}).get("loadBalancer") or {}).get("ingress")


def test_gateways_and_routes_get_their_conditions(env: Env) -> None:
    env.create(
        ("", "services"),
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}},
    )
    listeners = [
        {"name": "http", "port": 80, "protocol": "HTTP"},
        {"name": "tcp", "port": 9000, "protocol": "TCP"},
    ]
    env.create(
        gw.GATEWAYS,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"gatewayClassName": "nginx", "listeners": listeners},
        },
    )
    good = {
        "parentRefs": [{"name": "web"}],
        "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
    }
    env.create(gw.HTTPROUTES, {"metadata": {"name": "good", "namespace": "default"}, "spec": good})
    ghost = {
        "parentRefs": [{"name": "web", "sectionName": "http"}],
        "rules": [{"backendRefs": [{"name": "ghost", "port": 80}]}],
    }
    env.create(
        gw.HTTPROUTES, {"metadata": {"name": "ghost", "namespace": "default"}, "spec": ghost}
    )
    gateway = env.get(gw.GATEWAYS, "default", "web")
    assert conditions(gateway)["Accepted"] == ("True", "Accepted")
    assert conditions(gateway)["Programmed"] == ("True", "Programmed")
    controller = env.store.list("", "pods", "nginx-gateway")[0][0]
    assert gateway["status"]["addresses"] == [
        {"type": "IPAddress", "value": controller["status"]["podIP"]}
    ]
    listener = {x["name"]: x for x in gateway["status"]["listeners"]}
    assert listener["http"]["attachedRoutes"] == 2
    assert conditions(listener["tcp"])["Accepted"] == ("False", "UnsupportedProtocol")
    status = env.get(gw.HTTPROUTES, "default", "good")["status"]["parents"][0]
    assert status["controllerName"] == "gateway.nginx.org/nginx-gateway-controller"
    assert conditions(status) == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
    }
    ghost_status = env.get(gw.HTTPROUTES, "default", "ghost")["status"]["parents"][0]
    assert conditions(ghost_status)["ResolvedRefs"] == ("False", "BackendNotFound")
    assert ghost_status["parentRef"]["sectionName"] == "http"

"""Optional add-ons a CKA practice cluster ships with: the ingress-nginx controller and
the Gateway API (its CRDs and NGINX Gateway Fabric as the implementation).

A cluster created with `addons=["ingress-nginx", "gateway-api"]` (admin API and lab
shapes: `"addons"`) gets these objects at bootstrap; the controllers' behaviour is keyed
by their images (`app.sim.network.ingress.controller_of`), so the same manifests
applied by hand work as well.

- `ingress-nginx`: namespace `ingress-nginx`, IngressClass `nginx` (controller
  `k8s.io/ingress-nginx`), Deployment `ingress-nginx-controller` (one replica) and the
  NodePort Service `ingress-nginx-controller` (80 -> 30080, 443 -> 30443), shaped like
  the project's bare-metal manifest (deploy/static/provider/baremetal).
- `gateway-api`: the standard-channel CRDs GatewayClass, Gateway, HTTPRoute (v1) and
  ReferenceGrant (v1beta1); namespace `nginx-gateway` with the Deployment
  `nginx-gateway` (controller and nginx containers), the NodePort Service
  `nginx-gateway` (80 -> 30081, 443 -> 30444) and GatewayClass `nginx`.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from app.sim.network.ingress import (
    INGRESS_NGINX_CLASS,
    INGRESS_NGINX_CONTROLLER_CLASS,
    NGF_CONTROLLER_NAME,
    NGF_GATEWAY_CLASS,
)

INGRESS_NGINX = "ingress-nginx"
GATEWAY_API = "gateway-api"
ADDONS = (INGRESS_NGINX, GATEWAY_API)

INGRESS_NGINX_IMAGE = "registry.k8s.io/ingress-nginx/controller:v1.13.3"
NGF_IMAGE = "ghcr.io/nginx/nginx-gateway-fabric:2.2.1"
NGF_NGINX_IMAGE = "ghcr.io/nginx/nginx-gateway-fabric/nginx:2.2.1"
GATEWAY_API_VERSION = "v1.4.0"  # the CRDs' gateway.networking.k8s.io/bundle-version
INGRESS_NODE_PORTS = {"http": 30080, "https": 30443}
GATEWAY_NODE_PORTS = {"http": 30081, "https": 30444}

Triple = tuple[str, str, dict[str, Any]]


def _labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }


def _namespace(name: str) -> Triple:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    return (
        "",
        "namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
    )


def _service(name: str, namespace: str, labels: dict[str, str], ports: dict[str, int]) -> Triple:
    return (
        "",
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "type": "NodePort",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
                "selector": labels,
                "ports": [
                    {"name": n, "port": p, "protocol": "TCP", "targetPort": n, "nodePort": ports[n]}
                    for n, p in (("http", 80), ("https", 443))
                ],
            },
        },
    )


def _deployment(
    name: str, namespace: str, labels: dict[str, str], containers: list[dict[str, Any]]
) -> Triple:
    return (
        "apps",
        "deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": namespace,
                        "containers": containers,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "terminationGracePeriodSeconds": 300,
                    },
                },
            },
        },
    )


def _service_account(name: str, namespace: str, labels: dict[str, str]) -> Triple:
    return (
        "",
        "serviceaccounts",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
        },
    )


def _http_ports() -> list[dict[str, Any]]:
    return [
        {"name": "http", "containerPort": 80, "protocol": "TCP"},
        {"name": "https", "containerPort": 443, "protocol": "TCP"},
    ]


def ingress_nginx_objects() -> list[Triple]:
    ns = INGRESS_NGINX
    labels = _labels(ns, "controller")
    controller = {
        "name": "controller",
        "image": INGRESS_NGINX_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "/nginx-ingress-controller",
            "--election-id=ingress-nginx-leader",
            f"--controller-class={INGRESS_NGINX_CONTROLLER_CLASS}",
            f"--ingress-class={INGRESS_NGINX_CLASS}",
            "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
        ],
        "ports": _http_ports(),
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
    }
    return [
        _namespace(ns),
        _service_account(ns, ns, labels),
        (
            "",
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "ingress-nginx-controller", "namespace": ns, "labels": labels},
                "data": {},
            },
        ),
        (
            "networking.k8s.io",
            "ingressclasses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": INGRESS_NGINX_CLASS, "labels": labels},
                "spec": {"controller": INGRESS_NGINX_CONTROLLER_CLASS},
            },
        ),
        _service("ingress-nginx-controller", ns, labels, INGRESS_NODE_PORTS),
        _deployment("ingress-nginx-controller", ns, labels, [controller]),
    ]


# ---- Gateway API CRDs -----------------------------------------------------------------

_STRING: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer", "format": "int32"}
_FREE: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STATUS: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_PARENT_REF = _obj(
    {
        "group": _STRING,
        "kind": _STRING,
        "namespace": _STRING,
        "name": _STRING,
        "sectionName": _STRING,
        "port": _INT,
    },
    ["name"],
)
_BACKEND_REF = _obj(
    {
        "group": _STRING,
        "kind": _STRING,
        "namespace": _STRING,
        "name": _STRING,
        "port": _INT,
        "weight": _INT,
        "filters": _array(_FREE),
    },
    ["name"],
)
_MATCH = _obj(
    {
        "path": _obj(
            {
                "type": {"type": "string", "enum": ["Exact", "PathPrefix", "RegularExpression"]},
                "value": _STRING,
            }
        ),
        "headers": _array(_obj({"type": _STRING, "name": _STRING, "value": _STRING})),
        "queryParams": _array(_obj({"type": _STRING, "name": _STRING, "value": _STRING})),
        "method": _STRING,
    }
)
_LISTENER = _obj(
    {
        "name": _STRING,
        "hostname": _STRING,
        "port": _INT,
        "protocol": _STRING,
        "tls": _FREE,
        "allowedRoutes": _obj(
            {
                "namespaces": _obj(
                    {
                        "from": {"type": "string", "enum": ["All", "Same", "Selector"]},
                        "selector": _FREE,
                    }
                ),
                "kinds": _array(_obj({"group": _STRING, "kind": _STRING}, ["kind"])),
            }
        ),
    },
    ["name", "port", "protocol"],
)

_SPECS: dict[str, dict[str, Any]] = {
    "GatewayClass": _obj(
        {"controllerName": _STRING, "parametersRef": _FREE, "description": _STRING},
        ["controllerName"],
    ),
    "Gateway": _obj(
        {
            "gatewayClassName": _STRING,
            "listeners": _array(_LISTENER),
            "addresses": _array(_obj({"type": _STRING, "value": _STRING})),
            "infrastructure": _FREE,
            "backendTLS": _FREE,
            "allowedListeners": _FREE,
        },
        ["gatewayClassName", "listeners"],
    ),
    "HTTPRoute": _obj(
        {
            "parentRefs": _array(_PARENT_REF),
            "hostnames": _array(_STRING),
            "rules": _array(
                _obj(
                    {
                        "name": _STRING,
                        "matches": _array(_MATCH),
                        "filters": _array(_FREE),
                        "backendRefs": _array(_BACKEND_REF),
                        "timeouts": _FREE,
                        "retry": _FREE,
                        "sessionPersistence": _FREE,
                    }
                )
            ),
        }
    ),
    "ReferenceGrant": _obj(
        {
            "from": _array(
                _obj(
                    {"group": _STRING, "kind": _STRING, "namespace": _STRING},
                    ["group", "kind", "namespace"],
                )
            ),
            "to": _array(
                _obj({"group": _STRING, "kind": _STRING, "name": _STRING}, ["group", "kind"])
            ),
        },
        ["from", "to"],
    ),
}

_CONDITION_COLUMN = '.status.conditions[?(@.type=="{0}")].status'
_PRINTER_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "GatewayClass": [
        {"name": "Controller", "type": "string", "jsonPath": ".spec.controllerName"},
        {"name": "Accepted", "type": "string", "jsonPath": _CONDITION_COLUMN.format("Accepted")},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Description", "type": "string", "jsonPath": ".spec.description", "priority": 1},
    ],
    "Gateway": [
        {"name": "Class", "type": "string", "jsonPath": ".spec.gatewayClassName"},
        {"name": "Address", "type": "string", "jsonPath": ".status.addresses[*].value"},
        {
            "name": "Programmed",
            "type": "string",
            "jsonPath": _CONDITION_COLUMN.format("Programmed"),
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
    "HTTPRoute": [
        {"name": "Hostnames", "type": "string", "jsonPath": ".spec.hostnames"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
    "ReferenceGrant": [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
}

# kind -> (plural, scope, short names, versions served, storage version)
_CRDS: dict[str, tuple[str, str, list[str], list[str], str]] = {
    "GatewayClass": ("gatewayclasses", "Cluster", ["gc"], ["v1", "v1beta1"], "v1"),
    "Gateway": ("gateways", "Namespaced", ["gtw"], ["v1", "v1beta1"], "v1"),
    "HTTPRoute": ("httproutes", "Namespaced", [], ["v1", "v1beta1"], "v1"),
    "ReferenceGrant": ("referencegrants", "Namespaced", ["refgrant"], ["v1beta1"], "v1beta1"),
}


def gateway_crd(kind: str) -> dict[str, Any]:
    """The CustomResourceDefinition of one standard-channel Gateway API kind."""
    plural, scope, short, versions, storage = _CRDS[kind]
    schema = _obj(
        {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": {"type": "object"},
            "spec": _SPECS[kind],
            "status": _STATUS,
        },
        ["spec"],
    )
    has_status = kind != "ReferenceGrant"
    names: dict[str, Any] = {
        "plural": plural,
        "singular": kind.lower(),
        "kind": kind,
        "listKind": f"{kind}List",
    }
    if short:
        names["shortNames"] = short
    names["categories"] = ["gateway-api"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.gateway.networking.k8s.io",
            "annotations": {
                "gateway.networking.k8s.io/bundle-version": GATEWAY_API_VERSION,
                "gateway.networking.k8s.io/channel": "standard",
            },
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "scope": scope,
            "names": names,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == storage,
                    "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
                    "additionalPrinterColumns": _PRINTER_COLUMNS[kind],
                    **({"subresources": {"status": {}}} if has_status else {}),
                }
                for version in versions
            ],
        },
    }


def gateway_api_objects() -> list[Triple]:
    ns = "nginx-gateway"
    labels = _labels(ns, "controller")
    controller = {
        "name": "nginx-gateway",
        "image": NGF_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "controller",
            f"--gateway-ctlr-name={NGF_CONTROLLER_NAME}",
            f"--gatewayclass={NGF_GATEWAY_CLASS}",
            "--config=nginx-gateway-config",
            f"--service={ns}",
        ],
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
        ],
    }
    nginx = {
        "name": "nginx",
        "image": NGF_NGINX_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "ports": _http_ports(),
    }
    out: list[Triple] = [
        ("apiextensions.k8s.io", "customresourcedefinitions", gateway_crd(k)) for k in _CRDS
    ]
    out += [
        _namespace(ns),
        _service_account(ns, ns, labels),
        _service(ns, ns, labels, GATEWAY_NODE_PORTS),
        _deployment(ns, ns, labels, [controller, nginx]),
    ]
    return out


def gateway_class() -> Triple:
    """GatewayClass `nginx`; created once its CRD serves the kind."""
    return (
        "gateway.networking.k8s.io",
        "gatewayclasses",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {
                "name": NGF_GATEWAY_CLASS,
                "labels": _labels("nginx-gateway", "controller"),
            },
            "spec": {"controllerName": NGF_CONTROLLER_NAME},
        },
    )


@lru_cache(maxsize=2)
def _templates(name: str) -> tuple[Triple, ...]:
    if name == INGRESS_NGINX:
        return tuple(ingress_nginx_objects())
    if name == GATEWAY_API:
        return (*gateway_api_objects(), gateway_class())
    raise ValueError(f"unknown add-on {name!r}: must be one of {', '.join(ADDONS)}")


def addon_objects(name: str) -> list[Triple]:
    """(group, plural, object) of one optional add-on, fresh copies, in creation order
    (CRDs before their objects). ValueError for an unknown add-on."""
    return [(g, p, copy.deepcopy(obj)) for g, p, obj in _templates(name)]

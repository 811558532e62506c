"""Builders for the JSON-shaped objects the scheduler reads, with short defaults."""

from __future__ import annotations

import itertools
from typing import Any

_uids = itertools.count(1)


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    images: list[tuple[str, int]] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": dict(allocatable)},
    }
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if images:
        node["status"]["images"] = [{"names": [n], "sizeBytes": s} for n, s in images]
    return node


def make_pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: dict[str, str] | None = None,
    node: str | None = None,
    image: str = "nginx:1.27",
    priority: int | None = None,
    priority_class: str | None = None,
    scheduler_name: str | None = None,
    host_port: int | None = None,
    spec: dict[str, Any] | None = None,
    uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: dict[str, Any] = {"name": "main", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    if host_port is not None:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]
    pod_spec: dict[str, Any] = {"containers": [container], **(spec or {})}
    if node is not None:
        pod_spec["nodeName"] = node
    if priority is not None:
        pod_spec["priority"] = priority
    if priority_class is not None:
        pod_spec["priorityClassName"] = priority_class
    if scheduler_name is not None:
        pod_spec["schedulerName"] = scheduler_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{name}-{next(_uids)}",
            "resourceVersion": "1",
            "labels": labels or {},
            "creationTimestamp": created,
        },
        "spec": pod_spec,
        "status": {"phase": "Running" if node else "Pending"},
    }


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def payment_api_spec() -> dict[str, Any]:
    """The pod template spec of the seed chapter's payment-api Deployment (minus containers)."""
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "workload", "operator": "In", "values": ["compute"]}
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "payment-api"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            },
        },
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "payments", "effect": "NoSchedule"}
        ],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "payment-api"}},
            }
        ],
    }


def payment_api_pod(index: int) -> dict[str, Any]:
    pod = make_pod(
        f"payment-api-7d4f8b-{index}",
        cpu="1",
        memory="2Gi",
        labels={"app": "payment-api", "pod-template-hash": "7d4f8b"},
        image="payment-api:3.2.0",
        spec=payment_api_spec(),
    )
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payment-api-7d4f8b"}
    ]
    return pod

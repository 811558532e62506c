"""What the data plane sees of the API objects: Services, their EndpointSlices, pods by
IP and node addresses, read from the store once per connection.

The data plane never looks at selectors itself: like kube-proxy and CoreDNS it follows
the EndpointSlices the endpointslice controller writes, so a Service whose selector
matches nothing (or only unready pods) has no backends here either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

Obj = Mapping[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# The pod network's CIDR (kubeadm's --pod-network-cidr on the simulated clusters).
CLUSTER_CIDR = "10.244.0.0/16"


@dataclass(frozen=True)
class Endpoint:
    """One address of a Service's EndpointSlices with its ports by Service port name."""

    ip: str
    ready: bool
    pod: str = ""  # targetRef name when the address is a pod's
    namespace: str = ""
    hostname: str = ""
    node: str = ""
    ports: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (name, proto) -> port


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def key(obj: Obj) -> tuple[str, str]:
    return str(meta(obj).get("namespace") or ""), str(meta(obj).get("name") or "")


def is_headless(service: Obj) -> bool:
    return spec(service).get("clusterIP") == "None"


def pod_running(pod: Obj) -> bool:
    """Phase Running with every container running (what answers on the network)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or meta(pod).get("deletionTimestamp"):
        return False
    states = [s.get("state") or {} for s in status.get("containerStatuses") or []]
    return bool(states) and all("running" in s for s in states)


def pod_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


class ClusterView:
    """A read of the store for one connection (lists are taken once, lazily)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _list(self, group: str, plural: str, namespace: str | None = None) -> list[Obj]:
        return list(self.store.list(group, plural, namespace)[0])

    @cached_property
    def services(self) -> list[Obj]:
        return self._list("", "services")

    @cached_property
    def pods(self) -> list[Obj]:
        return self._list("", "pods")

    @cached_property
    def nodes(self) -> dict[str, str]:
        """Node name -> InternalIP."""
        out: dict[str, str] = {}
        for node in self._list("", "nodes"):
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "InternalIP":
                    out[str(meta(node).get("name"))] = str(address.get("address"))
        return out

    @cached_property
    def _slices(self) -> dict[tuple[str, str], list[Obj]]:
        out: dict[tuple[str, str], list[Obj]] = {}
        for item in self._list("discovery.k8s.io", "endpointslices"):
            owner = (meta(item).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if owner:
                out.setdefault((str(meta(item).get("namespace")), str(owner)), []).append(item)
        return out

    @cached_property
    def _pod_ips(self) -> dict[str, Obj]:
        out: dict[str, Obj] = {}
        for pod in self.pods:
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or spec(pod).get("hostNetwork"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            out[str(ip)] = pod
        return out

    # ---- look-ups ------------------------------------------------------------------

    def service(self, namespace: str, name: str) -> Obj | None:
        return next((s for s in self.services if key(s) == (namespace, name)), None)

    def service_by_ip(self, ip: str) -> Obj | None:
        for svc in self.services:
            ips = spec(svc).get("clusterIPs") or [spec(svc).get("clusterIP")]
            if ip in ips and not is_headless(svc):
                return svc
        return None

    def pod_by_ip(self, ip: str) -> Obj | None:
        return self._pod_ips.get(ip)

    def pod(self, namespace: str, name: str) -> Obj | None:
        return next((p for p in self.pods if key(p) == (namespace, name)), None)

    def node_by_ip(self, ip: str) -> str | None:
        return next((name for name, addr in self.nodes.items() if addr == ip), None)

    def namespaces(self) -> set[str]:
        return {key(p)[0] for p in self.pods} | {key(s)[0] for s in self.services}

    def endpoints(self, service: Obj) -> list[Endpoint]:
        """Every address of the Service's slices, in slice order."""
        out: list[Endpoint] = []
        for item in self._slices.get(key(service), []):
            ports = {
                (str(p.get("name") or ""), str(p.get("protocol") or "TCP")): int(p["port"])
                for p in item.get("ports") or []
                if p.get("port") is not None
            }
            for ep in item.get("endpoints") or []:
                ref = ep.get("targetRef") or {}
                ready = (ep.get("conditions") or {}).get("ready") is not False
                for ip in ep.get("addresses") or []:
                    out.append(
                        Endpoint(
                            ip=str(ip),
                            ready=ready,
                            pod=str(ref.get("name") or "") if ref.get("kind") == "Pod" else "",
                            namespace=str(ref.get("namespace") or ""),
                            hostname=str(ep.get("hostname") or ""),
                            node=str(ep.get("nodeName") or ""),
                            ports=ports,
                        )
                    )
        return out

    def ready_endpoints(self, service: Obj) -> list[Endpoint]:
        publish = bool(spec(service).get("publishNotReadyAddresses"))
        return [e for e in self.endpoints(service) if e.ready or publish]

"""What the data plane sees of the API objects: Services, their EndpointSlices, pods by
IP and node addresses, read from the store once per connection.

The data plane never looks at selectors itself: like kube-proxy and CoreDNS it follows
the EndpointSlices the endpointslice controller writes, so a Service whose selector
matches nothing (or only unready pods) has no backends here either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """A read of the store for one connection (lists are taken once, lazily).

    `locate` maps a pod IP to (namespace, name) without listing every pod (the node
    agents know their pods' addresses); without it the pods are listed.
    """

    def __init__(
        self, store: Any, locate: Callable[[str], tuple[str, str] | None] | None = None
    ) -> None:
        self.store = store
        self.locate = locate
        # kube-proxy's mode per node, once per view (see addons.proxy_mode).
        self.proxy_modes: dict[str, str | None] = {}

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

    def _slices(self, namespace: str, service: str) -> list[Obj]:
        cached = self._slice_cache.get((namespace, service))
        if cached is None:
            cached = list(
                self.store.list(
                    "discovery.k8s.io",
                    "endpointslices",
                    namespace,
                    label_selector=f"{SERVICE_NAME_LABEL}={service}",
                )[0]
            )
            self._slice_cache[(namespace, service)] = cached
        return cached

    @cached_property
    def _slice_cache(self) -> dict[tuple[str, str], list[Obj]]:
        return {}

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
        if self.locate is None:
            return self._pod_ips.get(ip)
        found = self.locate(ip)
        pod = self.pod(*found) if found is not None else None
        if pod is None or (pod.get("status") or {}).get("podIP") != ip:
            return None
        return pod

    def pod(self, namespace: str, name: str) -> Obj | None:
        obj = self.store.get("", "pods", namespace, name)
        return obj if isinstance(obj, Mapping) else None

    def pods_on(self, node: str) -> list[Obj]:
        """The pods bound to `node` (a field-selected list, as the kubelet watches)."""
        return list(self.store.list("", "pods", field_selector=f"spec.nodeName={node}")[0])

    def kube_system_pods(self) -> list[Obj]:
        return self._system_pods

    @cached_property
    def _system_pods(self) -> list[Obj]:
        return self._list("", "pods", "kube-system")

    def node_by_ip(self, ip: str) -> str | None:
        return next((name for name, addr in self.nodes.items() if addr == ip), None)

    def endpoints(self, service: Obj) -> list[Endpoint]:
        """Every address of the Service's slices, in slice order."""
        out: list[Endpoint] = []
        for item in self._slices(*key(service)):
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

"""EndpointSlice and Endpoints: the backends of every Service with a selector.

Both controllers read the same thing: the pods matching the Service's selector in
its namespace that have an IP. A pod's `Ready` condition decides whether it is a
ready endpoint (`conditions.ready`, Endpoints `addresses`) or not
(`notReadyAddresses`); a terminating pod stays in the slice with `terminating: true`.
Named `targetPort`s are resolved per pod from its container ports, so pods that
resolve a port differently land in different slices (subsets), as upstream.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    canonical,
    deleting,
    fresh,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    pod_phase,
    pod_ready,
    pod_ref,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_map

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
# kube-controller-manager --max-endpoints-per-slice default.
MAX_ENDPOINTS_PER_SLICE = 100
# Service labels that are not copied to slices (endpointslice reconciler).
_SKIPPED_LABELS = {SERVICE_NAME_LABEL, MANAGED_BY_LABEL, "service.kubernetes.io/headless"}

PortKey = tuple[tuple[str, int, str], ...]  # (name, port, protocol) per service port


def resolve_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a Service port reaches: targetPort as a number, or the named
    container port (podutil.FindPort); None when the pod has no such port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    text = str(target)
    if text.isdigit():
        return int(text)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == text and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort"))
    return None


def service_backends(
    ctx: ControllerContext, service: Obj, pods: list[Obj]
) -> list[tuple[Obj, PortKey]]:
    """(pod, resolved ports) for every pod behind the Service with an IP, sorted by pod
    name; terminating pods included (slices publish them as terminating since 1.26)."""
    spec = service.get("spec") or {}
    selector = selector_from_map(spec.get("selector"))
    out = []
    for pod in sorted(pods, key=name_of):
        if not selector.matches(labels_of(pod)):
            continue
        if not (pod.get("status") or {}).get("podIP"):
            continue
        if pod_phase(pod) in ("Succeeded", "Failed"):
            continue
        ports = []
        for sp in spec.get("ports") or []:
            resolved = resolve_port(pod, sp)
            if resolved is not None:
                ports.append((sp.get("name") or "", resolved, sp.get("protocol") or "TCP"))
        out.append((pod, tuple(ports)))
    return out


def selects(service: Obj) -> bool:
    return bool((service.get("spec") or {}).get("selector"))


class EndpointSliceController:
    name = "endpointslice-controller"
    watches = frozenset(
        {("", "services"), ("", "pods"), ("discovery.k8s.io", "endpointslices"), ("", "nodes")}
    )

    def reconcile(self, ctx: ControllerContext) -> None:
        pods_by_ns: dict[str, list[Obj]] = {}
        nodes = {name_of(n): n for n in ctx.client.list("", "nodes")}
        slices_by_ns: dict[str, list[Obj]] = {}
        for service in ctx.client.list("", "services"):
            if not selects(service) or deleting(service):
                continue
            ns = namespace_of(service)
            if ns not in pods_by_ns:
                pods_by_ns[ns] = ctx.client.list("", "pods", ns)
                slices_by_ns[ns] = ctx.client.list("discovery.k8s.io", "endpointslices", ns)
            owned = [
                s
                for s in slices_by_ns[ns]
                if labels_of(s).get(SERVICE_NAME_LABEL) == name_of(service)
                and labels_of(s).get(MANAGED_BY_LABEL) == MANAGED_BY
            ]
            try:
                self.sync(ctx, service, pods_by_ns[ns], owned, nodes)
            except ApiError:
                continue

    def desired(
        self, ctx: ControllerContext, service: Obj, pods: list[Obj], nodes: dict[str, Obj]
    ) -> list[Obj]:
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        groups: dict[PortKey, list[Obj]] = {}
        for pod, ports in service_backends(ctx, service, pods):
            terminating = deleting(pod)
            ready = (pod_ready(pod) and not terminating) or publish
            endpoint: dict[str, Any] = {
                "addresses": [pod["status"]["podIP"]],
                "conditions": {
                    "ready": ready,
                    "serving": pod_ready(pod) or publish,
                    "terminating": terminating,
                },
                "targetRef": pod_ref(pod),
            }
            pod_spec = pod.get("spec") or {}
            if pod_spec.get("hostname") and pod_spec.get("subdomain") == name_of(service):
                # endpointslice util ShouldSetHostname: the pod's stable DNS name
                # (HOSTNAME.SUBDOMAIN.NS.svc) under its governing Service.
                endpoint["hostname"] = pod_spec["hostname"]
            node_name = pod_spec.get("nodeName")
            if node_name:
                endpoint["nodeName"] = node_name
                zone = labels_of(nodes.get(node_name) or {}).get("topology.kubernetes.io/zone")
                if zone:
                    endpoint["zone"] = zone
            groups.setdefault(ports, []).append(endpoint)
        service_ports = (service.get("spec") or {}).get("ports") or []
        protocols = {sp.get("name") or "": sp for sp in service_ports}
        out = []
        for ports, endpoints in sorted(groups.items()):
            slice_ports = []
            for name, port, protocol in ports:
                entry: dict[str, Any] = {"name": name, "port": port, "protocol": protocol}
                app_protocol = (protocols.get(name) or {}).get("appProtocol")
                if app_protocol:
                    entry["appProtocol"] = app_protocol
                slice_ports.append(entry)
            for start in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
                out.append(
                    {
                        "ports": slice_ports,
                        "endpoints": endpoints[start : start + MAX_ENDPOINTS_PER_SLICE],
                    }
                )
        if not out:
            # A Service without backends keeps one empty placeholder slice.
            out.append({"ports": None, "endpoints": []})
        return out

    def sync(
        self,
        ctx: ControllerContext,
        service: Obj,
        pods: list[Obj],
        owned: list[Obj],
        nodes: dict[str, Obj],
    ) -> None:
        wanted = self.desired(ctx, service, pods, nodes)
        labels = {k: v for k, v in labels_of(service).items() if k not in _SKIPPED_LABELS}
        labels[SERVICE_NAME_LABEL] = name_of(service)
        labels[MANAGED_BY_LABEL] = MANAGED_BY
        existing = sorted(owned, key=name_of)
        for index, body in enumerate(wanted):
            if index < len(existing):
                current = fresh(existing[index])
                changed = (
                    canonical(current.get("endpoints") or []) != canonical(body["endpoints"])
                    or canonical(current.get("ports")) != canonical(body["ports"])
                    or current["metadata"].get("labels") != labels
                )
                if changed:
                    current["endpoints"] = body["endpoints"]
                    current["ports"] = body["ports"]
                    current["metadata"]["labels"] = labels
                    ctx.client.update("discovery.k8s.io", "endpointslices", current)
                continue
            ctx.client.store.create(
                "discovery.k8s.io",
                "endpointslices",
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "generateName": f"{name_of(service)}-",
                        "namespace": namespace_of(service),
                        "labels": labels,
                        "ownerReferences": [owner_reference(service, "v1", "Service")],
                    },
                    "addressType": "IPv4",
                    "endpoints": body["endpoints"],
                    "ports": body["ports"],
                },
            )
        for extra in existing[len(wanted) :]:
            ctx.client.delete(
                "discovery.k8s.io", "endpointslices", namespace_of(extra), name_of(extra)
            )

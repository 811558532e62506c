"""The Endpoints controller: the legacy Endpoints object of each Service with a selector.

Deprecated upstream in favour of EndpointSlices (1.33) but still maintained, and
`kubectl get endpoints` and many CKA answers read it: ready pods in `addresses`,
the others in `notReadyAddresses`, terminating pods left out.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    labels_of,
    name_of,
    namespace_of,
    pod_ready,
    pod_ref,
)
from app.sim.controllers.endpointslice import PortKey, selects, service_backends
from app.sim.controllers.timing import EVENT_RESYNC_SECONDS
from app.sim.machinery.errors import ApiError


class EndpointsController:
    name = "endpoints-controller"
    watches = frozenset({("", "services"), ("", "pods"), ("", "endpoints")})
    resync_seconds = EVENT_RESYNC_SECONDS

    def reconcile(self, ctx: ControllerContext) -> None:
        services = {(namespace_of(s), name_of(s)): s for s in ctx.client.list("", "services")}
        pods_by_ns: dict[str, list[Obj]] = {}
        for (ns, _), service in services.items():
            if not selects(service) or deleting(service):
                continue
            if ns not in pods_by_ns:
                pods_by_ns[ns] = ctx.client.list("", "pods", ns)
            try:
                self.sync(ctx, service, pods_by_ns[ns])
            except ApiError:
                continue
        # Endpoints this controller made for a Service that is gone go with it.
        for endpoints in ctx.client.list("", "endpoints"):
            key = (namespace_of(endpoints), name_of(endpoints))
            if key in services or not _made_by_controller(endpoints):
                continue
            ctx.client.delete("", "endpoints", key[0], key[1])

    def sync(self, ctx: ControllerContext, service: Obj, pods: list[Obj]) -> None:
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        subsets: dict[PortKey, dict[str, list[Obj]]] = {}
        for pod, ports in service_backends(ctx, service, pods):
            if deleting(pod) and not publish:
                continue
            address: dict[str, Any] = {
                "ip": pod["status"]["podIP"],
                "targetRef": pod_ref(pod),
            }
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                address["nodeName"] = node_name
            bucket = subsets.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
            key = "addresses" if pod_ready(pod) or publish else "notReadyAddresses"
            bucket[key].append(address)
        rendered = []
        for ports, bucket in sorted(subsets.items()):
            subset: dict[str, Any] = {}
            for key in ("addresses", "notReadyAddresses"):
                if bucket[key]:
                    subset[key] = sorted(bucket[key], key=lambda a: a["ip"])
            subset["ports"] = [
                {"name": n, "port": p, "protocol": proto} if n else {"port": p, "protocol": proto}
                for n, p, proto in ports
            ]
            rendered.append(subset)
        labels = dict(labels_of(service))
        current = ctx.client.get("", "endpoints", namespace_of(service), name_of(service))
        if current is None:
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name_of(service), "namespace": namespace_of(service)},
            }
            if labels:
                body["metadata"]["labels"] = labels
            if rendered:
                body["subsets"] = rendered
            ctx.client.store.create("", "endpoints", body)
            return
        updated = fresh(current)
        if rendered:
            updated["subsets"] = rendered
        else:
            updated.pop("subsets", None)
        if labels:
            updated["metadata"]["labels"] = labels
        if updated != current:
            ctx.client.update("", "endpoints", updated)


def _made_by_controller(endpoints: Obj) -> bool:
    addresses = [
        a
        for subset in endpoints.get("subsets") or []
        for a in (subset.get("addresses") or []) + (subset.get("notReadyAddresses") or [])
    ]
    return bool(addresses) and all(
        (a.get("targetRef") or {}).get("kind") == "Pod" for a in addresses
    )

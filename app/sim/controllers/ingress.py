"""What the ingress and Gateway controller pods write to the API: status.

These are not kube-controller-manager loops: they run while a pod of the controller
runs (and is ready), whatever namespace it was installed in, as the real controllers
are processes in those pods. `IngressControllers.tick()` is stepped by the control
plane after kube-controller-manager.

- ingress-nginx fills `status.loadBalancer.ingress` of the Ingresses it serves with the
  addresses it publishes: `--publish-status-address` when given, else the
  `--publish-service` Service's load-balancer or external IPs, else the InternalIP of
  every node running a ready controller pod (the bare-metal default, what
  `kubectl get ingress` shows in ADDRESS).
- NGINX Gateway Fabric accepts its GatewayClass (`Accepted`), accepts and programs the
  Gateways of that class (`Accepted`, `Programmed`, listener conditions and
  `attachedRoutes`, the controller pod's IP in `status.addresses`) and writes each
  HTTPRoute's `status.parents` entry for its Gateways (`Accepted` with the spec's
  reasons, `ResolvedRefs` with BackendNotFound / RefNotPermitted / InvalidKind).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.sim.client.events import EventRecorder
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    name_of,
    namespace_of,
    pod_ready,
    write_status,
)
from app.sim.controllers.client import ApiClient
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.machinery.watch import WatchEvent
from app.sim.network import gateway as gw
from app.sim.network.ingress import (
    INGRESS_CLASSES,
    INGRESS_NGINX,
    INGRESSES,
    Controller,
    controller_of,
    served_ingresses,
)

log = logging.getLogger(__name__)

# A controller re-checks everything at least this often (cluster-clock seconds).
RESYNC_SECONDS = 10.0
# Kinds whose writes wake the controllers; pods only when they are controller pods (see
# _CONTROLLER_IMAGES), nodes only through the resync (their addresses rarely change).
_WATCHED = frozenset(
    {
        ("", "services"),
        ("", "secrets"),
        ("", "namespaces"),
        INGRESSES,
        INGRESS_CLASSES,
        gw.GATEWAY_CLASSES,
        gw.GATEWAYS,
        gw.HTTPROUTES,
        gw.REFERENCE_GRANTS,
    }
)
# What a controller pod's JSON contains (its image), to skip other pods' writes cheaply.
_CONTROLLER_IMAGES = (b"ingress-nginx/controller", b"nginx-gateway-fabric")
USER_AGENT = "nginx-ingress-controller/v1.13.3 (linux/amd64) ingress-nginx/ad3a5c8"


def _flags(pod: Obj) -> dict[str, str]:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if controller_of({"spec": {"containers": [container]}}) is not None:
            argv = [
                str(a) for a in (container.get("command") or []) + (container.get("args") or [])
            ]
            return {
                a[2:].partition("=")[0]: a.partition("=")[2] for a in argv if a.startswith("--")
            }
    return {}


def _running(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return (
        status.get("phase") == "Running"
        and pod_ready(pod)
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
    )


# ---- ingress-nginx ------------------------------------------------------------------


def _node_ips(ctx: ControllerContext, pods: list[Obj]) -> list[str]:
    ips = set()
    for pod in pods:
        node = ctx.store.get("", "nodes", None, str((pod.get("spec") or {}).get("nodeName") or ""))
        for address in ((node or {}).get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                ips.add(str(address["address"]))
    return sorted(ips)


def _published(ctx: ControllerContext, pods: list[Obj]) -> list[dict[str, str]]:
    flags = _flags(pods[0])
    if flags.get("publish-status-address"):
        values = [v.strip() for v in flags["publish-status-address"].split(",") if v.strip()]
        return [{"ip": v} if v[:1].isdigit() or ":" in v else {"hostname": v} for v in values]
    if flags.get("publish-service"):
        namespace, _, name = flags["publish-service"].partition("/")
        namespace = namespace.replace("$(POD_NAMESPACE)", namespace_of(pods[0]))
        service = ctx.store.get("", "services", namespace, name) or {}
        lb = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if lb:
            return [dict(x) for x in lb]
        external = (service.get("spec") or {}).get("externalIPs") or []
        return [{"ip": ip} for ip in external]
    return [{"ip": ip} for ip in _node_ips(ctx, pods)]


def sync_ingress_nginx(
    ctx: ControllerContext, controller: Controller, pods: list[Obj], seen: dict[str, Any]
) -> None:
    """Publish the controller's addresses on every Ingress it serves; a new or changed
    Ingress gets ingress-nginx's `Sync` event ("Scheduled for sync"). `seen` maps an
    Ingress uid to the generation last synced (the controller's memory)."""
    addresses = _published(ctx, pods)
    events = ctx.events.for_component("nginx-ingress-controller")
    for ingress in served_ingresses(ctx.store, controller):
        meta = ingress.get("metadata") or {}
        uid, generation = str(meta.get("uid") or ""), meta.get("generation")
        if seen.get(uid) != generation:
            seen[uid] = generation
            events.normal(dict(ingress), "Sync", "Scheduled for sync")
        status = {"loadBalancer": {"ingress": addresses} if addresses else {}}
        try:
            write_status(ctx, INGRESSES, dict(ingress), status)
        except ApiError:
            continue


# ---- Gateway API ----------------------------------------------------------------------


def _condition(
    old: list[Obj], kind: str, ok: bool, reason: str, message: str, generation: Any, now: str
) -> Obj:
    status = "True" if ok else "False"
    previous = next((c for c in old if c.get("type") == kind), None)
    stamp = (
        previous.get("lastTransitionTime") if previous and previous.get("status") == status else now
    )
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": stamp or now,
    }


def _generation(obj: Obj) -> Any:
    return (obj.get("metadata") or {}).get("generation", 1)


def _sync_class(ctx: ControllerContext, gateway_class: Obj) -> None:
    old = (gateway_class.get("status") or {}).get("conditions") or []
    gen, now = _generation(gateway_class), ctx.now_str()
    conditions = [
        _condition(old, "Accepted", True, "Accepted", "GatewayClass is accepted", gen, now),
        _condition(
            old,
            "SupportedVersion",
            True,
            "SupportedVersion",
            "Gateway API CRD versions are supported",
            gen,
            now,
        ),
    ]
    write_status(
        ctx,
        gw.GATEWAY_CLASSES,
        dict(gateway_class),
        {**(gateway_class.get("status") or {}), "conditions": conditions},
    )


def _listener_problem(
    ctx: ControllerContext, gateway: Obj, listener: Obj
) -> tuple[str, str] | None:
    """(reason, message) when the listener cannot be programmed, else None."""
    protocol = str(listener.get("protocol") or "")
    if protocol not in gw.ROUTE_PROTOCOLS:
        return "UnsupportedProtocol", f"Protocol {protocol} is not supported"
    if protocol == "HTTPS":
        refs = ((listener.get("tls") or {}).get("certificateRefs")) or []
        if not refs:
            return "InvalidCertificateRef", "an HTTPS listener needs a certificateRef"
        for ref in refs:
            namespace = str(ref.get("namespace") or namespace_of(gateway))
            if ctx.store.get("", "secrets", namespace, str(ref.get("name") or "")) is None:
                return (
                    "InvalidCertificateRef",
                    f"Secret {namespace}/{ref.get('name')} does not exist",
                )
    return None


_ACCEPTED = ("Accepted", True, "Accepted", "Listener is accepted")
_REFS_RESOLVED = ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")


def _listener_conditions(problem: tuple[str, str] | None) -> list[tuple[str, bool, str, str]]:
    """(type, ok, reason, message) of a listener's Accepted, Programmed, ResolvedRefs."""
    if problem is None:
        programmed = ("Programmed", True, "Programmed", "Listener is programmed")
        return [_ACCEPTED, programmed, _REFS_RESOLVED]
    reason, message = problem
    invalid = ("Programmed", False, "Invalid", message)
    if reason == "UnsupportedProtocol":
        return [("Accepted", False, reason, message), invalid, _REFS_RESOLVED]
    return [_ACCEPTED, invalid, ("ResolvedRefs", False, reason, message)]


def _listener_status(
    ctx: ControllerContext, gateway: Obj, listener: Obj, attached: int, old: Obj
) -> Obj:
    gen, now = _generation(gateway), ctx.now_str()
    previous = old.get("conditions") or []
    problem = _listener_problem(ctx, gateway, listener)
    conditions = [_condition(previous, *c, gen, now) for c in _listener_conditions(problem)]
    conditions.append(
        _condition(previous, "Conflicted", False, "NoConflicts", "No conflicts", gen, now)
    )
    kinds = (
        [{"group": gw.GROUP, "kind": "HTTPRoute"}]
        if problem is None or problem[0] != "UnsupportedProtocol"
        else []
    )
    return {
        "name": listener.get("name"),
        "supportedKinds": kinds,
        "attachedRoutes": attached,
        "conditions": conditions,
    }


def _sync_gateway(ctx: ControllerContext, gateway: Obj, pods: list[Obj]) -> None:
    status = gateway.get("status") or {}
    old_listeners = {str(x.get("name")): x for x in status.get("listeners") or []}
    counts: dict[str, int] = {}
    for _, names in gw.attached_routes(ctx.store, gateway):
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    listeners = [
        _listener_status(
            ctx,
            gateway,
            lst,
            counts.get(str(lst.get("name")), 0),
            old_listeners.get(str(lst.get("name")), {}),
        )
        for lst in (gateway.get("spec") or {}).get("listeners") or []
    ]
    programmed = any(
        c["type"] == "Programmed" and c["status"] == "True"
        for x in listeners
        for c in x["conditions"]
    )
    gen, now, old = _generation(gateway), ctx.now_str(), status.get("conditions") or []
    ips = sorted({str((p.get("status") or {}).get("podIP") or "") for p in pods} - {""})
    conditions = [
        _condition(old, "Accepted", True, "Accepted", "Gateway is accepted", gen, now),
        _condition(
            old, "Programmed", programmed, "Programmed" if programmed else "Invalid",
            "Gateway is programmed" if programmed else "Gateway has no valid listeners", gen, now,
        ),
    ]  # fmt: skip
    new = {
        "addresses": [{"type": "IPAddress", "value": ip} for ip in ips],
        "conditions": conditions,
        "listeners": listeners,
    }
    write_status(ctx, gw.GATEWAYS, dict(gateway), new)


def _parent_ref(ref: Obj) -> Obj:
    out = {
        "group": ref.get("group") or gw.GROUP,
        "kind": ref.get("kind") or "Gateway",
        "name": ref.get("name"),
    }
    for key in ("namespace", "sectionName", "port"):
        if ref.get(key) is not None:
            out[key] = ref[key]
    return out


_ACCEPT = {
    "Accepted": "The route is accepted",
    "NoMatchingParent": "No listener matches the parentRef's sectionName or port",
    "NotAllowedByListeners": "No listener allows routes from this namespace or of this kind",
    "NoMatchingListenerHostname": "No listener hostname intersects the route's hostnames",
}
_REF_MESSAGES = {
    "InvalidKind": "Only core Services are supported as backends",
    "RefNotPermitted": "A backendRef into another namespace needs a ReferenceGrant",
    "BackendNotFound": "A backendRef names a Service that does not exist",
}


def _sync_route(
    ctx: ControllerContext,
    route: Obj,
    gateways: Mapping[tuple[str, str], Obj],
    controller: Controller,
) -> None:
    status = route.get("status") or {}
    others = [
        p
        for p in status.get("parents") or []
        if p.get("controllerName") != controller.class_controller
    ]
    mine_old = {
        (
            str((p.get("parentRef") or {}).get("name")),
            str((p.get("parentRef") or {}).get("sectionName")),
        ): p
        for p in status.get("parents") or []
        if p.get("controllerName") == controller.class_controller
    }
    unresolved = gw.unresolved_backend(ctx.store, route)
    gen, now = _generation(route), ctx.now_str()
    parents = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        target = gateways.get(
            (str(ref.get("namespace") or namespace_of(route)), str(ref.get("name") or ""))
        )
        if target is None or not gw.refers_to(ref, route, target):
            continue
        reason = gw.attach(ctx.store, route, ref, target).reason
        old = (mine_old.get((str(ref.get("name")), str(ref.get("sectionName")))) or {}).get(
            "conditions"
        ) or []
        conditions = [
            _condition(old, "Accepted", reason == "Accepted", reason, _ACCEPT[reason], gen, now),
            _condition(
                old, "ResolvedRefs", unresolved is None, unresolved or "ResolvedRefs",
                _REF_MESSAGES.get(unresolved or "", "All references are resolved"), gen, now,
            ),
        ]  # fmt: skip
        parents.append(
            {
                "parentRef": _parent_ref(ref),
                "controllerName": controller.class_controller,
                "conditions": conditions,
            }
        )
    if not parents and not mine_old:
        return
    write_status(ctx, gw.HTTPROUTES, dict(route), {**status, "parents": others + parents})


def sync_gateway_api(
    ctx: ControllerContext, controller: Controller, pods: list[Obj], seen: dict[str, Any]
) -> None:
    """Status of the controller's GatewayClass, its Gateways and their HTTPRoutes."""
    del seen  # status only: nothing to remember between passes
    for gateway_class in gw.served_classes(ctx.store, controller):
        _sync_class(ctx, gateway_class)
    gateways = {(namespace_of(g), name_of(g)): g for g in gw.served_gateways(ctx.store, controller)}
    for gateway in gateways.values():
        _sync_gateway(ctx, gateway, pods)
    for route in gw._list(ctx.store, gw.HTTPROUTES):
        try:
            _sync_route(ctx, route, gateways, controller)
        except ApiError:
            continue


# ---- the runner -----------------------------------------------------------------------


class IngressControllers:
    """Runs the status work of every ingress/Gateway controller whose pod is ready,
    when something they watch changed or every RESYNC_SECONDS."""

    def __init__(self, cluster: Cluster) -> None:
        self.store = cluster.store
        self.context = ControllerContext(
            cluster.store,
            cluster.clock,
            ApiClient(cluster.store, cluster, USER_AGENT),
            EventRecorder(cluster.store, cluster.clock, "ingress-controller"),
        )
        self._dirty = True
        self._last = float("-inf")
        # Per controller: what it has synced (its in-memory state; a restart forgets).
        self._synced: dict[Controller, dict[str, Any]] = {}
        # Controller pods by (namespace, name), kept from pod writes (None: list first).
        self._pods: dict[tuple[str, str], Obj] | None = None
        self.store.after_write.append(self._seen)

    def _seen(self, event: WatchEvent) -> None:
        if (event.group, event.plural) == ("", "pods"):
            self._pod_written(event)
        elif (event.group, event.plural) in _WATCHED:
            self._dirty = True

    def _pod_written(self, event: WatchEvent) -> None:
        key = (event.namespace, event.name)
        if self._pods is None:
            return
        if key not in self._pods and not any(m in event.data for m in _CONTROLLER_IMAGES):
            return
        self._dirty = True
        pod = None if event.type == "DELETED" else event.object()
        if pod is not None and controller_of(pod) is not None:
            self._pods[key] = pod
        else:
            self._pods.pop(key, None)

    def close(self) -> None:
        if self._seen in self.store.after_write:
            self.store.after_write.remove(self._seen)

    def controllers(self) -> dict[Controller, list[Obj]]:
        """Ready controller pods grouped by what they serve."""
        if self._pods is None:
            self._pods = {
                (namespace_of(p), name_of(p)): p
                for p in self.store.list("", "pods")[0]
                if controller_of(p) is not None
            }
        found: dict[Controller, list[Obj]] = {}
        for pod in self._pods.values():
            controller = controller_of(pod)
            if controller is not None and _running(pod):
                found.setdefault(controller, []).append(pod)
        return found

    def tick(self) -> None:
        now = self.context.now().timestamp()
        if not self._dirty and now - self._last < RESYNC_SECONDS:
            return
        self._dirty, self._last = False, now
        if not self.store.count(*INGRESS_CLASSES) and not self.store.count(*gw.GATEWAY_CLASSES):
            return  # nothing any controller could serve (ingress-nginx needs its class)
        for controller, pods in self.controllers().items():
            sync = sync_ingress_nginx if controller.kind == INGRESS_NGINX else sync_gateway_api
            seen = self._synced.setdefault(controller, {})
            try:
                sync(self.context, controller, sorted(pods, key=name_of), seen)
            except Exception:  # a controller that fails retries later; the tick goes on
                log.exception("%s controller failed; retrying on the next pass", controller.kind)
                self._dirty = True

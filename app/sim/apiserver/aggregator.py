"""The aggregation layer: APIServices (`apiregistration.k8s.io/v1`) and their availability.

kube-apiserver registers a *Local* APIService for every group-version it serves itself
(`v1.`, `v1.apps`, `v2.autoscaling`, ..., and one per CRD version); an add-on such as
metrics-server registers one backed by a Service (`v1beta1.metrics.k8s.io` ->
`kube-system/metrics-server`). The aggregator's available-condition controller
(staging/src/k8s.io/kube-aggregator/pkg/controllers/status) keeps each one's
`Available` condition: Local ones are always available; a Service-backed one only
while its Service exists and has a ready endpoint on the port it names.

A group-version served only through aggregation (`AGGREGATED_ONLY`) is left out of
discovery while its APIService is not Available (kubectl then says `error: Metrics
API not available`) and its requests answer 503, as upstream's proxy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.sim.apiserver.discovery import GROUP_ORDER
from app.sim.machinery.clock import rfc3339
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceRegistry

if TYPE_CHECKING:
    from app.sim.machinery.cluster import Cluster

GROUP = "apiregistration.k8s.io"
PLURAL = "apiservices"
# Group-versions the simulator serves only behind an APIService with a Service.
AGGREGATED_ONLY = frozenset({("metrics.k8s.io", "v1beta1")})
# kube-aggregator's autoregister label: `onstart` for the built-in group-versions,
# `true` for those of CRDs (removed with them).
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
LOCAL_MESSAGE = "Local APIServices are always available"
UNAVAILABLE_MESSAGE = "the server is currently unable to handle the request"
# How often (cluster seconds) every APIService is looked at, new ones included; the
# Service-backed ones are checked on every tick.
FULL_PASS_SECONDS = 10.0


def api_service_name(group: str, version: str) -> str:
    """`v1.apps`; `v1.` for the core group, as upstream names them."""
    return f"{version}.{group}"


def _available_condition(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            return condition
    return None


def is_available(cluster: Cluster, group: str, version: str) -> bool:
    """Whether the APIService of group/version exists and is Available."""
    obj = cluster.store.get(GROUP, PLURAL, None, api_service_name(group, version))
    condition = _available_condition(obj)
    return condition is not None and condition.get("status") == "True"


def check_served(cluster: Cluster, group: str, version: str) -> None:
    """Raise the aggregator's answer for a request to an aggregated group-version that
    cannot be served: 404 without an APIService, 503 while it is not Available."""
    if (group, version) not in AGGREGATED_ONLY:
        return
    obj = cluster.store.get(GROUP, PLURAL, None, api_service_name(group, version))
    if obj is None:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    condition = _available_condition(obj)
    if condition is None or condition.get("status") != "True":
        raise ApiError(503, UNAVAILABLE_MESSAGE, reason="ServiceUnavailable", details={})


def served_registry(cluster: Cluster) -> ResourceRegistry:
    """The cluster's registry without aggregated group-versions that are unavailable
    (what discovery lists)."""
    registry = cluster.registry
    hidden = [gv for gv in AGGREGATED_ONLY if not is_available(cluster, *gv)]
    if not hidden:
        return registry
    out = registry.copy()
    for group, version in hidden:
        for rt in registry.in_group_version(group, version):
            out.unregister(rt.group, rt.version, rt.plural)
    return out


def _priority(group: str) -> int:
    # Upstream's groupPriorityMinimum falls with the group's place in /apis (18000 for
    # the core group, then steps of a hundred); CRD groups get 1000.
    if group in GROUP_ORDER:
        return 18000 - 100 * GROUP_ORDER.index(group)
    return 1000


@dataclass
class Availability:
    status: str
    reason: str
    message: str


def service_availability(cluster: Cluster, spec: dict[str, Any]) -> Availability:
    """The Available condition of a Service-backed APIService (upstream's checks in
    order: Service present, Endpoints present, a ready address on the named port)."""
    ref = spec.get("service") or {}
    namespace, name = ref.get("namespace", ""), ref.get("name", "")
    where = f'service/{name} in "{namespace}"'
    service = cluster.store.get("", "services", namespace, name)
    if service is None:
        return Availability("False", "ServiceNotFound", f"{where} is not present")
    port = int(ref.get("port") or 443)
    port_name = ""
    for entry in (service.get("spec") or {}).get("ports") or []:
        if int(entry.get("port") or 0) == port:
            port_name = entry.get("name") or ""
            break
    else:
        return Availability("False", "ServicePortError", f"{where} is not listening on port {port}")
    endpoints = cluster.store.get("", "endpoints", namespace, name)
    if endpoints is None:
        return Availability("False", "EndpointsNotFound", f"cannot find endpoints for {where}")
    for subset in endpoints.get("subsets") or []:
        named = any((p.get("name") or "") == port_name for p in subset.get("ports") or [])
        if named and subset.get("addresses"):
            return Availability("True", "Passed", "all checks passed")
    return Availability(
        "False",
        "MissingEndpoints",
        f'endpoints for {where} have no addresses with port name "{port_name}"',
    )


class ApiServiceSync:
    """Registers the Local APIServices and keeps every Available condition; stepped
    by the control plane (the aggregator runs inside kube-apiserver)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._registered_for: ResourceRegistry | None = None
        self._full_pass_at: float | None = None
        self._service_backed: list[str] = []

    def tick(self) -> None:
        """Every APIService after a registry change and every `FULL_PASS_SECONDS`; in
        between only the Service-backed ones (their endpoints change any time)."""
        now = self.cluster.clock.now().timestamp()
        registry_changed = self.cluster.registry is not self._registered_for
        if registry_changed:
            self._register_local()
            self._registered_for = self.cluster.registry
        due = self._full_pass_at is None or now - self._full_pass_at >= FULL_PASS_SECONDS
        if registry_changed or due:
            self._full_pass_at = now
            self._full_pass()
            return
        for name in self._service_backed:
            obj = self.cluster.store.get(GROUP, PLURAL, None, name)
            if obj is not None and (obj.get("spec") or {}).get("service"):
                self._set_available(obj, service_availability(self.cluster, obj["spec"]))

    def _full_pass(self) -> None:
        backed = []
        for obj in self.cluster.store.list(GROUP, PLURAL)[0]:
            spec = obj.get("spec") or {}
            if spec.get("service"):
                backed.append(obj["metadata"]["name"])
                found = service_availability(self.cluster, spec)
            else:
                found = Availability("True", "Local", LOCAL_MESSAGE)
            self._set_available(obj, found)
        self._service_backed = backed

    def _set_available(self, obj: dict[str, Any], found: Availability) -> None:
        current = _available_condition(obj)
        if current is not None and (
            current.get("status"),
            current.get("reason"),
            current.get("message"),
        ) == (found.status, found.reason, found.message):
            return
        now = rfc3339(self.cluster.clock.now())
        since = now
        if current is not None and current.get("status") == found.status:
            since = current.get("lastTransitionTime", now)
        condition = {
            "type": "Available",
            "status": found.status,
            "lastTransitionTime": since,
            "reason": found.reason,
            "message": found.message,
        }
        obj.setdefault("status", {})["conditions"] = [condition]
        obj["metadata"].pop("resourceVersion", None)
        self.cluster.store.update(GROUP, PLURAL, obj)

    def _register_local(self) -> None:
        store = self.cluster.store
        builtin = {(rt.group, rt.version) for rt in self.cluster.registry if not rt.custom}
        wanted: dict[str, tuple[str, str, str]] = {}
        for rt in self.cluster.registry:
            key = (rt.group, rt.version)
            if key in AGGREGATED_ONLY:
                continue
            mode = "onstart" if key in builtin else "true"
            wanted[api_service_name(rt.group, rt.version)] = (rt.group, rt.version, mode)
        existing = {o["metadata"]["name"]: o for o in store.list(GROUP, PLURAL)[0]}
        for name, (group, version, mode) in sorted(wanted.items()):
            if name not in existing:
                store.create(GROUP, PLURAL, _local_api_service(name, group, version, mode))
        for name, obj in existing.items():
            labels = obj["metadata"].get("labels") or {}
            if labels.get(AUTOMANAGED) == "true" and name not in wanted:
                store.delete(GROUP, PLURAL, None, name)


def _local_api_service(name: str, group: str, version: str, mode: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "version": version,
        "groupPriorityMinimum": _priority(group),
        "versionPriority": 15,
    }
    if group:
        spec["group"] = group
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "APIService",
        "metadata": {"name": name, "labels": {AUTOMANAGED: mode}},
        "spec": spec,
    }

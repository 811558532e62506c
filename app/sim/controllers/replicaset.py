"""The ReplicaSet controller: keep `spec.replicas` pods matching the selector.

Pods are named `<replicaset>-<5 random characters>` (generateName), adopted when
they match the selector and have no controller, released when their labels stop
matching, and deleted in upstream's order when there are too many: unscheduled
before scheduled, Pending before Running, not-ready before ready, then the most
restarted and the newest (pkg/controller/controller_utils.go ActivePods).
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    claim,
    deleting,
    name_of,
    namespace_of,
    owner_reference,
    parse_ts,
    pod_active,
    pod_available,
    pod_condition,
    pod_from_template,
    pod_phase,
    pod_ready,
    sync_per_namespace,
    uid_of,
    write_status,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import LabelSelector, selector_from_object

COMPONENT = "replicaset-controller"
# replica_set.go burstReplicas: at most 500 creates or deletes per sync.
BURST_REPLICAS = 500

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order(pod: Obj) -> tuple:
    """Sort key: the pods to delete first come first (controller.ActivePods Less)."""
    spec = pod.get("spec") or {}
    ready_cond = pod_condition(pod, "Ready") or {}
    ready_since = parse_ts(ready_cond.get("lastTransitionTime"))
    created = parse_ts((pod.get("metadata") or {}).get("creationTimestamp"))
    restarts = sum(
        int(c.get("restartCount") or 0)
        for c in (pod.get("status") or {}).get("containerStatuses") or []
    )
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_RANK.get(pod_phase(pod), 1),
        1 if pod_ready(pod) else 0,
        # ready for less time first, then more restarts first, then newer first
        -(ready_since.timestamp() if ready_since and pod_ready(pod) else 0.0),
        -restarts,
        -(created.timestamp() if created else 0.0),
    )


def create_pod(
    ctx: ControllerContext, owner: Obj, pod: Obj, kind: str, component: str
) -> Obj | None:
    """Create one pod and record SuccessfulCreate, or FailedCreate with the API's
    refusal (quota exceeded, forbidden) as upstream's pod control does."""
    events = ctx.events.for_component(component)
    try:
        created = ctx.client.create("", "pods", pod)
    except ApiError as exc:
        events.warning(owner, "FailedCreate", f"Error creating: {exc.message}")
        return None
    events.normal(owner, "SuccessfulCreate", f"Created pod: {name_of(created)}")
    return created


def create_pods(
    ctx: ControllerContext, owner: Obj, api_version: str, kind: str, count: int, component: str
) -> list[Obj]:
    """Create up to `count` pods `<owner>-<random>` from the owner's template; stops at
    the first refusal (recorded as FailedCreate) and returns the pods created."""
    template = (owner.get("spec") or {}).get("template") or {}
    created: list[Obj] = []
    for _ in range(max(count, 0)):
        pod = pod_from_template(
            template,
            namespace_of(owner),
            owner_reference(owner, api_version, kind),
            generate_name=f"{name_of(owner)}-",
        )
        made = create_pod(ctx, owner, pod, kind, component)
        if made is None:
            break
        created.append(made)
    return created


def delete_pod(ctx: ControllerContext, owner: Obj, pod: Obj, component: str) -> None:
    events = ctx.events.for_component(component)
    try:
        ctx.client.delete(
            "", "pods", namespace_of(pod), name_of(pod), uid=pod["metadata"].get("uid")
        )
    except ApiError as exc:
        events.warning(owner, "FailedDelete", f"Error deleting: {exc.message}")
        return
    events.normal(owner, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")


class ReplicaSetController:
    name = "replicaset-controller"
    watches = frozenset({("apps", "replicasets"), ("", "pods")})
    # What this controller manages (the ReplicationManager reuses it for core/v1).
    resource = ("apps", "replicasets")
    api_version, kind, component = "apps/v1", "ReplicaSet", COMPONENT

    def reconcile(self, ctx: ControllerContext) -> None:
        sync_per_namespace(
            ctx, ctx.client.list(*self.resource), [("", "pods")], self.sync, self.kind.lower()
        )

    def selector(self, spec: Obj) -> LabelSelector:
        return selector_from_object(spec.get("selector"))

    def sync(self, ctx: ControllerContext, rs: Obj, all_pods: list[Obj]) -> None:
        spec = rs.get("spec") or {}
        try:
            selector = self.selector(spec)
        except ApiError:
            return
        pods = claim(ctx, rs, selector, all_pods, ("", "pods"), self.api_version, self.kind)
        active = [p for p in pods if pod_active(p)]
        if not deleting(rs):
            want = int(spec.get("replicas", 1) or 0)
            diff = len(active) - want
            if diff < 0:
                count = min(-diff, BURST_REPLICAS)
                active += create_pods(ctx, rs, self.api_version, self.kind, count, self.component)
            elif diff > 0:
                doomed = sorted(active, key=deletion_order)[: min(diff, BURST_REPLICAS)]
                for pod in doomed:
                    delete_pod(ctx, rs, pod, self.component)
                gone = {uid_of(p) for p in doomed}
                active = [p for p in active if uid_of(p) not in gone]
        self.update_status(ctx, rs, active, selector)

    def update_status(
        self, ctx: ControllerContext, rs: Obj, active: list[Obj], selector: LabelSelector
    ) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = ctx.now()
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all(
                    (p["metadata"].get("labels") or {}).get(k) == v
                    for k, v in template_labels.items()
                )
            ),
            "readyReplicas": sum(1 for p in active if pod_ready(p)),
            "availableReplicas": sum(1 for p in active if pod_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        # Upstream omits zero counts (omitempty) except replicas.
        for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[key]:
                del status[key]
        old = rs.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        write_status(ctx, self.resource, rs, status)


class ReplicationManager(ReplicaSetController):
    """The ReplicationController controller (pkg/controller/replication): the
    ReplicaSet controller over core/v1 ReplicationControllers, whose selector is a plain
    label map (defaulted from the template's labels)."""

    name = "replicationcontroller-controller"
    watches = frozenset({("", "replicationcontrollers"), ("", "pods")})
    resource = ("", "replicationcontrollers")
    api_version, kind, component = "v1", "ReplicationController", "replication-controller"

    def selector(self, spec: Obj) -> LabelSelector:
        labels = spec.get("selector") or (
            ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        )
        return selector_from_object({"matchLabels": labels})

"""Node lifecycle: notice silent kubelets, taint their nodes, evict their pods.

* `NodeLifecycleController` (node-controller): a node whose kubelet has not renewed
  its Lease in `kube-node-lease` (nor posted status) for the node monitor grace period
  gets its conditions set to Unknown ("Kubelet stopped posting node status."), a
  `NodeNotReady` event, its pods marked not ready, and the taints
  `node.kubernetes.io/unreachable:NoExecute` + `:NoSchedule` (Ready=False from the
  kubelet gives `not-ready` instead). Pressure conditions and `spec.unschedulable`
  become their NoSchedule taints (TaintNodesByCondition). Taints go when the kubelet
  reports Ready again.
* `TaintEvictionController` (taint-eviction-controller): pods on a node with NoExecute
  taints they do not tolerate are deleted at once; pods that tolerate them for
  `tolerationSeconds` (300 s from DefaultTolerationSeconds admission) are deleted when
  that time has passed since the taint was added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    name_of,
    namespace_of,
    parse_ts,
    plus,
)
from app.sim.controllers.timing import CLOCK_RESYNC_SECONDS
from app.sim.machinery.errors import ApiError
from app.sim.machinery.matching import tolerates

NODE_COMPONENT = "node-controller"
EVICTION_COMPONENT = "taint-eviction-controller"
# kube-controller-manager --node-monitor-grace-period: 50 s since 1.32 (was 40 s).
NODE_MONITOR_GRACE_SECONDS = 50
# --node-startup-grace-period: a node that never posted status is given 60 s.
NODE_STARTUP_GRACE_SECONDS = 60

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# TaintNodesByCondition: condition type and status -> NoSchedule taint key.
CONDITION_TAINTS = {
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
}
MANAGED_KEYS = {*CONDITION_TAINTS.values(), UNSCHEDULABLE}
# Conditions the kubelet owns and the controller flips to Unknown.
KUBELET_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")


def node_condition(node: Obj, kind: str) -> Obj | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def last_heartbeat(node: Obj, lease: Obj | None) -> datetime | None:
    """The kubelet's last sign of life: its Lease renewal or its last status post."""
    moments = []
    if lease is not None:
        moments.append(parse_ts((lease.get("spec") or {}).get("renewTime")))
    ready = node_condition(node, "Ready")
    if ready is not None:
        moments.append(parse_ts(ready.get("lastHeartbeatTime")))
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def desired_taints(node: Obj, now: str) -> list[Obj]:
    """The node's taints with the controller-managed ones recomputed; kept entries
    keep their timeAdded."""
    spec = node.get("spec") or {}
    current = list(spec.get("taints") or [])
    want: list[tuple[str, str]] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((cond.get("type"), cond.get("status")))
        if key is None:
            continue
        want.append((key, "NoSchedule"))
        if key in (NOT_READY, UNREACHABLE):
            want.append((key, "NoExecute"))
    if spec.get("unschedulable"):
        want.append((UNSCHEDULABLE, "NoSchedule"))
    kept = [
        t
        for t in current
        if t.get("key") not in MANAGED_KEYS or (t.get("key"), t.get("effect")) in want
    ]
    have = {(t.get("key"), t.get("effect")) for t in kept}
    for key, effect in want:
        if (key, effect) in have:
            continue
        taint: dict[str, Any] = {"key": key, "effect": effect}
        if effect == "NoExecute":
            taint["timeAdded"] = now
        kept.append(taint)
    return kept


class NodeLifecycleController:
    name = "node-lifecycle-controller"
    watches = frozenset({("", "nodes"), ("coordination.k8s.io", "leases"), ("", "pods")})
    resync_seconds = CLOCK_RESYNC_SECONDS  # a heartbeat that stops is noticed by time

    def __init__(self, grace_seconds: int = NODE_MONITOR_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        # Nodes this controller process has seen (each gets RegisteredNode once).
        self.registered: set[str] = set()

    def reconcile(self, ctx: ControllerContext) -> None:
        leases = {
            name_of(lease): lease
            for lease in ctx.client.list("coordination.k8s.io", "leases", "kube-node-lease")
        }
        for node in ctx.client.list("", "nodes"):
            if name_of(node) not in self.registered:
                # node_lifecycle_controller.go: recordNodeEvent(..., "RegisteredNode").
                self.registered.add(name_of(node))
                name = name_of(node)
                ctx.events.for_component("node-controller").normal(
                    node,
                    "RegisteredNode",
                    f"Node {name} event: Registered Node {name} in Controller",
                )
            try:
                self.sync(ctx, node, leases.get(name_of(node)))
            except ApiError:
                continue

    def sync(self, ctx: ControllerContext, node: Obj, lease: Obj | None) -> None:
        now = ctx.now()
        stamp = ctx.now_str()
        updated = fresh(node)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        ready = node_condition(updated, "Ready")
        heartbeat = last_heartbeat(node, lease)
        went_unknown = False
        if ready is None:
            created = parse_ts(node["metadata"].get("creationTimestamp"))
            if (
                created is not None
                and plus(created, NODE_STARTUP_GRACE_SECONDS) < now
                and heartbeat is None
            ):
                for kind in KUBELET_CONDITIONS:
                    conditions.append(
                        {
                            "type": kind,
                            "status": "Unknown",
                            "reason": "NodeStatusNeverUpdated",
                            "message": "Kubelet never posted node status.",
                            "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                            "lastTransitionTime": stamp,
                        }
                    )
        elif heartbeat is not None and plus(heartbeat, self.grace_seconds) < now:
            was_ready = ready.get("status") == "True"
            for cond in conditions:
                if cond.get("type") in KUBELET_CONDITIONS and cond.get("status") != "Unknown":
                    cond["status"] = "Unknown"
                    cond["reason"] = "NodeStatusUnknown"
                    cond["message"] = "Kubelet stopped posting node status."
                    cond["lastTransitionTime"] = stamp
                    went_unknown = went_unknown or cond.get("type") == "Ready"
            went_unknown = went_unknown and was_ready
        updated.setdefault("spec", {})
        taints = desired_taints(updated, stamp)
        if taints:
            updated["spec"]["taints"] = taints
        else:
            updated["spec"].pop("taints", None)
        if updated != node:
            ctx.client.update("", "nodes", updated)
        if went_unknown:
            events = ctx.events.for_component(NODE_COMPONENT)
            events.normal(
                updated, "NodeNotReady", f"Node {name_of(node)} status is now: NodeNotReady"
            )
            self.mark_pods_not_ready(ctx, name_of(node), stamp)

    def mark_pods_not_ready(self, ctx: ControllerContext, node_name: str, stamp: str) -> None:
        """Set the Ready condition of the node's pods to False (nodeutil.MarkPodsNotReady),
        which takes them out of Service endpoints."""
        events = ctx.events.for_component(NODE_COMPONENT)
        for pod in ctx.client.list("", "pods"):
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            updated = fresh(pod)
            changed = False
            for cond in (updated.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Ready" and cond.get("status") != "False":
                    cond["status"] = "False"
                    cond["lastTransitionTime"] = stamp
                    changed = True
            if changed:
                try:
                    ctx.client.update("", "pods", updated)
                except ApiError:
                    continue
                events.warning(updated, "NodeNotReady", "Node is not ready")


def eviction_time(pod: Obj, taints: list[Obj]) -> datetime | bool | None:
    """When the pod must go: False if never, None if now, else the moment."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    seconds: float | None = -1  # -1: tolerated forever
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return None
        for toleration in matching:
            value = toleration.get("tolerationSeconds")
            if value is None:
                continue
            value = max(float(value), 0.0)
            seconds = value if seconds == -1 else min(seconds, value)
    if seconds == -1:
        return False
    added = [parse_ts(t.get("timeAdded")) for t in taints]
    start = min((a for a in added if a is not None), default=None)
    if start is None:
        return None
    return plus(start, seconds or 0)


class TaintEvictionController:
    name = "taint-eviction-controller"
    watches = frozenset({("", "nodes"), ("", "pods")})
    resync_seconds = CLOCK_RESYNC_SECONDS  # tolerationSeconds run out with the clock

    def reconcile(self, ctx: ControllerContext) -> None:
        no_execute: dict[str, list[Obj]] = {}
        for node in ctx.client.list("", "nodes"):
            taints = [
                t
                for t in (node.get("spec") or {}).get("taints") or []
                if t.get("effect") == "NoExecute"
            ]
            if taints:
                no_execute[name_of(node)] = taints
        if not no_execute:
            return
        now = ctx.now()
        for pod in ctx.client.list("", "pods"):
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name or node_name not in no_execute or deleting(pod):
                continue
            when = eviction_time(pod, no_execute[node_name])
            if when is False or (isinstance(when, datetime) and when > now):
                continue
            self.evict(ctx, pod)

    def evict(self, ctx: ControllerContext, pod: Obj) -> None:
        events = ctx.events.for_component(EVICTION_COMPONENT)
        events.normal(
            pod,
            "TaintManagerEviction",
            f"Marking for deletion Pod {namespace_of(pod)}/{name_of(pod)}",
        )
        updated = fresh(pod)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        if not any(c.get("type") == "DisruptionTarget" for c in conditions):
            conditions.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByTaintManager",
                    "message": "Taint manager: deleting due to NoExecute taint",
                    "lastTransitionTime": ctx.now_str(),
                }
            )
            try:
                updated = ctx.client.update("", "pods", updated)
            except ApiError:
                return
        try:
            ctx.client.delete(
                "", "pods", namespace_of(pod), name_of(pod), uid=pod["metadata"].get("uid")
            )
        except ApiError:
            return

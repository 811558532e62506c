"""The pod garbage collector: pods bound to nodes that no longer exist are deleted.

After a node is deleted (`kubectl delete node`), its pods would otherwise stay
Running forever in the API. Upstream waits a 40 s quarantine (the node may be
re-registering), marks the pod Failed with a `DisruptionTarget` condition
(`DeletionByPodGC`) and deletes it; workload controllers then replace it elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from app.sim.controllers.base import (
    ControllerContext,
    deleting,
    fresh,
    name_of,
    namespace_of,
    plus,
    pod_phase,
    uid_of,
)
from app.sim.machinery.errors import ApiError

# pkg/controller/podgc/gc_controller.go quarantineTime.
QUARANTINE_SECONDS = 40


class PodGarbageCollector:
    name = "pod-garbage-collector-controller"
    watches = frozenset({("", "pods"), ("", "nodes")})

    def __init__(self) -> None:
        # pod uid -> when its node was first seen missing
        self._missing_since: dict[str, datetime] = {}

    def reconcile(self, ctx: ControllerContext) -> None:
        nodes = {name_of(n) for n in ctx.client.list("", "nodes")}
        now = ctx.now()
        seen: set[str] = set()
        for pod in ctx.client.list("", "pods"):
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name or node_name in nodes or deleting(pod):
                continue
            uid = uid_of(pod)
            seen.add(uid)
            since = self._missing_since.setdefault(uid, now)
            if plus(since, QUARANTINE_SECONDS) > now:
                continue
            try:
                self.collect(ctx, pod)
            except ApiError:
                continue
        for uid in list(self._missing_since):
            if uid not in seen:
                del self._missing_since[uid]

    def collect(self, ctx: ControllerContext, pod: dict) -> None:
        updated = fresh(pod)
        status = updated.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        if not any(c.get("type") == "DisruptionTarget" for c in conditions):
            conditions.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                    "lastTransitionTime": ctx.now_str(),
                }
            )
        if pod_phase(pod) not in ("Succeeded", "Failed"):
            status["phase"] = "Failed"
        ctx.client.update("", "pods", updated)
        ctx.client.delete("", "pods", namespace_of(pod), name_of(pod), uid=uid_of(pod))

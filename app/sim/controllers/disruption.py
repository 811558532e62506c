"""The disruption controller: the status of every PodDisruptionBudget.

For the pods the budget selects it computes `expectedPods` (the scale of their
controllers when the budget is a percentage or `maxUnavailable`, else the pods
themselves), `currentHealthy` (Ready pods), `desiredHealthy` and
`disruptionsAllowed`, plus the `DisruptionAllowed` condition (`SufficientPods` /
`InsufficientPods`), which `kubectl get pdb` shows as ALLOWED DISRUPTIONS and
`kubectl drain` runs into.
"""

from __future__ import annotations

import math
from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    controller_ref,
    deleting,
    labels_of,
    namespace_of,
    pod_ready,
    sync_per_namespace,
    uid_of,
    write_status,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object

# Controllers whose `spec.replicas` is the expected pod count (disruption.go finders),
# and the kind a ReplicaSet's own controller may be.
_SCALED = {"ReplicaSet": ("apps", "replicasets"), "StatefulSet": ("apps", "statefulsets")}


def _percent(value: Any) -> float | None:
    text = str(value)
    if text.endswith("%"):
        try:
            return int(text[:-1]) / 100
        except ValueError:
            return None
    return None


class DisruptionController:
    name = "disruption-controller"
    watches = frozenset(
        {
            ("policy", "poddisruptionbudgets"),
            ("", "pods"),
            ("apps", "replicasets"),
            ("apps", "deployments"),
            ("apps", "statefulsets"),
        }
    )

    def reconcile(self, ctx: ControllerContext) -> None:
        sync_per_namespace(
            ctx,
            ctx.client.list("policy", "poddisruptionbudgets"),
            [("", "pods")],
            self.sync,
            "poddisruptionbudget",
        )

    def expected_from_controllers(self, ctx: ControllerContext, pods: list[Obj]) -> int | None:
        """Sum of the scale of the pods' controllers (a Deployment's when it owns the
        ReplicaSet); None when a pod has no scalable controller."""
        seen: dict[str, int] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None or ref.get("kind") not in _SCALED:
                return None
            group, plural = _SCALED[ref["kind"]]
            owner = ctx.client.get(group, plural, namespace_of(pod), ref.get("name", ""))
            if owner is None or uid_of(owner) != ref.get("uid"):
                return None
            top = controller_ref(owner)
            if ref["kind"] == "ReplicaSet" and top is not None and top.get("kind") == "Deployment":
                deployment = ctx.client.get(
                    "apps", "deployments", namespace_of(pod), top.get("name", "")
                )
                if deployment is not None and uid_of(deployment) == top.get("uid"):
                    owner = deployment
            seen[uid_of(owner)] = int((owner.get("spec") or {}).get("replicas", 1) or 0)
        return sum(seen.values())

    def sync(self, ctx: ControllerContext, pdb: Obj, all_pods: list[Obj]) -> None:
        if deleting(pdb):
            return
        spec = pdb.get("spec") or {}
        try:
            selector = selector_from_object(spec.get("selector"))
        except ApiError:
            return
        pods = [p for p in all_pods if selector.matches(labels_of(p)) and not deleting(p)]
        healthy = sum(1 for p in pods if pod_ready(p))
        min_available = spec.get("minAvailable")
        max_unavailable = spec.get("maxUnavailable")
        expected = len(pods)
        if max_unavailable is not None or _percent(min_available) is not None:
            expected = self.expected_from_controllers(ctx, pods) or len(pods)
        if max_unavailable is not None:
            fraction = _percent(max_unavailable)
            allowed = (
                math.ceil(fraction * expected) if fraction is not None else int(max_unavailable)
            )
            desired = max(expected - allowed, 0)
        elif min_available is not None:
            fraction = _percent(min_available)
            desired = math.ceil(fraction * expected) if fraction is not None else int(min_available)
        else:
            desired = expected  # neither set: no voluntary disruption allowed
        allowed_now = max(healthy - desired, 0)
        old = pdb.get("status") or {}
        previous = next(
            (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {}
        )
        state = "True" if allowed_now > 0 else "False"
        stamp = (
            previous.get("lastTransitionTime") if previous.get("status") == state else ctx.now_str()
        )
        status = {
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "disruptionsAllowed": allowed_now,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": state,
                    "reason": "SufficientPods" if allowed_now > 0 else "InsufficientPods",
                    "message": "",
                    "observedGeneration": pdb["metadata"].get("generation", 1),
                    "lastTransitionTime": stamp,
                }
            ],
        }
        if old.get("disruptedPods"):
            status["disruptedPods"] = old["disruptedPods"]
        write_status(ctx, ("policy", "poddisruptionbudgets"), pdb, status)

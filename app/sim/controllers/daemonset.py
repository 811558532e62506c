"""The DaemonSet controller: one pod on every node the pod template fits.

A node is eligible when it matches the template's nodeSelector and required node
affinity and every NoSchedule/NoExecute taint is tolerated, counting the tolerations
the controller adds to daemon pods (not-ready, unreachable, the pressure conditions,
unschedulable; pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations). Pods are
not bound here: each gets a required node affinity `metadata.name In [<node>]`
(matchFields) and the scheduler binds it, as upstream since 1.12.
"""

from __future__ import annotations

import copy
from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    claim,
    deleting,
    int_or_percent,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    pod_active,
    pod_available,
    pod_from_template,
    pod_phase,
    pod_ready,
    sync_per_namespace,
    write_status,
)
from app.sim.controllers.deployment import template_hash
from app.sim.controllers.replicaset import create_pod, delete_pod
from app.sim.controllers.revisions import sync_revision
from app.sim.machinery.errors import ApiError
from app.sim.machinery.matching import requirement_matches, tolerates
from app.sim.machinery.selectors import selector_from_object

COMPONENT = "daemonset-controller"
REVISION_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"

DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def daemon_tolerations(spec: Obj) -> list[Obj]:
    """The template's tolerations plus the daemon defaults it does not already have."""
    tolerations = list(spec.get("tolerations") or [])
    extra = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        extra.append(HOST_NETWORK_TOLERATION)
    for toleration in extra:
        if not any(
            t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"]
            for t in tolerations
        ):
            tolerations.append(dict(toleration))
    return tolerations


def node_fits(spec: Obj, node: Obj) -> bool:
    """nodeSelector, required node affinity and NoSchedule/NoExecute taints."""
    labels = labels_of(node)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is not None:

        def term_ok(term: Obj) -> bool:
            expressions = term.get("matchExpressions") or []
            fields = term.get("matchFields") or []
            if not expressions and not fields:
                return False
            labels_ok = all(
                requirement_matches(e, labels.get(e.get("key", ""))) for e in expressions
            )
            return labels_ok and all(
                e.get("key") == "metadata.name" and requirement_matches(e, name_of(node))
                for e in fields
            )

        if not any(term_ok(t) for t in terms):
            return False
    tolerations = daemon_tolerations(spec)
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return False
    return True


def target_node(pod: Obj) -> str | None:
    """The node a daemon pod is for: its nodeName, or its matchFields affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if (
                field.get("key") == "metadata.name"
                and field.get("operator") == "In"
                and field.get("values")
            ):
                return str(field["values"][0])
    return None


def daemon_pod(ds: Obj, node_name: str, revision: str) -> Obj:
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[REVISION_LABEL] = revision
    labels[GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
    spec = template.setdefault("spec", {})
    spec["tolerations"] = daemon_tolerations(spec)
    affinity = spec.setdefault("affinity", {})
    # ReplaceDaemonSetPodNodeNameNodeAffinity: the required term pins the node.
    affinity.setdefault("nodeAffinity", {})["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
        ]
    }
    return pod_from_template(
        template,
        namespace_of(ds),
        owner_reference(ds, "apps/v1", "DaemonSet"),
        generate_name=f"{name_of(ds)}-",
    )


class DaemonSetController:
    name = "daemonset-controller"
    watches = frozenset(
        {("apps", "daemonsets"), ("", "pods"), ("", "nodes"), ("apps", "controllerrevisions")}
    )

    def reconcile(self, ctx: ControllerContext) -> None:
        nodes = ctx.client.list("", "nodes")
        sync_per_namespace(
            ctx,
            ctx.client.list("apps", "daemonsets"),
            [("", "pods")],
            lambda c, ds, pods: self.sync(c, ds, pods, nodes),
            "daemonset",
        )

    def sync(self, ctx: ControllerContext, ds: Obj, all_pods: list[Obj], nodes: list[Obj]) -> None:
        spec = ds.get("spec") or {}
        try:
            selector = selector_from_object(spec.get("selector"))
        except ApiError:
            return
        pods = claim(ctx, ds, selector, all_pods, ("", "pods"), "apps/v1", "DaemonSet")
        template = spec.get("template") or {}
        revision = template_hash(template)
        if not deleting(ds):
            live = {labels_of(p).get(REVISION_LABEL, "") for p in pods}
            sync_revision(ctx, ds, "DaemonSet", live)
        events = ctx.events.for_component(COMPONENT)
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            if deleting(pod):
                continue
            node_name = target_node(pod)
            if node_name:
                by_node.setdefault(node_name, []).append(pod)
        eligible = {
            name_of(n)
            for n in nodes
            if not deleting(n) and node_fits(template.get("spec") or {}, n)
        }
        node_names = {name_of(n) for n in nodes}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = ctx.now()
        if not deleting(ds):
            for node_name in sorted(eligible):
                mine = by_node.get(node_name, [])
                failed = [p for p in mine if pod_phase(p) == "Failed"]
                for pod in failed:
                    events.warning(
                        ds,
                        "FailedDaemonPod",
                        f"Found failed daemon pod {namespace_of(pod)}/{name_of(pod)} on node "
                        f"{node_name}, will try to kill it",
                    )
                    delete_pod(ctx, ds, pod, COMPONENT)
                running = sorted(
                    (p for p in mine if pod_active(p)),
                    key=lambda p: (p["metadata"].get("creationTimestamp") or "", name_of(p)),
                )
                if not running:
                    created = create_pod(
                        ctx, ds, daemon_pod(ds, node_name, revision), "DaemonSet", COMPONENT
                    )
                    if created is not None:
                        by_node[node_name] = [created]
                    continue
                for extra in running[1:]:
                    delete_pod(ctx, ds, extra, COMPONENT)
                by_node[node_name] = running[:1]
            for node_name, mine in list(by_node.items()):
                if node_name in eligible and node_name in node_names:
                    continue
                for pod in mine:
                    delete_pod(ctx, ds, pod, COMPONENT)
                by_node.pop(node_name)
            self.rolling_update(ctx, ds, by_node, eligible, revision, min_ready)
        self.update_status(ctx, ds, by_node, eligible, revision, min_ready, now)

    def rolling_update(
        self,
        ctx: ControllerContext,
        ds: Obj,
        by_node: dict[str, list[Obj]],
        eligible: set[str],
        revision: str,
        min_ready: int,
    ) -> None:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        now = ctx.now()
        max_unavailable = (
            int_or_percent(
                (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(eligible), True
            )
            or 1
        )
        unavailable = sum(
            1
            for n in eligible
            if not any(pod_available(p, min_ready, now) for p in by_node.get(n, []))
        )
        for node_name in sorted(by_node):
            if unavailable >= max_unavailable:
                break
            for pod in by_node[node_name]:
                if labels_of(pod).get(REVISION_LABEL) == revision:
                    continue
                delete_pod(ctx, ds, pod, COMPONENT)
                unavailable += 1

    def update_status(
        self,
        ctx: ControllerContext,
        ds: Obj,
        by_node: dict[str, list[Obj]],
        eligible: set[str],
        revision: str,
        min_ready: int,
        now: Any,
    ) -> None:
        scheduled = [n for n in by_node if n in eligible and by_node[n]]
        pods = [p for n in scheduled for p in by_node[n][:1]]
        available = sum(1 for p in pods if pod_available(p, min_ready, now))
        status: dict[str, Any] = {
            "currentNumberScheduled": len(scheduled),
            "desiredNumberScheduled": len(eligible),
            "numberMisscheduled": sum(1 for n in by_node if n not in eligible and by_node[n]),
            "numberReady": sum(1 for p in pods if pod_ready(p)),
            "numberAvailable": available,
            "numberUnavailable": len(eligible) - available,
            "updatedNumberScheduled": sum(
                1 for p in pods if labels_of(p).get(REVISION_LABEL) == revision
            ),
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        for key in ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"):
            if not status[key]:
                del status[key]
        write_status(ctx, ("apps", "daemonsets"), ds, status)

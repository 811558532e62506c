"""The StatefulSet controller: pods `<set>-0 .. <set>-(N-1)` with stable names and claims.

Each ordinal gets its PersistentVolumeClaims from `volumeClaimTemplates`
(`<template>-<set>-<ordinal>`, kept when the pod or the set goes under the default
Retain policy, deleted as `persistentVolumeClaimRetentionPolicy: Delete` says) and a
pod with `hostname`/`subdomain` for its stable DNS name. With `podManagementPolicy:
OrderedReady` (the default) pod N+1 is created only once pod N is Running and Ready,
scale-down removes the highest ordinal first, one at a time; `Parallel` creates and
deletes all at once. A rolling update replaces pods from the highest ordinal down to
`partition`, one at a time, each once the others are ready.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    claim,
    deleting,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    pod_available,
    pod_from_template,
    pod_phase,
    pod_ready,
    sync_per_namespace,
    uid_of,
    without_owner,
    write_status,
)
from app.sim.controllers.deployment import template_hash
from app.sim.controllers.revisions import sync_revision
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object

COMPONENT = "statefulset-controller"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    match = re.fullmatch(re.escape(name_of(sts)) + r"-(\d+)", name_of(pod))
    return int(match.group(1)) if match else None


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{name_of(template)}-{name_of(sts)}-{ordinal}"


def running_and_ready(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and pod_ready(pod) and not deleting(pod)


class StatefulSetController:
    name = "statefulset-controller"
    watches = frozenset(
        {
            ("apps", "statefulsets"),
            ("", "pods"),
            ("", "persistentvolumeclaims"),
            ("apps", "controllerrevisions"),
        }
    )

    def reconcile(self, ctx: ControllerContext) -> None:
        statefulsets = ctx.client.list("apps", "statefulsets")
        sync_per_namespace(ctx, statefulsets, [("", "pods")], self.sync, "statefulset")

    def sync(self, ctx: ControllerContext, sts: Obj, all_pods: list[Obj]) -> None:
        spec = sts.get("spec") or {}
        try:
            selector = selector_from_object(spec.get("selector"))
        except ApiError:
            return
        pods = claim(ctx, sts, selector, all_pods, ("", "pods"), "apps/v1", "StatefulSet")
        revision = f"{name_of(sts)}-{template_hash(spec.get('template') or {})}"
        if not deleting(sts):
            prefix = f"{name_of(sts)}-"
            live = {labels_of(p).get(REVISION_LABEL, "").removeprefix(prefix) for p in pods}
            sync_revision(ctx, sts, "StatefulSet", live)
        by_ordinal: dict[int, Obj] = {}
        for pod in pods:
            ordinal = ordinal_of(sts, pod)
            if ordinal is not None:
                by_ordinal[ordinal] = pod
        if not deleting(sts):
            self.scale(ctx, sts, by_ordinal, revision)
            self.retain_claims(ctx, sts, set(by_ordinal))
        self.update_status(ctx, sts, by_ordinal, revision)

    def retain_claims(self, ctx: ControllerContext, sts: Obj, ordinals: set[int]) -> None:
        """persistentVolumeClaimRetentionPolicy: with `whenDeleted: Delete` the claims
        are owned by the StatefulSet (the garbage collector removes them with it); with
        `whenScaled: Delete` the claims of ordinals above `replicas` go once their pod
        is gone."""
        spec = sts.get("spec") or {}
        templates = spec.get("volumeClaimTemplates") or []
        if not templates:
            return
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        names = {name_of(t) for t in templates}
        pattern = re.compile(r"(?P<claim>.+)-" + re.escape(name_of(sts)) + r"-(?P<ordinal>\d+)")
        for pvc in ctx.client.list("", "persistentvolumeclaims", namespace_of(sts)):
            match = pattern.fullmatch(name_of(pvc))
            if match is None or match.group("claim") not in names or deleting(pvc):
                continue
            ordinal = int(match.group("ordinal"))
            if (
                policy.get("whenScaled") == "Delete"
                and ordinal >= replicas
                and ordinal not in ordinals
            ):
                ctx.client.delete("", "persistentvolumeclaims", namespace_of(pvc), name_of(pvc))
                continue
            refs = pvc["metadata"].get("ownerReferences") or []
            owned = any(r.get("uid") == uid_of(sts) for r in refs)
            if policy.get("whenDeleted") == "Delete" and not owned:
                ref = owner_reference(sts, "apps/v1", "StatefulSet")
                ref["controller"] = False
                pvc["metadata"]["ownerReferences"] = [*refs, ref]
                ctx.client.update("", "persistentvolumeclaims", pvc)
            elif policy.get("whenDeleted") != "Delete" and owned:
                ctx.client.update("", "persistentvolumeclaims", without_owner(pvc, uid_of(sts)))

    def scale(
        self, ctx: ControllerContext, sts: Obj, by_ordinal: dict[int, Obj], revision: str
    ) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
        for ordinal in range(replicas):
            pod = by_ordinal.get(ordinal)
            if pod is not None and pod_phase(pod) in ("Failed", "Succeeded") and not deleting(pod):
                # A finished pod is replaced under the same name.
                self.delete(ctx, sts, pod)
                by_ordinal.pop(ordinal)
                if ordered:
                    return
                continue
            if pod is None:
                self.ensure_claims(ctx, sts, ordinal)
                created = self.create(ctx, sts, ordinal, revision)
                if created is not None:
                    by_ordinal[ordinal] = created
                if ordered:
                    return
                continue
            if ordered and not running_and_ready(pod):
                return
        condemned = sorted((o for o in by_ordinal if o >= replicas), reverse=True)
        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if deleting(pod):
                if ordered:
                    return
                continue
            if ordered and any(
                not running_and_ready(p) for o, p in by_ordinal.items() if o != ordinal
            ):
                return
            self.delete(ctx, sts, pod)
            by_ordinal.pop(ordinal)
            if ordered:
                return
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if not all(running_and_ready(p) for p in by_ordinal.values()):
            return
        for ordinal in sorted(by_ordinal, reverse=True):
            if ordinal < partition:
                break
            pod = by_ordinal[ordinal]
            if labels_of(pod).get(REVISION_LABEL) != revision:
                self.delete(ctx, sts, pod)
                return

    def ensure_claims(self, ctx: ControllerContext, sts: Obj, ordinal: int) -> None:
        events = ctx.events.for_component(COMPONENT)
        spec = sts.get("spec") or {}
        match_labels = (spec.get("selector") or {}).get("matchLabels") or {}
        pod_name = f"{name_of(sts)}-{ordinal}"
        for template in spec.get("volumeClaimTemplates") or []:
            name = claim_name(template, sts, ordinal)
            if ctx.client.get("", "persistentvolumeclaims", namespace_of(sts), name) is not None:
                continue
            tmeta = template.get("metadata") or {}
            labels = {**(tmeta.get("labels") or {}), **match_labels}
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": namespace_of(sts)},
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
            if labels:
                body["metadata"]["labels"] = labels
            if tmeta.get("annotations"):
                body["metadata"]["annotations"] = dict(tmeta["annotations"])
            try:
                ctx.client.create("", "persistentvolumeclaims", body)
            except ApiError as exc:
                events.warning(
                    sts,
                    "FailedCreate",
                    f"create Claim {name} for Pod {pod_name} in StatefulSet {name_of(sts)} "
                    f"failed error: {exc.message}",
                )
                continue
            events.normal(
                sts,
                "SuccessfulCreate",
                f"create Claim {name} Pod {pod_name} in StatefulSet {name_of(sts)} success",
            )

    def create(self, ctx: ControllerContext, sts: Obj, ordinal: int, revision: str) -> Obj | None:
        events = ctx.events.for_component(COMPONENT)
        spec = sts.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        pod_name = f"{name_of(sts)}-{ordinal}"
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels[POD_NAME_LABEL] = pod_name
        labels[POD_INDEX_LABEL] = str(ordinal)
        labels[REVISION_LABEL] = revision
        pod_spec = template.setdefault("spec", {})
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        claims = spec.get("volumeClaimTemplates") or []
        if claims:
            names = {name_of(c) for c in claims}
            volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in names]
            for claim_template in claims:
                volumes.append(
                    {
                        "name": name_of(claim_template),
                        "persistentVolumeClaim": {
                            "claimName": claim_name(claim_template, sts, ordinal)
                        },
                    }
                )
            pod_spec["volumes"] = volumes
        pod = pod_from_template(
            template,
            namespace_of(sts),
            owner_reference(sts, "apps/v1", "StatefulSet"),
            name=pod_name,
        )
        try:
            created = ctx.client.create("", "pods", pod)
        except ApiError as exc:
            events.warning(
                sts,
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {name_of(sts)} failed error: {exc.message}",
            )
            return None
        events.normal(
            sts,
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {name_of(sts)} successful",
        )
        return created

    def delete(self, ctx: ControllerContext, sts: Obj, pod: Obj) -> None:
        events = ctx.events.for_component(COMPONENT)
        try:
            ctx.client.delete("", "pods", namespace_of(pod), name_of(pod), uid=uid_of(pod))
        except ApiError as exc:
            events.warning(
                sts,
                "FailedDelete",
                f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: "
                f"{exc.message}",
            )
            return
        events.normal(
            sts,
            "SuccessfulDelete",
            f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
        )

    def update_status(
        self, ctx: ControllerContext, sts: Obj, by_ordinal: dict[int, Obj], revision: str
    ) -> None:
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = ctx.now()
        live = [p for p in by_ordinal.values() if not deleting(p)]
        old_status = sts.get("status") or {}
        current_revision = old_status.get("currentRevision") or revision
        updated = sum(1 for p in live if labels_of(p).get(REVISION_LABEL) == revision)
        replicas = int(spec.get("replicas", 1) or 0)
        if updated == len(live) == replicas:
            # Every pod runs the update revision: it becomes the current one.
            current_revision = revision
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if pod_ready(p)),
            "currentReplicas": sum(
                1 for p in live if labels_of(p).get(REVISION_LABEL) == current_revision
            ),
            "updatedReplicas": updated,
            "availableReplicas": sum(1 for p in live if pod_available(p, min_ready, now)),
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": int(old_status.get("collisionCount") or 0),
        }
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[key]:
                del status[key]
        write_status(ctx, ("apps", "statefulsets"), sts, status)

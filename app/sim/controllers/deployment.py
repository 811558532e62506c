"""The Deployment controller: ReplicaSets per pod template, rolling and Recreate updates.

Each distinct pod template gets a ReplicaSet named `<deployment>-<pod-template-hash>`;
the one whose template equals the Deployment's (ignoring the hash label) is the new
one, the rest are old. A rolling update scales the new ReplicaSet up while the total
stays within `replicas + maxSurge`, and old ones down while at least
`replicas - maxUnavailable` pods stay available (pkg/controller/deployment/rolling.go).
Revisions live in `deployment.kubernetes.io/revision` annotations, so `kubectl rollout
history` and `rollout undo` work: undo patches the template back, the matching old
ReplicaSet becomes the new one again and gets the next revision number.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from app.sim.apiserver import defaults
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    canonical,
    claim,
    deleting,
    fresh,
    int_or_percent,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    parse_ts,
    plus,
    pod_phase,
    set_condition,
    sync_per_namespace,
    uid_of,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object

COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Annotations a Deployment does not copy onto its ReplicaSets (deployment/util).
_NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
}

# Condition reasons and messages of pkg/controller/deployment/util/deployment_util.go.
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

# apimachinery util/rand SafeEncodeString alphabet (no vowels, no confusable digits).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The `pod-template-hash` of a template: FNV-32a of its content (plus the
    collision count when there is one), safe-encoded as upstream's ComputeHash."""
    data = canonical(template).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def normalized_template(template: Obj) -> str:
    """A template for comparison: without the hash label and with API defaults, so a
    template stored through the API and one written directly compare equal."""
    copied = copy.deepcopy(template or {})
    labels = (copied.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            copied["metadata"].pop("labels")
    if copied.get("metadata") == {}:
        copied.pop("metadata")
    defaults.pod_spec(copied.get("spec"))
    return canonical(copied)


def revision_of(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def replicas_of(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1) or 0)


def status_count(obj: Obj, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0)


def created_key(obj: Obj) -> tuple:
    return ((obj.get("metadata") or {}).get("creationTimestamp") or "", name_of(obj))


def rolling_params(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; both zero becomes maxUnavailable 1
    (deployment_util ResolveFenceposts). Recreate has neither."""
    spec = d.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = replicas_of(d)
    surge = int_or_percent(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Obj) -> int:
    if replicas_of(d) == 0:
        return 0
    _, unavailable = rolling_params(d)
    return min(unavailable, replicas_of(d))


class DeploymentController:
    name = "deployment-controller"
    watches = frozenset({("apps", "deployments"), ("apps", "replicasets"), ("", "pods")})

    def reconcile(self, ctx: ControllerContext) -> None:
        sync_per_namespace(
            ctx,
            ctx.client.list("apps", "deployments"),
            [("apps", "replicasets"), ("", "pods")],
            lambda c, d, rss, pods: _Sync(c, d, rss, pods).run(),
            "deployment",
        )


class _Sync:
    """One sync of one Deployment (pkg/controller/deployment syncDeployment)."""

    def __init__(self, ctx: ControllerContext, d: Obj, all_rs: list[Obj], pods: list[Obj]):
        self.ctx = ctx
        self.d = d
        self.all_rs = all_rs
        self.pods = pods
        self.events = ctx.events.for_component(COMPONENT)
        self.conditions: list[Obj] = list((d.get("status") or {}).get("conditions") or [])
        self.collision_count = int((d.get("status") or {}).get("collisionCount") or 0)

    # ---- entry ----------------------------------------------------------------------

    def run(self) -> None:
        d = self.d
        if deleting(d):
            return
        try:
            selector = selector_from_object((d.get("spec") or {}).get("selector"))
        except ApiError:
            return
        rss = claim(
            self.ctx, d, selector, self.all_rs, ("apps", "replicasets"), "apps/v1", "Deployment"
        )
        new, olds = self.split(rss)
        spec = d.get("spec") or {}
        if spec.get("paused"):
            # A paused Deployment still scales (kubectl scale works), it does not roll.
            self.set_progressing("Unknown", PAUSED, "Deployment is paused")
            self.sync_scale(new, olds)
            return
        if self.is_scaling_event(rss):
            self.sync_scale(new, olds)
            return
        if any(
            c.get("reason") == PAUSED for c in self.conditions if c.get("type") == "Progressing"
        ):
            self.set_progressing("Unknown", RESUMED, "Deployment is resumed")
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            self.rollout_recreate(new, olds)
        else:
            self.rollout_rolling(new, olds)

    def split(self, rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        want = normalized_template((self.d.get("spec") or {}).get("template") or {})
        new = None
        for rs in sorted(rss, key=created_key):
            if (
                new is None
                and normalized_template((rs.get("spec") or {}).get("template") or {}) == want
            ):
                new = rs
        return new, [rs for rs in rss if rs is not new]

    # ---- scaling (sync.go scale) ----------------------------------------------------

    def is_scaling_event(self, rss: list[Obj]) -> bool:
        """An active ReplicaSet was sized for another `replicas` (its desired-replicas
        annotation differs): the user scaled, this is not a template change."""
        want = str(replicas_of(self.d))
        for rs in rss:
            desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS)
            if replicas_of(rs) > 0 and desired is not None and desired != want:
                return True
        return False

    def sync_scale(self, new: Obj | None, olds: list[Obj]) -> None:
        new = self.ensure_new(new, olds, create=False)
        olds = self.scale_proportionally(new, olds)
        if new is not None and self.complete(new, olds) and not self.d["spec"].get("paused"):
            self.cleanup(olds)
        self.sync_status(new, olds, rollout=False)

    def scale_proportionally(self, new: Obj | None, olds: list[Obj]) -> list[Obj]:
        """Resize ReplicaSets after `replicas` changed: the only active one takes the
        new size; during a rolling update every active one grows or shrinks in
        proportion to its share, leftovers to the largest (deployment sync.go scale)."""
        want = replicas_of(self.d)
        everything = [*olds, new] if new is not None else list(olds)
        active = [rs for rs in everything if replicas_of(rs) > 0]
        updated: dict[str, Obj] = {}
        if len(active) <= 1:
            if active:
                target = active[0]
            elif new is not None:
                target = new
            else:
                target = max(olds, key=created_key) if olds else None
            if target is not None and replicas_of(target) != want:
                updated[uid_of(target)] = self.scale(target, want)
        elif new is not None and self.saturated(new):
            for rs in active:
                if rs is not new:
                    updated[uid_of(rs)] = self.scale(rs, 0)
        elif (self.d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            surge, _ = rolling_params(self.d)
            allowed = want + surge if want > 0 else 0
            to_add = allowed - sum(replicas_of(rs) for rs in active)
            if to_add > 0:
                order = sorted(active, key=lambda rs: (-replicas_of(rs), _negated(created_key(rs))))
            else:
                order = sorted(active, key=lambda rs: (-replicas_of(rs), created_key(rs)))
            sizes: dict[str, int] = {}
            added = 0
            for rs in order:
                proportion = self.proportion(rs, to_add, added) if to_add else 0
                sizes[uid_of(rs)] = replicas_of(rs) + proportion
                added += proportion
            if order and to_add:
                first = uid_of(order[0])
                sizes[first] = max(sizes[first] + to_add - added, 0)
            for rs in order:
                updated[uid_of(rs)] = self.scale(rs, sizes[uid_of(rs)])
        olds = [updated.get(uid_of(rs), rs) for rs in olds]
        return olds

    def saturated(self, new: Obj) -> bool:
        want = replicas_of(self.d)
        desired = ((new.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS)
        return (
            desired == str(want)
            and replicas_of(new) == want
            and status_count(new, "availableReplicas") == want
        )

    def proportion(self, rs: Obj, to_add: int, added: int) -> int:
        """GetProportion: this ReplicaSet's share of `to_add`, bounded by what is left."""
        if replicas_of(rs) == 0 or to_add == added:
            return 0
        want = replicas_of(self.d)
        if want == 0:
            fraction = -replicas_of(rs)
        else:
            surge, _ = rolling_params(self.d)
            annotations = (rs.get("metadata") or {}).get("annotations") or {}
            try:
                before = int(annotations.get(MAX_REPLICAS, "0"))
            except ValueError:
                before = 0
            if before == 0:
                before = int((self.d.get("status") or {}).get("replicas") or 0)
            if before == 0:
                return 0
            size = replicas_of(rs) / before * (want + surge)
            fraction = math.floor(size + 0.5) - replicas_of(rs)
        left = to_add - added
        return min(fraction, left) if to_add > 0 else max(fraction, left)

    # ---- new ReplicaSet -------------------------------------------------------------

    def new_replicas(self, new: Obj | None, all_rs: list[Obj]) -> int:
        """How many replicas the new ReplicaSet may have now (NewRSNewReplicas)."""
        d = self.d
        want = replicas_of(d)
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return want
        surge, _ = rolling_params(d)
        current = sum(replicas_of(rs) for rs in all_rs)
        have = replicas_of(new) if new is not None else 0
        max_total = want + surge
        if current >= max_total:
            return have
        return have + min(max_total - current, want - have)

    def ensure_new(self, new: Obj | None, olds: list[Obj], create: bool) -> Obj | None:
        """Sync the new ReplicaSet's revision annotations, or create it."""
        d = self.d
        max_old = max((revision_of(rs) for rs in olds), default=0)
        revision = max_old + 1
        if new is not None:
            updated = fresh(new)
            annotations = updated["metadata"].setdefault("annotations", {})
            changed = False
            old_revision = revision_of(new)
            if old_revision < revision:
                annotations[REVISION] = str(revision)
                if old_revision:
                    history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
                    annotations[REVISION_HISTORY] = ",".join([*history, str(old_revision)])
                changed = True
            min_ready = d["spec"].get("minReadySeconds", 0)
            if updated["spec"].get("minReadySeconds", 0) != min_ready:
                updated["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:
                new = self.ctx.client.update("apps", "replicasets", updated)
            if not any(c.get("type") == "Progressing" for c in self.conditions):
                self.set_progressing(
                    "True", FOUND_NEW_RS, f'Found new replica set "{name_of(new)}"'
                )
            self.sync_revision(new)
            return new
        if not create:
            return None
        template = copy.deepcopy(d["spec"].get("template") or {})
        pod_hash = template_hash(template, self.collision_count)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        surge, _ = rolling_params(d)
        replicas = self.new_replicas(None, olds)
        annotations = {
            k: v
            for k, v in ((d.get("metadata") or {}).get("annotations") or {}).items()
            if k not in _NOT_COPIED
        }
        annotations[DESIRED_REPLICAS] = str(replicas_of(d))
        annotations[MAX_REPLICAS] = str(replicas_of(d) + surge)
        annotations[REVISION] = str(revision)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name_of(d)}-{pod_hash}",
                "namespace": namespace_of(d),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [owner_reference(d, "apps/v1", "Deployment")],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            created = self.ctx.client.create("apps", "replicasets", rs)
        except ApiError as exc:
            if exc.code == 409:
                # A ReplicaSet of that name with another template: count the collision
                # so the next hash differs (deployment controller collisionCount).
                self.collision_count += 1
                self.write_status(
                    {**(self.d.get("status") or {}), "collisionCount": self.collision_count}
                )
            raise
        if replicas > 0:
            self.events.normal(
                d, "ScalingReplicaSet", f"Scaled up replica set {name_of(created)} to {replicas}"
            )
        self.set_progressing(
            "True", NEW_RS_CREATED, f'Created new replica set "{name_of(created)}"'
        )
        self.sync_revision(created)
        return created

    def sync_revision(self, new: Obj) -> None:
        revision = str(revision_of(new))
        current = self.ctx.client.get("apps", "deployments", namespace_of(self.d), name_of(self.d))
        if current is None or uid_of(current) != uid_of(self.d):
            return
        annotations = current["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != revision:
            annotations[REVISION] = revision
            self.d = self.ctx.client.update("apps", "deployments", current)

    def scale(self, rs: Obj, replicas: int) -> Obj:
        old = replicas_of(rs)
        surge, _ = rolling_params(self.d)
        annotations = (rs.get("metadata") or {}).get("annotations") or {}
        desired = str(replicas_of(self.d))
        maximum = str(replicas_of(self.d) + surge)
        if (
            old == replicas
            and annotations.get(DESIRED_REPLICAS) == desired
            and annotations.get(MAX_REPLICAS) == maximum
        ):
            return rs
        updated = fresh(rs)
        updated["spec"]["replicas"] = replicas
        notes = updated["metadata"].setdefault("annotations", {})
        notes[DESIRED_REPLICAS] = desired
        notes[MAX_REPLICAS] = maximum
        result = self.ctx.client.update("apps", "replicasets", updated)
        if old != replicas:
            direction = "up" if replicas > old else "down"
            self.events.normal(
                self.d,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {name_of(rs)} to {replicas} from {old}",
            )
        return result

    # ---- strategies -----------------------------------------------------------------

    def rollout_rolling(self, new: Obj | None, olds: list[Obj]) -> None:
        new = self.ensure_new(new, olds, create=True)
        if new is None:
            return
        # Scale up the new ReplicaSet within maxSurge.
        want = replicas_of(self.d)
        if replicas_of(new) > want:
            new = self.scale(new, want)
        elif replicas_of(new) < want:
            target = self.new_replicas(new, [*olds, new])
            if target != replicas_of(new):
                new = self.scale(new, target)
        # Scale old ReplicaSets down while availability allows.
        olds = self.reconcile_olds(new, olds)
        if self.complete(new, olds):
            self.cleanup(olds)
        self.sync_status(new, olds, rollout=True)

    def reconcile_olds(self, new: Obj, olds: list[Obj]) -> list[Obj]:
        if sum(replicas_of(rs) for rs in olds) == 0:
            return olds
        want = replicas_of(self.d)
        all_pods = sum(replicas_of(rs) for rs in [*olds, new])
        min_available = want - max_unavailable(self.d)
        new_unavailable = replicas_of(new) - status_count(new, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return olds
        olds = sorted(olds, key=created_key)
        # First the unhealthy replicas of old ReplicaSets (cleanupUnhealthyReplicas).
        cleaned = 0
        for index, rs in enumerate(olds):
            if cleaned >= max_scaled_down:
                break
            unhealthy = replicas_of(rs) - status_count(rs, "availableReplicas")
            if replicas_of(rs) == 0 or unhealthy <= 0:
                continue
            down = min(max_scaled_down - cleaned, unhealthy)
            olds[index] = self.scale(rs, replicas_of(rs) - down)
            cleaned += down
        # Then healthy ones while available pods exceed the minimum.
        available = sum(status_count(rs, "availableReplicas") for rs in [*olds, new])
        if available <= min_available:
            return olds
        total_down = available - min_available
        scaled = 0
        for index, rs in enumerate(olds):
            if scaled >= total_down:
                break
            if replicas_of(rs) == 0:
                continue
            down = min(replicas_of(rs), total_down - scaled)
            olds[index] = self.scale(rs, replicas_of(rs) - down)
            scaled += down
        return olds

    def rollout_recreate(self, new: Obj | None, olds: list[Obj]) -> None:
        new = self.ensure_new(new, olds, create=False)
        scaled = False
        for index, rs in enumerate(olds):
            if replicas_of(rs) != 0:
                olds[index] = self.scale(rs, 0)
                scaled = True
        if scaled:
            self.sync_status(new, olds, rollout=True)
            return
        old_uids = {uid_of(rs) for rs in olds}
        running = [
            p
            for p in self.pods
            if any(r.get("uid") in old_uids for r in p["metadata"].get("ownerReferences") or [])
            and pod_phase(p) not in ("Succeeded", "Failed")
        ]
        if running:
            # Recreate waits until every old pod is gone before creating new ones.
            self.sync_status(new, olds, rollout=True)
            return
        if new is None:
            new = self.ensure_new(None, olds, create=True)
            if new is None:
                return
        if replicas_of(new) != replicas_of(self.d):
            new = self.scale(new, replicas_of(self.d))
        if self.complete(new, olds):
            self.cleanup(olds)
        self.sync_status(new, olds, rollout=True)

    def complete(self, new: Obj, olds: list[Obj]) -> bool:
        want = replicas_of(self.d)
        total = sum(status_count(rs, "replicas") for rs in [*olds, new])
        return (
            status_count(new, "replicas") == want
            and total == want
            and status_count(new, "availableReplicas") == want
            and replicas_of(new) == want
        )

    def cleanup(self, olds: list[Obj]) -> None:
        limit = (self.d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in olds if not deleting(rs)]
        excess = len(alive) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(alive, key=revision_of)[:excess]:
            if replicas_of(rs) != 0 or status_count(rs, "replicas") != 0:
                continue
            if (rs["metadata"].get("generation") or 0) > status_count(rs, "observedGeneration"):
                continue
            self.ctx.client.delete(
                "apps", "replicasets", namespace_of(rs), name_of(rs), uid=uid_of(rs)
            )

    # ---- status ---------------------------------------------------------------------

    def set_progressing(self, status: str, reason: str, message: str) -> None:
        self.conditions = set_condition(
            self.conditions, self.condition("Progressing", status, reason, message)
        )

    def condition(self, kind: str, status: str, reason: str, message: str) -> Obj:
        now = self.ctx.now_str()
        return {
            "type": kind,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    def sync_status(self, new: Obj | None, olds: list[Obj], rollout: bool) -> None:
        d = self.d
        all_rs = [*olds, new] if new is not None else list(olds)
        want = replicas_of(d)
        old_status = d.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(status_count(rs, "replicas") for rs in all_rs),
            "updatedReplicas": status_count(new, "replicas") if new is not None else 0,
            "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": sum(status_count(rs, "availableReplicas") for rs in all_rs),
        }
        status["unavailableReplicas"] = max(
            sum(replicas_of(rs) for rs in all_rs) - status["availableReplicas"], 0
        )
        if status["availableReplicas"] >= want - max_unavailable(d):
            available = self.condition(
                "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability."
            )
        else:
            available = self.condition(
                "Available",
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
            )
        self.conditions = set_condition(self.conditions, available)
        if (
            rollout
            and new is not None
            and (d.get("spec") or {}).get("progressDeadlineSeconds") is not None
        ):
            self.rollout_condition(new, olds, status, old_status)
        for key in (
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ):
            if not status[key]:
                del status[key]
        if self.collision_count:
            status["collisionCount"] = self.collision_count
        status["conditions"] = self.conditions
        self.write_status(status)

    def rollout_condition(self, new: Obj, olds: list[Obj], status: Obj, old_status: Obj) -> None:
        current = next((c for c in self.conditions if c.get("type") == "Progressing"), None)
        name = name_of(new)
        old_replicas = sum(status_count(rs, "replicas") for rs in olds)
        was_old = int(old_status.get("replicas") or 0) - int(old_status.get("updatedReplicas") or 0)
        if self.complete(new, olds) and status["observedGeneration"] >= self.d["metadata"].get(
            "generation", 1
        ):
            self.set_progressing(
                "True", NEW_RS_AVAILABLE, f'ReplicaSet "{name}" has successfully progressed.'
            )
        elif (
            status["updatedReplicas"] > int(old_status.get("updatedReplicas") or 0)
            or status["readyReplicas"] > int(old_status.get("readyReplicas") or 0)
            or status["availableReplicas"] > int(old_status.get("availableReplicas") or 0)
            or old_replicas < was_old
        ):
            # Progress refreshes lastUpdateTime (the deadline restarts) but keeps the
            # transition time of a condition that was already True.
            condition = self.condition(
                "Progressing", "True", RS_UPDATED, f'ReplicaSet "{name}" is progressing.'
            )
            if current is not None and current.get("status") == "True":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            self.conditions = [c for c in self.conditions if c.get("type") != "Progressing"] + [
                condition
            ]
        elif current is not None and self.timed_out(current):
            self.set_progressing(
                "False", TIMED_OUT, f'ReplicaSet "{name}" has timed out progressing.'
            )
            if current.get("reason") != TIMED_OUT:
                self.events.warning(
                    self.d, TIMED_OUT, f'ReplicaSet "{name}" has timed out progressing.'
                )

    def timed_out(self, current: Obj) -> bool:
        if current.get("reason") == NEW_RS_AVAILABLE:
            return False
        if current.get("reason") == TIMED_OUT:
            return True
        since = parse_ts(current.get("lastUpdateTime"))
        deadline = (self.d.get("spec") or {}).get("progressDeadlineSeconds")
        if since is None or deadline is None:
            return False
        return plus(since, int(deadline)) < self.ctx.now()

    def write_status(self, status: Obj) -> None:
        current = self.ctx.client.get("apps", "deployments", namespace_of(self.d), name_of(self.d))
        if current is None or uid_of(current) != uid_of(self.d):
            return
        if _without_times(current.get("status") or {}) == _without_times(status):
            return
        current["status"] = status
        self.d = self.ctx.client.update("apps", "deployments", current)


def _negated(key: tuple) -> tuple:
    """Sort key that puts newer creation timestamps first (ReplicaSetsBySizeNewer)."""
    stamp, name = key
    return (tuple(-ord(c) for c in stamp), tuple(-ord(c) for c in name))


def _without_times(status: Obj) -> str:
    """Status for change detection: a condition whose only change is its timestamps
    is not a change (upstream compares before stamping times)."""
    copied = copy.deepcopy(status)
    for cond in copied.get("conditions") or []:
        cond.pop("lastUpdateTime", None)
        cond.pop("lastTransitionTime", None)
    return canonical(copied)


__all__ = ["DeploymentController", "labels_of", "template_hash"]

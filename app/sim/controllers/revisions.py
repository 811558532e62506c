"""ControllerRevisions: the rollout history of DaemonSets and StatefulSets.

Each distinct pod template of a DaemonSet or StatefulSet is kept as a
`apps/v1 ControllerRevision` named `<owner>-<hash>` whose `data` is the patch that
restores it (`{"spec": {"template": {..., "$patch": "replace"}}}`) and whose
`revision` number grows with each change. `kubectl rollout history ds/x` lists them
and `kubectl rollout undo ds/x` applies one's `data`; the controller then finds the
revision whose template matches and gives it the next number, as upstream's
history package does.
"""

from __future__ import annotations

import copy
from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    labels_of,
    name_of,
    namespace_of,
    owned_by,
    owner_reference,
)
from app.sim.controllers.deployment import normalized_template, template_hash

HASH_LABEL = "controller-revision-hash"


def revision_template(revision: Obj) -> Obj:
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def sync_revision(
    ctx: ControllerContext, owner: Obj, kind: str, live_hashes: set[str] | None = None
) -> Obj | None:
    """Make sure the owner's current template has a ControllerRevision with the highest
    revision number; prune old ones beyond `revisionHistoryLimit` (10) that no pod
    uses. Returns the current revision (None when it could not be written)."""
    spec = owner.get("spec") or {}
    template = spec.get("template") or {}
    namespace = namespace_of(owner)
    mine = [
        r
        for r in ctx.client.list("apps", "controllerrevisions", namespace)
        if owned_by(r, owner) and not deleting(r)
    ]
    highest = max((int(r.get("revision") or 0) for r in mine), default=0)
    want = normalized_template(template)
    current = next((r for r in mine if normalized_template(revision_template(r)) == want), None)
    if current is not None:
        if int(current.get("revision") or 0) < highest:
            current["revision"] = highest + 1
            current = ctx.client.update("apps", "controllerrevisions", current)
    else:
        pod_hash = template_hash(template)
        labels: dict[str, Any] = dict(((template.get("metadata") or {}).get("labels")) or {})
        labels[HASH_LABEL] = pod_hash
        body: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": f"{name_of(owner)}-{pod_hash}",
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [owner_reference(owner, "apps/v1", kind)],
            },
            "data": {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}},
            "revision": highest + 1,
        }
        annotations = (owner.get("metadata") or {}).get("annotations") or {}
        cause = annotations.get("kubernetes.io/change-cause")
        if cause:
            body["metadata"]["annotations"] = {"kubernetes.io/change-cause": cause}
        current = ctx.client.store.create("apps", "controllerrevisions", body)
        mine.append(current)
    limit = int(spec.get("revisionHistoryLimit", 10))
    old = sorted(
        (r for r in mine if name_of(r) != name_of(current)),
        key=lambda r: int(r.get("revision") or 0),
    )
    used = live_hashes or set()
    prunable = [r for r in old if labels_of(r).get(HASH_LABEL) not in used]
    for revision in prunable[: max(len(old) - limit, 0)]:
        ctx.client.delete("apps", "controllerrevisions", namespace, name_of(revision))
    return current

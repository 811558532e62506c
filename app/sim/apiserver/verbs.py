"""The write verbs: create, update, patch, server-side apply, delete and
deletecollection (with graceful deletion and propagation policies).
"""

from __future__ import annotations

import json
from typing import Any

from app.sim.apiserver import patch as patch_mod
from app.sim.apiserver import (
    ssa,
)
from app.sim.apiserver.reads import _list_body
from app.sim.apiserver.request import (
    APPLY_PATCH,
    PATCH_TYPES,
    REVIEW_PLURALS,
    ApiResponse,
    RequestContext,
    _int_param,
    _truthy,
    media_type,
    status_success,
)
from app.sim.apiserver.stages import (
    _write,
    check_identity,
    check_types,
    decode_body,
    decode_yaml,
    record_managed_fields,
    validate_admission,
)
from app.sim.apiserver.subresources import review
from app.sim.machinery.errors import ApiError, not_found
from app.sim.machinery.resources import ResourceType
from app.sim.machinery.selectors import (
    parse_field_selector,
    parse_label_selector,
)
from app.sim.machinery.store import check_propagation

# Deletion of these returns the deleted object instead of a Status (the upstream
# registries set ReturnDeletedObject for pods; custom resources do the same).
# Kinds whose registry sets ReturnDeletedObject (pkg/registry/core/pod/storage and
# pkg/registry/core/service/storage): DELETE answers with the object, not a Status.
# Conflicts a patch naming no resourceVersion is retried on (upstream: 5).
PATCH_CONFLICT_RETRIES = 5
RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services")}


def create(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    obj = decode_body(ctx)
    check_identity(ctx, obj, (rt.api_version, rt.kind))
    if (rt.group, rt.plural) in REVIEW_PLURALS:
        return ApiResponse(201, review(ctx, obj))
    check_types(ctx, obj)
    obj = record_managed_fields(ctx, None, obj, "Update")
    return ApiResponse(201, _write(ctx, obj, None))


def update(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    obj = decode_body(ctx)
    check_identity(ctx, obj, (rt.api_version, rt.kind))
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if old is None:
        # Upstream lets PUT create only for a few kinds (AllowCreateOnUpdate); none of
        # those matter to kubectl, so a missing object is always 404 here.
        raise not_found(rt.plural, ctx.name, rt.group)
    check_types(ctx, obj)
    obj = record_managed_fields(ctx, old, obj, "Update")
    return ApiResponse(200, _write(ctx, obj, old))


def patch(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    content_type = media_type(ctx.request.headers.get("Content-Type"))
    if content_type not in PATCH_TYPES:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(PATCH_TYPES),
        )
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if content_type == APPLY_PATCH:
        return server_side_apply(ctx, old)
    # As upstream (maxRetryWhenPatchConflicts): a patch that names no resourceVersion is
    # applied again to the object as it now is when another writer (a controller) wrote
    # between the read and the write; one that names a version keeps its conflict.
    retries = 0 if b"resourceVersion" in ctx.request.body else PATCH_CONFLICT_RETRIES
    for attempt in range(retries + 1):
        if old is None:
            raise not_found(rt.plural, ctx.name, rt.group)
        try:
            return _patch_once(ctx, rt, content_type, old)
        except ApiError as exc:
            if attempt == retries or exc.code != 409 or "has been modified" not in exc.message:
                raise
        old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    raise AssertionError("unreachable")


def _patch_once(
    ctx: RequestContext, rt: ResourceType, content_type: str, old: dict[str, Any]
) -> ApiResponse:
    patched = patch_mod.apply_patch(old, ctx.request.body, content_type, rt)
    if not isinstance(patched, dict):
        raise ApiError(400, "the patch did not produce an object")
    meta = patched.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(422, "metadata must be an object", reason="Invalid")
    # A patch may not rename or move the object, nor change its kind.
    for fixed in ("name", "namespace", "uid"):
        if old["metadata"].get(fixed) != meta.get(fixed):
            if fixed == "uid" and meta.get("uid"):
                raise ApiError(
                    409,
                    f"Precondition failed: UID in precondition: {meta.get('uid')}, "
                    f"UID in object meta: {old['metadata'].get('uid')}",
                    reason="Conflict",
                )
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
            else:
                meta.pop(fixed, None)
    patched["apiVersion"], patched["kind"] = old.get("apiVersion"), old.get("kind")
    check_types(ctx, patched)
    patched = record_managed_fields(ctx, old, patched, "Update")
    return ApiResponse(200, _write(ctx, patched, old))


def server_side_apply(ctx: RequestContext, old: dict[str, Any] | None) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    applied = decode_yaml(ctx.request.body, "error decoding YAML")
    if not isinstance(applied, dict):
        raise ApiError(400, "the apply configuration must be an object")
    check_identity(ctx, applied, (rt.api_version, rt.kind))
    check_types(ctx, applied)
    force = _truthy(ctx.request.query.get("force"))
    manager = ctx.field_manager or ""
    merged = ssa.apply(old, applied, manager, force, ctx.now)
    if old is not None and ctx.subresource is None and "status" in rt.subresources:
        merged["status"] = old.get("status")
        if merged["status"] is None:
            merged.pop("status")
    merged.setdefault("metadata", {})
    if old is not None:
        merged["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
    result = _write(ctx, merged, old)
    return ApiResponse(201 if old is None else 200, result)


def delete(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    options = _delete_options(ctx)
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if old is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    ctx.operation = "DELETE"
    validate_admission(ctx, None, old)
    preconditions = options.get("preconditions") or {}
    obj, removed = ctx.store.delete(
        rt.group,
        rt.plural,
        ctx.namespace,
        ctx.name,
        uid=preconditions.get("uid"),
        resource_version=preconditions.get("resourceVersion"),
        propagation=options.get("propagationPolicy") or _default_propagation(rt),
        dry_run=ctx.dry_run or options.get("dryRun") == ["All"],
        grace_seconds=grace_period(ctx, rt, old, options),
    )
    if not removed and not ctx.dry_run and _released_at_once(ctx, rt, obj):
        obj, removed = _release(ctx, rt, obj), True
    if removed and (rt.group, rt.plural) not in RETURNS_DELETED_OBJECT and not rt.custom:
        return ApiResponse(
            200,
            status_success(
                {
                    "name": ctx.name,
                    # StatusDetails.group is omitempty: the core group leaves it out.
                    **({"group": rt.group} if rt.group else {}),
                    "kind": rt.plural,
                    "uid": obj["metadata"].get("uid"),
                }
            ),
        )
    return ApiResponse(200 if removed else 202, obj)


PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def _released_at_once(ctx: RequestContext, rt: ResourceType, obj: dict[str, Any]) -> bool:
    """A deleted claim or volume held only by its protection finalizer, which upstream's
    pvc-/pv-protection controller would remove within moments of the delete: the
    simulator removes it in the same request (a manual-clock cluster would otherwise
    keep `kubectl delete pvc|pv` waiting until its next tick)."""
    meta = obj.get("metadata") or {}
    if not meta.get("deletionTimestamp"):
        return False
    if (rt.group, rt.plural) == ("", "persistentvolumeclaims"):
        return meta.get("finalizers") == [PVC_PROTECTION] and _unused_claim(ctx, obj)
    if (rt.group, rt.plural) == ("", "persistentvolumes"):
        # pv_protection_controller.go isBeingUsed: a volume is in use while Bound.
        return (
            meta.get("finalizers") == [PV_PROTECTION]
            and (obj.get("status") or {}).get("phase") != "Bound"
        )
    return False


def _unused_claim(ctx: RequestContext, obj: dict[str, Any]) -> bool:
    """No scheduled, unfinished pod of the claim's namespace mounts it. A Pending pod
    the scheduler has not placed does not hold the claim (upstream's podUsesPVC, as in
    controllers/volume_protection.py)."""
    name = (obj.get("metadata") or {}).get("name")
    pods, _ = ctx.store.list("", "pods", ctx.namespace)
    for pod in pods:
        if not (pod.get("spec") or {}).get("nodeName"):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if volume.get("ephemeral"):
                claim = f"{pod['metadata']['name']}-{volume.get('name')}"
            if claim == name:
                return False
    return True


def _release(ctx: RequestContext, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    released = dict(obj)
    released["metadata"] = {**obj["metadata"], "finalizers": []}
    try:
        ctx.store.update(rt.group, rt.plural, released)
    except ApiError:
        return obj  # changed meanwhile: the controller releases it on its next pass
    return released


def grace_period(
    ctx: RequestContext, rt: ResourceType, obj: dict[str, Any], options: dict[str, Any]
) -> int:
    """Seconds a deleted pod may take to stop (0: remove at once).

    Only pods bound to a node of a cluster whose kubelets honour graceful deletion
    (`cluster.graceful_pod_deletion`) wait; as upstream, an unbound or finished pod
    goes at once, and the default is the pod's terminationGracePeriodSeconds.
    """
    if (rt.group, rt.plural) != ("", "pods") or not ctx.cluster.graceful_pod_deletion:
        return 0
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    given = options.get("gracePeriodSeconds")
    if given is None:
        given = spec.get("terminationGracePeriodSeconds", 30)
    try:
        return max(0, int(given))
    except (TypeError, ValueError):
        raise ApiError(400, f"invalid gracePeriodSeconds: {given!r}") from None


def _default_propagation(rt: ResourceType) -> str:
    # Upstream's default GC policy is background deletion for every built-in kind
    # (replicationcontrollers/replicasets/... moved off orphan in apps/v1).
    return "Background"


def _delete_options(ctx: RequestContext) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if ctx.request.body.strip():
        try:
            options = json.loads(ctx.request.body)
        except ValueError:
            raise ApiError(400, "the body of a delete request must be DeleteOptions JSON") from None
        if not isinstance(options, dict):
            raise ApiError(400, "the body of a delete request must be DeleteOptions JSON")
    query = ctx.request.query
    if query.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = _int_param(
            query["gracePeriodSeconds"], "gracePeriodSeconds"
        )
    if query.get("propagationPolicy"):
        options["propagationPolicy"] = query["propagationPolicy"]
    if _truthy(query.get("orphanDependents")) or options.get("orphanDependents") is True:
        options.setdefault("propagationPolicy", "Orphan")
    check_propagation(options.get("propagationPolicy"))
    return options


def delete_collection(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    query = ctx.request.query
    items, _ = ctx.store.list(
        rt.group,
        rt.plural,
        ctx.namespace,
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural),
    )
    options = _delete_options(ctx)
    deleted = []
    ctx.operation = "DELETE"
    for item in items:
        meta = item["metadata"]
        try:
            obj, _ = ctx.store.delete(
                rt.group,
                rt.plural,
                meta.get("namespace"),
                meta["name"],
                propagation=options.get("propagationPolicy"),
                dry_run=ctx.dry_run,
            )
        except ApiError as exc:
            if exc.code == 404:
                continue
            raise
        deleted.append(obj)
    return ApiResponse(200, _list_body(rt, deleted, ctx.store.resource_version))

"""Subresources served by the pipeline: scale, binding, eviction (with
PodDisruptionBudgets), pod logs (from the node access the composition injects into the
cluster), service account tokens, and the access and token review kinds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.sim.apiserver import (
    authn,
    rbac,
)
from app.sim.apiserver import patch as patch_mod
from app.sim.apiserver.request import (
    APPLY_PATCH,
    ApiResponse,
    RequestContext,
    _truthy,
    media_type,
    status_success,
)
from app.sim.apiserver.stages import _write, check_identity, decode_body, record_managed_fields
from app.sim.machinery.clock import rfc3339
from app.sim.machinery.errors import ApiError, FieldCause, LogError, invalid, not_found
from app.sim.machinery.resources import ResourceType
from app.sim.machinery.selectors import (
    selector_from_object,
)

# TokenRequest: spec.expirationSeconds defaults to one hour (authentication/v1 defaults).
TOKEN_DEFAULT_SECONDS = 3600
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


# ---- subresources ----------------------------------------------------------------------


def _scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
        selector_text = str(selector_from_object(selector))
    elif isinstance(selector, dict):
        selector_text = ",".join(f"{k}={v}" for k, v in selector.items())
    else:
        selector_text = ""
    scale_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    if selector_text:
        scale_status["selector"] = selector_text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": scale_status,
    }


def scale(ctx: RequestContext) -> ApiResponse:
    """GET/PUT/PATCH `.../scale`: an autoscaling/v1 Scale view of spec.replicas."""
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    obj = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if obj is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    current = _scale_of(rt, obj)
    method = ctx.request.method.upper()
    if method == "GET":
        return ApiResponse(200, current)
    if method == "PUT":
        new_scale = decode_body(ctx)
        check_identity(ctx, new_scale, ("autoscaling/v1", "Scale"))
    else:
        content_type = media_type(ctx.request.headers.get("Content-Type"))
        if content_type == APPLY_PATCH:
            raise ApiError(415, f"patch type {content_type} is not supported on scale")
        scale_rt = ResourceType("autoscaling", "v1", "Scale", "scale", "scale", True)
        new_scale = patch_mod.apply_patch(current, ctx.request.body, content_type, scale_rt)
    spec = new_scale.get("spec") if isinstance(new_scale, dict) else None
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale",
            ctx.name,
            [
                FieldCause(
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
            "autoscaling",
        )
    given_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
    old = json.loads(json.dumps(obj))
    obj.setdefault("spec", {})["replicas"] = replicas
    if given_rv:
        obj["metadata"]["resourceVersion"] = given_rv  # the client's precondition
    updated = record_managed_fields(ctx, old, obj, "Update")
    # The parent is written as a main-resource update (its status stays as stored).
    parent = RequestContext(
        ctx.cluster,
        replace(ctx.request, subresource=None),
        rt,
        ctx.user,
        "UPDATE",
        ctx.warnings,
    )
    result = _write(parent, updated, old)
    return ApiResponse(200, _scale_of(rt, result))


def binding(ctx: RequestContext) -> ApiResponse:
    """POST pods/NAME/binding: set spec.nodeName once (what the scheduler's bind does)."""
    assert ctx.name is not None
    body = decode_body(ctx)
    if body.get("kind") not in (None, "Binding"):
        raise ApiError(400, f"the kind in the data ({body.get('kind')}) does not match Binding")
    target = body.get("target") or {}
    node = target.get("name")
    if not node:
        raise invalid(
            "Binding", ctx.name, [FieldCause("target.name", "Required value", "FieldValueRequired")]
        )
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    # The scheduler sets metadata.uid: a binding for an older pod of the same name
    # fails its precondition (pkg/registry/core/pod/storage assignPod).
    want_uid = (body.get("metadata") or {}).get("uid")
    if want_uid and want_uid != pod["metadata"].get("uid"):
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on pods "{ctx.name}": Precondition failed: '
            f"UID in precondition: {want_uid}, UID in object meta: {pod['metadata'].get('uid')}",
            reason="Conflict",
        )
    if pod["metadata"].get("deletionTimestamp"):
        raise ApiError(
            409, f"pod {ctx.name} is being deleted, cannot be assigned to a host", reason="Conflict"
        )
    current = (pod.get("spec") or {}).get("nodeName")
    if current:
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on pods/binding "{ctx.name}": pod {ctx.name} is '
            f'already assigned to node "{current}"',
            reason="Conflict",
        )
    pod["spec"]["nodeName"] = node
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": ctx.now,
        }
    )
    status["conditions"] = conditions
    if not ctx.dry_run:
        ctx.store.update("", "pods", pod)
    return ApiResponse(201, status_success())


def _pdb_blocks(ctx: RequestContext, pod: dict[str, Any]) -> str | None:
    """Name of a PodDisruptionBudget that allows no disruption of this pod, if any."""
    labels = pod["metadata"].get("labels") or {}
    pdbs, _ = ctx.store.list("policy", "poddisruptionbudgets", ctx.namespace)
    for pdb in pdbs:
        spec = pdb.get("spec") or {}
        selector = selector_from_object(spec.get("selector"))
        if not selector.matches(labels):
            continue
        pods, _ = ctx.store.list("", "pods", ctx.namespace, selector)
        healthy = sum(1 for p in pods if _pod_ready(p))
        total = len(pods)
        allowed = healthy - _required_healthy(spec, total)
        if allowed <= 0:
            return pdb["metadata"]["name"]
    return None


def _pod_ready(pod: dict[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _required_healthy(spec: dict[str, Any], total: int) -> int:
    def amount(value: Any) -> int:
        if isinstance(value, str) and value.endswith("%"):
            # Percentages round up, as the disruption controller's GetScaledValueFromIntOrPercent.
            return -(-int(value[:-1]) * total // 100)
        return int(value)

    if spec.get("minAvailable") is not None:
        return amount(spec["minAvailable"])
    if spec.get("maxUnavailable") is not None:
        return total - amount(spec["maxUnavailable"])
    return 0


def eviction(ctx: RequestContext) -> ApiResponse:
    """POST pods/NAME/eviction: delete the pod unless a PDB forbids it (429)."""
    assert ctx.name is not None
    body = decode_body(ctx)
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    blocking = _pdb_blocks(ctx, pod) if _pod_ready(pod) else None
    if blocking:
        raise ApiError(
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.",
            reason="TooManyRequests",
            details={
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {blocking} needs more "
                        "healthy pods to allow eviction",
                    }
                ]
            },
        )
    options = body.get("deleteOptions") or {}
    ctx.store.delete(
        "",
        "pods",
        ctx.namespace,
        ctx.name,
        propagation=options.get("propagationPolicy"),
        dry_run=ctx.dry_run,
    )
    return ApiResponse(201, status_success())


def pod_log(ctx: RequestContext) -> ApiResponse:
    """GET pods/NAME/log: the container's log text (text/plain)."""
    assert ctx.name is not None
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
    container = ctx.request.query.get("container")
    if not container:
        if len(containers) != 1:
            raise ApiError(
                400,
                f"a container name must be specified for pod {ctx.name}, choose one of: "
                f"[{' '.join(containers)}]",
            )
        container = containers[0]
    elif container not in containers and container not in init:
        raise ApiError(
            400,
            f"container {container} is not valid for pod {ctx.name}",
        )
    options = _log_options(ctx)
    access = ctx.cluster.node_access
    published = ctx.cluster.container_log(ctx.namespace or "", ctx.name, container)
    previous = _truthy(ctx.request.query.get("previous"))
    timed = options["since"] is not None or options["timestamps"]
    if access is not None and hasattr(access, "logs") and (published is None or previous or timed):
        # Node agents answer with the container's real log, `previous` included.
        try:
            text = access.logs(
                ctx.namespace or "",
                ctx.name,
                container,
                previous,
                options["tail"],
                options["since"],
                options["timestamps"],
            )
        except LogError as exc:  # a log that cannot be given: upstream answers 400
            raise ApiError(400, str(exc)) from None
        return ApiResponse(200, _limit(text, options["limit"]), content_type="text/plain")
    lines = published
    if lines is None:
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase == "Pending":
            raise ApiError(
                400,
                f'container "{container}" in pod "{ctx.name}" is waiting to start: '
                "ContainerCreating",
            )
        lines = []
    count = options["tail"]
    if count is not None:
        lines = lines[-count:] if count else []
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return ApiResponse(200, _limit(text, options["limit"]), content_type="text/plain")


def _log_options(ctx: RequestContext) -> dict[str, Any]:
    """PodLogOptions from the query (validated as upstream's ValidatePodLogOptions):
    `tailLines`, `sinceSeconds` or `sinceTime` (as an epoch second), `timestamps`,
    `limitBytes`."""
    query = ctx.request.query
    causes: list[FieldCause] = []
    numbers: dict[str, int | None] = {}
    for name, least in (("tailLines", 0), ("sinceSeconds", 1), ("limitBytes", 1)):
        raw = query.get(name)
        if raw is None or raw == "":
            numbers[name] = None
            continue
        try:
            number = int(raw)
        except ValueError:
            raise ApiError(400, f"invalid {name} parameter: {raw!r}") from None
        numbers[name] = number
        if number < least:
            bound = "greater than 0" if least else "greater than or equal to 0"
            causes.append(
                FieldCause(name, f"Invalid value: {number}: must be {bound}", "FieldValueInvalid")
            )
    since_time = query.get("sinceTime")
    if since_time and numbers["sinceSeconds"] is not None:
        causes.append(
            FieldCause(
                "",
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                "FieldValueForbidden",
            )
        )
    if causes:
        raise invalid("PodLogOptions", str(ctx.name), causes)
    since: float | None = None
    if numbers["sinceSeconds"] is not None:
        since = ctx.cluster.clock.now().timestamp() - numbers["sinceSeconds"]
    elif since_time:
        try:
            since = datetime.fromisoformat(since_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ApiError(400, f"invalid sinceTime parameter: {since_time!r}") from None
    return {
        "tail": numbers["tailLines"],
        "limit": numbers["limitBytes"],
        "since": since,
        "timestamps": _truthy(query.get("timestamps")),
    }


def _limit(text: str, limit: int | None) -> str:
    """The first `limitBytes` bytes of the log (a line may be cut, as upstream)."""
    if limit is None:
        return text
    return text.encode()[:limit].decode(errors="ignore")


def token_request(ctx: RequestContext) -> ApiResponse:
    """POST serviceaccounts/NAME/token: a bound token for the ServiceAccount."""
    assert ctx.name is not None and ctx.namespace is not None
    body = decode_body(ctx)
    if body.get("kind") not in (None, "TokenRequest"):
        raise ApiError(
            400, f"the kind in the data ({body.get('kind')}) does not match TokenRequest"
        )
    sa = ctx.store.get("", "serviceaccounts", ctx.namespace, ctx.name)
    if sa is None:
        raise not_found("serviceaccounts", ctx.name)
    spec = body.get("spec") or {}
    seconds = spec.get("expirationSeconds") or TOKEN_DEFAULT_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ApiError(400, "spec.expirationSeconds must be an integer")
    audiences = spec.get("audiences") or [SERVICE_ACCOUNT_ISSUER]
    if ctx.dry_run:
        token, expiry = "", ctx.cluster.clock.now() + timedelta(seconds=seconds)
    else:
        token, expiry = authn.issue_service_account_token(
            ctx.cluster.auth,
            ctx.namespace,
            ctx.name,
            sa["metadata"].get("uid", ""),
            now=ctx.cluster.clock.now(),
            expiration_seconds=seconds,
            audiences=audiences,
        )
    expires = rfc3339(expiry)
    result = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": ctx.name, "namespace": ctx.namespace, "creationTimestamp": None},
        "spec": {
            "audiences": audiences,
            "expirationSeconds": seconds,
            "boundObjectRef": spec.get("boundObjectRef"),
        },
        "status": {"token": token, "expirationTimestamp": expires},
    }
    return ApiResponse(201, result)


# ---- reviews -----------------------------------------------------------------------------


def review(ctx: RequestContext, obj: dict[str, Any]) -> dict[str, Any]:
    """Answer a *Review kind: fill in `status` and return it without storing."""
    rt = ctx.rt
    assert rt is not None
    if rt.plural == "selfsubjectreviews":
        return authn.self_subject_review(ctx.user, ctx.now)
    if rt.plural == "tokenreviews":
        return authn.token_review(ctx.cluster.auth, obj, now=ctx.cluster.clock.now())
    if rt.plural == "selfsubjectrulesreviews":
        namespace = str((obj.get("spec") or {}).get("namespace") or "")
        obj["status"] = rbac.rules_review(rbac.Authorizer(ctx.store), ctx.user, namespace)
        return obj
    if rt.group == "authorization.k8s.io":
        return rbac.access_review(
            rbac.Authorizer(ctx.store), ctx.user, obj, namespace=ctx.namespace
        )
    raise ApiError(404, f"the server could not find the requested resource ({rt.plural})")


# ---- routes ------------------------------------------------------------------------------


SUBRESOURCE_HANDLERS: dict[tuple[str, str, str], Callable[[RequestContext], ApiResponse]] = {
    ("", "pods", "binding"): binding,
    ("", "pods", "eviction"): eviction,
    ("", "pods", "log"): pod_log,
    ("", "serviceaccounts", "token"): token_request,
}

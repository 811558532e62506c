"""The request flow of the simulated API server, one named stage per step.

    authenticate -> authorize -> decode -> (patch | apply) -> prepare -> default
    -> mutating admission -> validating admission -> validate -> persist -> respond

as the seed chapter's request-flow diagram draws it (watch notification is the store's
fan-out after persist). `dryRun=All` runs every stage but persist. Each stage is a small
function taking the `RequestContext`, so labs and questions can point at one stage.

This module dispatches a request (`handle`); the rest of the pipeline is split by
concern: `request` (ApiRequest, ApiResponse, RequestContext), `stages` (the stages
above), `verbs` (create, update, patch, apply, delete), `reads` (get, list, tables),
`subresources` (scale, binding, eviction, log, token, reviews) and `watch` (planning a
watch; the server streams it). The names the server and clients use are re-exported here.

The stages of other modules (authn, rbac, patch, ssa, defaults, admission, validation,
printers, protobuf) are plain imports: a stage that cannot be imported stops the server
from starting rather than letting requests through unchecked. The HTTP adapter
(`app/sim/server.py`) only translates HTTP to `ApiRequest` and back.
"""

from __future__ import annotations

import logging
import time

from app.sim.apiserver import hpa_v1
from app.sim.apiserver.reads import get, list_objects
from app.sim.apiserver.request import JSON, ApiRequest, ApiResponse, RequestContext, resolve_type
from app.sim.apiserver.stages import authenticate, authorize
from app.sim.apiserver.subresources import SUBRESOURCE_HANDLERS, scale
from app.sim.apiserver.verbs import create, delete, delete_collection, patch, update
from app.sim.apiserver.watch import WatchPlan, bookmark_object, plan_watch, watch_object
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceType

__all__ = [
    "JSON",
    "ApiRequest",
    "ApiResponse",
    "RequestContext",
    "WatchPlan",
    "authenticate",
    "authorize",
    "bookmark_object",
    "handle",
    "plan_watch",
    "watch_object",
]

log = logging.getLogger(__name__)


def _quote_warning(text: str) -> str:
    """A warning as the quoted-string of an RFC 7234 Warning header (client-go drops
    warnings it cannot parse)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def handle(cluster: Cluster, req: ApiRequest) -> ApiResponse:
    """Run one non-watch resource request through the pipeline.

    Never raises: errors become `Status` responses (a 500 is logged as a bug).
    """
    ctx = RequestContext(cluster, req)
    started = time.perf_counter()
    try:
        rt = resolve_type(cluster, req)
        ctx.rt = rt
        authenticate(ctx)
        authorize(ctx)
        verb = req.verb
        if verb not in rt.verbs and req.subresource is None:
            raise ApiError(
                405,
                "the server does not allow this method on the requested resource",
                reason="MethodNotAllowed",
                details={},
            )
        if hpa_v1.applies(rt):
            response = hpa_v1.serve(ctx, rt, verb, _dispatch)
        else:
            response = _dispatch(ctx, rt, verb)
    except ApiError as exc:
        response = ApiResponse(exc.code, exc.status())
    except RecursionError:
        # A body nested deeper than the decoders (or the code walking it) can follow:
        # the caller's mistake, as with the upstream decoders' depth limit.
        response = ApiResponse(
            400,
            ApiError(400, "the request body is nested too deeply", reason="BadRequest").status(),
        )
    except Exception:  # the server must answer, never crash: a 500 is a bug to fix
        log.exception("internal error on %s %s/%s", req.method, req.group, req.plural)
        response = ApiResponse(
            500,
            ApiError(
                500, "Internal error occurred: unexpected error while handling the request"
            ).status(),
        )
    if ctx.warnings:
        response.headers["Warning"] = ", ".join(
            f'299 - "{_quote_warning(w)}"' for w in dict.fromkeys(ctx.warnings)
        )
    log.debug("%s %s %.1f ms", req.method, req.plural, (time.perf_counter() - started) * 1000)
    return response


def _dispatch(ctx: RequestContext, rt: ResourceType, verb: str) -> ApiResponse:
    sub = ctx.request.subresource
    method = ctx.request.method.upper()
    if sub:
        handler = SUBRESOURCE_HANDLERS.get((rt.group, rt.plural, sub))
        if handler is not None:
            return handler(ctx)
        if sub == "scale":
            return scale(ctx)
        if sub == "status" or (sub == "approval" and sub in rt.subresources):
            if method == "GET":
                return get(ctx)
            if method == "PUT":
                return update(ctx)
            if method == "PATCH":
                return patch(ctx)
        raise ApiError(
            405,
            "the server does not allow this method on the requested resource",
            reason="MethodNotAllowed",
            details={},
        )
    if verb == "get":
        return get(ctx)
    if verb == "list":
        return list_objects(ctx)
    if verb == "create":
        if ctx.name is not None:
            raise ApiError(
                405,
                "the server does not allow this method on the requested resource",
                reason="MethodNotAllowed",
                details={},
            )
        return create(ctx)
    if verb == "update":
        return update(ctx)
    if verb == "patch":
        return patch(ctx)
    if verb == "delete":
        return delete(ctx)
    if verb == "deletecollection":
        return delete_collection(ctx)
    raise ApiError(
        405,
        "the server does not allow this method on the requested resource",
        reason="MethodNotAllowed",
        details={},
    )

"""The non-resource endpoints of a cluster: API discovery (`/api`, `/apis`, group and
resource lists, aggregated discovery) and the OpenAPI v2 and v3 documents."""

from __future__ import annotations

import time
from email.utils import formatdate

from aiohttp import web

from app.sim.apiserver import discovery, openapi
from app.sim.apiserver.aggregator import served_registry
from app.sim.apiserver.pipeline import JSON, ApiRequest, RequestContext, authenticate, authorize
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.serving.httpio import _json


def non_resource(
    cluster: Cluster,
    request: web.Request,
    parts: list[str],
    tail: str,
    headers: dict[str, str],
    peer_cert: bytes | None,
    address: str,
) -> web.StreamResponse:
    """Discovery and OpenAPI of one cluster; `address` is the server's host:port."""
    req = ApiRequest(request.method, headers=headers, peer_cert=peer_cert, non_resource_path=tail)
    ctx = RequestContext(cluster, req)
    authenticate(ctx)
    authorize(ctx)
    if request.method != "GET":
        raise ApiError(
            405,
            "the server does not allow this method on the requested resource",
            reason="MethodNotAllowed",
            details={},
        )
    accept = headers.get("Accept")
    # Aggregated group-versions whose APIService is unavailable are not discovered.
    registry = served_registry(cluster)
    if parts == ["api"]:
        if discovery.wants_aggregated(accept):
            return _json(
                200,
                discovery.aggregated_discovery(registry, core=True),
                content_type=discovery.AGGREGATED_MEDIA,
            )
        return _json(200, discovery.core_versions(address))
    if parts == ["apis"]:
        if discovery.wants_aggregated(accept):
            return _json(
                200,
                discovery.aggregated_discovery(registry, core=False),
                content_type=discovery.AGGREGATED_MEDIA,
            )
        return _json(200, discovery.api_group_list(registry))
    if parts[0] == "openapi":
        return openapi_document(cluster, parts, request)
    if parts[0] == "apis" and len(parts) == 2:
        versions = registry.groups().get(parts[1])
        if not versions:
            raise ApiError(404, "the server could not find the requested resource", details={})
        return _json(200, discovery.api_group(parts[1], versions))
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    doc = discovery.api_resource_list(registry, group, version)
    if doc is None:
        raise ApiError(404, "the server could not find the requested resource", details={})
    return _json(200, doc)


def openapi_document(cluster: Cluster, parts: list[str], request: web.Request):
    registry = cluster.registry
    if parts == ["openapi", "v2"]:
        if openapi.wants_v2_protobuf(request.headers.get("Accept")):
            # kubectl's resource builder (apply of a `kind: List`, unknown kinds)
            # reads the protobuf encoding of the v2 document.
            return web.Response(
                body=openapi.v2_protobuf(registry),
                headers={"Content-Type": openapi.V2_PROTOBUF_CONTENT_TYPE},
            )
        return web.Response(body=openapi.v2_document(registry), content_type=JSON)
    if parts == ["openapi", "v3"]:
        return _json(200, openapi.v3_index(registry, prefix=f"/clusters/{cluster.id}"))
    if len(parts) >= 3 and parts[:2] == ["openapi", "v3"]:
        target = openapi.parse_v3_path("/".join(parts[2:]))
        if target is not None:
            doc = openapi.v3_document(registry, *target)
            if doc is not None:
                return _v3_group_version(cluster, target, doc, request.query.get("hash", ""))
    raise ApiError(404, "the server could not find the requested resource", details={})


def _v3_group_version(
    cluster: Cluster, target: tuple[str, str], doc: bytes, asked: str
) -> web.Response:
    """A group-version's v3 document with upstream's caching headers (kube-openapi
    handler3): always its ETag; at the URL the index gives (`?hash=` of the current
    content) `Cache-Control: public, immutable` and `Expires` a year ahead, so that
    kubectl's HTTP cache keeps it and `kubectl apply` does not fetch it again; a stale
    hash is redirected (301) to the current one."""
    current = openapi.v3_hash(cluster.registry, *target)
    headers = {"ETag": f'"{current}"', "Vary": "Accept"}
    if asked and asked != current:
        path = openapi.v3_path(*target)
        location = f"/clusters/{cluster.id}/openapi/v3/{path}?hash={current}"
        return web.Response(status=301, headers={**headers, "Location": location})
    if asked:
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = formatdate(time.time() + 365 * 86400, usegmt=True)
    return web.Response(body=doc, content_type=JSON, headers=headers)

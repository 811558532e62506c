"""HTTP in and out for the simulator server: JSON responses and request bodies, the
pipeline's responses as aiohttp ones, client certificates, health endpoints, and URL
paths parsed into `ApiRequest`s.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.sim.apiserver.pipeline import JSON, ApiRequest, ApiResponse
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError

_HEALTH_CHECKS = (
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/bootstrap-controller",
)


def _json(status: int, body: Any, content_type: str = JSON) -> web.Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    if isinstance(body, dict) and body.get("kind") == "Status":
        data += b"\n"  # as the API server's JSON encoder writes a Status
    return web.Response(status=status, body=data, headers={"Content-Type": content_type})


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _to_web(response: ApiResponse) -> web.Response:
    headers = {"Content-Type": response.content_type, **response.headers}
    return web.Response(status=response.status, body=response.encoded(), headers=headers)


def _peer_cert(request: web.Request) -> bytes | None:
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    try:
        return ssl_object.getpeercert(binary_form=True)
    except ValueError:
        return None


def _health(request: web.Request, prefix: str = "") -> web.Response:
    path = request.path[len(prefix) :]
    endpoint = path.strip("/").split("/")[0]
    check = path.strip("/").split("/")[1] if path.strip("/").count("/") else ""
    if check:
        if check not in {c.split("/")[0] for c in _HEALTH_CHECKS}:
            return web.Response(status=404, text="404 page not found\n")
        return web.Response(text="ok", content_type="text/plain")
    if "verbose" in request.query:
        lines = [f"[+]{c} ok" for c in _HEALTH_CHECKS]
        lines.append(f"{endpoint} check passed")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
    return web.Response(text="ok", content_type="text/plain")


def _root_paths(cluster: Cluster) -> list[str]:
    paths = [
        "/api",
        "/api/v1",
        "/apis",
        "/healthz",
        "/livez",
        "/openapi/v2",
        "/openapi/v3",
        "/readyz",
        "/version",
    ]
    for group, versions in cluster.registry.groups().items():
        if group:
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
    return sorted(paths)


def _resource_request(
    method: str,
    parts: list[str],
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    peer_cert: bytes | None,
) -> ApiRequest | None:
    """Parse `/api/v1/...` or `/apis/G/V/...` into an ApiRequest (None if malformed)."""
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # namespaces/{ns}/{plural}/... is a namespaced path unless the fourth segment is a
    # subresource of the namespace itself (status, finalize).
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return ApiRequest(
        method=method,
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=subresource,
        query=query,
        headers=headers,
        body=body,
        peer_cert=peer_cert,
    )

"""HTTP requests that reach the API server through the pod network (`curl -k
https://kubernetes.default.svc/api/v1/namespaces/default/pods -H "Authorization: Bearer
$TOKEN"` from a pod, or `curl -k https://CONTROLPLANE:6443/healthz` from a node).

The health endpoints and `/version` answer anyone (kubeadm's `system:public-info-viewer`
binding); a resource path (`/api/v1/...`, `/apis/GROUP/VERSION/...`) goes through the
API server's own request pipeline with the request's bearer token, so authentication
and RBAC decide as for kubectl (no token: `system:anonymous`, a 403). JSON comes back
indented, as the API server does for curl's user agent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_PORT = 6443
HEALTH = ("/healthz", "/livez", "/readyz")


def _resource_request(path: str) -> dict[str, Any] | None:
    """group, version, plural, namespace, name, subresource of a resource URL."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    return {
        "group": group,
        "version": version,
        "plural": rest[0],
        "namespace": namespace,
        "name": rest[1] if len(rest) > 1 else None,
        "subresource": rest[2] if len(rest) > 2 else None,
    }


def answer(cluster: Any, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """(status, body) of a GET on the API server."""
    from app.sim.apiserver.discovery import version_info
    from app.sim.apiserver.pipeline import ApiRequest, handle
    from app.sim.apiserver.request import EncodedJson

    url = urlsplit(path)
    if url.path in HEALTH:
        return 200, "ok"
    if url.path == "/version":
        return 200, json.dumps(version_info(), indent=2) + "\n"
    fields = _resource_request(url.path)
    if fields is None:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }
        return 404, json.dumps(body, indent=2) + "\n"
    forwarded = {"User-Agent": "curl/8.14.1", "Accept": "application/json"}
    if "authorization" in headers:
        forwarded["Authorization"] = headers["authorization"]
    request = ApiRequest(
        method="GET", query=dict(parse_qsl(url.query)), headers=forwarded, **fields
    )
    response = handle(cluster, request)
    answered: Any = response.body if isinstance(response.body, (dict, list)) else {}
    if isinstance(response.body, EncodedJson):
        answered = response.body.decode()
    return response.status, json.dumps(answered, indent=2) + "\n"

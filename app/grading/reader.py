"""Read (and, for probes and reviews, write) cluster state through the Kubernetes API.

`ClusterReader` wraps an official `kubernetes.client.ApiClient` and speaks the REST API
generically: objects are addressed by `apiVersion` + `kind`, resolved to a URL through
API discovery (`/api/v1`, `/apis/{group}/{version}`), and returned as plain JSON dicts.
The same code grades the simulator and a kind cluster, and custom resources too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

JSON = "application/json"


class ClusterReadError(Exception):
    """The API answered with an error other than 404, or an unknown kind was named."""


class ClusterUnreachableError(ClusterReadError, ConnectionError):
    """The API server could not be reached or was unavailable (connection refused, TLS
    failure, timeout, 502/503/504). A grade must not be computed from a partial read:
    the engine lets this propagate so the grading job is retried. It is an `OSError`
    (through ConnectionError) so job retry policies for I/O errors cover it."""


class ApiConnectionError(ClusterUnreachableError):
    """The connection to the API server failed (refused, closed without an answer,
    reset, timed out, TLS): no HTTP status came back. Whether the cluster is gone or
    only its API server is down is for the caller to find out (`app.grading.liveness`)."""


class ApiServerDownError(ClusterReadError):
    """The cluster is there (its nodes answer) but its API server does not: a state the
    learner is graded on, not an infrastructure failure. A check reading the API fails
    with this message instead of being evaluated."""


class ClusterGoneError(ClusterUnreachableError):
    """The server answers, but not for this cluster: its root discovery document
    (`GET /api`) is 404 (the server does not hold the cluster) or 401 (the cluster's
    own admin credentials are refused). Unlike an object that is absent, this is never
    a learner's result: the grade is an infrastructure failure."""


# Statuses of `GET /api` that mean the cluster itself is gone or no longer ours.
GONE_STATUSES = frozenset({401, 404})


# Gateway and availability statuses: the server is there but cannot answer now.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class ResourceRef:
    """Where a kind is served: its plural under an API group-version, and its scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection (or, with `name`, object) path on the API server."""
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [root]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
        return "/".join(parts)


class ClusterReader:
    """Generic get/list/create/delete of Kubernetes objects as dicts.

    Discovery documents are fetched once per group-version and cached for the life of
    the reader (one grade), so a grade sees one consistent view of the served kinds.
    """

    def __init__(self, api_client: ApiClient, *, request_timeout: float = 15) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self._discovery: dict[str, dict[str, ResourceRef]] = {}
        # Why the API server is taken as down for this grade (`mark_api_down`), or None.
        self.api_down: str | None = None

    def mark_api_down(self, reason: str) -> None:
        """From now on every request fails at once with `ApiServerDownError`: the
        API server did not answer while the cluster's nodes did."""
        self.api_down = reason

    # ---- raw HTTP --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON body or None).

        Error statuses are returned, not raised; transport failures raise
        `ClusterUnreachableError`.
        """
        if self.api_down is not None:
            raise ApiServerDownError(
                f"{method} {path}: the API server did not answer ({self.api_down})"
            )
        headers = {"Accept": JSON, "User-Agent": "certprep-grader"}
        if body is not None:
            headers["Content-Type"] = JSON
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        # param_serialize adds the host and the credentials of the client's configuration
        # (bearer token or client certificate), as the generated API classes do.
        method, url, headers, payload, _ = self.api_client.param_serialize(
            method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method,
                url,
                header_params=headers,
                body=payload,
                _request_timeout=self.request_timeout,
            )
            status, raw = response.status, response.read()
        except ApiException as exc:
            status, raw = exc.status or 0, (exc.body or b"")
        except Exception as exc:  # urllib3 errors: connection refused, TLS, timeout
            raise ApiConnectionError(f"{method} {path}: {exc}") from exc
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return status, data

    def _ok(self, method: str, path: str, status: int, data: Any) -> Any:
        if 200 <= status < 300:
            return data
        message = data.get("message") if isinstance(data, dict) else None
        if status in UNAVAILABLE_STATUSES:
            raise ClusterUnreachableError(f"{method} {path}: HTTP {status}: {message}")
        raise ClusterReadError(f"{method} {path}: HTTP {status}: {message or 'error'}")

    # ---- liveness --------------------------------------------------------------------

    def ensure_alive(self) -> None:
        """Check that the cluster itself answers: `GET /api` (core discovery, which
        every API server serves to an authenticated client) must be 200.

        Raises `ClusterGoneError` for 404/401, `ClusterUnreachableError` when the server
        cannot be reached or answers another error. A grade calls it before and after
        reading, so "the object is absent" (404 from a live cluster, a legitimate
        fail) is never confused with "the cluster is gone" (404 for everything).
        """
        status, data = self.request("GET", "/api")
        if status == 200 and isinstance(data, dict):
            return
        message = data.get("message") if isinstance(data, dict) else None
        detail = f"GET /api: HTTP {status}: {message or 'no discovery document'}"
        if status in GONE_STATUSES:
            raise ClusterGoneError(detail)
        raise ClusterUnreachableError(detail)

    # ---- discovery -------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceRef:
        """Where `kind` of `api_version` is served; ClusterReadError when it is not."""
        if api_version not in self._discovery:
            root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, data = self.request("GET", root)
            if status != 200:
                # A group-version that is not served (a CRD not installed) is a 404 from
                # a live cluster; a missing cluster answers 404 for everything.
                self.ensure_alive()
            found: dict[str, ResourceRef] = {}
            if status == 200 and isinstance(data, dict):
                for entry in data.get("resources") or []:
                    name = entry.get("name") or ""
                    if "/" in name:  # subresources such as pods/status
                        continue
                    found[entry.get("kind") or ""] = ResourceRef(
                        api_version, entry.get("kind") or "", name, bool(entry.get("namespaced"))
                    )
            self._discovery[api_version] = found
        ref = self._discovery[api_version].get(kind)
        if ref is None:
            raise ClusterReadError(f"the server does not serve kind {kind!r} in {api_version}")
        return ref

    # ---- objects ---------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        ref = self.resource(api_version, kind)
        path = ref.path(namespace, name)
        status, data = self.request("GET", path)
        if status == 404:
            return None
        found: dict[str, Any] = self._ok("GET", path, status, data)
        return found

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every matching object (all namespaces when `namespace` is None), sorted by
        namespace and name so that grading does not depend on the server's order."""
        ref = self.resource(api_version, kind)
        path = ref.path(namespace)
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        status, data = self.request("GET", path, query=query)
        items = self._ok("GET", path, status, data).get("items") or []
        for item in items:
            # List items carry no apiVersion/kind on the wire; put them back for evidence.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return sorted(items, key=_sort_key)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create `obj` (its apiVersion, kind and namespace say where)."""
        ref = self.resource(obj["apiVersion"], obj["kind"])
        path = ref.path((obj.get("metadata") or {}).get("namespace"))
        status, data = self.request("POST", path, body=obj)
        created: dict[str, Any] = self._ok("POST", path, status, data)
        return created

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
    ) -> bool:
        """Delete an object; False when it was already gone."""
        ref = self.resource(api_version, kind)
        path = ref.path(namespace, name)
        query = {"gracePeriodSeconds": grace_period_seconds}
        status, data = self.request("DELETE", path, query=query)
        if status == 404:
            return False
        self._ok("DELETE", path, status, data)
        return True


def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")

"""What a request is as the pipeline sees it: `ApiRequest` (the HTTP adapter's
translation of a request), `ApiResponse`, the `RequestContext` every stage receives,
media types, and resolving the kind a request addresses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.sim.apiserver import (
    ssa,
)
from app.sim.machinery.clock import rfc3339
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.codec import decode, dumps, encode
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceType

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)

# Kinds answered at once, never stored (the review APIs).
REVIEW_PLURALS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}

# ---- request and response ------------------------------------------------------------


@dataclass
class ApiRequest:
    """One Kubernetes API request after URL parsing (method, resource, query, body)."""

    method: str
    group: str = ""
    version: str = "v1"
    plural: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    peer_cert: bytes | None = None  # DER client certificate, when one was presented
    non_resource_path: str | None = None

    @property
    def verb(self) -> str:
        """The Kubernetes verb (get, list, watch, create, update, patch, delete, ...)."""
        method = self.method.upper()
        if self.non_resource_path is not None:
            return method.lower()
        if method == "GET":
            if self.name is None:
                return "watch" if _truthy(self.query.get("watch")) else "list"
            return "get"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if self.name is not None else "deletecollection"
        return method.lower()


@dataclass(frozen=True)
class EncodedJson:
    """A JSON body already encoded, in pieces that join to the document (a list built
    from the store's bytes, a Table from cached rows). `decode` gives the dict."""

    pieces: list[bytes]

    def decode(self) -> Any:
        return decode(b"".join(self.pieces))


@dataclass
class ApiResponse:
    status: int
    body: Any  # dict (JSON), EncodedJson, or bytes/str (raw)
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> list[bytes]:
        """The encoded body in pieces that join to `encoded()`: a list's items are
        encoded one at a time. One encode (or one join) over tens of MiB holds the
        interpreter lock for hundreds of milliseconds, stalling the server's event
        loop; between pieces it is released, and the server writes them one by one."""
        if isinstance(self.body, bytes):
            return [self.body]
        if isinstance(self.body, EncodedJson):
            return self.body.pieces
        if isinstance(self.body, str):
            return [self.body.encode()]
        items = self.body.get("items") if isinstance(self.body, dict) else None
        if not isinstance(items, list) or len(items) < 2:
            data = dumps(self.body)
            if isinstance(self.body, dict) and self.body.get("kind") == "Status":
                # The API server's JSON encoder ends a Status body with a newline.
                data += b"\n"
            return [data]
        head = {k: v for k, v in self.body.items() if k != "items"}
        return with_array(head, "items", (_encode_item(item) for item in items))


def _encode_item(item: Any) -> bytes:
    # Exact-size bytes (`codec.encode`): a piece holds hundreds of items until joined.
    return encode(item)


# Pieces of an encoded body are about this large: small enough that joining one holds
# the interpreter lock briefly, large enough that writing them costs little per item.
PIECE_BYTES = 256 * 1024


def with_array(head: dict[str, Any], key: str, elements: Iterable[bytes]) -> list[bytes]:
    """`head` with a last member `key` whose array holds the encoded `elements`, as
    `json.dumps(..., separators=(",", ":"))` writes it, in pieces of ~`PIECE_BYTES`."""
    start = json.dumps(head, separators=(",", ":"))
    pieces: list[bytes] = []
    batch: list[bytes] = [(start[:-1] + ("," if start != "{}" else "") + f'"{key}":[').encode()]
    size = 0
    for element in elements:
        if size >= PIECE_BYTES:
            pieces.append(b"".join(batch))
            batch, size = [], 0
        if pieces or len(batch) > 1:
            batch.append(b",")
        batch.append(element)
        size += len(element)
    batch.append(b"]}")
    pieces.append(b"".join(batch))
    return pieces


@dataclass
class RequestContext:
    """Everything a stage may need: the cluster, the caller, the request, the kind."""

    cluster: Cluster
    request: ApiRequest
    rt: ResourceType | None = None
    user: Any = None
    operation: str = ""  # CREATE, UPDATE, DELETE, CONNECT (admission's names)
    warnings: list[str] = field(default_factory=list)

    @property
    def store(self):
        return self.cluster.store

    @property
    def registry(self):
        return self.cluster.registry

    @property
    def namespace(self) -> str | None:
        return self.request.namespace

    @property
    def name(self) -> str | None:
        return self.request.name

    @property
    def subresource(self) -> str | None:
        return self.request.subresource

    @property
    def dry_run(self) -> bool:
        return self.request.query.get("dryRun") == "All"

    @property
    def now(self) -> str:
        return rfc3339(self.cluster.clock.now())

    @property
    def field_validation(self) -> str:
        # Without the parameter the API server warns about unknown fields (the
        # default since v1.23); kubectl asks for Strict explicitly.
        return self.request.query.get("fieldValidation") or "Warn"

    @property
    def field_manager(self) -> str | None:
        return self.request.query.get("fieldManager")

    def manager(self) -> str:
        agent = self.request.headers.get("User-Agent")
        return ssa.default_manager(self.field_manager, agent)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def status_success(details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body["status"] = "Success"
    if details:
        body["details"] = details
    return body


# ---- media types, parameters, the addressed kind ----------------------------------------


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower()


def _int_param(value: str | None, name: str) -> int:
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"invalid {name} parameter: {value!r}") from None
    if number < 0:
        raise ApiError(400, f"invalid {name} parameter: must not be negative")
    return number


def resolve_type(cluster: Cluster, req: ApiRequest) -> ResourceType:
    """The ResourceType of a request's URL; 404 as upstream for unknown resources."""
    rt = cluster.registry.by_plural(req.group, req.version, req.plural)
    if rt is None:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    if req.namespace is not None and not rt.namespaced:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    if req.subresource and req.subresource not in rt.subresources:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    return rt

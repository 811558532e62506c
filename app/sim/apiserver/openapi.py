"""OpenAPI documents of the served kinds: `/openapi/v2` and `/openapi/v3` (index plus one
document per group-version).

kubectl 1.37 reads `/openapi/v3` first (probed: `kubectl apply` asks `/openapi/v3`, then
falls back to `/openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0
+protobuf`). From the v3 document of a group-version it learns
- whether the server validates fields itself: a PATCH operation carrying
  `x-kubernetes-group-version-kind` of the kind with a `fieldValidation` query parameter
  (then `kubectl apply`/`create` send `fieldValidation=Strict` instead of validating
  client-side);
- strategic-merge-patch metadata (`x-kubernetes-patch-merge-key`/`-strategy`) when the
  PATCH operation accepts `application/strategic-merge-patch+json`;
- the schema `kubectl explain` prints (found by `x-kubernetes-group-version-kind`).

`/openapi/v2` must be served as gnostic protobuf (`v2_protobuf`, Content-Type
`V2_PROTOBUF_CONTENT_TYPE`) when the Accept header asks for it (`wants_v2_protobuf`):
client-go parses nothing else, and kubectl reads it to validate a `kind: List` manifest
client-side (a List has no server-side field validation to discover), for
`explain --output=plaintext-openapiv2`, and whenever `/openapi/v3` fails.
`v2_document` is the same document as JSON for other clients.

Built-in documents are built once per process per set of kinds; CRD kinds add their own
`openAPIV3Schema` and are rebuilt when a cluster's CRDs change (cheap: one schema each).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from app.sim.apiserver.discovery import SERVER_VERSION
from app.sim.apiserver.schema import (
    META_PACKAGE,
    REF_PREFIX,
    V2_SPECIAL_DEFINITIONS,
    SchemaCatalogue,
    builtin_catalogue,
    crd_root_schema,
)
from app.sim.machinery.resources import ResourceRegistry, ResourceType

V3_REF_PREFIX = "#/components/schemas/"
V2_PROTOBUF_MEDIA = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# The Content-Type to answer it with: Go's mime parser rejects the "@" of the Accept form
# ("mime: unexpected content after media subtype", probed with kubectl 1.37).
V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

PATCH_MEDIA_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+cbor",
)
# CRDs take no strategic merge patch upstream (415), so their PATCH lists the others.
CRD_PATCH_MEDIA_TYPES = tuple(m for m in PATCH_MEDIA_TYPES if "strategic" not in m)

# Definitions every group-version document carries besides its kinds.
_COMMON_DEFINITIONS = (
    f"{META_PACKAGE}.Status",
    f"{META_PACKAGE}.DeleteOptions",
    f"{META_PACKAGE}.Patch",
)

_QUERY_PARAMETERS = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is "
    "making these changes.",
    "fieldValidation": "fieldValidation determines how the server should respond to "
    "unknown/duplicate fields in the object in the request. Valid values are: - Ignore - "
    "Warn - Strict.",
    "force": 'Force is going to "force" Apply requests.',
    "pretty": "If 'true', then the output is pretty printed.",
}


def _param(name: str, kind: str = "string") -> dict[str, Any]:
    return {
        "description": _QUERY_PARAMETERS.get(name, name),
        "in": "query",
        "name": name,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _ops_id(verb: str, rt: ResourceType, suffix: str = "") -> str:
    group = "".join(p.capitalize() for p in (rt.group.split(".")[0] or "core").split("-"))
    scope = "Namespaced" if rt.namespaced and verb not in ("list_all",) else ""
    return f"{verb}{group}{rt.version.capitalize()}{scope}{rt.kind}{suffix}"


def _gvk(rt: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _content(ref: str, media: tuple[str, ...] = ("application/json", "application/yaml")):
    return {m: {"schema": {"$ref": ref}} for m in media}


def _operation(
    rt: ResourceType,
    action: str,
    verb: str,
    description: str,
    responses: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation with the extensions kubectl keys on (action, group-version-kind)."""
    op: dict[str, Any] = {
        "description": description,
        "operationId": _ops_id(verb, rt),
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"content": body, "required": True}
    return op


def _resource_paths(rt: ResourceType, definition: str, ref_prefix: str) -> dict[str, Any]:
    """Collection and item paths (v3 shape) of one kind."""
    root = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    collection = f"{root}{scope}/{rt.plural}"
    ref = ref_prefix + definition
    status = {"description": "OK", "content": _content(f"{ref_prefix}{META_PACKAGE}.Status")}
    ok = {"description": "OK", "content": _content(ref)}
    created = {"description": "Created", "content": _content(ref)}
    listed = {"description": "OK", "content": _content(ref_prefix + definition + "List")}
    write_params = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    whole_body = {"*/*": {"schema": {"$ref": ref}}}
    patch_body = {
        m: {"schema": {"$ref": f"{ref_prefix}{META_PACKAGE}.Patch"}}
        for m in (CRD_PATCH_MEDIA_TYPES if rt.custom else PATCH_MEDIA_TYPES)
    }
    ns_params: list[dict[str, Any]] = []
    if rt.namespaced:
        ns_params.append(_path_param("namespace", "object name and auth scope"))
    verbs = set(rt.verbs)
    kind = rt.kind

    coll: dict[str, Any] = {"parameters": [*ns_params, _param("pretty")]}
    if "list" in verbs:
        coll["get"] = _operation(
            rt, "list", "list", f"list or watch objects of kind {kind}", {"200": listed}
        )
    if "create" in verbs:
        coll["post"] = _operation(
            rt,
            "post",
            "create",
            f"create a {kind}",
            {"200": ok, "201": created, "202": {**created, "description": "Accepted"}},
            write_params,
            whole_body,
        )
    if "deletecollection" in verbs:
        coll["delete"] = _operation(
            rt,
            "deletecollection",
            "deleteCollection",
            f"delete collection of {kind}",
            {"200": status},
        )
    one: dict[str, Any] = {
        "parameters": [_path_param("name", f"name of the {kind}"), *ns_params, _param("pretty")]
    }
    if "get" in verbs:
        one["get"] = _operation(rt, "get", "read", f"read the specified {kind}", {"200": ok})
    if "update" in verbs:
        one["put"] = _operation(
            rt,
            "put",
            "replace",
            f"replace the specified {kind}",
            {"200": ok, "201": created},
            write_params,
            whole_body,
        )
    if "patch" in verbs:
        one["patch"] = _operation(
            rt,
            "patch",
            "patch",
            f"partially update the specified {kind}",
            {"200": ok, "201": created},
            [*write_params, _param("force", "boolean")],
            patch_body,
        )
    if "delete" in verbs:
        one["delete"] = _operation(
            rt,
            "delete",
            "delete",
            f"delete a {kind}",
            {"200": status, "202": {**status, "description": "Accepted"}},
            [_param("dryRun")],
        )
    paths: dict[str, Any] = {collection: coll}
    if len(one) > 1:
        paths[collection + "/{name}"] = one
    return paths


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _closure(cat: SchemaCatalogue, roots: list[str]) -> dict[str, dict[str, Any]]:
    """Every definition reachable from `roots` through `$ref`s."""
    out: dict[str, dict[str, Any]] = {}
    stack = [r for r in roots if r in cat.definitions]
    while stack:
        name = stack.pop()
        if name in out:
            continue
        definition = cat.definitions[name]
        out[name] = definition
        for ref in _refs(definition):
            if ref not in out and ref in cat.definitions:
                stack.append(ref)
    return out


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.append(ref[len(REF_PREFIX) :])
        for value in schema.values():
            if isinstance(value, (dict, list)):
                found.extend(_refs(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_refs(value))
    return found


def _crd_definition_name(rt: ResourceType) -> str:
    # Upstream names CRD schemas by reversed group + version + kind.
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


def _crd_definitions(rt: ResourceType) -> dict[str, dict[str, Any]]:
    name = _crd_definition_name(rt)
    root = crd_root_schema(rt.schema or {"type": "object"})
    if rt.schema is None:
        root["x-kubernetes-preserve-unknown-fields"] = True
    root["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    listing = {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": f"{REF_PREFIX}{META_PACKAGE}.ListMeta"},
            "items": {"type": "array", "items": {"$ref": REF_PREFIX + name}},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind_name())],
    }
    return {name: root, name + "List": listing}


def _patch_definition() -> dict[str, Any]:
    return {
        "description": "Patch is provided to give a concrete name and type to the "
        "Kubernetes PATCH request body.",
        "type": "object",
    }


def _group_version_parts(
    registry: ResourceRegistry, group: str, version: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
    """(paths with `#/definitions/` refs, definitions) of one group-version, or None."""
    types = registry.in_group_version(group, version)
    if not types:
        return None
    cat = builtin_catalogue(registry)
    paths: dict[str, Any] = {}
    roots: list[str] = list(_COMMON_DEFINITIONS)
    extra: dict[str, dict[str, Any]] = {f"{META_PACKAGE}.Patch": _patch_definition()}
    for rt in sorted(types, key=lambda r: r.plural):
        if rt.custom:
            crd = _crd_definitions(rt)
            extra.update(crd)
            definition = _crd_definition_name(rt)
            roots.extend(_refs(crd))
        else:
            definition = cat.definition_for(rt.group, rt.version, rt.kind) or ""
            if not definition:
                continue
            roots.append(definition)
            list_definition = cat.definition_for(rt.group, rt.version, rt.list_kind_name())
            if list_definition:
                roots.append(list_definition)
        paths.update(_resource_paths(rt, definition, REF_PREFIX))
    definitions = _closure(cat, roots)
    definitions.update(extra)
    return paths, definitions


def _to_v3(text: str) -> str:
    return text.replace(f'"{REF_PREFIX}', f'"{V3_REF_PREFIX}')


def _type_digest(h: Any, rt: ResourceType) -> None:
    h.update(f"{rt.group}/{rt.version}/{rt.plural}/{rt.kind}/{rt.namespaced}/{rt.verbs}|".encode())
    if rt.custom:
        h.update(json.dumps(rt.schema, sort_keys=True).encode())


def _registry_key(registry: ResourceRegistry) -> str:
    """A digest of every served kind (and CRD schema): the cache key of the v2 document."""
    h = hashlib.sha256()
    for rt in sorted(registry, key=lambda r: (r.group, r.version, r.plural)):
        _type_digest(h, rt)
    return h.hexdigest()[:24]


def _group_version_key(registry: ResourceRegistry, group: str, version: str) -> str:
    """A digest of what one group-version document depends on: its own kinds (and CRD
    schemas) plus the set of built-in kinds the shared catalogue is built from. Clusters
    that differ only in other groups' CRDs share the document."""
    h = hashlib.sha256()
    for rt in sorted(registry, key=lambda r: (r.group, r.version, r.plural)):
        if (rt.group, rt.version) == (group, version):
            _type_digest(h, rt)
        elif not rt.custom:
            h.update(f"{rt.group}/{rt.version}/{rt.kind}|".encode())
    return h.hexdigest()[:24]


class _Keyed:
    """Carries a registry into an lru_cache, compared by its digest only."""

    def __init__(self, registry: ResourceRegistry, key: str) -> None:
        self.registry = registry
        self.key = key

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and other.key == self.key


@functools.lru_cache(maxsize=256)
def _v3_document_cached(keyed: _Keyed, group: str, version: str) -> tuple[bytes, str] | None:
    parts = _group_version_parts(keyed.registry, group, version)
    if parts is None:
        return None
    paths, definitions = parts
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": definitions},
    }
    raw = _to_v3(json.dumps(doc, sort_keys=True, separators=(",", ":"))).encode()
    return raw, hashlib.sha512(raw).hexdigest()[:64].upper()


def _v3_entry(registry: ResourceRegistry, group: str, version: str) -> tuple[bytes, str] | None:
    key = _group_version_key(registry, group, version)
    return _v3_document_cached(_Keyed(registry, key), group, version)


def v3_document(registry: ResourceRegistry, group: str, version: str) -> bytes | None:
    """The `/openapi/v3/apis/{group}/{version}` (or `api/v1`) document as JSON bytes.

    Returns None when the group-version is not served. Cached per group-version content,
    so every cluster without CRDs in that group shares one copy.
    """
    entry = _v3_entry(registry, group, version)
    return entry[0] if entry else None


def v3_hash(registry: ResourceRegistry, group: str, version: str) -> str:
    """The hash a v3 index advertises for a group-version document (its content digest)."""
    entry = _v3_entry(registry, group, version)
    return entry[1] if entry else ""


def warm_up(registry: ResourceRegistry) -> None:
    """Build the schema catalogue and every OpenAPI document now (about a second on first
    use in a process), so the first `kubectl apply` or `explain` does not wait for it."""
    for group, versions in registry.groups().items():
        for version in versions:
            v3_document(registry, group, version)


def v3_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def v3_index(registry: ResourceRegistry, prefix: str = "") -> dict[str, Any]:
    """The `/openapi/v3` index: one entry per served group-version.

    `prefix` is the cluster's URL path (`/clusters/abc`): client-go requests each
    `serverRelativeURL` as an absolute path on the server, ignoring the kubeconfig's
    server path, so the prefix must be part of it.
    """
    paths: dict[str, Any] = {}
    for group, versions in registry.groups().items():
        for version in versions:
            p = v3_path(group, version)
            paths[p] = {
                "serverRelativeURL": f"{prefix}/openapi/v3/{p}?hash="
                + v3_hash(registry, group, version)
            }
    return {"paths": dict(sorted(paths.items()))}


def parse_v3_path(path: str) -> tuple[str, str] | None:
    """`api/v1` -> ("", "v1"); `apis/apps/v1` -> ("apps", "v1"); else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


@functools.lru_cache(maxsize=16)
def _v2_document_cached(registry: _Keyed) -> bytes:
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for group, versions in registry.registry.groups().items():
        for version in versions:
            parts = _group_version_parts(registry.registry, group, version)
            if parts is None:
                continue
            gv_paths, gv_definitions = parts
            for path, item in gv_paths.items():
                paths[path] = _v2_path_item(item)
            definitions.update(gv_definitions)
    doc = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": dict(sorted(paths.items())),
        "definitions": _v2_definitions(definitions),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _v2_definitions(definitions: dict[str, Any]) -> dict[str, Any]:
    out = dict(definitions)
    for name, definition in V2_SPECIAL_DEFINITIONS.items():
        if name in out:
            out[name] = definition
    return dict(sorted(out.items()))


def _v2_path_item(item: dict[str, Any]) -> dict[str, Any]:
    """Turn a v3 path item into its Swagger 2.0 shape (parameters, consumes, schema)."""
    out: dict[str, Any] = {}
    for key, op in item.items():
        if key == "parameters":
            out[key] = [_v2_param(p) for p in op]
            continue
        v2op = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
        params = [_v2_param(p) for p in op.get("parameters", [])]
        body = op.get("requestBody")
        if body:
            media = list(body["content"])
            schema = next(iter(body["content"].values()))["schema"]
            params.append({"in": "body", "name": "body", "required": True, "schema": schema})
            v2op["consumes"] = media
        if params:
            v2op["parameters"] = params
        v2op["produces"] = ["application/json", "application/yaml"]
        v2op["responses"] = {
            code: {
                "description": r["description"],
                "schema": next(iter(r["content"].values()))["schema"],
            }
            for code, r in op["responses"].items()
        }
        v2op["schemes"] = ["https"]
        out[key] = v2op
    return out


def _v2_param(p: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k != "schema"}
    out.update(p.get("schema", {}))
    return out


def v2_document(registry: ResourceRegistry) -> bytes:
    """The `/openapi/v2` Swagger 2.0 document as JSON bytes (cached per set of kinds)."""
    return _v2_document_cached(_Keyed(registry, _registry_key(registry)))


# --- /openapi/v2 as protobuf ------------------------------------------------------------
# client-go asks /openapi/v2 with Accept V2_PROTOBUF_MEDIA only and parses the answer as
# gnostic's openapi_v2.Document (google/gnostic-models openapiv2/OpenAPIv2.proto); kubectl
# 1.37 falls back to it when /openapi/v3 fails and reads it for
# `kubectl explain --output=plaintext-openapiv2`. Field numbers below are that file's.


def _pb_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _pb_bytes(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _pb_varint(number << 3 | 2) + _pb_varint(len(data)) + data


def _pb_bool(number: int, value: bool) -> bytes:
    return _pb_varint(number << 3) + _pb_varint(1) if value else b""


def _pb_named_any(name: str, value: Any) -> bytes:
    # NamedAny{1 name, 2 Any{2 yaml}}: the value as YAML text (JSON is YAML).
    return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(2, json.dumps(value) + "\n"))


def _pb_extensions(number: int, node: dict[str, Any]) -> bytes:
    return b"".join(
        _pb_bytes(number, _pb_named_any(k, v))
        for k, v in sorted(node.items())
        if k.startswith("x-")
    )


def _pb_schema(node: dict[str, Any]) -> bytes:
    """gnostic Schema: 1 _ref, 2 format, 4 description, 19 required, 21
    additional_properties{1 schema}, 22 type{1 value}, 23 items{1 schema}, 24 all_of,
    25 properties{1 NamedSchema{1 name, 2 value}}, 31 vendor_extension."""
    out = b""
    if isinstance(node.get("$ref"), str):
        out += _pb_bytes(1, node["$ref"])
    if isinstance(node.get("format"), str):
        out += _pb_bytes(2, node["format"])
    if isinstance(node.get("description"), str):
        out += _pb_bytes(4, node["description"])
    for name in node.get("required") or []:
        out += _pb_bytes(19, str(name))
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out += _pb_bytes(21, _pb_bytes(1, _pb_schema(additional)))
    elif isinstance(additional, bool):
        out += _pb_bytes(21, _pb_varint(2 << 3) + _pb_varint(int(additional)))
    if isinstance(node.get("type"), str):
        out += _pb_bytes(22, _pb_bytes(1, node["type"]))
    if isinstance(node.get("items"), dict):
        out += _pb_bytes(23, _pb_bytes(1, _pb_schema(node["items"])))
    for sub in node.get("allOf") or []:
        if isinstance(sub, dict):
            out += _pb_bytes(24, _pb_schema(sub))
    props = node.get("properties")
    if isinstance(props, dict) and props:
        named = b"".join(
            _pb_bytes(1, _pb_bytes(1, k) + _pb_bytes(2, _pb_schema(v)))
            for k, v in props.items()
            if isinstance(v, dict)
        )
        out += _pb_bytes(25, named)
    return out + _pb_extensions(31, node)


def _pb_parameter(param: dict[str, Any]) -> bytes:
    """ParametersItem{1 Parameter{1 BodyParameter | 2 NonBodyParameter{3 query | 4 path}}}."""
    if param.get("in") == "body":
        body = (
            _pb_bytes(2, param["name"])
            + _pb_bytes(3, "body")
            + _pb_bool(4, bool(param.get("required")))
            + _pb_bytes(5, _pb_schema(param.get("schema") or {}))
        )
        parameter = _pb_bytes(1, body)
    else:
        # Query and path sub-schemas share these numbers: 1 required, 2 in,
        # 3 description, 4 name, 6 type.
        sub = (
            _pb_bool(1, bool(param.get("required")))
            + _pb_bytes(2, param.get("in", "query"))
            + _pb_bytes(3, param.get("description", ""))
            + _pb_bytes(4, param["name"])
            + _pb_bytes(6, param.get("type", "string"))
        )
        which = 4 if param.get("in") == "path" else 3
        parameter = _pb_bytes(2, _pb_bytes(which, sub))
    return _pb_bytes(1, parameter)


def _pb_operation(op: dict[str, Any]) -> bytes:
    """Operation: 3 description, 5 operation_id, 6 produces, 7 consumes, 8 parameters,
    9 responses{1 NamedResponseValue{1 name, 2 ResponseValue{1 Response{1 description,
    2 SchemaItem{1 schema}}}}}, 10 schemes, 13 vendor_extension."""
    out = _pb_bytes(3, op.get("description", "")) + _pb_bytes(5, op.get("operationId", ""))
    for media in op.get("produces") or []:
        out += _pb_bytes(6, media)
    for media in op.get("consumes") or []:
        out += _pb_bytes(7, media)
    for param in op.get("parameters") or []:
        out += _pb_bytes(8, _pb_parameter(param))
    responses = b""
    for code, response in (op.get("responses") or {}).items():
        inner = _pb_bytes(1, response.get("description", ""))
        if isinstance(response.get("schema"), dict):
            inner += _pb_bytes(2, _pb_bytes(1, _pb_schema(response["schema"])))
        responses += _pb_bytes(1, _pb_bytes(1, code) + _pb_bytes(2, _pb_bytes(1, inner)))
    out += _pb_bytes(9, responses)
    for scheme in op.get("schemes") or []:
        out += _pb_bytes(10, scheme)
    return out + _pb_extensions(13, op)


_PATH_ITEM_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def v2_protobuf_from_json(document: dict[str, Any]) -> bytes:
    """Encode a Swagger 2.0 document (as `v2_document` builds it) as gnostic protobuf."""
    info = document.get("info") or {}
    out = _pb_bytes(1, document.get("swagger", "2.0"))
    out += _pb_bytes(2, _pb_bytes(1, info.get("title", "")) + _pb_bytes(2, info.get("version", "")))
    paths = b""
    for path, item in (document.get("paths") or {}).items():
        encoded = b""
        for verb, number in _PATH_ITEM_FIELDS.items():
            if verb in item:
                encoded += _pb_bytes(number, _pb_operation(item[verb]))
        for param in item.get("parameters") or []:
            encoded += _pb_bytes(9, _pb_parameter(param))
        paths += _pb_bytes(2, _pb_bytes(1, path) + _pb_bytes(2, encoded))
    out += _pb_bytes(8, paths)
    definitions = b"".join(
        _pb_bytes(1, _pb_bytes(1, name) + _pb_bytes(2, _pb_schema(schema)))
        for name, schema in (document.get("definitions") or {}).items()
    )
    return out + _pb_bytes(9, definitions)


@functools.lru_cache(maxsize=16)
def _v2_protobuf_cached(registry: _Keyed) -> bytes:
    return v2_protobuf_from_json(json.loads(_v2_document_cached(registry)))


def v2_protobuf(registry: ResourceRegistry) -> bytes:
    """The `/openapi/v2` document in gnostic protobuf, for `Accept: V2_PROTOBUF_MEDIA`;
    answer it with Content-Type `V2_PROTOBUF_CONTENT_TYPE`."""
    return _v2_protobuf_cached(_Keyed(registry, _registry_key(registry)))


def wants_v2_protobuf(accept: str | None) -> bool:
    """True when an Accept header asks /openapi/v2 for protobuf (client-go always does)."""
    return bool(accept) and "proto-openapi.spec.v2" in (accept or "")

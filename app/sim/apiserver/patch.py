"""The three PATCH body types of the Kubernetes API: JSON patch, merge patch and
strategic merge patch.

`apply_patch` is what the request pipeline calls. The list strategies of built-in
kinds (which lists merge by which key, which are sets, which are atomic) live in
`_STRUCTS` below; server-side apply (`ssa.py`) reads the same table through
`list_info` / `child_struct` so both agree on how an object is shaped.

Sources: RFC 6902 (JSON patch), RFC 7386 (merge patch), and the struct tags
`patchStrategy` / `patchMergeKey` / `+listType` / `+listMapKey` of
k8s.io/api (core/v1, apps/v1, batch/v1 types.go); the directive semantics follow
apimachinery's strategicpatch/patch.go.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Upstream answers a CRD strategic merge patch with 415 listing the accepted types.
_CRD_PATCH_TYPES = f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
# The message of apimachinery's NewGenericServerResponse for a 422 without details.
_REJECTED = "the server rejected our request due to an error in our request"


@dataclass(frozen=True)
class ListInfo:
    """How one list field merges.

    `list_type` is the SSA view (`map`, `set`, `atomic`); `map_keys` the SSA
    `+listMapKey`s; `merge_key` the strategic-merge `patchMergeKey` (None for
    primitive lists); `strategy` the `patchStrategy` ("merge", "replace",
    "merge,retainKeys"); `item` the struct name of the items, if tabled.
    """

    list_type: str
    map_keys: tuple[str, ...] = ()
    merge_key: str | None = None
    strategy: str = "replace"
    item: str | None = None


def _map_list(*keys: str, item: str | None = None, retain: bool = False) -> ListInfo:
    return ListInfo(
        "map",
        keys,
        merge_key=keys[0],
        strategy="merge,retainKeys" if retain else "merge",
        item=item,
    )


_SET = ListInfo("set", strategy="merge")
_CONDITIONS = _map_list("type")

# struct name -> field -> child struct name (str) or ListInfo.
_STRUCTS: dict[str, dict[str, str | ListInfo]] = {
    "ObjectMeta": {
        "finalizers": _SET,
        "ownerReferences": _map_list("uid"),
    },
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {
        "containers": _map_list("name", item="Container"),
        "initContainers": _map_list("name", item="Container"),
        "ephemeralContainers": _map_list("name", item="Container"),
        "volumes": _map_list("name", retain=True),
        "imagePullSecrets": _map_list("name"),
        "hostAliases": _map_list("ip"),
        "schedulingGates": _map_list("name"),
        "resourceClaims": _map_list("name", retain=True),
        "topologySpreadConstraints": ListInfo(
            "map",
            ("topologyKey", "whenUnsatisfiable"),
            merge_key="topologyKey",
            strategy="merge",
        ),
    },
    "Container": {
        # upstream: patchMergeKey containerPort, listMapKey containerPort + protocol
        "ports": ListInfo(
            "map", ("containerPort", "protocol"), merge_key="containerPort", strategy="merge"
        ),
        "env": _map_list("name"),
        "volumeMounts": _map_list("mountPath"),
        "volumeDevices": _map_list("devicePath"),
    },
    "PodStatus": {
        "conditions": _CONDITIONS,
        "podIPs": _map_list("ip"),
        "hostIPs": _map_list("ip"),
    },
    "WorkloadSpec": {"template": "PodTemplateSpec", "strategy": "RetainKeys"},
    "StatusWithConditions": {"conditions": _CONDITIONS},
    "CronJobSpec": {"jobTemplate": "JobTemplateSpec"},
    "JobTemplateSpec": {"metadata": "ObjectMeta", "spec": "WorkloadSpec"},
    "ServiceSpec": {
        "ports": ListInfo("map", ("port", "protocol"), merge_key="port", strategy="merge"),
    },
    "NodeSpec": {"podCIDRs": _SET},
    "NodeStatus": {"conditions": _CONDITIONS, "addresses": _map_list("type")},
    # A struct whose own keys are cleared by `$retainKeys` (DeploymentStrategy).
    "RetainKeys": {},
}


def _root(spec: str, status: str = "StatusWithConditions") -> dict[str, str | ListInfo]:
    return {"metadata": "ObjectMeta", "spec": spec, "status": status}


# (group, kind) -> the struct table of the object's top level.
_ROOTS: dict[tuple[str, str], dict[str, str | ListInfo]] = {
    ("", "Pod"): _root("PodSpec", "PodStatus"),
    ("", "PodTemplate"): {"metadata": "ObjectMeta", "template": "PodTemplateSpec"},
    ("", "ReplicationController"): _root("WorkloadSpec"),
    ("", "Service"): _root("ServiceSpec"),
    ("", "Node"): _root("NodeSpec", "NodeStatus"),
    ("apps", "Deployment"): _root("WorkloadSpec"),
    ("apps", "ReplicaSet"): _root("WorkloadSpec"),
    ("apps", "DaemonSet"): _root("WorkloadSpec"),
    ("apps", "StatefulSet"): _root("WorkloadSpec"),
    ("batch", "Job"): _root("WorkloadSpec"),
    ("batch", "CronJob"): _root("CronJobSpec"),
}
_GENERIC_ROOT: dict[str, str | ListInfo] = _root("", "StatusWithConditions")


def root_struct(group: str, kind: str) -> dict[str, str | ListInfo]:
    """The field table of a kind's top level (metadata, spec, status)."""
    return _ROOTS.get((group, kind), _GENERIC_ROOT)


def child_struct(
    struct: dict[str, str | ListInfo] | None, key: str
) -> dict[str, str | ListInfo] | None:
    """The field table of `key` inside `struct`, or None when it is not tabled."""
    if struct is None:
        return None
    child = struct.get(key)
    if isinstance(child, str):
        return _STRUCTS.get(child)
    return None


def list_info(struct: dict[str, str | ListInfo] | None, key: str) -> ListInfo | None:
    """How the list field `key` of `struct` merges; None for an untabled (atomic) list."""
    if struct is None:
        return None
    child = struct.get(key)
    return child if isinstance(child, ListInfo) else None


def item_struct(info: ListInfo) -> dict[str, str | ListInfo] | None:
    """The field table of the items of a keyed list, or None when not tabled."""
    return _STRUCTS.get(info.item) if info.item else None


# --------------------------------------------------------------------------- entry point


def apply_patch(obj: dict, patch: bytes, content_type: str, rt: ResourceType) -> dict:
    """Apply a PATCH body to `obj` and return the patched copy (`obj` is untouched).

    Raises ApiError 400 for a body that is not JSON or not the shape its type
    needs, 422 when a JSON patch operation cannot be applied, and 415 for an
    unknown content type or a strategic merge patch on a custom resource.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types "
            f"include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}, {STRATEGIC_MERGE_PATCH}",
        )
    if media == STRATEGIC_MERGE_PATCH and rt.custom:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types "
            f"include: {_CRD_PATCH_TYPES}",
        )
    doc = _decode(patch)
    if media == JSON_PATCH:
        result = json_patch(obj, doc)
    elif media == MERGE_PATCH:
        if not isinstance(doc, dict):
            raise ApiError(400, "merge patch must be a JSON object")
        result = merge_patch(obj, doc)
    else:
        if not isinstance(doc, dict):
            raise ApiError(400, "strategic merge patch must be a JSON object")
        result = strategic_merge_patch(obj, doc, root_struct(rt.group, rt.kind))
    if not isinstance(result, dict):
        raise ApiError(400, "the patched object is not a JSON object")
    return result


# Deeper documents are refused before any recursive merge can exhaust the stack;
# no Kubernetes object comes near this.
MAX_DEPTH = 100


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _decode(patch: bytes) -> Any:
    try:
        doc = json.loads(patch)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, f"error decoding patch: {exc}") from None
    if nesting_depth(doc) > MAX_DEPTH:
        raise ApiError(400, f"error decoding patch: nesting deeper than {MAX_DEPTH} levels")
    return doc


# --------------------------------------------------------------------------- RFC 7386


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything
    else (lists included) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- RFC 6902


def _invalid_patch(detail: str, path: str = "") -> ApiError:
    # Upstream wraps a failed JSON patch operation in NewGenericServerResponse(422),
    # whose message hides the detail; kubectl prints "The request is invalid: ...".
    return ApiError(422, _REJECTED, details={"name": "", "group": "", "kind": ""})


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise ApiError(400, f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _invalid_patch(f'doc is missing path: "{path}": missing value', path)
    return node, tokens[-1]


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    node, last = _parent(doc, tokens, path)
    if isinstance(node, dict) and last in node:
        return node[last]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        return node[int(last)]
    raise _invalid_patch(f'doc is missing path: "{path}": missing value', path)


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    node, last = _parent(doc, tokens, path)
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list):
        if last == "-":
            node.append(value)
        elif last.isdigit() and int(last) <= len(node):
            node.insert(int(last), value)
        else:
            raise _invalid_patch(f'add operation index out of bounds: "{path}"', path)
    else:
        raise _invalid_patch(f'doc is missing path: "{path}": missing value', path)
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _invalid_patch("cannot remove the whole document", path)
    node, last = _parent(doc, tokens, path)
    if isinstance(node, dict) and last in node:
        del node[last]
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]
    else:
        raise _invalid_patch(f'doc is missing path: "{path}": missing value', path)
    return doc


def json_patch(obj: dict, operations: Any) -> Any:
    """RFC 6902 JSON patch: a list of add/remove/replace/move/copy/test operations,
    applied in order to a copy of `obj`; fails as a whole."""
    if not isinstance(operations, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = copy.deepcopy(obj)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise ApiError(400, "Unexpected kind: unknown")
        kind = op["op"]
        path = op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _invalid_patch(f"{kind} operation does not apply: missing value", str(path))
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # the target must exist
            if _pointer(path):
                doc = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                if (
                    isinstance(path, str)
                    and isinstance(source, str)
                    and path.startswith(source + "/")
                ):
                    raise _invalid_patch("move operation cannot move into its own child", path)
                doc = _remove(doc, source)
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _invalid_patch(f"testing value {path} failed: test failed", str(path))
        else:
            raise ApiError(400, f"Unexpected kind: {kind}")
    return doc


# --------------------------------------------------------------------------- strategic merge

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class _Deleted:
    """Marker: the map carried `$patch: delete`."""


_DELETED = _Deleted()


def strategic_merge_patch(
    original: dict, patch: dict, struct: dict[str, str | ListInfo] | None
) -> dict:
    """Merge `patch` into a copy of `original` the strategic way for the struct table
    `struct` (see `root_struct`). Raises ApiError 400 on malformed directives."""
    merged = _merge_map(copy.deepcopy(original), patch, struct)
    if merged is _DELETED:
        return {}
    return merged


def _merge_map(
    original: dict, patch: dict, struct: dict[str, str | ListInfo] | None
) -> dict | _Deleted:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive not in (None, "merge"):
        raise ApiError(400, f"Unknown patch type: {directive} in map: {patch}")

    retain = patch.get(_RETAIN_KEYS)
    if retain is not None and not isinstance(retain, list):
        raise ApiError(400, "invalid patch: $retainKeys must be a list of strings")

    orders: dict[str, list] = {}
    deletions: dict[str, list] = {}
    for key, value in patch.items():
        if key.startswith(_SET_ORDER):
            if not isinstance(value, list):
                raise ApiError(400, "invalid patch: $setElementOrder must be a list")
            orders[key[len(_SET_ORDER) :]] = value
        elif key.startswith(_DELETE_PRIMITIVE):
            if not isinstance(value, list):
                raise ApiError(400, "invalid patch: $deleteFromPrimitiveList must be a list")
            deletions[key[len(_DELETE_PRIMITIVE) :]] = value

    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_PRIMITIVE)):
            continue
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        info = list_info(struct, key)
        if isinstance(value, dict):
            child = child_struct(struct, key)
            if not isinstance(current, dict):
                current = {}
            merged = _merge_map(current, value, child)
            if merged is _DELETED:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list) and info is not None and info.strategy != "replace":
            original[key] = _merge_list(current if isinstance(current, list) else [], value, info)
        else:
            original[key] = copy.deepcopy(value)

    for key, values in deletions.items():
        current = original.get(key)
        if isinstance(current, list):
            original[key] = [v for v in current if v not in values]
    for key, order in orders.items():
        current = original.get(key)
        if isinstance(current, list):
            original[key] = _reorder(current, order, list_info(struct, key))
    if retain is not None:
        keep = set(retain)
        for key in list(original):
            if key not in keep:
                del original[key]
    return original


def _merge_list(original: list, patch: list, info: ListInfo) -> list:
    key = info.merge_key
    if key is None:
        # A primitive list with strategy merge (finalizers): a union in order.
        result = list(original)
        for value in patch:
            if isinstance(value, dict) and value.get(_DIRECTIVE) == "replace":
                return [v for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)]
            if value not in result:
                result.append(copy.deepcopy(value))
        return result
    if any(isinstance(v, dict) and v.get(_DIRECTIVE) == "replace" for v in patch):
        return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)]

    result = [copy.deepcopy(v) for v in original]
    struct = item_struct(info)
    for item in patch:
        if not isinstance(item, dict):
            raise ApiError(400, f"invalid patch: list items must be objects with key {key!r}")
        if key not in item:
            raise ApiError(400, f"map: {item} does not contain declared merge key: {key}")
        match = next(
            (i for i, v in enumerate(result) if isinstance(v, dict) and v.get(key) == item[key]),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if match is not None:
                del result[match]
            continue
        if match is None:
            added = _merge_map({}, item, struct)
            if added is not _DELETED:
                result.append(added)
        else:
            merged = _merge_map(result[match], item, struct)
            if merged is _DELETED:
                del result[match]
            else:
                result[match] = merged
    return result


def _reorder(items: list, order: list, info: ListInfo | None) -> list:
    """`$setElementOrder`: items named in `order` come in that order; others keep
    their place after them."""
    key = info.merge_key if info else None

    def ident(v: Any) -> str:
        if key is not None and isinstance(v, dict):
            v = v.get(key)
        return json.dumps(v, sort_keys=True)

    rank = {ident(o): i for i, o in enumerate(order)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda p: (rank.get(ident(p[1]), len(rank)), p[0]))
    return [v for _, v in indexed]

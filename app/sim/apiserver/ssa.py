"""Server-side apply and field ownership (`metadata.managedFields`).

Every write records which field manager set which fields, in the `FieldsV1` format
of structured-merge-diff (`f:<field>`, `k:<json key>` for items of keyed lists,
`v:<json value>` for items of sets, `.` for a node that is itself owned).
`apply` merges an applied configuration into the live object and refuses with 409
when it would change a field another manager owns, unless forced; `record_update`
keeps ownership right for create, update and patch.

List shapes come from the strategic-merge table in `patch.py` (keyed lists such as
containers by name, sets such as finalizers; untabled lists are atomic).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from app.sim.apiserver import patch as smp
from app.sim.machinery.errors import ApiError, FieldCause
from app.sim.machinery.resources import shared_builtin_registry

Path = tuple[tuple[str, Any], ...]
Struct = dict[str, Any] | None

# Fields the API server never records ownership for (apiserver fieldmanager strips
# them before computing field sets).
_IGNORED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
# Non-pointer structs of built-in kinds: they never show a `.` of their own.
_PLAIN_STRUCTS = frozenset({"metadata", "spec", "status", "template", "jobTemplate"})
# Defaults of list-map keys: SSA keys container ports by containerPort + protocol
# even when the applied configuration leaves protocol out (core/v1 defaults TCP).
_MAP_KEY_DEFAULTS = {"protocol": "TCP"}
_MISSING = object()


# --------------------------------------------------------------------------- field sets


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _item_key(item: dict, keys: tuple[str, ...]) -> str:
    key = {}
    for k in keys:
        if k in item:
            key[k] = item[k]
        elif k in _MAP_KEY_DEFAULTS:
            key[k] = _MAP_KEY_DEFAULTS[k]
    return _canonical(key)


def _struct_for(obj: dict) -> Struct:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return smp.root_struct(group, str(obj.get("kind", "")))


def has_status_subresource(obj: dict) -> bool:
    """Whether the object's built-in kind serves `/status` (then writes to the main
    resource never own status fields, and status writes own nothing else)."""
    rt = shared_builtin_registry().by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    return rt is not None and "status" in rt.subresources


def field_set(obj: dict, *, markers: bool = False, scope: str = "all") -> set[Path]:
    """The owned-field paths of an object: every leaf, plus every item of a keyed
    list (and, with `markers`, every map node, as Update operations record them).
    `scope` "main" leaves status out, "status" keeps only status (upstream's reset
    fields of the main resource and of the status subresource)."""
    out: set[Path] = set()
    top = _struct_for(obj)
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if (scope == "main" and key == "status") or (scope == "status" and key != "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _IGNORED_METADATA}
            if meta:  # name and namespace alone are nobody's fields
                _collect(
                    meta, (("f", "metadata"),), smp.child_struct(top, "metadata"), out, markers
                )
            continue
        _collect_field(value, (), top, key, out, markers)
    return out


def _collect_field(value: Any, prefix: Path, struct: Struct, key: str, out: set, mk: bool) -> None:
    path = (*prefix, ("f", key))
    if isinstance(value, dict):
        if mk and value and key not in _PLAIN_STRUCTS:
            out.add(path)
        _collect(value, path, smp.child_struct(struct, key), out, mk)
    elif isinstance(value, list):
        info = smp.list_info(struct, key)
        if info is None or info.list_type == "atomic" or not value:
            out.add(path)
        elif info.list_type == "set":
            for item in value:
                out.add((*path, ("v", _canonical(item))))
        else:
            item_struct = smp.item_struct(info)
            for item in value:
                if not isinstance(item, dict):
                    out.add(path)
                    continue
                item_path = (*path, ("k", _item_key(item, info.map_keys)))
                out.add(item_path)
                for k, v in item.items():
                    _collect_field(v, item_path, item_struct, k, out, mk)
    else:
        out.add(path)


def _collect(value: dict, path: Path, struct: Struct, out: set, mk: bool) -> None:
    if not value:
        out.add(path)
        return
    for key, child in value.items():
        _collect_field(child, path, struct, key, out, mk)


def _leaves(paths: set[Path]) -> set[Path]:
    """Paths with no owned descendants (the values that can conflict)."""
    prefixes = {p[:i] for p in paths for i in range(1, len(p))}
    return {p for p in paths if p not in prefixes}


def to_fields_v1(paths: set[Path]) -> dict:
    """Render a field set as a FieldsV1 tree."""
    tree: dict = {}
    prefixes = {p[:i] for p in paths for i in range(1, len(p))}
    for path in sorted(paths, key=_path_sort_key):
        node = tree
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
        if path in prefixes:
            node["."] = {}
    return _sort_tree(tree)


def _sort_tree(tree: dict) -> dict:
    return {k: _sort_tree(v) for k, v in sorted(tree.items())}


def _path_sort_key(path: Path) -> tuple:
    return tuple((k, str(v)) for k, v in path)


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    """Parse a FieldsV1 tree back into a field set; malformed parts are skipped."""
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    if prefix and (not tree or "." in tree):
        out.add(prefix)
    for key, child in tree.items():
        if key == "." or not isinstance(key, str) or ":" not in key:
            continue
        kind, name = key.split(":", 1)
        if kind in ("k", "v"):
            try:
                name = _canonical(json.loads(name))
            except ValueError:
                continue
        elif kind == "i":
            if not name.isdigit():
                continue
            name = int(name)
        elif kind != "f":
            continue
        out |= from_fields_v1(child, (*prefix, (kind, name)))
    return out


def path_string(path: Path) -> str:
    """A field path as structured-merge-diff prints it: `.spec.containers[name="a"].image`."""
    out = []
    for kind, name in path:
        if kind == "f":
            out.append(f".{name}")
        elif kind == "k":
            key = json.loads(name)
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        elif kind == "v":
            out.append(f"[={name}]")
        else:
            out.append(f"[{name}]")
    return "".join(out)


# --------------------------------------------------------------------------- navigation


def _step(node: Any, element: tuple[str, Any]) -> Any:
    kind, name = element
    if kind == "f":
        return node.get(name, _MISSING) if isinstance(node, dict) else _MISSING
    if isinstance(node, list):
        if kind == "k":
            key = json.loads(name)
            for item in node:
                if isinstance(item, dict) and all(
                    item.get(k, _MAP_KEY_DEFAULTS.get(k)) == v for k, v in key.items()
                ):
                    return item
        elif kind == "v":
            value = json.loads(name)
            return value if value in node else _MISSING
        elif kind == "i" and name < len(node):
            return node[name]
    return _MISSING


def value_at(obj: Any, path: Path) -> Any:
    """The value at a field path, or the `_MISSING` marker when absent."""
    node = obj
    for element in path:
        node = _step(node, element)
        if node is _MISSING:
            return _MISSING
    return node


def _remove_path(obj: Any, path: Path) -> None:
    parent = value_at(obj, path[:-1])
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif isinstance(parent, list):
        target = _step(parent, path[-1])
        if target is not _MISSING:
            parent[:] = [v for v in parent if v is not target and not (kind == "v" and v == target)]


# --------------------------------------------------------------------------- managers


def _entries(obj: dict | None) -> list[dict]:
    if not obj:
        return []
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return [copy.deepcopy(e) for e in entries if isinstance(e, dict) and e.get("manager")]


def _entry_set(entry: dict) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _manager_label(entry: dict) -> str:
    # apiserver fieldmanager printManager: Update managers show their apiVersion.
    label = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        label += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        label += f" using {entry.get('apiVersion', '')}"
    return label


def _make_entry(
    manager: str, operation: str, api_version: str, now: str, paths: set[Path], sub: str
) -> dict:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if sub:
        entry["subresource"] = sub
    return entry


def default_manager(field_manager: str | None, user_agent: str | None) -> str:
    """The field manager of a non-apply write: the `fieldManager` query parameter, or
    the program name of the User-Agent as upstream (`kubectl-edit/v1.37.0 ...` ->
    `kubectl-edit`). Raises ApiError 400 for an apply without a manager."""
    if field_manager:
        if len(field_manager) > 128:
            raise ApiError(400, "fieldManager: Too long: may not be longer than 128")
        return field_manager
    agent = (user_agent or "").split("/", 1)[0].strip()
    return agent[:128] or "unknown"


def _conflict_error(conflicts: list[tuple[dict, Path]]) -> ApiError:
    causes = [
        FieldCause(path_string(p), f"conflict with {_manager_label(e)}", "FieldManagerConflict")
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_label(entry)}: "
            f"{path_string(path)}"
        )
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_label(entry), []).append(path_string(path))
        lines = []
        for label in sorted(by_manager):
            lines.append(f"conflicts with {label}:")
            lines.extend(f"- {p}" for p in sorted(by_manager[label]))
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, reason="Conflict", causes=causes)


# --------------------------------------------------------------------------- merge


def _merge(live: Any, applied: Any, struct: Struct) -> Any:
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    result = copy.deepcopy(live)
    for key, value in applied.items():
        current = result.get(key, _MISSING)
        info = smp.list_info(struct, key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = _merge(current, value, smp.child_struct(struct, key))
        elif isinstance(value, list) and isinstance(current, list) and info is not None:
            result[key] = _merge_list(current, value, info)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(live: list, applied: list, info: smp.ListInfo) -> list:
    if info.list_type == "set":
        return list(live) + [copy.deepcopy(v) for v in applied if v not in live]
    if info.list_type != "map":
        return copy.deepcopy(applied)
    result = copy.deepcopy(live)
    index = {
        _item_key(item, info.map_keys): i for i, item in enumerate(result) if isinstance(item, dict)
    }
    for item in applied:
        if not isinstance(item, dict):
            continue
        key = _item_key(item, info.map_keys)
        if key in index:
            result[index[key]] = _merge(result[index[key]], item, smp.item_struct(info))
        else:
            index[key] = len(result)
            result.append(copy.deepcopy(item))
    return result


# --------------------------------------------------------------------------- public API


def apply(live: dict | None, applied: dict, manager: str, force: bool, now: str) -> dict:
    """Server-side apply `applied` (the decoded apply-patch body) by `manager` onto
    `live` (None for a create) and return the new object with its managedFields.

    Raises ApiError 400 when the configuration is not an object with apiVersion,
    kind and metadata.name, or no manager is given, and 409 (reason Conflict,
    one FieldManagerConflict cause per field) when another manager owns a field
    the configuration would change, unless `force` takes those fields over.
    """
    if not isinstance(applied, dict):
        raise ApiError(400, "the apply configuration must be a JSON or YAML object")
    if smp.nesting_depth(applied) > smp.MAX_DEPTH:
        raise ApiError(400, f"the apply configuration nests deeper than {smp.MAX_DEPTH} levels")
    if not manager:
        raise ApiError(
            400,
            "PATCH request with apply content type requires a fieldManager query parameter",
        )
    for required in ("apiVersion", "kind"):
        if not applied.get(required):
            raise ApiError(400, f"Object '{required.capitalize()}' is missing in apply body")
    meta = applied.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ApiError(400, "metadata.name: Required value: name is required")

    api_version = str(applied["apiVersion"])
    config = copy.deepcopy(applied)
    config["metadata"].pop("managedFields", None)
    scope = "main" if has_status_subresource(config) else "all"
    if scope == "main":
        config.pop("status", None)
    applied_set = field_set(config, scope=scope)
    entries = _entries(live)
    mine = next(
        (e for e in entries if e["manager"] == manager and e.get("operation") == "Apply"),
        None,
    )
    others = [e for e in entries if e is not mine]

    base = copy.deepcopy(live) if live is not None else {}
    conflicts: list[tuple[dict, Path]] = []
    leaves = _leaves(applied_set)
    other_sets = [(e, _entry_set(e)) for e in others]
    for entry, owned in other_sets:
        for path in sorted(leaves & owned, key=_path_sort_key):
            if value_at(base, path) != value_at(config, path):
                conflicts.append((entry, path))
    if conflicts and not force:
        raise _conflict_error(conflicts)

    forced = {id(e): {p for e2, p in conflicts if e2 is e} for e, _ in other_sets}
    other_sets = [(e, owned - forced[id(e)]) for e, owned in other_sets]
    still_owned = set().union(*(owned for _, owned in other_sets)) if other_sets else set()

    struct = _struct_for(config)
    result = _merge(base, config, struct)
    if mine is not None:
        dropped = _entry_set(mine) - applied_set
        owned_prefixes = {p[:i] for p in still_owned | applied_set for i in range(1, len(p) + 1)}
        # Parents first: a removed list item takes its fields with it (removing the
        # fields first would lose the key that finds the item).
        for path in sorted(dropped, key=len):
            if path not in owned_prefixes:
                _remove_path(result, path)

    new_entries = [{**e, "fieldsV1": to_fields_v1(owned)} for e, owned in other_sets if owned]
    new_entries.append(_make_entry(manager, "Apply", api_version, now, applied_set, ""))
    result.setdefault("metadata", {})["managedFields"] = new_entries
    return result


def record_update(
    old: dict | None,
    new: dict,
    manager: str,
    operation: str,
    now: str,
    subresource: str = "",
) -> dict:
    """Return `new` with managedFields updated for a create/update/patch by `manager`.

    The manager takes ownership of every field it added or changed (taking it away
    from other managers, as upstream: updates never conflict); removed fields leave
    every manager's set. A client that sends its own changed managedFields keeps
    them (a list holding one empty entry clears them, as upstream).
    """
    result = copy.deepcopy(new)
    meta = result.setdefault("metadata", {})
    sent = meta.get("managedFields")
    old_entries = _entries(old)
    previous = (old or {}).get("metadata", {}).get("managedFields")
    if isinstance(sent, list) and sent and sent != previous:
        meta["managedFields"] = [e for e in sent if isinstance(e, dict) and e.get("manager")]
        if not meta["managedFields"]:
            del meta["managedFields"]
        return result

    api_version = str(result.get("apiVersion", ""))
    scope = "all"
    if has_status_subresource(result):
        scope = "status" if subresource == "status" else "main"
    new_set = field_set(result, markers=True, scope=scope)
    if old is None:
        changed = new_set
        removed: set[Path] = set()
    else:
        old_set = field_set(old, markers=True, scope=scope)
        changed = {
            p for p in new_set if p not in old_set or value_at(old, p) != value_at(result, p)
        }
        # A changed leaf also changes ownership of nothing above it; keep markers
        # only for nodes that are new.
        new_leaves = _leaves(new_set)
        changed = {p for p in changed if p not in old_set or p in new_leaves}
        removed = old_set - new_set

    entries = []
    mine_set: set[Path] = set()
    for entry in old_entries:
        owned = _entry_set(entry) - removed
        if (
            entry["manager"] == manager
            and entry.get("operation") == operation
            and entry.get("subresource", "") == subresource
        ):
            mine_set = owned
            continue
        owned -= changed
        if owned:
            entries.append({**entry, "fieldsV1": to_fields_v1(owned)})
    mine_set |= changed
    if mine_set:
        entries.append(_make_entry(manager, operation, api_version, now, mine_set, subresource))
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return result

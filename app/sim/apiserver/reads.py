"""The read verbs (get and list, with paging tokens) and output negotiation:
JSON, YAML, protobuf and `meta.k8s.io/v1` Tables through the printers.
"""

from __future__ import annotations

import base64
import binascii
import json
import weakref
from typing import Any

from app.sim.apiserver import metrics_api, printers
from app.sim.apiserver.printers.cache import RowCache
from app.sim.apiserver.request import (
    ApiResponse,
    EncodedJson,
    RequestContext,
    _int_param,
    with_array,
)
from app.sim.machinery.errors import ApiError, not_found
from app.sim.machinery.resources import ResourceType
from app.sim.machinery.selectors import (
    parse_field_selector,
    parse_label_selector,
)
from app.sim.machinery.store import EVENTS_V1, ObjectStore, RawListPage

# ---- reads -----------------------------------------------------------------------------


def _list_body(
    rt: ResourceType, items: list[dict], rv: int, cont: str = "", remaining: int = 0
) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
        if remaining:
            meta["remainingItemCount"] = remaining
    return {
        "kind": rt.list_kind_name(),
        "apiVersion": rt.api_version,
        "metadata": meta,
        "items": items,
    }


def encode_continue(rv: int, after: tuple[str, str]) -> str:
    # Upstream's token: base64 JSON {"v":"meta.k8s.io/v1","rv":N,"start":"KEY\x00"}.
    start = f"{after[0]}/{after[1]}" if after[0] else after[1]
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str, namespaced: bool) -> tuple[str, str]:
    """The (namespace, name) to continue after; 400 on a malformed token."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        start = str(data["start"]).rstrip("\x00")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, f"continue key is not valid: {token}") from None
    if namespaced and "/" in start:
        ns, _, name = start.partition("/")
        return ns, name
    return "", start


COMPONENT_STATUS_WARNING = "v1 ComponentStatus is deprecated in v1.19+"


def _component_statuses(ctx: RequestContext) -> list[dict[str, Any]]:
    ctx.warnings.append(COMPONENT_STATUS_WARNING)
    return ctx.cluster.component_statuses()


def get(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    if rt.group == metrics_api.GROUP:
        return metrics_api.get(ctx)
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        found = [c for c in _component_statuses(ctx) if c["metadata"]["name"] == ctx.name]
        if not found:
            raise not_found(rt.plural, ctx.name)
        return ApiResponse(200, render_objects(ctx, found, single=True))
    obj = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if obj is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    return ApiResponse(200, render_objects(ctx, [obj], single=True))


def list_objects(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    if rt.group == metrics_api.GROUP:
        return metrics_api.list_metrics(ctx)
    query = ctx.request.query
    limit = _int_param(query.get("limit"), "limit")
    after = decode_continue(query["continue"], rt.namespaced) if query.get("continue") else None
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
        items = [
            c
            for c in _component_statuses(ctx)
            if labels.matches(c["metadata"].get("labels")) and fields.matches(c)
        ]
        return ApiResponse(200, render_objects(ctx, items, rv=ctx.store.resource_version))
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
    if _encodes_raw(ctx):
        raw = ctx.store.list_raw_page(
            rt.group, rt.plural, ctx.namespace, labels, fields, limit=limit, after=after
        )
        complete = not (ctx.namespace or after or raw.next_after)
        complete = complete and labels.empty() and fields.empty()
        return ApiResponse(200, _encoded_list(ctx, raw, complete))
    page = ctx.store.list_page(
        rt.group, rt.plural, ctx.namespace, labels, fields, limit=limit, after=after
    )
    cont = encode_continue(page.resource_version, page.next_after) if page.next_after else ""
    body = render_objects(
        ctx, page.items, rv=page.resource_version, cont=cont, remaining=page.remaining
    )
    return ApiResponse(200, body)


def _encodes_raw(ctx: RequestContext) -> bool:
    """Whether a list is answered from the stored bytes (`_encoded_list`): plain JSON,
    or a Table of a built-in kind; not v1 Events (converted from core ones)."""
    rt = ctx.rt
    assert rt is not None
    if (rt.group, rt.plural) == EVENTS_V1:
        return False
    mode = accepted_as(ctx.request.headers.get("Accept"))
    if mode == "JSON":
        return True
    include = ctx.request.query.get("includeObject") or "Metadata"
    return mode == "Table" and not rt.custom and include in ("None", "Metadata", "Object")


def _encoded_list(ctx: RequestContext, page: RawListPage, complete: bool) -> EncodedJson:
    """A list or Table body built from stored bytes and cached rows, byte for byte what
    `render_objects` encodes from the decoded objects."""
    rt = ctx.rt
    assert rt is not None
    meta: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
    if page.next_after:
        meta["continue"] = encode_continue(page.resource_version, page.next_after)
        if page.remaining:
            meta["remainingItemCount"] = page.remaining
    if accepted_as(ctx.request.headers.get("Accept")) == "JSON":
        head = {"kind": rt.list_kind_name(), "apiVersion": rt.api_version, "metadata": meta}
        return EncodedJson(with_array(head, "items", (raw for _, raw, _ in page.items)))
    rows = _row_cache(ctx.store).rows(
        rt,
        page.items,
        now=ctx.cluster.clock.now(),
        include_object=ctx.request.query.get("includeObject") or "Metadata",
        complete=complete,
    )
    table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": printers.columns_for(rt),
    }
    return EncodedJson(with_array(table, "rows", rows))


_ROW_CACHES: weakref.WeakKeyDictionary[ObjectStore, RowCache] = weakref.WeakKeyDictionary()


def _row_cache(store: ObjectStore) -> RowCache:
    cache = _ROW_CACHES.get(store)
    if cache is None:
        cache = _ROW_CACHES.setdefault(store, RowCache())
    return cache


# ---- output negotiation ------------------------------------------------------------------


def accepted_as(accept: str | None) -> str:
    """Which rendering the Accept header asks for: Table, PartialObjectMetadata or JSON."""
    for part in (accept or "").split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "g=meta.k8s.io" in params:
            if "as=Table" in params:
                return "Table"
            if "as=PartialObjectMetadataList" in params or "as=PartialObjectMetadata" in params:
                return "PartialObjectMetadata"
    return "JSON"


def render_objects(
    ctx: RequestContext,
    items: list[dict[str, Any]],
    *,
    single: bool = False,
    rv: int | None = None,
    cont: str = "",
    remaining: int = 0,
) -> dict[str, Any]:
    """Objects as the client asked: a Table, PartialObjectMetadata(List) or plain JSON."""
    rt = ctx.rt
    assert rt is not None
    mode = accepted_as(ctx.request.headers.get("Accept"))
    if mode == "Table":
        table = to_table(ctx, items)
        meta = table.setdefault("metadata", {})
        if not single:
            meta["resourceVersion"] = str(rv if rv is not None else ctx.store.resource_version)
            if cont:
                meta["continue"] = cont
                if remaining:
                    meta["remainingItemCount"] = remaining
        return table
    if mode == "PartialObjectMetadata":
        partial = [
            {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata", {}),
            }
            for o in items
        ]
        if single:
            return partial[0]
        meta = {"resourceVersion": str(rv if rv is not None else 0)}
        if cont:
            meta["continue"] = cont
        return {
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": partial,
        }
    if single:
        return items[0]
    return _list_body(rt, items, rv if rv is not None else 0, cont, remaining)


def to_table(ctx: RequestContext, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table through the printers module."""
    rt = ctx.rt
    assert rt is not None
    include = ctx.request.query.get("includeObject") or "Metadata"
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        return _component_status_table(items, include)
    now = ctx.cluster.clock.now()
    columns = None
    if rt.custom:
        # A custom resource prints its CRD version's additionalPrinterColumns.
        crd = ctx.store.get(
            "apiextensions.k8s.io", "customresourcedefinitions", None, f"{rt.plural}.{rt.group}"
        )
        columns = printers.crd_printer_columns(crd, rt.version)
    return printers.to_table(rt, items, now=now, include_object=include, printer_columns=columns)


def _component_status_table(items: list[dict[str, Any]], include: str) -> dict[str, Any]:
    """Upstream's ComponentStatus columns: NAME STATUS MESSAGE ERROR."""
    rows = []
    for obj in items:
        condition = (obj.get("conditions") or [{}])[0]
        status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
        row_obj = (
            obj
            if include == "Object"
            else {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        )
        rows.append(
            {
                "cells": [
                    obj["metadata"]["name"],
                    status,
                    condition.get("message", ""),
                    condition.get("error", ""),
                ],
                "object": row_obj,
            }
        )
    columns = [
        ("Name", "string", "name"),
        ("Status", "string", ""),
        ("Message", "string", ""),
        ("Error", "string", ""),
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": n, "priority": 0}
            for n, t, f in columns
        ],
        "rows": rows,
    }

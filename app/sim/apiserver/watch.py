"""Planning a watch request: authentication, authorization and parameters are
checked up front (`plan_watch`); the HTTP adapter streams the store's events, rendered
by `watch_object` and `bookmark_object`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.sim.apiserver import hpa_v1
from app.sim.apiserver.reads import accepted_as, to_table
from app.sim.apiserver.request import ApiRequest, RequestContext, _int_param, _truthy, resolve_type
from app.sim.apiserver.stages import authenticate, authorize
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError, FieldCause, invalid
from app.sim.machinery.resources import ResourceType
from app.sim.machinery.selectors import (
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)

# ---- watch planning ------------------------------------------------------------------------


@dataclass
class WatchPlan:
    """A validated watch request the HTTP adapter streams."""

    ctx: RequestContext
    rt: ResourceType
    label_selector: LabelSelector
    field_selector: Any
    resource_version: int | None
    send_initial: bool
    bookmarks: bool
    timeout: float
    as_table: bool


# A watch without timeoutSeconds lasts the API server's --min-request-timeout (1800 s)
# times a random factor in [1, 2) upstream; a fixed 1800 s here.
DEFAULT_WATCH_TIMEOUT = 1800.0


def plan_watch(cluster: Cluster, req: ApiRequest) -> WatchPlan:
    """Authenticate, authorize and parse a watch request; raises ApiError."""
    ctx = RequestContext(cluster, req)
    rt = resolve_type(cluster, req)
    ctx.rt = rt
    authenticate(ctx)
    authorize(ctx)
    if "watch" not in rt.verbs:
        raise ApiError(
            405,
            "the server does not allow this method on the requested resource",
            reason="MethodNotAllowed",
            details={},
        )
    query = req.query
    fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
    labels = parse_label_selector(query.get("labelSelector"))
    rv_text = query.get("resourceVersion")
    send_initial = _truthy(query.get("sendInitialEvents"))
    rv: int | None
    if rv_text in (None, "", "0"):
        rv = None
    else:
        try:
            rv = int(rv_text)
        except ValueError:
            raise ApiError(400, f"invalid resource version: {rv_text}") from None
    if send_initial and query.get("resourceVersionMatch") not in (None, "", "NotOlderThan"):
        raise invalid(
            "ListOptions",
            "",
            [
                FieldCause(
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                    "NotOlderThan",
                    "FieldValueForbidden",
                )
            ],
            "meta.k8s.io",
        )
    timeout = DEFAULT_WATCH_TIMEOUT
    if query.get("timeoutSeconds"):
        timeout = float(_int_param(query.get("timeoutSeconds"), "timeoutSeconds"))
    return WatchPlan(
        ctx=ctx,
        rt=rt,
        label_selector=labels,
        field_selector=fields,
        resource_version=rv,
        send_initial=send_initial or rv is None,
        bookmarks=_truthy(query.get("allowWatchBookmarks")),
        timeout=timeout,
        as_table=accepted_as(req.headers.get("Accept")) == "Table",
    )


def watch_object(plan: WatchPlan, obj: dict[str, Any]) -> dict[str, Any]:
    """The object of one watch event, as a one-row Table when the client asked for one."""
    if not plan.as_table:
        if hpa_v1.applies(plan.rt) and obj.get("kind") == hpa_v1.KIND:
            return hpa_v1.to_v1(obj)  # stored as v2
        return obj
    table = to_table(plan.ctx, [obj])
    table.setdefault("metadata", {})["resourceVersion"] = obj.get("metadata", {}).get(
        "resourceVersion", ""
    )
    return table


def bookmark_object(plan: WatchPlan, rv: int, initial_end: bool) -> dict[str, Any]:
    """A BOOKMARK event's object; `initial_end` marks the end of WatchList's initial events."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    if plan.as_table:
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "columnDefinitions": None,
            "rows": None,
        }
    return {"kind": plan.rt.kind, "apiVersion": plan.rt.api_version, "metadata": meta}

"""Printers for Events, PodDisruptionBudgets, RBAC bindings, Leases, PriorityClasses,
ResourceQuotas, ControllerRevisions, webhooks and PodTemplates, and the default table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sim.apiserver.printers.format import (
    AGE_COL,
    CREATED_AT_COL,
    NAME_COL,
    NAME_DESCRIPTION,
    Obj,
    Row,
    _age,
    _created_at,
    _int,
    _int_or_string,
    _meta,
    _name,
    _spec,
    _status,
    col,
    containers_cells,
    format_labels,
    since,
)


def _event_fields(obj: Obj) -> dict[str, Any]:
    """The core/v1 view of an Event of either API group (events.k8s.io renames fields)."""
    if obj.get("apiVersion") == "events.k8s.io/v1" or "regarding" in obj or "note" in obj:
        return {
            "involvedObject": obj.get("regarding") or {},
            "message": obj.get("note") or "",
            "source": obj.get("deprecatedSource") or {},
            "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
            "lastTimestamp": obj.get("deprecatedLastTimestamp"),
            "count": obj.get("deprecatedCount"),
            "eventTime": obj.get("eventTime"),
            "series": obj.get("series"),
            "type": obj.get("type", ""),
            "reason": obj.get("reason", ""),
            "reportingController": obj.get("reportingController", ""),
            "reportingInstance": obj.get("reportingInstance", ""),
        }
    return {
        "involvedObject": obj.get("involvedObject") or {},
        "message": obj.get("message") or "",
        "source": obj.get("source") or {},
        "firstTimestamp": obj.get("firstTimestamp"),
        "lastTimestamp": obj.get("lastTimestamp"),
        "count": obj.get("count"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "type": obj.get("type", ""),
        "reason": obj.get("reason", ""),
        "reportingController": obj.get("reportingComponent", ""),
        "reportingInstance": obj.get("reportingInstance", ""),
    }


def _event_row(obj: Obj, now: datetime) -> Row:
    e = _event_fields(obj)
    first = since(e["firstTimestamp"], now) if e["firstTimestamp"] else since(e["eventTime"], now)
    last = since(e["lastTimestamp"], now) if e["lastTimestamp"] else first
    count = _int(e["count"])
    series = e["series"]
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        # Singleton events of the new API carry no count.
        count = 1
    involved = e["involvedObject"]
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = e["source"].get("component") or e["reportingController"]
    instance = e["source"].get("host") or e["reportingInstance"]
    source = f"{component}, {instance}" if instance else component
    cells = [
        last,
        e["type"],
        e["reason"],
        target,
        involved.get("fieldPath", ""),
        source,
        e["message"].strip(),
        first,
        count,
        _name(obj),
    ]
    return cells, None


EVENT_COLUMNS = [
    col(
        "Last Seen",
        description="The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        description="Type of this event (Normal, Warning), new types could be added in the future.",
    ),
    col(
        "Reason",
        description="This should be a short, machine understandable string that "
        "gives the reason for the transition into the object's current status.",
    ),
    col("Object", description="The object that this event is about."),
    col("Subobject", description="The subobject that this event is about.", priority=1),
    col(
        "Source",
        description="The component reporting this event. Should be a short machine "
        "understandable string.",
        priority=1,
    ),
    col("Message", description="A human-readable description of the status of this operation."),
    col("First Seen", description="The time at which the event was first recorded.", priority=1),
    col("Count", "integer", "The number of times this event has occurred.", priority=1),
    col("Name", "string", NAME_DESCRIPTION, priority=1, format_="name"),
]


def _pdb_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    cells = [
        _name(obj),
        _int_or_string(spec.get("minAvailable")),
        _int_or_string(spec.get("maxUnavailable")),
        _int(status.get("disruptionsAllowed")),
        _age(obj, now),
    ]
    return cells, None


PDB_COLUMNS = [
    NAME_COL,
    col(
        "Min Available",
        description="The minimum number of pods that must be available simultaneously.",
    ),
    col(
        "Max Unavailable",
        description="The maximum number of pods that may be unavailable simultaneously.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE_COL,
]


def _created_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _created_at(obj)], None


CREATED_COLUMNS = [NAME_COL, CREATED_AT_COL]


def _binding_row(obj: Obj, now: datetime) -> Row:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in obj.get("subjects") or []:
        kind = subject.get("kind")
        if kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
    cells = [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]
    return cells, None


BINDING_COLUMNS = [
    NAME_COL,
    col("Role", description="Role referenced by this binding."),
    AGE_COL,
    col("Users", description="Users in the binding.", priority=1),
    col("Groups", description="Groups in the binding.", priority=1),
    col("ServiceAccounts", description="ServiceAccounts in the binding.", priority=1),
]


def _lease_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _spec(obj).get("holderIdentity") or "", _age(obj, now)], None


LEASE_COLUMNS = [
    NAME_COL,
    col(
        "Holder",
        description="holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE_COL,
]


def _priorityclass_row(obj: Obj, now: datetime) -> Row:
    cells = [
        _name(obj),
        _int(obj.get("value")),
        bool(obj.get("globalDefault")),
        _age(obj, now),
        obj.get("preemptionPolicy") or "PreemptLowerPriority",
    ]
    return cells, None


PRIORITYCLASS_COLUMNS = [
    NAME_COL,
    col("Value", "integer", "value represents the integer value of this priority class."),
    col(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass "
        "should be considered as the default priority.",
    ),
    AGE_COL,
    col(
        "PreemptionPolicy",
        description="preemptionPolicy is the Policy for preempting pods with lower priority.",
    ),
]


def _resource_sort_key(name: str) -> str:
    return name


def _resourcequota_row(obj: Obj, now: datetime) -> Row:
    status = _status(obj)
    hard = status.get("hard") or {}
    used = status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard, key=_resource_sort_key):
        text = f"{resource}: {used.get(resource, '0')}/{hard[resource]}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    cells = [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]
    return cells, None


RESOURCEQUOTA_COLUMNS = [
    NAME_COL,
    AGE_COL,
    col(
        "Request",
        description="Request represents a minimum amount of cpu/memory that a "
        "container may consume.",
    ),
    col(
        "Limit",
        description="Limits control the maximum amount of cpu/memory that a "
        "container may use independent of contention on the node.",
    ),
]


def _controllerrevision_row(obj: Obj, now: datetime) -> Row:
    controller = "<none>"
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = ref.get("kind", "").lower()
            kind = f"{kind}.{group}" if group else kind
            controller = f"{kind}/{ref.get('name', '')}"
            break
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)], None


CONTROLLERREVISION_COLUMNS = [
    NAME_COL,
    col("Controller", description="Controller of the object."),
    col("Revision", "integer", "Revision indicates the revision of the state represented by Data."),
    AGE_COL,
]


def _webhook_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), len(obj.get("webhooks") or []), _age(obj, now)], None


WEBHOOK_COLUMNS = [
    NAME_COL,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks in the configuration."),
    AGE_COL,
]


def _podtemplate_row(obj: Obj, now: datetime) -> Row:
    template = obj.get("template") or {}
    names, images = containers_cells(template.get("spec"))
    labels = format_labels((template.get("metadata") or {}).get("labels"))
    return [_name(obj), names, images, labels], None


PODTEMPLATE_COLUMNS = [
    NAME_COL,
    col("Containers", description="Names of each container in the template."),
    col("Images", description="Images referenced by each container in the template."),
    col("Pod Labels", description="The labels for the pod template."),
]

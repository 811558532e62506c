"""`event_provenance`: the selected objects were acted on by the right controller after
a given instant, e.g. every pod of the lab was `Scheduled` by `default-scheduler` after
the session started (pods bound by hand have no such event).

Events are read through both APIs: events.k8s.io/v1 (`reportingController`, `regarding`,
`eventTime`) and core/v1 (`source.component` or `reportingComponent`,
`involvedObject`, `lastTimestamp`). A real API server serves one storage through both,
so an event seen twice (same uid) counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import (
    CheckEnv,
    Outcome,
    SelectionSchema,
    SimpleKind,
    describe_selection,
    evidence_of,
    object_name,
    select,
)
from app.grading.reader import (
    ApiServerDownError,
    ClusterReader,
    ClusterReadError,
    ClusterUnreachableError,
)
from app.grading.timeparse import format_time, parse_k8s_time

# The default scheduler's name in `reportingController` / `source.component`
# (kube-scheduler's `v1.DefaultSchedulerName`).
DEFAULT_SCHEDULER = "default-scheduler"
AFTER_CHOICES = ("session_start", "grade_requested", "none")


@dataclass(frozen=True)
class SeenEvent:
    """An Event of either API, reduced to what provenance needs."""

    api_version: str
    name: str
    namespace: str
    uid: str
    resource_version: str
    reason: str
    controller: str
    time: datetime | None
    regarding_kind: str
    regarding_name: str
    regarding_uid: str
    note: str

    def evidence(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": "Event",
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
            "fields": {
                "reason": self.reason,
                "controller": self.controller,
                "time": format_time(self.time) if self.time else None,
                "regarding": f"{self.regarding_kind} {self.regarding_name}",
                "note": self.note[:200],
            },
        }


def seen_from_events_api(obj: dict[str, Any]) -> SeenEvent:
    meta = obj.get("metadata") or {}
    regarding = obj.get("regarding") or {}
    series = obj.get("series") or {}
    moment = (
        parse_k8s_time(series.get("lastObservedTime"))
        or parse_k8s_time(obj.get("eventTime"))
        or parse_k8s_time(obj.get("deprecatedLastTimestamp"))
        or parse_k8s_time(meta.get("creationTimestamp"))
    )
    return SeenEvent(
        "events.k8s.io/v1",
        meta.get("name") or "",
        meta.get("namespace") or "",
        meta.get("uid") or "",
        meta.get("resourceVersion") or "",
        obj.get("reason") or "",
        obj.get("reportingController") or "",
        moment,
        regarding.get("kind") or "",
        regarding.get("name") or "",
        regarding.get("uid") or "",
        obj.get("note") or "",
    )


def seen_from_core_api(obj: dict[str, Any]) -> SeenEvent:
    meta = obj.get("metadata") or {}
    involved = obj.get("involvedObject") or {}
    series = obj.get("series") or {}
    moment = (
        parse_k8s_time(obj.get("lastTimestamp"))
        or parse_k8s_time(series.get("lastObservedTime"))
        or parse_k8s_time(obj.get("eventTime"))
        or parse_k8s_time(obj.get("firstTimestamp"))
        or parse_k8s_time(meta.get("creationTimestamp"))
    )
    return SeenEvent(
        "v1",
        meta.get("name") or "",
        meta.get("namespace") or "",
        meta.get("uid") or "",
        meta.get("resourceVersion") or "",
        obj.get("reason") or "",
        (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or "",
        moment,
        involved.get("kind") or "",
        involved.get("name") or "",
        involved.get("uid") or "",
        obj.get("message") or "",
    )


def events_in(reader: ClusterReader, namespace: str) -> list[SeenEvent]:
    """Every event of a namespace through both APIs, one entry per event uid, sorted
    by time then name (so grading never depends on list order)."""
    seen: dict[str, SeenEvent] = {}
    for api_version, convert in (
        ("events.k8s.io/v1", seen_from_events_api),
        ("v1", seen_from_core_api),
    ):
        try:
            items = reader.list(api_version, "Event", namespace)
        except (ClusterUnreachableError, ApiServerDownError):
            raise
        except ClusterReadError:
            # A cluster may serve only one of the two APIs.
            continue
        for obj in items:
            event = convert(obj)
            seen.setdefault(event.uid or f"{api_version}/{event.name}", event)
    return sorted(seen.values(), key=lambda e: (e.time is None, e.time or datetime.min, e.name))


def events_about(events: list[SeenEvent], obj: dict[str, Any], reason: str) -> list[SeenEvent]:
    """The events with `reason` about `obj`: matched by uid when both sides carry one
    (a pod re-created under the same name is another pod), else by kind and name."""
    meta = obj.get("metadata") or {}
    uid, name, kind = meta.get("uid") or "", meta.get("name") or "", obj.get("kind") or ""
    out = []
    for event in events:
        if event.reason != reason:
            continue
        if event.regarding_uid and uid:
            if event.regarding_uid == uid:
                out.append(event)
        elif event.regarding_name == name and event.regarding_kind in ("", kind):
            out.append(event)
    return out


def threshold(after: str, env: CheckEnv) -> datetime | None:
    """The instant events must not precede, truncated to whole seconds because core/v1
    timestamps carry no fraction (an event in the same second counts)."""
    if after == "session_start":
        moment = env.context.session_started_at
    elif after == "grade_requested":
        moment = env.context.grade_requested_at
    else:
        return None
    return moment.replace(microsecond=0)


def provenance_problem(
    candidates: list[SeenEvent], controller: str, since: datetime | None
) -> tuple[SeenEvent | None, str | None]:
    """The first event that proves provenance, or (None, why none does)."""
    if not candidates:
        return None, "no event"
    by_controller = [e for e in candidates if e.controller == controller]
    if not by_controller:
        others = sorted({e.controller or "(no controller)" for e in candidates})
        return None, f"reported by {', '.join(others)}, not {controller}"
    recent = [e for e in by_controller if since is None or (e.time is not None and e.time >= since)]
    if not recent:
        return (
            None,
            f"the last event by {controller} is from before {format_time(since) if since else '-'}",
        )
    return recent[-1], None


class ProvenanceSchema(SelectionSchema):
    apiVersion = fields.String(load_default="v1")
    resource = fields.String(load_default="Pod")
    namespace = fields.String(required=True)
    reason = fields.String(load_default="Scheduled")
    reporting_controller = fields.String(load_default=DEFAULT_SCHEDULER)
    after = fields.String(load_default="session_start", validate=validate.OneOf(AFTER_CHOICES))
    require = fields.String(load_default="all", validate=validate.OneOf(("all", "any")))
    # At least this many objects must be selected: deleting the pods must not pass.
    min_objects = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))


class EventProvenance(SimpleKind):
    name = "event_provenance"
    schema = ProvenanceSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        objects = select(params, env)
        what = describe_selection(params)
        if len(objects) < params["min_objects"]:
            return Outcome(
                False,
                f"expected at least {params['min_objects']} {what}, found {len(objects)}",
                [evidence_of(o) for o in objects],
            )
        events = events_in(env.reader, params["namespace"])
        since = threshold(params["after"], env)
        reason, controller = params["reason"], params["reporting_controller"]
        problems, proven, evidence = [], 0, []
        for obj in objects:
            spec = obj.get("spec") or {}
            evidence.append(evidence_of(obj, nodeName=spec.get("nodeName")))
            event, why = provenance_problem(events_about(events, obj, reason), controller, since)
            if event is None:
                problems.append(f"{object_name(obj)}: {why}")
            else:
                proven += 1
                evidence.append(event.evidence())
        wanted = f"{reason} by {controller}" + (f" after {format_time(since)}" if since else "")
        ok = not problems if params["require"] == "all" else proven > 0
        if ok:
            return Outcome(True, f"{proven} of {len(objects)} {what}: {wanted}", evidence[:40])
        shown = "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        return Outcome(False, f"expected {wanted}: {shown}", evidence[:40])

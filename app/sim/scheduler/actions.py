"""What the scheduler wants done through the API, as plain values.

The scheduler performs no I/O: each decision comes out as a list of these actions, and
the control-plane loop applies them through the object store (binding subresource,
status patches, deletes, events). Order matters: apply a list front to back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.sim.machinery.clock import rfc3339, rfc3339_micro

REPORTING_CONTROLLER = "default-scheduler"


@dataclass(frozen=True, slots=True)
class BindPod:
    """POST pods/{name}/binding: assign the pod to a node (the API server then sets
    `spec.nodeName` and the `PodScheduled=True` condition)."""

    namespace: str
    name: str
    uid: str
    node_name: str

    def binding(self) -> dict[str, Any]:
        """The `v1 Binding` body upstream's DefaultBinder posts."""
        return {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }


@dataclass(frozen=True, slots=True)
class PatchPodStatus:
    """Strategic-merge patch of pods/{name}/status (conditions merge by `type`)."""

    namespace: str
    name: str
    patch: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeletePod:
    """Delete a pod (a preemption victim), with its normal grace period."""

    namespace: str
    name: str
    uid: str
    reason: str = "Preempted"


@dataclass(frozen=True, slots=True)
class PatchObject:
    """Merge patch of another object (volume binding on PVs and PVCs)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    patch: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """An events.k8s.io/v1 Event reported by the scheduler."""

    regarding: dict[str, Any]
    type: str
    reason: str
    action: str
    note: str
    related: dict[str, Any] | None = None
    reporting_controller: str = REPORTING_CONTROLLER
    reporting_instance: str = REPORTING_CONTROLLER
    name_suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def to_object(self, now: datetime) -> dict[str, Any]:
        """The Event as the API would store it (`kubectl describe` shows `note`)."""
        namespace = self.regarding.get("namespace") or "default"
        body: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{self.regarding.get('name', 'object')}.{self.name_suffix}",
                "namespace": namespace,
                "creationTimestamp": rfc3339(now),
            },
            "eventTime": rfc3339_micro(now),
            "reportingController": self.reporting_controller,
            "reportingInstance": self.reporting_instance,
            "action": self.action,
            "reason": self.reason,
            "regarding": dict(self.regarding),
            "note": self.note,
            "type": self.type,
        }
        if self.related is not None:
            body["related"] = dict(self.related)
        return body


Action = BindPod | PatchPodStatus | DeletePod | PatchObject | RecordEvent


def pod_reference(pod: dict[str, Any] | Any) -> dict[str, Any]:
    """ObjectReference to a pod dict, as `regarding`/`related` of an Event."""
    meta = pod.get("metadata") or {}
    ref = {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": meta.get("namespace") or "default",
        "name": meta.get("name") or "",
    }
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref

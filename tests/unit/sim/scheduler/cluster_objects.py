"""A minimal in-memory cluster that applies the scheduler's actions as the API would.

Just enough API semantics for the loop tests: binding sets `spec.nodeName` and
`PodScheduled=True`, status patches merge conditions by type, deletes remove the pod,
every write bumps `resourceVersion`. The real object store is exercised elsewhere.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from app.sim.scheduler import (
    Action,
    BindPod,
    ClusterState,
    DeletePod,
    PatchObject,
    PatchPodStatus,
    RecordEvent,
)


class ClusterObjects:
    def __init__(self, nodes=(), pods=(), priority_classes=(), disruption_budgets=()) -> None:
        self.nodes: list[dict[str, Any]] = list(nodes)
        self.pods: dict[str, dict[str, Any]] = {}
        self.priority_classes = list(priority_classes)
        self.disruption_budgets = list(disruption_budgets)
        self.events: list[dict[str, Any]] = []
        self._rv = itertools.count(100)
        for pod in pods:
            self.add_pod(pod)

    def add_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self.pods[f"{meta['namespace']}/{meta['name']}"] = pod

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.pods[f"{namespace}/{name}"]

    def state(self) -> ClusterState:
        return ClusterState(
            nodes=self.nodes,
            pods=list(self.pods.values()),
            priority_classes=self.priority_classes,
            disruption_budgets=self.disruption_budgets,
        )

    def _bump(self, obj: dict[str, Any]) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def apply(self, actions: list[Action]) -> None:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for action in actions:
            if isinstance(action, BindPod):
                pod = self.pod(action.name, action.namespace)
                pod["spec"]["nodeName"] = action.node_name
                self._set_condition(pod, {"type": "PodScheduled", "status": "True"})
                self._bump(pod)
            elif isinstance(action, PatchPodStatus):
                pod = self.pods.get(f"{action.namespace}/{action.name}")
                if pod is None:
                    continue
                status = action.patch["status"]
                for condition in status.get("conditions", ()):
                    self._set_condition(pod, condition)
                if "nominatedNodeName" in status:
                    if status["nominatedNodeName"] is None:
                        pod["status"].pop("nominatedNodeName", None)
                    else:
                        pod["status"]["nominatedNodeName"] = status["nominatedNodeName"]
                self._bump(pod)
            elif isinstance(action, DeletePod):
                self.pods.pop(f"{action.namespace}/{action.name}", None)
            elif isinstance(action, RecordEvent):
                self.events.append(action.to_object(now))
            elif isinstance(action, PatchObject):
                raise AssertionError(f"unexpected patch of {action.kind}")

    @staticmethod
    def _set_condition(pod: dict[str, Any], condition: dict[str, Any]) -> None:
        conditions = pod["status"].setdefault("conditions", [])
        for i, existing in enumerate(conditions):
            if existing["type"] == condition["type"]:
                conditions[i] = {**existing, **condition}
                return
        conditions.append(dict(condition))

    def notes(self, reason: str) -> list[str]:
        return [e["note"] for e in self.events if e["reason"] == reason]

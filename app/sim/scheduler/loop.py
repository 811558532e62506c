"""kube-scheduler for one simulated cluster: objects from the store in, API writes out.

`SchedulerLoop.step()` lists what the scheduler watches, runs `Scheduler.run`, and
applies the actions through the cluster's API request pipeline, as the real
scheduler's client would: the binding subresource, strategic-merge patches of
`pods/status`, deletes of preemption victims, merge patches for volume binding.
Events go through the simulator's shared event recorder (core/v1 Events with
`source.component` and `reportingComponent` `default-scheduler`, aggregated by count,
which is what `kubectl describe` shows).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from app.sim.client.events import EventRecorder
from app.sim.client.leaderelection import LeaderElector, new_identity
from app.sim.scheduler.actions import (
    Action,
    BindPod,
    DeletePod,
    PatchObject,
    PatchPodStatus,
    RecordEvent,
)
from app.sim.scheduler.scheduler import ClusterState, Scheduler

if TYPE_CHECKING:
    from app.sim.machinery.cluster import Cluster

log = logging.getLogger(__name__)

# kube-scheduler's leader-election Lease (kube-system/kube-scheduler).
LEASE_NAME = "kube-scheduler"

# The User-Agent's first word names the field manager of the writes.
USER_AGENT = "kube-scheduler/v1.35.0 (linux/amd64) kubernetes/simulated"
_PLURALS = {
    "PersistentVolume": "persistentvolumes",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}
# (group, plural) of every kind the scheduler reads.
_WATCHED = {
    "nodes": ("", "nodes"),
    "pods": ("", "pods"),
    "namespaces": ("", "namespaces"),
    "claims": ("", "persistentvolumeclaims"),
    "volumes": ("", "persistentvolumes"),
    "storage_classes": ("storage.k8s.io", "storageclasses"),
    "priority_classes": ("scheduling.k8s.io", "priorityclasses"),
    "disruption_budgets": ("policy", "poddisruptionbudgets"),
}


class SchedulerLoop:
    """Drives a `Scheduler` over one cluster; call `step()` on each control-plane tick."""

    name = "kube-scheduler"

    def __init__(
        self, cluster: Cluster, *, scheduler: Scheduler | None = None, host: str = "controlplane"
    ) -> None:
        self.cluster = cluster
        self.scheduler = scheduler or Scheduler(
            clock=cluster.clock, instance=f"default-scheduler-{host}"
        )
        self.events = EventRecorder(cluster.store, cluster.clock, "default-scheduler", host)
        self.elector = LeaderElector(cluster.store, cluster.clock, LEASE_NAME, new_identity(host))
        # The watched kinds' revisions after a step that left nothing queued: while they
        # stay the same there is nothing to schedule and `step` reads nothing (upstream's
        # scheduler sleeps on an empty queue until an informer event).
        self._idle_at: tuple[int, ...] | None = None

    def tick(self, running: bool = True) -> bool:
        """One iteration of the component: hold the Lease while running, and schedule
        only while this instance leads. Returns whether it scheduled."""
        leading = self.elector.tick(running)
        if running and leading:
            self.step()
            return True
        return False

    def state(self) -> ClusterState:
        """The current objects of every kind the scheduler reads."""
        store = self.cluster.store
        lists = {field: store.list(group, plural)[0] for field, (group, plural) in _WATCHED.items()}
        return ClusterState(**lists)

    def step(self) -> int:
        """Schedule what is due; returns how many actions were applied.

        Each pod's actions (its binding, events, status patches) are applied as soon as
        the pod is decided, before the next pod is scheduled: watchers see the pods bind
        one by one, and a refused binding is known to the next decision.
        """
        revisions = self._revisions()
        if revisions == self._idle_at:
            return 0
        applied = 0
        for actions in self.scheduler.run_each(self.state()):
            applied += self._apply(actions)
        # Idle once a pass applied nothing and left no pod queued (backoff and
        # unschedulable pods are retried on the clock, so they keep the loop awake).
        idle = applied == 0 and len(self.scheduler.queue) == 0
        self._idle_at = revisions if idle else None
        return applied

    def _revisions(self) -> tuple[int, ...]:
        store = self.cluster.store
        return tuple(store.kind_revision(group, plural) for group, plural in _WATCHED.values())

    def _apply(self, actions: list[Action]) -> int:
        applied = 0
        failed_binding: set[tuple[str, str]] = set()
        for action in actions:
            if isinstance(action, RecordEvent):
                regarding = action.regarding
                key = (regarding.get("namespace") or "", regarding.get("name") or "")
                if action.reason == "Scheduled" and key in failed_binding:
                    continue  # the binding did not happen: no Scheduled event
                self._record(action)
            elif isinstance(action, BindPod):
                status, message = self._request(
                    "POST",
                    "",
                    "pods",
                    action.namespace,
                    action.name,
                    "binding",
                    action.binding(),
                )
                if status >= 300:
                    log.info("binding %s/%s failed: %s", action.namespace, action.name, message)
                    failed_binding.add((action.namespace, action.name))
                    self.scheduler.binding_failed(action.namespace, action.name, action.uid)
                    continue
            elif isinstance(action, PatchPodStatus):
                self._request(
                    "PATCH",
                    "",
                    "pods",
                    action.namespace,
                    action.name,
                    "status",
                    action.patch,
                    "application/strategic-merge-patch+json",
                )
            elif isinstance(action, DeletePod):
                self._request("DELETE", "", "pods", action.namespace, action.name, None, None)
            elif isinstance(action, PatchObject):
                group = action.api_version.rpartition("/")[0]
                self._request(
                    "PATCH",
                    group,
                    _PLURALS.get(action.kind, action.kind.lower() + "s"),
                    action.namespace or None,
                    action.name,
                    None,
                    action.patch,
                    "application/merge-patch+json",
                )
            applied += 1
        return applied

    def _record(self, action: RecordEvent) -> None:
        regarding = action.regarding
        involved = {
            "apiVersion": regarding.get("apiVersion", "v1"),
            "kind": regarding.get("kind", "Pod"),
            "metadata": {
                "name": regarding.get("name", ""),
                "namespace": regarding.get("namespace", ""),
                "uid": regarding.get("uid", ""),
                "resourceVersion": regarding.get("resourceVersion", ""),
            },
        }
        self.events.record(involved, action.type, action.reason, action.note)

    def _request(
        self,
        method: str,
        group: str,
        plural: str,
        namespace: str | None,
        name: str,
        subresource: str | None,
        body: dict[str, Any] | None,
        content_type: str = "application/json",
    ) -> tuple[int, str]:
        """One API call through the request pipeline; (HTTP status, message)."""
        from app.sim.apiserver.pipeline import ApiRequest, handle

        request = ApiRequest(
            method=method,
            group=group,
            version="v1",
            plural=plural,
            namespace=namespace,
            name=name,
            subresource=subresource,
            headers={
                "Authorization": f"Bearer {self.cluster.auth.admin_token}",
                "Content-Type": content_type,
                "User-Agent": USER_AGENT,
            },
            body=json.dumps(body).encode() if body is not None else b"",
        )
        response = handle(self.cluster, request)
        payload = response.body if isinstance(response.body, dict) else {}
        if response.status >= 300:
            log.debug("%s %s/%s: %s", method, plural, name, payload.get("message"))
        return response.status, str(payload.get("message", ""))

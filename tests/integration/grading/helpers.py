"""What the tests do to a simulated cluster: a scheduler loop over the simulator's
scheduler library, and the traces that cheats leave (hand bindings, foreign events)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from app.grading.reader import ClusterReader
from app.sim.machinery.clock import rfc3339, rfc3339_micro
from app.sim.scheduler import BindPod, ClusterState, RecordEvent, Scheduler, default_profile


class SchedulerLoop:
    """A kube-scheduler for tests: every `interval` seconds it runs the simulator's
    `Scheduler` over the store's nodes and pods and applies its actions through the
    API: bindings via the binding subresource, events via events.k8s.io/v1.

    `reporting_controller` renames the scheduler in its events (a second scheduler
    binary that takes the default scheduler's pods but reports as itself);
    `scheduler_name` is the profile, i.e. which pods it takes.
    """

    def __init__(
        self,
        sim: Any,
        reader: ClusterReader,
        *,
        scheduler_name: str = "default-scheduler",
        reporting_controller: str = "default-scheduler",
        interval: float = 0.1,
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.reporting_controller = reporting_controller
        self.scheduler = Scheduler([default_profile(scheduler_name)], clock=sim.cluster.clock)
        self.interval = interval
        self.bound: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self) -> None:
        store = self.sim.store
        state = ClusterState(
            nodes=store.list("", "nodes")[0],
            pods=store.list("", "pods")[0],
            namespaces=store.list("", "namespaces")[0],
        )
        failed: set[tuple[str, str]] = set()
        for action in self.scheduler.run(state):
            if isinstance(action, BindPod):
                # The scheduler's own Binding body carries the pod's uid as a precondition.
                path = f"/api/v1/namespaces/{action.namespace}/pods/{action.name}/binding"
                status, _ = self.reader.request("POST", path, body=action.binding())
                if status != 201:
                    # As upstream: the pod goes back to the queue, its event is not sent.
                    self.scheduler.binding_failed(action.namespace, action.name, action.uid)
                    failed.add((action.namespace, action.name))
                    continue
                self.bound.append(f"{action.namespace}/{action.name}")
            elif isinstance(action, RecordEvent):
                about = (action.regarding.get("namespace"), action.regarding.get("name"))
                if about in failed:
                    continue
                event = action.to_object(self.sim.cluster.clock.now())
                event["reportingController"] = self.reporting_controller
                event["reportingInstance"] = f"{self.reporting_controller}-controlplane"
                self.reader.create(event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep scheduling, as kube-scheduler does; tests look
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)


def bind(reader: ClusterReader, namespace: str, name: str, node: str) -> None:
    """POST the binding subresource, as a scheduler (or a learner binding by hand) does."""
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    status, data = reader.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body=body
    )
    assert status == 201, data


def pod(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {"app": "web"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def scheduled_event(
    target: dict[str, Any],
    at: datetime,
    *,
    controller: str = "default-scheduler",
    core: bool = False,
) -> dict[str, Any]:
    """A `Scheduled` event about `target` reported by `controller` at `at`, in the
    events.k8s.io/v1 shape or (core=True) the core/v1 shape of older schedulers."""
    meta = target["metadata"]
    ref = {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
    }
    node = (target.get("spec") or {}).get("nodeName") or "node01"
    note = f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}"
    name = f"{meta['name']}.{controller}.{int(at.timestamp() * 1000)}"
    if core:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "involvedObject": ref,
            "reason": "Scheduled",
            "message": note,
            "source": {"component": controller},
            "firstTimestamp": rfc3339(at),
            "lastTimestamp": rfc3339(at),
            "type": "Normal",
        }
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": meta["namespace"]},
        "eventTime": rfc3339_micro(at),
        "reportingController": controller,
        "reportingInstance": f"{controller}-controlplane",
        "action": "Binding",
        "reason": "Scheduled",
        "regarding": ref,
        "note": note,
        "type": "Normal",
    }

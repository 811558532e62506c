"""The scheduler: one scheduling cycle per pod, and a loop API without I/O.

`Scheduler.schedule_one(pod)` runs PreFilter, Filter, (PostFilter = preemption when no
node fits), PreScore, Score and picks a node; it changes nothing. `Scheduler.run(state)`
is what a control-plane loop calls: it reconciles its cache and queue with the cluster
objects it is given, schedules every pod that is due, and returns the API actions to
apply (bindings, events, status patches, victim deletions), in order.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.sim.machinery.clock import Clock, rfc3339
from app.sim.scheduler import events as ev
from app.sim.scheduler.actions import (
    REPORTING_CONTROLLER,
    Action,
    BindPod,
    DeletePod,
    PatchPodStatus,
    RecordEvent,
    pod_reference,
)
from app.sim.scheduler.framework import (
    Code,
    CycleState,
    Framework,
    Profile,
    Registry,
    Status,
    default_profile,
)
from app.sim.scheduler.messages import (
    NO_NODES_AVAILABLE,
    fit_error_message,
    scheduled_message,
)
from app.sim.scheduler.plugins import default_registry
from app.sim.scheduler.podinfo import DEFAULT_SCHEDULER_NAME, PodInfo
from app.sim.scheduler.preemption import DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER
from app.sim.scheduler.queue import (
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_UNSCHEDULABLE_DURATION,
    QueuedPod,
    SchedulingQueue,
)
from app.sim.scheduler.snapshot import NodeInfo, Snapshot, counts_on_node

# schedule_one.go: below 100 nodes every node is checked; above, an adaptive share
# (50% minus 1% per 125 nodes, at least 5%) but never fewer than 100 nodes.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODE_PERCENTAGE = 5
# v1.PodReasonUnschedulable / v1.PodReasonSchedulerError
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
_TERMINAL = frozenset({"Succeeded", "Failed"})


@dataclass(slots=True)
class ScheduleResult:
    """The decision for one pod. `node` is None when it could not be scheduled."""

    pod: PodInfo
    node: str | None
    status: Status
    message: str = ""
    victims: list[PodInfo] = field(default_factory=list)
    # Node reserved by preemption; "" clears an old nomination, None leaves it.
    nominated_node: str | None = None
    cleared_nominations: list[PodInfo] = field(default_factory=list)
    node_statuses: dict[str, Status] = field(default_factory=dict)
    # Scored nodes in order, their weighted totals, and each plugin's normalised scores.
    scored_nodes: list[str] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    per_plugin: dict[str, list[int]] = field(default_factory=dict)
    pre_bind: list[Action] = field(default_factory=list)
    rejected_by: frozenset[str] = frozenset()

    @property
    def scores(self) -> dict[str, int]:
        """Weighted total per scored node (empty when scoring was not needed)."""
        return dict(zip(self.scored_nodes, self.totals, strict=True))

    @property
    def plugin_scores(self) -> dict[str, dict[str, int]]:
        """Normalised (unweighted) score per plugin per scored node."""
        return {
            plugin: dict(zip(self.scored_nodes, scores, strict=True))
            for plugin, scores in self.per_plugin.items()
        }


@dataclass(slots=True)
class ClusterState:
    """The objects the scheduler watches, as JSON-shaped dicts (lists from the store)."""

    nodes: Sequence[Mapping[str, Any]] = ()
    pods: Sequence[Mapping[str, Any]] = ()
    namespaces: Sequence[Mapping[str, Any]] = ()
    claims: Sequence[Mapping[str, Any]] = ()
    volumes: Sequence[Mapping[str, Any]] = ()
    storage_classes: Sequence[Mapping[str, Any]] = ()
    priority_classes: Sequence[Mapping[str, Any]] = ()
    disruption_budgets: Sequence[Mapping[str, Any]] = ()


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for before scoring (upstream
    `numFeasibleNodesToFind`)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODE_PERCENTAGE)
    if percentage >= 100:
        return num_all_nodes
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def _pod_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


class Scheduler:
    """A kube-scheduler with one framework per profile (`schedulerName`)."""

    def __init__(
        self,
        profiles: Iterable[Profile] | None = None,
        *,
        registry: Registry | None = None,
        clock: Clock | None = None,
        instance: str = "",
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_unschedulable_duration: float = DEFAULT_MAX_UNSCHEDULABLE_DURATION,
    ) -> None:
        """Profiles default to upstream's default profile; the back-off settings are
        kube-scheduler's --pod-initial-backoff-seconds / --pod-max-backoff-seconds.
        Raises ValueError for two profiles with one scheduler name."""
        registry = registry or default_registry()
        self.frameworks: dict[str, Framework] = {}
        for profile in profiles or (default_profile(),):
            if profile.scheduler_name in self.frameworks:
                raise ValueError(f"duplicate profile for scheduler {profile.scheduler_name!r}")
            self.frameworks[profile.scheduler_name] = Framework(profile, registry)
        self.clock = clock
        # events.k8s.io reportingInstance is "<controller>-<host>" upstream.
        self.instance = instance or REPORTING_CONTROLLER
        plugin_events: dict[str, frozenset[str]] = {}
        for framework in self.frameworks.values():
            for name, plugin in framework.plugins.items():
                register = getattr(plugin, "events_to_register", None)
                plugin_events[name] = register() if register else frozenset()
        self.queue = SchedulingQueue(
            self._now,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            max_unschedulable_duration=max_unschedulable_duration,
            plugin_events=plugin_events,
        )
        self.snapshot = Snapshot()
        self._next_start = 0
        self._assumed: dict[str, str] = {}  # uid -> node
        self._node_rv: dict[str, str] = {}
        self._pod_rv: dict[str, str] = {}
        self._pending_spec: dict[str, str] = {}  # uid -> serialised (spec, labels)
        self._object_rv: dict[str, frozenset[tuple[str, str]]] = {}

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    # ---- one scheduling cycle ------------------------------------------------------

    def responsible_for(self, pod: Mapping[str, Any]) -> bool:
        """Whether a profile of this scheduler serves the pod's `spec.schedulerName`."""
        name = (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME
        return name in self.frameworks

    def framework_for(self, pod: PodInfo) -> Framework:
        """The profile's framework; KeyError for a pod of another scheduler."""
        return self.frameworks[pod.scheduler_name]

    def pod_info(
        self, pod: Mapping[str, Any] | PodInfo, snapshot: Snapshot | None = None
    ) -> PodInfo:
        if isinstance(pod, PodInfo):
            return pod
        snapshot = snapshot or self.snapshot
        return PodInfo(pod, snapshot.priority_of(pod))

    def schedule_one(
        self, pod: Mapping[str, Any] | PodInfo, snapshot: Snapshot | None = None
    ) -> ScheduleResult:
        """Decide where `pod` goes on `snapshot` (default: the scheduler's own cache).

        Nothing is changed: call `assume` to account the pod on the chosen node. Raises
        KeyError for a pod whose schedulerName no profile serves, RuntimeError when a
        plugin fails.
        """
        snapshot = snapshot or self.snapshot
        pi = self.pod_info(pod, snapshot)
        framework = self.framework_for(pi)
        nodes = snapshot.node_list
        if not nodes:
            status = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (NO_NODES_AVAILABLE,))
            return ScheduleResult(pi, None, status, NO_NODES_AVAILABLE)
        state = CycleState()
        statuses: dict[str, Status] = {}
        pre_filter_message = ""
        feasible: list[NodeInfo] = []
        pre_filter = framework.run_pre_filter(state, pi, snapshot)
        if pre_filter is not None:
            if pre_filter.code == Code.ERROR:
                raise RuntimeError(
                    f"running PreFilter plugin {pre_filter.plugin}: {pre_filter.message}"
                )
            pre_filter_message = pre_filter.message
            statuses = {node.name: pre_filter for node in nodes}
        else:
            feasible = self._find_feasible(framework, state, pi, snapshot, statuses)
        if not feasible:
            return self._unschedulable(framework, state, pi, snapshot, statuses, pre_filter_message)
        result = ScheduleResult(pi, None, Status(Code.SUCCESS), node_statuses=statuses)
        if len(feasible) == 1:
            chosen = feasible[0].name
        else:
            framework.run_pre_score(state, pi, feasible, snapshot)
            totals, per_plugin = framework.run_score(state, pi, feasible)
            result.scored_nodes = [n.name for n in feasible]
            result.totals = totals
            result.per_plugin = per_plugin
            # Upstream picks randomly among the best; the simulator takes the first by
            # name so that a lab is graded the same way every time.
            best = max(totals)
            chosen = min(n.name for n, t in zip(feasible, totals, strict=True) if t == best)
        result.node = chosen
        for plugin in framework.pre_bind:
            result.pre_bind.extend(plugin.pre_bind(state, pi, chosen))
        return result

    def _find_feasible(
        self,
        framework: Framework,
        state: CycleState,
        pi: PodInfo,
        snapshot: Snapshot,
        statuses: dict[str, Status],
    ) -> list[NodeInfo]:
        nodes = snapshot.node_list
        # A pod that preemption nominated tries its node first (evaluateNominatedNode).
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated and nominated in snapshot.node_infos:
            node = snapshot.node_infos[nominated]
            if framework.run_filters_with_nominated(state, pi, node, snapshot) is None:
                return [node]
        wanted = num_feasible_nodes_to_find(
            len(nodes), framework.profile.percentage_of_nodes_to_score
        )
        start = self._next_start % len(nodes)
        order = nodes[start:] + nodes[:start] if start else nodes
        feasible: list[NodeInfo] = []
        processed = 0
        if snapshot.nominated:
            for node in order:
                processed += 1
                status = framework.run_filters_with_nominated(state, pi, node, snapshot)
                if status is None:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
                else:
                    statuses[node.name] = status
        else:
            skip = state.skip_filter
            filters = [p.filter for p in framework.filter if p.name not in skip]
            for node in order:
                processed += 1
                for run in filters:
                    status = run(state, pi, node)
                    if status is not None:
                        statuses[node.name] = status
                        break
                else:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
        self._next_start = (start + processed) % len(nodes)
        return feasible

    def _unschedulable(
        self,
        framework: Framework,
        state: CycleState,
        pi: PodInfo,
        snapshot: Snapshot,
        statuses: dict[str, Status],
        pre_filter_message: str,
    ) -> ScheduleResult:
        for status in statuses.values():
            if status.code == Code.ERROR:
                raise RuntimeError(f"running Filter plugin {status.plugin}: {status.message}")
        rejected_by = frozenset(s.plugin for s in statuses.values() if s.plugin)
        result = ScheduleResult(
            pi,
            None,
            Status(Code.UNSCHEDULABLE),
            node_statuses=statuses,
            rejected_by=rejected_by,
        )
        post_filter_message = ""
        for plugin in framework.post_filter:
            outcome = plugin.post_filter(state, pi, snapshot, statuses)
            if outcome.status.is_success():
                result.nominated_node = outcome.nominated_node
                result.victims = outcome.victims
                result.cleared_nominations = outcome.cleared_nominations
                post_filter_message = ""
                break
            post_filter_message = outcome.status.message
            if outcome.nominated_node is not None:
                result.nominated_node = outcome.nominated_node
        result.message = fit_error_message(
            len(snapshot.node_list), statuses, pre_filter_message, post_filter_message
        )
        return result

    def assume(self, result: ScheduleResult, snapshot: Snapshot | None = None) -> None:
        """Account a scheduled pod on its node so later decisions see it."""
        if result.node is None:
            raise ValueError(f"pod {result.pod.key} was not scheduled")
        snapshot = snapshot or self.snapshot
        snapshot.add_pod(result.pod, result.node)
        snapshot.nominate(result.pod, None)

    # ---- the loop --------------------------------------------------------------------

    def run(self, cluster: ClusterState | None = None, max_pods: int | None = None) -> list[Action]:
        """Sync with `cluster` (if given), then schedule every due pod; returns actions.

        Apply the actions in order. When a BindPod fails, skip the rest of that pod's
        actions and call `binding_failed` so the pod is retried.
        """
        return [action for actions in self.run_each(cluster, max_pods) for action in actions]

    def run_each(
        self, cluster: ClusterState | None = None, max_pods: int | None = None
    ) -> Iterator[list[Action]]:
        """Like `run`, but one pod at a time: yields each decision's actions as soon as
        it is made, so the caller can bind the pod before the next one is scheduled
        (upstream binds each pod as its cycle ends, not after the whole queue).

        A `binding_failed` call between two yields is seen by the next decision.
        """
        if cluster is not None:
            self.sync(cluster)
        self.queue.flush()
        done = 0
        while max_pods is None or done < max_pods:
            queued = self.queue.pop()
            if queued is None:
                break
            done += 1
            yield self._attempt(queued)

    def _attempt(self, queued: QueuedPod) -> list[Action]:
        pod = queued.pod
        now = self._now()
        try:
            result = self.schedule_one(pod)
        except (RuntimeError, ValueError) as exc:
            self.queue.add_backoff(queued)
            return self._failure_actions(pod, str(exc), REASON_SCHEDULER_ERROR, None, now)
        pi = result.pod
        if result.node is not None:
            self.assume(result)
            self._assumed[pi.uid] = result.node
            self.queue.done(queued.key)
            self._pending_spec.pop(pi.uid, None)
            return [
                *result.pre_bind,
                BindPod(pi.namespace, pi.name, pi.uid, result.node),
                self._event(
                    pod,
                    "Normal",
                    "Scheduled",
                    "Binding",
                    scheduled_message(pi.namespace, pi.name, result.node),
                ),
            ]
        self.queue.add_unschedulable(queued, result.rejected_by)
        actions: list[Action] = []
        if result.nominated_node:
            self.snapshot.nominate(pi, result.nominated_node)
        elif result.nominated_node == "":
            self.snapshot.nominate(pi, None)
        for victim in result.victims:
            actions.extend(self._preempt_actions(victim, pi, result.nominated_node or "", now))
        for other in result.cleared_nominations:
            self.snapshot.nominate(other, None)
            actions.append(
                PatchPodStatus(other.namespace, other.name, {"status": {"nominatedNodeName": None}})
            )
        actions.extend(
            self._failure_actions(
                pod, result.message, REASON_UNSCHEDULABLE, result.nominated_node, now
            )
        )
        return actions

    def _event(
        self,
        pod: Mapping[str, Any],
        type_: str,
        reason: str,
        action: str,
        note: str,
        related: Mapping[str, Any] | None = None,
    ) -> RecordEvent:
        return RecordEvent(
            regarding=pod_reference(pod),
            type=type_,
            reason=reason,
            action=action,
            note=note,
            related=pod_reference(related) if related is not None else None,
            reporting_instance=self.instance,
        )

    def _failure_actions(
        self,
        pod: Mapping[str, Any],
        message: str,
        reason: str,
        nominated: str | None,
        now: datetime,
    ) -> list[Action]:
        meta = pod.get("metadata") or {}
        actions: list[Action] = [
            self._event(pod, "Warning", "FailedScheduling", "Scheduling", message)
        ]
        status_patch: dict[str, Any] = {}
        current = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or ()
                if c.get("type") == "PodScheduled"
            ),
            None,
        )
        if (
            current is None
            or current.get("status") != "False"
            or current.get("reason") != reason
            or current.get("message") != message
        ):
            status_patch["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(now),
                }
            ]
        if (
            nominated is not None
            and (pod.get("status") or {}).get("nominatedNodeName", "") != nominated
        ):
            status_patch["nominatedNodeName"] = nominated or None
        if status_patch:
            actions.append(
                PatchPodStatus(
                    meta.get("namespace") or "default",
                    meta.get("name") or "",
                    {"status": status_patch},
                )
            )
        return actions

    def _preempt_actions(
        self, victim: PodInfo, preemptor: PodInfo, node: str, now: datetime
    ) -> list[Action]:
        # preemption.go: the victim learns why it is going before it is deleted.
        note = f"{preemptor.scheduler_name}: preempting to accommodate a higher priority pod"
        condition = {
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": PREEMPTION_BY_SCHEDULER,
            "message": note,
            "lastTransitionTime": rfc3339(now),
        }
        return [
            PatchPodStatus(victim.namespace, victim.name, {"status": {"conditions": [condition]}}),
            DeletePod(victim.namespace, victim.name, victim.uid),
            RecordEvent(
                regarding=pod_reference(victim.pod),
                related=pod_reference(preemptor.pod),
                type="Normal",
                reason="Preempted",
                action="Preempting",
                note=f"Preempted by pod {preemptor.uid} on node {node}",
                reporting_instance=self.instance,
            ),
        ]

    def binding_failed(self, namespace: str, name: str, uid: str) -> None:
        """The API refused a BindPod: forget the assumption so the pod is retried."""
        node = self._assumed.pop(uid, None)
        if node is not None:
            self.snapshot.remove_pod(uid)
        self._pod_rv.pop(uid, None)

    # ---- cache and queue sync -------------------------------------------------------

    def sync(self, cluster: ClusterState) -> list[str]:
        """Bring the cache and the queue up to date; returns the cluster events seen."""
        happened: list[str] = []
        snap = self.snapshot
        snap.set_priority_classes(cluster.priority_classes)
        snap.namespace_labels = {
            (ns.get("metadata") or {}).get("name") or "": (ns.get("metadata") or {}).get("labels")
            or {}
            for ns in cluster.namespaces
        }
        snap.disruption_budgets = list(cluster.disruption_budgets)
        for kind, objects, event in (
            ("claims", cluster.claims, ev.CLAIM_CHANGE),
            ("volumes", cluster.volumes, ev.VOLUME_CHANGE),
            ("storage_classes", cluster.storage_classes, ev.STORAGE_CLASS_CHANGE),
        ):
            versions = frozenset((_uid(o), _rv(o)) for o in objects)
            if versions - self._object_rv.get(kind, frozenset()):
                happened.append(event)
            self._object_rv[kind] = versions
        snap.claims = {
            (
                (c.get("metadata") or {}).get("namespace") or "default",
                (c.get("metadata") or {}).get("name") or "",
            ): c
            for c in cluster.claims
        }
        snap.volumes = {(v.get("metadata") or {}).get("name") or "": v for v in cluster.volumes}
        snap.storage_classes = {
            (s.get("metadata") or {}).get("name") or "": s for s in cluster.storage_classes
        }
        happened.extend(self._sync_nodes(cluster.nodes))
        happened.extend(self._sync_pods(cluster.pods))
        for event in dict.fromkeys(happened):
            self.queue.move_on_event(event)
        return happened

    def _sync_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> list[str]:
        happened: list[str] = []
        seen = set()
        for node in nodes:
            name = (node.get("metadata") or {}).get("name") or ""
            seen.add(name)
            rv = _rv(node)
            old = self.snapshot.get(name)
            if old is None:
                try:
                    self.snapshot.set_node(node)
                except ValueError:
                    continue  # a malformed allocatable: the node is not usable
                happened.append(ev.NODE_ADD)
            elif self._node_rv.get(name) != rv or not rv:
                before = (
                    dict(old.labels),
                    old.taints,
                    old.unschedulable,
                    old.allocatable,
                    old.allowed_pods,
                )
                try:
                    info = self.snapshot.set_node(node)
                except ValueError:
                    continue
                if before[0] != dict(info.labels):
                    happened.append(ev.NODE_LABEL_CHANGE)
                if before[1] != info.taints or before[2] != info.unschedulable:
                    happened.append(ev.NODE_TAINT_CHANGE)
                if before[3] != info.allocatable or before[4] != info.allowed_pods:
                    happened.append(ev.NODE_ALLOCATABLE_CHANGE)
            self._node_rv[name] = rv
        for name in [n for n in self.snapshot.node_infos if n not in seen]:
            self.snapshot.remove_node(name)
            self._node_rv.pop(name, None)
            happened.append(ev.NODE_DELETE)
        return happened

    def _sync_pods(self, pods: Sequence[Mapping[str, Any]]) -> list[str]:
        happened: list[str] = []
        snap = self.snapshot
        seen: set[str] = set()
        for pod in pods:
            uid = _uid(pod)
            seen.add(uid)
            rv = _rv(pod)
            unchanged = bool(rv) and self._pod_rv.get(uid) == rv
            self._pod_rv[uid] = rv
            phase = (pod.get("status") or {}).get("phase")
            if counts_on_node(pod):
                self._assumed.pop(uid, None)
                self._pending_spec.pop(uid, None)
                if self.queue.where(_pod_key(pod)) is not None:
                    self.queue.delete(_pod_key(pod))  # bound by someone else
                if unchanged and snap.pod(uid) is not None:
                    continue
                old = snap.pod(uid)
                try:
                    new = PodInfo(pod, snap.priority_of(pod))
                except ValueError:
                    continue  # malformed requests: the API should not have admitted it
                if snap.add_pod(new):
                    if old is None:
                        happened.append(ev.ASSIGNED_POD_ADD)
                    else:
                        if dict(old.labels) != dict(new.labels):
                            happened.append(ev.ASSIGNED_POD_LABEL_CHANGE)
                        if (
                            new.requests.milli_cpu < old.requests.milli_cpu
                            or new.requests.memory < old.requests.memory
                        ):
                            happened.append(ev.ASSIGNED_POD_SCALE_DOWN)
                        if new.terminating and not old.terminating:
                            # A terminating pod no longer counts for spreading.
                            happened.append(ev.ASSIGNED_POD_LABEL_CHANGE)
                continue
            if snap.pod(uid) is not None and uid not in self._assumed:
                snap.remove_pod(uid)  # finished (Succeeded/Failed) or unbound
                happened.append(ev.ASSIGNED_POD_DELETE)
            if uid in self._assumed or phase in _TERMINAL:
                continue
            key = _pod_key(pod)
            if not self.responsible_for(pod) or (pod.get("metadata") or {}).get(
                "deletionTimestamp"
            ):
                self.queue.delete(key)
                continue
            if unchanged and key in self.queue:
                continue
            self._enqueue(uid, key, pod)
        for uid in [u for u in self._pod_rv if u not in seen]:
            self._pod_rv.pop(uid, None)
            self._assumed.pop(uid, None)
            self._pending_spec.pop(uid, None)
            info = snap.remove_pod(uid)
            snap.nominated.pop(uid, None)
            if info is not None:
                happened.append(ev.ASSIGNED_POD_DELETE)
            for key in [k for k, q in self.queue.pods.items() if _uid(q.pod) == uid]:
                self.queue.delete(key)
        return happened

    def _enqueue(self, uid: str, key: str, pod: Mapping[str, Any]) -> None:
        framework = self.frameworks[
            (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME
        ]
        gate = framework.run_pre_enqueue(pod)
        gate_message = gate.message if gate is not None else ""
        priority = self.snapshot.priority_of(pod)
        meta = pod.get("metadata") or {}
        # A serialised copy: callers may hand in the same dicts mutated in place.
        fingerprint = json.dumps((pod.get("spec"), meta.get("labels")), sort_keys=True, default=str)
        if key not in self.queue:
            self._pending_spec[uid] = fingerprint
            self.queue.add(key, pod, priority, gate_message)
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if nominated and uid not in self.snapshot.nominated:
                # Keep the room an earlier preemption made (e.g. after a restart).
                with contextlib.suppress(ValueError):
                    self.snapshot.nominate(PodInfo(pod, priority), nominated)
            return
        # Only a change of the pod's own spec or labels is worth a retry; status
        # patches (our own condition updates) are not.
        changed = self._pending_spec.get(uid) != fingerprint
        if changed:
            self._pending_spec[uid] = fingerprint
            self.queue.update(key, pod, priority, gate_message)
        else:
            queued = self.queue.pods[key]
            queued.pod = pod

"""The control plane of one simulated cluster: kubelets, kube-scheduler and
kube-controller-manager, stepped together on the cluster's clock.

Each `tick()` runs, in order, every node's kubelet (which also runs the static
control-plane pods from `/etc/kubernetes/manifests`), then every kube-scheduler process
(one per running static pod that runs the scheduler: a second manifest is a second
instance, as on kubeadm; they compete for the Lease kube-system/kube-scheduler and only
the holder schedules), then kube-controller-manager while its static pod runs, with the
`--controllers` flag its running pod was started with. A component whose pod stops
running stops renewing its leader Lease; when its pod comes back it is a new process:
a fresh leader-election identity and fresh in-memory state (the scheduler's queue, the
controller manager's caches).

The API server: the cluster's Kubernetes API answers clients only while a
kube-apiserver static pod serves (`ClusterNodes.api_server_started`): running, past its
storage, listening on 6443, and up for `API_START_SECONDS` after a (re)start. While it
does not, `cluster.api_down` is true (the server drops client connections), open
watches end, the kubelets write nothing to the API (no heartbeats, no mirror pods, no
status) but keep running their containers and static pods, and the scheduler and the
controller manager do nothing; when it serves again, both come back as new processes.

Time: a wall-clock cluster is polled by the server's loop thread (`cluster.loops`
runs `poll()` every 0.25 s); a manual-clock cluster only moves when `advance(seconds)`
is called (the admin route `POST /admin/clusters/{id}/tick`), which advances the clock
in steps and runs the control plane to quiescence at each step.

`poll()` runs a full `tick()` only when there is something to do:
- a write since the last tick that may give a component work (any write but Events,
  and but the control plane's own Lease renewals),
- a node access since the last tick (a node command, a container shell, a file
  written): what the kubelets see may have changed,
- the wake time planned after the last tick: the kubelets' next container event or
  probe that may change its answer (`ClusterNodes.wake_time`) and the controllers'
  resync: every
  `CLOCK_RESYNC_SECONDS` while some controller has clock-driven work pending
  (`controllers.steady`), else `IDLE_RESYNC_SECONDS` (30 min; a write in between runs
  every controller whose own resync, `EVENT_RESYNC_SECONDS`, is due).
Between full ticks a cheap heartbeat pass renews what upstream renews on its own
timers whatever happens: each node's Lease every 10 s, on the first pass after it is
due (with the node status check of
nodeStatusUpdateFrequency, posted when changed or every nodeStatusReportFrequency,
5 min) and the leader Leases of kube-scheduler and kube-controller-manager every
2 s (leader election's retry period). An idle cluster then costs those writes only:
the server's loop asks `due()` and leaves the cluster out while nothing is due, and
runs the clusters whose pass is the heartbeat pass alone (`beat_only()`) together;
the renewals take the store's fast path for a holder's own Lease renewal
(`ObjectStore.renew_lease`).
Readers of what changes with time alone take it up to now themselves: container logs
and files (`ClusterNodes.catch_up`) and metrics-server's scrapes
(`MetricsScraper.catch_up`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from app.sim.apiserver.aggregator import ApiServiceSync, is_available
from app.sim.client.leaderelection import RETRY_PERIOD_SECONDS
from app.sim.controllers.ingress import IngressControllers
from app.sim.controllers.manager import ControllerManager, select_controllers
from app.sim.controllers.steady import steady
from app.sim.controllers.timing import CLOCK_RESYNC_SECONDS, IDLE_RESYNC_SECONDS
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.watch import WatchEvent
from app.sim.nodes import ClusterNodes
from app.sim.nodes.components import parse_flags
from app.sim.nodes.metrics import MetricsScraper
from app.sim.scheduler.loop import LEASE_NAME, SchedulerLoop

log = logging.getLogger(__name__)

SCHEDULER = "kube-scheduler"
CONTROLLER_MANAGER = "kube-controller-manager"
# Simulated seconds per step of `advance`: the finest period any component needs is
# the leader-election retry period (2 s) and the kubelet's status updates (10 s), so
# one-second steps keep every timeout within a second of upstream's.
STEP_SECONDS = 1.0
# Ticks at one instant before giving up on quiescence (a write loop between
# controllers must not hang a request).
MAX_SETTLE_PASSES = 12
# kube-controller-manager's default for --controllers (cmd/kube-controller-manager
# options: "*" enables every controller that is on by default).
DEFAULT_CONTROLLERS = "*"
# `kubectl get componentstatuses` probes each component's secure health port on the
# control-plane host (kube-scheduler 10259, kube-controller-manager 10257: kubeadm's
# defaults); a stopped component refuses the connection.
HEALTH_PORTS = {"scheduler": (SCHEDULER, 10259), "controller-manager": (CONTROLLER_MANAGER, 10257)}
# kube-apiserver's start-up before it answers clients: it connects to etcd, fills its
# caches and runs its post-start hooks (`/readyz` turns ok), a matter of seconds on a
# kubeadm node. A manifest that is fixed therefore brings the API back this long after
# the kubelet started the new container (which it does as soon as it sees the file).
API_START_SECONDS = 10.0
# The most simulated seconds one tick request may advance (a day): a lab never needs
# more, and it bounds the work a single request can ask for.
MAX_ADVANCE_SECONDS = 86_400.0


class ControlPlane:
    """Kubelets, scheduler and controller manager of one cluster; see the module
    docstring. Thread-safe: ticks, node commands and restores take `self.lock`."""

    def __init__(self, cluster: Cluster, *, nodes: ClusterNodes | None = None) -> None:
        self.cluster = cluster
        if nodes is None:
            nodes = cluster.node_access if isinstance(cluster.node_access, ClusterNodes) else None
        self.nodes: ClusterNodes = nodes or ClusterNodes(cluster)
        cluster.node_access = self.nodes
        self.lock = self.nodes.lock
        # One scheduler per running process: {process key: (node, static pod key, loop)}.
        self.schedulers: dict[str, tuple[str, str, SchedulerLoop]] = {}
        self.controllers_flag = DEFAULT_CONTROLLERS
        self.manager = ControllerManager.for_cluster(cluster)
        # Ingress and Gateway controllers run in their own pods, not in the manager.
        self.ingress = IngressControllers(cluster)
        self.running = {SCHEDULER: True, CONTROLLER_MANAGER: True}
        # kube-apiserver's aggregator (APIService availability) and the
        # metrics-server add-on's scrape loop.
        self.api_services = ApiServiceSync(cluster)
        self.scraper = MetricsScraper(cluster)
        self.ticks = 0
        self._closed = False
        # The cluster clock when the control plane had first settled: an API server
        # running since then answers at once (kubeadm hands a cluster over once its API
        # serves); one started later waits out API_START_SECONDS.
        self.booted_at: float | None = None
        # What `poll` compares (see the module text): writes that may give work, the
        # nodes' access count, both as of the last tick; the planned wake time and
        # next heartbeat pass (clock timestamps); the time of the last change from
        # outside (kubelets look once more with their passing probes after it).
        self._writes = 0
        self._seen_writes = -1
        self._seen_touches = -1
        self._in_plane = False
        self._planned = False
        self._wake = 0.0
        self._beat_at = 0.0
        self._changed_at = 0.0
        # Called (from any thread) when something changed that makes `due()` true
        # before the planned wake time: a write that may give work, a node access.
        # The server's loop then looks at this cluster at its next iteration.
        self.on_change: Callable[[], None] | None = None
        self.nodes.on_touch = self._notify
        cluster.store.after_write.append(self._on_write)

    @property
    def manual(self) -> bool:
        """Whether the cluster's clock only moves through `advance`."""
        return isinstance(self.cluster.clock, ManualClock)

    # ---- components --------------------------------------------------------------------

    def _running_flags(self, component: str) -> dict[str, str]:
        """The flags the running static pod of `component` was started with (the
        first static pod when none runs)."""
        for agent in self.nodes.agents.values():
            pods = agent.static_pods_of(component)
            running = [p for p in pods if agent.instance_running(p) is not None]
            candidates = running or pods
            if not candidates:
                continue
            pod = candidates[0]
            for container in (pod.spec or {}).get("containers") or []:
                argv = [str(x) for x in (container.get("command") or [])]
                argv += [str(x) for x in (container.get("args") or [])]
                if argv:
                    flags, _ = parse_flags(component, argv[1:])
                    return flags
        return {}

    def _component(self, name: str) -> bool:
        """Whether `name` runs now; a component coming back is a new process."""
        now = self.nodes.component_running(name)
        if now and not self.running[name]:
            self._new_manager(self._controllers_flag())
        self.running[name] = now
        return now

    def _tick_schedulers(self) -> None:
        """Every running kube-scheduler process holds or waits for the Lease; the
        holder schedules. A process that is gone writes nothing more (its Lease goes
        stale and expires); a restarted container is a new process."""
        instances = self.nodes.component_instances(SCHEDULER)
        for key, (node, pod_key) in instances.items():
            if key not in self.schedulers:
                self.schedulers[key] = (node, pod_key, SchedulerLoop(self.cluster, host=node))
        for key, (node, pod_key, loop) in list(self.schedulers.items()):
            if key not in instances:
                loop.tick(running=False)
                del self.schedulers[key]
                continue
            was_leading = loop.elector.is_leader
            loop.tick(running=True)
            if loop.elector.is_leader and not was_leading:
                self.nodes.note_leader(node, pod_key, LEASE_NAME)
        self.running[SCHEDULER] = bool(instances)

    @property
    def scheduler(self) -> SchedulerLoop | None:
        """The scheduler process that holds the Lease (else the first one running)."""
        loops = [loop for _, _, loop in self.schedulers.values()]
        leading = [loop for loop in loops if loop.elector.is_leader]
        chosen = leading or loops
        return chosen[0] if chosen else None

    def _controllers_flag(self) -> str:
        flag = self._running_flags(CONTROLLER_MANAGER).get("controllers", DEFAULT_CONTROLLERS)
        try:
            select_controllers(flag.split(","))
        except ValueError:
            # The component itself refuses to start with an unknown controller, so it
            # is not running; keep the last good list for when it comes back.
            return self.controllers_flag
        return flag

    def _new_manager(self, flag: str) -> None:
        self.manager.close()
        self.controllers_flag = flag
        self.manager = ControllerManager.for_cluster(
            self.cluster, controllers=[part for part in flag.split(",") if part]
        )

    # ---- the API server ----------------------------------------------------------------

    def api_serving(self) -> bool:
        """Whether the cluster's kube-apiserver answers clients now (module text)."""
        started = self.nodes.api_server_started()
        if started is None:
            return False
        if self.booted_at is None or started <= self.booted_at:
            return True
        return self.cluster.clock.now().timestamp() - started >= API_START_SECONDS

    def _note_api(self, serving: bool) -> None:
        """Publish whether the API answers; a stopping API server ends every watch
        (its clients' connections close)."""
        was_down = bool(getattr(self.cluster, "api_down", False))
        self.cluster.api_down = not serving
        if not serving and not was_down:
            log.info("cluster %s: the API server stopped serving", self.cluster.id)
            self.cluster.store.close_watches()

    def _api_down_tick(self) -> None:
        """The components that need the API wait for it: they lose their leader Leases
        (a scheduler or controller manager that cannot renew exits upstream and is
        restarted by the kubelet), so each is a new process when the API is back."""
        for _, _, loop in self.schedulers.values():
            loop.tick(running=False)
        self.schedulers = {}
        self.running[SCHEDULER] = False
        self.manager.tick(running=False)
        self.running[CONTROLLER_MANAGER] = False

    # ---- stepping ----------------------------------------------------------------------

    def _on_write(self, event: WatchEvent) -> None:
        # Events never give a component work; the control plane's own Lease renewals
        # neither (leader election and node heartbeats run on their own timers), nor a
        # kubelet's periodic node status report that changes nothing but heartbeat
        # times (nodeStatusReportFrequency, every 5 min): no controller acts on those
        # alone, and waking a full pass for each made every idle cluster run three
        # passes (the report, then its probes looked at again) every 5 minutes.
        if event.plural == "events":
            return
        if self._in_plane and (event.plural == "leases" or _heartbeat_report(event)):
            return
        self._writes += 1
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def tick(self) -> None:
        """One pass of every component at the clock's current time."""
        with self.lock:
            if self._closed:
                return
            # Writes made during the pass wake the next one (a pod a controller
            # creates is scheduled next pass), as `settle` does.
            self._seen_writes = self._writes
            self._planned = False
            self._in_plane = True
            try:
                self._pass()
            finally:
                self._in_plane = False
            self._seen_touches = self.nodes.touches

    def _pass(self) -> None:
        self.nodes.api_up = self.api_serving()
        self.nodes.sync()
        serving = self.api_serving()
        self._note_api(serving)
        if not serving:
            self._api_down_tick()
            self.ticks += 1
            return
        self._aggregate()
        self._tick_schedulers()
        running = self._component(CONTROLLER_MANAGER)
        if running:
            flag = self._controllers_flag()
            if flag != self.controllers_flag:
                self._new_manager(flag)
        self.manager.tick(running=running)
        self.ingress.tick()
        self._report_health()
        self.ticks += 1

    # ---- the wall-clock loop -----------------------------------------------------------

    def poll(self) -> None:
        """What the server's loop runs every 0.25 s for a wall-clock cluster: a full
        tick when something changed or is due, else the heartbeat pass when due,
        else nothing (see the module text)."""
        if self._closed:
            return
        now = self.cluster.clock.now().timestamp()
        changed = self._writes != self._seen_writes or self.nodes.touches != self._seen_touches
        if changed or not self._planned or now >= self._wake:
            with self.lock:
                if changed:
                    self._changed_at = now
                self.tick()
                self._plan()
        elif now >= self._beat_at:
            self._beat(now)

    def due(self) -> bool:
        """Whether `poll` would do anything now (a full tick or the heartbeat pass):
        the server's loop skips the clusters that would not, instead of handing each
        a pass of its own every LOOP_INTERVAL."""
        if self._closed:
            return False
        if self._writes != self._seen_writes or self.nodes.touches != self._seen_touches:
            return True
        if not self._planned:
            return True
        now = self.cluster.clock.now().timestamp()
        return now >= self._wake or now >= self._beat_at

    def next_wake(self) -> float:
        """When `due()` next turns true for a full tick without any change (the
        planned wake, a clock timestamp); 0.0 when it is true now or nothing is
        planned. Heartbeat passes are not counted: the server's loop looks for them
        at least every LOOP_SCAN_SECONDS. Changes before then are announced through
        `on_change`."""
        if self._closed:
            return float("inf")
        if not self._planned:
            return 0.0
        if self._writes != self._seen_writes or self.nodes.touches != self._seen_touches:
            return 0.0
        return self._wake

    def beat_only(self) -> bool:
        """Whether what `poll` has due now is the heartbeat pass alone (no full
        tick): a pass of well under a millisecond, which the server's loop runs
        together with the other clusters' in one job."""
        if self._closed or not self._planned:
            return False
        if self._writes != self._seen_writes or self.nodes.touches != self._seen_touches:
            return False
        now = self.cluster.clock.now().timestamp()
        return self._beat_at <= now < self._wake

    def _plan(self) -> None:
        """After a full tick: when the next one is due if nothing changes, and when
        the next heartbeat pass is."""
        now = self.cluster.clock.now().timestamp()
        resync = CLOCK_RESYNC_SECONDS
        # While the API server does not serve, every second: its restart and start-up
        # delay run on the clock, and nothing is written that would wake a tick.
        down = bool(getattr(self.cluster, "api_down", False))
        if not down and self.nodes.beating() and steady(self.cluster.store):
            resync = IDLE_RESYNC_SECONDS
        due = [now + resync]
        kubelets = self.nodes.wake_time(self._changed_at)
        if kubelets is not None:
            due.append(kubelets)
        self._wake = max(min(due), now)
        self._plan_beat(now)
        self._planned = True

    def _plan_beat(self, now: float) -> None:
        if self.schedulers or self.running[CONTROLLER_MANAGER]:
            # The leader Leases every retry period; node Leases due meanwhile ride
            # along (renewed at most one retry period late, well within their 40 s):
            # one pass every 2 s rather than one more for each node.
            self._beat_at = now + RETRY_PERIOD_SECONDS
            return
        lease = self.nodes.next_heartbeat()
        self._beat_at = lease if lease is not None else now + RETRY_PERIOD_SECONDS

    def _beat(self, now: float) -> None:
        """The heartbeat pass: node Leases (and status checks) and leader Leases."""
        with self.lock:
            if self._closed:
                return
            if getattr(self.cluster, "api_down", False):
                # Nothing reaches the API: the full ticks (every second) see it return.
                self._plan_beat(now)
                return
            self._in_plane = True
            try:
                self.nodes.heartbeat(now)
                electors = [loop.elector for _, _, loop in self.schedulers.values()]
                if self.running[CONTROLLER_MANAGER]:
                    electors.append(self.manager.elector)
                for elector in electors:
                    if elector.held:
                        elector.renew()  # every retry period
                    else:
                        # A standby instance: trying to take the Lease over, and what
                        # a new leader does, are a full tick's work.
                        self._planned = False
            finally:
                self._in_plane = False
            self._plan_beat(now)

    def _aggregate(self) -> None:
        """APIService conditions, then a metrics scrape while the Metrics API serves."""
        self.api_services.tick()
        self.scraper.tick(serving=is_available(self.cluster, "metrics.k8s.io", "v1beta1"))

    def _report_health(self) -> None:
        """Keep `cluster.component_health` (ComponentStatus) in step with the pods."""
        for key, (component, port) in HEALTH_PORTS.items():
            if self.running[component]:
                health = (True, "ok", "")
            else:
                url = f"https://127.0.0.1:{port}/healthz"
                error = f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
                health = (False, "", error)
            self.cluster.component_health[key] = health

    def settle(self, max_passes: int = MAX_SETTLE_PASSES) -> int:
        """Tick at the current instant until a pass writes nothing; returns passes run."""
        with self.lock:
            passes = 0
            while passes < max_passes:
                passes += 1
                before = self.cluster.store.resource_version
                self.tick()
                if self.cluster.store.resource_version == before:
                    break
            if self.booted_at is None:
                self.booted_at = self.cluster.clock.now().timestamp()
            return passes

    def advance(self, seconds: float, step: float = STEP_SECONDS) -> None:
        """Move a manual clock forward by `seconds` in steps of `step`, settling the
        control plane at each step. Raises ValueError for a negative or too large
        `seconds`, TypeError when the clock is not manual."""
        if not self.manual:
            raise TypeError("only a manual-clock cluster can be advanced")
        if seconds < 0 or seconds > MAX_ADVANCE_SECONDS:
            raise ValueError(f"seconds must be between 0 and {MAX_ADVANCE_SECONDS:.0f}")
        clock = self.cluster.clock
        assert isinstance(clock, ManualClock)
        with self.lock:
            self.settle()
            left = float(seconds)
            while left > 1e-9:
                delta = min(step, left)
                clock.advance(delta)
                left -= delta
                self.settle()

    def restored(self) -> None:
        """Rebuild the in-memory component state after the store was replaced by a
        snapshot: informer caches, queues and leader identities start afresh."""
        with self.lock:
            self._planned = False
            self._notify()
            self.manager.close()
            self.schedulers = {}
            self.ingress.close()
            self.ingress = IngressControllers(self.cluster)
            self.api_services = ApiServiceSync(self.cluster)
            self.scraper = MetricsScraper(self.cluster)
            self.manager = ControllerManager.for_cluster(
                self.cluster,
                controllers=[p for p in self.controllers_flag.split(",") if p],
            )
            self.running = {SCHEDULER: True, CONTROLLER_MANAGER: True}

    def close(self) -> None:
        """Stop reacting to writes (the cluster is being deleted)."""
        with self.lock:
            self._closed = True
            if self._on_write in self.cluster.store.after_write:
                self.cluster.store.after_write.remove(self._on_write)
            self.manager.close()
            self.ingress.close()

    def status(self) -> dict[str, Any]:
        """What the admin API reports about the control plane."""
        return {
            "clock": "manual" if self.manual else "wall",
            "now": self.cluster.clock.now().isoformat(),
            "components": {
                name: self.nodes.component_running(name)
                for name in ("etcd", "kube-apiserver", SCHEDULER, CONTROLLER_MANAGER)
            },
            "apiServing": not getattr(self.cluster, "api_down", False),
        }


def attach(cluster: Cluster, *, drive: bool = True) -> ControlPlane | None:
    """Give `cluster` a control plane, settle it once (mirror pods, add-on pods and
    node heartbeats appear), and for a wall-clock cluster add its tick to
    `cluster.loops` when `drive` is true. Returns None (and logs) when the node agents
    cannot be built."""
    existing = getattr(cluster, "control_plane", None)
    if isinstance(existing, ControlPlane):
        return existing
    try:
        plane = ControlPlane(cluster)
    except Exception:
        log.exception("no control plane for cluster %s", cluster.id)
        return None
    cluster.control_plane = plane
    driven = plane.manual or drive
    # While something steps the kubelets, they finish deleting pods bound to a node
    # (graceful deletion, as upstream); without that, deletes are immediate.
    cluster.graceful_pod_deletion = driven
    plane.settle()
    if drive and not plane.manual:
        cluster.loops.append(plane.poll)
    return plane


def _heartbeat_report(event: WatchEvent) -> bool:
    """Whether `event` is a Node update that only moved heartbeat times (the
    conditions' lastHeartbeatTime, managedFields' times, the resourceVersion)."""
    if event.plural != "nodes" or event.old is None or event.data is None:
        return False
    return _without_heartbeat(event.old) == _without_heartbeat(event.data)


def _without_heartbeat(raw: bytes) -> Any:
    obj = json.loads(raw)
    meta = obj.get("metadata") or {}
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict):
            entry.pop("time", None)
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict):
            condition.pop("lastHeartbeatTime", None)
    return obj


__all__ = ["MAX_ADVANCE_SECONDS", "STEP_SECONDS", "ControlPlane", "attach"]

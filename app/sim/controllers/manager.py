"""kube-controller-manager for one simulated cluster: every controller, stepped by a clock.

    manager = ControllerManager.for_cluster(cluster)
    manager.sync()          # run every controller until nothing changes
    manager.step()          # one pass of every controller (one tick of the loop)
    manager.tick(running)   # leader election first; controllers only while leading

Controllers are selected like upstream's `--controllers` flag: `("*",)` runs all,
`("*", "-nodelifecycle")` all but one, `("deployment", "replicaset")` just those;
canonical names (`deployment-controller`) and the old ones both work.
A controller that raises is logged and retried on the next step; it never stops
the others (a work queue requeues with backoff upstream).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from app.sim.client.events import EventRecorder
from app.sim.client.leaderelection import LeaderElector, new_identity
from app.sim.controllers.base import Controller, ControllerContext
from app.sim.controllers.client import ApiClient
from app.sim.controllers.timing import RESYNC_SECONDS
from app.sim.machinery.clock import Clock
from app.sim.machinery.store import ObjectStore
from app.sim.machinery.watch import MODIFIED, WatchEvent

if TYPE_CHECKING:
    from app.sim.machinery.cluster import Cluster

log = logging.getLogger(__name__)

LEASE_NAME = "kube-controller-manager"
# Writes that never wake an ANY_KIND controller: they happen every few seconds
# (kubelet and leader Leases) or are the controllers' own output (Events).
_QUIET_KINDS = {("", "events"), ("coordination.k8s.io", "leases")}


def _registry() -> dict[str, Callable[[], Controller]]:
    from app.sim.controllers.cronjob import CronJobController
    from app.sim.controllers.csr import CSRSigningController
    from app.sim.controllers.daemonset import DaemonSetController
    from app.sim.controllers.deployment import DeploymentController
    from app.sim.controllers.disruption import DisruptionController
    from app.sim.controllers.endpoints import EndpointsController
    from app.sim.controllers.endpointslice import EndpointSliceController
    from app.sim.controllers.ephemeral import EphemeralVolumeController
    from app.sim.controllers.gc import GarbageCollector
    from app.sim.controllers.hpa import HorizontalPodAutoscalerController
    from app.sim.controllers.job import JobController, TTLAfterFinishedController
    from app.sim.controllers.namespace import NamespaceController
    from app.sim.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
    from app.sim.controllers.podgc import PodGarbageCollector
    from app.sim.controllers.replicaset import ReplicaSetController, ReplicationManager
    from app.sim.controllers.resourcequota import ResourceQuotaController
    from app.sim.controllers.rootca import RootCAPublisher
    from app.sim.controllers.serviceaccount import ServiceAccountController
    from app.sim.controllers.statefulset import StatefulSetController
    from app.sim.controllers.volume import PersistentVolumeBinder
    from app.sim.controllers.volume_expand import PersistentVolumeExpander
    from app.sim.controllers.volume_protection import (
        PVCProtectionController,
        PVProtectionController,
    )

    # Upstream's canonical controller names (cmd/kube-controller-manager/names), in an
    # order that lets one step carry a change down the ownership chain
    # (Deployment -> ReplicaSet -> Pod -> endpoints).
    return {
        "namespace-controller": NamespaceController,
        "serviceaccount-controller": ServiceAccountController,
        "root-ca-certificate-publisher-controller": RootCAPublisher,
        "node-lifecycle-controller": NodeLifecycleController,
        "taint-eviction-controller": TaintEvictionController,
        "pod-garbage-collector-controller": PodGarbageCollector,
        "cronjob-controller": CronJobController,
        "job-controller": JobController,
        "ttl-after-finished-controller": TTLAfterFinishedController,
        "horizontal-pod-autoscaler-controller": HorizontalPodAutoscalerController,
        "deployment-controller": DeploymentController,
        "replicaset-controller": ReplicaSetController,
        "replicationcontroller-controller": ReplicationManager,
        "certificatesigningrequest-signing-controller": CSRSigningController,
        "daemonset-controller": DaemonSetController,
        "statefulset-controller": StatefulSetController,
        "persistentvolume-binder-controller": PersistentVolumeBinder,
        "persistentvolume-expander-controller": PersistentVolumeExpander,
        "ephemeral-volume-controller": EphemeralVolumeController,
        "persistentvolumeclaim-protection-controller": PVCProtectionController,
        "persistentvolume-protection-controller": PVProtectionController,
        "disruption-controller": DisruptionController,
        "endpointslice-controller": EndpointSliceController,
        "endpoints-controller": EndpointsController,
        "resourcequota-controller": ResourceQuotaController,
        "garbage-collector-controller": GarbageCollector,
    }


# The pre-1.28 names `--controllers` still accepts (ControllerDescriptor aliases).
ALIASES = {
    "namespace": "namespace-controller",
    "serviceaccount": "serviceaccount-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "cronjob": "cronjob-controller",
    "job": "job-controller",
    "ttl-after-finished": "ttl-after-finished-controller",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler-controller",
    "deployment": "deployment-controller",
    "replicaset": "replicaset-controller",
    "replicationcontroller": "replicationcontroller-controller",
    "csrsigning": "certificatesigningrequest-signing-controller",
    "daemonset": "daemonset-controller",
    "statefulset": "statefulset-controller",
    "persistentvolume-binder": "persistentvolume-binder-controller",
    "persistentvolume-expander": "persistentvolume-expander-controller",
    "pvc-protection": "persistentvolumeclaim-protection-controller",
    "ephemeral-volume": "ephemeral-volume-controller",
    "pv-protection": "persistentvolume-protection-controller",
    "endpointslice": "endpointslice-controller",
    "endpoint": "endpoints-controller",
    "resourcequota": "resourcequota-controller",
    "garbagecollector": "garbage-collector-controller",
    "podgc": "pod-garbage-collector-controller",
    "disruption": "disruption-controller",
    "root-ca-cert-publisher": "root-ca-certificate-publisher-controller",
}
# Controllers kube-controller-manager knows but the simulator has nothing for (no
# certificates, IPAM, ...): accepted by `--controllers` and ignored, so the
# kubeadm manifest's `--controllers=*,bootstrapsigner,tokencleaner` works.
KNOWN_ELSEWHERE = frozenset(
    {
        "serviceaccount-token-controller",
        "serviceaccount-token",
        "endpointslice-mirroring-controller",
        "endpointslicemirroring",
        "certificatesigningrequest-approving-controller",
        "csrapproving",
        "certificatesigningrequest-cleaner-controller",
        "csrcleaner",
        "ttl-controller",
        "ttl",
        "bootstrap-signer-controller",
        "bootstrapsigner",
        "token-cleaner-controller",
        "tokencleaner",
        "node-ipam-controller",
        "nodeipam",
        "persistentvolume-attach-detach-controller",
        "attachdetach",
        "clusterrole-aggregation-controller",
        "clusterrole-aggregation",
        "storageversion-garbage-collector-controller",
        "storage-version-gc",
        "resourceclaim-controller",
        "resource-claim-controller",
        "legacy-serviceaccount-token-cleaner-controller",
        "legacy-service-account-token-cleaner",
        "validatingadmissionpolicy-status-controller",
        "service-cidr-controller",
        "storage-version-migrator-controller",
        "cloud-node-lifecycle-controller",
        "cloud-node-lifecycle",
        "service-lb-controller",
        "service",
        "node-route-controller",
        "route",
    }
)


def controller_names() -> list[str]:
    """Every controller this manager knows, in run order."""
    return list(_registry())


def select_controllers(spec: Iterable[str]) -> list[str]:
    """Resolve a `--controllers` list (`*`, `name`, `-name`, old names as aliases) to
    the canonical names of the controllers to run, in run order. Raises ValueError
    on an unknown name, as kube-controller-manager refuses to start with one."""
    known = controller_names()
    wanted: set[str] = set()
    removed: set[str] = set()
    for item in spec:
        item = item.strip()
        if not item:
            continue
        if item == "*":
            wanted.update(known)
            continue
        bare = item.lstrip("-")
        canonical = ALIASES.get(bare, bare)
        if canonical not in known:
            if canonical in KNOWN_ELSEWHERE:
                continue
            raise ValueError(f'"{bare}" is not in the list of known controllers')
        (removed if item.startswith("-") else wanted).add(canonical)
    return [name for name in known if name in wanted and name not in removed]


class ControllerManager:
    """All controllers of one cluster sharing a context; see the module docstring."""

    def __init__(
        self,
        store: ObjectStore,
        clock: Clock | None = None,
        *,
        cluster: Cluster | None = None,
        controllers: Iterable[str] = ("*",),
        identity: str | None = None,
    ) -> None:
        clock = clock or store.clock
        self.store = store
        self.clock = clock
        self.context = ControllerContext(
            store,
            clock,
            ApiClient(store, cluster),
            EventRecorder(store, clock, "kube-controller-manager"),
        )
        registry = _registry()
        self.enabled = select_controllers(controllers)
        self.controllers: list[Controller] = [registry[name]() for name in self.enabled]
        self.elector = LeaderElector(
            store,
            clock,
            LEASE_NAME,
            identity or new_identity(),
            events=self.context.events.for_component(LEASE_NAME),
        )
        self._writes = 0
        # resourceVersion of the last write per kind, and of the write before each
        # controller's last run (with the clock time of that run).
        self._kind_rv: dict[tuple[str, str], int] = {}
        self._any_rv = 0
        self._last_run: dict[str, tuple[int, float]] = {}
        store.after_write.append(self._count)

    @classmethod
    def for_cluster(cls, cluster: Cluster, **options) -> ControllerManager:
        """A manager whose creates go through the cluster's API request pipeline."""
        return cls(cluster.store, cluster.clock, cluster=cluster, **options)

    def close(self) -> None:
        """Stop counting writes (the manager is being discarded)."""
        if self._count in self.store.after_write:
            self.store.after_write.remove(self._count)

    def _count(self, event: WatchEvent) -> None:
        # Events do not count as progress: a controller that keeps failing records
        # the same warning each pass, and that must not keep `sync` spinning.
        if event.plural != "events":
            self._writes += 1
        key = (event.group, event.plural)
        self._kind_rv[key] = event.resource_version
        # ANY_KIND controllers (garbage collector, quota) care about objects appearing,
        # going, or starting to go; status updates of running pods do not wake them.
        structural = event.type != MODIFIED or b'"deletionTimestamp"' in event.data
        if key not in _QUIET_KINDS and structural:
            self._any_rv = event.resource_version

    def _due(self, controller: Controller, now: float) -> bool:
        watches = getattr(controller, "watches", None)
        last = self._last_run.get(controller.name)
        if watches is None or last is None:
            return True
        last_rv, last_time = last
        if now - last_time >= getattr(controller, "resync_seconds", RESYNC_SECONDS):
            return True
        if ("*", "*") in watches:
            return self._any_rv > last_rv
        return any(self._kind_rv.get(kind, 0) > last_rv for kind in watches)

    def step(self, *, resync: bool = False) -> int:
        """Run every enabled controller that has work (a watched kind changed, its
        resync is due, or `resync` forces all); returns how many objects were written."""
        before = self._writes
        for controller in self.controllers:
            now = self.clock.now().timestamp()
            if not resync and not self._due(controller, now):
                continue
            self._last_run[controller.name] = (self.store.resource_version, now)
            try:
                controller.reconcile(self.context)
            except Exception:  # one broken controller must not stop the others
                log.exception("controller %s failed; retrying on the next step", controller.name)
        return self._writes - before

    def sync(self, max_rounds: int = 50) -> int:
        """Step until a pass writes nothing (or `max_rounds`); returns total writes."""
        total = 0
        for _ in range(max_rounds):
            written = self.step()
            total += written
            if written == 0:
                break
        return total

    def tick(self, running: bool = True) -> bool:
        """One loop iteration of the component: renew or acquire the Lease while
        running, and run the controllers only while this instance leads.
        Returns whether the controllers ran."""
        leading = self.elector.tick(running)
        if running and leading:
            self.step()
            return True
        return False

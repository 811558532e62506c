"""kube-controller-manager for one simulated cluster: every controller, stepped by a clock.

    manager = ControllerManager.for_cluster(cluster)
    manager.sync()          # run every controller until nothing changes
    manager.step()          # one pass of every controller (one tick of the loop)
    manager.tick(running)   # leader election first; controllers only while leading

Controllers are selected like upstream's `--controllers` flag: `("*",)` runs all,
`("*", "-nodelifecycle")` all but one, `("deployment", "replicaset")` just those.
A controller that raises is logged and retried on the next step; it never stops
the others (a work queue requeues with backoff upstream).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from app.sim.clock import Clock
from app.sim.controllers.base import Controller, ControllerContext
from app.sim.controllers.client import ApiClient
from app.sim.controllers.events import EventRecorder
from app.sim.controllers.leaderelection import LeaderElector, new_identity
from app.sim.store import ObjectStore
from app.sim.watch import WatchEvent

if TYPE_CHECKING:
    from app.sim.cluster import Cluster

log = logging.getLogger(__name__)

LEASE_NAME = "kube-controller-manager"


def _registry() -> dict[str, Callable[[], Controller]]:
    from app.sim.controllers.cronjob import CronJobController
    from app.sim.controllers.daemonset import DaemonSetController
    from app.sim.controllers.deployment import DeploymentController
    from app.sim.controllers.endpoints import EndpointsController
    from app.sim.controllers.endpointslice import EndpointSliceController
    from app.sim.controllers.gc import GarbageCollector
    from app.sim.controllers.job import JobController, TTLAfterFinishedController
    from app.sim.controllers.namespace import NamespaceController
    from app.sim.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
    from app.sim.controllers.replicaset import ReplicaSetController
    from app.sim.controllers.resourcequota import ResourceQuotaController
    from app.sim.controllers.serviceaccount import ServiceAccountController
    from app.sim.controllers.statefulset import StatefulSetController
    from app.sim.controllers.volume import PersistentVolumeBinder

    # Upstream's --controllers names, in an order that lets one step carry a change
    # down the ownership chain (Deployment -> ReplicaSet -> Pod -> endpoints).
    return {
        "namespace": NamespaceController,
        "serviceaccount": ServiceAccountController,
        "nodelifecycle": NodeLifecycleController,
        "taint-eviction-controller": TaintEvictionController,
        "cronjob": CronJobController,
        "job": JobController,
        "ttl-after-finished": TTLAfterFinishedController,
        "deployment": DeploymentController,
        "replicaset": ReplicaSetController,
        "daemonset": DaemonSetController,
        "statefulset": StatefulSetController,
        "persistentvolume-binder": PersistentVolumeBinder,
        "endpointslice": EndpointSliceController,
        "endpoint": EndpointsController,
        "resourcequota": ResourceQuotaController,
        "garbage-collector": GarbageCollector,
    }


def controller_names() -> list[str]:
    """Every controller this manager knows, in run order."""
    return list(_registry())


def select_controllers(spec: Iterable[str]) -> list[str]:
    """Resolve a `--controllers` list (`*`, `name`, `-name`); ValueError on an
    unknown name, as kube-controller-manager refuses to start with one."""
    known = controller_names()
    wanted: set[str] = set()
    removed: set[str] = set()
    for item in spec:
        item = item.strip()
        if item == "*":
            wanted.update(known)
            continue
        bare = item.lstrip("-")
        if bare not in known:
            raise ValueError(f'"{bare}" is not in the list of known controllers')
        (removed if item.startswith("-") else wanted).add(bare)
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
        self.elector = LeaderElector(store, clock, LEASE_NAME, identity or new_identity())
        self._writes = 0
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

    def step(self) -> int:
        """Run every enabled controller once; returns how many objects were written."""
        before = self._writes
        for controller in self.controllers:
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

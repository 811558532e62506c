"""Leader election through coordination.k8s.io Leases, as client-go's leaderelection.

A component that runs calls `tick(running=True)` each loop: it creates the Lease
when there is none, renews it every `retry_period` while it holds it, and takes it
over once the holder's `renewTime + leaseDurationSeconds` has passed (bumping
`leaseTransitions`). A broken component calls `tick(running=False)`: it writes
nothing, so its Lease's renewTime stops moving and `kubectl get lease -n
kube-system` shows it going stale, as on a real cluster.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from app.sim.client.events import EventRecorder
from app.sim.machinery.clock import Clock, parse_ts, rfc3339_micro
from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore

# kube-controller-manager and kube-scheduler defaults (--leader-elect-lease-duration,
# --leader-elect-renew-deadline, --leader-elect-retry-period).
LEASE_DURATION_SECONDS = 15
RENEW_DEADLINE_SECONDS = 10
RETRY_PERIOD_SECONDS = 2
LEASE_NAMESPACE = "kube-system"


def new_identity(host: str = "controlplane") -> str:
    """A holder identity like upstream's `<hostname>_<uuid>` (a new one per process)."""
    return f"{host}_{uuid.uuid4()}"


class LeaderElector:
    """Holds (or waits for) the Lease `namespace/name` under `identity`."""

    def __init__(
        self,
        store: ObjectStore,
        clock: Clock,
        name: str,
        identity: str | None = None,
        *,
        namespace: str = LEASE_NAMESPACE,
        lease_duration: int = LEASE_DURATION_SECONDS,
        retry_period: float = RETRY_PERIOD_SECONDS,
        events: EventRecorder | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.name = name
        self.identity = identity or new_identity()
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.retry_period = retry_period
        self._leading = False
        # When this identity last wrote renewTime (the fast path's recency check).
        self._renewed: datetime | None = None
        # client-go records "<identity> became leader" on the Lease (LeaderElection).
        self.events = events

    @property
    def is_leader(self) -> bool:
        """Whether the last tick held the Lease (and it has not expired since)."""
        if not self._leading:
            return False
        lease = self.store.get("coordination.k8s.io", "leases", self.namespace, self.name)
        return (
            lease is not None and (lease.get("spec") or {}).get("holderIdentity") == self.identity
        )

    @property
    def held(self) -> bool:
        """Whether the last tick held the Lease (without reading it again)."""
        return self._leading

    def restart(self, host: str = "controlplane") -> None:
        """The component process restarted: a new identity that must wait for the old
        Lease to expire before it leads (a restarted pod does not inherit leadership)."""
        self.identity = new_identity(host)
        self._leading = False
        self._renewed = None

    def tick(self, running: bool) -> bool:
        """Acquire or renew while running; returns whether this identity leads."""
        if not running:
            self._leading = False
            return False
        try:
            self._leading = self._try_acquire_or_renew(self.clock.now())
        except ApiError:
            # A conflicting write (another candidate, a learner's kubectl edit):
            # retry next tick as client-go does after retryPeriod.
            self._leading = False
        return self._leading

    def renew(self) -> bool:
        """A holder's renewal between full ticks (the heartbeat pass): the same
        renewal `tick(True)` writes, through the store's Lease fast path; falls back
        to `tick(True)` when that does not apply (the Lease is gone or taken over)."""
        now = self.clock.now()
        recent = self._renewed is not None and (now - self._renewed).total_seconds() < (
            self.retry_period
        )
        if self._leading and recent:
            return True
        try:
            renewed = self.store.renew_lease(
                self.namespace, self.name, self.identity, rfc3339_micro(now), self.lease_duration
            )
        except ApiError:
            renewed = False
        if not renewed:
            return self.tick(True)
        self._renewed = now
        self._leading = True
        return True

    def _became_leader(self, lease: dict) -> None:
        if self.events is not None:
            self.events.normal(lease, "LeaderElection", f"{self.identity} became leader")

    def _try_acquire_or_renew(self, now: datetime) -> bool:
        stamp = rfc3339_micro(now)
        lease = self.store.get("coordination.k8s.io", "leases", self.namespace, self.name)
        if lease is None:
            created = self.store.create(
                "coordination.k8s.io",
                "leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {
                        "holderIdentity": self.identity,
                        "leaseDurationSeconds": self.lease_duration,
                        "acquireTime": stamp,
                        "renewTime": stamp,
                        "leaseTransitions": 0,
                    },
                },
            )
            self._renewed = now
            self._became_leader(created)
            return True
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        renewed = parse_ts(spec.get("renewTime") or spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder == self.identity:
            if renewed is not None and (now - renewed).total_seconds() < self.retry_period:
                self._renewed = renewed
                return True
            spec["renewTime"] = stamp
            spec["leaseDurationSeconds"] = self.lease_duration
            self.store.update("coordination.k8s.io", "leases", lease)
            self._renewed = now
            return True
        expired = renewed is None or (now - renewed).total_seconds() > duration
        if holder and not expired:
            return False
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = self.lease_duration
        spec["acquireTime"] = stamp
        spec["renewTime"] = stamp
        if holder:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        self._became_leader(self.store.update("coordination.k8s.io", "leases", lease))
        self._renewed = now
        return True

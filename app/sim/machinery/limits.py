"""Per-cluster limits of a shared simulator server, and the errors past them.

One server holds hundreds of learners' clusters in one process, so no cluster may take
memory or CPU from the others. Each cluster has:

- a storage quota (`StorageLimits`): objects, total stored bytes, bytes per object,
  enforced by the object store on every create and every update that grows;
- a request rate (`RateLimiter`, a token bucket) and watch counts per credential and
  per cluster, enforced by the HTTP server.

Requests from a cluster's API clients (kubectl, the Python client, a grader) run inside
`client_request()`; the control plane's own writes (kubelets, scheduler, controllers)
run outside it. They pass through no rate limit, and the storage quota leaves them a
reserve above the clients' limit (`SYSTEM_RESERVE`), so a learner who filled the
cluster does not stop its node heartbeats, leases and events.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any

from app.sim.machinery.errors import ApiError

# Upstream's limits, for comparison: kube-apiserver refuses request bodies over 3 MiB
# (`--max-request-bytes` of etcd is 1.5 MiB per object); a ConfigMap or Secret holds at
# most 1 MiB of data (`MaxSecretSize`, validation of core/v1).
MIB = 1024 * 1024

# The share of each storage limit kept for the control plane's own writes.
SYSTEM_RESERVE = 0.10

# The name the quota errors give, worded like a ResourceQuota's.
QUOTA_NAME = "simulator-cluster-quota"


@dataclass(frozen=True)
class StorageLimits:
    """How much one cluster may store (0 turns a limit off)."""

    max_objects: int = 10_000
    max_bytes: int = 32 * MIB
    # etcd's default --max-request-bytes: every object upstream accepts fits (a
    # ConfigMap's 1 MiB of data plus its metadata).
    max_object_bytes: int = 3 * MIB // 2


@dataclass(frozen=True)
class ClusterLimits:
    """Every per-cluster limit of a simulator server; `from_env` reads overrides."""

    storage: StorageLimits = field(default_factory=StorageLimits)
    # Requests per second per cluster (token bucket refill) and the burst allowed.
    requests_per_second: float = 100.0
    request_burst: int = 300
    # Open watches per credential (bearer token, client certificate or anonymous) and
    # per cluster.
    watches_per_credential: int = 20
    watches_per_cluster: int = 100
    # Bytes of events waiting for one slow watcher before it is cut off (it re-lists).
    # Above the storage quota, so the initial list of a full cluster always fits; the
    # queued events share the stored bytes, so this is not memory spent per watcher.
    watch_queue_bytes: int = 48 * MIB

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ClusterLimits:
        """Defaults, overridden by `CERTPREP_SIM_<NAME>` variables (upper-case field
        names: `CERTPREP_SIM_MAX_OBJECTS`, `CERTPREP_SIM_REQUESTS_PER_SECOND`, ...).
        Raises ValueError for a value that is not a number >= 0."""
        storage = StorageLimits()
        storage_changes: dict[str, Any] = {
            f.name: _number(environ, f.name, int)
            for f in fields(StorageLimits)
            if _env_name(f.name) in environ
        }
        own: dict[str, Any] = {
            f.name: _number(environ, f.name, float if f.type == "float" else int)
            for f in fields(cls)
            if f.name != "storage" and _env_name(f.name) in environ
        }
        return cls(storage=replace(storage, **storage_changes), **own)


def _env_name(name: str) -> str:
    return f"CERTPREP_SIM_{name.upper()}"


def _number(environ: Mapping[str, str], name: str, kind: type) -> int | float:
    raw = environ[_env_name(name)]
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{_env_name(name)} must be a number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{_env_name(name)} must be 0 or more")
    return value


# ---- who is writing ----------------------------------------------------------------------

_client_request: ContextVar[bool] = ContextVar("sim_client_request", default=False)


@contextlib.contextmanager
def client_request() -> Iterator[None]:
    """Mark the work done inside as a cluster API client's (learner, grader)."""
    token = _client_request.set(True)
    try:
        yield
    finally:
        _client_request.reset(token)


def in_client_request() -> bool:
    return _client_request.get()


# ---- storage quota -------------------------------------------------------------------------


def storage_error(
    limits: StorageLimits,
    *,
    plural: str,
    name: str,
    group: str,
    size: int,
    objects: int,
    used_bytes: int,
    new_object: bool,
    growth: int,
) -> ApiError | None:
    """The error a write must get under `limits`, or None when it fits.

    `size` is the object's encoded size, `objects` and `used_bytes` the cluster's use
    before the write, `growth` the bytes the write adds. A client write gets 413 for
    an object over `max_object_bytes`, 403 "exceeded quota" past the object or byte
    limit; the control plane's writes may use `SYSTEM_RESERVE` more.
    """
    qualified = f"{plural}.{group}" if group else plural
    if limits.max_object_bytes and size > limits.max_object_bytes:
        return ApiError(
            413,
            f'{qualified} "{name}" is too large: {size} bytes; an object may hold at most '
            f"{limits.max_object_bytes} bytes in this cluster",
            reason="RequestEntityTooLarge",
            details={"name": name, "group": group, "kind": plural},
        )
    share = 1.0 if in_client_request() else 1.0 + SYSTEM_RESERVE
    max_objects = math.floor(limits.max_objects * share)
    max_bytes = math.floor(limits.max_bytes * share)
    exceeded = []
    if new_object and limits.max_objects and objects + 1 > max_objects:
        exceeded.append(("objects", 1, objects, limits.max_objects))
    if growth > 0 and limits.max_bytes and used_bytes + growth > max_bytes:
        exceeded.append(("storage", growth, used_bytes, limits.max_bytes))
    if not exceeded:
        return None
    requested = ",".join(f"{what}={amount}" for what, amount, _, _ in exceeded)
    used = ",".join(f"{what}={value}" for what, _, value, _ in exceeded)
    limited = ",".join(f"{what}={limit}" for what, _, _, limit in exceeded)
    return ApiError(
        403,
        f'{qualified} "{name}" is forbidden: exceeded quota: {QUOTA_NAME}, '
        f"requested: {requested}, used: {used}, limited: {limited}",
        details={"name": name, "group": group, "kind": plural},
    )


# ---- request rate --------------------------------------------------------------------------


class RateLimiter:
    """A token bucket: `rate` tokens a second, at most `burst` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token: 0.0 when one was free, else the seconds until one will be."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def too_many_requests(wait: float) -> ApiError:
    """Upstream's 429 Status: client-go waits `Retry-After` and retries on its own."""
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "Too many requests, please try again later.",
        reason="TooManyRequests",
        details={"retryAfterSeconds": seconds},
    )


def retry_after(error: ApiError) -> str | None:
    """The `Retry-After` header value for a 429 error, if it names one."""
    seconds = (error.details or {}).get("retryAfterSeconds")
    return str(seconds) if error.code == 429 and seconds else None

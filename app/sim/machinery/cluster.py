"""One simulated cluster: its object store, its served kinds, its credentials and clock.

A `Cluster` is a plain object with no I/O: the HTTP server routes requests to it, the
request pipeline reads and writes its store, and (in a later stage) control-plane loops
driven by its clock act on it. Clusters without CRDs share the process-wide registry of
built-in kinds; installing a CRD gives the cluster its own copy.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.sim.machinery.clock import Clock, ManualClock, WallClock, parse_time, rfc3339
from app.sim.machinery.metrics import MetricsCache
from app.sim.machinery.resources import ResourceRegistry, ResourceType, shared_builtin_registry
from app.sim.machinery.store import ObjectStore
from app.sim.machinery.tls import KeyPair, default_service_account_key, issue_client_cert
from app.sim.machinery.watch import DELETED, WatchEvent

ADMIN_USER = "kubernetes-admin"
# kubeadm's admin.conf user is in the system:masters group, which RBAC always allows
# (kubeadm 1.29+ uses kubeadm:cluster-admins bound to cluster-admin; both grant all).
ADMIN_GROUPS = ("system:masters", "system:authenticated")

CRD_GROUP, CRD_PLURAL = "apiextensions.k8s.io", "customresourcedefinitions"


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class TokenUser:
    name: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ClusterAuth:
    """Credentials a cluster accepts: its admin token, tokens issued to users and
    service accounts, and the CA that signs client certificates."""

    admin_token: str
    ca: KeyPair | None = None
    tokens: dict[str, TokenUser] = field(default_factory=dict)
    # Serial numbers of client certificates issued for this cluster: a certificate
    # signed by the shared server CA only authenticates on the cluster it was made for.
    client_cert_serials: set[int] = field(default_factory=set)
    # The service-account signing key (RSA PEM, `sa.key`): tokens are RS256 JWTs.
    sa_key: str = ""

    def __post_init__(self) -> None:
        self.tokens.setdefault(self.admin_token, TokenUser(ADMIN_USER, ADMIN_GROUPS))

    def add_token(self, user: str, groups: tuple[str, ...] = (), uid: str = "") -> str:
        """Issue a bearer token for `user` (group system:authenticated is implied)."""
        token = new_token()
        all_groups = tuple(dict.fromkeys([*groups, "system:authenticated"]))
        self.tokens[token] = TokenUser(user, all_groups, uid)
        return token

    def service_account_key(self) -> str:
        """The key service-account tokens are signed with (the process default until
        one is stored; kept in snapshots so tokens stay verifiable)."""
        if not self.sa_key:
            self.sa_key = default_service_account_key()
        return self.sa_key

    def issue_client_cert(self, user: str, groups: tuple[str, ...] = ()) -> KeyPair:
        """A client certificate (CN=user, O=groups) valid for this cluster only.
        Raises RuntimeError when the server runs without TLS."""
        if self.ca is None:
            raise RuntimeError("client certificates need a server running with TLS")
        pair = issue_client_cert(self.ca, user, groups)
        self.client_cert_serials.add(pair.certificate.serial_number)
        return pair

    def dump(self) -> dict[str, Any]:
        return {
            "adminToken": self.admin_token,
            "tokens": {
                t: {"name": u.name, "groups": list(u.groups), "uid": u.uid, "extra": u.extra}
                for t, u in self.tokens.items()
            },
            "clientCertSerials": sorted(self.client_cert_serials),
            "serviceAccountKey": self.service_account_key(),
        }

    def load(self, data: dict[str, Any]) -> None:
        self.admin_token = data.get("adminToken", self.admin_token)
        self.tokens = {
            t: TokenUser(u["name"], tuple(u["groups"]), u.get("uid", ""), u.get("extra", {}))
            for t, u in data.get("tokens", {}).items()
        }
        self.tokens.setdefault(self.admin_token, TokenUser(ADMIN_USER, ADMIN_GROUPS))
        self.client_cert_serials = set(data.get("clientCertSerials", []))
        self.sa_key = data.get("serviceAccountKey") or self.sa_key


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition as ResourceTypes."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    kind = names.get("kind") or ""
    plural = names.get("plural") or ""
    if not (group and kind and plural):
        return []
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True) or not version.get("name"):
            continue
        subresources = []
        for sub in ("status", "scale"):
            if sub in (version.get("subresources") or {}):
                subresources.append(sub)
        out.append(
            ResourceType(
                group=group,
                version=version["name"],
                kind=kind,
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(subresources),
                list_kind=names.get("listKind") or f"{kind}List",
                custom=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            )
        )
    return out


def crd_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """The status the apiextensions controllers give an accepted CRD."""
    names = dict((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    stored = [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")]
    previous = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        old = previous.get(kind)
        stamp = old["lastTransitionTime"] if old and old.get("status") == "True" else now
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition(
                "Established", "InitialNamesAccepted", "the initial names have been accepted"
            ),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    }


class Cluster:
    """A simulated cluster. Build one with `bootstrap.create_cluster`."""

    def __init__(
        self,
        cluster_id: str,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        auth: ClusterAuth | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.id = cluster_id
        self.name = name or cluster_id
        self.clock: Clock = clock or WallClock()
        self.store = ObjectStore(self.clock)
        self.auth = auth or ClusterAuth(new_token())
        self.labels = dict(labels or {})
        self.created_at = rfc3339(self.clock.now())
        self._registry: ResourceRegistry = shared_builtin_registry()
        self._crd_types: dict[str, list[ResourceType]] = {}
        self._registry_lock = threading.Lock()
        # The order `kubectl get componentstatuses` prints on a kubeadm cluster.
        self.component_health: dict[str, tuple[bool, str, str]] = {
            "scheduler": (True, "ok", ""),
            "controller-manager": (True, "ok", ""),
            "etcd-0": (True, '{"health":"true","reason":""}', ""),
        }
        # Node access (files, commands, container logs) once node agents are attached:
        # an object with read_file(node, path), write_file(node, path, content),
        # shell(node).run(command) -> (exit_code, stdout, stderr) and optionally
        # logs(namespace, pod, container, previous, tail) raising errors.LogError; the
        # composition (server, control plane) injects `app.sim.nodes.ClusterNodes`.
        self.node_access: Any = None
        # Machines of the cluster's shape that are not joined yet (role `spare`):
        # [{"name", "ip", "index"}]; their node agents exist, their Node objects do not.
        self.spare_machines: list[dict[str, Any]] = []
        # Control-plane loops (scheduler, controllers, kubelets): callables the server
        # runs every few hundred milliseconds on a worker thread; each reads the clock.
        self.loops: list[Callable[[], object]] = []
        # The `controlplane.ControlPlane` stepping this cluster, once one is attached.
        self.control_plane: Any = None
        # True while the cluster's kube-apiserver static pod does not serve (the control
        # plane sets it): the server then answers no client request of this cluster.
        self.api_down = False
        # Pods bound to a node get a deletionTimestamp and stay until deleted again
        # with grace 0 (the kubelet's job) only when kubelets run; off by default so
        # pods go at once.
        self.graceful_pod_deletion = False
        # Container logs by (namespace, pod, container); a kubelet fills them later.
        self.pod_logs: dict[tuple[str, str, str], list[str]] = {}
        # Set by the node agents: brings `pod_logs` up to the clock's time before a read
        # (the kubelets do not sync while nothing is due).
        self.refresh_logs: Callable[[], None] | None = None
        # What metrics-server last scraped (metrics.k8s.io); filled by the control plane.
        self.metrics = MetricsCache()
        self.store.after_write.append(self._on_write)

    def component_statuses(self) -> list[dict[str, Any]]:
        """The v1 ComponentStatus list (`kubectl get componentstatuses`).

        Every component reports healthy until a control plane exists that can break;
        `self.component_health` maps a component to (healthy, message, error).
        """
        items = []
        for name, (healthy, message, error) in self.component_health.items():
            condition = {
                "type": "Healthy",
                "status": "True" if healthy else "False",
                "message": message,
            }
            if error:
                condition["error"] = error
            items.append(
                {
                    "kind": "ComponentStatus",
                    "apiVersion": "v1",
                    "metadata": {"name": name},
                    "conditions": [condition],
                }
            )
        return items

    def container_log(self, namespace: str, pod: str, container: str) -> list[str] | None:
        """The log lines of a container, or None when it never ran."""
        if self.refresh_logs is not None:
            self.refresh_logs()
        lines = self.pod_logs.get((namespace, pod, container))
        return list(lines) if lines is not None else None

    def append_log(self, namespace: str, pod: str, container: str, line: str) -> None:
        self.pod_logs.setdefault((namespace, pod, container), []).append(line)

    @property
    def registry(self) -> ResourceRegistry:
        return self._registry

    # ---- CRDs ------------------------------------------------------------------------

    def _on_write(self, event: WatchEvent) -> None:
        if (event.group, event.plural) != (CRD_GROUP, CRD_PLURAL):
            return
        crd = event.object()
        name = crd["metadata"]["name"]
        if event.type == DELETED:
            for rt in self._unregister_crd(name):
                if not any(
                    (t.group, t.plural) == (rt.group, rt.plural) for t in self._all_crd_types()
                ):
                    self.store.delete_kind(rt.group, rt.plural)
            return
        self._unregister_crd(name)
        self._register_crd(name, crd_resource_types(crd))
        if not crd["metadata"].get("deletionTimestamp"):
            status = crd_status(crd, rfc3339(self.clock.now()))
            if crd.get("status") != status:
                crd["status"] = status
                crd["metadata"].pop("resourceVersion", None)
                self.store.update(CRD_GROUP, CRD_PLURAL, crd)

    def _all_crd_types(self) -> list[ResourceType]:
        return [rt for types in self._crd_types.values() for rt in types]

    def _register_crd(self, name: str, types: list[ResourceType]) -> None:
        # Copy-on-write: readers on other threads keep iterating the old registry.
        with self._registry_lock:
            if not types:
                return
            registry = self._registry.copy()
            registered = []
            for rt in types:
                if registry.by_plural(rt.group, rt.version, rt.plural) is None:
                    registry.register(rt)
                    registered.append(rt)
            self._crd_types[name] = registered
            self._registry = registry

    def _unregister_crd(self, name: str) -> list[ResourceType]:
        with self._registry_lock:
            types = self._crd_types.pop(name, [])
            if types:
                registry = self._registry.copy()
                for rt in types:
                    registry.unregister(rt.group, rt.version, rt.plural)
                self._registry = registry
                if not self._crd_types:
                    # Back to the shared built-in registry (memory per idle cluster).
                    self._registry = shared_builtin_registry()
            return types

    # ---- snapshot --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to rebuild this cluster's state (JSON-serialisable)."""
        return {
            "id": self.id,
            "name": self.name,
            "labels": dict(self.labels),
            "createdAt": self.created_at,
            "auth": self.auth.dump(),
            "store": self.store.dump(),
            "podLogs": [[*key, list(lines)] for key, lines in sorted(self.pod_logs.items())],
            "clock": self.clock.now().isoformat(),
            "clockKind": "manual" if isinstance(self.clock, ManualClock) else "wall",
            **({"nodes": self.node_access.dump()} if hasattr(self.node_access, "dump") else {}),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace this cluster's state with a `snapshot()`; open watches end."""
        self.store.load(data["store"])
        if "auth" in data:
            # A snapshot without credentials (a lab's shared setup) keeps this cluster's.
            self.auth.load(data["auth"])
        # In place: node agents hold a reference to this dict.
        self.pod_logs.clear()
        self.pod_logs.update(
            {
                (str(ns), str(pod), str(container)): [str(line) for line in lines]
                for ns, pod, container, lines in data.get("podLogs", [])
            }
        )
        with self._registry_lock:
            self._registry = shared_builtin_registry()
            self._crd_types.clear()
        for crd in self.store.list(CRD_GROUP, CRD_PLURAL)[0]:
            self._register_crd(crd["metadata"]["name"], crd_resource_types(crd))
        if "nodes" in data and hasattr(self.node_access, "load"):
            self.node_access.load(data["nodes"])
        if isinstance(self.clock, ManualClock) and isinstance(data.get("clock"), str):
            # A manual clock moves on to the snapshot's time (never back: timestamps
            # already handed out stay in the past).
            behind = (parse_time(data["clock"]) - self.clock.now()).total_seconds()
            if behind > 0:
                self.clock.advance(behind)
        if hasattr(self.control_plane, "restored"):
            self.control_plane.restored()

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "labels": dict(self.labels),
            "createdAt": self.created_at,
            "objects": self.store.count(),
            "resourceVersion": str(self.store.resource_version),
            "nodes": self.store.count("", "nodes"),
        }

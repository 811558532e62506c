"""The simulator's nodes: per-node file systems, services, container runtimes and
kubelets, driven by the cluster clock.

`ClusterNodes(cluster)` builds one `NodeAgent` per Node object of a bootstrapped
cluster. The control-plane loop calls `sync()` on each tick; the server answers
`kubectl logs` with `logs(...)` and node access with `shell(node).run(...)`,
`read_file`/`write_file`; snapshots use `dump()`/`load()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.sim.nodes.kubelet import LogError, NodeAgent
from app.sim.nodes.vfs import FsError

__all__ = ["ClusterNodes", "FsError", "LogError", "NodeAgent"]


def _internal_ip(node: dict[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return "127.0.0.1"


class ClusterNodes:
    """All node agents of one cluster.

    `cluster` needs `.store` and `.clock` (an `app.sim.machinery.cluster.Cluster`). When it also
    has `pod_logs` (the dict the API server's pod log route reads), the current log of
    every container is published there after each sync.

    `kubectl`, when given, runs `kubectl ARGS` for the node shell on the control-plane
    node (as kubeadm's admin.conf allows there): called with (args, stdin), it returns
    (exit_code, stdout, stderr). Without it the node shell has no kubectl.
    """

    def __init__(
        self,
        cluster: Any,
        *,
        bad_images: set[str] | None = None,
        kubectl: Callable[[list[str], str], tuple[int, str, str]] | None = None,
    ) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.clock = cluster.clock
        self.bad_images: set[str] = set(bad_images or ())
        self.kubectl = kubectl
        self.agents: dict[str, NodeAgent] = {}
        # One lock for every node of the cluster: the control-plane loop syncs while
        # server threads read logs and run node commands.
        self.lock = threading.RLock()
        self.ensure_agents()

    def ensure_agents(self) -> list[str]:
        """Give every Node object without an agent one (nodes a lab adds later);
        returns the names of the new agents."""
        nodes, _ = self.store.list("", "nodes")
        control = [
            n
            for n in nodes
            if "node-role.kubernetes.io/control-plane" in (n["metadata"].get("labels") or {})
        ]
        api_ip = _internal_ip(control[0]) if control else (_internal_ip(nodes[0]) if nodes else "")
        added = []
        for node in nodes:
            name = node["metadata"]["name"]
            if name in self.agents:
                continue
            spec = node.get("spec") or {}
            self.agents[name] = NodeAgent(
                self.store,
                self.clock,
                name,
                node_ip=_internal_ip(node),
                pod_cidr=spec.get("podCIDR") or "10.244.0.0/24",
                control_plane=node in control,
                api_ip=api_ip,
                bad_images=self.bad_images,
                on_etcd_restore=self._restore_store,
                sa_key=self._service_account_key(),
            )
            self.agents[name].run_one_shot = self._run_one_shot
            added.append(name)
        return added

    def _run_one_shot(self, pod: Any, spec: dict[str, Any]) -> tuple[int, str] | None:
        # What a short main command prints and returns, run in the container's shell.
        from app.sim.nodes.containers import ContainerAccess

        return ContainerAccess(self).one_shot(pod, spec)

    def agent(self, node: str) -> NodeAgent:
        """The agent of a node; KeyError when the cluster has no such node."""
        return self.agents[node]

    def sync(self, now: datetime | None = None) -> None:
        """Run every node's kubelet up to `now` and publish container logs."""
        with self.lock:
            if self.store.count("", "nodes") != len(self.agents):
                self.ensure_agents()
            pods, _ = self.store.list("", "pods")
            for agent in self.agents.values():
                agent.sync(now, pods)
            self._publish_logs()

    def shell(self, node: str, cwd: str = "/root") -> Any:
        """A `NodeShell` on a node (KeyError for an unknown node)."""
        from app.sim.nodes.shell import NodeShell

        return NodeShell(self, self.agents[node], cwd=cwd)

    def read_file(self, node: str, path: str) -> str:
        """A node file's text; FsError when missing (node access `GET .../files`)."""
        with self.lock:
            return self.agents[node].fs.read(path)

    def write_file(self, node: str, path: str, content: str) -> None:
        """Replace a node file (node access `PUT .../files`, the editor's save)."""
        from app.sim.machinery.clock import rfc3339

        with self.lock:
            self.agents[node].fs.write(path, content, mtime=rfc3339(self.clock.now()))

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail: int | None = None,
        since: float | None = None,
        timestamps: bool = False,
    ) -> str:
        """`kubectl logs` text for a pod on any node (lines from epoch second `since`,
        with their times when `timestamps`); LogError (a 400 upstream) when it cannot
        be answered."""
        with self.lock:
            return self._logs(namespace, pod, container, previous, tail, since, timestamps)

    def _logs(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        previous: bool,
        tail: int | None,
        since: float | None = None,
        timestamps: bool = False,
    ) -> str:
        obj = self.store.get("", "pods", namespace, pod)
        if obj is None:
            raise LogError(f'pods "{pod}" not found')
        node = (obj.get("spec") or {}).get("nodeName")
        agent = self.agents.get(node or "")
        if agent is None:
            names = [c.get("name") for c in (obj.get("spec") or {}).get("containers") or []]
            name = container or (names[0] if len(names) == 1 else "")
            raise LogError(
                f'container "{name}" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        return agent.logs(namespace, pod, container, previous, tail, since, timestamps)

    def _service_account_key(self) -> str:
        auth = getattr(self.cluster, "auth", None)
        return auth.service_account_key() if auth is not None else ""

    def component_running(self, name: str) -> bool:
        """Whether a control-plane component (kube-scheduler, ...) runs on some node."""
        with self.lock:
            return any(a.component_running(name) for a in self.agents.values())

    def _publish_logs(self) -> None:
        pod_logs = getattr(self.cluster, "pod_logs", None)
        if pod_logs is None:
            return
        now = self.clock.now().timestamp()
        fresh: dict[tuple[str, str, str], list[str]] = {}
        for agent in self.agents.values():
            for pod in agent.pods.values():
                if pod.terminated:
                    continue
                for slot in pod.slots.values():
                    if slot.current is not None:
                        fresh[(pod.namespace, pod.name, slot.name)] = agent.container_lines(
                            slot.current, now
                        )
        # Replace entries in place: the API server reads this dict from other threads.
        for key in [k for k in pod_logs if k not in fresh]:
            pod_logs.pop(key, None)
        pod_logs.update(fresh)

    def _restore_store(self, data: dict[str, Any]) -> None:
        # etcd started on a restored data directory: the cluster's state becomes the
        # snapshot's (the API server reads from that etcd from now on).
        restore = getattr(self.cluster, "restore", None)
        auth = getattr(self.cluster, "auth", None)
        if restore is not None and auth is not None:
            # Cluster.restore also re-registers the snapshot's CRDs.
            restore({"store": data, "auth": auth.dump()})
        else:
            self.store.load(data)

    def dump(self) -> dict[str, Any]:
        """Every node's state as plain JSON-able data."""
        with self.lock:
            return {
                "badImages": sorted(self.bad_images),
                "nodes": {name: agent.dump() for name, agent in self.agents.items()},
            }

    def load(self, data: dict[str, Any]) -> None:
        """Restore a `dump()` (nodes absent from it keep their state)."""
        with self.lock:
            self.bad_images.clear()
            self.bad_images.update(data.get("badImages", []))
            for name, state in data.get("nodes", {}).items():
                if name in self.agents:
                    self.agents[name].load(state)

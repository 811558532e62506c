"""The simulator's nodes: per-node file systems, services, container runtimes and
kubelets, driven by the cluster clock.

`ClusterNodes(cluster)` builds one `NodeAgent` per Node object of a bootstrapped
cluster. The control-plane loop calls `sync()` on each tick; the server answers
`kubectl logs` with `logs(...)` and node access with `shell(node).run(...)`,
`read_file`/`write_file`; snapshots use `dump()`/`load()`.

A wall-clock control plane does not sync on every pass of the server's loop: it asks
`wake_time()` when the kubelets next have something to do by time alone, renews the
node Leases between syncs with `heartbeat()`, and syncs at once when `touches` moved
(a node command, a container shell, a file written through node access: anything that
may change what a kubelet sees). Readers of what changes with time alone (container
logs, files a container's loop appends to) call `catch_up()` first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.sim.nodes import components
from app.sim.nodes.kubelet import LogError, NodeAgent
from app.sim.nodes.vfs import FsError, VirtualFS

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
        # The data of PersistentVolumes that live on no node (nfs, csi, ...), by PV
        # name (nodes/volumes.py).
        self.volume_data: dict[str, VirtualFS] = {}
        # One lock for every node of the cluster: the control-plane loop syncs while
        # server threads read logs and run node commands.
        self.lock = threading.RLock()
        # Whether the cluster's API server answers: the control plane sets it before
        # each sync (`api_server_started`); while it is false the kubelets run their
        # containers and static pods but write nothing to the API.
        self.api_up = True
        # Bumped by every access that may change node state outside a sync (see the
        # module text); the control plane syncs when it moved.
        self.touches = 0
        # Called after each `touch` (the control plane passes it on to the server's
        # loop, which then looks at this cluster at its next iteration).
        self.on_touch: Callable[[], None] | None = None
        self.ensure_agents()
        # `kubectl logs` (and `-f`) read the published logs: bring them up to now first.
        if hasattr(cluster, "refresh_logs"):
            cluster.refresh_logs = self.catch_up

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
        names = {n["metadata"]["name"] for n in nodes}
        for machine in getattr(self.cluster, "spare_machines", None) or []:
            name = str(machine["name"])
            if name in self.agents or name in names:
                continue
            # A spare machine: kubeadm and the kubelet installed, not joined yet.
            self.agents[name] = NodeAgent(
                self.store,
                self.clock,
                name,
                node_ip=str(machine["ip"]),
                pod_cidr=f"10.244.{int(machine.get('index', len(self.agents)))}.0/24",
                control_plane=False,
                api_ip=api_ip,
                bad_images=self.bad_images,
                on_etcd_restore=self._restore_store,
                joined=False,
            )
            self.agents[name].run_one_shot = self._run_one_shot
            self.agents[name].serving_cert = self._serving_cert
            added.append(name)
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
            self.agents[name].serving_cert = self._serving_cert
            self.agents[name].follow_file = self._follow_file
            self.agents[name].listening_ports = self._listening_ports
            self.agents[name].http_status = self._http_status
            added.append(name)
        return added

    def _serving_cert(self) -> str | None:
        # The API server's serving certificate (kubeadm's pki/apiserver.crt on the
        # control-plane node; the API server reloads it when it changes).
        for agent in self.agents.values():
            if agent.control_plane:
                path = f"{components.PKI_DIR}/apiserver.crt"
                return agent.fs.read(path) if agent.fs.is_file(path) else None
        return None

    def _run_one_shot(self, pod: Any, spec: dict[str, Any]) -> tuple[int, str] | None:
        # What a short main command prints and returns, run in the container's shell.
        from app.sim.nodes.containers import ContainerAccess

        return ContainerAccess(self).one_shot(pod, spec)

    def _follow_file(self, pod: Any, slot: Any) -> list[str]:
        from app.sim.nodes.containers import ContainerAccess

        return ContainerAccess(self).followed_lines(pod, slot)

    def _replay_writes(self, now: float) -> None:
        """Files the containers' loops write (`date >> /var/log/app.log`), up to now."""
        from app.sim.nodes.containers import ContainerAccess

        access: ContainerAccess | None = None
        for agent in self.agents.values():
            for pod in agent.pods.values():
                if pod.terminated:
                    continue
                for slot in pod.slots.values():
                    rec = slot.current
                    if rec is None or not rec.running():
                        continue
                    if not rec.program.get("writes") and not rec.program.get("follows"):
                        continue
                    access = access or ContainerAccess(self)
                    access.replay_writes(pod, slot, now)

    def _listening_ports(self, pod: Any, slot: Any) -> set[int]:
        from app.sim.nodes.containers import ContainerAccess

        return set(ContainerAccess(self).listening(pod, slot))

    def _http_status(self, pod: Any, port: int, path: str) -> int | None:
        # What an HTTP probe gets back from a catalogue web server (nginx: 404 for a
        # page it does not have).
        from app.sim.nodes.containers import ContainerAccess

        try:
            status, _ = ContainerAccess(self).serve(pod, port, path)
        except OSError:
            return None
        return status

    def agent(self, node: str) -> NodeAgent:
        """The agent of a node; KeyError when the cluster has no such node."""
        return self.agents[node]

    def sync(self, now: datetime | None = None) -> None:
        """Run every node's kubelet up to `now` and publish container logs."""
        with self.lock:
            if self.store.count("", "nodes") != sum(a.joined for a in self.agents.values()):
                self.ensure_agents()
            pods, _ = self.store.list("", "pods")
            for agent in self.agents.values():
                agent.api_server_up = self.api_up
                agent.sync(now, pods)
            self._forget_deleted_volumes()
            self._replay_writes((now or self.clock.now()).timestamp())
            self._publish_logs()

    def touch(self) -> None:
        """Note an access that may change what the kubelets see (see the module text)."""
        self.touches += 1
        if self.on_touch is not None:
            self.on_touch()

    def catch_up(self) -> None:
        """Bring what changes with time alone up to now between syncs: the files
        containers' loops append to and the published container logs."""
        with self.lock:
            self._replay_writes(self.clock.now().timestamp())
            # Only what the kubelets run is refreshed; forgetting the logs of pods that
            # are gone is the sync's work (a read must not drop what it did not write).
            self._publish_logs(prune=False)

    def wake_time(self, changed_at: float) -> float | None:
        """The earliest clock time a kubelet has something to do by time alone (a
        container start, exit or restart, a probe whose answer may change), or None;
        probes that passed are looked at again once after `changed_at`."""
        with self.lock:
            times = [t for a in self.agents.values() if (t := a.wake_time(changed_at)) is not None]
            return min(times) if times else None

    def beating(self) -> bool:
        """Whether every joined node's kubelet posted its heartbeat at its last sync."""
        return all(a.beating for a in self.agents.values() if a.joined)

    def next_heartbeat(self) -> float | None:
        """When the next node Lease renewal is due (nodes whose kubelet beats)."""
        from app.sim.nodes.kubelet.status import LEASE_RENEW

        due = [a.last_lease + LEASE_RENEW for a in self.agents.values() if a.joined and a.beating]
        return min(due) if due else None

    def heartbeat(self, now: float) -> None:
        """Between syncs: renew the Lease (and check the node status) of every kubelet
        that beat at its last sync and is due (every 10 s, as upstream's kubelet)."""
        from app.sim.nodes.kubelet.status import LEASE_RENEW

        with self.lock:
            for agent in self.agents.values():
                if agent.joined and agent.beating and now - agent.last_lease >= LEASE_RENEW:
                    agent.heartbeat(now)

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
            self.touch()
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

    def component_instances(self, name: str) -> dict[str, tuple[str, str]]:
        """The running processes of a control-plane component, one per static pod
        that runs it and does its work: {process key: (node, static pod key)}. The
        key changes when the container restarts (a new process)."""
        with self.lock:
            out = {}
            for agent in self.agents.values():
                for pod in agent.static_pods_of(name):
                    cur = agent.instance_running(pod)
                    if cur is not None:
                        out[f"{agent.name}/{pod.name}/{cur.id}"] = (agent.name, pod.key)
            return out

    def api_server_started(self) -> float | None:
        """When the kube-apiserver process that serves clients started (epoch
        seconds): a running container of its static pod that reached etcd and listens
        on the API port (6443, where every kubeconfig points); None when none does
        (no manifest that parses, a crash loop, an image that does not pull, a wrong
        `--etcd-servers`, another `--secure-port`)."""
        with self.lock:
            for agent in self.agents.values():
                for pod in agent.static_pods_of("kube-apiserver"):
                    cur = agent.instance_running(pod)
                    if cur is None or cur.started is None:
                        continue
                    if components.API_PORT in (cur.program.get("ports") or []):
                        return cur.started
            return None

    def api_server_version(self) -> str | None:
        """The release of the running kube-apiserver (its image tag, "v1.36.2"), or
        None when none runs; `/version` reports it, so an upgraded control plane shows
        its new version."""
        with self.lock:
            for agent in self.agents.values():
                for pod in agent.static_pods_of("kube-apiserver"):
                    cur = agent.instance_running(pod)
                    tag = cur.image.rpartition(":")[2].split("@")[0] if cur else ""
                    if tag.startswith("v") and tag.count(".") == 2:
                        return tag
            return None

    def note_leader(self, node: str, pod_key: str, lease: str) -> None:
        """The component process of static pod `pod_key` on `node` acquired `lease`."""
        with self.lock:
            agent = self.agents.get(node)
            if agent is not None:
                agent.note_leader(pod_key, lease)

    def _publish_logs(self, *, prune: bool = True) -> None:
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
                        fresh[(pod.namespace, pod.name, slot.name)] = agent.container_output(
                            pod, slot, slot.current, now
                        )
        # Replace entries in place: the API server reads this dict from other threads.
        for key in [k for k in pod_logs if prune and k not in fresh]:
            pod_logs.pop(key, None)
        pod_logs.update(fresh)

    def _forget_deleted_volumes(self) -> None:
        """A deleted PersistentVolume's data goes: its own file system, and the
        directories the local-path provisioner made for it on the nodes (its helper
        pod removes them upstream)."""
        from app.sim.nodes.volumes import LOCAL_PATH_ROOT

        agents = [a for a in self.agents.values() if a.fs.is_dir(LOCAL_PATH_ROOT)]
        if not self.volume_data and not any(a.fs.listdir(LOCAL_PATH_ROOT) for a in agents):
            return
        names = {pv["metadata"]["name"] for pv in self.store.list("", "persistentvolumes")[0]}
        for name in [n for n in self.volume_data if n not in names]:
            del self.volume_data[name]
        for agent in agents:
            for entry in agent.fs.listdir(LOCAL_PATH_ROOT):
                if entry.startswith("pvc-") and entry.split("_", 1)[0] not in names:
                    agent.fs.remove(f"{LOCAL_PATH_ROOT}/{entry}", recursive=True)

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
                "volumes": {name: fs.dump() for name, fs in self.volume_data.items()},
            }

    def load(self, data: dict[str, Any]) -> None:
        """Restore a `dump()` (nodes absent from it keep their state)."""
        with self.lock:
            self.touch()
            self.bad_images.clear()
            self.bad_images.update(data.get("badImages", []))
            for name, state in data.get("nodes", {}).items():
                if name in self.agents:
                    self.agents[name].load(state)
            self.volume_data.clear()
            for name, state in data.get("volumes", {}).items():
                fs = VirtualFS()
                fs.load(state)
                self.volume_data[name] = fs

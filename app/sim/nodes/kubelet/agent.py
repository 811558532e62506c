"""The kubelet of one simulated node, driven by a clock: `NodeAgent`.

`NodeAgent.sync(now)` does what a kubelet does between two ticks: renew its Lease and
post node status (when its service runs and its configuration loads), read static pod
manifests and keep their mirror pods, start the containers of pods bound to the node
(image pulls, back-off, probes, restarts, termination) and write pod status.
Everything between the previous sync and `now` is replayed in time order, so a test
that advances the clock by five minutes at once sees the same restarts and back-offs
as one that ticks every second.

This module holds the agent's state, its services and the sync loop; the rest is split
by concern into parts it inherits: `config` (configuration and start-up errors),
`static_pods` (static and mirror pods), `pod_worker` (the per-pod timeline), `prober`,
`status` (heartbeats, pod status), `events` (events, logs, queries) and `snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.sim.machinery.clock import Clock, rfc3339
from app.sim.machinery.store import ObjectStore
from app.sim.nodes import components, packages
from app.sim.nodes.kubelet.config import KubeletConfig
from app.sim.nodes.kubelet.credentials import Credentials
from app.sim.nodes.kubelet.events import EventsAndLogs
from app.sim.nodes.kubelet.pod_worker import PodWorker
from app.sim.nodes.kubelet.prober import Prober
from app.sim.nodes.kubelet.records import PodRuntime
from app.sim.nodes.kubelet.snapshot import Snapshots
from app.sim.nodes.kubelet.static_pods import StaticPods
from app.sim.nodes.kubelet.status import StatusReporter
from app.sim.nodes.runtime import (
    IMAGE_SIZES,
    normalize_image,
    repository_name,
)
from app.sim.nodes.services import ServiceManager
from app.sim.nodes.vfs import VirtualFS


# Images present on a fresh kubeadm node (kubeadm config images pull on the control
# plane; kube-proxy, CoreDNS and pause everywhere).
def preloaded_images(control_plane: bool) -> list[str]:
    base = [
        components.PAUSE_IMAGE,
        components.COREDNS_IMAGE,
        f"registry.k8s.io/kube-proxy:{components.KUBERNETES_VERSION}",
    ]
    if control_plane:
        base += [
            f"registry.k8s.io/{c}:{components.KUBERNETES_VERSION}"
            for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
        ] + [f"registry.k8s.io/etcd:{components.ETCD_IMAGE_TAG}"]
    return [normalize_image(i) for i in base]


class NodeAgent(
    KubeletConfig,
    StaticPods,
    PodWorker,
    Prober,
    StatusReporter,
    EventsAndLogs,
    Snapshots,
    Credentials,
):
    """Kubelet, container runtime, file system and services of one node: the state
    and the sync loop here, each concern in its own part."""

    def __init__(
        self,
        store: ObjectStore,
        clock: Clock,
        node_name: str,
        *,
        node_ip: str,
        pod_cidr: str,
        control_plane: bool,
        api_ip: str,
        bad_images: set[str] | None = None,
        on_etcd_restore: Callable[[dict[str, Any]], None] | None = None,
        joined: bool = True,
        sa_key: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self.name = node_name
        # False on a spare machine until `kubeadm join`; `register_pending`: the kubelet
        # creates its Node object on its next start (registration).
        self.joined = joined
        self.register_pending = False
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.control_plane = control_plane
        self.api_ip = api_ip
        self.bad_images = bad_images if bad_images is not None else set()
        self.on_etcd_restore = on_etcd_restore
        now = clock.now()
        self.fs = VirtualFS()
        files = components.node_files(node_name, node_ip, api_ip, control_plane, now, sa_key)
        files.update(packages.initial_files())
        if not joined:
            # kubeadm join writes these; until then the kubelet crash-loops on the
            # missing configuration, as on a fresh kubeadm machine.
            for path in components.JOIN_FILES:
                files.pop(path, None)
        for path, content in files.items():
            self.fs.write(path, content, mtime=rfc3339(now))
        for directory in ("/var/lib/etcd/member/snap", "/var/log/pods", "/root", "/tmp"):
            if control_plane or directory != "/var/lib/etcd/member/snap":
                self.fs.mkdir(directory)
        self.services = ServiceManager(node_name, now.timestamp())
        self.loaded_dropin = self.fs.read(components.KUBELET_DROPIN)
        self.images: dict[str, int] = {
            ref: IMAGE_SIZES.get(repository_name(ref), 20_000_000)
            for ref in preloaded_images(control_plane)
        }
        self.pods: dict[str, PodRuntime] = {}
        self.last_sync = now.timestamp()
        self.beating = False
        self.last_lease = 0.0
        self.last_status = 0.0
        self.static_pod_path = components.MANIFESTS_DIR
        self.manifest_errors: dict[str, str] = {}
        self.etcd_data_dir = "/var/lib/etcd"
        # The lines the kubelet exits with while its configuration does not load.
        self.kubelet_config_error: list[str] = []
        self.api_reachable = True
        # Whether the cluster's API server answers at all (the node set sets it each
        # sync from the kube-apiserver static pod), and whether this kubelet reached it
        # in its current sync (what its writes to the API need).
        self.api_server_up = True
        self.api_connected = True
        self.api_server_url = f"https://{api_ip}:{components.API_PORT}"
        self._bound: dict[tuple[str, str], dict[str, Any]] = {}
        self._last_api_error = 0.0
        self._ip_next = 2
        # The version of the running kubelet process (the package's at its start).
        self.kubelet_version = components.KUBERNETES_VERSION
        self._load_kubelet_config(now.timestamp())

    # ---- services ----------------------------------------------------------------------

    def kubelet_running(self) -> bool:
        """The kubelet process is up with a configuration it could load."""
        return self.services.running("kubelet")

    def runtime_running(self) -> bool:
        return self.services.units["containerd"].active

    def start_service(self, name: str) -> None:
        now = self.clock.now().timestamp()
        was = self.services.units[name].active
        self.services.start(name, now)
        if name == "kubelet" and not was:
            self._load_kubelet_config(now)

    def stop_service(self, name: str) -> None:
        self.services.stop(name, self.clock.now().timestamp())

    def restart_service(self, name: str) -> None:
        now = self.clock.now().timestamp()
        self.services.restart(name, now)
        if name == "kubelet":
            self._load_kubelet_config(now)

    # ---- sync --------------------------------------------------------------------------

    def sync(self, now: datetime | None = None, pods: list[dict[str, Any]] | None = None) -> None:
        """Bring the node up to `now` (the clock's time by default). `pods` may be a
        fresh list of the cluster's pods (saves every node listing them again)."""
        moment = (now or self.clock.now()).timestamp()
        if pods is None:
            pods, _ = self.store.list("", "pods", field_selector=f"spec.nodeName={self.name}")
        self._bound = {
            (p["metadata"].get("namespace") or "", p["metadata"]["name"]): p
            for p in pods
            if (p.get("spec") or {}).get("nodeName") == self.name
        }
        unit = self.services.units["kubelet"]
        # systemd restarts a failing kubelet every RestartSec: a fixed config lets it start.
        failing = unit.active and unit.failing_since is not None
        if failing and self._kubelet_startup_errors() is None:
            self._load_kubelet_config(moment)
        kubelet = self.kubelet_running()
        running = kubelet and self.api_reachable and self.api_server_up
        if kubelet and not running:
            # Its kubeconfig names no API server, or the API server is down.
            self._log_api_errors(moment)
        if running and self.api_refused(moment):
            # An expired certificate: the API server refuses the kubelet; its
            # containers keep running, nothing reaches the API.
            running = False
        self.api_connected = running
        if kubelet:
            # Static pods come from files: the kubelet runs them without any API
            # server (that is how kubeadm's control plane starts); only their mirror
            # pods need the API.
            self._sync_static_pods(moment)
        if running:
            self._sync_api_pods(moment)
        for pod in list(self.pods.values()):
            self._skip_settled_probes(pod, moment)
            self._advance(pod, moment)
        if running:
            self._write_pod_statuses(moment)
            self._heartbeat(moment)
            self._finish_terminated(moment)
        self._check_etcd_data_dir()
        self.beating = running
        self.last_sync = moment

    def heartbeat(self, now: float) -> None:
        """Renew the Lease and post node status when due, without a sync: what the
        kubelet does every 10 s while nothing else happens (its node status loop and
        lease controller run on their own timers upstream)."""
        if self.beating:
            self._heartbeat(now)

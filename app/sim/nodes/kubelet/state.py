"""What every part of the kubelet may use of the others: `AgentState`.

`NodeAgent` (agent.py) sets these attributes in its constructor and inherits the
methods below from the part that defines them; each part (config, static pods, pod
worker, prober, status, events, snapshot) derives from `AgentState` so that what it uses
of the others is declared, with its type, in one place. The class has no behaviour: the
attributes are annotations only and the method declarations exist for type checking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sim.machinery.clock import Clock
    from app.sim.machinery.store import ObjectStore
    from app.sim.nodes.kubelet.records import PodRuntime, Slot
    from app.sim.nodes.services import ServiceManager
    from app.sim.nodes.vfs import VirtualFS


class AgentState:
    """The state of one node's kubelet, shared by its parts (see the module text)."""

    store: ObjectStore
    clock: Clock
    name: str
    node_ip: str
    pod_cidr: str
    control_plane: bool
    api_ip: str
    bad_images: set[str]
    on_etcd_restore: Callable[[dict[str, Any]], None] | None
    fs: VirtualFS
    services: ServiceManager
    loaded_dropin: str
    images: dict[str, int]
    pods: dict[str, PodRuntime]
    last_sync: float
    last_lease: float
    last_status: float
    static_pod_path: str
    manifest_errors: dict[str, str]
    etcd_data_dir: str
    kubelet_config_error: list[str]
    api_reachable: bool
    api_server_up: bool
    api_connected: bool
    api_server_url: str
    _bound: dict[tuple[str, str], dict[str, Any]]
    _last_api_error: float
    _ip_next: int
    kubelet_version: str
    joined: bool
    register_pending: bool
    # Whether the last sync found the kubelet running and reaching the API server
    # (it then posted its heartbeat); the control plane renews the Lease of such a
    # kubelet between syncs.
    beating: bool
    # Set by the node set (nodes/__init__.py) when the node joins; absent until then.
    run_one_shot: Callable[[PodRuntime, dict[str, Any]], tuple[int, str] | None]
    # The lines a container's `tail -f` printed of the file it follows (set likewise).
    follow_file: Callable[[PodRuntime, Slot], list[str]]
    # The ports a running container listens on (what probes and the pod network reach).
    listening_ports: Callable[[PodRuntime, Slot], set[int]]
    # The HTTP status a container of the pod answers for a path on a port, None when
    # what listens there is no web server the image catalogue models.
    http_status: Callable[[PodRuntime, int, str], int | None]

    if TYPE_CHECKING:
        # agent.py
        def kubelet_running(self) -> bool: ...
        def runtime_running(self) -> bool: ...

        # config.py
        def api_endpoints(self) -> tuple[str, ...]: ...
        def kubelet_args(self) -> dict[str, str]: ...

        # credentials.py
        def expired_client_cert_startup(self, now: float) -> list[str] | None: ...
        def component_cert_valid(self, rec: Any) -> bool: ...
        def client_cert_at_start(self, now: float) -> None: ...

        # pod_worker.py
        def _admit(self, pod: PodRuntime, now: float) -> None: ...
        def _container_spec(self, pod: PodRuntime, name: str) -> dict[str, Any]: ...
        def _ignores_sigterm(self, pod: PodRuntime, slot: Slot) -> bool: ...
        def _exited(
            self, pod: PodRuntime, slot: Slot, t: float, code: int, reason: str, message: str = ""
        ) -> None: ...
        def _begin_termination(self, pod: PodRuntime, now: float, grace: float) -> None: ...
        def _delete_api_pod(
            self, namespace: str, name: str, only_mirror_of: str | None = None
        ) -> None: ...

        # prober.py
        def _run_probes(self, pod: PodRuntime, slot: Slot, t: float) -> None: ...
        def probe_wake(
            self, pod: PodRuntime, slot: Slot, changed_at: float, now: float
        ) -> float | None: ...

        # status.py
        def journal(self, now: float, severity: str, text: str) -> None: ...
        def _pod_status(
            self, pod: PodRuntime, now: float, old: dict[str, Any] | None
        ) -> dict[str, Any]: ...

        # events.py
        def _event(
            self,
            pod: PodRuntime,
            t: float,
            kind: str,
            reason: str,
            message: str,
            slot: Slot | None = None,
            record: bool = True,
        ) -> None: ...
        def static_pod(self, component: str) -> PodRuntime | None: ...
        def component_running(self, name: str) -> bool: ...
        def host_ports_in_use(self, exclude: PodRuntime) -> list[str]: ...

"""The agent's snapshot (`dump`, `load`) and an etcd data directory restored by
`etcdctl snapshot restore` taking effect.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import asdict
from typing import Any

from app.sim.nodes import components
from app.sim.nodes.kubelet.records import _pod_from
from app.sim.nodes.kubelet.state import AgentState


class Snapshots(AgentState):
    """The agent's state as a snapshot and back, and an etcd data directory
    restored from a snapshot.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- etcd restore ------------------------------------------------------------------

    def _check_etcd_data_dir(self) -> None:
        pod = self.static_pod("etcd")
        if pod is None:
            return
        # The host directory behind etcd's --data-dir (through its mounts), or the
        # kubeadm `etcd-data` volume when the flag is not mounted from the host.
        container = (pod.spec.get("containers") or [{}])[0]
        argv = [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]
        flags, _ = components.parse_flags("etcd", argv[1:])
        volumes = pod.spec.get("volumes") or []
        data_dir = components.container_path(
            container, volumes, flags.get("data-dir", "/var/lib/etcd")
        )
        if data_dir is None:
            for vol in volumes:
                if vol.get("name") == "etcd-data" and vol.get("hostPath"):
                    data_dir = str(vol["hostPath"].get("path"))
        if data_dir is None or data_dir == self.etcd_data_dir:
            return
        db = posixpath.join(data_dir, "member/snap/db")
        running = any(s.current is not None and s.current.running() for s in pod.slots.values())
        if not running:
            return
        self.etcd_data_dir = data_dir
        if self.fs.is_file(db) and self.on_etcd_restore is not None:
            try:
                payload = json.loads(self.fs.read(db))
            except ValueError:
                return
            if isinstance(payload, dict) and "store" in payload:
                self.on_etcd_restore(payload["store"])

    # ---- snapshot ----------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The node's whole state as plain JSON-able data."""
        return {
            "fs": self.fs.dump(),
            "services": self.services.dump(),
            "images": dict(self.images),
            "pods": {k: asdict(p) for k, p in self.pods.items()},
            "lastSync": self.last_sync,
            "lastLease": self.last_lease,
            "lastStatus": self.last_status,
            "staticPodPath": self.static_pod_path,
            "manifestErrors": dict(self.manifest_errors),
            "etcdDataDir": self.etcd_data_dir,
            "kubeletConfigError": list(self.kubelet_config_error),
            "apiReachable": self.api_reachable,
            "loadedDropin": self.loaded_dropin,
            "ipNext": self._ip_next,
            "kubeletVersion": self.kubelet_version,
            "joined": self.joined,
            "registerPending": self.register_pending,
        }

    def load(self, data: dict[str, Any]) -> None:
        """Replace the node's state with a `dump()`."""
        self.fs.load(data["fs"])
        self.services.load(data["services"])
        self.images = dict(data.get("images", {}))
        self.pods = {k: _pod_from(p) for k, p in data.get("pods", {}).items()}
        self.last_sync = data.get("lastSync", self.last_sync)
        self.last_lease = data.get("lastLease", 0.0)
        self.last_status = data.get("lastStatus", 0.0)
        self.static_pod_path = data.get("staticPodPath", components.MANIFESTS_DIR)
        self.manifest_errors = dict(data.get("manifestErrors", {}))
        self.etcd_data_dir = data.get("etcdDataDir", "/var/lib/etcd")
        self.kubelet_config_error = list(data.get("kubeletConfigError", []))
        self.api_reachable = data.get("apiReachable", True)
        self.loaded_dropin = data.get("loadedDropin", self.loaded_dropin)
        self._ip_next = data.get("ipNext", 2)
        self.kubelet_version = data.get("kubeletVersion", components.KUBERNETES_VERSION)
        self.joined = data.get("joined", True)
        self.register_pending = data.get("registerPending", False)

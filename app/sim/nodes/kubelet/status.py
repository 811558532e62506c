"""Node heartbeats (Lease, node status) and pod and container status."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from app.sim.client.events import EventRecorder
from app.sim.machinery.clock import rfc3339_micro
from app.sim.machinery.errors import ApiError
from app.sim.nodes.kubelet.records import (
    MIRROR_ANNOTATION,
    ContainerRec,
    PodRuntime,
    Slot,
    _hex_id,
    _klog,
    _ts,
)
from app.sim.nodes.kubelet.state import AgentState
from app.sim.nodes.runtime import (
    image_id,
)

# Node lease: renewed every 10 s, a quarter of its 40 s duration
# (nodeLeaseDurationSeconds=40, renewInterval = 0.25 x duration).
LEASE_DURATION = 40
LEASE_RENEW = 10.0
# nodeStatusReportFrequency: status is posted when it changes, or every 5 minutes.
STATUS_REPORT = 300.0


def _terminated(rec: ContainerRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exitCode": rec.exit_code if rec.exit_code is not None else 0,
        "reason": rec.reason or "Completed",
        "startedAt": _ts(rec.started or rec.created),
        "finishedAt": _ts(rec.finished or rec.created),
        "containerID": f"containerd://{rec.id}",
    }
    if rec.message:
        out["message"] = rec.message
    return out


class StatusReporter(AgentState):
    """Node heartbeats (Lease and node status, API errors in the journal) and the
    status of every pod and container.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- heartbeats --------------------------------------------------------------------

    def _log_api_errors(self, now: float) -> None:
        """What the kubelet logs while its kubeconfig points where no API server is."""
        if now - self._last_api_error < LEASE_RENEW:
            return
        self._last_api_error = now
        server = self.api_server_url.rstrip("/")
        host = server.split("://", 1)[-1]
        refused = f"dial tcp {host}: connect: connection refused"
        lease_url = (
            f"{server}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"
            f"{self.name}?timeout=10s"
        )
        self.journal(
            now,
            "E",
            'controller.go:145] "Failed to ensure lease exists, will retry" '
            f'err="Get \\"{lease_url}\\": {refused}" interval="7s"',
        )
        self.journal(
            now,
            "E",
            'kubelet_node_status.go:548] "Error updating node status, will '
            f'retry" err="error getting node \\"{self.name}\\": Get '
            f'\\"{server}/api/v1/nodes/{self.name}?timeout=10s\\": {refused}"',
        )

    def journal(self, now: float, severity: str, text: str) -> None:
        """Append a klog-formatted kubelet line to the node's journal."""
        pid = self.services.units["kubelet"].pid
        self.services.log(now, "kubelet", "kubelet", _klog(now, severity, text, pid))

    def _node_event(self, reason: str, message: str, warning: bool = False) -> None:
        """An Event about this Node from the kubelet (the kubelet refers to its node
        with the node's name as uid; node events live in `default`)."""
        recorder = self.__dict__.get("_node_events")
        if recorder is None:
            recorder = EventRecorder(self.store, self.clock, "kubelet", host=self.name)
            self.__dict__["_node_events"] = recorder
        ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
        recorder.record(ref, "Warning" if warning else "Normal", reason, message)

    def _announce_start(self, ready: bool) -> None:
        """What a starting kubelet records (kubelet.go, nodestatus setters): once per
        kubelet process, in this order."""
        pid = self.services.units["kubelet"].pid
        if self.__dict__.get("_announced_pid") == pid:
            return
        self.__dict__["_announced_pid"] = pid
        self._node_event("Starting", "Starting kubelet.")
        for condition in (
            "NodeHasSufficientMemory",
            "NodeHasNoDiskPressure",
            "NodeHasSufficientPID",
        ):
            self._node_event(condition, f"Node {self.name} status is now: {condition}")
        self._node_event("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        if ready:
            self._node_event("NodeReady", f"Node {self.name} status is now: NodeReady")

    def _heartbeat(self, now: float) -> None:
        if now - self.last_lease >= LEASE_RENEW or self.last_lease == 0.0:
            self._renew_lease(now)
        # Nothing to compare when no Node changed since the last check found nothing
        # to post, and the report is not due: skip reading the node.
        checked = (
            self.store.kind_revision("", "nodes"),
            self.runtime_running(),
            self.kubelet_version,
            self.services.units["kubelet"].pid,
            len(self.images),
        )
        if self.__dict__.get("_status_checked") == checked and now - self.last_status < (
            STATUS_REPORT
        ):
            return
        node = self.store.get("", "nodes", None, self.name)
        if node is None and self.register_pending:
            node = self._register_node(now)
        if node is None:
            return
        ready = self.runtime_running()
        was_ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or []
        )
        if self.__dict__.get("_announced_pid") != self.services.units["kubelet"].pid:
            self._announce_start(ready)
        elif ready != was_ready:
            state = "NodeReady" if ready else "NodeNotReady"
            self._node_event(state, f"Node {self.name} status is now: {state}")
        wanted = {
            "MemoryPressure": (
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            "PIDPressure": (
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            "Ready": ("True", "KubeletReady", "kubelet is posting ready status")
            if ready
            else ("False", "KubeletNotReady", "container runtime is down"),
        }
        status = node.setdefault("status", {})
        current = {c.get("type"): c for c in status.get("conditions") or []}
        changed = any(
            (current.get(t) or {}).get("status") != s or (current.get(t) or {}).get("reason") != r
            for t, (s, r, _) in wanted.items()
        )
        info = status.setdefault("nodeInfo", {})
        changed = changed or info.get("kubeletVersion") != self.kubelet_version
        # Upstream posts the status whenever anything in it but heartbeat times
        # changed (kubelet_node_status.go, nodeStatusHasChanged): images pulled since
        # the last post show within a status check, not at the next 5-minute report.
        images = [{"names": [ref], "sizeBytes": size} for ref, size in sorted(self.images.items())]
        changed = changed or status.get("images") != images
        if not changed and now - self.last_status < STATUS_REPORT:
            self.__dict__["_status_checked"] = checked
            return
        info["kubeletVersion"] = self.kubelet_version
        stamp = _ts(now)
        conditions = []
        for t, (s, r, m) in wanted.items():
            old = current.get(t) or {}
            transition = old.get("lastTransitionTime") if old.get("status") == s else None
            conditions.append(
                {
                    "type": t,
                    "status": s,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": transition or stamp,
                    "reason": r,
                    "message": m,
                }
            )
        status["conditions"] = conditions
        status["images"] = images
        try:
            self.store.update("", "nodes", node)
            self.last_status = now
        except ApiError:
            pass  # a concurrent write: post again on the next sync

    def _register_node(self, now: float) -> dict[str, Any] | None:
        """The kubelet's registration of a newly joined node (kubelet_node_status.go
        registerWithAPIServer): its Node object with the machine's addresses, capacity
        and versions; conditions follow with the first status update."""
        others, _ = self.store.list("", "nodes")
        template = next(
            (
                n
                for n in others
                if "node-role.kubernetes.io/control-plane"
                not in (n["metadata"].get("labels") or {})
            ),
            others[0] if others else None,
        )
        status = json.loads(json.dumps((template or {}).get("status") or {}))
        info = status.get("nodeInfo") or {}
        info.update(
            kubeletVersion=self.kubelet_version,
            bootID=_hex_id(self.name, "boot")[:32],
            machineID=_hex_id(self.name, "machine")[:32],
        )
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                },
                "annotations": {
                    "kubeadm.alpha.kubernetes.io/cri-socket": (
                        "unix:///var/run/containerd/containerd.sock"
                    ),
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]},
            "status": {
                "capacity": status.get("capacity") or {},
                "allocatable": status.get("allocatable") or {},
                "addresses": [
                    {"type": "InternalIP", "address": self.node_ip},
                    {"type": "Hostname", "address": self.name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": info,
                "conditions": [],
            },
        }
        try:
            created = self.store.create("", "nodes", node)
        except ApiError:
            return None
        self.register_pending = False
        self.journal(
            now,
            "I",
            f'kubelet_node_status.go:78] "Successfully registered node" node="{self.name}"',
        )
        return created

    def _renew_lease(self, now: float) -> None:
        renew = rfc3339_micro(datetime.fromtimestamp(now, UTC))
        try:
            # The usual case: the Lease exists and names this node (the store's fast
            # path for a holder's renewal); else the general create or replace below.
            if self.store.renew_lease(
                "kube-node-lease", self.name, self.name, renew, LEASE_DURATION
            ):
                self.last_lease = now
                return
        except ApiError:
            return
        lease = self.store.get("coordination.k8s.io", "leases", "kube-node-lease", self.name)
        try:
            if lease is None:
                node = self.store.get("", "nodes", None, self.name)
                meta: dict[str, Any] = {"name": self.name, "namespace": "kube-node-lease"}
                if node is not None:
                    meta["ownerReferences"] = [
                        {
                            "apiVersion": "v1",
                            "kind": "Node",
                            "name": self.name,
                            "uid": node["metadata"]["uid"],
                        }
                    ]
                self.store.create(
                    "coordination.k8s.io",
                    "leases",
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": meta,
                        "spec": {
                            "holderIdentity": self.name,
                            "leaseDurationSeconds": LEASE_DURATION,
                            "renewTime": renew,
                        },
                    },
                )
            else:
                lease["spec"]["holderIdentity"] = self.name
                lease["spec"]["leaseDurationSeconds"] = LEASE_DURATION
                lease["spec"]["renewTime"] = renew
                self.store.update("coordination.k8s.io", "leases", lease)
            self.last_lease = now
        except ApiError:
            pass

    # ---- status ------------------------------------------------------------------------

    def _write_pod_statuses(self, now: float) -> None:
        for pod in list(self.pods.values()):
            if pod.terminated and pod.static:
                continue
            obj = self._bound.get((pod.namespace, pod.name))
            if obj is None or pod.static:
                # Mirror pods may have been created or replaced during this sync.
                obj = self.store.get("", "pods", pod.namespace, pod.name)
            if obj is None:
                continue
            meta = obj["metadata"]
            if pod.static:
                if (meta.get("annotations") or {}).get(MIRROR_ANNOTATION) != pod.key:
                    continue
            elif meta.get("uid") != pod.key:
                continue
            # Skip pods where nothing happened since their status was last written
            # (ErrImagePull turns into ImagePullBackOff with time alone).
            seen = (pod.version, meta.get("resourceVersion"), pod.terminated)
            pulling = any(slot.waiting == "ErrImagePull" for slot in pod.slots.values())
            if pod.__dict__.get("_written") == seen and not pulling:
                continue
            status = self._pod_status(pod, now, obj.get("status") or {})
            if status == obj.get("status"):
                pod.__dict__["_written"] = seen
                continue
            obj["status"] = status
            with contextlib.suppress(ApiError):
                stored = self.store.update("", "pods", obj)
                written = stored["metadata"].get("resourceVersion")
                pod.__dict__["_written"] = (pod.version, written, pod.terminated)

    def _pod_status(
        self, pod: PodRuntime, now: float, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        old = old or {}
        old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
        app = [s for s in pod.slots.values() if not s.init]
        init = [s for s in pod.slots.values() if s.init]
        initialized = all(s.done for s in init)
        # Sidecars (restartable init containers) count for readiness as app containers.
        serving = [s for s in init if s.sidecar and not s.final] + app
        containers_ready = initialized and all(
            s.ready and s.current is not None and s.current.running() for s in serving
        )
        policy = pod.spec.get("restartPolicy") or "Always"
        phase = "Pending"
        finished = [s for s in app if s.final]
        if any(s.current is not None and s.current.running() for s in app) or any(
            s.restarts > 0 or s.waiting == "CrashLoopBackOff" for s in app
        ):
            phase = "Running"
        if app and len(finished) == len(app) and policy != "Always":
            failed = any((s.current.exit_code or 0) != 0 for s in finished if s.current)
            phase = "Failed" if failed else "Succeeded"
        if pod.terminated and phase == "Running":
            phase = (
                "Succeeded"
                if all((s.current and s.current.exit_code == 0) for s in app)
                else "Failed"
            )
        if any(
            s.init
            and s.current is not None
            and not s.done
            and s.current.finished is not None
            and policy == "Never"
            for s in init
        ):
            phase = "Failed"

        def cond(kind: str, value: bool, reason: str = "") -> dict[str, Any]:
            status = "True" if value else "False"
            prev = old_conditions.get(kind) or {}
            c: dict[str, Any] = {
                "type": kind,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": prev.get("lastTransitionTime")
                if prev.get("status") == status and prev.get("lastTransitionTime")
                else _ts(now),
            }
            if not value and reason:
                c["reason"] = reason
            return c

        not_ready = [
            s.name
            for s in serving
            if not (s.ready and s.current is not None and s.current.running())
        ]
        ready_reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
        conditions = [
            cond("PodReadyToStartContainers", bool(pod.sandbox) and not pod.terminated),
            cond("Initialized", initialized, "ContainersNotInitialized"),
            cond("Ready", containers_ready, ready_reason),
            cond("ContainersReady", containers_ready, ready_reason),
            cond("PodScheduled", True),
        ]
        if not containers_ready and ready_reason == "ContainersNotReady":
            names = " ".join(not_ready)
            for c in conditions[2:4]:
                c["message"] = f"containers with unready status: [{names}]"
        if not initialized:
            pending = " ".join(s.name for s in init if not s.done)
            conditions[1]["message"] = f"containers with incomplete status: [{pending}]"
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.node_ip,
            "hostIPs": [{"ip": self.node_ip}],
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}] if pod.ip else [],
            "startTime": _ts(pod.created),
            "qosClass": old.get("qosClass") or "BestEffort",
        }
        if init:
            status["initContainerStatuses"] = [self._container_status(pod, s, now) for s in init]
        status["containerStatuses"] = [self._container_status(pod, s, now) for s in app]
        return status

    def _container_status(self, pod: PodRuntime, slot: Slot, now: float) -> dict[str, Any]:
        spec = self._container_spec(pod, slot.name)
        cur = slot.current
        out: dict[str, Any] = {
            "name": slot.name,
            "image": spec.get("image", ""),
            "imageID": "",
            "ready": bool(slot.ready and cur is not None and cur.running()),
            "restartCount": slot.restarts,
            "started": bool(cur is not None and cur.running() and slot.started_ok),
            "lastState": {},
            "state": {},
        }
        if cur is not None:
            out["containerID"] = f"containerd://{cur.id}"
            repo = cur.image.split(":")[0].split("@")[0]
            out["imageID"] = f"{repo}@{image_id(cur.image)}"
        prev = slot.previous
        if cur is not None and not cur.running() and slot.waiting == "CrashLoopBackOff":
            prev = cur
        if prev is not None and prev.finished is not None:
            out["lastState"] = {"terminated": _terminated(prev)}
        if slot.waiting and (cur is None or not cur.running()):
            reason = slot.waiting
            if (
                reason == "ErrImagePull"
                and slot.pull_failures
                and now > slot.next_try - slot.backoff
            ):
                reason = "ImagePullBackOff"
                message = (
                    f'Back-off pulling image "{spec.get("image", "")}": ErrImagePull: '
                    f"{slot.waiting_message}"
                )
            else:
                message = slot.waiting_message
            waiting: dict[str, Any] = {"reason": reason}
            if message:
                waiting["message"] = message
            out["state"] = {"waiting": waiting}
        elif cur is not None and cur.running():
            out["state"] = {"running": {"startedAt": _ts(cur.started or now)}}
        elif cur is not None:
            out["state"] = {"terminated": _terminated(cur)}
            if slot.previous is not None and slot.previous.finished is not None:
                out["lastState"] = {"terminated": _terminated(slot.previous)}
            else:
                out["lastState"] = {}
        return out

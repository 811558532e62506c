"""Events the kubelet records, container logs, and what the node's tools ask of the
agent (pods, containers, listening ports, components).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.sim.machinery.errors import ApiError, LogError
from app.sim.nodes import components
from app.sim.nodes.kubelet.records import SIGKILL_EXIT, ContainerRec, PodRuntime, Slot, _hex_id, _ts
from app.sim.nodes.kubelet.state import AgentState


class EventsAndLogs(AgentState):
    """Events the kubelet records, container logs, and what the node's tools ask of
    the agent (pods, containers, listening ports, components).

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- events ------------------------------------------------------------------------

    def _event(
        self,
        pod: PodRuntime,
        t: float,
        kind: str,
        reason: str,
        message: str,
        slot: Slot | None = None,
        record: bool = True,
    ) -> None:
        if not record:
            return
        pod.events.append([t, kind, reason, message])
        del pod.events[:-50]
        obj = self.store.get("", "pods", pod.namespace, pod.name)
        if obj is None or not self.kubelet_running() or not self.api_connected:
            # Nothing reaches the API (upstream's event broadcaster drops what it
            # cannot deliver after its retries).
            return
        field_path = ""
        if slot is not None:
            group = "initContainers" if slot.init else "containers"
            field_path = f"spec.{group}{{{slot.name}}}"
        name = f"{pod.name}.{_hex_id(pod.key, reason, message)[:16]}"
        stamp = _ts(t)
        existing = self.store.get("", "events", pod.namespace, name)
        try:
            if existing is not None:
                existing["count"] = int(existing.get("count") or 1) + 1
                existing["lastTimestamp"] = stamp
                self.store.update("", "events", existing)
                return
            involved: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.name,
                "namespace": pod.namespace,
                # The kubelet records a static pod's events under the static pod's own
                # UID (its config hash); kubectl describe looks them up by the mirror
                # pod's kubernetes.io/config.mirror annotation.
                "uid": pod.key if pod.static else obj["metadata"]["uid"],
            }
            if not pod.static:
                involved["resourceVersion"] = obj["metadata"].get("resourceVersion")
            if field_path:
                involved["fieldPath"] = field_path
            self.store.create(
                "",
                "events",
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": pod.namespace},
                    "involvedObject": involved,
                    "reason": reason,
                    "message": message,
                    "source": {"component": "kubelet", "host": self.name},
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "count": 1,
                    "type": kind,
                    "eventTime": None,
                    "reportingComponent": "kubelet",
                    "reportingInstance": self.name,
                },
            )
        except ApiError:
            pass

    # ---- queries -----------------------------------------------------------------------

    def find_pod(self, namespace: str, name: str) -> PodRuntime | None:
        for pod in self.pods.values():
            if pod.namespace == namespace and pod.name == name and not pod.terminated:
                return pod
        return None

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
        """A container's log as `kubectl logs` prints it: lines written at or after
        epoch second `since`, the last `tail` of them, each after its RFC3339 time with
        nanoseconds when `timestamps` (the kubelet's format). Raises LogError with the
        API server's message when the pod or container is unknown here, or when
        `previous` is asked for a container that never restarted."""
        rt = self.find_pod(namespace, pod)
        if rt is None:
            raise LogError(f'pods "{pod}" not found')
        names = [s.name for s in rt.slots.values() if not s.init]
        if container is None:
            if len(names) != 1:
                raise LogError(
                    f"a container name must be specified for pod {pod}, choose one of: "
                    f"[{' '.join(names)}]"
                )
            container = names[0]
        slot = rt.slots.get(container)
        if slot is None:
            raise LogError(f"container {container} is not valid for pod {pod}")
        now = self.clock.now().timestamp()
        if previous:
            rec = slot.previous
            if slot.current is not None and not slot.current.running():
                rec = slot.current
            if rec is None:
                raise LogError(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
        else:
            rec = slot.current
            if rec is None:
                reason = slot.waiting or "ContainerCreating"
                if reason in ("ErrImagePull",) and slot.pull_failures:
                    reason = "ImagePullBackOff" if now > slot.next_try - slot.backoff else reason
                raise LogError(
                    f'container "{container}" in pod "{pod}" is waiting to start: {reason}'
                )
        timed = self.container_timed_output(rt, slot, rec, now)
        if since is not None:
            timed = [(t, line) for t, line in timed if t >= since]
        if tail is not None and tail >= 0:
            timed = timed[-tail:] if tail else []
        if timestamps:
            return "".join(f"{log_timestamp(t)} {line}\n" for t, line in timed)
        return "".join(line + "\n" for _, line in timed)

    def container_lines(self, rec: ContainerRec, now: float) -> list[str]:
        return [line for _, line in self.container_timed_lines(rec, now)]

    def container_timed_lines(self, rec: ContainerRec, now: float) -> list[tuple[float, str]]:
        if rec.started is None:
            return []
        end = rec.finished if rec.finished is not None else now
        return rec.prog().timed_lines_until(rec.started, end - rec.started)

    def container_output(
        self, pod: PodRuntime, slot: Slot, rec: ContainerRec, now: float
    ) -> list[str]:
        """A container's log: its program's lines, then what its `tail -f` printed of
        the file it follows (the current container only)."""
        return [line for _, line in self.container_timed_output(pod, slot, rec, now)]

    def container_timed_output(
        self, pod: PodRuntime, slot: Slot, rec: ContainerRec, now: float
    ) -> list[tuple[float, str]]:
        """`container_output` with each line's time (a followed file's lines carry the
        time they are read: the file keeps no times)."""
        timed = self.container_timed_lines(rec, now)
        follower = getattr(self, "follow_file", None)
        if rec is slot.current and rec.program.get("follows") and follower is not None:
            timed += [(now, line) for line in follower(pod, slot)]
        return timed

    def stop_container(self, pod: PodRuntime, slot: Slot) -> None:
        """`crictl stop`: the runtime stops the container behind the kubelet's back;
        the kubelet sees it exit and restarts it as its restartPolicy says."""
        now = self.clock.now().timestamp()
        killed = self._ignores_sigterm(pod, slot)
        code, reason = (SIGKILL_EXIT, "Error") if killed else (0, "Completed")
        pod.version += 1
        self._exited(pod, slot, now, code, reason)

    def listening(self) -> list[tuple[str, int, str]]:
        """(address:port, pid, program) of the TCP sockets listening in the node's
        network namespace: the kubelet's and those of host-network containers."""
        out: list[tuple[str, int, str]] = []
        kubelet = self.services.units["kubelet"]
        if self.kubelet_running():
            out += [
                ("127.0.0.1:10248", kubelet.pid, "kubelet"),
                ("*:10250", kubelet.pid, "kubelet"),
            ]
        for pod in sorted(self.pods.values(), key=lambda p: p.created):
            for slot in pod.slots.values():
                cur = slot.current
                if cur is None or not cur.running() or not pod.spec.get("hostNetwork"):
                    continue
                prog = cur.prog()
                sockets = prog.listen or [f"*:{port}" for port in prog.ports]
                out += [(sock, cur.pid(), slot.name) for sock in sockets]
        return out

    def write_log_files(self) -> None:
        """Lay the containers' logs out as containerd writes them on disk:
        /var/log/pods/NS_POD_UID/CONTAINER/ATTEMPT.log in the CRI log format, with
        /var/log/containers/POD_NS_CONTAINER-ID.log beside them."""
        now = self.clock.now().timestamp()
        for root in ("/var/log/pods", "/var/log/containers"):
            if self.fs.is_dir(root):
                self.fs.remove(root, recursive=True)
            self.fs.mkdir(root)
        for pod in self.pods.values():
            if pod.terminated:
                continue
            directory = f"/var/log/pods/{pod.namespace}_{pod.name}_{pod.key}"
            for slot in pod.slots.values():
                for rec in (slot.previous, slot.current):
                    if rec is None or rec.started is None:
                        continue
                    end = rec.finished if rec.finished is not None else now
                    stamp = datetime.fromtimestamp(rec.started, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%S.%f000Z"
                    )
                    lines = self.container_output(pod, slot, rec, end)
                    # CRI logging format: time, stream, P(artial)/F(ull) tag, text.
                    text = "".join(f"{stamp} stderr F {line}\n" for line in lines)
                    path = f"{directory}/{slot.name}/{rec.attempt}.log"
                    self.fs.write(path, text, mode=0o640)
                    link = (
                        f"/var/log/containers/{pod.name}_{pod.namespace}_{slot.name}-{rec.id}.log"
                    )
                    self.fs.write(link, text, mode=0o640)

    def static_pods_of(self, component: str) -> list[PodRuntime]:
        """Every live static pod running `component` (a second kube-scheduler manifest
        is a second instance, as on kubeadm), oldest first."""
        out = [
            pod
            for pod in self.pods.values()
            if pod.static
            and not pod.terminated
            and pod.terminating_since is None
            and (
                pod.labels.get("component") == component
                or components.component_of({"metadata": {"labels": pod.labels}, "spec": pod.spec})
                == component
            )
        ]
        if len(out) > 1:
            out.sort(key=lambda p: p.created)
        return out

    def static_pod(self, component: str) -> PodRuntime | None:
        pods = self.static_pods_of(component)
        return pods[0] if pods else None

    def instance_running(self, pod: PodRuntime) -> ContainerRec | None:
        """The running container of a component's static pod when it does its work
        (it runs and reaches the API server), else None."""
        slots = [s for s in pod.slots.values() if not s.init]
        cur = slots[0].current if slots else None
        if cur is not None and cur.running() and cur.program.get("functional", True):
            return cur if self.component_cert_valid(cur) else None
        return None

    def component_running(self, name: str) -> bool:
        """Whether control-plane component `name` runs and does its work here: one of
        its static pods has a running container that reaches the API server."""
        return any(self.instance_running(pod) for pod in self.static_pods_of(name))

    def host_ports_in_use(self, exclude: PodRuntime) -> list[str]:
        """Sockets ("address:port") that running host-network containers of the other
        live pods hold (a component binding one of them fails)."""
        out = []
        for pod in self.pods.values():
            if pod is exclude or pod.terminating_since is not None or pod.terminated:
                continue
            if not pod.spec.get("hostNetwork"):
                continue
            for slot in pod.slots.values():
                cur = slot.current
                if cur is not None and cur.running():
                    prog = cur.prog()
                    out += prog.listen or [f"*:{port}" for port in prog.ports]
        return out

    def note_leader(self, pod_key: str, lease: str) -> None:
        """A component instance of this node acquired its leader Lease: its log says
        so (client-go's leaderelection line)."""
        pod = self.pods.get(pod_key)
        cur = self.instance_running(pod) if pod is not None else None
        if cur is None or cur.started is None:
            return
        offset = max(0.0, self.clock.now().timestamp() - cur.started)
        text = f"leaderelection.go:271] successfully acquired lease kube-system/{lease}"
        cur.program.setdefault("logs", []).append([offset, "I", text])
        cur.__dict__.pop("_program", None)


def log_timestamp(epoch: float) -> str:
    """The kubelet's log time (kuberuntime/logs: RFC3339 with nine fractional digits)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    nanos = round((epoch - int(epoch)) * 1e9) % 1_000_000_000
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"

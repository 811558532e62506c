"""Container probes: startup, liveness and readiness (exec, httpGet, tcpSocket)."""

from __future__ import annotations

from typing import Any

from app.sim.nodes.kubelet.records import PROBE_PERIOD, SIGKILL_EXIT, ContainerRec, PodRuntime, Slot
from app.sim.nodes.kubelet.state import AgentState

# core/v1 probe default failureThreshold (periodSeconds is in records).
PROBE_FAILURES = 3


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Prober(AgentState):
    """Startup, liveness and readiness probes.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    def _run_probes(self, pod: PodRuntime, slot: Slot, t: float) -> None:
        spec = self._container_spec(pod, slot.name)
        cur = slot.current
        assert cur is not None
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            state = slot.probes.get(kind)
            if state is None or state["next"] > t:
                continue
            probe = spec.get(kind) or {}
            period = float(probe.get("periodSeconds") or PROBE_PERIOD)
            state["next"] = t + period
            if kind != "startupProbe" and not slot.started_ok:
                continue
            if kind == "startupProbe" and slot.started_ok:
                continue
            ok, detail = self._probe(pod, cur, probe, t)
            threshold = int(probe.get("failureThreshold") or PROBE_FAILURES)
            successes = int(probe.get("successThreshold") or 1)
            if ok:
                state["fail"] = 0
                state["ok"] += 1
                if kind == "startupProbe":
                    slot.started_ok = True
                    slot.done = slot.done or slot.sidecar
                    if "readinessProbe" not in spec:
                        slot.ready = True
                elif kind == "readinessProbe" and state["ok"] >= successes:
                    slot.ready = True
                continue
            state["ok"] = 0
            state["fail"] += 1
            label = {
                "startupProbe": "Startup",
                "livenessProbe": "Liveness",
                "readinessProbe": "Readiness",
            }[kind]
            self._event(pod, t, "Warning", "Unhealthy", f"{label} probe failed: {detail}", slot)
            if kind == "readinessProbe":
                if state["fail"] >= threshold:
                    slot.ready = False
                continue
            if state["fail"] >= threshold:
                verb = "startup" if kind == "startupProbe" else "liveness"
                self._event(
                    pod,
                    t,
                    "Normal",
                    "Killing",
                    f"Container {slot.name} failed {verb} probe, will be restarted",
                    slot,
                )
                self._exited(pod, slot, t, SIGKILL_EXIT, "Error")
                return

    def _probe_settled(self, pod: PodRuntime, slot: Slot, kind: str, now: float) -> bool:
        """Whether looking again with this probe would find what it found last: it
        passed (or, a startup probe, is done) and nothing in the container's program
        changes its answer with time. Only a change from outside (a command in the
        container, a new file) can change it then; the control plane looks again once
        after each such change, and otherwise skips these probes while idle."""
        state = slot.probes.get(kind)
        cur = slot.current
        if state is None or cur is None or not cur.running():
            return True
        if kind == "startupProbe":
            return slot.started_ok
        if not slot.started_ok or state["fail"] or not state["ok"]:
            return False
        probe = self._container_spec(pod, slot.name).get(kind) or {}
        if kind == "readinessProbe" and not slot.ready:
            return False
        if "exec" in probe:
            elapsed = now - (cur.started or now)
            return all(offset <= elapsed for offset, _, _ in cur.prog().files)
        return True

    def _skip_settled_probes(self, pod: PodRuntime, now: float) -> None:
        """A settled probe more than one period behind `now` (its kubelet did not sync
        while idle) is looked at once, at its last due time, instead of once per
        period missed: the skipped looks would all have passed without a trace."""
        for slot in pod.slots.values():
            for kind, state in slot.probes.items():
                probe = self._container_spec(pod, slot.name).get(kind) or {}
                period = float(probe.get("periodSeconds") or PROBE_PERIOD)
                behind = now - state["next"]
                if behind > period and self._probe_settled(pod, slot, kind, now):
                    state["next"] += period * int(behind // period)

    def probe_wake(
        self, pod: PodRuntime, slot: Slot, changed_at: float, now: float
    ) -> float | None:
        """When a probe of this running container next needs a look: unsettled
        probes at their next period, settled ones only for their first look after
        `changed_at` (the last change from outside)."""
        times = []
        for kind, state in slot.probes.items():
            probe = self._container_spec(pod, slot.name).get(kind) or {}
            period = float(probe.get("periodSeconds") or PROBE_PERIOD)
            looked = state["next"] - period
            if looked < changed_at or not self._probe_settled(pod, slot, kind, now):
                times.append(state["next"])
        return min(times) if times else None

    def _probed_ports(self, pod: PodRuntime, cur: ContainerRec) -> set[int]:
        """Where the container listens, as the pod network sees it (a declared
        containerPort nginx does not serve refuses the probe, as upstream)."""
        hook = getattr(self, "listening_ports", None)
        slot = next((s for s in pod.slots.values() if s.current is cur), None)
        if hook is None or slot is None or not cur.running():
            return set(cur.prog().ports)
        return set(hook(pod, slot))

    def _http_answer(self, pod: PodRuntime, port: int, path: str) -> tuple[bool, str]:
        """Success for a status from 200 to 399, as upstream's HTTP prober
        (pkg/probe/http/http.go: "HTTP probe failed with statuscode: %d")."""
        status_of = getattr(self, "http_status", None)
        status = status_of(pod, port, path) if status_of is not None else None
        if status is None or 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"

    def _probe(
        self, pod: PodRuntime, cur: ContainerRec, probe: dict[str, Any], t: float
    ) -> tuple[bool, str]:
        prog = cur.prog()
        listening = self._probed_ports(pod, cur)
        elapsed = t - (cur.started or t)
        spec_ports = {
            p.get("name"): p.get("containerPort")
            for c in pod.spec.get("containers") or []
            for p in c.get("ports") or []
        }

        def port_of(value: Any) -> int:
            if isinstance(value, str) and not value.isdigit():
                return int(spec_ports.get(value) or 0)
            return int(value or 0)

        if "httpGet" in probe:
            http = probe["httpGet"] or {}
            port = port_of(http.get("port"))
            scheme = str(http.get("scheme") or "HTTP").upper()
            host = http.get("host") or pod.ip
            url = f"{scheme.lower()}://{_host_port(host, port)}{http.get('path') or '/'}"
            if port not in listening:
                return (
                    False,
                    f'Get "{url}": dial tcp {_host_port(host, port)}: connect: connection refused',
                )
            if scheme == "HTTP" and port in prog.tls_ports:
                return False, "HTTP probe failed with statuscode: 400"
            if scheme == "HTTPS" and port not in prog.tls_ports:
                return False, f'Get "{url}": http: server gave HTTP response to HTTPS client'
            return self._http_answer(pod, port, str(http.get("path") or "/"))
        if "tcpSocket" in probe:
            port = port_of((probe["tcpSocket"] or {}).get("port"))
            if port not in listening:
                return False, f"dial tcp {_host_port(pod.ip, port)}: connect: connection refused"
            return True, ""
        if "grpc" in probe:
            port = port_of((probe["grpc"] or {}).get("port"))
            if port not in listening:
                return (
                    False,
                    f'timeout: failed to connect service "{_host_port(pod.ip, port)}" within '
                    "1s: context deadline exceeded",
                )
            return True, ""
        if "exec" in probe:
            argv = [str(x) for x in (probe["exec"] or {}).get("command") or []]
            if argv and argv[0] in ("cat", "test", "ls", "stat") and len(argv) >= 2:
                path = argv[-1]
                if prog.file_present(path, elapsed):
                    return True, ""
                return False, f"{argv[0]}: can't open '{path}': No such file or directory" if argv[
                    0
                ] == "cat" else ""
            if argv and argv[0] in ("false",):
                return False, ""
            return True, ""
        return True, ""

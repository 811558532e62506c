"""The pod worker: pods bound to the node, run on a timeline of container starts,
exits, restarts with back-off and termination.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from app.sim.machinery.errors import ApiError
from app.sim.network.addons import startup_failure
from app.sim.nodes import components
from app.sim.nodes.kubelet import admission
from app.sim.nodes.kubelet.records import (
    MIRROR_ANNOTATION,
    PROBE_PERIOD,
    SIGKILL_EXIT,
    ContainerRec,
    PodRuntime,
    Slot,
    _hex_id,
    _q,
    _ts,
)
from app.sim.nodes.kubelet.state import AgentState
from app.sim.nodes.runtime import (
    IMAGE_SIZES,
    Program,
    invalid_image_reason,
    normalize_image,
    program_for,
    pull_error,
    repository_name,
)

# Container restart back-off: 10 s doubling to 300 s, reset after a container ran
# 10 minutes (pkg/kubelet/kubelet.go: backOffPeriod, MaxContainerBackOff).
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0
_SHELL_BINARIES = {"sh", "/bin/sh", "bash", "/bin/bash", "sleep", "/bin/sleep"}


def _oom_killed(prog: Program, spec: dict[str, Any]) -> Program:
    """A container that allocates more than its memory limit is killed by the
    kernel's OOM killer moments after it starts (metrics.oom_kill): terminated
    with reason OOMKilled and exit code 137, then restarted with back-off."""
    from app.sim.nodes import metrics  # metrics imports the container catalogue

    if prog.reason or (prog.exit_after is not None and prog.exit_after <= 0):
        return prog
    killed = metrics.oom_kill(spec)
    if killed is None:
        return prog
    after, lines = killed
    if prog.exit_after is not None and prog.exit_after < after:
        return prog
    prog.logs = [*prog.logs, *((0.0, "", line) for line in lines)]
    prog.exit_after, prog.exit_code, prog.reason = after, SIGKILL_EXIT, "OOMKilled"
    prog.repeat = None
    return prog


class PodWorker(AgentState):
    """The pods bound to the node: admission, image pulls, container starts and
    exits, restarts with back-off, and termination, replayed in time order.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- API pods ----------------------------------------------------------------------

    def _sync_api_pods(self, now: float) -> None:
        seen: set[str] = set()
        for obj in list(self._bound.values()):
            meta = obj["metadata"]
            if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
                continue
            uid = meta["uid"]
            seen.add(uid)
            pod = self.pods.get(uid)
            if pod is None:
                phase = (obj.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed") or self._rejected(obj, now):
                    continue
                pod = PodRuntime(
                    key=uid,
                    namespace=meta.get("namespace") or "default",
                    name=meta["name"],
                    spec=obj.get("spec") or {},
                    created=now,
                )
                self._admit(pod, now)
            elif pod.terminating_since is None:
                self._apply_image_changes(pod, obj.get("spec") or {}, now)
            if meta.get("deletionTimestamp") and pod.terminating_since is None:
                grace = meta.get("deletionGracePeriodSeconds")
                if not grace:
                    # The store records 0 for every deletion it defers (finalizers); a
                    # forced deletion never reaches the kubelet, so use the pod's own.
                    grace = pod.spec.get("terminationGracePeriodSeconds", 30)
                self._begin_termination(pod, now, grace=float(grace))
        for key, pod in list(self.pods.items()):
            if not pod.static and key not in seen:
                # Deleted through the API at once (no grace): stop its containers.
                if pod.terminating_since is None:
                    self._begin_termination(pod, now, grace=0)
                pod.terminated = True

    def _rejected(self, obj: dict[str, Any], now: float) -> bool:
        """Kubelet admission of a newly bound pod (admission.py); a rejected pod is
        written Failed with the predicate's reason and gets a Warning event."""
        owners = obj["metadata"].get("ownerReferences") or []
        if any(ref.get("controller") for ref in owners):
            # Upstream rejects these too and their controller replaces them at once, an
            # endless stream of Failed pods; the simulator admits them instead.
            return False
        node = self.store.get("", "nodes", None, self.name)
        if node is None:
            return False
        uid = obj["metadata"]["uid"]
        others = [
            o
            for o in self._bound.values()
            if o["metadata"]["uid"] != uid
            and (o.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and (
                o["metadata"]["uid"] in self.pods
                or MIRROR_ANNOTATION in (o["metadata"].get("annotations") or {})
            )
        ]
        verdict = admission.admit(obj, node, others)
        if verdict is None:
            return False
        reason, message = verdict
        meta = obj["metadata"]
        probe = PodRuntime(
            key=uid, namespace=meta.get("namespace") or "default", name=meta["name"], spec={}
        )
        self._event(probe, now, "Warning", reason, message)
        obj["status"] = {
            "phase": "Failed",
            "reason": reason,
            "message": f"Pod was rejected: {message}",
            "qosClass": (obj.get("status") or {}).get("qosClass") or "BestEffort",
            "startTime": _ts(now),
        }
        with contextlib.suppress(ApiError):
            self.store.update("", "pods", obj)
        self.journal(
            now,
            "I",
            f'predicate.go:212] "Predicate failed on Pod" pod="{probe.namespace}/{probe.name}" '
            f'err="{_q(message)}"',
        )
        return True

    def _apply_image_changes(self, pod: PodRuntime, spec: dict[str, Any], now: float) -> None:
        """A container's image is the one mutable part of a pod's containers: a new
        image restarts that container at once (no back-off), as upstream's
        "definition changed" restart does."""
        for group in ("initContainers", "containers"):
            new = {c.get("name"): c for c in spec.get(group) or [] if isinstance(c, dict)}
            for container in pod.spec.get(group) or []:
                change = new.get(container.get("name"))
                if change is None or change.get("image") == container.get("image"):
                    continue
                container["image"] = change.get("image")
                pod.version += 1
                slot = pod.slots.get(str(container.get("name")))
                if slot is None:
                    continue
                if slot.current is not None and slot.current.running():
                    self._event(
                        pod,
                        now,
                        "Normal",
                        "Killing",
                        f"Container {slot.name} definition changed, will be restarted",
                        slot,
                    )
                    self._kill(pod, slot, now, 0, "Completed", restart=False)
                slot.waiting, slot.waiting_message = "ContainerCreating", ""
                slot.pull_failures = 0
                slot.final = False
                slot.next_try = now

    def _admit(self, pod: PodRuntime, now: float) -> None:
        pod.version += 1
        pod.created = now
        pod.sandbox = _hex_id(self.name, pod.key, "sandbox", now)
        if pod.spec.get("hostNetwork"):
            pod.ip = self.node_ip
        else:
            pod.ip = self._allocate_ip()
        for c in pod.spec.get("initContainers") or []:
            pod.slots[c["name"]] = Slot(
                name=c["name"],
                init=True,
                waiting="PodInitializing",
                next_try=now,
                sidecar=c.get("restartPolicy") == "Always",
            )
        for c in pod.spec.get("containers") or []:
            waiting = "PodInitializing" if pod.spec.get("initContainers") else "ContainerCreating"
            pod.slots[c["name"]] = Slot(name=c["name"], waiting=waiting, next_try=now)
        self.pods[pod.key] = pod
        if not pod.static:
            self._event(pod, now, "Normal", "Scheduled", "", record=False)

    def _allocate_ip(self) -> str:
        network = ipaddress.ip_network(self.pod_cidr, strict=False)
        used = {p.ip for p in self.pods.values() if not p.terminated}
        for _ in range(network.num_addresses):
            candidate = str(network.network_address + self._ip_next)
            self._ip_next += 1
            if self._ip_next >= network.num_addresses - 1:
                self._ip_next = 2  # host-local wraps past the broadcast address
            if candidate not in used:
                return candidate
        return ""

    # ---- the per-pod timeline ----------------------------------------------------------

    def _container_spec(self, pod: PodRuntime, name: str) -> dict[str, Any]:
        for c in [*(pod.spec.get("initContainers") or []), *(pod.spec.get("containers") or [])]:
            if c.get("name") == name:
                return c
        return {}

    def _advance(self, pod: PodRuntime, now: float) -> None:
        for _ in range(10000):
            t = self._next_event(pod)
            if t is None or t > now:
                break
            self._step(pod, t)
        stopping = pod.terminating_since is not None and not pod.terminated
        if stopping and all(
            s.current is None or not s.current.running() for s in pod.slots.values()
        ):
            pod.terminated = True

    def _next_event(self, pod: PodRuntime) -> float | None:
        times: list[float] = []
        active = self._active_slots(pod)
        for slot in pod.slots.values():
            cur = slot.current
            if cur is not None and cur.running():
                exit_at = cur.exit_time()
                if exit_at is not None:
                    times.append(exit_at)
                for state in slot.probes.values():
                    times.append(state["next"])
                if slot.kill_at is not None:
                    times.append(slot.kill_at)
            elif slot in active and pod.terminating_since is None and self.runtime_running():
                times.append(slot.next_try)
        return min(times) if times else None

    def wake_time(self, changed_at: float) -> float | None:
        """The earliest time one of this node's pods has something to do by time
        alone (see `_next_event`), probes that would find what they found last left
        out (`probe_wake`), or None."""
        now = self.clock.now().timestamp()
        times: list[float] = []
        for pod in self.pods.values():
            if pod.terminated:
                continue
            active = self._active_slots(pod)
            for slot in pod.slots.values():
                cur = slot.current
                if cur is not None and cur.running():
                    exit_at = cur.exit_time()
                    probe_at = self.probe_wake(pod, slot, changed_at, now)
                    times += [t for t in (exit_at, probe_at, slot.kill_at) if t is not None]
                elif slot in active and pod.terminating_since is None and self.runtime_running():
                    times.append(slot.next_try)
            if pod.terminating_since is not None:
                times.append(now)  # its end is written by the next sync
        return min(times) if times else None

    def _active_slots(self, pod: PodRuntime) -> list[Slot]:
        """Slots that may start now: init containers in order (a sidecar, an init
        container with restartPolicy Always, lets the next one start once it has
        started, and keeps being restarted), then the app containers."""
        if pod.terminating_since is not None:
            return []
        sidecars: list[Slot] = []
        for slot in pod.slots.values():
            if not slot.init:
                continue
            if slot.sidecar:
                if not slot.final:
                    sidecars.append(slot)
                if not slot.done:
                    return sidecars
            elif not slot.done:
                # A failed init container with restartPolicy Never fails the pod.
                return sidecars if slot.final else [*sidecars, slot]
        return sidecars + [s for s in pod.slots.values() if not s.init and not s.final]

    def _step(self, pod: PodRuntime, t: float) -> None:
        pod.version += 1
        for slot in pod.slots.values():
            cur = slot.current
            if cur is not None and cur.running():
                if slot.kill_at is not None and slot.kill_at <= t:
                    # A process without a SIGTERM handler is killed with SIGKILL.
                    killed = self._ignores_sigterm(pod, slot)
                    code, reason = (SIGKILL_EXIT, "Error") if killed else (0, "Completed")
                    self._kill(pod, slot, t, code, reason, restart=False)
                    continue
                exit_at = cur.exit_time()
                if exit_at is not None and exit_at <= t:
                    prog = cur.prog()
                    reason = prog.reason or ("Completed" if prog.exit_code == 0 else "Error")
                    self._exited(pod, slot, exit_at, prog.exit_code, reason, prog.message)
                    continue
                self._run_probes(pod, slot, t)
            elif slot in self._active_slots(pod) and slot.next_try <= t and self.runtime_running():
                self._try_start(pod, slot, t)
        self._stop_sidecars_after_mains(pod, t)

    def _stop_sidecars_after_mains(self, pod: PodRuntime, t: float) -> None:
        """Once every app container of a pod that does not restart them has ended,
        the kubelet stops its sidecars (the pod can then complete, e.g. a Job's)."""
        app = [s for s in pod.slots.values() if not s.init]
        if (pod.spec.get("restartPolicy") or "Always") == "Always" or not app:
            return
        if not all(s.final for s in app):
            return
        for slot in pod.slots.values():
            if slot.sidecar and not slot.final:
                if slot.current is not None and slot.current.running():
                    killed = self._ignores_sigterm(pod, slot)
                    code, reason = (SIGKILL_EXIT, "Error") if killed else (0, "Completed")
                    self._kill(pod, slot, t, code, reason, restart=False)
                slot.final = True
                if slot.current is not None:
                    slot.waiting, slot.waiting_message = "", ""

    def _ignores_sigterm(self, pod: PodRuntime, slot: Slot) -> bool:
        spec = self._container_spec(pod, slot.name)
        argv = [str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
        # A shell or sleep running as PID 1 has no SIGTERM handler: it waits out the
        # grace period and is killed.
        return bool(argv) and argv[0] in _SHELL_BINARIES

    def _program(self, pod: PodRuntime, spec: dict[str, Any]) -> Program:
        if pod.static:
            component = components.component_of(
                {"metadata": {"labels": pod.labels}, "spec": pod.spec}
            )
            if component is not None and spec.get("name") == (pod.spec.get("containers") or [{}])[
                0
            ].get("name"):
                # An API server starting while etcd is down cannot reach its storage.
                etcd_up = component != "kube-apiserver" or self.component_running("etcd")
                return components.component_program(
                    component,
                    spec,
                    pod.spec.get("volumes") or [],
                    self.fs,
                    self.api_endpoints(),
                    etcd_running=etcd_up,
                    busy=self.host_ports_in_use(pod),
                )
        prog = _oom_killed(program_for(spec), spec)
        failure = startup_failure(
            self.store, {"metadata": {"namespace": pod.namespace}, "spec": pod.spec}, spec
        )
        code, lines = failure if failure is not None else (None, [])
        if code is None:
            # Running, but what it needs fails: it keeps logging the error.
            prog.logs = [*prog.logs, *((1.0, "E", line) for line in lines)]
        else:
            # CoreDNS or kube-proxy refusing its configuration exits at once.
            prog.exit_after, prog.exit_code, prog.reason, prog.ports = 0.0, code, "Error", []
            # kube-proxy's structured klog lines carry the klog header; CoreDNS's do not.
            prog.logs = [(0.0, "E" if line[:1] == '"' else "", line) for line in lines]
            return prog
        return self._one_shot(pod, spec, prog)

    def _one_shot(self, pod: PodRuntime, spec: dict[str, Any], prog: Program) -> Program:
        """A short command that ends at once (no sleep, loop or server) runs in the
        container's shell: its output is the log, its status the exit code."""
        runner = getattr(self, "run_one_shot", None)
        if runner is None or prog.exit_after not in (0.0, None) or prog.repeat is not None:
            return prog
        if prog.reason:
            return prog
        outcome = runner(pod, spec)
        if outcome is None:
            return prog
        prog.exit_code, text = outcome
        prog.exit_after = 0.0
        prog.logs = [(0.0, "", line) for line in text.splitlines()]
        return prog

    def _config_error(self, pod: PodRuntime, spec: dict[str, Any]) -> str | None:
        """CreateContainerConfigError: a ConfigMap/Secret key an env var needs is
        missing (and not optional)."""
        if pod.static:
            return None
        for env in spec.get("env") or []:
            source = (env or {}).get("valueFrom") or {}
            for kind, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
                ref = source.get(kind)
                if not ref or ref.get("optional"):
                    continue
                obj = self.store.get("", plural, pod.namespace, str(ref.get("name")))
                label = "configmap" if plural == "configmaps" else "secret"
                if obj is None:
                    return f'{label} "{ref.get("name")}" not found'
                data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
                if ref.get("key") not in data and (
                    plural != "secrets" or ref.get("key") not in (obj.get("stringData") or {})
                ):
                    kind_name = "Secret" if plural == "secrets" else "ConfigMap"
                    return (
                        f"couldn't find key {ref.get('key')} in {kind_name} "
                        f"{pod.namespace}/{ref.get('name')}"
                    )
        for source in spec.get("envFrom") or []:
            for kind, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                ref = (source or {}).get(kind)
                if (
                    ref
                    and not ref.get("optional")
                    and self.store.get("", plural, pod.namespace, str(ref.get("name"))) is None
                ):
                    label = "configmap" if plural == "configmaps" else "secret"
                    return f'{label} "{ref.get("name")}" not found'
        return None

    def _mount_error(self, pod: PodRuntime) -> str | None:
        """Why the pod's volumes cannot be set up (FailedMount), or None. Creates the
        hostPath files and directories the *OrCreate types ask for."""
        for vol in pod.spec.get("volumes") or []:
            host = vol.get("hostPath")
            name = vol.get("name")
            failed = f'MountVolume.SetUp failed for volume "{name}" :'
            if host:
                path, kind = str(host.get("path") or ""), host.get("type") or ""
                # No type: containerd creates a missing bind-mount source directory.
                if kind in ("", "DirectoryOrCreate") and not self.fs.exists(path):
                    self.fs.mkdir(path)
                elif kind == "FileOrCreate" and not self.fs.exists(path):
                    self.fs.write(path, "")
                elif kind == "File" and not self.fs.is_file(path):
                    return f"{failed} hostPath type check failed: {path} is not a file"
                elif kind == "Directory" and not self.fs.is_dir(path):
                    return f"{failed} hostPath type check failed: {path} is not a directory"
            claim_error = self._claim_error(pod, vol)
            if claim_error is not None:
                return claim_error
            for kind, plural, key in (
                ("configMap", "configmaps", "name"),
                ("secret", "secrets", "secretName"),
            ):
                ref = vol.get(kind)
                if ref and not ref.get("optional") and not pod.static:
                    target = ref.get(key)
                    if self.store.get("", plural, pod.namespace, str(target)) is None:
                        label = "configmap" if plural == "configmaps" else "secret"
                        return f'{failed} {label} "{target}" not found'
        return None

    def _claim_error(self, pod: PodRuntime, vol: dict[str, Any]) -> str | None:
        """The volume manager's error for a claim that is missing or not bound
        (pkg/kubelet/volumemanager/populator, getPVCExtractPV)."""
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if vol.get("ephemeral"):
            claim = f"{pod.name}-{vol.get('name')}"
        if not claim or pod.static:
            return None
        pvc = self.store.get("", "persistentvolumeclaims", pod.namespace, str(claim))
        if pvc is None:
            problem = (
                f'failed to fetch PVC from API server: persistentvolumeclaims "{claim}" not found'
            )
        elif (pvc.get("status") or {}).get("phase") != "Bound" or not (
            (pvc.get("spec") or {}).get("volumeName")
        ):
            problem = "PVC is not bound"
        else:
            return None
        name = vol.get("name")
        return (
            f"Unable to attach or mount volumes: unmounted volumes=[{name}], unattached "
            f"volumes=[], failed to process volumes=[{name}]: error processing PVC "
            f"{pod.namespace}/{claim}: {problem}"
        )

    def _ensure_image(
        self, pod: PodRuntime, slot: Slot, t: float, image: str, spec: dict[str, Any]
    ) -> bool:
        """The kubelet's image manager: pull per `imagePullPolicy` (Always pulls every
        time, IfNotPresent only a missing image, Never never), with its events; False
        when the container cannot start yet (ErrImagePull, ErrImageNeverPull)."""
        ref = normalize_image(image)
        policy = spec.get("imagePullPolicy") or "IfNotPresent"
        present = ref in self.images
        if policy == "Never" and not present:
            message = f'Container image "{image}" is not present with pull policy of Never'
            slot.waiting, slot.waiting_message = "ErrImageNeverPull", message
            self._event(pod, t, "Warning", "ErrImageNeverPull", message, slot)
            slot.next_try = t + BACKOFF_MAX
            return False
        if present and policy != "Always":
            if slot.restarts == 0 and slot.current is None:
                message = f'Container image "{image}" already present on machine'
                self._event(pod, t, "Normal", "Pulled", message, slot)
            return True
        self._event(pod, t, "Normal", "Pulling", f'Pulling image "{image}"', slot)
        error = pull_error(image, self.bad_images)
        if error is not None:
            self._pull_failed(pod, slot, t, image, error)
            return False
        size = self.images.setdefault(ref, IMAGE_SIZES.get(repository_name(ref), 20_000_000))
        self._event(
            pod,
            t,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in 1.2s (1.2s including waiting). '
            f"Image size: {size} bytes.",
            slot,
        )
        return True

    def _pull_failed(self, pod: PodRuntime, slot: Slot, t: float, image: str, error: str) -> None:
        slot.pull_failures += 1
        delay = min(BACKOFF_INITIAL * 2 ** (slot.pull_failures - 1), BACKOFF_MAX)
        self._event(pod, t, "Warning", "Failed", f'Failed to pull image "{image}": {error}', slot)
        self._event(pod, t, "Warning", "Failed", "Error: ErrImagePull", slot)
        slot.waiting, slot.waiting_message = "ErrImagePull", error
        # Between attempts the status reads ImagePullBackOff (set on the next step).
        slot.next_try = t + delay
        slot.probes = {}
        slot.backoff = delay
        self.journal(
            t,
            "E",
            'pod_workers.go:1301] "Error syncing pod, skipping" '
            f'err="failed to \\"StartContainer\\" for \\"{slot.name}\\" with '
            f'ErrImagePull: \\"{_q(error)}\\"" pod="{pod.namespace}/{pod.name}" '
            f'podUID="{pod.key}"',
        )

    def _try_start(self, pod: PodRuntime, slot: Slot, t: float) -> None:
        spec = self._container_spec(pod, slot.name)
        image = str(spec.get("image") or "")
        mount_error = self._mount_error(pod)
        if mount_error is not None:
            slot.waiting, slot.waiting_message = "ContainerCreating", ""
            self._event(pod, t, "Warning", "FailedMount", mount_error)
            slot.next_try = t + PROBE_PERIOD
            return
        invalid = invalid_image_reason(image)
        if invalid is not None:
            slot.waiting, slot.waiting_message = "InvalidImageName", invalid
            self._event(pod, t, "Warning", "InspectFailed", invalid, slot)
            slot.next_try = t + BACKOFF_MAX
            return
        if not self._ensure_image(pod, slot, t, image, spec):
            return
        slot.pull_failures = 0
        config_error = self._config_error(pod, spec)
        if config_error is not None:
            slot.waiting, slot.waiting_message = "CreateContainerConfigError", config_error
            self._event(pod, t, "Warning", "Failed", f"Error: {config_error}", slot)
            slot.next_try = t + PROBE_PERIOD
            return
        prog = self._program(pod, spec)
        attempt = (
            slot.restarts if slot.current is None and slot.previous is None else slot.restarts + 1
        )
        if slot.current is not None:
            slot.previous = slot.current
        rec = ContainerRec(
            id=_hex_id(self.name, pod.key, slot.name, attempt, t),
            attempt=attempt,
            image=normalize_image(image),
            created=t,
            started=t,
            program=prog.dump(),
        )
        if attempt > 0:
            slot.restarts = attempt
        slot.current = rec
        slot.waiting, slot.waiting_message = "", ""
        slot.ready = False
        slot.started_ok = "startupProbe" not in spec
        slot.probes = {}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = spec.get(kind)
            if probe:
                slot.probes[kind] = {
                    "next": t + float(probe.get("initialDelaySeconds") or 0),
                    "fail": 0,
                    "ok": 0,
                }
        if "readinessProbe" not in spec and slot.started_ok:
            slot.ready = True
        if slot.sidecar and slot.started_ok:
            slot.done = True  # the next init container may start
        self._event(pod, t, "Normal", "Created", f"Created container: {slot.name}", slot)
        if prog.reason == "StartError":
            self._event(pod, t, "Warning", "Failed", f"Error: {prog.message}", slot)
        else:
            self._event(pod, t, "Normal", "Started", f"Started container {slot.name}", slot)

    def _exited(
        self, pod: PodRuntime, slot: Slot, t: float, code: int, reason: str, message: str = ""
    ) -> None:
        cur = slot.current
        assert cur is not None
        cur.finished, cur.exit_code, cur.reason, cur.message = t, code, reason, message
        slot.ready = False
        slot.probes = {}
        policy = pod.spec.get("restartPolicy") or "Always"
        if slot.init and code == 0 and not slot.sidecar:
            slot.done = True
            return
        restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if slot.sidecar:
            # A sidecar is restarted whatever the pod's restartPolicy says.
            restart = True
        if slot.init and code != 0 and not slot.sidecar:
            restart = policy != "Never"
        if not restart or pod.terminating_since is not None:
            slot.final = True
            return
        ran = t - (cur.started or t)
        slot.backoff = (
            BACKOFF_INITIAL
            if (slot.backoff == 0 or ran >= BACKOFF_RESET)
            else min(slot.backoff * 2, BACKOFF_MAX)
        )
        slot.next_try = t + slot.backoff
        slot.waiting = "CrashLoopBackOff"
        spec_name = f"{pod.name}_{pod.namespace}({pod.key})"
        slot.waiting_message = (
            f"back-off {int(slot.backoff)}s restarting failed container={slot.name} pod={spec_name}"
        )
        self._event(
            pod,
            t,
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {slot.name} in pod {spec_name}",
            slot,
        )
        self.journal(
            t,
            "E",
            'pod_workers.go:1301] "Error syncing pod, skipping" '
            f'err="failed to \\"StartContainer\\" for \\"{slot.name}\\" with '
            f'CrashLoopBackOff: \\"{slot.waiting_message}\\"" '
            f'pod="{pod.namespace}/{pod.name}" podUID="{pod.key}"',
        )

    def _kill(
        self, pod: PodRuntime, slot: Slot, t: float, code: int, reason: str, restart: bool = True
    ) -> None:
        if restart:
            self._exited(pod, slot, t, code, reason)
        else:
            cur = slot.current
            assert cur is not None
            cur.finished, cur.exit_code, cur.reason = t, code, reason
            slot.ready = False
            slot.probes = {}
            slot.final = True

    def _begin_termination(self, pod: PodRuntime, now: float, grace: float) -> None:
        pod.version += 1
        pod.terminating_since = now
        for slot in pod.slots.values():
            if slot.current is not None and slot.current.running():
                self._event(pod, now, "Normal", "Killing", f"Stopping container {slot.name}", slot)
                # Processes that handle SIGTERM exit at once; others wait out the grace.
                slot.kill_at = now + (grace if self._ignores_sigterm(pod, slot) else 0.0)

    def _finish_terminated(self, now: float) -> None:
        for key, pod in list(self.pods.items()):
            if not pod.terminated:
                continue
            if pod.static:
                self._delete_api_pod(pod.namespace, pod.name, only_mirror_of=pod.key)
            else:
                obj = self.store.get("", "pods", pod.namespace, pod.name)
                if obj is not None and obj["metadata"].get("uid") == key:
                    if obj["metadata"].get("finalizers"):
                        continue  # it stays in the API: keep reporting its final status
                    # The kubelet's final delete once the containers are gone.
                    self._delete_api_pod(pod.namespace, pod.name)
            del self.pods[key]
            # The pod's directory (its emptyDir volumes) goes with it.
            pod_dir = f"/var/lib/kubelet/pods/{key}"
            if self.fs.is_dir(pod_dir):
                self.fs.remove(pod_dir, recursive=True)

    def _delete_api_pod(self, namespace: str, name: str, only_mirror_of: str | None = None) -> None:
        obj = self.store.get("", "pods", namespace, name)
        if obj is None:
            return
        if only_mirror_of is not None:
            annotations = obj["metadata"].get("annotations") or {}
            if annotations.get(MIRROR_ANNOTATION) != only_mirror_of:
                return
        with contextlib.suppress(ApiError):
            self.store.delete("", "pods", namespace, name)

"""The kubelet of one simulated node, driven by a clock.

`NodeAgent.sync(now)` does what a kubelet does between two ticks: renew its Lease and
post node status (when its service runs and its configuration loads), read static pod
manifests and keep their mirror pods, start the containers of pods bound to the node
(image pulls, back-off, probes, restarts, termination) and write pod status.
Everything between the previous sync and `now` is replayed in time order, so a test
that advances the clock by five minutes at once sees the same restarts and back-offs
as one that ticks every second.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml

from app.sim.apiserver.defaults import apply_defaults
from app.sim.machinery import safe_yaml
from app.sim.machinery.clock import Clock, rfc3339, rfc3339_micro
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import shared_builtin_registry
from app.sim.machinery.store import ObjectStore
from app.sim.nodes import components
from app.sim.nodes.runtime import (
    IMAGE_SIZES,
    Program,
    image_id,
    invalid_image_reason,
    normalize_image,
    program_for,
    pull_error,
    repository_name,
)
from app.sim.nodes.services import ServiceManager
from app.sim.nodes.vfs import VirtualFS

# Container restart back-off: 10 s doubling to 300 s, reset after a container ran
# 10 minutes (pkg/kubelet/kubelet.go: backOffPeriod, MaxContainerBackOff).
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0
# Node lease: renewed every 10 s, a quarter of its 40 s duration
# (nodeLeaseDurationSeconds=40, renewInterval = 0.25 x duration).
LEASE_DURATION = 40
LEASE_RENEW = 10.0
# nodeStatusReportFrequency: status is posted when it changes, or every 5 minutes.
STATUS_REPORT = 300.0
# core/v1 probe defaults: period 10 s, failureThreshold 3, successThreshold 1.
PROBE_PERIOD = 10
PROBE_FAILURES = 3
# Exit code of a container killed by SIGKILL (128 + 9), as containerd reports it.
SIGKILL_EXIT = 137

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
HASH_ANNOTATION = "kubernetes.io/config.hash"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
SEEN_ANNOTATION = "kubernetes.io/config.seen"

_POD_RT = shared_builtin_registry().by_plural("", "v1", "pods")
_SHELL_BINARIES = {"sh", "/bin/sh", "bash", "/bin/bash", "sleep", "/bin/sleep"}


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


class LogError(Exception):
    """A log request that cannot be answered (upstream's 400 message in `str()`)."""


def _ts(epoch: float) -> str:
    return rfc3339(datetime.fromtimestamp(epoch, UTC))


def _hex_id(*parts: Any) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


# ---- runtime records -------------------------------------------------------------------


@dataclass
class ContainerRec:
    id: str
    attempt: int
    image: str
    created: float
    started: float | None
    program: dict[str, Any]
    finished: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""

    def prog(self) -> Program:
        # Decoded once per container (not a dataclass field, so never dumped).
        cached = self.__dict__.get("_program")
        if cached is None:
            cached = Program.load(self.program)
            self.__dict__["_program"] = cached
        return cached

    def pid(self) -> int:
        """The process id of the container's main process on the node."""
        return 2000 + int(self.id[:6], 16) % 30000

    def exit_time(self) -> float | None:
        exit_after = self.program.get("exit_after")
        if self.finished is not None or self.started is None or exit_after is None:
            return None
        return self.started + float(exit_after)

    def running(self) -> bool:
        return self.started is not None and self.finished is None


@dataclass
class Slot:
    """One container of a pod across its restarts."""

    name: str
    init: bool = False
    restarts: int = 0
    current: ContainerRec | None = None
    previous: ContainerRec | None = None
    waiting: str = "ContainerCreating"
    waiting_message: str = ""
    next_try: float = 0.0
    backoff: float = 0.0
    pull_failures: int = 0
    started_ok: bool = False  # startup probe passed (or none)
    ready: bool = False
    probes: dict[str, dict[str, float]] = field(default_factory=dict)
    done: bool = False  # an init container that completed
    final: bool = False  # exited and will not be restarted (restartPolicy said so)
    kill_at: float | None = None  # when a terminating pod's container is stopped


@dataclass
class PodRuntime:
    key: str  # API uid, or the config hash of a static pod
    namespace: str
    name: str
    spec: dict[str, Any]
    static: bool = False
    source_file: str = ""
    ip: str = ""
    sandbox: str = ""
    created: float = 0.0
    slots: dict[str, Slot] = field(default_factory=dict)
    terminating_since: float | None = None
    terminated: bool = False
    events: list[list[Any]] = field(default_factory=list)  # [at, type, reason, message]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    version: int = 0  # bumped whenever something that shows in its status happened


def _slot_from(data: dict[str, Any]) -> Slot:
    slot = Slot(**{k: v for k, v in data.items() if k not in ("current", "previous")})
    slot.current = ContainerRec(**data["current"]) if data.get("current") else None
    slot.previous = ContainerRec(**data["previous"]) if data.get("previous") else None
    return slot


def _pod_from(data: dict[str, Any]) -> PodRuntime:
    pod = PodRuntime(**{k: v for k, v in data.items() if k != "slots"})
    pod.slots = {n: _slot_from(s) for n, s in data.get("slots", {}).items()}
    return pod


# ---- the agent -------------------------------------------------------------------------


class NodeAgent:
    """Kubelet, container runtime, file system and services of one node."""

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
    ) -> None:
        self.store = store
        self.clock = clock
        self.name = node_name
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.control_plane = control_plane
        self.api_ip = api_ip
        self.bad_images = bad_images if bad_images is not None else set()
        self.on_etcd_restore = on_etcd_restore
        now = clock.now()
        self.fs = VirtualFS()
        for path, content in components.node_files(
            node_name, node_ip, api_ip, control_plane, now
        ).items():
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
        self.last_lease = 0.0
        self.last_status = 0.0
        self.static_pod_path = components.MANIFESTS_DIR
        self.manifest_errors: dict[str, str] = {}
        self.etcd_data_dir = "/var/lib/etcd"
        # The lines the kubelet exits with while its configuration does not load.
        self.kubelet_config_error: list[str] = []
        self.api_reachable = True
        self.api_server_url = f"https://{api_ip}:{components.API_PORT}"
        self._bound: dict[tuple[str, str], dict[str, Any]] = {}
        self._last_api_error = 0.0
        self._ip_next = 2
        self._load_kubelet_config(now.timestamp())

    # ---- kubelet configuration -------------------------------------------------------

    def kubelet_args(self) -> dict[str, str]:
        """The kubelet's command-line flags from the systemd drop-in and
        kubeadm-flags.env (only `--name=value` forms are read)."""
        args: dict[str, str] = {}
        # The drop-in as systemd loaded it (daemon-reload); the EnvironmentFiles are
        # read afresh at every start.
        texts = [self.loaded_dropin]
        for path in (components.KUBEADM_FLAGS, "/etc/default/kubelet"):
            if self.fs.is_file(path):
                texts.append(self.fs.read(path))
        for text in texts:
            for match in re.finditer(r"--([a-z0-9-]+)=([^\s\"]+)", text):
                args.setdefault(match.group(1), match.group(2))
        return args

    def exec_start(self) -> str:
        """The kubelet binary ExecStart names in the loaded drop-in."""
        for line in self.loaded_dropin.splitlines():
            if line.startswith("ExecStart=") and line.strip() != "ExecStart=":
                return line.split("=", 1)[1].split()[0]
        return "/usr/bin/kubelet"

    def daemon_reload(self) -> None:
        """`systemctl daemon-reload`: load the kubelet drop-in as it is on disk."""
        if self.fs.is_file(components.KUBELET_DROPIN):
            self.loaded_dropin = self.fs.read(components.KUBELET_DROPIN)

    def unit_changed_on_disk(self) -> bool:
        """Whether the drop-in differs from what systemd loaded."""
        on_disk = (
            self.fs.read(components.KUBELET_DROPIN)
            if self.fs.is_file(components.KUBELET_DROPIN)
            else ""
        )
        return on_disk != self.loaded_dropin

    def kubelet_cmdline(self) -> str:
        args = self.kubelet_args()
        order = [
            "bootstrap-kubeconfig",
            "kubeconfig",
            "config",
            "container-runtime-endpoint",
            "node-ip",
            "pod-infra-container-image",
        ]
        parts = [self.exec_start()] + [f"--{k}={args[k]}" for k in order if k in args]
        return " ".join(parts)

    def _load_kubelet_config(self, now: float) -> None:
        """Start-up of the kubelet process: read its configuration as upstream does
        and record the error it exits with (None when it starts)."""
        errors = self._kubelet_startup_errors()
        if errors:
            lines, status = errors
            self.kubelet_config_error = lines
            self.services.fail("kubelet", now, lines, status)
            return
        self.kubelet_config_error = []
        self.services.healthy("kubelet")
        self.journal(
            now,
            "I",
            f'server.go:529] "Kubelet version" kubeletVersion="{components.KUBERNETES_VERSION}"',
        )
        self.journal(
            now, "I", f'kubelet.go:480] "Adding static pod path" path="{self.static_pod_path}"'
        )

    def _kubelet_startup_errors(self) -> tuple[list[str], str] | None:
        binary = self.exec_start()
        if not self.fs.is_file(binary):
            return [
                f"kubelet.service: Failed to locate executable {binary}: No such file or directory",
                f"kubelet.service: Failed at step EXEC spawning {binary}: No such file or "
                "directory",
            ], "203/EXEC"
        args = self.kubelet_args()
        now = self.clock.now().timestamp()
        config_path = args.get("config", components.KUBELET_CONFIG)

        def command_failed(err: str) -> tuple[list[str], str]:
            pid = self.services.units["kubelet"].pid
            return [_klog(now, "E", f'run.go:72] "command failed" err="{err}"', pid)], "1/FAILURE"

        prefix = f"failed to load kubelet config file, path: {config_path}, error: "
        if not self.fs.is_file(config_path):
            return command_failed(
                prefix + f"failed to load Kubelet config file {config_path}, error failed to "
                f'read kubelet config file \\"{config_path}\\", error: open {config_path}: '
                "no such file or directory"
            )
        try:
            config = safe_yaml.load_yaml(self.fs.read(config_path))
        except yaml.YAMLError as exc:
            return command_failed(
                prefix + f"failed to load Kubelet config file {config_path}, error failed to "
                f"decode: {components._yaml_summary(exc)}"
            )
        if not isinstance(config, dict) or config.get("kind") != "KubeletConfiguration":
            kind = config.get("kind") if isinstance(config, dict) else None
            return command_failed(
                prefix + f"failed to load Kubelet config file {config_path}, error failed to "
                f'decode: no kind \\"{kind or ""}\\" is registered for version '
                f'\\"{config.get("apiVersion", "") if isinstance(config, dict) else ""}\\"'
            )
        ca = ((config.get("authentication") or {}).get("x509") or {}).get("clientCAFile")
        if ca and not self.fs.is_file(ca):
            return command_failed(
                f"failed to run Kubelet: unable to load client CA file {ca}: open {ca}: "
                "no such file or directory"
            )
        kubeconfig = args.get("kubeconfig", components.KUBELET_KUBECONFIG)
        if not self.fs.is_file(kubeconfig):
            bootstrap = args.get("bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf")
            if not self.fs.is_file(bootstrap):
                return command_failed(
                    f"failed to run Kubelet: unable to load bootstrap kubeconfig: stat "
                    f"{bootstrap}: no such file or directory"
                )
        self.static_pod_path = str(config.get("staticPodPath") or "")
        server = None
        if self.fs.is_file(kubeconfig):
            try:
                # Bounded, on libyaml: this runs on every kubelet start (errors are not
                # shown).
                doc = safe_yaml.load_yaml(self.fs.read(kubeconfig))
                server = str(doc["clusters"][0]["cluster"]["server"])
            except (yaml.YAMLError, KeyError, IndexError, TypeError):
                return command_failed(
                    f"failed to run Kubelet: invalid kubeconfig: {kubeconfig}: invalid "
                    "configuration: no configuration has been provided"
                )
        endpoint = server.split("://", 1)[-1].rstrip("/") if server else ""
        self.api_reachable = endpoint in self.api_endpoints()
        self.api_server_url = server or ""
        return None

    def api_endpoints(self) -> tuple[str, ...]:
        return (
            f"{self.api_ip}:{components.API_PORT}",
            f"127.0.0.1:{components.API_PORT}",
            f"localhost:{components.API_PORT}",
            "kubernetes.default.svc:443",
            "10.96.0.1:443",
        )

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
        running = self.kubelet_running() and self.api_reachable
        if self.kubelet_running() and not self.api_reachable:
            self._log_api_errors(moment)
        if running:
            self._sync_static_pods(moment)
            self._sync_api_pods(moment)
        for pod in list(self.pods.values()):
            self._advance(pod, moment)
        if running:
            self._write_pod_statuses(moment)
            self._heartbeat(moment)
            self._finish_terminated(moment)
        self._check_etcd_data_dir()
        self.last_sync = moment

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

    def _heartbeat(self, now: float) -> None:
        if now - self.last_lease >= LEASE_RENEW or self.last_lease == 0.0:
            self._renew_lease(now)
        node = self.store.get("", "nodes", None, self.name)
        if node is None:
            return
        ready = self.runtime_running()
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
        if not changed and now - self.last_status < STATUS_REPORT:
            return
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
        images = sorted(self.images.items())
        status["images"] = [{"names": [ref], "sizeBytes": size} for ref, size in images]
        try:
            self.store.update("", "nodes", node)
            self.last_status = now
        except ApiError:
            pass  # a concurrent write: post again on the next sync

    def _renew_lease(self, now: float) -> None:
        lease = self.store.get("coordination.k8s.io", "leases", "kube-node-lease", self.name)
        renew = rfc3339_micro(datetime.fromtimestamp(now, UTC))
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

    # ---- static pods -------------------------------------------------------------------

    def read_manifests(self, now: float) -> dict[str, tuple[str, dict[str, Any]]]:
        """Static pods from the manifest directory: {full name: (file, pod)}. Files that
        do not parse are logged and skipped (so their pod goes away)."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        path = self.static_pod_path
        if not path or not self.fs.is_dir(path):
            if path and self.manifest_errors.get(path) is None:
                self.journal(now, "I", f'file.go:70] "Path does not exist, ignoring" path="{path}"')
            self.manifest_errors = {path: "missing"} if path else {}
            return out
        for name in self.fs.listdir(path):
            file = posixpath.join(path, name)
            # The file source skips hidden files and directories (config/file.go).
            if name.startswith(".") or not self.fs.is_file(file):
                continue
            text = self.fs.read(file)
            try:
                pod = load_yaml(text)
                if not isinstance(pod, dict) or not pod.get("kind"):
                    raise ManifestError("Object 'Kind' is missing in the document")
                if pod.get("kind") != "Pod":
                    raise ManifestError(f"the kind {pod.get('kind')!r} is not a Pod")
                meta = pod.setdefault("metadata", {})
                if not meta.get("name"):
                    # The kubelet names static pods NAME-NODE, so an empty name fails
                    # validation as "-NODE" (pkg/kubelet/config/common.go).
                    raise ValueError(
                        f'invalid pod: [metadata.name: Invalid value: "-{self.name}": a '
                        "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric "
                        "character]"
                    )
                spec = pod.get("spec")
                if not isinstance(spec, dict) or not spec.get("containers"):
                    raise ValueError("invalid pod: [spec.containers: Required value]")
                _validate_mounts(spec)
            except ManifestError as exc:
                errors[file] = (
                    f"{file}: couldn't parse as pod({exc.summary}), please check config file"
                )
                continue
            except ValueError as exc:
                errors[file] = str(exc)
                continue
            ns = meta.get("namespace") or "default"
            full = f"{ns}/{meta['name']}-{self.name}"
            if full in out:
                continue  # a second file with the same pod name is ignored
            out[full] = (file, pod)
        for file, message in errors.items():
            if self.manifest_errors.get(file) != message:
                self.journal(
                    now,
                    "E",
                    f'file.go:187] "Could not process manifest file" err="{_q(message)}" '
                    f'path="{file}"',
                )
        self.manifest_errors = errors
        return out

    def _static_hash(self, pod: dict[str, Any]) -> str:
        return hashlib.md5(
            (self.name + json.dumps(pod, sort_keys=True)).encode(), usedforsecurity=False
        ).hexdigest()

    def _sync_static_pods(self, now: float) -> None:
        manifests = self.read_manifests(now)
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        for _, (file, pod) in manifests.items():
            wanted[self._static_hash(pod)] = (file, pod)
        for key, pod in list(self.pods.items()):
            if pod.static and key not in wanted and pod.terminating_since is None:
                self._begin_termination(pod, now, grace=0)
        for key, (file, manifest) in wanted.items():
            meta = manifest["metadata"]
            if key not in self.pods:
                spec = json.loads(json.dumps(manifest["spec"]))
                probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": spec}
                apply_defaults(probe, _POD_RT, creating=False)
                rt = PodRuntime(
                    key=key,
                    namespace=meta.get("namespace") or "default",
                    name=f"{meta['name']}-{self.name}",
                    spec=probe["spec"],
                    static=True,
                    source_file=file,
                    created=now,
                    labels=dict(meta.get("labels") or {}),
                    annotations=dict(meta.get("annotations") or {}),
                )
                self._admit(rt, now)
            self._ensure_mirror(self.pods[key], now)

    def _ensure_mirror(self, pod: PodRuntime, now: float) -> None:
        if pod.terminating_since is not None:
            return
        existing = self.store.get("", "pods", pod.namespace, pod.name)
        if existing is not None:
            annotations = existing["metadata"].get("annotations") or {}
            deleting = existing["metadata"].get("deletionTimestamp") is not None
            if annotations.get(MIRROR_ANNOTATION) == pod.key and not deleting:
                return
            if deleting and annotations.get(MIRROR_ANNOTATION) is not None:
                # Someone deleted the mirror pod: the kubelet removes it at once and
                # creates a new one, since the static pod still runs (kubelet syncPod:
                # a mirror pod being deleted is recreated).
                self._delete_api_pod(pod.namespace, pod.name)
                existing = None
            elif annotations.get(MIRROR_ANNOTATION) is not None:
                # A mirror pod of an older manifest: replace it.
                self._delete_api_pod(pod.namespace, pod.name)
            else:
                return  # an ordinary pod holds the name; upstream logs and retries
        node = self.store.get("", "nodes", None, self.name)
        annotations = dict(pod.annotations)
        annotations.update(
            {
                HASH_ANNOTATION: pod.key,
                MIRROR_ANNOTATION: pod.key,
                SEEN_ANNOTATION: rfc3339_micro(datetime.fromtimestamp(pod.created, UTC)).replace(
                    "Z", "000Z"
                ),
                SOURCE_ANNOTATION: "file",
            }
        )
        meta: dict[str, Any] = {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": dict(pod.labels),
            "annotations": annotations,
        }
        if node is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": self.name,
                    "uid": node["metadata"]["uid"],
                    "controller": True,
                }
            ]
        spec = json.loads(json.dumps(pod.spec))
        spec["nodeName"] = self.name
        # The kubelet makes static pods tolerate every NoExecute taint (pkg/kubelet/config).
        tolerations = spec.setdefault("tolerations", [])
        if {"effect": "NoExecute", "operator": "Exists"} not in tolerations:
            tolerations.append({"effect": "NoExecute", "operator": "Exists"})
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
        }
        # The API server's create-time defaults give the mirror pod its QoS class.
        apply_defaults(obj, _POD_RT, creating=True)
        obj["status"] = self._pod_status(pod, now, obj.get("status"))
        with contextlib.suppress(ApiError):
            self.store.create("", "pods", obj)

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
                if phase in ("Succeeded", "Failed"):
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
                name=c["name"], init=True, waiting="PodInitializing", next_try=now
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

    def _active_slots(self, pod: PodRuntime) -> list[Slot]:
        """Slots that may start now: the first unfinished init container, else the app
        containers."""
        if pod.terminating_since is not None:
            return []
        for slot in pod.slots.values():
            if slot.init and not slot.done:
                # A failed init container with restartPolicy Never fails the pod.
                return [] if slot.final else [slot]
        return [s for s in pod.slots.values() if not s.init and not s.final]

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
                )
        return program_for(spec)

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
                if kind == "DirectoryOrCreate" and not self.fs.exists(path):
                    self.fs.mkdir(path)
                elif kind == "FileOrCreate" and not self.fs.exists(path):
                    self.fs.write(path, "")
                elif kind == "File" and not self.fs.is_file(path):
                    return f"{failed} hostPath type check failed: {path} is not a file"
                elif kind == "Directory" and not self.fs.is_dir(path):
                    return f"{failed} hostPath type check failed: {path} is not a directory"
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
        ref = normalize_image(image)
        policy = spec.get("imagePullPolicy") or "IfNotPresent"
        if ref not in self.images or policy == "Always":
            error = pull_error(image, self.bad_images)
            if error is not None:
                slot.pull_failures += 1
                delay = min(BACKOFF_INITIAL * 2 ** (slot.pull_failures - 1), BACKOFF_MAX)
                self._event(pod, t, "Normal", "Pulling", f'Pulling image "{image}"', slot)
                self._event(
                    pod, t, "Warning", "Failed", f'Failed to pull image "{image}": {error}', slot
                )
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
                return
            if ref not in self.images:
                self._event(pod, t, "Normal", "Pulling", f'Pulling image "{image}"', slot)
                self.images[ref] = IMAGE_SIZES.get(repository_name(ref), 20_000_000)
                self._event(
                    pod,
                    t,
                    "Normal",
                    "Pulled",
                    f'Successfully pulled image "{image}" in 1.2s (1.2s including waiting). '
                    f"Image size: {self.images[ref]} bytes.",
                    slot,
                )
        elif slot.restarts == 0 and slot.current is None:
            self._event(
                pod,
                t,
                "Normal",
                "Pulled",
                f'Container image "{image}" already present on machine',
                slot,
            )
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
            image=ref,
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
        if slot.init and code == 0:
            slot.done = True
            return
        restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if slot.init and code != 0:
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

    def _probe(
        self, pod: PodRuntime, cur: ContainerRec, probe: dict[str, Any], t: float
    ) -> tuple[bool, str]:
        prog = cur.prog()
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
            if port not in prog.ports:
                return (
                    False,
                    f'Get "{url}": dial tcp {_host_port(host, port)}: connect: connection refused',
                )
            if scheme == "HTTP" and port in prog.tls_ports:
                return False, "HTTP probe failed with statuscode: 400"
            if scheme == "HTTPS" and port not in prog.tls_ports:
                return False, f'Get "{url}": http: server gave HTTP response to HTTPS client'
            return True, ""
        if "tcpSocket" in probe:
            port = port_of((probe["tcpSocket"] or {}).get("port"))
            if port not in prog.ports:
                return False, f"dial tcp {_host_port(pod.ip, port)}: connect: connection refused"
            return True, ""
        if "grpc" in probe:
            port = port_of((probe["grpc"] or {}).get("port"))
            if port not in prog.ports:
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
        containers_ready = initialized and all(
            s.ready and s.current is not None and s.current.running() for s in app
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
            s.name for s in app if not (s.ready and s.current is not None and s.current.running())
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
        if obj is None or not self.kubelet_running():
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
    ) -> str:
        """A container's log as `kubectl logs` prints it. Raises LogError with the
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
        lines = self.container_lines(rec, now)
        if tail is not None and tail >= 0:
            lines = lines[-tail:] if tail else []
        return "".join(line + "\n" for line in lines)

    def container_lines(self, rec: ContainerRec, now: float) -> list[str]:
        if rec.started is None:
            return []
        end = rec.finished if rec.finished is not None else now
        return rec.prog().lines_until(rec.started, end - rec.started)

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
                    lines = self.container_lines(rec, end)
                    # CRI logging format: time, stream, P(artial)/F(ull) tag, text.
                    text = "".join(f"{stamp} stderr F {line}\n" for line in lines)
                    path = f"{directory}/{slot.name}/{rec.attempt}.log"
                    self.fs.write(path, text, mode=0o640)
                    link = (
                        f"/var/log/containers/{pod.name}_{pod.namespace}_{slot.name}-{rec.id}.log"
                    )
                    self.fs.write(link, text, mode=0o640)

    def static_pod(self, component: str) -> PodRuntime | None:
        for pod in self.pods.values():
            if (
                pod.static
                and not pod.terminated
                and pod.terminating_since is None
                and (
                    pod.labels.get("component") == component
                    or components.component_of(
                        {"metadata": {"labels": pod.labels}, "spec": pod.spec}
                    )
                    == component
                )
            ):
                return pod
        return None

    def component_running(self, name: str) -> bool:
        """Whether control-plane component `name` runs and does its work here: its
        static pod exists, its container is running and it reaches the API server."""
        pod = self.static_pod(name)
        if pod is None:
            return False
        slots = [s for s in pod.slots.values() if not s.init]
        if not slots:
            return False
        cur = slots[0].current
        return bool(cur is not None and cur.running() and cur.program.get("functional", True))

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


@lru_cache(maxsize=512)
def _parse_yaml(text: str) -> tuple[str, str]:
    """(JSON of the document, "") or ("", YAML error summary); cached because the
    kubelet re-reads its manifests on every sync."""
    try:
        # Bounded: a learner writes these files (an alias bomb, a node that contains
        # itself, deep nesting become a manifest error, not a stalled simulator).
        doc = safe_yaml.load_yaml(text)
    except yaml.YAMLError as exc:
        return "", components._yaml_summary(exc)
    return json.dumps(doc, default=str), ""


class ManifestError(yaml.YAMLError):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


def load_yaml(text: str) -> Any:
    """A fresh copy of the YAML document in `text`; ManifestError when it does not
    parse (its `summary` reads like Go's yaml errors)."""
    data, error = _parse_yaml(text)
    if error:
        raise ManifestError(error)
    return json.loads(data)


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


def _validate_mounts(spec: dict[str, Any]) -> None:
    volumes = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    problems = []
    for i, c in enumerate(spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        if not c.get("image"):
            problems.append(f"spec.containers[{i}].image: Required value")
        for j, m in enumerate(c.get("volumeMounts") or []):
            if isinstance(m, dict) and m.get("name") not in volumes:
                problems.append(
                    f'spec.containers[{i}].volumeMounts[{j}].name: Not found: "{m.get("name")}"'
                )
    if problems:
        raise ValueError(f"invalid pod: [{', '.join(problems)}]")


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _klog(epoch: float, severity: str, text: str, pid: int) -> str:
    # klog's header: severity, date, time, the process id padded to 7, file:line.
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{severity}{moment:%m%d %H:%M:%S.%f} {pid:>7} {text}"


def _q(text: str) -> str:
    return text.replace('"', '\\"')

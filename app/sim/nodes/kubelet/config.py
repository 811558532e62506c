"""The kubelet's configuration and the errors it stops with at start-up."""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

from app.sim.machinery import safe_yaml
from app.sim.nodes import components, packages
from app.sim.nodes.kubelet.records import _klog
from app.sim.nodes.kubelet.state import AgentState


@lru_cache(maxsize=128)
def _flags_of(texts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`--name=value` flags of the unit texts, the first of each name winning."""
    args: dict[str, str] = {}
    for text in texts:
        for match in re.finditer(r"--([a-z0-9-]+)=([^\s\"]+)", text):
            args.setdefault(match.group(1), match.group(2))
    return tuple(args.items())


class KubeletConfig(AgentState):
    """The kubelet's configuration: its unit, drop-in and flags, the config file it
    loads, and the errors it exits with at start-up when they are wrong.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # ---- kubelet configuration -------------------------------------------------------

    def kubelet_args(self) -> dict[str, str]:
        """The kubelet's command-line flags from the systemd drop-in and
        kubeadm-flags.env (only `--name=value` forms are read)."""
        # The drop-in as systemd loaded it (daemon-reload); the EnvironmentFiles are
        # read afresh at every start.
        texts = [self.loaded_dropin]
        for path in (components.KUBEADM_FLAGS, "/etc/default/kubelet"):
            if self.fs.is_file(path):
                texts.append(self.fs.read(path))
        return dict(_flags_of(tuple(texts)))

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
        # The binary on disk now is what runs (an upgraded package after a restart).
        self.kubelet_version = packages.installed_version(self.fs, "kubelet")
        self.journal(
            now,
            "I",
            f'server.go:529] "Kubelet version" kubeletVersion="{self.kubelet_version}"',
        )
        self.journal(
            now, "I", f'kubelet.go:480] "Adding static pod path" path="{self.static_pod_path}"'
        )
        # The client certificate manager starts with the process (credentials.py).
        self.client_cert_at_start(now)

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
        expired = self.expired_client_cert_startup(now)
        if expired is not None:
            pid = self.services.units["kubelet"].pid
            return [_klog(now, "E", line, pid) for line in expired], "1/FAILURE"
        return None

    def api_endpoints(self) -> tuple[str, ...]:
        return (
            f"{self.api_ip}:{components.API_PORT}",
            f"127.0.0.1:{components.API_PORT}",
            f"localhost:{components.API_PORT}",
            "kubernetes.default.svc:443",
            "10.96.0.1:443",
        )

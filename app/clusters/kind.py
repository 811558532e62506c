"""The `kind` provider: a kind cluster per session on a worker host with Docker.

- `kind create cluster --name certprep-<id> --config <file>` with a config generated
  from the lab's cluster shape (one kind node per lab node: role, labels, taints);
- the lab's manifests through the Kubernetes API with the official client;
- node files and commands through `docker exec <container> ...`, where the container of
  a lab node is the kind node kind made for it (`certprep-<id>-control-plane`,
  `certprep-<id>-worker`, `certprep-<id>-worker2`, ...); faults the same way;
- `kind delete cluster --name certprep-<id>`.

The `kind` and `docker` executables are looked up on PATH when a command runs.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from app.clusters.base import ClusterHandle, LabSetup, ProviderError, apply_faults, apply_manifests

NAME = "kind"
CLUSTER_PREFIX = "certprep-"
# kind's own node naming: "<cluster>-control-plane", then "<cluster>-worker",
# "<cluster>-worker2", ... in the order of the config's worker entries.
CONTROL_PLANE_SUFFIX = "-control-plane"
# Seconds kind waits for the control plane to be Ready (`--wait`); creation pulls and
# boots node images, so allow minutes.
CREATE_WAIT = "180s"
CREATE_TIMEOUT = 600
COMMAND_TIMEOUT = 120


class NodeFileNotFound(ProviderError):
    """The node has no such file."""


def kind_config(shape: dict[str, Any]) -> dict[str, Any]:
    """The kind `Cluster` config (kind.x-k8s.io/v1alpha4) for a lab's cluster shape:
    control-plane first, then workers in lab order; labels as node labels and taints
    through kubeadm's nodeRegistration (InitConfiguration for the control plane,
    JoinConfiguration for workers)."""
    nodes = sorted(shape.get("nodes") or [], key=lambda n: n["role"] != "control-plane")
    entries = []
    for node in nodes:
        entry: dict[str, Any] = {"role": node["role"]}
        if node.get("labels"):
            entry["labels"] = dict(node["labels"])
        taints = node.get("taints")
        if taints is not None and (taints or node["role"] == "control-plane"):
            kind = "InitConfiguration" if node["role"] == "control-plane" else "JoinConfiguration"
            registration = {
                "taints": [
                    {k: t[k] for k in ("key", "value", "effect") if t.get(k) not in (None, "")}
                    for t in taints
                ]
            }
            entry["kubeadmConfigPatches"] = [
                yaml.safe_dump({"kind": kind, "nodeRegistration": registration}, sort_keys=False)
            ]
        entries.append(entry)
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": entries}


def node_containers(cluster_name: str, shape: dict[str, Any]) -> dict[str, str]:
    """Lab node name -> the kind node container kind creates for it."""
    mapping: dict[str, str] = {}
    workers = 0
    for node in sorted(shape.get("nodes") or [], key=lambda n: n["role"] != "control-plane"):
        if node["role"] == "control-plane":
            mapping[node["name"]] = cluster_name + CONTROL_PLANE_SUFFIX
        else:
            workers += 1
            suffix = "-worker" if workers == 1 else f"-worker{workers}"
            mapping[node["name"]] = cluster_name + suffix
    return mapping


class KindProvider:
    """kind clusters on this host. `kind` and `docker` name the executables."""

    name = NAME

    def __init__(self, *, kind: str = "kind", docker: str = "docker") -> None:
        self.kind = kind
        self.docker = docker

    def _run(
        self, args: list[str], *, input: str | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                args, input=input, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise ProviderError(f"{args[0]} is not installed on this worker") from exc
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(f"{shlex.join(args)} took longer than {timeout} s") from exc

    def _checked(self, args: list[str], **kwargs: Any) -> str:
        done = self._run(args, **kwargs)
        if done.returncode != 0:
            raise ProviderError(
                f"{shlex.join(args[:4])} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
            )
        return done.stdout

    def _container(self, handle: ClusterHandle, node: str) -> str:
        container = (handle.details.get("nodes") or {}).get(node)
        if container is None:
            raise ProviderError(f"cluster {handle.cluster_id} has no node {node!r}")
        return container

    def create(self, shape: dict[str, Any]) -> ClusterHandle:
        """`kind create cluster` with the generated config; ProviderError on failure."""
        cluster_name = CLUSTER_PREFIX + secrets.token_hex(4)
        with tempfile.TemporaryDirectory(prefix="certprep-kind-") as folder:
            config_path = Path(folder) / "kind-config.yaml"
            config_path.write_text(yaml.safe_dump(kind_config(shape), sort_keys=False))
            self._checked(
                [
                    self.kind,
                    "create",
                    "cluster",
                    "--name",
                    cluster_name,
                    "--config",
                    str(config_path),
                    "--wait",
                    CREATE_WAIT,
                ],
                timeout=CREATE_TIMEOUT,
            )
        return ClusterHandle(NAME, cluster_name, {"nodes": node_containers(cluster_name, shape)})

    def apply_setup(self, handle: ClusterHandle, lab: LabSetup) -> None:
        apply_manifests(self.kubeconfig(handle), lab.manifests)
        apply_faults(self, handle, lab.faults)

    def kubeconfig(self, handle: ClusterHandle) -> str:
        return self._checked([self.kind, "get", "kubeconfig", "--name", handle.cluster_id])

    def read_file(self, handle: ClusterHandle, node: str, path: str) -> str:
        """`docker exec CONTAINER cat -- PATH`; NodeFileNotFound when cat fails."""
        done = self._run([self.docker, "exec", self._container(handle, node), "cat", "--", path])
        if done.returncode != 0:
            raise NodeFileNotFound(f"{node}:{path}: {done.stderr.strip() or 'cannot read'}")
        return done.stdout

    def write_file(self, handle: ClusterHandle, node: str, path: str, content: str) -> None:
        # The content goes through stdin: no quoting of file contents on a command line.
        self._checked(
            [
                self.docker,
                "exec",
                "-i",
                self._container(handle, node),
                "sh",
                "-c",
                'cat > "$1"',
                "sh",
                path,
            ],
            input=content,
        )

    def exec(self, handle: ClusterHandle, node: str, command: str) -> tuple[int, str, str]:
        done = self._run([self.docker, "exec", self._container(handle, node), "sh", "-c", command])
        return done.returncode, done.stdout, done.stderr

    def snapshot(self, handle: ClusterHandle) -> dict[str, Any]:
        """What `docker inspect` knows of the node containers, plus the node manifests
        folder listing of the control plane (kind has no store snapshot)."""
        containers = sorted(set((handle.details.get("nodes") or {}).values()))
        inspected = self._checked([self.docker, "inspect", *containers])
        return {"provider": NAME, "cluster": handle.cluster_id, "containers": inspected}

    def delete(self, handle: ClusterHandle) -> None:
        """`kind delete cluster` (kind succeeds for a cluster that is already gone)."""
        self._checked([self.kind, "delete", "cluster", "--name", handle.cluster_id])

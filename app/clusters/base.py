"""The cluster provider interface, the handle a provider returns, and the setup steps
every provider shares (manifests through the Kubernetes API, faults through node access).

A provider is a small class registered by name in `app.clusters.PROVIDERS`:

    create(shape) -> ClusterHandle      a new cluster of the lab's shape
    apply_setup(handle, lab)            the lab's manifests, then its faults
    kubeconfig(handle) -> str           the admin kubeconfig (YAML) a learner uses
    read_file / write_file(handle, node, path[, content])
    exec(handle, node, command) -> (exit_code, stdout, stderr)
    snapshot(handle) -> dict            the cluster state (for caching and evidence)
    delete(handle)                      free the cluster (idempotent)

Handles are plain JSON (stored on the lab session), so any worker can reach the cluster
another worker created.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import yaml

from app.grading.node_access import NodeAccessError


class ProviderError(Exception):
    """The provider could not do what was asked (cluster engine unreachable, command
    failed, no capacity). The message says what and where."""


class NoCapacity(ProviderError):
    """Every cluster host is full."""


@dataclass(frozen=True)
class LabSetup:
    """What a provider needs of a lab to set a cluster up: its slug and content hash
    (cache key), cluster shape, manifests (name, YAML text) in apply order, and faults."""

    slug: str
    content_hash: str
    shape: dict[str, Any]
    manifests: list[dict[str, str]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterHandle:
    """Where a cluster lives: the provider's name, the cluster id, and provider-specific
    details (server URL, node names)."""

    provider: str
    cluster_id: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterHandle:
        """Rebuild a handle stored with `to_dict`; KeyError when a field is missing."""
        return cls(data["provider"], data["cluster_id"], dict(data.get("details") or {}))


class ClusterProvider(Protocol):
    name: str

    def create(self, shape: dict[str, Any]) -> ClusterHandle: ...

    def apply_setup(self, handle: ClusterHandle, lab: LabSetup) -> None: ...

    def kubeconfig(self, handle: ClusterHandle) -> str: ...

    def read_file(self, handle: ClusterHandle, node: str, path: str) -> str: ...

    def write_file(self, handle: ClusterHandle, node: str, path: str, content: str) -> None: ...

    def exec(self, handle: ClusterHandle, node: str, command: str) -> tuple[int, str, str]: ...

    def snapshot(self, handle: ClusterHandle) -> dict[str, Any]: ...

    def delete(self, handle: ClusterHandle) -> None: ...


class ProviderNodeAccess:
    """The grading engine's `NodeAccess` over a provider and a handle."""

    def __init__(self, provider: ClusterProvider, handle: ClusterHandle) -> None:
        self.provider = provider
        self.handle = handle

    def read_file(self, node: str, path: str) -> str:
        try:
            return self.provider.read_file(self.handle, node, path)
        except ProviderError as exc:
            raise NodeAccessError(str(exc)) from exc

    def exec(self, node: str, command: str) -> tuple[int, str, str]:
        try:
            return self.provider.exec(self.handle, node, command)
        except ProviderError as exc:
            raise NodeAccessError(str(exc)) from exc

    def answers(self) -> bool:
        """Whether the cluster's first node (the control plane, in shape order) runs a
        command: its machines are up, whatever its API server does
        (`app.grading.liveness`)."""
        nodes = self.handle.details.get("nodes") or []
        names = [n.get("name") if isinstance(n, dict) else n for n in nodes]
        if not names or not names[0]:
            return False
        try:
            self.provider.exec(self.handle, str(names[0]), "true")
        except ProviderError:
            return False
        return True


# ------------------------------------------------------------------------ shared setup


def manifest_objects(manifests: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Every object of the manifests, in order (multi-document YAML, `List` kinds
    flattened, empty documents skipped). Raises ProviderError naming the file for YAML
    that does not parse or an object without apiVersion/kind."""
    objects: list[dict[str, Any]] = []
    for manifest in manifests:
        try:
            documents = list(yaml.safe_load_all(manifest["content"]))
        except yaml.YAMLError as exc:
            raise ProviderError(f"{manifest['name']}: {exc}") from exc
        for doc in documents:
            if not doc:
                continue
            items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
            for obj in items or []:
                if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
                    raise ProviderError(f"{manifest['name']}: an object needs apiVersion and kind")
                objects.append(obj)
    return objects


def apply_manifests(kubeconfig: str, manifests: list[dict[str, str]]) -> int:
    """Create the manifests' objects through the Kubernetes API with the official client
    (an object that already exists is replaced). Returns how many objects were applied;
    ProviderError when the API refuses one."""
    from kubernetes import config

    from app.grading.reader import ClusterReader, ClusterReadError

    client = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    reader = ClusterReader(client)
    count = 0
    try:
        for obj in manifest_objects(manifests):
            meta = obj.get("metadata") or {}
            try:
                ref = reader.resource(obj["apiVersion"], obj["kind"])
                path = ref.path(meta.get("namespace") or "default", None)
                status, body = reader.request("POST", path, body=obj)
                if status == 409:
                    # Replace, as `kubectl apply` would converge to the manifest.
                    current = reader.get(
                        obj["apiVersion"], obj["kind"], meta.get("name", ""), meta.get("namespace")
                    )
                    version = ((current or {}).get("metadata") or {}).get("resourceVersion")
                    replaced = {**obj, "metadata": {**meta, "resourceVersion": version}}
                    target = ref.path(meta.get("namespace") or "default", meta.get("name"))
                    status, body = reader.request("PUT", target, body=replaced)
                if not 200 <= status < 300:
                    message = body.get("message") if isinstance(body, dict) else body
                    raise ProviderError(
                        f"applying {obj['kind']} {meta.get('name')}: HTTP {status}: {message}"
                    )
            except ClusterReadError as exc:
                raise ProviderError(f"applying {obj['kind']} {meta.get('name')}: {exc}") from exc
            count += 1
    finally:
        client.close()
    return count


def delete_object(kubeconfig: str, ref: dict[str, str]) -> bool:
    """Delete the object `ref` (`apiVersion`, `kind`, `namespace`, `name`) through the
    Kubernetes API, dependents in the background as `kubectl delete` does. Returns
    False when it did not exist; ProviderError when the API refuses."""
    from kubernetes import config

    from app.grading.reader import ClusterReader, ClusterReadError

    client = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    what = f"deleting {ref.get('kind')} {ref.get('namespace') or ''}/{ref.get('name')}"
    try:
        reader = ClusterReader(client)
        target = reader.resource(ref["apiVersion"], ref["kind"]).path(
            ref.get("namespace") or "default", ref["name"]
        )
        status, body = reader.request("DELETE", target)
    except ClusterReadError as exc:
        raise ProviderError(f"{what}: {exc}") from exc
    finally:
        client.close()
    if status == 404:
        return False
    if not 200 <= status < 300:
        message = body.get("message") if isinstance(body, dict) else body
        raise ProviderError(f"{what}: HTTP {status}: {message}")
    return True


def redate_certificates(provider: ClusterProvider, handle: ClusterHandle, fault: dict) -> None:
    """Make the certificates `fault["paths"]` on the node expire `expires_in` from the
    node's clock (`date`), valid for `lifetime` before that. Only the simulator's
    certificates can be re-dated (a real one would need its CA's key and a re-signing);
    ProviderError for anything else."""
    from datetime import datetime, timedelta

    from app.grading.labfile import duration_seconds
    from app.sim.nodes import components

    node = fault["node"]
    code, out, err = provider.exec(handle, node, "date -u +%Y-%m-%dT%H:%M:%SZ")
    try:
        now = datetime.fromisoformat(out.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(f"date on {node} exited {code}: {(err or out).strip()}") from None
    not_after = now + timedelta(seconds=duration_seconds(fault["expires_in"]))
    not_before = not_after - timedelta(seconds=duration_seconds(fault.get("lifetime", "365d")))
    for path in fault["paths"]:
        text = provider.read_file(handle, node, path)
        redated = components.redate_certificate(text, not_before, not_after)
        if redated is None:
            raise ProviderError(f"{node}:{path} holds no certificate this cluster can re-date")
        provider.write_file(handle, node, path, redated)


def apply_faults(provider: ClusterProvider, handle: ClusterHandle, faults: list[dict]) -> None:
    """Apply a lab's faults in order through the provider's node access.

    `node_file_edit` replaces a regular expression in a node file, `node_file_write`
    writes a file, `node_service` runs `systemctl` on the node, `node_exec` runs a
    command line on the node (it must exit 0), `delete_object` deletes an object through
    the Kubernetes API (one already gone is fine), `certificate_expiry` re-dates
    certificates against the node's clock (`redate_certificates`); `image_bad` needs nothing on a
    cluster where the image does not exist (providers that simulate pulls handle it at
    creation). Raises ProviderError when a node cannot be reached or a command fails.
    """
    for fault in faults:
        kind = fault.get("kind")
        if kind == "node_exec":
            code, out, err = provider.exec(handle, fault["node"], fault["command"])
            if code != 0:
                raise ProviderError(
                    f"setup command on {fault['node']} exited {code}: {(err or out).strip()}"
                )
            continue
        if kind == "delete_object":
            delete_object(provider.kubeconfig(handle), fault["object"])
            continue
        if kind == "node_file_edit":
            text = provider.read_file(handle, fault["node"], fault["path"])
            edited = re.sub(fault["find"], fault["replace"], text, count=fault.get("count", 0))
            provider.write_file(handle, fault["node"], fault["path"], edited)
        elif kind == "node_file_write":
            provider.write_file(handle, fault["node"], fault["path"], fault["content"])
        elif kind == "node_service":
            verb = {"running": "start", "stopped": "stop", "disabled": "disable --now"}[
                fault["state"]
            ]
            code, _, err = provider.exec(
                handle, fault["node"], f"systemctl {verb} {fault['service']}"
            )
            if code != 0:
                raise ProviderError(f"systemctl {verb} {fault['service']}: {err.strip()}")
        elif kind == "certificate_expiry":
            redate_certificates(provider, handle, fault)
        elif kind == "image_bad":
            continue
        else:
            raise ProviderError(f"unknown fault kind {kind!r}")

"""Where a pod volume's files live on the simulated nodes: `volume_backing`.

- emptyDir: the node's directory the kubelet makes for it,
  `/var/lib/kubelet/pods/<pod uid>/volumes/kubernetes.io~empty-dir/<name>`, shared by
  the pod's containers, kept across container restarts, removed with the pod.
- hostPath: that path of the node's file system (created as a directory when missing,
  as containerd does for a bind mount without a `type`).
- persistentVolumeClaim (and generic ephemeral volumes, claim `<pod>-<volume>`): the
  bound PersistentVolume's data. A `hostPath` or `local` volume keeps it on the node
  the pod runs on (a local-path volume's directory); any other source (nfs, csi, ...)
  keeps it in the volume's own file system, `ClusterNodes.volume_data[<pv name>]`,
  which every node reaches and which is saved with the nodes' state.
Volumes of other kinds (ConfigMap, Secret, downward API, projected) are copies the
container builder writes itself: `volume_backing` returns None for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.sim.nodes.vfs import VirtualFS

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet import NodeAgent
    from app.sim.nodes.kubelet.records import PodRuntime

KUBELET_PODS = "/var/lib/kubelet/pods"
# Where the local-path provisioner makes its volumes (controllers/local_path.py).
LOCAL_PATH_ROOT = "/opt/local-path-provisioner"


def empty_dir_path(pod_key: str, name: str) -> str:
    return f"{KUBELET_PODS}/{pod_key}/volumes/kubernetes.io~empty-dir/{name}"


def claim_name(pod: PodRuntime, volume: dict[str, Any]) -> str | None:
    if volume.get("persistentVolumeClaim"):
        return str(volume["persistentVolumeClaim"].get("claimName") or "")
    if volume.get("ephemeral"):
        return f"{pod.name}-{volume.get('name')}"
    return None


def bound_volume(nodes: ClusterNodes, namespace: str, claim: str) -> dict[str, Any] | None:
    """The PersistentVolume a claim is bound to, or None."""
    pvc = nodes.store.get("", "persistentvolumeclaims", namespace, claim)
    volume_name = ((pvc or {}).get("spec") or {}).get("volumeName")
    if not volume_name or ((pvc or {}).get("status") or {}).get("phase") != "Bound":
        return None
    result: dict[str, Any] | None = nodes.store.get("", "persistentvolumes", None, volume_name)
    return result


def volume_backing(
    nodes: ClusterNodes, agent: NodeAgent, pod: PodRuntime, volume: dict[str, Any]
) -> tuple[VirtualFS, str] | None:
    """(file system, directory or file) holding a volume's data; None for volumes the
    container gets a copy of."""
    if "emptyDir" in volume:
        path = empty_dir_path(pod.key, str(volume.get("name")))
        return _directory(agent.fs, path)
    if "hostPath" in volume:
        path = str((volume.get("hostPath") or {}).get("path") or "/")
        return (agent.fs, path) if agent.fs.is_file(path) else _directory(agent.fs, path)
    claim = claim_name(pod, volume)
    if claim is None:
        return None
    pv = bound_volume(nodes, pod.namespace, claim)
    if pv is None:
        # Not bound (the kubelet does not start such a pod): an empty directory.
        return _directory(VirtualFS(), "/")
    spec = pv.get("spec") or {}
    for kind in ("hostPath", "local"):
        source = (spec.get(kind) or {}).get("path")
        if source:
            return _directory(agent.fs, str(source))
    name = str((pv.get("metadata") or {}).get("name"))
    return nodes.volume_data.setdefault(name, VirtualFS()), "/"


def _directory(fs: VirtualFS, path: str) -> tuple[VirtualFS, str]:
    if not fs.exists(path):
        fs.mkdir(path)
    return fs, path

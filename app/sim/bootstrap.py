"""A new cluster's initial objects, shaped like a fresh kubeadm cluster.

Namespaces default/kube-system/kube-public/kube-node-lease, nodes `controlplane`,
`node01`, `node02`, ... (the control-plane node labelled and tainted as kubeadm does),
node Leases, the `kubernetes` and `kube-dns` Services with their endpoints, a `default`
ServiceAccount and a `kube-root-ca.crt` ConfigMap per namespace, the bootstrap RBAC
roles, the two system PriorityClasses and a default StorageClass.

The templates are built once per process and only copied per cluster; everything
cluster-specific (uid, timestamps, resourceVersion) comes from the store.
"""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from typing import Any

from app.sim.clock import Clock, rfc3339, rfc3339_micro
from app.sim.cluster import Cluster, ClusterAuth, new_token
from app.sim.discovery import version_info
from app.sim.tls import KeyPair

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONTROL_PLANE = "controlplane"

# The kubeadm defaults: pod network 10.244.0.0/16 split in /24 per node (flannel's
# convention), service network 10.96.0.0/12 with the API service on its first address
# and cluster DNS on .10, API server port 6443.
SERVICE_CIDR = "10.96.0.0/12"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
API_PORT = 6443
NODE_IP_BASE = "172.30.1."  # node i gets 172.30.1.(2+i)

# A node the size of a small lab VM: 2 CPUs, 4 GiB, 110 pods (kubelet --max-pods
# default), 20 GiB disk; allocatable subtracts kubelet's default eviction threshold
# (memory.available<100Mi) and nothing else (no kube/system-reserved by default).
NODE_CAPACITY = {
    "cpu": "2",
    "ephemeral-storage": "20134592Ki",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "memory": "4015184Ki",
    "pods": "110",
}
NODE_ALLOCATABLE = {**NODE_CAPACITY, "ephemeral-storage": "18556039957", "memory": "3912784Ki"}
CONTAINER_RUNTIME = "containerd://1.7.28"
OS_IMAGE = "Ubuntu 24.04.3 LTS"
KERNEL = "6.8.0-86-generic"

# scheduling.k8s.io bootstrap priority classes (pkg/apis/scheduling: SystemCriticalPriority
# = 2e9; node-critical is 1000 higher).
SYSTEM_PRIORITY_CLASSES = (
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in "
        "the cluster, but can be moved to another node if necessary.",
    ),
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
)


def node_names(count: int) -> list[str]:
    """`controlplane`, then `node01`, `node02`, ... for the workers."""
    if count < 1:
        raise ValueError("a cluster needs at least one node")
    return [CONTROL_PLANE] + [f"node{i:02d}" for i in range(1, count)]


def _namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        # The NamespaceDefaultLabelName admission sets this label on every namespace.
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _node(name: str, index: int, kubelet_version: str) -> dict[str, Any]:
    control_plane = name == CONTROL_PLANE
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    digest = hashlib.sha256(name.encode()).hexdigest()
    machine_uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    spec: dict[str, Any] = {
        "podCIDR": f"10.244.{index}.0/24",
        "podCIDRs": [f"10.244.{index}.0/24"],
    }
    if control_plane:
        # kubeadm init taints the control-plane node so workloads stay off it.
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "capacity": dict(NODE_CAPACITY),
            "allocatable": dict(NODE_ALLOCATABLE),
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"{NODE_IP_BASE}{2 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": machine_uuid,
                "containerRuntimeVersion": CONTAINER_RUNTIME,
                "kernelVersion": KERNEL,
                "kubeProxyVersion": "",
                "kubeletVersion": kubelet_version,
                "machineID": digest[32:64],
                "operatingSystem": "linux",
                "osImage": OS_IMAGE,
                "systemUUID": machine_uuid,
            },
        },
    }


def _service(name: str, namespace: str, ip: str, labels: dict, ports: list, selector=None):
    spec: dict[str, Any] = {
        "clusterIP": ip,
        "clusterIPs": [ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": ports,
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    if selector:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


@lru_cache(maxsize=16)
def _templates(nodes: int) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(group, plural, object) for everything except per-cluster data (CA, RBAC)."""
    kubelet_version = version_info()["gitVersion"]
    out: list[tuple[str, str, dict[str, Any]]] = []
    out += [("", "namespaces", _namespace(ns)) for ns in SYSTEM_NAMESPACES]
    names = node_names(nodes)
    out += [("", "nodes", _node(name, i, kubelet_version)) for i, name in enumerate(names)]
    for name in names:
        out.append(
            (
                "coordination.k8s.io",
                "leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease"},
                    # kubelet's node lease: 40 s duration (nodeLeaseDurationSeconds).
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40},
                },
            )
        )
    cp_ip = f"{NODE_IP_BASE}2"
    out.append(
        (
            "",
            "services",
            _service(
                "kubernetes",
                "default",
                KUBERNETES_SERVICE_IP,
                {"component": "apiserver", "provider": "kubernetes"},
                [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": API_PORT}],
            ),
        )
    )
    out.append(
        (
            "",
            "endpoints",
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": [
                    {
                        "addresses": [{"ip": cp_ip}],
                        "ports": [{"name": "https", "port": API_PORT, "protocol": "TCP"}],
                    }
                ],
            },
        )
    )
    out.append(
        (
            "discovery.k8s.io",
            "endpointslices",
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "kubernetes"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [cp_ip], "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": API_PORT, "protocol": "TCP"}],
            },
        )
    )
    dns_ports = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
        {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
    ]
    out.append(
        (
            "",
            "services",
            _service(
                "kube-dns",
                "kube-system",
                DNS_SERVICE_IP,
                {
                    "k8s-app": "kube-dns",
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
                dns_ports,
                {"k8s-app": "kube-dns"},
            ),
        )
    )
    for ns in SYSTEM_NAMESPACES:
        out.append(
            (
                "",
                "serviceaccounts",
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": ns},
                },
            )
        )
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        out.append(
            (
                "scheduling.k8s.io",
                "priorityclasses",
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": name},
                    "value": value,
                    "globalDefault": False,
                    "description": description,
                    "preemptionPolicy": "PreemptLowerPriority",
                },
            )
        )
    out.append(
        (
            "storage.k8s.io",
            "storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "standard",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                # kind's default class: local-path provisioner, bound on first consumer.
                "provisioner": "rancher.io/local-path",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
            },
        )
    )
    return tuple(out)


def _bootstrap_rbac() -> list[tuple[str, str, dict[str, Any]]]:
    """Bootstrap ClusterRoles and bindings from the RBAC module when it provides them."""
    try:
        rbac = importlib.import_module("app.sim.rbac")
    except ImportError:
        return []
    out: list[tuple[str, str, dict[str, Any]]] = []
    group = "rbac.authorization.k8s.io"
    for fn, plural in (
        ("bootstrap_cluster_roles", "clusterroles"),
        ("bootstrap_cluster_role_bindings", "clusterrolebindings"),
        ("bootstrap_roles", "roles"),
        ("bootstrap_role_bindings", "rolebindings"),
    ):
        make = getattr(rbac, fn, None)
        if make is not None:
            out += [(group, plural, obj) for obj in make()]
    return out


@lru_cache(maxsize=1)
def _rbac_templates() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    return tuple(_bootstrap_rbac())


def bootstrap(
    cluster: Cluster, *, nodes: int = 3, ca: KeyPair | None = None, addons: bool = True
) -> None:
    """Create the initial objects of a fresh cluster in its store (with `addons`, also
    the kube-proxy DaemonSet and CoreDNS Deployment)."""
    store = cluster.store
    now = rfc3339(cluster.clock.now())
    # store.create works on its own copy, so the shared templates are passed as they are.
    for group, plural, template in _templates(nodes):
        obj = template
        if plural == "leases":
            renewed = rfc3339_micro(cluster.clock.now())
            obj = {**template, "spec": {**template["spec"], "renewTime": renewed}}
        elif plural == "nodes":
            # The kubelet stamps every condition it posts (node status updates).
            stamped = [
                {**c, "lastHeartbeatTime": now, "lastTransitionTime": now}
                for c in template["status"]["conditions"]
            ]
            obj = {**template, "status": {**template["status"], "conditions": stamped}}
        store.create(group, plural, obj)
    for group, plural, template in _rbac_templates():
        store.create(group, plural, template)
    ca_pem = (ca.cert_pem if ca is not None else b"").decode()
    for ns in SYSTEM_NAMESPACES:
        store.create(
            "",
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "kube-root-ca.crt",
                    "namespace": ns,
                    # Set by the root-ca-cert-publisher controller upstream.
                    "annotations": {
                        "kubernetes.io/description": (
                            "Contains a CA bundle that can be used to verify the kube-apiserver "
                            "when using internal endpoints such as the internal service IP or "
                            "kubernetes.default.svc. No other usage is guaranteed across "
                            "distributions of Kubernetes clusters."
                        )
                    },
                },
                "data": {"ca.crt": ca_pem},
            },
        )
    if addons:
        # kubeadm's add-on phase: kube-proxy DaemonSet and CoreDNS Deployment (the
        # kube-dns Service is in the templates); controllers create their pods.
        from app.sim.controllers.addons import addon_objects

        for group, plural, obj in addon_objects():
            store.create(group, plural, obj)


def create_cluster(
    cluster_id: str,
    *,
    nodes: int = 3,
    ca: KeyPair | None = None,
    clock: Clock | None = None,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    addons: bool = True,
) -> Cluster:
    """A bootstrapped cluster with `nodes` nodes; raises ValueError when nodes < 1."""
    node_names(nodes)  # validates the count before any work
    cluster = Cluster(
        cluster_id,
        name=name,
        clock=clock,
        auth=ClusterAuth(new_token(), ca=ca),
        labels=labels,
    )
    bootstrap(cluster, nodes=nodes, ca=ca, addons=addons)
    return cluster

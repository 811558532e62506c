"""A new cluster's initial objects, shaped like a fresh kubeadm cluster.

Namespaces default/kube-system/kube-public/kube-node-lease, nodes `controlplane`,
`node01`, `node02`, ... (the control-plane node labelled and tainted as kubeadm does;
a lab's cluster shape names the nodes and adds labels, taints and capacity),
node Leases, the `kubernetes` and `kube-dns` Services with their endpoints, a `default`
ServiceAccount and a `kube-root-ca.crt` ConfigMap per namespace, the bootstrap RBAC
roles, the two system PriorityClasses and a default StorageClass.

The templates are built once per process and only copied per cluster; everything
cluster-specific (uid, timestamps, resourceVersion) comes from the store.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from app.sim.apiserver import rbac
from app.sim.apiserver.discovery import version_info
from app.sim.machinery import flowcontrol_defaults, kubeadm_rbac
from app.sim.machinery.clock import Clock, rfc3339, rfc3339_micro
from app.sim.machinery.cluster import Cluster, ClusterAuth, new_token
from app.sim.machinery.quantity import QuantityError, parse_quantity
from app.sim.machinery.tls import KeyPair

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


# A Node name in a shape must be an RFC 1123 label (kubeadm uses the host name).
NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# `spare`: a machine with containerd, kubeadm and the kubelet installed but not joined
# (no Node object; `kubeadm join` on it registers the node).
NODE_ROLES = ("control-plane", "worker", "spare")
# core/v1 TaintEffect values.
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Node resources a shape may size (the ones the scheduler's NodeResourcesFit reads).
SHAPE_RESOURCES = ("cpu", "memory", "pods", "ephemeral-storage")
MAX_NODES = 50


def _shape_error(where: str, message: str) -> ValueError:
    return ValueError(f"shape.{where}: {message}")


def validate_shape(shape: Any) -> list[dict[str, Any]]:
    """A lab's cluster shape (`{"nodes": [{"name", "role", "labels", "taints",
    "capacity"}]}`) checked and normalised: nodes in bootstrap order (the control-plane
    node first), labels as strings, taints without empty values, capacity as quantity
    strings. Raises ValueError naming the offending field for anything else: no nodes,
    not exactly one control-plane node, a repeated or invalid name, an unknown taint
    effect or resource, a quantity that does not parse or is not positive."""
    if not isinstance(shape, dict):
        raise _shape_error("", "must be an object")
    unknown = set(shape) - {"nodes", "addons"}
    if unknown:
        raise _shape_error(sorted(unknown)[0], "unknown field")
    _check_addons(shape.get("addons"))
    nodes = shape.get("nodes")
    if not isinstance(nodes, list) or not 1 <= len(nodes) <= MAX_NODES:
        raise _shape_error("nodes", f"must be a list of 1 to {MAX_NODES} nodes")
    out: list[dict[str, Any]] = []
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(node, dict):
            raise _shape_error(where, "must be an object")
        extra = set(node) - {"name", "role", "labels", "taints", "capacity"}
        if extra:
            raise _shape_error(f"{where}.{sorted(extra)[0]}", "unknown field")
        name = node.get("name")
        if not isinstance(name, str) or not NODE_NAME.match(name):
            raise _shape_error(f"{where}.name", "must be a DNS label (RFC 1123)")
        role = node.get("role", "worker")
        if role not in NODE_ROLES:
            raise _shape_error(f"{where}.role", f"must be one of {', '.join(NODE_ROLES)}")
        labels = node.get("labels") or {}
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and k and isinstance(v, (str, int, float)) for k, v in labels.items()
        ):
            raise _shape_error(f"{where}.labels", "must map label keys to strings")
        taints = []
        for j, taint in enumerate(node.get("taints") or []):
            tw = f"{where}.taints[{j}]"
            if not isinstance(taint, dict) or not isinstance(taint.get("key"), str):
                raise _shape_error(tw, "needs a key")
            if taint.get("effect") not in TAINT_EFFECTS:
                raise _shape_error(f"{tw}.effect", f"must be one of {', '.join(TAINT_EFFECTS)}")
            # The API server drops an empty value, as `kubectl taint key:Effect` sends.
            value = str(taint.get("value") or "")
            taints.append(
                {
                    "key": taint["key"],
                    **({"value": value} if value else {}),
                    "effect": taint["effect"],
                }
            )
        capacity = node.get("capacity") or {}
        if not isinstance(capacity, dict):
            raise _shape_error(f"{where}.capacity", "must be an object")
        sized = {}
        for resource, amount in capacity.items():
            if resource not in SHAPE_RESOURCES:
                raise _shape_error(
                    f"{where}.capacity.{resource}", f"must be one of {', '.join(SHAPE_RESOURCES)}"
                )
            if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
                raise _shape_error(f"{where}.capacity.{resource}", "must be a quantity")
            try:
                positive = parse_quantity(amount) > 0
            except QuantityError as exc:
                raise _shape_error(f"{where}.capacity.{resource}", str(exc)) from None
            if not positive:
                raise _shape_error(f"{where}.capacity.{resource}", "must be positive")
            sized[resource] = str(amount)
        out.append(
            {
                "name": name,
                "role": role,
                "labels": {k: str(v) for k, v in labels.items()},
                "taints": taints,
                "capacity": sized,
            }
        )
    names = [n["name"] for n in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _shape_error("nodes", f"duplicate node names: {', '.join(repeated)}")
    control = [n for n in out if n["role"] == "control-plane"]
    if len(control) != 1:
        raise _shape_error("nodes", f"needs exactly one control-plane node; found {len(control)}")
    return control + [n for n in out if n["role"] != "control-plane"]


def _check_addons(addons: Any) -> None:
    """A shape's optional `addons`: distinct names of the optional add-ons."""
    from app.sim.controllers.ingress_addons import ADDONS

    if addons is None:
        return
    if not isinstance(addons, list) or len(set(map(str, addons))) != len(addons):
        raise _shape_error("addons", "must be a list of distinct add-on names")
    for i, name in enumerate(addons):
        if name not in ADDONS:
            raise _shape_error(f"addons[{i}]", f"must be one of {', '.join(ADDONS)}")


def install_addon(cluster: Cluster, name: str) -> None:
    """Create the objects of an optional add-on (`ingress-nginx`, `gateway-api`) as the
    API server would store them (defaults applied, CRDs established at once)."""
    from app.sim.apiserver.defaults import apply_defaults
    from app.sim.controllers.ingress_addons import addon_objects
    from app.sim.machinery.cluster import crd_status

    now = rfc3339(cluster.clock.now())
    for group, plural, obj in addon_objects(name):
        rt = cluster.registry.by_kind(obj["apiVersion"], obj["kind"])
        if rt is not None:
            apply_defaults(obj, rt, store=cluster.store)
        if plural == "customresourcedefinitions":
            obj["status"] = crd_status(obj, now)
        cluster.store.create(group, plural, obj)


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
    # The control-plane node is always the first (index 0: the API server's address).
    control_plane = index == 0
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


@lru_cache(maxsize=32)
def _templates(names: tuple[str, ...]) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(group, plural, object) for everything except per-cluster data (CA, RBAC);
    `names[0]` is the control-plane node."""
    kubelet_version = version_info()["gitVersion"]
    out: list[tuple[str, str, dict[str, Any]]] = []
    out += [("", "namespaces", _namespace(ns)) for ns in SYSTEM_NAMESPACES]
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
                    "name": "local-path",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                # The default class of CKA practice clusters: the local-path provisioner,
                # volumes bound when their first consumer is scheduled.
                "provisioner": "rancher.io/local-path",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
            },
        )
    )
    return tuple(out)


def _bootstrap_rbac() -> list[tuple[str, str, dict[str, Any]]]:
    """Bootstrap ClusterRoles and ClusterRoleBindings from the RBAC module."""
    group = "rbac.authorization.k8s.io"
    objects = [(group, "clusterroles", obj) for obj in rbac.bootstrap_cluster_roles()] + [
        (group, "clusterrolebindings", obj) for obj in rbac.bootstrap_cluster_role_bindings()
    ]
    # kubeadm's own roles and bindings, and the controllers' accounts (kubeadm_rbac.py).
    taken = {(plural, obj["metadata"]["name"]) for _, plural, obj in objects}
    extra = [o for o in kubeadm_rbac.objects() if (o[1], o[2]["metadata"]["name"]) not in taken]
    # The API Priority and Fairness defaults kube-apiserver creates.
    return objects + extra + flowcontrol_defaults.objects()


@lru_cache(maxsize=1)
def _rbac_templates() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    return tuple(_bootstrap_rbac())


def _shaped_node(node: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    """A node template with a shape node's labels merged, its taints (when it gives
    any; otherwise kubeadm's) and its capacity, allocatable alike (no reservations)."""
    metadata = {**node["metadata"], "labels": {**node["metadata"]["labels"], **shape["labels"]}}
    spec = dict(node["spec"])
    if shape["taints"]:
        spec["taints"] = [dict(t) for t in shape["taints"]]
    status = {
        **node["status"],
        "capacity": {**node["status"]["capacity"], **shape["capacity"]},
        "allocatable": {**node["status"]["allocatable"], **shape["capacity"]},
    }
    return {**node, "metadata": metadata, "spec": spec, "status": status}


def bootstrap(
    cluster: Cluster,
    *,
    nodes: int = 3,
    ca: KeyPair | None = None,
    addons: bool = True,
    shape: dict[str, Any] | None = None,
) -> None:
    """Create the initial objects of a fresh cluster in its store (with `addons`, also
    the kube-proxy DaemonSet and CoreDNS Deployment). With a `shape`, the nodes are the
    shape's (names, labels, taints, capacity) and `nodes` is ignored; ValueError for an
    invalid shape (see `validate_shape`) or a node count below 1."""
    store = cluster.store
    now = rfc3339(cluster.clock.now())
    shaped = {n["name"]: n for n in validate_shape(shape)} if shape is not None else {}
    names = tuple(shaped) if shaped else tuple(node_names(nodes))
    # store.create works on its own copy, so the shared templates are passed as they are.
    spare = [n for n in names if shaped.get(n, {}).get("role") == "spare"]
    cluster.spare_machines = [
        {"name": n, "ip": f"{NODE_IP_BASE}{2 + names.index(n)}", "index": names.index(n)}
        for n in spare
    ]
    for group, plural, template in _templates(names):
        obj = template
        if plural in ("nodes", "leases") and template["metadata"]["name"] in spare:
            continue
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
            if obj["metadata"]["name"] in shaped:
                obj = _shaped_node(obj, shaped[obj["metadata"]["name"]])
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
        # The metrics-server add-on of CKA practice clusters (`kubectl top`, HPA).
        from app.sim.controllers.metrics_server import metrics_server_objects

        for group, plural, obj in metrics_server_objects():
            store.create(group, plural, obj)
    for name in (shape or {}).get("addons") or ():
        install_addon(cluster, name)


def create_cluster(
    cluster_id: str,
    *,
    nodes: int = 3,
    ca: KeyPair | None = None,
    clock: Clock | None = None,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    addons: bool = True,
    shape: dict[str, Any] | None = None,
) -> Cluster:
    """A bootstrapped cluster with `nodes` nodes, or the nodes of a lab's cluster
    `shape`; raises ValueError when nodes < 1 or the shape is invalid."""
    # Validate before any work.
    if shape is not None:
        validate_shape(shape)
    else:
        node_names(nodes)
    cluster = Cluster(
        cluster_id,
        name=name,
        clock=clock,
        auth=ClusterAuth(new_token(), ca=ca),
        labels=labels,
    )
    bootstrap(cluster, nodes=nodes, ca=ca, addons=addons, shape=shape)
    return cluster

"""Defaulting: the fields the API server fills in when a client leaves them out.

Runs after decoding (and after patching) and before admission, as upstream's
scheme defaulters do (pkg/apis/core/v1/defaults.go, apps/v1/defaults.go,
batch/v1/defaults.go, networking/v1/defaults.go, rbac/v1/defaults.go), plus the
create-time work of the REST strategies that needs the cluster: a Service's
ClusterIP from 10.96.0.0/12 and NodePorts from 30000-32767, a Pod's QoS class and
Pending phase, a Job's generated selector and labels.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any, Protocol

from app.sim.machinery.resources import ResourceType

# kubeadm's default --service-cluster-ip-range; .1 is the `kubernetes` Service.
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
# kube-apiserver --service-node-port-range default.
NODE_PORT_RANGE = (30000, 32767)
# core/v1 defaults.go: terminationGracePeriodSeconds and the termination message path.
TERMINATION_GRACE_SECONDS = 30
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
# Secret and ConfigMap volume default mode 0644 (core/v1 defaults.go).
DEFAULT_VOLUME_MODE = 420


class _Store(Protocol):
    def list(
        self, group: str, plural: str, namespace: str | None = None
    ) -> tuple[list[dict], int]: ...


def _image_pull_policy(image: str) -> str:
    # core/v1 defaults.go SetDefaults_Container: Always for `:latest` or no tag.
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    if ":" not in name or name.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    image = container.get("image")
    if isinstance(image, str) and image:
        container.setdefault("imagePullPolicy", _image_pull_policy(image))
    container.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH)
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.setdefault("resources", {})
    if isinstance(resources, dict):
        limits = resources.get("limits")
        # A limit without a request sets the request to the limit (SetDefaults_Pod).
        if isinstance(limits, dict) and limits:
            requests = resources.setdefault("requests", {})
            if isinstance(requests, dict):
                for name, value in limits.items():
                    requests.setdefault(name, value)
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        source = env.get("valueFrom") if isinstance(env, dict) else None
        field_ref = source.get("fieldRef") if isinstance(source, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(probe))


def _volume(volume: Any) -> None:
    if not isinstance(volume, dict):
        return
    for source in ("secret", "configMap", "downwardAPI"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", DEFAULT_VOLUME_MODE)
    projected = volume.get("projected")
    if isinstance(projected, dict):
        projected.setdefault("defaultMode", DEFAULT_VOLUME_MODE)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")
    # A volume with no source at all is an emptyDir (SetDefaults_Volume).
    sources = set(volume) - {"name"}
    if not sources:
        volume["emptyDir"] = {}


def pod_spec(spec: Any) -> None:
    """Default a PodSpec in place (pods and every pod template)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", TERMINATION_GRACE_SECONDS)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for container in spec.get("containers") or []:
            for port in (container or {}).get("ports") or []:
                if isinstance(port, dict) and "containerPort" in port:
                    port.setdefault("hostPort", port["containerPort"])
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            _container(container)
    for volume in spec.get("volumes") or []:
        _volume(volume)


def _template(obj: dict) -> dict | None:
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    return template if isinstance(template, dict) else None


def _qos_class(spec: dict) -> str:
    """QoS class from requests/limits of every container (pkg/apis/core/helper/qos)."""
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    containers += [c for c in (spec.get("initContainers") or []) if isinstance(c, dict)]
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        for name in ("cpu", "memory"):
            if name in requests or name in limits:
                any_set = True
            if name not in limits or str(requests.get(name, limits.get(name))) != str(
                limits.get(name)
            ):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _service(obj: dict, store: _Store | None) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    kind = spec["type"]
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if kind != "ExternalName" and "port" in port:
                port.setdefault("targetPort", port["port"])
    if kind == "ExternalName":
        return
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if store is not None and spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = allocate_cluster_ip(store)
    if spec.get("clusterIP"):
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer") and store is not None:
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = allocate_node_port(store, obj)
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
        obj.setdefault("status", {}).setdefault("loadBalancer", {})


def service_update(obj: dict, old: dict, store: _Store) -> None:
    """What the Service REST storage does on update (pkg/registry/core/service/storage:
    patchAllocatedValues, allocations and dropTypeDependentFields): the allocated
    clusterIPs and nodePorts a request leaves out are kept, a port that becomes a
    NodePort (type changed to NodePort or LoadBalancer by patch, edit or apply) gets one
    allocated, and turning the type to ClusterIP drops the nodePorts it still carries
    unchanged."""
    spec, old_spec = obj.get("spec"), old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    kind = spec.get("type") or "ClusterIP"
    if kind != "ExternalName" and spec.get("clusterIP") in (None, ""):
        for key in ("clusterIP", "clusterIPs"):
            if old_spec.get(key):
                spec[key] = old_spec[key]
    old_ports = {
        (p.get("port"), p.get("protocol") or "TCP"): p.get("nodePort")
        for p in old_spec.get("ports") or []
        if isinstance(p, dict) and p.get("nodePort")
    }
    node_ports = kind in ("NodePort", "LoadBalancer")
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        previous = old_ports.get((port.get("port"), port.get("protocol") or "TCP"))
        if node_ports and not port.get("nodePort"):
            port["nodePort"] = previous or allocate_node_port(store, obj)
        elif not node_ports and port.get("nodePort") and port.get("nodePort") == previous:
            del port["nodePort"]
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if node_ports:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    elif (old_spec.get("type") or "ClusterIP") in ("NodePort", "LoadBalancer"):
        spec.pop("externalTrafficPolicy", None)
        spec.pop("allocateLoadBalancerNodePorts", None)


def _services(store: _Store) -> list[dict]:
    return store.list("", "services")[0]


def allocate_cluster_ip(store: _Store) -> str:
    """The lowest free address of the service CIDR, skipping the network address.
    Raises ApiError 500-free: an exhausted range is reported as 422 by validation."""
    used = {
        (s.get("spec") or {}).get("clusterIP")
        for s in _services(store)
        if isinstance(s.get("spec"), dict)
    }
    for address in SERVICE_CIDR.hosts():
        text = str(address)
        if text not in used:
            return text
    return ""


def allocate_node_port(store: _Store, obj: dict | None = None) -> int:
    """The lowest free NodePort of the default range (0 when exhausted), also free of
    the ports `obj` (the Service being written) already holds."""
    ports = ((obj or {}).get("spec") or {}).get("ports") or []
    held = {p.get("nodePort") for p in ports if isinstance(p, dict)}
    used = held | {
        port.get("nodePort")
        for s in _services(store)
        for port in ((s.get("spec") or {}).get("ports") or [])
        if isinstance(port, dict)
    }
    for port in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1):
        if port not in used:
            return port
    return 0


def _job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    # batch/v1 defaults.go: both unset means one pod to completion.
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    job_selector(obj)


def job_selector(obj: dict) -> None:
    """Generate a Job's selector and pod labels from its `metadata.uid`, as the Job
    strategy does on create (batch/job/strategy.go), unless it has a selector
    already, sets `manualSelector`, or has no uid yet."""
    spec = obj.get("spec")
    meta = obj.get("metadata")
    if not isinstance(spec, dict) or not isinstance(meta, dict) or spec.get("manualSelector"):
        return
    uid = meta.get("uid")
    # Without a uid (before the store assigned one) the Job controller generates the
    # selector later, so that labels and uid agree.
    if spec.get("selector") or not uid:
        return
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if isinstance(labels, dict):
        labels.setdefault("batch.kubernetes.io/controller-uid", uid)
        labels.setdefault("batch.kubernetes.io/job-name", meta.get("name", ""))
        labels.setdefault("controller-uid", uid)
        labels.setdefault("job-name", meta.get("name", ""))
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})


def _workload(obj: dict, kind: str) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"):
        spec.setdefault("replicas", 1)
    if kind == "ReplicationController":
        # SetDefaults_ReplicationController: selector and labels from the template's.
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if isinstance(labels, dict) and labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = obj.setdefault("metadata", {})
            if isinstance(meta, dict) and not meta.get("labels"):
                meta["labels"] = dict(labels)
    if kind == "Deployment":
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                if isinstance(rolling, dict):
                    rolling.setdefault("maxUnavailable", "25%")
                    rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                if isinstance(rolling, dict):
                    rolling.setdefault("maxUnavailable", 1)
                    rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
    elif kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                strategy.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
        for claim in spec.get("volumeClaimTemplates") or []:
            if isinstance(claim, dict):
                claim.setdefault("apiVersion", "v1")
                claim.setdefault("kind", "PersistentVolumeClaim")
                claim_spec = claim.setdefault("spec", {})
                if isinstance(claim_spec, dict):
                    claim_spec.setdefault("volumeMode", "Filesystem")
    elif kind == "ReplicationController":
        template = _template(obj)
        labels = ((template or {}).get("metadata") or {}).get("labels")
        if labels and not spec.get("selector"):
            spec["selector"] = dict(labels)


def _subjects(obj: dict) -> None:
    for subject in obj.get("subjects") or []:
        if not isinstance(subject, dict):
            continue
        # rbac/v1 defaults.go: users and groups belong to the RBAC API group.
        if subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", "rbac.authorization.k8s.io")
        elif subject.get("kind") == "ServiceAccount":
            subject.setdefault("apiGroup", "")
    ref = obj.get("roleRef")
    if isinstance(ref, dict):
        ref.setdefault("apiGroup", "rbac.authorization.k8s.io")


def _secret_string_data(obj: dict) -> None:
    """`stringData` is write-only: its entries are merged into `data`, base64-encoded,
    overwriting keys of the same name, and it is never stored or returned
    (pkg/apis/core/v1/conversion.go, Convert_v1_Secret_To_core_Secret)."""
    string_data = obj.get("stringData")
    if not isinstance(string_data, dict):
        return
    data = obj.get("data")
    if data is None:
        data = obj["data"] = {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in string_data.values()):
        return  # malformed: validation reports it
    for key, value in string_data.items():
        data[key] = base64.b64encode(value.encode()).decode()
    del obj["stringData"]


def _limit_range(obj: dict) -> None:
    # core/v1 SetDefaults_LimitRangeItem: default limit <- max, default request
    # <- default limit <- max, for Container items.
    for item in ((obj.get("spec") or {}).get("limits")) or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        maximum = item.get("max") or {}
        default = item.setdefault("default", {})
        if isinstance(default, dict) and isinstance(maximum, dict):
            for name, value in maximum.items():
                default.setdefault(name, value)
        request = item.setdefault("defaultRequest", {})
        if isinstance(request, dict) and isinstance(default, dict):
            for name, value in default.items():
                request.setdefault(name, value)
            for name, value in (item.get("min") or {}).items():
                request.setdefault(name, value)
        if not item["default"]:
            del item["default"]
        if not item["defaultRequest"]:
            del item["defaultRequest"]


_WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "DaemonSet"),
    ("apps", "StatefulSet"),
    ("", "ReplicationController"),
}


def apply_defaults(
    obj: dict, rt: ResourceType, *, store: _Store | None = None, creating: bool = True
) -> dict:
    """Fill in defaults for `obj` of kind `rt` in place and return it.

    `store` enables the create-time allocations (ClusterIP, NodePorts);
    `creating` also sets the status fields a new object starts with. Malformed
    parts are left alone for validation to report; this never raises.
    """
    if not isinstance(obj, dict):
        return obj
    kind = rt.kind
    group = rt.group
    if (group, kind) == ("", "Pod"):
        pod_spec(obj.get("spec"))
        spec = obj.get("spec")
        if creating and isinstance(spec, dict):
            status = obj.setdefault("status", {})
            if isinstance(status, dict):
                status.setdefault("phase", "Pending")
                status.setdefault("qosClass", _qos_class(spec))
    elif (group, kind) == ("", "PodTemplate"):
        template = obj.get("template")
        if isinstance(template, dict):
            pod_spec(template.get("spec"))
    elif (group, kind) in _WORKLOADS:
        _workload(obj, kind)
        pod_spec((_template(obj) or {}).get("spec"))
    elif (group, kind) == ("batch", "Job"):
        _job(obj)
        pod_spec((_template(obj) or {}).get("spec"))
    elif (group, kind) == ("batch", "CronJob"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("concurrencyPolicy", "Allow")
            spec.setdefault("suspend", False)
            spec.setdefault("successfulJobsHistoryLimit", 3)
            spec.setdefault("failedJobsHistoryLimit", 1)
            job_spec = (spec.get("jobTemplate") or {}).get("spec")
            if isinstance(job_spec, dict):
                job_spec.setdefault("backoffLimit", 6)
                job_spec.setdefault("completionMode", "NonIndexed")
                job_spec.setdefault("suspend", False)
                job_spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
                template = job_spec.get("template")
                if isinstance(template, dict):
                    pod_spec(template.get("spec"))
    elif (group, kind) == ("", "Service"):
        _service(obj, store if creating else None)
    elif (group, kind) == ("", "Namespace"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("finalizers", ["kubernetes"])
        name = (obj.get("metadata") or {}).get("name")
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        if isinstance(labels, dict) and name:
            # NamespaceDefaultLabelName (1.22+): the name as an immutable label.
            labels["kubernetes.io/metadata.name"] = name
        if creating:
            obj.setdefault("status", {}).setdefault("phase", "Active")
    elif (group, kind) == ("", "Secret"):
        obj.setdefault("type", "Opaque")
        _secret_string_data(obj)
    elif (group, kind) == ("", "PersistentVolume"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
            spec.setdefault("volumeMode", "Filesystem")
        if creating:
            obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif (group, kind) == ("", "PersistentVolumeClaim"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")
        if creating:
            obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif (group, kind) in (("", "Endpoints"),):
        for subset in obj.get("subsets") or []:
            for port in (subset or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    elif (group, kind) == ("discovery.k8s.io", "EndpointSlice"):
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
    elif (group, kind) == ("", "LimitRange"):
        _limit_range(obj)
    elif group == "rbac.authorization.k8s.io" and kind in ("RoleBinding", "ClusterRoleBinding"):
        _subjects(obj)
    elif (group, kind) == ("scheduling.k8s.io", "PriorityClass"):
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif (group, kind) == ("storage.k8s.io", "StorageClass"):
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif (group, kind) == ("networking.k8s.io", "NetworkPolicy"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            # SetDefaults_NetworkPolicy: an empty or missing list is defaulted.
            if not spec.get("policyTypes"):
                types = ["Ingress"]
                if spec.get("egress"):
                    types.append("Egress")
                spec["policyTypes"] = types
            for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
    elif (group, kind) == ("autoscaling", "HorizontalPodAutoscaler"):
        _hpa(obj.get("spec"))
    elif (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("conversion", {"strategy": "None"})
            names = spec.get("names")
            if isinstance(names, dict) and names.get("kind"):
                names.setdefault("singular", str(names["kind"]).lower())
                names.setdefault("listKind", f"{names['kind']}List")
    if creating:
        _initial_status(obj, group, kind)
    return obj


# autoscaling/v2 defaults (pkg/apis/autoscaling/v2/defaults.go): the target of an HPA
# without metrics, and the behaviour rules filled in once `behavior` is given (scale up
# by 4 pods or 100% per 15 s, down by 100% per 15 s; scaleDown's window stays unset
# and the controller applies its 300 s --horizontal-pod-autoscaler-downscale-stabilization).
DEFAULT_CPU_UTILIZATION = 80
_SCALE_UP_RULES: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_RULES: dict[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _hpa(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        target = {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    behavior = spec.get("behavior")
    if not isinstance(behavior, dict):
        return
    for key, rules in (("scaleUp", _SCALE_UP_RULES), ("scaleDown", _SCALE_DOWN_RULES)):
        current = behavior.setdefault(key, {})
        if isinstance(current, dict):
            for field, value in rules.items():
                current.setdefault(field, json.loads(json.dumps(value)))


# The status a new object is created with, as upstream's create response shows it
# (the status types' fields without omitempty, zero-valued; `{}` where all have it).
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Service"): {"loadBalancer": {}},
    ("", "ReplicationController"): {"replicas": 0},
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
}


def _initial_status(obj: dict, group: str, kind: str) -> None:
    initial = _INITIAL_STATUS.get((group, kind))
    if initial is None:
        return
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        for key, value in initial.items():
            status.setdefault(key, json.loads(json.dumps(value)))

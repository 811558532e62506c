"""The kinds the simulator serves: one `ResourceType` per group/version/resource.

Every part of the API layer (routing, discovery, OpenAPI, printing, protobuf, RBAC)
looks kinds up here. CRDs add entries to a cluster's own `ResourceRegistry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str  # "v1"
    kind: str  # "Pod"
    plural: str  # "pods"
    singular: str  # "pod"
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # ("all",) for kinds `kubectl get all` shows
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # "status", "scale", "binding", "eviction", "log"
    # The list kind's name: "PodList".
    list_kind: str = ""
    # True for kinds served from a CustomResourceDefinition.
    custom: bool = False
    # For CRDs: the openAPIV3Schema of this version, used for validation and explain.
    schema: dict | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"


class ResourceRegistry:
    """Lookup of served kinds by (group, version, plural) and (apiVersion, kind)."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._by_plural: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        for rt in types:
            self.register(rt)

    def register(self, rt: ResourceType) -> None:
        key = (rt.group, rt.version, rt.plural)
        if key in self._by_plural:
            raise ValueError(f"resource {rt.group_resource}/{rt.version} is already registered")
        self._by_plural[key] = rt
        self._by_kind[(rt.api_version, rt.kind)] = rt

    def unregister(self, group: str, version: str, plural: str) -> None:
        rt = self._by_plural.pop((group, version, plural), None)
        if rt is not None:
            self._by_kind.pop((rt.api_version, rt.kind), None)

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_plural.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions (preferred first); "" is the core group."""
        out: dict[str, list[str]] = {}
        for rt in self._by_plural.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_plural.values() if (rt.group, rt.version) == (group, version)]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_plural.values()))

    def copy(self) -> ResourceRegistry:
        return ResourceRegistry(self)


def _rt(
    group: str,
    kind: str,
    plural: str,
    namespaced: bool,
    short_names: tuple[str, ...] = (),
    *,
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    subresources: tuple[str, ...] = (),
    version: str = "v1",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        verbs=verbs,
        subresources=subresources,
    )


# Verbs, short names, categories and subresources as `kubectl api-resources -o wide`
# lists them on a v1.34 kube-apiserver. Namespaces have no deletecollection upstream;
# the review kinds are create-only.
_ALL = ("all",)
_CREATE_ONLY = ("create",)
_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
_API_EXT = ("api-extensions",)
_READ_ONLY = ("get", "list")

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    # core
    # Deprecated since v1.19 but still served; computed, never stored.
    _rt("", "ComponentStatus", "componentstatuses", False, ("cs",), verbs=("get", "list")),
    _rt("", "ConfigMap", "configmaps", True, ("cm",)),
    _rt("", "Endpoints", "endpoints", True, ("ep",)),
    _rt("", "Event", "events", True, ("ev",)),
    _rt("", "LimitRange", "limitranges", True, ("limits",)),
    _rt(
        "",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        verbs=_NO_COLLECTION,
        subresources=("finalize", "status"),
    ),
    _rt("", "Node", "nodes", False, ("no",), subresources=("proxy", "status")),
    _rt(
        "",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        ("pvc",),
        subresources=("status",),
    ),
    _rt("", "PersistentVolume", "persistentvolumes", False, ("pv",), subresources=("status",)),
    _rt(
        "",
        "Pod",
        "pods",
        True,
        ("po",),
        categories=_ALL,
        subresources=("binding", "eviction", "log", "status"),
    ),
    _rt("", "PodTemplate", "podtemplates", True),
    _rt(
        "",
        "ReplicationController",
        "replicationcontrollers",
        True,
        ("rc",),
        categories=_ALL,
        subresources=("scale", "status"),
    ),
    _rt("", "ResourceQuota", "resourcequotas", True, ("quota",), subresources=("status",)),
    _rt("", "Secret", "secrets", True),
    _rt("", "ServiceAccount", "serviceaccounts", True, ("sa",), subresources=("token",)),
    _rt("", "Service", "services", True, ("svc",), categories=_ALL, subresources=("status",)),
    # admissionregistration.k8s.io: stored only, no webhook is ever called
    _rt(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        categories=_API_EXT,
    ),
    _rt(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        categories=_API_EXT,
    ),
    # apiextensions.k8s.io
    _rt(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        categories=_API_EXT,
        subresources=("status",),
    ),
    # apiregistration.k8s.io: the aggregation layer's APIServices (`v1.apps` Local, ...)
    _rt(
        "apiregistration.k8s.io",
        "APIService",
        "apiservices",
        False,
        categories=_API_EXT,
        subresources=("status",),
    ),
    # apps
    _rt("apps", "ControllerRevision", "controllerrevisions", True),
    _rt(
        "apps", "DaemonSet", "daemonsets", True, ("ds",), categories=_ALL, subresources=("status",)
    ),
    _rt(
        "apps",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        categories=_ALL,
        subresources=("scale", "status"),
    ),
    _rt(
        "apps",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        categories=_ALL,
        subresources=("scale", "status"),
    ),
    _rt(
        "apps",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        categories=_ALL,
        subresources=("scale", "status"),
    ),
    # authentication.k8s.io
    _rt(
        "authentication.k8s.io",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=_CREATE_ONLY,
    ),
    _rt("authentication.k8s.io", "TokenReview", "tokenreviews", False, verbs=_CREATE_ONLY),
    # authorization.k8s.io
    _rt(
        "authorization.k8s.io",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        verbs=_CREATE_ONLY,
    ),
    _rt(
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=_CREATE_ONLY,
    ),
    _rt(
        "authorization.k8s.io",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        verbs=_CREATE_ONLY,
    ),
    _rt(
        "authorization.k8s.io",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=_CREATE_ONLY,
    ),
    # autoscaling: v2 is the stored version (what `kubectl autoscale` creates)
    _rt(
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        categories=_ALL,
        subresources=("status",),
        version="v2",
    ),
    # autoscaling/v1: served by conversion from the stored v2 (app.sim.apiserver.hpa_v1)
    _rt(
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        categories=_ALL,
        subresources=("status",),
        version="v1",
    ),
    # batch
    _rt("batch", "CronJob", "cronjobs", True, ("cj",), categories=_ALL, subresources=("status",)),
    _rt("batch", "Job", "jobs", True, categories=_ALL, subresources=("status",)),
    # coordination.k8s.io
    _rt("coordination.k8s.io", "Lease", "leases", True),
    # discovery.k8s.io
    _rt("discovery.k8s.io", "EndpointSlice", "endpointslices", True),
    # events.k8s.io
    _rt("events.k8s.io", "Event", "events", True, ("ev",)),
    # metrics.k8s.io: served by the metrics-server add-on through its APIService
    # (computed from the kubelets' usage, never stored; read-only as upstream)
    _rt("metrics.k8s.io", "NodeMetrics", "nodes", False, verbs=_READ_ONLY, version="v1beta1"),
    _rt("metrics.k8s.io", "PodMetrics", "pods", True, verbs=_READ_ONLY, version="v1beta1"),
    # networking.k8s.io
    _rt("networking.k8s.io", "IngressClass", "ingressclasses", False),
    _rt("networking.k8s.io", "Ingress", "ingresses", True, ("ing",), subresources=("status",)),
    _rt("networking.k8s.io", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    # policy
    _rt(
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        ("pdb",),
        subresources=("status",),
    ),
    # rbac.authorization.k8s.io
    _rt("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    _rt("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    _rt("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", True),
    _rt("rbac.authorization.k8s.io", "Role", "roles", True),
    # scheduling.k8s.io
    _rt("scheduling.k8s.io", "PriorityClass", "priorityclasses", False, ("pc",)),
    # storage.k8s.io
    _rt("storage.k8s.io", "StorageClass", "storageclasses", False, ("sc",)),
    _rt("storage.k8s.io", "CSIDriver", "csidrivers", False),
    _rt("storage.k8s.io", "CSINode", "csinodes", False),
    _rt("storage.k8s.io", "VolumeAttachment", "volumeattachments", False, subresources=("status",)),
    # certificates.k8s.io: a signer controller signs approved CSRs (controllers/csr.py)
    _rt(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        False,
        ("csr",),
        subresources=("approval", "status"),
    ),
    # flowcontrol.apiserver.k8s.io: stored (upstream's defaults listed), not enforced
    _rt(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        "flowschemas",
        False,
        subresources=("status",),
    ),
    _rt(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        False,
        subresources=("status",),
    ),
    # node.k8s.io
    _rt("node.k8s.io", "RuntimeClass", "runtimeclasses", False),
    # admissionregistration.k8s.io policies: stored, CEL is not evaluated
    _rt(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
        categories=_API_EXT,
        subresources=("status",),
    ),
    _rt(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
        categories=_API_EXT,
    ),
)

# Subresources and the kind their body has (upstream: pods/binding takes a Binding,
# pods/eviction an Eviction, */scale an autoscaling/v1 Scale, serviceaccounts/token a
# TokenRequest; status takes the parent kind).
SUBRESOURCE_KINDS: dict[str, tuple[str, str]] = {
    "binding": ("v1", "Binding"),
    "eviction": ("policy/v1", "Eviction"),
    "scale": ("autoscaling/v1", "Scale"),
    "token": ("authentication.k8s.io/v1", "TokenRequest"),
}


_BUILTIN_REGISTRY = ResourceRegistry(BUILTIN_TYPES)


def builtin_registry() -> ResourceRegistry:
    """A fresh registry holding every built-in kind (callers may register CRDs in it)."""
    return _BUILTIN_REGISTRY.copy()


def shared_builtin_registry() -> ResourceRegistry:
    """The process-wide registry of built-in kinds; read it, never register into it.

    Clusters without CRDs share this one object instead of copying it (memory per
    idle cluster).
    """
    return _BUILTIN_REGISTRY

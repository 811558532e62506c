"""Schemas of the served kinds, built from the `kubernetes` client package's models.

The client package ships one model class per Kubernetes type with `openapi_types`
(attribute -> type string), `attribute_map` (attribute -> JSON name) and pydantic field
descriptions. From these we build, once per process, a set of OpenAPI definitions named
as upstream names them (`io.k8s.api.core.v1.Pod`), with `$ref`s between them, plus the
patch and list metadata upstream attaches to some fields (merge keys, list types).

Everything else reads schemas through this module: the OpenAPI documents
(`app.sim.apiserver.openapi`), strict field validation (`unknown_fields`), and strategic merge
patch / server-side apply (`patch_meta`, `list_meta`). CRD kinds bring their own
`openAPIV3Schema` on the `ResourceType`, walked by the same code.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kubernetes.client.models as client_models

from app.sim.apiserver.proto_fields import MESSAGES as PROTO_MESSAGES
from app.sim.machinery.resources import BUILTIN_TYPES, ResourceRegistry, ResourceType

REF_PREFIX = "#/definitions/"

META_PACKAGE = "io.k8s.apimachinery.pkg.apis.meta.v1"
INTSTR = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

INTSTR_DESCRIPTION = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
    "marshalling and unmarshalling, it produces or consumes the inner type."
)
QUANTITY_DESCRIPTION = (
    "Quantity is a fixed-point representation of a number, such as 100m (0.1) or 1Gi."
)
# Swagger 2.0 has no oneOf: upstream's v2 document types both as formatted strings.
V2_SPECIAL_DEFINITIONS = {
    INTSTR: {"description": INTSTR_DESCRIPTION, "format": "int-or-string", "type": "string"},
    QUANTITY: {"description": QUANTITY_DESCRIPTION, "type": "string"},
}

# Descriptions for the standard object fields, which the client models leave empty.
API_CONVENTIONS = (
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
)
GENERIC_DESCRIPTIONS = {
    "metadata": "The object's metadata: name, namespace, labels, annotations and the fields "
    f"the server sets. More info: {API_CONVENTIONS}#metadata",
    "spec": "The desired state of the object, written by its users. More info: "
    f"{API_CONVENTIONS}#spec-and-status",
    "status": "The state of the object most recently observed by the system; read-only. "
    f"More info: {API_CONVENTIONS}#spec-and-status",
}

# Client model names (without the version prefix) that live in apimachinery's meta/v1
# package upstream, whatever group refers to them.
META_TYPES = frozenset(
    {
        "ObjectMeta",
        "ListMeta",
        "LabelSelector",
        "LabelSelectorRequirement",
        "OwnerReference",
        "ManagedFieldsEntry",
        "Status",
        "StatusDetails",
        "StatusCause",
        "Condition",
        "DeleteOptions",
        "Preconditions",
        "APIResource",
        "APIResourceList",
        "APIGroup",
        "APIGroupList",
        "APIVersions",
        "GroupVersionForDiscovery",
        "ServerAddressByClientCIDR",
        "WatchEvent",
        "Patch",
        "FieldSelectorRequirement",
    }
)

# Group -> Go package path segment of upstream definition names.
_GROUP_PACKAGE = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}

# Prefixes the client generator adds when two groups share a type name.
_CLIENT_PREFIXES = {
    "Core": "",
    "Events": "events.k8s.io",
    "Rbac": "rbac.authorization.k8s.io",
    "Storage": "storage.k8s.io",
    "Discovery": "discovery.k8s.io",
    "Admissionregistration": "admissionregistration.k8s.io",
    "Apiextensions": "apiextensions.k8s.io",
    "Apiregistration": "apiregistration.k8s.io",
    "Flowcontrol": "flowcontrol.apiserver.k8s.io",
    "Resource": "resource.k8s.io",
}

# Map-valued fields whose values are resource.Quantity upstream (the client types them
# as Dict[str, str]): ResourceRequirements.limits/requests, ResourceQuotaSpec.hard,
# ResourceQuotaStatus.hard/used, NodeStatus.capacity/allocatable, PersistentVolumeSpec
# .capacity, PersistentVolumeClaimStatus.capacity, LimitRangeItem.*, PodSpec.overhead.
_QUANTITY_MAPS = {
    "ResourceRequirements": {"limits", "requests"},
    "VolumeResourceRequirements": {"limits", "requests"},
    "ResourceQuotaSpec": {"hard"},
    "ResourceQuotaStatus": {"hard", "used"},
    "NodeStatus": {"capacity", "allocatable"},
    "PersistentVolumeSpec": {"capacity"},
    "PersistentVolumeClaimStatus": {"capacity", "allocatedResources"},
    "LimitRangeItem": {"max", "min", "default", "defaultRequest", "maxLimitRequestRatio"},
    "PodSpec": {"overhead"},
}
# Scalar Quantity fields (typed `str` by the client).
_QUANTITY_FIELDS = {
    "EmptyDirVolumeSource": {"sizeLimit"},
}

# Strategic-merge-patch metadata: the `patchStrategy`/`patchMergeKey` struct tags of
# k8s.io/api (core, apps, batch, rbac, policy, networking, scheduling, coordination,
# discovery, storage, admissionregistration, events, authn/authz v1) and apimachinery
# meta/v1 types.go: (type, JSON field) -> (strategy, merge key or "").
# EphemeralContainerCommon's entries also sit under EphemeralContainer, which the client
# model flattens.
PATCH_META: dict[tuple[str, str], tuple[str, str]] = {
    ("CSINodeSpec", "drivers"): ("merge", "name"),
    ("CSINodeStatus", "storageHealth"): ("merge", "name"),
    ("ComponentStatus", "conditions"): ("merge", "type"),
    ("Container", "env"): ("merge", "name"),
    ("Container", "ports"): ("merge", "containerPort"),
    ("Container", "volumeDevices"): ("merge", "devicePath"),
    ("Container", "volumeMounts"): ("merge", "mountPath"),
    ("ContainerStatus", "allocatedResourcesStatus"): ("merge", "name"),
    ("ContainerStatus", "volumeMounts"): ("merge", "mountPath"),
    ("DaemonSetStatus", "conditions"): ("merge", "type"),
    ("DeploymentSpec", "strategy"): ("retainKeys", ""),
    ("DeploymentStatus", "conditions"): ("merge", "type"),
    ("EphemeralContainer", "env"): ("merge", "name"),
    ("EphemeralContainer", "ports"): ("merge", "containerPort"),
    ("EphemeralContainer", "volumeDevices"): ("merge", "devicePath"),
    ("EphemeralContainer", "volumeMounts"): ("merge", "mountPath"),
    ("EphemeralContainerCommon", "env"): ("merge", "name"),
    ("EphemeralContainerCommon", "ports"): ("merge", "containerPort"),
    ("EphemeralContainerCommon", "volumeDevices"): ("merge", "devicePath"),
    ("EphemeralContainerCommon", "volumeMounts"): ("merge", "mountPath"),
    ("JobSchedulingConfiguration", "resourceClaims"): ("merge", "name"),
    ("JobStatus", "conditions"): ("merge", "type"),
    ("MutatingAdmissionPolicySpec", "matchConditions"): ("merge", "name"),
    ("MutatingWebhook", "matchConditions"): ("merge", "name"),
    ("MutatingWebhookConfiguration", "webhooks"): ("merge", "name"),
    ("NamespaceStatus", "conditions"): ("merge", "type"),
    ("NodeAllocatableResourceClaimStatus", "mapping"): ("merge", "name"),
    ("NodeAllocatableResourceClaimStatus", "overhead"): ("merge", "name"),
    ("NodeSpec", "podCIDRs"): ("merge", ""),
    ("NodeStatus", "addresses"): ("merge", "type"),
    ("NodeStatus", "conditions"): ("merge", "type"),
    ("ObjectMeta", "finalizers"): ("merge", ""),
    ("ObjectMeta", "ownerReferences"): ("merge", "uid"),
    ("PersistentVolumeClaimStatus", "conditions"): ("merge", "type"),
    ("PodDisruptionBudgetSpec", "selector"): ("replace", ""),
    ("PodDisruptionBudgetStatus", "conditions"): ("merge", "type"),
    ("PodSpec", "containers"): ("merge", "name"),
    ("PodSpec", "ephemeralContainers"): ("merge", "name"),
    ("PodSpec", "evictionResponders"): ("merge", "name"),
    ("PodSpec", "hostAliases"): ("merge", "ip"),
    ("PodSpec", "imagePullSecrets"): ("merge", "name"),
    ("PodSpec", "initContainers"): ("merge", "name"),
    ("PodSpec", "resourceClaims"): ("merge,retainKeys", "name"),
    ("PodSpec", "schedulingGates"): ("merge", "name"),
    ("PodSpec", "topologySpreadConstraints"): ("merge", "topologyKey"),
    ("PodSpec", "volumes"): ("merge,retainKeys", "name"),
    ("PodStatus", "conditions"): ("merge", "type"),
    ("PodStatus", "hostIPs"): ("merge", "ip"),
    ("PodStatus", "nodeAllocatableResourceClaimStatuses"): ("merge", "resourceClaimName"),
    ("PodStatus", "podIPs"): ("merge", "ip"),
    ("PodStatus", "resourceClaimStatuses"): ("merge,retainKeys", "name"),
    ("PodVolumeHealth", "healthConditions"): ("merge", "status"),
    ("ReplicaSetStatus", "conditions"): ("merge", "type"),
    ("ReplicationControllerStatus", "conditions"): ("merge", "type"),
    ("ServiceAccount", "secrets"): ("merge", "name"),
    ("ServiceCIDRStatus", "conditions"): ("merge", "type"),
    ("ServiceSpec", "ports"): ("merge", "port"),
    ("ServiceStatus", "conditions"): ("merge", "type"),
    ("StatefulSetStatus", "conditions"): ("merge", "type"),
    ("ValidatingAdmissionPolicySpec", "matchConditions"): ("merge", "name"),
    ("ValidatingAdmissionPolicySpec", "variables"): ("merge", "name"),
    ("ValidatingWebhook", "matchConditions"): ("merge", "name"),
    ("ValidatingWebhookConfiguration", "webhooks"): ("merge", "name"),
    ("VolumeHealthStatus", "healthConditions"): ("merge", "status"),
}

# Server-side apply list metadata: the `+listType`/`+listMapKey` markers on the fields of
# the same types.go files: (type, JSON field) -> (list type, map keys).
LIST_META: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("APIGroup", "serverAddressByClientCIDRs"): ("atomic", ()),
    ("APIGroup", "versions"): ("atomic", ()),
    ("APIGroupList", "groups"): ("atomic", ()),
    ("APIResource", "categories"): ("atomic", ()),
    ("APIResource", "shortNames"): ("atomic", ()),
    ("APIResourceList", "resources"): ("atomic", ()),
    ("APIVersions", "serverAddressByClientCIDRs"): ("atomic", ()),
    ("APIVersions", "versions"): ("atomic", ()),
    ("AggregationRule", "clusterRoleSelectors"): ("atomic", ()),
    ("ApplyOptions", "dryRun"): ("atomic", ()),
    ("AvoidPods", "preferAvoidPods"): ("atomic", ()),
    ("CSIDriverSpec", "tokenRequests"): ("atomic", ()),
    ("CSIDriverSpec", "volumeLifecycleModes"): ("set", ()),
    ("CSINodeDriver", "topologyKeys"): ("atomic", ()),
    ("CSINodeSpec", "drivers"): ("map", ("name",)),
    ("CSINodeStatus", "storageHealth"): ("map", ("name",)),
    ("Capabilities", "add"): ("atomic", ()),
    ("Capabilities", "drop"): ("atomic", ()),
    ("CephFSPersistentVolumeSource", "monitors"): ("atomic", ()),
    ("CephFSVolumeSource", "monitors"): ("atomic", ()),
    ("ClusterRole", "rules"): ("atomic", ()),
    ("ClusterRoleBinding", "subjects"): ("atomic", ()),
    ("ComponentStatus", "conditions"): ("map", ("type",)),
    ("ConfigMapProjection", "items"): ("atomic", ()),
    ("ConfigMapVolumeSource", "items"): ("atomic", ()),
    ("Container", "args"): ("atomic", ()),
    ("Container", "command"): ("atomic", ()),
    ("Container", "env"): ("map", ("name",)),
    ("Container", "envFrom"): ("atomic", ()),
    ("Container", "ports"): ("map", ("containerPort", "protocol")),
    ("Container", "resizePolicy"): ("atomic", ()),
    ("Container", "restartPolicyRules"): ("atomic", ()),
    ("Container", "volumeDevices"): ("map", ("devicePath",)),
    ("Container", "volumeMounts"): ("map", ("mountPath",)),
    ("ContainerImage", "names"): ("atomic", ()),
    ("ContainerRestartRuleOnExitCodes", "values"): ("set", ()),
    ("ContainerStatus", "allocatedResourcesStatus"): ("map", ("name",)),
    ("ContainerStatus", "volumeMounts"): ("map", ("mountPath",)),
    ("CreateOptions", "dryRun"): ("atomic", ()),
    ("CronJobStatus", "active"): ("atomic", ()),
    ("DaemonSetStatus", "conditions"): ("map", ("type",)),
    ("DeleteOptions", "dryRun"): ("atomic", ()),
    ("DeploymentStatus", "conditions"): ("map", ("type",)),
    ("DownwardAPIProjection", "items"): ("atomic", ()),
    ("DownwardAPIVolumeSource", "items"): ("atomic", ()),
    ("Endpoint", "addresses"): ("set", ()),
    ("EndpointHints", "forNodes"): ("atomic", ()),
    ("EndpointHints", "forZones"): ("atomic", ()),
    ("EndpointSlice", "endpoints"): ("atomic", ()),
    ("EndpointSlice", "ports"): ("atomic", ()),
    ("EndpointSubset", "addresses"): ("atomic", ()),
    ("EndpointSubset", "notReadyAddresses"): ("atomic", ()),
    ("EndpointSubset", "ports"): ("atomic", ()),
    ("Endpoints", "subsets"): ("atomic", ()),
    ("EphemeralContainer", "args"): ("atomic", ()),
    ("EphemeralContainer", "command"): ("atomic", ()),
    ("EphemeralContainer", "env"): ("map", ("name",)),
    ("EphemeralContainer", "envFrom"): ("atomic", ()),
    ("EphemeralContainer", "ports"): ("map", ("containerPort", "protocol")),
    ("EphemeralContainer", "resizePolicy"): ("atomic", ()),
    ("EphemeralContainer", "restartPolicyRules"): ("atomic", ()),
    ("EphemeralContainer", "volumeDevices"): ("map", ("devicePath",)),
    ("EphemeralContainer", "volumeMounts"): ("map", ("mountPath",)),
    ("EphemeralContainerCommon", "args"): ("atomic", ()),
    ("EphemeralContainerCommon", "command"): ("atomic", ()),
    ("EphemeralContainerCommon", "env"): ("map", ("name",)),
    ("EphemeralContainerCommon", "envFrom"): ("atomic", ()),
    ("EphemeralContainerCommon", "ports"): ("map", ("containerPort", "protocol")),
    ("EphemeralContainerCommon", "resizePolicy"): ("atomic", ()),
    ("EphemeralContainerCommon", "restartPolicyRules"): ("atomic", ()),
    ("EphemeralContainerCommon", "volumeDevices"): ("map", ("devicePath",)),
    ("EphemeralContainerCommon", "volumeMounts"): ("map", ("mountPath",)),
    ("ExecAction", "command"): ("atomic", ()),
    ("FCVolumeSource", "targetWWNs"): ("atomic", ()),
    ("FCVolumeSource", "wwids"): ("atomic", ()),
    ("FieldSelectorAttributes", "requirements"): ("atomic", ()),
    ("FieldSelectorRequirement", "values"): ("atomic", ()),
    ("HTTPGetAction", "httpHeaders"): ("atomic", ()),
    ("HTTPIngressRuleValue", "paths"): ("atomic", ()),
    ("HostAlias", "hostnames"): ("atomic", ()),
    ("IPBlock", "except"): ("atomic", ()),
    ("ISCSIPersistentVolumeSource", "portals"): ("atomic", ()),
    ("ISCSIVolumeSource", "portals"): ("atomic", ()),
    ("IngressLoadBalancerIngress", "ports"): ("atomic", ()),
    ("IngressLoadBalancerStatus", "ingress"): ("atomic", ()),
    ("IngressSpec", "rules"): ("atomic", ()),
    ("IngressSpec", "tls"): ("atomic", ()),
    ("IngressTLS", "hosts"): ("atomic", ()),
    ("JobSchedulingConfiguration", "resourceClaims"): ("map", ("name",)),
    ("JobStatus", "conditions"): ("atomic", ()),
    ("LabelSelector", "matchExpressions"): ("atomic", ()),
    ("LabelSelectorAttributes", "requirements"): ("atomic", ()),
    ("LabelSelectorRequirement", "values"): ("atomic", ()),
    ("LimitRangeSpec", "limits"): ("atomic", ()),
    ("LinuxContainerUser", "supplementalGroups"): ("atomic", ()),
    ("LoadBalancerIngress", "ports"): ("atomic", ()),
    ("LoadBalancerStatus", "ingress"): ("atomic", ()),
    ("MatchResources", "excludeResourceRules"): ("atomic", ()),
    ("MatchResources", "resourceRules"): ("atomic", ()),
    ("MutatingAdmissionPolicySpec", "matchConditions"): ("map", ("name",)),
    ("MutatingAdmissionPolicySpec", "mutations"): ("atomic", ()),
    ("MutatingAdmissionPolicySpec", "variables"): ("atomic", ()),
    ("MutatingWebhook", "admissionReviewVersions"): ("atomic", ()),
    ("MutatingWebhook", "matchConditions"): ("map", ("name",)),
    ("MutatingWebhook", "rules"): ("atomic", ()),
    ("MutatingWebhookConfiguration", "webhooks"): ("map", ("name",)),
    ("NamedRuleWithOperations", "resourceNames"): ("atomic", ()),
    ("NamespaceSpec", "finalizers"): ("atomic", ()),
    ("NamespaceStatus", "conditions"): ("map", ("type",)),
    ("NetworkPolicyEgressRule", "ports"): ("atomic", ()),
    ("NetworkPolicyEgressRule", "to"): ("atomic", ()),
    ("NetworkPolicyIngressRule", "from"): ("atomic", ()),
    ("NetworkPolicyIngressRule", "ports"): ("atomic", ()),
    ("NetworkPolicySpec", "egress"): ("atomic", ()),
    ("NetworkPolicySpec", "ingress"): ("atomic", ()),
    ("NetworkPolicySpec", "policyTypes"): ("atomic", ()),
    ("NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): ("atomic", ()),
    ("NodeAllocatableResourceClaimStatus", "containers"): ("set", ()),
    ("NodeAllocatableResourceClaimStatus", "mapping"): ("map", ("name",)),
    ("NodeAllocatableResourceClaimStatus", "overhead"): ("map", ("name",)),
    ("NodePodPreemptionPolicy", "disableResizePreemption"): ("set", ()),
    ("NodeSelector", "nodeSelectorTerms"): ("atomic", ()),
    ("NodeSelectorRequirement", "values"): ("atomic", ()),
    ("NodeSelectorTerm", "matchExpressions"): ("atomic", ()),
    ("NodeSelectorTerm", "matchFields"): ("atomic", ()),
    ("NodeSpec", "podCIDRs"): ("set", ()),
    ("NodeSpec", "taints"): ("atomic", ()),
    ("NodeStatus", "addresses"): ("map", ("type",)),
    ("NodeStatus", "conditions"): ("map", ("type",)),
    ("NodeStatus", "declaredFeatures"): ("atomic", ()),
    ("NodeStatus", "images"): ("atomic", ()),
    ("NodeStatus", "runtimeHandlers"): ("atomic", ()),
    ("NodeStatus", "volumesAttached"): ("atomic", ()),
    ("NodeStatus", "volumesInUse"): ("atomic", ()),
    ("NonResourceRule", "nonResourceURLs"): ("atomic", ()),
    ("NonResourceRule", "verbs"): ("atomic", ()),
    ("ObjectMeta", "finalizers"): ("set", ()),
    ("ObjectMeta", "managedFields"): ("atomic", ()),
    ("ObjectMeta", "ownerReferences"): ("map", ("uid",)),
    ("PatchOptions", "dryRun"): ("atomic", ()),
    ("PersistentVolumeClaimSpec", "accessModes"): ("atomic", ()),
    ("PersistentVolumeClaimStatus", "accessModes"): ("atomic", ()),
    ("PersistentVolumeClaimStatus", "conditions"): ("map", ("type",)),
    ("PersistentVolumeSpec", "accessModes"): ("atomic", ()),
    ("PersistentVolumeSpec", "mountOptions"): ("atomic", ()),
    ("PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): ("atomic", ()),
    ("PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution"): ("atomic", ()),
    ("PodAffinityTerm", "matchLabelKeys"): ("atomic", ()),
    ("PodAffinityTerm", "mismatchLabelKeys"): ("atomic", ()),
    ("PodAffinityTerm", "namespaces"): ("atomic", ()),
    ("PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): ("atomic", ()),
    ("PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"): ("atomic", ()),
    ("PodDNSConfig", "nameservers"): ("atomic", ()),
    ("PodDNSConfig", "options"): ("atomic", ()),
    ("PodDNSConfig", "searches"): ("atomic", ()),
    ("PodDisruptionBudgetStatus", "conditions"): ("map", ("type",)),
    ("PodExecOptions", "command"): ("atomic", ()),
    ("PodExtendedResourceClaimStatus", "requestMappings"): ("atomic", ()),
    ("PodFailurePolicy", "rules"): ("atomic", ()),
    ("PodFailurePolicyOnExitCodesRequirement", "values"): ("set", ()),
    ("PodFailurePolicyRule", "onPodConditions"): ("atomic", ()),
    ("PodPortForwardOptions", "ports"): ("atomic", ()),
    ("PodSecurityContext", "supplementalGroups"): ("atomic", ()),
    ("PodSecurityContext", "sysctls"): ("atomic", ()),
    ("PodSpec", "containers"): ("map", ("name",)),
    ("PodSpec", "ephemeralContainers"): ("map", ("name",)),
    ("PodSpec", "evictionResponders"): ("map", ("name",)),
    ("PodSpec", "hostAliases"): ("map", ("ip",)),
    ("PodSpec", "imagePullSecrets"): ("map", ("name",)),
    ("PodSpec", "initContainers"): ("map", ("name",)),
    ("PodSpec", "readinessGates"): ("atomic", ()),
    ("PodSpec", "resourceClaims"): ("map", ("name",)),
    ("PodSpec", "schedulingGates"): ("map", ("name",)),
    ("PodSpec", "tolerations"): ("atomic", ()),
    ("PodSpec", "topologySpreadConstraints"): ("map", ("topologyKey", "whenUnsatisfiable")),
    ("PodSpec", "volumes"): ("map", ("name",)),
    ("PodStatus", "conditions"): ("map", ("type",)),
    ("PodStatus", "containerStatuses"): ("atomic", ()),
    ("PodStatus", "ephemeralContainerStatuses"): ("atomic", ()),
    ("PodStatus", "hostIPs"): ("atomic", ()),
    ("PodStatus", "initContainerStatuses"): ("atomic", ()),
    ("PodStatus", "nodeAllocatableResourceClaimStatuses"): ("map", ("resourceClaimName",)),
    ("PodStatus", "podIPs"): ("map", ("ip",)),
    ("PodStatus", "resourceClaimStatuses"): ("map", ("name",)),
    ("PodStatus", "volumeHealth"): ("map", ("name",)),
    ("PodVolumeHealth", "healthConditions"): ("map", ("status", "reason")),
    ("PolicyRule", "apiGroups"): ("atomic", ()),
    ("PolicyRule", "nonResourceURLs"): ("atomic", ()),
    ("PolicyRule", "resourceNames"): ("atomic", ()),
    ("PolicyRule", "resources"): ("atomic", ()),
    ("PolicyRule", "verbs"): ("atomic", ()),
    ("ProjectedVolumeSource", "sources"): ("atomic", ()),
    ("RBDPersistentVolumeSource", "monitors"): ("atomic", ()),
    ("RBDVolumeSource", "monitors"): ("atomic", ()),
    ("ReplicaSetStatus", "conditions"): ("map", ("type",)),
    ("ReplicationControllerStatus", "conditions"): ("map", ("type",)),
    ("ResourceQuotaSpec", "scopes"): ("atomic", ()),
    ("ResourceRequirements", "claims"): ("map", ("name",)),
    ("ResourceRule", "apiGroups"): ("atomic", ()),
    ("ResourceRule", "resourceNames"): ("atomic", ()),
    ("ResourceRule", "resources"): ("atomic", ()),
    ("ResourceRule", "verbs"): ("atomic", ()),
    ("ResourceStatus", "resources"): ("map", ("resourceID",)),
    ("Role", "rules"): ("atomic", ()),
    ("RoleBinding", "subjects"): ("atomic", ()),
    ("RootPaths", "paths"): ("atomic", ()),
    ("Rule", "apiGroups"): ("atomic", ()),
    ("Rule", "apiVersions"): ("atomic", ()),
    ("Rule", "resources"): ("atomic", ()),
    ("RuleWithOperations", "operations"): ("atomic", ()),
    ("ScopeSelector", "matchExpressions"): ("atomic", ()),
    ("ScopedResourceSelectorRequirement", "values"): ("atomic", ()),
    ("SecretProjection", "items"): ("atomic", ()),
    ("SecretVolumeSource", "items"): ("atomic", ()),
    ("ServiceAccount", "imagePullSecrets"): ("atomic", ()),
    ("ServiceAccount", "secrets"): ("map", ("name",)),
    ("ServiceCIDRSpec", "cidrs"): ("atomic", ()),
    ("ServiceCIDRStatus", "conditions"): ("map", ("type",)),
    ("ServiceSpec", "clusterIPs"): ("atomic", ()),
    ("ServiceSpec", "externalIPs"): ("atomic", ()),
    ("ServiceSpec", "ipFamilies"): ("atomic", ()),
    ("ServiceSpec", "loadBalancerSourceRanges"): ("atomic", ()),
    ("ServiceSpec", "ports"): ("map", ("port", "protocol")),
    ("ServiceStatus", "conditions"): ("map", ("type",)),
    ("StatefulSetSpec", "volumeClaimTemplates"): ("atomic", ()),
    ("StatefulSetStatus", "conditions"): ("map", ("type",)),
    ("StatusDetails", "causes"): ("atomic", ()),
    ("StorageClass", "allowedTopologies"): ("atomic", ()),
    ("StorageClass", "mountOptions"): ("atomic", ()),
    ("StorageHealth", "healthConditions"): ("atomic", ()),
    ("SubjectAccessReviewSpec", "groups"): ("atomic", ()),
    ("SubjectRulesReviewStatus", "nonResourceRules"): ("atomic", ()),
    ("SubjectRulesReviewStatus", "resourceRules"): ("atomic", ()),
    ("SuccessPolicy", "rules"): ("atomic", ()),
    ("Table", "columnDefinitions"): ("atomic", ()),
    ("Table", "rows"): ("atomic", ()),
    ("TableRow", "cells"): ("atomic", ()),
    ("TableRow", "conditions"): ("atomic", ()),
    ("TokenRequestSpec", "audiences"): ("atomic", ()),
    ("TokenReviewSpec", "audiences"): ("atomic", ()),
    ("TokenReviewStatus", "audiences"): ("atomic", ()),
    ("TopologySelectorLabelRequirement", "values"): ("atomic", ()),
    ("TopologySelectorTerm", "matchLabelExpressions"): ("atomic", ()),
    ("TopologySpreadConstraint", "matchLabelKeys"): ("atomic", ()),
    ("TypeChecking", "expressionWarnings"): ("atomic", ()),
    ("UncountedTerminatedPods", "failed"): ("set", ()),
    ("UncountedTerminatedPods", "succeeded"): ("set", ()),
    ("UpdateOptions", "dryRun"): ("atomic", ()),
    ("UserInfo", "groups"): ("atomic", ()),
    ("ValidatingAdmissionPolicyBindingSpec", "validationActions"): ("set", ()),
    ("ValidatingAdmissionPolicySpec", "auditAnnotations"): ("atomic", ()),
    ("ValidatingAdmissionPolicySpec", "matchConditions"): ("map", ("name",)),
    ("ValidatingAdmissionPolicySpec", "validations"): ("atomic", ()),
    ("ValidatingAdmissionPolicySpec", "variables"): ("map", ("name",)),
    ("ValidatingAdmissionPolicyStatus", "conditions"): ("map", ("type",)),
    ("ValidatingWebhook", "admissionReviewVersions"): ("atomic", ()),
    ("ValidatingWebhook", "matchConditions"): ("map", ("name",)),
    ("ValidatingWebhook", "rules"): ("atomic", ()),
    ("ValidatingWebhookConfiguration", "webhooks"): ("map", ("name",)),
    ("VolumeHealthStatus", "healthConditions"): ("map", ("status", "reason")),
    ("VolumeMount", "bindMountOptions"): ("set", ()),
}


# Core kinds whose nested types other groups reuse (PodTemplateSpec, ObjectReference,
# PersistentVolumeClaim templates, TopologySelectorTerm, ...).
_CORE_SEED_KINDS = (
    "PodTemplate",
    "Service",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Endpoints",
    "Event",
    "ReplicationController",
    "ResourceQuota",
    "LimitRange",
    "Secret",
    "ServiceAccount",
    "Binding",
    "TopologySelectorTerm",
    "TypedObjectReference",
)


@dataclass(frozen=True)
class _Model:
    """One client model class with its upstream definition name."""

    cls: type
    definition: str


def _version_prefix(version: str) -> str:
    return version[:1].upper() + version[1:]


def _package(group: str, version: str) -> str:
    if group in _GROUP_PACKAGE:
        return f"{_GROUP_PACKAGE[group]}.{version}"
    return f"io.k8s.api.{group.split('.')[0]}.{version}"


def _split_class_name(name: str) -> tuple[str | None, str, str]:
    """`CoreV1Event` -> ("", "v1", "Event"); `V1Pod` -> (None, "v1", "Pod")."""
    group: str | None = None
    for prefix, g in _CLIENT_PREFIXES.items():
        if name.startswith(prefix) and re.match(r"V\d", name[len(prefix) :]):
            group, name = g, name[len(prefix) :]
            break
    m = re.match(r"V(\d+(?:(?:alpha|beta)\d+)?)(.+)$", name)
    if not m:
        return group, "", name
    return group, f"v{m.group(1)}", m.group(2)


def client_class_for(group: str, version: str, kind: str) -> type | None:
    """The `kubernetes` client model class of a built-in kind, or None."""
    vp = _version_prefix(version)
    candidates = [f"{vp}{kind}"]
    for prefix, g in _CLIENT_PREFIXES.items():
        if g == group:
            candidates.insert(0, f"{prefix}{vp}{kind}")
    for name in candidates:
        cls = getattr(client_models, name, None)
        if isinstance(cls, type) and hasattr(cls, "openapi_types"):
            return cls
    return None


def _type_names(type_string: str) -> list[str]:
    return re.findall(r"[A-Z][A-Za-z0-9]*V\d\w*|V\d\w*", type_string)


class SchemaCatalogue:
    """OpenAPI definitions for a set of built-in kinds, keyed by upstream name.

    Built from the client models reachable from the kinds; `definitions` holds JSON
    schema dicts with `$ref`s of the form `#/definitions/NAME`.
    """

    def __init__(self, kinds: tuple[ResourceType, ...]) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self._models: dict[str, _Model] = {}  # client class name -> model
        self.by_gvk: dict[tuple[str, str, str], str] = {}
        roots: list[tuple[type, str, str, str]] = []
        # Core kinds first so shared types (PodTemplateSpec, ...) get the core package.
        for rt in sorted(kinds, key=lambda r: (r.group != "", r.group, r.kind)):
            if rt.custom:
                continue
            cls = client_class_for(rt.group, rt.version, rt.kind)
            if cls is None:
                continue
            roots.append((cls, rt.group, rt.version, rt.kind))
            list_cls = client_class_for(rt.group, rt.version, rt.list_kind_name())
            if list_cls is not None:
                roots.append((list_cls, rt.group, rt.version, rt.list_kind_name()))
        # Types shared across groups live in core/v1 upstream: reach them from the core
        # kinds before any other group's kind can claim them.
        for kind in _CORE_SEED_KINDS:
            seed = client_class_for("", "v1", kind)
            if seed is not None:
                self._assign(seed, _package("", "v1"))
        for extra in ("V1Status", "V1DeleteOptions"):
            self._assign(getattr(client_models, extra), META_PACKAGE)
        for cls, group, version, kind in roots:
            name = self._assign(cls, _package(group, version))
            self.by_gvk[(group, version, kind)] = name
        self._build_all()
        self._add_hand_written(kinds)
        for (group, version, kind), name in self.by_gvk.items():
            self.definitions[name]["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": kind, "version": version}
            ]
        # The v3 shapes upstream serves (no `type`, so `kubectl explain` names them
        # IntOrString / Quantity); the v2 document swaps in V2_SPECIAL_DEFINITIONS.
        self.definitions[INTSTR] = {
            "description": INTSTR_DESCRIPTION,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }
        self.definitions[QUANTITY] = {
            "description": QUANTITY_DESCRIPTION,
            "oneOf": [{"type": "string"}, {"type": "number"}],
        }

    def _add_hand_written(self, kinds: tuple[ResourceType, ...]) -> None:
        """Kinds the client package has no models for (metrics.k8s.io)."""
        from app.sim.apiserver.metrics_schema import CONTAINER_METRICS, DEFINITIONS

        for rt in kinds:
            for kind in (rt.kind, rt.list_kind_name()):
                found = DEFINITIONS.get((rt.group, rt.version, kind))
                if found is not None:
                    self.definitions[found[0]] = found[1]
                    self.by_gvk[(rt.group, rt.version, kind)] = found[0]
                    self.definitions[CONTAINER_METRICS[0]] = CONTAINER_METRICS[1]

    def _assign(self, cls: type, package: str) -> str:
        """Give `cls` and every model it reaches a definition name (first package wins)."""
        stack = [(cls, package)]
        first = ""
        while stack:
            c, pkg = stack.pop()
            if c.__name__ in self._models:
                if not first:
                    first = self._models[c.__name__].definition
                continue
            group, version, short = _split_class_name(c.__name__)
            if short in META_TYPES and version == "v1":
                own_pkg = META_PACKAGE
            elif group is not None:
                own_pkg = _package(group, version or "v1")
            else:
                own_pkg = pkg
            name = f"{own_pkg}.{short}"
            self._models[c.__name__] = _Model(c, name)
            if not first:
                first = name
            for type_string in c.openapi_types.values():
                for ref in _type_names(type_string):
                    ref_cls = getattr(client_models, ref, None)
                    if isinstance(ref_cls, type) and ref not in self._models:
                        stack.append((ref_cls, own_pkg))
        return first

    def _build_all(self) -> None:
        for model in self._models.values():
            self.definitions[model.definition] = self._definition(model)

    def _definition(self, model: _Model) -> dict[str, Any]:
        cls = model.cls
        short = model.definition.rsplit(".", 1)[1]
        props: dict[str, Any] = {}
        required: list[str] = []
        fields = getattr(cls, "model_fields", {})
        int_widths = _proto_int_widths(model.definition)
        for attr, type_string in cls.openapi_types.items():
            json_name = cls.attribute_map.get(attr, attr)
            info = fields.get(attr)
            prop = self._property(short, json_name, type_string, info)
            width = int_widths.get(json_name)
            if width and prop.get("type") == "integer":
                prop["format"] = width
            elif width and prop.get("type") == "array" and prop["items"].get("type") == "integer":
                prop["items"]["format"] = width
            description = info.description if info is not None else None
            prop_description = description or self._fallback_description(json_name, type_string)
            if prop_description:
                prop["description"] = prop_description
            props[json_name] = prop
            if info is not None and info.is_required():
                required.append(json_name)
        out: dict[str, Any] = {"type": "object", "properties": props}
        doc = _class_description(cls)
        if doc:
            out["description"] = doc
        if required:
            out["required"] = required
        return out

    def _fallback_description(self, json_name: str, type_string: str) -> str:
        """A description for a field the client model leaves undescribed (it drops the
        text of fields that reference another model): ours for the standard
        metadata/spec/status fields, else the referenced type's own description."""
        if json_name in GENERIC_DESCRIPTIONS:
            return GENERIC_DESCRIPTIONS[json_name]
        names = _type_names(type_string)
        model = self._models.get(names[0]) if names else None
        if model is None:
            return ""
        return _class_description(model.cls)

    def _property(self, owner: str, json_name: str, type_string: str, info: Any) -> dict:
        prop = self._type_schema(type_string, info)
        if json_name in _QUANTITY_MAPS.get(owner, ()):
            prop = {"type": "object", "additionalProperties": {"$ref": REF_PREFIX + QUANTITY}}
        elif json_name in _QUANTITY_FIELDS.get(owner, ()):
            prop = {"$ref": REF_PREFIX + QUANTITY}
        patch = PATCH_META.get((owner, json_name))
        if patch:
            prop["x-kubernetes-patch-strategy"] = patch[0]
            if patch[1]:
                prop["x-kubernetes-patch-merge-key"] = patch[1]
        listing = LIST_META.get((owner, json_name))
        if listing:
            prop["x-kubernetes-list-type"] = listing[0]
            if listing[1]:
                prop["x-kubernetes-list-map-keys"] = list(listing[1])
        return prop

    def _type_schema(self, type_string: str, info: Any = None) -> dict[str, Any]:
        m = re.fullmatch(r"List\[(.+)\]", type_string)
        if m:
            return {"type": "array", "items": self._type_schema(m.group(1))}
        m = re.fullmatch(r"Dict\[str, (.+)\]", type_string)
        if m:
            return {"type": "object", "additionalProperties": self._type_schema(m.group(1))}
        simple = {
            "str": {"type": "string"},
            "int": {"type": "integer", "format": "int64"},
            "float": {"type": "number", "format": "double"},
            "bool": {"type": "boolean"},
            "datetime": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"},
            "bytes": {"type": "string", "format": "byte"},
        }
        if type_string in simple:
            return dict(simple[type_string])
        if type_string == "object":
            if info is not None and _is_int_or_string(info.annotation):
                return {"$ref": REF_PREFIX + INTSTR}
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        model = self._models.get(type_string)
        if model is None:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"$ref": REF_PREFIX + model.definition}

    def definition_for(self, group: str, version: str, kind: str) -> str | None:
        return self.by_gvk.get((group, version, kind))

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow a `$ref` (if any) to its definition."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            return self.definitions.get(ref[len(REF_PREFIX) :], {})
        return schema


def _class_description(cls: type) -> str:
    """The first paragraph of a client model's docstring (its upstream description)."""
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].strip()
    if not doc or doc.startswith("Attributes:"):
        return ""
    return " ".join(doc.split())


def _proto_int_widths(definition: str) -> dict[str, str]:
    """JSON field -> `int32`/`int64` from the protobuf table: the client models type
    every integer as `int`, upstream's OpenAPI gives each its Go width."""
    message = definition.replace("io.k8s.api.", "", 1).replace(f"{META_PACKAGE}.", "meta.v1.")
    spec = PROTO_MESSAGES.get(message)
    if spec is None:
        return {}
    out = {}
    for entry in spec.split(";"):
        _number, name, type_ = entry.split()
        if type_.lstrip("*") in ("int32", "int64"):
            out[name] = type_.lstrip("*")
    return out


def _is_int_or_string(annotation: Any) -> bool:
    args = {a for a in _flatten_annotation(annotation)}
    return int in args and str in args


def _flatten_annotation(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _flatten_annotation(typing.get_args(annotation)[0])
    elif origin is typing.Union:
        for arg in typing.get_args(annotation):
            yield from _flatten_annotation(arg)
    else:
        yield annotation


@functools.cache
def catalogue(kinds: tuple[ResourceType, ...] | None = None) -> SchemaCatalogue:
    """The process-wide catalogue for `kinds` (default: every built-in kind), cached."""
    return SchemaCatalogue(BUILTIN_TYPES if kinds is None else kinds)


def builtin_catalogue(registry: ResourceRegistry | None = None) -> SchemaCatalogue:
    """The catalogue of the built-in kinds of `registry` (CRDs are ignored), cached."""
    if registry is None:
        return catalogue()
    return catalogue(tuple(sorted((rt for rt in registry if not rt.custom), key=_rt_key)))


def _rt_key(rt: ResourceType) -> tuple[str, str, str]:
    return (rt.group, rt.version, rt.plural)


def model_for(
    api_version: str, kind: str, registry: ResourceRegistry | None = None
) -> type | dict[str, Any] | None:
    """The client model class of a built-in kind, or a CRD's openAPIV3Schema dict.

    Returns None when the kind is unknown (or a CRD version has no schema).
    """
    group, _, version = api_version.rpartition("/")
    if registry is not None:
        rt = registry.by_kind(api_version, kind)
        if rt is not None and rt.custom:
            return rt.schema
    return client_class_for(group, version, kind)


def schema_for(
    api_version: str, kind: str, registry: ResourceRegistry | None = None
) -> tuple[dict[str, Any], SchemaCatalogue] | None:
    """The root schema of a kind and the catalogue its `$ref`s resolve in, or None.

    Built-in kinds come from the client models; CRDs from their `openAPIV3Schema`
    (with apiVersion/kind/metadata added as upstream does).
    """
    group, _, version = api_version.rpartition("/")
    cat = builtin_catalogue(registry)
    rt = registry.by_kind(api_version, kind) if registry is not None else None
    if rt is not None and rt.custom:
        if rt.schema is None:
            return None
        return crd_root_schema(rt.schema), cat
    name = cat.definition_for(group, version, kind)
    if name is None:
        cls = client_class_for(group, version, kind)
        if cls is None:
            return None
        # A kind outside the catalogue's roots (e.g. asked before CORE registered it).
        cat = catalogue(
            (
                ResourceType(
                    group=group,
                    version=version,
                    kind=kind,
                    plural="",
                    singular="",
                    namespaced=True,
                ),
            )
        )
        name = cat.definition_for(group, version, kind)
        if name is None:
            return None
    return cat.definitions[name], cat


def crd_root_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema with the standard object fields filled in."""
    root = dict(schema) if isinstance(schema, dict) else {}
    props = root.get("properties")
    props = dict(props) if isinstance(props, dict) else {}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"$ref": f"{REF_PREFIX}{META_PACKAGE}.ObjectMeta"})
    root["properties"] = props
    root.setdefault("type", "object")
    return root


def unknown_fields(
    obj: dict[str, Any], api_version: str, kind: str, registry: ResourceRegistry | None = None
) -> list[str]:
    """Paths of fields in `obj` that the kind's schema does not declare.

    Paths are written as upstream's strict decoding errors write them:
    `spec.foo`, `spec.containers[0].bar`. An unknown kind yields no paths (the caller
    rejects unknown kinds on its own).
    """
    found = schema_for(api_version, kind, registry)
    if found is None:
        return []
    root, cat = found
    out: list[str] = []
    _walk_unknown(obj, root, cat, "", out, depth=0)
    return out


def _walk_unknown(
    value: Any, schema: dict[str, Any], cat: SchemaCatalogue, path: str, out: list[str], depth: int
) -> None:
    if depth > 64:
        return
    schema = cat.resolve(schema)
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        if props is None and additional is None:
            return
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                _walk_unknown(sub, props[key], cat, sub_path, out, depth + 1)
            elif isinstance(additional, dict):
                _walk_unknown(sub, additional, cat, sub_path, out, depth + 1)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                out.append(sub_path)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk_unknown(item, items, cat, f"{path}[{i}]", out, depth + 1)


def field_schema(
    api_version: str, kind: str, path: list[str], registry: ResourceRegistry | None = None
) -> dict[str, Any] | None:
    """The resolved schema at a field path (`["spec", "containers"]`), or None.

    Array fields step into their items for the following segment, as `kubectl explain`
    does (`pod.spec.containers.ports`).
    """
    found = schema_for(api_version, kind, registry)
    if found is None:
        return None
    schema, cat = found
    schema = cat.resolve(schema)
    for segment in path:
        while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            schema = cat.resolve(schema["items"])
        props = schema.get("properties") or {}
        if segment not in props:
            return None
        schema = cat.resolve(props[segment])
    return schema


def patch_meta(type_name: str, field: str) -> tuple[str, str] | None:
    """(patch strategy, merge key) of a field of a type (`("PodSpec", "containers")`)."""
    return PATCH_META.get((type_name, field))


def list_meta(type_name: str, field: str) -> tuple[str, tuple[str, ...]] | None:
    """(list type, map keys) of a list field, for server-side apply."""
    return LIST_META.get((type_name, field))


def field_patch_meta(
    api_version: str, kind: str, path: list[str], registry: ResourceRegistry | None = None
) -> dict[str, Any]:
    """The `x-kubernetes-*` patch/list extensions of the field at `path` (may be empty).

    Unlike `field_schema` this keeps the property's own extensions, which sit beside
    the `$ref` rather than in the referenced definition.
    """
    found = schema_for(api_version, kind, registry)
    if found is None or not path:
        return {}
    schema, cat = found
    schema = cat.resolve(schema)
    prop: dict[str, Any] = {}
    for segment in path:
        while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            schema = cat.resolve(schema["items"])
        props = schema.get("properties") or {}
        if segment not in props:
            return {}
        prop = props[segment]
        schema = cat.resolve(prop)
    return {k: v for k, v in prop.items() if k.startswith("x-kubernetes-")}

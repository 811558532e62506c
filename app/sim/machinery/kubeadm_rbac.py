"""The RBAC objects `kubeadm init` and kube-controller-manager's bootstrap policy add to
a fresh cluster, beside the API server's bootstrap roles (apiserver/rbac.py):

- kubeadm's (cmd/kubeadm/app/phases/bootstraptoken/clusterinfo, .../node, .../addons):
  `kubeadm:get-nodes`, `kubeadm:kubelet-bootstrap`,
  `kubeadm:node-autoapprove-bootstrap`, `kubeadm:node-autoapprove-certificate-rotation`,
  `kubeadm:node-proxier`, `kubeadm:cluster-admins`; in kube-system the Roles
  `kubeadm:nodes-kubeadm-config`, `kubeadm:kubelet-config` and `kube-proxy`; in
  kube-public `kubeadm:bootstrap-signer-clusterinfo`;
- the CSR ClusterRoles those bindings name;
- one ServiceAccount per controller in kube-system (`--use-service-account-credentials`,
  which kubeadm sets), its ClusterRole `system:controller:<name>` and binding
  (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go).

Pure data: `objects()` returns (group, plural, object) triples.
"""

from __future__ import annotations

from typing import Any

RBAC = "rbac.authorization.k8s.io"
BOOTSTRAPPERS = "system:bootstrappers:kubeadm:default-node-token"
CSR_GROUP = "certificates.k8s.io"

Rule = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # groups, resources, verbs
_RW = ("create", "delete", "get", "list", "patch", "update", "watch")
_READ = ("get", "list", "watch")
_UPD = ("update",)
_CSR_SUBRESOURCES = ("certificatesigningrequests/approval", "certificatesigningrequests/status")
_EVENTS: Rule = (("", "events.k8s.io"), ("events",), ("create", "patch", "update"))

# Controller service accounts and the core of their bootstrap ClusterRoles.
CONTROLLERS: dict[str, tuple[Rule, ...]] = {
    "attachdetach-controller": (
        (("",), ("persistentvolumes", "persistentvolumeclaims", "nodes", "pods"), _READ),
        (("storage.k8s.io",), ("volumeattachments",), _RW),
    ),
    "bootstrap-signer": (),
    "certificate-controller": (
        ((CSR_GROUP,), ("certificatesigningrequests",), ("delete", "get", "list", "watch")),
        ((CSR_GROUP,), _CSR_SUBRESOURCES, ("update",)),
        ((CSR_GROUP,), ("signers",), ("approve", "sign")),
    ),
    "clusterrole-aggregation-controller": (((RBAC,), ("clusterroles",), ("escalate", *_RW[1:])),),
    "cronjob-controller": (
        (("batch",), ("cronjobs",), ("get", "list", "update", "watch")),
        (("batch",), ("jobs",), _RW),
        (("batch",), ("cronjobs/status", "cronjobs/finalizers"), ("update",)),
        (("",), ("pods",), ("delete", "list")),
    ),
    "daemon-set-controller": (
        (("apps", "extensions"), ("daemonsets",), _READ),
        (("apps", "extensions"), ("daemonsets/status", "daemonsets/finalizers"), ("update",)),
        (("",), ("nodes",), _READ),
        (("",), ("pods",), ("create", "delete", "list", "patch", "watch")),
        (("",), ("pods/binding",), ("create",)),
        (("apps",), ("controllerrevisions",), _RW),
    ),
    "deployment-controller": (
        (("apps", "extensions"), ("deployments",), ("get", "list", "update", "watch")),
        (("apps", "extensions"), ("deployments/status", "deployments/finalizers"), ("update",)),
        (("apps", "extensions"), ("replicasets",), _RW),
        (("",), ("pods",), ("get", "list", "update", "watch")),
    ),
    "disruption-controller": (
        (("apps", "extensions"), ("deployments", "replicasets", "statefulsets"), _READ),
        (("",), ("replicationcontrollers", "pods"), _READ),
        (("policy",), ("poddisruptionbudgets",), _READ),
        (("policy",), ("poddisruptionbudgets/status",), ("update",)),
    ),
    "endpoint-controller": (
        (("",), ("services", "pods"), _READ),
        (("",), ("endpoints",), ("create", "delete", "get", "list", "update")),
        (("",), ("endpoints/restricted",), ("create",)),
    ),
    "endpointslice-controller": (
        (("",), ("services", "pods", "nodes"), _READ),
        (("discovery.k8s.io",), ("endpointslices",), ("create", "delete", "get", "list", "update")),
    ),
    "endpointslicemirroring-controller": (
        (("",), ("services", "endpoints"), _READ),
        (("discovery.k8s.io",), ("endpointslices",), ("create", "delete", "get", "list", "update")),
    ),
    "ephemeral-volume-controller": (
        (("",), ("pods",), ("get", "list", "watch")),
        (("",), ("persistentvolumeclaims",), ("create", "get", "list", "watch")),
    ),
    "expand-controller": (
        (("",), ("persistentvolumes",), ("get", "list", "patch", "update", "watch")),
        (("",), ("persistentvolumeclaims/status",), ("patch", "update")),
        (("",), ("persistentvolumeclaims",), _READ),
        (("storage.k8s.io",), ("storageclasses",), _READ),
    ),
    "generic-garbage-collector": (
        (("*",), ("*",), ("delete", "get", "list", "patch", "update", "watch")),
    ),
    "horizontal-pod-autoscaler": (
        (("autoscaling",), ("horizontalpodautoscalers",), _READ),
        (("autoscaling",), ("horizontalpodautoscalers/status",), ("update",)),
        (("*",), ("*/scale",), ("get", "update")),
        (("",), ("pods",), ("list",)),
        (("metrics.k8s.io",), ("pods",), ("list",)),
    ),
    "job-controller": (
        (("batch",), ("jobs",), ("get", "list", "patch", "update", "watch")),
        (("batch",), ("jobs/status", "jobs/finalizers"), ("update", "patch")),
        (("",), ("pods",), ("create", "delete", "list", "patch", "watch")),
    ),
    "legacy-service-account-token-cleaner": (
        (("",), ("configmaps",), ("get",)),
        (("",), ("secrets",), ("delete", "patch")),
    ),
    "namespace-controller": (
        (("",), ("namespaces",), ("delete", "get", "list", "watch")),
        (("",), ("namespaces/finalize", "namespaces/status"), ("update",)),
        (("*",), ("*",), ("delete", "deletecollection", "get", "list")),
    ),
    "node-controller": (
        (("",), ("nodes",), ("delete", "get", "list", "patch", "update")),
        (("",), ("nodes/status",), ("patch", "update")),
        (("",), ("pods/status",), ("patch", "update")),
        (("",), ("pods",), ("delete", "list")),
    ),
    "persistent-volume-binder": (
        (("",), ("persistentvolumes",), ("create", "delete", "get", "list", "update", "watch")),
        (("",), ("persistentvolumes/status", "persistentvolumeclaims/status"), ("update",)),
        (("",), ("persistentvolumeclaims",), ("get", "list", "update", "watch")),
        (("storage.k8s.io",), ("storageclasses",), _READ),
    ),
    "pod-garbage-collector": (
        (("",), ("pods",), ("delete", "list", "watch")),
        (("",), ("nodes",), ("get", "list")),
        (("",), ("pods/status",), ("patch",)),
    ),
    "pv-protection-controller": ((("",), ("persistentvolumes",), (*_READ, "update")),),
    "pvc-protection-controller": (
        (("",), ("persistentvolumeclaims",), ("get", "list", "update", "watch")),
        (("",), ("pods",), _READ),
    ),
    "replicaset-controller": (
        (("apps", "extensions"), ("replicasets",), ("get", "list", "update", "watch")),
        (("apps", "extensions"), ("replicasets/status", "replicasets/finalizers"), ("update",)),
        (("",), ("pods",), ("create", "delete", "list", "patch", "watch")),
    ),
    "replication-controller": (
        (("",), ("replicationcontrollers",), ("get", "list", "update", "watch")),
        (("",), ("replicationcontrollers/status", "replicationcontrollers/finalizers"), _UPD),
        (("",), ("pods",), ("create", "delete", "list", "patch", "watch")),
    ),
    "resourcequota-controller": (
        (("*",), ("*",), ("list", "watch")),
        (("",), ("resourcequotas/status",), ("update",)),
    ),
    "root-ca-cert-publisher": (
        (("",), ("configmaps",), ("create", "update")),
    ),
    "service-account-controller": ((("",), ("serviceaccounts",), ("create",)),),
    "statefulset-controller": (
        (("",), ("pods",), ("list", "watch")),
        (("apps",), ("statefulsets",), _READ),
        (("apps",), ("statefulsets/status", "statefulsets/finalizers"), ("update",)),
        (("",), ("pods",), ("create", "delete", "get", "patch", "update")),
        (("apps",), ("controllerrevisions",), _RW),
        (("",), ("persistentvolumeclaims",), ("create", "get")),
    ),
    "token-cleaner": (),
    "ttl-after-finished-controller": ((("batch",), ("jobs",), ("delete", "get", "list", "watch")),),
    "ttl-controller": ((("",), ("nodes",), ("list", "patch", "update", "watch")),),
    "validatingadmissionpolicy-status-controller": (
        (("admissionregistration.k8s.io",), ("validatingadmissionpolicies",), _READ),
        (("admissionregistration.k8s.io",), ("validatingadmissionpolicies/status",), _UPD),
    ),
}  # fmt: skip


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if name.startswith("system:"):
        meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
        meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    return meta


def _rules(rules: tuple[Rule, ...]) -> list[dict[str, Any]]:
    return [
        {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
        for groups, resources, verbs in rules
    ]


def _role(kind: str, name: str, rules: tuple[Rule, ...], ns: str | None = None) -> dict:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": _meta(name, ns),
        "rules": _rules(rules),
    }


def _binding(
    kind: str, name: str, role_kind: str, role: str, subjects: list[dict], ns: str | None = None
) -> dict:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _group(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def _sa(name: str, namespace: str = "kube-system") -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _cluster_objects() -> list[tuple[str, str, dict[str, Any]]]:
    csr = "system:certificates.k8s.io:certificatesigningrequests"
    roles = [
        _role("ClusterRole", "kubeadm:get-nodes", ((("",), ("nodes",), ("get",)),)),
        _role(
            "ClusterRole",
            "system:node-bootstrapper",
            (((CSR_GROUP,), ("certificatesigningrequests",), ("create", "get", "list", "watch")),),
        ),
        _role(
            "ClusterRole",
            f"{csr}:nodeclient",
            (((CSR_GROUP,), ("certificatesigningrequests/nodeclient",), ("create",)),),
        ),
        _role(
            "ClusterRole",
            f"{csr}:selfnodeclient",
            (((CSR_GROUP,), ("certificatesigningrequests/selfnodeclient",), ("create",)),),
        ),
        _role(
            "ClusterRole",
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            (((CSR_GROUP,), ("signers",), ("approve",)),),
        ),
        _role(
            "ClusterRole",
            "system:certificates.k8s.io:kubelet-serving-approver",
            (((CSR_GROUP,), ("signers",), ("approve",)),),
        ),
    ]
    bindings = [
        _binding(
            "ClusterRoleBinding",
            "kubeadm:get-nodes",
            "ClusterRole",
            "kubeadm:get-nodes",
            [_group(BOOTSTRAPPERS)],
        ),
        _binding(
            "ClusterRoleBinding",
            "kubeadm:kubelet-bootstrap",
            "ClusterRole",
            "system:node-bootstrapper",
            [_group(BOOTSTRAPPERS)],
        ),
        _binding(
            "ClusterRoleBinding",
            "kubeadm:node-autoapprove-bootstrap",
            "ClusterRole",
            f"{csr}:nodeclient",
            [_group(BOOTSTRAPPERS)],
        ),
        _binding(
            "ClusterRoleBinding",
            "kubeadm:node-autoapprove-certificate-rotation",
            "ClusterRole",
            f"{csr}:selfnodeclient",
            [_group("system:nodes")],
        ),
        _binding(
            "ClusterRoleBinding",
            "kubeadm:node-proxier",
            "ClusterRole",
            "system:node-proxier",
            [_sa("kube-proxy")],
        ),
        _binding(
            "ClusterRoleBinding",
            "kubeadm:cluster-admins",
            "ClusterRole",
            "cluster-admin",
            [_group("kubeadm:cluster-admins")],
        ),
    ]
    out = [(RBAC, "clusterroles", r) for r in roles]
    out += [(RBAC, "clusterrolebindings", b) for b in bindings]
    for name, rules in CONTROLLERS.items():
        role = f"system:controller:{name}"
        out.append((RBAC, "clusterroles", _role("ClusterRole", role, (*rules, _EVENTS))))
        out.append(
            (
                RBAC,
                "clusterrolebindings",
                _binding("ClusterRoleBinding", role, "ClusterRole", role, [_sa(name)]),
            )
        )
    return out


def _namespaced_objects() -> list[tuple[str, str, dict[str, Any]]]:
    def get_configmap(name: str) -> tuple[Rule, ...]:
        return ((("",), ("configmaps",), ("get",)),)

    out: list[tuple[str, str, dict[str, Any]]] = []
    for name, configmap, groups, ns in (
        (
            "kubeadm:nodes-kubeadm-config",
            "kubeadm-config",
            [BOOTSTRAPPERS, "system:nodes"],
            "kube-system",
        ),
        (
            "kubeadm:kubelet-config",
            "kubelet-config",
            [BOOTSTRAPPERS, "system:nodes"],
            "kube-system",
        ),
        ("kube-proxy", "kube-proxy", [BOOTSTRAPPERS], "kube-system"),
    ):
        role = _role("Role", name, get_configmap(configmap), ns)
        role["rules"][0]["resourceNames"] = [configmap]
        out.append((RBAC, "roles", role))
        out.append(
            (
                RBAC,
                "rolebindings",
                _binding("RoleBinding", name, "Role", name, [_group(g) for g in groups], ns),
            )
        )
    info = _role(
        "Role", "kubeadm:bootstrap-signer-clusterinfo", get_configmap("cluster-info"), "kube-public"
    )
    info["rules"][0]["resourceNames"] = ["cluster-info"]
    out.append((RBAC, "roles", info))
    anonymous = {"apiGroup": RBAC, "kind": "User", "name": "system:anonymous"}
    out.append(
        (
            RBAC,
            "rolebindings",
            _binding(
                "RoleBinding",
                "kubeadm:bootstrap-signer-clusterinfo",
                "Role",
                "kubeadm:bootstrap-signer-clusterinfo",
                [anonymous],
                "kube-public",
            ),
        )
    )
    return out


def objects() -> list[tuple[str, str, dict[str, Any]]]:
    """Every object, ClusterRoles before their bindings; ServiceAccounts last."""
    accounts = [
        (
            "",
            "serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, "kube-system")},
        )
        for name in CONTROLLERS
    ]
    return [*_cluster_objects(), *_namespaced_objects(), *accounts]

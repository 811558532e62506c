"""Authorization: RBAC over the Roles, ClusterRoles and bindings in a cluster's store.

The second stage of the request flow. `Authorizer.authorize` answers whether a user
may perform a verb on a resource (or a non-resource path) the way upstream's RBAC
authorizer does: members of `system:masters` may do anything; otherwise a rule of a
role bound to the user, one of its groups or its service account must match the
verb, API group, resource (with subresource), resource name or URL. Aggregated
ClusterRoles (`aggregationRule`) are evaluated live.

Also here: access reviews (`kubectl auth can-i` -> SelfSubjectAccessReview,
SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview for
`can-i --list`) and the bootstrap ClusterRoles and bindings a cluster starts with
(plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, abridged to the kinds
the simulator serves).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Protocol

from app.sim.apiserver.authn import UserInfo
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object

RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"


class _Store(Protocol):
    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict | None: ...

    def list(
        self, group: str, plural: str, namespace: str | None = None
    ) -> tuple[list[dict], int]: ...


@dataclass(frozen=True)
class RequestAttributes:
    """What a request does: a resource request (verb on group/resource[/subresource],
    optionally one namespace and name) or a non-resource request (verb on a path)."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    non_resource_path: str | None = None

    @property
    def is_resource_request(self) -> bool:
        return self.non_resource_path is None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def _verb_matches(rule: dict, verb: str) -> bool:
    verbs = rule.get("verbs") or []
    return "*" in verbs or verb in verbs


def _group_matches(rule: dict, group: str) -> bool:
    groups = rule.get("apiGroups") or []
    return "*" in groups or group in groups


def _resource_matches(rule: dict, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.get("resources") or []:
        if candidate in ("*", combined):
            return True
        # `*/scale` matches the scale subresource of every resource (rbac/v1 helpers).
        if subresource and candidate == f"*/{subresource}":
            return True
    return False


def _name_matches(rule: dict, name: str) -> bool:
    names = rule.get("resourceNames") or []
    return not names or name in names


def _url_matches(rule: dict, path: str) -> bool:
    for candidate in rule.get("nonResourceURLs") or []:
        if candidate in ("*", path):
            return True
        if candidate.endswith("*") and path.startswith(candidate[:-1]):
            return True
    return False


def rule_allows(rule: dict, attrs: RequestAttributes) -> bool:
    """Whether one PolicyRule covers the request."""
    if not isinstance(rule, dict) or not _verb_matches(rule, attrs.verb):
        return False
    if not attrs.is_resource_request:
        return _url_matches(rule, attrs.non_resource_path or "")
    return (
        _group_matches(rule, attrs.api_group)
        and _resource_matches(rule, attrs.resource, attrs.subresource)
        and _name_matches(rule, attrs.name)
    )


def subject_matches(subject: dict, user: UserInfo, binding_namespace: str) -> bool:
    """Whether a binding subject names the user, one of its groups or its service account."""
    if not isinstance(subject, dict):
        return False
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def _matching_subject(binding: dict, user: UserInfo, namespace: str) -> str:
    """`Kind "name"` of the first subject of the binding that matches the user."""
    subjects = binding.get("subjects") or []
    for subject in subjects if isinstance(subjects, list) else []:
        if subject_matches(subject, user, namespace):
            return f'{subject.get("kind")} "{subject.get("name")}"'
    return ""


class Authorizer:
    """RBAC authorizer reading roles and bindings from a cluster's object store."""

    def __init__(self, store: _Store) -> None:
        self.store = store

    def _cluster_role_rules(self, name: str, seen: frozenset[str] = frozenset()) -> list[dict]:
        role = self.store.get(RBAC_GROUP, "clusterroles", None, name)
        if role is None:
            return []
        rules = list(role.get("rules") or [])
        aggregation = role.get("aggregationRule") or {}
        selectors = aggregation.get("clusterRoleSelectors") or []
        if selectors and name not in seen:
            for other in self.store.list(RBAC_GROUP, "clusterroles")[0]:
                other_name = other["metadata"]["name"]
                if other_name == name or other_name in seen:
                    continue
                labels = other["metadata"].get("labels") or {}
                for selector in selectors:
                    try:
                        matched = selector_from_object(selector).matches(labels)
                    except ApiError:
                        matched = False
                    if matched:
                        rules += self._cluster_role_rules(other_name, seen | {name})
                        break
        return rules

    def role_rules(self, ref: dict, namespace: str) -> list[dict]:
        """The rules a roleRef points at (a Role of `namespace` or a ClusterRole)."""
        if not isinstance(ref, dict):
            return []
        if ref.get("kind") == "ClusterRole":
            return self._cluster_role_rules(str(ref.get("name", "")))
        if ref.get("kind") == "Role" and namespace:
            role = self.store.get(RBAC_GROUP, "roles", namespace, str(ref.get("name", "")))
            return list((role or {}).get("rules") or [])
        return []

    def bound_rules(self, user: UserInfo, namespace: str) -> list[tuple[str, list[dict]]]:
        """Every (binding description, rules) that applies to the user: cluster-wide
        bindings, then the bindings of `namespace`."""
        out: list[tuple[str, list[dict]]] = []
        for binding in self.store.list(RBAC_GROUP, "clusterrolebindings")[0]:
            subject = _matching_subject(binding, user, "")
            if subject:
                ref = binding.get("roleRef") or {}
                described = (
                    f'ClusterRoleBinding "{binding["metadata"]["name"]}" of '
                    f'ClusterRole "{ref.get("name", "")}" to {subject}'
                )
                out.append((described, self.role_rules(ref, "")))
        if namespace:
            for binding in self.store.list(RBAC_GROUP, "rolebindings", namespace)[0]:
                subject = _matching_subject(binding, user, namespace)
                if subject:
                    ref = binding.get("roleRef") or {}
                    described = (
                        f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                        f'{ref.get("kind", "")} "{ref.get("name", "")}" to {subject}'
                    )
                    out.append((described, self.role_rules(ref, namespace)))
        return out

    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> Decision:
        """Allow when the user is in system:masters or a bound rule matches; the
        reason names the binding as upstream (`RBAC: allowed by ...`)."""
        if MASTERS in user.groups:
            return Decision(True, "")
        namespace = attrs.namespace if attrs.is_resource_request else ""
        for described, rules in self.bound_rules(user, namespace):
            if any(rule_allows(rule, attrs) for rule in rules):
                return Decision(True, f"RBAC: allowed by {described}")
        return Decision(False, "")


def forbidden_error(user: UserInfo, attrs: RequestAttributes) -> ApiError:
    """The 403 Status upstream writes for a denied request."""
    if not attrs.is_resource_request:
        return ApiError(
            403,
            f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.non_resource_path}"',
            details={},
        )
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    named = f' "{attrs.name}"' if attrs.name else ""
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    return ApiError(
        403,
        f'{qualified}{named} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
        f'"{resource}" in API group "{attrs.api_group}"{where}',
        details={"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource},
    )


# --------------------------------------------------------------------------- access reviews


def _attrs_from_spec(spec: dict, namespace_override: str | None = None) -> RequestAttributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict):
        namespace = resource.get("namespace") or ""
        if namespace_override is not None:
            namespace = namespace_override
        return RequestAttributes(
            verb=str(resource.get("verb") or ""),
            api_group=str(resource.get("group") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=str(namespace),
            name=str(resource.get("name") or ""),
        )
    if isinstance(non_resource, dict):
        return RequestAttributes(
            verb=str(non_resource.get("verb") or ""),
            non_resource_path=str(non_resource.get("path") or ""),
        )
    raise ApiError(
        422,
        "SelfSubjectAccessReview.authorization.k8s.io is invalid: spec.resourceAttributes: "
        'Invalid value: "null": exactly one of nonResourceAttributes or '
        "resourceAttributes must be specified",
    )


def _review_status(authorizer: Authorizer, user: UserInfo, attrs: RequestAttributes) -> dict:
    decision = authorizer.authorize(user, attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def access_review(
    authorizer: Authorizer,
    requester: UserInfo,
    review: dict[str, Any],
    *,
    namespace: str | None = None,
) -> dict[str, Any]:
    """Answer a SelfSubjectAccessReview (for `requester`), SubjectAccessReview or
    LocalSubjectAccessReview (for `spec.user`/`spec.groups`; the local kind is pinned
    to `namespace`), returning the review with `status` filled in.

    Raises ApiError 400 for an unknown kind, 422 when neither resourceAttributes nor
    nonResourceAttributes is given.
    """
    kind = review.get("kind") or "SelfSubjectAccessReview"
    spec = review.get("spec") or {}
    if not isinstance(spec, dict):
        raise ApiError(400, "spec must be an object")
    if kind == "SelfSubjectAccessReview":
        subject = requester
        attrs = _attrs_from_spec(spec)
    elif kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        groups = spec.get("groups") or []
        extra = spec.get("extra") or {}
        subject = UserInfo(
            str(spec.get("user") or ""),
            tuple(str(g) for g in groups),
            str(spec.get("uid") or ""),
            {str(k): list(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
        )
        if not subject.name and not subject.groups:
            raise ApiError(
                422,
                f'{kind}.authorization.k8s.io is invalid: spec.user: Invalid value: "": '
                "at least one of user or group must be specified",
            )
        attrs = _attrs_from_spec(spec, namespace if kind == "LocalSubjectAccessReview" else None)
    else:
        raise ApiError(400, f"unsupported access review kind {kind!r}")
    out = copy.deepcopy(review)
    out.setdefault("apiVersion", "authorization.k8s.io/v1")
    out["kind"] = kind
    out.setdefault("metadata", {})
    out["status"] = _review_status(authorizer, subject, attrs)
    return out


def rules_review(authorizer: Authorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    """The status of a SelfSubjectRulesReview (`kubectl auth can-i --list`): every
    resource and non-resource rule that applies to the user in `namespace`."""
    resource_rules: list[dict] = []
    non_resource_rules: list[dict] = []
    if MASTERS in user.groups:
        resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        non_resource_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
    for _, rules in authorizer.bound_rules(user, namespace):
        for rule in rules:
            if not isinstance(rule, dict):
                continue
            if rule.get("nonResourceURLs"):
                non_resource_rules.append(
                    {"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]}
                )
            else:
                entry = {
                    "verbs": rule.get("verbs") or [],
                    "apiGroups": rule.get("apiGroups") or [],
                    "resources": rule.get("resources") or [],
                }
                if rule.get("resourceNames"):
                    entry["resourceNames"] = rule["resourceNames"]
                resource_rules.append(entry)
    return {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }


# --------------------------------------------------------------------------- bootstrap policy

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL_RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_AGG = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(verbs: list[str], groups: list[str], resources: list[str]) -> dict:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources}


def _url_rule(verbs: list[str], urls: list[str]) -> dict:
    return {"verbs": verbs, "nonResourceURLs": urls}


def _cluster_role(
    name: str,
    rules: list[dict],
    labels: dict[str, str] | None = None,
    aggregate_from: str | None = None,
) -> dict:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            # Upstream marks every bootstrap object so the API server reconciles it.
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {f"{_AGG}{aggregate_from}": "true"}}]
        }
    return role


# aggregate-to-view: read everything in a namespace except secrets (policy.go).
_VIEW_RULES = [
    _rule(
        _READ,
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
    ),
    _rule(
        _READ,
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
    ),
    _rule(_READ, [""], ["namespaces"]),
    _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(
        _READ,
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
    ),
    _rule(_READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(_READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(_READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]
# aggregate-to-edit: write workloads, read and write secrets (no RBAC, no quota).
_EDIT_RULES = [
    _rule(
        _READ,
        [""],
        ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
    ),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(_WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(
        _WRITE,
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
    ),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(
        _WRITE,
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(_WRITE, ["batch"], ["cronjobs", "jobs"]),
    _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(_WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    _rule(_WRITE, ["coordination.k8s.io"], ["leases"]),
    _rule(_READ, ["coordination.k8s.io"], ["leases"]),
]
# aggregate-to-admin: manage namespace RBAC and check access locally.
_ADMIN_RULES = [
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(_ALL_RW, [RBAC_GROUP], ["rolebindings", "roles"]),
]
_DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]
_PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def bootstrap_cluster_roles() -> list[dict]:
    """The ClusterRoles a fresh cluster has: cluster-admin, admin, edit, view (with
    their rules already aggregated, as the aggregation controller leaves them), the
    `system:aggregate-to-*` roles, and the system roles of the control plane."""
    view = _VIEW_RULES
    edit = _EDIT_RULES + _VIEW_RULES
    admin = _ADMIN_RULES + edit
    all_agg = {f"{_AGG}admin": "true", f"{_AGG}edit": "true", f"{_AGG}view": "true"}
    roles = [
        _cluster_role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), _url_rule(["*"], ["*"])],
        ),
        _cluster_role("admin", copy.deepcopy(admin), aggregate_from="admin"),
        _cluster_role("edit", copy.deepcopy(edit), {f"{_AGG}admin": "true"}, aggregate_from="edit"),
        _cluster_role(
            "view",
            copy.deepcopy(view),
            {f"{_AGG}admin": "true", f"{_AGG}edit": "true"},
            aggregate_from="view",
        ),
        _cluster_role("system:aggregate-to-admin", _ADMIN_RULES, {f"{_AGG}admin": "true"}),
        _cluster_role(
            "system:aggregate-to-edit",
            _EDIT_RULES,
            {f"{_AGG}admin": "true", f"{_AGG}edit": "true"},
        ),
        _cluster_role("system:aggregate-to-view", _VIEW_RULES, all_agg),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["create"],
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role("system:discovery", [_url_rule(["get"], _DISCOVERY_URLS)]),
        _cluster_role("system:public-info-viewer", [_url_rule(["get"], _PUBLIC_INFO_URLS)]),
        _cluster_role(
            "system:monitoring",
            [
                _url_rule(
                    ["get"],
                    [
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:auth-delegator",
            [
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
            ],
        ),
        _cluster_role(
            "system:kube-scheduler",
            [
                _rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
                _rule(["create"], ["coordination.k8s.io"], ["leases"]),
                _rule(["get", "update"], ["coordination.k8s.io"], ["leases"]),
                _rule(["create"], [""], ["endpoints"]),
                _rule(["get", "update"], [""], ["endpoints"]),
                _rule(_READ, [""], ["nodes"]),
                _rule(["delete", "get", "list", "watch"], [""], ["pods"]),
                _rule(["create"], [""], ["bindings", "pods/binding"]),
                _rule(["patch", "update"], [""], ["pods/status"]),
                _rule(_READ, ["", "apps"], ["replicationcontrollers", "services", "replicasets"]),
                _rule(_READ, ["apps"], ["statefulsets"]),
                _rule(_READ, ["policy"], ["poddisruptionbudgets"]),
                _rule(_READ, [""], ["persistentvolumeclaims", "persistentvolumes", "namespaces"]),
                _rule(_READ, ["storage.k8s.io"], ["csinodes", "storageclasses"]),
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
            ],
        ),
        _cluster_role(
            "system:kube-controller-manager",
            [
                _rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
                _rule(["create"], ["coordination.k8s.io"], ["leases"]),
                _rule(["get", "update"], ["coordination.k8s.io"], ["leases"]),
                _rule(["create"], [""], ["secrets", "serviceaccounts"]),
                _rule(["delete"], [""], ["secrets"]),
                _rule(["get"], [""], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
                _rule(["update"], [""], ["secrets", "serviceaccounts"]),
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
                _rule(["list", "watch"], ["*"], ["*"]),
                _rule(["create"], [""], ["serviceaccounts/token"]),
            ],
        ),
        _cluster_role(
            "system:node-proxier",
            [
                _rule(["list", "watch"], [""], ["endpoints", "services"]),
                _rule(["get", "list", "watch"], [""], ["nodes"]),
                _rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
                _rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
            ],
        ),
        _cluster_role(
            "system:node",
            [
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(
                    ["create"],
                    ["authorization.k8s.io"],
                    ["localsubjectaccessreviews", "subjectaccessreviews"],
                ),
                _rule(_READ, [""], ["services"]),
                _rule(["create", "get", "list", "watch"], [""], ["nodes"]),
                _rule(["patch", "update"], [""], ["nodes/status"]),
                _rule(["patch", "update"], [""], ["nodes"]),
                _rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
                _rule(_READ, [""], ["pods"]),
                _rule(["create", "delete"], [""], ["pods"]),
                _rule(["patch", "update"], [""], ["pods/status"]),
                _rule(["create"], [""], ["pods/eviction"]),
                _rule(["get"], [""], ["configmaps", "secrets"]),
                _rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
                _rule(["get"], [""], ["endpoints"]),
                _rule(_ALL_RW, ["coordination.k8s.io"], ["leases"]),
                _rule(["create"], [""], ["serviceaccounts/token"]),
            ],
        ),
        _cluster_role(
            "system:volume-scheduler",
            [
                _rule(["get", "list", "patch", "update", "watch"], [""], ["persistentvolumes"]),
                _rule(_READ, ["storage.k8s.io"], ["storageclasses"]),
                _rule(
                    ["get", "list", "patch", "update", "watch"], [""], ["persistentvolumeclaims"]
                ),
            ],
        ),
    ]
    return roles


def _binding(name: str, role: str, subjects: list[tuple[str, str]]) -> dict:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": k, "name": n} for k, n in subjects],
    }


def bootstrap_cluster_role_bindings() -> list[dict]:
    """The ClusterRoleBindings a fresh cluster has (policy.go ClusterRoleBindings, plus
    kubeadm's `kubeadm:cluster-admins` group binding)."""
    return [
        _binding("cluster-admin", "cluster-admin", [("Group", MASTERS)]),
        _binding("kubeadm:cluster-admins", "cluster-admin", [("Group", "kubeadm:cluster-admins")]),
        _binding("system:basic-user", "system:basic-user", [("Group", "system:authenticated")]),
        _binding("system:discovery", "system:discovery", [("Group", "system:authenticated")]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [("Group", "system:authenticated"), ("Group", "system:unauthenticated")],
        ),
        _binding("system:monitoring", "system:monitoring", [("Group", "system:monitoring")]),
        _binding(
            "system:kube-scheduler", "system:kube-scheduler", [("User", "system:kube-scheduler")]
        ),
        _binding(
            "system:volume-scheduler",
            "system:volume-scheduler",
            [("User", "system:kube-scheduler")],
        ),
        _binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [("User", "system:kube-controller-manager")],
        ),
        _binding("system:node-proxier", "system:node-proxier", [("User", "system:kube-proxy")]),
    ]


# --------------------------------------------------------------------------- escalation

_ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}


def _rule_text(rule: dict) -> str:
    """A PolicyRule as upstream prints it in escalation errors (Go %q slices)."""

    def quoted(values: list) -> str:
        return "[" + " ".join(f'"{v}"' for v in values) + "]"

    if rule.get("nonResourceURLs"):
        return (
            f"{{NonResourceURLs:{quoted(rule['nonResourceURLs'])}, "
            f"Verbs:{quoted(rule.get('verbs') or [])}}}"
        )
    parts = [
        f"APIGroups:{quoted(rule.get('apiGroups') or [])}",
        f"Resources:{quoted(rule.get('resources') or [])}",
    ]
    if rule.get("resourceNames"):
        parts.append(f"ResourceNames:{quoted(rule['resourceNames'])}")
    parts.append(f"Verbs:{quoted(rule.get('verbs') or [])}")
    return "{" + ", ".join(parts) + "}"


def _uncovered(authorizer: Authorizer, user: UserInfo, rules: list, namespace: str) -> list[dict]:
    """The rules the user could not perform themselves (escalation check)."""
    missing = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        verbs = [str(v) for v in rule.get("verbs") or []]
        if rule.get("nonResourceURLs"):
            checks = [
                RequestAttributes(verb, non_resource_path=str(url))
                for verb in verbs
                for url in rule["nonResourceURLs"]
            ]
        else:
            checks = []
            for verb in verbs:
                for group in rule.get("apiGroups") or []:
                    for resource in rule.get("resources") or []:
                        base, _, sub = str(resource).partition("/")
                        for name in rule.get("resourceNames") or [""]:
                            checks.append(
                                RequestAttributes(verb, str(group), base, sub, namespace, str(name))
                            )
        if any(not authorizer.authorize(user, attrs).allowed for attrs in checks):
            missing.append(rule)
    return missing


def check_escalation(
    authorizer: Authorizer,
    user: UserInfo,
    rt_kind: str,
    obj: dict,
    namespace: str,
) -> None:
    """Refuse a Role/ClusterRole or binding write that grants permissions the user
    does not hold, unless the user may `escalate` (roles) or `bind` (bindings), as
    the RBAC registry does upstream. Raises ApiError 403."""
    if MASTERS in user.groups or not isinstance(obj, dict):
        return
    name = str((obj.get("metadata") or {}).get("name") or "")
    if rt_kind in _ROLE_KINDS:
        plural = _ROLE_KINDS[rt_kind]
        if authorizer.authorize(
            user, RequestAttributes("escalate", RBAC_GROUP, plural, "", namespace, name)
        ).allowed:
            return
        rules = obj.get("rules") or []
    elif rt_kind in ("RoleBinding", "ClusterRoleBinding"):
        plural = "rolebindings" if rt_kind == "RoleBinding" else "clusterrolebindings"
        ref = obj.get("roleRef") or {}
        if not isinstance(ref, dict):
            return
        ref_plural = _ROLE_KINDS.get(str(ref.get("kind")), "")
        # `bind` is checked in the binding's namespace, whatever the role's kind.
        bind = RequestAttributes(
            "bind", RBAC_GROUP, ref_plural, "", namespace, str(ref.get("name", ""))
        )
        if authorizer.authorize(user, bind).allowed:
            return
        rules = authorizer.role_rules(ref, namespace)
    else:
        return
    missing = _uncovered(authorizer, user, rules if isinstance(rules, list) else [], namespace)
    if missing:
        groups = "[" + " ".join(f'"{g}"' for g in user.groups) + "]"
        raise ApiError(
            403,
            f'{plural}.{RBAC_GROUP} "{name}" is forbidden: user "{user.name}" '
            f"(groups={groups}) is attempting to grant RBAC permissions not currently held:\n"
            + "\n".join(_rule_text(r) for r in missing),
            details={"name": name, "group": RBAC_GROUP, "kind": plural},
        )

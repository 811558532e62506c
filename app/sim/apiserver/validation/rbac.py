"""RBAC objects: Roles, ClusterRoles, their rules, and bindings."""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.validation.names import invalid_value, not_supported, required
from app.sim.machinery.errors import FieldCause
from app.sim.machinery.resources import ResourceType

# ---------------------------------------------------------------------------- rbac


def _rules(causes: list[FieldCause], rules: Any, namespaced: bool) -> None:
    for i, rule in enumerate(rules or []):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            continue
        if not rule.get("verbs"):
            causes.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs")
        if urls:
            if namespaced:
                causes.append(
                    invalid_value(
                        f"{path}.nonResourceURLs",
                        urls,
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if rule.get("apiGroups") or rule.get("resources"):
                causes.append(
                    invalid_value(
                        f"{path}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            causes.append(
                required(f"{path}.apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            causes.append(
                required(f"{path}.resources", "resource rules must supply at least one resource")
            )


def _binding(causes: list[FieldCause], obj: dict, rt: ResourceType, old: dict | None) -> None:
    ref = obj.get("roleRef")
    cluster = rt.kind == "ClusterRoleBinding"
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if not isinstance(ref, dict):
        causes.append(required("roleRef"))
    else:
        if ref.get("apiGroup") not in (None, "rbac.authorization.k8s.io"):
            causes.append(
                not_supported(
                    "roleRef.apiGroup", ref.get("apiGroup"), ["rbac.authorization.k8s.io"]
                )
            )
        if ref.get("kind") not in kinds:
            causes.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
        if not ref.get("name"):
            causes.append(required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        if not isinstance(subject, dict):
            continue
        path = f"subjects[{i}]"
        kind = subject.get("kind")
        if kind not in ("Group", "ServiceAccount", "User"):
            causes.append(
                not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"])
            )
        if not subject.get("name"):
            causes.append(required(f"{path}.name"))
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(not_supported(f"{path}.apiGroup", subject["apiGroup"], [""]))
            if cluster and not subject.get("namespace"):
                causes.append(required(f"{path}.namespace"))
        elif kind in ("User", "Group") and subject.get("apiGroup") not in (
            None,
            "rbac.authorization.k8s.io",
        ):
            causes.append(
                not_supported(
                    f"{path}.apiGroup", subject.get("apiGroup"), ["rbac.authorization.k8s.io"]
                )
            )
    if old is not None and isinstance(old.get("roleRef"), dict) and old["roleRef"] != ref:
        causes.append(invalid_value("roleRef", "rbac.RoleRef{...}", "cannot change roleRef"))

"""The entry points: `validate` (the request pipeline's stage), `validate_object`
(the field rules of one kind) and `validate_or_raise` (422 Invalid).
"""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.validation.autoscaling import validate_hpa
from app.sim.apiserver.validation.config import _config_data, secret_type
from app.sim.apiserver.validation.custom import validate_against_schema
from app.sim.apiserver.validation.decoding import check_types, check_unknown_fields
from app.sim.apiserver.validation.metadata import _metadata, _metadata_update
from app.sim.apiserver.validation.names import invalid_value, not_supported, required
from app.sim.apiserver.validation.networking import ingress_rules, network_policy
from app.sim.apiserver.validation.others import (
    _crd,
    _ingress,
    _limit_range,
    _priority_class,
    _pv,
    _pvc,
    _quota,
    _storage_class,
)
from app.sim.apiserver.validation.pods import _pod_update, validate_pod_spec
from app.sim.apiserver.validation.rbac import _binding, _rules
from app.sim.apiserver.validation.services import _service
from app.sim.apiserver.validation.workloads import (
    _job_spec,
    _label_selector,
    _workload,
    cron_schedule_error,
)
from app.sim.machinery.errors import FieldCause, invalid
from app.sim.machinery.resources import ResourceType

# ---------------------------------------------------------------------------- entry points


def validate_object(
    obj: dict, rt: ResourceType, old: dict | None = None, *, subresource: str = ""
) -> list[FieldCause]:
    """Every rule `obj` (of kind `rt`) breaks, as FieldCauses with upstream paths and
    messages; `old` is the stored object on update (immutability rules). A write to
    the status subresource only checks metadata. Never raises."""
    causes: list[FieldCause] = []
    if not isinstance(obj, dict):
        return [invalid_value("", "object", "must be an object")]
    _metadata(causes, obj, rt)
    if old is not None:
        _metadata_update(causes, obj, old)
    if subresource:
        return causes
    key = (rt.group, rt.kind)
    old_spec = (old or {}).get("spec")
    if rt.custom:
        if rt.schema:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            schema = (
                {k: v for k, v in rt.schema.items() if k != "required"}
                if isinstance(rt.schema, dict)
                else {}
            )
            props = {
                k: v
                for k, v in (schema.get("properties") or {}).items()
                if k not in ("apiVersion", "kind", "metadata")
            }
            validate_against_schema(
                causes,
                body,
                {
                    **schema,
                    "properties": props,
                    "required": [
                        r
                        for r in (rt.schema.get("required") or [])
                        if r not in ("apiVersion", "kind", "metadata")
                    ],
                },
                "",
            )
    elif key == ("", "Pod"):
        validate_pod_spec(causes, "spec", obj.get("spec"))
        if old is not None:
            _pod_update(causes, obj.get("spec"), old_spec)
    elif key == ("", "PodTemplate"):
        validate_pod_spec(causes, "template.spec", (obj.get("template") or {}).get("spec"))
    elif key in (
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
    ):
        _workload(causes, obj, rt, old)
    elif key == ("batch", "Job"):
        _job_spec(causes, "spec", obj.get("spec"), old_spec)
    elif key == ("batch", "CronJob"):
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            causes.append(required("spec"))
        else:
            schedule = spec.get("schedule")
            if not schedule:
                causes.append(required("spec.schedule"))
            else:
                error = cron_schedule_error(str(schedule))
                if error:
                    causes.append(invalid_value("spec.schedule", schedule, error))
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy not in ("Allow", "Forbid", "Replace"):
                causes.append(
                    not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"])
                )
            job_template = spec.get("jobTemplate")
            if not isinstance(job_template, dict):
                causes.append(required("spec.jobTemplate"))
            else:
                _job_spec(causes, "spec.jobTemplate.spec", job_template.get("spec"), None)
    elif key == ("", "Service"):
        _service(causes, obj, old)
    elif key == ("", "ConfigMap"):
        _config_data(causes, obj, old, secret=False)
    elif key == ("", "Secret"):
        _config_data(causes, obj, old, secret=True)
        secret_type(causes, obj)
    elif key in (
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    ):
        _rules(causes, obj.get("rules"), namespaced=rt.kind == "Role")
    elif key in (
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ):
        _binding(causes, obj, rt, old)
    elif key == ("scheduling.k8s.io", "PriorityClass"):
        _priority_class(causes, obj, old)
    elif key == ("", "LimitRange"):
        _limit_range(causes, obj)
    elif key == ("", "ResourceQuota"):
        _quota(causes, obj)
    elif key == ("", "PersistentVolumeClaim"):
        _pvc(causes, obj, old)
    elif key == ("", "PersistentVolume"):
        _pv(causes, obj)
    elif key == ("storage.k8s.io", "StorageClass"):
        _storage_class(causes, obj, old)
    elif key == ("networking.k8s.io", "Ingress"):
        _ingress(causes, obj)
        ingress_rules(causes, obj)
    elif key == ("autoscaling", "HorizontalPodAutoscaler"):
        validate_hpa(causes, obj)
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        _crd(causes, obj)
    elif key == ("policy", "PodDisruptionBudget"):
        spec = obj.get("spec") or {}
        if isinstance(spec, dict):
            if "minAvailable" in spec and "maxUnavailable" in spec:
                causes.append(
                    invalid_value(
                        "spec",
                        "policy.PodDisruptionBudgetSpec{...}",
                        "minAvailable and maxUnavailable cannot be both set",
                    )
                )
            _label_selector(causes, "spec.selector", spec.get("selector"))
    elif key == ("networking.k8s.io", "NetworkPolicy"):
        network_policy(causes, obj)
    return causes


def validate_or_raise(
    obj: dict, rt: ResourceType, old: dict | None = None, *, subresource: str = ""
) -> None:
    """Raise the upstream 422 Invalid Status (`Kind "name" is invalid: ...`) when
    `validate` finds anything."""
    causes = validate_object(obj, rt, old, subresource=subresource)
    if causes:
        name = str(((obj.get("metadata") or {}) if isinstance(obj, dict) else {}).get("name") or "")
        raise invalid(rt.kind, name, causes, rt.group)


def validate(ctx: Any, obj: dict, old: dict | None) -> list[FieldCause]:
    """The validation stage of the request pipeline: type checks (400), unknown
    fields per `ctx.field_validation` (400 for Strict, warnings appended to
    `ctx.warnings` for Warn), then the field rules, returned as causes for the
    caller's 422. `ctx` needs `rt`, `registry`, `subresource`, `field_validation`
    and `warnings`."""
    rt: ResourceType = ctx.rt
    registry = getattr(ctx, "registry", None)
    check_types(obj, rt, registry)
    warnings = check_unknown_fields(obj, rt, getattr(ctx, "field_validation", "") or "", registry)
    ctx.warnings.extend(warnings)
    return validate_object(obj, rt, old, subresource=getattr(ctx, "subresource", "") or "")

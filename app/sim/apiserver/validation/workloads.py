"""Workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs."""

from __future__ import annotations

import json
import re
from typing import Any

from app.sim.apiserver.validation.metadata import validate_labels
from app.sim.apiserver.validation.names import (
    forbidden_field,
    immutable,
    invalid_value,
    not_supported,
    required,
)
from app.sim.apiserver.validation.pods import validate_pod_spec
from app.sim.machinery.errors import ApiError, FieldCause
from app.sim.machinery.resources import ResourceType

# ---------------------------------------------------------------------------- workloads


def _selector_matches(selector: dict, labels: dict) -> bool:
    from app.sim.machinery.selectors import selector_from_object

    try:
        return selector_from_object(selector).matches(labels)
    except ApiError:
        return False


def _label_selector(causes: list[FieldCause], path: str, selector: Any) -> None:
    if not isinstance(selector, dict):
        return
    validate_labels(causes, f"{path}.matchLabels", selector.get("matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        epath = f"{path}.matchExpressions[{i}]"
        operator = expr.get("operator")
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(
                not_supported(
                    f"{epath}.operator", operator, ["In", "NotIn", "Exists", "DoesNotExist"]
                )
            )
        elif operator in ("In", "NotIn") and not expr.get("values"):
            causes.append(
                required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif operator in ("Exists", "DoesNotExist") and expr.get("values"):
            causes.append(
                forbidden_field(
                    f"{epath}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )


def _nonnegative(causes: list[FieldCause], path: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        causes.append(invalid_value(path, value, "must be greater than or equal to 0"))


def _go_selector(selector: Any) -> str:
    labels = (selector or {}).get("matchLabels") if isinstance(selector, dict) else None
    rendered = json.dumps(labels or {}, sort_keys=True)
    return f"v1.LabelSelector{{MatchLabels:map[string]string{rendered}}}"


def _workload(causes: list[FieldCause], obj: dict, rt: ResourceType, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    kind = rt.kind
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        _nonnegative(causes, f"spec.{field}", spec.get(field))
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, dict):
        causes.append(required("spec.selector"))
    else:
        _label_selector(causes, "spec.selector", selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                invalid_value(
                    "spec.selector",
                    _go_selector(selector),
                    f"empty selector is invalid for {kind.lower()}",
                )
            )
    if not isinstance(template, dict):
        causes.append(required("spec.template"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        validate_labels(causes, "spec.template.metadata.labels", labels)
        selects = isinstance(selector, dict) and bool(
            selector.get("matchLabels") or selector.get("matchExpressions")
        )
        if selects and not _selector_matches(selector, labels):
            causes.append(
                invalid_value(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        pod_spec = template.get("spec")
        claims: set[str] = set()
        if kind == "StatefulSet":
            # Upstream validates the template with the claim templates added as volumes
            # (apps validation: ValidatePodTemplateSpecForStatefulSet).
            claims = {
                str((t.get("metadata") or {}).get("name"))
                for t in spec.get("volumeClaimTemplates") or []
                if isinstance(t, dict) and (t.get("metadata") or {}).get("name")
            }
        validate_pod_spec(causes, "spec.template.spec", pod_spec, claims)
        if isinstance(pod_spec, dict):
            policy = pod_spec.get("restartPolicy", "Always")
            if policy != "Always":
                causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if kind == "Deployment":
        strategy = spec.get("strategy") or {}
        if isinstance(strategy, dict):
            stype = strategy.get("type", "RollingUpdate")
            if stype not in ("Recreate", "RollingUpdate"):
                causes.append(
                    not_supported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"])
                )
            rolling = strategy.get("rollingUpdate")
            if stype == "Recreate" and rolling:
                causes.append(
                    forbidden_field(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    )
                )
            if isinstance(rolling, dict):
                surge = rolling.get("maxSurge")
                unavailable = rolling.get("maxUnavailable")
                if surge in (0, "0%") and unavailable in (0, "0%"):
                    causes.append(
                        invalid_value(
                            "spec.strategy.rollingUpdate.maxUnavailable",
                            unavailable,
                            "may not be 0 when `maxSurge` is 0",
                        )
                    )
    if old is not None and isinstance(old.get("spec"), dict):
        old_spec = old["spec"]
        if rt.group == "apps" and old_spec.get("selector") != spec.get("selector"):
            causes.append(
                invalid_value(
                    "spec.selector", _go_selector(spec.get("selector")), "field is immutable"
                )
            )
        if kind == "StatefulSet":
            allowed = {
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            }
            if {k: v for k, v in spec.items() if k not in allowed} != {
                k: v for k, v in old_spec.items() if k not in allowed
            }:
                causes.append(
                    forbidden_field(
                        "spec",
                        "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                        "'template', 'updateStrategy', 'revisionHistoryLimit', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden",
                    )
                )


def _job_spec(causes: list[FieldCause], path: str, spec: Any, old_spec: Any) -> None:
    if not isinstance(spec, dict):
        causes.append(required(path))
        return
    for field in (
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ):
        _nonnegative(causes, f"{path}.{field}", spec.get(field))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(required(f"{path}.template"))
        return
    pod_spec = template.get("spec")
    validate_pod_spec(causes, f"{path}.template.spec", pod_spec)
    if isinstance(pod_spec, dict):
        policy = pod_spec.get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            if policy is None:
                causes.append(
                    required(
                        f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'
                    )
                )
            else:
                causes.append(
                    not_supported(
                        f"{path}.template.spec.restartPolicy", policy, ["OnFailure", "Never"]
                    )
                )
    selector = spec.get("selector")
    if spec.get("manualSelector") and not isinstance(selector, dict):
        causes.append(required(f"{path}.selector"))
    if isinstance(selector, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not _selector_matches(selector, labels):
            causes.append(
                invalid_value(
                    f"{path}.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    if isinstance(old_spec, dict):
        if old_spec.get("selector") and old_spec.get("selector") != spec.get("selector"):
            causes.append(
                invalid_value(f"{path}.selector", _go_selector(selector), "field is immutable")
            )
        if old_spec.get("completions") != spec.get("completions"):
            causes.append(immutable(f"{path}.completions", spec.get("completions")))
        old_template = json.loads(json.dumps(old_spec.get("template") or {}))
        new_template = json.loads(json.dumps(template))
        if old_template != new_template:
            causes.append(
                invalid_value(f"{path}.template", "core.PodTemplateSpec{...}", "field is immutable")
            )


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(
    r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$"
)


def cron_schedule_error(schedule: str) -> str | None:
    """Why a CronJob schedule does not parse (robfig/cron standard syntax), or None."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text in _CRON_MACROS or text.startswith("@every "):
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"unparseable schedule: expected exactly 5 fields, found {len(fields)}: {schedule}"
    for f in fields:
        if not _CRON_FIELD.match(f):
            return f"unparseable schedule: failed to parse int from {f}"
    return None

"""Admission: the built-in admission plugins, mutating then validating.

The third stage of the request flow (after authentication and authorization, before
schema validation and persistence). Each plugin is a small named object with
`mutate` and/or `validate`; `MUTATING` and `VALIDATING` list them in upstream's
order (kube-apiserver's default `--enable-admission-plugins`), so a lab or a
question can point at one by name:

* NamespaceLifecycle: no new objects in a missing or terminating namespace; the
  system namespaces cannot be deleted.
* LimitRanger: default requests/limits from a LimitRange, then its min/max checks.
* ServiceAccount: `serviceAccountName: default`, the projected API token volume,
  refusal of a pod that names a service account that does not exist.
* Priority: `priorityClassName` resolved to `priority` and `preemptionPolicy`.
* DefaultTolerationSeconds: tolerate not-ready/unreachable for 300 s.
* DefaultStorageClass: claims without a class get the default StorageClass.
* StorageObjectInUseProtection: new claims and volumes get the
  `kubernetes.io/pvc-protection` / `kubernetes.io/pv-protection` finalizer.
* PersistentVolumeClaimResize: growing a claim needs `allowVolumeExpansion`.
* PodSecurity: the namespace's `pod-security.kubernetes.io/enforce|warn` levels.
* ResourceQuota: object counts and compute totals against each quota's `hard`.

Plugins raise ApiError 403 (Forbidden, message `<resource> "<name>" is forbidden:
...` as upstream) or 404; warnings go to `ctx.warnings`.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from app.sim.apiserver import rbac
from app.sim.apiserver.validation import format_quantity, parse_quantity
from app.sim.machinery.errors import ApiError, not_found

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# Projected token lifetime the ServiceAccount plugin asks for (3600 + 7 s of skew).
TOKEN_EXPIRATION_SECONDS = 3607
# DefaultTolerationSeconds admission: --default-not-ready-toleration-seconds and
# --default-unreachable-toleration-seconds default to 300.
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
# The priority classes every cluster has (scheduling/v1 SystemPriorityClasses).
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}
# NamespaceLifecycle: namespaces the API server refuses to delete.
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
# apimachinery utilrand: consonants and digits that cannot spell words.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class Context(Protocol):
    """What admission needs from the request pipeline."""

    rt: Any
    user: Any
    operation: str
    warnings: list[str]

    @property
    def store(self) -> Any: ...

    @property
    def namespace(self) -> str | None: ...

    @property
    def subresource(self) -> str | None: ...

    @property
    def dry_run(self) -> bool: ...


def forbidden(ctx: Context, obj: dict | None, message: str) -> ApiError:
    """`<resource>[.group] "<name>" is forbidden: <message>` (admission.NewForbidden)."""
    rt = ctx.rt
    resource = rt.plural if rt is not None else ""
    group = rt.group if rt is not None else ""
    qualified = f"{resource}.{group}" if group else resource
    name = str(((obj or {}).get("metadata") or {}).get("name") or "")
    if not name:
        name = str(getattr(ctx, "name", "") or "")
    return ApiError(
        403,
        f'{qualified} "{name}" is forbidden: {message}',
        details={"name": name, "group": group, "kind": resource},
    )


def _kind(ctx: Context) -> tuple[str, str]:
    rt = ctx.rt
    return (rt.group, rt.kind) if rt is not None else ("", "")


def _is_pod_write(ctx: Context, obj: dict | None) -> bool:
    return (
        _kind(ctx) == ("", "Pod")
        and not ctx.subresource
        and isinstance(obj, dict)
        and isinstance(obj.get("spec"), dict)
    )


def _containers(spec: dict, init: bool = True) -> list[dict]:
    keys = ("initContainers", "containers") if init else ("containers",)
    return [c for key in keys for c in (spec.get(key) or []) if isinstance(c, dict)]


@dataclass(frozen=True)
class Plugin:
    name: str

    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        return obj

    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        return None


# --------------------------------------------------------------------------- NamespaceLifecycle


class NamespaceLifecycle(Plugin):
    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        kind = _kind(ctx)
        if ctx.operation == "DELETE" and kind == ("", "Namespace"):
            name = str(((old or obj or {}).get("metadata") or {}).get("name") or "")
            if name in IMMORTAL_NAMESPACES:
                raise forbidden(ctx, old or obj, "this namespace may not be deleted")
            return
        rt = ctx.rt
        if ctx.operation != "CREATE" or rt is None or not rt.namespaced or not ctx.namespace:
            return
        if rt.group in ("authorization.k8s.io", "authentication.k8s.io") or ctx.subresource:
            return
        namespace = ctx.store.get("", "namespaces", None, ctx.namespace)
        if namespace is None:
            raise not_found("namespaces", ctx.namespace)
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            raise forbidden(
                ctx,
                obj,
                f"unable to create new content in namespace {ctx.namespace} because it is "
                "being terminated",
            )


# --------------------------------------------------------------------------- LimitRanger


def _limit_items(ctx: Context, namespace: str, kind: str) -> list[dict]:
    ranges = ctx.store.list("", "limitranges", namespace)[0]
    return [
        item
        for lr in ranges
        for item in ((lr.get("spec") or {}).get("limits") or [])
        if isinstance(item, dict) and item.get("type") == kind
    ]


def _q(value: Any) -> Decimal | None:
    try:
        return parse_quantity(value)
    except ValueError:
        return None


class LimitRanger(Plugin):
    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or not _is_pod_write(ctx, obj):
            return obj
        items = _limit_items(ctx, ctx.namespace or "", "Container")
        if not items:
            return obj
        notes: list[str] = []
        for container in _containers(obj["spec"]):
            resources = container.setdefault("resources", {})
            if not isinstance(resources, dict):
                continue
            set_requests: list[str] = []
            set_limits: list[str] = []
            for item in items:
                for field, bucket, record in (
                    ("defaultRequest", "requests", set_requests),
                    ("default", "limits", set_limits),
                ):
                    defaults = item.get(field) or {}
                    current = resources.setdefault(bucket, {})
                    if not isinstance(current, dict) or not isinstance(defaults, dict):
                        continue
                    for name, value in defaults.items():
                        if name not in current:
                            current[name] = value
                            record.append(str(name))
            for bucket in ("requests", "limits"):
                if resources.get(bucket) == {}:
                    del resources[bucket]
            name = container.get("name", "")
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for container {name}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for container {name}")
        if notes:
            annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
            if isinstance(annotations, dict):
                annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
        return obj

    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        if ctx.operation not in ("CREATE", "UPDATE") or not isinstance(obj, dict):
            return
        namespace = ctx.namespace or ""
        errors: list[str] = []
        if _kind(ctx) == ("", "PersistentVolumeClaim") and not ctx.subresource:
            spec = obj.get("spec") or {}
            requests = ((spec.get("resources") or {}).get("requests")) or {}
            # Upstream checks a claim's request against min, and (reversed) as the
            # "limit" against max (limitranger PersistentVolumeClaimValidateLimitFunc).
            for item in _limit_items(ctx, namespace, "PersistentVolumeClaim"):
                kind = "PersistentVolumeClaim"
                errors += _range_errors(kind, {"min": item.get("min") or {}}, requests, {})
                errors += _range_errors(kind, {"max": item.get("max") or {}}, {}, requests)
        elif _is_pod_write(ctx, obj):
            for item in _limit_items(ctx, namespace, "Container"):
                for container in _containers(obj["spec"]):
                    resources = container.get("resources") or {}
                    requests = resources.get("requests") or {}
                    limits = resources.get("limits") or {}
                    errors += _range_errors("Container", item, requests, limits)
            pod_items = _limit_items(ctx, namespace, "Pod")
            if pod_items:
                totals = pod_compute(obj["spec"])
                requests = {
                    k.split(".", 1)[1]: format_quantity(v)
                    for k, v in totals.items()
                    if k.startswith("requests.")
                }
                limits = {
                    k.split(".", 1)[1]: format_quantity(v)
                    for k, v in totals.items()
                    if k.startswith("limits.")
                }
                for item in pod_items:
                    errors += _range_errors("Pod", item, requests, limits)
        if errors:
            message = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
            raise forbidden(ctx, obj, message)


def _range_errors(kind: str, item: dict, requests: dict, limits: dict) -> list[str]:
    out: list[str] = []
    for name, bound in (item.get("min") or {}).items():
        enforced = _q(bound)
        if enforced is None:
            continue
        if name not in requests:
            out.append(f"minimum {name} usage per {kind} is {bound}.  No request is specified")
            continue
        request = _q(requests[name])
        if request is not None and request < enforced:
            out.append(
                f"minimum {name} usage per {kind} is {bound}, but request is {requests[name]}"
            )
        limit = _q(limits.get(name))
        if name in limits and limit is not None and limit < enforced:
            out.append(f"minimum {name} usage per {kind} is {bound}, but limit is {limits[name]}")
    for name, bound in (item.get("max") or {}).items():
        enforced = _q(bound)
        if enforced is None:
            continue
        if name not in limits:
            out.append(f"maximum {name} usage per {kind} is {bound}.  No limit is specified")
            continue
        limit = _q(limits[name])
        if limit is not None and limit > enforced:
            out.append(f"maximum {name} usage per {kind} is {bound}, but limit is {limits[name]}")
        request = _q(requests.get(name))
        if name in requests and request is not None and request > enforced:
            out.append(
                f"maximum {name} usage per {kind} is {bound}, but request is {requests[name]}"
            )
    return out


# --------------------------------------------------------------------------- ServiceAccount


def _token_volume_name() -> str:
    return "kube-api-access-" + "".join(random.choice(_NAME_ALPHABET) for _ in range(5))


def token_volume(name: str) -> dict:
    """The projected volume the ServiceAccount plugin adds: token, CA bundle, namespace."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {
                    "serviceAccountToken": {
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                        "path": "token",
                    }
                },
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


class ServiceAccount(Plugin):
    def _account(self, ctx: Context, spec: dict) -> dict | None:
        return ctx.store.get(
            "", "serviceaccounts", ctx.namespace, str(spec.get("serviceAccountName"))
        )

    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or not _is_pod_write(ctx, obj):
            return obj
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if isinstance(annotations, dict) and MIRROR_ANNOTATION in annotations:
            return obj  # mirror pods of static pods get no service account
        spec = obj["spec"]
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        account = self._account(ctx, spec)
        automount = spec.get("automountServiceAccountToken")
        if automount is None and account is not None:
            automount = account.get("automountServiceAccountToken")
        if automount is False:
            return obj
        containers = _containers(spec) + [
            c for c in (spec.get("ephemeralContainers") or []) if isinstance(c, dict)
        ]
        if any(
            isinstance(m, dict) and m.get("mountPath") == TOKEN_MOUNT_PATH
            for c in containers
            for m in (c.get("volumeMounts") or [])
        ):
            return obj
        volumes = spec.setdefault("volumes", [])
        if not isinstance(volumes, list):
            return obj
        existing = {v.get("name") for v in volumes if isinstance(v, dict)}
        volume_name = _token_volume_name()
        while volume_name in existing:
            volume_name = _token_volume_name()
        volumes.append(token_volume(volume_name))
        for container in containers:
            mounts = container.setdefault("volumeMounts", [])
            if isinstance(mounts, list):
                mounts.append(
                    {"name": volume_name, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True}
                )
        return obj

    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        if ctx.operation != "CREATE" or not _is_pod_write(ctx, obj):
            return
        assert obj is not None
        spec = obj["spec"]
        name = spec.get("serviceAccountName")
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not name or (isinstance(annotations, dict) and MIRROR_ANNOTATION in annotations):
            return
        # The `default` account is made by a controller as each namespace appears; a
        # pod is not refused for it, so pods work in namespaces made a moment ago.
        if name != "default" and self._account(ctx, spec) is None:
            raise forbidden(
                ctx,
                obj,
                f"error looking up service account {ctx.namespace}/{name}: "
                f'serviceaccount "{name}" not found',
            )


# --------------------------------------------------------------------------- Priority


def _priority_classes(ctx: Context) -> list[dict]:
    return ctx.store.list("scheduling.k8s.io", "priorityclasses")[0]


class Priority(Plugin):
    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or not _is_pod_write(ctx, obj):
            return obj
        spec = obj["spec"]
        classes = {c["metadata"]["name"]: c for c in _priority_classes(ctx)}
        name = spec.get("priorityClassName")
        if name:
            found = classes.get(name)
            if found is not None:
                value = found.get("value", 0)
                policy = found.get("preemptionPolicy") or "PreemptLowerPriority"
            elif name in SYSTEM_PRIORITY_CLASSES:
                value, policy = SYSTEM_PRIORITY_CLASSES[name], "PreemptLowerPriority"
            else:
                raise forbidden(ctx, obj, f"no PriorityClass with name {name} was found")
        else:
            default = next((c for c in classes.values() if c.get("globalDefault")), None)
            if default is not None:
                spec["priorityClassName"] = default["metadata"]["name"]
                value = default.get("value", 0)
                policy = default.get("preemptionPolicy") or "PreemptLowerPriority"
            else:
                value, policy = 0, "PreemptLowerPriority"
        given = spec.get("priority")
        if given is not None and given != value:
            raise forbidden(
                ctx,
                obj,
                f"the integer value of priority ({given}) must not be provided in pod spec; "
                f"priority admission controller computed {value} from the given PriorityClass "
                "name",
            )
        spec["priority"] = value
        spec.setdefault("preemptionPolicy", policy)
        return obj


# ------------------------------------------------------------------ DefaultTolerationSeconds


class DefaultTolerationSeconds(Plugin):
    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or not _is_pod_write(ctx, obj):
            return obj
        spec = obj["spec"]
        tolerations = spec.setdefault("tolerations", [])
        if not isinstance(tolerations, list):
            return obj
        for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
            covered = any(
                isinstance(t, dict)
                and (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
                and t.get("effect") in (None, "", "NoExecute")
                for t in tolerations
            )
            if not covered:
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                    }
                )
        return obj


# --------------------------------------------------------------------------- PodSecurity

PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_LEVELS = ("privileged", "baseline", "restricted")
# Pod Security Standards: capabilities baseline allows to be added.
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_POD_TEMPLATE_KINDS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "DaemonSet"),
    ("apps", "StatefulSet"),
    ("batch", "Job"),
    ("", "ReplicationController"),
    ("", "PodTemplate"),
}


def _names(kind: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind} {quoted}" if len(names) == 1 else f"{kind}s {quoted}"


def pod_security_violations(spec: dict, level: str) -> list[str]:
    """The Pod Security Standards checks a pod spec fails at `level`, worded as the
    PodSecurity admission plugin words them (pod-security-admission/policy)."""
    if level not in ("baseline", "restricted"):
        return []
    out: list[str] = []
    containers = _containers(spec) + [
        c for c in (spec.get("ephemeralContainers") or []) if isinstance(c, dict)
    ]
    pod_sc = spec.get("securityContext") or {}
    if not isinstance(pod_sc, dict):
        pod_sc = {}

    def sc(c: dict) -> dict:
        value = c.get("securityContext") or {}
        return value if isinstance(value, dict) else {}

    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    if host:
        out.append(f"host namespaces ({', '.join(host)})")
    privileged = [c.get("name", "") for c in containers if sc(c).get("privileged") is True]
    if privileged:
        out.append(
            f"privileged ({_names('container', privileged)} must not set "
            "securityContext.privileged=true)"
        )
    added: dict[str, list[str]] = {}
    allowed_caps = _BASELINE_CAPABILITIES if level == "baseline" else {"NET_BIND_SERVICE"}
    for c in containers:
        caps = sc(c).get("capabilities") or {}
        for cap in (caps.get("add") or []) if isinstance(caps, dict) else []:
            if cap not in allowed_caps:
                added.setdefault(str(cap), []).append(c.get("name", ""))
    if level == "baseline":
        for cap, names in added.items():
            out.append(
                f"non-default capabilities ({_names('container', names)} must not include "
                f'"{cap}" in securityContext.capabilities.add)'
            )
    volumes = [v for v in (spec.get("volumes") or []) if isinstance(v, dict)]
    host_path = [str(v.get("name")) for v in volumes if "hostPath" in v]
    if host_path and level == "baseline":
        out.append(f"hostPath volumes ({_names('volume', host_path)})")
    host_ports = [
        (c.get("name", ""), p.get("hostPort"))
        for c in containers
        for p in (c.get("ports") or [])
        if isinstance(p, dict) and p.get("hostPort")
    ]
    if host_ports:
        names = list(dict.fromkeys(n for n, _ in host_ports))
        ports = ", ".join(str(p) for _, p in host_ports)
        out.append(
            f"hostPort ({_names('container', names)} uses "
            f"hostPort{'s' if len(host_ports) > 1 else ''} {ports})"
        )
    if level != "restricted":
        return out
    restricted = [
        (str(v.get("name")), next((k for k in v if k != "name"), ""))
        for v in volumes
        if not (set(v) - {"name"}) <= _RESTRICTED_VOLUMES
    ]
    if restricted:
        parts = ", ".join(f'"{n}" uses restricted volume type "{t}"' for n, t in restricted)
        out.append(f"restricted volume types (volume{'s' if len(restricted) > 1 else ''} {parts})")
    escalation = [
        c.get("name", "") for c in containers if sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if escalation:
        out.append(
            f"allowPrivilegeEscalation != false ({_names('container', escalation)} must set "
            "securityContext.allowPrivilegeEscalation=false)"
        )
    no_drop = []
    for c in containers:
        caps = sc(c).get("capabilities") or {}
        drop = caps.get("drop") if isinstance(caps, dict) else None
        if not isinstance(drop, list) or "ALL" not in drop:
            no_drop.append(c.get("name", ""))
    if no_drop or added:
        details = []
        if no_drop:
            details.append(
                f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]'
            )
        for cap, names in added.items():
            details.append(
                f'{_names("container", names)} must not include "{cap}" in '
                "securityContext.capabilities.add"
            )
        out.append(f"unrestricted capabilities ({'; '.join(details)})")
    if pod_sc.get("runAsNonRoot") is not True:
        missing = [c.get("name", "") for c in containers if sc(c).get("runAsNonRoot") is not True]
        if missing:
            out.append(
                f"runAsNonRoot != true (pod or {_names('container', missing)} must set "
                "securityContext.runAsNonRoot=true)"
            )
    root_user = [c.get("name", "") for c in containers if sc(c).get("runAsUser") == 0]
    if pod_sc.get("runAsUser") == 0:
        out.append("runAsUser=0 (pod must not set runAsUser=0)")
    elif root_user:
        out.append(f"runAsUser=0 ({_names('container', root_user)} must not set runAsUser=0)")
    pod_profile = (
        ((pod_sc.get("seccompProfile") or {}).get("type"))
        if isinstance(pod_sc.get("seccompProfile"), dict)
        else None
    )
    ok = ("RuntimeDefault", "Localhost")
    missing_seccomp = [
        c.get("name", "")
        for c in containers
        if (
            (sc(c).get("seccompProfile") or {}).get("type")
            if isinstance(sc(c).get("seccompProfile"), dict)
            else None
        )
        not in ok
        and pod_profile not in ok
    ]
    if missing_seccomp:
        out.append(
            f"seccompProfile (pod or {_names('container', missing_seccomp)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        )
    return out


def _namespace_levels(ctx: Context, namespace: str) -> dict[str, tuple[str, str]]:
    ns = ctx.store.get("", "namespaces", None, namespace) if namespace else None
    labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    return _levels(labels)


def _levels(labels: dict) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(f"{PSA_PREFIX}{mode}")
        if level in PSA_LEVELS:
            version = labels.get(f"{PSA_PREFIX}{mode}-version") or "latest"
            out[mode] = (level, version)
    return out


def _template_spec(obj: dict, kind: tuple[str, str]) -> dict | None:
    if kind == ("", "PodTemplate"):
        spec = (obj.get("template") or {}).get("spec")
    else:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return spec if isinstance(spec, dict) else None


class PodSecurity(Plugin):
    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        if ctx.operation not in ("CREATE", "UPDATE") or not isinstance(obj, dict):
            return
        kind = _kind(ctx)
        if kind == ("", "Namespace") and not ctx.subresource:
            self._check_namespace(ctx, obj, old)
            return
        if _is_pod_write(ctx, obj):
            spec = obj["spec"]
            if ctx.operation == "UPDATE" and old is not None and old.get("spec") == spec:
                return  # metadata-only updates are exempt upstream
            levels = _namespace_levels(ctx, ctx.namespace or "")
            enforce = levels.get("enforce")
            if enforce:
                violations = pod_security_violations(spec, enforce[0])
                if violations:
                    raise forbidden(
                        ctx,
                        obj,
                        f'violates PodSecurity "{enforce[0]}:{enforce[1]}": '
                        + ", ".join(violations),
                    )
            warn = levels.get("warn")
            if warn:
                violations = pod_security_violations(spec, warn[0])
                if violations:
                    ctx.warnings.append(
                        f'would violate PodSecurity "{warn[0]}:{warn[1]}": ' + ", ".join(violations)
                    )
            return
        if kind in _POD_TEMPLATE_KINDS and not ctx.subresource:
            spec = _template_spec(obj, kind)
            if spec is None:
                return
            levels = _namespace_levels(ctx, ctx.namespace or "")
            # Workloads are never refused, only warned about (for enforce and warn).
            for mode in ("enforce", "warn"):
                level = levels.get(mode)
                if not level:
                    continue
                violations = pod_security_violations(spec, level[0])
                if violations:
                    ctx.warnings.append(
                        f'would violate PodSecurity "{level[0]}:{level[1]}": '
                        + ", ".join(violations)
                    )
                    break

    def _check_namespace(self, ctx: Context, obj: dict, old: dict | None) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not isinstance(labels, dict):
            return
        for key, value in labels.items():
            if not str(key).startswith(PSA_PREFIX):
                continue
            mode = str(key)[len(PSA_PREFIX) :]
            if mode in ("enforce", "warn", "audit") and value not in PSA_LEVELS:
                raise ApiError(
                    422,
                    f'Namespace "{obj["metadata"].get("name", "")}" is invalid: '
                    f'metadata.labels[{key}]: Invalid value: "{value}": must be one of '
                    "privileged, baseline, restricted",
                    reason="Invalid",
                )
        enforce = _levels(labels).get("enforce")
        old_enforce = _levels(((old or {}).get("metadata") or {}).get("labels") or {}).get(
            "enforce"
        )
        if ctx.operation != "UPDATE" or not enforce or enforce == old_enforce:
            return
        name = obj["metadata"].get("name", "")
        offenders = []
        for pod in ctx.store.list("", "pods", name)[0]:
            violations = pod_security_violations(pod.get("spec") or {}, enforce[0])
            if violations:
                offenders.append(f"{pod['metadata']['name']}: {', '.join(violations)}")
        if offenders:
            ctx.warnings.append(
                f'existing pods in namespace "{name}" violate the new PodSecurity enforce '
                f'level "{enforce[0]}:{enforce[1]}"'
            )
            ctx.warnings.extend(offenders)


# --------------------------------------------------------------------------- ResourceQuota

# Quota names for object counts of core kinds (pkg/quota/v1/evaluator/core).
_COUNT_NAMES = {
    ("", "pods"): "pods",
    ("", "services"): "services",
    ("", "configmaps"): "configmaps",
    ("", "secrets"): "secrets",
    ("", "persistentvolumeclaims"): "persistentvolumeclaims",
    ("", "replicationcontrollers"): "replicationcontrollers",
    ("", "resourcequotas"): "resourcequotas",
}
_BINARY_RESOURCES = ("memory", "storage", "ephemeral-storage")


def _pod_is_terminal(pod: dict) -> bool:
    return ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed")


def pod_compute(spec: dict) -> dict[str, Decimal]:
    """A pod's requests.* and limits.* totals as quota counts them: the sum over
    containers, or the largest init container when that is larger."""
    totals: dict[str, Decimal] = {}

    def add(target: dict[str, Decimal], bucket: str, resources: dict) -> None:
        for name, value in (resources.get(bucket) or {}).items():
            amount = _q(value)
            if amount is not None:
                key = f"{bucket}.{name}"
                target[key] = target.get(key, Decimal(0)) + amount

    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            resources = container.get("resources") or {}
            add(totals, "requests", resources)
            add(totals, "limits", resources)
    for container in spec.get("initContainers") or []:
        if isinstance(container, dict):
            single: dict[str, Decimal] = {}
            resources = container.get("resources") or {}
            add(single, "requests", resources)
            add(single, "limits", resources)
            for key, amount in single.items():
                totals[key] = max(totals.get(key, Decimal(0)), amount)
    return totals


def object_usage(group: str, plural: str, obj: dict) -> dict[str, Decimal]:
    """What one object adds to a namespace's quota usage."""
    usage: dict[str, Decimal] = {}
    count_name = _COUNT_NAMES.get((group, plural))
    if count_name:
        usage[count_name] = Decimal(1)
    qualified = f"{plural}.{group}" if group else plural
    usage[f"count/{qualified}"] = Decimal(1)
    if (group, plural) == ("", "pods"):
        if _pod_is_terminal(obj):
            return {}
        compute = pod_compute(obj.get("spec") or {})
        usage.update(compute)
        for name in ("cpu", "memory", "ephemeral-storage"):
            if f"requests.{name}" in compute:
                usage[name] = compute[f"requests.{name}"]
    elif (group, plural) == ("", "services"):
        stype = (obj.get("spec") or {}).get("type")
        if stype in ("NodePort", "LoadBalancer"):
            ports = len((obj.get("spec") or {}).get("ports") or [])
            usage["services.nodeports"] = Decimal(ports)
        if stype == "LoadBalancer":
            usage["services.loadbalancers"] = Decimal(1)
    elif (group, plural) == ("", "persistentvolumeclaims"):
        storage = _q(
            (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        )
        if storage is not None:
            usage["requests.storage"] = storage
    return usage


def quota_usage(store: Any, quota: dict) -> dict[str, Decimal]:
    """Current usage in the quota's namespace of every resource its `hard` names."""
    namespace = quota["metadata"].get("namespace") or ""
    hard = (quota.get("spec") or {}).get("hard") or {}
    used = {name: Decimal(0) for name in hard}
    kinds: set[tuple[str, str]] = set()
    for name in hard:
        if name.startswith("count/"):
            resource = name[len("count/") :]
            plural, _, group = resource.partition(".")
            kinds.add((group, plural))
        else:
            for key, count_name in _COUNT_NAMES.items():
                if count_name == name:
                    kinds.add(key)
        if name.startswith(("requests.", "limits.", "cpu", "memory", "ephemeral-storage")):
            kinds.add(("", "pods"))
        if name == "requests.storage":
            kinds.add(("", "persistentvolumeclaims"))
        if name.startswith("services."):
            kinds.add(("", "services"))
    for group, plural in kinds:
        for item in store.list(group, plural, namespace)[0]:
            for key, amount in object_usage(group, plural, item).items():
                if key in used:
                    used[key] += amount
    return used


def render_usage(values: dict[str, Decimal]) -> dict[str, str]:
    """Usage amounts as quota status strings (`500m`, `1Gi`, `3`)."""
    return {k: format_quantity(v, binary=k.endswith(_BINARY_RESOURCES)) for k, v in values.items()}


def refresh_quota_status(store: Any, namespace: str) -> None:
    """Recompute `status.hard` / `status.used` of every quota in a namespace and store
    them (what the quota controller and admission keep up to date upstream)."""
    for quota in store.list("", "resourcequotas", namespace)[0]:
        hard = (quota.get("spec") or {}).get("hard") or {}
        status = {"hard": dict(hard), "used": render_usage(quota_usage(store, quota))}
        if quota.get("status") != status:
            updated = copy.deepcopy(quota)
            updated["status"] = status
            store.update("", "resourcequotas", updated)


class ResourceQuota(Plugin):
    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        # A new or changed quota shows its hard limits and current usage at once
        # (the quota controller fills status.hard and status.used upstream).
        if _kind(ctx) != ("", "ResourceQuota") or ctx.subresource:
            return obj
        spec = obj.get("spec")
        hard = spec.get("hard") if isinstance(spec, dict) else None
        if not isinstance(hard, dict) or any(_q(v) is None for v in hard.values()):
            return obj
        namespace = ctx.namespace or (obj.get("metadata") or {}).get("namespace") or ""
        probe = {"metadata": {"namespace": namespace}, "spec": {"hard": hard}}
        obj["status"] = {
            "hard": dict(hard),
            "used": render_usage(quota_usage(ctx.store, probe)),
        }
        return obj

    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        rt = ctx.rt
        if rt is None or not rt.namespaced or not isinstance(obj, dict) or ctx.subresource:
            return
        if ctx.operation not in ("CREATE", "UPDATE"):
            return
        namespace = ctx.namespace or (obj.get("metadata") or {}).get("namespace") or ""
        quotas = ctx.store.list("", "resourcequotas", namespace)[0] if namespace else []
        if not quotas:
            return
        new_usage = object_usage(rt.group, rt.plural, obj)
        old_usage = object_usage(rt.group, rt.plural, old) if old is not None else {}
        delta = {
            k: v - old_usage.get(k, Decimal(0))
            for k, v in new_usage.items()
            if v - old_usage.get(k, Decimal(0)) > 0
        }
        if not delta:
            return
        for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
            hard = (quota.get("spec") or {}).get("hard") or {}
            name = quota["metadata"]["name"]
            if (rt.group, rt.plural) == ("", "pods") and ctx.operation == "CREATE":
                missing = self._unspecified(obj, hard)
                if missing:
                    raise forbidden(ctx, obj, f"failed quota: {name}: must specify {missing}")
            used = quota_usage(ctx.store, quota)
            exceeded = []
            for resource in sorted(hard):
                if resource not in delta:
                    continue
                limit = _q(hard[resource])
                if limit is None:
                    continue
                if used.get(resource, Decimal(0)) + delta[resource] > limit:
                    exceeded.append(resource)
            if exceeded:
                binary = {r: r.endswith(_BINARY_RESOURCES) for r in exceeded}
                requested = ",".join(
                    f"{r}={format_quantity(delta[r], binary[r])}" for r in exceeded
                )
                in_use = ",".join(
                    f"{r}={format_quantity(used.get(r, Decimal(0)), binary[r])}" for r in exceeded
                )
                limited = ",".join(f"{r}={hard[r]}" for r in exceeded)
                raise forbidden(
                    ctx,
                    obj,
                    f"exceeded quota: {name}, requested: {requested}, used: {in_use}, "
                    f"limited: {limited}",
                )

    @staticmethod
    def _unspecified(pod: dict, hard: dict) -> str:
        """`limits.cpu for: nginx; ...` for compute resources the quota tracks and a
        container does not set (upstream refuses such pods)."""
        parts = []
        for resource in sorted(hard):
            bucket, _, name = resource.partition(".")
            if resource in ("cpu", "memory"):
                bucket, name = "requests", resource
            elif bucket not in ("requests", "limits") or name not in ("cpu", "memory"):
                continue
            lacking = [
                str(c.get("name", ""))
                for c in (pod.get("spec") or {}).get("containers") or []
                if isinstance(c, dict)
                and name not in (((c.get("resources") or {}).get(bucket)) or {})
            ]
            if lacking:
                parts.append(f"{resource} for: {','.join(lacking)}")
        return "; ".join(parts)


# --------------------------------------------------------------------------- storage

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


class DefaultStorageClass(Plugin):
    """A claim without `storageClassName` gets the default StorageClass (the newest
    one when several are marked default, as upstream picks)."""

    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or _kind(ctx) != ("", "PersistentVolumeClaim"):
            return obj
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return obj
        defaults = [
            c
            for c in ctx.store.list("storage.k8s.io", "storageclasses")[0]
            if ((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)) == "true"
        ]
        if defaults:
            newest = max(
                defaults,
                key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]),
            )
            spec["storageClassName"] = newest["metadata"]["name"]
        return obj


class StorageObjectInUseProtection(Plugin):
    """Claims and volumes are created with a protection finalizer, which the
    pvc-protection and pv-protection controllers remove once they are unused
    (plugin/pkg/admission/storage/storageobjectinuseprotection)."""

    FINALIZERS = {
        ("", "PersistentVolumeClaim"): "kubernetes.io/pvc-protection",
        ("", "PersistentVolume"): "kubernetes.io/pv-protection",
    }

    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        finalizer = self.FINALIZERS.get(_kind(ctx))
        if ctx.operation != "CREATE" or finalizer is None:
            return obj
        meta = obj.setdefault("metadata", {})
        if isinstance(meta, dict):
            finalizers = meta.get("finalizers")
            if not isinstance(finalizers, list):
                finalizers = []
            if finalizer not in finalizers:
                meta["finalizers"] = [*finalizers, finalizer]
        return obj


class PersistentVolumeClaimResize(Plugin):
    """Growing a claim needs a StorageClass with `allowVolumeExpansion: true`."""

    def validate(self, ctx: Context, obj: dict | None, old: dict | None) -> None:
        if ctx.operation != "UPDATE" or _kind(ctx) != ("", "PersistentVolumeClaim"):
            return
        if not isinstance(obj, dict) or not isinstance(old, dict) or ctx.subresource:
            return

        def storage(claim: dict) -> Decimal | None:
            spec = claim.get("spec") or {}
            requests = ((spec.get("resources") or {}).get("requests")) or {}
            return _q(requests.get("storage"))

        new_size, old_size = storage(obj), storage(old)
        if new_size is None or old_size is None or new_size <= old_size:
            return
        if (old.get("status") or {}).get("phase") != "Bound":
            # Upstream validates the update before validating admission: a claim that is
            # not bound is refused there ("spec is immutable after creation except
            # resources.requests ..."), so this plugin's own "Only bound persistent
            # volume claims can be expanded" is never what the user sees.
            return
        name = (obj.get("spec") or {}).get("storageClassName")
        sc = ctx.store.get("storage.k8s.io", "storageclasses", None, str(name)) if name else None
        if sc is None or sc.get("allowVolumeExpansion") is not True:
            raise forbidden(
                ctx,
                obj,
                "only dynamically provisioned pvc can be resized and the storageclass that "
                "provisions the pvc must support resize",
            )


# ------------------------------------------------------------------- DefaultIngressClass


class DefaultIngressClass(Plugin):
    """An Ingress created without a class (neither `spec.ingressClassName` nor the
    legacy `kubernetes.io/ingress.class` annotation) gets the default IngressClass (the
    `ingressclass.kubernetes.io/is-default-class: "true"` one; the newest when several
    are), as plugin/pkg/admission/network/defaultingressclass does."""

    def mutate(self, ctx: Context, obj: dict, old: dict | None) -> dict:
        if ctx.operation != "CREATE" or _kind(ctx) != ("networking.k8s.io", "Ingress"):
            return obj
        spec = obj.setdefault("spec", {})
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not isinstance(spec, dict) or spec.get("ingressClassName"):
            return obj
        if "kubernetes.io/ingress.class" in annotations:
            return obj
        classes = ctx.store.list("networking.k8s.io", "ingressclasses")[0]
        defaults = [
            c
            for c in classes
            if ((c.get("metadata") or {}).get("annotations") or {}).get(
                "ingressclass.kubernetes.io/is-default-class"
            )
            == "true"
        ]
        if defaults:
            newest = max(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")
            spec["ingressClassName"] = newest["metadata"]["name"]
        return obj


# --------------------------------------------------------------------------- chains

MUTATING: tuple[Plugin, ...] = (
    LimitRanger("LimitRanger"),
    ServiceAccount("ServiceAccount"),
    Priority("Priority"),
    DefaultTolerationSeconds("DefaultTolerationSeconds"),
    DefaultStorageClass("DefaultStorageClass"),
    StorageObjectInUseProtection("StorageObjectInUseProtection"),
    DefaultIngressClass("DefaultIngressClass"),
    ResourceQuota("ResourceQuota"),
)
VALIDATING: tuple[Plugin, ...] = (
    NamespaceLifecycle("NamespaceLifecycle"),
    LimitRanger("LimitRanger"),
    ServiceAccount("ServiceAccount"),
    PersistentVolumeClaimResize("PersistentVolumeClaimResize"),
    PodSecurity("PodSecurity"),
    ResourceQuota("ResourceQuota"),
)


def mutate(ctx: Context, obj: dict, old: dict | None = None) -> dict:
    """Run the mutating plugins in order and return the (changed) object.
    Raises ApiError 403 when a plugin refuses the request."""
    if not isinstance(obj, dict):
        return obj
    for plugin in MUTATING:
        obj = plugin.mutate(ctx, obj, old)
    return obj


def validate(ctx: Context, obj: dict | None, old: dict | None = None) -> None:
    """Run the validating plugins in order, then the RBAC registry's escalation
    check for roles and bindings. Raises ApiError 403 (or 404 for a missing
    namespace) when one refuses; warnings are appended to `ctx.warnings`."""
    for plugin in VALIDATING:
        plugin.validate(ctx, obj, old)
    rt = ctx.rt
    if (
        rt is not None
        and rt.group == rbac.RBAC_GROUP
        and ctx.operation in ("CREATE", "UPDATE")
        and isinstance(obj, dict)
        and isinstance(ctx.user, rbac.UserInfo)
    ):
        rbac.check_escalation(
            rbac.Authorizer(ctx.store), ctx.user, rt.kind, obj, ctx.namespace or ""
        )

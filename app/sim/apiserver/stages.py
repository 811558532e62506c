"""The pipeline's stages, one function each, in the order a write runs them:

    authenticate -> authorize -> decode -> prepare -> default -> mutating admission
    -> validating admission -> validate -> persist

`_write` runs prepare..persist for create, update, patch and apply (`dryRun=All` skips
persist). The stage logic itself lives in authn, rbac, protobuf, defaults, admission,
validation and ssa.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from app.sim.apiserver import (
    admission,
    authn,
    defaults,
    protobuf,
    rbac,
    ssa,
    validation,
)
from app.sim.apiserver.request import JSON, PROTOBUF, YAML, RequestContext, _truthy, media_type
from app.sim.machinery.errors import ApiError, invalid
from app.sim.machinery.safe_yaml import error_line, error_message, load_yaml

# ---- stage: authenticate ---------------------------------------------------------------


def authenticate(ctx: RequestContext) -> Any:
    """Identify the caller from a bearer token or client certificate (then apply
    impersonation headers); 401 for credentials that do not authenticate."""
    headers = ctx.request.headers
    store = ctx.store

    def account_exists(namespace: str, name: str, uid: str) -> bool:
        # Tokens of a deleted (or deleted and re-created) account stop working.
        account = store.get("", "serviceaccounts", namespace, name)
        return account is not None and (not uid or account["metadata"].get("uid") == uid)

    user = authn.authenticate(
        headers,
        ctx.request.peer_cert,
        ctx.cluster.auth,
        now=ctx.cluster.clock.now(),
        service_account_exists=account_exists,
    )
    user = authn.impersonate(user, headers, rbac.Authorizer(ctx.store))
    ctx.user = user
    return user


# ---- stage: authorize ------------------------------------------------------------------


def request_attributes(ctx: RequestContext) -> Any:
    req = ctx.request
    verb = req.verb
    if req.non_resource_path is None and req.method.upper() == "GET" and req.name is None:
        verb = "watch" if _truthy(req.query.get("watch")) else "list"
    values: dict[str, Any] = {
        "verb": verb,
        "api_group": req.group,
        "resource": req.plural,
        "subresource": req.subresource or "",
        "namespace": req.namespace or "",
        "name": req.name or "",
        "non_resource_path": req.non_resource_path,
    }
    return rbac.RequestAttributes(**values)


def authorize(ctx: RequestContext) -> None:
    """RBAC: 403 Forbidden with upstream's message unless a rule allows the request."""
    attrs = request_attributes(ctx)
    decision = rbac.Authorizer(ctx.store).authorize(ctx.user, attrs)
    if not decision.allowed:
        raise rbac.forbidden_error(ctx.user, attrs)


# ---- stage: decode ---------------------------------------------------------------------


def decode_yaml(body: bytes, what: str) -> Any:
    """One YAML document, parsed within `safe_yaml.DEFAULT_LIMITS` (an alias bomb, a
    self-referencing alias or nesting past the limit is refused while parsing, before
    anything walks the data). 400 naming the line for any YAML problem, as upstream's
    `error converting YAML to JSON: yaml: line N: ...`."""
    try:
        return load_yaml(body or b"")
    except yaml.YAMLError as exc:
        line = error_line(exc, body or b"")
        raise ApiError(400, f"{what}: yaml: line {line}: {error_message(exc)}") from None


def decode_body(ctx: RequestContext) -> dict[str, Any]:
    """Decode a JSON, YAML or protobuf body into an object dict (400/415 when it fails)."""
    body = ctx.request.body
    media = media_type(ctx.request.headers.get("Content-Type"))
    if media == PROTOBUF:
        obj = protobuf.decode(body)
    elif media in (JSON, "*/*", ""):
        try:
            obj = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"couldn't get version/kind; json parse error: {exc}") from None
    elif media in (YAML, "application/x-yaml", "text/yaml"):
        obj = decode_yaml(body, "error converting YAML to JSON")
    else:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            f"{JSON}, {YAML}, {PROTOBUF}",
        )
    if not isinstance(obj, dict):
        raise ApiError(400, "the body of the request must be an object")
    return obj


def check_identity(ctx: RequestContext, obj: dict[str, Any], expect: tuple[str, str]) -> None:
    """The body's apiVersion/kind, namespace and name must agree with the URL (400)."""
    api_version, kind = expect
    # Like upstream's decoder, a body without apiVersion/kind takes the endpoint's.
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", api_version)
    if obj.get("kind") != kind or (obj.get("apiVersion") or api_version) != api_version:
        raise ApiError(
            400,
            f"the API version in the data ({obj.get('apiVersion')}) does not match the "
            f"expected API version ({api_version})"
            if obj.get("kind") == kind
            else f"the kind in the data ({obj.get('kind')}) does not match the expected "
            f"kind ({kind})",
        )
    obj["apiVersion"] = api_version
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise ApiError(400, "metadata must be an object")
    rt = ctx.rt
    if rt is not None and rt.namespaced and ctx.request.subresource is None:
        given = meta.get("namespace")
        if given and ctx.namespace and given != ctx.namespace:
            raise ApiError(
                400,
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        if ctx.namespace:
            meta["namespace"] = ctx.namespace
    elif rt is not None and not rt.namespaced:
        meta.pop("namespace", None)
    if ctx.name is not None and ctx.request.subresource is None:
        if meta.get("name") and meta["name"] != ctx.name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the name on the "
                f"URL ({ctx.name})",
            )
        meta["name"] = ctx.name


def check_types(ctx: RequestContext, obj: dict[str, Any]) -> None:
    """Decoding into the kind's types: a field of the wrong JSON type is a 400, as
    upstream's decoder reports it, before any later stage looks at the object."""
    if ctx.rt is not None:
        validation.check_types(obj, ctx.rt, ctx.registry)


# ---- stage: prepare (the registry strategies' PrepareForCreate/Update) ------------------


def prepare_create(ctx: RequestContext, obj: dict[str, Any]) -> dict[str, Any]:
    """Server-owned fields on create: status is the server's (pods start Pending)."""
    rt = ctx.rt
    assert rt is not None
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        # A new pod's status is the server's: Pending (defaulting adds its QoS class).
        obj["status"] = {"phase": "Pending"}
    elif key == ("", "namespaces"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif key == ("certificates.k8s.io", "certificatesigningrequests"):
        # csrStrategy.PrepareForCreate: the requester's identity, and an empty status.
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec["username"] = ctx.user.name
            spec["groups"] = list(ctx.user.groups)
            spec.pop("uid", None)
            spec.pop("extra", None)
            if ctx.user.uid:
                spec["uid"] = ctx.user.uid
            if ctx.user.extra:
                spec["extra"] = {k: list(v) for k, v in ctx.user.extra.items()}
        obj["status"] = {}
    elif "status" in rt.subresources and key not in (("", "nodes"), ("", "persistentvolumes")):
        obj.pop("status", None)
    return obj


def prepare_update(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any]) -> dict:
    """Status is only written through /status; the main resource keeps the stored one.

    As upstream's rest.BeforeUpdate: changes to creationTimestamp, deletion fields and
    generation are ignored, and a missing uid is taken from the stored object.
    """
    rt = ctx.rt
    assert rt is not None
    meta, old_meta = obj["metadata"], old["metadata"]
    for fixed in (
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if fixed in old_meta:
            meta[fixed] = old_meta[fixed]
        else:
            meta.pop(fixed, None)
    if not meta.get("uid") and old_meta.get("uid"):
        meta["uid"] = old_meta["uid"]
    if ctx.subresource in ("status", "approval"):
        merged = json.loads(json.dumps(old))
        if ctx.subresource == "approval":
            # csrApprovalStrategy: only the conditions change; the certificate stays.
            conditions = (obj.get("status") or {}).get("conditions")
            status = merged.setdefault("status", {})
            status.pop("conditions", None)
            if conditions:
                for cond in conditions:
                    if isinstance(cond, dict):
                        cond.setdefault("lastTransitionTime", ctx.now)
                status["conditions"] = conditions
        elif "status" in obj:
            merged["status"] = obj["status"]
        else:
            merged.pop("status", None)
        merged["metadata"]["resourceVersion"] = obj.get("metadata", {}).get(
            "resourceVersion", old["metadata"].get("resourceVersion")
        )
        if "managedFields" in obj.get("metadata", {}):
            merged["metadata"]["managedFields"] = obj["metadata"]["managedFields"]
        return merged
    if "status" in rt.subresources:
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)
    if (rt.group, rt.plural) == ("", "namespaces"):
        labels = obj["metadata"].setdefault("labels", {})
        if isinstance(labels, dict):
            labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
    return obj


# ---- stages: default, admission, validation --------------------------------------------


def default(ctx: RequestContext, obj: dict[str, Any], old: dict | None = None) -> dict:
    """API defaulting (restartPolicy, imagePullPolicy, clusterIP allocation, ...)."""
    assert ctx.rt is not None
    result = defaults.apply_defaults(obj, ctx.rt, store=ctx.store, creating=old is None)
    if old is not None and (ctx.rt.group, ctx.rt.kind) == ("", "Service") and ctx.store:
        defaults.service_update(result, old, ctx.store)
    return obj if result is None else result


def mutate(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any] | None) -> dict:
    """Mutating admission plugins (ServiceAccount, LimitRanger, Priority, ...)."""
    result = admission.mutate(ctx, obj, old)
    return obj if result is None else result


def validate_admission(ctx: RequestContext, obj: dict | None, old: dict | None) -> None:
    """Validating admission plugins (ResourceQuota, PodSecurity, NamespaceLifecycle:
    no new objects in a missing or terminating namespace)."""
    admission.validate(ctx, obj, old)


def validate(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Schema and field validation: 422 Invalid with field causes; 400 on unknown fields
    under fieldValidation=Strict."""
    result = validation.validate(ctx, obj, old)
    if result:
        rt = ctx.rt
        name = obj.get("metadata", {}).get("name", "")
        raise invalid(
            obj.get("kind", rt.kind if rt else ""), name, list(result), rt.group if rt else ""
        )


def record_managed_fields(
    ctx: RequestContext, old: dict | None, new: dict, operation: str
) -> dict[str, Any]:
    return ssa.record_update(
        old, new, ctx.manager(), operation, ctx.now, subresource=ctx.subresource or ""
    )


# ---- stage: persist --------------------------------------------------------------------


def persist_create(ctx: RequestContext, obj: dict[str, Any]) -> dict[str, Any]:
    rt = ctx.rt
    assert rt is not None
    return ctx.store.create(rt.group, rt.plural, obj, dry_run=ctx.dry_run)


def persist_update(ctx: RequestContext, obj: dict[str, Any]) -> dict[str, Any]:
    rt = ctx.rt
    assert rt is not None
    return ctx.store.update(rt.group, rt.plural, obj, dry_run=ctx.dry_run)


# ---- the write path: every stage after decode --------------------------------------------


def _write(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any] | None) -> dict:
    """The shared tail of create/update/patch: prepare, default, admit, validate, persist."""
    check_types(ctx, obj)
    if old is None:
        ctx.operation = "CREATE"
        obj = prepare_create(ctx, obj)
    else:
        ctx.operation = "UPDATE"
        obj = prepare_update(ctx, obj, old)
    obj = default(ctx, obj, old)
    obj = mutate(ctx, obj, old)
    validate_admission(ctx, obj, old)
    validate(ctx, obj, old)
    if old is None:
        return persist_create(ctx, obj)
    return persist_update(ctx, obj)

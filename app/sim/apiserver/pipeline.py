"""The request flow of the simulated API server, one named stage per step.

    authenticate -> authorize -> decode -> (patch | apply) -> prepare -> default
    -> mutating admission -> validating admission -> validate -> persist -> respond

as the seed chapter's request-flow diagram draws it (watch notification is the store's
fan-out after persist). `dryRun=All` runs every stage but persist. Each stage is a small
function taking the `RequestContext`, so labs and questions can point at one stage.

The stages of other modules (authn, rbac, patch, ssa, defaults, admission, validation,
printers, protobuf) are looked up by name when first needed: a module that is absent
leaves its stage a pass-through, so the API works while parts are still being built.
The HTTP adapter (`server.py`) only translates HTTP to `ApiRequest` and back.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import ModuleType
from typing import Any

import yaml

from app.sim.machinery.clock import rfc3339
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError, FieldCause, invalid, not_found
from app.sim.machinery.resources import ResourceType
from app.sim.machinery.safe_yaml import error_line, error_message, load_yaml
from app.sim.machinery.selectors import (
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
    selector_from_object,
)
from app.sim.machinery.store import check_propagation

log = logging.getLogger(__name__)

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)

# Kinds answered at once, never stored (the review APIs).
REVIEW_PLURALS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}

# Deletion of these returns the deleted object instead of a Status (the upstream
# registries set ReturnDeletedObject for pods; custom resources do the same).
RETURNS_DELETED_OBJECT = {("", "pods")}

# TokenRequest: spec.expirationSeconds defaults to one hour (authentication/v1 defaults).
TOKEN_DEFAULT_SECONDS = 3600
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

_missing_modules: set[str] = set()


def stage_module(name: str) -> ModuleType | None:
    """The `app.sim.apiserver.NAME` module (the `app.sim.nodes` package for "nodes")
    when it exists and imports cleanly, else None."""
    try:
        return importlib.import_module(
            "app.sim.nodes" if name == "nodes" else f"app.sim.apiserver.{name}"
        )
    except ImportError as exc:
        if name not in _missing_modules:
            _missing_modules.add(name)
            log.info("stage module %s not available (%s): pass-through", name, exc)
        return None


# ---- request and response ------------------------------------------------------------


@dataclass
class ApiRequest:
    """One Kubernetes API request after URL parsing (method, resource, query, body)."""

    method: str
    group: str = ""
    version: str = "v1"
    plural: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    peer_cert: bytes | None = None  # DER client certificate, when one was presented
    non_resource_path: str | None = None

    @property
    def verb(self) -> str:
        """The Kubernetes verb (get, list, watch, create, update, patch, delete, ...)."""
        method = self.method.upper()
        if self.non_resource_path is not None:
            return method.lower()
        if method == "GET":
            if self.name is None:
                return "watch" if _truthy(self.query.get("watch")) else "list"
            return "get"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if self.name is not None else "deletecollection"
        return method.lower()


@dataclass
class ApiResponse:
    status: int
    body: Any  # dict (JSON) or bytes/str (raw)
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> list[bytes]:
        """The encoded body in pieces that join to `encoded()`: a list's items are
        encoded one at a time. One json.dumps (or one join) over tens of MiB holds the
        interpreter lock for hundreds of milliseconds, stalling the server's event
        loop; between pieces it is released, and the server writes them one by one."""
        if isinstance(self.body, bytes):
            return [self.body]
        if isinstance(self.body, str):
            return [self.body.encode()]
        items = self.body.get("items") if isinstance(self.body, dict) else None
        if not isinstance(items, list) or len(items) < 2:
            return [json.dumps(self.body, separators=(",", ":")).encode()]
        head = json.dumps(
            {k: v for k, v in self.body.items() if k != "items"}, separators=(",", ":")
        )
        pieces = [(head[:-1] + ("," if head != "{}" else "") + '"items":[').encode()]
        for index, item in enumerate(items):
            if index:
                pieces.append(b",")
            pieces.append(_encode_item(item))
        pieces.append(b"]}")
        return pieces


def _encode_item(item: Any) -> bytes:
    return json.dumps(item, separators=(",", ":")).encode()


@dataclass
class UserInfo:
    """Who made a request (used when no authenticator module provides its own type)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RequestContext:
    """Everything a stage may need: the cluster, the caller, the request, the kind."""

    cluster: Cluster
    request: ApiRequest
    rt: ResourceType | None = None
    user: Any = None
    operation: str = ""  # CREATE, UPDATE, DELETE, CONNECT (admission's names)
    warnings: list[str] = field(default_factory=list)

    @property
    def store(self):
        return self.cluster.store

    @property
    def registry(self):
        return self.cluster.registry

    @property
    def namespace(self) -> str | None:
        return self.request.namespace

    @property
    def name(self) -> str | None:
        return self.request.name

    @property
    def subresource(self) -> str | None:
        return self.request.subresource

    @property
    def dry_run(self) -> bool:
        return self.request.query.get("dryRun") == "All"

    @property
    def now(self) -> str:
        return rfc3339(self.cluster.clock.now())

    @property
    def field_validation(self) -> str:
        # Without the parameter the API server warns about unknown fields (the
        # default since v1.23); kubectl asks for Strict explicitly.
        return self.request.query.get("fieldValidation") or "Warn"

    @property
    def field_manager(self) -> str | None:
        return self.request.query.get("fieldManager")

    def manager(self) -> str:
        ssa = stage_module("ssa")
        agent = self.request.headers.get("User-Agent")
        if ssa is not None and hasattr(ssa, "default_manager"):
            return ssa.default_manager(self.field_manager, agent)
        return self.field_manager or (agent or "unknown").split("/", 1)[0]


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def status_success(details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body["status"] = "Success"
    if details:
        body["details"] = details
    return body


# ---- stage: authenticate ---------------------------------------------------------------


def authenticate(ctx: RequestContext) -> Any:
    """Identify the caller from a bearer token or client certificate (then apply
    impersonation headers); 401 for credentials that do not authenticate."""
    headers = ctx.request.headers
    authn = stage_module("authn")
    if authn is not None and hasattr(authn, "authenticate"):
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
        rbac = stage_module("rbac")
        if rbac is not None and hasattr(authn, "impersonate"):
            user = authn.impersonate(user, headers, rbac.Authorizer(ctx.store))
        ctx.user = user
        return user
    auth_header = headers.get("Authorization", "")
    if auth_header.lower().startswith("bearer "):
        known = ctx.cluster.auth.tokens.get(auth_header[7:].strip())
        if known is not None:
            ctx.user = UserInfo(known.name, tuple(known.groups), known.uid, dict(known.extra))
            return ctx.user
    raise ApiError(401, "Unauthorized")


# ---- stage: authorize ------------------------------------------------------------------


def request_attributes(ctx: RequestContext) -> Any:
    req = ctx.request
    rbac = stage_module("rbac")
    verb = req.verb
    if req.non_resource_path is None and req.method.upper() == "GET" and req.name is None:
        verb = "watch" if _truthy(req.query.get("watch")) else "list"
    values = {
        "verb": verb,
        "api_group": req.group,
        "resource": req.plural,
        "subresource": req.subresource or "",
        "namespace": req.namespace or "",
        "name": req.name or "",
        "non_resource_path": req.non_resource_path,
    }
    if rbac is not None and hasattr(rbac, "RequestAttributes"):
        return rbac.RequestAttributes(**values)
    return values


def authorize(ctx: RequestContext) -> None:
    """RBAC: 403 Forbidden with upstream's message unless a rule allows the request."""
    rbac = stage_module("rbac")
    if rbac is None or not hasattr(rbac, "Authorizer"):
        return
    attrs = request_attributes(ctx)
    decision = rbac.Authorizer(ctx.store).authorize(ctx.user, attrs)
    if not decision.allowed:
        raise rbac.forbidden_error(ctx.user, attrs)


# ---- stage: decode ---------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower()


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
        proto = stage_module("protobuf")
        if proto is None or not hasattr(proto, "decode"):
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted "
                f"media types include: {JSON}, {YAML}",
            )
        obj = proto.decode(body)
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
    mod = stage_module("validation")
    if mod is not None and hasattr(mod, "check_types") and ctx.rt is not None:
        mod.check_types(obj, ctx.rt, ctx.registry)


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
    if ctx.subresource == "status":
        merged = json.loads(json.dumps(old))
        if "status" in obj:
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
    mod = stage_module("defaults")
    if mod is None or not hasattr(mod, "apply_defaults"):
        return obj
    assert ctx.rt is not None
    result = mod.apply_defaults(obj, ctx.rt, store=ctx.store, creating=old is None)
    return obj if result is None else result


def mutate(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any] | None) -> dict:
    """Mutating admission plugins (ServiceAccount, LimitRanger, Priority, ...)."""
    mod = stage_module("admission")
    if mod is None or not hasattr(mod, "mutate"):
        return obj
    result = mod.mutate(ctx, obj, old) if _arity(mod.mutate) >= 3 else mod.mutate(ctx, obj)
    return obj if result is None else result


def validate_admission(ctx: RequestContext, obj: dict | None, old: dict | None) -> None:
    """Validating admission plugins (ResourceQuota, PodSecurity, NamespaceLifecycle:
    no new objects in a missing or terminating namespace)."""
    mod = stage_module("admission")
    if mod is not None and hasattr(mod, "validate"):
        mod.validate(ctx, obj, old)


def validate(ctx: RequestContext, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Schema and field validation: 422 Invalid with field causes; 400 on unknown fields
    under fieldValidation=Strict."""
    mod = stage_module("validation")
    if mod is not None and hasattr(mod, "validate"):
        result = mod.validate(ctx, obj, old)
        if result:
            rt = ctx.rt
            name = obj.get("metadata", {}).get("name", "")
            raise invalid(
                obj.get("kind", rt.kind if rt else ""), name, list(result), rt.group if rt else ""
            )
    elif not obj.get("metadata", {}).get("name") and not obj.get("metadata", {}).get(
        "generateName"
    ):
        raise invalid(
            obj.get("kind", ""),
            "",
            [
                FieldCause(
                    "metadata.name",
                    "Required value: name or generateName is required",
                    "FieldValueRequired",
                )
            ],
        )


def _arity(fn: Callable[..., Any]) -> int:
    import inspect

    try:
        return len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return 2


def record_managed_fields(
    ctx: RequestContext, old: dict | None, new: dict, operation: str
) -> dict[str, Any]:
    ssa = stage_module("ssa")
    if ssa is None or not hasattr(ssa, "record_update"):
        return new
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


# ---- verbs -----------------------------------------------------------------------------


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


def create(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    obj = decode_body(ctx)
    check_identity(ctx, obj, (rt.api_version, rt.kind))
    if (rt.group, rt.plural) in REVIEW_PLURALS:
        return ApiResponse(201, review(ctx, obj))
    check_types(ctx, obj)
    obj = record_managed_fields(ctx, None, obj, "Update")
    return ApiResponse(201, _write(ctx, obj, None))


def update(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    obj = decode_body(ctx)
    check_identity(ctx, obj, (rt.api_version, rt.kind))
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if old is None:
        # Upstream lets PUT create only for a few kinds (AllowCreateOnUpdate); none of
        # those matter to kubectl, so a missing object is always 404 here.
        raise not_found(rt.plural, ctx.name, rt.group)
    check_types(ctx, obj)
    obj = record_managed_fields(ctx, old, obj, "Update")
    return ApiResponse(200, _write(ctx, obj, old))


def patch(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    content_type = media_type(ctx.request.headers.get("Content-Type"))
    if content_type not in PATCH_TYPES:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(PATCH_TYPES),
        )
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if content_type == APPLY_PATCH:
        return server_side_apply(ctx, old)
    if old is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    patch_mod = stage_module("patch")
    if patch_mod is None:
        raise ApiError(415, f"patch type {content_type} is not supported yet")
    patched = patch_mod.apply_patch(old, ctx.request.body, content_type, rt)
    if not isinstance(patched, dict):
        raise ApiError(400, "the patch did not produce an object")
    meta = patched.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(422, "metadata must be an object", reason="Invalid")
    # A patch may not rename or move the object, nor change its kind.
    for fixed in ("name", "namespace", "uid"):
        if old["metadata"].get(fixed) != meta.get(fixed):
            if fixed == "uid" and meta.get("uid"):
                raise ApiError(
                    409,
                    f"Precondition failed: UID in precondition: {meta.get('uid')}, "
                    f"UID in object meta: {old['metadata'].get('uid')}",
                    reason="Conflict",
                )
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
            else:
                meta.pop(fixed, None)
    patched["apiVersion"], patched["kind"] = old.get("apiVersion"), old.get("kind")
    check_types(ctx, patched)
    patched = record_managed_fields(ctx, old, patched, "Update")
    return ApiResponse(200, _write(ctx, patched, old))


def server_side_apply(ctx: RequestContext, old: dict[str, Any] | None) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    ssa = stage_module("ssa")
    if ssa is None:
        raise ApiError(415, "server-side apply is not supported yet")
    applied = decode_yaml(ctx.request.body, "error decoding YAML")
    if not isinstance(applied, dict):
        raise ApiError(400, "the apply configuration must be an object")
    check_identity(ctx, applied, (rt.api_version, rt.kind))
    check_types(ctx, applied)
    force = _truthy(ctx.request.query.get("force"))
    manager = ctx.field_manager or ""
    merged = ssa.apply(old, applied, manager, force, ctx.now)
    if old is not None and ctx.subresource is None and "status" in rt.subresources:
        merged["status"] = old.get("status")
        if merged["status"] is None:
            merged.pop("status")
    merged.setdefault("metadata", {})
    if old is not None:
        merged["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
    result = _write(ctx, merged, old)
    return ApiResponse(201 if old is None else 200, result)


def delete(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    options = _delete_options(ctx)
    old = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if old is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    ctx.operation = "DELETE"
    validate_admission(ctx, None, old)
    preconditions = options.get("preconditions") or {}
    obj, removed = ctx.store.delete(
        rt.group,
        rt.plural,
        ctx.namespace,
        ctx.name,
        uid=preconditions.get("uid"),
        resource_version=preconditions.get("resourceVersion"),
        propagation=options.get("propagationPolicy") or _default_propagation(rt),
        dry_run=ctx.dry_run or options.get("dryRun") == ["All"],
        grace_seconds=grace_period(ctx, rt, old, options),
    )
    if removed and (rt.group, rt.plural) not in RETURNS_DELETED_OBJECT and not rt.custom:
        return ApiResponse(
            200,
            status_success(
                {
                    "name": ctx.name,
                    "group": rt.group,
                    "kind": rt.plural,
                    "uid": obj["metadata"].get("uid"),
                }
            ),
        )
    return ApiResponse(200 if removed else 202, obj)


def grace_period(
    ctx: RequestContext, rt: ResourceType, obj: dict[str, Any], options: dict[str, Any]
) -> int:
    """Seconds a deleted pod may take to stop (0: remove at once).

    Only pods bound to a node of a cluster whose kubelets honour graceful deletion
    (`cluster.graceful_pod_deletion`) wait; as upstream, an unbound or finished pod
    goes at once, and the default is the pod's terminationGracePeriodSeconds.
    """
    if (rt.group, rt.plural) != ("", "pods") or not ctx.cluster.graceful_pod_deletion:
        return 0
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    given = options.get("gracePeriodSeconds")
    if given is None:
        given = spec.get("terminationGracePeriodSeconds", 30)
    try:
        return max(0, int(given))
    except (TypeError, ValueError):
        raise ApiError(400, f"invalid gracePeriodSeconds: {given!r}") from None


def _default_propagation(rt: ResourceType) -> str:
    # Upstream's default GC policy is background deletion for every built-in kind
    # (replicationcontrollers/replicasets/... moved off orphan in apps/v1).
    return "Background"


def _delete_options(ctx: RequestContext) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if ctx.request.body.strip():
        try:
            options = json.loads(ctx.request.body)
        except ValueError:
            raise ApiError(400, "the body of a delete request must be DeleteOptions JSON") from None
        if not isinstance(options, dict):
            raise ApiError(400, "the body of a delete request must be DeleteOptions JSON")
    query = ctx.request.query
    if query.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = _int_param(
            query["gracePeriodSeconds"], "gracePeriodSeconds"
        )
    if query.get("propagationPolicy"):
        options["propagationPolicy"] = query["propagationPolicy"]
    if _truthy(query.get("orphanDependents")) or options.get("orphanDependents") is True:
        options.setdefault("propagationPolicy", "Orphan")
    check_propagation(options.get("propagationPolicy"))
    return options


def delete_collection(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    query = ctx.request.query
    items, _ = ctx.store.list(
        rt.group,
        rt.plural,
        ctx.namespace,
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural),
    )
    options = _delete_options(ctx)
    deleted = []
    ctx.operation = "DELETE"
    for item in items:
        meta = item["metadata"]
        try:
            obj, _ = ctx.store.delete(
                rt.group,
                rt.plural,
                meta.get("namespace"),
                meta["name"],
                propagation=options.get("propagationPolicy"),
                dry_run=ctx.dry_run,
            )
        except ApiError as exc:
            if exc.code == 404:
                continue
            raise
        deleted.append(obj)
    return ApiResponse(200, _list_body(rt, deleted, ctx.store.resource_version))


# ---- reads -----------------------------------------------------------------------------


def _list_body(
    rt: ResourceType, items: list[dict], rv: int, cont: str = "", remaining: int = 0
) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
        if remaining:
            meta["remainingItemCount"] = remaining
    return {
        "kind": rt.list_kind_name(),
        "apiVersion": rt.api_version,
        "metadata": meta,
        "items": items,
    }


def encode_continue(rv: int, after: tuple[str, str]) -> str:
    # Upstream's token: base64 JSON {"v":"meta.k8s.io/v1","rv":N,"start":"KEY\x00"}.
    start = f"{after[0]}/{after[1]}" if after[0] else after[1]
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str, namespaced: bool) -> tuple[str, str]:
    """The (namespace, name) to continue after; 400 on a malformed token."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        start = str(data["start"]).rstrip("\x00")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, f"continue key is not valid: {token}") from None
    if namespaced and "/" in start:
        ns, _, name = start.partition("/")
        return ns, name
    return "", start


COMPONENT_STATUS_WARNING = "v1 ComponentStatus is deprecated in v1.19+"


def _component_statuses(ctx: RequestContext) -> list[dict[str, Any]]:
    ctx.warnings.append(COMPONENT_STATUS_WARNING)
    return ctx.cluster.component_statuses()


def get(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        found = [c for c in _component_statuses(ctx) if c["metadata"]["name"] == ctx.name]
        if not found:
            raise not_found(rt.plural, ctx.name)
        return ApiResponse(200, render_objects(ctx, found, single=True))
    obj = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if obj is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    return ApiResponse(200, render_objects(ctx, [obj], single=True))


def list_objects(ctx: RequestContext) -> ApiResponse:
    rt = ctx.rt
    assert rt is not None
    query = ctx.request.query
    limit = _int_param(query.get("limit"), "limit")
    after = decode_continue(query["continue"], rt.namespaced) if query.get("continue") else None
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
        items = [
            c
            for c in _component_statuses(ctx)
            if labels.matches(c["metadata"].get("labels")) and fields.matches(c)
        ]
        return ApiResponse(200, render_objects(ctx, items, rv=ctx.store.resource_version))
    page = ctx.store.list_page(
        rt.group,
        rt.plural,
        ctx.namespace,
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural),
        limit=limit,
        after=after,
    )
    cont = encode_continue(page.resource_version, page.next_after) if page.next_after else ""
    body = render_objects(
        ctx, page.items, rv=page.resource_version, cont=cont, remaining=page.remaining
    )
    return ApiResponse(200, body)


def _int_param(value: str | None, name: str) -> int:
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"invalid {name} parameter: {value!r}") from None
    if number < 0:
        raise ApiError(400, f"invalid {name} parameter: must not be negative")
    return number


# ---- output negotiation ------------------------------------------------------------------


def accepted_as(accept: str | None) -> str:
    """Which rendering the Accept header asks for: Table, PartialObjectMetadata or JSON."""
    for part in (accept or "").split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "g=meta.k8s.io" in params:
            if "as=Table" in params:
                return "Table"
            if "as=PartialObjectMetadataList" in params or "as=PartialObjectMetadata" in params:
                return "PartialObjectMetadata"
    return "JSON"


def render_objects(
    ctx: RequestContext,
    items: list[dict[str, Any]],
    *,
    single: bool = False,
    rv: int | None = None,
    cont: str = "",
    remaining: int = 0,
) -> dict[str, Any]:
    """Objects as the client asked: a Table, PartialObjectMetadata(List) or plain JSON."""
    rt = ctx.rt
    assert rt is not None
    mode = accepted_as(ctx.request.headers.get("Accept"))
    if mode == "Table":
        table = to_table(ctx, items)
        meta = table.setdefault("metadata", {})
        if not single:
            meta["resourceVersion"] = str(rv if rv is not None else ctx.store.resource_version)
            if cont:
                meta["continue"] = cont
                if remaining:
                    meta["remainingItemCount"] = remaining
        return table
    if mode == "PartialObjectMetadata":
        partial = [
            {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata", {}),
            }
            for o in items
        ]
        if single:
            return partial[0]
        meta = {"resourceVersion": str(rv if rv is not None else 0)}
        if cont:
            meta["continue"] = cont
        return {
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": partial,
        }
    if single:
        return items[0]
    return _list_body(rt, items, rv if rv is not None else 0, cont, remaining)


def to_table(ctx: RequestContext, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table through the printers module (NAME/AGE when it is absent)."""
    rt = ctx.rt
    assert rt is not None
    include = ctx.request.query.get("includeObject") or "Metadata"
    if (rt.group, rt.plural) == ("", "componentstatuses"):
        return _component_status_table(items, include)
    printers = stage_module("printers")
    now = ctx.cluster.clock.now()
    if printers is not None and hasattr(printers, "to_table"):
        columns = None
        if rt.custom:
            # A custom resource prints its CRD version's additionalPrinterColumns.
            crd = ctx.store.get(
                "apiextensions.k8s.io", "customresourcedefinitions", None, f"{rt.plural}.{rt.group}"
            )
            columns = printers.crd_printer_columns(crd, rt.version)
        return printers.to_table(
            rt, items, now=now, include_object=include, printer_columns=columns
        )
    rows = []
    for obj in items:
        meta = obj.get("metadata", {})
        row_obj: dict[str, Any] = obj
        if include != "Object":
            row_obj = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
            }
        rows.append(
            {"cells": [meta.get("name", ""), meta.get("creationTimestamp", "")], "object": row_obj}
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": "Name",
                "priority": 0,
            },
            {
                "name": "Created At",
                "type": "date",
                "format": "",
                "description": "Created",
                "priority": 0,
            },
        ],
        "rows": rows,
    }


def _component_status_table(items: list[dict[str, Any]], include: str) -> dict[str, Any]:
    """Upstream's ComponentStatus columns: NAME STATUS MESSAGE ERROR."""
    rows = []
    for obj in items:
        condition = (obj.get("conditions") or [{}])[0]
        status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
        row_obj = (
            obj
            if include == "Object"
            else {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        )
        rows.append(
            {
                "cells": [
                    obj["metadata"]["name"],
                    status,
                    condition.get("message", ""),
                    condition.get("error", ""),
                ],
                "object": row_obj,
            }
        )
    columns = [
        ("Name", "string", "name"),
        ("Status", "string", ""),
        ("Message", "string", ""),
        ("Error", "string", ""),
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": n, "priority": 0}
            for n, t, f in columns
        ],
        "rows": rows,
    }


# ---- subresources ----------------------------------------------------------------------


def _scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
        selector_text = str(selector_from_object(selector))
    elif isinstance(selector, dict):
        selector_text = ",".join(f"{k}={v}" for k, v in selector.items())
    else:
        selector_text = ""
    scale_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    if selector_text:
        scale_status["selector"] = selector_text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": scale_status,
    }


def scale(ctx: RequestContext) -> ApiResponse:
    """GET/PUT/PATCH `.../scale`: an autoscaling/v1 Scale view of spec.replicas."""
    rt = ctx.rt
    assert rt is not None and ctx.name is not None
    obj = ctx.store.get(rt.group, rt.plural, ctx.namespace, ctx.name)
    if obj is None:
        raise not_found(rt.plural, ctx.name, rt.group)
    current = _scale_of(rt, obj)
    method = ctx.request.method.upper()
    if method == "GET":
        return ApiResponse(200, current)
    if method == "PUT":
        new_scale = decode_body(ctx)
        check_identity(ctx, new_scale, ("autoscaling/v1", "Scale"))
    else:
        content_type = media_type(ctx.request.headers.get("Content-Type"))
        patch_mod = stage_module("patch")
        if patch_mod is None or content_type == APPLY_PATCH:
            raise ApiError(415, f"patch type {content_type} is not supported on scale")
        scale_rt = ResourceType("autoscaling", "v1", "Scale", "scale", "scale", True)
        new_scale = patch_mod.apply_patch(current, ctx.request.body, content_type, scale_rt)
    replicas = (new_scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale",
            ctx.name,
            [
                FieldCause(
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
            "autoscaling",
        )
    given_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
    old = json.loads(json.dumps(obj))
    obj.setdefault("spec", {})["replicas"] = replicas
    if given_rv:
        obj["metadata"]["resourceVersion"] = given_rv  # the client's precondition
    updated = record_managed_fields(ctx, old, obj, "Update")
    # The parent is written as a main-resource update (its status stays as stored).
    parent = RequestContext(
        ctx.cluster,
        replace(ctx.request, subresource=None),
        rt,
        ctx.user,
        "UPDATE",
        ctx.warnings,
    )
    result = _write(parent, updated, old)
    return ApiResponse(200, _scale_of(rt, result))


def binding(ctx: RequestContext) -> ApiResponse:
    """POST pods/NAME/binding: set spec.nodeName once (what the scheduler's bind does)."""
    assert ctx.name is not None
    body = decode_body(ctx)
    if body.get("kind") not in (None, "Binding"):
        raise ApiError(400, f"the kind in the data ({body.get('kind')}) does not match Binding")
    target = body.get("target") or {}
    node = target.get("name")
    if not node:
        raise invalid(
            "Binding", ctx.name, [FieldCause("target.name", "Required value", "FieldValueRequired")]
        )
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    # The scheduler sets metadata.uid: a binding for an older pod of the same name
    # fails its precondition (pkg/registry/core/pod/storage assignPod).
    want_uid = (body.get("metadata") or {}).get("uid")
    if want_uid and want_uid != pod["metadata"].get("uid"):
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on pods "{ctx.name}": Precondition failed: '
            f"UID in precondition: {want_uid}, UID in object meta: {pod['metadata'].get('uid')}",
            reason="Conflict",
        )
    if pod["metadata"].get("deletionTimestamp"):
        raise ApiError(
            409, f"pod {ctx.name} is being deleted, cannot be assigned to a host", reason="Conflict"
        )
    current = (pod.get("spec") or {}).get("nodeName")
    if current:
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on pods/binding "{ctx.name}": pod {ctx.name} is '
            f'already assigned to node "{current}"',
            reason="Conflict",
        )
    pod["spec"]["nodeName"] = node
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": ctx.now,
        }
    )
    status["conditions"] = conditions
    if not ctx.dry_run:
        ctx.store.update("", "pods", pod)
    return ApiResponse(201, status_success())


def _pdb_blocks(ctx: RequestContext, pod: dict[str, Any]) -> str | None:
    """Name of a PodDisruptionBudget that allows no disruption of this pod, if any."""
    labels = pod["metadata"].get("labels") or {}
    pdbs, _ = ctx.store.list("policy", "poddisruptionbudgets", ctx.namespace)
    for pdb in pdbs:
        spec = pdb.get("spec") or {}
        selector = selector_from_object(spec.get("selector"))
        if not selector.matches(labels):
            continue
        pods, _ = ctx.store.list("", "pods", ctx.namespace, selector)
        healthy = sum(1 for p in pods if _pod_ready(p))
        total = len(pods)
        allowed = healthy - _required_healthy(spec, total)
        if allowed <= 0:
            return pdb["metadata"]["name"]
    return None


def _pod_ready(pod: dict[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _required_healthy(spec: dict[str, Any], total: int) -> int:
    def amount(value: Any) -> int:
        if isinstance(value, str) and value.endswith("%"):
            # Percentages round up, as the disruption controller's GetScaledValueFromIntOrPercent.
            return -(-int(value[:-1]) * total // 100)
        return int(value)

    if spec.get("minAvailable") is not None:
        return amount(spec["minAvailable"])
    if spec.get("maxUnavailable") is not None:
        return total - amount(spec["maxUnavailable"])
    return 0


def eviction(ctx: RequestContext) -> ApiResponse:
    """POST pods/NAME/eviction: delete the pod unless a PDB forbids it (429)."""
    assert ctx.name is not None
    body = decode_body(ctx)
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    blocking = _pdb_blocks(ctx, pod) if _pod_ready(pod) else None
    if blocking:
        raise ApiError(
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.",
            reason="TooManyRequests",
            details={
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {blocking} needs more "
                        "healthy pods to allow eviction",
                    }
                ]
            },
        )
    options = body.get("deleteOptions") or {}
    ctx.store.delete(
        "",
        "pods",
        ctx.namespace,
        ctx.name,
        propagation=options.get("propagationPolicy"),
        dry_run=ctx.dry_run,
    )
    return ApiResponse(201, status_success())


def pod_log(ctx: RequestContext) -> ApiResponse:
    """GET pods/NAME/log: the container's log text (text/plain)."""
    assert ctx.name is not None
    pod = ctx.store.get("", "pods", ctx.namespace, ctx.name)
    if pod is None:
        raise not_found("pods", ctx.name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
    container = ctx.request.query.get("container")
    if not container:
        if len(containers) != 1:
            raise ApiError(
                400,
                f"a container name must be specified for pod {ctx.name}, choose one of: "
                f"[{' '.join(containers)}]",
            )
        container = containers[0]
    elif container not in containers and container not in init:
        raise ApiError(
            400,
            f"container {container} is not valid for pod {ctx.name}",
        )
    access = ctx.cluster.node_access
    published = ctx.cluster.container_log(ctx.namespace or "", ctx.name, container)
    previous = _truthy(ctx.request.query.get("previous"))
    if access is not None and hasattr(access, "logs") and (published is None or previous):
        # Node agents answer with the container's real log, `previous` included.
        tail_text = ctx.request.query.get("tailLines")
        nodes_module = stage_module("nodes")
        log_error = getattr(nodes_module, "LogError", None)
        answerable: tuple[type[Exception], ...] = (
            (log_error,) if isinstance(log_error, type) else ()
        )
        try:
            text = access.logs(
                ctx.namespace or "",
                ctx.name,
                container,
                previous,
                _int_param(tail_text, "tailLines") if tail_text else None,
            )
        except answerable as exc:  # a log that cannot be given: upstream answers 400
            raise ApiError(400, str(exc)) from None
        return ApiResponse(200, text, content_type="text/plain")
    lines = published
    if lines is None:
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase == "Pending":
            raise ApiError(
                400,
                f'container "{container}" in pod "{ctx.name}" is waiting to start: '
                "ContainerCreating",
            )
        lines = []
    tail = ctx.request.query.get("tailLines")
    if tail:
        count = _int_param(tail, "tailLines")
        lines = lines[-count:] if count else []
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return ApiResponse(200, text, content_type="text/plain")


def token_request(ctx: RequestContext) -> ApiResponse:
    """POST serviceaccounts/NAME/token: a bound token for the ServiceAccount."""
    assert ctx.name is not None and ctx.namespace is not None
    body = decode_body(ctx)
    if body.get("kind") not in (None, "TokenRequest"):
        raise ApiError(
            400, f"the kind in the data ({body.get('kind')}) does not match TokenRequest"
        )
    sa = ctx.store.get("", "serviceaccounts", ctx.namespace, ctx.name)
    if sa is None:
        raise not_found("serviceaccounts", ctx.name)
    spec = body.get("spec") or {}
    seconds = spec.get("expirationSeconds") or TOKEN_DEFAULT_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ApiError(400, "spec.expirationSeconds must be an integer")
    audiences = spec.get("audiences") or [SERVICE_ACCOUNT_ISSUER]
    authn = stage_module("authn")
    if authn is None or not hasattr(authn, "issue_service_account_token"):
        raise ApiError(503, "token issuing is not available", reason="ServiceUnavailable")
    if ctx.dry_run:
        token, expiry = "", ctx.cluster.clock.now() + timedelta(seconds=seconds)
    else:
        token, expiry = authn.issue_service_account_token(
            ctx.cluster.auth,
            ctx.namespace,
            ctx.name,
            sa["metadata"].get("uid", ""),
            now=ctx.cluster.clock.now(),
            expiration_seconds=seconds,
            audiences=audiences,
        )
    expires = rfc3339(expiry)
    result = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": ctx.name, "namespace": ctx.namespace, "creationTimestamp": None},
        "spec": {
            "audiences": audiences,
            "expirationSeconds": seconds,
            "boundObjectRef": spec.get("boundObjectRef"),
        },
        "status": {"token": token, "expirationTimestamp": expires},
    }
    return ApiResponse(201, result)


# ---- reviews -----------------------------------------------------------------------------


def _user_dict(user: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if getattr(user, "uid", ""):
        out["uid"] = user.uid
    if getattr(user, "extra", None):
        out["extra"] = dict(user.extra)
    return out


def review(ctx: RequestContext, obj: dict[str, Any]) -> dict[str, Any]:
    """Answer a *Review kind: fill in `status` and return it without storing."""
    rt = ctx.rt
    assert rt is not None
    rbac = stage_module("rbac")
    authn = stage_module("authn")
    if rt.plural == "selfsubjectreviews" and authn is not None:
        return authn.self_subject_review(ctx.user, ctx.now)
    if rt.plural == "tokenreviews" and authn is not None:
        return authn.token_review(ctx.cluster.auth, obj, now=ctx.cluster.clock.now())
    if rbac is not None and rt.plural == "selfsubjectrulesreviews":
        namespace = str((obj.get("spec") or {}).get("namespace") or "")
        obj["status"] = rbac.rules_review(rbac.Authorizer(ctx.store), ctx.user, namespace)
        return obj
    if rbac is not None and rt.group == "authorization.k8s.io":
        return rbac.access_review(
            rbac.Authorizer(ctx.store), ctx.user, obj, namespace=ctx.namespace
        )
    if rt.plural == "selfsubjectreviews":
        obj["status"] = {"userInfo": _user_dict(ctx.user)}
    elif rt.plural == "tokenreviews":
        obj["status"] = {"authenticated": False, "user": {}}
    else:
        # No authorizer module: every request is allowed, so every review says so.
        obj["status"] = {"allowed": True}
    return obj


# ---- dispatch ----------------------------------------------------------------------------


SUBRESOURCE_HANDLERS: dict[tuple[str, str, str], Callable[[RequestContext], ApiResponse]] = {
    ("", "pods", "binding"): binding,
    ("", "pods", "eviction"): eviction,
    ("", "pods", "log"): pod_log,
    ("", "serviceaccounts", "token"): token_request,
}


def resolve_type(cluster: Cluster, req: ApiRequest) -> ResourceType:
    """The ResourceType of a request's URL; 404 as upstream for unknown resources."""
    rt = cluster.registry.by_plural(req.group, req.version, req.plural)
    if rt is None:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    if req.namespace is not None and not rt.namespaced:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    if req.subresource and req.subresource not in rt.subresources:
        raise ApiError(
            404, "the server could not find the requested resource", reason="NotFound", details={}
        )
    return rt


def _quote_warning(text: str) -> str:
    """A warning as the quoted-string of an RFC 7234 Warning header (client-go drops
    warnings it cannot parse)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def handle(cluster: Cluster, req: ApiRequest) -> ApiResponse:
    """Run one non-watch resource request through the pipeline.

    Never raises: errors become `Status` responses (a 500 is logged as a bug).
    """
    ctx = RequestContext(cluster, req)
    started = time.perf_counter()
    try:
        rt = resolve_type(cluster, req)
        ctx.rt = rt
        authenticate(ctx)
        authorize(ctx)
        verb = req.verb
        if verb not in rt.verbs and req.subresource is None:
            raise ApiError(
                405,
                "the server does not allow this method on the requested resource",
                reason="MethodNotAllowed",
                details={},
            )
        response = _dispatch(ctx, rt, verb)
    except ApiError as exc:
        response = ApiResponse(exc.code, exc.status())
    except RecursionError:
        # A body nested deeper than the decoders (or the code walking it) can follow:
        # the caller's mistake, as with the upstream decoders' depth limit.
        response = ApiResponse(
            400,
            ApiError(400, "the request body is nested too deeply", reason="BadRequest").status(),
        )
    except Exception:  # the server must answer, never crash: a 500 is a bug to fix
        log.exception("internal error on %s %s/%s", req.method, req.group, req.plural)
        response = ApiResponse(
            500,
            ApiError(
                500, "Internal error occurred: unexpected error while handling the request"
            ).status(),
        )
    if ctx.warnings:
        response.headers["Warning"] = ", ".join(
            f'299 - "{_quote_warning(w)}"' for w in dict.fromkeys(ctx.warnings)
        )
    log.debug("%s %s %.1f ms", req.method, req.plural, (time.perf_counter() - started) * 1000)
    return response


def _dispatch(ctx: RequestContext, rt: ResourceType, verb: str) -> ApiResponse:
    sub = ctx.request.subresource
    method = ctx.request.method.upper()
    if sub:
        handler = SUBRESOURCE_HANDLERS.get((rt.group, rt.plural, sub))
        if handler is not None:
            return handler(ctx)
        if sub == "scale":
            return scale(ctx)
        if sub == "status":
            if method == "GET":
                return get(ctx)
            if method == "PUT":
                return update(ctx)
            if method == "PATCH":
                return patch(ctx)
        raise ApiError(
            405,
            "the server does not allow this method on the requested resource",
            reason="MethodNotAllowed",
            details={},
        )
    if verb == "get":
        return get(ctx)
    if verb == "list":
        return list_objects(ctx)
    if verb == "create":
        if ctx.name is not None:
            raise ApiError(
                405,
                "the server does not allow this method on the requested resource",
                reason="MethodNotAllowed",
                details={},
            )
        return create(ctx)
    if verb == "update":
        return update(ctx)
    if verb == "patch":
        return patch(ctx)
    if verb == "delete":
        return delete(ctx)
    if verb == "deletecollection":
        return delete_collection(ctx)
    raise ApiError(
        405,
        "the server does not allow this method on the requested resource",
        reason="MethodNotAllowed",
        details={},
    )


# ---- watch planning ------------------------------------------------------------------------


@dataclass
class WatchPlan:
    """A validated watch request the HTTP adapter streams."""

    ctx: RequestContext
    rt: ResourceType
    label_selector: LabelSelector
    field_selector: Any
    resource_version: int | None
    send_initial: bool
    bookmarks: bool
    timeout: float
    as_table: bool


# A watch without timeoutSeconds lasts the API server's --min-request-timeout (1800 s)
# times a random factor in [1, 2) upstream; a fixed 1800 s here.
DEFAULT_WATCH_TIMEOUT = 1800.0


def plan_watch(cluster: Cluster, req: ApiRequest) -> WatchPlan:
    """Authenticate, authorize and parse a watch request; raises ApiError."""
    ctx = RequestContext(cluster, req)
    rt = resolve_type(cluster, req)
    ctx.rt = rt
    authenticate(ctx)
    authorize(ctx)
    if "watch" not in rt.verbs:
        raise ApiError(
            405,
            "the server does not allow this method on the requested resource",
            reason="MethodNotAllowed",
            details={},
        )
    query = req.query
    fields = parse_field_selector(query.get("fieldSelector"), rt.group, rt.plural)
    labels = parse_label_selector(query.get("labelSelector"))
    rv_text = query.get("resourceVersion")
    send_initial = _truthy(query.get("sendInitialEvents"))
    rv: int | None
    if rv_text in (None, "", "0"):
        rv = None
    else:
        try:
            rv = int(rv_text)
        except ValueError:
            raise ApiError(400, f"invalid resource version: {rv_text}") from None
    if send_initial and query.get("resourceVersionMatch") not in (None, "", "NotOlderThan"):
        raise invalid(
            "ListOptions",
            "",
            [
                FieldCause(
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                    "NotOlderThan",
                    "FieldValueForbidden",
                )
            ],
            "meta.k8s.io",
        )
    timeout = DEFAULT_WATCH_TIMEOUT
    if query.get("timeoutSeconds"):
        timeout = float(_int_param(query.get("timeoutSeconds"), "timeoutSeconds"))
    return WatchPlan(
        ctx=ctx,
        rt=rt,
        label_selector=labels,
        field_selector=fields,
        resource_version=rv,
        send_initial=send_initial or rv is None,
        bookmarks=_truthy(query.get("allowWatchBookmarks")),
        timeout=timeout,
        as_table=accepted_as(req.headers.get("Accept")) == "Table",
    )


def watch_object(plan: WatchPlan, obj: dict[str, Any]) -> dict[str, Any]:
    """The object of one watch event, as a one-row Table when the client asked for one."""
    if not plan.as_table:
        return obj
    table = to_table(plan.ctx, [obj])
    table.setdefault("metadata", {})["resourceVersion"] = obj.get("metadata", {}).get(
        "resourceVersion", ""
    )
    return table


def bookmark_object(plan: WatchPlan, rv: int, initial_end: bool) -> dict[str, Any]:
    """A BOOKMARK event's object; `initial_end` marks the end of WatchList's initial events."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    if plan.as_table:
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "columnDefinitions": None,
            "rows": None,
        }
    return {"kind": plan.rt.kind, "apiVersion": plan.rt.api_version, "metadata": meta}

"""The check-kind interface, the registry of kinds, and helpers every kind shares.

A check kind is a small object with a `name`, a marshmallow `schema` for its own fields
in lab.yaml, and `run(params, env) -> Outcome`. Kinds are registered by name in
`REGISTRY`; a second kind with the same name is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.grading.context import GradeContext
from app.grading.matchers import ASSERTION_OPS, show
from app.grading.node_access import NodeAccess
from app.grading.reader import ClusterReader

# Fields every check has; each kind's schema holds only its own fields.
COMMON_FIELDS = ("id", "kind", "points", "message", "hint", "hint_penalty", "guard")


@dataclass
class CheckEnv:
    """What a check may use: the cluster, its nodes, the grade context and its own id."""

    reader: ClusterReader
    nodes: NodeAccess
    context: GradeContext
    check_id: str


@dataclass
class Outcome:
    """A kind's verdict: passed or not, what was found, and the evidence looked at."""

    passed: bool
    detail: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


class CheckKind(Protocol):
    # Read-only: kinds set them as class attributes of their own (narrower) types.
    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> type[Schema]: ...

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome: ...


class CheckRegistry:
    """Check kinds by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, CheckKind] = {}

    def register(self, kind: CheckKind) -> CheckKind:
        """Add a kind; ValueError when its name is taken or clashes with a common field."""
        if kind.name in self._kinds:
            raise ValueError(f"check kind {kind.name!r} is already registered")
        overlap = set(kind.schema().fields) & set(COMMON_FIELDS)
        if overlap:
            raise ValueError(f"check kind {kind.name!r} redefines common fields {overlap}")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> CheckKind:
        """The kind called `name`; KeyError naming the known kinds otherwise."""
        try:
            return self._kinds[name]
        except KeyError:
            raise KeyError(
                f"unknown check kind {name!r}; known: {', '.join(sorted(self._kinds))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def names(self) -> list[str]:
        return sorted(self._kinds)


REGISTRY = CheckRegistry()


# ---- schemas shared by kinds -----------------------------------------------------------


class KindSchema(Schema):
    """Base of each kind's field schema: unknown fields are errors."""

    class Meta:
        unknown = RAISE


class AnyValue(fields.Field[Any]):
    """Any YAML value, kept as is (None included)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)


class SelectionSchema(KindSchema):
    """Which objects a check looks at: a kind, and optionally a name, a namespace and
    label/field selectors (as `kubectl get -l/--field-selector` take them)."""

    apiVersion = fields.String(required=True)
    resource = fields.String(required=True)
    name = fields.String()
    namespace = fields.String()
    label_selector = fields.String()
    field_selector = fields.String()


class AssertionSchema(KindSchema):
    """One JMESPath assertion: `expr` and exactly one operator key."""

    expr = fields.String(required=True)
    equals = AnyValue()
    not_equals = AnyValue()
    gt = fields.Raw()
    ge = fields.Raw()
    lt = fields.Raw()
    le = fields.Raw()
    contains = AnyValue()
    not_contains = AnyValue()
    matches = fields.String()
    exists = fields.Boolean()
    length = fields.Integer(strict=True, validate=validate.Range(min=0))

    @validates_schema
    def one_operator(self, data: dict[str, Any], **kwargs: Any) -> None:
        ops = [k for k in ASSERTION_OPS if k in data]
        if len(ops) != 1:
            raise ValidationError(
                f"needs exactly one of {', '.join(ASSERTION_OPS)}; found {len(ops)}"
            )
        if "expr" in data:
            import jmespath
            from jmespath.exceptions import JMESPathError

            try:
                jmespath.compile(data["expr"])
            except JMESPathError as exc:
                raise ValidationError(f"invalid JMESPath: {exc}", "expr") from exc


# ---- helpers ---------------------------------------------------------------------------


def select(params: dict[str, Any], env: CheckEnv) -> list[dict[str, Any]]:
    """The objects a selection names (one, none, or a sorted list)."""
    if params.get("name"):
        obj = env.reader.get(
            params["apiVersion"], params["resource"], params["name"], params.get("namespace")
        )
        return [obj] if obj is not None else []
    return env.reader.list(
        params["apiVersion"],
        params["resource"],
        params.get("namespace"),
        label_selector=params.get("label_selector"),
        field_selector=params.get("field_selector"),
    )


def describe_selection(params: dict[str, Any]) -> str:
    """`Pod default/web` or `Pods in dev with app=web`, for messages."""
    kind = params["resource"]
    ns = params.get("namespace")
    if params.get("name"):
        return f"{kind} {ns + '/' if ns else ''}{params['name']}"
    words = [f"{kind} objects"]
    if ns:
        words.append(f"in namespace {ns}")
    if params.get("label_selector"):
        words.append(f"with labels {params['label_selector']}")
    if params.get("field_selector"):
        words.append(f"with fields {params['field_selector']}")
    return " ".join(words)


def evidence_of(obj: dict[str, Any], **fields_: Any) -> dict[str, Any]:
    """The trimmed evidence of an object: identity, resourceVersion and the fields a
    check looked at (values longer than a short line are cut)."""
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
    }
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    out["uid"] = meta.get("uid")
    out["resourceVersion"] = meta.get("resourceVersion")
    if fields_:
        out["fields"] = {k: _trim(v) for k, v in fields_.items()}
    return out


def object_name(obj: dict[str, Any]) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def _trim(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= 200 else value[:197] + "..."
    text = show(value, 200)
    return value if len(text) < 200 else text


class SimpleKind:
    """Convenience base: subclasses set `name` and `schema` and define `run`."""

    name: ClassVar[str]
    schema: ClassVar[type[Schema]]

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:  # pragma: no cover
        raise NotImplementedError

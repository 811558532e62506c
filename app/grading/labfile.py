"""The lab file format: `labs/<slug>/lab.yaml` (spec `certprep/lab/v1`).

`check_lab(folder)` reads a lab folder and returns the `Lab` (or None) and every problem
as an `Issue` with file and line; `load_lab(folder)` raises `LabFileError` instead;
`load_labs(root)` reads every `*/lab.yaml` under a folder (a slug equals its folder's
name, so slugs are unique). The YAML loader and the schema-error-to-line mapping are
the question banks' own (`app.banks`), so labs and banks report errors the same way.

The format is documented in docs/labs-format.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.banks.loader import ContentLoadError, Document, Issue, load_document
from app.banks.schemas import DIFFICULTIES, DOMAINS, SECTIONS, SLUG, StrictNumber, Text
from app.banks.validator import issues_from_errors
from app.grading.checks import REGISTRY
from app.grading.checks.base import COMMON_FIELDS
from app.grading.context import HINT_POLICIES
from app.grading.engine import CheckSpec, GradePolicy

LAB_SPEC = "certprep/lab/v1"
LAB_FILE = "lab.yaml"
MANIFEST_DIR = "manifests"
BACKENDS = ("simulator", "kind")
# `spare`: a machine not joined yet (simulator only; `kubeadm join` adds it).
NODE_ROLES = ("control-plane", "worker", "spare")
# core/v1 TaintEffect values.
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
SERVICE_STATES = ("running", "stopped", "disabled")
CHECK_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# RFC 1123 label: what a Node name must be in a kind cluster too.
NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
SCRIPT_NAME = re.compile(r"(solution(-[a-z0-9-]+)?|cheat-[a-z0-9-]+)")


class LabSchema(Schema):
    class Meta:
        unknown = RAISE


class TaintSchema(LabSchema):
    key = fields.String(required=True)
    value = fields.String(load_default="")
    effect = fields.String(required=True, validate=validate.OneOf(TAINT_EFFECTS))


class NodeShapeSchema(LabSchema):
    name = fields.String(required=True, validate=validate.Regexp(NODE_NAME))
    role = fields.String(required=True, validate=validate.OneOf(NODE_ROLES))
    labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    taints = fields.List(fields.Nested(TaintSchema), load_default=list)
    # Allocatable capacity as Kubernetes quantities, e.g. {cpu: "2", memory: 4Gi, pods: 110}.
    capacity = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("cpu", "memory", "pods", "ephemeral-storage"))),
        values=fields.Raw(),
        load_default=dict,
    )

    @validates_schema
    def quantities(self, data: dict[str, Any], **kwargs: Any) -> None:
        from app.sim.machinery.quantity import QuantityError, parse_quantity

        for resource, amount in (data.get("capacity") or {}).items():
            try:
                positive = parse_quantity(amount) > 0
            except QuantityError as exc:
                raise ValidationError(f"{resource}: {exc}", "capacity") from exc
            if not positive:
                raise ValidationError(f"{resource}: must be positive", "capacity")


# Optional add-ons the simulator installs at creation (docs/simulator.md, "Ingress and
# Gateway API"); the same names as app.sim.controllers.ingress_addons.ADDONS.
CLUSTER_ADDONS = ("ingress-nginx", "gateway-api")


class ClusterShapeSchema(LabSchema):
    nodes = fields.List(
        fields.Nested(NodeShapeSchema), required=True, validate=validate.Length(min=1, max=10)
    )
    addons = fields.List(fields.String(validate=validate.OneOf(CLUSTER_ADDONS)))

    @validates_schema
    def one_control_plane(self, data: dict[str, Any], **kwargs: Any) -> None:
        nodes = data.get("nodes") or []
        control = [n for n in nodes if n["role"] == "control-plane"]
        if len(control) != 1:
            raise ValidationError(
                f"needs exactly one control-plane node; found {len(control)}", "nodes"
            )
        names = [n["name"] for n in nodes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationError(f"duplicate node names: {', '.join(repeated)}", "nodes")


class NodeFileEditSchema(LabSchema):
    """`sed -i 's/find/replace/'` on a node file: `find` is a regular expression."""

    kind = fields.String(required=True)
    node = fields.String(required=True)
    path = fields.String(required=True, validate=validate.Regexp(r"^/", error="must be absolute"))
    find = fields.String(required=True)
    replace = fields.String(required=True)
    count = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))

    @validates_schema
    def pattern(self, data: dict[str, Any], **kwargs: Any) -> None:
        try:
            re.compile(data.get("find", ""))
        except re.error as exc:
            raise ValidationError(f"invalid regular expression: {exc}", "find") from exc


class NodeFileWriteSchema(LabSchema):
    kind = fields.String(required=True)
    node = fields.String(required=True)
    path = fields.String(required=True, validate=validate.Regexp(r"^/", error="must be absolute"))
    content = fields.String(required=True)


class NodeServiceSchema(LabSchema):
    kind = fields.String(required=True)
    node = fields.String(required=True)
    service = fields.String(required=True, validate=validate.OneOf(("kubelet", "containerd")))
    state = fields.String(required=True, validate=validate.OneOf(SERVICE_STATES))


class ImageBadSchema(LabSchema):
    """An image that fails to pull on this cluster (ErrImagePull, then ImagePullBackOff)."""

    kind = fields.String(required=True)
    image = fields.String(required=True)


class NodeExecSchema(LabSchema):
    """A command line run on a node during setup (e.g. a backup taken before an
    accident); it must exit 0."""

    kind = fields.String(required=True)
    node = fields.String(required=True)
    command = fields.String(required=True, validate=validate.Length(min=1))


class DeleteObjectSchema(LabSchema):
    """An object deleted through the Kubernetes API during setup (the "accident"):
    `object: {apiVersion, kind, namespace, name}`."""

    kind = fields.String(required=True)
    object = fields.Dict(keys=fields.String(), values=fields.String(), required=True)

    @validates_schema
    def reference(self, data: dict[str, Any], **kwargs: Any) -> None:
        ref = data.get("object") or {}
        missing = [k for k in ("apiVersion", "kind", "name") if not ref.get(k)]
        if missing:
            raise ValidationError(f"needs {', '.join(missing)}", "object")
        unknown = sorted(set(ref) - {"apiVersion", "kind", "namespace", "name"})
        if unknown:
            raise ValidationError(f"unknown field {unknown[0]!r}", "object")


# A signed duration in seconds, minutes, hours or days ("-2d", "72h").
DURATION = re.compile(r"^-?\d{1,6}[smhd]$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """Seconds of a `DURATION` ("-2d" is -172800)."""
    return int(text[:-1]) * DURATION_SECONDS[text[-1]]


class CertificateExpirySchema(LabSchema):
    """Certificates on a node re-dated against the cluster's clock at setup: they
    expire `expires_in` from then (negative: already expired) after `lifetime`
    (default 365d, kubeadm's leaf lifetime). Each path is a certificate file (its key
    may follow) or a kubeconfig with an embedded client certificate. Simulator only:
    its certificates carry their validity in a form the setup can rewrite."""

    kind = fields.String(required=True)
    node = fields.String(required=True)
    paths = fields.List(
        fields.String(validate=validate.Regexp(r"^/", error="must be absolute")),
        required=True,
        validate=validate.Length(min=1),
    )
    expires_in = fields.String(
        required=True, validate=validate.Regexp(DURATION, error='a duration such as "-2d" or "72h"')
    )
    lifetime = fields.String(
        load_default="365d",
        validate=validate.Regexp(r"^\d{1,6}[smhd]$", error='a duration such as "365d"'),
    )


FAULT_SCHEMAS: dict[str, type[Schema]] = {
    "certificate_expiry": CertificateExpirySchema,
    "node_file_edit": NodeFileEditSchema,
    "node_file_write": NodeFileWriteSchema,
    "node_service": NodeServiceSchema,
    "image_bad": ImageBadSchema,
    "node_exec": NodeExecSchema,
    "delete_object": DeleteObjectSchema,
}


class FaultField(fields.Field[dict[str, Any]]):
    """A fault, loaded by the schema its `kind` names."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("a fault must be a mapping")
        kind = value.get("kind")
        schema = FAULT_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if schema is None:
            raise ValidationError(
                {"kind": [f"unknown fault kind {kind!r}; one of: {', '.join(FAULT_SCHEMAS)}"]}
            )
        loaded: dict[str, Any] = schema().load(value)
        return loaded


class SetupSchema(LabSchema):
    # Files under manifests/, applied in this order; default: every *.yaml there, sorted.
    manifests = fields.List(fields.String(), load_default=None)
    faults = fields.List(FaultField(), load_default=list)


class CheckCommonSchema(LabSchema):
    id = fields.String(
        required=True, validate=validate.Regexp(CHECK_ID, error="must be kebab-case")
    )
    kind = fields.String(required=True)
    points = StrictNumber(required=True, validate=validate.Range(min=0))
    message = Text(required=True)
    hint = Text()
    hint_penalty = StrictNumber(load_default=0, validate=validate.Range(min=0))
    guard = fields.Boolean(load_default=False)

    @validates_schema
    def penalty_within_points(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("hint_penalty", 0) > data.get("points", 0):
            raise ValidationError("must not exceed points", "hint_penalty")
        if data.get("hint_penalty") and not data.get("hint"):
            raise ValidationError("a penalty needs a hint", "hint_penalty")


class CheckField(fields.Field[dict[str, Any]]):
    """A check: the common fields, and the fields of its kind checked by the kind's own
    schema from the registry."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("a check must be a mapping")
        common = {k: v for k, v in value.items() if k in COMMON_FIELDS}
        params = {k: v for k, v in value.items() if k not in COMMON_FIELDS}
        errors: dict[str, Any] = {}
        loaded: dict[str, Any] = {}
        try:
            loaded = CheckCommonSchema().load(common)
        except ValidationError as exc:
            errors.update(exc.messages_dict)
        kind = value.get("kind")
        if isinstance(kind, str) and kind in REGISTRY:
            try:
                REGISTRY.get(kind).schema().load(params)
            except ValidationError as exc:
                errors.update(exc.messages_dict)
        elif "kind" not in errors:
            errors["kind"] = [f"unknown check kind {kind!r}; one of: {', '.join(REGISTRY.names())}"]
        if errors:
            raise ValidationError(errors)
        return {**loaded, "params": params}


class SelftestSchema(LabSchema):
    name = fields.String(required=True, validate=validate.Regexp(CHECK_ID))
    # A script in the lab folder (`solution`, `solution-*`, `cheat-*`); none grades the setup as is.
    script = fields.String(
        validate=validate.Regexp(SCRIPT_NAME, error="must be solution, solution-* or cheat-*")
    )
    min_percent = StrictNumber(validate=validate.Range(min=0, max=100))
    max_percent = StrictNumber(validate=validate.Range(min=0, max=100))

    @validates_schema
    def bounds(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "min_percent" not in data and "max_percent" not in data:
            raise ValidationError("needs min_percent or max_percent")
        if data.get("min_percent", 0) > data.get("max_percent", 100):
            raise ValidationError("min_percent exceeds max_percent")


class LabFileSchema(LabSchema):
    spec = fields.String(required=True, validate=validate.Equal(LAB_SPEC))
    slug = fields.String(required=True, validate=validate.Regexp(SLUG, error="must be kebab-case"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = Text(required=True)
    description = fields.String(load_default="")
    # What the lab rests on, as for questions (docs/content-format.md): a section of the
    # chapter, or the documentation page or upstream source; at least one of them.
    seed_section = Text()
    source = Text()
    section = fields.String(required=True, validate=validate.OneOf(SECTIONS))
    domain = fields.String(required=True, validate=validate.OneOf(DOMAINS))
    difficulty = fields.String(required=True, validate=validate.OneOf(DIFFICULTIES))
    time_limit_minutes = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=240)
    )
    backends = fields.List(
        fields.String(validate=validate.OneOf(BACKENDS)),
        required=True,
        validate=validate.Length(min=1),
    )
    cluster = fields.Nested(ClusterShapeSchema, required=True)
    setup = fields.Nested(SetupSchema, load_default=lambda: {"manifests": None, "faults": []})
    tasks = fields.List(Text(), required=True, validate=validate.Length(min=1))
    hint_policy = fields.String(
        load_default="after_first_grade", validate=validate.OneOf(HINT_POLICIES)
    )
    cheat_cap_percent = StrictNumber(validate=validate.Range(min=0, max=100))
    checks = fields.List(CheckField(), required=True, validate=validate.Length(min=1))
    selftests = fields.List(fields.Nested(SelftestSchema), load_default=list)
    # Slugs this lab was published under before; importing it retires them.
    renamed_from = fields.List(fields.String(validate=validate.Regexp(CHECK_ID)), load_default=list)

    @validates_schema
    def cites_a_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("seed_section") and not data.get("source"):
            raise ValidationError("names no seed_section or source", "source")


@dataclass
class Lab:
    """A valid lab: its fields as loaded, its checks ready for the engine, its folder."""

    slug: str
    version: int
    title: str
    folder: Path
    data: dict[str, Any]
    checks: list[CheckSpec]
    policy: GradePolicy
    file: str
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def hint_policy(self) -> str:
        return str(self.data["hint_policy"])

    @property
    def node_names(self) -> list[str]:
        return [n["name"] for n in self.data["cluster"]["nodes"]]

    def manifest_paths(self) -> list[Path]:
        """The setup manifests in the order they are applied."""
        folder = self.folder / MANIFEST_DIR
        listed = self.data["setup"].get("manifests")
        if listed is None:
            return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        return [folder / name for name in listed]

    def script_path(self, name: str) -> Path:
        return self.folder / name


class LabFileError(Exception):
    """A lab folder has problems; `issues` lists each with file and line."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def check_lab(folder: Path | str, display: str | None = None) -> tuple[Lab | None, list[Issue]]:
    """Read and validate the lab in `folder`; (lab or None, issues). Never raises for
    bad content."""
    path = Path(folder) / LAB_FILE
    shown = display or str(path)
    # Scripts run with the lab folder as working directory: keep an absolute path.
    folder = Path(folder).resolve()
    if not path.is_file():
        return None, [Issue(shown, 1, f"no {LAB_FILE} in {folder}")]
    doc, data, issues = load_with_schema(path, shown, LabFileSchema(), "a lab file")
    if doc is None or data is None:
        return None, issues
    issues.extend(_cross_checks(doc, data, folder))
    if issues:
        return None, sorted(issues, key=lambda i: (i.line, i.message))
    checks = check_specs(data["checks"])
    lab = Lab(
        slug=data["slug"],
        version=data["version"],
        title=data["title"],
        folder=folder,
        data=data,
        checks=checks,
        policy=GradePolicy(cheat_cap_percent=data.get("cheat_cap_percent")),
        file=shown,
        lines={c.id: doc.line_of(("checks", i)) for i, c in enumerate(checks)},
    )
    return lab, []


def load_with_schema(
    path: Path, shown: str, schema: Schema, what: str
) -> tuple[Document | None, dict[str, Any] | None, list[Issue]]:
    """Parse the YAML file `path` and load it with `schema`: (document, data, issues).
    Without data the issues are final (unreadable, not a mapping, schema errors with
    their lines); with data they are the parser's warnings, if any."""
    try:
        doc = load_document(path, shown)
    except ContentLoadError as exc:
        return None, None, [exc.issue]
    issues = list(doc.issues)
    if not isinstance(doc.data, dict):
        return doc, None, [*issues, Issue(shown, 1, f"{what} must be a YAML mapping")]
    try:
        data: dict[str, Any] = schema.load(doc.data)
    except ValidationError as exc:
        return doc, None, [*issues, *issues_from_errors(doc, exc.messages)]
    return doc, data, issues


def check_specs(checks: list[dict[str, Any]]) -> list[CheckSpec]:
    """Loaded checks (as a lab or exam file holds them, or as stored) for the engine."""
    return [
        CheckSpec(
            id=c["id"],
            kind=c["kind"],
            points=c["points"],
            message=c["message"],
            params=dict(c.get("params") or {}),
            hint=c.get("hint"),
            hint_penalty=c.get("hint_penalty", 0),
            guard=bool(c.get("guard")),
        )
        for c in checks
    ]


def _fault_issues(
    faults: list[dict[str, Any]], nodes: set[str], backends: list[str]
) -> list[tuple[tuple[Any, ...], str]]:
    """(node path, message) for faults naming an unknown node or needing a backend
    the lab does not restrict itself to."""
    out: list[tuple[tuple[Any, ...], str]] = []
    for index, fault in enumerate(faults):
        if "node" in fault and fault["node"] not in nodes:
            out.append((("setup", "faults", index, "node"), f"unknown node {fault['node']!r}"))
        if fault["kind"] == "certificate_expiry" and "kind" in backends:
            where = ("setup", "faults", index, "kind")
            out.append((where, "certificate_expiry needs backends: [simulator]"))
    return out


def _cross_checks(doc: Document, data: dict[str, Any], folder: Path) -> list[Issue]:
    """What one schema cannot see: references between fields and to files."""
    issues: list[Issue] = []

    def add(node_path: tuple[Any, ...], message: str) -> None:
        issues.append(Issue(doc.display, doc.key_line_of(node_path), message))

    if data["slug"] != folder.name:
        add(("slug",), f"slug {data['slug']!r} must equal the folder name {folder.name!r}")
    if len(set(data["backends"])) != len(data["backends"]):
        add(("backends",), "backends lists a backend twice")
    nodes = {n["name"] for n in data["cluster"]["nodes"]}
    spare = [i for i, n in enumerate(data["cluster"]["nodes"]) if n["role"] == "spare"]
    if spare and "kind" in data["backends"]:
        add(("cluster", "nodes", spare[0], "role"), "a spare node needs backends: [simulator]")
    for where, message in _fault_issues(data["setup"]["faults"], nodes, data["backends"]):
        add(where, message)
    manifests = data["setup"].get("manifests")
    manifest_dir = folder / MANIFEST_DIR
    for index, name in enumerate(manifests or []):
        target = (manifest_dir / name).resolve()
        if not target.is_relative_to(manifest_dir.resolve()) or not target.is_file():
            add(("setup", "manifests", index), f"no file {MANIFEST_DIR}/{name}")
    seen: dict[str, int] = {}
    for index, check in enumerate(data["checks"]):
        line = doc.line_of(("checks", index))
        if check["id"] in seen:
            add(
                ("checks", index, "id"),
                f"duplicate check id {check['id']!r} (also line {seen[check['id']]})",
            )
        seen.setdefault(check["id"], line)
        node = check["params"].get("node")
        if (
            isinstance(node, str)
            and check["kind"] in ("node_file", "node_command")
            and node not in nodes
        ):
            add(("checks", index, "node"), f"unknown node {node!r}")
        if check["guard"] and data.get("cheat_cap_percent") is None:
            add(("checks", index, "guard"), "a guard check needs the lab's cheat_cap_percent")
    if data["slug"] in data["renamed_from"]:
        add(("renamed_from",), "a lab cannot be renamed from its own slug")
    if not sum(c["points"] for c in data["checks"]):
        add(("checks",), "the checks are worth no points")
    names: set[str] = set()
    for index, test in enumerate(data["selftests"]):
        if test["name"] in names:
            add(("selftests", index, "name"), f"duplicate self-test {test['name']!r}")
        names.add(test["name"])
        script = test.get("script")
        if script and not (folder / script).is_file():
            add(("selftests", index, "script"), f"no script {script} in the lab folder")
    if not (folder / "solution.md").is_file():
        issues.append(Issue(doc.display, 1, "no solution.md beside lab.yaml"))
    return issues


def bank_spec_checker(doc: Document, content: Any) -> None:
    """Checker for `app.banks.validator` (`certprep bank check`): validates the lab
    whose lab.yaml `doc` is and adds its issues to `content.issues`."""
    _, issues = check_lab(doc.path.parent, display=doc.display)
    content.issues.extend(issues)


def register_bank_checker() -> None:
    """Let the content validator check files with `spec: certprep/lab/v1` (idempotent).

    Only lab.yaml files carry that spec; a caller walking a lab folder must skip the
    plain Kubernetes manifests under manifests/ itself.
    """
    from app.banks.validator import SPEC_CHECKERS, register_spec

    if LAB_SPEC not in SPEC_CHECKERS:
        register_spec(LAB_SPEC, bank_spec_checker)


def load_lab(folder: Path | str) -> Lab:
    """The lab in `folder`; LabFileError listing every problem when it is not valid."""
    lab, issues = check_lab(folder)
    if lab is None:
        raise LabFileError(issues)
    return lab


def load_labs(root: Path | str) -> tuple[list[Lab], list[Issue]]:
    """Every valid lab under `root` (each `*/lab.yaml`), sorted by slug, and all
    problems found."""
    labs: list[Lab] = []
    issues: list[Issue] = []
    for path in sorted(Path(root).glob(f"*/{LAB_FILE}")):
        lab, found = check_lab(path.parent)
        issues.extend(found)
        if lab is not None:
            labs.append(lab)
    return sorted(labs, key=lambda lab: lab.slug), issues

"""The mock exam format: `exams/<slug>.yaml` (spec `certprep/exam/v1`).

An exam set is one file: the clusters the candidate switches between (one kubeconfig
context each), and 15 to 20 tasks. A task names its context, its CKA domain and its
weight (percentage points of the exam), the text the candidate reads, the objects and
faults its setup adds to that context's cluster, the checks that grade it (the lab check
language, `app.grading.checks`) and a reference solution (a bash script, the self-test's
and, after grading, the candidate's). The weights add up to 100 and, per domain, to the
CKA curriculum's share of that domain (`CKA_DOMAIN_WEIGHTS`).

`check_exam(path)` returns the `ExamFile` (or None) and every problem as an `Issue` with
file and line (the question banks' loader and error mapping); `load_exam(path)` raises
`ExamFileError`; `load_exams(root)` reads every `*.yaml` under a folder.
`register_bank_checker()` lets `certprep bank check` validate exam files too.
The format is documented in docs/exams.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import fields, validate

from app.banks.loader import Document, Issue
from app.banks.schemas import DOMAINS, SLUG, StrictNumber, Text
from app.grading.engine import CheckSpec, GradePolicy
from app.grading.labfile import (
    CHECK_ID,
    CheckField,
    ClusterShapeSchema,
    FaultField,
    LabSchema,
    check_specs,
    load_with_schema,
)

EXAM_SPEC = "certprep/exam/v1"
# The CKA curriculum's domain weights (Linux Foundation, CKA curriculum v1.34):
# https://github.com/cncf/curriculum (CKA_Curriculum_v1.34.pdf).
CKA_DOMAIN_WEIGHTS = {
    "Cluster Architecture": 25,
    "Workloads & Scheduling": 15,
    "Services & Networking": 20,
    "Storage": 10,
    "Troubleshooting": 30,
}
MIN_TASKS, MAX_TASKS = 15, 20
# Kubeconfig context names: what `kubectl config use-context` takes.
CONTEXT_NAME = validate.Regexp(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", error="must be kebab-case")


class ExamClusterSchema(ClusterShapeSchema):
    """One context's cluster: the lab cluster shape and the context's name."""

    context = fields.String(required=True, validate=CONTEXT_NAME)


class TaskSetupSchema(LabSchema):
    # Kubernetes objects created through the API before the faults (inline manifests).
    objects = fields.List(fields.Dict(), load_default=list)
    faults = fields.List(FaultField(), load_default=list)


class ExamTaskSchema(LabSchema):
    id = fields.String(
        required=True, validate=validate.Regexp(CHECK_ID, error="must be kebab-case")
    )
    context = fields.String(required=True)
    domain = fields.String(required=True, validate=validate.OneOf(DOMAINS))
    weight = StrictNumber(required=True, validate=validate.Range(min=1, max=20))
    title = Text(required=True)
    text = Text(required=True)
    setup = fields.Nested(TaskSetupSchema, load_default=lambda: {"objects": [], "faults": []})
    cheat_cap_percent = StrictNumber(validate=validate.Range(min=0, max=100))
    checks = fields.List(CheckField(), required=True, validate=validate.Length(min=1))
    solution = fields.String(required=True, validate=validate.Length(min=1))


class ExamFileSchema(LabSchema):
    spec = fields.String(required=True, validate=validate.Equal(EXAM_SPEC))
    slug = fields.String(required=True, validate=validate.Regexp(SLUG, error="must be kebab-case"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = Text(required=True)
    description = fields.String(load_default="")
    time_limit_minutes = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=10, max=240)
    )
    pass_percent = StrictNumber(load_default=66, validate=validate.Range(min=1, max=100))
    clusters = fields.List(
        fields.Nested(ExamClusterSchema), required=True, validate=validate.Length(min=1, max=4)
    )
    tasks = fields.List(
        fields.Nested(ExamTaskSchema),
        required=True,
        validate=validate.Length(min=MIN_TASKS, max=MAX_TASKS),
    )


@dataclass
class ExamTask:
    """One task: where it runs, what it is worth, what the candidate reads, its checks."""

    id: str
    context: str
    domain: str
    weight: float
    title: str
    text: str
    checks: list[CheckSpec]
    policy: GradePolicy
    solution: str


@dataclass
class ExamFile:
    """A valid exam set as loaded, with its tasks ready for the grading engine."""

    slug: str
    version: int
    title: str
    path: Path
    data: dict[str, Any]
    tasks: list[ExamTask] = field(default_factory=list)

    @property
    def contexts(self) -> list[str]:
        return [c["context"] for c in self.data["clusters"]]


class ExamFileError(Exception):
    """An exam file has problems; `issues` lists each with file and line."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def task_checks(task: dict[str, Any]) -> tuple[list[CheckSpec], GradePolicy]:
    """A task's checks (as stored in an exam's spec) for the engine, and its policy."""
    return check_specs(task["checks"]), GradePolicy(cheat_cap_percent=task.get("cheat_cap_percent"))


def context_setup(
    spec: dict[str, Any], context: str
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The manifests (one per task, in task order) and faults of one context's cluster."""
    manifests: list[dict[str, str]] = []
    faults: list[dict[str, Any]] = []
    for task in spec["tasks"]:
        if task["context"] != context:
            continue
        objects = task["setup"].get("objects") or []
        if objects:
            text = yaml.safe_dump_all(objects, sort_keys=False)
            manifests.append({"name": f"{task['id']}.yaml", "content": text})
        faults.extend(task["setup"].get("faults") or [])
    return manifests, faults


def content_hash(spec: dict[str, Any]) -> str:
    """sha256 of the loaded exam file."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def check_exam(path: Path | str, display: str | None = None) -> tuple[ExamFile | None, list[Issue]]:
    """Read and validate one exam file; (exam or None, issues). Never raises for bad
    content."""
    path = Path(path)
    doc, data, issues = load_with_schema(
        path, display or str(path), ExamFileSchema(), "an exam file"
    )
    if doc is None or data is None:
        return None, issues
    issues.extend(_cross_checks(doc, data, path))
    if issues:
        return None, sorted(issues, key=lambda i: (i.line, i.message))
    tasks = []
    for task in data["tasks"]:
        checks, policy = task_checks(task)
        tasks.append(
            ExamTask(
                id=task["id"],
                context=task["context"],
                domain=task["domain"],
                weight=task["weight"],
                title=task["title"],
                text=task["text"],
                checks=checks,
                policy=policy,
                solution=task["solution"],
            )
        )
    exam = ExamFile(data["slug"], data["version"], data["title"], path.resolve(), data, tasks)
    return exam, []


def _cross_checks(doc: Document, data: dict[str, Any], path: Path) -> list[Issue]:
    """References between fields, and the weights."""
    issues: list[Issue] = []

    def add(node_path: tuple[Any, ...], message: str) -> None:
        issues.append(Issue(doc.display, doc.key_line_of(node_path), message))

    if data["slug"] != path.stem:
        add(("slug",), f"slug {data['slug']!r} must equal the file name {path.stem!r}")
    nodes = {c["context"]: {n["name"] for n in c["nodes"]} for c in data["clusters"]}
    if len(nodes) != len(data["clusters"]):
        add(("clusters",), "two clusters share a context name")
    seen: set[str] = set()
    for index, task in enumerate(data["tasks"]):
        if task["id"] in seen:
            add(("tasks", index, "id"), f"duplicate task id {task['id']!r}")
        seen.add(task["id"])
        if task["context"] not in nodes:
            add(("tasks", index, "context"), f"unknown context {task['context']!r}")
            continue
        issues.extend(_task_cross_checks(doc, task, index, nodes[task["context"]]))
    total = sum(t["weight"] for t in data["tasks"])
    if total != 100:
        add(("tasks",), f"the task weights add up to {total:g}, not 100")
    for domain, expected in CKA_DOMAIN_WEIGHTS.items():
        got = sum(t["weight"] for t in data["tasks"] if t["domain"] == domain)
        if got != expected:
            add(("tasks",), f"{domain} tasks weigh {got:g} %, the CKA weighs it {expected} %")
    return issues


def _task_cross_checks(
    doc: Document, task: dict[str, Any], index: int, nodes: set[str]
) -> list[Issue]:
    issues: list[Issue] = []

    def add(node_path: tuple[Any, ...], message: str) -> None:
        issues.append(Issue(doc.display, doc.key_line_of(("tasks", index, *node_path)), message))

    for number, fault in enumerate(task["setup"]["faults"]):
        if "node" in fault and fault["node"] not in nodes:
            add(("setup", "faults", number, "node"), f"unknown node {fault['node']!r}")
    for number, obj in enumerate(task["setup"]["objects"]):
        if not obj.get("apiVersion") or not obj.get("kind"):
            add(("setup", "objects", number), "an object needs apiVersion and kind")
    check_ids: set[str] = set()
    for number, check in enumerate(task["checks"]):
        if check["id"] in check_ids:
            add(("checks", number, "id"), f"duplicate check id {check['id']!r}")
        check_ids.add(check["id"])
        node = check["params"].get("node")
        if isinstance(node, str) and node not in nodes:
            add(("checks", number, "node"), f"unknown node {node!r}")
        if check["guard"] and task.get("cheat_cap_percent") is None:
            add(("checks", number, "guard"), "a guard check needs the task's cheat_cap_percent")
    if not sum(c["points"] for c in task["checks"]):
        add(("checks",), "the checks are worth no points")
    return issues


def load_exam(path: Path | str) -> ExamFile:
    """The exam in `path`; ExamFileError listing every problem when it is not valid."""
    exam, issues = check_exam(path)
    if exam is None:
        raise ExamFileError(issues)
    return exam


def load_exams(root: Path | str) -> tuple[list[ExamFile], list[Issue]]:
    """Every valid exam file under `root` (`*.yaml`; `root` may be one file), sorted by
    slug, and all problems."""
    exams: list[ExamFile] = []
    issues: list[Issue] = []
    root = Path(root)
    for path in [root] if root.is_file() else sorted(root.glob("*.yaml")):
        exam, found = check_exam(path)
        issues.extend(found)
        if exam is not None:
            exams.append(exam)
    return sorted(exams, key=lambda e: e.slug), issues


def bank_spec_checker(doc: Document, content: Any) -> None:
    """Checker for `certprep bank check`: validates the exam file `doc` is."""
    _, issues = check_exam(doc.path, display=doc.display)
    content.issues.extend(issues)


def register_bank_checker() -> None:
    """Let the content validator check files with `spec: certprep/exam/v1` (idempotent)."""
    from app.banks.validator import SPEC_CHECKERS, register_spec

    if EXAM_SPEC not in SPEC_CHECKERS:
        register_spec(EXAM_SPEC, bank_spec_checker)

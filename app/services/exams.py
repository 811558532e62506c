"""Mock exam sets in the database: importing `exams/*.yaml`, the catalogue, and what a
candidate may read of an exam.

`import_exams(root)` validates every exam file (app.grading.examfile) and upserts one
`Exam` row per slug with the loaded file (tasks, checks and reference solutions), so a
worker needs no content folder; an unchanged file (same content hash) is left alone.
A candidate reads an exam's title, time limit, pass mark, contexts and, per task, its
title, domain, context and weight; the task texts come with an attempt, and checks and
solutions never before the attempt is graded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from app.clusters.base import LabSetup
from app.extensions import db
from app.grading.examfile import content_hash, context_setup, load_exams
from app.models.base import utcnow
from app.models.exam import Exam
from app.services.errors import NotFound, ValidationFailed


@dataclass
class ExamImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{name}: {len(v)}" for name, v in vars(self).items() if v]
        return ", ".join(parts) or "nothing changed"


def default_exams_root() -> Path:
    """`./exams` when it exists, else the project's own `exams/` folder."""
    here = Path("exams")
    if here.is_dir():
        return here
    from app.config import PROJECT_ROOT

    return PROJECT_ROOT / "exams"


def import_exams(root: Path | str | None = None) -> ExamImportReport:
    """Validate and upsert every exam file under `root` (default `default_exams_root()`);
    commits. Raises `ValidationFailed` listing FILE:LINE problems (nothing written)."""
    exams, issues = load_exams(Path(root) if root is not None else default_exams_root())
    if issues:
        raise ValidationFailed(
            f"{len(issues)} exam file error(s)", errors={"exams": [str(i) for i in issues]}
        )
    report = ExamImportReport()
    now = utcnow()
    existing = {exam.slug: exam for exam in db.session.scalars(select(Exam))}
    for loaded in exams:
        spec = _jsonable(loaded.data)
        digest = content_hash(spec)
        values = {
            "version": loaded.version,
            "title": loaded.title,
            "description": spec.get("description") or "",
            "time_limit_minutes": spec["time_limit_minutes"],
            "pass_percent": float(spec["pass_percent"]),
            "content_hash": digest,
            "spec": spec,
        }
        row = existing.get(loaded.slug)
        if row is None:
            db.session.add(Exam(slug=loaded.slug, created_at=now, updated_at=now, **values))
            report.added.append(loaded.slug)
        elif row.content_hash != digest or row.retired_at is not None:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at, row.retired_at = now, None
            report.updated.append(loaded.slug)
        else:
            report.unchanged.append(loaded.slug)
    db.session.commit()
    return report


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def exams_query() -> Select[Exam]:
    """Live exams, by title."""
    return select(Exam).where(Exam.retired_at.is_(None)).order_by(Exam.title, Exam.slug)


def get_exam(slug: str) -> Exam:
    """The live exam `slug`; `NotFound` for an unknown or retired one."""
    exam = db.session.scalar(select(Exam).where(Exam.slug == slug, Exam.retired_at.is_(None)))
    if exam is None:
        raise NotFound(f"Exam {slug!r} not found.")
    return exam


def domain_weights(spec: dict[str, Any]) -> dict[str, float]:
    """Percentage points per CKA domain, in the order the tasks first name them."""
    weights: dict[str, float] = {}
    for task in spec["tasks"]:
        weights[task["domain"]] = weights.get(task["domain"], 0) + task["weight"]
    return weights


def contexts_view(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The exam's kubeconfig contexts and their nodes (name, role)."""
    return [
        {
            "name": c["context"],
            "nodes": [{"name": n["name"], "role": n["role"]} for n in c["nodes"]],
        }
        for c in spec["clusters"]
    ]


def exam_view(exam: Exam) -> dict[str, Any]:
    """What anyone may read of an exam before an attempt: no task texts, checks or
    solutions."""
    spec = exam.spec
    return {
        "slug": exam.slug,
        "version": exam.version,
        "title": exam.title,
        "description": exam.description,
        "time_limit_minutes": exam.time_limit_minutes,
        "pass_percent": exam.pass_percent,
        "contexts": contexts_view(spec),
        "domains": [{"domain": d, "weight": w} for d, w in domain_weights(spec).items()],
        "tasks": [
            {
                "number": number,
                "id": t["id"],
                "title": t["title"],
                "domain": t["domain"],
                "context": t["context"],
                "weight": t["weight"],
            }
            for number, t in enumerate(spec["tasks"], start=1)
        ],
    }


def context_lab_setup(exam: Exam, context: str) -> LabSetup:
    """The provider's view of one context's cluster: shape, the tasks' objects as one
    manifest per task, their faults; the snapshot cache key is per exam version and
    context."""
    cluster = next(c for c in exam.spec["clusters"] if c["context"] == context)
    manifests, faults = context_setup(exam.spec, context)
    return LabSetup(
        slug=f"exam-{exam.slug}-{context}",
        content_hash=f"{exam.content_hash}-{context}",
        shape={"nodes": cluster["nodes"]},
        manifests=manifests,
        faults=faults,
    )

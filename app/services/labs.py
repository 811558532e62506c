"""Labs in the database: importing lab folders, listing them, and the learner's view.

`import_labs(root)` validates every `labs/<slug>/lab.yaml` (app.grading.labfile) and
upserts one `Lab` row per slug with the loaded lab file and its manifests' text, so a
worker needs no content folder. Same content hash: nothing changes. An import only
touches the labs it read: a live lab missing from the folder is reported as `absent`
and left alone, unless the caller asks to `prune`, which retires it (sessions that use
it keep working).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from app.clusters.base import LabSetup
from app.extensions import db
from app.grading.engine import CheckSpec, GradePolicy
from app.grading.labfile import LAB_FILE, check_lab, check_specs, load_labs
from app.grading.labfile import Lab as LabFile
from app.models.base import utcnow
from app.models.lab import Lab
from app.services.errors import NotFound, ValidationFailed


@dataclass
class LabImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    # Live labs in the database that the import did not see and (without `prune`) kept.
    absent: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{name}: {len(v)}" for name, v in vars(self).items() if v and name != "absent"]
        return ", ".join(parts) or "nothing changed"


def default_labs_root() -> Path:
    """`./labs` when it exists, else the project's own `labs/` folder."""
    here = Path("labs")
    if here.is_dir():
        return here
    from app.config import PROJECT_ROOT

    return PROJECT_ROOT / "labs"


def _manifests(lab: LabFile) -> list[dict[str, str]]:
    return [{"name": p.name, "content": p.read_text()} for p in lab.manifest_paths()]


def lab_content_hash(spec: dict[str, Any], manifests: list[dict[str, str]]) -> str:
    """sha256 over the loaded lab file and the manifests' text."""
    payload = json.dumps({"spec": spec, "manifests": manifests}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _load(root: Path) -> tuple[list[LabFile], list[Any]]:
    """The labs under `root`, or the one lab when `root` is itself a lab folder."""
    if (root / LAB_FILE).is_file():
        lab, issues = check_lab(root)
        return ([lab] if lab is not None else []), issues
    return load_labs(root)


def import_labs(
    root: Path | str | Sequence[Path | str] | None = None, *, prune: bool = False
) -> LabImportReport:
    """Validate and upsert every lab under `root` (default `default_labs_root()`), or the
    one lab when `root` is a lab folder; `root` may also be a list of such folders;
    commits.

    Live labs not found under `root` are listed in `report.absent` and kept; with
    `prune` they are retired instead (`report.retired`). A live lab whose slug a loaded
    lab lists in `renamed_from` is retired in any case. Raises `ValidationFailed`
    listing FILE:LINE problems (nothing written).
    """
    if root is None:
        roots = [default_labs_root()]
    elif isinstance(root, str | Path):
        roots = [Path(root)]
    else:
        roots = [Path(r) for r in root]
    labs, issues = [], []
    for folder in roots:
        found, problems = _load(folder)
        labs.extend(found)
        issues.extend(problems)
    if issues:
        raise ValidationFailed(
            f"{len(issues)} lab file error(s)", errors={"labs": [str(i) for i in issues]}
        )
    report = LabImportReport()
    now = utcnow()
    existing = {lab.slug: lab for lab in db.session.scalars(select(Lab))}
    for loaded in labs:
        manifests = _manifests(loaded)
        spec = json.loads(json.dumps(loaded.data, default=str))
        digest = lab_content_hash(spec, manifests)
        data = loaded.data
        values = {
            "version": loaded.version,
            "title": loaded.title,
            "description": data.get("description") or "",
            "domain": data["domain"],
            "section": data["section"],
            "difficulty": data["difficulty"],
            "time_limit_minutes": data["time_limit_minutes"],
            "content_hash": digest,
            "spec": spec,
            "manifests": manifests,
            "source_folder": loaded.folder.name,
        }
        row = existing.get(loaded.slug)
        if row is None:
            db.session.add(Lab(slug=loaded.slug, created_at=now, updated_at=now, **values))
            report.added.append(loaded.slug)
        elif row.content_hash != digest or row.retired_at is not None:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at, row.retired_at = now, None
            report.updated.append(loaded.slug)
        else:
            report.unchanged.append(loaded.slug)
    seen = {lab.slug for lab in labs}
    # A lab's former slugs (`renamed_from`) are retired even without `prune`: the lab
    # lives on under its new slug; the old row keeps its sessions and grades.
    renamed = {old for lab in labs for old in lab.data.get("renamed_from") or ()} - seen
    for slug, row in sorted(existing.items()):
        if slug in seen or row.retired_at is not None:
            continue
        if prune or slug in renamed:
            row.retired_at = now
            report.retired.append(slug)
        else:
            report.absent.append(slug)
    db.session.commit()
    return report


def labs_query() -> Select[Lab]:
    """Live labs, by title."""
    return select(Lab).where(Lab.retired_at.is_(None)).order_by(Lab.title, Lab.slug)


def get_lab(slug: str) -> Lab:
    """The live lab `slug`; `NotFound` for an unknown or retired one."""
    lab = db.session.scalar(select(Lab).where(Lab.slug == slug, Lab.retired_at.is_(None)))
    if lab is None:
        raise NotFound(f"Lab {slug!r} not found.")
    return lab


def lab_view(lab: Lab) -> dict[str, Any]:
    """What anyone may see of a lab: metadata, nodes, tasks, and per check only its id,
    points and message (never its expected values, hints or the solution)."""
    spec = lab.spec
    return {
        "slug": lab.slug,
        "version": lab.version,
        "title": lab.title,
        "description": lab.description,
        "domain": lab.domain,
        "section": lab.section,
        "difficulty": lab.difficulty,
        "time_limit_minutes": lab.time_limit_minutes,
        "backends": list(spec.get("backends") or []),
        "hint_policy": spec.get("hint_policy"),
        "nodes": [{"name": n["name"], "role": n["role"]} for n in spec["cluster"]["nodes"]],
        "tasks": list(spec.get("tasks") or []),
        "checks": [
            {"id": c["id"], "points": c["points"], "message": c["message"]}
            for c in spec.get("checks") or []
        ],
        "total_points": sum(c["points"] for c in spec.get("checks") or []),
    }


def lab_setup(lab: Lab) -> LabSetup:
    """The provider's view of a lab: shape, manifests and faults, keyed by content hash."""
    return LabSetup(
        slug=lab.slug,
        content_hash=lab.content_hash,
        shape=lab.spec["cluster"],
        manifests=list(lab.manifests),
        faults=list((lab.spec.get("setup") or {}).get("faults") or []),
    )


def lab_checks(lab: Lab) -> tuple[list[CheckSpec], GradePolicy]:
    """The lab's checks for the grading engine, and its grade policy."""
    return check_specs(lab.spec["checks"]), GradePolicy(
        cheat_cap_percent=lab.spec.get("cheat_cap_percent")
    )


def node_names(lab: Lab) -> list[str]:
    return [n["name"] for n in lab.spec["cluster"]["nodes"]]

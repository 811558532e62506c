"""Importing checked content into the database, idempotently and with versions.

- A question is matched by its stable id. Same content (hash) as its current row: nothing
  changes. Different content: the current row stops being current and a new row with the
  next revision is added; old rows stay for the attempts that pinned them.
- A question that disappeared from an imported bank is retired (never deleted): it is no
  longer drawn, and attempts that hold it still score. Re-adding it un-retires it.
- Blueprint quizzes are matched by slug and updated in place; one that disappeared from
  its file is retired.
- Banks and blueprint quizzes the import did not read at all are never retired
  implicitly: they are listed as absent, and retired only when the caller asks to
  `prune` (then the imported content is taken as the whole catalogue).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, case, func, select

from app.banks.validator import ContentSet, LoadedQuiz, load_content
from app.extensions import db
from app.models.base import utcnow
from app.models.question import Bank, Question
from app.models.quiz import Quiz, QuizSource
from app.services.errors import Conflict, ValidationFailed

# Quiz fields copied from a blueprint onto the Quiz row.
QUIZ_FIELDS = (
    "title",
    "description",
    "time_limit_minutes",
    "pass_mark",
    "attempts_allowed",
    "grading_method",
    "shuffle_questions",
    "shuffle_options",
    "expiry_policy",
    "grace_minutes",
    "review_policy",
    "review_after",
    "close_at",
    "draw",
)


@dataclass
class ImportReport:
    """What an import changed, by kind."""

    counts: dict[str, int] = field(
        default_factory=lambda: {
            "questions_added": 0,
            "questions_revised": 0,
            "questions_unchanged": 0,
            "questions_retired": 0,
            "questions_restored": 0,
            "quizzes_added": 0,
            "quizzes_updated": 0,
            "quizzes_unchanged": 0,
            "quizzes_retired": 0,
            "banks_retired": 0,
        }
    )

    # "bank SLUG" / "quiz SLUG" retired by `prune`, or (without it) live but not imported.
    retired: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)

    def bump(self, key: str) -> None:
        self.counts[key] += 1

    @property
    def changed(self) -> bool:
        return any(v for k, v in self.counts.items() if not k.endswith("_unchanged"))

    def __str__(self) -> str:
        return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in self.counts.items() if v)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def content_hash(data: Any) -> str:
    """SHA-256 of `data` as canonical JSON (sorted keys): equal content, equal hash."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=_json_default))


def _upsert_bank(loaded: Any, now: datetime) -> Bank:
    bank = db.session.scalar(select(Bank).where(Bank.slug == loaded.slug))
    if bank is None:
        bank = Bank(slug=loaded.slug, created_at=now)
        db.session.add(bank)
    fields = {
        "title": loaded.title,
        "description": loaded.description,
        "source_file": loaded.file,
        "retired_at": None,
    }
    if any(getattr(bank, k, None) != v for k, v in fields.items()):
        for key, value in fields.items():
            setattr(bank, key, value)
        bank.updated_at = now
    db.session.flush()
    return bank


def _question_row(bank: Bank, data: dict[str, Any], digest: str, revision: int) -> Question:
    return Question(
        uid=data["id"],
        revision=revision,
        bank=bank,
        declared_version=data["version"],
        content_hash=digest,
        type=data["type"],
        difficulty=data["difficulty"],
        domain=data["domain"],
        section=data["section"],
        topic=data["topic"],
        seed_section=data["seed_section"],
        points=float(data["points"]),
        body=_jsonable(data),
        is_current=True,
    )


def _import_questions(content: ContentSet, report: ImportReport, now: datetime) -> None:
    current = {q.uid: q for q in db.session.scalars(select(Question).where(Question.is_current))}
    imported_banks: set[int] = set()
    seen: set[str] = set()
    for loaded_bank in content.banks:
        bank = _upsert_bank(loaded_bank, now)
        imported_banks.add(bank.id)
        for loaded in loaded_bank.questions:
            data = loaded.data
            seen.add(data["id"])
            # The bank takes part in the hash: moving a question changes what draws it.
            digest = content_hash({"bank": bank.slug, "question": data})
            row = current.get(data["id"])
            if row is not None and row.content_hash == digest:
                if row.retired_at is not None:
                    row.retired_at = None
                    report.bump("questions_restored")
                else:
                    report.bump("questions_unchanged")
                continue
            revision = 1
            if row is not None:
                row.is_current = False
                revision = row.revision + 1
                report.bump("questions_revised")
            else:
                latest = db.session.scalar(
                    select(Question.revision)
                    .where(Question.uid == data["id"])
                    .order_by(Question.revision.desc())
                    .limit(1)
                )
                revision = (latest or 0) + 1
                report.bump("questions_added")
            db.session.flush()
            db.session.add(_question_row(bank, data, digest, revision))
    for row in current.values():
        if row.bank_id in imported_banks and row.uid not in seen and row.retired_at is None:
            row.retired_at = now
            report.bump("questions_retired")


def _import_quizzes(
    quizzes: list[LoadedQuiz], report: ImportReport, now: datetime, files: set[str]
) -> None:
    seen: set[str] = set()
    for loaded in quizzes:
        data = loaded.data
        seen.add(data["slug"])
        digest = content_hash(data)
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == data["slug"]))
        if quiz is not None and quiz.source is not QuizSource.BLUEPRINT:
            raise Conflict(
                f"{loaded.file}:{loaded.line}: quiz slug {data['slug']!r} is taken by a custom quiz"
            )
        if quiz is not None and quiz.content_hash == digest and quiz.retired_at is None:
            if quiz.source_file != loaded.file:
                quiz.source_file = loaded.file
            report.bump("quizzes_unchanged")
            continue
        if quiz is None:
            quiz = Quiz(slug=data["slug"], source=QuizSource.BLUEPRINT, created_at=now)
            db.session.add(quiz)
            report.bump("quizzes_added")
        else:
            report.bump("quizzes_updated")
        for name in QUIZ_FIELDS:
            setattr(quiz, name, data[name])
        quiz.draw = _jsonable({"draw": data["draw"]})["draw"]
        quiz.source_file = loaded.file
        quiz.content_hash = digest
        quiz.retired_at = None
        quiz.updated_at = now
    stale = select(Quiz).where(
        Quiz.source == QuizSource.BLUEPRINT,
        Quiz.source_file.in_(files),
        Quiz.retired_at.is_(None),
    )
    for quiz in db.session.scalars(stale):
        if quiz.slug not in seen:
            quiz.retired_at = now
            report.bump("quizzes_retired")


def import_content(content: ContentSet, prune: bool = False) -> ImportReport:
    """Write checked `content` to the database in one transaction and commit.

    Questions missing from an imported bank and quizzes missing from an imported
    blueprint file are retired. Live banks and blueprint quizzes that `content` does not
    hold at all are listed in `report.absent`; with `prune` (`content` is the whole
    catalogue) they are retired instead and listed in `report.retired`.

    Raises `ValidationFailed` when `content` has issues (nothing is written) and
    `Conflict` when a blueprint's slug belongs to a custom quiz.
    """
    if content.issues:
        raise ValidationFailed(
            f"{len(content.issues)} content error(s); run `certprep bank check`.",
            errors={"content": [str(i) for i in content.issues]},
        )
    now = utcnow()
    report = ImportReport()
    try:
        _import_questions(content, report, now)
        db.session.flush()
        _import_quizzes(content.quizzes, report, now, {q.file for q in content.quizzes})
        _missing_banks_and_quizzes(content, report, now, prune)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _missing_banks_and_quizzes(
    content: ContentSet, report: ImportReport, now: datetime, prune: bool
) -> None:
    """Banks (with their questions) and blueprint quizzes absent from `content`: retired
    with `prune`, else only listed in `report.absent`."""
    banks = {b.slug for b in content.banks}
    for bank in db.session.scalars(
        select(Bank).where(Bank.retired_at.is_(None)).order_by(Bank.slug)
    ):
        if bank.slug in banks:
            continue
        if not prune:
            report.absent.append(f"bank {bank.slug}")
            continue
        bank.retired_at = now
        report.bump("banks_retired")
        report.retired.append(f"bank {bank.slug}")
        for question in db.session.scalars(
            select(Question).where(
                Question.bank_id == bank.id, Question.is_current, Question.retired_at.is_(None)
            )
        ):
            question.retired_at = now
            report.bump("questions_retired")
    quizzes = {q.data["slug"] for q in content.quizzes}
    for quiz in db.session.scalars(
        select(Quiz)
        .where(Quiz.source == QuizSource.BLUEPRINT, Quiz.retired_at.is_(None))
        .order_by(Quiz.slug)
    ):
        if quiz.slug in quizzes:
            continue
        if not prune:
            report.absent.append(f"quiz {quiz.slug}")
            continue
        quiz.retired_at = now
        report.bump("quizzes_retired")
        report.retired.append(f"quiz {quiz.slug}")


def import_paths(paths: list[Path], prune: bool = False) -> ImportReport:
    """Check and import the content under `paths` (see `import_content`)."""
    return import_content(load_content(paths), prune=prune)


def banks_overview() -> list[dict[str, Any]]:
    """Every bank with its counts of live and retired current questions, by slug."""
    live = func.sum(case((Question.retired_at.is_(None), 1), else_=0))
    retired = func.sum(case((Question.retired_at.is_not(None), 1), else_=0))
    counts = {
        bank_id: (int(n_live or 0), int(n_retired or 0))
        for bank_id, n_live, n_retired in db.session.execute(
            select(Question.bank_id, live, retired)
            .where(Question.is_current)
            .group_by(Question.bank_id)
        )
    }
    return [
        {
            "slug": bank.slug,
            "title": bank.title,
            "description": bank.description,
            "source_file": bank.source_file,
            "question_count": counts.get(bank.id, (0, 0))[0],
            "retired_count": counts.get(bank.id, (0, 0))[1],
            "updated_at": bank.updated_at,
            "retired_at": bank.retired_at,
        }
        for bank in db.session.scalars(select(Bank).order_by(Bank.slug))
    ]


def questions_query(include_retired: bool = False, **filters: str) -> Select[tuple[Question]]:
    """Current question revisions matching `filters` (bank slug or a question attribute),
    ordered by bank and id."""
    stmt = select(Question).join(Bank).where(Question.is_current)
    if not include_retired:
        stmt = stmt.where(Question.retired_at.is_(None))
    for name, value in filters.items():
        column = Bank.slug if name == "bank" else getattr(Question, name)
        stmt = stmt.where(column == value)
    return stmt.order_by(Bank.slug, Question.uid)

"""Cohort progress: per learner, per CKA domain and per seed topic, readiness against the
CKA pass mark, cohort aggregates; JSON and CSV.

What counts: submitted quiz attempts (in-progress and abandoned attempts never count as
scores) at the quizzes assigned to the cohort (every quiz when none is assigned), and
lab grades from the `LabProgressSource` (see below) for the assigned labs.

Mastery of a domain or topic is points-weighted: the points earned over the points
available across every counted quiz item and lab check of that domain or topic.
Readiness is the same ratio over everything counted. Evidence is the number of counted
quiz items and lab checks, per domain and per topic.

The readiness rule (`readiness_status`): a learner is **ready** when every CKA domain
(`CKA_DOMAINS`) has at least `MIN_DOMAIN_EVIDENCE` pieces of evidence and the readiness
is 66 % or more; **not ready** when every domain has that evidence and the readiness is
below 66 %; **not enough evidence** when a domain lacks it (two quizzes on two domains
say nothing about the other three, however high the score); **no results** before the
first counted attempt or grade.

Labs plug in through `LabProgressSource`: an object with `lab_grades(user_ids,
lab_slugs)` returning `LabGrade` records. The default reads the stored lab grades
(`StoredLabGrades`); another source (or `NoLabProgress`) can be registered with
`register_lab_progress_source(app, source)`.
"""

from __future__ import annotations

import csv
import io
import statistics as stats
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.banks.schemas import DOMAINS
from app.clock import now
from app.extensions import db
from app.models.attempt import Attempt, AttemptItem, AttemptStatus
from app.models.cohort import AssignmentKind, Cohort
from app.models.quiz import Quiz
from app.models.user import User
from app.services import activity
from app.services.cohorts import members
from app.services.scoring import percent

# The CKA passing score is 66 % (Linux Foundation, CKA candidate handbook).
PASS_MARK = 66.0
# The five domains of the CKA curriculum (as tagged in questions/ and labs/).
CKA_DOMAINS = DOMAINS
# Counted quiz items plus lab checks a domain needs before readiness is claimed. The
# mock exam draws 2 Storage items per attempt, so one attempt alone never settles it.
MIN_DOMAIN_EVIDENCE = 3
# Weak topics shown: per learner, and for the whole cohort.
WEAK_TOPICS_PER_LEARNER = 3
WEAK_TOPICS_PER_COHORT = 5
READY = "ready"
NOT_READY = "not ready"
NOT_ENOUGH_EVIDENCE = "not enough evidence"
NO_RESULTS = "no results"
# Readiness histogram: ten buckets of ten points, the last one including 100.
BUCKET_WIDTH = 10
LAB_SOURCE_KEY = "certprep.lab_progress_source"


@dataclass(frozen=True)
class LabCheckResult:
    """One check of one lab grade."""

    check_id: str
    domain: str
    topic: str
    score: float
    max_score: float
    passed: bool
    hints_used: int = 0


@dataclass(frozen=True)
class LabGrade:
    """One graded lab session of one learner."""

    user_id: int
    lab_slug: str
    session_id: int
    percent: float
    passed: bool
    graded_at: datetime
    time_spent_seconds: float = 0.0
    checks: tuple[LabCheckResult, ...] = field(default_factory=tuple)


class LabProgressSource(Protocol):
    """Where progress and statistics read lab grades from."""

    def lab_grades(
        self, user_ids: Sequence[int] | None, lab_slugs: Sequence[str] | None
    ) -> list[LabGrade]:
        """Final grades of `user_ids` (every learner when None) for `lab_slugs` (every
        lab when None), oldest first."""
        ...


class NoLabProgress:
    """The source used until lab sessions and grades are stored: no grades."""

    def lab_grades(
        self, user_ids: Sequence[int] | None, lab_slugs: Sequence[str] | None
    ) -> list[LabGrade]:
        return []


class StoredLabGrades:
    """Lab grades from the `lab_sessions` and `lab_grades` tables.

    Per session, the grade that stands is the final one (taken at expiry) when there is
    one, else the latest finished one: re-grading the same cluster does not count twice.
    Each check counts under the lab's domain, and under the lab's `topic` when its file
    names one, else its section. A lab is passed at the CKA pass mark. A check's hint
    counts as used when the session revealed it. Time spent runs from the cluster being
    ready to the session's end (or its last grade).
    """

    def lab_grades(
        self, user_ids: Sequence[int] | None, lab_slugs: Sequence[str] | None
    ) -> list[LabGrade]:
        from app.models.lab import Grade, GradeStatus, Lab, LabSession

        stmt = (
            select(Grade, LabSession, Lab)
            .join(LabSession, LabSession.id == Grade.session_id)
            .join(Lab, Lab.id == LabSession.lab_id)
            .where(Grade.status == GradeStatus.DONE, Grade.percentage.is_not(None))
            .order_by(Grade.session_id, Grade.final, Grade.number)
        )
        if user_ids is not None:
            stmt = stmt.where(LabSession.user_id.in_(list(user_ids)))
        if lab_slugs is not None:
            stmt = stmt.where(Lab.slug.in_(list(lab_slugs)))
        standing: dict[int, tuple[Any, Any, Any]] = {}
        for grade, session, lab in db.session.execute(stmt):
            # Ordered so the final grade, else the highest number, comes last per session.
            standing[session.id] = (grade, session, lab)
        return [_lab_grade(*row) for row in standing.values()]


def _lab_grade(grade: Any, session: Any, lab: Any) -> LabGrade:
    topic = str((lab.spec or {}).get("topic") or lab.section)
    revealed = set(session.hints_revealed or [])
    checks = tuple(
        LabCheckResult(
            check_id=str(check.get("id")),
            domain=lab.domain,
            topic=topic,
            score=float(check.get("earned") or 0.0),
            max_score=float(check.get("points") or 0.0),
            passed=bool(check.get("passed")),
            hints_used=1 if check.get("id") in revealed else 0,
        )
        for check in (grade.result or {}).get("checks", [])
    )
    graded_at = grade.finished_at or grade.requested_at
    ended = session.ended_at or graded_at
    spent = (ended - session.ready_at).total_seconds() if session.ready_at else 0.0
    return LabGrade(
        user_id=session.user_id,
        lab_slug=lab.slug,
        session_id=session.id,
        percent=float(grade.percentage),
        passed=float(grade.percentage) >= PASS_MARK,
        graded_at=graded_at,
        time_spent_seconds=max(0.0, spent),
        checks=checks,
    )


def register_lab_progress_source(app: Flask, source: LabProgressSource) -> None:
    """Make `source` the app's lab progress source."""
    app.extensions[LAB_SOURCE_KEY] = source


def lab_progress_source() -> LabProgressSource:
    """The current app's lab progress source: the registered one, else the stored lab
    grades (`StoredLabGrades`)."""
    return current_app.extensions.get(LAB_SOURCE_KEY) or StoredLabGrades()


class _Tally:
    """Points earned and available, and the pieces of evidence counted, by key."""

    def __init__(self) -> None:
        self.points: dict[str, list[float]] = {}

    def add(self, key: str, score: float, max_score: float, evidence: float = 1) -> None:
        entry = self.points.setdefault(key, [0.0, 0.0, 0])
        entry[0] += score
        entry[1] += max_score
        entry[2] += evidence

    def merge(self, other: _Tally) -> None:
        for key, (score, max_score, evidence) in other.points.items():
            self.add(key, score, max_score, evidence)

    def view(self) -> dict[str, dict[str, float]]:
        return {
            key: {
                "score": round(score, 4),
                "max_score": round(max_score, 4),
                "percent": percent(score, max_score),
                "evidence": int(evidence),
            }
            for key, (score, max_score, evidence) in sorted(self.points.items())
        }


def readiness_status(readiness: float | None, domains: dict[str, dict[str, Any]]) -> str:
    """`ready`, `not ready`, `not enough evidence` or `no results` (module docstring)."""
    if readiness is None:
        return NO_RESULTS
    if missing_domains(domains):
        return NOT_ENOUGH_EVIDENCE
    return READY if readiness >= PASS_MARK else NOT_READY


def missing_domains(domains: dict[str, dict[str, Any]]) -> list[str]:
    """The CKA domains with less than `MIN_DOMAIN_EVIDENCE` evidence."""
    return [
        name
        for name in CKA_DOMAINS
        if domains.get(name, {}).get("evidence", 0) < MIN_DOMAIN_EVIDENCE
    ]


def weakest_topics(topics: dict[str, dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` topics below the pass mark, weakest first (more evidence first on a
    tie, then by name): `{"topic", "percent", "evidence"}`."""
    weak = sorted(
        (name for name, t in topics.items() if t["percent"] < PASS_MARK),
        key=lambda name: (topics[name]["percent"], -topics[name]["evidence"], name),
    )
    return [
        {"topic": name, "percent": topics[name]["percent"], "evidence": topics[name]["evidence"]}
        for name in weak[:limit]
    ]


def _assigned(cohort: Cohort, kind: AssignmentKind) -> list[str]:
    return [a.slug for a in cohort.assignments if a.kind is kind]


def _attempts(user_ids: list[int], quiz_slugs: list[str]) -> list[Attempt]:
    if not user_ids:
        return []
    stmt = (
        select(Attempt)
        .where(Attempt.user_id.in_(user_ids))
        .options(selectinload(Attempt.items).joinedload(AttemptItem.question))
        .order_by(Attempt.started_at, Attempt.id)
    )
    if quiz_slugs:
        stmt = stmt.join(Quiz, Quiz.id == Attempt.quiz_id).where(Quiz.slug.in_(quiz_slugs))
    return list(db.session.scalars(stmt))


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def learner_progress(
    user: User,
    attempts: list[Attempt],
    grades: list[LabGrade],
    last_event: datetime | None,
    assignments: list[dict[str, Any]],
    moment: datetime,
) -> dict[str, Any]:
    """One learner's progress from their attempts (any status) and lab grades."""
    submitted = [a for a in attempts if a.status is AttemptStatus.SUBMITTED]
    domains, topics, overall = _Tally(), _Tally(), _Tally()
    for attempt in submitted:
        for item in attempt.items:
            score = item.score or 0.0
            domains.add(item.question.domain, score, item.max_score)
            topics.add(item.question.topic, score, item.max_score)
            overall.add("all", score, item.max_score)
    labs: dict[str, dict[str, Any]] = {}
    lab_seconds = 0.0
    for grade in grades:
        lab_seconds += grade.time_spent_seconds
        entry = labs.setdefault(
            grade.lab_slug, {"slug": grade.lab_slug, "grades": 0, "best_percent": None}
        )
        entry["grades"] += 1
        entry["best_percent"] = max(entry["best_percent"] or 0.0, grade.percent)
        entry["passed"] = entry.get("passed", False) or grade.passed
        for check in grade.checks:
            domains.add(check.domain, check.score, check.max_score)
            topics.add(check.topic, check.score, check.max_score)
            overall.add("all", check.score, check.max_score)
    by_submit = sorted(submitted, key=lambda a: (a.submitted_at, a.id))
    quiz_seconds = sum((a.submitted_at - a.started_at).total_seconds() for a in submitted)
    topic_view = topics.view()
    domain_view = domains.view()
    has_data = bool(overall.points)
    readiness = overall.view()["all"]["percent"] if has_data else None
    status = readiness_status(readiness, domain_view)
    weak = weakest_topics(topic_view, WEAK_TOPICS_PER_LEARNER) if has_data else []
    quizzes: dict[str, dict[str, Any]] = {}
    for attempt in by_submit:
        entry = quizzes.setdefault(
            attempt.quiz.slug, {"slug": attempt.quiz.slug, "attempts": 0, "best": None}
        )
        entry["attempts"] += 1
        entry["last"] = attempt.percent
        if attempt.percent is not None:
            entry["best"] = max(entry["best"] or 0.0, attempt.percent)
    done_quizzes = {a.quiz.slug for a in submitted}
    done_labs = set(labs)
    assignment_status = []
    for assignment in assignments:
        done = assignment["slug"] in (done_quizzes if assignment["kind"] == "quiz" else done_labs)
        due = assignment["due_at"]
        assignment_status.append(
            {
                "id": assignment.get("id"),
                "kind": assignment["kind"],
                "slug": assignment["slug"],
                "due_at": due,
                "extended": bool(assignment.get("extended")),
                "done": done,
                "overdue": not done and due is not None and moment > due,
            }
        )
    return {
        "user_id": user.id,
        "email": user.email,
        "attempts": len(submitted),
        "attempts_in_progress": sum(1 for a in attempts if a.status is AttemptStatus.IN_PROGRESS),
        "attempts_abandoned": sum(1 for a in attempts if a.status is AttemptStatus.ABANDONED),
        "best_percent": max((a.percent for a in submitted), default=None),
        "last_percent": by_submit[-1].percent if by_submit else None,
        "quizzes": quizzes,
        "labs_completed": len(labs),
        "labs": sorted(labs.values(), key=lambda entry: entry["slug"]),
        "time_spent_seconds": round(quiz_seconds + lab_seconds),
        "last_activity": _latest(
            last_event,
            *(a.started_at for a in attempts),
            *(a.submitted_at for a in attempts),
            *(g.graded_at for g in grades),
        ),
        "domains": domain_view,
        "topics": topic_view,
        "readiness_percent": readiness,
        "ready": status == READY,
        "readiness_status": status,
        "missing_domains": missing_domains(domain_view) if has_data else list(CKA_DOMAINS),
        "weak_topics": [w["topic"] for w in weak],
        "weak_topic_details": weak,
        "assignments": assignment_status,
    }


def due_date_extensions(assignment_ids: Sequence[int]) -> dict[tuple[int, int], datetime]:
    """Learners' own due dates: `{(assignment id, user id): due_at}`."""
    from app.models.staff import DueDateExtension

    if not assignment_ids:
        return {}
    rows = db.session.execute(
        select(
            DueDateExtension.assignment_id, DueDateExtension.user_id, DueDateExtension.due_at
        ).where(DueDateExtension.assignment_id.in_(list(assignment_ids)))
    )
    return {(assignment, user): due for assignment, user, due in rows}


def distribution(values: list[float]) -> list[dict[str, Any]]:
    """Counts of `values` (0-100) in ten-point buckets `[0, 10)`, ..., `[90, 100]`."""
    buckets = [
        {"low": low, "high": low + BUCKET_WIDTH, "count": 0} for low in range(0, 100, BUCKET_WIDTH)
    ]
    for value in values:
        index = min(int(value // BUCKET_WIDTH), len(buckets) - 1)
        buckets[max(index, 0)]["count"] += 1
    return buckets


def cohort_progress(cohort: Cohort, moment: datetime | None = None) -> dict[str, Any]:
    """The progress report of a cohort (see the module docstring for what counts)."""
    moment = moment or now()
    learners = members(cohort)
    ids = [u.id for u in learners]
    quiz_slugs = _assigned(cohort, AssignmentKind.QUIZ)
    lab_slugs = _assigned(cohort, AssignmentKind.LAB)
    by_user: dict[int, list[Attempt]] = {i: [] for i in ids}
    for attempt in _attempts(ids, quiz_slugs):
        by_user[attempt.user_id].append(attempt)
    grades_by_user: dict[int, list[LabGrade]] = {i: [] for i in ids}
    for grade in lab_progress_source().lab_grades(ids, lab_slugs or None):
        if grade.user_id in grades_by_user:
            grades_by_user[grade.user_id].append(grade)
    last_events = activity.last_activity(ids)
    assignments: list[dict[str, Any]] = [
        {"id": a.id, "kind": a.kind.value, "slug": a.slug, "due_at": a.due_at}
        for a in cohort.assignments
    ]
    extended = due_date_extensions([a["id"] for a in assignments])
    rows = [
        learner_progress(
            user,
            by_user[user.id],
            grades_by_user[user.id],
            last_events.get(user.id),
            [
                {**a, "due_at": extended.get((a["id"], user.id), a["due_at"])}
                | ({"extended": True} if (a["id"], user.id) in extended else {})
                for a in assignments
            ],
            moment,
        )
        for user in learners
    ]
    return {
        "cohort": {"id": cohort.id, "name": cohort.name},
        "generated_at": moment,
        "pass_mark": PASS_MARK,
        "assignments": assignments,
        "learners": rows,
        "aggregate": aggregate(rows),
    }


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cohort-level figures from learner rows: counts, mean and median readiness, the
    readiness distribution, and points-weighted domain and topic mastery."""
    readiness = [r["readiness_percent"] for r in rows if r["readiness_percent"] is not None]
    domains, topics = _Tally(), _Tally()
    for row in rows:
        for name, entry in row["domains"].items():
            domains.add(name, entry["score"], entry["max_score"], entry["evidence"])
        for name, entry in row["topics"].items():
            topics.add(name, entry["score"], entry["max_score"], entry["evidence"])
    topic_view = topics.view()
    return {
        "learners": len(rows),
        "with_results": len(readiness),
        "ready": sum(1 for r in rows if r["ready"]),
        "mean_readiness": round(stats.fmean(readiness), 2) if readiness else None,
        "median_readiness": round(stats.median(readiness), 2) if readiness else None,
        "distribution": distribution(readiness),
        "domains": domains.view(),
        "topics": topic_view,
        "weak_topics": [w["topic"] for w in weakest_topics(topic_view, WEAK_TOPICS_PER_COHORT)],
        "weak_topic_details": weakest_topics(topic_view, WEAK_TOPICS_PER_COHORT),
    }


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def progress_csv(report: dict[str, Any]) -> str:
    """The learner rows of a progress report as CSV: one row per learner, one column per
    domain mastery (`domain:<name>`), weak topics joined by `;`."""
    domain_names = sorted({name for row in report["learners"] for name in row["domains"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "email",
            "attempts",
            "attempts_in_progress",
            "best_percent",
            "last_percent",
            "labs_completed",
            "time_spent_minutes",
            "last_activity",
            "readiness_percent",
            "ready",
            "readiness_status",
            "weak_topics",
            *(f"domain:{name}" for name in domain_names),
        ]
    )
    for row in report["learners"]:
        writer.writerow(
            [
                row["email"],
                row["attempts"],
                row["attempts_in_progress"],
                _csv_number(row["best_percent"]),
                _csv_number(row["last_percent"]),
                row["labs_completed"],
                _csv_number(round(row["time_spent_seconds"] / 60, 1)),
                row["last_activity"].isoformat() if row["last_activity"] else "",
                _csv_number(row["readiness_percent"]),
                "yes" if row["ready"] else "no",
                row["readiness_status"],
                ";".join(row["weak_topics"]),
                *(
                    _csv_number(row["domains"][name]["percent"]) if name in row["domains"] else ""
                    for name in domain_names
                ),
            ]
        )
    return out.getvalue()


def own_progress(user: User) -> dict[str, Any]:
    """A learner's own progress over all their quiz attempts and lab grades."""
    moment = now()
    attempts = _attempts([user.id], [])
    grades = lab_progress_source().lab_grades([user.id], None)
    last = activity.last_activity([user.id]).get(user.id)
    return learner_progress(user, attempts, grades, last, [], moment)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def gradebook(report: dict[str, Any]) -> dict[str, Any]:
    """The cohort's gradebook from its progress report: one column per assignment and
    one row per learner, each cell `{"best", "last", "attempts", "done", "overdue"}`
    for a quiz (percent) or `{"best", "grades", ...}` for a lab. Percentages are rounded
    to one decimal for people; the progress report keeps the exact figures."""
    columns = [
        {**a, "label": a["slug"], "key": f"{a['kind']}:{a['slug']}"} for a in report["assignments"]
    ]
    rows = []
    for row in report["learners"]:
        labs = {entry["slug"]: entry for entry in row["labs"]}
        status = {(a["kind"], a["slug"]): a for a in row["assignments"]}
        cells = []
        for column in columns:
            state = status.get((column["kind"], column["slug"]), {})
            if column["kind"] == "quiz":
                quiz = row["quizzes"].get(column["slug"], {})
                cell = {
                    "best": _rounded(quiz.get("best")),
                    "last": _rounded(quiz.get("last")),
                    "attempts": quiz.get("attempts", 0),
                }
            else:
                lab = labs.get(column["slug"], {})
                cell = {"best": _rounded(lab.get("best_percent")), "attempts": lab.get("grades", 0)}
            cell["done"] = bool(state.get("done"))
            cell["overdue"] = bool(state.get("overdue"))
            cell["extended_to"] = state.get("due_at") if state.get("extended") else None
            cells.append(cell)
        rows.append({"learner": row, "cells": cells})
    return {"columns": columns, "rows": rows}


def gradebook_csv(report: dict[str, Any]) -> str:
    """The gradebook as CSV, one row per learner and one column per assignment (the
    best quiz result or lab grade, in percent; empty when not attempted), then
    readiness, its status and one column per CKA domain."""
    book = gradebook(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "email",
            *(f"{c['kind']}:{c['slug']}" for c in book["columns"]),
            "readiness_percent",
            "readiness_status",
            *(f"domain:{name}" for name in CKA_DOMAINS),
        ]
    )
    for entry in book["rows"]:
        learner = entry["learner"]
        writer.writerow(
            [
                learner["email"],
                *(_csv_number(cell["best"]) for cell in entry["cells"]),
                _csv_number(_rounded(learner["readiness_percent"])),
                learner["readiness_status"],
                *(
                    _csv_number(_rounded(learner["domains"][name]["percent"]))
                    if name in learner["domains"]
                    else ""
                    for name in CKA_DOMAINS
                ),
            ]
        )
    return out.getvalue()

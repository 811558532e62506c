"""One learner of a cohort: progress, every attempt with its review, every lab session
with each grade's per-check results and evidence, an activity timeline, and the
learner actions (accommodation, extra attempt)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from app.extensions import db
from app.models.activity import ActivityEvent
from app.models.attempt import Attempt
from app.models.lab import Grade, LabSession
from app.models.quiz import Quiz
from app.models.user import Role, User
from app.services import attempts, cohorts, progress
from app.services.errors import NotFound, ServiceError, ValidationFailed
from app.web.args import id_arg
from app.web.dashboard import bp, heat_band
from app.web.session import check_csrf, login_required

TIMELINE_LIMIT = 100


def _learner_row(cohort: Any, learner_id: int) -> dict[str, Any]:
    report = progress.cohort_progress(cohort)
    row = next((r for r in report["learners"] if r["user_id"] == learner_id), None)
    if row is None:
        raise NotFound(f"User {learner_id} is not a member of {cohort.name}.")
    return row


def _timeline(cohort_id: int, learner_id: int) -> list[dict[str, Any]]:
    """The learner's activity and the staff actions about them, newest first."""
    events = db.session.scalars(
        select(ActivityEvent)
        .where(ActivityEvent.user_id == learner_id, ActivityEvent.verb != "answered")
        .order_by(ActivityEvent.occurred_at.desc(), ActivityEvent.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "who": "learner",
            "text": f"{e.verb.value} {e.object_kind.value} {e.object_slug}"
            + (f" ({round(e.percent)} %)" if e.percent is not None else ""),
        }
        for e in events
    ]
    for action in cohorts.actions_of(cohort_id, learner_id, TIMELINE_LIMIT):
        details = ", ".join(f"{k}: {v}" for k, v in (action.details or {}).items())
        entries.append(
            {
                "at": action.occurred_at,
                "who": "trainer",
                "text": action.action + (f" ({details})" if details else ""),
            }
        )
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:TIMELINE_LIMIT]


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>")
@login_required(Role.TRAINER)
def learner_page(user: User, cohort_id: int, user_id: int) -> str:
    """Drill-down: mastery with evidence, attempts, lab sessions, timeline, actions."""
    cohort, learner = cohorts.member_of(user, cohort_id, user_id)
    row = _learner_row(cohort, user_id)
    learner_attempts = list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.user_id == user_id)
            .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        )
    )
    sessions = list(
        db.session.scalars(
            select(LabSession)
            .where(LabSession.user_id == user_id)
            .order_by(LabSession.created_at.desc(), LabSession.id.desc())
        )
    )
    grades: dict[int, list[Grade]] = {s.id: [] for s in sessions}
    if sessions:
        for grade in db.session.scalars(
            select(Grade).where(Grade.session_id.in_(list(grades))).order_by(Grade.number)
        ):
            grades[grade.session_id].append(grade)
    quizzes = list(db.session.scalars(select(Quiz).order_by(Quiz.title)))
    # What each check verifies, from the lab file (older grades may lack the message).
    check_specs = {
        s.id: {str(c.get("id")): c for c in (s.lab.spec or {}).get("checks", [])} for s in sessions
    }
    return render_template(
        "learner_detail.html",
        row=row,
        learner=learner,
        cohort=cohort,
        attempts=learner_attempts,
        sessions=sessions,
        grades=grades,
        check_specs=check_specs,
        quizzes=quizzes,
        timeline=_timeline(cohort.id, user_id),
        heat_band=heat_band,
        min_evidence=progress.MIN_DOMAIN_EVIDENCE,
        domains=progress.CKA_DOMAINS,
        title=learner.email,
    )


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/attempts/<int:attempt_id>")
@login_required(Role.TRAINER)
def attempt_review(user: User, cohort_id: int, user_id: int, attempt_id: int) -> str:
    """A learner's attempt with their answers, the key and the explanations."""
    cohort, learner = cohorts.member_of(user, cohort_id, user_id)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != learner.id:
        raise NotFound(f"Attempt {attempt_id} not found.")
    review = attempts.review_view(user, attempt_id) if attempt.submitted_at else None
    return render_template(
        "review.html",
        cohort=cohort,
        learner=learner,
        attempt=attempt,
        review=review,
        title=f"Attempt {attempt.number} at {attempt.quiz.title}",
    )


def _back(cohort_id: int, user_id: int) -> BaseResponse:
    return redirect(
        url_for("web.learner_page", cohort_id=cohort_id, user_id=user_id) + "#learner-actions"
    )


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/accommodation", methods=["POST"])
@login_required(Role.TRAINER)
def set_accommodation(user: User, cohort_id: int, user_id: int) -> BaseResponse:
    """Set the learner's time multiplier."""
    check_csrf()
    cohorts.member_of(user, cohort_id, user_id)  # not the trainer's learner: 404 at once
    try:
        value = float(request.form.get("accommodation", ""))
    except ValueError:
        flash("The time multiplier must be a number such as 1.25.", "error")
        return _back(cohort_id, user_id)
    try:
        cohorts.set_member_accommodation(user, cohort_id, user_id, value)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Time multiplier set to {value:g}.", "info")
    return _back(cohort_id, user_id)


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/extra-attempts", methods=["POST"])
@login_required(Role.TRAINER)
def grant_extra_attempt(user: User, cohort_id: int, user_id: int) -> BaseResponse:
    """Grant the learner extra attempts at a quiz."""
    check_csrf()
    cohorts.member_of(user, cohort_id, user_id)  # not the trainer's learner: 404 at once
    try:
        extra = request.form.get("extra", "1")
        if not extra.isdigit():
            raise ValidationFailed("The number of extra attempts must be a whole number.")
        result = cohorts.grant_extra_attempts(
            user, cohort_id, user_id, request.form.get("quiz", ""), int(extra)
        )
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        allowed = result["attempts_allowed"] or "unlimited"
        flash(f"{result['quiz']}: now {allowed} attempts allowed.", "info")
    return _back(cohort_id, user_id)


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/due-date", methods=["POST"])
@login_required(Role.TRAINER)
def extend_for_learner(user: User, cohort_id: int, user_id: int) -> BaseResponse:
    """Give the learner their own due date for one assignment (blank: the cohort's)."""
    from app.web.cohort_pages import parse_due

    check_csrf()
    cohorts.member_of(user, cohort_id, user_id)  # not the trainer's learner: 404 at once
    try:
        assignment = cohorts.extend_for_learner(
            user,
            cohort_id,
            user_id,
            id_arg(request.form, "assignment") or 0,
            parse_due(request.form.get("due_at")),
        )
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Due date of {assignment.slug} for this learner saved.", "info")
    return _back(cohort_id, user_id)

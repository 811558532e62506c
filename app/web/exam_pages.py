"""The learner's mock exam pages: the exam list, one exam, the attempt page (task list,
timer, kubeconfig, node shell, submit) and the result breakdown.

Server-rendered like the other learner pages (`app.web.learner`: same templates,
session, CSRF and Content-Security-Policy); `static/exam.js` runs the countdown, reloads
while the clusters are made or the grade is computed, and sends node-shell commands to
the REST API (`POST /api/v1/exam-attempts/<id>/exec`) with the browser session. The
candidate's page also has the browser terminal of the lab console (`static/terminal.js`
on `app.web.terminal`'s `/api/v1/exam-attempts/<id>/terminal`: kubectl with every
context of the attempt's kubeconfig, ssh, Tab completion) and its `vi` editor
(`static/term_editor.js`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.extensions import db
from app.models.exam import ExamAttempt, ExamAttemptStatus
from app.models.user import Role, User
from app.services import access, exam_attempts, exam_grading, exams
from app.services.errors import ServiceError
from app.web import learner
from app.web.session import check_csrf, login_required

bp = Blueprint("exam_pages", __name__)
bp.context_processor(learner._template_globals)
bp.after_request(learner._security_headers)
bp.register_error_handler(ServiceError, learner._service_error)


@bp.route("/exams")
@login_required()
def exam_list(user: User) -> str:
    """The mock exams, and the candidate's attempts newest first."""
    attempts = db.session.scalars(
        exam_attempts.attempts_query(user).where(ExamAttempt.user_id == user.id).limit(50)
    ).all()
    return render_template(
        "learner/exams.html",
        exams=[exams.exam_view(e) for e in db.session.scalars(exams.exams_query())],
        attempts=attempts,
        title="Mock exams",
    )


@bp.route("/exams/<slug>")
@login_required()
def exam_page(user: User, slug: str) -> str:
    """An exam's rules, contexts, domains and task titles (not their texts)."""
    view = exams.exam_view(exams.get_exam(slug))
    return render_template("learner/exam.html", exam=view, title=view["title"])


@bp.route("/exams/<slug>/start", methods=["POST"])
@login_required()
def start_exam(user: User, slug: str) -> BaseResponse:
    """Start an attempt and open its page."""
    check_csrf()
    try:
        attempt = exam_attempts.start_attempt(user, slug)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("exam_pages.exam_page", slug=slug))
    return redirect(url_for("exam_pages.attempt_page", attempt_id=attempt.id))


@bp.route("/exam-attempts/<int:attempt_id>")
@login_required()
def attempt_page(user: User, attempt_id: int) -> Response:
    """The attempt: tasks, timer, contexts, node shell and submit while it runs; the
    per-task breakdown once graded."""
    attempt = exam_attempts.get_attempt(user, attempt_id)
    view = exam_attempts.attempt_view(attempt, user)
    result: dict[str, Any] | None = None
    if attempt.status is ExamAttemptStatus.GRADED:
        result = exam_grading.result_view(user, attempt_id)
    elif access.is_staff(user):
        # Trainers follow the attempt through the grades they asked for.
        done = [g for g in exam_grading.grades_of(attempt) if g.result is not None]
        result = exam_grading.grade_view(done[-1], user) if done else None
    page_data = {
        "id": attempt.id,
        "status": view["status"],
        "remaining": view["remaining_seconds"],
        "exec": url_for("exams.ExamAttemptExec", attempt_id=attempt.id),
    }
    own = attempt.user_id == user.id
    response = Response(
        render_template(
            "learner/exam_attempt.html",
            attempt=view,
            result=result,
            own=own,
            staff=access.is_staff(user),
            page_data=page_data,
            title=view["title"],
        ),
        mimetype="text/html",
    )
    if own and attempt.status is ExamAttemptStatus.RUNNING:
        # The candidate's terminal: xterm.js sizes its rows with <style> elements it
        # creates, as on the lab console (styles, never scripts, may be inline).
        response.headers["Content-Security-Policy"] = learner.CONSOLE_CONTENT_SECURITY_POLICY
    return response


@bp.route("/exam-attempts/<int:attempt_id>/grade", methods=["POST"])
@login_required(Role.TRAINER)
def grade_attempt(user: User, attempt_id: int) -> BaseResponse:
    """Trainers: grade the candidate's clusters as they are now; the attempt goes on."""
    check_csrf()
    grade = exam_grading.request_grade(user, attempt_id)
    flash(f"Grade {grade.number} requested; reload the page to see it.", "info")
    return redirect(url_for("exam_pages.attempt_page", attempt_id=attempt_id))


@bp.route("/exam-attempts/<int:attempt_id>/submit", methods=["POST"])
@login_required()
def submit_attempt(user: User, attempt_id: int) -> BaseResponse:
    """Submit: the clusters are graded once; the page shows the result when ready."""
    check_csrf()
    exam_attempts.submit(user, attempt_id)
    flash("Submitted. Your clusters are being graded.", "info")
    return redirect(url_for("exam_pages.attempt_page", attempt_id=attempt_id))

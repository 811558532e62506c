"""The cohort gradebook and the cohort's management page with every trainer action
(assign, unassign, due dates, members, new learners, rename, archive).

Every form posts with the session's CSRF token; destructive ones carry a required
"confirm" box that the server checks too. Each action goes through
`app.services.cohorts`, which records it in the staff action log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from app.api.cohorts import csv_response
from app.clock import now
from app.extensions import db
from app.models.quiz import Quiz
from app.models.user import Role, User
from app.services import cohorts, progress
from app.services.errors import ServiceError, ValidationFailed
from app.services.labs import labs_query
from app.web.dashboard import bp, heat_band, histogram
from app.web.session import check_csrf, login_required

# Short column labels for the CKA domains (the full name is in the header's title).
DOMAIN_LABELS = {
    "Cluster Architecture": "Arch.",
    "Workloads & Scheduling": "Work.",
    "Services & Networking": "Net.",
    "Storage": "Stor.",
    "Troubleshooting": "Trbl.",
}
DEFAULT_INACTIVE_DAYS = 7
MAX_CSV_BYTES = 1_000_000
STATUS_ORDER = {
    progress.NO_RESULTS: 0,
    progress.NOT_ENOUGH_EVIDENCE: 1,
    progress.NOT_READY: 2,
    progress.READY: 3,
}


def _sort_value(entry: dict[str, Any], key: str, columns: list[dict[str, Any]]) -> Any:
    """A comparable value of gradebook row `entry` for sort `key` (None sorts first)."""
    learner = entry["learner"]
    if key == "email":
        return learner["email"]
    if key == "readiness":
        return (learner["readiness_percent"] is not None, learner["readiness_percent"] or 0.0)
    if key == "status":
        return STATUS_ORDER.get(learner["readiness_status"], 0)
    if key == "activity":
        moment = learner["last_activity"]
        return (moment is not None, moment.timestamp() if moment else 0.0)
    if key.startswith("domain:"):
        mastery = learner["domains"].get(key[len("domain:") :])
        return (mastery is not None, mastery["percent"] if mastery else 0.0)
    if key.startswith("a:"):
        for index, column in enumerate(columns):
            if f"a:{column['id']}" == key:
                best = entry["cells"][index]["best"]
                return (best is not None, best or 0.0)
    return learner["email"]


def _filters() -> dict[str, Any]:
    """The gradebook filters of the query string."""
    days = request.args.get("inactive_days", type=int)
    return {
        "not_ready": request.args.get("not_ready") == "1",
        "overdue": request.args.get("overdue") == "1",
        "inactive_days": days if days is not None and 0 < days <= 3650 else None,
    }


def _keep(entry: dict[str, Any], filters: dict[str, Any], moment: datetime) -> bool:
    learner = entry["learner"]
    if filters["not_ready"] and learner["ready"]:
        return False
    if filters["overdue"] and not any(a["overdue"] for a in learner["assignments"]):
        return False
    if filters["inactive_days"]:
        last = learner["last_activity"]
        if last is not None and last >= moment - timedelta(days=filters["inactive_days"]):
            return False
    return True


@bp.route("/cohorts/<int:cohort_id>")
@login_required(Role.TRAINER)
def cohort_page(user: User, cohort_id: int) -> str:
    """The cohort's gradebook: one row per learner, one column per assignment, readiness
    and mastery per CKA domain; sortable (`?sort=&dir=`) and filtered."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    book = progress.gradebook(report)
    sort = request.args.get("sort", "email")
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    filters = _filters()
    moment = now()
    rows = [entry for entry in book["rows"] if _keep(entry, filters, moment)]
    rows.sort(key=lambda e: _sort_value(e, sort, book["columns"]), reverse=direction == "desc")
    return render_template(
        "cohort.html",
        cohort=cohort,
        report=report,
        book=book,
        rows=rows,
        sort=sort,
        direction=direction,
        filters=filters,
        filtered=any(filters.values()),
        domains=progress.CKA_DOMAINS,
        domain_labels=DOMAIN_LABELS,
        min_evidence=progress.MIN_DOMAIN_EVIDENCE,
        heat_band=heat_band,
        chart=histogram(report["aggregate"]["distribution"]),
        default_days=DEFAULT_INACTIVE_DAYS,
        title=cohort.name,
    )


@bp.route("/cohorts/<int:cohort_id>/gradebook.csv")
@login_required(Role.TRAINER)
def gradebook_download(user: User, cohort_id: int) -> Response:
    """The gradebook as CSV, one column per assignment (as the API's)."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    return csv_response(progress.gradebook_csv(report), f"cohort-{cohort.id}-gradebook.csv")


@bp.route("/cohorts/<int:cohort_id>/progress.csv")
@login_required(Role.TRAINER)
def progress_download(user: User, cohort_id: int) -> Response:
    """The cohort's progress as CSV (the same as the API's)."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    return csv_response(progress.progress_csv(report), f"cohort-{cohort.id}-progress.csv")


@bp.route("/cohorts/<int:cohort_id>/manage")
@login_required(Role.TRAINER)
def manage_page(user: User, cohort_id: int) -> str:
    """Assignments, members, new learners, name and archiving, and the action log."""
    cohort = cohorts.get_cohort(user, cohort_id)
    quizzes = list(db.session.scalars(select(Quiz).order_by(Quiz.title)))
    labs = list(db.session.scalars(labs_query()))
    return render_template(
        "manage.html",
        cohort=cohort,
        members=cohorts.members(cohort),
        quizzes=quizzes,
        labs=labs,
        actions=cohorts.actions_of(cohort.id),
        created=None,
        title=f"Manage {cohort.name}",
    )


def _back(cohort_id: int, anchor: str = "") -> BaseResponse:
    return redirect(url_for("web.manage_page", cohort_id=cohort_id) + anchor)


def parse_due(value: str | None) -> datetime | None:
    """A `datetime-local` form value (UTC) as an aware datetime; None when blank.
    Raises `ValidationFailed` for anything else."""
    if not value or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            "The due date is not a date and time.", errors={"due_at": [value]}
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _confirmed() -> bool:
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation box to do that.", "error")
        return False
    return True


def _run(cohort_id: int, anchor: str, action: Any, message: Any) -> BaseResponse:
    """Run a service call from a form: flash its message or its error, then go back."""
    try:
        result = action()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(message(result) if callable(message) else message, "info")
    return _back(cohort_id, anchor)


@bp.route("/cohorts/<int:cohort_id>/assignments", methods=["POST"])
@login_required(Role.TRAINER)
def assign(user: User, cohort_id: int) -> BaseResponse:
    """Assign a quiz or lab (`work` = `quiz:SLUG` or `lab:SLUG`) with a due date."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    kind, _, slug = request.form.get("work", "").partition(":")

    def action() -> Any:
        if kind not in ("quiz", "lab") or not slug:
            raise ValidationFailed("Choose a quiz or a lab to assign.")
        return cohorts.assign(user, cohort_id, kind, slug, parse_due(request.form.get("due_at")))

    return _run(cohort_id, "#assignments", action, lambda a: f"Assigned {a.kind.value} {a.slug}.")


@bp.route("/cohorts/<int:cohort_id>/assignments/<int:assignment_id>/due", methods=["POST"])
@login_required(Role.TRAINER)
def extend_due(user: User, cohort_id: int, assignment_id: int) -> BaseResponse:
    """Move (extend) an assignment's due date."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    return _run(
        cohort_id,
        "#assignments",
        lambda: cohorts.extend_due_date(
            user, cohort_id, assignment_id, parse_due(request.form.get("due_at"))
        ),
        lambda a: f"Due date of {a.slug} saved.",
    )


@bp.route("/cohorts/<int:cohort_id>/assignments/<int:assignment_id>/delete", methods=["POST"])
@login_required(Role.TRAINER)
def unassign(user: User, cohort_id: int, assignment_id: int) -> BaseResponse:
    """Remove an assignment (confirmed)."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    if not _confirmed():
        return _back(cohort_id, "#assignments")
    return _run(
        cohort_id,
        "#assignments",
        lambda: cohorts.unassign(user, cohort_id, assignment_id),
        "Assignment removed.",
    )


def _member_report(report: dict[str, list[str]]) -> str:
    text = f"Added {len(report['added'])}, already members {len(report['already'])}."
    if report["unknown"]:
        text += " No account for: " + ", ".join(report["unknown"]) + "."
    if report.get("refused"):
        text += " Not learner accounts (refused): " + ", ".join(report["refused"]) + "."
    return text


@bp.route("/cohorts/<int:cohort_id>/members", methods=["POST"])
@login_required(Role.TRAINER)
def add_members(user: User, cohort_id: int) -> BaseResponse:
    """Add learners from pasted addresses (one per line, or commas) and/or a CSV file."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything

    def action() -> dict[str, list[str]]:
        text = request.form.get("emails", "").replace(",", "\n")
        emails = [line.strip() for line in text.splitlines() if line.strip()]
        upload = request.files.get("csv_file")
        if upload is not None and upload.filename:
            data = upload.read(MAX_CSV_BYTES + 1)
            if len(data) > MAX_CSV_BYTES:
                raise ValidationFailed("The CSV file is larger than 1 MB.")
            emails += cohorts.emails_from_csv(data.decode("utf-8-sig", errors="replace"))
        return cohorts.add_members(user, cohort_id, emails)

    return _run(cohort_id, "#members", action, _member_report)


@bp.route("/cohorts/<int:cohort_id>/members/<int:member_id>/delete", methods=["POST"])
@login_required(Role.TRAINER)
def remove_member(user: User, cohort_id: int, member_id: int) -> BaseResponse:
    """Remove a learner from the cohort (confirmed); their work stays."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    if not _confirmed():
        return _back(cohort_id, "#members")
    return _run(
        cohort_id,
        "#members",
        lambda: cohorts.remove_member(user, cohort_id, member_id),
        "Learner removed from the cohort.",
    )


@bp.route("/cohorts/<int:cohort_id>/learners", methods=["POST"])
@login_required(Role.TRAINER)
def create_learner(user: User, cohort_id: int) -> Any:
    """Create a learner (with a password) or invite one (a one-time link, shown once)."""
    check_csrf()
    cohort = cohorts.get_cohort(user, cohort_id)
    password = request.form.get("password") or None
    try:
        learner, token = cohorts.create_learner(
            user, cohort_id, request.form.get("email", ""), password
        )
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(cohort_id, "#new-learner")
    created = {
        "email": learner.email,
        "link": url_for("web.invitation", token=token, _external=True) if token else None,
    }
    return render_template(
        "manage.html",
        cohort=cohort,
        members=cohorts.members(cohort),
        quizzes=list(db.session.scalars(select(Quiz).order_by(Quiz.title))),
        labs=list(db.session.scalars(labs_query())),
        actions=cohorts.actions_of(cohort.id),
        created=created,
        title=f"Manage {cohort.name}",
    )


@bp.route("/cohorts/<int:cohort_id>/rename", methods=["POST"])
@login_required(Role.TRAINER)
def rename_cohort(user: User, cohort_id: int) -> BaseResponse:
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    return _run(
        cohort_id,
        "#settings",
        lambda: cohorts.update_cohort(user, cohort_id, name=request.form.get("name", "")),
        lambda c: f"Renamed to {c.name}.",
    )


@bp.route("/cohorts/<int:cohort_id>/archive", methods=["POST"])
@login_required(Role.TRAINER)
def archive_cohort(user: User, cohort_id: int) -> BaseResponse:
    """Archive (confirmed) or restore the cohort."""
    check_csrf()
    cohorts.get_cohort(user, cohort_id)  # another trainer's cohort: 404 before anything
    archive = request.form.get("archived") == "yes"
    if archive and not _confirmed():
        return _back(cohort_id, "#settings")
    return _run(
        cohort_id,
        "#settings",
        lambda: cohorts.update_cohort(user, cohort_id, archived=archive),
        "Cohort archived." if archive else "Cohort restored.",
    )

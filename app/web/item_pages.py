"""Item analysis of a quiz (stems, option texts with counts and the key, facility,
discrimination, flags; filters and sorting) and per-check statistics of a lab."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request

from app.api.cohorts import csv_response
from app.models.user import Role, User
from app.services import access, cohorts, statistics
from app.web.args import id_arg
from app.web.dashboard import bp
from app.web.session import login_required

SORT_KEYS = ("question", "responses", "facility", "discrimination", "flags")


def _scope(user: User) -> tuple[Any, list[int] | None]:
    """The `?cohort_id=` cohort (None: every learner the user may see) and the user ids
    the figures count (None: everyone, admins only)."""
    cohort = None
    if request.args.get("cohort_id"):
        cohort_id = id_arg(request.args, "cohort_id")
        if cohort_id is None:
            abort(404, description="No such cohort.")
        cohort = cohorts.get_cohort(user, cohort_id)
    ids = [m.user_id for m in cohort.members] if cohort is not None else None
    return cohort, access.visible_user_ids(user, ids)


def _sort_value(question: dict[str, Any], key: str) -> Any:
    if key == "responses":
        return question["responses"]
    if key in ("facility", "discrimination"):
        value = question[key]
        return (value is not None, value if value is not None else 0.0)
    if key == "flags":
        return len(question["flags"])
    return question["question_id"]


@bp.route("/quizzes/<slug>/statistics")
@login_required(Role.TRAINER)
def quiz_statistics(user: User, slug: str) -> str:
    """Item analysis of a quiz (`?cohort_id=`, `flagged=1`, `bank=`, `domain=`,
    `sort=`, `dir=`)."""
    cohort, ids = _scope(user)
    report = statistics.quiz_statistics(slug, None, ids)
    questions = report["questions"]
    banks = sorted({q["bank"] for q in questions})
    domains = sorted({q["domain"] for q in questions})
    flagged_only = request.args.get("flagged") == "1"
    bank = request.args.get("bank") or ""
    domain = request.args.get("domain") or ""
    shown = [
        q
        for q in questions
        if (not flagged_only or q["flags"])
        and (not bank or q["bank"] == bank)
        and (not domain or q["domain"] == domain)
    ]
    sort = request.args.get("sort", "question")
    sort = sort if sort in SORT_KEYS else "question"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    shown.sort(key=lambda q: _sort_value(q, sort), reverse=direction == "desc")
    return render_template(
        "statistics.html",
        report=report,
        cohort=cohort,
        questions=shown,
        banks=banks,
        domains=domains,
        filters={"flagged": flagged_only, "bank": bank, "domain": domain},
        sort=sort,
        direction=direction,
        min_item=statistics.MIN_ITEM_RESPONSES,
        min_attempts=statistics.MIN_ATTEMPTS,
        title=f"Item analysis: {report['quiz']['title']}",
    )


@bp.route("/quizzes/<slug>/statistics.csv")
@login_required(Role.TRAINER)
def statistics_download(user: User, slug: str) -> Response:
    """A quiz's per-question statistics as CSV (`?cohort_id=` as on the page)."""
    _, ids = _scope(user)
    report = statistics.quiz_statistics(slug, None, ids)
    return csv_response(statistics.statistics_csv(report), f"{slug}-statistics.csv")


@bp.route("/labs/<slug>/statistics")
@login_required(Role.TRAINER)
def lab_statistics(user: User, slug: str) -> str:
    """Per check of a lab: the share of learners who passed it and the hints used."""
    from app.services.labs import get_lab

    lab = get_lab(slug)
    cohort, ids = _scope(user)
    report = statistics.lab_statistics(slug, ids)
    checks = {str(c.get("id")): c for c in lab.spec.get("checks", [])}
    return render_template(
        "lab_statistics.html",
        lab=lab,
        report=report,
        checks=checks,
        cohort=cohort,
        title=f"Lab checks: {lab.title}",
    )

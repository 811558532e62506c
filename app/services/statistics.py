"""Item statistics (classical test theory) for quizzes, and per-check lab statistics.

- Facility index of a question: the mean share of its points earned, over the submitted
  attempts that drew it (0 = nobody right, 1 = everybody right).
- Discrimination index: facility in the upper group minus facility in the lower group,
  the groups being the top and bottom 27 % of attempts by total percent (Kelley's 27 %
  rule). Negative: weaker learners do better on it than stronger ones, usually a wrong
  key or a misleading stem.
- Cronbach's alpha of a quiz: `k/(k-1) * (1 - sum(item variances) / variance(totals))`
  over the questions every counted attempt drew (sample variances, n-1).
- Distractor counts: how often each option was chosen (single, multiple, true/false).

Each submitted attempt is one respondent; in-progress and abandoned attempts are left
out. Below the minimum samples the figures are still given, with a warning.
"""

from __future__ import annotations

import csv
import io
import math
import statistics as stats
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models.attempt import Attempt, AttemptItem, AttemptStatus
from app.models.cohort import Cohort
from app.services.progress import lab_progress_source
from app.services.quizzes import get_quiz

UPPER_LOWER_SHARE = 0.27  # Kelley (1939): the upper and lower 27 % of examinees
MIN_ATTEMPTS = 30  # below this, quiz-level figures (alpha, groups) are unstable
MIN_ITEM_RESPONSES = 10  # below this, a question's facility is a guess
FACILITY_LOW = 0.1  # flag: almost nobody gets it right
FACILITY_HIGH = 0.95  # flag: almost everybody gets it right
OPTION_TYPES = ("single", "multiple", "true_false")


@dataclass(frozen=True)
class Respondent:
    """One submitted attempt: its total percent and each drawn question's share of points
    earned (0..1), by question uid."""

    total: float
    items: dict[str, float]
    key: int = 0  # breaks ties in the ranking so groups are deterministic


def facility(values: Sequence[float]) -> float | None:
    """Mean share of points earned (None without responses)."""
    return round(stats.fmean(values), 4) if values else None


def group_size(count: int) -> int:
    """How many respondents make the upper (and the lower) group: 27 % rounded, at least
    one, and never more than half so the groups do not overlap."""
    if count < 2:
        return 0
    return max(1, min(count // 2, round(UPPER_LOWER_SHARE * count)))


def upper_lower(respondents: Sequence[Respondent]) -> tuple[list[Respondent], list[Respondent]]:
    """The upper and lower groups by total (ties broken by `key`)."""
    ranked = sorted(respondents, key=lambda r: (-r.total, r.key))
    size = group_size(len(ranked))
    if size == 0:
        return [], []
    return ranked[:size], ranked[-size:]


def discrimination(respondents: Sequence[Respondent], uid: str) -> float | None:
    """Upper-group facility minus lower-group facility for question `uid` (None when a
    group has no respondent who drew it)."""
    upper, lower = upper_lower(respondents)
    high = [r.items[uid] for r in upper if uid in r.items]
    low = [r.items[uid] for r in lower if uid in r.items]
    if not high or not low:
        return None
    return round(stats.fmean(high) - stats.fmean(low), 4)


def cronbach_alpha(respondents: Sequence[Respondent]) -> tuple[float | None, list[str]]:
    """Cronbach's alpha over the questions every respondent drew, and those questions.

    None when fewer than two respondents or two common questions, or when the totals
    do not vary (alpha is undefined).
    """
    if len(respondents) < 2:
        return None, []
    common = sorted(set.intersection(*(set(r.items) for r in respondents)))
    if len(common) < 2:
        return None, common
    k = len(common)
    item_variance = sum(stats.variance([r.items[uid] for r in respondents]) for uid in common)
    totals = [sum(r.items[uid] for uid in common) for r in respondents]
    total_variance = stats.variance(totals)
    if math.isclose(total_variance, 0.0):
        return None, common
    return round(k / (k - 1) * (1 - item_variance / total_variance), 4), common


def _option_choices(kind: str, response: dict[str, Any] | None) -> list[str]:
    if not response:
        return []
    if kind == "single":
        return [str(response["choice"])] if response.get("choice") is not None else []
    if kind == "multiple":
        return [str(c) for c in response.get("choices") or []]
    if kind == "true_false" and isinstance(response.get("value"), bool):
        return ["true" if response["value"] else "false"]
    return []


def _option_ids(kind: str, body: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(id, is the key, text) of each option a response can choose."""
    if kind in ("single", "multiple"):
        return [
            (str(o["id"]), bool(o.get("correct")), str(o.get("text", "")))
            for o in body.get("options", [])
        ]
    if kind == "true_false":
        return [
            ("true", body.get("answer") is True, "True"),
            ("false", body.get("answer") is False, "False"),
        ]
    return []


def _flags(fac: float | None, disc: float | None) -> list[str]:
    flags = []
    if disc is not None and disc < 0:
        flags.append("negative_discrimination")
    if fac is not None and fac <= FACILITY_LOW:
        flags.append("facility_near_zero")
    if fac is not None and fac >= FACILITY_HIGH:
        flags.append("facility_near_one")
    return flags


def item_statistics(attempts: Sequence[Attempt]) -> dict[str, Any]:
    """Statistics of submitted `attempts` (items and questions loaded): quiz-level
    figures and one entry per question uid."""
    counted = [a for a in attempts if a.status is AttemptStatus.SUBMITTED]
    respondents = []
    questions: dict[str, dict[str, Any]] = {}
    for attempt in counted:
        shares: dict[str, float] = {}
        for item in attempt.items:
            share = (item.score or 0.0) / item.max_score if item.max_score else 0.0
            shares[item.question_uid] = share
            question = item.question
            entry = questions.setdefault(
                item.question_uid,
                {
                    "question_id": item.question_uid,
                    "type": question.type,
                    "bank": question.bank.slug if question.bank else "",
                    "domain": question.domain,
                    "topic": question.topic,
                    "stem": question.body.get("stem", ""),
                    "options": {
                        oid: {"correct": correct, "count": 0, "text": text}
                        for oid, correct, text in _option_ids(question.type, question.body)
                    },
                    "unanswered": 0,
                    "shares": [],
                },
            )
            entry["shares"].append(share)
            if item.response is None:
                entry["unanswered"] += 1
            for choice in _option_choices(question.type, item.response):
                entry["options"].setdefault(choice, {"correct": False, "count": 0, "text": ""})[
                    "count"
                ] += 1
        respondents.append(Respondent(attempt.percent or 0.0, shares, attempt.id))
    alpha, alpha_items = cronbach_alpha(respondents)
    out_questions = []
    for uid, entry in sorted(questions.items()):
        shares = entry.pop("shares")
        fac = facility(shares)
        disc = discrimination(respondents, uid)
        warnings = []
        if len(shares) < MIN_ITEM_RESPONSES:
            warnings.append(f"Only {len(shares)} response(s); facility needs {MIN_ITEM_RESPONSES}.")
        out_questions.append(
            {
                **entry,
                "responses": len(shares),
                "facility": fac,
                "discrimination": disc,
                "options": (
                    [{"id": oid, **data} for oid, data in entry["options"].items()]
                    if entry["type"] in OPTION_TYPES
                    else None
                ),
                "flags": _flags(fac, disc),
                "warnings": warnings,
            }
        )
    warnings = []
    if len(respondents) < MIN_ATTEMPTS:
        warnings.append(
            f"Only {len(respondents)} submitted attempt(s); alpha and discrimination need"
            f" at least {MIN_ATTEMPTS} to be stable."
        )
    if alpha is None and len(respondents) >= 2:
        warnings.append("Cronbach's alpha is undefined: too few common questions or no variance.")
    return {
        "attempts": len(respondents),
        "mean_percent": round(stats.fmean([r.total for r in respondents]), 2)
        if respondents
        else None,
        "alpha": alpha,
        "alpha_questions": len(alpha_items),
        "group_size": group_size(len(respondents)),
        "warnings": warnings,
        "flagged": [q["question_id"] for q in out_questions if q["flags"]],
        "questions": out_questions,
    }


def quiz_statistics(
    slug: str, cohort: Cohort | None = None, user_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """Item statistics of quiz `slug` over every submitted attempt, or those of `cohort`'s
    members, or those of `user_ids` (e.g. a trainer's learners, `access.visible_user_ids`).
    Raises `NotFound` for an unknown quiz."""
    quiz = get_quiz(slug)
    stmt = (
        select(Attempt)
        .where(Attempt.quiz_id == quiz.id, Attempt.status == AttemptStatus.SUBMITTED)
        .options(selectinload(Attempt.items).joinedload(AttemptItem.question))
        .order_by(Attempt.id)
    )
    if cohort is not None:
        stmt = stmt.where(Attempt.user_id.in_([m.user_id for m in cohort.members]))
    if user_ids is not None:
        stmt = stmt.where(Attempt.user_id.in_(list(user_ids)))
    report = item_statistics(list(db.session.scalars(stmt)))
    return {"quiz": {"slug": quiz.slug, "title": quiz.title}, **report}


def lab_statistics(slug: str, user_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Per check of lab `slug`: the share of learners who passed it (in any of their
    grades) and the hints used, from the lab progress source."""
    ids = list(user_ids) if user_ids is not None else None
    grades = [g for g in lab_progress_source().lab_grades(ids, [slug]) if g.lab_slug == slug]
    learners = {g.user_id for g in grades}
    checks: dict[str, dict[str, Any]] = {}
    for grade in grades:
        for check in grade.checks:
            entry = checks.setdefault(
                check.check_id, {"check_id": check.check_id, "passed_by": set(), "hints_used": 0}
            )
            entry["hints_used"] += check.hints_used
            if check.passed:
                entry["passed_by"].add(grade.user_id)
    return {
        "lab": slug,
        "learners": len(learners),
        "grades": len(grades),
        "checks": [
            {
                "check_id": entry["check_id"],
                "passed_share": round(len(entry["passed_by"]) / len(learners), 4),
                "hints_used": entry["hints_used"],
            }
            for entry in sorted(checks.values(), key=lambda e: e["check_id"])
        ],
    }


def statistics_csv(report: dict[str, Any]) -> str:
    """The per-question rows of a quiz statistics report as CSV; options as
    `id=count` joined by `;` with the key marked `*`, then the bank, the stem and the
    option texts (`id: text` joined by ` | `)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "question_id",
            "type",
            "domain",
            "topic",
            "responses",
            "unanswered",
            "facility",
            "discrimination",
            "options",
            "flags",
            "bank",
            "stem",
            "option_texts",
        ]
    )
    for question in report["questions"]:
        options = ";".join(
            f"{o['id']}{'*' if o['correct'] else ''}={o['count']}"
            for o in question["options"] or []
        )
        writer.writerow(
            [
                question["question_id"],
                question["type"],
                question["domain"],
                question["topic"],
                question["responses"],
                question["unanswered"],
                "" if question["facility"] is None else f"{question['facility']:g}",
                "" if question["discrimination"] is None else f"{question['discrimination']:g}",
                options,
                ";".join(question["flags"]),
                question.get("bank", ""),
                question["stem"].strip(),
                " | ".join(f"{o['id']}: {o.get('text', '')}" for o in question["options"] or []),
            ]
        )
    return out.getvalue()

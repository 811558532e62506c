"""What the learner's pages show, assembled from the services (no Flask request code).

Every function takes the logged-in account and reads only what it may see: its own
attempts and sessions, the quizzes and labs everyone sees, its cohorts' assignments.
Nothing here adds answer data to a page before the review policy allows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.models.attempt import Attempt, AttemptStatus
from app.models.cohort import AssignmentKind
from app.models.exam import ACTIVE_ATTEMPT_STATUSES, ExamAttempt
from app.models.lab import ACTIVE_SESSION_STATUSES, Grade, GradeStatus, Lab, LabSession
from app.models.quiz import GradingMethod, Quiz, ReviewAfter, ReviewPolicy
from app.models.user import Role, User
from app.services import attempts as attempts_service
from app.services import cohorts as cohorts_service
from app.services import grades as grades_service
from app.services import lab_sessions, quiz_text
from app.services import labs as labs_service
from app.services import quizzes as quizzes_service
from app.services.errors import Conflict, ServiceError

RECENT_RESULTS = 5
# Files a CKA candidate edits most on a node, offered by the console's editor.
COMMON_NODE_FILES = (
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "/etc/kubernetes/manifests/kube-scheduler.yaml",
    "/etc/kubernetes/manifests/etcd.yaml",
    "/var/lib/kubelet/config.yaml",
    "/etc/kubernetes/kubelet.conf",
)


@dataclass
class Assignment:
    """A quiz or lab one of the learner's cohorts asks for (earliest due date wins)."""

    kind: str
    slug: str
    title: str
    due_at: datetime | None
    cohorts: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def overdue(self) -> bool:
        return not self.done and self.due_at is not None and self.due_at < now()

    @property
    def url(self) -> str:
        return f"/quizzes/{self.slug}" if self.kind == "quiz" else f"/labs/{self.slug}"


def _titles(kind: AssignmentKind, slugs: set[str]) -> dict[str, str]:
    if not slugs:
        return {}
    model: Any = Quiz if kind is AssignmentKind.QUIZ else Lab
    rows = db.session.execute(select(model.slug, model.title).where(model.slug.in_(slugs)))
    return {slug: title for slug, title in rows}


def assignments_of(user: User) -> list[Assignment]:
    """The learner's assignments across cohorts: due first (soonest first), then undated."""
    found: dict[tuple[str, str], Assignment] = {}
    for cohort in cohorts_service.cohorts_of_learner(user):
        if cohort.archived_at is not None:
            continue
        for assignment in cohort.assignments:
            key = (assignment.kind.value, assignment.slug)
            entry = found.get(key)
            if entry is None:
                entry = found[key] = Assignment(
                    assignment.kind.value, assignment.slug, assignment.slug, assignment.due_at
                )
            elif assignment.due_at is not None and (
                entry.due_at is None or assignment.due_at < entry.due_at
            ):
                entry.due_at = assignment.due_at
            entry.cohorts.append(cohort.name)
    for kind in AssignmentKind:
        slugs = {slug for k, slug in found if k == kind.value}
        titles = _titles(kind, slugs)
        done = (
            _quizzes_done(user, slugs) if kind is AssignmentKind.QUIZ else _labs_done(user, slugs)
        )
        for slug in slugs:
            entry = found[(kind.value, slug)]
            entry.title = titles.get(slug, slug)
            entry.done = slug in done
    return sorted(
        found.values(), key=lambda a: (a.due_at is None, a.due_at or datetime.max, a.title)
    )


def _quizzes_done(user: User, slugs: set[str]) -> set[str]:
    if not slugs:
        return set()
    return set(
        db.session.scalars(
            select(Quiz.slug)
            .join(Attempt, Attempt.quiz_id == Quiz.id)
            .where(
                Attempt.user_id == user.id,
                Attempt.status == AttemptStatus.SUBMITTED,
                Quiz.slug.in_(slugs),
            )
        )
    )


def _labs_done(user: User, slugs: set[str]) -> set[str]:
    if not slugs:
        return set()
    return set(
        db.session.scalars(
            select(Lab.slug)
            .join(LabSession, LabSession.lab_id == Lab.id)
            .join(Grade, Grade.session_id == LabSession.id)
            .where(
                LabSession.user_id == user.id,
                Grade.status == GradeStatus.DONE,
                Lab.slug.in_(slugs),
            )
        )
    )


def _own_attempts(user: User) -> list[Attempt]:
    return list(db.session.scalars(attempts_service.attempts_query(None, user.id)))


def _own_sessions(user: User) -> list[LabSession]:
    return list(
        db.session.scalars(
            select(LabSession)
            .where(LabSession.user_id == user.id)
            .order_by(LabSession.created_at.desc(), LabSession.id.desc())
        )
    )


def _is_live(session: LabSession) -> bool:
    if session.status not in ACTIVE_SESSION_STATUSES:
        return False
    return session.expires_at is None or now() < session.expires_at


def home_context(user: User) -> dict[str, Any]:
    """Continue where you left off, assigned work, recent results."""
    attempts = _own_attempts(user)
    moment = now()
    in_progress = [a for a in attempts if a.is_open and moment < a.expires_at]
    sessions = _own_sessions(user)
    results = [a for a in attempts if a.status is AttemptStatus.SUBMITTED][:RECENT_RESULTS]
    lab_results = _latest_grades(sessions)[:RECENT_RESULTS]
    return {
        "in_progress": in_progress,
        "live_sessions": [s for s in sessions if _is_live(s)],
        "live_exams": _live_exam_attempts(user),
        "assignments": assignments_of(user),
        "results": results,
        "lab_results": lab_results,
        "is_trainer": user.role in (Role.TRAINER, Role.ADMIN),
    }


def _live_exam_attempts(user: User) -> list[ExamAttempt]:
    """The account's own mock exam attempts that are not graded yet."""
    return list(
        db.session.scalars(
            select(ExamAttempt)
            .where(
                ExamAttempt.user_id == user.id,
                ExamAttempt.status.in_(ACTIVE_ATTEMPT_STATUSES),
            )
            .order_by(ExamAttempt.id.desc())
        )
    )


def _latest_grades(sessions: list[LabSession]) -> list[tuple[LabSession, Grade]]:
    """Each session's latest finished grade, newest sessions first."""
    if not sessions:
        return []
    by_session: dict[int, Grade] = {}
    for grade in db.session.scalars(
        select(Grade)
        .where(
            Grade.session_id.in_([s.id for s in sessions]),
            Grade.status == GradeStatus.DONE,
        )
        .order_by(Grade.number)
    ):
        by_session[grade.session_id] = grade
    return [(s, by_session[s.id]) for s in sessions if s.id in by_session]


# ---------------------------------------------------------------------- quizzes


def _best_percent(user: User, quiz: Quiz) -> float | None:
    percents = db.session.scalars(
        select(Attempt.percent).where(
            Attempt.quiz_id == quiz.id,
            Attempt.user_id == user.id,
            Attempt.status == AttemptStatus.SUBMITTED,
        )
    ).all()
    values = [p for p in percents if p is not None]
    return max(values) if values else None


def quiz_row(user: User, quiz: Quiz, assignment: Assignment | None = None) -> dict[str, Any]:
    return {
        "quiz": quiz,
        "standing": quizzes_service.learner_standing(user, quiz),
        "best": _best_percent(user, quiz),
        "assignment": assignment,
        "open_attempt": open_attempt_of(user, quiz.slug),
    }


def quiz_rows(user: User) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(assigned quizzes in due order, every other open quiz by title)."""
    quizzes = list(db.session.scalars(quizzes_service.quizzes_query()))
    by_slug = {q.slug: q for q in quizzes}
    assigned = [a for a in assignments_of(user) if a.kind == "quiz" and a.slug in by_slug]
    assigned_slugs = {a.slug for a in assigned}
    return (
        [quiz_row(user, by_slug[a.slug], a) for a in assigned],
        [quiz_row(user, q) for q in quizzes if q.slug not in assigned_slugs],
    )


def open_attempt_of(user: User, slug: str) -> Attempt | None:
    """The learner's attempt at quiz `slug` that is still running, if any."""
    attempt = db.session.scalar(
        select(Attempt)
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .where(
            Quiz.slug == slug,
            Attempt.user_id == user.id,
            Attempt.status == AttemptStatus.IN_PROGRESS,
        )
    )
    if attempt is not None and now() >= attempt.expires_at:
        return None
    return attempt


GRADING_WORDS = {
    GradingMethod.HIGHEST: "your best attempt counts",
    GradingMethod.LAST: "your last attempt counts",
    GradingMethod.AVERAGE: "the average of your attempts counts",
}
REVIEW_WORDS = {
    ReviewPolicy.SCORE_ONLY: "your score",
    ReviewPolicy.CORRECTNESS: "your score and which questions you got right",
    ReviewPolicy.ANSWERS: "your score, which questions you got right and the right answers",
    ReviewPolicy.EXPLANATIONS: (
        "your score, the right answers and an explanation of every question and option"
    ),
}


def expiry_words(quiz: Quiz) -> str:
    """What happens when the time runs out, in plain words."""
    return quiz_text.expiry_words(quiz.expiry_policy.value, quiz.grace_minutes)


def policy_words(quiz: Quiz, user: User) -> list[str]:
    """The quiz's rules as sentences for the quiz page and the player."""
    minutes = quiz.time_limit_minutes * (user.accommodation or 1.0)
    lines = [
        f"You have {minutes:g} minutes from the moment you start"
        + (
            f" (your time allowance of ×{user.accommodation:g} is included)."
            if (user.accommodation or 1.0) != 1.0
            else "."
        ),
        expiry_words(quiz),
        "Answers are saved as you go; you can leave and come back while the time runs.",
    ]
    if quiz.attempts_allowed:
        lines.append(
            f"You may make {quiz.attempts_allowed} attempt(s); "
            f"{GRADING_WORDS[quiz.grading_method]}."
        )
    else:
        lines.append(
            f"You may make as many attempts as you like; {GRADING_WORDS[quiz.grading_method]}."
        )
    lines.append(f"The pass mark is {quiz.pass_mark:g} %.")
    review = f"After you submit you see {REVIEW_WORDS[quiz.review_policy]}"
    if quiz.review_after is ReviewAfter.CLOSE and quiz.close_at is not None:
        review += (
            f", once the quiz closes on {quiz.close_at:%Y-%m-%d %H:%M} UTC"
            " (until then only your score)"
        )
    lines.append(review + ".")
    if quiz.close_at is not None:
        lines.append(
            f"The quiz closes on {quiz.close_at:%Y-%m-%d %H:%M} UTC;"
            " an attempt ends then at the latest."
        )
    return lines


def quiz_context(user: User, slug: str) -> dict[str, Any]:
    quiz = quizzes_service.get_quiz(slug)
    standing = quizzes_service.learner_standing(user, quiz)
    question_count = sum(int(rule.get("count", 0)) for rule in quiz.draw or [])
    attempts = [a for a in _own_attempts(user) if a.quiz_id == quiz.id]
    assignment = next(
        (a for a in assignments_of(user) if a.kind == "quiz" and a.slug == slug), None
    )
    return {
        "quiz": quiz,
        "standing": standing,
        "question_count": question_count,
        "policy": policy_words(quiz, user),
        "open_attempt": open_attempt_of(user, slug),
        "attempts": attempts,
        "assignment": assignment,
        "can_start": standing["attempts_left"] is None or standing["attempts_left"] > 0,
        "closed": quiz.is_closed_at(now()),
        "next_number": standing["attempts_used"] + 1,
        "best": _best_percent(user, quiz),
    }


def player_context(attempt: Attempt) -> dict[str, Any]:
    """Everything the player script needs: the learner's view of the attempt (no answer
    data), where to resume, and the expiry policy in words."""
    view = attempts_service.attempt_view(attempt)
    items = view["items"]
    first_unanswered = next((i for i, item in enumerate(items) if item["response"] is None), 0)
    return {
        "attempt": attempt,
        "view": view,
        "player_data": {
            "attempt_id": attempt.id,
            "quiz_title": attempt.quiz.title,
            "items": items,
            "remaining_seconds": view["remaining_seconds"],
            "deadline_at": attempt.deadline_at.isoformat(),
            "accepting_responses": view["accepting_responses"],
            "start_index": first_unanswered,
            "expiry_policy": attempt.quiz.expiry_policy.value,
            "expiry_words": expiry_words(attempt.quiz),
            "api": "/api/v1",
        },
        "expiry_words": expiry_words(attempt.quiz),
    }


# ----------------------------------------------------------------------- review


def review_context(user: User, attempt: Attempt) -> dict[str, Any]:
    """The result and as much review as the quiz's policy allows now."""
    context: dict[str, Any] = {"attempt": attempt, "review": None, "entries": []}
    try:
        review = attempts_service.review_view(user, attempt.id)
    except Conflict:
        return context  # abandoned: nothing to review
    presented = {item.question_uid: attempts_service.learner_item(item) for item in attempt.items}
    entries = []
    for entry in review["items"]:
        shown = presented[entry["question_id"]]
        chosen = _chosen_ids(entry["type"], entry["response"])
        key_ids = _chosen_ids(entry["type"], entry.get("answer"))
        options = []
        feedback = {o["id"]: o for o in entry.get("option_feedback") or []}
        for option in shown.get("options") or []:
            extra = feedback.get(option["id"], {})
            options.append(
                {
                    "text": option["text"],
                    "chosen": option["id"] in chosen,
                    "correct": option["id"] in key_ids if "answer" in entry else None,
                    "why": extra.get("why"),
                }
            )
        entries.append(
            {
                **entry,
                "options": options,
                "your_answer": quiz_text.describe_response(shown, entry["response"]),
                "key": (
                    quiz_text.describe_response(shown, entry["answer"])
                    if "answer" in entry
                    else None
                ),
            }
        )
    context.update(review=review, entries=entries)
    return context


def _chosen_ids(kind: str, response: dict[str, Any] | None) -> set[str | None]:
    if not response:
        return set()
    if kind == "single":
        return {response.get("choice")}
    if kind == "multiple":
        return set(response.get("choices") or [])
    return set()


# ------------------------------------------------------------------------- labs


def active_sessions(user: User, slug: str | None = None) -> list[LabSession]:
    return [s for s in _own_sessions(user) if _is_live(s) and (slug is None or s.lab.slug == slug)]


def lab_rows(user: User) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(assigned labs in due order, the other labs by title), with live sessions."""
    labs = list(db.session.scalars(labs_service.labs_query()))
    by_slug = {lab.slug: lab for lab in labs}
    live: dict[str, list[LabSession]] = {}
    for session in active_sessions(user):
        live.setdefault(session.lab.slug, []).append(session)
    assigned = [a for a in assignments_of(user) if a.kind == "lab" and a.slug in by_slug]
    assigned_slugs = {a.slug for a in assigned}

    def row(lab: Lab, assignment: Assignment | None = None) -> dict[str, Any]:
        return {"lab": lab, "assignment": assignment, "sessions": live.get(lab.slug, [])}

    return (
        [row(by_slug[a.slug], a) for a in assigned],
        [row(lab) for lab in labs if lab.slug not in assigned_slugs],
    )


def lab_start_message(error: ServiceError) -> str:
    """The service's refusal, worded for the web page."""
    if "limit" in error.errors:
        return (
            f"{error.message.split(' Stop one first')[0]} Stop one of your running sessions "
            "first (its console has a Stop button)."
        )
    return error.message


HINT_POLICY_WORDS = {
    "never": "This lab gives no hints.",
    "always": "A failed check shows its hint in every grade.",
    "after_first_grade": "From your second grade on, a failed check shows its hint.",
}


def console_context(user: User, session: LabSession) -> dict[str, Any]:
    """The lab console: session, tasks, time, nodes, latest grade, hint costs."""
    view = lab_sessions.session_view(session, user)
    spec = session.lab.spec
    hint_costs = {
        c["id"]: c.get("hint_penalty", 0) for c in spec.get("checks") or [] if c.get("hint")
    }
    latest = None
    finished = [
        g for g in grades_service.grades_of(user, session.id) if g.status is GradeStatus.DONE
    ]
    if finished:
        latest = grades_service.grade_view(finished[-1], user)
    remaining = None
    if session.expires_at is not None and _is_live(session):
        remaining = max(0, int((session.expires_at - now()).total_seconds()))
    policy = spec.get("hint_policy", "never")
    return {
        "session": session,
        "view": view,
        "live": _is_live(session),
        "usable": _is_live(session) and session.status.value != "provisioning",
        "remaining": remaining,
        "latest": latest,
        "hint_policy": HINT_POLICY_WORDS.get(policy, ""),
        "hint_costs": hint_costs,
        "console_data": {
            "session_id": session.id,
            "status": session.status.value,
            "nodes": view["nodes"],
            "remaining_seconds": remaining,
            "hint_costs": hint_costs,
            "latest": latest,
            "api": "/api/v1",
        },
        "common_files": COMMON_NODE_FILES,
    }


# ---------------------------------------------------------------------- history


def history_context(user: User) -> dict[str, Any]:
    sessions = _own_sessions(user)
    grades = dict((s.id, g) for s, g in _latest_grades(sessions))
    return {"attempts": _own_attempts(user), "sessions": sessions, "grades": grades}

"""Quizzes: listing, custom quizzes from tags, and a learner's quiz result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from app.banks.draw import DrawShortfall, plan_draw
from app.extensions import db
from app.models.attempt import Attempt, AttemptStatus
from app.models.base import utcnow
from app.models.question import Question
from app.models.quiz import Quiz, QuizSource
from app.models.user import User
from app.services.banks import content_hash
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.scoring import combine_attempts


def quizzes_query() -> Select[Quiz]:
    """Quizzes that take attempts (not retired), by title."""
    return select(Quiz).where(Quiz.retired_at.is_(None)).order_by(Quiz.title, Quiz.id)


def get_quiz(slug: str) -> Quiz:
    """The live quiz `slug`; raises `NotFound` for an unknown or retired slug."""
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug, Quiz.retired_at.is_(None)))
    if quiz is None:
        raise NotFound(f"Quiz {slug!r} not found.")
    return quiz


def drawable_questions() -> list[Question]:
    """Current, non-retired question rows: what a new attempt may draw."""
    return list(
        db.session.scalars(
            select(Question).where(Question.is_current, Question.retired_at.is_(None))
        )
    )


def create_custom_quiz(author: User, data: dict[str, Any]) -> Quiz:
    """Create a trainer's quiz from validated `QuizSchema` data; commits.

    Raises `Conflict` when the slug is taken and `ValidationFailed` when the draw rules
    ask for more questions than the banks hold.
    """
    if db.session.scalar(select(Quiz.id).where(Quiz.slug == data["slug"])) is not None:
        raise Conflict(f"Quiz slug {data['slug']!r} is taken.", errors={"slug": ["taken"]})
    try:
        plan_draw([q.attributes for q in drawable_questions()], data["draw"])
    except DrawShortfall as exc:
        raise ValidationFailed(
            "The draw rules cannot be met.",
            errors={"draw": {str(exc.step.rule): [str(exc)]}},
        ) from None
    moment = utcnow()
    quiz = Quiz(
        **data,
        source=QuizSource.CUSTOM,
        created_by_id=author.id,
        content_hash=content_hash(data),
        source_file="",
        created_at=moment,
        updated_at=moment,
    )
    db.session.add(quiz)
    db.session.commit()
    return quiz


@dataclass
class QuizWithStanding:
    """A quiz plus the caller's standing at it, read like the quiz by output schemas."""

    quiz: Quiz
    standing: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.quiz, name)


def quiz_for(user: User, slug: str) -> QuizWithStanding:
    """The live quiz `slug` with `user`'s standing; raises `NotFound`."""
    quiz = get_quiz(slug)
    return QuizWithStanding(quiz, learner_standing(user, quiz))


def learner_standing(user: User, quiz: Quiz) -> dict[str, Any]:
    """Attempts used and left, and the quiz result by the quiz's grading method.

    Only submitted attempts count towards the result; abandoned ones use up an attempt.
    """
    rows = db.session.execute(
        select(Attempt.status, Attempt.percent)
        .where(Attempt.quiz_id == quiz.id, Attempt.user_id == user.id)
        .order_by(Attempt.number)
    ).all()
    percents = [p for status, p in rows if status == AttemptStatus.SUBMITTED and p is not None]
    result = combine_attempts(quiz.grading_method.value, percents)
    allowed = attempts_allowed(user.id, quiz)
    left = None if allowed == 0 else max(0, allowed - len(rows))
    return {
        "attempts_used": len(rows),
        "attempts_left": left,
        "result_percent": result,
        "passed": None if result is None else result >= quiz.pass_mark,
    }


def attempts_allowed(user_id: int, quiz: Quiz) -> int:
    """Attempts learner `user_id` may make at `quiz` (0 = unlimited): the quiz's limit
    plus the extra attempts a trainer granted them."""
    from app.models.staff import QuizAllowance

    if quiz.attempts_allowed == 0:
        return 0
    extra = db.session.scalar(
        select(QuizAllowance.extra_attempts).where(
            QuizAllowance.user_id == user_id, QuizAllowance.quiz_id == quiz.id
        )
    )
    return quiz.attempts_allowed + (extra or 0)

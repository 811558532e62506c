"""The activity log: record attempt and lab events, read them back for a cohort.

`record*` functions add a row to the caller's transaction and never commit: an event
exists exactly when the change it describes was committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select

from app.extensions import db
from app.models.activity import ActivityEvent, ActivityObject, ActivityVerb
from app.models.attempt import Attempt, CloseReason
from app.models.quiz import Quiz


def record(
    user_id: int,
    verb: ActivityVerb | str,
    object_kind: ActivityObject | str,
    object_slug: str,
    occurred_at: datetime,
    *,
    subject_id: int | None = None,
    percent: float | None = None,
    passed: bool | None = None,
    details: dict[str, Any] | None = None,
) -> ActivityEvent:
    """Add one event to the current transaction (no commit). This is the hook the lab
    services call too: `record(user_id, "graded", "lab", slug, at, subject_id=session_id,
    percent=..., passed=...)`."""
    event = ActivityEvent(
        user_id=user_id,
        verb=ActivityVerb(verb),
        object_kind=ActivityObject(object_kind),
        object_slug=object_slug,
        occurred_at=occurred_at,
        subject_id=subject_id,
        percent=percent,
        passed=passed,
        details=details,
    )
    db.session.add(event)
    return event


def record_attempt(attempt: Attempt, verb: ActivityVerb | str, occurred_at: datetime) -> None:
    """Record a quiz attempt event (started, submitted, graded, expired); no commit.
    Graded events carry the attempt's percent and pass/fail."""
    verb = ActivityVerb(verb)
    graded = verb is ActivityVerb.GRADED
    record(
        attempt.user_id,
        verb,
        ActivityObject.QUIZ,
        attempt.quiz.slug,
        occurred_at,
        subject_id=attempt.id,
        percent=attempt.percent if graded else None,
        passed=attempt.passed if graded else None,
        details={"number": attempt.number},
    )


def record_attempt_closed(attempt: Attempt, reason: CloseReason, occurred_at: datetime) -> None:
    """Record how an attempt closed: submitted or expired, then graded when it was scored;
    no commit."""
    if reason is CloseReason.SUBMITTED:
        record_attempt(attempt, ActivityVerb.SUBMITTED, occurred_at)
    else:
        record_attempt(attempt, ActivityVerb.EXPIRED, occurred_at)
    if attempt.percent is not None:
        record_attempt(attempt, ActivityVerb.GRADED, occurred_at)


# Built once: the autosave path runs this insert on every saved answer. The quiz slug
# comes from a subquery, so the insert costs no extra round trip.
_ANSWER_INSERT = insert(ActivityEvent.__table__).values(
    user_id=bindparam("user_id"),
    verb=ActivityVerb.ANSWERED,
    object_kind=ActivityObject.QUIZ,
    object_slug=select(Quiz.slug)
    .join(Attempt, Attempt.quiz_id == Quiz.id)
    .where(Attempt.id == bindparam("attempt_id"))
    .scalar_subquery(),
    subject_id=bindparam("attempt_id"),
    details=bindparam("details", type_=ActivityEvent.__table__.c.details.type),
    occurred_at=bindparam("occurred_at", type_=ActivityEvent.__table__.c.occurred_at.type),
)


def record_answer(user_id: int, attempt_id: int, question_uid: str, occurred_at: datetime) -> None:
    """Record an autosaved answer in one INSERT on the session's connection; no commit."""
    db.session.connection().execute(
        _ANSWER_INSERT,
        {
            "user_id": user_id,
            "attempt_id": attempt_id,
            "details": {"question_id": question_uid},
            "occurred_at": occurred_at,
        },
    )


def events_for(
    user_ids: Iterable[int],
    *,
    since: datetime | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[ActivityEvent]:
    """Events of `user_ids` in the order they were stored (by id), optionally only those
    that happened after `since` and those stored after event `after_id` (the paging
    cursor), at most `limit`."""
    ids = list(user_ids)
    if not ids:
        return []
    stmt = select(ActivityEvent).where(ActivityEvent.user_id.in_(ids)).order_by(ActivityEvent.id)
    if since is not None:
        stmt = stmt.where(ActivityEvent.occurred_at > since)
    if after_id is not None:
        stmt = stmt.where(ActivityEvent.id > after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def last_activity(user_ids: Iterable[int]) -> dict[int, datetime]:
    """The time of each learner's most recent event (learners without events absent)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ActivityEvent.user_id, func.max(ActivityEvent.occurred_at))
        .where(ActivityEvent.user_id.in_(ids))
        .group_by(ActivityEvent.user_id)
    ).all()
    return {user_id: moment for user_id, moment in rows if moment is not None}

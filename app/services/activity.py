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
# comes from a subquery, so the insert costs no extra round trip. Parameters:
# `answer_parameters`. Their names match no column of this table or of `attempt_items`:
# SQLAlchemy adds an execution parameter named like a column of a DML statement's table
# to its VALUES or SET clause, and autosave runs this insert with the response UPDATE
# (and its parameters) in one statement on PostgreSQL. For the same reason verb and
# object are parameters rather than literal values.
# The one-statement autosave (`app.services.autosave._SAVE`, its `logged` part) writes
# the same row in SQL: change both.
_events = ActivityEvent.__table__
ANSWER_INSERT = insert(_events).values(
    user_id=bindparam("event_user"),
    verb=bindparam("event_verb", type_=_events.c.verb.type),
    object_kind=bindparam("event_object", type_=_events.c.object_kind.type),
    object_slug=select(Quiz.slug)
    .join(Attempt, Attempt.quiz_id == Quiz.id)
    .where(Attempt.id == bindparam("event_attempt"))
    .scalar_subquery(),
    subject_id=bindparam("event_attempt"),
    details=bindparam("event_details", type_=_events.c.details.type),
    occurred_at=bindparam("event_at", type_=_events.c.occurred_at.type),
)


def answer_parameters(
    user_id: int, attempt_id: int, question_uid: str, occurred_at: datetime
) -> dict[str, Any]:
    """The parameters of `ANSWER_INSERT` for one autosaved answer."""
    return {
        "event_user": user_id,
        "event_verb": ActivityVerb.ANSWERED,
        "event_object": ActivityObject.QUIZ,
        "event_attempt": attempt_id,
        "event_details": {"question_id": question_uid},
        "event_at": occurred_at,
    }


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

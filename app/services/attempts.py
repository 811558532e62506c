"""The timed attempt engine: start, autosave, submit, expire, review.

Time is the server's (`app.clock.now`). An attempt's deadline is
`min(started_at + time_limit x accommodation, quiz.close_at)`; a response after it is
refused with 409 and the reason. At `expires_at` (the deadline, or deadline + grace) an
open attempt is closed by its expiry policy, by whichever comes first: the expiry job
enqueued at start, the sweeper, or the next request that touches the attempt.

Concurrency: submit and expiry take the attempt row `FOR UPDATE`, autosave takes it
`FOR SHARE` (PostgreSQL), so an autosave either lands before scoring (and is scored) or
is refused after it; two submits score once. SQLite has no row locks (`FOR UPDATE` is
dropped from the SQL), so there these write paths open their transaction with
`BEGIN IMMEDIATE`: it takes the database's single write lock before the first read,
which serializes them (readers go on under WAL). The `version` column (SQLAlchemy
optimistic locking) stays as a second guard against a concurrent scoring.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Select, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.banks.draw import DrawShortfall, plan_draw
from app.banks.item_types import ITEM_TYPES
from app.clock import now
from app.extensions import db
from app.logging import get_logger
from app.models.attempt import Attempt, AttemptItem, AttemptStatus, CloseReason
from app.models.question import Question
from app.models.quiz import ExpiryPolicy, Quiz, ReviewAfter, ReviewPolicy
from app.models.user import Role, User
from app.services import access, activity
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.locking import begin_immediate
from app.services.quizzes import attempts_allowed, drawable_questions, get_quiz
from app.services.scoring import ItemScore, score_response, summarise

log = get_logger(__name__)

EXPIRE_TASK = "certprep.quizzes.expire_attempt"

# What item types may add to a learner's item (see app.banks.item_types).
PRESENTATION_KEYS = ("options", "items", "prompts", "choices", "unit")

# Review levels in increasing order of what they reveal.
REVIEW_LEVELS = [p.value for p in ReviewPolicy]


class DeadlinePassed(Conflict):
    """A response or submit arrived after the attempt stopped accepting it (HTTP 409)."""


class AttemptClosed(Conflict):
    """The attempt is submitted or abandoned (HTTP 409)."""


def _is_staff(user: User) -> bool:
    return user.role in (Role.TRAINER, Role.ADMIN)


def compute_deadline(started_at: datetime, quiz: Quiz, accommodation: float) -> datetime:
    """`min(started_at + time_limit x accommodation, quiz.close_at)`."""
    deadline = started_at + timedelta(minutes=quiz.time_limit_minutes * accommodation)
    if quiz.close_at is not None and quiz.close_at < deadline:
        deadline = quiz.close_at
    return deadline


def compute_expiry(deadline: datetime, quiz: Quiz) -> datetime:
    """When an unsubmitted attempt is closed: the deadline, or deadline + grace."""
    if quiz.expiry_policy is ExpiryPolicy.GRACE:
        return deadline + timedelta(minutes=quiz.grace_minutes)
    return deadline


# ------------------------------------------------------------------------------ start


def _seen_counts(user: User) -> dict[str, int]:
    rows = db.session.execute(
        select(AttemptItem.question_uid, func.count())
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.user_id == user.id)
        .group_by(AttemptItem.question_uid)
    ).all()
    return dict(rows)


def _open_attempt(user: User, quiz: Quiz) -> Attempt | None:
    return db.session.scalar(
        select(Attempt).where(
            Attempt.quiz_id == quiz.id,
            Attempt.user_id == user.id,
            Attempt.status == AttemptStatus.IN_PROGRESS,
        )
    )


def start_attempt(user: User, slug: str) -> tuple[Attempt, bool]:
    """Start an attempt at quiz `slug` for `user`, or return the one still in progress.

    Draws by the blueprint (least-seen questions first for this learner, ties broken by
    the attempt's seed), shuffles questions and options with that seed, pins question
    revisions, computes the deadline and enqueues the expiry job; commits. Returns the
    attempt and whether it is new.

    Raises `NotFound` for an unknown quiz, `Conflict` when the quiz is closed, the
    attempts are used up, or the banks no longer hold enough questions.
    """
    quiz = get_quiz(slug)
    moment = now()
    # Counted before looking for an open attempt, never after: each read sees what was
    # committed when it ran. A concurrent start that commits after the count is either
    # still open at the next read (and resumed here) or holds the number this start
    # would take (the unique constraint refuses this one). Read the other way round, a
    # start committed between the two reads was neither seen nor collided with: its
    # attempt counted, this one took the next number, and the learner had two open.
    used = db.session.scalar(
        select(func.count()).where(Attempt.quiz_id == quiz.id, Attempt.user_id == user.id)
    )
    existing = _open_attempt(user, quiz)
    if existing is not None:
        if moment < existing.expires_at:
            return existing, False
        close_expired(existing.id)
    if quiz.is_closed_at(moment):
        raise Conflict(f"Quiz {slug!r} closed at {quiz.close_at.isoformat()}.")
    allowed = attempts_allowed(user.id, quiz)
    if allowed and used >= allowed:
        raise Conflict(
            f"All {allowed} attempt(s) at {slug!r} are used.",
            errors={"attempts_allowed": [str(allowed)]},
        )

    seed = secrets.randbits(31)
    rng = random.Random(seed)
    seen = _seen_counts(user)
    questions = {q.uid: q for q in drawable_questions()}
    tiebreak = {uid: rng.random() for uid in sorted(questions)}
    try:
        drawn = plan_draw(
            [q.attributes for q in questions.values()],
            quiz.draw,
            rank=lambda attrs: (seen.get(attrs["id"], 0), tiebreak[attrs["id"]]),
        )
    except DrawShortfall as exc:
        raise Conflict(f"Quiz {slug!r} cannot be drawn from the current banks: {exc}") from None
    chosen = [questions[attrs["id"]] for attrs in drawn]
    if quiz.shuffle_questions:
        rng.shuffle(chosen)

    deadline = compute_deadline(moment, quiz, user.accommodation)
    attempt = Attempt(
        quiz=quiz,
        user_id=user.id,
        number=used + 1,
        status=AttemptStatus.IN_PROGRESS,
        seed=seed,
        started_at=moment,
        deadline_at=deadline,
        expires_at=compute_expiry(deadline, quiz),
        accommodation=user.accommodation,
    )
    for position, question in enumerate(chosen, start=1):
        item_type = ITEM_TYPES[question.type]
        attempt.items.append(
            AttemptItem(
                position=position,
                question=question,
                question_uid=question.uid,
                display_order=item_type.display_order(question.body, rng, quiz.shuffle_options)
                or None,
                max_score=question.points,
            )
        )
    db.session.add(attempt)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent start took the same attempt number.
        db.session.rollback()
        raise Conflict("Another attempt was started at the same time; try again.") from None
    _enqueue_expiry(attempt, moment)
    activity.record_attempt(attempt, "started", moment)
    db.session.commit()
    log.info("attempt.started", attempt_id=attempt.id, quiz=slug, user_id=user.id)
    return attempt, True


def _enqueue_expiry(attempt: Attempt, moment: datetime) -> None:
    from app.services import jobs

    wait = max(0, int((attempt.expires_at - moment).total_seconds()))
    # The job row must not be swept as stuck while it legitimately waits for the expiry.
    job = jobs.enqueue(EXPIRE_TASK, attempt.id, deadline_seconds=wait + 900, max_attempts=3)
    attempt.expiry_job_id = str(job.id)


def set_accommodation(staff: User, user_id: int, accommodation: float) -> User:
    """Set a learner's time multiplier (range checked by the caller's schema); commits.

    It applies to every attempt they start afterwards, and re-times their attempts in
    progress whose deadline has not passed yet (never to a deadline already behind the
    current time). Raises `NotFound` for an unknown user or one `staff` may not act on
    (a learner outside the trainer's cohorts).
    """
    begin_immediate(db.session.connection())
    user = access.learner_for(staff, user_id)
    moment = now()
    user.accommodation = accommodation
    open_attempts = db.session.scalars(
        select(Attempt)
        .where(
            Attempt.user_id == user_id,
            Attempt.status == AttemptStatus.IN_PROGRESS,
            Attempt.deadline_at > moment,
        )
        .with_for_update(of=Attempt)
    )
    for attempt in open_attempts:
        deadline = max(moment, compute_deadline(attempt.started_at, attempt.quiz, accommodation))
        attempt.accommodation = accommodation
        attempt.deadline_at = deadline
        attempt.expires_at = compute_expiry(deadline, attempt.quiz)
    db.session.commit()
    return user


# ----------------------------------------------------------------------------- access


def get_attempt(user: User, attempt_id: int) -> Attempt:
    """The attempt, visible to its learner, their cohorts' trainers and admins
    (`access.may_see`); closes it first if it expired (and commits that). Raises
    `NotFound` for anyone else: nobody can tell another's attempt from a missing one."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or not access.may_see(user, attempt.user_id):
        raise NotFound(f"Attempt {attempt_id} not found.")
    if attempt.is_open and now() >= attempt.expires_at:
        close_expired(attempt.id)
        db.session.refresh(attempt)
    return attempt


def attempts_query(quiz_slug: str | None, user_id: int | None) -> Select[tuple[Attempt]]:
    """All attempts (for trainers), newest first, optionally by quiz and learner."""
    stmt = select(Attempt).order_by(Attempt.started_at.desc(), Attempt.id.desc())
    if quiz_slug:
        quiz_id = select(Quiz.id).where(Quiz.slug == quiz_slug).scalar_subquery()
        stmt = stmt.where(Attempt.quiz_id == quiz_id)
    if user_id:
        stmt = stmt.where(Attempt.user_id == user_id)
    return stmt


def visible_attempts_query(
    user: User, quiz_slug: str | None, user_id: int | None
) -> Select[tuple[Attempt]]:
    """Attempts `user` may list: everyone's for admins, their cohorts' learners' (and
    their own) for trainers, else their own."""
    if _is_staff(user):
        return access.restrict_to_visible(attempts_query(quiz_slug, user_id), user, Attempt.user_id)
    return attempts_query(quiz_slug, user.id)


def remaining_seconds(attempt: Attempt, moment: datetime | None = None) -> int:
    """Whole seconds until the deadline (0 once it passed or the attempt is closed)."""
    if not attempt.is_open:
        return 0
    left = (attempt.deadline_at - (moment or now())).total_seconds()
    return max(0, int(left))


# --------------------------------------------------------------------------- autosave


def _autosave_lock_statement(postgresql: bool) -> Select[Any]:
    """The attempt's state, locked `FOR SHARE`, and the item answered: one statement
    with `attempt_id` and `question_uid` bound at execution."""
    columns: list[Any] = [
        Attempt.user_id,
        Attempt.status,
        Attempt.deadline_at,
        Attempt.expires_at,
        AttemptItem.id.label("item_id"),
        AttemptItem.question_id,
        Question.content_hash,
    ]
    if postgresql:
        # An autosave is superseded seconds later by the next one; not waiting for the WAL
        # flush at commit costs at most the last fraction of a second of autosaves if the
        # database server crashes (never consistency). Submit and scoring commit durably.
        # Set here, transaction-local, rather than by a separate `SET LOCAL` round trip.
        columns.append(func.set_config("synchronous_commit", "off", True).label("sync"))
    return (
        select(*columns)
        .select_from(Attempt)
        .outerjoin(
            AttemptItem,
            and_(
                AttemptItem.attempt_id == Attempt.id,
                AttemptItem.question_uid == bindparam("question_uid"),
            ),
        )
        .outerjoin(Question, Question.id == AttemptItem.question_id)
        .where(Attempt.id == bindparam("attempt_id"))
        # Shared lock: many autosaves proceed together; submit's FOR UPDATE waits for them
        # and they wait for it, so a response is either scored or refused, never lost.
        .with_for_update(read=True, of=Attempt)
    )


# Autosave runs many times a minute per learner: its statements are built once (building
# one costs more CPU than the database spends running it) and executed as Core statements
# on the session's connection, skipping the ORM's bulk-update and result machinery.
_AUTOSAVE_LOCK = {
    "postgresql": _autosave_lock_statement(postgresql=True),
    "other": _autosave_lock_statement(postgresql=False),
}
_items_table = AttemptItem.__table__
_AUTOSAVE_UPDATE = (
    update(_items_table)
    .where(_items_table.c.id == bindparam("item_id"))
    .values(
        response=bindparam("new_response", type_=_items_table.c.response.type),
        answered_at=bindparam("new_answered_at", type_=_items_table.c.answered_at.type),
    )
)
# PostgreSQL: the response UPDATE rides in the activity INSERT as a data-modifying WITH
# clause, one round trip for both. PostgreSQL runs such a clause exactly once and to
# completion whether or not the main statement reads its output ("Data-Modifying
# Statements in WITH", PostgreSQL manual 7.8.4). SQLite has none: two statements there.
_AUTOSAVE_WRITE_POSTGRESQL = activity.ANSWER_INSERT.add_cte(_AUTOSAVE_UPDATE.cte("saved"))


def save_response(user: User, attempt_id: int, question_uid: str, response: Any) -> dict[str, Any]:
    """Store `response` for one question of the learner's open attempt; commits.

    Raises `NotFound` (not the learner's attempt, or no such question in it),
    `DeadlinePassed` after the deadline, `AttemptClosed` after submit, and
    `ValidationFailed` when the response does not fit the item type.
    """
    return save_response_of(user.id, attempt_id, question_uid, response)


def save_response_of(
    user_id: int, attempt_id: int, question_uid: str, response: Any
) -> dict[str, Any]:
    """`save_response` for the account `user_id` (the autosave route has the id only)."""
    moment = now()
    connection = db.session.connection()
    dialect = "postgresql" if connection.dialect.name == "postgresql" else "other"
    begin_immediate(connection)
    # One round trip: the attempt's state, locked, and the item answered.
    row = connection.execute(
        _AUTOSAVE_LOCK[dialect], {"attempt_id": attempt_id, "question_uid": question_uid}
    ).first()
    if row is None or row.user_id != user_id:
        db.session.rollback()
        raise NotFound(f"Attempt {attempt_id} not found.")
    if row.status != AttemptStatus.IN_PROGRESS:
        db.session.rollback()
        raise AttemptClosed(
            f"Attempt {attempt_id} is {AttemptStatus(row.status).value}; responses are closed.",
            errors={"reason": ["closed"]},
        )
    if moment >= row.deadline_at:
        db.session.rollback()
        if moment >= row.expires_at:
            close_expired(attempt_id)
        raise DeadlinePassed(
            f"The deadline of attempt {attempt_id} passed at {row.deadline_at.isoformat()};"
            " responses are no longer accepted.",
            errors={"reason": ["deadline_passed"], "deadline_at": [row.deadline_at.isoformat()]},
        )
    if row.item_id is None:
        db.session.rollback()
        raise NotFound(f"Question {question_uid!r} is not part of attempt {attempt_id}.")
    kind, body = _question_content(row.question_id, row.content_hash)
    try:
        loaded = ITEM_TYPES[kind].validate_response(body, response)
    except ValidationError as exc:
        db.session.rollback()
        raise ValidationFailed(
            f"The response does not fit a {kind} question.",
            errors=exc.messages if isinstance(exc.messages, dict) else {"response": exc.messages},
        ) from None
    saved = {"item_id": row.item_id, "new_response": loaded, "new_answered_at": moment}
    answer = activity.answer_parameters(user_id, attempt_id, question_uid, moment)
    if dialect == "postgresql":
        connection.execute(_AUTOSAVE_WRITE_POSTGRESQL, {**saved, **answer})
    else:
        connection.execute(_AUTOSAVE_UPDATE, saved)
        connection.execute(activity.ANSWER_INSERT, answer)
    db.session.commit()
    return {
        "question_id": question_uid,
        "response": loaded,
        "answered_at": moment,
        "remaining_seconds": max(0, int((row.deadline_at - moment).total_seconds())),
    }


# Question revisions never change once stored (an edit is a new row), so their type and
# body can be kept in memory. Keyed by row id *and* content hash: a database that was
# reset may reuse an id for other content. The cap only bounds memory.
_QUESTION_CACHE: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
_QUESTION_CACHE_LIMIT = 20000


def _question_content(question_id: int, digest: str) -> tuple[str, dict[str, Any]]:
    """(type, body) of question revision `question_id` with hash `digest`, cached."""
    cached = _QUESTION_CACHE.get((question_id, digest))
    if cached is None:
        found = db.session.execute(
            select(Question.type, Question.body).where(Question.id == question_id)
        ).one()
        cached = remember_question(question_id, digest, found.type, found.body)
    return cached


def remember_question(
    question_id: int, digest: str, kind: str, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The cached (type, body) of question revision `question_id` with hash `digest`;
    `kind` and `body` (as read from the database) become the cached ones if none are.
    Every attempt at a quiz thus shares one copy of each question body."""
    key = (question_id, digest)
    cached = _QUESTION_CACHE.get(key)
    if cached is None:
        if len(_QUESTION_CACHE) >= _QUESTION_CACHE_LIMIT:
            _QUESTION_CACHE.clear()
        cached = _QUESTION_CACHE.setdefault(key, (kind, body))
    return cached


# ------------------------------------------------------------------------ submit/close


def _lock_attempt(attempt_id: int) -> Attempt | None:
    """The attempt with its items, locked for writing (row lock on PostgreSQL, the
    database write lock on SQLite)."""
    begin_immediate(db.session.connection())
    return db.session.scalar(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .options(selectinload(Attempt.items))
        .with_for_update(of=Attempt)
        .execution_options(populate_existing=True)
    )


def _score(attempt: Attempt, closed_at: datetime, reason: CloseReason) -> None:
    scores = []
    for item in attempt.items:
        question = item.question
        credit = score_response(question.type, question.body, item.response)
        item.score = round(credit * item.max_score, 4)
        scores.append(ItemScore(item.score, item.max_score, question.domain, question.topic))
    summary = summarise(scores, attempt.quiz.pass_mark)
    attempt.score = summary["score"]
    attempt.max_score = summary["max_score"]
    attempt.percent = summary["percent"]
    attempt.passed = summary["passed"]
    attempt.breakdown = {"domains": summary["domains"], "topics": summary["topics"]}
    attempt.status = AttemptStatus.SUBMITTED
    attempt.close_reason = reason
    attempt.submitted_at = closed_at
    activity.record_attempt_closed(attempt, reason, closed_at)


def _abandon(attempt: Attempt) -> None:
    attempt.status = AttemptStatus.ABANDONED
    attempt.close_reason = CloseReason.ABANDONED
    activity.record_attempt_closed(attempt, CloseReason.ABANDONED, now())


def close_if_expired(attempt: Attempt, moment: datetime) -> bool:
    """Apply the expiry policy to a locked (or freshly loaded) open attempt past
    `expires_at`; does not commit. Returns whether it closed the attempt."""
    if not attempt.is_open or moment < attempt.expires_at:
        return False
    if attempt.quiz.expiry_policy is ExpiryPolicy.AUTOSUBMIT:
        # Scored as of the deadline with what was saved by then.
        _score(attempt, attempt.deadline_at, CloseReason.DEADLINE)
    else:
        _abandon(attempt)
    log.info("attempt.expired", attempt_id=attempt.id, status=attempt.status.value)
    return True


def close_expired(attempt_id: int) -> str | None:
    """Close attempt `attempt_id` by its expiry policy if it is open and expired;
    commits. Returns the attempt's status afterwards (None for an unknown id)."""
    try:
        attempt = _lock_attempt(attempt_id)
        if attempt is None:
            db.session.rollback()
            return None
        close_if_expired(attempt, now())
        status = attempt.status.value
        db.session.commit()
        return status
    except StaleDataError:
        # Closed by a concurrent submit or sweep: its outcome stands.
        db.session.rollback()
        attempt = db.session.get(Attempt, attempt_id)
        return attempt.status.value if attempt else None


class AttemptNotDue(Exception):
    """The attempt has not expired yet; the expiry job checks again later."""


def expire(attempt_id: int) -> dict[str, Any]:
    """The expiry job's body: close attempt `attempt_id` by its expiry policy once it
    expired.

    Raises `AttemptNotDue` (retried with backoff) while the attempt is open and not yet
    expired. Does nothing for a closed attempt.
    """
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        return {"attempt_id": attempt_id, "status": None}
    if attempt.is_open and now() < attempt.expires_at:
        due = attempt.expires_at.isoformat()
        db.session.rollback()
        raise AttemptNotDue(f"attempt {attempt_id} expires at {due}")
    return {"attempt_id": attempt_id, "status": close_expired(attempt_id)}


def submit_attempt(user: User, attempt_id: int) -> Attempt:
    """Score the learner's attempt and close it; commits. Idempotent: submitting a
    submitted attempt returns it unchanged.

    Raises `NotFound` (not the learner's), `DeadlinePassed` when the policy no longer
    accepts a submit (abandon after the deadline, grace after its end) and
    `AttemptClosed` for an abandoned attempt.
    """
    moment = now()
    try:
        attempt = _lock_attempt(attempt_id)
        if attempt is None or attempt.user_id != user.id:
            db.session.rollback()
            raise NotFound(f"Attempt {attempt_id} not found.")
        if attempt.status is AttemptStatus.SUBMITTED:
            db.session.rollback()
            return attempt
        if attempt.is_open:
            if not close_if_expired(attempt, moment):
                if (
                    attempt.quiz.expiry_policy is ExpiryPolicy.ABANDON
                    and moment >= attempt.deadline_at
                ):
                    _abandon(attempt)
                else:
                    _score(attempt, moment, CloseReason.SUBMITTED)
            db.session.commit()
    except StaleDataError:
        db.session.rollback()
        attempt = db.session.get(Attempt, attempt_id)
        db.session.refresh(attempt)
    if attempt.status is AttemptStatus.ABANDONED:
        raise DeadlinePassed(
            f"Attempt {attempt_id} was not submitted before it expired at"
            f" {attempt.expires_at.isoformat()} and is abandoned.",
            errors={"reason": ["abandoned"]},
        )
    log.info("attempt.submitted", attempt_id=attempt.id, percent=attempt.percent)
    return attempt


def sweep_expired_attempts(limit: int = 500) -> list[int]:
    """Close every open attempt past its expiry (oldest first, up to `limit`); returns
    the ids closed. Each is closed in its own transaction under its row lock."""
    moment = now()
    ids = list(
        db.session.scalars(
            select(Attempt.id)
            .where(Attempt.status == AttemptStatus.IN_PROGRESS, Attempt.expires_at <= moment)
            .order_by(Attempt.expires_at)
            .limit(limit)
        )
    )
    db.session.rollback()
    closed = []
    for attempt_id in ids:
        if close_expired(attempt_id) != AttemptStatus.IN_PROGRESS.value:
            closed.append(attempt_id)
    return closed


# ----------------------------------------------------------------------------- views


def learner_item(item: AttemptItem) -> dict[str, Any]:
    """What a learner sees of one item: stem and choices, never a key or explanation."""
    question = item.question
    shown = ITEM_TYPES[question.type].present(question.body, item.display_order)
    return {
        "question_id": item.question_uid,
        "position": item.position,
        "type": question.type,
        "stem": question.body["stem"],
        "points": item.max_score,
        # Every presentation key is present (None when the type has none): the output
        # schema reads dict keys, and a missing "items" would resolve to dict.items.
        **dict.fromkeys(PRESENTATION_KEYS),
        **shown,
        "response": item.response,
        "answered_at": item.answered_at,
    }


def review_level(attempt: Attempt, moment: datetime | None = None) -> str | None:
    """How much of the review the learner may see now; None before submit.

    `review_after: close` shows only the score until the quiz's close time.
    """
    if attempt.status is not AttemptStatus.SUBMITTED:
        return None
    quiz = attempt.quiz
    if quiz.review_after is ReviewAfter.CLOSE and not quiz.is_closed_at(moment or now()):
        return ReviewPolicy.SCORE_ONLY.value
    return quiz.review_policy.value


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    """The learner's view of an attempt (`AttemptSchema`): no answer data at any phase."""
    moment = now()
    submitted = attempt.status is AttemptStatus.SUBMITTED
    return {
        "id": attempt.id,
        "quiz_slug": attempt.quiz.slug,
        "quiz_title": attempt.quiz.title,
        "user_id": attempt.user_id,
        "number": attempt.number,
        "status": attempt.status.value,
        "close_reason": attempt.close_reason.value if attempt.close_reason else None,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "expires_at": attempt.expires_at,
        "submitted_at": attempt.submitted_at,
        "accepting_responses": attempt.is_open and moment < attempt.deadline_at,
        "remaining_seconds": remaining_seconds(attempt, moment),
        "items": [learner_item(item) for item in attempt.items],
        "result": (
            {
                "score": attempt.score,
                "max_score": attempt.max_score,
                "percent": attempt.percent,
                "passed": attempt.passed,
            }
            if submitted
            else None
        ),
        "review_level": review_level(attempt, moment),
    }


def review_view(user: User, attempt_id: int) -> dict[str, Any]:
    """The review of a submitted attempt, as much as its quiz's policy allows now.

    Raises `NotFound` (not visible) and `Conflict` before submit or for an abandoned
    attempt. Trainers and admins always get the full review.
    """
    attempt = get_attempt(user, attempt_id)
    level = review_level(attempt)
    if level is None:
        raise Conflict(
            f"Attempt {attempt_id} is {attempt.status.value}; a review exists after submit.",
            errors={"reason": [attempt.status.value]},
        )
    if _is_staff(user):
        level = ReviewPolicy.EXPLANATIONS.value
    rank = REVIEW_LEVELS.index(level)
    items = []
    if rank >= REVIEW_LEVELS.index(ReviewPolicy.CORRECTNESS.value):
        for item in attempt.items:
            question = item.question
            entry: dict[str, Any] = {
                "question_id": item.question_uid,
                "position": item.position,
                "type": question.type,
                "stem": question.body["stem"],
                "response": item.response,
                "score": item.score,
                "max_score": item.max_score,
                "correct": item.score is not None and item.score >= item.max_score,
            }
            if rank >= REVIEW_LEVELS.index(ReviewPolicy.ANSWERS.value):
                entry["answer"] = ITEM_TYPES[question.type].answer_key(question.body)
            if rank >= REVIEW_LEVELS.index(ReviewPolicy.EXPLANATIONS.value):
                entry["explanation"] = question.body["explanation"]
                entry["seed_section"] = question.seed_section
                if question.body.get("source"):
                    entry["source"] = question.body["source"]
                if "options" in question.body:
                    entry["option_feedback"] = [
                        {"id": o["id"], "text": o["text"], "correct": o["correct"], "why": o["why"]}
                        for o in question.body["options"]
                    ]
            items.append(entry)
    return {
        "attempt_id": attempt.id,
        "quiz_slug": attempt.quiz.slug,
        "level": level,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "percent": attempt.percent,
        "passed": attempt.passed,
        "pass_mark": attempt.quiz.pass_mark,
        "domains": (attempt.breakdown or {}).get("domains", {}),
        "topics": (attempt.breakdown or {}).get("topics", {}),
        "items": items,
    }

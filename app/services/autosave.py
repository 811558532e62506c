"""Autosave in one statement on PostgreSQL: the hot path of a timed quiz.

`save_response_of` (app.services.attempts) checks the token, locks the attempt, reads
the item, then writes the response and its activity event: five round trips through
SQLAlchemy (psycopg sends `BEGIN` on its own, and `COMMIT`). This module does the same
work in one statement, run in autocommit mode on the pooled driver connection, so the
statement is its own transaction:

1. `grantee`: the token's account, only when the token is unrevoked, unexpired and its
   account active (the rules of `app.services.auth.check_token`);
2. `target`: the attempt, locked `FOR SHARE`, only when it belongs to that account, is
   in progress and its deadline has not passed. PostgreSQL locks only the rows that
   pass these conditions, so nothing is locked for a token that fails them: auth still
   comes first. A submit holding the row `FOR UPDATE` makes this wait, and the row is
   then checked again in its committed state (READ COMMITTED's re-check of locked
   rows), so a response racing a submit is either written before it (and scored) or
   not written at all;
3. `saved`: the item's response, only when the item is the question revision the
   response was validated against (the attempt, the question id and its content hash);
4. `logged`: the "answered" activity event, only when the response was saved.

The response is validated in Python before the statement, against the item type and
body of the item's question revision. Those come from a per-process cache of each
attempt's items (filled by one more statement the first time a process sees the
attempt, for the attempt's owner only). The statement re-checks everything the cache
claims, so a stale or wrong cache entry can only make it write nothing; the entry is
then dropped and read again next time.

Whenever the statement writes nothing (an invalid token, another learner's attempt,
after submit or the deadline, an unknown question), or the request is anything but a
well-formed autosave on PostgreSQL with a bearer token or a browser session and its
CSRF token, the caller runs the ordinary path,
which answers with the same checks, in the same order, and the same messages as
before. What a client sees is the same either way; only the cost differs.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import current_app
from marshmallow import ValidationError
from psycopg.types.json import Json

from app.banks.item_types import ITEM_TYPES
from app.extensions import db
from app.logging import get_logger
from app.models.activity import ActivityObject, ActivityVerb
from app.models.attempt import AttemptStatus
from app.models.base import utcnow
from app.models.user import Role
from app.services.attempts import remember_question

log = get_logger(__name__)

# The account a live token grants; the parameters are named as in `_SAVE`.
_GRANTEE = """
    SELECT t.id AS token_id, t.token_hash, t.user_id, u.role
    FROM api_tokens AS t JOIN users AS u ON u.id = t.user_id
    WHERE t.token_hash = %(digest)s
      AND t.revoked_at IS NULL
      AND t.expires_at > %(token_now)s
      AND u.is_active
"""

# The whole autosave. Enum values are the application's own constants, not input.
_SAVE = f"""
WITH grantee AS ({_GRANTEE}),
target AS (
    SELECT a.id, a.quiz_id, a.deadline_at,
           set_config('synchronous_commit', 'off', true) AS relaxed
    FROM attempts AS a
    WHERE a.id = %(attempt_id)s
      AND a.user_id = (SELECT user_id FROM grantee)
      AND a.status = '{AttemptStatus.IN_PROGRESS.value}'
      AND a.deadline_at > %(moment)s
    FOR SHARE OF a
),
saved AS (
    UPDATE attempt_items AS i
    SET response = %(response)s, answered_at = %(moment)s
    FROM target
    WHERE i.attempt_id = target.id
      AND i.question_uid = %(question_uid)s
      AND i.question_id = %(question_id)s
      AND EXISTS (
          SELECT 1 FROM questions AS q
          WHERE q.id = %(question_id)s AND q.content_hash = %(content_hash)s
      )
    RETURNING i.attempt_id
),
logged AS (
    INSERT INTO activity_events
        (user_id, verb, object_kind, object_slug, subject_id, details, occurred_at)
    SELECT grantee.user_id, '{ActivityVerb.ANSWERED.value}', '{ActivityObject.QUIZ.value}',
           quizzes.slug, saved.attempt_id, %(details)s, %(moment)s
    FROM saved, grantee, target JOIN quizzes ON quizzes.id = target.quiz_id
    RETURNING id
)
SELECT grantee.token_id, grantee.token_hash, grantee.user_id, grantee.role,
       target.deadline_at, (SELECT count(*) FROM logged) AS written
FROM grantee LEFT JOIN target ON true
"""

# The items of an attempt, for its owner only: what the cache holds.
_ITEMS = f"""
WITH grantee AS ({_GRANTEE})
SELECT i.question_uid, i.question_id, q.content_hash, q.type, q.body
FROM attempts AS a
JOIN attempt_items AS i ON i.attempt_id = a.id
JOIN questions AS q ON q.id = i.question_id
WHERE a.id = %(attempt_id)s AND a.user_id = (SELECT user_id FROM grantee)
"""


@dataclass(frozen=True, slots=True)
class PinnedQuestion:
    """The question revision an attempt item is pinned to."""

    question_id: int
    content_hash: str
    type: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FastSave:
    """What a written autosave returns: the route's body and the token's grant."""

    result: dict[str, Any]
    token_id: int
    user_id: int
    role: Role


class _AttemptItems:
    """Per process: attempt id -> {question uid -> PinnedQuestion}, the most recently
    used `limit` attempts. An attempt's items never change after it starts."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._attempts: OrderedDict[int, dict[str, PinnedQuestion]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, attempt_id: int) -> dict[str, PinnedQuestion] | None:
        with self._lock:
            items = self._attempts.get(attempt_id)
            if items is not None:
                self._attempts.move_to_end(attempt_id)
            return items

    def put(self, attempt_id: int, items: dict[str, PinnedQuestion]) -> None:
        with self._lock:
            self._attempts[attempt_id] = items
            self._attempts.move_to_end(attempt_id)
            while len(self._attempts) > self._limit:
                self._attempts.popitem(last=False)

    def discard(self, attempt_id: int) -> None:
        with self._lock:
            self._attempts.pop(attempt_id, None)


# A classroom's attempts many times over. An entry is a few dozen small objects; the
# question bodies they point to are the shared ones of `remember_question`.
CACHE_LIMIT = 4096
_EXTENSION_KEY = "certprep.autosave_items"


def _cache() -> _AttemptItems:
    """This app's cache (tests run several apps, on different databases, in one process)."""
    cache: _AttemptItems | None = current_app.extensions.get(_EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(_EXTENSION_KEY, _AttemptItems(CACHE_LIMIT))
    return cache


def enabled() -> bool:
    """Whether this app's database is PostgreSQL through psycopg 3 (the statement is
    PostgreSQL's, and it runs on psycopg's connection)."""
    dialect = db.engine.dialect
    return bool(dialect.name == "postgresql" and dialect.driver == "psycopg")


def save(
    digest: str, attempt_id: int, question_uid: str, response: dict[str, Any], moment: datetime
) -> FastSave | None:
    """Autosave `response` in one statement when everything checks out; None when it
    wrote nothing (then the ordinary path must answer).

    `digest` is the presented token's hash, `response` the request's `response` field as
    the argument schema loaded it, and `moment` the app clock's now.
    """
    raw = db.engine.raw_connection()
    try:
        driver: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        driver.autocommit = True
        try:
            return _save_on(driver, digest, attempt_id, question_uid, response, moment)
        finally:
            if not driver.closed:
                driver.autocommit = False
    except psycopg.OperationalError as exc:
        # A connection the server closed: drop it; the ordinary path's first statement
        # replaces it.
        log.info("autosave.fast_path_failed", error=str(exc).strip())
        raw.invalidate()
        return None
    finally:
        raw.close()


def _save_on(
    driver: psycopg.Connection[Any],
    digest: str,
    attempt_id: int,
    question_uid: str,
    response: dict[str, Any],
    moment: datetime,
) -> FastSave | None:
    token_now = utcnow()
    pinned = _pinned(driver, digest, attempt_id, question_uid, token_now)
    if pinned is None:
        return None
    try:
        loaded = ITEM_TYPES[pinned.type].validate_response(pinned.body, response)
    except ValidationError:
        return None
    row = driver.execute(
        _SAVE,
        {
            "digest": digest,
            "token_now": token_now,
            "attempt_id": attempt_id,
            "moment": moment,
            "question_uid": question_uid,
            "question_id": pinned.question_id,
            "content_hash": pinned.content_hash,
            "response": Json(loaded),
            "details": Json({"question_id": question_uid}),
        },
        prepare=True,
    ).fetchone()
    if row is None or not row[5]:
        # Refused, or the cache was wrong (a database whose ids were reused): read the
        # items again next time.
        _cache().discard(attempt_id)
        return None
    token_id, token_hash, user_id, role, deadline_at, _ = row
    # The lookup was by hash; as in `check_token`, the decision itself does not depend
    # on how much of the hash matched.
    if not hmac.compare_digest(token_hash, digest):  # pragma: no cover - equal by the query
        return None
    deadline_at = deadline_at.astimezone(UTC)
    return FastSave(
        result={
            "question_id": question_uid,
            "response": loaded,
            "answered_at": moment,
            "remaining_seconds": max(0, int((deadline_at - moment).total_seconds())),
        },
        token_id=token_id,
        user_id=user_id,
        role=Role(role),
    )


def _pinned(
    driver: psycopg.Connection[Any],
    digest: str,
    attempt_id: int,
    question_uid: str,
    token_now: datetime,
) -> PinnedQuestion | None:
    """The question revision of item `question_uid` of the attempt, from the cache or,
    the first time, from the database (only for the attempt's owner); None when the
    token does not own such an attempt or it has no such item."""
    cache = _cache()
    items = cache.get(attempt_id)
    if items is None:
        rows = driver.execute(
            _ITEMS, {"digest": digest, "token_now": token_now, "attempt_id": attempt_id}
        ).fetchall()
        if not rows:
            return None
        items = {
            uid: PinnedQuestion(
                question_id,
                content_hash,
                *remember_question(question_id, content_hash, kind, body),
            )
            for uid, question_id, content_hash, kind, body in rows
        }
        cache.put(attempt_id, items)
    pinned = items.get(question_uid)
    if pinned is None:
        cache.discard(attempt_id)
    return pinned

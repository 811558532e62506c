"""Grades of lab sessions: requested through the API, computed by a worker.

`request_grade` commits a pending `Grade` row and its grading job together; the job
(`run_grade`) grades the session's cluster with `app.grading` and stores the result
once: the row moves to done with a conditional UPDATE, so a re-run after a lost worker
(the jobs sweeper re-publishes it) or a duplicate message cannot store a second result.
Grading is deterministic, so whichever run stores it stores the same grade.

A cluster that cannot be reached, or that its server no longer holds, is an
infrastructure failure, never a score: the grade checks the cluster answers before and
after reading it (`ClusterReader.ensure_alive`), the job retries with bounded backoff
(`app.tasks.labs`), and the last attempt marks the grade failed with a message saying
the cluster was unreachable or gone. Only a cluster that answers can give a 0.

What a learner sees of a grade: per check its id, points earned, pass/fail, the lab's
message and (when the hint policy allows) the hint; never the check's expected values,
the found-vs-expected detail or the evidence. Trainers and admins see everything.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.clusters import ProviderNodeAccess, provider_for
from app.extensions import db
from app.grading.context import GradeContext
from app.grading.engine import grade as grade_cluster
from app.grading.liveness import api_server_down, ensure_cluster_alive
from app.grading.reader import ClusterGoneError, ClusterReader, ClusterUnreachableError
from app.logging import get_logger
from app.models.lab import (
    OPEN_GRADE_STATUSES,
    USABLE_SESSION_STATUSES,
    Grade,
    GradeStatus,
    LabSession,
    LabSessionStatus,
)
from app.models.user import Role, User
from app.services import activity, jobs
from app.services.errors import Conflict, NotFound
from app.services.lab_sessions import get_session, handle_of, usable_session
from app.services.labs import lab_checks

log = get_logger(__name__)

GRADE_TASK = "certprep.labs.grade_lab_session"
# A grading job may wait and run this long before the sweeper re-runs it: longer than
# the task's hard time limit (300 s), so a slow but live grade is not duplicated.
GRADE_DEADLINE_SECONDS = 360
# Longest long-poll a client may ask for (`?wait=`), and how often it looks.
MAX_WAIT_SECONDS = 60
POLL_INTERVAL = 0.05
# Kubernetes API clients kept per worker process (one per recently graded session).
CLIENT_CACHE_SIZE = 32
# Liveness probes of the cluster before a grade reads it, a second apart: a simulator
# restarting (it reloads its clusters before it listens) is back within this.
ALIVE_PROBES = 3
ALIVE_PROBE_INTERVAL = 1.0
# What a failed grade says when its cluster was gone or unreachable.
CLUSTER_GONE_MESSAGE = (
    "Not graded: the lab cluster no longer exists on its server, so no score was "
    "recorded. Start the lab again."
)
CLUSTER_UNREACHABLE_MESSAGE = (
    "Not graded: the lab cluster could not be reached, so no score was recorded. "
    "Ask for a grade again in a moment."
)
# Fields of a check result a learner sees.
LEARNER_CHECK_FIELDS = ("id", "passed", "points", "earned", "message", "hint", "error")


def _is_staff(user: User) -> bool:
    return user.role in (Role.TRAINER, Role.ADMIN)


def _new_grade(session: LabSession, *, final: bool) -> Grade:
    number = (
        db.session.scalar(select(func.max(Grade.number)).where(Grade.session_id == session.id)) or 0
    ) + 1
    grade = Grade(
        session_id=session.id,
        number=number,
        status=GradeStatus.PENDING,
        final=final,
        requested_at=now(),
        runs=0,
    )
    db.session.add(grade)
    db.session.flush()
    return grade


def request_grade(user: User, session_id: int) -> Grade:
    """Ask for a grade of the session's cluster; commits the row and its job.

    A grade still pending or running is returned instead of a second one. Raises
    `NotFound` for an invisible session and `Conflict` when its cluster is not usable.
    """
    session = usable_session(user, session_id)
    open_grade = db.session.scalar(
        select(Grade).where(Grade.session_id == session.id, Grade.status.in_(OPEN_GRADE_STATUSES))
    )
    if open_grade is not None:
        return open_grade
    try:
        grade = _new_grade(session, final=False)
    except IntegrityError:
        # A concurrent request took the grade number: that grade is the open one.
        db.session.rollback()
        raise Conflict("A grade of this session was requested at the same time.") from None
    job = jobs.enqueue(
        GRADE_TASK, grade.id, deadline_seconds=GRADE_DEADLINE_SECONDS, max_attempts=3
    )
    grade.job_id = job.id
    # A conditional UPDATE, not an ORM write: a worker may settle the session's previous
    # grade at this very moment, and the two must not collide on the version column.
    db.session.execute(
        update(LabSession)
        .where(LabSession.id == session.id, LabSession.status.in_(USABLE_SESSION_STATUSES))
        .values(status=LabSessionStatus.GRADING, version=LabSession.version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("grade.requested", grade_id=grade.id, session_id=session.id)
    return grade


def final_grade(session: LabSession) -> Grade:
    """The session's final grade row, created (pending, committed) on first call."""
    session_id = session.id
    for _ in range(3):
        existing = db.session.scalar(
            select(Grade).where(Grade.session_id == session_id, Grade.final.is_(True))
        )
        if existing is not None:
            return existing
        try:
            grade = _new_grade(session, final=True)
            db.session.commit()
            return grade
        except IntegrityError:
            # The expiry job and the sweeper raced for the grade number; look again.
            db.session.rollback()
            session = db.session.get(LabSession, session_id)
    raise Conflict(f"Could not record the final grade of lab session {session_id}.")


def run_grade(grade_id: int, *, give_up: bool = True) -> dict[str, Any]:
    """Grade the cluster for grade `grade_id` and store the result once; idempotent.

    A finished grade is returned as it is. A grade whose session has no usable cluster
    fails. Errors of single checks surface per check (the engine records them as
    `error` results); an unusable kubeconfig raises (the job retries).

    A cluster that is unreachable or gone (`ClusterUnreachableError`) raises when
    `give_up` is false (the job retries), else fails the grade with a message saying so
    (`CLUSTER_UNREACHABLE_MESSAGE`, `CLUSTER_GONE_MESSAGE`): never a score.
    """
    grade = db.session.get(Grade, grade_id)
    if grade is None:
        return {"grade_id": grade_id, "status": None}
    if grade.is_finished:
        return {"grade_id": grade_id, "status": grade.status.value}
    session = grade.session
    if session.status not in USABLE_SESSION_STATUSES or not session.kubeconfig:
        _finish(grade_id, GradeStatus.FAILED, error=f"session is {session.status.value}")
        return {"grade_id": grade_id, "status": "failed"}
    started = now()
    db.session.execute(
        update(Grade)
        .where(Grade.id == grade_id, Grade.status.in_(OPEN_GRADE_STATUSES))
        .values(status=GradeStatus.RUNNING, runs=Grade.runs + 1, started_at=started)
    )
    db.session.commit()
    grade = db.session.get(Grade, grade_id, populate_existing=True)
    session = grade.session
    checks, policy = lab_checks(session.lab)
    previous = db.session.scalar(
        select(func.count()).where(
            Grade.session_id == session.id,
            Grade.number < grade.number,
            Grade.status == GradeStatus.DONE,
        )
    )
    context = GradeContext(
        grade_id=str(grade.id),
        session_started_at=session.ready_at or session.created_at,
        grade_requested_at=grade.requested_at,
        hint_policy=session.lab.spec.get("hint_policy", "never"),
        previous_grades=int(previous or 0),
        hints_revealed=frozenset(session.hints_revealed or ()),
    )
    provider = provider_for(session.provider)
    handle = handle_of(session)
    client = api_client(session.kubeconfig)
    session_id, user_id, slug = session.id, session.user_id, session.lab.slug
    # No transaction is held while the cluster is read.
    db.session.rollback()
    reader = ClusterReader(client)
    node_access = ProviderNodeAccess(provider, handle)
    try:
        _wait_alive(reader, node_access)
        result = grade_cluster(checks, reader, node_access, context, policy)
        # Gone while it was read: the results may come from a cluster half torn down.
        ensure_cluster_alive(reader, node_access)
    except ClusterUnreachableError as exc:
        db.session.rollback()
        if not give_up:
            log.warning("grade.cluster_unreachable", grade_id=grade_id, error=str(exc))
            raise
        gone = isinstance(exc, ClusterGoneError)
        message = CLUSTER_GONE_MESSAGE if gone else CLUSTER_UNREACHABLE_MESSAGE
        fail_grade(grade_id, f"{message} ({exc})")
        log.warning("grade.cluster_lost", grade_id=grade_id, gone=gone, error=str(exc))
        return {"grade_id": grade_id, "status": "failed", "cluster": "gone" if gone else "down"}
    stored = _store_outcome(
        grade_id,
        GradeStatus.DONE,
        result=result.to_dict(),
        earned=result.earned,
        possible=result.possible,
        percentage=result.percentage,
    )
    if stored:
        # The result's list is cumulative (earlier hints included), so writing it as is
        # never loses one; a plain UPDATE, no read-modify-write racing other requests.
        db.session.execute(
            update(LabSession)
            .where(LabSession.id == session_id)
            .values(hints_revealed=sorted(result.hints_revealed))
            .execution_options(synchronize_session=False)
        )
        activity.record(
            user_id,
            "graded",
            "lab",
            slug,
            now(),
            subject_id=session_id,
            percent=result.percentage,
        )
    # The grade, the hints, the activity and the session's `graded` in one transaction.
    _settle_session(session_id)
    db.session.commit()
    if stored:
        log.info("grade.done", grade_id=grade_id, percentage=result.percentage)
    return {"grade_id": grade_id, "status": "done", "percentage": result.percentage}


def _wait_alive(reader: ClusterReader, node_access: ProviderNodeAccess) -> None:
    """`reader.ensure_alive()`, tried `ALIVE_PROBES` times `ALIVE_PROBE_INTERVAL` apart;
    the last failure propagates, unless the cluster's nodes answer while its API server
    refuses connections: its API server is down, which is graded (the reader is marked,
    `app.grading.liveness`)."""
    for attempt in range(ALIVE_PROBES):
        try:
            reader.ensure_alive()
            return
        except ClusterUnreachableError as exc:
            if attempt == ALIVE_PROBES - 1:
                if api_server_down(reader, node_access, exc):
                    return
                raise
            time.sleep(ALIVE_PROBE_INTERVAL)


class _ClientCache:
    """Kubernetes API clients by kubeconfig, least recently used closed first: a worker
    grading the same session again reuses its TLS connections."""

    def __init__(self, size: int = CLIENT_CACHE_SIZE) -> None:
        self.size = size
        self._clients: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kubeconfig: str) -> Any:
        from kubernetes import config as kube_config

        key = hashlib.sha256(kubeconfig.encode()).hexdigest()
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = kube_config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
        with self._lock:
            self._clients[key] = client
            while len(self._clients) > self.size:
                _, old = self._clients.popitem(last=False)
                old.close()
        return client


_CLIENTS = _ClientCache()


def api_client(kubeconfig: str) -> Any:
    """A (cached) official Kubernetes `ApiClient` for a kubeconfig's current context;
    raises `kubernetes.config.ConfigException` for an unusable kubeconfig."""
    return _CLIENTS.get(kubeconfig)


def _store_outcome(grade_id: int, status: GradeStatus, **values: Any) -> bool:
    """Store the outcome if the grade is still open (no commit); True when this call did."""
    changed = db.session.execute(
        update(Grade)
        .where(Grade.id == grade_id, Grade.status.in_(OPEN_GRADE_STATUSES))
        .values(status=status, finished_at=now(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


def _finish(grade_id: int, status: GradeStatus, **values: Any) -> bool:
    """Store the outcome if the grade is still open and settle its session in the same
    transaction (no reader sees a finished grade on a session still `grading`);
    commits; True when this call stored it."""
    stored = _store_outcome(grade_id, status, **values)
    session_id = db.session.scalar(select(Grade.session_id).where(Grade.id == grade_id))
    if session_id is not None:
        _settle_session(session_id)
    db.session.commit()
    return stored


def _settle_session(session_id: int) -> None:
    """grading -> graded once no grade of the session is open (no commit)."""
    still_open = db.session.scalar(
        select(func.count()).where(
            Grade.session_id == session_id, Grade.status.in_(OPEN_GRADE_STATUSES)
        )
    )
    if not still_open:
        db.session.execute(
            update(LabSession)
            .where(LabSession.id == session_id, LabSession.status == LabSessionStatus.GRADING)
            .values(status=LabSessionStatus.GRADED, version=LabSession.version + 1)
            .execution_options(synchronize_session=False)
        )


def fail_grade(grade_id: int, error: str) -> None:
    """Mark an open grade failed (its job gave up)."""
    _finish(grade_id, GradeStatus.FAILED, error=error[:2000])


# ----------------------------------------------------------------------------- reading


def get_grade(user: User, session_id: int, grade_id: int, wait: float = 0) -> Grade:
    """The grade of a visible session; with `wait` > 0 (long-poll, capped at
    `MAX_WAIT_SECONDS`) returns as soon as it is finished or the wait is over.
    Raises `NotFound` for an invisible session or a grade of another session."""
    session = get_session(user, session_id)
    deadline = time.monotonic() + min(max(wait, 0), MAX_WAIT_SECONDS)
    while True:
        grade = db.session.get(Grade, grade_id, populate_existing=True)
        if grade is None or grade.session_id != session.id:
            raise NotFound(f"Grade {grade_id} of lab session {session_id} not found.")
        if grade.is_finished or time.monotonic() >= deadline:
            return grade
        # End the transaction so the next read sees the worker's commit.
        db.session.rollback()
        time.sleep(POLL_INTERVAL)


def grade_events(
    user: User, session_id: int, grade_id: int, timeout: float = MAX_WAIT_SECONDS
) -> Iterator[tuple[str, Grade]]:
    """("status", grade) each time the grade's status changes, then ("done", grade) once
    it is finished, or ("timeout", grade) after `timeout` seconds. The first access check
    happens at once (`NotFound` for an invisible session or grade)."""
    get_grade(user, session_id, grade_id)
    deadline = time.monotonic() + timeout

    def events() -> Iterator[tuple[str, Grade]]:
        last = None
        while True:
            grade = get_grade(user, session_id, grade_id)
            if grade.is_finished:
                yield "done", grade
                return
            if grade.status != last:
                last = grade.status
                yield "status", grade
            if time.monotonic() >= deadline:
                yield "timeout", grade
                return
            db.session.rollback()
            time.sleep(POLL_INTERVAL)

    return events()


def grades_of(user: User, session_id: int) -> list[Grade]:
    session = get_session(user, session_id)
    return list(
        db.session.scalars(
            select(Grade).where(Grade.session_id == session.id).order_by(Grade.number)
        )
    )


def grade_view(grade: Grade, user: User) -> dict[str, Any]:
    """The grade as its API resource, trimmed for learners (see the module doc)."""
    view: dict[str, Any] = {
        "id": grade.id,
        "session_id": grade.session_id,
        "number": grade.number,
        "status": grade.status.value,
        "final": grade.final,
        "requested_at": grade.requested_at,
        "finished_at": grade.finished_at,
        "earned": grade.earned,
        "possible": grade.possible,
        "percentage": grade.percentage,
        "error": grade.error,
        "checks": None,
    }
    result = grade.result
    if result is not None:
        view["capped"] = bool(result.get("capped"))
        view["passed_checks"] = result.get("passed_checks")
        if _is_staff(user):
            view["raw_percentage"] = result.get("raw_percentage")
            view["checks"] = result.get("checks")
        else:
            view["checks"] = [
                {key: check.get(key) for key in LEARNER_CHECK_FIELDS}
                for check in result.get("checks") or []
            ]
    return view

"""Lab sessions: a learner's cluster for one lab, from provisioning to expiry.

State first, messages second: `start_session` commits a `provisioning` row and its
provisioning job together; the job (app.tasks.labs) creates the cluster through the
session's provider, applies the lab's setup and marks the session `ready` with
`expires_at = ready_at + time limit`, then enqueues the expiry job. At expiry the
session takes a final grade (unless switched off), its cluster is deleted and it
becomes `expired`; the periodic sweeper does the same for sessions whose expiry job is
late. `DELETE` ends a session at once and a job frees its cluster.

Lost clusters: the same sweeper asks each session's provider which clusters it no
longer holds (`reconcile_lost_clusters`); a usable session whose cluster is gone (its
simulator restarted without it) fails with `CLUSTER_LOST_MESSAGE`, its open grades
fail, and the learner may start the lab again. It is not re-provisioned: the learner's
work on the lost cluster cannot be brought back, and a new session gives a fresh time
limit. A server that does not answer is not taken as a loss (it may be restarting and
reloads its clusters from its state directory).

A learner sees only their own sessions (another learner's is 404); trainers see their
cohorts' learners' sessions, admins all (`app.services.access`). Each learner may hold
`CERTPREP_LAB_SESSION_LIMIT` (default 2) active sessions.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Select, func, select, update

from app.clock import now
from app.clusters import ClusterHandle, ProviderError, default_provider_name, provider_for
from app.clusters.base import ClusterProvider
from app.extensions import db
from app.logging import get_logger
from app.models.job import Job, JobStatus
from app.models.lab import (
    ACTIVE_SESSION_STATUSES,
    OPEN_GRADE_STATUSES,
    USABLE_SESSION_STATUSES,
    Grade,
    LabSession,
    LabSessionStatus,
)
from app.models.user import Role, User
from app.services import access, activity, jobs
from app.services.errors import Conflict, NotFound, Unavailable
from app.services.labs import get_lab, lab_setup, node_names

log = get_logger(__name__)

PROVISION_TASK = "certprep.labs.provision_lab_session"
EXPIRE_TASK = "certprep.labs.expire_lab_session"
RELEASE_TASK = "certprep.labs.release_lab_cluster"

DEFAULT_SESSION_LIMIT = 2
# A provisioning job may wait and run this long before the sweeper re-publishes it
# (kind clusters take minutes to boot; the simulator well under a second).
PROVISION_DEADLINE_SECONDS = 900
# A session still provisioning after this long failed (its job gave up).
PROVISION_GIVE_UP_SECONDS = 3 * PROVISION_DEADLINE_SECONDS
# Sessions the expiry sweeper closes per run; the next run takes the rest.
SWEEP_BATCH = 20
# Usable sessions whose clusters one sweep checks (one listing per cluster server).
RECONCILE_BATCH = 500
CLUSTER_LOST_MESSAGE = (
    "The lab cluster was lost: its server no longer holds it, so this session cannot "
    "continue. Start the lab again for a new cluster."
)


def setting(key: str, default: Any) -> Any:
    """A lab setting from the Flask config, else the environment, else `default`."""
    value = current_app.config.get(key)
    if value in (None, ""):
        value = os.environ.get(key)
    return default if value in (None, "") else value


def session_limit() -> int:
    return int(setting("CERTPREP_LAB_SESSION_LIMIT", DEFAULT_SESSION_LIMIT))


def final_grade_wanted(session: LabSession) -> bool:
    """Whether expiry takes a final grade: the lab's `final_grade` when it says, else
    `CERTPREP_LAB_FINAL_GRADE` (default true)."""
    declared = session.lab.spec.get("final_grade")
    if declared is not None:
        return bool(declared)
    return str(setting("CERTPREP_LAB_FINAL_GRADE", "true")).lower() in ("1", "true", "yes", "on")


def _is_staff(user: User) -> bool:
    return user.role in (Role.TRAINER, Role.ADMIN)


def handle_of(session: LabSession) -> ClusterHandle | None:
    return ClusterHandle.from_dict(session.cluster) if session.cluster else None


def provider_of(session: LabSession) -> ClusterProvider:
    """The session's provider; `Unavailable` when it cannot be built here."""
    try:
        return provider_for(session.provider)
    except ProviderError as exc:
        raise Unavailable(str(exc)) from exc


# ------------------------------------------------------------------------------ start


def start_session(user: User, slug: str) -> LabSession:
    """Create a provisioning session for lab `slug` and enqueue its provisioning; commits.

    Raises `NotFound` for an unknown lab and `Conflict` when the learner already holds
    `session_limit()` active sessions or the lab does not run on the configured provider.
    """
    lab = get_lab(slug)
    provider = default_provider_name()
    if provider not in (lab.spec.get("backends") or []):
        raise Conflict(f"Lab {slug!r} does not run on the {provider} backend.")
    # Serialise a learner's starts (PostgreSQL row lock) so two requests cannot both
    # pass the limit; SQLite serialises writers anyway.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    active = db.session.scalar(
        select(func.count()).where(
            LabSession.user_id == user.id, LabSession.status.in_(ACTIVE_SESSION_STATUSES)
        )
    )
    limit = session_limit()
    if active >= limit:
        db.session.rollback()
        raise Conflict(
            f"You already have {active} active lab session(s); the limit is {limit}. "
            "Stop one first (DELETE /lab-sessions/{id}).",
            errors={"limit": [str(limit)]},
        )
    session = LabSession(
        lab=lab,
        user_id=user.id,
        status=LabSessionStatus.PROVISIONING,
        provider=provider,
        content_hash=lab.content_hash,
        hints_revealed=[],
        created_at=now(),
    )
    db.session.add(session)
    db.session.flush()
    job = jobs.enqueue(
        PROVISION_TASK, session.id, deadline_seconds=PROVISION_DEADLINE_SECONDS, max_attempts=3
    )
    session.provision_job_id = job.id
    activity.record(user.id, "started", "lab", slug, session.created_at, subject_id=session.id)
    db.session.commit()
    log.info("lab_session.started", session_id=session.id, lab=slug, user_id=user.id)
    return session


# ----------------------------------------------------------------------------- access


def get_session(user: User, session_id: int) -> LabSession:
    """The session, visible to its learner, their cohorts' trainers and admins
    (`access.may_see`); `NotFound` otherwise."""
    session = db.session.get(LabSession, session_id)
    if session is None or not access.may_see(user, session.user_id):
        raise NotFound(f"Lab session {session_id} not found.")
    return session


def usable_session(user: User, session_id: int) -> LabSession:
    """A visible session whose cluster can be used; `Conflict` while provisioning, after
    it ended, or once its time limit passed."""
    session = get_session(user, session_id)
    if session.status not in USABLE_SESSION_STATUSES:
        raise Conflict(
            f"Lab session {session_id} is {session.status.value}; its cluster is not available.",
            errors={"status": [session.status.value]},
        )
    if session.expires_at is not None and now() >= session.expires_at:
        # Past the time limit the cluster is the final grade's, even before the expiry
        # job or the sweeper has closed the session.
        raise Conflict(
            f"Lab session {session_id} reached its time limit.", errors={"status": ["expired"]}
        )
    return session


def sessions_query(user: User, lab_slug: str | None = None) -> Select[tuple[LabSession]]:
    """Sessions newest first: the learner's own, their cohorts' learners' for trainers,
    everyone's for admins."""
    stmt = select(LabSession).order_by(LabSession.created_at.desc(), LabSession.id.desc())
    stmt = access.restrict_to_visible(stmt, user, LabSession.user_id)
    if lab_slug:
        stmt = stmt.where(LabSession.lab.has(slug=lab_slug))
    return stmt


def session_view(session: LabSession, user: User) -> dict[str, Any]:
    """The session as its API resource; trainers also see the owner and placement."""
    grades = db.session.scalars(
        select(Grade).where(Grade.session_id == session.id).order_by(Grade.number)
    ).all()
    view: dict[str, Any] = {
        "id": session.id,
        "lab": session.lab.slug,
        "lab_title": session.lab.title,
        "status": session.status.value,
        "provider": session.provider,
        "created_at": session.created_at,
        "ready_at": session.ready_at,
        "expires_at": session.expires_at,
        "ended_at": session.ended_at,
        "error": session.error,
        "nodes": node_names(session.lab),
        "tasks": list(session.lab.spec.get("tasks") or []),
        "grades": [
            {
                "id": g.id,
                "number": g.number,
                "status": g.status.value,
                "final": g.final,
                "percentage": g.percentage,
            }
            for g in grades
        ],
    }
    if _is_staff(user):
        view["user_id"] = session.user_id
        view["cluster"] = session.cluster
    return view


def kubeconfig(user: User, session_id: int) -> str:
    """The session's kubeconfig (YAML); `Conflict` until it is ready or after it ended."""
    session = usable_session(user, session_id)
    return session.kubeconfig or ""


# ------------------------------------------------------------------------ node access


def _node_target(user: User, session_id: int, node: str) -> tuple[ClusterProvider, Any]:
    session = usable_session(user, session_id)
    if node not in node_names(session.lab):
        raise NotFound(f"Lab session {session_id} has no node {node!r}.")
    handle = handle_of(session)
    provider = provider_of(session)
    # Release the connection: a node command may take a while.
    db.session.rollback()
    return provider, handle


def _provider_failure(exc: ProviderError) -> Exception:
    from app.clusters import kind, simulator

    if isinstance(exc, simulator.NodeFileNotFound | kind.NodeFileNotFound | simulator.NoSuchNode):
        return NotFound(str(exc))
    return Unavailable(f"The cluster did not answer: {exc}")


def read_node_file(user: User, session_id: int, node: str, path: str) -> dict[str, Any]:
    """`{"node", "path", "content"}`; `NotFound` for a missing file or node."""
    provider, handle = _node_target(user, session_id, node)
    try:
        content = provider.read_file(handle, node, path)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    return {"node": node, "path": path, "content": content}


def write_node_file(
    user: User, session_id: int, node: str, path: str, content: str
) -> dict[str, Any]:
    """Write a file on a node; returns `{"node", "path", "size"}`."""
    provider, handle = _node_target(user, session_id, node)
    try:
        provider.write_file(handle, node, path, content)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    return {"node": node, "path": path, "size": len(content.encode())}


def exec_on_node(user: User, session_id: int, node: str, command: str) -> dict[str, Any]:
    """Run a command line of the node command set; `{"exit_code", "stdout", "stderr"}`."""
    provider, handle = _node_target(user, session_id, node)
    try:
        code, out, err = provider.exec(handle, node, command)
    except ProviderError as exc:
        raise _provider_failure(exc) from exc
    return {"node": node, "command": command, "exit_code": code, "stdout": out, "stderr": err}


# ------------------------------------------------------------------------ provisioning


def _set_status(session_id: int, expected: LabSessionStatus, **values: Any) -> bool:
    """Move a session on from `expected` with a conditional UPDATE; commits. False when
    another request or worker changed it first."""
    changed = db.session.execute(
        update(LabSession)
        .where(LabSession.id == session_id, LabSession.status == expected)
        .values(version=LabSession.version + 1, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return changed == 1


def provision(session_id: int) -> dict[str, Any]:
    """Create and set up the session's cluster, then mark it ready and enqueue its expiry.

    Idempotent: a session no longer provisioning is left alone; a cluster left by an
    interrupted run is deleted and made again. On a provider failure the session fails
    and `jobs.PermanentJobError` is raised (retrying a full cluster host does not help).
    """
    session = db.session.get(LabSession, session_id)
    if session is None or session.status is not LabSessionStatus.PROVISIONING:
        return {"session_id": session_id, "status": session.status.value if session else None}
    provider = provider_for(session.provider)
    setup = lab_setup(session.lab)
    leftover = handle_of(session)
    db.session.rollback()
    try:
        if leftover is not None:
            provider.delete(leftover)
        handle = provider.create(setup.shape)
        # Recorded at once: whoever ends the session can free the cluster.
        if not _set_status(session_id, LabSessionStatus.PROVISIONING, cluster=handle.to_dict()):
            provider.delete(handle)
            return {"session_id": session_id, "status": "ended"}
        provider.apply_setup(handle, setup)
        config = provider.kubeconfig(handle)
    except ProviderError as exc:
        _fail_provisioning(session_id, provider, str(exc))
        raise jobs.PermanentJobError(str(exc)) from exc
    session = db.session.get(LabSession, session_id)
    ready_at = now()
    expires_at = ready_at + timedelta(minutes=session.lab.time_limit_minutes)
    if not _set_status(
        session_id,
        LabSessionStatus.PROVISIONING,
        status=LabSessionStatus.READY,
        kubeconfig=config,
        ready_at=ready_at,
        expires_at=expires_at,
    ):
        # Ended while we were setting up: nobody will use the cluster.
        provider.delete(handle)
        return {"session_id": session_id, "status": "ended"}
    wait = max(0, int((expires_at - ready_at).total_seconds()))
    job = jobs.enqueue(EXPIRE_TASK, session_id, deadline_seconds=wait + 900, max_attempts=3)
    db.session.execute(
        update(LabSession)
        .where(LabSession.id == session_id)
        .values(expiry_job_id=job.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("lab_session.ready", session_id=session_id, cluster=handle.cluster_id)
    return {"session_id": session_id, "status": "ready", "cluster": handle.cluster_id}


def _fail_provisioning(session_id: int, provider: ClusterProvider, error: str) -> None:
    db.session.rollback()
    session = db.session.get(LabSession, session_id, populate_existing=True)
    handle = handle_of(session) if session else None
    _set_status(
        session_id,
        LabSessionStatus.PROVISIONING,
        status=LabSessionStatus.FAILED,
        error=error[:2000],
        ended_at=now(),
    )
    if handle is not None:
        try:
            provider.delete(handle)
        except ProviderError as exc:
            log.warning("lab_session.delete_failed", session_id=session_id, error=str(exc))
    log.warning("lab_session.failed", session_id=session_id, error=error)


# ---------------------------------------------------------------------- ending, expiry


def end_session(user: User, session_id: int) -> LabSession:
    """End a session now (idempotent) and enqueue freeing its cluster; commits."""
    session = get_session(user, session_id)
    if session.is_active:
        status = session.status
        if _set_status(session.id, status, status=LabSessionStatus.ENDED, ended_at=now()):
            jobs.enqueue(RELEASE_TASK, session.id, max_attempts=3)
            db.session.commit()
            log.info("lab_session.ended", session_id=session.id)
        else:
            # The session moved on meanwhile (ready, grading, expired): try once more.
            return end_session(user, session_id)
    return db.session.get(LabSession, session_id, populate_existing=True)


def release_cluster(session_id: int) -> dict[str, Any]:
    """Delete the cluster of a session that is over; idempotent (a cluster already gone
    is fine). ProviderError (retried) when the provider cannot be reached."""
    session = db.session.get(LabSession, session_id)
    if session is None or session.is_active or not session.cluster:
        return {"session_id": session_id, "released": False}
    provider_for(session.provider).delete(handle_of(session))
    return {"session_id": session_id, "released": True}


class SessionNotDue(Exception):
    """The session has not expired yet; the expiry job checks again later."""


def expire(session_id: int) -> dict[str, Any]:
    """The expiry job's body: close the session once `expires_at` passed.

    Raises `SessionNotDue` (retried with backoff) before then. Does nothing for a
    session that is already over.
    """
    session = db.session.get(LabSession, session_id)
    if session is None or session.status not in USABLE_SESSION_STATUSES:
        return {"session_id": session_id, "status": session.status.value if session else None}
    if session.expires_at is not None and now() < session.expires_at:
        due = session.expires_at.isoformat()
        db.session.rollback()
        raise SessionNotDue(f"lab session {session_id} expires at {due}")
    return {"session_id": session_id, "status": close_expired(session_id)}


def close_expired(session_id: int) -> str:
    """Take the final grade (when wanted), delete the cluster and mark the session
    expired; returns the session's status. Safe to run twice or concurrently: the final
    grade is one row, and only one run moves the session to expired."""
    from app.services import grades

    session = db.session.get(LabSession, session_id)
    if session is None:
        return "missing"
    if session.status not in USABLE_SESSION_STATUSES:
        return session.status.value
    if final_grade_wanted(session):
        final = grades.final_grade(session)
        if not final.is_finished:
            grades.run_grade(final.id)
    session = db.session.get(LabSession, session_id, populate_existing=True)
    handle, provider_name, status = handle_of(session), session.provider, session.status
    if status not in USABLE_SESSION_STATUSES:
        return status.value
    user_id, slug = session.user_id, session.lab.slug
    db.session.rollback()
    # The cluster goes before the status says so: whoever sees `expired` (the learner,
    # a trainer, a test) finds the cluster freed, never still serving. The final grade
    # is stored already; deleting twice (two closers at once) is harmless.
    released = True
    if handle is not None:
        try:
            provider_for(provider_name).delete(handle)
        except ProviderError as exc:
            released = False
            log.warning("lab_session.delete_failed", session_id=session_id, error=str(exc))
    ended_at = now()
    if not _set_status(session_id, status, status=LabSessionStatus.EXPIRED, ended_at=ended_at):
        db.session.rollback()
        return db.session.get(LabSession, session_id, populate_existing=True).status.value
    activity.record(user_id, "expired", "lab", slug, ended_at, subject_id=session_id)
    if not released:
        # The session is over either way; a release job retries the deletion.
        jobs.enqueue(RELEASE_TASK, session_id, max_attempts=5)
    db.session.commit()
    log.info("lab_session.expired", session_id=session_id)
    return LabSessionStatus.EXPIRED.value


def sweep_expired_sessions(moment: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """Close usable sessions past their expiry, fail sessions stuck provisioning,
    grades whose job gave up and sessions whose cluster is lost
    (`reconcile_lost_clusters`); returns the session ids closed or failed."""
    moment = moment or now()
    due = db.session.scalars(
        select(LabSession.id)
        .where(
            LabSession.status.in_(USABLE_SESSION_STATUSES),
            LabSession.expires_at <= moment,
        )
        .order_by(LabSession.expires_at)
        .limit(limit)
    ).all()
    stuck = db.session.scalars(
        select(LabSession.id).where(
            LabSession.status == LabSessionStatus.PROVISIONING,
            LabSession.created_at < moment - timedelta(seconds=PROVISION_GIVE_UP_SECONDS),
        )
    ).all()
    abandoned = db.session.scalars(
        select(Grade.id)
        .join(Job, Job.id == Grade.job_id)
        .where(Grade.status.in_(OPEN_GRADE_STATUSES), Job.status == JobStatus.FAILED)
        .limit(limit)
    ).all()
    db.session.rollback()
    done = []
    if abandoned:
        from app.services import grades

        for grade_id in abandoned:
            grades.fail_grade(grade_id, "grading gave up: no worker finished it in time")
    for session_id in due:
        if close_expired(session_id) == LabSessionStatus.EXPIRED.value:
            done.append(session_id)
    for session_id in stuck:
        if _set_status(
            session_id,
            LabSessionStatus.PROVISIONING,
            status=LabSessionStatus.FAILED,
            error="provisioning did not finish in time",
            ended_at=moment,
        ):
            jobs.enqueue(RELEASE_TASK, session_id, max_attempts=3)
            db.session.commit()
            done.append(session_id)
    done.extend(reconcile_lost_clusters(moment))
    return done


def reconcile_lost_clusters(moment: datetime | None = None) -> list[int]:
    """Fail usable sessions (not yet past their expiry) whose provider says their
    cluster no longer exists, and their open grades; returns the session ids failed.

    Providers without a `missing(handles)` method, and servers that do not answer, are
    skipped. Each session moves with a conditional UPDATE (still usable, still before
    its expiry), so a session the learner ended or the expiry closed meanwhile is left
    alone.
    """
    from app.services import grades

    moment = moment or now()
    rows = db.session.execute(
        select(LabSession.id, LabSession.provider, LabSession.cluster)
        .where(
            LabSession.status.in_(USABLE_SESSION_STATUSES),
            LabSession.cluster.is_not(None),
            (LabSession.expires_at.is_(None)) | (LabSession.expires_at > moment),
        )
        .order_by(LabSession.id)
        .limit(RECONCILE_BATCH)
    ).all()
    db.session.rollback()
    by_provider: dict[str, list[tuple[int, ClusterHandle]]] = {}
    for row in rows:
        try:
            handle = ClusterHandle.from_dict(row.cluster)
        except (KeyError, TypeError):
            continue
        by_provider.setdefault(row.provider, []).append((row.id, handle))
    failed: list[int] = []
    for provider_name, sessions in by_provider.items():
        try:
            provider = provider_for(provider_name)
        except ProviderError:
            continue
        missing = getattr(provider, "missing", None)
        if missing is None:
            continue
        gone = missing([handle for _, handle in sessions])
        for session_id, handle in sessions:
            if handle.cluster_id not in gone:
                continue
            # An UPDATE's result is a CursorResult (rowcount); the typing of
            # execute() loses that once execution_options() is chained.
            changed = cast(
                "CursorResult[Any]",
                db.session.execute(
                    update(LabSession)
                    .where(
                        LabSession.id == session_id,
                        LabSession.status.in_(USABLE_SESSION_STATUSES),
                        (LabSession.expires_at.is_(None)) | (LabSession.expires_at > moment),
                    )
                    .values(
                        status=LabSessionStatus.FAILED,
                        error=CLUSTER_LOST_MESSAGE,
                        ended_at=now(),
                        version=LabSession.version + 1,
                    )
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            db.session.commit()
            if changed != 1:
                continue
            open_grades = db.session.scalars(
                select(Grade.id).where(
                    Grade.session_id == session_id, Grade.status.in_(OPEN_GRADE_STATUSES)
                )
            ).all()
            for grade_id in open_grades:
                grades.fail_grade(grade_id, grades.CLUSTER_GONE_MESSAGE)
            failed.append(session_id)
            log.warning(
                "lab_session.cluster_lost", session_id=session_id, cluster=handle.cluster_id
            )
    return failed

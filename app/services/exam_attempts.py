"""Exam attempts: one candidate's clusters, kubeconfig and timer, from provisioning to
the final grade.

State first, messages second, as for lab sessions: `start_attempt` commits a
`provisioning` row with its provisioning job; the job (app.tasks.exams) creates one
cluster per context of the exam through the provider, applies that context's setup
(the tasks' objects, then their faults), merges the clusters' kubeconfigs into one with
a context per cluster, and marks the attempt `running` with `deadline_at = started_at +
time limit`, then enqueues the expiry job. `submit` (the candidate) or the deadline
(the expiry job, or the sweeper when that job is late) moves the attempt to `grading`
and creates the final grade row with its job in the same transaction; grading all
tasks once stores the per-task breakdown and the verdict (app.services.exam_grading),
marks the attempt `graded` and enqueues the release of its clusters.

Visibility: a candidate sees their own attempts; trainers their cohorts' learners',
admins everyone's (`app.services.access`); anything else is 404. One active attempt per
candidate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import yaml
from sqlalchemy import CursorResult, Select, func, select, update

from app.clock import now
from app.clusters import ClusterHandle, ProviderError, default_provider_name, provider_for
from app.extensions import db
from app.logging import get_logger
from app.models.exam import ACTIVE_ATTEMPT_STATUSES, ExamAttempt, ExamAttemptStatus
from app.models.user import User
from app.services import access, jobs
from app.services.errors import Conflict, Forbidden, NotFound, Unavailable
from app.services.exams import context_lab_setup, contexts_view, get_exam

log = get_logger(__name__)

PROVISION_TASK = "certprep.exams.provision_exam_attempt"
EXPIRE_TASK = "certprep.exams.expire_exam_attempt"
RELEASE_TASK = "certprep.exams.release_exam_clusters"
# A provisioning job may run this long before the sweeper re-publishes it.
PROVISION_DEADLINE_SECONDS = 900
PROVISION_GIVE_UP_SECONDS = 3 * PROVISION_DEADLINE_SECONDS
SWEEP_BATCH = 20


# ------------------------------------------------------------------------- kubeconfig


def merge_kubeconfigs(configs: dict[str, str]) -> str:
    """One kubeconfig holding every `{context: kubeconfig YAML}`: each file's current
    context becomes a context of that name, with its cluster and user renamed alike;
    the first context is the current one."""
    merged: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [],
        "preferences": {},
    }
    for name, text in configs.items():
        config = yaml.safe_load(text)
        current = config.get("current-context")
        context = next(c for c in config["contexts"] if c["name"] == current)["context"]
        cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u for u in config["users"] if u["name"] == context["user"])
        merged["clusters"].append({"name": name, "cluster": cluster["cluster"]})
        merged["users"].append({"name": f"{name}-admin", "user": user["user"]})
        entry = {"cluster": name, "user": f"{name}-admin"}
        if context.get("namespace"):
            entry["namespace"] = context["namespace"]
        merged["contexts"].append({"name": name, "context": entry})
    merged["current-context"] = next(iter(configs), "")
    return yaml.safe_dump(merged, sort_keys=False)


def context_kubeconfig(merged: str, context: str) -> str:
    """`merged` with `context` as the current context (what grading one context uses)."""
    config = yaml.safe_load(merged)
    config["current-context"] = context
    return yaml.safe_dump(config, sort_keys=False)


# ------------------------------------------------------------------------------ start


def start_attempt(user: User, slug: str) -> ExamAttempt:
    """Create a provisioning attempt of exam `slug` and enqueue its provisioning; commits.

    Raises `NotFound` for an unknown exam and `Conflict` while the candidate has another
    attempt that is not graded yet.
    """
    exam = get_exam(slug)
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    active = db.session.scalar(
        select(func.count()).where(
            ExamAttempt.user_id == user.id, ExamAttempt.status.in_(ACTIVE_ATTEMPT_STATUSES)
        )
    )
    if active:
        db.session.rollback()
        raise Conflict(
            "You already have an exam attempt in progress; submit it first.",
            errors={"limit": ["1"]},
        )
    attempt = ExamAttempt(
        exam=exam,
        user_id=user.id,
        status=ExamAttemptStatus.PROVISIONING,
        provider=default_provider_name(),
        content_hash=exam.content_hash,
        clusters={},
        created_at=now(),
    )
    db.session.add(attempt)
    db.session.flush()
    job = jobs.enqueue(
        PROVISION_TASK, attempt.id, deadline_seconds=PROVISION_DEADLINE_SECONDS, max_attempts=3
    )
    attempt.provision_job_id = job.id
    db.session.commit()
    log.info("exam_attempt.started", attempt_id=attempt.id, exam=slug, user_id=user.id)
    return attempt


# ----------------------------------------------------------------------------- access


def get_attempt(user: User, attempt_id: int) -> ExamAttempt:
    """The attempt, visible to its candidate, their cohorts' trainers and admins;
    `NotFound` otherwise."""
    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None or not access.may_see(user, attempt.user_id):
        raise NotFound(f"Exam attempt {attempt_id} not found.")
    return attempt


def running_attempt(user: User, attempt_id: int) -> ExamAttempt:
    """A visible attempt whose clusters the candidate may use: `Conflict` before they
    are ready, after submit and once the deadline passed."""
    attempt = get_attempt(user, attempt_id)
    if attempt.status is not ExamAttemptStatus.RUNNING:
        raise Conflict(
            f"Exam attempt {attempt_id} is {attempt.status.value}; its clusters are not available.",
            errors={"status": [attempt.status.value]},
        )
    if attempt.deadline_at is not None and now() >= attempt.deadline_at:
        raise Conflict(
            f"Exam attempt {attempt_id} reached its time limit.", errors={"status": ["expired"]}
        )
    return attempt


def attempts_query(user: User, exam_slug: str | None = None) -> Select[tuple[ExamAttempt]]:
    """Attempts newest first, as far as `user` may see them."""
    from app.models.exam import Exam

    stmt = select(ExamAttempt).order_by(ExamAttempt.created_at.desc(), ExamAttempt.id.desc())
    if exam_slug:
        stmt = stmt.join(Exam, Exam.id == ExamAttempt.exam_id).where(Exam.slug == exam_slug)
    return access.restrict_to_visible(stmt, user, ExamAttempt.user_id)


def kubeconfig(user: User, attempt_id: int) -> str:
    """The attempt's kubeconfig (every context); `Conflict` unless it is running."""
    attempt = running_attempt(user, attempt_id)
    if not attempt.kubeconfig:
        raise Conflict(f"Exam attempt {attempt_id} has no kubeconfig yet.")
    return attempt.kubeconfig


def terminal_attempt(user: User, attempt_id: int) -> ExamAttempt:
    """The running attempt whose workstation terminal `user` opens: only its candidate
    (`Forbidden` for trainers and admins who may see it, `NotFound` for others)."""
    attempt = get_attempt(user, attempt_id)
    if attempt.user_id != user.id:
        raise Forbidden("Only the candidate opens the exam terminal.")
    return running_attempt(user, attempt_id)


def context_nodes(attempt: ExamAttempt) -> dict[str, list[str]]:
    """The node names of each context's cluster, in the exam's order."""
    return {
        cluster["context"]: [n["name"] for n in cluster["nodes"]]
        for cluster in attempt.exam.spec["clusters"]
    }


def handle_for(attempt: ExamAttempt, context: str) -> ClusterHandle:
    """The cluster handle of one context; `NotFound` for a context the exam lacks."""
    data = (attempt.clusters or {}).get(context)
    if data is None:
        raise NotFound(f"Exam attempt {attempt.id} has no context {context!r}.")
    return ClusterHandle.from_dict(data)


def node_exec(user: User, attempt_id: int, context: str, node: str, command: str) -> dict:
    """Run a command on a node of one context's cluster (the candidate's ssh)."""
    attempt = running_attempt(user, attempt_id)
    handle = handle_for(attempt, context)
    nodes = _context_nodes(attempt, context)
    if node not in nodes:
        raise NotFound(f"Context {context!r} has no node {node!r}.")
    provider_name = attempt.provider
    db.session.rollback()
    try:
        code, out, err = provider_for(provider_name).exec(handle, node, command)
    except ProviderError as exc:
        raise Unavailable(str(exc)) from exc
    return {
        "context": context,
        "node": node,
        "command": command,
        "exit_code": code,
        "stdout": out,
        "stderr": err,
    }


def _context_nodes(attempt: ExamAttempt, context: str) -> list[str]:
    for cluster in attempt.exam.spec["clusters"]:
        if cluster["context"] == context:
            return [n["name"] for n in cluster["nodes"]]
    raise NotFound(f"Exam attempt {attempt.id} has no context {context!r}.")


# ------------------------------------------------------------------------ provisioning


def _set_status(attempt_id: int, expected: ExamAttemptStatus, **values: Any) -> bool:
    """Move an attempt on from `expected` with a conditional UPDATE; commits. False
    when another request or worker changed it first."""
    changed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(ExamAttempt)
            .where(ExamAttempt.id == attempt_id, ExamAttempt.status == expected)
            .values(version=ExamAttempt.version + 1, **values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    db.session.commit()
    return changed == 1


def provision(attempt_id: int) -> dict[str, Any]:
    """Create and set up one cluster per context, merge the kubeconfigs, start the timer
    and enqueue the expiry. Idempotent: clusters left by an interrupted run are deleted
    and made again. A provider failure fails the attempt (`jobs.PermanentJobError`)."""
    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None or attempt.status is not ExamAttemptStatus.PROVISIONING:
        return {"attempt_id": attempt_id, "status": attempt.status.value if attempt else None}
    provider = provider_for(attempt.provider)
    exam = attempt.exam
    setups = {c["context"]: context_lab_setup(exam, c["context"]) for c in exam.spec["clusters"]}
    leftovers = [ClusterHandle.from_dict(h) for h in (attempt.clusters or {}).values()]
    limit = exam.time_limit_minutes
    db.session.rollback()
    handles: dict[str, ClusterHandle] = {}
    configs: dict[str, str] = {}
    try:
        for handle in leftovers:
            provider.delete(handle)
        for context, setup in setups.items():
            handles[context] = provider.create(setup.shape)
            # Recorded at once: whoever fails the attempt can free the clusters.
            recorded = {name: h.to_dict() for name, h in handles.items()}
            if not _set_status(attempt_id, ExamAttemptStatus.PROVISIONING, clusters=recorded):
                _delete_all(provider, handles)
                return {"attempt_id": attempt_id, "status": "gone"}
            provider.apply_setup(handles[context], setup)
            configs[context] = provider.kubeconfig(handles[context])
    except ProviderError as exc:
        _fail_provisioning(attempt_id, provider, handles, str(exc))
        raise jobs.PermanentJobError(str(exc)) from exc
    started = now()
    deadline = started + timedelta(minutes=limit)
    if not _set_status(
        attempt_id,
        ExamAttemptStatus.PROVISIONING,
        status=ExamAttemptStatus.RUNNING,
        kubeconfig=merge_kubeconfigs(configs),
        started_at=started,
        deadline_at=deadline,
    ):
        _delete_all(provider, handles)
        return {"attempt_id": attempt_id, "status": "gone"}
    wait = max(0, int((deadline - started).total_seconds()))
    job = jobs.enqueue(EXPIRE_TASK, attempt_id, deadline_seconds=wait + 900, max_attempts=3)
    db.session.execute(
        update(ExamAttempt)
        .where(ExamAttempt.id == attempt_id)
        .values(expiry_job_id=job.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("exam_attempt.running", attempt_id=attempt_id, contexts=list(handles))
    return {"attempt_id": attempt_id, "status": "running"}


def _delete_all(provider: Any, handles: dict[str, ClusterHandle]) -> bool:
    """Delete every cluster; True when all went (a failure is logged, not raised)."""
    released = True
    for context, handle in handles.items():
        try:
            provider.delete(handle)
        except ProviderError as exc:
            released = False
            log.warning("exam_attempt.delete_failed", context=context, error=str(exc))
    return released


def _fail_provisioning(
    attempt_id: int, provider: Any, handles: dict[str, ClusterHandle], error: str
) -> None:
    db.session.rollback()
    _set_status(
        attempt_id,
        ExamAttemptStatus.PROVISIONING,
        status=ExamAttemptStatus.FAILED,
        error=error[:2000],
        released_at=now(),
    )
    _delete_all(provider, handles)
    log.warning("exam_attempt.failed", attempt_id=attempt_id, error=error)


# ------------------------------------------------------------------- submit and expiry


def submit(user: User, attempt_id: int) -> ExamAttempt:
    """The candidate ends the attempt: it moves to `grading` with its final grade row
    and job (one transaction); idempotent (a submitted attempt is returned as is).
    `Conflict` while it is still provisioning."""
    attempt = get_attempt(user, attempt_id)
    if attempt.user_id != user.id:
        raise Conflict("Only the candidate submits an attempt; trainers may grade it.")
    if attempt.status is ExamAttemptStatus.PROVISIONING:
        raise Conflict(
            f"Exam attempt {attempt_id} is still provisioning.",
            errors={"status": [attempt.status.value]},
        )
    close(attempt_id, auto=False)
    return _reload(attempt_id)


def _reload(attempt_id: int) -> ExamAttempt:
    """The attempt as stored now; `NotFound` when it is gone (its account was deleted)."""
    attempt = db.session.get(ExamAttempt, attempt_id, populate_existing=True)
    if attempt is None:
        raise NotFound(f"Exam attempt {attempt_id} not found.")
    return attempt


def close(attempt_id: int, *, auto: bool) -> str:
    """running -> grading with the final grade enqueued, once (a conditional UPDATE);
    returns the attempt's status. `auto`: the deadline ended it, not the candidate."""
    from app.services import exam_grading

    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None:
        return "missing"
    if attempt.status is not ExamAttemptStatus.RUNNING:
        return attempt.status.value
    moment = now()
    if attempt.deadline_at is not None:
        # Past the deadline the cluster state at the deadline is what counts; a late
        # submit is recorded at the deadline.
        moment = min(moment, attempt.deadline_at)
    changed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(ExamAttempt)
            .where(ExamAttempt.id == attempt_id, ExamAttempt.status == ExamAttemptStatus.RUNNING)
            .values(
                status=ExamAttemptStatus.GRADING,
                submitted_at=moment,
                auto_submitted=auto,
                version=ExamAttempt.version + 1,
            )
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return _reload(attempt_id).status.value
    exam_grading.add_grade(attempt_id, final=True, requested_by=None)
    db.session.commit()
    log.info("exam_attempt.submitted", attempt_id=attempt_id, auto=auto)
    return ExamAttemptStatus.GRADING.value


class AttemptNotDue(Exception):
    """The attempt's deadline has not passed; the expiry job checks again later."""


def expire(attempt_id: int) -> dict[str, Any]:
    """The expiry job's body: submit the attempt once its deadline passed.

    Raises `AttemptNotDue` (retried with backoff) before then."""
    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None or attempt.status is not ExamAttemptStatus.RUNNING:
        return {"attempt_id": attempt_id, "status": attempt.status.value if attempt else None}
    if attempt.deadline_at is not None and now() < attempt.deadline_at:
        due = attempt.deadline_at.isoformat()
        db.session.rollback()
        raise AttemptNotDue(f"exam attempt {attempt_id} ends at {due}")
    return {"attempt_id": attempt_id, "status": close(attempt_id, auto=True)}


def release_clusters(attempt_id: int) -> dict[str, Any]:
    """Delete the clusters of an attempt that is over; idempotent. ProviderError
    (retried) when one cannot be deleted."""
    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None or attempt.is_active or attempt.released_at is not None:
        return {"attempt_id": attempt_id, "released": False}
    provider = provider_for(attempt.provider)
    handles = [ClusterHandle.from_dict(h) for h in (attempt.clusters or {}).values()]
    db.session.rollback()
    for handle in handles:
        provider.delete(handle)
    db.session.execute(
        update(ExamAttempt)
        .where(ExamAttempt.id == attempt_id)
        .values(released_at=now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return {"attempt_id": attempt_id, "released": True}


def sweep(limit: int = SWEEP_BATCH) -> list[int]:
    """Submit running attempts past their deadline (their expiry job is late or lost),
    fail attempts stuck provisioning and final grades whose job gave up; returns the
    attempt ids it moved."""
    from app.services import exam_grading

    moment = now()
    due = db.session.scalars(
        select(ExamAttempt.id)
        .where(
            ExamAttempt.status == ExamAttemptStatus.RUNNING,
            ExamAttempt.deadline_at <= moment,
        )
        .order_by(ExamAttempt.deadline_at)
        .limit(limit)
    ).all()
    stuck = db.session.scalars(
        select(ExamAttempt.id).where(
            ExamAttempt.status == ExamAttemptStatus.PROVISIONING,
            ExamAttempt.created_at < moment - timedelta(seconds=PROVISION_GIVE_UP_SECONDS),
        )
    ).all()
    db.session.rollback()
    moved = [i for i in due if close(i, auto=True) == ExamAttemptStatus.GRADING.value]
    for attempt_id in stuck:
        if _set_status(
            attempt_id,
            ExamAttemptStatus.PROVISIONING,
            status=ExamAttemptStatus.FAILED,
            error="provisioning did not finish in time",
        ):
            jobs.enqueue(RELEASE_TASK, attempt_id, max_attempts=3)
            db.session.commit()
            moved.append(attempt_id)
    exam_grading.fail_abandoned_grades(limit)
    return moved


# ----------------------------------------------------------------------------- views


def remaining_seconds(attempt: ExamAttempt) -> int | None:
    """Whole seconds left on the timer while the attempt runs, else None."""
    if attempt.status is not ExamAttemptStatus.RUNNING or attempt.deadline_at is None:
        return None
    return max(0, int((attempt.deadline_at - now()).total_seconds()))


def attempt_view(attempt: ExamAttempt, user: User) -> dict[str, Any]:
    """The attempt as its API resource: status, timer, contexts and the task texts (no
    checks, no solutions), the final score once graded; trainers and admins also get the
    owner and the cluster placement."""
    from app.services import exam_grading

    spec = attempt.exam.spec
    view: dict[str, Any] = {
        "id": attempt.id,
        "exam": attempt.exam.slug,
        "title": attempt.exam.title,
        "status": attempt.status.value,
        "created_at": attempt.created_at,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "auto_submitted": attempt.auto_submitted,
        "remaining_seconds": remaining_seconds(attempt),
        "time_limit_minutes": attempt.exam.time_limit_minutes,
        "pass_percent": attempt.exam.pass_percent,
        "score": attempt.score,
        "passed": attempt.passed,
        "error": attempt.error,
        "contexts": contexts_view(spec),
        "tasks": [
            {
                "number": number,
                "id": t["id"],
                "title": t["title"],
                "domain": t["domain"],
                "context": t["context"],
                "weight": t["weight"],
                "text": t["text"],
            }
            for number, t in enumerate(spec["tasks"], start=1)
        ],
        "grades": [exam_grading.grade_summary(g) for g in exam_grading.grades_of(attempt)],
    }
    if access.is_staff(user):
        view["user_id"] = attempt.user_id
        view["clusters"] = {
            name: (h or {}).get("cluster_id") for name, h in (attempt.clusters or {}).items()
        }
    return view

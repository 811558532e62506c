"""The Job controller (run pods to completion) and the TTL-after-finished controller.

A Job keeps `min(parallelism, completions - succeeded)` pods active; each Succeeded
pod counts toward `completions`, each Failed one toward `backoffLimit`. When enough
pods succeeded the Job gets `SuccessCriteriaMet` then `Complete`; when failures
exceed the limit (or `activeDeadlineSeconds` passes) `FailureTarget` then `Failed`,
and its remaining pods are deleted. The phase of the pods, which the kubelet sets,
drives everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sim.apiserver import defaults
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    claim,
    deleting,
    fresh,
    name_of,
    namespace_of,
    owner_reference,
    parse_ts,
    plus,
    pod_active,
    pod_condition,
    pod_from_template,
    pod_phase,
    pod_ready,
    sync_per_namespace,
    write_status,
)
from app.sim.controllers.replicaset import create_pod, create_pods, delete_pod
from app.sim.controllers.timing import CLOCK_RESYNC_SECONDS
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object

COMPONENT = "job-controller"
# Indexed Jobs: the pod's completion index (annotation and label) and its env var.
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
TTL_COMPONENT = "ttl-after-finished-controller"

# Condition reasons and messages of pkg/controller/job (1.31+ adds the *Target and
# SuccessCriteriaMet interim conditions before the terminal ones).
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
# job_controller.go: a replacement for a failed pod waits 10 s, doubling per failure,
# at most 10 minutes (DefaultJobPodFailureBackOff / MaxJobPodFailureBackOff).
FAILURE_BACKOFF_SECONDS = 10
MAX_FAILURE_BACKOFF_SECONDS = 600


def last_failure(pods: list[Obj]) -> datetime | None:
    """When the most recent Failed pod finished (container finishedAt, else the time
    its Ready condition last changed)."""
    moments = []
    for pod in pods:
        if pod_phase(pod) != "Failed":
            continue
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            finished = ((status.get("state") or {}).get("terminated") or {}).get("finishedAt")
            moments.append(parse_ts(finished))
        moments.append(parse_ts((pod_condition(pod, "Ready") or {}).get("lastTransitionTime")))
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def failure_backoff(failed: int) -> float:
    if failed <= 0:
        return 0.0
    return float(min(FAILURE_BACKOFF_SECONDS * 2 ** (failed - 1), MAX_FAILURE_BACKOFF_SECONDS))


def job_finished(job: Obj) -> str | None:
    """`Complete` or `Failed` when the Job has that condition True, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"]
    return None


class JobController:
    name = "job-controller"
    watches = frozenset({("batch", "jobs"), ("", "pods")})
    resync_seconds = CLOCK_RESYNC_SECONDS  # activeDeadlineSeconds and backoff delays

    def reconcile(self, ctx: ControllerContext) -> None:
        sync_per_namespace(ctx, ctx.client.list("batch", "jobs"), [("", "pods")], self.sync, "job")

    def sync(self, ctx: ControllerContext, job: Obj, all_pods: list[Obj]) -> None:
        if deleting(job):
            return
        spec = job.get("spec") or {}
        if not spec.get("selector"):
            # The selector is generated from the uid at creation (batch strategy);
            # a Job written without it gets it here.
            updated = fresh(job)
            defaults.job_selector(updated)
            if updated != job:
                job = ctx.client.update("batch", "jobs", updated)
                spec = job["spec"]
        try:
            selector = selector_from_object(spec.get("selector"))
        except ApiError:
            return
        pods = claim(ctx, job, selector, all_pods, ("", "pods"), "batch/v1", "Job")
        status: dict[str, Any] = dict(job.get("status") or {})
        conditions = list(status.get("conditions") or [])
        now = ctx.now_str()
        events = ctx.events.for_component(COMPONENT)
        active = [p for p in pods if pod_active(p)]
        indexed = spec.get("completionMode") == "Indexed"
        succeeded = max(
            int(status.get("succeeded") or 0), sum(1 for p in pods if pod_phase(p) == "Succeeded")
        )
        if indexed:
            done = completed_indexes(pods, status, int(spec.get("completions") or 0))
            succeeded = len(done)
            if done:
                status["completedIndexes"] = format_intervals(done)
        failed = max(
            int(status.get("failed") or 0), sum(1 for p in pods if pod_phase(p) == "Failed")
        )
        finished = job_finished(job)
        suspended = bool(spec.get("suspend"))
        if finished is None and not suspended and not status.get("startTime"):
            status["startTime"] = now
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        backoff = int(spec.get("backoffLimit", 6))
        if finished is None:
            reason = None
            if failed > backoff:
                reason = BACKOFF_EXCEEDED
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_ts(status.get("startTime"))
            if (
                reason is None
                and deadline is not None
                and started is not None
                and plus(started, int(deadline)) <= ctx.now()
            ):
                reason = DEADLINE_EXCEEDED
            if reason is not None:
                for pod in active:
                    delete_pod(ctx, job, pod, COMPONENT)
                active = []
                conditions = _set(conditions, "FailureTarget", reason, now)
                conditions = _set(conditions, "Failed", reason, now)
                events.warning(job, reason[0], reason[1])
                finished = "Failed"
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                conditions = _set(conditions, "SuccessCriteriaMet", COMPLETIONS_REACHED, now)
                conditions = _set(conditions, "Complete", COMPLETIONS_REACHED, now)
                status["completionTime"] = now
                events.normal(job, "Completed", "Job completed")
                finished = "Complete"
                for pod in active:
                    delete_pod(ctx, job, pod, COMPONENT)
                active = []
            elif suspended:
                for pod in active:
                    delete_pod(ctx, job, pod, COMPONENT)
                active = []
                if not any(
                    c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions
                ):
                    conditions = _set(
                        conditions, "Suspended", ("JobSuspended", "Job suspended"), now
                    )
                    events.normal(job, "Suspended", "Job suspended")
            else:
                if any(
                    c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions
                ):
                    conditions = [c for c in conditions if c.get("type") != "Suspended"]
                    conditions.append(
                        {
                            "type": "Suspended",
                            "status": "False",
                            "reason": "JobResumed",
                            "message": "Job resumed",
                            "lastProbeTime": now,
                            "lastTransitionTime": now,
                        }
                    )
                    events.normal(job, "Resumed", "Job resumed")
                if completions is None:
                    want = parallelism if succeeded == 0 else 0
                else:
                    want = min(parallelism, int(completions) - succeeded)
                failed_at = last_failure(pods)
                if failed_at is not None and plus(failed_at, failure_backoff(failed)) > ctx.now():
                    want = len(active)  # back off before replacing a failed pod
                if indexed:
                    done = completed_indexes(pods, status, int(completions or 0))
                    active += create_indexed_pods(ctx, job, active, done, want - len(active))
                else:
                    active += create_pods(
                        ctx, job, "batch/v1", "Job", want - len(active), COMPONENT
                    )
        status["active"] = len(active)
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["ready"] = sum(1 for p in active if pod_ready(p))
        status["terminating"] = sum(1 for p in pods if deleting(p))
        status.setdefault("uncountedTerminatedPods", {})
        if conditions:
            status["conditions"] = conditions
        # Upstream omits zero counters (omitempty), except ready and terminating.
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                del status[key]
        write_status(ctx, ("batch", "jobs"), job, status)


def pod_index(pod: Obj) -> int | None:
    """The completion index an Indexed Job's pod carries (annotation, as upstream)."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_KEY)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def completed_indexes(pods: list[Obj], status: Obj, completions: int) -> set[int]:
    """Indexes of Succeeded pods, with those already recorded in the status (pods of
    finished indexes may be gone)."""
    done = parse_intervals(str(status.get("completedIndexes") or ""))
    for pod in pods:
        index = pod_index(pod)
        if pod_phase(pod) == "Succeeded" and index is not None:
            done.add(index)
    return {i for i in done if i < completions}


def format_intervals(indexes: set[int]) -> str:
    """`status.completedIndexes`: sorted, runs as `first-last` (`"0-2,4"`)."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = prev = ordered[0]
    for i in [*ordered[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts)


def parse_intervals(text: str) -> set[int]:
    found: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.update(range(int(first), int(last or first) + 1))
    return found


def create_indexed_pods(
    ctx: ControllerContext, job: Obj, active: list[Obj], done: set[int], count: int
) -> list[Obj]:
    """Pods for the lowest indexes neither completed nor running: named
    `<job>-<index>-<random>`, with the index as annotation and label
    `batch.kubernetes.io/job-completion-index`, `JOB_COMPLETION_INDEX` in every
    container's environment and hostname `<job>-<index>` (pkg/controller/job
    indexed_job_utils.go)."""
    completions = int((job.get("spec") or {}).get("completions") or 0)
    running = {pod_index(p) for p in active}
    pending = [i for i in range(completions) if i not in done and i not in running]
    template = (job.get("spec") or {}).get("template") or {}
    created: list[Obj] = []
    for index in pending[: max(count, 0)]:
        pod = pod_from_template(
            template,
            namespace_of(job),
            owner_reference(job, "batch/v1", "Job"),
            generate_name=f"{name_of(job)}-{index}-",
        )
        meta = pod["metadata"]
        meta.setdefault("annotations", {})[INDEX_KEY] = str(index)
        meta.setdefault("labels", {})[INDEX_KEY] = str(index)
        spec = pod["spec"]
        spec.setdefault("hostname", f"{name_of(job)}-{index}")
        env_ref = {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            env = container.setdefault("env", [])
            if not any(e.get("name") == INDEX_ENV for e in env):
                env.append({"name": INDEX_ENV, "valueFrom": env_ref})
        made = create_pod(ctx, job, pod, "Job", COMPONENT)
        if made is None:
            break
        created.append(made)
    return created


def _set(conditions: list[Obj], kind: str, reason: tuple[str, str], now: str) -> list[Obj]:
    if any(c.get("type") == kind and c.get("status") == "True" for c in conditions):
        return conditions
    return [c for c in conditions if c.get("type") != kind] + [
        {
            "type": kind,
            "status": "True",
            "reason": reason[0],
            "message": reason[1],
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
    ]


class TTLAfterFinishedController:
    """Deletes finished Jobs `ttlSecondsAfterFinished` after they finished."""

    name = "ttl-after-finished-controller"
    watches = frozenset({("batch", "jobs")})
    resync_seconds = CLOCK_RESYNC_SECONDS  # ttlSecondsAfterFinished

    def reconcile(self, ctx: ControllerContext) -> None:
        now = ctx.now()
        for job in ctx.client.list("batch", "jobs"):
            ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
            if ttl is None or deleting(job) or job_finished(job) is None:
                continue
            finished_at = None
            for cond in (job.get("status") or {}).get("conditions") or []:
                if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
                    finished_at = parse_ts(cond.get("lastTransitionTime"))
            if finished_at is None or plus(finished_at, int(ttl)) > now:
                continue
            try:
                ctx.client.delete(
                    "batch", "jobs", namespace_of(job), name_of(job), propagation="Foreground"
                )
            except ApiError:
                continue

"""The CronJob controller: create Jobs at the schedule's times on the cluster clock.

At each pass it finds the most recent schedule time not yet acted on (after
`status.lastScheduleTime`, or the creation time; within `startingDeadlineSeconds`
when set) and creates the Job `<cronjob>-<minutes since epoch>` for it, unless
`suspend` is set or `concurrencyPolicy: Forbid` finds one still running (`Replace`
deletes the running one first). Finished Jobs beyond `successfulJobsHistoryLimit`
(3) and `failedJobsHistoryLimit` (1) are deleted, oldest first.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.sim.controllers import cron
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    name_of,
    namespace_of,
    owned_by,
    owner_reference,
    parse_ts,
    sync_per_namespace,
    uid_of,
    write_status,
)
from app.sim.controllers.job import job_finished
from app.sim.controllers.timing import CLOCK_RESYNC_SECONDS
from app.sim.machinery.clock import rfc3339
from app.sim.machinery.errors import ApiError

COMPONENT = "cronjob-controller"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# cronjob_controllerv2.go: more missed start times than this is reported as a warning.
MAX_MISSED = 100


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    """`<cronjob>-<scheduled time in minutes since the epoch>` (getJobName)."""
    return f"{name_of(cronjob)}-{int(scheduled.timestamp()) // 60}"


class CronJobController:
    name = "cronjob-controller"
    watches = frozenset({("batch", "cronjobs"), ("batch", "jobs")})
    resync_seconds = CLOCK_RESYNC_SECONDS  # schedule times come with the clock

    def __init__(self) -> None:
        # (cronjob uid, schedule time) already reported as skipped: upstream requeues
        # until the next schedule time, so the event is not repeated every pass.
        self._skipped: set[tuple[str, datetime]] = set()
        self._warned: set[tuple[str, int, str]] = set()

    def reconcile(self, ctx: ControllerContext) -> None:
        cronjobs = ctx.client.list("batch", "cronjobs")
        sync_per_namespace(ctx, cronjobs, [("batch", "jobs")], self.sync, "cronjob")

    def sync(self, ctx: ControllerContext, cronjob: Obj, all_jobs: list[Obj]) -> None:
        if deleting(cronjob):
            return
        events = ctx.events.for_component(COMPONENT)
        spec = cronjob.get("spec") or {}
        old_status = cronjob.get("status") or {}
        status: dict[str, Any] = copy.deepcopy(old_status)
        jobs = [j for j in all_jobs if owned_by(j, cronjob)]
        by_uid = {uid_of(j): j for j in jobs}
        active_refs = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid", ""))
            if job is None:
                continue
            finished = job_finished(job)
            if finished:
                events.normal(
                    cronjob,
                    "SawCompletedJob",
                    f"Saw completed job: {name_of(job)}, condition: {finished}",
                )
                if finished == "Complete":
                    done = (job.get("status") or {}).get("completionTime")
                    if done and done > (status.get("lastSuccessfulTime") or ""):
                        status["lastSuccessfulTime"] = done
                continue
            active_refs.append(ref)
        known = {r.get("uid") for r in active_refs}
        for job in jobs:
            if job_finished(job) is None and uid_of(job) not in known and not deleting(job):
                active_refs.append(_ref(job))
        self.cleanup(ctx, cronjob, jobs)
        if not spec.get("suspend"):
            active_refs = self.maybe_start(ctx, cronjob, status, active_refs, jobs)
        if active_refs:
            status["active"] = active_refs
        else:
            status.pop("active", None)
        write_status(ctx, ("batch", "cronjobs"), cronjob, status)

    def maybe_start(
        self, ctx: ControllerContext, cronjob: Obj, status: Obj, active: list[Obj], jobs: list[Obj]
    ) -> list[Obj]:
        events = ctx.events.for_component(COMPONENT)
        spec = cronjob.get("spec") or {}
        try:
            schedule = cron.parse(str(spec.get("schedule", "")))
        except cron.CronError as exc:
            self.warn_once(
                ctx,
                cronjob,
                "UnparseableSchedule",
                f"unparseable schedule: {spec.get('schedule')!r} : {exc}",
            )
            return active
        zone = UTC
        if spec.get("timeZone"):
            try:
                zone = ZoneInfo(spec["timeZone"])
            except (ZoneInfoNotFoundError, ValueError):
                self.warn_once(
                    ctx, cronjob, "UnknownTimeZone", f"invalid timeZone: {spec['timeZone']!r}"
                )
                return active
        now = ctx.now()
        earliest = parse_ts(status.get("lastScheduleTime")) or parse_ts(
            cronjob["metadata"].get("creationTimestamp")
        )
        if earliest is None:
            return active
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        scheduled = None
        missed = 0
        moment = schedule.next_after(earliest.astimezone(zone))
        while moment is not None and moment <= now:
            scheduled = moment
            missed += 1
            if missed == MAX_MISSED + 1:
                # Skip ahead: only the most recent time will be started anyway.
                jump = _latest_before(schedule, now.astimezone(zone))
                if jump is not None and jump > moment:
                    moment = jump
                    continue
            moment = schedule.next_after(moment)
        if scheduled is None:
            return active
        if missed > MAX_MISSED:
            events.warning(
                cronjob,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
        scheduled = scheduled.astimezone(UTC)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if active and policy == "Forbid":
            if (uid_of(cronjob), scheduled) in self._skipped:
                return active
            self._skipped.add((uid_of(cronjob), scheduled))
            events.normal(
                cronjob,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return active
        if active and policy == "Replace":
            for ref in active:
                try:
                    ctx.client.delete(
                        "batch",
                        "jobs",
                        namespace_of(cronjob),
                        ref["name"],
                        propagation="Background",
                    )
                except ApiError:
                    continue
                events.normal(cronjob, "SuccessfulDelete", f"Deleted job {ref['name']}")
            active = []
        name = job_name(cronjob, scheduled)
        existing = next((j for j in jobs if name_of(j) == name), None)
        if existing is None:
            job = self.new_job(cronjob, name, scheduled)
            try:
                created = ctx.client.create("batch", "jobs", job)
            except ApiError as exc:
                if exc.code != 409:
                    events.warning(cronjob, "FailedCreate", f"Error creating job: {exc.message}")
                    return active
                created = ctx.client.get("batch", "jobs", namespace_of(cronjob), name)
                if created is None:
                    return active
            else:
                events.normal(cronjob, "SuccessfulCreate", f"Created job {name}")
            if job_finished(created) is None and all(
                r.get("uid") != uid_of(created) for r in active
            ):
                active = [*active, _ref(created)]
        status["lastScheduleTime"] = rfc3339(scheduled)
        return active

    def warn_once(self, ctx: ControllerContext, cronjob: Obj, reason: str, message: str) -> None:
        """A warning about the spec, once per generation (it runs every pass)."""
        key = (uid_of(cronjob), cronjob["metadata"].get("generation", 1), reason)
        if key in self._warned:
            return
        self._warned.add(key)
        ctx.events.for_component(COMPONENT).warning(cronjob, reason, message)

    def new_job(self, cronjob: Obj, name: str, scheduled: datetime) -> Obj:
        template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_ANNOTATION] = rfc3339(scheduled)
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace_of(cronjob),
            "annotations": annotations,
            "ownerReferences": [owner_reference(cronjob, "batch/v1", "CronJob")],
        }
        if tmeta.get("labels"):
            metadata["labels"] = dict(tmeta["labels"])
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": template.get("spec") or {},
        }

    def cleanup(self, ctx: ControllerContext, cronjob: Obj, jobs: list[Obj]) -> None:
        spec = cronjob.get("spec") or {}
        events = ctx.events.for_component(COMPONENT)
        for condition, key, default in (
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ):
            limit = spec.get(key, default)
            if limit is None:
                continue
            finished = sorted(
                (j for j in jobs if job_finished(j) == condition and not deleting(j)),
                key=lambda j: ((j.get("status") or {}).get("startTime") or "", name_of(j)),
            )
            for job in finished[: max(len(finished) - int(limit), 0)]:
                try:
                    ctx.client.delete(
                        "batch", "jobs", namespace_of(job), name_of(job), propagation="Background"
                    )
                except ApiError:
                    continue
                events.normal(cronjob, "SuccessfulDelete", f"Deleted job {name_of(job)}")


def _ref(job: Obj) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": name_of(job),
        "namespace": namespace_of(job),
        "uid": uid_of(job),
        "resourceVersion": job["metadata"].get("resourceVersion", ""),
    }


def _latest_before(schedule: cron.Schedule, now: datetime) -> datetime | None:
    """Jump close to `now` when many start times were missed: the last firing before
    `now` is searched from a day (then a year) back instead of walking every one."""
    for back in (timedelta(hours=1), timedelta(days=1), timedelta(days=400)):
        probe = schedule.next_after(now - back)
        if probe is not None and probe <= now:
            return probe
    return None

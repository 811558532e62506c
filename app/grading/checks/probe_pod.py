"""`probe_pod`: a live test of scheduling. The grader creates a fresh pod after the
grade was requested and requires it to be bound within a time budget *by the default
scheduler* (its `Scheduled` event names `default-scheduler`), then deletes it.

A pod bound by hand (binding subresource, `spec.nodeName`) has no such event, and a
second scheduler reports under its own name, so neither earns the check; nor does
anything done to the lab's own pods, since the probe did not exist before the grade.
"""

from __future__ import annotations

import contextlib
from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import CheckEnv, KindSchema, Outcome, SimpleKind, evidence_of
from app.grading.checks.events import (
    DEFAULT_SCHEDULER,
    events_about,
    events_in,
    provenance_problem,
)
from app.grading.reader import ClusterReadError

# A pause image: the probe only needs to be scheduled, never to do anything.
PROBE_IMAGE = "registry.k8s.io/pause:3.10"
PROBE_LABEL = "certprep.io/probe"


class ProbePodSchema(KindSchema):
    namespace = fields.String(load_default="default")
    image = fields.String(load_default=PROBE_IMAGE)
    budget_seconds = fields.Float(load_default=30, validate=validate.Range(min=1, max=300))
    poll_seconds = fields.Float(load_default=0.5, validate=validate.Range(min=0.05, max=10))
    scheduler_name = fields.String(load_default=DEFAULT_SCHEDULER)
    reporting_controller = fields.String(load_default=DEFAULT_SCHEDULER)
    node_selector = fields.Dict(keys=fields.String(), values=fields.String())
    tolerations = fields.List(fields.Dict())


def probe_manifest(name: str, params: dict[str, Any], grade_id: str) -> dict[str, Any]:
    """The probe pod: tiny, never restarted, deleted at once."""
    spec: dict[str, Any] = {
        "schedulerName": params["scheduler_name"],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "containers": [
            {
                "name": "probe",
                "image": params["image"],
                "resources": {"requests": {"cpu": "1m", "memory": "4Mi"}},
            }
        ],
    }
    if params.get("node_selector"):
        spec["nodeSelector"] = dict(params["node_selector"])
    if params.get("tolerations"):
        spec["tolerations"] = list(params["tolerations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": params["namespace"],
            "labels": {PROBE_LABEL: "true"},
            "annotations": {"certprep.io/grade-id": grade_id},
        },
        "spec": spec,
    }


class ProbePod(SimpleKind):
    name = "probe_pod"
    schema = ProbePodSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        ctx, reader = env.context, env.reader
        name, namespace = ctx.probe_pod_name(env.check_id), params["namespace"]
        deadline = ctx.monotonic() + params["budget_seconds"]
        # A retried grade reuses the name: remove what an interrupted run left behind.
        if reader.delete("v1", "Pod", name, namespace, grace_period_seconds=0):
            while reader.get("v1", "Pod", name, namespace) is not None:
                if ctx.monotonic() >= deadline:
                    return Outcome(False, f"an earlier probe pod {name} is still terminating")
                ctx.sleep(params["poll_seconds"])
        created = reader.create(probe_manifest(name, params, ctx.grade_id))
        try:
            return self._watch(created, params, env, deadline)
        finally:
            # Cleanup is best effort; a leftover probe is replaced by the next run.
            with contextlib.suppress(ClusterReadError):
                reader.delete("v1", "Pod", name, namespace, grace_period_seconds=0)

    def _watch(
        self, created: dict[str, Any], params: dict[str, Any], env: CheckEnv, deadline: float
    ) -> Outcome:
        ctx, reader = env.context, env.reader
        meta = created["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        controller = params["reporting_controller"]
        budget = params["budget_seconds"]
        pod = created
        why: str | None = "no event"
        while True:
            current = reader.get("v1", "Pod", name, namespace)
            if current is None or (current["metadata"].get("uid") != meta.get("uid")):
                return Outcome(
                    False,
                    f"probe pod {namespace}/{name} was deleted before it could be checked",
                    [evidence_of(pod)],
                )
            pod = current
            node = (pod.get("spec") or {}).get("nodeName")
            out_of_time = ctx.monotonic() >= deadline
            # Events are only worth listing once the pod is bound, or to explain a failure.
            events = events_in(reader, namespace) if node or out_of_time else []
            if node:
                scheduled = events_about(events, pod, "Scheduled")
                event, why = provenance_problem(scheduled, controller, None)
                if event is not None:
                    return Outcome(
                        True,
                        f"probe pod {name} was bound to {node} by {controller}",
                        [evidence_of(pod, nodeName=node), event.evidence()],
                    )
            if out_of_time:
                break
            ctx.sleep(params["poll_seconds"])
        evidence = [evidence_of(pod, nodeName=node, phase=(pod.get("status") or {}).get("phase"))]
        if node:
            return Outcome(
                False,
                f"probe pod {name} was bound to {node}, but no Scheduled event by {controller}"
                f" within {budget:g}s ({why}): it was not bound by the default scheduler",
                evidence,
            )
        failed = events_about(events, pod, "FailedScheduling")
        evidence.extend(e.evidence() for e in failed[-1:])
        reason = f": {failed[-1].note}" if failed else " and no scheduler reported on it"
        return Outcome(
            False, f"probe pod {name} was not bound within {budget:g}s{reason}", evidence
        )

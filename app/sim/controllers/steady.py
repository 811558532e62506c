"""Whether a cluster's controllers have nothing to do until something changes:
`steady(store)`.

Most controllers only react to writes. A few also act when time passes: the node
lifecycle controller (a heartbeat that stops), taint eviction (tolerationSeconds), the
Job, CronJob and TTL-after-finished controllers (deadlines, schedules), the HPA (its
15 s sync), the namespace controller (finishing a Terminating namespace) and the
workload controllers while a rollout progresses (minReadySeconds, the progress
deadline). A cluster in which none of these has anything pending is steady: its
control plane can sleep until a write or its next heartbeat instead of running the
controllers' periodic resyncs. The test is deliberately conservative: anything not
obviously settled counts as work, and the control plane then keeps its resync timers.
"""

from __future__ import annotations

from typing import Any

from app.sim.machinery.store import ObjectStore

# Kinds whose mere presence means clock-driven work (schedules, HPA syncs).
_CLOCK_KINDS = (
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
)


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status")
    return None


def _pod_settled(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return True
    return phase == "Running" and _condition(pod, "Ready") == "True"


def _node_settled(node: dict[str, Any]) -> bool:
    if _condition(node, "Ready") != "True":
        return False
    # A NoExecute taint starts tolerationSeconds clocks (taint eviction).
    taints = (node.get("spec") or {}).get("taints") or []
    return not any(t.get("effect") == "NoExecute" for t in taints)


def _job_settled(job: dict[str, Any]) -> bool:
    finished = any(
        _condition(job, kind) == "True" for kind in ("Complete", "Failed", "SuccessCriteriaMet")
    )
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    return finished and ttl is None


def _replicas_settled(obj: dict[str, Any], available_field: str, desired: int) -> bool:
    meta, status = obj["metadata"], obj.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False
    return (
        int(status.get(available_field) or 0) == desired
        and int(status.get("replicas", desired) or 0) == desired
    )


def _workloads_settled(store: ObjectStore) -> bool:
    for deploy in store.list("apps", "deployments")[0]:
        desired = int((deploy.get("spec") or {}).get("replicas", 1))
        status = deploy.get("status") or {}
        if int(status.get("updatedReplicas") or 0) != desired:
            return False
        if not _replicas_settled(deploy, "availableReplicas", desired):
            return False
    for plural in ("replicasets", "statefulsets"):
        for obj in store.list("apps", plural)[0]:
            desired = int((obj.get("spec") or {}).get("replicas", 1))
            if not _replicas_settled(obj, "availableReplicas", desired):
                return False
    for ds in store.list("apps", "daemonsets")[0]:
        status = ds.get("status") or {}
        desired = int(status.get("desiredNumberScheduled") or 0)
        if not _replicas_settled(ds, "numberAvailable", desired):
            return False
    return True


def steady(store: ObjectStore) -> bool:
    """Whether no controller has work that time alone would bring (see the module
    text). Lists pods, nodes, namespaces, jobs and workloads: call it after a pass of
    the control plane, not on every loop iteration."""
    if any(store.count(group, plural) for group, plural in _CLOCK_KINDS):
        return False
    namespaces = store.list("", "namespaces")[0]
    if any(ns["metadata"].get("deletionTimestamp") for ns in namespaces):
        return False
    if not all(_job_settled(job) for job in store.list("batch", "jobs")[0]):
        return False
    if not all(_node_settled(node) for node in store.list("", "nodes")[0]):
        return False
    if not all(_pod_settled(pod) for pod in store.list("", "pods")[0]):
        return False
    return _workloads_settled(store)


__all__ = ["steady"]

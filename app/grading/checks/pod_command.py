"""`pod_command`: a command run inside a container exits with the expected code and
prints the expected text, through `pods/exec` as `kubectl exec` runs it.

The container is either one of the cluster's own pods (`pod`, or a Running pod chosen
by `label_selector`), or a probe pod the grader creates for this check (`from_pod`):
a pod with the given labels in `namespace`, created after the grade was asked for and
deleted afterwards in every case. A probe tests what a *new* pod of that kind can
reach, so a check on NetworkPolicy cannot be passed by relabelling or deleting the
lab's own client pods. The probe carries only the labels asked for (its markers are
annotations, which no policy can select), so policies treat it as any such pod.
"""

from __future__ import annotations

import contextlib
import shlex
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.grading.checks.base import CheckEnv, KindSchema, Outcome, SimpleKind, evidence_of
from app.grading.checks.output import CommandOutputSchema, first_line, output_problems
from app.grading.pod_exec import ExecResult, PodExecError, exec_in_pod
from app.grading.reader import ClusterReadError

# busybox: a shell, wget, nc and nslookup, as the CKA tasks' client pods have.
PROBE_IMAGE = "busybox:1.36"
PROBE_CONTAINER = "probe"
# kubectl exec's choice of container when none is named (kubectl's
# podcmd.FindOrDefaultContainerByName): this annotation, else the first container.
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


class Command(fields.Field[Any]):
    """A shell command line (run with `sh -c`) or an argv list, neither empty."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and value.strip():
            return value
        if (
            isinstance(value, list)
            and value
            and all(isinstance(part, str) and part for part in value)
        ):
            return list(value)
        raise ValidationError("a non-empty command line or a list of non-empty strings")


class FromPodSchema(KindSchema):
    labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    image = fields.String(load_default=PROBE_IMAGE)
    budget_seconds = fields.Float(load_default=60, validate=validate.Range(min=1, max=300))
    poll_seconds = fields.Float(load_default=0.5, validate=validate.Range(min=0.05, max=10))


class PodCommandSchema(CommandOutputSchema):
    namespace = fields.String(load_default="default")
    pod = fields.String(validate=validate.Length(min=1))
    label_selector = fields.String(validate=validate.Length(min=1))
    from_pod = fields.Nested(FromPodSchema)
    container = fields.String(validate=validate.Length(min=1))
    command = Command(required=True)
    timeout_seconds = fields.Float(load_default=30, validate=validate.Range(min=1, max=300))

    @validates_schema
    def one_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        targets = [k for k in ("pod", "label_selector", "from_pod") if k in data]
        if len(targets) != 1:
            raise ValidationError(
                f"needs exactly one of pod, label_selector, from_pod; found {len(targets)}"
            )
        if "from_pod" in data and "container" in data:
            raise ValidationError("a from_pod probe has one container: leave out container")


def argv_of(command: str | list[str]) -> list[str]:
    """What is executed: a command line through `sh -c`, a list as it is."""
    return ["sh", "-c", command] if isinstance(command, str) else list(command)


def shown(command: str | list[str]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def is_running(pod: dict[str, Any]) -> bool:
    """Running and not being deleted: a pod exec can reach and that stays a while."""
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Running" and not meta.get("deletionTimestamp")


def default_container(pod: dict[str, Any]) -> str | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    preferred = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if preferred in names:
        return str(preferred)
    return names[0] if names else None


def probe_manifest(
    name: str, namespace: str, spec: dict[str, Any], grade_id: str
) -> dict[str, Any]:
    """A client pod that only waits for the grader's command: never restarted, no
    API token, unprivileged, deleted at once."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(spec["labels"]),
            "annotations": {"certprep.io/probe": "true", "certprep.io/grade-id": grade_id},
        },
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": PROBE_CONTAINER,
                    "image": spec["image"],
                    "command": ["sleep", "3600"],
                    "resources": {"requests": {"cpu": "1m", "memory": "4Mi"}},
                    # What the `restricted` Pod Security Standard asks, so a namespace
                    # enforcing it admits the probe too; wget, nc and nslookup need
                    # no privilege.
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                }
            ],
        },
    }


class PodCommand(SimpleKind):
    name = "pod_command"
    schema = PodCommandSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        if "from_pod" in params:
            return self._in_probe(params, env)
        pod, why = self._existing(params, env)
        if pod is None:
            return Outcome(False, why)
        container = params.get("container") or default_container(pod)
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        if container not in names:
            return Outcome(
                False,
                f"pod {_where(pod)} has no container {container!r}"
                f" (found {', '.join(map(str, names))})",
                [evidence_of(pod)],
            )
        return self._exec(params, env, pod, str(container), _where(pod))

    # ---- the cluster's own pods ------------------------------------------------------

    def _existing(self, params: dict[str, Any], env: CheckEnv) -> tuple[dict[str, Any] | None, str]:
        namespace = params["namespace"]
        if "pod" in params:
            pod = env.reader.get("v1", "Pod", params["pod"], namespace)
            if pod is None:
                return None, f"no pod {namespace}/{params['pod']}"
            if not is_running(pod):
                phase = (pod.get("status") or {}).get("phase")
                return None, f"pod {namespace}/{params['pod']} is not Running (phase {phase})"
            return pod, ""
        selector = params["label_selector"]
        pods = env.reader.list("v1", "Pod", namespace, label_selector=selector)
        running = [p for p in pods if is_running(p)]
        if not running:
            return (
                None,
                f"no Running pod in namespace {namespace} with labels {selector}"
                f" ({len(pods)} found)",
            )
        # The lists are sorted by name: the same pod for the same state.
        return running[0], ""

    # ---- a probe pod -----------------------------------------------------------------

    def _in_probe(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        ctx, reader = env.context, env.reader
        spec, namespace = params["from_pod"], params["namespace"]
        name = ctx.probe_pod_name(env.check_id)
        deadline = ctx.monotonic() + spec["budget_seconds"]
        label = _labels(spec["labels"])
        # A retried grade reuses the name: remove what an interrupted run left behind.
        if reader.delete("v1", "Pod", name, namespace, grace_period_seconds=0):
            while reader.get("v1", "Pod", name, namespace) is not None:
                if ctx.monotonic() >= deadline:
                    return Outcome(
                        False, f"an earlier probe pod {namespace}/{name} is still terminating"
                    )
                ctx.sleep(spec["poll_seconds"])
        created = reader.create(probe_manifest(name, namespace, spec, ctx.grade_id))
        try:
            pod, why = self._wait_running(created, spec, env, deadline)
            if pod is None:
                return Outcome(
                    False, f"a new pod {label} in {namespace}: {why}", [evidence_of(created)]
                )
            return self._exec(params, env, pod, PROBE_CONTAINER, f"new pod {label} in {namespace}")
        finally:
            # Best effort; a leftover probe is replaced by the next run of this grade.
            with contextlib.suppress(ClusterReadError):
                reader.delete("v1", "Pod", name, namespace, grace_period_seconds=0)

    def _wait_running(
        self, created: dict[str, Any], spec: dict[str, Any], env: CheckEnv, deadline: float
    ) -> tuple[dict[str, Any] | None, str]:
        ctx, reader = env.context, env.reader
        meta = created["metadata"]
        while True:
            pod = reader.get("v1", "Pod", meta["name"], meta["namespace"])
            if pod is None or pod["metadata"].get("uid") != meta.get("uid"):
                return None, "the probe pod was deleted before the command could run"
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                return None, f"the probe pod ended ({status['phase']}) before the command could run"
            if is_running(pod) and _container_running(pod):
                return pod, ""
            if ctx.monotonic() >= deadline:
                return None, (
                    f"the probe pod did not start within {spec['budget_seconds']:g}s"
                    f" ({_waiting_reason(pod)})"
                )
            ctx.sleep(spec["poll_seconds"])

    # ---- the command -----------------------------------------------------------------

    def _exec(
        self, params: dict[str, Any], env: CheckEnv, pod: dict[str, Any], container: str, where: str
    ) -> Outcome:
        meta = pod["metadata"]
        command = params["command"]
        prompt = f"{where}$ {shown(command)}"
        try:
            result = exec_in_pod(
                env.reader.api_client,
                meta["namespace"],
                meta["name"],
                container,
                argv_of(command),
                params["timeout_seconds"],
            )
        except PodExecError as exc:
            return Outcome(False, f"{prompt}: cannot run ({exc})", [evidence_of(pod)])
        evidence = _evidence(pod, container, command, result)
        if result.exit_code is None:
            why = (
                f"still running after {params['timeout_seconds']:g}s"
                if result.timed_out
                else f"did not run: {result.failure}"
            )
            return Outcome(False, f"{prompt}: {why}", evidence)
        problems = output_problems(params, result.exit_code, result.stdout)
        if problems:
            found = first_line(result.stdout, result.stderr)
            return Outcome(False, f"{prompt}: " + "; ".join(problems) + found, evidence)
        return Outcome(True, f"{prompt}: as expected", evidence)


def _where(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return "without labels"
    return "labelled " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _container_running(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(
        s.get("name") == PROBE_CONTAINER and "running" in (s.get("state") or {}) for s in statuses
    )


def _waiting_reason(pod: dict[str, Any]) -> str:
    """Why the probe is not running yet: a container's waiting reason, else the phase."""
    status = pod.get("status") or {}
    for entry in status.get("containerStatuses") or []:
        waiting = (entry.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"not scheduled: {condition.get('message') or condition.get('reason')}"
    return f"phase {status.get('phase') or 'unknown'}"


def _evidence(
    pod: dict[str, Any], container: str, command: str | list[str], result: ExecResult
) -> list[dict[str, Any]]:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return [
        evidence_of(pod, labels=labels),
        {
            "container": container,
            "command": shown(command),
            "exit_code": result.exit_code,
            "stdout": result.stdout[-500:],
            "stderr": result.stderr[-300:],
        },
    ]

"""Printers for pods, nodes and the workload kinds (Deployments, ReplicaSets,
DaemonSets, StatefulSets, Jobs, CronJobs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    Row,
    _age,
    _int,
    _meta,
    _name,
    _spec,
    _status,
    ago,
    col,
    containers_cells,
    format_labels,
    human_duration,
    parse_time,
    selector_string,
    since,
)

# Pod row conditions upstream attaches to finished pods (kubectl uses them to filter).
POD_SUCCESS_CONDITIONS = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
POD_FAILED_CONDITIONS = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Failed",
        "message": "The pod failed.",
    }
]

# Node status reason that makes a terminating pod print as Unknown (node lifecycle
# controller's NodeUnreachablePodReason).
NODE_UNREACHABLE_POD_REASON = "NodeLost"


def _pod_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    meta = _meta(obj)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    conditions = None
    if phase == "Succeeded":
        conditions = POD_SUCCESS_CONDITIONS
    elif phase == "Failed":
        conditions = POD_FAILED_CONDITIONS

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or [])
    total += sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    sidecar_last_restart: datetime | None = None

    def later(a: datetime | None, b: datetime | None) -> datetime | None:
        if b is None:
            return a
        return b if a is None or b > a else a

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += _int(cs.get("restartCount"))
        finished = parse_time(
            ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        )
        last_restart = later(last_restart, finished)
        sidecar = (init_specs.get(cs.get("name")) or {}).get("restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last_restart = later(sidecar_last_restart, finished)
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif (
            waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing"
        ):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = sidecar_last_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            finished = parse_time(
                ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
            )
            last_restart = later(last_restart, finished)
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            reason = "Running" if pod_ready else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({ago(last_restart, now)} ago)"

    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips else "") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true_count = sum(1 for g in gates if by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    cells = [
        _name(obj),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(obj, now),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    return cells, conditions


POD_COLUMNS = [
    NAME_COL,
    col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    col("Status", description="The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        description="The number of times the containers in this pod have been restarted and "
        "when the last container in this pod has restarted.",
    ),
    AGE_COL,
    col("IP", description="IP address allocated to the pod.", priority=1),
    col("Node", description="Name of the node the pod is scheduled onto.", priority=1),
    col("Nominated Node", description="Node the pod is nominated to run on.", priority=1),
    col("Readiness Gates", description="Pod readiness gates.", priority=1),
]


def node_roles(labels: dict[str, str] | None) -> list[str]:
    """Roles from `node-role.kubernetes.io/<role>` labels and `kubernetes.io/role`."""
    roles: set[str] = set()
    for key, value in (labels or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(status: dict[str, Any], kind: str) -> str:
    for addr in status.get("addresses") or []:
        if addr.get("type") == kind:
            return addr.get("address") or "<none>"
    return "<none>"


def _node_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    states: list[str] = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            states.append("Ready" if cond.get("status") == "True" else "NotReady")
            break
    if not states:
        states.append("Unknown")
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    roles = ",".join(node_roles(_meta(obj).get("labels"))) or "<none>"
    cells = [
        _name(obj),
        ",".join(states),
        roles,
        _age(obj, now),
        info.get("kubeletVersion", ""),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]
    return cells, None


NODE_COLUMNS = [
    NAME_COL,
    col("Status", description="The status of the node"),
    col("Roles", description="The roles of the node"),
    AGE_COL,
    col("Version", description="Kubelet Version reported by the node."),
    col("Internal-IP", description="List of addresses reachable to the node.", priority=1),
    col("External-IP", description="List of addresses reachable to the node.", priority=1),
    col("OS-Image", description="OS Image reported by the node.", priority=1),
    col("Kernel-Version", description="Kernel Version reported by the node.", priority=1),
    col("Container-Runtime", description="Container Runtime Version.", priority=1),
]

WORKLOAD_WIDE = [
    col("Containers", description="Names of each container in the template.", priority=1),
    col("Images", description="Images referenced by each container in the template.", priority=1),
    col("Selector", description="Label selector of the pods.", priority=1),
]


def _template_cells(obj: Obj) -> list[str]:
    template = (_spec(obj).get("template") or {}).get("spec")
    names, images = containers_cells(template)
    return [names, images, selector_string(_spec(obj).get("selector"))]


def _deployment_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    desired = _int(spec.get("replicas", 1))
    cells = [
        _name(obj),
        f"{_int(status.get('readyReplicas'))}/{desired}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(obj, now),
        *_template_cells(obj),
    ]
    return cells, None


DEPLOYMENT_COLUMNS = [
    NAME_COL,
    col("Ready", description="Number of the pod with ready state"),
    col(
        "Up-to-date",
        "integer",
        "Total number of non-terminated pods targeted by this "
        "deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "integer",
        "Total number of available pods (ready for at least "
        "minReadySeconds) targeted by this deployment.",
    ),
    AGE_COL,
    *WORKLOAD_WIDE,
]


def _replicaset_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    cells = [
        _name(obj),
        _int(spec.get("replicas", 1)),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(obj, now),
        *_template_cells(obj),
    ]
    return cells, None


REPLICASET_COLUMNS = [
    NAME_COL,
    col("Desired", "integer", "Number of desired pods."),
    col("Current", "integer", "The most recently observed number of replicas."),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE_COL,
    *WORKLOAD_WIDE,
]


def _daemonset_row(obj: Obj, now: datetime) -> Row:
    status = _status(obj)
    node_selector = (((_spec(obj).get("template") or {}).get("spec")) or {}).get("nodeSelector")
    cells = [
        _name(obj),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        format_labels(node_selector),
        _age(obj, now),
        *_template_cells(obj),
    ]
    return cells, None


DAEMONSET_COLUMNS = [
    NAME_COL,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
    col("Current", "integer", "The number of nodes that are running at least 1 daemon pod."),
    col(
        "Ready",
        "integer",
        "The number of nodes that should be running the daemon pod and "
        "have one or more of the daemon pod running and ready.",
    ),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and "
        "have one or more of the daemon pod running and available.",
    ),
    col(
        "Node Selector",
        description="NodeSelector is a selector which must be true for the pod to fit on a node.",
    ),
    AGE_COL,
    *WORKLOAD_WIDE,
]


def _statefulset_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    names, images = containers_cells((spec.get("template") or {}).get("spec"))
    cells = [
        _name(obj),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas', 1))}",
        _age(obj, now),
        names,
        images,
    ]
    return cells, None


STATEFULSET_COLUMNS = [
    NAME_COL,
    col("Ready", description="Number of the pod with ready state"),
    AGE_COL,
    WORKLOAD_WIDE[0],
    WORKLOAD_WIDE[1],
]


def _has_condition(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _job_row(obj: Obj, now: datetime) -> Row:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    else:
        parallelism = _int(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        # A running Job's duration grows with the request's time.
        duration = human_duration((end - start).total_seconds()) if end else ago(start, now)
    if _has_condition(status, "Complete"):
        state = "Complete"
    elif _has_condition(status, "Failed"):
        state = "Failed"
    elif meta.get("deletionTimestamp"):
        state = "Terminating"
    elif _has_condition(status, "Suspended"):
        state = "Suspended"
    elif _has_condition(status, "FailureTarget"):
        state = "FailureTarget"
    elif _has_condition(status, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    cells = [_name(obj), state, completions, duration, _age(obj, now), *_template_cells(obj)]
    return cells, None


JOB_COLUMNS = [
    NAME_COL,
    col("Status", description="Status of the job."),
    col(
        "Completions",
        description="The desired number of successfully finished pods the job should be run with.",
    ),
    col("Duration", description="Time required to complete the job."),
    AGE_COL,
    *WORKLOAD_WIDE,
]


def _bool_text(value: Any) -> str:
    return "True" if value else "False"


def _cronjob_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    names, images = containers_cells((job_spec.get("template") or {}).get("spec"))
    last = status.get("lastScheduleTime")
    cells = [
        _name(obj),
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        _bool_text(spec.get("suspend")),
        len(status.get("active") or []),
        since(last, now) if last else "<none>",
        _age(obj, now),
        names,
        images,
        selector_string(job_spec.get("selector")),
    ]
    return cells, None


CRONJOB_COLUMNS = [
    NAME_COL,
    col("Schedule", description="The schedule in Cron format."),
    col("Timezone", description="The time zone name for the given schedule."),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col(
        "Last Schedule",
        description="Information when was the last time the job was successfully scheduled.",
    ),
    AGE_COL,
    *WORKLOAD_WIDE,
]

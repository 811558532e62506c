"""Server-side printing: `meta.k8s.io/v1 Table` for every served kind.

kubectl asks lists and watches with `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`
and prints the columns the server chooses. The columns and cell formats here follow the
upstream printers (kubernetes `pkg/printers/internalversion/printers.go`): the API server
always renders the wide columns (priority 1) and kubectl hides them unless `-o wide`.
Kinds without an upstream printer get the default table (NAME, CREATED AT); custom
resources get NAME + their `additionalPrinterColumns` (NAME, AGE when none).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.sim.machinery.resources import ResourceType

Obj = dict[str, Any]
Column = dict[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC."
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


def col(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, format_: str = ""
) -> Column:
    """One column definition as the Table's columnDefinitions carry it."""
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description or name,
        "priority": priority,
    }


NAME_COL = col("Name", "string", NAME_DESCRIPTION, format_="name")
AGE_COL = col("Age", "string", AGE_DESCRIPTION)
CREATED_AT_COL = col("Created At", "date", AGE_DESCRIPTION)


# ---------------------------------------------------------------------------------------
# formatting helpers, as k8s.io/apimachinery's duration and kubectl's printers format


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (seconds or micro precision) as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def human_duration(seconds_total: float) -> str:
    """apimachinery `duration.HumanDuration`: `45s`, `5m2s`, `12m`, `3h4m`, `3d`, `2y5d`."""
    seconds = int(seconds_total)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """printers' `translateTimestampSince`: `<unknown>` for a missing timestamp."""
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_string(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()` writes it."""
    if not selector:
        return ""
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key = expr.get("key", "")
        op = expr.get("operator", "")
        values = sorted(expr.get("values") or [])
        if op == "In":
            parts.append((key, f"{key} in ({','.join(values)})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(values)})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def label_selector_display(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: `<none>` for an empty selector."""
    text = selector_string(selector)
    return text or "<none>"


def containers_cells(pod_spec: dict[str, Any] | None) -> tuple[str, str]:
    """(names, images) of a pod spec's containers, comma-separated."""
    containers = (pod_spec or {}).get("containers") or []
    names = ",".join(c.get("name", "") for c in containers)
    images = ",".join(c.get("image", "") for c in containers)
    return names, images


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name", "")


def _age(obj: Obj, now: datetime) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _created_at(obj: Obj) -> str:
    when = parse_time(_meta(obj).get("creationTimestamp"))
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


# ---------------------------------------------------------------------------------------
# one printer per kind: (column definitions, row function)

Row = tuple[list[Any], list[dict[str, Any]] | None]
RowFunc = Callable[[Obj, datetime], Row]


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
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

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
        duration = human_duration(((end or now) - start).total_seconds())
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


def _port_string(ports: list[dict[str, Any]]) -> str:
    pieces = []
    for port in ports:
        protocol = port.get("protocol") or "TCP"
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces)


def _load_balancer_ips(status: dict[str, Any]) -> list[str]:
    out = []
    for ingress in ((status.get("loadBalancer") or {}).get("ingress")) or []:
        if ingress.get("ip"):
            out.append(ingress["ip"])
        elif ingress.get("hostname"):
            out.append(ingress["hostname"])
    return out


def _service_external_ip(obj: Obj) -> str:
    spec = _spec(obj)
    kind = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer_ips(_status(obj))
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    cells = [
        _name(obj),
        spec.get("type") or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(obj),
        _port_string(spec.get("ports") or []) or "<none>",
        _age(obj, now),
        format_labels(spec.get("selector")),
    ]
    return cells, None


SERVICE_COLUMNS = [
    NAME_COL,
    col("Type", description="type determines how the Service is exposed."),
    col("Cluster-IP", description="clusterIP is the IP address of the service."),
    col(
        "External-IP",
        description="externalIPs is a list of IP addresses for which nodes in "
        "the cluster will also accept traffic for this service.",
    ),
    col("Port(s)", description="The list of ports that are exposed by this service."),
    AGE_COL,
    col(
        "Selector",
        description="Route service traffic to pods with label keys and values "
        "matching this selector.",
        priority=1,
    ),
]


def _join_host_port(ip: str, port: Any) -> str:
    try:
        if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address):
            return f"[{ip}]:{port}"
    except ValueError:
        pass
    return f"{ip}:{port}"


def format_endpoints(obj: Obj) -> str:
    """Endpoints column: first three `ip:port`, then `+ N more...`; `<none>` if empty."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(addr.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(addr.get("ip", ""), port.get("port")))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), format_endpoints(obj), _age(obj, now)], None


ENDPOINTS_COLUMNS = [
    NAME_COL,
    col("Endpoints", description="Endpoints of the service."),
    AGE_COL,
]


def _endpointslice_row(obj: Obj, now: datetime) -> Row:
    ports = obj.get("ports") or []
    if ports:
        port_list = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in ports]
        port_text = ",".join(port_list[:3])
        if len(port_list) > 3:
            port_text += f" + {len(port_list) - 3} more..."
    else:
        port_text = "<unset>"
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    if addresses:
        ep_text = ",".join(addresses[:3])
        if len(addresses) > 3:
            ep_text += f" + {len(addresses) - 3} more..."
    else:
        ep_text = "<unset>"
    cells = [_name(obj), obj.get("addressType", ""), port_text, ep_text, _age(obj, now)]
    return cells, None


ENDPOINTSLICE_COLUMNS = [
    NAME_COL,
    col("AddressType", description="Type of address carried by this EndpointSlice."),
    col("Ports", description="Ports of the endpoints."),
    col("Endpoints", description="Addresses of the endpoints."),
    AGE_COL,
]


def _namespace_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _status(obj).get("phase", ""), _age(obj, now)], None


NAMESPACE_COLUMNS = [
    NAME_COL,
    col("Status", description="The status of the namespace"),
    AGE_COL,
]


def _secret_row(obj: Obj, now: datetime) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("stringData") or {})
    return [_name(obj), obj.get("type", ""), data, _age(obj, now)], None


SECRET_COLUMNS = [
    NAME_COL,
    col("Type", description="The type of the secret"),
    col("Data", "integer", "The number of entries in the secret"),
    AGE_COL,
]


def _configmap_row(obj: Obj, now: datetime) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_name(obj), data, _age(obj, now)], None


CONFIGMAP_COLUMNS = [
    NAME_COL,
    col("Data", "integer", "Number of data in configmap"),
    AGE_COL,
]


def _serviceaccount_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), len(obj.get("secrets") or []), _age(obj, now)], None


SERVICEACCOUNT_COLUMNS = [
    NAME_COL,
    col(
        "Secrets",
        "integer",
        "Secrets is the list of secrets allowed to be used by pods "
        "running using this ServiceAccount.",
    ),
    AGE_COL,
]

# Access mode abbreviations kubectl prints (helper.GetAccessModesAsString).
ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _access_modes(modes: list[str] | None) -> str:
    seen = []
    for mode in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
        if mode in (modes or []):
            seen.append(ACCESS_MODES[mode])
    return ",".join(seen)


def _pv_row(obj: Obj, now: datetime) -> Row:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    storage_class = spec.get("storageClassName") or (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )
    cells = [
        _name(obj),
        (spec.get("capacity") or {}).get("storage", "0"),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim_text,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]
    return cells, None


PV_COLUMNS = [
    NAME_COL,
    col(
        "Capacity",
        description="capacity is the description of the persistent volume's "
        "resources and capacity.",
    ),
    col("Access Modes", description="accessModes contains all ways the volume can be mounted."),
    col(
        "Reclaim Policy",
        description="persistentVolumeReclaimPolicy defines what happens to "
        "a persistent volume when released from its claim.",
    ),
    col(
        "Status",
        description="phase indicates if a volume is available, bound to a claim, "
        "or released by a claim.",
    ),
    col(
        "Claim",
        description="claimRef is part of a bi-directional binding between "
        "PersistentVolume and PersistentVolumeClaim.",
    ),
    col(
        "StorageClass",
        description="storageClassName is the name of StorageClass to which "
        "this persistent volume belongs.",
    ),
    col(
        "VolumeAttributesClass",
        description="Name of VolumeAttributesClass to which this persistent volume belongs.",
    ),
    col("Reason", description="reason is a brief CamelCase string that describes any failure."),
    AGE_COL,
    col(
        "VolumeMode",
        description="volumeMode defines if a volume is intended to be used "
        "with a formatted filesystem or to remain in raw block state.",
        priority=1,
    ),
]


def _pvc_row(obj: Obj, now: datetime) -> Row:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(status.get("accessModes"))
        capacity = (status.get("capacity") or {}).get("storage", "")
    storage_class = spec.get("storageClassName") or (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )
    cells = [
        _name(obj),
        phase,
        spec.get("volumeName", ""),
        capacity,
        access,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]
    return cells, None


PVC_COLUMNS = [
    NAME_COL,
    col("Status", description="phase represents the current phase of PersistentVolumeClaim."),
    col(
        "Volume",
        description="volumeName is the binding reference to the PersistentVolume "
        "backing this claim.",
    ),
    col(
        "Capacity", description="capacity represents the actual resources of the underlying volume."
    ),
    col(
        "Access Modes",
        description="accessModes contains the desired access modes the volume should have.",
    ),
    col(
        "StorageClass",
        description="storageClassName is the name of the StorageClass required by the claim.",
    ),
    col(
        "VolumeAttributesClass",
        description="volumeAttributesClassName may be used to set "
        "the VolumeAttributesClass used by this claim.",
    ),
    AGE_COL,
    col(
        "VolumeMode",
        description="volumeMode defines what type of volume is required by the claim.",
        priority=1,
    ),
]


def _event_fields(obj: Obj) -> dict[str, Any]:
    """The core/v1 view of an Event of either API group (events.k8s.io renames fields)."""
    if obj.get("apiVersion") == "events.k8s.io/v1" or "regarding" in obj or "note" in obj:
        return {
            "involvedObject": obj.get("regarding") or {},
            "message": obj.get("note") or "",
            "source": obj.get("deprecatedSource") or {},
            "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
            "lastTimestamp": obj.get("deprecatedLastTimestamp"),
            "count": obj.get("deprecatedCount"),
            "eventTime": obj.get("eventTime"),
            "series": obj.get("series"),
            "type": obj.get("type", ""),
            "reason": obj.get("reason", ""),
            "reportingController": obj.get("reportingController", ""),
            "reportingInstance": obj.get("reportingInstance", ""),
        }
    return {
        "involvedObject": obj.get("involvedObject") or {},
        "message": obj.get("message") or "",
        "source": obj.get("source") or {},
        "firstTimestamp": obj.get("firstTimestamp"),
        "lastTimestamp": obj.get("lastTimestamp"),
        "count": obj.get("count"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "type": obj.get("type", ""),
        "reason": obj.get("reason", ""),
        "reportingController": obj.get("reportingComponent", ""),
        "reportingInstance": obj.get("reportingInstance", ""),
    }


def _event_row(obj: Obj, now: datetime) -> Row:
    e = _event_fields(obj)
    first = since(e["firstTimestamp"], now) if e["firstTimestamp"] else since(e["eventTime"], now)
    last = since(e["lastTimestamp"], now) if e["lastTimestamp"] else first
    count = _int(e["count"])
    series = e["series"]
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        # Singleton events of the new API carry no count.
        count = 1
    involved = e["involvedObject"]
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = e["source"].get("component") or e["reportingController"]
    instance = e["source"].get("host") or e["reportingInstance"]
    source = f"{component}, {instance}" if instance else component
    cells = [
        last,
        e["type"],
        e["reason"],
        target,
        involved.get("fieldPath", ""),
        source,
        e["message"].strip(),
        first,
        count,
        _name(obj),
    ]
    return cells, None


EVENT_COLUMNS = [
    col(
        "Last Seen",
        description="The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        description="Type of this event (Normal, Warning), new types could be added in the future.",
    ),
    col(
        "Reason",
        description="This should be a short, machine understandable string that "
        "gives the reason for the transition into the object's current status.",
    ),
    col("Object", description="The object that this event is about."),
    col("Subobject", description="The subobject that this event is about.", priority=1),
    col(
        "Source",
        description="The component reporting this event. Should be a short machine "
        "understandable string.",
        priority=1,
    ),
    col("Message", description="A human-readable description of the status of this operation."),
    col("First Seen", description="The time at which the event was first recorded.", priority=1),
    col("Count", "integer", "The number of times this event has occurred.", priority=1),
    col("Name", "string", NAME_DESCRIPTION, priority=1, format_="name"),
]


def _ingress_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    host_text = ",".join(hosts[:3]) if hosts else "*"
    if len(hosts) > 3:
        host_text += f" + {len(hosts) - 3} more..."
    address = ",".join(_load_balancer_ips(status))
    ports = "80, 443" if spec.get("tls") else "80"
    cells = [
        _name(obj),
        spec.get("ingressClassName") or "<none>",
        host_text,
        address,
        ports,
        _age(obj, now),
    ]
    return cells, None


INGRESS_COLUMNS = [
    NAME_COL,
    col("Class", description="The name of the IngressClass resource."),
    col(
        "Hosts",
        description="Hosts that incoming requests are matched against before the ingress rule",
    ),
    col("Address", description="Address is a list containing ingress points for the load-balancer"),
    col("Ports", description="Ports of TLS configurations that open"),
    AGE_COL,
]


def _ingressclass_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    params = spec.get("parameters")
    params_text = "<none>"
    if params:
        group = params.get("apiGroup")
        kind = f"{params.get('kind', '')}.{group}" if group else params.get("kind", "")
        params_text = f"{kind}/{params.get('name', '')}"
    return [_name(obj), spec.get("controller", ""), params_text, _age(obj, now)], None


INGRESSCLASS_COLUMNS = [
    NAME_COL,
    col("Controller", description="Controller that is responsible for handling this class"),
    col("Parameters", description="A reference to a resource with additional parameters"),
    AGE_COL,
]


def _networkpolicy_row(obj: Obj, now: datetime) -> Row:
    selector = label_selector_display(_spec(obj).get("podSelector"))
    return [_name(obj), selector, _age(obj, now)], None


NETWORKPOLICY_COLUMNS = [
    NAME_COL,
    col("Pod-Selector", description="Selects the pods to which this NetworkPolicy object applies."),
    AGE_COL,
]


def _pdb_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    cells = [
        _name(obj),
        _int_or_string(spec.get("minAvailable")),
        _int_or_string(spec.get("maxUnavailable")),
        _int(status.get("disruptionsAllowed")),
        _age(obj, now),
    ]
    return cells, None


PDB_COLUMNS = [
    NAME_COL,
    col(
        "Min Available",
        description="The minimum number of pods that must be available simultaneously.",
    ),
    col(
        "Max Unavailable",
        description="The maximum number of pods that may be unavailable simultaneously.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE_COL,
]


def _created_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _created_at(obj)], None


CREATED_COLUMNS = [NAME_COL, CREATED_AT_COL]


def _binding_row(obj: Obj, now: datetime) -> Row:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in obj.get("subjects") or []:
        kind = subject.get("kind")
        if kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
    cells = [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]
    return cells, None


BINDING_COLUMNS = [
    NAME_COL,
    col("Role", description="Role referenced by this binding."),
    AGE_COL,
    col("Users", description="Users in the binding.", priority=1),
    col("Groups", description="Groups in the binding.", priority=1),
    col("ServiceAccounts", description="ServiceAccounts in the binding.", priority=1),
]

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storageclass_row(obj: Obj, now: datetime) -> Row:
    annotations = _meta(obj).get("annotations") or {}
    name = _name(obj)
    if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    cells = [
        name,
        obj.get("provisioner", ""),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        _age(obj, now),
    ]
    return cells, None


STORAGECLASS_COLUMNS = [
    NAME_COL,
    col("Provisioner", description="provisioner indicates the type of the provisioner."),
    col(
        "ReclaimPolicy",
        description="reclaimPolicy controls the reclaimPolicy for "
        "dynamically provisioned PersistentVolumes of this storage class.",
    ),
    col(
        "VolumeBindingMode",
        description="volumeBindingMode indicates how "
        "PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        "boolean",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE_COL,
]


def _lease_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), _spec(obj).get("holderIdentity") or "", _age(obj, now)], None


LEASE_COLUMNS = [
    NAME_COL,
    col(
        "Holder",
        description="holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE_COL,
]


def _priorityclass_row(obj: Obj, now: datetime) -> Row:
    cells = [
        _name(obj),
        _int(obj.get("value")),
        bool(obj.get("globalDefault")),
        _age(obj, now),
        obj.get("preemptionPolicy") or "PreemptLowerPriority",
    ]
    return cells, None


PRIORITYCLASS_COLUMNS = [
    NAME_COL,
    col("Value", "integer", "value represents the integer value of this priority class."),
    col(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass "
        "should be considered as the default priority.",
    ),
    AGE_COL,
    col(
        "PreemptionPolicy",
        description="preemptionPolicy is the Policy for preempting pods with lower priority.",
    ),
]


def _resource_sort_key(name: str) -> str:
    return name


def _resourcequota_row(obj: Obj, now: datetime) -> Row:
    status = _status(obj)
    hard = status.get("hard") or {}
    used = status.get("used") or {}
    requests, limits = [], []
    for resource in sorted(hard, key=_resource_sort_key):
        text = f"{resource}: {used.get(resource, '0')}/{hard[resource]}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    cells = [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]
    return cells, None


RESOURCEQUOTA_COLUMNS = [
    NAME_COL,
    AGE_COL,
    col(
        "Request",
        description="Request represents a minimum amount of cpu/memory that a "
        "container may consume.",
    ),
    col(
        "Limit",
        description="Limits control the maximum amount of cpu/memory that a "
        "container may use independent of contention on the node.",
    ),
]


def _controllerrevision_row(obj: Obj, now: datetime) -> Row:
    controller = "<none>"
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = ref.get("kind", "").lower()
            kind = f"{kind}.{group}" if group else kind
            controller = f"{kind}/{ref.get('name', '')}"
            break
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)], None


CONTROLLERREVISION_COLUMNS = [
    NAME_COL,
    col("Controller", description="Controller of the object."),
    col("Revision", "integer", "Revision indicates the revision of the state represented by Data."),
    AGE_COL,
]


def _webhook_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), len(obj.get("webhooks") or []), _age(obj, now)], None


WEBHOOK_COLUMNS = [
    NAME_COL,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks in the configuration."),
    AGE_COL,
]


def _podtemplate_row(obj: Obj, now: datetime) -> Row:
    template = obj.get("template") or {}
    names, images = containers_cells(template.get("spec"))
    labels = format_labels((template.get("metadata") or {}).get("labels"))
    return [_name(obj), names, images, labels], None


PODTEMPLATE_COLUMNS = [
    NAME_COL,
    col("Containers", description="Names of each container in the template."),
    col("Images", description="Images referenced by each container in the template."),
    col("Pod Labels", description="The labels for the pod template."),
]


# (group, kind) -> (columns, row function)
PRINTERS: dict[tuple[str, str], tuple[list[Column], RowFunc]] = {
    ("", "Pod"): (POD_COLUMNS, _pod_row),
    ("", "Node"): (NODE_COLUMNS, _node_row),
    ("", "Namespace"): (NAMESPACE_COLUMNS, _namespace_row),
    ("", "Service"): (SERVICE_COLUMNS, _service_row),
    ("", "Endpoints"): (ENDPOINTS_COLUMNS, _endpoints_row),
    ("", "ConfigMap"): (CONFIGMAP_COLUMNS, _configmap_row),
    ("", "Secret"): (SECRET_COLUMNS, _secret_row),
    ("", "ServiceAccount"): (SERVICEACCOUNT_COLUMNS, _serviceaccount_row),
    ("", "Event"): (EVENT_COLUMNS, _event_row),
    ("events.k8s.io", "Event"): (EVENT_COLUMNS, _event_row),
    ("", "PersistentVolume"): (PV_COLUMNS, _pv_row),
    ("", "PersistentVolumeClaim"): (PVC_COLUMNS, _pvc_row),
    ("", "ResourceQuota"): (RESOURCEQUOTA_COLUMNS, _resourcequota_row),
    ("", "LimitRange"): (CREATED_COLUMNS, _created_row),
    ("", "ReplicationController"): (REPLICASET_COLUMNS, _replicaset_row),
    ("", "PodTemplate"): (PODTEMPLATE_COLUMNS, _podtemplate_row),
    ("apps", "Deployment"): (DEPLOYMENT_COLUMNS, _deployment_row),
    ("apps", "ReplicaSet"): (REPLICASET_COLUMNS, _replicaset_row),
    ("apps", "DaemonSet"): (DAEMONSET_COLUMNS, _daemonset_row),
    ("apps", "StatefulSet"): (STATEFULSET_COLUMNS, _statefulset_row),
    ("apps", "ControllerRevision"): (CONTROLLERREVISION_COLUMNS, _controllerrevision_row),
    ("batch", "Job"): (JOB_COLUMNS, _job_row),
    ("batch", "CronJob"): (CRONJOB_COLUMNS, _cronjob_row),
    ("coordination.k8s.io", "Lease"): (LEASE_COLUMNS, _lease_row),
    ("discovery.k8s.io", "EndpointSlice"): (ENDPOINTSLICE_COLUMNS, _endpointslice_row),
    ("networking.k8s.io", "Ingress"): (INGRESS_COLUMNS, _ingress_row),
    ("networking.k8s.io", "IngressClass"): (INGRESSCLASS_COLUMNS, _ingressclass_row),
    ("networking.k8s.io", "NetworkPolicy"): (NETWORKPOLICY_COLUMNS, _networkpolicy_row),
    ("policy", "PodDisruptionBudget"): (PDB_COLUMNS, _pdb_row),
    ("rbac.authorization.k8s.io", "Role"): (CREATED_COLUMNS, _created_row),
    ("rbac.authorization.k8s.io", "ClusterRole"): (CREATED_COLUMNS, _created_row),
    ("rbac.authorization.k8s.io", "RoleBinding"): (BINDING_COLUMNS, _binding_row),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (BINDING_COLUMNS, _binding_row),
    ("scheduling.k8s.io", "PriorityClass"): (PRIORITYCLASS_COLUMNS, _priorityclass_row),
    ("storage.k8s.io", "StorageClass"): (STORAGECLASS_COLUMNS, _storageclass_row),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        WEBHOOK_COLUMNS,
        _webhook_row,
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        WEBHOOK_COLUMNS,
        _webhook_row,
    ),
}


# ---------------------------------------------------------------------------------------
# custom resources: additionalPrinterColumns with simple JSONPath


def _jsonpath_value(obj: Any, path: str) -> Any:
    """Evaluate the simple JSONPath of a printer column (`.spec.replicas`, `.a.b[0].c`)."""
    current: Any = obj
    for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path.strip().lstrip("{").rstrip("}")):
        if name:
            if not isinstance(current, dict) or name not in current:
                return None
            current = current[name]
        else:
            i = int(index)
            if not isinstance(current, list) or i >= len(current):
                return None
            current = current[i]
    return current


def crd_printer_columns(crd: dict[str, Any] | None, version: str) -> list[dict[str, Any]] | None:
    """The additionalPrinterColumns of one version of a CRD object (None when it has none).

    Pass the result as `to_table(..., printer_columns=...)` for that CRD's kind; the CRD
    is `customresourcedefinitions/{plural}.{group}` in the cluster's store.
    """
    for entry in ((crd or {}).get("spec") or {}).get("versions") or []:
        if entry.get("name") == version:
            return entry.get("additionalPrinterColumns") or None
    return None


def custom_columns(printer_columns: list[dict[str, Any]] | None) -> list[Column]:
    """Column definitions of a CRD version: NAME + its additionalPrinterColumns."""
    if not printer_columns:
        return [NAME_COL, AGE_COL]
    out = [NAME_COL]
    for pc in printer_columns:
        out.append(
            col(
                pc.get("name", ""),
                pc.get("type", "string"),
                pc.get("description", ""),
                priority=_int(pc.get("priority")),
                format_=pc.get("format", ""),
            )
        )
    return out


def _custom_row(printer_columns: list[dict[str, Any]] | None) -> RowFunc:
    def row(obj: Obj, now: datetime) -> Row:
        if not printer_columns:
            return [_name(obj), _age(obj, now)], None
        cells: list[Any] = [_name(obj)]
        for pc in printer_columns:
            value = _jsonpath_value(obj, pc.get("jsonPath", ""))
            if value is None:
                cells.append(None)
            elif pc.get("type") == "date":
                cells.append(since(value, now))
            else:
                cells.append(value)
        return cells, None

    return row


# ---------------------------------------------------------------------------------------


def columns_for(
    rt: ResourceType, printer_columns: list[dict[str, Any]] | None = None
) -> list[Column]:
    """The column definitions the Table of `rt` carries."""
    if rt.custom:
        return custom_columns(printer_columns)
    printer = PRINTERS.get((rt.group, rt.kind))
    return printer[0] if printer else CREATED_COLUMNS


def _fallback_cells(obj: Any, count: int) -> list[Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return [name if isinstance(name, str) else "", *([""] * (count - 1))]


def partial_metadata(obj: Obj) -> dict[str, Any]:
    """The PartialObjectMetadata a row carries for `includeObject=Metadata`."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _meta(obj),
    }


def to_table(
    rt: ResourceType,
    objects: list[Obj],
    *,
    now: datetime,
    include_object: str = "Metadata",
    wide: bool = True,
    headers: bool = True,
    list_metadata: dict[str, Any] | None = None,
    printer_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `meta.k8s.io/v1 Table` of `objects` of kind `rt`.

    `include_object` is the request's `includeObject` (None, Metadata, Object).
    `wide` keeps the priority-1 columns (the API server always renders them; kubectl
    hides them without `-o wide`). `headers=False` leaves out the column definitions, as
    upstream does for watch events after the first. `printer_columns` are a CRD version's
    additionalPrinterColumns. Raises ValueError on an unknown `include_object`.
    """
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(f"unknown includeObject {include_object!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    columns = columns_for(rt, printer_columns)
    if rt.custom:
        row_func = _custom_row(printer_columns)
    else:
        printer = PRINTERS.get((rt.group, rt.kind))
        row_func = printer[1] if printer else _created_row
    keep = [i for i, c in enumerate(columns) if wide or c["priority"] == 0]
    rows = []
    for obj in objects:
        try:
            cells, conditions = row_func(obj, now)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            # A stored object of the wrong shape (validation keeps these out) still
            # prints: its name and empty cells, never a 500 for the whole list.
            cells, conditions = _fallback_cells(obj, len(columns)), None
        row: dict[str, Any] = {"cells": [cells[i] for i in keep if i < len(cells)]}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_metadata or {}),
        "columnDefinitions": [columns[i] for i in keep] if headers else [],
        "rows": rows,
    }
    return table


def wants_table(accept: str | None) -> bool:
    """True when an Accept header asks for `as=Table;g=meta.k8s.io;v=v1`."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if {"as=Table", "g=meta.k8s.io"} <= params and ("v=v1" in params or "v=v1beta1" in params):
            return True
    return False

"""`crictl` on a node: containers, pod sandboxes, images and logs as containerd has them.

Tables are laid out like Go's tabwriter with crictl's settings (minimum cell width 20,
padding 3); CREATED reads like go-units' HumanDuration ("2 minutes ago").
"""

from __future__ import annotations

import json

from app.sim.nodes.kubelet import ContainerRec, PodRuntime, Slot
from app.sim.nodes.runtime import image_id, pull_error, repository_name, split_image
from app.sim.nodes.shell import (
    CommandResult,
    NodeShell,
    command,
    fail,
    ok,
    split_flags,
    tabwrite,
)

RUNTIME_DOWN = (
    "validate service connection: validate CRI v1 runtime API for endpoint "
    '"unix:///run/containerd/containerd.sock": rpc error: code = Unavailable desc = '
    'connection error: desc = "transport: Error while dialing: dial unix '
    '/run/containerd/containerd.sock: connect: no such file or directory"'
)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def _containers(sh: NodeShell) -> list[tuple[PodRuntime, Slot, ContainerRec]]:
    out = []
    for pod in sh.agent.pods.values():
        if pod.terminated and pod.terminating_since is None:
            continue
        for slot in pod.slots.values():
            for rec in (slot.previous, slot.current):
                if rec is not None and rec.started is not None:
                    out.append((pod, slot, rec))
    out.sort(key=lambda item: -(item[2].created))
    return out


@command("crictl")
def _crictl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(
        args,
        with_value={
            "name",
            "pod",
            "tail",
            "o",
            "output",
            "namespace",
            "state",
            "r",
            "runtime-endpoint",
        },
    )
    if not rest:
        return ok(
            "NAME:\n   crictl - client for CRI\n\nUSAGE:\n   crictl [global options] command "
            "[command options]\n"
        )
    verb, operands = rest[0], rest[1:]
    if verb == "version":
        return ok(
            "Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  "
            "v1.7.28\nRuntimeApiVersion:  v1\n"
        )
    if not sh.agent.runtime_running():
        return fail(
            f'time="{sh.stamp()}" level=fatal msg="{RUNTIME_DOWN}"'.replace(
                '"validate', '"validate'
            ),
            1,
        )
    now = sh.now().timestamp()
    if verb == "ps":
        return _ps(sh, opts, now)
    if verb == "pods":
        return _pods(sh, opts, now)
    if verb == "images" or verb == "img":
        return _images(sh, opts)
    if verb == "logs":
        return _logs(sh, opts, operands, now)
    if verb == "inspect":
        return _inspect(sh, operands, now)
    if verb == "pull":
        if not operands:
            return fail(f'time="{sh.stamp()}" level=fatal msg="image name cannot be empty"')
        error = pull_error(operands[0], sh.agent.bad_images)
        if error is not None:
            return fail(f'time="{sh.stamp()}" level=fatal msg="pulling image: {error}"')
        from app.sim.nodes.runtime import IMAGE_SIZES, normalize_image

        ref = normalize_image(operands[0])
        sh.agent.images.setdefault(ref, IMAGE_SIZES.get(repository_name(ref), 20_000_000))
        return ok(f"Image is up to date for {image_id(ref)}\n")
    if verb == "rmi":
        from app.sim.nodes.runtime import normalize_image

        out = []
        for op in operands:
            ref = normalize_image(op)
            if sh.agent.images.pop(ref, None) is None:
                return fail(f'time="{sh.stamp()}" level=fatal msg="no such image {op}"')
            out.append(f"Deleted: {ref}\n")
        return ok("".join(out))
    if verb == "stop":
        out = []
        for op in operands:
            found = _find(sh, op)
            if found is None or not found[2].running():
                return fail(
                    f'time="{sh.stamp()}" level=fatal msg="stopping the container \\"{op}\\": '
                    "rpc error: code = NotFound desc = an error occurred when try to find "
                    f'container \\"{op}\\": not found"'
                )
            sh.agent.stop_container(found[0], found[1])
            out.append(op + "\n")
        return ok("".join(out))
    return fail(f"No help topic for '{verb}'", 3)


def _ps(sh: NodeShell, opts: dict[str, str], now: float) -> CommandResult:
    show_all = "a" in opts or "all" in opts
    rows = [
        ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE"]
    ]
    ids = []
    for pod, slot, rec in _containers(sh):
        running = rec.running() and not pod.terminated
        if not show_all and not running:
            continue
        if opts.get("name") and opts["name"] not in slot.name:
            continue
        if opts.get("pod") and not pod.sandbox.startswith(opts["pod"]):
            continue
        state = "Running" if running else "Exited"
        if opts.get("state") and opts["state"].lower() != state.lower():
            continue
        ids.append(rec.id[:13])
        rows.append(
            [
                rec.id[:13],
                image_id(rec.image)[7:20],
                human_duration(now - rec.created) + " ago",
                state,
                slot.name,
                str(rec.attempt),
                pod.sandbox[:13],
                pod.name,
                pod.namespace,
            ]
        )
    if "q" in opts or "quiet" in opts:
        return ok("".join(i + "\n" for i in ids))
    if opts.get("o") == "json" or opts.get("output") == "json":
        return ok(
            json.dumps(
                {
                    "containers": [
                        {
                            "id": r[0],
                            "podSandboxId": r[6],
                            "metadata": {"name": r[4], "attempt": int(r[5])},
                            "state": "CONTAINER_RUNNING"
                            if r[3] == "Running"
                            else "CONTAINER_EXITED",
                            "labels": {
                                "io.kubernetes.pod.name": r[7],
                                "io.kubernetes.pod.namespace": r[8],
                            },
                        }
                        for r in rows[1:]
                    ]
                },
                indent=2,
            )
            + "\n"
        )
    return ok(tabwrite(rows))


def _pods(sh: NodeShell, opts: dict[str, str], now: float) -> CommandResult:
    rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
    for pod in sorted(sh.agent.pods.values(), key=lambda p: -p.created):
        if opts.get("name") and opts["name"] not in pod.name:
            continue
        if opts.get("namespace") and opts["namespace"] != pod.namespace:
            continue
        state = "NotReady" if pod.terminated or pod.terminating_since is not None else "Ready"
        rows.append(
            [
                pod.sandbox[:13],
                human_duration(now - pod.created) + " ago",
                state,
                pod.name,
                pod.namespace,
                "0",
                "(default)",
            ]
        )
    if "q" in opts or "quiet" in opts:
        return ok("".join(r[0] + "\n" for r in rows[1:]))
    return ok(tabwrite(rows))


def _images(sh: NodeShell, opts: dict[str, str]) -> CommandResult:
    rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
    for ref, size in sorted(sh.agent.images.items()):
        repo, tag = split_image(ref)
        rows.append([repo, tag, image_id(ref)[7:20], _size(size)])
    if "q" in opts or "quiet" in opts:
        return ok("".join(image_id(ref) + "\n" for ref in sorted(sh.agent.images)))
    return ok(tabwrite(rows))


def _size(size: int) -> str:
    # go-units HumanSize: decimal units with 4 significant digits.
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.4g}{unit}"
        value /= 1000
    return f"{value:.4g}TB"


def _find(sh: NodeShell, prefix: str) -> tuple[PodRuntime, Slot, ContainerRec] | None:
    matches = [c for c in _containers(sh) if c[2].id.startswith(prefix)]
    return matches[0] if prefix and matches else None


def _logs(sh: NodeShell, opts: dict[str, str], operands: list[str], now: float) -> CommandResult:
    if not operands:
        return fail(f'time="{sh.stamp()}" level=fatal msg="ID cannot be empty"')
    found = _find(sh, operands[0])
    if found is None:
        return fail(
            f'time="{sh.stamp()}" level=fatal msg="rpc error: code = NotFound desc = an error '
            f'occurred when try to find container \\"{operands[0]}\\": not found"'
        )
    _pod, slot, rec = found
    if "p" in opts or "previous" in opts:
        prev = slot.previous
        if prev is None:
            return fail(f'time="{sh.stamp()}" level=fatal msg="failed to get previous log"')
        rec = prev
    lines = sh.agent.container_lines(rec, now)
    tail = opts.get("tail")
    if tail is not None and tail.lstrip("-").isdigit() and int(tail) >= 0:
        lines = lines[-int(tail) :] if int(tail) else []
    # Container output goes to stderr or stdout as the process wrote it; klog writes
    # to stderr, which is where a learner's `2>&1 | grep` habit comes from.
    text = "".join(line + "\n" for line in lines)
    klog = any(line[:1] in "IWEF" and line[1:5].isdigit() for line in lines[:3])
    return CommandResult(0, "" if klog else text, text if klog else "")


def _inspect(sh: NodeShell, operands: list[str], now: float) -> CommandResult:
    if not operands:
        return fail(f'time="{sh.stamp()}" level=fatal msg="ID cannot be empty"')
    found = _find(sh, operands[0])
    if found is None:
        return fail(f'time="{sh.stamp()}" level=fatal msg="no such container \\"{operands[0]}\\""')
    pod, slot, rec = found
    state = "CONTAINER_RUNNING" if rec.running() else "CONTAINER_EXITED"
    doc = {
        "status": {
            "id": rec.id,
            "metadata": {"attempt": rec.attempt, "name": slot.name},
            "state": state,
            "image": {"image": rec.image},
            "imageRef": image_id(rec.image),
            "exitCode": rec.exit_code or 0,
            "reason": rec.reason,
            "labels": {
                "io.kubernetes.container.name": slot.name,
                "io.kubernetes.pod.name": pod.name,
                "io.kubernetes.pod.namespace": pod.namespace,
                "io.kubernetes.pod.uid": pod.key,
            },
            "logPath": (
                f"/var/log/pods/{pod.namespace}_{pod.name}_{pod.key}/{slot.name}/{rec.attempt}.log"
            ),
        },
        "info": {"sandboxID": pod.sandbox, "pid": 0 if not rec.running() else 4000 + rec.attempt},
    }
    return ok(json.dumps(doc, indent=2) + "\n")

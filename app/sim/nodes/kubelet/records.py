"""What the kubelet keeps per pod and container (`PodRuntime`, `Slot`,
`ContainerRec`), the kubelet's timing constants, and small helpers its parts share.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.sim.machinery.clock import rfc3339
from app.sim.nodes.runtime import (
    Program,
)

# core/v1 probe defaults: period 10 s, failureThreshold 3, successThreshold 1.
PROBE_PERIOD = 10
# Exit code of a container killed by SIGKILL (128 + 9), as containerd reports it.
SIGKILL_EXIT = 137

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _ts(epoch: float) -> str:
    return rfc3339(datetime.fromtimestamp(epoch, UTC))


def _hex_id(*parts: Any) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


# ---- runtime records -------------------------------------------------------------------


@dataclass
class ContainerRec:
    id: str
    attempt: int
    image: str
    created: float
    started: float | None
    program: dict[str, Any]
    finished: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    # Loop turns whose file writes are in the files (Program.writes), and the lines of
    # a followed file that were there before `tail -f` started (Program.follows).
    written: int = 0
    skipped: int | None = None

    def prog(self) -> Program:
        # Decoded once per container (not a dataclass field, so never dumped).
        cached = self.__dict__.get("_program")
        if cached is None:
            cached = Program.load(self.program)
            self.__dict__["_program"] = cached
        return cached

    def pid(self) -> int:
        """The process id of the container's main process on the node."""
        return 2000 + int(self.id[:6], 16) % 30000

    def exit_time(self) -> float | None:
        exit_after = self.program.get("exit_after")
        if self.finished is not None or self.started is None or exit_after is None:
            return None
        return self.started + float(exit_after)

    def running(self) -> bool:
        return self.started is not None and self.finished is None


@dataclass
class Slot:
    """One container of a pod across its restarts."""

    name: str
    init: bool = False
    restarts: int = 0
    current: ContainerRec | None = None
    previous: ContainerRec | None = None
    waiting: str = "ContainerCreating"
    waiting_message: str = ""
    next_try: float = 0.0
    backoff: float = 0.0
    pull_failures: int = 0
    started_ok: bool = False  # startup probe passed (or none)
    ready: bool = False
    probes: dict[str, dict[str, float]] = field(default_factory=dict)
    done: bool = False  # an init container that completed (a sidecar: that started)
    sidecar: bool = False  # an init container with restartPolicy Always (native sidecar)
    final: bool = False  # exited and will not be restarted (restartPolicy said so)
    kill_at: float | None = None  # when a terminating pod's container is stopped


@dataclass
class PodRuntime:
    key: str  # API uid, or the config hash of a static pod
    namespace: str
    name: str
    spec: dict[str, Any]
    static: bool = False
    source_file: str = ""
    ip: str = ""
    sandbox: str = ""
    created: float = 0.0
    slots: dict[str, Slot] = field(default_factory=dict)
    terminating_since: float | None = None
    terminated: bool = False
    events: list[list[Any]] = field(default_factory=list)  # [at, type, reason, message]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    version: int = 0  # bumped whenever something that shows in its status happened


def _slot_from(data: dict[str, Any]) -> Slot:
    slot = Slot(**{k: v for k, v in data.items() if k not in ("current", "previous")})
    slot.current = ContainerRec(**data["current"]) if data.get("current") else None
    slot.previous = ContainerRec(**data["previous"]) if data.get("previous") else None
    return slot


def _pod_from(data: dict[str, Any]) -> PodRuntime:
    pod = PodRuntime(**{k: v for k, v in data.items() if k != "slots"})
    pod.slots = {n: _slot_from(s) for n, s in data.get("slots", {}).items()}
    return pod


def _klog(epoch: float, severity: str, text: str, pid: int) -> str:
    # klog's header: severity, date, time, the process id padded to 7, file:line.
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{severity}{moment:%m%d %H:%M:%S.%f} {pid:>7} {text}"


def _q(text: str) -> str:
    return text.replace('"', '\\"')

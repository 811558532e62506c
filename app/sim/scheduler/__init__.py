"""The simulated kube-scheduler: a pure library over JSON-shaped Kubernetes objects.

`Scheduler` (scheduler.py) holds the profiles, the queue and the cache; plugins live in
`plugins/`, one module each; `messages.py` words events as upstream does.
"""

from app.sim.scheduler.actions import (
    Action,
    BindPod,
    DeletePod,
    PatchObject,
    PatchPodStatus,
    RecordEvent,
)
from app.sim.scheduler.framework import (
    Code,
    CycleState,
    Framework,
    PluginConfig,
    Profile,
    Registry,
    Status,
    default_profile,
)
from app.sim.scheduler.plugins import default_registry
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.scheduler import ClusterState, Scheduler, ScheduleResult
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

__all__ = [
    "Action",
    "BindPod",
    "ClusterState",
    "Code",
    "CycleState",
    "DeletePod",
    "Framework",
    "NodeInfo",
    "PatchObject",
    "PatchPodStatus",
    "PluginConfig",
    "PodInfo",
    "Profile",
    "RecordEvent",
    "Registry",
    "ScheduleResult",
    "Scheduler",
    "Snapshot",
    "Status",
    "default_profile",
    "default_registry",
]

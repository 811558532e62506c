"""The kubelet of one simulated node (`NodeAgent`, in agent.py), split by concern:
configuration and start-up errors, static and mirror pods, the pod worker, the prober,
status, events and logs, and the agent's snapshot."""

from app.sim.machinery.errors import LogError
from app.sim.nodes.kubelet.agent import NodeAgent, preloaded_images
from app.sim.nodes.kubelet.records import (
    MIRROR_ANNOTATION,
    ContainerRec,
    PodRuntime,
    Slot,
)

__all__ = [
    "MIRROR_ANNOTATION",
    "ContainerRec",
    "LogError",
    "NodeAgent",
    "PodRuntime",
    "Slot",
    "preloaded_images",
]

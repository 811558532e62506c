"""ImageLocality: prefer nodes that already hold the pod's images, weighted by image
size and by how widely the image is already spread (to avoid piling onto one node)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import NODE_ADD
from app.sim.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, StateKey, Status
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot, normalized_image_name

NAME = "ImageLocality"
# imagelocality/image_locality.go: scores grow from 23 MiB of present images up to
# 1000 MiB per container.
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


class _ImageState:
    __slots__ = ("images", "num_containers", "spread")

    def __init__(self, images: list[str], num_containers: int, spread: dict[str, float]):
        self.images = images
        self.num_containers = num_containers
        self.spread = spread


_STATE: StateKey[_ImageState] = StateKey("PreScoreImageLocality")


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    """Map the summed image score into 0..100 between the two thresholds."""
    if num_containers <= 0:
        return 0
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        spec = pod.pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
        images = [normalized_image_name(c.get("image") or "") for c in containers]
        total = len(snapshot.node_list) or 1
        spread = {image: snapshot.image_node_counts.get(image, 0) / total for image in images}
        if not any(spread.values()):
            # No node holds any of the images: every node would score 0.
            return SKIP
        state.write(_STATE, _ImageState(images, len(containers), spread))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        data = state.read(_STATE)
        if not node.image_sizes:
            return calculate_priority(0, data.num_containers)
        total = 0
        for image in data.images:
            size = node.image_sizes.get(image)
            if size is not None:
                total += int(size * data.spread[image])
        return calculate_priority(total, data.num_containers)

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD})


def new(args: Mapping[str, Any]) -> ImageLocality:
    return ImageLocality()

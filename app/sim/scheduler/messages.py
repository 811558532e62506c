"""Scheduler messages worded exactly as upstream (1.35).

`fit_error_message` is `framework.FitError.Error()`: "0/N nodes are available:", then
either the PreFilter message or a histogram of the Filter reasons ("count reason",
sorted as strings, joined by ", "), each part closed by a period, then the PostFilter
(preemption) message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from app.sim.scheduler.framework import Status

# framework/types.go
NO_NODE_AVAILABLE = "0/{} nodes are available"
# schedule_one.go ErrNoNodesAvailable
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
# preemption/preemption.go: statuses preemption gives each node
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS_FOUND = "No preemption victims found for incoming pod"
# preemption.go PodEligibleToPreemptOthers reasons
NOT_ELIGIBLE_POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


def reason_histogram(statuses: Iterable[Status]) -> list[str]:
    """["2 Insufficient cpu", "1 node(s) had untolerated taint(s)"] sorted as strings."""
    counts: Counter[str] = Counter()
    for status in statuses:
        for reason in status.reasons:
            counts[reason] += 1
    return sorted(f"{count} {reason}" for reason, count in counts.items())


def _sentence(text: str) -> str:
    # The separator adds a period unless the part already ends with one, which keeps
    # "... scheduling." from becoming "... scheduling.." (fixed upstream in 1.29).
    return f" {text}" if text.endswith(".") else f" {text}."


def fit_error_message(
    num_all_nodes: int,
    node_statuses: Mapping[str, Status],
    pre_filter_message: str = "",
    post_filter_message: str = "",
) -> str:
    """The FailedScheduling message for a pod no node could take."""
    message = NO_NODE_AVAILABLE.format(num_all_nodes) + ":"
    if pre_filter_message:
        message += _sentence(pre_filter_message)
    else:
        histogram = reason_histogram(node_statuses.values())
        if histogram:
            message += _sentence(", ".join(histogram))
    if post_filter_message:
        message += _sentence(post_filter_message)
    return message


def preemption_message(num_all_nodes: int, node_statuses: Mapping[str, Status]) -> str:
    """PostFilter message when no node can be made to fit by preemption."""
    inner = fit_error_message(num_all_nodes, node_statuses)
    return "preemption: " + inner


def scheduled_message(namespace: str, name: str, node_name: str) -> str:
    """The `Scheduled` event note (schedule_one.go)."""
    return f"Successfully assigned {namespace}/{name} to {node_name}"


def preempted_message(preemptor_uid: str, node_name: str) -> str:
    """The `Preempted` event note on each victim (preemption.go)."""
    return f"Preempted by pod {preemptor_uid} on node {node_name}"

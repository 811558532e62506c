"""Telling a cluster whose API server is down from a cluster that cannot be reached.

A grade must not be computed from a partial read of a cluster that is gone or behind a
broken network (the grading job retries instead). But a learner can stop a cluster's
API server themselves (a broken `kube-apiserver.yaml` static pod manifest): that state
is graded like any other, and checks that read the API fail. The two look alike from
the API client (the connection fails); they differ on the nodes: the machines of a
cluster whose API server is down still answer node access (the simulator's node
routes, `docker exec` on kind).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from app.grading.reader import ApiConnectionError, ClusterReader, ClusterUnreachableError


@runtime_checkable
class NodeLiveness(Protocol):
    """Node access that can tell whether the cluster's machines answer."""

    def answers(self) -> bool:
        """Whether a node of the cluster runs a command now."""
        ...


def nodes_answer(node_access: object) -> bool:
    """Whether the cluster's nodes answer; False for node access that cannot tell."""
    return isinstance(node_access, NodeLiveness) and bool(node_access.answers())


def api_server_down(reader: ClusterReader, node_access: object, exc: Exception) -> bool:
    """After a failed connection to the API server (`exc`): when the cluster's nodes
    answer, its API server is down. The reader is marked so (every later request fails
    at once with `ApiServerDownError`) and True is returned; otherwise False (the
    caller lets the failure propagate)."""
    if not isinstance(exc, ApiConnectionError) or not nodes_answer(node_access):
        return False
    reader.mark_api_down(str(exc))
    return True


def ensure_cluster_alive(reader: ClusterReader, node_access: object) -> None:
    """`reader.ensure_alive()`, except that a cluster whose nodes answer while its API
    server refuses connections is alive with its API server down (the reader is then
    marked). Raises `ClusterUnreachableError` (or `ClusterGoneError`) otherwise."""
    if reader.api_down is not None:
        if not nodes_answer(node_access):
            raise ClusterUnreachableError(
                f"neither the API server nor the nodes answer ({reader.api_down})"
            )
        return
    try:
        reader.ensure_alive()
    except ApiConnectionError as exc:
        if not api_server_down(reader, node_access, exc):
            raise

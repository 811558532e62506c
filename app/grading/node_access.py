"""Reaching a cluster's nodes: reading files and running commands.

Cluster providers implement `NodeAccess` (the simulator through its virtual node file
systems and shells, kind through `docker exec`). `SimulatorNodeAccess` adapts the
simulator's node library (`app.sim.nodes.ClusterNodes`) in-process.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class NodeAccessError(Exception):
    """The node or file does not exist, or the node cannot be reached."""


@runtime_checkable
class NodeAccess(Protocol):
    """What checks need of a node."""

    def read_file(self, node: str, path: str) -> str:
        """The text of a file on `node`; NodeAccessError when it cannot be read."""
        ...

    def exec(self, node: str, command: str) -> tuple[int, str, str]:
        """Run a shell command line on `node`; (exit code, stdout, stderr).
        NodeAccessError when the node cannot be reached."""
        ...


class NoNodeAccess:
    """For backends or tests without node access: every call fails with a clear reason."""

    def read_file(self, node: str, path: str) -> str:
        raise NodeAccessError("this cluster offers no node access")

    def exec(self, node: str, command: str) -> tuple[int, str, str]:
        raise NodeAccessError("this cluster offers no node access")


class SimulatorNodeAccess:
    """Node access over a simulator cluster's `ClusterNodes` (same process)."""

    def __init__(self, nodes: Any) -> None:
        self.nodes = nodes

    def read_file(self, node: str, path: str) -> str:
        from app.sim.nodes import FsError

        if node not in self.nodes.agents:
            raise NodeAccessError(f"no node {node!r}")
        try:
            text: str = self.nodes.read_file(node, path)
            return text
        except FsError as exc:
            raise NodeAccessError(str(exc)) from exc

    def exec(self, node: str, command: str) -> tuple[int, str, str]:
        if node not in self.nodes.agents:
            raise NodeAccessError(f"no node {node!r}")
        result = self.nodes.shell(node).run(command)
        return result.exit_code, result.stdout, result.stderr

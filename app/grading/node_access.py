"""Reaching a cluster's nodes: reading files and running commands.

Cluster providers implement `NodeAccess` (the simulator through its virtual node file
systems and shells, kind through `docker exec`); grading never imports the simulator.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


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

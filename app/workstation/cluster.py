"""What the workstation reaches of a lab session's cluster: kubectl, the node shells and
node files. `SessionCluster` wires them to a cluster provider and its handle (as the
REST node API does) and a `KubectlRunner` with the session's kubeconfig."""

from __future__ import annotations

from typing import Any, Protocol

from app.workstation.kubectl import KubectlResult, KubectlRunner


class ClusterUnavailable(Exception):
    """A node could not be reached or a node file is missing; the message says which."""


class ClusterAccess(Protocol):
    nodes: list[str]

    def kubectl(
        self, argv: list[str], stdin: str, namespace: str | None
    ) -> tuple[KubectlResult, str | None]: ...

    def cancel(self) -> None: ...

    def node_exec(self, node: str, command: str) -> tuple[int, str, str]: ...

    def read_node_file(self, node: str, path: str) -> str: ...

    def write_node_file(self, node: str, path: str, content: str) -> None: ...


class SessionCluster:
    """A session's cluster through its provider (`app.clusters`)."""

    def __init__(
        self, provider: Any, handle: Any, kubeconfig: str, nodes: list[str], **runner: Any
    ) -> None:
        self.provider = provider
        self.handle = handle
        self.nodes = list(nodes)
        self.runner = KubectlRunner(kubeconfig, **runner)

    def kubectl(
        self, argv: list[str], stdin: str, namespace: str | None
    ) -> tuple[KubectlResult, str | None]:
        return self.runner.run(argv, stdin, namespace)

    def cancel(self) -> None:
        self.runner.cancel()

    def node_exec(self, node: str, command: str) -> tuple[int, str, str]:
        from app.clusters.base import ProviderError

        try:
            return self.provider.exec(self.handle, node, command)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

    def read_node_file(self, node: str, path: str) -> str:
        from app.clusters.base import ProviderError

        try:
            return self.provider.read_file(self.handle, node, path)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

    def write_node_file(self, node: str, path: str, content: str) -> None:
        from app.clusters.base import ProviderError

        try:
            self.provider.write_file(self.handle, node, path, content)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

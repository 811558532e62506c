"""What the workstation reaches of a lab session's or an exam attempt's clusters: kubectl,
the node shells and node files. `SessionCluster` wires them to a cluster provider and
its handle (as the REST node API does) and a `KubectlRunner` with the session's
kubeconfig; `ContextClusters` to an exam attempt's clusters, one per kubeconfig
context, following the context kubectl uses."""

from __future__ import annotations

import copy
from typing import Any, Protocol

import yaml

from app.workstation.kubectl import KubectlResult, KubectlRunner


class ClusterUnavailable(Exception):
    """A node could not be reached or a node file is missing; the message says which."""


class ClusterAccess(Protocol):
    @property
    def nodes(self) -> list[str]: ...

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


class ContextClusters:
    """A mock exam attempt's clusters, one per kubeconfig context (`handles` and `nodes`
    by context name). kubectl runs with the attempt's kubeconfig (every context) as the
    workstation left it: its current context (`kubectl config use-context k8s-b`
    switches it, as on the exam's own terminal) and each context's namespace
    (`kubectl config set-context --current --namespace=x`). `ssh NODE` reaches the
    nodes of the current context's cluster. The rest of the kubeconfig is the
    attempt's, rewritten for every command: contexts, clusters or users added, renamed
    or deleted by a command do not stick."""

    def __init__(
        self,
        provider: Any,
        handles: dict[str, Any],
        kubeconfig: str,
        nodes: dict[str, list[str]],
        **runner: Any,
    ) -> None:
        self.provider = provider
        self.handles = dict(handles)
        self.context_nodes = {context: list(names) for context, names in nodes.items()}
        self.base = yaml.safe_load(kubeconfig) or {}
        first = self.base.get("current-context")
        self.context: str = first if first in self.context_nodes else next(iter(nodes), "")
        self.namespaces: dict[str, str | None] = {}
        self.runner = KubectlRunner(kubeconfig, **runner)

    @property
    def contexts(self) -> list[str]:
        return list(self.context_nodes)

    @property
    def nodes(self) -> list[str]:
        return self.context_nodes.get(self.context, [])

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("context") in self.context_nodes:
            self.context = state["context"]
        for context, namespace in (state.get("namespaces") or {}).items():
            if context in self.context_nodes and (namespace is None or isinstance(namespace, str)):
                self.namespaces[context] = namespace

    def to_state(self) -> dict[str, Any]:
        return {"context": self.context, "namespaces": dict(self.namespaces)}

    def _kubeconfig(self) -> str:
        config = copy.deepcopy(self.base)
        config["current-context"] = self.context
        for entry in config.get("contexts") or []:
            name = entry.get("name")
            if name not in self.namespaces:
                continue
            context = entry.setdefault("context", {})
            if self.namespaces[name]:
                context["namespace"] = self.namespaces[name]
            else:
                context.pop("namespace", None)
        return yaml.safe_dump(config)

    def kubectl(
        self, argv: list[str], stdin: str, namespace: str | None
    ) -> tuple[KubectlResult, str | None]:
        """Run kubectl; `namespace` (the workstation's) is ignored: each context keeps
        its own. Returns the result and the (new) current context's namespace."""
        self.runner.kubeconfig = self._kubeconfig()
        result, _ = self.runner.run(argv, stdin, None)
        after = self.runner.last_config
        for entry in after.get("contexts") or []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if name in self.context_nodes:
                self.namespaces[name] = (entry.get("context") or {}).get("namespace") or None
        if self.runner.current_context in self.context_nodes:
            self.context = self.runner.current_context
        return result, self.namespaces.get(self.context)

    def cancel(self) -> None:
        self.runner.cancel()

    def _handle(self, node: str) -> Any:
        if node not in self.nodes:
            raise ClusterUnavailable(f"context {self.context} has no node {node}")
        return self.handles[self.context]

    def node_exec(self, node: str, command: str) -> tuple[int, str, str]:
        from app.clusters.base import ProviderError

        handle = self._handle(node)
        try:
            return self.provider.exec(handle, node, command)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

    def read_node_file(self, node: str, path: str) -> str:
        from app.clusters.base import ProviderError

        handle = self._handle(node)
        try:
            return self.provider.read_file(handle, node, path)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

    def write_node_file(self, node: str, path: str, content: str) -> None:
        from app.clusters.base import ProviderError

        handle = self._handle(node)
        try:
            self.provider.write_file(handle, node, path, content)
        except ProviderError as exc:
            raise ClusterUnavailable(str(exc)) from exc

"""Tab completion as bash with kubectl's completion script offers it: command names and
aliases, kubectl subcommands, resource types, resource names (asked of the cluster with
`kubectl get TYPE -o name`), node names after `ssh`, and workstation paths."""

from __future__ import annotations

import posixpath

from app.workstation.kubectl import ALLOWED
from app.workstation.shell import COMMANDS, Workstation

RESOURCE_TYPES = [
    "all", "certificatesigningrequests", "clusterrolebindings", "clusterroles",
    "configmaps", "cronjobs", "daemonsets", "deployments", "endpoints", "events",
    "horizontalpodautoscalers", "ingresses", "jobs", "leases", "limitresourcequotas",
    "namespaces", "networkpolicies", "nodes", "persistentvolumeclaims",
    "persistentvolumes", "poddisruptionbudgets", "pods", "priorityclasses",
    "replicasets", "resourcequotas", "rolebindings", "roles", "secrets",
    "serviceaccounts", "services", "statefulsets", "storageclasses",
]  # fmt: skip
SHORT_NAMES = {
    "po": "pods", "no": "nodes", "ns": "namespaces", "deploy": "deployments",
    "svc": "services", "cm": "configmaps", "ds": "daemonsets", "rs": "replicasets",
    "sts": "statefulsets", "sa": "serviceaccounts", "pv": "persistentvolumes",
    "pvc": "persistentvolumeclaims", "ing": "ingresses", "netpol": "networkpolicies",
    "ep": "endpoints", "cj": "cronjobs", "sc": "storageclasses", "pod": "pods",
    "node": "nodes", "deployment": "deployments", "service": "services",
}  # fmt: skip
NAMED_VERBS = {
    "get", "describe", "delete", "label", "annotate", "scale", "edit", "logs",
    "cordon", "uncordon", "drain", "taint", "expose", "rollout", "exec", "top", "patch",
}  # fmt: skip
NODE_VERBS = {"cordon", "uncordon", "drain", "taint"}
POD_VERBS = {"logs", "exec"}
MAX_NAMES = 200


def _common_prefix(words: list[str]) -> str:
    if not words:
        return ""
    shortest = min(words, key=len)
    for index, char in enumerate(shortest):
        if any(w[index] != char for w in words):
            return shortest[:index]
    return shortest


def complete(ws: Workstation, line: str) -> tuple[str, list[str]]:
    """Complete the last word of `line` (the text before the cursor). Returns the new
    line (the word extended as far as all matches agree, plus a space when only one
    matches) and the candidates to show when several match."""
    words = line.split(" ")
    current = words[-1]
    before = [w for w in words[:-1] if w]
    candidates = _candidates(ws, before, current)
    matches = sorted({c for c in candidates if c.startswith(current)})
    if not matches:
        return line, []
    if len(matches) == 1:
        done = matches[0]
        suffix = "" if done.endswith("/") else " "
        return line[: len(line) - len(current)] + done + suffix, []
    prefix = _common_prefix(matches)
    return line[: len(line) - len(current)] + prefix, matches[:MAX_NAMES]


def _candidates(ws: Workstation, before: list[str], current: str) -> list[str]:
    if ws.node:
        return []
    if not before:
        return [*COMMANDS, *ws.aliases]
    first = before[0]
    alias = ws.aliases.get(first, "")
    if first == "kubectl" or alias.split()[:1] == ["kubectl"]:
        return _kubectl_candidates(ws, before[1:], current)
    if first == "ssh":
        return list(ws.cluster.nodes) if ws.cluster else []
    return _paths(ws, current)


def _paths(ws: Workstation, current: str) -> list[str]:
    folder_text, _, _ = current.rpartition("/")
    folder = ws.path(folder_text or ("/" if current.startswith("/") else "."))
    if not ws.fs.is_dir(folder):
        return []
    prefix = f"{folder_text}/" if "/" in current else ""
    return [
        prefix + name + ("/" if ws.fs.is_dir(posixpath.join(folder, name)) else "")
        for name in ws.fs.children(folder)
    ]


def _kubectl_candidates(ws: Workstation, args: list[str], current: str) -> list[str]:
    if args and args[-1] in ("-f", "--filename"):
        return _paths(ws, current)
    if args and args[-1] in ("-n", "--namespace"):
        return _names(ws, "namespaces")
    positional = [a for a in args if not a.startswith("-")]
    if not positional:
        return sorted(ALLOWED)
    verb = positional[0]
    if verb == "config":
        return _config_candidates(ws, positional[1:])
    if verb not in NAMED_VERBS:
        return []
    if verb in NODE_VERBS:
        return _names(ws, "nodes") if len(positional) == 1 else []
    if verb in POD_VERBS:
        return _names(ws, "pods", args) if len(positional) == 1 else []
    if len(positional) == 1:
        return [*RESOURCE_TYPES, *SHORT_NAMES]
    if len(positional) == 2:
        kind = SHORT_NAMES.get(positional[1], positional[1])
        if kind in RESOURCE_TYPES and kind != "all":
            return _names(ws, kind, args)
    return []


# `kubectl config` subcommands (kubectl's own list, less those refused here).
CONFIG_VERBS = [
    "current-context", "delete-context", "get-clusters", "get-contexts", "get-users",
    "rename-context", "set", "set-context", "unset", "use-context", "view",
]  # fmt: skip
CONTEXT_VERBS = ("use-context", "use", "set-context", "delete-context", "rename-context")


def _config_candidates(ws: Workstation, words: list[str]) -> list[str]:
    """`kubectl config <Tab>`: its subcommands; `kubectl config use-context <Tab>`: the
    kubeconfig's contexts, as kubectl lists them."""
    if not words:
        return CONFIG_VERBS
    if len(words) > 1 or words[0] not in CONTEXT_VERBS or ws.cluster is None:
        return []
    result, _ = ws.cluster.kubectl(["config", "get-contexts", "-o", "name"], "", ws.namespace)
    return result.stdout.split() if result.exit_code == 0 else []


def _names(ws: Workstation, kind: str, args: list[str] | None = None) -> list[str]:
    """Names of the cluster's objects of `kind` (in the namespace the line names)."""
    if ws.cluster is None:
        return []
    argv = ["get", kind, "-o", "name"]
    args = args or []
    for i, a in enumerate(args):
        if a in ("-n", "--namespace") and i + 1 < len(args):
            argv += ["-n", args[i + 1]]
        elif a.startswith("--namespace="):
            argv.append(a)
        elif a in ("-A", "--all-namespaces"):
            return []
    result, _ = ws.cluster.kubectl(argv, "", ws.namespace)
    if result.exit_code != 0:
        return []
    return [line.rpartition("/")[2] for line in result.stdout.splitlines() if line][:MAX_NAMES]

"""The API Priority and Fairness objects a kube-apiserver creates at start
(k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap: mandatory and suggested
configuration), so `kubectl get flowschemas,prioritylevelconfigurations` lists
upstream's defaults. They are stored and shown; requests are not queued by them.
"""

from __future__ import annotations

from typing import Any

GROUP = "flowcontrol.apiserver.k8s.io"
API_VERSION = f"{GROUP}/v1"
_ANNOTATIONS = {"apf.kubernetes.io/autoupdate-spec": "true"}

# name -> (nominal concurrency shares, (queues, handSize, queueLengthLimit) or None to
# reject, lendablePercent); "exempt" is the Exempt level.
LEVELS: dict[str, tuple[int, tuple[int, int, int] | None, int]] = {
    "catch-all": (5, None, 0),
    "global-default": (20, (128, 6, 50), 50),
    "leader-election": (10, (16, 4, 50), 0),
    "node-high": (40, (64, 6, 50), 25),
    "system": (30, (64, 6, 50), 33),
    "workload-high": (40, (128, 6, 50), 50),
    "workload-low": (100, (128, 6, 50), 90),
}
# name -> (precedence, level, distinguisher or "", subject groups or users)
SCHEMAS: tuple[tuple[str, int, str, str, tuple[str, ...]], ...] = (
    ("exempt", 1, "exempt", "", ("group:system:masters",)),
    ("probes", 2, "exempt", "", ("group:system:unauthenticated", "group:system:authenticated")),
    ("system-leader-election", 100, "leader-election", "ByUser",
     ("user:system:kube-controller-manager", "user:system:kube-scheduler")),
    ("endpoint-controller", 150, "workload-high", "ByUser",
     ("user:system:kube-controller-manager",)),
    ("workload-leader-election", 200, "leader-election", "ByUser",
     ("group:system:serviceaccounts",)),
    ("system-node-high", 400, "node-high", "ByUser", ("group:system:nodes",)),
    ("system-nodes", 500, "system", "ByUser", ("group:system:nodes",)),
    ("kube-controller-manager", 800, "workload-high", "ByNamespace",
     ("user:system:kube-controller-manager",)),
    ("kube-scheduler", 800, "workload-high", "ByNamespace", ("user:system:kube-scheduler",)),
    ("kube-system-service-accounts", 900, "workload-high", "ByNamespace",
     ("serviceaccount:kube-system:*",)),
    ("service-accounts", 9000, "workload-low", "ByUser", ("group:system:serviceaccounts",)),
    ("global-default", 9900, "global-default", "ByUser",
     ("group:system:unauthenticated", "group:system:authenticated")),
    ("catch-all", 10000, "catch-all", "ByUser",
     ("group:system:unauthenticated", "group:system:authenticated")),
)  # fmt: skip


def _subject(text: str) -> dict[str, Any]:
    kind, _, name = text.partition(":")
    if kind == "group":
        return {"kind": "Group", "group": {"name": name}}
    if kind == "serviceaccount":
        namespace, _, account = name.partition(":")
        return {
            "kind": "ServiceAccount",
            "serviceAccount": {"namespace": namespace, "name": account},
        }
    return {"kind": "User", "user": {"name": name}}


def _level(name: str) -> dict[str, Any]:
    meta = {"name": name, "annotations": dict(_ANNOTATIONS)}
    if name == "exempt":
        spec: dict[str, Any] = {
            "type": "Exempt",
            "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0},
        }
    else:
        shares, queuing, lendable = LEVELS[name]
        response: dict[str, Any] = {"type": "Reject"}
        if queuing is not None:
            queues, hand, limit = queuing
            response = {
                "type": "Queue",
                "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": limit},
            }
        spec = {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": shares,
                "lendablePercent": lendable,
                "limitResponse": response,
            },
        }
    return {
        "apiVersion": API_VERSION,
        "kind": "PriorityLevelConfiguration",
        "metadata": meta,
        "spec": spec,
        "status": {},
    }


def _dangling(level: str) -> dict[str, Any]:
    """The apiserver's configuration controller's verdict: the level exists."""
    return {
        "type": "Dangling",
        "status": "False",
        "reason": "Found",
        "message": "This FlowSchema references the PriorityLevelConfiguration object named "
        f'"{level}" and it exists',
    }


def _schema(name: str, precedence: int, level: str, method: str, subjects: tuple[str, ...]) -> dict:
    rule = {
        "subjects": [_subject(s) for s in subjects],
        "resourceRules": [
            {
                "verbs": ["*"],
                "apiGroups": ["*"],
                "resources": ["*"],
                "clusterScope": True,
                "namespaces": ["*"],
            }
        ],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
    }
    spec: dict[str, Any] = {
        "priorityLevelConfiguration": {"name": level},
        "matchingPrecedence": precedence,
        "rules": [rule],
    }
    if method:
        spec["distinguisherMethod"] = {"type": method}
    return {
        "apiVersion": API_VERSION,
        "kind": "FlowSchema",
        "metadata": {"name": name, "annotations": dict(_ANNOTATIONS)},
        "spec": spec,
        "status": {"conditions": [_dangling(level)]},
    }


def objects() -> list[tuple[str, str, dict[str, Any]]]:
    """(group, plural, object) for every default level, then every default schema."""
    levels = [(GROUP, "prioritylevelconfigurations", _level(n)) for n in ("exempt", *LEVELS)]
    schemas = [(GROUP, "flowschemas", _schema(*row)) for row in SCHEMAS]
    return levels + schemas

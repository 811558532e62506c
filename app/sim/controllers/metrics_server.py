"""The metrics-server add-on as CKA practice clusters install it (its release's
`components.yaml` with `--kubelet-insecure-tls`): ServiceAccount, the aggregated
metrics reader ClusterRole, Service and Deployment in `kube-system`, and the
`v1beta1.metrics.k8s.io` APIService that routes the Metrics API to that Service.

The Deployment is an ordinary workload: its pod becomes Ready after the readiness
probe's 20 s initial delay, the Service then has an endpoint, and the aggregator
(`app.sim.apiserver.aggregator`) marks the APIService Available. Scaled to zero (or
with a broken image) the APIService turns `False (MissingEndpoints)` and
`kubectl top` answers `error: Metrics API not available`.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

METRICS_SERVER_IMAGE = "registry.k8s.io/metrics-server/metrics-server:v0.8.0"
LABELS = {"k8s-app": "metrics-server"}
NAMESPACE = "kube-system"
CLUSTER_IP = "10.108.37.104"


def _deployment() -> dict[str, Any]:
    container = {
        "name": "metrics-server",
        "image": METRICS_SERVER_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "--cert-dir=/tmp",
            "--secure-port=10250",
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s",
            "--kubelet-insecure-tls",
        ],
        "ports": [{"containerPort": 10250, "name": "https", "protocol": "TCP"}],
        "livenessProbe": {
            "failureThreshold": 3,
            "httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"},
            "periodSeconds": 10,
        },
        "readinessProbe": {
            "failureThreshold": 3,
            "httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
            "initialDelaySeconds": 20,
            "periodSeconds": 10,
        },
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp-dir"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "metrics-server", "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(LABELS)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "containers": [container],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "metrics-server",
                    "volumes": [{"emptyDir": {}, "name": "tmp-dir"}],
                },
            },
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            # A fixed address off the low end of the range, which the allocator hands
            # out in order to the learner's Services.
            "clusterIP": CLUSTER_IP,
            "clusterIPs": [CLUSTER_IP],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
            "selector": dict(LABELS),
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def _reader_role() -> dict[str, Any]:
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "system:aggregated-metrics-reader",
            "labels": {
                **LABELS,
                f"{aggregate}admin": "true",
                f"{aggregate}edit": "true",
                f"{aggregate}view": "true",
            },
        },
        "rules": [
            {
                "apiGroups": ["metrics.k8s.io"],
                "resources": ["pods", "nodes"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }


def _api_service() -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": dict(LABELS)},
        "spec": {
            "group": "metrics.k8s.io",
            "groupPriorityMinimum": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": "metrics-server", "namespace": NAMESPACE, "port": 443},
            "version": "v1beta1",
            "versionPriority": 100,
        },
    }


@lru_cache(maxsize=1)
def _templates() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "metrics-server", "namespace": NAMESPACE, "labels": dict(LABELS)},
    }
    return (
        ("", "serviceaccounts", account),
        ("rbac.authorization.k8s.io", "clusterroles", _reader_role()),
        ("", "services", _service()),
        ("apps", "deployments", _deployment()),
        ("apiregistration.k8s.io", "apiservices", _api_service()),
    )


def metrics_server_objects() -> list[tuple[str, str, dict[str, Any]]]:
    """(group, plural, object) of the metrics-server add-on, fresh copies each call."""
    return [(g, p, copy.deepcopy(obj)) for g, p, obj in _templates()]

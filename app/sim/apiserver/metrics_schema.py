"""OpenAPI definitions of the metrics.k8s.io kinds, which the `kubernetes` client package
has no models for (metrics-server publishes them under io.k8s.metrics.pkg.apis.metrics):
NodeMetrics, PodMetrics, ContainerMetrics and the two lists."""

from __future__ import annotations

from typing import Any

PACKAGE = "io.k8s.metrics.pkg.apis.metrics.v1beta1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def _usage() -> dict[str, Any]:
    return {
        "description": "The memory working set and CPU usage over the window.",
        "type": "object",
        "additionalProperties": _ref(QUANTITY),
    }


def _typed(description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "required": required,
        "properties": {
            "apiVersion": {"description": "The versioned schema of this object.", "type": "string"},
            "kind": {"description": "The REST resource this object represents.", "type": "string"},
            **properties,
        },
    }


def _item(description: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return _typed(
        description,
        {
            "metadata": _ref(f"{META}.ObjectMeta"),
            "timestamp": {
                "description": "The end of the window the usage was measured over.",
                "type": "string",
                "format": "date-time",
            },
            "window": {"description": "How long the usage was measured over.", "type": "string"},
            **extra,
        },
        ["timestamp", "window", *required],
    )


def _list(item: str) -> dict[str, Any]:
    return _typed(
        f"A list of {item}.",
        {
            "metadata": _ref(f"{META}.ListMeta"),
            "items": {"type": "array", "items": _ref(f"{PACKAGE}.{item}")},
        },
        ["items"],
    )


# (group, version, kind) -> (definition name, schema); ContainerMetrics has no kind.
DEFINITIONS: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {
    ("metrics.k8s.io", "v1beta1", "NodeMetrics"): (
        f"{PACKAGE}.NodeMetrics",
        _item("The resource usage of a node.", {"usage": _usage()}, ["usage"]),
    ),
    ("metrics.k8s.io", "v1beta1", "PodMetrics"): (
        f"{PACKAGE}.PodMetrics",
        _item(
            "The resource usage of a pod's containers.",
            {"containers": {"type": "array", "items": _ref(f"{PACKAGE}.ContainerMetrics")}},
            ["containers"],
        ),
    ),
    ("metrics.k8s.io", "v1beta1", "NodeMetricsList"): (
        f"{PACKAGE}.NodeMetricsList",
        _list("NodeMetrics"),
    ),
    ("metrics.k8s.io", "v1beta1", "PodMetricsList"): (
        f"{PACKAGE}.PodMetricsList",
        _list("PodMetrics"),
    ),
}
CONTAINER_METRICS = (
    f"{PACKAGE}.ContainerMetrics",
    {
        "description": "The resource usage of one container.",
        "type": "object",
        "required": ["name", "usage"],
        "properties": {
            "name": {"description": "The container's name.", "type": "string"},
            "usage": _usage(),
        },
    },
)

"""How controllers write: creates go through the API request pipeline when a cluster is
known, so the pods a ReplicaSet makes get defaults and admission (ServiceAccount token
volume, DefaultTolerationSeconds, Priority, ResourceQuota) exactly like pods a user
creates; updates and deletes go straight to the store, as a controller's status writes
skip everything but persistence upstream too.
"""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Any

from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore

if TYPE_CHECKING:
    from app.sim.machinery.cluster import Cluster

# What kube-controller-manager's client-go sends; the pipeline names the field manager
# after the first word of the User-Agent, so managedFields show `kube-controller-manager`.
USER_AGENT = "kube-controller-manager/v1.36.2 (linux/amd64) kubernetes/5d1a1ba"


class ApiClient:
    """The controllers' handle on the API: `create`, `update`, `delete`, `get`, `list`.

    Every method raises ApiError as the API would answer (404, 409 Conflict, 403 from
    admission, 422 from validation).
    """

    def __init__(
        self,
        store: ObjectStore,
        cluster: Cluster | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.user_agent = user_agent

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict | None:
        return self.store.get(group, plural, namespace, name)

    def list(
        self, group: str, plural: str, namespace: str | None = None, labels: Any = None
    ) -> list[dict[str, Any]]:
        return self.store.list(group, plural, namespace, label_selector=labels)[0]

    def create(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create through the request pipeline (or the store when there is no cluster)."""
        if self.cluster is None:
            return self.store.create(group, plural, obj)
        from app.sim.apiserver.pipeline import ApiRequest, handle

        version = str(obj.get("apiVersion", "v1")).rpartition("/")[2]
        request = ApiRequest(
            method="POST",
            group=group,
            version=version,
            plural=plural,
            namespace=(obj.get("metadata") or {}).get("namespace") or None,
            headers={
                "Authorization": f"Bearer {self.cluster.auth.admin_token}",
                "Content-Type": "application/json",
                "User-Agent": self.user_agent,
            },
            body=json.dumps(obj).encode(),
        )
        response = handle(self.cluster, request)
        body = response.body if isinstance(response.body, dict) else {}
        if response.status >= 300:
            raise ApiError(
                response.status,
                str(body.get("message", "")),
                reason=body.get("reason"),
                details=body.get("details"),
            )
        return body

    def list_served(
        self, group: str, version: str, plural: str, namespace: str | None, label_selector: str
    ) -> builtins.list[dict[str, Any]]:
        """A list read through the API request pipeline, for kinds that are served
        rather than stored (metrics.k8s.io); ApiError as the API answers (503 while an
        aggregated API is unavailable, 404 when nothing serves it)."""
        if self.cluster is None:
            raise ApiError(404, "the server could not find the requested resource")
        from app.sim.apiserver.pipeline import ApiRequest, handle

        request = ApiRequest(
            method="GET",
            group=group,
            version=version,
            plural=plural,
            namespace=namespace,
            query={"labelSelector": label_selector} if label_selector else {},
            headers={
                "Authorization": f"Bearer {self.cluster.auth.admin_token}",
                "User-Agent": self.user_agent,
            },
        )
        response = handle(self.cluster, request)
        body = response.body if isinstance(response.body, dict) else {}
        if response.status >= 300:
            raise ApiError(response.status, str(body.get("message", "")), reason=body.get("reason"))
        return list(body.get("items") or [])

    def update(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.update(group, plural, obj)

    def delete(
        self,
        group: str,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        propagation: str | None = None,
    ) -> bool:
        """Delete; True when the object is gone, False when finalizers keep it.
        A missing object counts as gone (someone else deleted it first)."""
        try:
            _, removed = self.store.delete(
                group, plural, namespace, name, uid=uid, propagation=propagation
            )
        except ApiError as exc:
            if exc.code == 404:
                return True
            raise
        return removed

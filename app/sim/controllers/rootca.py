"""The root CA publisher: a `kube-root-ca.crt` ConfigMap in every namespace.

Pods' projected service-account volumes read `ca.crt` from it, so a namespace a
learner creates gets one at once, copied from `kube-system` (where cluster bootstrap
put the CA), as upstream's root-ca-certificate-publisher does. An edited or deleted
copy is restored.
"""

from __future__ import annotations

from app.sim.controllers.base import ControllerContext, deleting, fresh, name_of
from app.sim.controllers.timing import EVENT_RESYNC_SECONDS
from app.sim.machinery.errors import ApiError

CONFIGMAP = "kube-root-ca.crt"
SOURCE_NAMESPACE = "kube-system"


class RootCAPublisher:
    name = "root-ca-certificate-publisher-controller"
    watches = frozenset({("", "namespaces"), ("", "configmaps")})
    resync_seconds = EVENT_RESYNC_SECONDS

    def reconcile(self, ctx: ControllerContext) -> None:
        source = ctx.client.get("", "configmaps", SOURCE_NAMESPACE, CONFIGMAP)
        if source is None:
            return
        data = dict(source.get("data") or {})
        annotations = dict((source.get("metadata") or {}).get("annotations") or {})
        for ns in ctx.client.list("", "namespaces"):
            name = name_of(ns)
            if deleting(ns) or (ns.get("status") or {}).get("phase") == "Terminating":
                continue
            current = ctx.client.get("", "configmaps", name, CONFIGMAP)
            try:
                if current is None:
                    body = {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": CONFIGMAP, "namespace": name},
                        "data": data,
                    }
                    if annotations:
                        body["metadata"]["annotations"] = annotations
                    ctx.client.store.create("", "configmaps", body)
                elif current.get("data") != data and not deleting(current):
                    updated = fresh(current)
                    updated["data"] = data
                    ctx.client.update("", "configmaps", updated)
            except ApiError:
                continue

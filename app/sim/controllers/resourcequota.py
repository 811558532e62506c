"""The ResourceQuota controller: `status.hard` and `status.used` of every quota.

Usage is computed by the same function the ResourceQuota admission plugin charges
against (`app.sim.apiserver.admission.refresh_quota_status`), so the status a learner reads
with `kubectl describe quota` is what admission enforces.
"""

from __future__ import annotations

from app.sim.controllers.base import ANY_KIND, ControllerContext


class ResourceQuotaController:
    name = "resourcequota-controller"
    watches = ANY_KIND

    def reconcile(self, ctx: ControllerContext) -> None:
        from app.sim.apiserver.admission import refresh_quota_status

        namespaces = sorted(
            {q["metadata"].get("namespace") or "" for q in ctx.client.list("", "resourcequotas")}
        )
        for namespace in namespaces:
            refresh_quota_status(ctx.store, namespace)

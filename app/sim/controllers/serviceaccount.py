"""The ServiceAccount controller: every active namespace has a `default` ServiceAccount.

Tokens are not minted here: since 1.24 pods get projected tokens through the
TokenRequest API (the API layer's job), so this is all upstream's
serviceaccount-controller still does.
"""

from __future__ import annotations

from app.sim.controllers.base import ControllerContext, deleting, name_of
from app.sim.controllers.timing import EVENT_RESYNC_SECONDS
from app.sim.machinery.errors import ApiError

DEFAULT_SERVICE_ACCOUNT = "default"


class ServiceAccountController:
    name = "serviceaccount-controller"
    watches = frozenset({("", "namespaces"), ("", "serviceaccounts")})
    resync_seconds = EVENT_RESYNC_SECONDS

    def reconcile(self, ctx: ControllerContext) -> None:
        have = {
            sa["metadata"].get("namespace")
            for sa in ctx.client.list("", "serviceaccounts")
            if name_of(sa) == DEFAULT_SERVICE_ACCOUNT
        }
        for ns in ctx.client.list("", "namespaces"):
            name = name_of(ns)
            if (
                name in have
                or deleting(ns)
                or (ns.get("status") or {}).get("phase") == "Terminating"
            ):
                continue
            try:
                ctx.client.store.create(
                    "",
                    "serviceaccounts",
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": name},
                    },
                )
            except ApiError:
                continue

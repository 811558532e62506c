"""The CSR signing controller (pkg/controller/certificates/signer): an approved
CertificateSigningRequest for `kubernetes.io/kube-apiserver-client`,
`kubernetes.io/kube-apiserver-client-kubelet` or `kubernetes.io/kubelet-serving` gets
`status.certificate`, signed with the cluster CA (the one the API server trusts, so the
certificate authenticates as its CN and O). Its lifetime is `spec.expirationSeconds`
(at least ten minutes), at most a year (`--cluster-signing-duration`). A request that
does not parse gets a `Failed` condition. Denied, failed and other signers' requests
are left alone, as upstream.
"""

from __future__ import annotations

import base64
from typing import Any

from app.sim.controllers.base import ControllerContext, Obj, name_of, write_status
from app.sim.machinery.tls import sign_csr

SIGNERS = frozenset(
    {
        "kubernetes.io/kube-apiserver-client",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "kubernetes.io/kubelet-serving",
    }
)
MAX_SECONDS = 365 * 24 * 3600  # --cluster-signing-duration (8760h)
MIN_SECONDS = 600
RESOURCE = ("certificates.k8s.io", "certificatesigningrequests")


def _condition(csr: Obj, kind: str) -> bool:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status", "True") == "True" for c in conditions)


class CSRSigningController:
    name = "certificatesigningrequest-signing-controller"
    watches = frozenset({RESOURCE})

    def reconcile(self, ctx: ControllerContext) -> None:
        cluster = ctx.client.cluster
        auth = getattr(cluster, "auth", None)
        if auth is None or auth.ca is None:
            return  # a server without TLS has no CA to sign with
        for csr in ctx.client.list(*RESOURCE):
            spec = csr.get("spec") or {}
            status = csr.get("status") or {}
            if (
                spec.get("signerName") not in SIGNERS
                or status.get("certificate")
                or not _condition(csr, "Approved")
                or _condition(csr, "Denied")
                or _condition(csr, "Failed")
            ):
                continue
            write_status(ctx, RESOURCE, csr, self._signed(ctx, auth, csr))

    def _signed(self, ctx: ControllerContext, auth: Any, csr: Obj) -> Obj:
        spec = csr.get("spec") or {}
        status = dict(csr.get("status") or {})
        seconds = int(spec.get("expirationSeconds") or MAX_SECONDS)
        seconds = min(max(seconds, MIN_SECONDS), MAX_SECONDS)
        try:
            request = base64.b64decode(str(spec.get("request") or ""))
            usages = list(spec.get("usages") or [])
            # Valid on the cluster's clock and on the host's (TLS handshakes check it).
            cert = sign_csr(auth.ca, request, seconds, usages, ctx.now())
        except ValueError as exc:
            failed = {
                "type": "Failed",
                "status": "True",
                "reason": "SignerValidationFailure",
                "message": f"error parsing CSR {name_of(csr)}: {exc}",
                "lastUpdateTime": ctx.now_str(),
                "lastTransitionTime": ctx.now_str(),
            }
            status["conditions"] = [*(status.get("conditions") or []), failed]
            return status
        from cryptography.hazmat.primitives import serialization

        # The API server accepts client certificates it issued for this cluster only.
        auth.client_cert_serials.add(cert.serial_number)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        status["certificate"] = base64.b64encode(pem).decode()
        return status

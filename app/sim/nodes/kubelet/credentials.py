"""The kubelet's certificates against the API server: its client certificate (from
kubelet.conf: the rotated `kubelet-client-current.pem` kubeadm points it at, or
embedded data), rotation before expiry, and what happens when a certificate has
expired.

- The kubelet rotates its client certificate (`rotateCertificates: true`, kubeadm's
  default) once 80 % of its lifetime has passed, as client-go's certificate manager
  does (between 70 and 90 %): a running kubelet never lets it expire.
- An expired client certificate (rotation off, or a node that was down too long): the
  API server answers `Unauthorized` to the Lease and node status updates, so the node
  turns NotReady; a restarted kubelet finds the certificate expired and falls back to
  the bootstrap kubeconfig kubeadm deleted after the join, and exits
  (pkg/kubelet/certificate/bootstrap: "part of the existing bootstrap client
  certificate ... is expired").
- An expired API server serving certificate (`pki/apiserver.crt` on the control plane,
  `kubeadm certs renew apiserver` fixes it): every kubelet fails its TLS handshake with
  `x509: certificate has expired or is not yet valid`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml

from app.sim.machinery import safe_yaml
from app.sim.nodes import components
from app.sim.nodes.kubelet.state import AgentState

LOG_EVERY = 10.0
ROTATE_AT = 0.8


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _go_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Parsed once per file content: the kubelet checks its credentials on every sync.
@lru_cache(maxsize=256)
def _kubeconfig_user(text: str) -> tuple[str, str]:
    """(client-certificate path, embedded certificate PEM) of a kubeconfig's user."""
    try:
        user = safe_yaml.load_yaml(text)["users"][0]["user"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return "", ""
    if not isinstance(user, dict):
        return "", ""
    if user.get("client-certificate"):
        return str(user["client-certificate"]), ""
    try:
        return "", base64.b64decode(str(user.get("client-certificate-data") or "")).decode()
    except (ValueError, UnicodeDecodeError):
        return "", ""


@lru_cache(maxsize=256)
def _cert_fields(pem: str) -> dict[str, Any] | None:
    return components.parse_cert(pem) if pem else None


@lru_cache(maxsize=64)
def _rotates(config_text: str) -> bool:
    try:
        config = safe_yaml.load_yaml(config_text)
    except yaml.YAMLError:
        return False
    return isinstance(config, dict) and bool(config.get("rotateCertificates"))


def _unauthorized(program: dict[str, Any]) -> list[list[str]]:
    """What kube-scheduler or kube-controller-manager logs while the API server refuses
    its client certificate."""
    component = str(program.get("component") or "kube-scheduler")
    watched = "*v1.Pod" if component == "kube-scheduler" else "*v1.ReplicaSet"
    return [
        [
            "E",
            f"leaderelection.go:436] error retrieving resource lock kube-system/{component}: "
            "Unauthorized",
        ],
        [
            "E",
            'reflector.go:166] "Unhandled Error" err="k8s.io/client-go/informers/factory.go:160: '
            f'Failed to watch {watched}: failed to list {watched}: Unauthorized" '
            'logger="UnhandledError"',
        ],
    ]


class Credentials(AgentState):
    """Client certificate rotation and expiry of one node's kubelet.

    A part of `NodeAgent` (agent.py), whose state it uses."""

    # Set by the node set: the API server's serving certificate (PEM) or None.
    serving_cert: Callable[[], str | None]

    def client_certificate(self) -> tuple[str, dict[str, Any] | None]:
        """(file it comes from, or "" when embedded; its fields) of the client
        certificate kubelet.conf gives the kubelet."""
        path = self.kubelet_args().get("kubeconfig", components.KUBELET_KUBECONFIG)
        if not self.fs.is_file(path):
            return "", None
        cert_file, pem = _kubeconfig_user(self.fs.read(path))
        if cert_file:
            if not self.fs.is_file(cert_file):
                return cert_file, None
            pem = self.fs.read(cert_file)
        return cert_file, _cert_fields(pem)

    def client_cert_expired(self, now: float) -> datetime | None:
        """The client certificate's notAfter when it has passed, else None."""
        _, cert = self.client_certificate()
        if cert is None:
            return None
        expiry = _moment(str(cert["notAfter"]))
        return expiry if expiry.timestamp() <= now else None

    def _rotation_enabled(self) -> bool:
        path = self.kubelet_args().get("config", components.KUBELET_CONFIG)
        return self.fs.is_file(path) and _rotates(self.fs.read(path))

    def _rotate_client_cert(self, now: float) -> None:
        """client-go's certificate manager: a new certificate (a CSR the
        kube-controller-manager signs) once 80 % of the current one's life is gone."""
        path, cert = self.client_certificate()
        if not path:
            self._store_first_rotated_cert(now, cert)
            return
        if cert is None or not self._rotation_enabled():
            return
        start = _moment(str(cert["notBefore"])).timestamp()
        end = _moment(str(cert["notAfter"])).timestamp()
        if now >= end or now < start + (end - start) * ROTATE_AT:
            return
        moment = datetime.fromtimestamp(now, UTC)
        fresh = components.cert_pem(
            f"system:node:{self.name}", "kubernetes", moment, moment + components.CERT_VALIDITY
        )
        self.fs.write(path, fresh + components.key_pem(), mtime=_go_time(moment))
        self.journal(
            now,
            "I",
            'certificate_manager.go:356] "Rotating certificates" '
            'logger="kubernetes.io/kube-apiserver-client-kubelet"',
        )

    def client_cert_at_start(self, now: float) -> None:
        """A starting kubelet whose kubelet.conf embeds its certificate stores a rotated
        one at once (client-go's certificate manager requests it on start)."""
        path, cert = self.client_certificate()
        if not path and not self.client_cert_expired(now):
            self._store_first_rotated_cert(now, cert)

    def _store_first_rotated_cert(self, now: float, cert: dict[str, Any] | None) -> None:
        """kubelet.conf embeds the certificate (as `kubeadm kubeconfig user` writes it):
        with rotation on, the certificate manager finds no valid certificate in its
        store, requests one with the kubeconfig's credentials (a CSR for the node's own
        identity, which kube-controller-manager approves and signs) and writes
        kubelet-client-current.pem, which kubeadm's troubleshooting guide then points
        kubelet.conf at. A CSR made with another identity (an admin's) is not
        auto-approved, so nothing is stored."""
        if cert is None or cert.get("subject") != f"system:node:{self.name}":
            return
        if not self._rotation_enabled():
            return
        store = components.KUBELET_CLIENT_CERT
        current = _cert_fields(self.fs.read(store)) if self.fs.is_file(store) else None
        if current is not None and _moment(str(current["notAfter"])).timestamp() > now:
            return
        moment = datetime.fromtimestamp(now, UTC)
        fresh = components.cert_pem(
            f"system:node:{self.name}", "kubernetes", moment, moment + components.CERT_VALIDITY
        )
        self.fs.write(store, fresh + components.key_pem(), mtime=_go_time(moment))
        self.journal(
            now,
            "I",
            'certificate_manager.go:356] "Rotating certificates" '
            'logger="kubernetes.io/kube-apiserver-client-kubelet"',
        )

    def _api_refusal(self, now: float) -> list[str] | None:
        """The lines the kubelet logs while the API server refuses it (an expired
        serving or client certificate), or None while it is accepted."""
        server = self.api_server_url.rstrip("/")
        serving = self._serving_cert_expiry(now)
        if serving is not None:
            current = _go_time(datetime.fromtimestamp(now, UTC))
            reason = (
                "tls: failed to verify certificate: x509: certificate has expired or is not "
                f"yet valid: current time {current} is after {_go_time(serving)}"
            )
            return [
                'controller.go:145] "Failed to ensure lease exists, will retry" '
                f'err="Get \\"{server}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/'
                f'leases/{self.name}?timeout=10s\\": {reason}" interval="7s"',
                'kubelet_node_status.go:548] "Error updating node status, will retry" '
                f'err="error getting node \\"{self.name}\\": Get \\"{server}/api/v1/nodes/'
                f'{self.name}?timeout=10s\\": {reason}"',
            ]
        if self.client_cert_expired(now) is not None:
            return [
                'certificate_manager.go:596] "Unhandled Error" '
                'err="kubernetes.io/kube-apiserver-client-kubelet: Failed while requesting a '
                "signed certificate from the control plane: cannot create certificate signing "
                'request: Unauthorized" logger="UnhandledError"',
                'controller.go:145] "Failed to ensure lease exists, will retry" '
                'err="Unauthorized" interval="7s"',
                'kubelet_node_status.go:548] "Error updating node status, will retry" '
                f'err="error getting node \\"{self.name}\\": Unauthorized"',
            ]
        return None

    def _serving_cert_expiry(self, now: float) -> datetime | None:
        reader = getattr(self, "serving_cert", None)
        pem = reader() if reader is not None else None
        cert = _cert_fields(pem or "")
        if cert is None:
            return None
        expiry = _moment(str(cert["notAfter"]))
        return expiry if expiry.timestamp() <= now else None

    def api_refused(self, now: float) -> bool:
        """Whether the API server refuses this kubelet now; logs why every 10 s and
        rotates the client certificate when it is due. Checked once per instant (the
        control plane syncs several times at one instant)."""
        checked = self.__dict__.get("_credentials_checked")
        if checked is not None and checked[0] == now:
            return bool(checked[1])
        refused = self._check_credentials(now)
        self.__dict__["_credentials_checked"] = (now, refused)
        return refused

    def _check_credentials(self, now: float) -> bool:
        lines = self._api_refusal(now)
        if lines is None:
            self._rotate_client_cert(now)
            return False
        if now - self._last_api_error >= LOG_EVERY:
            self._last_api_error = now
            for line in lines:
                self.journal(now, "E", line)
        return True

    def component_cert_valid(self, rec: Any) -> bool:
        """Whether the client certificate a running control-plane client
        (kube-scheduler, kube-controller-manager; `Program.client_config`) holds is
        still valid. It read its kubeconfig once at start: a file renewed since changes
        nothing until the process restarts, and once its certificate has expired the
        API server answers Unauthorized to everything it sends. A certificate in the
        file issued before the process started is the one it loaded (a lab setup
        re-dating the file re-dates what the running process holds)."""
        program = rec.program
        path = program.get("client_config")
        if not path or rec.started is None:
            return True
        expiry = program.get("client_cert_expiry")
        if self.fs.is_file(path):
            issued, expires = components.kubeconfig_cert_validity(self.fs.read(path))
            if issued is not None and issued <= rec.started and expires != expiry:
                expiry = program["client_cert_expiry"] = expires
        now = self.clock.now().timestamp()
        if expiry is None or now < expiry:
            return True
        if program.get("repeat") is None:
            # From the moment it expired, every request fails (client-go's reflector
            # and leader election retry and log).
            program["repeat"] = [max(0.0, expiry - rec.started), 10.0, _unauthorized(program)]
            rec.__dict__.pop("_program", None)
        return False

    def expired_client_cert_startup(self, now: float) -> list[str] | None:
        """What a starting kubelet logs when kubelet.conf's certificate has expired and
        no bootstrap kubeconfig exists (the kubelet then exits), else None."""
        expiry = self.client_cert_expired(now)
        if expiry is None:
            return None
        args = self.kubelet_args()
        kubeconfig = args.get("kubeconfig", components.KUBELET_KUBECONFIG)
        bootstrap = args.get("bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf")
        if self.fs.is_file(bootstrap):
            return None
        when = expiry.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        return [
            f'bootstrap.go:266] "Unhandled Error" err="part of the existing bootstrap client '
            f'certificate in {kubeconfig} is expired: {when}"',
            f'run.go:72] "command failed" err="failed to run Kubelet: unable to load bootstrap '
            f'kubeconfig: stat {bootstrap}: no such file or directory"',
        ]

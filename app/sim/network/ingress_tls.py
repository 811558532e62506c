"""TLS at ingress-nginx: the certificate a connection to the HTTPS port gets, and the
HTTP -> HTTPS redirect of TLS hosts.

What ingress-nginx does (internal/ingress/controller/controller.go, createServers, and
its nginx template):

- a host listed under `spec.tls[].hosts` of an Ingress the controller serves is a TLS
  server; its certificate is the `tls.crt` of that entry's `secretName` (in the
  Ingress's namespace). An empty secretName, a missing Secret, a Secret without a
  parseable `tls.crt`, or a certificate that covers neither the host (SAN) nor, as
  the controller's fallback, its Common Name, gives the controller's default
  certificate: a self-signed "Kubernetes Ingress Controller Fake Certificate"
  (O=Acme Co) it generates at start;
- nginx picks the server by SNI: a client that sends none (curl to an IP address,
  with only a Host header) gets the default certificate, whatever the Host header;
- `ssl-redirect` (on by default) answers a plain HTTP request for a TLS host with
  `308 Permanent Redirect` to `https://HOST/PATH`; the annotation
  `nginx.ingress.kubernetes.io/ssl-redirect: "false"` on an Ingress with a rule for
  the host turns it off.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from app.sim.network.ingress import (
    INGRESS_NGINX,
    controller_of,
    host_matches,
    normalize_host,
    served_ingresses,
)

Obj = Mapping[str, Any]
SSL_REDIRECT = "nginx.ingress.kubernetes.io/ssl-redirect"
FAKE_NAME = "O=Acme Co; CN=Kubernetes Ingress Controller Fake Certificate"
# ingress-nginx's fake certificate names `ingress.local` (pkg/util/... ssl.go).
FAKE_DNS = ("ingress.local",)
# The text shortname curl prints for the attributes it meets in learners' certificates.
_SHORT = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress",
}


@dataclass(frozen=True)
class ServedCertificate:
    """What a TLS client sees of the server's certificate (curl -v prints it)."""

    subject: str  # "CN=demo.example.com", attributes joined by "; " as curl prints them
    issuer: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    common_name: str
    self_signed: bool
    fake: bool = False  # the controller's default certificate
    pem: str = ""

    def covers(self, host: str) -> bool:
        names = self.dns_names or ((self.common_name,) if self.common_name else ())
        return any(host_matches(n.lower(), host) for n in names)


def _name(name: x509.Name) -> str:
    parts = []
    for attribute in name:
        label = _SHORT.get(attribute.oid, attribute.oid.dotted_string)
        parts.append(f"{label}={attribute.value!s}")
    return "; ".join(parts)


def describe_pem(pem: str) -> ServedCertificate | None:
    """The first certificate of a PEM bundle, or None when there is none."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = tuple(sans.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns = ()
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ServedCertificate(
        _name(cert.subject),
        _name(cert.issuer),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        dns,
        str(common[0].value) if common else "",
        cert.subject == cert.issuer,
        pem=pem,
    )


def fake_certificate(controller_pod: Obj) -> ServedCertificate:
    """The controller's self-signed default certificate, valid a year from its start."""
    started = str((controller_pod.get("status") or {}).get("startTime") or "")
    try:
        start = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        start = datetime(2026, 1, 1, tzinfo=UTC)
    return ServedCertificate(
        FAKE_NAME,
        FAKE_NAME,
        start,
        start + timedelta(days=365),
        FAKE_DNS,
        "Kubernetes Ingress Controller Fake Certificate",
        True,
        fake=True,
    )


def _ingress_nginx_ingresses(store: Any, controller_pod: Obj) -> list[Obj] | None:
    controller = controller_of(controller_pod)
    if controller is None or controller.kind != INGRESS_NGINX:
        return None
    return served_ingresses(store, controller)


def _tls_entry(ingresses: list[Obj], host: str) -> tuple[Obj, Obj] | None:
    """(ingress, tls entry) that lists `host`, oldest Ingress first."""
    for ingress in ingresses:
        for entry in (ingress.get("spec") or {}).get("tls") or []:
            for pattern in entry.get("hosts") or []:
                if host_matches(str(pattern).lower(), host):
                    return ingress, entry
    return None


def _secret_certificate(store: Any, namespace: str, name: str) -> ServedCertificate | None:
    secret = store.get("", "secrets", namespace, name) if name else None
    raw = ((secret or {}).get("data") or {}).get("tls.crt")
    if not raw:
        return None
    try:
        pem = base64.b64decode(str(raw)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return describe_pem(pem)


def certificate_for(store: Any, controller_pod: Obj, sni: str | None) -> ServedCertificate | None:
    """The certificate ingress-nginx presents for the SNI name (None: not an
    ingress-nginx controller, whose TLS this module does not describe)."""
    ingresses = _ingress_nginx_ingresses(store, controller_pod)
    if ingresses is None:
        return None
    fake = fake_certificate(controller_pod)
    if not sni:
        return fake
    host = normalize_host(sni)
    found = _tls_entry(ingresses, host)
    if found is None:
        return fake
    ingress, entry = found
    namespace = str((ingress.get("metadata") or {}).get("namespace") or "default")
    cert = _secret_certificate(store, namespace, str(entry.get("secretName") or ""))
    if cert is None or not cert.covers(host):
        return fake
    return cert


def redirects_to_https(store: Any, controller_pod: Obj, host: str) -> bool:
    """Whether a plain HTTP request for `host` gets ingress-nginx's 308 to HTTPS."""
    ingresses = _ingress_nginx_ingresses(store, controller_pod)
    if not ingresses:
        return False
    host = normalize_host(host)
    if _tls_entry(ingresses, host) is None:
        return False
    for ingress in ingresses:
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        rules = (ingress.get("spec") or {}).get("rules") or []
        if annotations.get(SSL_REDIRECT) == "false" and any(
            str(r.get("host") or "").lower() == host for r in rules
        ):
            return False
    return True


def issued_by_bundle(cert: ServedCertificate, bundle: str) -> bool:
    """Whether a PEM bundle (curl's --cacert) holds the certificate itself or the CA
    whose key signed it."""
    if not cert.pem:
        return False
    try:
        served = x509.load_pem_x509_certificate(cert.pem.encode())
        authorities = x509.load_pem_x509_certificates(bundle.encode())
    except ValueError:
        return False
    for authority in authorities:
        if authority == served:
            return True
        try:
            served.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False

"""Certificates for the simulator: one CA per server, its serving certificate, and
client certificates for lab users (CN = user name, O = groups, as kube-apiserver's
x509 authenticator reads them).

Keys are ECDSA P-256: generated in about a millisecond, so a server starts instantly.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import ipaddress
import socket
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# kubeadm issues a 10-year CA and 1-year leaf certificates (kubeadm certs
# check-expiration shows these lifetimes).
CA_DAYS = 3650
LEAF_DAYS = 365


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def generate_ca(common_name: str = "kubernetes") -> KeyPair:
    """A self-signed CA (kubeadm names its cluster CA `kubernetes`)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _issue(
    ca: KeyPair,
    subject: x509.Name,
    usage: ExtendedKeyUsageOID,
    sans: list[x509.GeneralName] | None = None,
) -> KeyPair:
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ca_cert = ca.certificate
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_server_cert(ca: KeyPair, hosts: list[str] | None = None) -> KeyPair:
    """A serving certificate for 127.0.0.1, ::1, localhost, this host's name and `hosts`."""
    names = ["localhost", socket.gethostname(), *(hosts or [])]
    ips = {"127.0.0.1", "::1"}
    sans: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in names:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            ips.add(str(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    sans.extend(x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(ips))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    return _issue(ca, subject, ExtendedKeyUsageOID.SERVER_AUTH, sans)


def issue_client_cert(ca: KeyPair, user: str, groups: list[str] | tuple[str, ...] = ()) -> KeyPair:
    """A client certificate: CN is the user name, each O a group."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    return _issue(ca, x509.Name(attrs), ExtendedKeyUsageOID.CLIENT_AUTH)


def server_ssl_context(ca: KeyPair, server: KeyPair) -> ssl.SSLContext:
    """TLS for the API server: serves `server`, asks for (but does not require) a client
    certificate signed by `ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl only loads certificates from files; write them to a private temp dir.
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file, ca_file = (Path(tmp) / n for n in ("tls.crt", "tls.key", "ca.crt"))
        cert_file.write_bytes(server.cert_pem)
        key_file.write_bytes(server.key_pem)
        ca_file.write_bytes(ca.cert_pem)
        context.load_cert_chain(cert_file, key_file)
        context.load_verify_locations(cafile=str(ca_file))
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


# ---- service-account signing key -----------------------------------------------------


@functools.lru_cache(maxsize=1)
def default_service_account_key() -> str:
    """An RSA 2048 private key (PKCS#1 PEM, as kubeadm writes `sa.key`), generated once
    per process (about 50 ms) and given to every cluster that has none yet."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@functools.lru_cache(maxsize=64)
def _rsa_key(private_pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def public_key_pem(private_pem: str) -> str:
    """The public half as `sa.pub` holds it (SubjectPublicKeyInfo PEM)."""
    return (
        _rsa_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(private_pem: str) -> str:
    """The `kid` kube-apiserver puts in token headers: base64url (unpadded) of the
    SHA-256 of the DER public key (serviceaccount/jwt.go keyIDFromPublicKey)."""
    der = (
        _rsa_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_rs256(private_pem: str, data: bytes) -> bytes:
    """An RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `data`."""
    return _rsa_key(private_pem).sign(data, padding.PKCS1v15(), hashes.SHA256())


# ---- CertificateSigningRequests ----------------------------------------------------------

_USAGE_OIDS = {
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
}


def sign_csr(
    ca: KeyPair, request_pem: bytes, seconds: int, usages: list[str], now: dt.datetime
) -> x509.Certificate:
    """Sign a PKCS#10 request with the cluster CA, as kube-controller-manager's CSR
    signer does: the request's subject and public key (and its DNS/IP names), valid
    from five minutes ago for `seconds` at most, with the extended key usages named.
    Raises ValueError for a request that does not parse or whose signature is wrong."""
    request = x509.load_pem_x509_csr(request_pem)
    if not request.is_signature_valid:
        raise ValueError("invalid signature on CSR")
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ekus = [_USAGE_OIDS[u] for u in usages if u in _USAGE_OIDS]
    # A manual-clock cluster may stand apart from the host's time, which the TLS
    # handshake checks: the validity covers both.
    host = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(request.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, host) - dt.timedelta(minutes=5))
        .not_valid_after(max(now, host) + dt.timedelta(seconds=seconds))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    try:
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(names.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]

"""The certificates ingress-nginx presents and curl's check of them: a CA-signed
leaf is trusted through --cacert naming its CA, names match by SAN (one-label
wildcards), and the PEM's fields are what `curl -v` prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.sim.network.ingress_tls import describe_pem, fake_certificate, issued_by_bundle

START = datetime(2026, 3, 1, tzinfo=UTC)


def _cert(subject: str, issuer: str, key, signer, dns: list[str], ca: bool) -> str:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False
        )
    cert = builder.sign(signer, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_leaf_signed_by_a_ca_is_trusted_only_through_that_ca() -> None:
    ca_key, leaf_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("Shop CA", "Shop CA", ca_key, ca_key, [], ca=True)
    other_ca = _cert("Shop CA", "Shop CA", other_key, other_key, [], ca=True)
    leaf_pem = _cert("shop", "Shop CA", leaf_key, ca_key, ["*.shop.example.com"], ca=False)
    leaf = describe_pem(leaf_pem)
    assert leaf is not None
    assert (leaf.subject, leaf.issuer, leaf.self_signed) == ("CN=shop", "CN=Shop CA", False)
    assert (leaf.not_before, leaf.not_after) == (START, START + timedelta(days=90))
    assert issued_by_bundle(leaf, ca)
    assert issued_by_bundle(leaf, leaf_pem)  # the certificate itself, pinned
    assert not issued_by_bundle(leaf, other_ca)  # same name, another key
    assert not issued_by_bundle(leaf, "not a certificate")
    assert leaf.covers("www.shop.example.com")
    assert not leaf.covers("a.b.shop.example.com") and not leaf.covers("shop.example.com")


def test_the_common_name_counts_only_without_a_san_and_the_fake_is_self_signed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    legacy = describe_pem(_cert("old.example.com", "old.example.com", key, key, [], ca=False))
    assert legacy is not None and legacy.self_signed and legacy.covers("old.example.com")
    assert describe_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") is None
    fake = fake_certificate({"status": {"startTime": "2026-05-01T10:00:00Z"}})
    assert fake.subject == "O=Acme Co; CN=Kubernetes Ingress Controller Fake Certificate"
    assert fake.self_signed and fake.fake and not issued_by_bundle(fake, "")
    assert fake.not_after - fake.not_before == timedelta(days=365)

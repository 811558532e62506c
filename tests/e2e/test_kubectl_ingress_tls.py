"""Ingress TLS on the ingress-nginx add-on: an Ingress with `tls: [{hosts, secretName}]`
is served on the controller's HTTPS NodePort (30443) with the Secret's certificate
(SNI picks it; no SNI or a missing Secret gives the controller's fake certificate),
and plain HTTP for a TLS host gets the 308 redirect of `ssl-redirect`. Real kubectl
creates the objects; curl runs on a node."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

SHAPE = {
    "nodes": [{"name": "controlplane", "role": "control-plane"}, {"name": "node01"}],
    "addons": ["ingress-nginx"],
}
FAKE = "subject: O=Acme Co; CN=Kubernetes Ingress Controller Fake Certificate"


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(clock=ManualClock(), shape=SHAPE)


def run(sim: SimCluster, command: str):
    shell = sim.cluster.control_plane.nodes.shell("controlplane")
    return sim.server.call(shell.run, command)


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "30",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def shop(sim_cluster: SimCluster, kubectl: Callable, tmp_path: Path) -> str:
    """nginx behind Ingress `shop` with TLS for shop.example.com; returns node01's IP."""
    cert, key = self_signed(tmp_path, "shop.example.com")
    kubectl("create", "secret", "tls", "shop-tls", f"--cert={cert}", f"--key={key}")
    kubectl("create", "deployment", "web", "--image=nginx")
    kubectl("expose", "deployment", "web", "--port=80")
    kubectl(
        "create", "ingress", "shop", "--class=nginx",
        "--rule=shop.example.com/*=web:80,tls=shop-tls",
    )  # fmt: skip
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 5)
    return kubectl(
        "get",
        "node",
        "node01",
        "-o",
        'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}',
    ).stdout


def test_https_serves_the_backend_with_the_secrets_certificate(sim_cluster, shop) -> None:
    resolve = f"--resolve shop.example.com:30443:{shop}"
    page = run(sim_cluster, f"curl -sk {resolve} https://shop.example.com:30443/")
    assert page.exit_code == 0 and "<title>Welcome to nginx!</title>" in page.stdout
    verbose = run(sim_cluster, f"curl -vk {resolve} https://shop.example.com:30443/")
    assert "*  subject: CN=shop.example.com\n" in verbose.stderr
    assert "*  issuer: CN=shop.example.com\n" in verbose.stderr
    assert "self-signed certificate (18), continuing anyway." in verbose.stderr
    assert "> Host: shop.example.com:30443\n" in verbose.stderr
    strict = run(sim_cluster, f"curl -s {resolve} https://shop.example.com:30443/")
    assert strict.exit_code == 60 and strict.stdout == ""
    loud = run(sim_cluster, f"curl -sS {resolve} https://shop.example.com:30443/")
    assert loud.stderr == "curl: (60) SSL certificate problem: self-signed certificate\n"


def test_without_sni_or_secret_the_fake_certificate_is_served(
    sim_cluster, shop, kubectl: Callable
) -> None:
    # A Host header to an address sends no SNI: routed by Host, default certificate.
    by_host = run(sim_cluster, f"curl -vk -H 'Host: shop.example.com' https://{shop}:30443/")
    assert FAKE in by_host.stderr
    assert "<title>Welcome to nginx!</title>" in by_host.stdout
    kubectl(
        "create", "ingress", "blog", "--class=nginx",
        "--rule=blog.example.com/*=web:80,tls=no-such-secret",
    )  # fmt: skip
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 2)
    blog = run(
        sim_cluster,
        f"curl -vk --resolve blog.example.com:30443:{shop} https://blog.example.com:30443/",
    )
    assert FAKE in blog.stderr and blog.exit_code == 0


def test_plain_http_for_a_tls_host_is_redirected(sim_cluster, shop, kubectl: Callable) -> None:
    head = run(sim_cluster, f"curl -si -H 'Host: shop.example.com' http://{shop}:30080/cart?id=3")
    assert head.stdout.startswith("HTTP/1.1 308 Permanent Redirect\r\n")
    assert "Location: https://shop.example.com/cart?id=3\r\n" in head.stdout
    # HTTP to the HTTPS port, and HTTPS to the HTTP port.
    plain = run(sim_cluster, f"curl -s -H 'Host: shop.example.com' http://{shop}:30443/")
    assert "<center>The plain HTTP request was sent to HTTPS port</center>" in plain.stdout
    mixed = run(sim_cluster, f"curl -sSk https://{shop}:30080/")
    assert mixed.exit_code == 35 and "wrong version number" in mixed.stderr
    kubectl("annotate", "ingress", "shop", "nginx.ingress.kubernetes.io/ssl-redirect=false")
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 2)
    code = f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: shop.example.com' {shop}:30080/"
    assert run(sim_cluster, code).stdout == "200"


def test_a_ca_signed_certificate_verifies_with_cacert(
    sim_cluster, kubectl: Callable, tmp_path: Path
) -> None:
    """`curl --cacert ca.crt` trusts the Secret's certificate signed by that CA, and
    still checks the name (a host the certificate does not cover fails)."""
    ca_crt, ca_key = self_signed(tmp_path, "Lab CA")
    key, csr, crt = (tmp_path / f"leaf.{x}" for x in ("key", "csr", "crt"))
    openssl = ["openssl", "req", "-new", "-nodes", "-newkey", "rsa:2048"]
    openssl += ["-keyout", str(key), "-out", str(csr), "-subj", "/CN=pay.example.com"]
    subprocess.run(openssl, check=True, capture_output=True)
    (tmp_path / "ext").write_text("subjectAltName=DNS:pay.example.com\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "30", "-out", str(crt), "-extfile", str(tmp_path / "ext")],
        check=True, capture_output=True,
    )  # fmt: skip
    kubectl("create", "secret", "tls", "pay-tls", f"--cert={crt}", f"--key={key}")
    kubectl("create", "deployment", "pay", "--image=httpd")
    kubectl("expose", "deployment", "pay", "--port=80")
    kubectl(
        "create", "ingress", "pay", "--class=nginx",
        "--rule=pay.example.com/*=pay:80,tls=pay-tls",
        "--rule=alias.example.com/*=pay:80,tls=pay-tls",
    )  # fmt: skip
    nodes = sim_cluster.cluster.control_plane.nodes
    sim_cluster.server.call(nodes.write_file, "controlplane", "/root/ca.crt", ca_crt.read_text())
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 5)
    ip = sim_cluster.cluster.control_plane.nodes.agents["node01"].node_ip
    trusted = run(
        sim_cluster,
        f"curl -v --cacert /root/ca.crt --resolve pay.example.com:30443:{ip} "
        "https://pay.example.com:30443/",
    )
    assert trusted.exit_code == 0 and "It works!" in trusted.stdout
    assert "*  issuer: CN=Lab CA\n" in trusted.stderr
    assert "*  SSL certificate verify ok.\n" in trusted.stderr
    # alias.example.com is listed in the TLS section but the certificate does not
    # cover it: ingress-nginx falls back to its fake certificate, which the CA did
    # not sign.
    alias = run(
        sim_cluster,
        f"curl -sS --cacert /root/ca.crt --resolve alias.example.com:30443:{ip} "
        "https://alias.example.com:30443/",
    )
    assert alias.exit_code == 60
    assert alias.stderr == "curl: (60) SSL certificate problem: self-signed certificate\n"
    untrusted = run(
        sim_cluster,
        f"curl -sS --resolve pay.example.com:30443:{ip} https://pay.example.com:30443/",
    )
    assert untrusted.stderr == (
        "curl: (60) SSL certificate problem: unable to get local issuer certificate\n"
    )

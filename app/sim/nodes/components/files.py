"""The files of a kubeadm node: certificates and keys, kubeconfigs, the kubelet's
configuration, drop-in and unit, and containerd's unit.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml

from app.sim.machinery import safe_yaml
from app.sim.machinery.tls import public_key_pem
from app.sim.nodes.components.layout import (
    API_PORT,
    CA_VALIDITY,
    CERT_VALIDITY,
    KUBEADM_FLAGS,
    KUBELET_CLIENT_CERT,
    KUBELET_CONFIG,
    KUBELET_DROPIN,
    KUBELET_KUBECONFIG,
    MANIFESTS_DIR,
    PAUSE_IMAGE,
    PKI_DIR,
    _Dumper,
)
from app.sim.nodes.components.manifests import control_plane_manifests

# ---- node files


def cert_pem(subject: str, issuer: str, not_before: datetime, not_after: datetime) -> str:
    """A PEM-shaped certificate for the virtual node. Its body carries the fields the
    simulated tools read (subject, issuer, validity) as JSON."""
    body = json.dumps(
        {
            "subject": subject,
            "issuer": issuer,
            "notBefore": not_before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "notAfter": not_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        sort_keys=True,
    ).encode()
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def parse_cert(text: str) -> dict[str, Any] | None:
    """The fields of a `cert_pem` certificate, or None when the text is not one."""
    if "-----BEGIN CERTIFICATE-----" not in text:
        return None
    body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----")[0]
    try:
        data = json.loads(base64.b64decode("".join(body.split())))
    except ValueError:
        return None
    if not isinstance(data, dict) or "notAfter" not in data:
        return None
    return data


def key_pem() -> str:
    return "-----BEGIN RSA PRIVATE KEY-----\nc2ltdWxhdGVkIGtleQ==\n-----END RSA PRIVATE KEY-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig_text(
    user: str,
    server: str,
    client_cert: str = "",
    ca_cert: str = "",
    cluster: str = "kubernetes",
    cert_file: str = "",
) -> str:
    """A kubeadm-style kubeconfig with the certificates embedded as base64 data (the
    client certificate and key read from `cert_file` instead when given, as kubeadm
    writes kubelet.conf for the kubelet's rotated certificate)."""
    doc = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {"certificate-authority-data": _b64(ca_cert), "server": server},
                "name": cluster,
            }
        ],
        "contexts": [{"context": {"cluster": cluster, "user": user}, "name": f"{user}@{cluster}"}],
        "current-context": f"{user}@{cluster}",
        "kind": "Config",
        "preferences": {},
        "users": [
            {
                "name": user,
                "user": {"client-certificate": cert_file, "client-key": cert_file}
                if cert_file
                else {
                    "client-certificate-data": _b64(client_cert),
                    "client-key-data": _b64(key_pem()),
                },
            }
        ],
    }
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


# (file stem, subject, issuer CA stem) for kubeadm's leaf certificates.
LEAF_CERTS = (
    ("apiserver", "kube-apiserver", "ca"),
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "ca"),
    ("apiserver-etcd-client", "kube-apiserver-etcd-client", "etcd/ca"),
    ("front-proxy-client", "front-proxy-client", "front-proxy-ca"),
    ("etcd/server", "controlplane", "etcd/ca"),
    ("etcd/peer", "controlplane", "etcd/ca"),
    ("etcd/healthcheck-client", "kube-etcd-healthcheck-client", "etcd/ca"),
)
CA_CERTS = (("ca", "kubernetes"), ("etcd/ca", "etcd-ca"), ("front-proxy-ca", "front-proxy-ca"))
# kubeconfig files with embedded client certificates (kubeadm certs check-expiration
# lists them with their CA).
KUBECONFIG_CERTS = (
    ("admin.conf", "kubernetes-admin"),
    ("super-admin.conf", "kubernetes-super-admin"),
    ("controller-manager.conf", "system:kube-controller-manager"),
    ("scheduler.conf", "system:kube-scheduler"),
)


@lru_cache(maxsize=8)
def kubelet_config_text(static_pod_path: str = MANIFESTS_DIR) -> str:
    """kubeadm's /var/lib/kubelet/config.yaml (KubeletConfiguration)."""
    doc = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "0s", "enabled": True},
            "x509": {"clientCAFile": f"{PKI_DIR}/ca.crt"},
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"},
        },
        "cgroupDriver": "systemd",
        "clusterDNS": ["10.96.0.10"],
        "clusterDomain": "cluster.local",
        "containerRuntimeEndpoint": "",
        "cpuManagerReconcilePeriod": "0s",
        "evictionPressureTransitionPeriod": "0s",
        "fileCheckFrequency": "0s",
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "httpCheckFrequency": "0s",
        "imageMaximumGCAge": "0s",
        "imageMinimumGCAge": "0s",
        "kind": "KubeletConfiguration",
        "logging": {
            "flushFrequency": 0,
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0,
        },
        "memorySwap": {},
        "nodeStatusReportFrequency": "0s",
        "nodeStatusUpdateFrequency": "0s",
        "resolvConf": "/run/systemd/resolve/resolv.conf",
        "rotateCertificates": True,
        "runtimeRequestTimeout": "0s",
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "staticPodPath": static_pod_path,
        "streamingConnectionIdleTimeout": "0s",
        "syncFrequency": "0s",
        "volumeStatsAggPeriod": "0s",
    }
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


KUBELET_DROPIN_TEXT = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""  # noqa: E501

KUBELET_UNIT_TEXT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

CONTAINERD_UNIT_TEXT = """\
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


def node_files(
    node: str, node_ip: str, api_ip: str, control_plane: bool, now: datetime, sa_key: str = ""
) -> dict[str, str]:
    """Every file a fresh kubeadm node starts with (path -> content); `sa_key` is the
    cluster's service-account signing key (`sa.key`, its public half `sa.pub`)."""
    server = f"https://{api_ip}:{API_PORT}"
    ca_after = now + CA_VALIDITY
    ca = cert_pem("kubernetes", "kubernetes", now, ca_after)
    kubelet_client = cert_pem(f"system:node:{node}", "kubernetes", now, now + CERT_VALIDITY)
    files: dict[str, str] = {
        KUBELET_CONFIG: kubelet_config_text(),
        # kubelet.conf points at the rotating client certificate file (kubeadm 1.16+).
        KUBELET_KUBECONFIG: kubeconfig_text(
            f"system:node:{node}", server, kubelet_client, ca, cert_file=KUBELET_CLIENT_CERT
        ),
        KUBEADM_FLAGS: (
            'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/'
            f'containerd.sock --node-ip={node_ip} --pod-infra-container-image={PAUSE_IMAGE}"\n'
        ),
        KUBELET_DROPIN: KUBELET_DROPIN_TEXT,
        "/usr/lib/systemd/system/kubelet.service": KUBELET_UNIT_TEXT,
        "/usr/lib/systemd/system/containerd.service": CONTAINERD_UNIT_TEXT,
        "/etc/crictl.yaml": "runtime-endpoint: unix:///run/containerd/containerd.sock\n",
        "/etc/hostname": node + "\n",
        "/usr/bin/kubelet": "\x7fELF kubelet\n",
        "/usr/bin/containerd": "\x7fELF containerd\n",
        "/usr/bin/crictl": "\x7fELF crictl\n",
        "/usr/bin/kubeadm": "\x7fELF kubeadm\n",
        "/var/lib/kubelet/pki/kubelet.crt": cert_pem(
            f"{node}@1", f"{node}-ca@1", now, now + CERT_VALIDITY
        ),
        "/var/lib/kubelet/pki/kubelet.key": key_pem(),
        KUBELET_CLIENT_CERT: kubelet_client + key_pem(),
    }
    files[f"{PKI_DIR}/ca.crt"] = ca
    if not control_plane:
        return files
    files["/usr/bin/etcdctl"] = "\x7fELF etcdctl\n"
    files["/usr/bin/kubectl"] = "\x7fELF kubectl\n"
    for stem, subject in CA_CERTS:
        files[f"{PKI_DIR}/{stem}.crt"] = cert_pem(subject, subject, now, ca_after)
        files[f"{PKI_DIR}/{stem}.key"] = key_pem()
    for stem, subject, ca in LEAF_CERTS:
        issuer = dict(CA_CERTS)[ca]
        files[f"{PKI_DIR}/{stem}.crt"] = cert_pem(subject, issuer, now, now + CERT_VALIDITY)
        files[f"{PKI_DIR}/{stem}.key"] = key_pem()
    files[f"{PKI_DIR}/sa.key"] = sa_key or key_pem()
    files[f"{PKI_DIR}/sa.pub"] = (
        public_key_pem(sa_key)
        if sa_key
        else "-----BEGIN PUBLIC KEY-----\nc2ltdWxhdGVk\n-----END PUBLIC KEY-----\n"
    )
    for name, user in KUBECONFIG_CERTS:
        client = cert_pem(user, "kubernetes", now, now + CERT_VALIDITY)
        files[f"/etc/kubernetes/{name}"] = kubeconfig_text(user, server, client, ca)
    for name, text in control_plane_manifests(api_ip).items():
        files[f"{MANIFESTS_DIR}/{name}"] = text
    return files


def kubeconfig_cert(text: str) -> dict[str, Any] | None:
    """The client certificate fields embedded in a kubeadm kubeconfig file."""
    try:
        doc = safe_yaml.load_yaml(text)
        data = doc["users"][0]["user"]["client-certificate-data"]
        return parse_cert(base64.b64decode(data).decode())
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        return None


@lru_cache(maxsize=64)
def kubeconfig_cert_validity(text: str) -> tuple[float | None, float | None]:
    """(notBefore, notAfter) as epoch seconds of the client certificate embedded in a
    kubeconfig, (None, None) when it has none (parsed once per content)."""
    fields = kubeconfig_cert(text)
    if fields is None:
        return None, None
    try:
        return (
            datetime.fromisoformat(str(fields["notBefore"]).replace("Z", "+00:00")).timestamp(),
            datetime.fromisoformat(str(fields["notAfter"]).replace("Z", "+00:00")).timestamp(),
        )
    except (KeyError, ValueError):
        return None, None


def replace_kubeconfig_cert(text: str, cert: str) -> str:
    """The kubeconfig `text` with its client certificate replaced (kubeadm certs renew)."""
    doc = safe_yaml.load_yaml(text)
    doc["users"][0]["user"]["client-certificate-data"] = _b64(cert)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


def redate_certificate(text: str, not_before: datetime, not_after: datetime) -> str | None:
    """`text` (a certificate file, possibly followed by its key, or a kubeadm
    kubeconfig with an embedded client certificate) with the certificate's validity
    replaced, subject and issuer kept; None when it holds no such certificate."""
    embedded = kubeconfig_cert(text) if "-----BEGIN CERTIFICATE-----" not in text else None
    if embedded is not None:
        cert = cert_pem(embedded["subject"], embedded["issuer"], not_before, not_after)
        return replace_kubeconfig_cert(text, cert)
    fields = parse_cert(text)
    if fields is None:
        return None
    head, _, rest = text.partition("-----BEGIN CERTIFICATE-----")
    tail = rest.split("-----END CERTIFICATE-----", 1)[1].lstrip("\n")
    cert = cert_pem(str(fields["subject"]), str(fields["issuer"]), not_before, not_after)
    return head + cert + tail

"""Control-plane components as kubeadm lays them out: static pod manifests, the node
files they read (kubeconfigs, PKI, kubelet configuration), their flag tables, and the
health each one gets from its manifest.

`component_program` plays what the binary does at start-up: pflag parsing (an unknown
flag ends it with `Error: unknown flag: --kubeconfigg`), loading its kubeconfig
(`stat /etc/kubernetes/schedulr.conf: no such file or directory`), opening its
certificates, then serving on its secure port — which is where the kubelet's probes
must point. The flag tables are a realistic subset of upstream's (the flags kubeadm
writes plus the commonly used ones), not the complete set.
"""

from __future__ import annotations

import base64
import json
import posixpath
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import yaml

from app.sim.apiserver.discovery import version_info
from app.sim.machinery import safe_yaml
from app.sim.nodes.runtime import Program
from app.sim.nodes.vfs import VirtualFS

# The control-plane version follows what the simulated API server reports, so
# `kubectl version`, node kubeletVersion and the manifests' image tags agree.
KUBERNETES_VERSION = version_info()["gitVersion"]
# kubeadm's etcd, pause and CoreDNS for the 1.34-1.36 releases
# (cmd/kubeadm/app/constants: DefaultEtcdVersion, PauseVersion, CoreDNSVersion).
ETCD_IMAGE_TAG = "3.6.4-0"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"

MANIFESTS_DIR = "/etc/kubernetes/manifests"
PKI_DIR = "/etc/kubernetes/pki"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
KUBELET_DROPIN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
API_PORT = 6443
# kubeadm's certificate lifetimes (constants.CertificateValidityPeriod = 1 year,
# CACertificateValidityPeriod = 10 years).
CERT_VALIDITY = timedelta(days=365)
CA_VALIDITY = timedelta(days=3650)

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# Secure (health) port each component serves its /livez on; etcd's is the plain-HTTP
# metrics listener kubeadm configures with --listen-metrics-urls.
SECURE_PORTS = {
    "kube-apiserver": API_PORT,
    "kube-controller-manager": 10257,
    "kube-scheduler": 10259,
    "etcd": 2381,
}

# ---- flag tables (name -> value type) -------------------------------------------------

_LOGGING = {
    "v": "int",
    "vmodule": "string",
    "log-flush-frequency": "duration",
    "logging-format": "string",
    "help": "bool",
    "version": "string",
}
_SECURE_SERVING = {
    "bind-address": "string",
    "secure-port": "int",
    "cert-dir": "string",
    "tls-cert-file": "string",
    "tls-private-key-file": "string",
    "tls-cipher-suites": "stringSlice",
    "tls-min-version": "string",
    "permit-port-sharing": "bool",
}
_DELEGATING_AUTH = {
    "authentication-kubeconfig": "string",
    "authorization-kubeconfig": "string",
    "authentication-skip-lookup": "bool",
    "authorization-always-allow-paths": "stringSlice",
    "client-ca-file": "string",
    "requestheader-client-ca-file": "string",
    "requestheader-allowed-names": "stringSlice",
    "requestheader-username-headers": "stringSlice",
    "requestheader-group-headers": "stringSlice",
    "requestheader-extra-headers-prefix": "stringSlice",
}
_LEADER_ELECTION = {
    "leader-elect": "bool",
    "leader-elect-lease-duration": "duration",
    "leader-elect-renew-deadline": "duration",
    "leader-elect-retry-period": "duration",
    "leader-elect-resource-lock": "string",
    "leader-elect-resource-name": "string",
    "leader-elect-resource-namespace": "string",
}
FLAGS: dict[str, dict[str, str]] = {
    "kube-scheduler": {
        **_LOGGING,
        **_SECURE_SERVING,
        **_DELEGATING_AUTH,
        **_LEADER_ELECTION,
        "config": "string",
        "kubeconfig": "string",
        "master": "string",
        "feature-gates": "string",
        "profiling": "bool",
        "contention-profiling": "bool",
        "kube-api-qps": "float",
        "kube-api-burst": "int",
        "pod-max-in-unschedulable-pods-duration": "duration",
        "write-config-to": "string",
    },
    "kube-controller-manager": {
        **_LOGGING,
        **_SECURE_SERVING,
        **_DELEGATING_AUTH,
        **_LEADER_ELECTION,
        "allocate-node-cidrs": "bool",
        "cluster-cidr": "string",
        "cluster-name": "string",
        "cluster-signing-cert-file": "string",
        "cluster-signing-key-file": "string",
        "cluster-signing-duration": "duration",
        "controllers": "stringSlice",
        "kubeconfig": "string",
        "master": "string",
        "root-ca-file": "string",
        "service-account-private-key-file": "string",
        "service-cluster-ip-range": "string",
        "use-service-account-credentials": "bool",
        "node-cidr-mask-size": "int",
        "node-monitor-grace-period": "duration",
        "node-monitor-period": "duration",
        "terminated-pod-gc-threshold": "int",
        "concurrent-deployment-syncs": "int",
        "concurrent-replicaset-syncs": "int",
        "horizontal-pod-autoscaler-sync-period": "duration",
        "feature-gates": "string",
        "profiling": "bool",
        "kube-api-qps": "float",
        "kube-api-burst": "int",
    },
    "kube-apiserver": {
        **_LOGGING,
        **_SECURE_SERVING,
        "advertise-address": "string",
        "allow-privileged": "bool",
        "anonymous-auth": "bool",
        "audit-log-path": "string",
        "audit-log-maxage": "int",
        "audit-log-maxbackup": "int",
        "audit-log-maxsize": "int",
        "audit-policy-file": "string",
        "authorization-mode": "stringSlice",
        "client-ca-file": "string",
        "enable-admission-plugins": "stringSlice",
        "disable-admission-plugins": "stringSlice",
        "admission-control-config-file": "string",
        "enable-bootstrap-token-auth": "bool",
        "encryption-provider-config": "string",
        "etcd-cafile": "string",
        "etcd-certfile": "string",
        "etcd-keyfile": "string",
        "etcd-servers": "stringSlice",
        "event-ttl": "duration",
        "feature-gates": "string",
        "kubelet-client-certificate": "string",
        "kubelet-client-key": "string",
        "kubelet-preferred-address-types": "stringSlice",
        "proxy-client-cert-file": "string",
        "proxy-client-key-file": "string",
        "requestheader-allowed-names": "stringSlice",
        "requestheader-client-ca-file": "string",
        "requestheader-extra-headers-prefix": "stringSlice",
        "requestheader-group-headers": "stringSlice",
        "requestheader-username-headers": "stringSlice",
        "runtime-config": "string",
        "service-account-issuer": "stringSlice",
        "service-account-key-file": "stringSlice",
        "service-account-signing-key-file": "string",
        "service-cluster-ip-range": "string",
        "service-node-port-range": "string",
        "profiling": "bool",
        "max-requests-inflight": "int",
        "max-mutating-requests-inflight": "int",
    },
    "etcd": {
        "advertise-client-urls": "string",
        "cert-file": "string",
        "client-cert-auth": "bool",
        "data-dir": "string",
        "experimental-initial-corrupt-check": "bool",
        "experimental-watch-progress-notify-interval": "duration",
        "feature-gates": "string",
        "initial-advertise-peer-urls": "string",
        "initial-cluster": "string",
        "initial-cluster-state": "string",
        "initial-cluster-token": "string",
        "key-file": "string",
        "listen-client-urls": "string",
        "listen-metrics-urls": "string",
        "listen-peer-urls": "string",
        "name": "string",
        "peer-cert-file": "string",
        "peer-client-cert-auth": "bool",
        "peer-key-file": "string",
        "peer-trusted-ca-file": "string",
        "quota-backend-bytes": "int",
        "snapshot-count": "int",
        "trusted-ca-file": "string",
        "watch-progress-notify-interval": "duration",
        "log-level": "string",
        "logger": "string",
    },
}
# Flags naming files the binary opens at start-up (the first missing one stops it).
KUBECONFIG_FLAGS = ("kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig")
FILE_FLAGS: dict[str, tuple[str, ...]] = {
    "kube-scheduler": ("config",),
    "kube-controller-manager": (
        "client-ca-file",
        "requestheader-client-ca-file",
        "cluster-signing-cert-file",
        "cluster-signing-key-file",
        "root-ca-file",
        "service-account-private-key-file",
    ),
    "kube-apiserver": (
        "client-ca-file",
        "tls-cert-file",
        "tls-private-key-file",
        "etcd-cafile",
        "etcd-certfile",
        "etcd-keyfile",
        "kubelet-client-certificate",
        "kubelet-client-key",
        "proxy-client-cert-file",
        "proxy-client-key-file",
        "requestheader-client-ca-file",
        "service-account-key-file",
        "service-account-signing-key-file",
    ),
    "etcd": (
        "cert-file",
        "key-file",
        "trusted-ca-file",
        "peer-cert-file",
        "peer-key-file",
        "peer-trusted-ca-file",
    ),
}


# ---- node files -------------------------------------------------------------------------


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
    user: str, server: str, client_cert: str = "", ca_cert: str = "", cluster: str = "kubernetes"
) -> str:
    """A kubeadm-style kubeconfig with the certificates embedded as base64 data."""
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
                "user": {
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
    node: str, node_ip: str, api_ip: str, control_plane: bool, now: datetime
) -> dict[str, str]:
    """Every file a fresh kubeadm node starts with (path -> content)."""
    server = f"https://{api_ip}:{API_PORT}"
    ca_after = now + CA_VALIDITY
    ca = cert_pem("kubernetes", "kubernetes", now, ca_after)
    kubelet_client = cert_pem(f"system:node:{node}", "kubernetes", now, now + CERT_VALIDITY)
    files: dict[str, str] = {
        KUBELET_CONFIG: kubelet_config_text(),
        # kubelet.conf points at the rotating client certificate file (kubeadm 1.16+).
        KUBELET_KUBECONFIG: kubeconfig_text(f"system:node:{node}", server, kubelet_client, ca),
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
        "/var/lib/kubelet/pki/kubelet-client-current.pem": cert_pem(
            f"system:node:{node}", "kubernetes", now, now + CERT_VALIDITY
        )
        + key_pem(),
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
    files[f"{PKI_DIR}/sa.key"] = key_pem()
    files[f"{PKI_DIR}/sa.pub"] = (
        "-----BEGIN PUBLIC KEY-----\nc2ltdWxhdGVk\n-----END PUBLIC KEY-----\n"
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


def replace_kubeconfig_cert(text: str, cert: str) -> str:
    """The kubeconfig `text` with its client certificate replaced (kubeadm certs renew)."""
    doc = safe_yaml.load_yaml(text)
    doc["users"][0]["user"]["client-certificate-data"] = _b64(cert)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


# ---- manifests --------------------------------------------------------------------------


def _probe(path: str, port: int, host: str, scheme: str, threshold: int, **extra: int) -> dict:
    probe: dict[str, Any] = {
        "failureThreshold": threshold,
        "httpGet": {"host": host, "path": path, "port": port, "scheme": scheme},
    }
    probe.update(extra)
    probe.setdefault("timeoutSeconds", 15)
    return probe


def _host_path(name: str, path: str, kind: str) -> dict[str, Any]:
    return {"hostPath": {"path": path, "type": kind}, "name": name}


def _pod(name: str, container: dict[str, Any], volumes: list, annotations=None) -> dict:
    meta: dict[str, Any] = {
        "labels": {"component": name, "tier": "control-plane"},
        "name": name,
        "namespace": "kube-system",
    }
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [container],
            "hostNetwork": True,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": volumes,
        },
        "status": {},
    }


def _ca_volumes() -> tuple[list[dict], list[dict]]:
    pairs = [
        ("ca-certs", "/etc/ssl/certs"),
        ("etc-ca-certificates", "/etc/ca-certificates"),
        ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates"),
        ("usr-share-ca-certificates", "/usr/share/ca-certificates"),
    ]
    vols = [_host_path(n, p, "DirectoryOrCreate") for n, p in pairs]
    mounts = [{"mountPath": p, "name": n, "readOnly": True} for n, p in pairs]
    return vols, mounts


def _component_container(name: str, image: str, command: list[str], probes: dict, mounts) -> dict:
    container: dict[str, Any] = {
        "command": command,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
        "resources": {"requests": {"cpu": "250m" if name == "kube-apiserver" else "200m"}},
        "volumeMounts": sorted(mounts, key=lambda m: m["name"]),
    }
    if name == "kube-scheduler":
        container["resources"] = {"requests": {"cpu": "100m"}}
    if name == "etcd":
        container["resources"] = {"requests": {"cpu": "100m", "memory": "100Mi"}}
    container.update(probes)
    return container


@lru_cache(maxsize=16)
def _manifests(api_ip: str, version: str) -> tuple[tuple[str, str], ...]:
    return tuple(_build_manifests(api_ip, version).items())


def control_plane_manifests(api_ip: str, version: str = KUBERNETES_VERSION) -> dict[str, str]:
    """kubeadm's four static pod manifests (file name -> YAML), keys sorted as kubeadm
    writes them."""
    return dict(_manifests(api_ip, version))


def _build_manifests(api_ip: str, version: str = KUBERNETES_VERSION) -> dict[str, str]:
    """kubeadm's four static pod manifests (file name -> YAML), keys sorted as kubeadm
    writes them."""
    registry = "registry.k8s.io"
    pods: dict[str, dict[str, Any]] = {}

    def probes(port: int, host: str, scheme: str, live: str, ready: str) -> dict[str, Any]:
        # kubeadm: liveness 8 x 10 s after 10 s, readiness every second, startup
        # allows 24 x 10 s (constants in cmd/kubeadm/app/util/staticpod).
        return {
            "livenessProbe": _probe(
                live, port, host, scheme, 8, initialDelaySeconds=10, periodSeconds=10
            ),
            "readinessProbe": _probe(ready, port, host, scheme, 3, periodSeconds=1),
            "startupProbe": _probe(
                live, port, host, scheme, 24, initialDelaySeconds=10, periodSeconds=10
            ),
        }

    vols, mounts = _ca_volumes()
    pki_vol = _host_path("k8s-certs", PKI_DIR, "DirectoryOrCreate")
    pki_mount = {"mountPath": PKI_DIR, "name": "k8s-certs", "readOnly": True}
    apiserver_flags = [
        f"--advertise-address={api_ip}",
        "--allow-privileged=true",
        "--authorization-mode=Node,RBAC",
        f"--client-ca-file={PKI_DIR}/ca.crt",
        "--enable-admission-plugins=NodeRestriction",
        "--enable-bootstrap-token-auth=true",
        f"--etcd-cafile={PKI_DIR}/etcd/ca.crt",
        f"--etcd-certfile={PKI_DIR}/apiserver-etcd-client.crt",
        f"--etcd-keyfile={PKI_DIR}/apiserver-etcd-client.key",
        "--etcd-servers=https://127.0.0.1:2379",
        f"--kubelet-client-certificate={PKI_DIR}/apiserver-kubelet-client.crt",
        f"--kubelet-client-key={PKI_DIR}/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        f"--proxy-client-cert-file={PKI_DIR}/front-proxy-client.crt",
        f"--proxy-client-key-file={PKI_DIR}/front-proxy-client.key",
        "--requestheader-allowed-names=front-proxy-client",
        f"--requestheader-client-ca-file={PKI_DIR}/front-proxy-ca.crt",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        f"--secure-port={API_PORT}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={PKI_DIR}/sa.pub",
        f"--service-account-signing-key-file={PKI_DIR}/sa.key",
        "--service-cluster-ip-range=10.96.0.0/12",
        f"--tls-cert-file={PKI_DIR}/apiserver.crt",
        f"--tls-private-key-file={PKI_DIR}/apiserver.key",
    ]
    pods["kube-apiserver.yaml"] = _pod(
        "kube-apiserver",
        _component_container(
            "kube-apiserver",
            f"{registry}/kube-apiserver:{version}",
            ["kube-apiserver", *apiserver_flags],
            probes(API_PORT, api_ip, "HTTPS", "/livez", "/readyz"),
            [*mounts, pki_mount],
        ),
        sorted([*vols, pki_vol], key=lambda v: v["name"]),
        {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{api_ip}:{API_PORT}"},
    )
    kcm_conf = "/etc/kubernetes/controller-manager.conf"
    kcm_flags = [
        "--allocate-node-cidrs=true",
        f"--authentication-kubeconfig={kcm_conf}",
        f"--authorization-kubeconfig={kcm_conf}",
        "--bind-address=127.0.0.1",
        f"--client-ca-file={PKI_DIR}/ca.crt",
        "--cluster-cidr=10.244.0.0/16",
        "--cluster-name=kubernetes",
        f"--cluster-signing-cert-file={PKI_DIR}/ca.crt",
        f"--cluster-signing-key-file={PKI_DIR}/ca.key",
        "--controllers=*,bootstrapsigner,tokencleaner",
        f"--kubeconfig={kcm_conf}",
        "--leader-elect=true",
        f"--requestheader-client-ca-file={PKI_DIR}/front-proxy-ca.crt",
        f"--root-ca-file={PKI_DIR}/ca.crt",
        f"--service-account-private-key-file={PKI_DIR}/sa.key",
        "--service-cluster-ip-range=10.96.0.0/12",
        "--use-service-account-credentials=true",
    ]
    flexvolume = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
    pods["kube-controller-manager.yaml"] = _pod(
        "kube-controller-manager",
        _component_container(
            "kube-controller-manager",
            f"{registry}/kube-controller-manager:{version}",
            ["kube-controller-manager", *kcm_flags],
            probes(10257, "127.0.0.1", "HTTPS", "/healthz", "/healthz"),
            [
                *mounts,
                pki_mount,
                {"mountPath": flexvolume, "name": "flexvolume-dir"},
                {"mountPath": kcm_conf, "name": "kubeconfig", "readOnly": True},
            ],
        ),
        sorted(
            [
                *vols,
                pki_vol,
                _host_path("flexvolume-dir", flexvolume, "DirectoryOrCreate"),
                _host_path("kubeconfig", kcm_conf, "FileOrCreate"),
            ],
            key=lambda v: v["name"],
        ),
    )
    sched_conf = "/etc/kubernetes/scheduler.conf"
    pods["kube-scheduler.yaml"] = _pod(
        "kube-scheduler",
        _component_container(
            "kube-scheduler",
            f"{registry}/kube-scheduler:{version}",
            [
                "kube-scheduler",
                f"--authentication-kubeconfig={sched_conf}",
                f"--authorization-kubeconfig={sched_conf}",
                "--bind-address=127.0.0.1",
                f"--kubeconfig={sched_conf}",
                "--leader-elect=true",
            ],
            probes(10259, "127.0.0.1", "HTTPS", "/livez", "/readyz"),
            [{"mountPath": sched_conf, "name": "kubeconfig", "readOnly": True}],
        ),
        [_host_path("kubeconfig", sched_conf, "FileOrCreate")],
    )
    etcd_flags = [
        f"--advertise-client-urls=https://{api_ip}:2379",
        f"--cert-file={PKI_DIR}/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--feature-gates=InitialCorruptCheck=true",
        f"--initial-advertise-peer-urls=https://{api_ip}:2380",
        f"--initial-cluster=controlplane=https://{api_ip}:2380",
        f"--key-file={PKI_DIR}/etcd/server.key",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{api_ip}:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        f"--listen-peer-urls=https://{api_ip}:2380",
        "--name=controlplane",
        f"--peer-cert-file={PKI_DIR}/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        f"--peer-key-file={PKI_DIR}/etcd/peer.key",
        f"--peer-trusted-ca-file={PKI_DIR}/etcd/ca.crt",
        "--snapshot-count=10000",
        f"--trusted-ca-file={PKI_DIR}/etcd/ca.crt",
        "--watch-progress-notify-interval=5s",
    ]
    pods["etcd.yaml"] = _pod(
        "etcd",
        _component_container(
            "etcd",
            f"{registry}/etcd:{ETCD_IMAGE_TAG}",
            ["etcd", *etcd_flags],
            probes(2381, "127.0.0.1", "HTTP", "/livez", "/readyz"),
            [
                {"mountPath": "/var/lib/etcd", "name": "etcd-data"},
                {"mountPath": f"{PKI_DIR}/etcd", "name": "etcd-certs"},
            ],
        ),
        [
            _host_path("etcd-certs", f"{PKI_DIR}/etcd", "DirectoryOrCreate"),
            _host_path("etcd-data", "/var/lib/etcd", "DirectoryOrCreate"),
        ],
        {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{api_ip}:2379"},
    )
    return {name: yaml.dump(pod, Dumper=_Dumper, sort_keys=True) for name, pod in pods.items()}


# ---- component behaviour ----------------------------------------------------------------


def component_of(pod: dict[str, Any]) -> str | None:
    """Which control-plane component a static pod runs (by its binary), or None."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        argv = [str(x) for x in (container.get("command") or [])]
        if argv and posixpath.basename(argv[0]) in COMPONENTS:
            return posixpath.basename(argv[0])
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if labels.get("component") in COMPONENTS and container.get("name") in COMPONENTS:
            return str(labels["component"])
    return None


def parse_flags(component: str, args: list[str]) -> tuple[dict[str, str], str | None]:
    """pflag-style parsing: ({flag: value}, error line or None)."""
    table = FLAGS[component]
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        body = arg.lstrip("-")
        name, has_value, value = body.partition("=")
        if name not in table:
            dashes = "--" if arg.startswith("--") else "-"
            if dashes == "-" and len(name) == 1:
                return values, f"Error: unknown shorthand flag: '{name}' in {arg}"
            return values, f"Error: unknown flag: {dashes}{name}"
        kind = table[name]
        if not has_value:
            if kind == "bool":
                value = "true"
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                return values, f"Error: flag needs an argument: --{name}"
        if kind == "bool" and value.lower() not in ("true", "false", "1", "0", "t", "f"):
            return values, (
                f'Error: invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: '
                f'parsing "{value}": invalid syntax'
            )
        if kind == "int" and not value.lstrip("-").isdigit():
            return values, (
                f'Error: invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: '
                f'parsing "{value}": invalid syntax'
            )
        values[name] = value
    return values, None


def container_path(container: dict[str, Any], volumes: list[dict], path: str) -> str | None:
    """The host path a container path resolves to through its hostPath mounts, or None
    when no mount covers it (the image's own file system has no such file)."""
    by_name = {v.get("name"): v for v in volumes if isinstance(v, dict)}
    best: tuple[int, str] | None = None
    for mount in container.get("volumeMounts") or []:
        mount_path = str(mount.get("mountPath") or "").rstrip("/")
        if not mount_path or not (path == mount_path or path.startswith(mount_path + "/")):
            continue
        host = ((by_name.get(mount.get("name")) or {}).get("hostPath") or {}).get("path")
        if host and (best is None or len(mount_path) > best[0]):
            best = (len(mount_path), str(host).rstrip("/") + path[len(mount_path) :])
    return best[1] if best else None


def _stat_error(path: str) -> str:
    return f"stat {path}: no such file or directory"


def _usage(component: str) -> list[str]:
    return [
        "Usage:",
        f"  {component} [flags]",
        "",
        "Flags:",
        "  -h, --help   help for " + component,
    ]


def component_program(
    component: str,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    fs: VirtualFS,
    api_endpoints: tuple[str, ...],
    etcd_running: bool = True,
) -> Program:
    """What the component binary does with this container spec on this node
    (`etcd_running`: whether the local etcd answers when an API server starts)."""
    argv = [str(x) for x in (container.get("command") or [])] + [
        str(x) for x in (container.get("args") or [])
    ]
    binary = posixpath.basename(argv[0]) if argv else component
    prog = Program()
    if binary != component:
        # runc cannot exec a binary the image does not have: the container never runs.
        prog.exit_after = 0.0
        prog.exit_code = 128
        prog.reason = "StartError"
        prog.message = (
            "failed to create containerd task: failed to create shim task: OCI runtime "
            "create failed: runc create failed: unable to start container process: error "
            f'during container init: exec: "{argv[0] if argv else ""}": executable file not '
            "found in $PATH: unknown"
        )
        return prog
    flags, error = parse_flags(component, argv[1:])
    if error is not None:
        prog.exit_after = 0.0
        prog.exit_code = 1
        prog.reason = "Error"
        prog.logs = [(0.0, "", error)] + [(0.0, "", line) for line in _usage(binary)]
        prog.logs.append((0.0, "", ""))
        prog.logs.append((0.0, "", f'Use "{binary} --help" for more information.'))
        return prog

    def fail(message: str, *, etcd_style: bool = False) -> Program:
        prog.exit_after = 0.0
        prog.exit_code = 1
        prog.reason = "Error"
        if etcd_style:
            prog.logs.append(
                (
                    0.5,
                    "",
                    json.dumps(
                        {
                            "level": "fatal",
                            "caller": "etcdmain/etcd.go:183",
                            "msg": "discovery failed",
                            "error": message,
                        }
                    ),
                )
            )
        else:
            prog.logs.append((0.0, "E", f'run.go:72] "command failed" err="{message}"'))
        return prog

    def visible(path: str) -> bool:
        host = container_path(container, volumes, path)
        return host is not None and fs.is_file(host)

    version = KUBERNETES_VERSION
    if component in ("kube-scheduler", "kube-controller-manager"):
        prog.logs.append((0.0, "I", "serving.go:386] Generated self-signed cert in-memory"))
        for name in KUBECONFIG_FLAGS:
            path = flags.get(name)
            if path is None:
                continue
            if not visible(path):
                return fail(_stat_error(path))
            text = fs.read(container_path(container, volumes, path) or path)
            try:
                doc = safe_yaml.load_yaml(text)
            except yaml.YAMLError as exc:
                return fail(f'error loading config file \\"{path}\\": {_yaml_summary(exc)}')
            if not isinstance(doc, dict) or not doc.get("clusters"):
                return fail(
                    "invalid configuration: no configuration has been provided, try setting "
                    "KUBERNETES_MASTER environment variable"
                )
    for name in FILE_FLAGS.get(component, ()):
        for path in (flags.get(name) or "").split(","):
            if path and not visible(path):
                if component == "etcd":
                    return fail(f"open {path}: no such file or directory", etcd_style=True)
                return fail(f"open {path}: no such file or directory")
    port = int(flags.get("secure-port", SECURE_PORTS[component]))
    bind = flags.get("bind-address", "0.0.0.0")
    prog.ports = [port]
    prog.tls_ports = [port] if component != "etcd" else []
    prog.listen = [f"{'*' if bind in ('0.0.0.0', '::') else bind}:{port}"]
    if component == "etcd":
        urls = [
            u.split("://", 1)[-1]
            for name in ("listen-client-urls", "listen-peer-urls", "listen-metrics-urls")
            for u in flags.get(name, "").split(",")
            if u.rsplit(":", 1)[-1].isdigit()
        ]
        prog.listen = urls
        prog.ports = sorted({int(u.rsplit(":", 1)[1]) for u in urls})
        prog.logs += [
            (
                0.0,
                "",
                json.dumps(
                    {
                        "level": "info",
                        "msg": "starting an etcd server",
                        "etcd-version": ETCD_IMAGE_TAG.split("-")[0],
                        "data-dir": flags.get("data-dir", "default.etcd"),
                    }
                ),
            ),
            (
                1.0,
                "",
                json.dumps(
                    {
                        "level": "info",
                        "msg": "serving client traffic securely",
                        "address": "127.0.0.1:2379",
                    }
                ),
            ),
        ]
        return prog
    if component == "kube-apiserver":
        prog.logs += [
            (
                0.0,
                "I",
                "options.go:249] external host was not specified, using "
                f"{api_endpoints[0].split(':')[0] if api_endpoints else '127.0.0.1'}",
            ),
            (0.1, "I", f'server.go:175] "Version info" version="{version}"'),
        ]
        node_ip = api_endpoints[0].split(":")[0] if api_endpoints else "127.0.0.1"
        etcd_clients = {"127.0.0.1:2379", "localhost:2379", f"{node_ip}:2379"}
        servers = [
            u.split("://", 1)[-1].rstrip("/") for u in flags.get("etcd-servers", "").split(",")
        ]
        unreachable = [s for s in servers if s and (s not in etcd_clients or not etcd_running)]
        if unreachable or not any(servers):
            # The storage backend never answers: the API server retries, then gives up
            # (storagebackend's dial timeout), and the kubelet restarts it.
            target = unreachable[0] if unreachable else "127.0.0.1:2379"
            for second in range(1, 20, 5):
                prog.logs.append(
                    (
                        float(second),
                        "W",
                        "logging.go:55] [core] [Channel #1 SubChannel #2]grpc: addrConn."
                        f'createTransport failed to connect to {{Addr: "{target}", ServerName: '
                        f'"{target}", }}. Err: connection error: desc = "transport: Error while '
                        f'dialing: dial tcp {target}: connect: connection refused"',
                    )
                )
            prog.logs.append(
                (20.0, "E", 'run.go:72] "command failed" err="context deadline exceeded"')
            )
            prog.exit_after = 20.0
            prog.exit_code = 1
            prog.reason = "Error"
            return prog
        prog.logs.append((2.0, "I", f"secure_serving.go:213] Serving securely on [::]:{port}"))
        return prog
    title = "Kubernetes Scheduler" if component == "kube-scheduler" else "Controller Manager"
    source = "server.go:167" if component == "kube-scheduler" else "controllermanager.go:193"
    lease = component
    prog.logs += [
        (
            0.1,
            "I",
            f'{source}] "Starting {title}" version="{version}"',
        ),
        (0.2, "I", f"secure_serving.go:211] Serving securely on {bind}:{port}"),
    ]
    server = _kubeconfig_server(fs, container, volumes, flags.get("kubeconfig"))
    if server is not None and api_endpoints and server not in api_endpoints:
        # Running, but every request fails: it never gets the leader lease.
        prog.functional = False
        prog.repeat = (
            1.0,
            10.0,
            [
                (
                    "E",
                    f"leaderelection.go:436] error retrieving resource lock kube-system/{lease}: "
                    f'Get "https://{server}/apis/coordination.k8s.io/v1/namespaces/kube-system/'
                    f'leases/{lease}?timeout=5s": dial tcp {server}: connect: connection refused',
                )
            ],
        )
        return prog
    if flags.get("leader-elect", "true").lower() in ("true", "1", "t"):
        prog.logs += [
            (
                0.3,
                "I",
                f"leaderelection.go:257] attempting to acquire leader lease kube-system/{lease}...",
            ),
            (0.5, "I", f"leaderelection.go:271] successfully acquired lease kube-system/{lease}"),
        ]
    return prog


def _kubeconfig_server(
    fs: VirtualFS, container: dict[str, Any], volumes: list[dict], path: str | None
) -> str | None:
    if not path:
        return None
    host = container_path(container, volumes, path)
    if host is None or not fs.is_file(host):
        return None
    try:
        # Bounded (node files are the learner's to write) and on libyaml: this runs on
        # every component start.
        doc = safe_yaml.load_yaml(fs.read(host))
        url = str(doc["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    return url.split("://", 1)[-1].rstrip("/")


def _yaml_summary(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"yaml: line {mark.line + 1}: {problem}"
    return f"yaml: {problem}"

"""The control plane's static pod manifests, as kubeadm writes them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from app.sim.nodes.components.layout import (
    API_PORT,
    ETCD_IMAGE_TAG,
    KUBERNETES_VERSION,
    PKI_DIR,
    _Dumper,
)

# ---- manifests


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

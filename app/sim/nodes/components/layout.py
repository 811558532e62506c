"""What kubeadm lays out: the Kubernetes and image versions, the paths of the
manifests, PKI, kubelet configuration and drop-in, and the components' secure ports.
"""

from __future__ import annotations

from datetime import timedelta

import yaml

from app.sim.apiserver.discovery import version_info

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
KUBELET_CLIENT_CERT = "/var/lib/kubelet/pki/kubelet-client-current.pem"
# What `kubeadm join` writes on a machine (absent on a spare machine until then).
JOIN_FILES = (
    KUBELET_CONFIG,
    KUBELET_KUBECONFIG,
    KUBEADM_FLAGS,
    f"{PKI_DIR}/ca.crt",
    KUBELET_CLIENT_CERT,
)
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

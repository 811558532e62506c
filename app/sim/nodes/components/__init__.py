"""Control-plane components as kubeadm lays them out: static pod manifests, the node
files they read (kubeconfigs, PKI, kubelet configuration), their flag tables, and the
health each one gets from its manifest.

`component_program` plays what the binary does at start-up: pflag parsing (an unknown
flag ends it with `Error: unknown flag: --kubeconfigg`), loading its kubeconfig
(`stat /etc/kubernetes/schedulr.conf: no such file or directory`), opening its
certificates, then serving on its secure port — which is where the kubelet's probes
must point. The flag tables are a realistic subset of upstream's (the flags kubeadm
writes plus the commonly used ones), not the complete set.

Split into layout (versions, paths, ports), flags, files, manifests and behaviour;
this package re-exports their public names (and `_yaml_summary`, which the kubelet
uses for manifest errors).
"""

from app.sim.nodes.components.behaviour import (
    _yaml_summary,
    component_of,
    component_program,
    container_path,
    parse_flags,
)
from app.sim.nodes.components.files import (
    CA_CERTS,
    CONTAINERD_UNIT_TEXT,
    KUBECONFIG_CERTS,
    KUBELET_DROPIN_TEXT,
    KUBELET_UNIT_TEXT,
    LEAF_CERTS,
    cert_pem,
    key_pem,
    kubeconfig_cert,
    kubeconfig_cert_validity,
    kubeconfig_text,
    kubelet_config_text,
    node_files,
    parse_cert,
    redate_certificate,
    replace_kubeconfig_cert,
)
from app.sim.nodes.components.flags import FILE_FLAGS, FLAGS, KUBECONFIG_FLAGS
from app.sim.nodes.components.layout import (
    API_PORT,
    CA_VALIDITY,
    CERT_VALIDITY,
    COMPONENTS,
    COREDNS_IMAGE,
    ETCD_IMAGE_TAG,
    JOIN_FILES,
    KUBEADM_FLAGS,
    KUBELET_CLIENT_CERT,
    KUBELET_CONFIG,
    KUBELET_DROPIN,
    KUBELET_KUBECONFIG,
    KUBERNETES_VERSION,
    MANIFESTS_DIR,
    PAUSE_IMAGE,
    PKI_DIR,
    SECURE_PORTS,
)
from app.sim.nodes.components.manifests import control_plane_manifests

__all__ = [
    "API_PORT",
    "CA_CERTS",
    "CA_VALIDITY",
    "CERT_VALIDITY",
    "COMPONENTS",
    "CONTAINERD_UNIT_TEXT",
    "COREDNS_IMAGE",
    "ETCD_IMAGE_TAG",
    "FILE_FLAGS",
    "FLAGS",
    "JOIN_FILES",
    "KUBEADM_FLAGS",
    "KUBECONFIG_CERTS",
    "KUBECONFIG_FLAGS",
    "KUBELET_CLIENT_CERT",
    "KUBELET_CONFIG",
    "KUBELET_DROPIN",
    "KUBELET_DROPIN_TEXT",
    "KUBELET_KUBECONFIG",
    "KUBELET_UNIT_TEXT",
    "KUBERNETES_VERSION",
    "LEAF_CERTS",
    "MANIFESTS_DIR",
    "PAUSE_IMAGE",
    "PKI_DIR",
    "SECURE_PORTS",
    "_yaml_summary",
    "cert_pem",
    "component_of",
    "component_program",
    "container_path",
    "control_plane_manifests",
    "key_pem",
    "kubeconfig_cert",
    "kubeconfig_cert_validity",
    "kubeconfig_text",
    "kubelet_config_text",
    "node_files",
    "parse_cert",
    "parse_flags",
    "redate_certificate",
    "replace_kubeconfig_cert",
]

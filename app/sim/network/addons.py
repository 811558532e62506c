"""The two add-ons the pod network depends on, as their processes read their config.

- CoreDNS reads the Corefile its pod mounts from the `coredns` ConfigMap (`-conf
  /etc/coredns/Corefile`); a file it cannot parse, or one without a `kubernetes`
  block, makes it exit 1 at start (CrashLoopBackOff). A Corefile edited into a broken
  one later is ignored by the running process (the `reload` plugin keeps the old
  configuration), so the simulator keeps answering with the default zone then.
- kube-proxy reads `config.conf` from the `kube-proxy` ConfigMap; an unknown `mode` or a
  file that does not decode makes it exit 1 (`"Error running ProxyServer"`). It also
  exits when its config file changes, so the current ConfigMap counts at once.

`startup_failure` is what the kubelet asks before starting a container of these
images: None, or (exit code, log lines).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.sim.machinery import safe_yaml
from app.sim.network.corefile import CorefileError, KubernetesZone, kubernetes_zone, parse
from app.sim.network.view import ClusterView, Obj, meta, pod_ready, pod_running, spec

PROXY_MODES = ("iptables", "ipvs", "nftables")
DEFAULT_COREFILE = "/etc/coredns/Corefile"
DEFAULT_PROXY_CONFIG = "/var/lib/kube-proxy/config.conf"
DEFAULT_PROXY_KUBECONFIG = "/var/lib/kube-proxy/kubeconfig.conf"


def image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rsplit(":", 1)[0]
    return name.rsplit("/", 1)[-1]


def _flag(argv: list[str], names: tuple[str, ...], default: str) -> str:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


def mounted_file(store: Any, pod: Obj, container: Obj, path: str) -> str | None:
    """The content of `path` in a container when a ConfigMap volume provides it."""
    volumes = {v.get("name"): v for v in spec(pod).get("volumes") or []}
    namespace = str(meta(pod).get("namespace") or "default")
    for mount in container.get("volumeMounts") or []:
        root = str(mount.get("mountPath") or "").rstrip("/")
        if not root or posixpath.dirname(path) != root:
            continue
        source = (volumes.get(mount.get("name")) or {}).get("configMap")
        if not source:
            continue
        obj = store.get("", "configmaps", namespace, str(source.get("name")))
        data = (obj or {}).get("data") or {}
        wanted = posixpath.basename(path)
        items = {i.get("path"): i.get("key") for i in source.get("items") or []}
        data_key = items.get(wanted, wanted if not items else None)
        return None if data_key is None else data.get(data_key)
    return None


def _argv(container: Obj) -> list[str]:
    return [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]


def coredns_failure(store: Any, pod: Obj, container: Obj) -> tuple[int | None, list[str]] | None:
    path = _flag(_argv(container), ("-conf",), DEFAULT_COREFILE)
    text = mounted_file(store, pod, container, path)
    if text is None:
        return 1, [f"loading Caddyfile via flag: open {path}: no such file or directory"]
    try:
        parse(text, path)
    except CorefileError as exc:
        return 1, [str(exc)]
    # A Corefile without a `kubernetes` block starts, but answers no cluster name.
    return None


def proxy_config_error(text: str | None, path: str = DEFAULT_PROXY_CONFIG) -> str | None:
    """Why kube-proxy refuses its config file (its log message), or None."""
    return _proxy_config(text, path)[1]


@lru_cache(maxsize=64)
def _proxy_config(text: str | None, path: str) -> tuple[str, str | None]:
    """(the proxy mode, None) for a config kube-proxy accepts, else ("", its error)."""
    if text is None:
        return "", f'"Error running ProxyServer" err="open {path}: no such file or directory"'
    try:
        data = safe_yaml.load_yaml(text)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        return "", f'"Error running ProxyServer" err="failed to decode: {first}"'
    if not isinstance(data, Mapping) or data.get("kind") != "KubeProxyConfiguration":
        return "", (
            '"Error running ProxyServer" err="failed to decode: no kind '
            '\\"KubeProxyConfiguration\\" is registered"'
        )
    mode = str(data.get("mode") or "")
    if mode and mode not in PROXY_MODES:
        return "", (
            '"Error running ProxyServer" err="invalid configuration: [KubeProxyConfiguration.'
            f'Mode: Invalid value: \\"{mode}\\": must be iptables, ipvs, nftables or blank '
            '(blank means the best-available proxy [currently iptables])]"'
        )
    return mode or "iptables", None


def kube_proxy_failure(store: Any, pod: Obj, container: Obj) -> tuple[int | None, list[str]] | None:
    path = _flag(_argv(container), ("--config",), DEFAULT_PROXY_CONFIG)
    text = mounted_file(store, pod, container, path)
    error = proxy_config_error(text, path)
    if error is not None:
        return 1, [error]
    kubeconfig = _kubeconfig_path(text or "")
    if mounted_file(store, pod, container, kubeconfig) is None:
        return 1, [
            f'"Error running ProxyServer" err="stat {kubeconfig}: no such file or directory"'
        ]
    unreachable = api_server_error(store, pod, container, text or "")
    # Running, but it never gets the Services: it logs and programs nothing.
    return None if unreachable is None else (None, [unreachable])


def _kubeconfig_path(config_text: str) -> str:
    try:
        data = safe_yaml.load_yaml(config_text)
    except Exception:
        return DEFAULT_PROXY_KUBECONFIG
    connection = data.get("clientConnection") if isinstance(data, Mapping) else None
    value = connection.get("kubeconfig") if isinstance(connection, Mapping) else None
    return str(value or DEFAULT_PROXY_KUBECONFIG)


def api_server_error(store: Any, pod: Obj, container: Obj, config_text: str) -> str | None:
    """kube-proxy's error reaching the API server its kubeconfig names, or None."""
    text = mounted_file(store, pod, container, _kubeconfig_path(config_text)) or ""
    server = _kubeconfig_server(text)
    match = re.fullmatch(r"https://([^:/]+)(?::(\d+))?/?", server)
    node = str(spec(pod).get("nodeName") or "")
    where = f"{server}/api/v1/nodes/{node}"
    if match is None:
        return (
            f'"Failed to retrieve node info" err="Get \\"{where}\\": unsupported protocol scheme"'
        )
    host, port = match.group(1), int(match.group(2) or 443)
    addresses = _control_plane_addresses(store)
    if host not in addresses:
        return (
            f'"Failed to retrieve node info" err="Get \\"{where}\\": dial tcp: lookup {host} '
            'on 127.0.0.53:53: server misbehaving"'
        )
    if port != 6443:
        return (
            f'"Failed to retrieve node info" err="Get \\"{where}\\": dial tcp '
            f'{addresses[host]}:{port}: connect: connection refused"'
        )
    return None


def _kubeconfig_server(text: str) -> str:
    try:
        data = safe_yaml.load_yaml(text)
    except Exception:
        return ""
    clusters = data.get("clusters") if isinstance(data, Mapping) else None
    for item in clusters if isinstance(clusters, list) else []:
        cluster = item.get("cluster") if isinstance(item, Mapping) else None
        if isinstance(cluster, Mapping) and cluster.get("server"):
            return str(cluster["server"])
    return ""


def _control_plane_addresses(store: Any) -> dict[str, str]:
    """Names and addresses that reach the API server -> its address."""
    out: dict[str, str] = {}
    for node in store.list("", "nodes")[0]:
        labels = meta(node).get("labels") or {}
        if "node-role.kubernetes.io/control-plane" not in labels:
            continue
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                ip = str(address.get("address"))
                out[str(meta(node).get("name"))] = ip
                out[ip] = ip
                # The add-on's kubeconfig template names the API endpoint `controlplane`
                # (kubeadm's controlPlaneEndpoint), whatever a lab calls the node.
                out.setdefault("controlplane", ip)
    return out


def startup_failure(store: Any, pod: Obj, container: Obj) -> tuple[int | None, list[str]] | None:
    """(exit code, log lines) when an add-on container exits at start for its config;
    an exit code of None: it keeps running but logs those lines."""
    repository = image_repository(str(container.get("image") or ""))
    if repository == "coredns":
        return coredns_failure(store, pod, container)
    if repository == "kube-proxy":
        return kube_proxy_failure(store, pod, container)
    return None


# ---- what the data plane asks -------------------------------------------------------


def proxy_pod(view: ClusterView, node: str) -> Obj | None:
    for pod in view.kube_system_pods():
        labels = meta(pod).get("labels") or {}
        if (
            meta(pod).get("namespace") == "kube-system"
            and labels.get("k8s-app") == "kube-proxy"
            and spec(pod).get("nodeName") == node
        ):
            return pod
    return None


def proxy_mode(view: ClusterView, node: str) -> str | None:
    """The mode kube-proxy programs on `node` ("iptables", "ipvs", "nftables"), or None
    when no working kube-proxy runs there (no pod, not running, or a config it
    refuses)."""
    if node not in view.proxy_modes:
        view.proxy_modes[node] = _proxy_mode(view, node)
    return view.proxy_modes[node]


def _proxy_mode(view: ClusterView, node: str) -> str | None:
    pod = proxy_pod(view, node)
    if pod is None or not pod_running(pod) or not pod_ready(pod):
        return None
    containers = spec(pod).get("containers") or [{}]
    path = _flag(_argv(containers[0]), ("--config",), DEFAULT_PROXY_CONFIG)
    text = mounted_file(view.store, pod, containers[0], path)
    mode, error = _proxy_config(text, path)
    if error is not None or api_server_error(view.store, pod, containers[0], text or ""):
        return None
    return mode


def cluster_cidr(view: ClusterView) -> str:
    cm = view.store.get("", "configmaps", "kube-system", "kube-proxy") or {}
    try:
        data = safe_yaml.load_yaml((cm.get("data") or {}).get("config.conf") or "{}")
    except Exception:
        data = {}
    value = data.get("clusterCIDR") if isinstance(data, Mapping) else None
    return str(value or "10.244.0.0/16")


def dns_zone(store: Any, coredns_pod: Obj) -> KubernetesZone | None:
    """What the `kubernetes` plugin of this CoreDNS pod serves; None when its Corefile
    has no such block. A Corefile broken after the start keeps the default zone."""
    containers = spec(coredns_pod).get("containers") or [{}]
    path = _flag(_argv(containers[0]), ("-conf",), DEFAULT_COREFILE)
    return _zone(mounted_file(store, coredns_pod, containers[0], path) or "", path)


@lru_cache(maxsize=64)
def _zone(text: str, path: str) -> KubernetesZone | None:
    try:
        return kubernetes_zone(parse(text, path))
    except CorefileError:
        return KubernetesZone()


def is_dns_server(pod: Obj) -> bool:
    return any(
        image_repository(str(c.get("image") or "")) == "coredns"
        for c in spec(pod).get("containers") or []
    )

"""kubeconfig files for simulated clusters, in the shape kubeadm writes admin.conf."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_kubeconfig(
    *,
    cluster_name: str,
    server: str,
    user: str = "kubernetes-admin",
    token: str | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    ca_pem: bytes | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig dict with one cluster, one user and one current context.

    The context is named `USER@CLUSTER` as kubeadm does. Without `ca_pem` the server is
    expected to be plain http. Raises ValueError when no credential is given.
    """
    if token is None and client_cert_pem is None:
        raise ValueError("a kubeconfig needs a token or a client certificate")
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    credentials: dict[str, Any] = {}
    if token is not None:
        credentials["token"] = token
    if client_cert_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        if client_key_pem is None:
            raise ValueError("a client certificate needs its key")
        credentials["client-key-data"] = _b64(client_key_pem)
    context_name = f"{user}@{cluster_name}"
    context: dict[str, Any] = {"cluster": cluster_name, "user": user}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
    }


def dump_kubeconfig(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(config: dict[str, Any], path: str | Path) -> Path:
    """Write with mode 0600 (it holds a credential); parent directories are created."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(dump_kubeconfig(config))
    return target

"""A grade tells "the cluster answers, the object is absent" (a legitimate fail) from
"the cluster is gone or unreachable" (an infrastructure error that is never a score)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from kubernetes import config as kube_config

from app.grading.reader import (
    ClusterGoneError,
    ClusterReader,
    ClusterReadError,
    ClusterUnreachableError,
)

pytestmark = [pytest.mark.reliability]


def _client_for(sim_cluster: Any, server: str, token: str | None = None) -> Any:
    ca = sim_cluster.workdir / "ca.pem"
    ca.write_bytes(sim_cluster.server.ca.cert_pem)
    configuration = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "u", "user": {"token": token or sim_cluster.token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    return kube_config.new_client_from_config_dict(configuration)


def test_live_cluster_absent_object_is_a_plain_miss(sim_cluster: Any, reader: ClusterReader):
    reader.ensure_alive()
    assert reader.get("v1", "ConfigMap", "nothing-here", "default") is None
    assert reader.get("rbac.authorization.k8s.io/v1", "Role", "nothing", "default") is None
    # A group the cluster does not serve (a CRD never installed) is a read error of one
    # check, not a lost cluster.
    with pytest.raises(ClusterReadError) as caught:
        reader.resource("example.com/v1", "Widget")
    assert not isinstance(caught.value, ClusterUnreachableError)


def test_unknown_cluster_is_gone_not_a_missing_kind(sim_cluster: Any) -> None:
    base = sim_cluster.server.base_url
    client = _client_for(sim_cluster, f"{base}/clusters/cnotthere00")
    try:
        reader = ClusterReader(client)
        # The simulator answers credentials for an id it does not hold with 401, as any
        # cluster answers credentials it did not issue (it never reveals which ids exist).
        with pytest.raises(ClusterGoneError, match="HTTP 401"):
            reader.ensure_alive()
        # Discovery of a kind on a cluster the server does not hold used to read as
        # "the server does not serve kind 'Role'" and grade 0; now it is an outage.
        with pytest.raises(ClusterGoneError):
            ClusterReader(client).resource("rbac.authorization.k8s.io/v1", "Role")
    finally:
        client.close()


def test_refused_credentials_are_gone(sim_cluster: Any) -> None:
    client = _client_for(sim_cluster, sim_cluster.url, token="not-a-token-of-this-cluster")
    try:
        with pytest.raises(ClusterGoneError, match="HTTP 401"):
            ClusterReader(client).ensure_alive()
    finally:
        client.close()


def test_connection_refused_is_unreachable(sim_cluster: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _client_for(sim_cluster, f"https://127.0.0.1:{port}/clusters/{sim_cluster.id}")
    client.configuration.retries = 0
    try:
        with pytest.raises(ClusterUnreachableError) as caught:
            ClusterReader(client).ensure_alive()
        assert not isinstance(caught.value, ClusterGoneError)
    finally:
        client.close()

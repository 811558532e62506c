"""API-layer edge cases over HTTPS: malformed bodies, warnings, credentials bound to one
cluster or one service account, binding preconditions, StatefulSet claim mounts, CRD
printer columns, the protobuf OpenAPI document, and the control-plane admin routes."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from app.sim.apiserver import openapi
from app.sim.apiserver.pipeline import _quote_warning
from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl


@pytest.fixture
def ca_file(sim_server: SimServer, tmp_path: Path) -> str:
    assert sim_server.ca is not None
    path = tmp_path / "ca.crt"
    path.write_bytes(sim_server.ca.cert_pem)
    return str(path)


def call(
    sim: SimCluster, ca_file: str, method: str, path: str, token: str | None = None, **kw: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or sim.token}", **kw.pop("headers", {})}
    return requests.request(
        method, f"{sim.url}{path}", headers=headers, verify=ca_file, timeout=30, **kw
    )


def test_deeply_nested_body_is_a_bad_request(sim_cluster: SimCluster, ca_file: str) -> None:
    depth = 100_000
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":'
    body += "[" * depth + "]" * depth + "}"
    response = call(
        sim_cluster,
        ca_file,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["kind"] == "Status"
    yaml_body = "a: " + "[" * depth + "]" * depth
    response = call(
        sim_cluster,
        ca_file,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        data=yaml_body,
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 400, response.text


def test_warning_header_quotes_are_escaped() -> None:
    quoted = _quote_warning('field "spec.x" is \\deprecated\\')
    header = f'299 - "{quoted}"'
    # RFC 7230 quoted-string: backslash escapes, no bare quote inside.
    assert re.fullmatch(r'299 - "(?:[^"\\]|\\.)*"', header)
    assert quoted == 'field \\"spec.x\\" is \\\\deprecated\\\\'


def test_deleted_service_account_token_stops_working(
    sim_cluster: SimCluster, ca_file: str, kubectl
) -> None:
    kubectl("create", "serviceaccount", "robot")
    token = kubectl("create", "token", "robot").stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    ok = call(sim_cluster, ca_file, "POST", path, token=token, json=review)
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"
    kubectl("delete", "serviceaccount", "robot")
    gone = call(sim_cluster, ca_file, "POST", path, token=token, json=review)
    assert gone.status_code == 401
    # A new account of the same name has a new uid: the old token stays dead.
    kubectl("create", "serviceaccount", "robot")
    again = call(sim_cluster, ca_file, "POST", path, token=token, json=review)
    assert again.status_code == 401


def test_client_certificate_of_another_cluster_is_refused(
    sim_cluster_factory, ca_file: str, tmp_path: Path
) -> None:
    first, second = sim_cluster_factory(nodes=1), sim_cluster_factory(nodes=1)
    pair = first.cluster.auth.issue_client_cert("jane", ("devs",))
    cert, key = tmp_path / "jane.crt", tmp_path / "jane.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    for sim, expected in ((first, 201), (second, 401)):
        response = requests.post(
            f"{sim.url}{path}", json=review, verify=ca_file, cert=(str(cert), str(key)), timeout=30
        )
        assert response.status_code == expected, response.text


def test_binding_honours_the_uid_precondition(sim_cluster: SimCluster, ca_file: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bind-me"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    created = call(sim_cluster, ca_file, "POST", "/api/v1/namespaces/default/pods", json=pod)
    assert created.status_code == 201
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bind-me", "uid": "00000000-0000-0000-0000-000000000000"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node01"},
    }
    path = "/api/v1/namespaces/default/pods/bind-me/binding"
    stale = call(sim_cluster, ca_file, "POST", path, json=binding)
    assert stale.status_code == 409
    assert "Precondition failed" in stale.json()["message"]
    binding["metadata"]["uid"] = created.json()["metadata"]["uid"]
    bound = call(sim_cluster, ca_file, "POST", path, json=binding)
    assert bound.status_code == 201, bound.text


def test_statefulset_may_mount_its_claim_templates(kubectl) -> None:
    manifest = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    assert kubectl("get", "statefulset", "db", "-o", "name").stdout.strip() == "statefulset.apps/db"
    wrong = manifest.replace("name: data, mountPath", "name: other, mountPath")
    refused = kubectl(
        "apply", "-f", "-", input=wrong.replace("name: db}", "name: db2}"), check=False
    )
    assert refused.returncode != 0
    assert "Not found" in refused.stderr


def test_custom_resource_table_uses_printer_columns(kubectl) -> None:
    crd = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: string}}}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
"""
    kubectl("apply", "-f", "-", input=crd)
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: large}\n"
    kubectl("apply", "-f", "-", input=widget)
    out = kubectl("get", "widgets").lines
    assert out[0].split() == ["NAME", "SIZE"]
    assert out[1].split() == ["w1", "large"]


def test_apply_of_a_list_and_an_unknown_kind(kubectl) -> None:
    listing = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: two}
"""
    out = kubectl("apply", "-f", "-", input=listing)
    assert "configmap/one created" in out.stdout and "configmap/two created" in out.stdout
    unknown = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
    refused = kubectl("apply", "-f", "-", input=unknown, check=False)
    assert refused.returncode != 0
    assert 'no matches for kind "Gadget" in version "example.com/v1"' in refused.stderr


def test_openapi_v2_protobuf_is_served(sim_cluster: SimCluster, ca_file: str) -> None:
    response = call(
        sim_cluster,
        ca_file,
        "GET",
        "/openapi/v2",
        headers={"Accept": f"{openapi.V2_PROTOBUF_MEDIA}, application/json"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == openapi.V2_PROTOBUF_CONTENT_TYPE
    assert b"io.k8s.api.core.v1.Pod" in response.content


def test_openapi_v3_document_at_its_hash_is_cacheable(
    sim_server: SimServer, sim_cluster: SimCluster, ca_file: str
) -> None:
    """As kube-openapi: kubectl's HTTP cache keeps the document the index points at, so
    `kubectl apply` does not download it again; a stale hash is sent to the current."""
    index = call(sim_cluster, ca_file, "GET", "/openapi/v3").json()
    relative = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    current = relative.split("hash=")[1]

    def get(path: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {sim_cluster.token}", "Accept": "application/json"}
        url = sim_server.base_url + path
        return requests.get(url, headers=headers, verify=ca_file, allow_redirects=False)

    hashed = get(relative)
    assert hashed.status_code == 200
    assert b'"Deployment"' in hashed.content
    assert hashed.headers["ETag"] == f'"{current}"'
    assert hashed.headers["Cache-Control"] == "public, immutable"
    expires = parsedate_to_datetime(hashed.headers["Expires"])
    assert expires - parsedate_to_datetime(hashed.headers["Date"]) > dt.timedelta(days=360)
    plain = get(relative.split("?")[0])
    assert plain.status_code == 200 and "Cache-Control" not in plain.headers
    assert plain.headers["ETag"] == f'"{current}"'
    stale = get(relative.split("?")[0] + "?hash=" + "0" * 64)
    assert stale.status_code == 301
    assert stale.headers["Location"] == relative


def test_admin_tick_needs_a_manual_clock(
    sim_server: SimServer, sim_cluster: SimCluster, ca_file: str
) -> None:
    headers = {"Authorization": f"Bearer {sim_server.admin_token}"}
    base = f"{sim_server.base_url}/admin/clusters"
    wall = requests.post(
        f"{base}/{sim_cluster.id}/tick", json={"seconds": 1}, headers=headers, verify=ca_file
    )
    assert wall.status_code == 409
    bad = requests.post(base, json={"clock": "lunar"}, headers=headers, verify=ca_file)
    assert bad.status_code == 422
    made = requests.post(
        base, json={"clock": "manual", "nodes": 1}, headers=headers, verify=ca_file
    )
    assert made.status_code == 201
    cluster_id = made.json()["id"]
    try:
        first = requests.post(
            f"{base}/{cluster_id}/tick", json={"seconds": 90}, headers=headers, verify=ca_file
        ).json()["now"]
        status = requests.get(
            f"{base}/{cluster_id}/controlplane", headers=headers, verify=ca_file
        ).json()
        assert status["clock"] == "manual" and status["now"] == first
        assert status["components"]["kube-scheduler"] is True
        # Snapshot and restore carry the clock; the restored cluster is Ready at once.
        snap = requests.get(f"{base}/{cluster_id}/snapshot", headers=headers, verify=ca_file)
        assert snap.json()["clock"] == first
        restored = requests.post(
            f"{base}/{cluster_id}/restore", json=snap.json(), headers=headers, verify=ca_file
        )
        assert restored.status_code == 200
        nodes = requests.get(f"{base}/{cluster_id}/nodes", headers=headers, verify=ca_file)
        assert [n["ready"] for n in nodes.json()["items"]] == [True]
    finally:
        requests.delete(f"{base}/{cluster_id}", headers=headers, verify=ca_file)


def test_kubectl_is_available() -> None:
    # The suite's premise: the pinned kubectl runs here.
    from tests.fixtures.sim import kubectl_binary

    out = subprocess.run([kubectl_binary(), "version", "--client"], capture_output=True, text=True)
    assert out.returncode == 0 and "Client Version" in out.stdout


def test_kubectl_prints_server_warnings(kubectl) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: warned}\nbogus: 1\n"
    out = kubectl("apply", "--validate=warn", "-f", "-", input=manifest)
    assert 'Warning: unknown field "bogus"' in out.stderr

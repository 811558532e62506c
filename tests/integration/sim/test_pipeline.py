"""The request pipeline in process (no HTTP): each stage's effect on a request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sim.apiserver.pipeline import (
    ApiRequest,
    accepted_as,
    decode_continue,
    encode_continue,
    handle,
)
from app.sim.bootstrap import create_cluster
from app.sim.machinery.cluster import Cluster


@pytest.fixture
def cluster() -> Cluster:
    return create_cluster("pipe", nodes=2)


def call(
    cluster: Cluster,
    method: str,
    group: str,
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    sub: str | None = None,
    body: Any = None,
    query: dict | None = None,
    content_type: str = "application/json",
    token: str | None = None,
    headers: dict | None = None,
):
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body else b"")
    all_headers = {
        "Authorization": f"Bearer {token or cluster.auth.admin_token}",
        "Content-Type": content_type,
        "User-Agent": "kubectl-test/v1.37.1",
        **(headers or {}),
    }
    version = "v1"
    return handle(
        cluster,
        ApiRequest(
            method, group, version, plural, namespace, name, sub, query or {}, all_headers, raw
        ),
    )


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_dry_run_update_patch_delete_change_nothing(cluster: Cluster) -> None:
    created = call(cluster, "POST", "", "configmaps", namespace="default", body=cm("a", k="1"))
    assert created.status == 201
    rv = cluster.store.resource_version
    body = created.body | {"data": {"k": "2"}}
    dry = {"dryRun": "All"}
    put = call(
        cluster, "PUT", "", "configmaps", namespace="default", name="a", body=body, query=dry
    )
    assert put.status == 200 and put.body["data"] == {"k": "2"}
    patched = call(
        cluster,
        "PATCH",
        "",
        "configmaps",
        namespace="default",
        name="a",
        body={"data": {"k": "3"}},
        query=dry,
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200 and patched.body["data"] == {"k": "3"}
    deleted = call(cluster, "DELETE", "", "configmaps", namespace="default", name="a", query=dry)
    assert deleted.status == 200
    assert cluster.store.resource_version == rv
    assert cluster.store.get("", "configmaps", "default", "a")["data"] == {"k": "1"}


def test_field_manager_from_user_agent_and_query(cluster: Cluster) -> None:
    created = call(cluster, "POST", "", "configmaps", namespace="default", body=cm("a", k="1"))
    managers = [m["manager"] for m in created.body["metadata"]["managedFields"]]
    assert managers == ["kubectl-test"]
    patched = call(
        cluster,
        "PATCH",
        "",
        "configmaps",
        namespace="default",
        name="a",
        body={"data": {"j": "2"}},
        query={"fieldManager": "robot"},
        content_type="application/merge-patch+json",
    )
    managers = sorted(m["manager"] for m in patched.body["metadata"]["managedFields"])
    assert managers == ["kubectl-test", "robot"]


def test_unknown_fields_warn_by_default_and_fail_when_strict(cluster: Cluster) -> None:
    body = cm("a") | {"bogus": 1}
    warned = call(cluster, "POST", "", "configmaps", namespace="default", body=body)
    assert warned.status == 201
    # Quotes inside the warning text are escaped (RFC 7230 quoted-string).
    assert warned.headers["Warning"] == '299 - "unknown field \\"bogus\\""'
    assert "bogus" not in warned.body
    strict = call(
        cluster,
        "POST",
        "",
        "configmaps",
        namespace="default",
        body=cm("b") | {"bogus": 1},
        query={"fieldValidation": "Strict"},
    )
    assert strict.status == 400
    assert 'strict decoding error: unknown field "bogus"' in strict.body["message"]


def test_status_subresource_only_writes_status(cluster: Cluster) -> None:
    node = cluster.store.get("", "nodes", None, "node01")
    node["spec"]["unschedulable"] = True
    node["status"]["conditions"][-1]["status"] = "False"
    response = call(cluster, "PUT", "", "nodes", name="node01", sub="status", body=node)
    assert response.status == 200
    stored = cluster.store.get("", "nodes", None, "node01")
    assert stored["status"]["conditions"][-1]["status"] == "False"
    assert "unschedulable" not in stored["spec"]
    node = cluster.store.get("", "nodes", None, "node01")
    node["status"]["conditions"][-1]["status"] = "Unknown"
    node["spec"]["unschedulable"] = True
    call(cluster, "PUT", "", "nodes", name="node01", body=node)
    stored = cluster.store.get("", "nodes", None, "node01")
    assert stored["spec"]["unschedulable"] is True
    assert stored["status"]["conditions"][-1]["status"] == "False"


def test_verbs_and_paths_not_served(cluster: Cluster) -> None:
    collection = call(cluster, "DELETE", "", "namespaces")
    assert collection.status == 405
    assert collection.body["reason"] == "MethodNotAllowed"
    scoped = call(cluster, "GET", "", "nodes", namespace="default")
    assert scoped.status == 404
    review_list = call(cluster, "GET", "authorization.k8s.io", "selfsubjectaccessreviews")
    assert review_list.status == 405
    bad_sub = call(cluster, "GET", "", "configmaps", namespace="default", name="x", sub="scale")
    assert bad_sub.status == 404


def test_namespace_lifecycle(cluster: Cluster) -> None:
    missing = call(cluster, "POST", "", "configmaps", namespace="ghost", body=cm("a"))
    assert missing.status == 404
    assert missing.body["message"] == 'namespaces "ghost" not found'


def test_reviews_are_answered_not_stored(cluster: Cluster) -> None:
    token = cluster.auth.add_token("jane")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}
        },
    }
    jane = call(
        cluster,
        "POST",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        body=review,
        token=token,
    )
    assert jane.status == 201 and jane.body["status"]["allowed"] is False
    admin = call(cluster, "POST", "authorization.k8s.io", "selfsubjectaccessreviews", body=review)
    assert admin.body["status"]["allowed"] is True
    assert cluster.store.count("authorization.k8s.io", "selfsubjectaccessreviews") == 0
    token_review = call(
        cluster,
        "POST",
        "authentication.k8s.io",
        "tokenreviews",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
    )
    assert token_review.body["status"]["user"]["username"] == "jane"


def test_token_request_dry_run_issues_nothing(cluster: Cluster) -> None:
    before = len(cluster.auth.tokens)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    dry = call(
        cluster,
        "POST",
        "",
        "serviceaccounts",
        namespace="default",
        name="default",
        sub="token",
        body=body,
        query={"dryRun": "All"},
    )
    assert dry.status == 201 and dry.body["status"]["token"] == ""
    real = call(
        cluster,
        "POST",
        "",
        "serviceaccounts",
        namespace="default",
        name="default",
        sub="token",
        body=body,
    )
    assert real.body["spec"]["expirationSeconds"] == 3600
    assert len(cluster.auth.tokens) == before + 1
    missing = call(
        cluster,
        "POST",
        "",
        "serviceaccounts",
        namespace="default",
        name="nobody",
        sub="token",
        body=body,
    )
    assert missing.status == 404


def test_continue_tokens_round_trip() -> None:
    token = encode_continue(42, ("default", "web-7"))
    assert decode_continue(token, namespaced=True) == ("default", "web-7")
    assert decode_continue(encode_continue(1, ("", "node01")), namespaced=False) == ("", "node01")


def test_accept_negotiation() -> None:
    assert accepted_as("application/json;as=Table;v=v1;g=meta.k8s.io,application/json") == ("Table")
    assert accepted_as("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io") == (
        "PartialObjectMetadata"
    )
    assert accepted_as("application/json") == "JSON"
    assert accepted_as(None) == "JSON"


def test_crd_objects_through_the_pipeline(cluster: Cluster) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "backups.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "backups", "singular": "backup", "kind": "Backup"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"schedule": {"type": "string"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    assert (
        call(cluster, "POST", "apiextensions.k8s.io", "customresourcedefinitions", body=crd).status
        == 201
    )
    backup = {
        "apiVersion": "example.com/v1",
        "kind": "Backup",
        "metadata": {"name": "b1"},
        "spec": {"schedule": "@daily"},
    }
    created = handle(
        cluster,
        ApiRequest(
            "POST",
            "example.com",
            "v1",
            "backups",
            "default",
            None,
            None,
            {},
            {"Authorization": f"Bearer {cluster.auth.admin_token}"},
            json.dumps(backup).encode(),
        ),
    )
    assert created.status == 201, created.body
    assert created.body["metadata"]["generation"] == 1
    deleted = handle(
        cluster,
        ApiRequest(
            "DELETE",
            "example.com",
            "v1",
            "backups",
            "default",
            "b1",
            None,
            {},
            {"Authorization": f"Bearer {cluster.auth.admin_token}"},
        ),
    )
    assert deleted.status == 200
    assert deleted.body["kind"] == "Backup"  # custom resources answer with the object

"""OpenAPI v2/v3 documents for the served kinds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sim.apiserver import openapi
from app.sim.machinery.resources import ResourceRegistry, ResourceType, builtin_registry


@pytest.fixture(scope="module")
def registry() -> ResourceRegistry:
    return builtin_registry()


def _refs(node: Any, prefix: str) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith(prefix), ref
            found.add(ref[len(prefix) :])
        for value in node.values():
            found |= _refs(value, prefix)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value, prefix)
    return found


def _patch_op(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op["x-kubernetes-group-version-kind"]["kind"] == kind:
            return op
    raise AssertionError(f"no PATCH operation for {kind}")


def test_v3_index_lists_every_group_version_with_the_cluster_prefix(
    registry: ResourceRegistry,
) -> None:
    index = openapi.v3_index(registry, prefix="/clusters/abc")
    assert "api/v1" in index["paths"]
    assert "apis/apps/v1" in index["paths"]
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/clusters/abc/openapi/v3/apis/apps/v1?hash=")
    assert openapi.parse_v3_path("apis/apps/v1") == ("apps", "v1")
    assert openapi.parse_v3_path("api/v1") == ("", "v1")
    assert openapi.parse_v3_path("apis/apps") is None


def test_v3_document_is_self_contained(registry: ResourceRegistry) -> None:
    raw = openapi.v3_document(registry, "apps", "v1")
    assert raw is not None
    doc = json.loads(raw)
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    refs = _refs(doc, "#/components/schemas/")
    assert refs <= set(schemas), refs - set(schemas)
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment"
    assert "io.k8s.api.core.v1.PodSpec" in schemas
    assert openapi.v3_document(registry, "nope", "v1") is None


def test_v3_patch_operation_advertises_field_validation_and_smp(
    registry: ResourceRegistry,
) -> None:
    # kubectl sends fieldValidation=Strict only when the PATCH of the kind lists it, and
    # uses the schema's merge keys only when PATCH accepts strategic merge patch.
    doc = json.loads(openapi.v3_document(registry, "", "v1") or b"{}")
    op = _patch_op(doc, "ConfigMap")
    assert op["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
    }
    names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= names
    assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    assert "application/apply-patch+yaml" in op["requestBody"]["content"]
    paths = doc["paths"]
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}" in paths
    assert "/api/v1/nodes/{name}" in paths
    assert "/api/v1/namespaces/{namespace}/pods" in paths


def test_crd_contributes_its_schema_without_smp(registry: ResourceRegistry) -> None:
    reg = registry.copy()
    crd_schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"cron": {"type": "string"}}}},
    }
    reg.register(
        ResourceType(
            "stable.example.com",
            "v1",
            "CronTab",
            "crontabs",
            "crontab",
            True,
            custom=True,
            schema=crd_schema,
        )
    )
    doc = json.loads(openapi.v3_document(reg, "stable.example.com", "v1") or b"{}")
    schemas = doc["components"]["schemas"]
    crontab = schemas["com.example.stable.v1.CronTab"]
    assert crontab["properties"]["spec"]["properties"]["cron"] == {"type": "string"}
    assert crontab["properties"]["metadata"]["$ref"].endswith("meta.v1.ObjectMeta")
    assert _refs(doc, "#/components/schemas/") <= set(schemas)
    op = _patch_op(doc, "CronTab")
    assert "application/strategic-merge-patch+json" not in op["requestBody"]["content"]
    assert "apis/stable.example.com/v1" in openapi.v3_index(reg)["paths"]
    # A changed CRD schema changes the document (and its advertised hash).
    reg2 = registry.copy()
    reg2.register(
        ResourceType(
            "stable.example.com",
            "v1",
            "CronTab",
            "crontabs",
            "crontab",
            True,
            custom=True,
            schema={"type": "object"},
        )
    )
    assert openapi.v3_hash(reg, "stable.example.com", "v1") != openapi.v3_hash(
        reg2, "stable.example.com", "v1"
    )


def test_documents_are_cached_per_set_of_kinds(registry: ResourceRegistry) -> None:
    first = openapi.v3_document(registry, "", "v1")
    assert openapi.v3_document(registry.copy(), "", "v1") is first
    assert openapi.v2_document(registry) is openapi.v2_document(registry.copy())


def test_v2_document_is_swagger_with_resolvable_refs(registry: ResourceRegistry) -> None:
    doc = json.loads(openapi.v2_document(registry))
    assert doc["swagger"] == "2.0"
    assert _refs(doc, "#/definitions/") <= set(doc["definitions"])
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in op["consumes"]
    body = [p for p in op["parameters"] if p["in"] == "body"]
    assert body and body[0]["schema"]["$ref"].endswith("meta.v1.Patch")
    names = {p["name"] for p in op["parameters"]}
    assert "fieldValidation" in names
    assert doc["definitions"]["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"]
    intstr = doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (intstr["type"], intstr["format"]) == ("string", "int-or-string")


def test_crds_of_one_group_leave_other_documents_shared(registry: ResourceRegistry) -> None:
    apps = openapi.v3_document(registry, "apps", "v1")
    reg = registry.copy()
    reg.register(
        ResourceType(
            "stable.example.com", "v1", "CronTab", "crontabs", "crontab", True, custom=True
        )
    )
    openapi.warm_up(reg)
    assert openapi.v3_document(reg, "apps", "v1") is apps
    assert openapi.v3_hash(reg, "apps", "v1") == openapi.v3_hash(registry, "apps", "v1")
    assert openapi.v3_hash(reg, "nope", "v1") == ""
    # A CRD without a schema accepts anything.
    doc = json.loads(openapi.v3_document(reg, "stable.example.com", "v1") or b"{}")
    crontab = doc["components"]["schemas"]["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-preserve-unknown-fields"] is True


def test_malformed_crd_schema_still_serves(registry: ResourceRegistry) -> None:
    reg = registry.copy()
    reg.register(
        ResourceType(
            "odd.example.com",
            "v1",
            "Odd",
            "odds",
            "odd",
            True,
            custom=True,
            schema={"type": "object", "properties": ["not", "a", "map"]},
        )
    )
    doc = json.loads(openapi.v3_document(reg, "odd.example.com", "v1") or b"{}")
    odd = doc["components"]["schemas"]["com.example.odd.v1.Odd"]
    assert set(odd["properties"]) == {"apiVersion", "kind", "metadata"}


def test_v2_protobuf_is_a_gnostic_document(registry: ResourceRegistry) -> None:
    from app.sim.apiserver.protobuf import iter_fields

    raw = openapi.v2_protobuf(registry)
    assert openapi.v2_protobuf(registry.copy()) is raw
    top = {}
    for number, _wire, value in iter_fields(raw):
        top.setdefault(number, []).append(value)
    assert top[1] == [b"2.0"]  # Document.swagger
    definitions = {}
    for _n, _w, entry in iter_fields(top[9][0]):  # Definitions.additional_properties
        fields = {n: v for n, _w2, v in iter_fields(entry)}
        definitions[fields[1].decode()] = fields[2]
    pod = {n: v for n, _w, v in iter_fields(definitions["io.k8s.api.core.v1.Pod"])}
    assert pod[22] == b"\n\x06object"  # Schema.type = TypeItem{value: "object"}
    extension = dict(
        (n, v)
        for n, _w, v in iter_fields(pod[31])  # Schema.vendor_extension
    )
    assert extension[1] == b"x-kubernetes-group-version-kind"
    yaml_text = next(v for n, _w, v in iter_fields(extension[2]) if n == 2)
    assert json.loads(yaml_text) == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert openapi.wants_v2_protobuf(openapi.V2_PROTOBUF_MEDIA)
    assert not openapi.wants_v2_protobuf("application/json")

"""The schema catalogue built from the kubernetes client models."""

from __future__ import annotations

import pytest

from app.sim.apiserver import schema
from app.sim.machinery.resources import ResourceRegistry, ResourceType, builtin_registry


@pytest.fixture(scope="module")
def registry() -> ResourceRegistry:
    return builtin_registry()


@pytest.fixture(scope="module")
def catalogue(registry: ResourceRegistry) -> schema.SchemaCatalogue:
    return schema.builtin_catalogue(registry)


def test_definitions_are_named_as_upstream(catalogue: schema.SchemaCatalogue) -> None:
    assert catalogue.definition_for("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert catalogue.definition_for("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert (
        catalogue.definition_for("rbac.authorization.k8s.io", "v1", "Role")
        == "io.k8s.api.rbac.v1.Role"
    )
    assert catalogue.definition_for("events.k8s.io", "v1", "Event") == "io.k8s.api.events.v1.Event"
    assert catalogue.definition_for("", "v1", "Event") == "io.k8s.api.core.v1.Event"
    # Shared types live in their own packages whichever group reaches them first.
    assert "io.k8s.api.core.v1.PodTemplateSpec" in catalogue.definitions
    assert "io.k8s.api.apps.v1.PodTemplateSpec" not in catalogue.definitions
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in catalogue.definitions
    assert (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        in catalogue.definitions
    )


def test_kind_definition_carries_gvk_and_required(catalogue: schema.SchemaCatalogue) -> None:
    pod = catalogue.definitions["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    container = catalogue.definitions["io.k8s.api.core.v1.Container"]
    assert container["required"] == ["name"]
    assert container["properties"]["image"]["type"] == "string"
    assert "description" in container["properties"]["image"]
    assert container["description"].startswith("A single application container")
    # Fields the client models leave undescribed get ours or their type's description.
    assert pod["properties"]["metadata"]["description"].startswith("The object's metadata")
    affinity = catalogue.definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["affinity"]
    assert affinity["description"] == "Affinity is a group of affinity scheduling rules."


def test_patch_and_list_metadata_sit_on_properties(catalogue: schema.SchemaCatalogue) -> None:
    spec = catalogue.definitions["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    assert spec["containers"]["x-kubernetes-list-type"] == "map"
    assert spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert spec["containers"]["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    ports = catalogue.definitions["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]


def test_special_types(catalogue: schema.SchemaCatalogue) -> None:
    port = catalogue.definitions["io.k8s.api.core.v1.ServicePort"]["properties"]
    assert port["targetPort"]["$ref"].endswith("IntOrString")
    assert catalogue.definitions[schema.INTSTR]["format"] == "int-or-string"
    assert "type" not in catalogue.definitions[schema.INTSTR]
    limits = catalogue.definitions["io.k8s.api.core.v1.ResourceRequirements"]["properties"]
    assert limits["limits"]["additionalProperties"]["$ref"].endswith("resource.Quantity")
    meta = catalogue.definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert meta["properties"]["creationTimestamp"]["format"] == "date-time"
    assert meta["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    # Integer widths come from the protobuf field table, as upstream's Go types give them.
    deploy_spec = catalogue.definitions["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
    assert deploy_spec["replicas"]["format"] == "int32"
    assert meta["properties"]["generation"]["format"] == "int64"
    secret = catalogue.definitions["io.k8s.api.core.v1.Secret"]["properties"]
    assert secret["data"]["additionalProperties"]["format"] == "byte"


def test_model_for_builtin_and_crd(registry: ResourceRegistry) -> None:
    from kubernetes.client.models import CoreV1Event, EventsV1Event, V1Deployment

    assert schema.model_for("apps/v1", "Deployment") is V1Deployment
    assert schema.model_for("v1", "Event") is CoreV1Event
    assert schema.model_for("events.k8s.io/v1", "Event") is EventsV1Event
    assert schema.model_for("example.com/v1", "Nope") is None
    crd_schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    reg = registry.copy()
    reg.register(
        ResourceType(
            "example.com",
            "v1",
            "Widget",
            "widgets",
            "widget",
            True,
            custom=True,
            schema=crd_schema,
        )
    )
    assert schema.model_for("example.com/v1", "Widget", reg) is crd_schema


def test_unknown_fields_paths(registry: ResourceRegistry) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"any": "thing"}, "colour": "red"},
        "spec": {
            "containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "bogus": 1}]},
                {"name": "b", "image": "nginx", "imagee": "typo"},
            ],
            "foo": True,
            "nodeSelector": {"disk": "ssd"},
        },
    }
    assert schema.unknown_fields(pod, "v1", "Pod", registry) == [
        "metadata.colour",
        "spec.containers[0].ports[0].bogus",
        "spec.containers[1].imagee",
        "spec.foo",
    ]
    clean = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    assert schema.unknown_fields(clean, "v1", "ConfigMap", registry) == []
    # Quantities and int-or-strings are leaves, not objects.
    deploy = {
        "spec": {
            "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}]}
            },
        }
    }
    assert schema.unknown_fields(deploy, "apps/v1", "Deployment", registry) == []
    assert schema.unknown_fields({"x": 1}, "nope/v1", "Nope", registry) == []


def test_unknown_fields_in_crd_schema(registry: ResourceRegistry) -> None:
    crd_schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    reg = registry.copy()
    reg.register(
        ResourceType(
            "example.com",
            "v1",
            "Widget",
            "widgets",
            "widget",
            True,
            custom=True,
            schema=crd_schema,
        )
    )
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "nme": "typo"},
        "spec": {"size": 3, "colour": "red", "extra": {"anything": {"goes": 1}}},
    }
    assert schema.unknown_fields(obj, "example.com/v1", "Widget", reg) == [
        "metadata.nme",
        "spec.colour",
    ]


def test_field_schema_and_patch_meta(registry: ResourceRegistry) -> None:
    ports = schema.field_schema("v1", "Pod", ["spec", "containers", "ports"], registry)
    assert ports is not None and ports["type"] == "array"
    port = schema.field_schema("v1", "Pod", ["spec", "containers", "ports", "protocol"], registry)
    assert port == {"type": "string", "description": port["description"]}
    assert schema.field_schema("v1", "Pod", ["spec", "nope"], registry) is None
    meta = schema.field_patch_meta("v1", "Pod", ["spec", "containers"], registry)
    assert meta["x-kubernetes-patch-merge-key"] == "name"
    env = schema.field_patch_meta(
        "apps/v1", "Deployment", ["spec", "template", "spec", "containers", "env"], registry
    )
    assert env["x-kubernetes-patch-merge-key"] == "name"
    assert schema.patch_meta("Container", "volumeMounts") == ("merge", "mountPath")
    assert schema.list_meta("PodSpec", "tolerations") == ("atomic", ())
    assert schema.patch_meta("Container", "image") is None


def test_catalogue_is_cached(registry: ResourceRegistry) -> None:
    assert schema.builtin_catalogue(registry) is schema.builtin_catalogue(registry.copy())


def test_every_builtin_kind_has_a_definition(
    registry: ResourceRegistry, catalogue: schema.SchemaCatalogue
) -> None:
    for rt in registry:
        assert catalogue.definition_for(rt.group, rt.version, rt.kind), rt.kind
        if "list" in rt.verbs:
            assert catalogue.definition_for(rt.group, rt.version, rt.list_kind_name()), rt.kind

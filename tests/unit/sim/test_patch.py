"""JSON patch, merge patch and strategic merge patch over plain objects."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sim.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    merge_patch,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceType, builtin_registry

REGISTRY = builtin_registry()
POD = REGISTRY.by_kind("v1", "Pod")
DEPLOYMENT = REGISTRY.by_kind("apps/v1", "Deployment")
NODE = REGISTRY.by_kind("v1", "Node")
WIDGET = ResourceType("example.com", "v1", "Widget", "widgets", "widget", True, custom=True)


def _pod(**spec) -> dict:
    base = {
        "containers": [
            {
                "name": "app",
                "image": "nginx:1.25",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            },
            {"name": "sidecar", "image": "busybox"},
        ],
        "tolerations": [{"key": "a", "operator": "Exists"}],
    }
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a.io/x"]},
        "spec": base,
    }


def smp(obj: dict, patch: dict, rt: ResourceType = POD) -> dict:
    return apply_patch(obj, json.dumps(patch).encode(), STRATEGIC_MERGE_PATCH, rt)


# ---------------------------------------------------------------- merge patch (RFC 7386)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        # RFC 7386 appendix A, a selection.
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_merge_patch_replaces_lists_and_keeps_the_original():
    pod = _pod()
    patched = apply_patch(
        pod, b'{"spec":{"containers":[{"name":"only","image":"x"}]}}', MERGE_PATCH, POD
    )
    assert [c["name"] for c in patched["spec"]["containers"]] == ["only"]
    assert len(pod["spec"]["containers"]) == 2  # input untouched


def test_merge_patch_must_be_an_object():
    with pytest.raises(ApiError) as err:
        apply_patch(_pod(), b"[1]", MERGE_PATCH, POD)
    assert err.value.code == 400


# ---------------------------------------------------------------- JSON patch (RFC 6902)


def jp(obj: dict, ops: list) -> dict:
    return apply_patch(obj, json.dumps(ops).encode(), JSON_PATCH, POD)


def test_json_patch_operations():
    pod = _pod()
    patched = jp(
        pod,
        [
            {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.27"},
            {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
            {"op": "add", "path": "/spec/containers/-", "value": {"name": "c3", "image": "x"}},
            {"op": "remove", "path": "/spec/containers/1"},
            {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
            {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/moved"},
            {"op": "test", "path": "/metadata/labels/moved", "value": "fe"},
        ],
    )
    assert patched["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app", "c3"]
    assert patched["metadata"]["labels"] == {"app": "web", "copy": "web", "moved": "fe"}


def test_json_patch_escapes_slash_and_tilde_in_keys():
    pod = _pod()
    patched = jp(pod, [{"op": "add", "path": "/metadata/labels/app.io~1name~0x", "value": "v"}])
    assert patched["metadata"]["labels"]["app.io/name~x"] == "v"


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/spec/nothing"}],
        [{"op": "replace", "path": "/metadata/missing", "value": 1}],
        [{"op": "test", "path": "/metadata/name", "value": "other"}],
        [{"op": "add", "path": "/spec/containers/9", "value": {}}],
    ],
)
def test_json_patch_failures_are_422(ops):
    with pytest.raises(ApiError) as err:
        jp(_pod(), ops)
    assert err.value.code == 422
    assert err.value.reason == "Invalid"
    assert "the server rejected our request" in err.value.message


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"op":"add"}', b'[{"op":"frobnicate","path":"/a"}]']
)
def test_json_patch_malformed_is_400(body):
    with pytest.raises(ApiError) as err:
        apply_patch(_pod(), body, JSON_PATCH, POD)
    assert err.value.code == 400


def test_json_patch_is_all_or_nothing():
    pod = _pod()
    with pytest.raises(ApiError):
        jp(
            pod,
            [
                {"op": "add", "path": "/metadata/labels/x", "value": "1"},
                {"op": "remove", "path": "/x"},
            ],
        )
    assert "x" not in pod["metadata"]["labels"]


# ---------------------------------------------------------------- strategic merge patch


def test_containers_merge_by_name():
    patched = smp(_pod(), {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
    containers = patched["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


def test_new_container_is_appended_and_env_merges_by_name():
    patched = smp(
        _pod(),
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                    },
                    {"name": "logger", "image": "fluentbit"},
                ]
            }
        },
    )
    app = patched["spec"]["containers"][0]
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app", "sidecar", "logger"]


def test_ports_merge_by_container_port():
    patched = smp(
        _pod(),
        {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 443}]}]}},
    )
    ports = patched["spec"]["containers"][0]["ports"]
    assert [p["containerPort"] for p in ports] == [80, 443]


def test_patch_delete_directive_in_a_list():
    patched = smp(_pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app"]


def test_patch_replace_directive_in_a_list():
    patched = smp(
        _pod(),
        {"spec": {"containers": [{"name": "solo", "image": "x"}, {"$patch": "replace"}]}},
    )
    assert patched["spec"]["containers"] == [{"name": "solo", "image": "x"}]


def test_patch_replace_and_delete_directives_on_maps():
    replaced = smp(_pod(), {"metadata": {"labels": {"$patch": "replace", "only": "me"}}})
    assert replaced["metadata"]["labels"] == {"only": "me"}
    deleted = smp(_pod(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in deleted["metadata"]


def test_null_deletes_a_field():
    patched = smp(_pod(), {"metadata": {"labels": {"app": None}}, "spec": {"tolerations": None}})
    assert patched["metadata"]["labels"] == {}
    assert "tolerations" not in patched["spec"]


def test_tolerations_are_replaced_not_merged():
    patched = smp(_pod(), {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}})
    assert patched["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_finalizers_union_and_delete_from_primitive_list():
    added = smp(_pod(), {"metadata": {"finalizers": ["b.io/y"]}})
    assert added["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]
    removed = smp(added, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}})
    assert removed["metadata"]["finalizers"] == ["b.io/y"]


def test_set_element_order():
    patched = smp(
        _pod(),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                "containers": [{"name": "app", "image": "nginx:2"}],
            }
        },
    )
    assert [c["name"] for c in patched["spec"]["containers"]] == ["sidecar", "app"]


def test_retain_keys_clears_the_other_strategy_fields():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            }
        },
    }
    patched = smp(
        deployment,
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        DEPLOYMENT,
    )
    assert patched["spec"]["strategy"] == {"type": "Recreate"}


def test_node_conditions_merge_by_type():
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "MemoryPressure", "status": "False"},
            ]
        },
    }
    patched = smp(node, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, NODE)
    assert patched["status"]["conditions"] == [
        {"type": "Ready", "status": "False"},
        {"type": "MemoryPressure", "status": "False"},
    ]


def test_cordon_style_patch():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {}}
    patched = smp(node, {"spec": {"unschedulable": True}}, NODE)
    assert patched["spec"]["unschedulable"] is True


def test_missing_merge_key_is_400():
    with pytest.raises(ApiError) as err:
        smp(_pod(), {"spec": {"containers": [{"image": "x"}]}})
    assert err.value.code == 400
    assert "does not contain declared merge key: name" in err.value.message


def test_strategic_merge_on_a_custom_resource_is_415():
    with pytest.raises(ApiError) as err:
        apply_patch({"spec": {}}, b"{}", STRATEGIC_MERGE_PATCH, WIDGET)
    assert err.value.code == 415
    assert "application/merge-patch+json" in err.value.message


def test_unknown_patch_type_is_415_and_bad_json_400():
    with pytest.raises(ApiError) as err:
        apply_patch(_pod(), b"{}", "text/plain", POD)
    assert err.value.code == 415
    with pytest.raises(ApiError) as err:
        apply_patch(_pod(), b"{", STRATEGIC_MERGE_PATCH, POD)
    assert err.value.code == 400


def test_absurdly_deep_patches_are_400_not_a_crash():
    deep = "{}"
    for _ in range(150):
        deep = '{"a":' + deep + "}"
    for content_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        with pytest.raises(ApiError) as err:
            apply_patch(_pod(), deep.encode(), content_type, POD)
        assert err.value.code == 400
        assert "nesting deeper than 100 levels" in err.value.message
    with pytest.raises(ApiError) as err:
        apply_patch(_pod(), b"[" * 100_000, JSON_PATCH, POD)
    assert err.value.code == 400


# ---------------------------------------------------------------- properties

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", ""]))
KEY = st.sampled_from(["a", "b", "c", "spec", "metadata"])
NO_LISTS = st.recursive(SCALAR, lambda inner: st.dictionaries(KEY, inner, max_size=3), max_leaves=8)
DOCUMENT = st.dictionaries(KEY, NO_LISTS, max_size=4).map(
    lambda d: {k: v for k, v in d.items() if v is not None}
)


@given(DOCUMENT, st.dictionaries(KEY, NO_LISTS, max_size=4))
def test_merge_patch_is_idempotent(target, patch):
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


@given(DOCUMENT, st.dictionaries(KEY, NO_LISTS, max_size=4))
def test_strategic_merge_equals_merge_patch_without_lists_or_directives(target, patch):
    widget_like = ResourceType("example.com", "v1", "Thing", "things", "thing", True)
    strategic = apply_patch(target, json.dumps(patch).encode(), STRATEGIC_MERGE_PATCH, widget_like)
    assert strategic == merge_patch(target, patch)


@given(DOCUMENT, DOCUMENT)
def test_json_patch_replace_of_the_root_fields(target, replacement):
    ops = [{"op": "remove", "path": f"/{k}"} for k in target] + [
        {"op": "add", "path": f"/{k}", "value": v} for k, v in replacement.items()
    ]
    assert apply_patch(target, json.dumps(ops).encode(), JSON_PATCH, POD) == replacement

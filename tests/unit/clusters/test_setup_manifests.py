"""Reading a lab's setup manifests into API objects."""

from __future__ import annotations

import pytest

from app.clusters.base import ClusterHandle, ProviderError, manifest_objects


def test_documents_lists_and_empty_documents() -> None:
    objects = manifest_objects(
        [
            {
                "name": "a.yaml",
                "content": "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n"
                "apiVersion: v1\nkind: List\nitems:\n"
                "- {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: a}}\n"
                "- {apiVersion: v1, kind: Secret, metadata: {name: y, namespace: a}}\n",
            },
            {"name": "b.yaml", "content": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"},
        ]
    )
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "a"),
        ("ConfigMap", "x"),
        ("Secret", "y"),
        ("Pod", "p"),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ("kind: [unclosed", "bad.yaml"),
        ("metadata: {name: x}\n", "bad.yaml: an object needs apiVersion and kind"),
    ],
)
def test_bad_manifests_name_the_file(content: str, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        manifest_objects([{"name": "bad.yaml", "content": content}])


def test_handles_round_trip_through_json() -> None:
    handle = ClusterHandle("simulator", "c1", {"url": "https://sim:6443"})
    assert ClusterHandle.from_dict(handle.to_dict()) == handle

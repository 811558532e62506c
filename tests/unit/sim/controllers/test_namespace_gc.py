"""Namespace deletion and the periodic garbage collector."""

from __future__ import annotations

from tests.builders import deployment
from tests.fixtures.controllers import Lab


def namespace(name: str, finalizers: list[str] | None = None) -> dict:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if finalizers:
        body["metadata"]["finalizers"] = finalizers
    return body


def configmap(name: str, namespace: str = "default", **meta) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **meta},
    }


def test_terminating_namespace_is_emptied_then_removed(lab: Lab) -> None:
    # A namespace the store keeps while it is Terminating (held by the finalizer).
    lab.create("", "namespaces", namespace("team", ["kubernetes"]))
    lab.sync()
    assert lab.get("", "serviceaccounts", "default", "team") is not None
    ca = lab.get("", "configmaps", "kube-root-ca.crt", "team")
    assert ca["data"] == lab.get("", "configmaps", "kube-root-ca.crt", "kube-system")["data"]
    lab.store.create("", "configmaps", configmap("app", "team"))
    held = lab.store.create(
        "", "configmaps", configmap("held", "team", finalizers=["example.com/keep"])
    )
    lab.store.delete("", "namespaces", None, "team")
    lab.sync()
    ns = lab.get("", "namespaces", "team", None)
    assert ns["status"]["phase"] == "Terminating"
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: "
        "example.com/keep in 1 resource instances"
    )
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps has 1 resource instances"
    )
    assert lab.get("", "configmaps", "app", "team") is None
    cm = lab.get("", "configmaps", "held", "team")
    cm["metadata"]["finalizers"] = []
    lab.store.update("", "configmaps", cm)
    lab.sync()
    assert lab.get("", "namespaces", "team", None) is None
    assert held


def test_dangling_owner_references_are_collected(lab: Lab) -> None:
    owner = lab.store.create("", "configmaps", configmap("owner"))
    other = lab.store.create("", "configmaps", configmap("other"))

    def ref(obj: dict) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
        }

    gone = dict(ref(owner), uid="00000000-0000-0000-0000-000000000000", name="gone")
    lab.store.create("", "configmaps", configmap("orphan", ownerReferences=[gone]))
    lab.store.create("", "configmaps", configmap("half", ownerReferences=[gone, ref(other)]))
    lab.store.create("", "configmaps", configmap("kept", ownerReferences=[ref(owner)]))
    lab.sync()
    assert lab.get("", "configmaps", "orphan") is None
    assert lab.get("", "configmaps", "half")["metadata"]["ownerReferences"] == [ref(other)]
    assert lab.get("", "configmaps", "kept") is not None


def test_foreground_and_orphan_finalizers(lab: Lab) -> None:
    owner = lab.store.create("", "configmaps", configmap("fg", finalizers=["foregroundDeletion"]))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "fg", "uid": owner["metadata"]["uid"]}
    lab.store.create("", "configmaps", configmap("child", ownerReferences=[ref]))
    orphaner = lab.store.create("", "configmaps", configmap("or", finalizers=["orphan"]))
    oref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "or",
        "uid": orphaner["metadata"]["uid"],
    }
    lab.store.create("", "configmaps", configmap("survivor", ownerReferences=[oref]))
    lab.store.delete("", "configmaps", "default", "fg")
    lab.store.delete("", "configmaps", "default", "or")
    lab.sync()
    assert lab.get("", "configmaps", "child") is None
    assert lab.get("", "configmaps", "fg") is None
    assert lab.get("", "configmaps", "or") is None
    assert "ownerReferences" not in lab.get("", "configmaps", "survivor")["metadata"]


def test_deleting_a_deployment_cascades_to_replicasets_and_pods(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment())
    lab.sync()
    assert len(lab.pods(prefix="web-")) == 3
    lab.store.delete("apps", "deployments", "default", "web")
    lab.sync()
    assert lab.store.list("apps", "replicasets", "default")[0] == []
    assert lab.pods(prefix="web-") == []

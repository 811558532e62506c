"""EndpointSlices and Endpoints follow pod readiness."""

from __future__ import annotations

from tests.builders import deployment
from tests.fixtures.controllers import Lab


def service(name: str = "web", target: object = "http") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"tier": "front"}},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": target}],
        },
    }


def slices(lab: Lab, name: str = "web") -> list[dict]:
    items = lab.store.list("discovery.k8s.io", "endpointslices", "default")[0]
    return [s for s in items if s["metadata"]["labels"].get("kubernetes.io/service-name") == name]


def test_slice_lists_pods_with_readiness_and_resolved_ports(lab: Lab) -> None:
    lab.create("", "services", service())
    lab.create("apps", "deployments", deployment(replicas=2))
    lab.sync()
    [empty] = slices(lab)
    assert empty["endpoints"] == []
    pods = sorted(lab.pods(prefix="web-"), key=lambda p: p["metadata"]["name"])
    lab.run_pod(pods[0], ready=True)
    lab.run_pod(pods[1], ready=False)
    lab.sync()
    [eps] = slices(lab)
    assert eps["metadata"]["name"].startswith("web-")
    assert (
        eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        == "endpointslice-controller.k8s.io"
    )
    assert eps["metadata"]["labels"]["tier"] == "front"
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert eps["addressType"] == "IPv4"
    assert eps["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    by_pod = {e["targetRef"]["name"]: e for e in eps["endpoints"]}
    assert by_pod[pods[0]["metadata"]["name"]]["conditions"] == {
        "ready": True,
        "serving": True,
        "terminating": False,
    }
    assert by_pod[pods[1]["metadata"]["name"]]["conditions"]["ready"] is False
    assert by_pod[pods[0]["metadata"]["name"]]["nodeName"] == "node01"
    endpoints = lab.get("", "endpoints", "web")
    [subset] = endpoints["subsets"]
    assert [a["targetRef"]["name"] for a in subset["addresses"]] == [pods[0]["metadata"]["name"]]
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == [
        pods[1]["metadata"]["name"]
    ]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    # Readiness flips: the slice follows.
    lab.run_pod(pods[1], ready=True)
    lab.sync()
    [eps] = slices(lab)
    assert all(e["conditions"]["ready"] for e in eps["endpoints"])
    assert len(lab.get("", "endpoints", "web")["subsets"][0]["addresses"]) == 2


def test_selector_mismatch_leaves_service_without_endpoints(lab: Lab) -> None:
    body = service()
    body["spec"]["selector"] = {"app": "wrong"}
    lab.create("", "services", body)
    lab.create("apps", "deployments", deployment(replicas=1))
    lab.sync()
    lab.run_all()
    lab.sync()
    assert slices(lab)[0]["endpoints"] == []
    assert "subsets" not in lab.get("", "endpoints", "web")


def test_deleting_the_service_removes_slices_and_endpoints(lab: Lab) -> None:
    lab.create("", "services", service(target=8080))
    lab.create("apps", "deployments", deployment(replicas=1))
    lab.sync()
    lab.run_all()
    lab.sync()
    assert lab.get("", "endpoints", "web")["subsets"][0]["ports"][0]["port"] == 8080
    lab.store.delete("", "services", "default", "web")
    lab.sync()
    assert slices(lab) == []
    assert lab.get("", "endpoints", "web") is None


def test_services_without_selector_are_left_alone(lab: Lab) -> None:
    lab.sync()
    [kubernetes] = slices(lab, "kubernetes")
    assert "endpointslice.kubernetes.io/managed-by" not in kubernetes["metadata"]["labels"]
    assert lab.get("", "endpoints", "kubernetes")["subsets"][0]["ports"][0]["port"] == 6443


def test_pods_resolving_a_named_port_differently_get_separate_slices(lab: Lab) -> None:
    lab.create("", "services", service())
    for name, port in (("a", 8080), ("b", 9090)):
        pod = lab.create(
            "",
            "pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx",
                            "ports": [{"name": "http", "containerPort": port}],
                        }
                    ]
                },
            },
        )
        lab.run_pod(pod)
    lab.sync()
    ports = sorted(s["ports"][0]["port"] for s in slices(lab))
    assert ports == [8080, 9090]
    subsets = lab.get("", "endpoints", "web")["subsets"]
    assert sorted(s["ports"][0]["port"] for s in subsets) == [8080, 9090]

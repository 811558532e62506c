"""kube-proxy and CoreDNS add-ons run as ordinary workloads under the controllers."""

from __future__ import annotations

from app.sim.controllers import addon_objects
from tests.fixtures.controllers import Lab


def install(lab: Lab) -> None:
    for group, plural, obj in addon_objects():
        lab.create(group, plural, obj)


def dns_endpoints(lab: Lab) -> list[dict]:
    items = lab.store.list("discovery.k8s.io", "endpointslices", "kube-system")[0]
    [kube_dns] = [
        s for s in items if s["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    ]
    return kube_dns["endpoints"]


def test_addons_are_kubeadm_shaped() -> None:
    objects = {(p, o["metadata"]["name"]): o for _, p, o in addon_objects("v1.36.2")}
    proxy = objects[("daemonsets", "kube-proxy")]
    assert (
        proxy["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.k8s.io/kube-proxy:v1.36.2"
    )
    assert proxy["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]
    coredns = objects[("deployments", "coredns")]
    assert coredns["metadata"]["namespace"] == "kube-system"
    assert coredns["spec"]["replicas"] == 2
    assert coredns["spec"]["selector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert "kubernetes cluster.local" in objects[("configmaps", "coredns")]["data"]["Corefile"]
    assert addon_objects("v1")[0][2] is not addon_objects("v1")[0][2]


def test_coredns_backs_kube_dns_until_scaled_to_zero(lab: Lab) -> None:
    install(lab)
    lab.sync()
    proxies = lab.pods("kube-system", "kube-proxy-")
    assert len(proxies) == 3  # kube-proxy tolerates everything, control plane included
    assert len(lab.pods("kube-system", "coredns-")) == 2
    lab.run_all("kube-system")
    lab.sync()
    assert len(dns_endpoints(lab)) == 2
    assert all(e["conditions"]["ready"] for e in dns_endpoints(lab))
    coredns = lab.get("apps", "deployments", "coredns", "kube-system")
    coredns["spec"]["replicas"] = 0
    lab.store.update("apps", "deployments", coredns)
    lab.sync()
    assert lab.pods("kube-system", "coredns-") == []
    assert dns_endpoints(lab) == []
    assert "subsets" not in lab.get("", "endpoints", "kube-dns", "kube-system")

"""Cluster DNS: the resolv.conf search list, the Corefile CoreDNS accepts, and the
answers of the `kubernetes` plugin as nslookup, host and dig print them."""

from __future__ import annotations

import pytest

from app.sim.controllers.addons import COREFILE
from app.sim.network.corefile import CorefileError, KubernetesZone, kubernetes_zone, parse
from app.sim.network.dns import ResolvConf, parse_resolv_conf, search_names

CLUSTER_FIRST = ResolvConf(
    ("10.96.0.10",), ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"), 5
)


def test_resolv_conf_and_search_order_follow_ndots() -> None:
    conf = parse_resolv_conf(
        "search default.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\noptions ndots:5\n"
    )
    assert conf == CLUSTER_FIRST
    assert search_names("web", conf)[:2] == [
        "web.default.svc.cluster.local",
        "web.svc.cluster.local",
    ]
    assert search_names("web", conf)[-1] == "web"
    assert search_names("web.other", conf)[0] == "web.other.default.svc.cluster.local"
    assert search_names("web.default.svc.cluster.local.", conf) == ["web.default.svc.cluster.local"]
    dotted = ResolvConf(("10.96.0.10",), ("svc.cluster.local",), 1)
    assert search_names("example.com", dotted) == ["example.com", "example.com.svc.cluster.local"]


def test_the_kubeadm_corefile_parses_with_its_kubernetes_zone() -> None:
    assert kubernetes_zone(parse(COREFILE)) == KubernetesZone(
        ("cluster.local", "in-addr.arpa", "ip6.arpa"), "insecure"
    )
    bare = ".:53 {\n    kubernetes\n}\n"
    assert kubernetes_zone(parse(bare)) == KubernetesZone(("cluster.local",), "disabled")
    assert kubernetes_zone(parse(".:53 {\n    forward . 8.8.8.8\n}\n")) is None


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            COREFILE.replace("    kubernetes ", "    kubernets "),
            "/etc/coredns/Corefile:7 - Error during parsing: Unknown directive 'kubernets'",
        ),
        (COREFILE.rstrip().rstrip("}"), "- Error during parsing: Unexpected EOF"),
        (
            COREFILE.replace("pods insecure", "pods sometimes"),
            "plugin/kubernetes: /etc/coredns/Corefile:8 - Error during parsing: Wrong argument",
        ),
        (
            COREFILE.replace("ttl 30", "ttls 30"),
            "plugin/kubernetes: /etc/coredns/Corefile:10 - Error during parsing: unknown property "
            "'ttls'",
        ),
        (
            COREFILE.replace("forward . /etc/resolv.conf", "forward ."),
            "plugin/forward: /etc/coredns/Corefile:13 - Error during parsing: Wrong argument count",
        ),
    ],
)
def test_a_broken_corefile_gives_corednss_error(broken: str, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        parse(broken)
    assert message in str(caught.value)


def test_nslookup_service_names_through_the_search_list(net) -> None:
    ip = net.service_ip("web")
    for name in ("web", "web.default", "web.default.svc", "web.default.svc.cluster.local"):
        out = net.pod_exec(f"nslookup {name}")
        assert out.exit_code == 0, out.stdout
        assert out.stdout == (
            "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
            f"Name:\tweb.default.svc.cluster.local\nAddress: {ip}\n\n"
        )
    assert "Address: 10.96.0.1\n" in net.pod_exec("nslookup kubernetes.default").stdout


def test_headless_pod_statefulset_and_unknown_names(net) -> None:
    headless = net.pod_exec("nslookup web-h").stdout
    assert sorted(
        line.split()[1] for line in headless.splitlines() if line.startswith("Address: ")
    ) == net.pod_ips("app=web")
    first = net.pod_ips("app=web")[0]
    dashed = first.replace(".", "-")
    assert (
        f"Address: {first}" in net.pod_exec(f"nslookup {dashed}.default.pod.cluster.local").stdout
    )
    db = net.pod_ips("app=db")[0]
    assert (
        f"Name:\tdb-0.db.default.svc.cluster.local\nAddress: {db}\n"
        in net.pod_exec("nslookup db-0.db").stdout
    )
    missing = net.pod_exec("nslookup nosuch")
    assert missing.exit_code == 1
    assert "** server can't find nosuch: NXDOMAIN" in missing.stdout
    assert net.pod_exec("nslookup empty-ns.nowhere.svc.cluster.local").exit_code == 1


def test_srv_cname_and_ptr_records(net) -> None:
    srv = net.pod_exec("nslookup -type=srv _http._tcp.web.default.svc.cluster.local").stdout
    name = "_http._tcp.web.default.svc.cluster.local"
    assert f"{name}\tservice = 0 100 80 web.default.svc.cluster.local\n" in srv
    db = net.pod_ips("app=db")[0]
    headless_srv = net.pod_exec(
        "nslookup -type=srv _redis._tcp.db.default.svc.cluster.local"
    ).stdout
    assert "service = 0 100 6379 db-0.db.default.svc.cluster.local" in headless_srv
    cname = net.pod_exec("nslookup ext").stdout
    assert "ext.default.svc.cluster.local\tcanonical name = example.com\n" in cname
    ptr = net.pod_exec("nslookup 10.96.0.1").stdout
    assert "1.0.96.10.in-addr.arpa\tname = kubernetes.default.svc.cluster.local\n" in ptr
    assert db


def test_busybox_128_prints_its_older_layout(net) -> None:
    net.api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "old", "namespace": "default"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox:1.28", "command": ["sleep", "1d"]}]
            },
        },
    )
    net.advance(5)
    out = net.pod_exec("nslookup web", pod="old")
    assert out.stdout == (
        "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n"
        f"Name:      web\nAddress 1: {net.service_ip('web')} web.default.svc.cluster.local\n"
    )
    missing = net.pod_exec("nslookup nosuch", pod="old")
    assert (missing.exit_code, missing.stderr) == (1, "nslookup: can't resolve 'nosuch'\n")
    net.api.delete("", "pods", "default", "old")


def test_node_shells_resolve_nodes_not_cluster_names(net) -> None:
    assert net.node_exec("host node02").stdout == "node02 has address 172.30.1.4\n"
    assert net.node_exec("dig +short web.default.svc.cluster.local").stdout == ""
    assert net.node_exec("curl -sS web").stderr == "curl: (6) Could not resolve host: web\n"


def test_dns_policy_default_uses_the_nodes_resolver(net) -> None:
    net.api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hostdns", "namespace": "default"},
            "spec": {
                "dnsPolicy": "Default",
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1d"]}],
            },
        },
    )
    net.advance(5)
    assert "nameserver 127.0.0.53" in net.pod_exec("cat /etc/resolv.conf", pod="hostdns").stdout
    assert net.pod_exec("nslookup web", pod="hostdns").exit_code == 1
    net.api.delete("", "pods", "default", "hostdns")


def test_coredns_without_ready_endpoints_times_out(own_net) -> None:
    coredns = own_net.store.get("apps", "deployments", "kube-system", "coredns")
    coredns["spec"]["replicas"] = 0
    own_net.api.update("apps", "deployments", coredns)
    own_net.advance(40)
    out = own_net.pod_exec("nslookup web")
    assert (out.exit_code, out.stdout) == (
        1,
        ";; connection timed out; no servers could be reached\n",
    )
    assert own_net.pod_exec("wget -qO- http://web").stderr == "wget: bad address 'web'\n"


def test_corefile_hosts_and_rewrite_rules_answer_first(own_net) -> None:
    cm = own_net.store.get("", "configmaps", "kube-system", "coredns")
    cm["data"]["Corefile"] = cm["data"]["Corefile"].replace(
        "    ready\n",
        "    ready\n"
        "    hosts {\n       10.0.0.50 legacy.example.com\n       fallthrough\n    }\n"
        "    rewrite name exact shop.example.com web.default.svc.cluster.local\n",
    )
    own_net.store.update("", "configmaps", cm)
    out = own_net.pod_exec("nslookup legacy.example.com").stdout
    assert "Name:\tlegacy.example.com\nAddress: 10.0.0.50\n" in out
    rewritten = own_net.pod_exec("nslookup shop.example.com").stdout
    assert f"Name:\tshop.example.com\nAddress: {own_net.service_ip('web')}\n" in rewritten
    assert "Welcome to nginx!" in own_net.pod_exec("wget -qO- http://shop.example.com").stdout

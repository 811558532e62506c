"""kube-proxy: the rules each proxy mode shows on a node, and Service traffic that
stops when kube-proxy does not run or refuses its configuration."""

from __future__ import annotations

from app.sim.network.rules import ServicePort


def _set_mode(net, mode: str) -> None:
    cm = net.store.get("", "configmaps", "kube-system", "kube-proxy")
    cm["data"]["config.conf"] = cm["data"]["config.conf"].replace('mode: ""', f"mode: {mode}")
    net.store.update("", "configmaps", cm)
    for pod in net.store.list("", "pods", "kube-system", label_selector="k8s-app=kube-proxy")[0]:
        net.store.delete("", "pods", "kube-system", pod["metadata"]["name"])
    net.advance(20)


def test_chain_names_are_upstreams_hashes() -> None:
    port = ServicePort("default", "kubernetes", "https", "tcp", "10.96.0.1", 443, None, ())
    assert port.chain == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    dns = ServicePort("kube-system", "kube-dns", "dns", "udp", "10.96.0.10", 53, None, ())
    assert dns.chain == "KUBE-SVC-TCOU7JCQXEZGVUNU"


def test_iptables_save_follows_services_and_ready_endpoints(net) -> None:
    saved = net.node_exec("iptables-save").stdout
    ip = net.service_ip("web")
    web = ServicePort("default", "web", "http", "tcp", ip, 80, None, ())
    assert (
        f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "default/web:http cluster IP" '
        f"-m tcp --dport 80 -j {web.chain}"
    ) in saved
    first, second = net.pod_ips("app=web")
    assert (
        f'-A {web.chain} -m comment --comment "default/web:http -> {first}:80" -m statistic '
        f"--mode random --probability 0.50000000000 -j {web.endpoint_chain(first, 80)}"
    ) in saved
    assert (
        f'-A {web.endpoint_chain(second, 80)} -p tcp -m comment --comment "default/web:http" '
        f"-m tcp -j DNAT --to-destination {second}:80"
    ) in saved
    assert (
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web-np:http" -m tcp --dport 30080'
        in saved
    )
    empty = net.service_ip("empty")
    assert (
        f'-A KUBE-SERVICES -d {empty}/32 -p tcp -m comment --comment "default/empty:http has no '
        'endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable'
    ) in saved
    assert "web-h" not in saved and "default/ext" not in saved


def test_iptables_list_and_list_rules(net) -> None:
    listing = net.node_exec("iptables -t nat -L KUBE-SERVICES -n").stdout.splitlines()
    assert listing[0] == "Chain KUBE-SERVICES (2 references)"
    assert listing[1].split() == ["target", "prot", "opt", "source", "destination"]
    row = next(line for line in listing if "default/kubernetes:https" in line)
    assert row.split()[:5] == ["KUBE-SVC-NPX46M4PTMTKRN6Y", "tcp", "--", "0.0.0.0/0", "10.96.0.1"]
    assert row.endswith("tcp dpt:443")
    rules = net.node_exec("iptables -t nat -S KUBE-NODEPORTS").stdout.splitlines()
    assert rules[0] == "-N KUBE-NODEPORTS" and "--dport 30080" in rules[1]
    missing = net.node_exec("iptables -t nat -L NOPE -n")
    assert missing.exit_code == 1


def test_ipvs_mode_lists_virtual_servers(own_net) -> None:
    _set_mode(own_net, "ipvs")
    out = own_net.node_exec("ipvsadm -Ln").stdout
    ip = own_net.service_ip("web")
    assert f"TCP  {ip}:80 rr\n" in out
    for pod_ip in own_net.pod_ips("app=web"):
        assert f"  -> {pod_ip}:80" in out
    assert "TCP  172.30.1.3:30080 rr" in out
    assert "KUBE-SVC-" not in own_net.node_exec("iptables-save").stdout
    assert "Welcome to nginx!" in own_net.pod_exec("wget -qO- http://web").stdout
    # ipvs binds every ClusterIP: a port the Service lacks is refused, not dropped.
    assert own_net.pod_exec("wget -qO- http://web:81").stderr.endswith("Connection refused\n")


def test_nftables_mode_shows_the_kube_proxy_table(own_net) -> None:
    _set_mode(own_net, "nftables")
    table = own_net.node_exec("nft list table ip kube-proxy").stdout
    assert table.startswith("table ip kube-proxy {\n")
    assert f"{own_net.service_ip('web')} . tcp . 80 : goto service-" in table
    for pod_ip in own_net.pod_ips("app=web"):
        assert f"meta l4proto tcp dnat to {pod_ip}:80" in table
    assert own_net.node_exec("nft list ruleset").stdout == table


def test_kube_proxy_refusing_its_config_stops_service_traffic(own_net) -> None:
    _set_mode(own_net, "turbo")
    pods = own_net.store.list("", "pods", "kube-system", label_selector="k8s-app=kube-proxy")[0]
    statuses = [p["status"]["containerStatuses"][0] for p in pods]
    assert all(s["ready"] is False for s in statuses)
    assert all(s["lastState"]["terminated"]["exitCode"] == 1 for s in statuses)
    log = own_net.plane.nodes.logs("kube-system", pods[0]["metadata"]["name"], "kube-proxy")
    assert 'Invalid value: \\"turbo\\"' in log
    assert "KUBE-SVC-" not in own_net.node_exec("iptables-save").stdout
    timed_out = own_net.pod_exec(f"wget -qO- -T 3 http://{own_net.service_ip('web')}")
    assert timed_out.stderr == "wget: download timed out\n"
    # The cluster DNS is a Service too: names stop resolving as well.
    assert own_net.pod_exec("nslookup web").stdout.startswith(";; connection timed out")
    # Without kube-proxy nothing holds the nodePort: the node's kernel refuses.
    curl = own_net.node_exec("curl -sS --connect-timeout 2 node02:30080")
    assert (curl.exit_code, curl.stderr) == (
        7,
        "curl: (7) Failed to connect to node02 port 30080 after 0 ms: Couldn't connect to server\n",
    )
    assert own_net.node_exec("curl -sS -m 2 10.96.0.1").exit_code == 28
    first = own_net.pod_ips("app=web")[0]
    assert "Welcome to nginx!" in own_net.pod_exec(f"wget -qO- http://{first}").stdout


def test_local_traffic_policies_keep_traffic_on_the_node(net) -> None:
    from tests.unit.sim.network.conftest import service

    local = service("web-local", {"app": "web"}, type="NodePort", externalTrafficPolicy="Local")
    local["spec"]["ports"][0]["nodePort"] = 30090
    internal = service("web-internal", {"app": "web"}, internalTrafficPolicy="Local")
    for obj in (local, internal):
        obj["metadata"]["namespace"] = "default"
        net.api.create("", "services", obj)
    net.advance(2)
    web_nodes = {
        p["spec"]["nodeName"]
        for p in net.store.list("", "pods", "default", label_selector="app=web")[0]
    }
    assert web_nodes == {"node01", "node02"}  # one replica per worker
    assert "Welcome" in net.node_exec("curl -s 172.30.1.3:30090").stdout
    # The control-plane node has no web endpoint: Local drops the packet there.
    dropped = net.node_exec("curl -sS -m 2 172.30.1.2:30090")
    assert dropped.exit_code == 28
    assert "Welcome" in net.pod_exec("wget -qO- http://web-internal").stdout


def test_a_host_port_forwards_to_its_pod(net) -> None:
    net.api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hp", "namespace": "default"},
            "spec": {
                "nodeName": "node02",
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"containerPort": 80, "hostPort": 8081}],
                    }
                ],
            },
        },
    )
    net.advance(5)
    assert "Welcome" in net.node_exec("curl -s node02:8081").stdout
    assert net.node_exec("curl -s node01:8081").exit_code == 7
    net.api.delete("", "pods", "default", "hp")


def test_kube_proxy_that_cannot_reach_the_api_server_programs_nothing(own_net) -> None:
    cm = own_net.store.get("", "configmaps", "kube-system", "kube-proxy")
    cm["data"]["kubeconfig.conf"] = cm["data"]["kubeconfig.conf"].replace(
        "https://controlplane:6443", "https://controlplane:6444"
    )
    own_net.store.update("", "configmaps", cm)
    for pod in own_net.store.list("", "pods", "kube-system", label_selector="k8s-app=kube-proxy")[
        0
    ]:
        own_net.store.delete("", "pods", "kube-system", pod["metadata"]["name"])
    own_net.advance(20)
    pods = own_net.store.list("", "pods", "kube-system", label_selector="k8s-app=kube-proxy")[0]
    assert all(p["status"]["phase"] == "Running" for p in pods)
    log = own_net.plane.nodes.logs("kube-system", pods[0]["metadata"]["name"], "kube-proxy")
    assert "dial tcp 172.30.1.2:6444: connect: connection refused" in log
    assert "KUBE-SVC-" not in own_net.node_exec("iptables-save").stdout
    ip = own_net.service_ip("web")
    assert own_net.pod_exec(f"wget -qO- -T 2 http://{ip}").stderr == "wget: download timed out\n"

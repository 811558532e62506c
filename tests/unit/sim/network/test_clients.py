"""The network clients of containers and node shells: curl, wget, nc and ping
options candidates use, connection failures as the real tools print them, and the
hand-off to an ingress controller."""

from __future__ import annotations

from app.sim.network import ingress


def _pod(net, name: str, image: str, **spec) -> None:
    net.api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": image, **spec}]},
        },
    )
    net.advance(5)


def test_curl_options(net) -> None:
    unresolved = net.node_exec("curl -s -o /dev/null -w '%{http_code}' http://web-np:80")
    assert (unresolved.exit_code, unresolved.stdout) == (6, "000")
    ip = net.service_ip("web")
    code = net.node_exec(f"curl -s -o /dev/null -w '%{{http_code}}\\n' http://{ip}/missing")
    assert code.stdout == "404\n"
    head = net.node_exec(f"curl -sI {ip}").stdout
    assert head.startswith("HTTP/1.1 200 OK\r\nServer: nginx/1.29.1\r\n")
    verbose = net.node_exec(f"curl -sv -H 'Host: shop.example.com' {ip}")
    assert "> Host: shop.example.com\n" in verbose.stderr
    assert "< HTTP/1.1 200 OK\n" in verbose.stderr
    failed = net.node_exec(f"curl -sSf {ip}/missing")
    assert (failed.exit_code, failed.stderr) == (
        22,
        "curl: (22) The requested URL returned error: 404\n",
    )
    net.node_exec(f"curl -s -o /tmp/page.html {ip}")
    assert "Welcome to nginx!" in net.node_exec("cat /tmp/page.html").stdout


def test_curl_failures_and_silence(net) -> None:
    refused = net.node_exec(f"curl {net.service_ip('empty')}")
    assert refused.exit_code == 7
    assert refused.stderr.startswith(
        f"curl: (7) Failed to connect to {net.service_ip('empty')} port 80"
    )
    silent = net.node_exec(f"curl -s {net.service_ip('empty')}")
    assert (silent.exit_code, silent.stderr) == (7, "")
    timed = net.node_exec("curl -s -S --max-time 4 -w '%{http_code}' 10.244.99.9")
    assert (timed.exit_code, timed.stdout) == (28, "000")
    assert timed.stderr == "curl: (28) Connection timed out after 4001 milliseconds\n"
    # A port the Service does not have matches no iptables rule: the packet is lost.
    assert net.node_exec(f"curl -sS -m 1 {net.service_ip('web')}:8080").exit_code == 28


def test_wget_and_nc_in_a_busybox_container(net) -> None:
    spider = net.pod_exec("wget --spider http://web")
    assert spider.exit_code == 0 and "remote file exists" in spider.stderr
    ip = net.service_ip("web")
    assert net.pod_exec("wget -q --spider http://web/nope").exit_code == 8
    verbose = net.pod_exec("wget -O- http://web")
    assert verbose.stderr.startswith(f"Connecting to web:80 ({ip}:80)\n")
    assert net.pod_exec("wget -qO /tmp/x http://web.default").exit_code == 0
    assert "Welcome" in net.pod_exec("cat /tmp/x").stdout
    assert net.pod_exec("nc -zv -w 2 web 80").stderr == f"web ({ip}:80) open\n"
    assert net.pod_exec("nc -z web 80").exit_code == 0
    closed = net.pod_exec("nc -zv -w 2 empty 80")
    assert (closed.exit_code, closed.stderr) == (
        1,
        f"nc: empty ({net.service_ip('empty')}:80): Connection refused\n",
    )
    pod_ip = net.pod_ips("app=web")[0]
    assert net.pod_exec(f"nc -zv {pod_ip} 8080").stderr.endswith("Connection refused\n")
    assert net.pod_exec("nc -zv web-h 80").exit_code == 0


def test_a_node_port_from_a_pod(net) -> None:
    for address in ("172.30.1.2", "172.30.1.4"):
        page = net.pod_exec(f"wget -qO- http://{address}:30080")
        assert "Welcome to nginx!" in page.stdout, page.stderr
    # A ClusterIP does not listen on the nodePort: no rule matches, the packet is lost.
    lost = net.pod_exec(f"wget -qO- -T 1 http://{net.service_ip('web-np')}:30080")
    assert lost.stderr == "wget: download timed out\n"


def test_ping_answers_for_pods_not_cluster_ips(net) -> None:
    pod_ip = net.pod_ips("app=web")[0]
    assert (
        "4 packets transmitted, 4 packets received, 0% packet loss"
        in net.pod_exec(f"ping -c 4 {pod_ip}").stdout
    )
    lost = net.pod_exec("ping -c 2 web")
    assert lost.exit_code == 1
    assert "2 packets transmitted, 0 packets received, 100% packet loss" in lost.stdout
    assert net.pod_exec("ping -c1 nosuch").stderr == "ping: bad address 'nosuch'\n"


def test_a_request_to_an_ingress_controller_is_routed(net) -> None:
    _pod(
        net,
        "ingress",
        "registry.k8s.io/ingress-nginx/controller:v1.13.0",
        ports=[{"containerPort": 80, "name": "http"}],
    )
    controller = net.store.get("", "pods", "default", "ingress")
    ip = controller["status"]["podIP"]
    # No Ingress routes shop.example.com: the controller itself answers 404.
    assert ingress.route(net.store, controller, "shop.example.com", "/") is None
    reply = net.node_exec(f"curl -s -w ' %{{http_code}}' -H 'Host: shop.example.com' http://{ip}/")
    assert reply.stdout.startswith("<html>\r\n<head><title>404 Not Found</title></head>")
    assert reply.stdout.endswith("<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n 404")
    net.api.delete("", "pods", "default", "ingress")


def test_connections_from_a_pod_to_itself_and_its_hosts_entry(net) -> None:
    _pod(net, "solo", "nginx")
    assert "Welcome" in net.pod_exec("curl -s localhost", pod="solo").stdout
    assert "Welcome" in net.pod_exec("curl -s solo", pod="solo").stdout
    net.api.delete("", "pods", "default", "solo")


def test_the_api_server_behind_the_kubernetes_service(net) -> None:
    from app.sim.apiserver.authn import issue_service_account_token

    account = net.store.get("", "serviceaccounts", "default", "default")
    token, _ = issue_service_account_token(
        net.cluster.auth,
        "default",
        "default",
        account["metadata"]["uid"],
        now=net.cluster.clock.now(),
    )
    untrusted = net.node_exec("curl -sS https://10.96.0.1/healthz")
    assert (untrusted.exit_code, untrusted.stderr) == (
        60,
        "curl: (60) SSL certificate problem: unable to get local issuer certificate\n",
    )
    assert net.node_exec("curl -sk https://10.96.0.1/readyz").stdout == "ok"
    anonymous = net.node_exec("curl -sk https://10.96.0.1/api/v1/namespaces/default/pods")
    assert (
        '"message": "pods is forbidden: User \\"system:anonymous\\" cannot list' in anonymous.stdout
    )
    with_token = net.node_exec(
        f"curl -sk -w '%{{http_code}}' -H 'Authorization: Bearer {token}' "
        "https://172.30.1.2:6443/api/v1/namespaces/default/services/web"
    )
    assert with_token.stdout.endswith("403")
    assert 'User \\"system:serviceaccount:default:default\\" cannot get' in with_token.stdout
    plain = net.node_exec("curl -s http://172.30.1.2:6443/")
    assert plain.stdout == "Client sent an HTTP request to an HTTPS server.\n"


def test_nginx_listens_where_its_configuration_says(net) -> None:
    net.api.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "alt-conf", "namespace": "default"},
            "data": {
                "default.conf": "server {\n    listen 8080;\n    root /srv;\n}\n",
                "index.html": "alt\n",
            },
        },
    )
    net.api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "alt", "namespace": "default"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"containerPort": 9090}],
                        "volumeMounts": [
                            {"name": "conf", "mountPath": "/etc/nginx/conf.d"},
                            {"name": "conf", "mountPath": "/srv"},
                        ],
                    }
                ],
                "volumes": [{"name": "conf", "configMap": {"name": "alt-conf"}}],
            },
        },
    )
    _pod(net, "idle", "nginx", command=["sleep", "1d"])
    ip = net.store.get("", "pods", "default", "alt")["status"]["podIP"]
    assert net.pod_exec(f"wget -qO- http://{ip}:8080/").stdout == "alt\n"
    # A declared containerPort is informational: nothing listens there, nor on 80.
    for port in (80, 9090):
        refused = net.pod_exec(f"wget -qO- http://{ip}:{port}/")
        assert refused.stderr.endswith("Connection refused\n"), port
    idle = net.store.get("", "pods", "default", "idle")["status"]["podIP"]
    assert net.pod_exec(f"nc -z {idle} 80").exit_code == 1
    for name in ("alt", "idle"):
        net.api.delete("", "pods", "default", name)


def test_a_probe_on_a_declared_port_nginx_does_not_serve_fails(net) -> None:
    _pod(
        net,
        "probed",
        "nginx",
        ports=[{"containerPort": 8080, "name": "web"}],
        readinessProbe={"httpGet": {"path": "/", "port": "web"}, "periodSeconds": 5},
    )
    net.advance(15)
    pod = net.store.get("", "pods", "default", "probed")
    assert pod["status"]["containerStatuses"][0]["ready"] is False
    net.api.delete("", "pods", "default", "probed")

"""The official Python client's `kubernetes.stream` against simulated containers
(exec with exit codes and stdin, port-forward to nginx and to a Python script's raw
TCP echo server), its metrics utilities, and the objects its typed models read back
(a deleted Service, the status of new objects). These are the behaviours the client's
own e2e suite (`scripts/python-client-e2e`) relies on."""

from __future__ import annotations

import time

import pytest
from kubernetes import client, utils
from kubernetes.stream import portforward, stream

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def _pod(name: str, image: str, command: list[str] | None = None) -> client.V1Pod:
    container = client.V1Container(name=name, image=image, command=command)
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(containers=[container])
    )


@pytest.fixture
def core(sim_cluster, k8s_client) -> client.CoreV1Api:
    api = client.CoreV1Api(k8s_client)
    api.create_namespaced_pod("default", _pod("web", "nginx"))
    api.create_namespaced_pod("default", _pod("client", "busybox", ["sleep", "3600"]))
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 5)
    return api


def test_exec_output_and_exit_code(core) -> None:
    assert (
        stream(core.connect_get_namespaced_pod_exec, "client", "default", command=["hostname"],
               stderr=True, stdin=False, stdout=True, tty=False)
        == "client\n"
    )  # fmt: skip
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "client",
        "default",
        command=["sh", "-c", "echo hi; echo oops >&2; exit 3"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=10)
    assert resp.read_stdout() == "hi\n"
    assert resp.read_stderr() == "oops\n"
    assert resp.returncode == 3


def test_exec_with_stdin_runs_each_line(core) -> None:
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "client",
        "default",
        command=["/bin/sh"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.write_stdin("echo from-stdin $((1+2))\n")
    resp.update(timeout=5)
    assert resp.read_stdout(timeout=5) == "from-stdin 3\n"
    resp.write_stdin("exit 7\n")
    resp.run_forever(timeout=10)
    assert resp.returncode == 7


def test_port_forward_reaches_nginx(core) -> None:
    forward = portforward(core.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
    sock = forward.socket(80)
    sock.setblocking(True)
    sock.settimeout(10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: web\r\n\r\n")
    data = b""
    while b"</html>" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"<h1>Welcome to nginx!</h1>" in data
    assert forward.error(80) is None


def test_exec_into_a_missing_pod_is_a_404(core) -> None:
    with pytest.raises(client.ApiException) as missing:
        stream(core.connect_get_namespaced_pod_exec, "ghost", "default", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)  # fmt: skip
    # The client reports a refused WebSocket handshake in the exception's reason.
    assert "404" in str(missing.value.reason)


def test_deleted_service_comes_back_as_a_service(sim_cluster, k8s_client) -> None:
    api = client.CoreV1Api(k8s_client)
    spec = client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)])
    created = api.create_namespaced_service(
        "default", client.V1Service(metadata=client.V1ObjectMeta(name="web"), spec=spec)
    )
    assert created.status.load_balancer is not None  # status: {loadBalancer: {}}
    deleted = api.delete_namespaced_service("web", "default")
    assert isinstance(deleted, client.V1Service)
    assert deleted.metadata.name == "web"
    # A ConfigMap's DELETE is a Status, as upstream (no ReturnDeletedObject there).
    api.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "b"})
    )
    status = api.delete_namespaced_config_map("c", "default")
    assert status["status"] == "Success"
    assert status["details"]["kind"] == "configmaps" and "group" not in status["details"]


def test_new_workloads_carry_a_status(sim_cluster, k8s_client) -> None:
    apps = client.AppsV1Api(k8s_client)
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": "a"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="a", image="nginx")]),
    )
    created = apps.create_namespaced_deployment(
        "default",
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="a"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels={"app": "a"}), template=template
            ),
        ),
    )
    assert created.status is not None
    # Stored (and served) with its status stanza before any controller ran.
    assert sim_cluster.store.get("apps", "deployments", "default", "a")["status"] == {}
    job = client.BatchV1Api(k8s_client).create_namespaced_job(
        "default",
        client.V1Job(
            metadata=client.V1ObjectMeta(name="j"),
            spec=client.V1JobSpec(
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(
                        restart_policy="Never",
                        containers=[client.V1Container(name="j", image="busybox")],
                    )
                )
            ),
        ),
    )
    assert job.status is not None


def test_error_status_body_is_serialised_like_upstream(sim_cluster, tmp_path) -> None:
    import requests

    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_cluster.server.ca.cert_pem)
    response = requests.get(
        f"{sim_cluster.url}/api/v1/namespaces/default/configmaps/nope",
        headers={"Authorization": f"Bearer {sim_cluster.token}"},
        verify=str(ca),
        timeout=10,
    )
    assert response.status_code == 404
    assert response.content == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"configmaps \\"nope\\" not found","reason":"NotFound",'
        b'"details":{"name":"nope","kind":"configmaps"},"code":404}\n'
    )


def test_cat_echoes_stdin_until_the_channel_closes(core) -> None:
    # v5.channel.k8s.io: the client reads each line back, then half-closes stdin
    # (channel 255 naming channel 0) and `cat` exits 0, as in the client's own e2e suite.
    resp = stream(
        core.connect_post_namespaced_pod_exec,
        "client",
        "default",
        command=["/bin/sh", "-c", "cat"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin("test-close\n")
    assert resp.readline_stdout(timeout=5) == "test-close"
    resp.close_channel(0)
    resp.run_forever(timeout=10)
    assert not resp.is_open() and resp.returncode == 0


def test_binary_exec_output_comes_back_byte_for_byte(core) -> None:
    import gzip

    packed = stream(
        core.connect_get_namespaced_pod_exec,
        "client",
        "default",
        command=["/bin/sh", "-c", 'echo -n "This is a test string" | gzip'],
        stderr=False,
        stdin=False,
        stdout=True,
        tty=False,
        binary=True,
    )
    assert gzip.decompress(packed) == b"This is a test string"


# A raw TCP echo server in the shape of the client's own port-forward test: one
# listening thread per port given as an argument, each connection sent back what it
# reads. The simulator reads (never runs) the script to learn its ports and protocol.
ECHO_SCRIPT = """
import socket
import sys
import threading


def serve(port):
    listener = socket.socket()
    listener.bind(("0.0.0.0", port))
    listener.listen()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def answer(conn):
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        conn.sendall(chunk)


for arg in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(arg),), daemon=True).start()
threading.Event().wait()
"""


def _echo_pod(sim_cluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default",
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="echo"), data={"echo.py": ECHO_SCRIPT}
        ),
    )
    container = client.V1Container(
        name="echo",
        image="python",
        command=["python", "-u", "/opt/echo.py", "7000", "7001"],
        volume_mounts=[client.V1VolumeMount(name="code", mount_path="/opt", read_only=True)],
        startup_probe=client.V1Probe(
            tcp_socket=client.V1TCPSocketAction(port=7001), period_seconds=1, failure_threshold=30
        ),
    )
    volume = client.V1Volume(name="code", config_map=client.V1ConfigMapVolumeSource(name="echo"))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="echo"),
        spec=client.V1PodSpec(containers=[container], volumes=[volume], restart_policy="Never"),
    )
    core.create_namespaced_pod("default", pod)
    sim_cluster.server.call(sim_cluster.cluster.control_plane.advance, 10)


def _read_exactly(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_python_script_echo_server_is_ready_and_port_forwarded(sim_cluster, core) -> None:
    """The client's raw port-forward: both ports of the script echo, a third port
    nothing listens on is closed at once with an error, and closing every socket
    ends the connection."""
    _echo_pod(sim_cluster, core)
    status = core.read_namespaced_pod("echo", "default").status
    assert status.phase == "Running"
    assert status.container_statuses[0].ready  # the TCP startup probe on 7001 passed
    forward = portforward(
        core.connect_get_namespaced_pod_portforward, "echo", "default", ports="7000,7001,7002"
    )
    first, second = forward.socket(7000), forward.socket(7001)
    for sock in (first, second):
        sock.setblocking(True)
        sock.settimeout(10)
    first.sendall(b"to seven thousand")
    second.sendall(b"to seven thousand and one")
    assert _read_exactly(first, 17) == b"to seven thousand"
    assert _read_exactly(second, 25) == b"to seven thousand and one"
    refused = forward.socket(7002)
    refused.settimeout(10)
    assert refused.recv(1024) == b""
    assert "localhost:7002" in forward.error(7002)
    assert "connection refused" in forward.error(7002)
    assert forward.error(7000) is None and forward.error(7001) is None
    for sock in (first, second, refused):
        sock.close()
    for _ in range(100):
        if not forward.connected:
            break
        time.sleep(0.05)
    assert not forward.connected


def test_pod_metrics_through_the_client_utils(sim_cluster, k8s_client) -> None:
    """`kubernetes.utils.get_pods_metrics` (the client's metrics e2e test): a pod
    shows 10 s after its container started, and a label selector narrows the list."""
    api = client.CoreV1Api(k8s_client)
    advance = sim_cluster.cluster.control_plane.advance
    sim_cluster.server.call(advance, 40)  # metrics-server becomes ready and scrapes
    labels = {"app": "myapp"}
    container = client.V1Container(
        name="app", image="busybox", command=["sh", "-c", "echo hi && sleep 3600"]
    )
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="myapp", labels=labels),
        spec=client.V1PodSpec(containers=[container]),
    )
    api.create_namespaced_pod("default", pod)
    api.create_namespaced_pod("default", _pod("other", "busybox", ["sleep", "3600"]))
    sim_cluster.server.call(advance, 3)
    assert api.read_namespaced_pod("myapp", "default").status.phase == "Running"
    assert utils.get_pods_metrics(k8s_client, "default")["items"] == []  # under 10 s
    sim_cluster.server.call(advance, 11)
    names = [i["metadata"]["name"] for i in utils.get_pods_metrics(k8s_client, "default")["items"]]
    assert sorted(names) == ["myapp", "other"]
    selected = utils.get_pods_metrics(k8s_client, "default", "app=myapp")["items"]
    assert [i["metadata"]["name"] for i in selected] == ["myapp"]
    assert selected[0]["containers"][0]["name"] == "app"
    assert utils.get_nodes_metrics(k8s_client)["items"][0]["usage"]["cpu"]

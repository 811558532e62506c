"""The official Python client's `kubernetes.stream` against simulated containers
(exec with exit codes and stdin, port-forward to nginx), and the objects its typed
models read back (a deleted Service, the status of new objects)."""

from __future__ import annotations

import pytest
from kubernetes import client
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

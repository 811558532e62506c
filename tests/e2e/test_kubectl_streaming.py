"""The real kubectl's streaming verbs against simulated containers: exec (exit codes,
stdin, a terminal), cp both ways, run -it --rm and attach, and port-forward (SPDY tunnelled in a
WebSocket)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster, kubectl_binary

pytestmark = pytest.mark.kubectl


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    # Pods start only when the control plane runs: a manual clock the tests move.
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def _advance(sim: SimCluster, seconds: int = 5) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


@pytest.fixture
def pods(sim_cluster, kubectl) -> SimCluster:
    kubectl("run", "web", "--image=nginx")
    kubectl("run", "client", "--image=busybox", "--", "sleep", "3600")
    _advance(sim_cluster)
    return sim_cluster


class _Ticker:
    """Moves a manual clock while kubectl waits for pods (run -it, delete)."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            _advance(self.sim, 1)

    def __enter__(self) -> _Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _terminal(
    kubeconfig: Path, args: list[str], keys: list[str], wait: float = 3.0
) -> tuple[int, str]:
    """Run kubectl under a pseudo-terminal (`script`), typing `keys` after `wait`."""
    command = " ".join([kubectl_binary(), "--kubeconfig", str(kubeconfig), *args])
    proc = subprocess.Popen(
        ["script", "-qefc", command, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None
    time.sleep(wait)
    for key in keys:
        proc.stdin.write(key.encode())
        proc.stdin.flush()
        time.sleep(0.7)
    try:
        out, _ = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out.decode(errors="replace")


def test_exec_prints_and_propagates_the_exit_code(pods, kubectl) -> None:
    assert kubectl("exec", "client", "--", "echo", "hi").stdout == "hi\n"
    failed = kubectl(
        "exec", "client", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert failed.returncode == 3
    assert failed.stdout == "out\n"
    assert "err\n" in failed.stderr and "command terminated with exit code 3" in failed.stderr
    missing = kubectl("exec", "client", "--", "sheep", check=False)
    assert missing.returncode == 1
    assert 'exec: "sheep": executable file not found in $PATH' in missing.stderr


def test_exec_with_stdin_and_variables(pods, kubectl) -> None:
    assert kubectl("exec", "-i", "client", "--", "cat", input="piped\n").stdout == "piped\n"
    kubectl("exec", "-i", "client", "--", "sh", "-c", "cat > /tmp/saved", input="kept\n")
    assert kubectl("exec", "client", "--", "cat", "/tmp/saved").stdout == "kept\n"
    script = "echo $((6 * 7)); for i in a b; do echo $i; done; hostname\nexit 5\n"
    result = kubectl("exec", "-i", "client", "--", "sh", input=script, check=False)
    assert (result.returncode, result.stdout) == (5, "42\na\nb\nclient\n")


def test_exec_reaches_nginx_by_pod_ip(pods, kubectl) -> None:
    ip = kubectl("get", "pod", "web", "-o", "jsonpath={.status.podIP}").stdout
    page = kubectl("exec", "client", "--", "wget", "-qO-", f"http://{ip}").stdout
    assert "<title>Welcome to nginx!</title>" in page


def test_exec_into_a_missing_container_is_refused(pods, kubectl) -> None:
    result = kubectl("exec", "client", "-c", "nope", "--", "true", check=False)
    assert result.returncode == 1
    assert "container nope is not valid for pod client" in result.stderr


def test_exec_needs_create_on_pods_exec(pods, kubectl, sim_cluster) -> None:
    viewer = sim_cluster.user_kubeconfig("jane")
    kubectl("create", "clusterrolebinding", "jane-view", "--clusterrole=view", "--user=jane")
    denied = kubectl("exec", "client", "--", "true", kubeconfig=viewer, check=False)
    assert denied.returncode == 1
    assert 'cannot create resource "pods/exec"' in denied.stderr
    kubectl("create", "clusterrolebinding", "jane-edit", "--clusterrole=edit", "--user=jane")
    assert kubectl("exec", "client", "--", "echo", "ok", kubeconfig=viewer).stdout == "ok\n"


def test_cp_both_ways(pods, kubectl, tmp_path) -> None:
    local = tmp_path / "notes.txt"
    local.write_text("local data\n")
    kubectl("cp", str(local), "client:/tmp/notes.txt")
    assert kubectl("exec", "client", "--", "cat", "/tmp/notes.txt").stdout == "local data\n"
    kubectl("cp", "web:/usr/share/nginx/html", str(tmp_path / "html"))
    assert "Welcome to nginx!" in (tmp_path / "html" / "index.html").read_text()


def test_exec_it_runs_an_interactive_shell(pods, sim_cluster) -> None:
    code, out = _terminal(
        sim_cluster.kubeconfig_path,
        ["exec", "-it", "client", "--", "sh"],
        ["echo tty-$((40+2))\r", "exit 2\r"],
    )
    assert "/ # " in out and "tty-42" in out
    assert code == 2


def test_run_it_rm_attaches_then_deletes(sim_cluster, kubectl) -> None:
    with _Ticker(sim_cluster):
        code, out = _terminal(
            sim_cluster.kubeconfig_path,
            ["run", "-it", "--rm", "shell", "--image=busybox", "--restart=Never", "--", "sh"],
            ["echo attached-$((1+1))\r", "exit\r"],
            wait=5.0,
        )
    assert "attached-2" in out
    assert 'pod "shell" deleted' in out
    assert code == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_port_forward_serves_the_nginx_welcome_page(pods, sim_cluster) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            kubectl_binary(),
            "--kubeconfig",
            str(sim_cluster.kubeconfig_path),
            "port-forward",
            "pod/web",
            f"{port}:80",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first == f"Forwarding from 127.0.0.1:{port} -> 80\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
            assert "<h1>Welcome to nginx!</h1>" in page.read().decode()
        # A second connection through the same forward.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=10)
        assert missing.value.code == 404
    finally:
        proc.terminate()
        proc.wait(10)


def test_attach_streams_what_the_process_prints(sim_cluster, kubectl) -> None:
    kubectl(
        "run",
        "ticker",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "while true; do echo tick; sleep 1; done",
    )
    _advance(sim_cluster)
    with _Ticker(sim_cluster):
        proc = subprocess.Popen(
            [
                kubectl_binary(),
                "--kubeconfig",
                str(sim_cluster.kubeconfig_path),
                "attach",
                "ticker",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            out, _ = proc.communicate(timeout=4)
        except subprocess.TimeoutExpired:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
    # Lines printed after attaching (the clock moves while attached).
    assert b"tick\n" in out


ECHO_SERVER = """import socket, sys, threading

def answer(conn):
    while True:
        data = conn.recv(4096)
        if not data:
            return
        conn.sendall(data)

server = socket.create_server(("", int(sys.argv[1])))
while True:
    conn, _ = server.accept()
    threading.Thread(target=answer, args=(conn,)).start()
"""
ECHO_POD = """apiVersion: v1
kind: Pod
metadata:
  name: echo
spec:
  containers:
  - name: echo
    image: python:3.13
    command: [python, /app/echo.py, "7000"]
    readinessProbe:
      tcpSocket:
        port: 7000
      periodSeconds: 1
    volumeMounts:
    - name: app
      mountPath: /app
  volumes:
  - name: app
    configMap:
      name: echo
"""


def test_port_forward_reaches_a_python_scripts_echo_server(
    sim_cluster, kubectl, tmp_path: Path
) -> None:
    """kubectl port-forward to the raw TCP server of a script from a ConfigMap: the
    pod turns Ready on its TCP probe and each connection gets its bytes back."""
    (tmp_path / "echo.py").write_text(ECHO_SERVER)
    (tmp_path / "pod.yaml").write_text(ECHO_POD)
    kubectl("create", "configmap", "echo", f"--from-file={tmp_path / 'echo.py'}")
    kubectl("apply", "-f", str(tmp_path / "pod.yaml"))
    _advance(sim_cluster, 8)
    ready = kubectl("get", "pod", "echo", "-o", "jsonpath={.status.containerStatuses[0].ready}")
    assert ready.stdout == "true"
    port = _free_port()
    proc = subprocess.Popen(
        [
            kubectl_binary(),
            "--kubeconfig",
            str(sim_cluster.kubeconfig_path),
            "port-forward",
            "pod/echo",
            f"{port}:7000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().decode() == f"Forwarding from 127.0.0.1:{port} -> 7000\n"
        for word in (b"first connection\n", b"second one\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(word[:5])
                got = conn.recv(4096)
                conn.sendall(word[5:])
                while len(got) < len(word):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                assert got == word
    finally:
        proc.terminate()
        proc.wait(10)

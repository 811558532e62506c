"""The browser terminal's WebSocket against a live app, a real Celery worker, a live
simulator and the real kubectl: authentication and ownership, the workstation's
commands, ssh into a node shell and the editor, reconnects, take-over, and the escapes
that must fail."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.lab_cli import run

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "pending-pods-control-plane-1"
MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Term:
    """A terminal client: `run(line)` sends a command line and returns the text printed
    until the next prompt."""

    def __init__(self, url: str, **options: Any) -> None:
        self.ws = websocket.create_connection(url, timeout=60, **options)
        self.hello = self.receive()
        assert self.hello["t"] == "hello", self.hello
        self.prompt = ""
        self.edit: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.until_prompt()

    def receive(self) -> dict[str, Any]:
        return json.loads(self.ws.recv())

    def until(self, kind: str) -> tuple[str, dict[str, Any]]:
        out = []
        while True:
            message = self.receive()
            self.messages.append(message)
            if message["t"] == "out":
                out.append(message["d"])
            elif message["t"] == "edit":
                self.edit = message
            if message["t"] == kind:
                return "".join(out).replace("\r\n", "\n"), message

    def until_prompt(self) -> str:
        text, message = self.until("prompt")
        self.prompt = message["p"]
        return text

    def run(self, line: str) -> str:
        self.ws.send(json.dumps({"t": "line", "d": line}))
        return self.until_prompt()

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def close(self) -> None:
        self.ws.close()


def ws_url(api: str, session_id: int, **query: str) -> str:
    url = api.replace("http://", "ws://") + f"/api/v1/lab-sessions/{session_id}/terminal"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def start_lab(api: str, token: str) -> int:
    started = run(["start", SLUG], api, token)
    assert started.exit_code == 0, started.output
    return int(re.search(r"session (\d+) is ready", started.output).group(1))


def refused_status(url: str, **options: Any) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, timeout=30, **options)
    return caught.value.status_code


def test_terminal_runs_kubectl_ssh_and_the_editor_and_refuses_escapes(
    live_lab_api: str, lab_stack: Any, make_user: Any
) -> None:
    _, token = make_user()
    _, other_token = make_user()
    session_id = start_lab(live_lab_api, token)
    url = ws_url(live_lab_api, session_id)
    bearer = {"header": [f"Authorization: Bearer {token}"]}

    # No credentials: 401; another learner: 404; a session that does not exist: 404.
    assert refused_status(url) in (401, 403)
    assert refused_status(url, header=[f"Authorization: Bearer {other_token}"]) == 404
    assert refused_status(ws_url(live_lab_api, 999999), **bearer) == 404
    # Without the WebSocket upgrade, the owner gets a JSON error that says what to do.
    plain = requests.get(
        f"{live_lab_api}/api/v1/lab-sessions/{session_id}/terminal",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert plain.status_code == 426 and "WebSocket" in plain.json()["message"]

    term = Term(url, **bearer)
    assert term.prompt == "candidate@workstation:~$ "
    assert term.hello["nodes"] == ["controlplane", "node01", "node02"]

    # Real kubectl against the session's cluster, with the k alias.
    nodes = term.run("kubectl get nodes")
    assert re.search(r"^controlplane\s+\S+\s+control-plane", nodes, re.M), nodes
    assert "node01" in term.run("k get nodes -o name")
    # Files come from the workstation's folder, on kubectl's stdin.
    assert term.run("kubectl run web --image=nginx --dry-run=client -o yaml > web.yaml") == ""
    assert "kind: Pod" in term.run("cat web.yaml | grep kind")
    assert "pod/web created" in term.run("kubectl apply -f web.yaml")
    assert re.search(r"^web\s", term.run("k get pods --no-headers"), re.M)
    # A namespace set on the context sticks for the next commands.
    term.run("kubectl config set-context --current --namespace=kube-system")
    assert "kube-scheduler-controlplane" in term.run("k get pods -o name")
    term.run("kubectl config set-context --current --namespace=default")
    # Tab completion asks the cluster for names.
    term.send({"t": "complete", "d": "kubectl get nodes contr"})
    _, completion = term.until("complete")
    assert completion["line"] == "kubectl get nodes controlplane "

    # Escapes.
    assert "No such file or directory" in term.run("cat /etc/passwd")
    assert 'the path "/etc/shadow" does not exist' in term.run("kubectl create -f /etc/shadow")
    assert "--kubeconfig is not available" in term.run(
        "kubectl --kubeconfig=/root/.kube/config get pods"
    )
    assert "copies to and from the host" in term.run("kubectl cp default/web:/etc/passwd /tmp/p")
    assert "command substitution is not available" in term.run("echo $(cat /etc/passwd)")
    dump = term.run("env")
    assert "HOME=/home/candidate" in dump and "CERTPREP" not in dump and "PYTHON" not in dump
    assert "Could not resolve hostname" in term.run("ssh 127.0.0.1")
    term.run("cd ../../../..")
    assert term.run("ls") == "home  tmp\n"
    term.run("cd")

    # ssh into the control plane: a node shell whose cwd and variables persist.
    assert term.run("ssh controlplane") == ""
    assert term.prompt == "root@controlplane:~# "
    term.run("cd /etc/kubernetes/manifests")
    assert term.prompt == "root@controlplane:/etc/kubernetes/manifests# "
    assert "kube-scheduler.yaml" in term.run("ls")
    term.run("export WHO=learner")
    assert term.run("echo $WHO") == "learner\n"
    # vi opens the editor on the node file; saving writes it back through node access.
    assert "opened in the editor" in term.run("vi kube-scheduler.yaml")
    edit = term.edit
    assert edit is not None and edit["node"] == "controlplane" and edit["path"] == MANIFEST
    assert "--kubeconfigg=" in edit["content"]
    # A save that names another edit (or a path) is refused.
    term.send({"t": "save", "id": "forged", "content": "x", "path": "/etc/passwd"})
    _, refused = term.until("saved")
    assert refused["ok"] is False
    fixed = edit["content"].replace("--kubeconfigg=", "--kubeconfig=")
    term.send({"t": "save", "id": edit["id"], "content": fixed})
    _, saved = term.until("saved")
    assert saved["ok"] is True and saved["path"] == MANIFEST
    term.until_prompt()
    assert "--kubeconfigg" not in term.run(f"grep kubeconfig {MANIFEST}")
    assert "logout" in term.run("exit")
    assert term.prompt == "candidate@workstation:~$ "

    # Reconnect after a dropped connection: same folder, history and screen.
    term.run("ssh node01")
    term.close()
    again = Term(url, **bearer)
    assert again.prompt == "root@node01:~# "
    assert "ssh node01" in again.hello["history"]
    assert "pod/web created" in again.hello["screen"]
    again.run("exit")
    assert "web.yaml" in again.run("ls")

    # A second connection takes the workstation over; the first one is told and closed.
    third = Term(url, **bearer)
    _, bye = again.until("bye")
    assert bye["reason"] == "taken"
    assert third.run("pwd") == "/home/candidate\n"
    third.close()

    # A page reconnecting by itself (`resume=1`) gets the workstation back while no other
    # page took it; once another page did, the reconnect is told so instead of taking
    # it back (the goodbye may have been lost with the dropped connection).
    mine, other = "0123456789abcdef", "fedcba9876543210"
    first = Term(ws_url(live_lab_api, session_id, tab=mine), **bearer)
    first.close()
    resumed = Term(ws_url(live_lab_api, session_id, tab=mine, resume="1"), **bearer)
    newer = Term(ws_url(live_lab_api, session_id, tab=other), **bearer)
    _, bye = resumed.until("bye")
    assert bye["reason"] == "taken"
    late = websocket.create_connection(
        ws_url(live_lab_api, session_id, tab=mine, resume="1"), timeout=60, **bearer
    )
    said = [json.loads(late.recv()), json.loads(late.recv())]
    assert "another tab" in said[0]["d"]
    assert said[1]["t"] == "bye" and said[1]["reason"] == "taken"
    late.close()
    assert newer.run("pwd") == "/home/candidate\n"
    newer.close()


def test_browser_session_needs_the_csrf_token(
    live_lab_api: str, lab_stack: Any, make_user: Any
) -> None:
    user, token = make_user()
    session_id = start_lab(live_lab_api, token)
    browser = requests.Session()
    form_token = CSRF.search(browser.get(f"{live_lab_api}/login").text)[1]
    logged_in = browser.post(
        f"{live_lab_api}/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": form_token},
        allow_redirects=False,
    )
    assert logged_in.status_code == 302
    page = browser.get(f"{live_lab_api}/lab-sessions/{session_id}").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)[1]
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    url = ws_url(live_lab_api, session_id)
    assert refused_status(url, cookie=cookie) == 403
    assert refused_status(ws_url(live_lab_api, session_id, csrf="wrong"), cookie=cookie) == 403
    origin = live_lab_api.replace("127.0.0.1", "evil.example")
    assert (
        refused_status(ws_url(live_lab_api, session_id, csrf=csrf), cookie=cookie, origin=origin)
        == 403
    )
    term = Term(ws_url(live_lab_api, session_id, csrf=csrf), cookie=cookie, origin=live_lab_api)
    assert "controlplane" in term.run("k get no")
    term.close()
    run(["stop", str(session_id)], live_lab_api, token)


def test_idle_terminals_close_and_input_is_rate_limited(
    live_lab_api: str, lab_stack: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTPREP_TERMINAL_IDLE_SECONDS", "2")
    monkeypatch.setenv("CERTPREP_TERMINAL_INPUT_RATE", "1")
    _, token = make_user()
    session_id = start_lab(live_lab_api, token)
    bearer = {"header": [f"Authorization: Bearer {token}"]}
    term = Term(ws_url(live_lab_api, session_id), **bearer)
    # A burst of 2 lines passes; more in the same second answer "slow down".
    for _ in range(5):
        term.send({"t": "line", "d": "true"})
    kinds = []
    while kinds.count("prompt") < 5:
        kinds.append(term.receive()["t"])
    assert kinds.count("busy") >= 2, kinds
    # kubectl exec runs in the cluster's simulated pod, never on the host.
    term.run("kubectl run web --image=nginx")
    host_passwd = Path("/etc/passwd").read_text().splitlines()[0]
    assert host_passwd not in term.run("kubectl exec web -- cat /etc/passwd")
    # Nothing typed for longer than the idle limit: the server says why and closes.
    _, bye = term.until("bye")
    assert bye["reason"] == "idle" and "without input" in bye["message"]
    try:
        leftover = term.ws.recv()  # the close frame reads as ""
    except websocket.WebSocketConnectionClosedException:
        leftover = ""
    assert leftover == ""
    run(["stop", str(session_id)], live_lab_api, token)

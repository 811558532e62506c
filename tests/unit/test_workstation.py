"""The learner workstation's shell on its own (no cluster): files, state, syntax, and
the escapes it must refuse. kubectl and ssh against a real simulator are in
tests/integration/labs/test_terminal.py."""

from __future__ import annotations

import pytest
import yaml

from app.workstation import Workstation, complete
from app.workstation.cluster import ClusterUnavailable, ContextClusters
from app.workstation.files import HOME, MAX_TOTAL_BYTES, FileError, normalize
from app.workstation.kubectl import Refused, prepare


def run(ws: Workstation, line: str) -> str:
    return ws.run(line).output


def test_prompt_home_and_basic_commands() -> None:
    ws = Workstation()
    assert ws.prompt() == "candidate@workstation:~$ "
    assert run(ws, "pwd") == f"{HOME}\n"
    assert run(ws, "mkdir -p work/a && cd work/a && pwd") == f"{HOME}/work/a\n"
    assert ws.prompt() == "candidate@workstation:~/work/a$ "
    assert run(ws, "echo hello > f.txt; echo more >> f.txt; cat f.txt") == "hello\nmore\n"
    assert run(ws, "cat f.txt | grep -n more") == "2:more\n"
    assert run(ws, "head -n 1 f.txt; tail -1 f.txt") == "hello\nmore\n"
    assert run(ws, "cp f.txt g.txt && mv g.txt h.txt && ls") == "f.txt  h.txt\n"
    assert run(ws, "rm h.txt && ls") == "f.txt\n"
    assert run(ws, "ls *.txt") == "f.txt\n"
    assert ws.run("cat missing").exit_code == 1
    assert ws.run("false || echo fallback").stdout == "fallback\n"
    assert ws.run("false && echo never").stdout == ""


def test_state_survives_a_round_trip() -> None:
    ws = Workstation()
    run(ws, "export NS=kube-system; alias kgp='kubectl get pods'; mkdir d; cd d")
    run(ws, "echo x > file")
    restored = Workstation(state=ws.to_state())
    assert restored.cwd == f"{HOME}/d"
    assert run(restored, "echo $NS ${NS}") == "kube-system kube-system\n"
    assert "kgp='kubectl get pods'" in run(restored, "alias")
    assert run(restored, "cat file") == "x\n"
    assert restored.history[-4:] == ["echo x > file", "echo $NS ${NS}", "alias", "cat file"]
    assert run(restored, "export A=1; echo $A") == "1\n"


def test_redirect_stderr_and_dev_null() -> None:
    ws = Workstation()
    assert run(ws, "cat nope 2> err.txt") == ""
    assert "No such file" in run(ws, "cat err.txt")
    assert run(ws, "cat nope 2>/dev/null") == ""
    assert "No such file" in run(ws, "cat nope 2>&1 | grep such")


def test_grep_options() -> None:
    ws = Workstation()
    run(ws, "echo Alpha > f; echo beta >> f; echo gamma >> f")
    assert run(ws, "grep -i alpha f") == "Alpha\n"
    assert run(ws, "grep -v a f") == ""
    assert run(ws, "grep -c a f") == "3\n"
    assert run(ws, "grep -E 'beta|gamma' f") == "beta\ngamma\n"
    assert run(ws, "grep 'beta\\|gamma' f") == "beta\ngamma\n"
    assert ws.run("grep -z a f").exit_code == 2


def test_editor_save_stays_in_the_virtual_folder() -> None:
    ws = Workstation()
    with pytest.raises(FileError):
        ws.save(None, "../../../etc/passwd", "root::0:0::/root:/bin/bash\n")
    assert ws.save(None, "/home/candidate/../candidate/./x.yaml", "a: 1\n") == f"{HOME}/x.yaml"
    assert set(ws.fs.files) == {f"{HOME}/x.yaml"}


def test_editor_request_for_workstation_file_and_save() -> None:
    ws = Workstation()
    result = ws.run("vi pod.yaml")
    assert result.exit_code == 0
    assert ws.edit is not None and ws.edit.node is None and ws.edit.path == f"{HOME}/pod.yaml"
    saved = ws.save(None, ws.edit.path, "kind: Pod\n")
    assert saved == f"{HOME}/pod.yaml"
    assert run(ws, "cat pod.yaml") == "kind: Pod\n"


# ---------------------------------------------------------------------------- escapes


def test_host_files_are_not_there() -> None:
    ws = Workstation()
    assert "No such file or directory" in run(ws, "cat /etc/passwd")
    assert "root:" not in run(ws, "cat /etc/passwd /etc/shadow")
    assert ws.run("ls /etc").exit_code == 2
    run(ws, "cd ../../../../..")
    assert ws.cwd == "/"
    assert run(ws, "ls /") == "home  tmp\n"
    assert normalize("../../../etc/passwd", HOME) == "/etc/passwd"
    assert "No such file" in run(ws, "cat ../../../etc/passwd")


@pytest.mark.parametrize(
    "line",
    ["echo $(cat /etc/passwd)", "echo `id`", 'echo "$(id)"', "cat <(ls /)", "ls &", "(ls)"],
)
def test_substitutions_and_subshells_are_refused(line: str) -> None:
    ws = Workstation()
    result = ws.run(line)
    assert result.exit_code == 2
    assert "not available in this terminal" in result.stderr
    assert "root:" not in result.stdout


def test_fork_bomb_is_harmless() -> None:
    ws = Workstation()
    result = ws.run(":(){ :|:& };:")
    assert result.exit_code == 2 and "not available" in result.stderr
    assert run(ws, "echo still here") == "still here\n"


def test_env_dumps_show_only_workstation_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTPREP_SECRET_PROBE", "host-secret-value")
    ws = Workstation()
    run(ws, "export MINE=1")
    for line in ("env", "printenv", "set", "export"):
        out = run(ws, line)
        assert "host-secret-value" not in out and "CERTPREP" not in out
        assert "MINE" in out and "HOME" in out
    assert run(ws, "echo $CERTPREP_SECRET_PROBE") == "\n"


def test_huge_output_and_files_are_capped() -> None:
    ws = Workstation()
    run(ws, "echo " + "x" * 8000 + " > a")
    for _ in range(7):
        run(ws, "cat a a a a a a a a >> b")
    out = ws.run("cat b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b")
    assert len(out.stdout) < 300 * 1024
    assert ws.fs.size() <= MAX_TOTAL_BYTES
    # A line too long for the shell.
    assert ws.run("echo " + "y" * 10000).exit_code == 2


def test_ssh_without_the_cluster_and_unknown_hosts() -> None:
    ws = Workstation()
    result = ws.run("ssh 127.0.0.1")
    assert result.exit_code == 255 and "Could not resolve hostname" in result.stderr
    assert ws.node is None
    assert "has no cluster" in run(ws, "kubectl get pods")


# ----------------------------------------------------------------- kubectl arguments


def files(path: str) -> str:
    table = {f"{HOME}/pod.yaml": "kind: Pod\n"}
    if path.startswith("/"):
        key = path
    else:
        key = f"{HOME}/{path}"
    if key not in table:
        raise FileNotFoundError(path)
    return table[key]


def test_kubectl_files_come_from_the_workstation_on_stdin() -> None:
    argv, stdin = prepare(["apply", "-f", "pod.yaml"], files)
    assert argv == ["apply", "-f", "-"] and stdin == "kind: Pod\n"
    argv, stdin = prepare(["create", "--filename=pod.yaml", "-n", "x"], files)
    assert argv == ["create", "-n", "x", "-f", "-"]
    argv, stdin = prepare(["apply", "-f", "-"], files, "kind: ConfigMap\n")
    assert stdin == "kind: ConfigMap\n"
    with pytest.raises(FileNotFoundError):
        prepare(["create", "-f", "/etc/shadow"], files)


@pytest.mark.parametrize(
    "args",
    [
        ["--kubeconfig=/root/.kube/config", "get", "pods"],
        ["--kubeconfig", "/root/.kube/config", "get", "pods"],
        ["get", "pods", "-s", "https://example.org"],
        ["proxy"],
        ["port-forward", "pod/x", "8080:80"],
        ["cp", "default/x:/etc/passwd", "/tmp/passwd"],
        ["plugin", "list"],
        ["apply", "-k", "/etc"],
        ["get", "pods", "-o", "jsonpath-file=/etc/passwd"],
        ["get", "pods", "--cache-dir=/tmp/x"],
        ["create", "-f", "https://example.org/pod.yaml"],
        ["create", "configmap", "x", "--from-file=/etc/passwd"],
        ["frobnicate"],
    ],
)
def test_kubectl_refuses_host_access(args: list[str]) -> None:
    with pytest.raises(Refused):
        prepare(args, files)


def test_completion_of_commands_aliases_and_paths() -> None:
    ws = Workstation()
    assert complete(ws, "kubec") == ("kubectl ", [])
    line, matches = complete(ws, "k ")
    assert "get" in matches and "describe" in matches
    assert complete(ws, "kubectl desc") == ("kubectl describe ", [])
    run(ws, "mkdir manifests; echo a > manifests/pod.yaml")
    assert complete(ws, "cat man") == ("cat manifests/", [])
    assert complete(ws, "cat manifests/p") == ("cat manifests/pod.yaml ", [])
    line, matches = complete(ws, "kubectl get de")
    assert line == "kubectl get deploy" and "deployments" in matches


EXAM_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- {name: k8s-a, cluster: {server: "https://a.invalid"}}
- {name: k8s-b, cluster: {server: "https://b.invalid"}}
users:
- {name: k8s-a-admin, user: {}}
- {name: k8s-b-admin, user: {}}
contexts:
- {name: k8s-a, context: {cluster: k8s-a, user: k8s-a-admin}}
- {name: k8s-b, context: {cluster: k8s-b, user: k8s-b-admin, namespace: apps}}
current-context: k8s-a
"""


def exam_clusters() -> ContextClusters:
    nodes = {"k8s-a": ["controlplane", "node01", "node02"], "k8s-b": ["controlplane", "node01"]}
    return ContextClusters(None, {"k8s-a": "a", "k8s-b": "b"}, EXAM_KUBECONFIG, nodes)


def test_exam_workstation_state_keeps_the_context_and_namespaces() -> None:
    ws = Workstation(None, exam_clusters())
    cluster = ws.cluster
    assert isinstance(cluster, ContextClusters)
    assert cluster.context == "k8s-a" and cluster.nodes == ["controlplane", "node01", "node02"]
    cluster.context = "k8s-b"
    cluster.namespaces = {"k8s-a": "only-a", "k8s-b": None}
    state = ws.to_state()
    assert state["cluster"] == {
        "context": "k8s-b",
        "namespaces": {"k8s-a": "only-a", "k8s-b": None},
    }
    again = Workstation(state, exam_clusters())
    assert isinstance(again.cluster, ContextClusters)
    assert again.cluster.context == "k8s-b" and again.cluster.nodes == ["controlplane", "node01"]
    # The kubeconfig kubectl gets: the current context and every context's namespace.
    config = yaml.safe_load(again.cluster._kubeconfig())
    assert config["current-context"] == "k8s-b"
    namespaces = {c["name"]: c["context"].get("namespace") for c in config["contexts"]}
    assert namespaces == {"k8s-a": "only-a", "k8s-b": None}
    # A stored context or namespace the attempt does not have is ignored.
    forged = {"cluster": {"context": "k8s-z", "namespaces": {"k8s-z": "x", "k8s-a": 3}}}
    fresh = Workstation(forged, exam_clusters())
    assert isinstance(fresh.cluster, ContextClusters)
    assert fresh.cluster.to_state() == {"context": "k8s-a", "namespaces": {}}


def test_exam_workstation_ssh_only_reaches_the_current_contexts_nodes() -> None:
    ws = Workstation(None, exam_clusters())
    assert isinstance(ws.cluster, ContextClusters)
    ws.cluster.context = "k8s-b"
    refused = ws.run("ssh node02")
    assert refused.exit_code == 255
    assert "(the cluster's nodes: controlplane, node01)" in refused.stderr
    assert ws.node is None
    with pytest.raises(ClusterUnavailable, match="context k8s-b has no node node02"):
        ws.cluster.node_exec("node02", "hostname")
    with pytest.raises(ClusterUnavailable):
        ws.save("node02", "/root/x", "x")
    assert complete(ws, "ssh node0") == ("ssh node01 ", [])

"""The shell inside a running container (`kubectl exec` runs it): the image's tools,
the container's own files, `sh -c` expansion and loops, tar for `kubectl cp`, and HTTP
to what pods serve."""

from __future__ import annotations

import io
import tarfile

import pytest

from app.sim.nodes.containers import ContainerAccess, ContainerError, decode, encode


def _running(sim, name: str, **container) -> ContainerAccess:
    sim.run_pod(name, **container)
    sim.tick(2)
    assert sim.pod(name)["status"]["phase"] == "Running"
    return ContainerAccess(sim.nodes)


def test_exit_codes_and_output_follow_the_script(sim) -> None:
    access = _running(sim, "c1", image="busybox", command=["sleep", "3600"])
    shell = access.shell("default", "c1", "app")
    result = shell.run("echo hi; echo err >&2; exit 3; echo never")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "hi\n", "err\n")
    assert shell.run("sh -c 'exit 4'").exit_code == 4
    # Standard input reaches the script's first command (`kubectl exec -i ... sh -c`).
    piped = shell._simple(["sh", "-c", "cat > /tmp/in.txt; wc -l /tmp/in.txt"], "a\nb\n")
    assert piped.exit_code == 0 and shell.fs.read("/tmp/in.txt") == "a\nb\n"


def test_expansion_loops_and_conditionals(sim) -> None:
    shell = _running(sim, "c2", image="busybox", command=["sleep", "3600"]).shell(
        "default", "c2", "app"
    )
    assert shell.run("echo $((2 + 3 * 4)) $(hostname)").stdout == "14 c2\n"
    assert shell.run("for i in 1 2 3; do echo n$i; done").stdout == "n1\nn2\nn3\n"
    assert shell.run("x=5; if [ $x -gt 3 ]; then echo big; else echo small; fi").stdout == ("big\n")
    counted = shell.run("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done")
    assert counted.stdout == "0\n1\n2\n"


def test_only_the_images_tools_exist(sim) -> None:
    busybox = _running(sim, "c3", image="busybox", command=["sleep", "3600"])
    shell = busybox.shell("default", "c3", "app")
    missing = shell.run("sheep")
    assert (missing.exit_code, missing.stderr) == (127, "sh: sheep: not found\n")
    assert not shell.has("sheep") and shell.has("wget")
    nginx = _running(sim, "c4", image="nginx")
    # Debian-based nginx has bash but no wget.
    assert nginx.shell("default", "c4", "app").run("wget x").stderr == (
        "bash: wget: command not found\n"
    )


def test_env_and_mounted_configmap(sim) -> None:
    sim.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"color": "blue"},
        },
    )
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "c5", "namespace": "default"},
        "spec": {
            "nodeName": "node01",
            "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sleep", "3600"],
                    "env": [
                        {"name": "PLAIN", "value": "v"},
                        {
                            "name": "COLOR",
                            "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}},
                        },
                        {
                            "name": "ME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                    ],
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
                }
            ],
        },
    }
    sim.store.create("", "pods", obj)
    sim.tick(2)
    shell = ContainerAccess(sim.nodes).shell("default", "c5", "app")
    assert shell.run("echo $PLAIN $COLOR $ME").stdout == "v blue c5\n"
    assert shell.run("cat /etc/cfg/color").stdout == "blue"
    # A changed ConfigMap shows in the mounted file (the kubelet's volume re-sync).
    cfg = sim.store.get("", "configmaps", "default", "cfg")
    cfg["data"] = {"color": "green", "size": "L"}
    sim.store.update("", "configmaps", cfg)
    again = ContainerAccess(sim.nodes).shell("default", "c5", "app")
    assert again.run("cat /etc/cfg/color; ls /etc/cfg").stdout == "greencolor  size\n"
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in shell.run("env").stdout
    assert shell.run("cat /var/run/secrets/kubernetes.io/serviceaccount/namespace").stdout == (
        "default"
    )


def test_tar_round_trip_keeps_bytes(sim) -> None:
    shell = _running(sim, "c6", image="busybox", command=["sleep", "3600"]).shell(
        "default", "c6", "app"
    )
    shell.run("mkdir -p /data; echo abc > /data/a.txt")
    packed = shell.run("tar cf - /data")
    assert packed.exit_code == 0
    with tarfile.open(fileobj=io.BytesIO(encode(packed.stdout))) as archive:
        assert sorted(archive.getnames()) == ["data", "data/a.txt"]
    # A binary file sent in (kubectl cp to the pod) comes back byte for byte.
    buffer = io.BytesIO()
    payload = bytes(range(256))
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("bin.dat")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    unpacked = shell._simple(["tar", "xmf", "-", "-C", "/tmp"], decode(buffer.getvalue()))
    assert unpacked.exit_code == 0
    assert encode(shell.fs.read("/tmp/bin.dat")) == payload


def test_wget_reaches_nginx_by_pod_ip(sim) -> None:
    access = _running(sim, "web", image="nginx")
    access = _running(sim, "client", image="busybox", command=["sleep", "3600"])
    ip = sim.pod("web")["status"]["podIP"]
    shell = access.shell("default", "client", "app")
    page = shell.run(f"wget -qO- http://{ip}")
    assert page.exit_code == 0 and "<h1>Welcome to nginx!</h1>" in page.stdout
    # The page is the container's file: changing it changes the answer.
    access.shell("default", "web", "app").run("echo changed > /usr/share/nginx/html/index.html")
    assert shell.run(f"wget -qO- http://{ip}/").stdout == "changed\n"
    refused = shell.run(f"wget -qO- http://{ip}:8080")
    assert refused.exit_code == 1 and "Connection refused" in refused.stderr
    assert shell.run("wget -qO- http://web").stderr == "wget: bad address 'web'\n"
    # busybox names the address as written, an explicit port included.
    assert shell.run("wget -qO- http://web:8080/x").stderr == "wget: bad address 'web:8080'\n"


def test_entering_a_container_that_does_not_run(sim) -> None:
    access = _running(sim, "done", image="busybox", command=["sh", "-c", "exit 0"])
    with pytest.raises(ContainerError) as missing:
        access.shell("default", "done", "nope")
    assert missing.value.message == "container nope is not valid for pod done"
    with pytest.raises(ContainerError) as unknown:
        access.shell("default", "ghost", "app")
    assert unknown.value.code == 404


def test_a_missing_executable_is_a_start_error(sim) -> None:
    sim.run_pod("sheep", image="busybox", command=["sheep"])
    sim.tick(2)
    status = sim.pod("sheep")["status"]["containerStatuses"][0]
    terminated = status["lastState"].get("terminated") or status["state"].get("terminated")
    assert terminated["reason"] == "StartError" and terminated["exitCode"] == 128
    assert 'exec: "sheep": executable file not found in $PATH' in terminated["message"]
    # busybox has no ENTRYPOINT: `args` alone are the command (`kubectl run -- sheep`).
    sim.run_pod("sheep-args", image="busybox", args=["sheep"])
    sim.tick(2)
    status = sim.pod("sheep-args")["status"]["containerStatuses"][0]
    terminated = status["lastState"].get("terminated") or status["state"].get("terminated")
    assert terminated["reason"] == "StartError"
    # An image outside the catalogue may hold any binary: it runs.
    sim.run_pod("custom", image="registry.example.com/api:2.4.1", command=["/app/server"])
    sim.tick(2)
    assert sim.pod("custom")["status"]["phase"] == "Running"


def test_one_shot_commands_complete_with_their_output(sim) -> None:
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "once", "namespace": "default"},
            "spec": {
                "nodeName": "node01",
                "restartPolicy": "Never",
                "containers": [
                    {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo hi"]}
                ],
            },
        },
    )
    sim.tick(2)
    state = sim.pod("once")["status"]["containerStatuses"][0]["state"]
    assert state["terminated"]["reason"] == "Completed"
    assert sim.nodes.logs("default", "once") == "hi\n"


def test_etcd_container_is_distroless_with_etcdctl_and_its_host_paths(sim) -> None:
    shell = ContainerAccess(sim.nodes).shell("kube-system", "etcd-controlplane", "etcd")
    assert not shell.has("sh") and shell.has("etcdctl")
    # The hostPath mount shows the node's certificates.
    assert shell.fs.is_file("/etc/kubernetes/pki/etcd/ca.crt")
    health = shell.run(
        "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt "
        "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key "
        "endpoint health"
    )
    assert health.exit_code == 0 and "is healthy" in health.stdout


def test_a_short_main_command_runs_in_the_container_shell(sim) -> None:
    script = "echo $((6 * 7)); for i in a b; do echo $i; done; echo oops >&2; exit 2"
    sim.run_pod("short", image="busybox", command=["sh", "-c", script])
    sim.tick(2)
    status = sim.pod("short")["status"]["containerStatuses"][0]
    terminated = status["lastState"].get("terminated") or status["state"].get("terminated")
    assert (terminated["reason"], terminated["exitCode"]) == ("Error", 2)
    assert sim.nodes.logs("default", "short") == "42\na\nb\noops\n"
    sim.run_pod("printer", image="busybox", command=["printenv", "HOSTNAME"])
    sim.tick(2)
    assert sim.nodes.logs("default", "printer") == "printer\n"
    # Commands that wait keep the kubelet's timeline: `sleep` runs on the cluster clock.
    sim.run_pod("sleeper", image="busybox", command=["sh", "-c", "echo start; sleep 30"])
    sim.tick(2)
    assert sim.pod("sleeper")["status"]["phase"] == "Running"
    assert sim.nodes.logs("default", "sleeper") == "start\n"


def test_gzip_round_trips_and_uptime_prints_one_line(sim) -> None:
    import gzip

    shell = _running(sim, "c9", image="busybox", command=["sleep", "3600"]).shell(
        "default", "c9", "app"
    )
    packed = shell.run('echo -n "This is a test string" | gzip')
    assert gzip.decompress(encode(packed.stdout)) == b"This is a test string"
    shell.run("echo hello > /tmp/f && gzip /tmp/f")
    assert not shell.fs.is_file("/tmp/f") and shell.fs.is_file("/tmp/f.gz")
    assert shell.run("zcat /tmp/f.gz").stdout == "hello\n"
    assert shell.run("gunzip /tmp/f.gz && cat /tmp/f").stdout == "hello\n"
    assert shell.run("echo plain | gunzip").stderr == "gunzip: invalid magic\n"
    uptime = shell.run("uptime").stdout
    assert uptime.count("\n") == 1 and " up " in uptime and "load average:" in uptime


def test_a_digit_apart_from_a_redirect_is_an_argument(sim) -> None:
    shell = _running(sim, "c10", image="busybox", command=["sleep", "3600"]).shell(
        "default", "c10", "app"
    )
    result = shell.run("echo test string 2 >&2")
    assert (result.stdout, result.stderr) == ("", "test string 2\n")
    result = shell.run("cat /nope 2>&1; echo 'a 2>b'")
    assert result.stdout == "cat: /nope: No such file or directory\na 2>b\n"

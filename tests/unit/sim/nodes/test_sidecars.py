"""Native sidecars (init containers with restartPolicy Always) and volumes the
containers of a pod share."""

from __future__ import annotations

from app.sim.nodes.containers import ContainerAccess


def sidecar_pod(sim, name: str, restart_policy: str, main: list[str], sidecar: list[str]) -> None:
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": "node01",
                "restartPolicy": restart_policy,
                "initContainers": [
                    {"name": "setup", "image": "busybox", "command": ["sh", "-c", "sleep 5"]},
                    {
                        "name": "proxy",
                        "image": "busybox",
                        "restartPolicy": "Always",
                        "command": sidecar,
                    },
                    {"name": "migrate", "image": "busybox", "command": ["sh", "-c", "sleep 5"]},
                ],
                "containers": [{"name": "app", "image": "busybox", "command": main}],
            },
        },
    )


def states(sim, name: str) -> dict[str, str]:
    status = sim.pod(name)["status"]
    out = {}
    for cs in status.get("initContainerStatuses", []) + status["containerStatuses"]:
        out[cs["name"]] = next(iter(cs["state"]))
    return out


def test_sidecar_starts_in_order_and_keeps_running(sim) -> None:
    sidecar_pod(sim, "web", "Always", ["sleep", "3600"], ["sleep", "3600"])
    sim.tick(1)
    assert states(sim, "web") == {
        "setup": "running",
        "proxy": "waiting",
        "migrate": "waiting",
        "app": "waiting",
    }
    sim.tick(5)
    # The sidecar started, so the next init container runs beside it.
    assert states(sim, "web")["proxy"] == "running"
    assert states(sim, "web")["migrate"] == "running"
    sim.tick(5)
    assert states(sim, "web") == {
        "setup": "terminated",
        "proxy": "running",
        "migrate": "terminated",
        "app": "running",
    }
    status = sim.pod("web")["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_sidecar_is_restarted_and_stopped_when_the_job_is_done(sim) -> None:
    sidecar_pod(sim, "job", "Never", ["sh", "-c", "sleep 30"], ["sh", "-c", "sleep 8"])
    sim.tick(5)
    sim.tick(5)
    sim.tick(20, steps=2)
    # The sidecar exited after 8 s and came back (10 s back-off) despite restartPolicy
    # Never.
    proxy = sim.pod("job")["status"]["initContainerStatuses"][1]
    assert proxy["restartCount"] >= 1
    sim.tick(60, steps=6)
    status = sim.pod("job")["status"]
    assert status["phase"] == "Succeeded"
    assert states(sim, "job")["proxy"] == "terminated"


def test_containers_of_a_pod_share_an_empty_dir_and_it_survives_restarts(sim) -> None:
    mount = [{"name": "work", "mountPath": "/work"}]
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "pair", "namespace": "default"},
            "spec": {
                "nodeName": "node01",
                "containers": [
                    {
                        "name": n,
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "volumeMounts": mount,
                    }
                    for n in ("a", "b")
                ],
                "volumes": [{"name": "work", "emptyDir": {}}],
            },
        },
    )
    sim.tick(1)
    access = ContainerAccess(sim.nodes)
    access.shell("default", "pair", "a").run("echo shared > /work/f")
    assert access.shell("default", "pair", "b").run("cat /work/f").stdout == "shared\n"
    agent = sim.nodes.agent("node01")
    runtime = agent.find_pod("default", "pair")
    agent.stop_container(runtime, runtime.slots["a"])
    sim.tick(15)
    assert runtime.slots["a"].restarts == 1
    assert access.shell("default", "pair", "a").run("cat /work/f").stdout == "shared\n"
    # A read-only mount refuses writes.
    ro = access.shell("default", "pair", "b")
    ro.fs.mount("/ro", agent.fs, "/tmp", read_only=True)  # type: ignore[attr-defined]
    result = ro.run("echo x > /ro/y")
    assert result.exit_code != 0 and "Read-only file system" in result.stderr


def test_the_docs_counter_with_streaming_sidecars(sim) -> None:
    # kubernetes.io "Logging architecture": a counter writing two files, and one
    # streaming sidecar per file.
    script = (
        'i=0; while true; do echo "$i: $(date)" >> /var/log/1.log; '
        'echo "$(date) INFO $i" >> /var/log/2.log; i=$((i+1)); sleep 1; done'
    )
    mount = [{"name": "varlog", "mountPath": "/var/log"}]
    streams = [
        {
            "name": f"count-log-{n}",
            "image": "busybox:1.28",
            "restartPolicy": "Always",
            "args": ["/bin/sh", "-c", f"tail -n+1 -F /var/log/{n}.log"],
            "volumeMounts": mount,
        }
        for n in (1, 2)
    ]
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "counter", "namespace": "default"},
            "spec": {
                "nodeName": "node01",
                "initContainers": streams,
                "containers": [
                    {
                        "name": "count",
                        "image": "busybox:1.28",
                        "args": ["/bin/sh", "-c", script],
                        "volumeMounts": mount,
                    }
                ],
                "volumes": [{"name": "varlog", "emptyDir": {}}],
            },
        },
    )
    sim.tick(1)
    sim.tick(4)
    first = sim.nodes.logs("default", "counter", "count-log-1").splitlines()
    second = sim.nodes.logs("default", "counter", "count-log-2").splitlines()
    assert [line.split(":")[0] for line in first] == ["0", "1", "2", "3", "4"]
    assert first[0].endswith(" UTC " + first[0].split()[-1])
    assert [line.split(" INFO ")[1] for line in second] == ["0", "1", "2", "3", "4"]
    assert sim.nodes.logs("default", "counter", "count") == ""
    # The loop's stdout echoes render the date and counter too.
    sim.run_pod(
        "ticker",
        image="busybox",
        command=["sh", "-c", 'n=5; while true; do echo "$n at $(date)"; n=$((n+5)); sleep 2; done'],
    )
    sim.tick(1)
    sim.tick(4)
    lines = sim.nodes.logs("default", "ticker").splitlines()
    assert [line.split(" at ")[0] for line in lines] == ["5", "10", "15"]
    assert "$(date)" not in lines[0]


def test_tail_starts_with_the_last_ten_lines_or_where_asked(sim) -> None:
    sim.nodes.agent("node01").fs.write("/srv/old.log", "".join(f"line {n}\n" for n in range(1, 16)))
    mount = [{"name": "logs", "mountPath": "/logs"}]
    sim.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tails", "namespace": "default"},
            "spec": {
                "nodeName": "node01",
                "containers": [
                    {"name": name, "image": "busybox", "command": command, "volumeMounts": mount}
                    for name, command in (
                        ("last", ["tail", "-F", "/logs/old.log"]),
                        ("all", ["sh", "-c", "tail -n +1 -f /logs/old.log"]),
                        ("three", ["tail", "-n", "3", "-f", "/logs/old.log"]),
                    )
                ],
                "volumes": [{"name": "logs", "hostPath": {"path": "/srv"}}],
            },
        },
    )
    sim.tick(1)
    sim.tick(1)
    assert sim.nodes.logs("default", "tails", "last").splitlines()[0] == "line 6"
    assert len(sim.nodes.logs("default", "tails", "all").splitlines()) == 15
    assert sim.nodes.logs("default", "tails", "three").splitlines() == [
        "line 13",
        "line 14",
        "line 15",
    ]

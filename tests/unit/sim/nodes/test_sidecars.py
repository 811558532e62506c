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

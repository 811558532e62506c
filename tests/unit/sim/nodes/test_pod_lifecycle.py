"""The kubelet runs pods bound to its node: phases, restarts, back-off, image pulls,
probes, logs and termination."""

from __future__ import annotations

import pytest

from app.sim.nodes import LogError


def container_status(sim, name: str) -> dict:
    return sim.pod(name)["status"]["containerStatuses"][0]


def condition(sim, name: str, kind: str) -> str:
    return next(c["status"] for c in sim.pod(name)["status"]["conditions"] if c["type"] == kind)


def test_server_pod_runs_with_an_ip_from_the_node_pod_cidr(sim):
    sim.run_pod("web", ports=[{"containerPort": 80}])
    sim.tick(1)
    pod = sim.pod("web")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.244.1.")
    assert pod["status"]["hostIP"] == "172.30.1.3"
    assert condition(sim, "web", "Ready") == "True"
    status = container_status(sim, "web")
    assert status["ready"] is True and status["started"] is True
    assert status["containerID"].startswith("containerd://")
    assert "Configuration complete; ready for start up" in sim.nodes.logs("default", "web")


def test_two_pods_get_different_ips(sim):
    sim.run_pod("a")
    sim.run_pod("b")
    sim.tick(1)
    assert sim.pod("a")["status"]["podIP"] != sim.pod("b")["status"]["podIP"]


def test_failing_command_crash_loops_with_doubling_back_off(sim):
    sim.run_pod("crash", image="busybox", command=["sh", "-c", "echo starting; exit 1"])
    sim.tick(1)
    status = container_status(sim, "crash")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (
        "back-off 10s restarting failed container=app pod=crash_default"
        in status["state"]["waiting"]["message"]
    )
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["restartCount"] == 0
    # Restarts come after 10 s, then 20 s, 40 s, 80 s, 160 s, then every 300 s.
    restarts_at = []
    for second in range(1, 1000):
        sim.clock.advance(1)
        sim.nodes.sync()
        count = container_status(sim, "crash")["restartCount"]
        if count > len(restarts_at):
            restarts_at.append(second)
    gaps = [b - a for a, b in zip([0, *restarts_at], restarts_at, strict=False)]
    assert gaps[:6] == [10, 20, 40, 80, 160, 300]
    assert sim.pod("crash")["status"]["phase"] == "Running"
    assert sim.nodes.logs("default", "crash", previous=True) == "starting\n"


def test_busybox_without_command_completes_and_restarts(sim):
    sim.run_pod("idle", image="busybox")
    sim.tick(1)
    status = container_status(sim, "idle")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["reason"] == "Completed"


def test_restart_policy_never_ends_in_succeeded_or_failed(sim):
    ok = sim.run_pod("job-ok", image="busybox", command=["sh", "-c", "echo done"])
    ok["spec"]["restartPolicy"] = "Never"
    sim.store.update("", "pods", ok)
    bad = sim.run_pod("job-bad", image="busybox", command=["false"])
    bad["spec"]["restartPolicy"] = "Never"
    sim.store.update("", "pods", bad)
    sim.tick(1)
    assert sim.pod("job-ok")["status"]["phase"] == "Succeeded"
    assert container_status(sim, "job-ok")["state"]["terminated"]["reason"] == "Completed"
    assert sim.pod("job-bad")["status"]["phase"] == "Failed"
    assert container_status(sim, "job-bad")["state"]["terminated"]["exitCode"] == 1


def test_bad_image_err_image_pull_then_image_pull_back_off(sim):
    sim.nodes.bad_images.add("nginx:1.99")
    sim.run_pod("pull", image="nginx:1.99")
    sim.tick(1)
    waiting = container_status(sim, "pull")["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert 'failed to pull and unpack image "docker.io/library/nginx:1.99"' in waiting["message"]
    sim.tick(2)
    assert sim.waiting_reason("pull") == "ImagePullBackOff"
    with pytest.raises(LogError, match="is waiting to start: ImagePullBackOff"):
        sim.nodes.logs("default", "pull")
    pod = sim.pod("pull")
    pod["spec"]["containers"][0]["image"] = "nginx:1.27"
    # The image is the one field of a pod's containers that may change; the fix
    # takes effect at the next sync, without waiting out the back-off.
    sim.store.update("", "pods", pod)
    sim.tick(1)
    status = container_status(sim, "pull")
    assert "running" in status["state"]
    assert status["image"] == "nginx:1.27"


def test_new_image_restarts_a_running_container(sim):
    sim.run_pod("web")
    sim.tick(5)
    pod = sim.pod("web")
    pod["spec"]["containers"][0]["image"] = "nginx:1.28"
    sim.store.update("", "pods", pod)
    sim.tick(1)
    status = container_status(sim, "web")
    assert status["restartCount"] == 1
    assert status["image"] == "nginx:1.28"
    assert "running" in status["state"]


def test_invalid_image_name(sim):
    sim.run_pod("caps", image="NGINX")
    sim.tick(1)
    waiting = container_status(sim, "caps")["state"]["waiting"]
    assert waiting["reason"] == "InvalidImageName"
    assert "repository name must be lowercase" in waiting["message"]


def test_readiness_probe_on_the_wrong_port_keeps_the_pod_unready(sim):
    sim.run_pod(
        "unready",
        ports=[{"containerPort": 80}],
        readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 5},
    )
    sim.tick(30, steps=6)
    pod = sim.pod("unready")
    assert pod["status"]["phase"] == "Running"
    assert condition(sim, "unready", "Ready") == "False"
    assert container_status(sim, "unready")["ready"] is False
    assert container_status(sim, "unready")["restartCount"] == 0
    events, _ = sim.store.list("", "events", "default")
    assert any(
        e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed: Get")
        for e in events
    )


def test_readiness_probe_on_the_right_port_makes_the_pod_ready(sim):
    sim.run_pod(
        "ready",
        ports=[{"containerPort": 80, "name": "http"}],
        readinessProbe={"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 5},
    )
    sim.tick(1)
    assert condition(sim, "ready", "Ready") == "False"
    sim.tick(5)
    assert condition(sim, "ready", "Ready") == "True"


def test_http_liveness_probe_of_a_page_nginx_lacks_restarts_the_container(sim):
    # nginx listens on 80 but answers 404 for a page it does not have: the probe fails
    # on the status code, not on the connection (pkg/probe/http/http.go).
    probe = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 10}
    sim.run_pod("lost-page", ports=[{"containerPort": 80}], livenessProbe=probe)
    sim.run_pod(
        "start-page",
        ports=[{"containerPort": 80}],
        livenessProbe={**probe, "httpGet": {"path": "/index.html", "port": 80}},
    )
    sim.tick(45, steps=9)
    events, _ = sim.store.list("", "events", "default")
    failed = [e["message"] for e in events if e["reason"] == "Unhealthy"]
    assert failed and set(failed) == {
        "Liveness probe failed: HTTP probe failed with statuscode: 404"
    }
    assert all(
        e["involvedObject"]["name"] == "lost-page" for e in events if e["reason"] == "Unhealthy"
    )
    assert container_status(sim, "lost-page")["restartCount"] >= 1
    assert container_status(sim, "start-page")["restartCount"] == 0


def test_liveness_exec_probe_restarts_after_the_file_goes(sim):
    # The liveness example from the Kubernetes documentation.
    sim.run_pod(
        "liveness-exec",
        image="registry.k8s.io/busybox",
        args=["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"],
        livenessProbe={
            "exec": {"command": ["cat", "/tmp/healthy"]},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
        },
    )
    sim.tick(30, steps=6)
    assert container_status(sim, "liveness-exec")["restartCount"] == 0
    sim.tick(30, steps=6)
    events, _ = sim.store.list("", "events", "default")
    assert any("failed liveness probe, will be restarted" in e["message"] for e in events)
    sim.tick(20, steps=2)
    assert container_status(sim, "liveness-exec")["restartCount"] == 1


def test_missing_configmap_is_a_config_error(sim):
    sim.run_pod(
        "needs-config",
        env=[
            {
                "name": "MODE",
                "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "mode"}},
            }
        ],
    )
    sim.tick(1)
    waiting = container_status(sim, "needs-config")["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": 'configmap "app-config" not found',
    }
    sim.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": "default"},
            "data": {"mode": "fast"},
        },
    )
    sim.tick(10)
    assert "running" in container_status(sim, "needs-config")["state"]


def test_init_container_runs_first(sim):
    pod = sim.run_pod("with-init")
    pod["spec"]["initContainers"] = [
        {"name": "wait", "image": "busybox", "command": ["sh", "-c", "echo waiting; sleep 20"]}
    ]
    sim.store.delete("", "pods", "default", "with-init")
    pod["metadata"] = {"name": "with-init", "namespace": "default"}
    sim.store.create("", "pods", pod)
    sim.tick(5)
    status = sim.pod("with-init")["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert "running" in status["initContainerStatuses"][0]["state"]
    sim.tick(20, steps=2)
    status = sim.pod("with-init")["status"]
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert status["phase"] == "Running"


def test_logs_tail_and_loop_output(sim):
    sim.run_pod(
        "counter", image="busybox", command=["sh", "-c", "while true; do echo tick; sleep 5; done"]
    )
    sim.tick(1)
    sim.tick(30)
    text = sim.nodes.logs("default", "counter")
    # Started at second 1, it printed at 0, 5, ..., 30 seconds of its life.
    assert text.count("tick") == 7
    assert sim.nodes.logs("default", "counter", tail=2) == "tick\ntick\n"
    with pytest.raises(
        LogError, match='previous terminated container "app" in pod "counter" not found'
    ):
        sim.nodes.logs("default", "counter", previous=True)
    # The API server's log route reads the published logs.
    assert sim.cluster.container_log("default", "counter", "app")[-1] == "tick"


def test_deleted_pod_stops_its_containers(sim):
    sim.run_pod("gone")
    sim.tick(1)
    assert "gone" in sim.shell("node01").run("crictl ps").stdout
    sim.store.delete("", "pods", "default", "gone")
    sim.tick(1)
    assert "gone" not in sim.shell("node01").run("crictl ps").stdout


def test_graceful_termination_waits_for_processes_without_a_sigterm_handler(sim):
    sim.run_pod("sleeper", image="busybox", command=["sleep", "3600"])
    sim.run_pod("server")
    sim.tick(1)
    for name in ("sleeper", "server"):
        pod = sim.pod(name)
        pod["metadata"]["finalizers"] = ["example.com/hold"]
        sim.store.update("", "pods", pod)
        sim.store.delete("", "pods", "default", name)
    sim.tick(1)
    # nginx exits on SIGTERM at once; `sleep` as PID 1 ignores it until the grace
    # period (30 s) ends and it is killed.
    assert container_status(sim, "server")["state"]["terminated"]["exitCode"] == 0
    assert "running" in container_status(sim, "sleeper")["state"]
    sim.tick(30)
    status = container_status(sim, "sleeper")
    assert status["state"]["terminated"]["exitCode"] == 137


def test_failed_init_container_with_restart_policy_never_fails_the_pod(sim):
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "init-fails", "namespace": "default"},
        "spec": {
            "nodeName": "node02",
            "restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": "busybox", "command": ["false"]}],
            "containers": [{"name": "app", "image": "nginx"}],
        },
    }
    sim.store.create("", "pods", obj)
    sim.tick(60, steps=6)
    status = sim.pod("init-fails")["status"]
    assert status["phase"] == "Failed"
    init = status["initContainerStatuses"][0]
    assert init["restartCount"] == 0
    assert init["state"]["terminated"]["exitCode"] == 1
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"

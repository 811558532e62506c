"""Each control-plane fault the simulator recognises: its symptoms and its fix."""

from __future__ import annotations

MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def break_scheduler(sim, sed: str) -> None:
    result = sim.shell().run(f"sed -i '{sed}' {MANIFEST}")
    assert result.exit_code == 0, result.stderr


def scheduler_status(sim) -> dict:
    pod = sim.mirror("kube-scheduler")
    assert pod is not None
    return pod["status"]["containerStatuses"][0]


def test_unknown_flag_crash_loops_with_the_flag_in_the_log(sim):
    break_scheduler(sim, "s/--kubeconfig=/--kubeconfigg=/")
    sim.tick(1)
    assert not sim.nodes.component_running("kube-scheduler")
    sim.tick(30, steps=6)
    status = scheduler_status(sim)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    log = sim.nodes.logs("kube-system", "kube-scheduler-controlplane", previous=True)
    assert log.startswith("Error: unknown flag: --kubeconfigg\n")
    assert not sim.nodes.component_running("kube-scheduler")
    # The fix: the flag spelt right. The next manifest is a new pod that runs.
    break_scheduler(sim, "s/--kubeconfigg=/--kubeconfig=/")
    sim.tick(30, steps=3)
    status = scheduler_status(sim)
    assert "running" in status["state"]
    assert status["restartCount"] == 0
    assert sim.nodes.component_running("kube-scheduler")


def test_missing_kubeconfig_file_names_the_path(sim):
    break_scheduler(
        sim,
        "s|--kubeconfig=/etc/kubernetes/scheduler.conf|--kubeconfig=/etc/kubernetes/schedulr.conf|",
    )
    sim.tick(15, steps=3)
    status = scheduler_status(sim)
    assert status["lastState"]["terminated"]["reason"] == "Error"
    text = sim.nodes.logs("kube-system", "kube-scheduler-controlplane", previous=True)
    assert (
        '"command failed" err="stat /etc/kubernetes/schedulr.conf: no such file or directory"'
        in text
    )
    assert not sim.nodes.component_running("kube-scheduler")
    break_scheduler(sim, "s|schedulr.conf|scheduler.conf|")
    sim.tick(5)
    assert sim.nodes.component_running("kube-scheduler")


def test_kubeconfig_outside_the_mounted_paths_is_missing_in_the_container(sim):
    sim.shell().run("cp /etc/kubernetes/scheduler.conf /root/scheduler.conf")
    break_scheduler(
        sim, "s|--kubeconfig=/etc/kubernetes/scheduler.conf|--kubeconfig=/root/scheduler.conf|"
    )
    sim.tick(1)
    assert not sim.nodes.component_running("kube-scheduler")
    assert "stat /root/scheduler.conf" in sim.nodes.logs(
        "kube-system", "kube-scheduler-controlplane", previous=True
    )


def test_bad_image_shows_err_image_pull_then_back_off(sim):
    break_scheduler(sim, "s|kube-scheduler:v|kube-schedular:v|")
    sim.tick(1)
    status = scheduler_status(sim)
    assert status["state"]["waiting"]["reason"] == "ErrImagePull"
    assert "not found" in status["state"]["waiting"]["message"]
    sim.tick(5)
    status = scheduler_status(sim)
    assert status["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert status["state"]["waiting"]["message"].startswith(
        'Back-off pulling image "registry.k8s.io/kube-schedular:'
    )
    assert not sim.nodes.component_running("kube-scheduler")
    events, _ = sim.store.list("", "events", "kube-system")
    reasons = {
        e["reason"] for e in events if e["involvedObject"]["name"] == "kube-scheduler-controlplane"
    }
    assert {"Pulling", "Failed"} <= reasons
    break_scheduler(sim, "s|kube-schedular:v|kube-scheduler:v|")
    sim.tick(1)
    assert sim.nodes.component_running("kube-scheduler")


def test_wrong_liveness_port_restarts_the_container(sim):
    result = sim.shell().run(f"sed -i 's/port: 10259/port: 10258/g' {MANIFEST}")
    assert result.exit_code == 0
    sim.tick(1)
    # The process itself starts fine...
    assert sim.nodes.component_running("kube-scheduler")
    assert scheduler_status(sim)["ready"] is False
    # ...but the startup probe (24 x 10 s after 10 s) never succeeds: killed, restarted.
    sim.tick(600, steps=60)
    status = scheduler_status(sim)
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 137
    events, _ = sim.store.list("", "events", "kube-system")
    messages = [e["message"] for e in events if e["reason"] in ("Unhealthy", "Killing")]
    assert any("connect: connection refused" in m and "10258" in m for m in messages)
    assert any("failed startup probe, will be restarted" in m for m in messages)
    # The fix: the probes point at the port the scheduler serves again.
    sim.shell().run(f"sed -i 's/port: 10258/port: 10259/g' {MANIFEST}")
    sim.tick(30, steps=3)
    status = scheduler_status(sim)
    assert status["ready"] is True
    assert status["restartCount"] == 0


def test_liveness_probe_against_the_wrong_port_after_startup(sim):
    text = sim.nodes.read_file("controlplane", MANIFEST)
    # Only the liveness probe gets the wrong port (the first `port:` line).
    text = text.replace("port: 10259", "port: 10250", 1)
    sim.nodes.write_file("controlplane", MANIFEST, text)
    sim.tick(200, steps=40)
    status = scheduler_status(sim)
    assert status["restartCount"] >= 1
    events, _ = sim.store.list("", "events", "kube-system")
    assert any("failed liveness probe, will be restarted" in e["message"] for e in events)


def test_missing_hostpath_file_keeps_the_container_creating(sim):
    text = sim.nodes.read_file("controlplane", MANIFEST).replace("type: FileOrCreate", "type: File")
    text = text.replace("path: /etc/kubernetes/scheduler.conf", "path: /etc/kubernetes/sched.conf")
    sim.nodes.write_file("controlplane", MANIFEST, text)
    sim.tick(1)
    status = scheduler_status(sim)
    assert status["state"]["waiting"]["reason"] == "ContainerCreating"
    assert not sim.nodes.component_running("kube-scheduler")
    events, _ = sim.store.list("", "events", "kube-system")
    assert any(
        e["reason"] == "FailedMount"
        and "hostPath type check failed: /etc/kubernetes/sched.conf is not a file" in e["message"]
        for e in events
    )


def test_volume_mount_without_a_volume_is_rejected(sim):
    text = sim.nodes.read_file("controlplane", MANIFEST).replace(
        "name: kubeconfig\n      readOnly", "name: kubecfg\n      readOnly"
    )
    sim.nodes.write_file("controlplane", MANIFEST, text)
    sim.tick(1)
    assert sim.mirror("kube-scheduler") is None
    journal = sim.shell().run("journalctl -u kubelet --no-pager").stdout
    assert 'volumeMounts[0].name: Not found: \\"kubecfg\\"' in journal


def test_invalid_bool_flag_value(sim):
    break_scheduler(sim, "s/--leader-elect=true/--leader-elect=yes-please/")
    sim.tick(1)
    log = sim.nodes.logs("kube-system", "kube-scheduler-controlplane", previous=True)
    assert 'invalid argument "yes-please" for "--leader-elect" flag' in log


def test_controller_manager_with_wrong_api_server_port_runs_but_does_nothing(sim):
    sim.shell().run("sed -i 's/:6443/:6444/' /etc/kubernetes/controller-manager.conf")
    sim.shell().run(
        "sed -i 's/--use-service-account-credentials=true/&\\n    - --v=2/' "
        "/etc/kubernetes/manifests/kube-controller-manager.yaml"
    )
    sim.tick(20, steps=2)
    pod = sim.mirror("kube-controller-manager")
    assert pod["status"]["phase"] == "Running"
    assert not sim.nodes.component_running("kube-controller-manager")
    log = sim.nodes.logs("kube-system", "kube-controller-manager-controlplane")
    assert "dial tcp 172.30.1.2:6444: connect: connection refused" in log


def test_etcd_and_apiserver_faults_show_in_their_pods(sim):
    sim.shell().run(
        "sed -i 's|--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt|&x|' "
        "/etc/kubernetes/manifests/kube-apiserver.yaml"
    )
    sim.shell().run(
        "sed -i 's|--data-dir=/var/lib/etcd|--data-dirr=/var/lib/etcd|' "
        "/etc/kubernetes/manifests/etcd.yaml"
    )
    sim.tick(15, steps=3)
    api = sim.mirror("kube-apiserver")["status"]["containerStatuses"][0]
    assert api["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "open /etc/kubernetes/pki/etcd/ca.crtx: no such file or directory" in sim.nodes.logs(
        "kube-system", "kube-apiserver-controlplane", previous=True
    )
    assert "Error: unknown flag: --data-dirr" in sim.nodes.logs(
        "kube-system", "etcd-controlplane", previous=True
    )


def test_wrong_binary_name_is_a_start_error(sim):
    break_scheduler(sim, "s/- kube-scheduler$/- kube-schedulerr/")
    sim.tick(1)
    status = scheduler_status(sim)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    last = status["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("StartError", 128)
    assert 'exec: "kube-schedulerr": executable file not found in $PATH' in last["message"]


def test_empty_kubeconfig_file(sim):
    sim.shell().run("echo -n > /etc/kubernetes/scheduler.conf")
    sim.shell().run("systemctl restart kubelet")
    break_scheduler(sim, "s/--leader-elect=true/--leader-elect=true\\n    - --v=1/")
    sim.tick(1)
    log = sim.nodes.logs("kube-system", "kube-scheduler-controlplane", previous=True)
    assert "invalid configuration: no configuration has been provided" in log


def test_http_probe_against_the_https_port(sim):
    sim.shell().run(f"sed -i 's/scheme: HTTPS/scheme: HTTP/' {MANIFEST}")
    sim.tick(30, steps=3)
    events, _ = sim.store.list("", "events", "kube-system")
    assert any(
        e["reason"] == "Unhealthy"
        and e["message"].endswith("HTTP probe failed with statuscode: 400")
        for e in events
    )
    assert scheduler_status(sim)["ready"] is False


def test_apiserver_with_the_wrong_etcd_port_gives_up_and_restarts(sim):
    sim.shell().run(
        "sed -i 's|--etcd-servers=https://127.0.0.1:2379|--etcd-servers=https://127.0.0.1:2380|' "
        "/etc/kubernetes/manifests/kube-apiserver.yaml"
    )
    sim.tick(1)
    sim.tick(5)
    api = sim.mirror("kube-apiserver")["status"]["containerStatuses"][0]
    assert "running" in api["state"]
    assert "dial tcp 127.0.0.1:2380: connect: connection refused" in sim.nodes.logs(
        "kube-system", "kube-apiserver-controlplane"
    )
    sim.tick(20, steps=2)
    api = sim.mirror("kube-apiserver")["status"]["containerStatuses"][0]
    assert api["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    previous = sim.nodes.logs("kube-system", "kube-apiserver-controlplane", previous=True)
    assert previous.rstrip().endswith('"command failed" err="context deadline exceeded"')

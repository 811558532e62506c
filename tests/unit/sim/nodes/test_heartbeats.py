"""Node heartbeats: Lease renewals and the Ready condition stop with the kubelet."""

from __future__ import annotations

from app.sim.machinery.clock import parse_time


def renew_time(sim, node: str):
    lease = sim.store.get("coordination.k8s.io", "leases", "kube-node-lease", node)
    return parse_time(lease["spec"]["renewTime"])


def ready_condition(sim, node: str) -> dict:
    obj = sim.store.get("", "nodes", None, node)
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_running_kubelet_renews_its_lease_every_ten_seconds(sim):
    first = renew_time(sim, "node01")
    sim.tick(10)
    assert (renew_time(sim, "node01") - first).total_seconds() == 10
    lease = sim.store.get("coordination.k8s.io", "leases", "kube-node-lease", "node01")
    assert lease["spec"]["holderIdentity"] == "node01"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    ready = ready_condition(sim, "node01")
    assert ready["status"] == "True"
    assert ready["reason"] == "KubeletReady"
    assert "lastHeartbeatTime" in ready


def test_stopped_kubelet_stops_heartbeats_and_start_resumes_them(sim):
    sh = sim.shell("node01")
    assert sh.run("systemctl stop kubelet").exit_code == 0
    stopped_at = renew_time(sim, "node01")
    heartbeat = ready_condition(sim, "node01")["lastHeartbeatTime"]
    sim.tick(120, steps=12)
    assert renew_time(sim, "node01") == stopped_at
    assert ready_condition(sim, "node01")["lastHeartbeatTime"] == heartbeat
    # The other nodes keep renewing.
    assert (renew_time(sim, "node02") - stopped_at).total_seconds() >= 110
    status = sh.run("systemctl status kubelet")
    assert status.exit_code == 3
    assert "Active: inactive (dead) since" in status.stdout
    assert sh.run("systemctl start kubelet").exit_code == 0
    sim.tick(1)
    assert (renew_time(sim, "node01") - stopped_at).total_seconds() >= 120


def test_node_lifecycle_verdict_is_overwritten_when_the_kubelet_returns(sim):
    node = sim.store.get("", "nodes", None, "node02")
    for c in node["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
            )
    sim.store.update("", "nodes", node)
    sim.tick(1)
    assert ready_condition(sim, "node02")["status"] == "True"


def test_bad_kubelet_config_crash_loops_the_service_with_the_error_in_the_journal(sim):
    sh = sim.shell("node01")
    sh.run("mv /var/lib/kubelet/config.yaml /var/lib/kubelet/config.yaml.bak")
    sh.run("systemctl restart kubelet")
    before = renew_time(sim, "node01")
    sim.tick(60, steps=6)
    assert renew_time(sim, "node01") == before
    status = sh.run("systemctl status kubelet")
    assert status.exit_code == 3
    assert "activating (auto-restart) (Result: exit-code)" in status.stdout
    journal = sh.run("journalctl -u kubelet --no-pager").stdout
    assert (
        "failed to load kubelet config file, path: /var/lib/kubelet/config.yaml, error: " in journal
    )
    assert "open /var/lib/kubelet/config.yaml: no such file or directory" in journal
    assert "kubelet.service: Main process exited, code=exited, status=1/FAILURE" in journal
    assert "Scheduled restart job, restart counter is at" in journal
    # Fixing the file is enough: systemd restarts the kubelet every 10 seconds.
    sh.run("mv /var/lib/kubelet/config.yaml.bak /var/lib/kubelet/config.yaml")
    sim.tick(10)
    assert "active (running)" in sh.run("systemctl status kubelet").stdout
    assert renew_time(sim, "node01") > before


def test_wrong_client_ca_path(sim):
    sh = sim.shell("node01")
    sh.run(
        "sed -i 's|clientCAFile: /etc/kubernetes/pki/ca.crt|clientCAFile: "
        "/etc/kubernetes/pki/ca.pem|' /var/lib/kubelet/config.yaml"
    )
    sh.run("systemctl restart kubelet")
    journal = sh.run("journalctl -u kubelet -n 20").stdout
    assert (
        "unable to load client CA file /etc/kubernetes/pki/ca.pem: open "
        "/etc/kubernetes/pki/ca.pem: "
        "no such file or directory" in journal
    )
    assert sh.run("systemctl is-active kubelet").stdout == "activating\n"


def test_wrong_kubelet_binary_path_in_the_drop_in(sim):
    sh = sim.shell("node02")
    dropin = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    sh.run(f"sed -i 's|ExecStart=/usr/bin/kubelet|ExecStart=/usr/local/bin/kubelet|' {dropin}")
    sh.run("systemctl daemon-reload && systemctl restart kubelet")
    journal = sh.run("journalctl -u kubelet").stdout
    assert (
        "Failed to locate executable /usr/local/bin/kubelet: No such file or directory" in journal
    )
    assert "status=203/EXEC" in journal


def test_kubelet_pointing_at_the_wrong_api_port_posts_nothing(sim):
    sh = sim.shell("node02")
    sh.run("sed -i 's/:6443/:6444/' /etc/kubernetes/kubelet.conf && systemctl restart kubelet")
    before = renew_time(sim, "node02")
    sim.tick(30, steps=3)
    assert renew_time(sim, "node02") == before
    assert "active (running)" in sh.run("systemctl status kubelet").stdout
    journal = sh.run("journalctl -u kubelet").stdout
    assert "dial tcp 172.30.1.2:6444: connect: connection refused" in journal


def test_stopped_containerd_turns_the_node_not_ready(sim):
    sh = sim.shell("node01")
    sh.run("systemctl stop containerd")
    sim.tick(1)
    ready = ready_condition(sim, "node01")
    assert ready["status"] == "False"
    assert ready["message"] == "container runtime is down"
    result = sh.run("crictl ps")
    assert result.exit_code == 1
    assert "connect: no such file or directory" in result.stderr
    sh.run("systemctl start containerd")
    sim.tick(1)
    assert ready_condition(sim, "node01")["status"] == "True"


def test_drop_in_changes_need_daemon_reload(sim):
    sh = sim.shell("node01")
    dropin = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    sh.run(f"sed -i 's|ExecStart=/usr/bin/kubelet|ExecStart=/usr/bin/kubelett|' {dropin}")
    restart = sh.run("systemctl restart kubelet")
    assert "Run 'systemctl daemon-reload' to reload units." in restart.stderr
    # systemd still runs the unit it loaded.
    assert sh.run("systemctl is-active kubelet").stdout == "active\n"
    sh.run("systemctl daemon-reload")
    sh.run("systemctl restart kubelet")
    assert sh.run("systemctl is-active kubelet").stdout == "activating\n"
    assert "status=203/EXEC" in sh.run("systemctl status kubelet").stdout

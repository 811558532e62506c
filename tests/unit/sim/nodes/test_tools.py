"""crictl, etcdctl, kubeadm, systemctl and journalctl output."""

from __future__ import annotations

ETCD_CERTS = (
    "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt "
    "--key=/etc/kubernetes/pki/etcd/server.key"
)


def test_crictl_ps_lists_running_containers_with_upstream_columns(sim):
    out = sim.shell().run("crictl ps").stdout.splitlines()
    assert out[0].split() == [
        "CONTAINER",
        "IMAGE",
        "CREATED",
        "STATE",
        "NAME",
        "ATTEMPT",
        "POD",
        "ID",
        "POD",
        "NAMESPACE",
    ]
    assert out[0].startswith("CONTAINER           IMAGE               CREATED")
    assert any(
        line.split()[-2:] == ["kube-scheduler-controlplane", "kube-system"] for line in out[1:]
    )
    assert len(out) == 5


def test_crictl_ps_all_shows_exited_attempts_and_logs_reads_them(sim):
    sim.run_pod("crash", image="busybox", command=["sh", "-c", "echo boom; exit 3"])
    sim.tick(15, steps=3)
    sh = sim.shell("node01")
    assert "crash" not in sh.run("crictl ps").stdout
    rows = [line for line in sh.run("crictl ps -a").stdout.splitlines() if "crash" in line]
    assert rows and all("Exited" in r for r in rows)
    container_id = rows[0].split()[0]
    assert sh.run(f"crictl logs {container_id}").stdout == "boom\n"
    assert sh.run("crictl ps -a -q --name app").stdout.strip().split("\n")[0] == container_id
    missing = sh.run("crictl logs 0000")
    assert missing.exit_code == 1 and "not found" in missing.stderr


def test_crictl_logs_of_a_component_go_to_stderr(sim):
    sim.tick(1)
    sh = sim.shell()
    cid = sh.run("crictl ps --name kube-scheduler -q").stdout.strip()
    result = sh.run(f"crictl logs {cid} 2>&1 | grep 'Serving securely'")
    assert "Serving securely on 127.0.0.1:10259" in result.stdout


def test_crictl_pods_and_images(sim):
    sh = sim.shell()
    pods = sh.run("crictl pods").stdout.splitlines()
    assert pods[0].split() == [
        "POD",
        "ID",
        "CREATED",
        "STATE",
        "NAME",
        "NAMESPACE",
        "ATTEMPT",
        "RUNTIME",
    ]
    assert any("etcd-controlplane" in line and "Ready" in line for line in pods)
    images = sh.run("crictl images").stdout
    assert images.splitlines()[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert "registry.k8s.io/kube-scheduler" in images
    assert "registry.k8s.io/pause" in sim.shell("node01").run("crictl images").stdout


def test_etcdctl_endpoint_health_needs_certificates(sim):
    sh = sim.shell()
    ok = sh.run(
        f"ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 {ETCD_CERTS} endpoint health"
    )
    assert ok.exit_code == 0
    assert ok.stdout.startswith(
        "https://127.0.0.1:2379 is healthy: successfully committed proposal: took = "
    )
    bare = sh.run("etcdctl endpoint health")
    assert bare.exit_code == 1
    assert (
        "127.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded"
        in bare.stderr
    )
    missing = sh.run(
        "etcdctl --cacert=/etc/kubernetes/pki/etcd/ca.crtx --cert=/x --key=/y endpoint health"
    )
    assert (
        "Error: open /etc/kubernetes/pki/etcd/ca.crtx: no such file or directory" in missing.stderr
    )
    wrong_ca = sh.run(
        "etcdctl --cacert=/etc/kubernetes/pki/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt "
        "--key=/etc/kubernetes/pki/etcd/server.key endpoint status"
    )
    assert "x509: certificate signed by unknown authority" in wrong_ca.stderr
    assert wrong_ca.stderr.rstrip().endswith("Error: context deadline exceeded")
    assert sim.shell("node01").run("etcdctl version").exit_code == 127


def test_etcdctl_endpoint_status_table_and_member_list(sim):
    sh = sim.shell()
    table = sh.run(
        f"etcdctl --endpoints=https://127.0.0.1:2379 {ETCD_CERTS} endpoint status -w table"
    ).stdout
    header = table.splitlines()[1]
    assert header.split("|")[1].strip() == "ENDPOINT"
    assert "IS LEADER" in header
    assert "| https://127.0.0.1:2379 | 8e9e05c52164694d |" in table
    members = sh.run(f"etcdctl {ETCD_CERTS} member list").stdout
    assert members == (
        "8e9e05c52164694d, started, controlplane, https://172.30.1.2:2380, "
        "https://172.30.1.2:2379, false\n"
    )


def test_etcdctl_get_keys_only(sim):
    out = (
        sim.shell()
        .run(f"etcdctl {ETCD_CERTS} get /registry/namespaces --prefix --keys-only")
        .stdout
    )
    keys = [line for line in out.splitlines() if line]
    assert "/registry/namespaces/kube-system" in keys


def test_etcd_snapshot_save_restore_brings_the_cluster_back(sim):
    sh = sim.shell()
    sim.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "before", "namespace": "default"},
        },
    )
    save = sh.run(
        f"mkdir -p /opt/backup && etcdctl --endpoints=127.0.0.1:2379 {ETCD_CERTS} snapshot "
        "save /opt/backup/etcd.db"
    )
    assert save.exit_code == 0, save.stderr
    assert save.stdout == "Snapshot saved at /opt/backup/etcd.db\n"
    status = sh.run("etcdctl snapshot status /opt/backup/etcd.db -w table").stdout
    assert "| HASH | REVISION | TOTAL KEYS | TOTAL SIZE |" in status.replace("  ", " ").replace(
        "  ", " "
    ).replace("  ", " ")
    sim.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "after", "namespace": "default"},
        },
    )
    exists = sh.run("etcdutl snapshot restore /opt/backup/etcd.db --data-dir /var/lib/etcd")
    assert exists.exit_code == 1 and "not empty" in exists.stderr
    restore = sh.run(
        "ETCDCTL_API=3 etcdctl snapshot restore /opt/backup/etcd.db --data-dir "
        "/var/lib/etcd-from-backup"
    )
    assert restore.exit_code == 0, restore.stderr
    assert '"msg":"restored snapshot"' in restore.stderr
    assert sh.run("ls /var/lib/etcd-from-backup/member").stdout == "snap  wal\n"
    sh.run(
        "sed -i 's|path: /var/lib/etcd$|path: /var/lib/etcd-from-backup|' "
        "/etc/kubernetes/manifests/etcd.yaml"
    )
    sim.tick(5)
    assert sim.store.get("", "configmaps", "default", "before") is not None
    assert sim.store.get("", "configmaps", "default", "after") is None
    sim.tick(30, steps=3)
    assert (
        sim.mirror("etcd")["spec"]["volumes"][1]["hostPath"]["path"] == "/var/lib/etcd-from-backup"
    )


def test_kubeadm_certs_check_expiration_follows_the_clock(sim):
    sh = sim.shell()
    out = sh.run("kubeadm certs check-expiration").stdout
    assert (
        "CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE "
        "AUTHORITY   EXTERNALLY MANAGED" in out
    )
    assert (
        "apiserver                  Jan 01, 2027 00:00 UTC   1y              ca                "
        "      no" in out
    )
    sim.clock.advance(300 * 86400)
    out = sh.run("kubeadm certs check-expiration").stdout
    assert "apiserver                  Jan 01, 2027 00:00 UTC   65d" in out
    assert "ca                      Dec 30, 2035 00:00 UTC   9y" in out
    renew = sh.run("kubeadm certs renew all")
    assert "certificate for serving the Kubernetes API renewed" in renew.stdout
    assert "Done renewing certificates." in renew.stdout
    out = sh.run("kubeadm certs check-expiration").stdout
    assert "apiserver                  Oct 28, 2027 00:00 UTC   1y" in out
    sh.run("rm /etc/kubernetes/pki/front-proxy-client.crt")
    assert "!MISSING! front-proxy-client" in sh.run("kubeadm certs check-expiration").stdout


def test_systemctl_and_journalctl(sim):
    sh = sim.shell("node02")
    status = sh.run("systemctl status kubelet.service")
    assert status.exit_code == 0
    first = status.stdout.splitlines()[0]
    assert first == "● kubelet.service - kubelet: The Kubernetes Node Agent"
    assert "Active: active (running) since Thu 2026-01-01 00:00:00 UTC" in status.stdout
    assert sh.run("systemctl status containerd").stdout.startswith(
        "● containerd.service - containerd container runtime"
    )
    assert sh.run("systemctl status foo").exit_code == 4
    sh.run("systemctl disable kubelet")
    assert sh.run("systemctl is-enabled kubelet").stdout == "disabled\n"
    enable = sh.run("systemctl enable --now kubelet")
    assert "Created symlink" in enable.stdout
    sh.run("systemctl stop kubelet")
    journal = sh.run("journalctl -u kubelet -n 3").stdout.splitlines()
    assert journal[-1].endswith(
        "systemd[1]: Stopped kubelet.service - kubelet: The Kubernetes Node Agent."
    )
    assert sh.run("journalctl -u containerd").stdout.count("Started containerd.service") == 1


def test_etcdctl_reads_its_environment_variables(sim):
    sh = sim.shell()
    sh.run("export ETCDCTL_CACERT=/etc/kubernetes/pki/etcd/ca.crt")
    sh.run("export ETCDCTL_CERT=/etc/kubernetes/pki/etcd/server.crt")
    sh.run("export ETCDCTL_KEY=/etc/kubernetes/pki/etcd/server.key")
    assert sh.run("etcdctl endpoint health").exit_code == 0


def test_crictl_pull_and_inspect(sim):
    sim.nodes.bad_images.add("nginx:0.1")
    sh = sim.shell("node01")
    assert sh.run("crictl pull nginx:1.27").stdout.startswith("Image is up to date for sha256:")
    assert "docker.io/library/nginx" in sh.run("crictl images").stdout
    failed = sh.run("crictl pull nginx:0.1")
    assert failed.exit_code == 1 and "not found" in failed.stderr
    sim.run_pod("web")
    sim.tick(1)
    cid = sh.run("crictl ps -q --name app").stdout.strip()
    inspected = sh.run(f"crictl inspect {cid}").stdout
    assert '"state": "CONTAINER_RUNNING"' in inspected
    assert '"io.kubernetes.pod.name": "web"' in inspected


def test_ss_shows_where_components_listen(sim):
    sh = sim.shell()
    sockets = sh.run("ss -tlnp").stdout
    assert "127.0.0.1:10259" in sockets and '"kube-scheduler"' in sockets
    assert "127.0.0.1:2381" in sockets and "*:6443" in sockets
    assert "10250" in sockets
    netstat = sh.run("netstat -tlnp | grep kube-controller").stdout
    assert "127.0.0.1:10257" in netstat and "LISTEN" in netstat
    manifest = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    sh.run(f"sed -i 's/--bind-address=127.0.0.1/--bind-address=0.0.0.0/' {manifest}")
    sim.tick(1)
    assert "*:10259" in sh.run("ss -tlnp | grep scheduler").stdout


def test_crictl_stop_makes_the_kubelet_restart_the_container(sim):
    sh = sim.shell()
    cid = sh.run("crictl ps -q --name kube-scheduler").stdout.strip()
    assert sh.run(f"crictl stop {cid}").stdout == f"{cid}\n"
    sim.tick(11)
    status = sim.mirror("kube-scheduler")["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert "running" in status["state"]
    assert sh.run("crictl stop 0000").exit_code == 1


def test_etcd_restore_through_the_data_dir_flag_and_mount(sim):
    sh = sim.shell()
    certs = ETCD_CERTS
    sh.run(f"etcdctl {certs} snapshot save /root/snap.db")
    sim.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "late", "namespace": "default"},
        },
    )
    assert (
        sh.run("etcdutl snapshot restore /root/snap.db --data-dir=/var/lib/etcd-2").exit_code == 0
    )
    manifest = "/etc/kubernetes/manifests/etcd.yaml"
    # Everything that names the data directory moves: flag, mount and host path.
    sh.run(f"sed -i 's|/var/lib/etcd$|/var/lib/etcd-2|' {manifest}")
    sh.run(f"sed -i 's|--data-dir=/var/lib/etcd|--data-dir=/var/lib/etcd-2|' {manifest}")
    assert sh.run(f"grep -c etcd-2 {manifest}").stdout == "3\n"
    sim.tick(1)
    assert sim.store.get("", "configmaps", "default", "late") is None

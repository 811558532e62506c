"""The node shell: parsing, coreutils, redirects and pipes on the virtual file system."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture
def sh(sim):
    return sim.shell("node01")


def test_echo_redirect_cat_and_append(sh):
    assert sh.run("echo hello > /tmp/a.txt").exit_code == 0
    sh.run("echo world >> /tmp/a.txt")
    result = sh.run("cat /tmp/a.txt")
    assert result.stdout == "hello\nworld\n"
    assert sh.run("cat /tmp/missing").stderr == "cat: /tmp/missing: No such file or directory\n"
    assert sh.run("cat /tmp/missing").exit_code == 1


def test_pipes_and_grep(sh):
    result = sh.run("cat /var/lib/kubelet/config.yaml | grep -n staticPodPath")
    assert result.exit_code == 0
    assert result.stdout.endswith("staticPodPath: /etc/kubernetes/manifests\n")
    assert sh.run("grep nothing-like-this /var/lib/kubelet/config.yaml").exit_code == 1
    assert sh.run("grep -i STATICPODPATH /var/lib/kubelet/config.yaml | wc -l").stdout == "1\n"


def test_and_or_and_semicolon(sh):
    assert sh.run("false && echo no").stdout == ""
    assert sh.run("false || echo yes").stdout == "yes\n"
    assert sh.run("echo a; echo b").stdout == "a\nb\n"


def test_env_prefix_export_and_expansion(sh):
    assert sh.run("FOO=bar env | grep FOO").stdout == "FOO=bar\n"
    sh.run("export NAME=node")
    assert sh.run("echo $NAME ${NAME}s '$NAME'").stdout == "node nodes $NAME\n"
    assert sh.run("echo $(hostname)").stdout == "node01\n"


def test_sed_in_place_with_delimiters_and_global_flag(sh):
    sh.run("echo 'a-b a-b' > /tmp/s")
    sh.run("sed -i 's/a/x/' /tmp/s")
    assert sh.run("cat /tmp/s").stdout == "x-b a-b\n"
    sh.run("sed -i 's|b|y|g' /tmp/s")
    assert sh.run("cat /tmp/s").stdout == "x-y a-y\n"
    sh.run("sed -i -e 's#x-y#&&#' /tmp/s")
    assert sh.run("cat /tmp/s").stdout == "x-yx-y a-y\n"
    assert sh.run("sed 's/a/A/' /tmp/s").stdout == "x-yx-y A-y\n"
    bad = sh.run("sed -i 's/a' /tmp/s")
    assert bad.exit_code == 1 and "unterminated `s' command" in bad.stderr


def test_cp_mv_rm_ls_mkdir(sh):
    sh.run("mkdir -p /opt/x/y")
    assert sh.run("cp /etc/hostname /opt/x/").exit_code == 0
    assert sh.run("ls /opt/x").stdout == "hostname  y\n"
    sh.run("mv /opt/x/hostname /opt/x/name")
    assert sh.run("cat /opt/x/name").stdout == "node01\n"
    assert sh.run("rm /opt/x/y").stderr == "rm: cannot remove '/opt/x/y': Is a directory\n"
    assert sh.run("rm -rf /opt/x").exit_code == 0
    assert sh.run("ls /opt/x").exit_code == 2
    listing = sh.run("ls -l /etc/kubernetes").stdout
    assert "kubelet.conf" in listing and listing.startswith("total ")


def test_head_tail_and_cd(sh):
    sh.run("cd /var/lib/kubelet")
    assert sh.run("pwd").stdout == "/var/lib/kubelet\n"
    assert sh.run("head -n 1 config.yaml").stdout == "apiVersion: kubelet.config.k8s.io/v1beta1\n"
    assert len(sh.run("tail -3 config.yaml").stdout.splitlines()) == 3


def test_unknown_command_and_editors(sh):
    result = sh.run("frobnicate")
    assert result.exit_code == 127
    assert result.stderr == "bash: frobnicate: command not found\n"
    assert "node file API" in sh.run("vi /etc/hostname").stderr


def test_redirect_stderr(sh):
    assert sh.run("cat /nope 2>/dev/null").stderr == ""
    assert sh.run("cat /nope 2>&1").stdout == "cat: /nope: No such file or directory\n"


def test_openssl_reads_certificate_dates(sim):
    result = sim.shell().run("openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -enddate")
    assert result.stdout == "notAfter=Jan  1 00:00:00 2027 GMT\n"


def test_globs_expand_against_the_file_system(sim):
    sh = sim.shell()
    listing = sh.run("ls /etc/kubernetes/manifests/kube-*.yaml").stdout.splitlines()
    assert listing == [
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
    ]
    assert sh.run("grep -l 'image: ' /etc/kubernetes/manifests/*").stdout.count("\n") == 4
    assert sh.run("ls /nothing/*.yaml").stderr == (
        "ls: cannot access '/nothing/*.yaml': No such file or directory\n"
    )


def test_ps_shows_the_kubelet_and_component_command_lines(sim):
    sh = sim.shell()
    kubelet = sh.run("ps aux | grep /usr/bin/kubelet").stdout
    assert "--config=/var/lib/kubelet/config.yaml" in kubelet
    apiserver = sh.run("ps -ef | grep kube-apiserver").stdout
    assert "--etcd-servers=https://127.0.0.1:2379" in apiserver
    sh.run("systemctl stop kubelet")
    assert "/usr/bin/kubelet" not in sh.run("ps aux").stdout


def test_service_is_systemctl(sim):
    sh = sim.shell("node01")
    assert sh.run("service kubelet stop").exit_code == 0
    assert sh.run("systemctl is-active kubelet").stdout == "inactive\n"


def test_container_logs_on_disk(sim):
    break_flag = "sed -i 's/--leader-elect=true/--leader-elect=maybe/' "
    sh = sim.shell()
    sh.run(break_flag + "/etc/kubernetes/manifests/kube-scheduler.yaml")
    sim.tick(1)
    pods = sh.run("ls /var/log/pods").stdout
    assert "kube-system_kube-scheduler-controlplane_" in pods
    text = sh.run(
        "cat /var/log/pods/kube-system_kube-scheduler-controlplane_*/kube-scheduler/0.log"
    )
    assert 'stderr F Error: invalid argument "maybe" for "--leader-elect" flag' in text.stdout
    assert sh.run("ls /var/log/containers | grep -c kube-scheduler").stdout == "1\n"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [
                "cat",
                "ls",
                "sed",
                "-i",
                "s/a/b/",
                "grep",
                "-n",
                "-A",
                "|",
                "&&",
                "||",
                ";",
                ">",
                ">>",
                "2>&1",
                "<",
                "/etc/kubernetes",
                "/tmp/x",
                "*",
                "$(",
                "'",
                '"',
                "echo",
                "crictl",
                "ps",
                "logs",
                "etcdctl",
                "snapshot",
                "save",
                "restore",
                "kubeadm",
                "certs",
                "systemctl",
                "status",
                "kubelet",
                "journalctl",
                "-u",
                "head",
                "tail",
                "cp",
                "mv",
                "rm",
                "-rf",
                "mkdir",
                "-p",
                "find",
                "openssl",
                "wc",
                "cd",
                "..",
                "export",
                "A=1",
                "--tail",
                "-1",
                "/",
                "etcdutl",
                "--data-dir",
                "-w",
                "table",
                "/var/log/pods/*",
                "s|x",
                "-e",
                "--",
            ]
        ),
        max_size=7,
    )
)
def test_no_command_line_breaks_the_shell(sim, words):
    result = sim.shell().run(" ".join(words))
    assert isinstance(result.exit_code, int)
    assert isinstance(result.stdout, str) and isinstance(result.stderr, str)

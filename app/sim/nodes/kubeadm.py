"""`kubeadm` on a node: certificate expiry and renewal, version, join commands.

Certificate expiry comes from the node's PKI files (their validity is embedded in the
simulated PEM), so the table moves with the cluster clock and `kubeadm certs renew`
really renews.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from app.sim.nodes import components, kubeadm_join, kubeadm_upgrade, packages
from app.sim.nodes.shell import CommandResult, NodeShell, command, fail, ok, tabwrite
from app.sim.nodes.vfs import FsError

PKI = components.PKI_DIR
# (row name, file, CA row, kind) in kubeadm's order (alphabetical by name).
CERT_ROWS = (
    ("admin.conf", "/etc/kubernetes/admin.conf", "ca", "kubeconfig"),
    ("apiserver", f"{PKI}/apiserver.crt", "ca", "cert"),
    ("apiserver-etcd-client", f"{PKI}/apiserver-etcd-client.crt", "etcd-ca", "cert"),
    ("apiserver-kubelet-client", f"{PKI}/apiserver-kubelet-client.crt", "ca", "cert"),
    ("controller-manager.conf", "/etc/kubernetes/controller-manager.conf", "ca", "kubeconfig"),
    ("etcd-healthcheck-client", f"{PKI}/etcd/healthcheck-client.crt", "etcd-ca", "cert"),
    ("etcd-peer", f"{PKI}/etcd/peer.crt", "etcd-ca", "cert"),
    ("etcd-server", f"{PKI}/etcd/server.crt", "etcd-ca", "cert"),
    ("front-proxy-client", f"{PKI}/front-proxy-client.crt", "front-proxy-ca", "cert"),
    ("scheduler.conf", "/etc/kubernetes/scheduler.conf", "ca", "kubeconfig"),
    ("super-admin.conf", "/etc/kubernetes/super-admin.conf", "ca", "kubeconfig"),
)
CA_ROWS = (
    ("ca", f"{PKI}/ca.crt"),
    ("etcd-ca", f"{PKI}/etcd/ca.crt"),
    ("front-proxy-ca", f"{PKI}/front-proxy-ca.crt"),
)
# What `kubeadm certs renew` prints per certificate (cmd/kubeadm/app/cmd/phases/certs).
RENEW_TEXT = {
    "admin.conf": "certificate embedded in the kubeconfig file for the admin to use and for "
    "kubeadm itself",
    "apiserver": "certificate for serving the Kubernetes API",
    "apiserver-etcd-client": "certificate the apiserver uses to access etcd",
    "apiserver-kubelet-client": "certificate for the API server to connect to kubelet",
    "controller-manager.conf": "certificate embedded in the kubeconfig file for the controller "
    "manager to use",
    "etcd-healthcheck-client": "certificate for liveness probes to healthcheck etcd",
    "etcd-peer": "certificate for etcd nodes to communicate with each other",
    "etcd-server": "certificate for serving etcd",
    "front-proxy-client": "certificate for the front proxy client",
    "scheduler.conf": "certificate embedded in the kubeconfig file for the scheduler manager "
    "to use",
    "super-admin.conf": "certificate embedded in the kubeconfig file for the super-admin",
}


def _short_duration(delta: timedelta) -> str:
    """apimachinery duration.ShortHumanDuration."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "<invalid>"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 365:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 365)}y"


def _expiry(sh: NodeShell, path: str, kind: str) -> datetime | None:
    try:
        text = sh.fs.read(path)
    except FsError:
        return None
    cert = components.kubeconfig_cert(text) if kind == "kubeconfig" else components.parse_cert(text)
    if cert is None:
        return None
    return datetime.fromisoformat(cert["notAfter"].replace("Z", "+00:00"))


def _when(moment: datetime) -> str:
    return moment.strftime("%b %d, %Y %H:%M UTC")


def check_expiration(sh: NodeShell) -> CommandResult:
    now = sh.now()
    out = [
        '[check-expiration] Reading configuration from the "kubeadm-config" ConfigMap in '
        'namespace "kube-system"...',
        "[check-expiration] Use 'kubeadm init phase upload-config kubeadm --config "
        "your-config-file' to re-upload it.",
        "",
    ]
    rows = [
        ["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"]
    ]
    for name, path, ca, kind in CERT_ROWS:
        expires = _expiry(sh, path, kind)
        if expires is None:
            rows.append([f"!MISSING! {name}", "", "", "", ""])
            continue
        rows.append([name, _when(expires), _short_duration(expires - now), ca, "no"])
    out.append(tabwrite(rows, minwidth=10, padding=3).rstrip("\n"))
    out.append("")
    ca_rows = [["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"]]
    for name, path in CA_ROWS:
        expires = _expiry(sh, path, "cert")
        if expires is None:
            ca_rows.append([f"!MISSING! {name}", "", "", ""])
            continue
        ca_rows.append([name, _when(expires), _short_duration(expires - now), "no"])
    out.append(tabwrite(ca_rows, minwidth=10, padding=3).rstrip("\n"))
    return ok("\n".join(out) + "\n")


def renew(sh: NodeShell, which: str) -> CommandResult:
    names = [r[0] for r in CERT_ROWS]
    if which != "all" and which not in names:
        return fail(f'unknown command "{which}" for "kubeadm certs renew"')
    now = sh.now()
    out = [
        '[renew] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
        '"kube-system"...',
        "[renew] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to "
        "re-upload it.",
        "",
    ]
    for name, path, ca, kind in CERT_ROWS:
        if which not in ("all", name):
            continue
        issuer = {"ca": "kubernetes", "etcd-ca": "etcd-ca", "front-proxy-ca": "front-proxy-ca"}[ca]
        if not sh.fs.is_file(path):
            return fail(f"error execution phase: open {path}: no such file or directory")
        text = sh.fs.read(path)
        if kind == "kubeconfig":
            old = components.kubeconfig_cert(text) or {"subject": name}
            cert = components.cert_pem(old["subject"], issuer, now, now + components.CERT_VALIDITY)
            try:
                text = components.replace_kubeconfig_cert(text, cert)
            except (KeyError, IndexError, TypeError, ValueError):
                return fail(f"error execution phase: failed to load kubeconfig {path}")
        else:
            old = components.parse_cert(text) or {"subject": name}
            text = components.cert_pem(old["subject"], issuer, now, now + components.CERT_VALIDITY)
        sh.fs.write(path, text, mtime=sh.stamp())
        out.append(f"{RENEW_TEXT[name]} renewed")
    if which == "all":
        out += [
            "",
            "Done renewing certificates. You must restart the kube-apiserver, "
            "kube-controller-manager, kube-scheduler and etcd, so that they can use the new "
            "certificates.",
        ]
    return ok("\n".join(out) + "\n")


def _flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def kubeconfig_user(sh: NodeShell, args: list[str]) -> CommandResult:
    """`kubeadm kubeconfig user --client-name NAME [--org ORG] [--validity-period D]`:
    a kubeconfig for NAME with a client certificate the cluster CA signs now (what the
    kubeadm troubleshooting guide uses to replace an expired kubelet.conf)."""
    if not sh.agent.control_plane or not sh.fs.is_file(f"{PKI}/ca.key"):
        return fail(
            "failure loading ca certificate: couldn't load the certificate file "
            f"{PKI}/ca.crt: open {PKI}/ca.crt: no such file or directory\n"
            "To see the stack trace of this error execute with --v=5 or higher"
        )
    name = _flag(args, "--client-name")
    if not name:
        return fail('Error: required flag(s) "client-name" not set')
    validity = _flag(args, "--validity-period") or "8760h"
    hours = re.fullmatch(r"(\d+)h", validity)
    if hours is None:
        return fail(f'invalid argument "{validity}" for "--validity-period" flag')
    now = sh.now()
    cert = components.cert_pem(name, "kubernetes", now, now + timedelta(hours=int(hours.group(1))))
    server = f"https://{sh.agent.api_ip}:{components.API_PORT}"
    ca = sh.fs.read(f"{PKI}/ca.crt")
    return ok(components.kubeconfig_text(name, server, cert, ca))


@command("kubeadm")
def _kubeadm(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    words = [a for a in args if not a.startswith("-")]
    version = packages.installed_version(sh.fs, "kubeadm")
    if words[:1] == ["upgrade"]:
        return kubeadm_upgrade.upgrade(sh, args[args.index("upgrade") + 1 :], stdin)
    if words[:1] == ["version"]:
        if "-o" in args or "--output=short" in args or "short" in args:
            return ok(version + "\n")
        major, minor = version.lstrip("v").split(".")[:2]
        return ok(
            f'kubeadm version: &version.Info{{Major:"{major}", Minor:"{minor}", '
            f'GitVersion:"{version}", GitTreeState:"clean", GoVersion:"go1.25.3", '
            'Compiler:"gc", Platform:"linux/amd64"}\n'
        )
    if words[:2] == ["certs", "check-expiration"]:
        if not sh.agent.control_plane:
            return fail(
                "error execution phase: [check-expiration] failed to load the kubeadm "
                "configuration: open /etc/kubernetes/admin.conf: no such file or directory"
            )
        return check_expiration(sh)
    if words[:2] == ["certs", "renew"]:
        if len(words) < 3:
            return fail('Error: missing subcommand; "renew" is not meant to be run on its own')
        return renew(sh, words[2])
    if words[:2] == ["kubeconfig", "user"]:
        return kubeconfig_user(sh, args)
    if words[:1] == ["token"]:
        return kubeadm_join.token(sh, args[args.index("token") + 1 :])
    if words[:1] == ["join"]:
        return kubeadm_join.join(sh, args[args.index("join") + 1 :])
    return fail(
        f'unknown command "{" ".join(words[:2])}" for "kubeadm"\nRun \'kubeadm --help\' for usage.'
    )

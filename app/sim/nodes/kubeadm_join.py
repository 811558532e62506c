"""`kubeadm token create|list|delete|generate` and `kubeadm join`.

Tokens are bootstrap-token Secrets in kube-system, as kubeadm writes them
(`bootstrap-token-<id>`, type `bootstrap.kubernetes.io/token`, with `token-id`,
`token-secret`, `expiration`, the usages and `auth-extra-groups`; see
cmd/kubeadm/app/apis/bootstraptoken). `kubeadm join` on a machine that is not part of
the cluster yet (a shape's `spare` node) checks the API server address, the token (it
must exist and not be expired) and the CA certificate hash, then writes the kubelet's
files and starts it; the kubelet registers its Node and turns Ready.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from datetime import datetime, timedelta
from typing import Any

from app.sim.machinery.clock import rfc3339
from app.sim.machinery.errors import ApiError
from app.sim.nodes import components, packages
from app.sim.nodes.shell import CommandResult, NodeShell, fail, ok, tabwrite

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
DEFAULT_TTL = timedelta(hours=24)
EXTRA_GROUPS = "system:bootstrappers:kubeadm:default-node-token"
_ALPHABET = string.ascii_lowercase + string.digits
_TRACE = "To see the stack trace of this error execute with --v=5 or higher"
_NO_ADMIN = (
    "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory"
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(value: Any) -> str:
    try:
        return base64.b64decode(str(value)).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _positional(args: list[str], valued: tuple[str, ...]) -> list[str]:
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in valued:
            skip = True
            continue
        if not arg.startswith("-"):
            out.append(arg)
    return out


def _ttl(value: str | None) -> timedelta | None:
    """A Go duration (`24h`, `90m`, `1h30m`, `0` = never expires)."""
    if value is None:
        return DEFAULT_TTL
    parts = re.findall(r"(\d+)(h|m|s)", value)
    if value.strip() == "0" or (parts and sum(int(n) for n, _ in parts) == 0):
        return None
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f'time: invalid duration "{value}"')
    units = {"h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in parts))


def ca_cert_hash(sh: NodeShell) -> str:
    """The `--discovery-token-ca-cert-hash` of the cluster's CA (from the control-plane
    node's ca.crt)."""
    for agent in sh.nodes.agents.values():
        if agent.control_plane and agent.fs.is_file(f"{components.PKI_DIR}/ca.crt"):
            text = agent.fs.read(f"{components.PKI_DIR}/ca.crt")
            return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return "sha256:" + hashlib.sha256(b"").hexdigest()


def _secret(token_id: str, token_secret: str, expires: datetime | None, description: str) -> dict:
    data = {
        "token-id": _b64(token_id),
        "token-secret": _b64(token_secret),
        "usage-bootstrap-authentication": _b64("true"),
        "usage-bootstrap-signing": _b64("true"),
        "auth-extra-groups": _b64(EXTRA_GROUPS),
    }
    if expires is not None:
        data["expiration"] = _b64(rfc3339(expires))
    if description:
        data["description"] = _b64(description)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "data": data,
    }


def _new_token() -> str:
    return (
        "".join(secrets.choice(_ALPHABET) for _ in range(6))
        + "."
        + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    )


def token_create(sh: NodeShell, args: list[str]) -> CommandResult:
    if not sh.agent.control_plane:
        return fail(_NO_ADMIN + "\n" + _TRACE)
    words = _positional(args, ("--ttl", "--description", "--usages", "--groups"))
    value = words[0] if words else _new_token()
    match = TOKEN.match(value)
    if match is None:
        return fail(
            f'the bootstrap token "{value}" was not of the form "[a-z0-9]{{6}}.[a-z0-9]{{16}}"'
            f"\n{_TRACE}"
        )
    try:
        ttl = _ttl(_flag(args, "--ttl"))
    except ValueError as exc:
        return fail(f'invalid argument "{_flag(args, "--ttl")}" for "--ttl" flag: {exc}')
    expires = sh.now() + ttl if ttl is not None else None
    secret = _secret(match.group(1), match.group(2), expires, _flag(args, "--description") or "")
    try:
        sh.agent.store.create("", "secrets", secret)
    except ApiError:
        return fail(
            f"failed to create or update bootstrap token with name bootstrap-token-"
            f'{match.group(1)}: secrets "bootstrap-token-{match.group(1)}" already exists\n{_TRACE}'
        )
    if "--print-join-command" in args:
        return ok(
            f"kubeadm join {sh.agent.api_ip}:{components.API_PORT} --token {value} "
            f"--discovery-token-ca-cert-hash {ca_cert_hash(sh)} \n"
        )
    return ok(value + "\n")


def _tokens(sh: NodeShell) -> list[dict[str, str]]:
    secrets_, _ = sh.agent.store.list("", "secrets", "kube-system")
    out = []
    for secret in secrets_:
        if secret.get("type") != "bootstrap.kubernetes.io/token":
            continue
        data = {k: _unb64(v) for k, v in (secret.get("data") or {}).items()}
        if data.get("token-id") and data.get("token-secret"):
            out.append(data)
    return sorted(out, key=lambda d: d["token-id"])


def _expired(data: dict[str, str], now: datetime) -> bool:
    expires = data.get("expiration")
    if not expires:
        return False
    try:
        moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    except ValueError:
        return True
    return moment <= now


def _ttl_text(data: dict[str, str], now: datetime) -> tuple[str, str]:
    expires = data.get("expiration")
    if not expires:
        return "<forever>", "<never>"
    moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "<invalid>", expires
    if seconds >= 3600:
        return f"{seconds // 3600}h", expires
    return f"{max(seconds // 60, 1)}m", expires


def token_list(sh: NodeShell) -> CommandResult:
    if not sh.agent.control_plane:
        return fail(_NO_ADMIN + "\n" + _TRACE)
    now = sh.now()
    rows = [["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]]
    for data in _tokens(sh):
        if _expired(data, now):
            continue  # the token cleaner deletes expired tokens
        ttl, expires = _ttl_text(data, now)
        usages = [
            u for u in ("authentication", "signing") if data.get(f"usage-bootstrap-{u}") == "true"
        ]
        rows.append(
            [
                f"{data['token-id']}.{data['token-secret']}",
                ttl,
                expires,
                ",".join(usages),
                data.get("description") or "<none>",
                data.get("auth-extra-groups", ""),
            ]
        )
    return ok(tabwrite(rows, minwidth=10, padding=3))


def token_delete(sh: NodeShell, words: list[str]) -> CommandResult:
    if not sh.agent.control_plane:
        return fail(_NO_ADMIN + "\n" + _TRACE)
    if not words:
        return fail(
            "missing subcommand; 'token delete' is missing token of form "
            '"[a-z0-9]{6}" or "[a-z0-9]{6}.[a-z0-9]{16}"\n' + _TRACE
        )
    out: list[str] = []
    for word in words:
        token_id = word.split(".", 1)[0]
        try:
            sh.agent.store.delete("", "secrets", "kube-system", f"bootstrap-token-{token_id}")
        except ApiError:
            return fail(
                f'failed to delete bootstrap token "{token_id}": secrets '
                f'"bootstrap-token-{token_id}" not found\n{_TRACE}',
                stdout="\n".join(out) + ("\n" if out else ""),
            )
        out.append(f'bootstrap token "{token_id}" deleted')
    return ok("\n".join(out) + "\n")


def token(sh: NodeShell, args: list[str]) -> CommandResult:
    """`kubeadm token ...` (args after "token")."""
    words = _positional(args, ("--ttl", "--description", "--usages", "--groups"))
    verb = words[0] if words else ""
    rest = args[args.index(verb) + 1 :] if verb else []
    if verb == "create":
        return token_create(sh, rest)
    if verb == "list":
        return token_list(sh)
    if verb == "delete":
        return token_delete(sh, words[1:])
    if verb == "generate":
        return ok(_new_token() + "\n")
    return fail(
        f'unknown command "{verb}" for "kubeadm token"'
        if verb
        else 'Error: missing subcommand; "token" is not meant to be run on its own'
    )


# ---- join ----------------------------------------------------------------------------


def _preflight(sh: NodeShell) -> list[str]:
    """kubeadm join's preflight errors on a machine that already runs a kubelet."""
    errors = []
    if sh.agent.joined or sh.fs.is_file(components.KUBELET_KUBECONFIG):
        errors.append(
            "\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
            "/etc/kubernetes/kubelet.conf already exists"
        )
    if sh.agent.kubelet_running():
        errors.append("\t[ERROR Port-10250]: Port 10250 is in use")
    if sh.fs.is_file(f"{components.PKI_DIR}/ca.crt"):
        errors.append(
            "\t[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]: "
            "/etc/kubernetes/pki/ca.crt already exists"
        )
    # KubeletVersionCheck (cmd/kubeadm/app/preflight/checks.go): no kubelet newer than
    # the control plane.
    kubelet = packages.installed_version(sh.fs, "kubelet")
    plane = sh.nodes.api_server_version() or components.KUBERNETES_VERSION
    if _vkey(kubelet) > _vkey(plane):
        errors.append(
            "\t[ERROR KubeletVersion]: the kubelet version is higher than the control plane "
            "version. This is not a supported version skew and may lead to a malfunctional "
            f'cluster. Kubelet version: "{kubelet.lstrip("v")}" Control plane version: '
            f'"{plane.lstrip("v")}"'
        )
    return errors


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _discovery_error(
    sh: NodeShell, endpoint: str, value: str, ca_hash: str | None, skip_ca: bool
) -> str | None:
    expected = f"{sh.agent.api_ip}:{components.API_PORT}"
    host = endpoint.split("://", 1)[-1].rstrip("/")
    if host != expected:
        url = f"https://{host}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"
        return (
            "couldn't validate the identity of the API Server: Get "
            f'"{url}": dial tcp {host}: connect: connection refused'
        )
    match = TOKEN.match(value)
    if match is None:
        return (
            f'[discovery.bootstrapToken.token: Invalid value: "{value}": the bootstrap token '
            f'"{value}" was not of the form "[a-z0-9]{{6}}.[a-z0-9]{{16}}"]'
        )
    known = {d["token-id"]: d for d in _tokens(sh)}
    data = known.get(match.group(1))
    if data is None or data["token-secret"] != match.group(2) or _expired(data, sh.now()):
        # The cluster-info ConfigMap carries a JWS signature per valid token only.
        return (
            "couldn't validate the identity of the API Server: could not find a JWS signature "
            f'in the cluster-info ConfigMap for token ID "{match.group(1)}"'
        )
    if not skip_ca:
        if not ca_hash:
            return (
                'discovery.bootstrapToken: Invalid value: "": using token-based discovery '
                "without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in "
                "your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification "
                "flag to continue"
            )
        actual = ca_cert_hash(sh)
        if ca_hash != actual:
            return (
                "couldn't validate the identity of the API Server: cluster CA found in "
                f'cluster-info ConfigMap is invalid: none of the public keys "{actual}" are '
                "pinned"
            )
    return None


def join(sh: NodeShell, args: list[str]) -> CommandResult:
    """`kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash sha256:H`."""
    valued = ("--token", "--discovery-token-ca-cert-hash", "--discovery-token", "--node-name")
    words = _positional(args, valued)
    if "--control-plane" in args:
        return fail(
            "error execution phase preflight: joining another control-plane node is not "
            "simulated: this cluster has a single control-plane node\n" + _TRACE
        )
    endpoint = words[0] if words else ""
    value = _flag(args, "--token") or _flag(args, "--discovery-token") or ""
    out = ["[preflight] Running pre-flight checks"]
    errors = _preflight(sh)
    if errors:
        return fail(
            "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            + "\n".join(errors)
            + "\n[preflight] If you know what you are doing, you can make a check non-fatal "
            "with `--ignore-preflight-errors=...`\n" + _TRACE,
            1,
            "\n".join(out) + "\n",
        )
    if not endpoint or not value:
        return fail('discovery: Invalid value: "": bootstrapToken or file must be set\n' + _TRACE)
    problem = _discovery_error(
        sh,
        endpoint,
        value,
        _flag(args, "--discovery-token-ca-cert-hash"),
        "--discovery-token-unsafe-skip-ca-verification" in args,
    )
    if problem is not None:
        return fail(f"error execution phase preflight: {problem}\n{_TRACE}", 1, out[0] + "\n")
    _write_join_files(sh)
    out += [
        '[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
        '"kube-system"...',
        "[preflight] Use 'kubeadm init phase upload-config kubeadm --config "
        "your-config-file' to re-upload it.",
        '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"',
        "[kubelet-start] Writing kubelet environment file with flags to file "
        '"/var/lib/kubelet/kubeadm-flags.env"',
        "[kubelet-start] Starting the kubelet",
        "[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. "
        "This can take up to 4m0s",
        "[kubelet-check] The kubelet is healthy after 1.001s",
        "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap",
        "",
        "This node has joined the cluster:",
        "* Certificate signing request was sent to apiserver and a response was received.",
        "* The Kubelet was informed of the new secure connection details.",
        "",
        "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.",
    ]
    return ok("\n".join(out) + "\n")


def _write_join_files(sh: NodeShell) -> None:
    agent = sh.agent
    now = sh.now()
    stamp = sh.stamp()
    fresh = components.node_files(agent.name, agent.node_ip, agent.api_ip, False, now)
    ca = ""
    for other in sh.nodes.agents.values():
        if other.control_plane and other.fs.is_file(f"{components.PKI_DIR}/ca.crt"):
            ca = other.fs.read(f"{components.PKI_DIR}/ca.crt")
    ca = ca or fresh[f"{components.PKI_DIR}/ca.crt"]
    client = components.cert_pem(
        f"system:node:{agent.name}", "kubernetes", now, now + components.CERT_VALIDITY
    )
    server = f"https://{agent.api_ip}:{components.API_PORT}"
    files = {path: fresh[path] for path in components.JOIN_FILES if path in fresh}
    files[f"{components.PKI_DIR}/ca.crt"] = ca
    files[components.KUBELET_KUBECONFIG] = components.kubeconfig_text(
        f"system:node:{agent.name}", server, client, ca, cert_file=components.KUBELET_CLIENT_CERT
    )
    files[components.KUBELET_CLIENT_CERT] = client + components.key_pem()
    for path, text in files.items():
        sh.fs.write(path, text, mtime=stamp)
    agent.joined = True
    agent.register_pending = True
    agent.restart_service("kubelet")

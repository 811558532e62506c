"""`etcdctl` (and `etcdutl`) on the control-plane node.

The cluster's object store is the etcd they talk to. Talking to it needs what the
real server demands (kubeadm runs etcd with `--client-cert-auth=true`): `--cacert`,
`--cert` and `--key` naming existing files, a CA and client certificate from the etcd
CA (`/etc/kubernetes/pki/etcd/`), and a running etcd. A snapshot file holds the store's
content; restoring writes a new data directory, and the etcd static pod pointed at it
(its `etcd-data` hostPath) brings the cluster back to the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from datetime import UTC

from app.sim.nodes import components
from app.sim.nodes.shell import CommandResult, NodeShell, command, fail, ok, split_flags
from app.sim.nodes.vfs import FsError

# The etcdctl client kubeadm-era nodes ship (3.5 keeps `snapshot restore|status` as
# deprecated aliases of etcdutl's).
ETCDCTL_VERSION = "3.5.21"
MEMBER_ID = "8e9e05c52164694d"
# Keys whose etcd path differs from /registry/<plural> (pkg/registry/*/storage).
ETCD_PREFIX = {
    ("", "services"): "services/specs",
    ("", "nodes"): "minions",
    ("apps", "deployments"): "deployments",
    ("", "endpoints"): "services/endpoints",
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
    ): "apiextensions.k8s.io/customresourcedefinitions",
}
_VALUE_FLAGS = {
    "endpoints",
    "cacert",
    "cert",
    "key",
    "w",
    "write-out",
    "data-dir",
    "name",
    "initial-cluster",
    "initial-advertise-peer-urls",
    "dial-timeout",
    "command-timeout",
    "limit",
    "user",
    "password",
}


def _ts(sh: NodeShell) -> str:
    return sh.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _log(sh: NodeShell, level: str, msg: str, **fields: object) -> str:
    doc = {
        "level": level,
        "ts": _ts(sh),
        "caller": fields.pop("caller", "snapshot/v3_snapshot.go:65"),
        "msg": msg,
    }
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":"))


def _deadline(sh: NodeShell, endpoint: str, error: str) -> CommandResult:
    warn = _log(
        sh,
        "warn",
        "retrying of unary invoker failed",
        caller=f"v3@v{ETCDCTL_VERSION}/retry_interceptor.go:63",
        logger="etcd-client",
        target=f"etcd-endpoints://0xc000452000/{endpoint}",
        attempt=0,
        error=error,
    )
    return fail(f"{warn}\nError: context deadline exceeded")


def _connect(sh: NodeShell, opts: dict[str, str]) -> tuple[list[str], CommandResult | None]:
    """The endpoints to use and an error result when the server cannot be reached."""
    env = sh.cmd_env
    endpoints = (opts.get("endpoints") or env.get("ETCDCTL_ENDPOINTS") or "127.0.0.1:2379").split(
        ","
    )
    cacert = opts.get("cacert") or env.get("ETCDCTL_CACERT")
    cert = opts.get("cert") or env.get("ETCDCTL_CERT")
    key = opts.get("key") or env.get("ETCDCTL_KEY")
    for path in (cacert, cert, key):
        if path and not sh.fs.is_file(sh.path(path)):
            return endpoints, fail(f"Error: open {path}: no such file or directory")
    endpoint = endpoints[0]
    host = endpoint.split("://", 1)[-1]
    agent = sh.agent
    listening = {"127.0.0.1:2379", f"{agent.api_ip}:2379", "localhost:2379"}
    if host not in listening or not agent.component_running("etcd"):
        return endpoints, _deadline(
            sh,
            host,
            f"rpc error: code = DeadlineExceeded desc = latest balancer error: last connection "
            f'error: connection error: desc = "transport: Error while dialing: dial tcp {host}: '
            f'connect: connection refused"',
        )
    if endpoint.startswith("http://") or not (cacert and cert and key):
        return endpoints, _deadline(
            sh,
            host,
            "rpc error: code = DeadlineExceeded desc = latest balancer error: last connection "
            'error: connection error: desc = "error reading server preface: EOF"',
        )
    ca_doc = components.parse_cert(sh.fs.read(sh.path(cacert)))
    cert_doc = components.parse_cert(sh.fs.read(sh.path(cert)))
    if (
        ca_doc is None
        or cert_doc is None
        or ca_doc.get("subject") != "etcd-ca"
        or cert_doc.get("issuer") != "etcd-ca"
    ):
        return endpoints, _deadline(
            sh,
            host,
            "rpc error: code = DeadlineExceeded desc = latest balancer error: last connection "
            'error: connection error: desc = "transport: authentication handshake failed: tls: '
            'failed to verify certificate: x509: certificate signed by unknown authority"',
        )
    return endpoints, None


def _snapshot_doc(sh: NodeShell) -> dict:
    store = sh.agent.store
    return {"etcdSnapshot": 1, "revision": store.resource_version, "store": store.dump()}


def _read_snapshot(sh: NodeShell, path: str) -> tuple[dict | None, CommandResult | None]:
    try:
        text = sh.fs.read(sh.path(path))
    except FsError:
        return None, fail(f"Error: stat {path}: no such file or directory")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "store" not in doc:
        return None, fail("Error: snapshot file integrity check failed: invalid database")
    return doc, None


def _size_text(n: int) -> str:
    # etcd prints humanize.Bytes: SI units with one decimal.
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} TB"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * w for w in widths) + "+"

    def center(text: str, width: int) -> str:
        return text.center(width)

    out = [
        line,
        "|" + "|".join(center(h, w) for h, w in zip(headers, widths, strict=True)) + "|",
        line,
    ]
    for r in rows:
        out.append(
            "|"
            + "|".join(
                f" {c.rjust(w - 2) if c[:1].isdigit() else c.ljust(w - 2)} "
                for c, w in zip(r, widths, strict=True)
            )
            + "|"
        )
    out.append(line)
    return "\n".join(out) + "\n"


def _status_row(doc: dict) -> list[str]:
    raw = json.dumps(doc["store"], sort_keys=True).encode()
    digest = hashlib.sha256(raw).hexdigest()[:8]
    keys = sum(len(v) for v in doc["store"].get("objects", {}).values())
    return [digest, str(doc.get("revision", 0)), str(keys), _size_text(len(raw))]


def snapshot_status(sh: NodeShell, path: str, fmt: str, deprecated: bool) -> CommandResult:
    doc, error = _read_snapshot(sh, path)
    if error is not None:
        return error
    assert doc is not None
    row = _status_row(doc)
    prefix = "Deprecated: Use `etcdutl snapshot status` instead.\n\n" if deprecated else ""
    if fmt == "table":
        return ok(prefix + _table(["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"], [row]))
    if fmt == "json":
        return ok(
            prefix
            + json.dumps(
                {
                    "hash": int(row[0], 16),
                    "revision": int(row[1]),
                    "totalKey": int(row[2]),
                    "totalSize": len(json.dumps(doc["store"])),
                }
            )
            + "\n"
        )
    return ok(prefix + ", ".join(row) + "\n")


def snapshot_restore(
    sh: NodeShell, path: str, data_dir: str | None, deprecated: bool
) -> CommandResult:
    doc, error = _read_snapshot(sh, path)
    if error is not None:
        return error
    target = sh.path(data_dir or "default.etcd")
    if sh.fs.exists(target) and (sh.fs.is_file(target) or sh.fs.listdir(target)):
        return fail(
            f'Error: data-dir "{data_dir or "default.etcd"}" not empty or could not be read'
        )
    member = posixpath.join(target, "member")
    sh.fs.write(posixpath.join(member, "snap", "db"), json.dumps(doc), mode=0o600, mtime=sh.stamp())
    sh.fs.write(
        posixpath.join(member, "wal", "0000000000000000-0000000000000000.wal"),
        "",
        mode=0o600,
        mtime=sh.stamp(),
    )
    fields = {
        "path": path,
        "wal-dir": f"{member}/wal",
        "data-dir": target,
        "snap-dir": f"{member}/snap",
    }
    logs = [
        _log(sh, "info", "restoring snapshot", caller="snapshot/v3_snapshot.go:265", **fields),
        _log(sh, "info", "restored snapshot", caller="snapshot/v3_snapshot.go:293", **fields),
    ]
    prefix = "Deprecated: Use `etcdutl snapshot restore` instead.\n\n" if deprecated else ""
    return CommandResult(0, prefix, "\n".join(logs) + "\n")


def _registry_key(group: str, plural: str, namespace: str, name: str) -> str:
    prefix = ETCD_PREFIX.get((group, plural))
    if prefix is None:
        prefix = (
            plural
            if group
            in (
                "",
                "apps",
                "batch",
                "rbac.authorization.k8s.io",
                "coordination.k8s.io",
                "scheduling.k8s.io",
                "storage.k8s.io",
                "policy",
                "networking.k8s.io",
                "discovery.k8s.io",
                "events.k8s.io",
            )
            else f"{group}/{plural}"
        )
    return "/registry/" + "/".join(p for p in (prefix, namespace, name) if p)


def _get(sh: NodeShell, opts: dict[str, str], operands: list[str]) -> CommandResult:
    if not operands:
        return fail(
            "Error: get command needs one argument as key and an optional argument as range_end"
        )
    key = operands[0]
    prefix = "prefix" in opts
    store = sh.agent.store
    matches = []
    for group, plural in sorted(store.kinds()):
        items, _ = store.list(group, plural)
        for obj in items:
            meta = obj["metadata"]
            k = _registry_key(group, plural, meta.get("namespace") or "", meta["name"])
            if (prefix and k.startswith(key)) or k == key:
                matches.append((k, obj))
    matches.sort(key=lambda pair: pair[0])
    limit = opts.get("limit")
    if limit and limit.isdigit() and int(limit) > 0:
        matches = matches[: int(limit)]
    out = []
    for k, obj in matches:
        out.append(k)
        if "keys-only" in opts:
            out.append("")
        else:
            # etcd stores protobuf (the k8s\0 envelope); JSON keeps it readable here.
            out.append(json.dumps(obj, separators=(",", ":")))
    return ok("".join(line + "\n" for line in out))


def _etcd_command(sh: NodeShell, args: list[str], tool: str) -> CommandResult:
    if not sh.fs.is_file(f"/usr/bin/{'etcdctl'}"):
        return fail(f"bash: {tool}: command not found", 127)
    api = sh.cmd_env.get("ETCDCTL_API", "3")
    if tool == "etcdctl" and api == "2":
        return fail("etcdctl: the v2 API is not available: set ETCDCTL_API=3")
    opts, rest = split_flags(args, with_value=_VALUE_FLAGS)
    fmt = opts.get("w") or opts.get("write-out") or "simple"
    if not rest:
        return ok(f"NAME:\n\t{tool} - A simple command line client for etcd3.\n")
    verb, operands = rest[0], rest[1:]
    if verb == "version":
        return ok(f"{tool} version: {ETCDCTL_VERSION}\nAPI version: 3.5\n")
    if verb == "snapshot":
        sub = operands[0] if operands else ""
        files = operands[1:]
        if sub in ("status", "restore"):
            if not files:
                return fail(f"Error: snapshot {sub} requires exactly one argument")
            if sub == "status":
                return snapshot_status(sh, files[0], fmt, tool == "etcdctl")
            return snapshot_restore(sh, files[0], opts.get("data-dir"), tool == "etcdctl")
        if sub == "save" and tool == "etcdctl":
            if not files:
                return fail("Error: snapshot save expects one argument")
            endpoints, error = _connect(sh, opts)
            if error is not None:
                return error
            target = files[0]
            full = sh.path(target)
            if not sh.fs.is_dir(posixpath.dirname(full)):
                return fail(
                    f"Error: could not open {target}.part (open {target}.part: no such file or "
                    "directory)"
                )
            doc = _snapshot_doc(sh)
            text = json.dumps(doc)
            sh.fs.write(full, text, mode=0o600, mtime=sh.stamp())
            ep = endpoints[0]
            logs = [
                _log(sh, "info", "created temporary db file", path=f"{target}.part"),
                _log(
                    sh,
                    "info",
                    "opened snapshot stream; downloading",
                    caller=f"v3@v{ETCDCTL_VERSION}/maintenance.go:212",
                    logger="client",
                ),
                _log(
                    sh,
                    "info",
                    "fetching snapshot",
                    caller="snapshot/v3_snapshot.go:73",
                    endpoint=ep,
                ),
                _log(
                    sh,
                    "info",
                    "completed snapshot read; closing",
                    caller=f"v3@v{ETCDCTL_VERSION}/maintenance.go:220",
                    logger="client",
                ),
                _log(
                    sh,
                    "info",
                    "fetched snapshot",
                    caller="snapshot/v3_snapshot.go:88",
                    endpoint=ep,
                    size=_size_text(len(text)),
                    took="now",
                ),
                _log(sh, "info", "saved", caller="snapshot/v3_snapshot.go:97", path=target),
            ]
            return CommandResult(0, f"Snapshot saved at {target}\n", "\n".join(logs) + "\n")
        return fail(f'Error: unknown command "{sub}" for "{tool} snapshot"')
    if tool == "etcdutl":
        return fail(f'Error: unknown command "{verb}" for "etcdutl"')
    endpoints, error = _connect(sh, opts)
    if verb == "endpoint" and operands[:1] == ["health"]:
        if error is not None:
            host = endpoints[0]
            return fail(
                error.stderr.split("\n")[0] + "\n"
                f"{host} is unhealthy: failed to commit proposal: context deadline exceeded\n"
                "Error: unhealthy cluster"
            )
        return ok(
            "".join(
                f"{e} is healthy: successfully committed proposal: took = 9.834521ms\n"
                for e in endpoints
            )
        )
    if error is not None:
        return error
    store = sh.agent.store
    size = _size_text(len(json.dumps(store.dump())) * 3)
    if verb == "endpoint" and operands[:1] == ["status"]:
        rows = [
            [
                e,
                MEMBER_ID,
                ETCDCTL_VERSION,
                size,
                "true",
                "false",
                "2",
                str(store.resource_version + 4),
                str(store.resource_version + 4),
                "",
            ]
            for e in endpoints
        ]
        if fmt == "table":
            return ok(
                _table(
                    [
                        "ENDPOINT",
                        "ID",
                        "VERSION",
                        "DB SIZE",
                        "IS LEADER",
                        "IS LEARNER",
                        "RAFT TERM",
                        "RAFT INDEX",
                        "RAFT APPLIED INDEX",
                        "ERRORS",
                    ],
                    rows,
                )
            )
        return ok("".join(", ".join(r) + "\n" for r in rows))
    if verb == "member" and operands[:1] == ["list"]:
        ip = sh.agent.api_ip
        row = [
            MEMBER_ID,
            "started",
            "controlplane",
            f"https://{ip}:2380",
            f"https://{ip}:2379",
            "false",
        ]
        if fmt == "table":
            return ok(
                _table(["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"], [row])
            )
        return ok(", ".join(row) + "\n")
    if verb == "get":
        return _get(sh, opts, operands)
    return fail(f'Error: unknown command "{verb}" for "{tool}"')


@command("etcdctl")
def _etcdctl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _etcd_command(sh, args, "etcdctl")


@command("etcdutl")
def _etcdutl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _etcd_command(sh, args, "etcdutl")

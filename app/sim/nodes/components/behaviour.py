"""What each component binary does at start-up (flag parsing, its kubeconfig, its
certificates, its secure port), as a runtime `Program`.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

import yaml

from app.sim.machinery import safe_yaml
from app.sim.nodes.components.files import kubeconfig_cert_validity
from app.sim.nodes.components.flags import FILE_FLAGS, FLAGS, KUBECONFIG_FLAGS
from app.sim.nodes.components.layout import (
    COMPONENTS,
    ETCD_IMAGE_TAG,
    KUBERNETES_VERSION,
    SECURE_PORTS,
)
from app.sim.nodes.runtime import Program
from app.sim.nodes.vfs import VirtualFS

# ---- component behaviour


def component_of(pod: dict[str, Any]) -> str | None:
    """Which control-plane component a static pod runs (by its binary), or None."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        argv = [str(x) for x in (container.get("command") or [])]
        if argv and posixpath.basename(argv[0]) in COMPONENTS:
            return posixpath.basename(argv[0])
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if labels.get("component") in COMPONENTS and container.get("name") in COMPONENTS:
            return str(labels["component"])
    return None


def parse_flags(component: str, args: list[str]) -> tuple[dict[str, str], str | None]:
    """pflag-style parsing: ({flag: value}, error line or None)."""
    table = FLAGS[component]
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        body = arg.lstrip("-")
        name, has_value, value = body.partition("=")
        if name not in table:
            dashes = "--" if arg.startswith("--") else "-"
            if dashes == "-" and len(name) == 1:
                return values, f"Error: unknown shorthand flag: '{name}' in {arg}"
            return values, f"Error: unknown flag: {dashes}{name}"
        kind = table[name]
        if not has_value:
            if kind == "bool":
                value = "true"
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                return values, f"Error: flag needs an argument: --{name}"
        if kind == "bool" and value.lower() not in ("true", "false", "1", "0", "t", "f"):
            return values, (
                f'Error: invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: '
                f'parsing "{value}": invalid syntax'
            )
        if kind == "int" and not value.lstrip("-").isdigit():
            return values, (
                f'Error: invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: '
                f'parsing "{value}": invalid syntax'
            )
        values[name] = value
    return values, None


def container_path(container: dict[str, Any], volumes: list[dict], path: str) -> str | None:
    """The host path a container path resolves to through its hostPath mounts, or None
    when no mount covers it (the image's own file system has no such file)."""
    by_name = {v.get("name"): v for v in volumes if isinstance(v, dict)}
    best: tuple[int, str] | None = None
    for mount in container.get("volumeMounts") or []:
        mount_path = str(mount.get("mountPath") or "").rstrip("/")
        if not mount_path or not (path == mount_path or path.startswith(mount_path + "/")):
            continue
        host = ((by_name.get(mount.get("name")) or {}).get("hostPath") or {}).get("path")
        if host and (best is None or len(mount_path) > best[0]):
            best = (len(mount_path), str(host).rstrip("/") + path[len(mount_path) :])
    return best[1] if best else None


def _stat_error(path: str) -> str:
    return f"stat {path}: no such file or directory"


def _usage(component: str) -> list[str]:
    return [
        "Usage:",
        f"  {component} [flags]",
        "",
        "Flags:",
        "  -h, --help   help for " + component,
    ]


def component_program(
    component: str,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    fs: VirtualFS,
    api_endpoints: tuple[str, ...],
    etcd_running: bool = True,
    busy: list[str] | None = None,
) -> Program:
    """What the component binary does with this container spec on this node
    (`etcd_running`: whether the local etcd answers when an API server starts;
    `busy`: "address:port" sockets other host-network containers hold)."""
    argv = [str(x) for x in (container.get("command") or [])] + [
        str(x) for x in (container.get("args") or [])
    ]
    binary = posixpath.basename(argv[0]) if argv else component
    prog = Program()
    if binary != component:
        # runc cannot exec a binary the image does not have: the container never runs.
        prog.exit_after = 0.0
        prog.exit_code = 128
        prog.reason = "StartError"
        prog.message = (
            "failed to create containerd task: failed to create shim task: OCI runtime "
            "create failed: runc create failed: unable to start container process: error "
            f'during container init: exec: "{argv[0] if argv else ""}": executable file not '
            "found in $PATH: unknown"
        )
        return prog
    flags, error = parse_flags(component, argv[1:])
    if error is not None:
        prog.exit_after = 0.0
        prog.exit_code = 1
        prog.reason = "Error"
        prog.logs = [(0.0, "", error)] + [(0.0, "", line) for line in _usage(binary)]
        prog.logs.append((0.0, "", ""))
        prog.logs.append((0.0, "", f'Use "{binary} --help" for more information.'))
        return prog

    def fail(message: str, *, etcd_style: bool = False) -> Program:
        prog.exit_after = 0.0
        prog.exit_code = 1
        prog.reason = "Error"
        if etcd_style:
            prog.logs.append(
                (
                    0.5,
                    "",
                    json.dumps(
                        {
                            "level": "fatal",
                            "caller": "etcdmain/etcd.go:183",
                            "msg": "discovery failed",
                            "error": message,
                        }
                    ),
                )
            )
        else:
            prog.logs.append((0.0, "E", f'run.go:72] "command failed" err="{message}"'))
        return prog

    def visible(path: str) -> bool:
        host = container_path(container, volumes, path)
        return host is not None and fs.is_file(host)

    # The binary is the image's release (an upgraded manifest runs the new version).
    tag = str(container.get("image") or "").rpartition(":")[2].split("@")[0]
    version = tag if re.fullmatch(r"v\d+\.\d+\.\d+", tag) else KUBERNETES_VERSION
    if component in ("kube-scheduler", "kube-controller-manager"):
        prog.logs.append((0.0, "I", "serving.go:386] Generated self-signed cert in-memory"))
        for name in KUBECONFIG_FLAGS:
            path = flags.get(name)
            if path is None:
                continue
            if not visible(path):
                return fail(_stat_error(path))
            text = fs.read(container_path(container, volumes, path) or path)
            try:
                doc = safe_yaml.load_yaml(text)
            except yaml.YAMLError as exc:
                return fail(f'error loading config file \\"{path}\\": {_yaml_summary(exc)}')
            if not isinstance(doc, dict) or not doc.get("clusters"):
                return fail(
                    "invalid configuration: no configuration has been provided, try setting "
                    "KUBERNETES_MASTER environment variable"
                )
        _remember_client_cert(prog, component, container, volumes, fs, flags.get("kubeconfig"))
    for name in FILE_FLAGS.get(component, ()):
        for path in (flags.get(name) or "").split(","):
            if path and not visible(path):
                if component == "etcd":
                    return fail(f"open {path}: no such file or directory", etcd_style=True)
                return fail(f"open {path}: no such file or directory")
    port = int(flags.get("secure-port", SECURE_PORTS[component]))
    bind = flags.get("bind-address", "0.0.0.0")
    prog.ports = [port]
    prog.tls_ports = [port] if component != "etcd" else []
    prog.listen = [f"{'*' if bind in ('0.0.0.0', '::') else bind}:{port}"]
    if component != "etcd" and _port_taken(prog.listen[0], busy or []):
        # A second copy of a component on the same node (another static pod manifest
        # with the same secure port) cannot bind it: the binary exits, as upstream's
        # SecureServingOptions.ApplyTo does (CreateListener).
        prog.ports, prog.tls_ports, prog.listen = [], [], []
        where = f"{bind}:{port}"
        return fail(
            f"failed to create listener: failed to listen on {where}: listen tcp {where}: "
            "bind: address already in use"
        )
    if component == "etcd":
        urls = [
            u.split("://", 1)[-1]
            for name in ("listen-client-urls", "listen-peer-urls", "listen-metrics-urls")
            for u in flags.get(name, "").split(",")
            if u.rsplit(":", 1)[-1].isdigit()
        ]
        prog.listen = urls
        prog.ports = sorted({int(u.rsplit(":", 1)[1]) for u in urls})
        prog.logs += [
            (
                0.0,
                "",
                json.dumps(
                    {
                        "level": "info",
                        "msg": "starting an etcd server",
                        "etcd-version": ETCD_IMAGE_TAG.split("-")[0],
                        "data-dir": flags.get("data-dir", "default.etcd"),
                    }
                ),
            ),
            (
                1.0,
                "",
                json.dumps(
                    {
                        "level": "info",
                        "msg": "serving client traffic securely",
                        "address": "127.0.0.1:2379",
                    }
                ),
            ),
        ]
        return prog
    if component == "kube-apiserver":
        invalid = _apiserver_option_error(flags)
        if invalid is not None:
            prog.ports, prog.tls_ports, prog.listen = [], [], []
            return fail(invalid)
        prog.logs += [
            (
                0.0,
                "I",
                "options.go:249] external host was not specified, using "
                f"{api_endpoints[0].split(':')[0] if api_endpoints else '127.0.0.1'}",
            ),
            (0.1, "I", f'server.go:175] "Version info" version="{version}"'),
        ]
        node_ip = api_endpoints[0].split(":")[0] if api_endpoints else "127.0.0.1"
        etcd_clients = {"127.0.0.1:2379", "localhost:2379", f"{node_ip}:2379"}
        servers = [
            u.split("://", 1)[-1].rstrip("/") for u in flags.get("etcd-servers", "").split(",")
        ]
        unreachable = [s for s in servers if s and (s not in etcd_clients or not etcd_running)]
        if unreachable or not any(servers):
            # The storage backend never answers: the API server retries, then gives up
            # (storagebackend's dial timeout), and the kubelet restarts it.
            target = unreachable[0] if unreachable else "127.0.0.1:2379"
            for second in range(1, 20, 5):
                prog.logs.append(
                    (
                        float(second),
                        "W",
                        "logging.go:55] [core] [Channel #1 SubChannel #2]grpc: addrConn."
                        f'createTransport failed to connect to {{Addr: "{target}", ServerName: '
                        f'"{target}", }}. Err: connection error: desc = "transport: Error while '
                        f'dialing: dial tcp {target}: connect: connection refused"',
                    )
                )
            prog.logs.append(
                (20.0, "E", 'run.go:72] "command failed" err="context deadline exceeded"')
            )
            prog.exit_after = 20.0
            prog.exit_code = 1
            prog.reason = "Error"
            # It never gets past its storage: no client gets an answer meanwhile.
            prog.functional = False
            return prog
        prog.logs.append((2.0, "I", f"secure_serving.go:213] Serving securely on [::]:{port}"))
        return prog
    title = "Kubernetes Scheduler" if component == "kube-scheduler" else "Controller Manager"
    source = "server.go:167" if component == "kube-scheduler" else "controllermanager.go:193"
    lease = component
    prog.logs += [
        (
            0.1,
            "I",
            f'{source}] "Starting {title}" version="{version}"',
        ),
        (0.2, "I", f"secure_serving.go:211] Serving securely on {bind}:{port}"),
    ]
    server = _kubeconfig_server(fs, container, volumes, flags.get("kubeconfig"))
    if server is not None and api_endpoints and server not in api_endpoints:
        # Running, but every request fails: it never gets the leader lease.
        prog.functional = False
        prog.repeat = (
            1.0,
            10.0,
            [
                (
                    "E",
                    f"leaderelection.go:436] error retrieving resource lock kube-system/{lease}: "
                    f'Get "https://{server}/apis/coordination.k8s.io/v1/namespaces/kube-system/'
                    f'leases/{lease}?timeout=5s": dial tcp {server}: connect: connection refused',
                )
            ],
        )
        return prog
    if flags.get("leader-elect", "true").lower() in ("true", "1", "t"):
        prog.logs.append(
            (
                0.3,
                "I",
                f"leaderelection.go:257] attempting to acquire leader lease kube-system/{lease}...",
            )
        )
        if component != "kube-scheduler":
            # Scheduler processes may compete (several static pods): the control plane
            # adds this line when one of them acquires the Lease.
            acquired = f"leaderelection.go:271] successfully acquired lease kube-system/{lease}"
            prog.logs.append((0.5, "I", acquired))
    return prog


def _remember_client_cert(
    prog: Program,
    component: str,
    container: dict[str, Any],
    volumes: list[dict],
    fs: VirtualFS,
    path: str | None,
) -> None:
    """The client certificate the component reads from its kubeconfig at start (kubeadm
    embeds it): client-go keeps it in memory, so a renewed file takes effect only
    after a restart (kubeadm certs renew: "You must restart ...")."""
    host = container_path(container, volumes, path) if path else None
    if host is None or not fs.is_file(host):
        return
    prog.client_config, prog.component = host, component
    prog.client_cert_expiry = kubeconfig_cert_validity(fs.read(host))[1]


# kube-apiserver's authorization modes (pkg/kubeapiserver/authorizer/modes) and the
# admission plugins it registers (pkg/kubeapiserver/options/plugins.go plus the generic
# ones of k8s.io/apiserver): its options' Validate refuses any other name at start-up.
AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node")
ADMISSION_PLUGINS = frozenset(
    {
        "AlwaysAdmit",
        "AlwaysDeny",
        "AlwaysPullImages",
        "CertificateApproval",
        "CertificateSigning",
        "CertificateSubjectRestriction",
        "ClusterTrustBundleAttest",
        "DefaultIngressClass",
        "DefaultStorageClass",
        "DefaultTolerationSeconds",
        "DenyServiceExternalIPs",
        "EventRateLimit",
        "ExtendedResourceToleration",
        "ImagePolicyWebhook",
        "LimitPodHardAntiAffinityTopology",
        "LimitRanger",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionWebhook",
        "NamespaceAutoProvision",
        "NamespaceExists",
        "NamespaceLifecycle",
        "NodeRestriction",
        "OwnerReferencesPermissionEnforcement",
        "PersistentVolumeClaimResize",
        "PersistentVolumeLabel",
        "PodNodeSelector",
        "PodSecurity",
        "PodTolerationRestriction",
        "PodTopologyLabels",
        "Priority",
        "ResourceQuota",
        "RuntimeClass",
        "ServiceAccount",
        "StorageObjectInUseProtection",
        "TaintNodesByCondition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook",
    }
)


def _apiserver_option_error(flags: dict[str, str]) -> str | None:
    """What kube-apiserver's options validation refuses before it serves (an unknown
    authorization mode or admission plugin), as the `err` of its "command failed"
    line; None when the options are valid."""
    modes = [m.strip() for m in flags.get("authorization-mode", "Node,RBAC").split(",")]
    for mode in modes:
        if mode not in AUTHORIZATION_MODES:
            # BuiltInAuthorizationOptions.Validate
            return f'authorization-mode \\"{mode}\\" is not a valid mode'
    for name in ("enable-admission-plugins", "disable-admission-plugins"):
        for plugin in flags.get(name, "").split(","):
            plugin = plugin.strip()
            if plugin and plugin not in ADMISSION_PLUGINS:
                # AdmissionOptions.Validate
                return f'{name} plugin \\"{plugin}\\" is unknown'
    return None


def _port_taken(socket: str, busy: list[str]) -> bool:
    """Whether binding `socket` ("address:port", "*" for every address) collides with
    one of the `busy` sockets."""
    address, _, port = socket.rpartition(":")
    for other in busy:
        other_address, _, other_port = other.rpartition(":")
        if other_port == port and (address == other_address or "*" in (address, other_address)):
            return True
    return False


def _kubeconfig_server(
    fs: VirtualFS, container: dict[str, Any], volumes: list[dict], path: str | None
) -> str | None:
    if not path:
        return None
    host = container_path(container, volumes, path)
    if host is None or not fs.is_file(host):
        return None
    try:
        # Bounded (node files are the learner's to write) and on libyaml: this runs on
        # every component start.
        doc = safe_yaml.load_yaml(fs.read(host))
        url = str(doc["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    return url.split("://", 1)[-1].rstrip("/")


def _yaml_summary(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"yaml: line {mark.line + 1}: {problem}"
    return f"yaml: {problem}"

"""Containers as a shell sees them: `kubectl exec`, `attach`, `cp` and
`port-forward` reach a running container through `ContainerAccess`.

A container's file system is built when it is first entered (per container id, so a
restarted container starts from its image again, as upstream): the image's files
(`images.PROFILES`), `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, the mounted
ConfigMaps, Secrets and emptyDirs, and the projected service-account token
(`/var/run/secrets/kubernetes.io/serviceaccount`). The environment is the container's
`env`/`envFrom` (ConfigMap, Secret and fieldRef values) and the Service links the
kubelet adds (`KUBERNETES_SERVICE_HOST`, ...).
"""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
from typing import TYPE_CHECKING, Any

from app.sim.machinery.clock import rfc3339
from app.sim.nodes.containers import tools  # noqa: F401  (registers gzip, uptime)
from app.sim.nodes.containers.images import PROFILES, ImageProfile, profile_for
from app.sim.nodes.containers.shell import ContainerContext, ContainerShell, decode, encode
from app.sim.nodes.runtime import repository_name
from app.sim.nodes.vfs import VirtualFS

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet import NodeAgent
    from app.sim.nodes.kubelet.records import PodRuntime, Slot

__all__ = ["ContainerAccess", "ContainerError", "ContainerShell", "decode", "encode"]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Scripts the kubelet's timeline runs itself: they wait, loop, read or serve.
_WAITS = re.compile(
    r"\b(sleep|while|until|tail|read|nc|wget|curl|ping|top|watch|nginx|httpd|redis-server|"
    r"yes|timeout|nohup)\b"
)
# The most files a hostPath directory mount copies into a container.
MAX_HOST_FILES = 500


class ContainerError(Exception):
    """Why a container cannot be entered: an HTTP status and upstream's message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ContainerAccess:
    """Running containers of one cluster's pods, for the streaming subresources."""

    def __init__(self, nodes: ClusterNodes) -> None:
        self.nodes = nodes
        files = getattr(nodes, "container_files", None)
        if files is None:
            files = {}
            nodes.container_files = files  # type: ignore[attr-defined]
        self.files: dict[str, VirtualFS] = files

    # ---- finding a container -----------------------------------------------------------

    def _locate(self, namespace: str, pod: str) -> tuple[NodeAgent, PodRuntime]:
        obj = self.nodes.store.get("", "pods", namespace, pod)
        if obj is None:
            raise ContainerError(404, f'pods "{pod}" not found')
        node = (obj.get("spec") or {}).get("nodeName")
        if not node:
            # pkg/registry/core/pod/strategy.go: streaming needs a node.
            raise ContainerError(400, f"pod {pod} does not have a host assigned")
        agent = self.nodes.agents.get(node)
        runtime = agent.find_pod(namespace, pod) if agent is not None else None
        if agent is None or runtime is None:
            raise ContainerError(400, f'unable to upgrade connection: pod "{pod}" not found')
        return agent, runtime

    def default_container(self, namespace: str, pod: str) -> str:
        obj = self.nodes.store.get("", "pods", namespace, pod) or {}
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        chosen = annotations.get("kubectl.kubernetes.io/default-container")
        names = [c.get("name") for c in (obj.get("spec") or {}).get("containers") or []]
        return str(chosen or (names[0] if names else ""))

    def check(self, namespace: str, pod: str, container: str) -> None:
        """Raise ContainerError unless `container` of the pod runs."""
        with self.nodes.lock:
            self._running(namespace, pod, container)

    def _running(
        self, namespace: str, pod: str, container: str
    ) -> tuple[NodeAgent, PodRuntime, Slot]:
        agent, runtime = self._locate(namespace, pod)
        slot = runtime.slots.get(container)
        if slot is None:
            # pkg/registry/core/pod/strategy.go (validateContainer).
            raise ContainerError(400, f"container {container} is not valid for pod {pod}")
        if slot.current is None or not slot.current.running():
            # The kubelet's answer when the runtime has no running container.
            raise ContainerError(
                400, f'unable to upgrade connection: container not found ("{container}")'
            )
        return agent, runtime, slot

    def end_main_process(self, namespace: str, pod: str, container: str, code: int) -> None:
        """The attached main process (a shell) exited: the container ends with its
        code, and the kubelet applies the pod's restartPolicy as for any exit."""
        with self.nodes.lock:
            try:
                agent, runtime, slot = self._running(namespace, pod, container)
            except ContainerError:
                return
            runtime.version += 1
            reason = "Completed" if code == 0 else "Error"
            agent._exited(runtime, slot, agent.clock.now().timestamp(), code, reason)

    def shell(self, namespace: str, pod: str, container: str) -> ContainerShell:
        """A shell in a running container (ContainerError otherwise)."""
        with self.nodes.lock:
            agent, runtime, slot = self._running(namespace, pod, container)
            spec = _container_spec(runtime, container)
            rec = slot.current
            assert rec is not None
            profile = profile_for(repository_name(rec.image))
            fs = self.files.get(rec.id)
            if fs is None:
                fs = self._build_fs(agent, runtime, spec, profile)
                self.files[rec.id] = fs
                self._forget_stopped()
            else:
                # The kubelet re-syncs ConfigMap, Secret and downward API volumes:
                # entering the container again shows their current content.
                self._mount(fs, runtime, spec, rfc3339(agent.clock.now()), refresh=True)
            context = ContainerContext(
                namespace=namespace,
                pod=pod,
                container=container,
                ip=runtime.ip,
                profile=profile,
                main_argv=[str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
                or _default_argv(profile),
                http=lambda host, port, path: self.http(runtime, host, port, path),
                tcp=lambda host, port: self.listens(runtime, host, port),
            )
            return ContainerShell(self.nodes, agent, fs, context, self._env(runtime, spec))

    def one_shot(self, pod: PodRuntime, spec: dict[str, Any]) -> tuple[int, str] | None:
        """Run a short main command of a catalogue shell image (`sh -c 'env; exit 2'`,
        `echo hi`) in the container's shell: (exit code, what it printed), or None when
        the command waits on the clock or serves (the kubelet's timeline keeps those)."""
        argv = [str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
        profile = PROFILES.get(repository_name(str(spec.get("image") or "")))
        if not argv or profile is None or profile.serves or "sh" not in profile.tools:
            return None
        if not spec.get("command") and profile.entrypoint:
            return None  # the image's entrypoint with arguments
        if spec.get("stdin") or posixpath.basename(argv[0]) not in profile.tools:
            return None  # waits for input, or fails to start (StartError)
        if posixpath.basename(argv[0]) in ("sh", "ash", "bash"):
            if argv[1:2] != ["-c"]:
                return None  # an interactive shell or a script file
            script = argv[2] if len(argv) > 2 else ""
        else:
            script = " ".join(shlex.quote(a) for a in argv)
        if _WAITS.search(script):
            return None
        with self.nodes.lock:
            agent = self._agent_of(pod)
            fs = self._build_fs(agent, pod, spec, profile)
            context = ContainerContext(
                pod.namespace, pod.name, str(spec.get("name")), pod.ip, profile, argv
            )
            shell = ContainerShell(self.nodes, agent, fs, context, self._env(pod, spec))
            result = shell.run(script)
        return result.exit_code, result.stdout + result.stderr

    # ---- the network a container reaches -----------------------------------------------

    def _target(self, me: PodRuntime, host: str) -> PodRuntime:
        if host in ("localhost", "127.0.0.1", "::1", me.ip, me.name):
            return me
        for agent in self.nodes.agents.values():
            for pod in agent.pods.values():
                if pod.ip == host and not pod.terminated:
                    return pod
        if host.replace(".", "").isdigit():
            raise OSError("No route to host")
        raise OSError(f"bad address '{host}'")

    def listens(self, me: PodRuntime, host: str, port: int) -> bool:
        with self.nodes.lock:
            try:
                target = self._target(me, host)
            except OSError:
                return False
            return self._server(target, port) is not None

    def _server(self, pod: PodRuntime, port: int) -> tuple[Slot, ImageProfile] | None:
        for slot in pod.slots.values():
            rec = slot.current
            if rec is None or not rec.running():
                continue
            if port in rec.prog().ports:
                return slot, profile_for(repository_name(rec.image))
        return None

    def http(self, me: PodRuntime, host: str, port: int, path: str) -> tuple[int, str]:
        """GET `path` from what listens on host:port: (status, body); OSError with the
        reason when nothing does."""
        with self.nodes.lock:
            target = self._target(me, host)
            return self.serve(target, port, path)

    def serve(self, pod: PodRuntime, port: int, path: str) -> tuple[int, str]:
        found = self._server(pod, port)
        if found is None:
            raise OSError("Connection refused")
        slot, profile = found
        protocol, root = profile.serves.get(port, ("", ""))
        if protocol != "http":
            raise OSError("Connection reset by peer")
        rec = slot.current
        assert rec is not None
        fs = self.files.get(rec.id)
        if fs is None:
            agent = self._agent_of(pod)
            fs = self._build_fs(agent, pod, _container_spec(pod, slot.name), profile)
            self.files[rec.id] = fs
        file = posixpath.normpath(root + "/" + path.split("?", 1)[0].lstrip("/"))
        if fs.is_dir(file):
            file = posixpath.join(file, "index.html")
        if not file.startswith(root) or not fs.is_file(file):
            return 404, _not_found_page(profile)
        return 200, fs.read(file)

    def http_response(self, namespace: str, pod: str, port: int, request: bytes) -> bytes:
        """An HTTP/1.1 answer to raw request bytes, for port-forwarded connections."""
        line = request.split(b"\r\n", 1)[0].decode("latin-1", "replace").split()
        path = line[1] if len(line) >= 2 else "/"
        with self.nodes.lock:
            _, runtime = self._locate(namespace, pod)
            status, body = self.serve(runtime, port, path)
        data = encode(body)
        reason = "OK" if status == 200 else "Not Found"
        head = (
            f"HTTP/1.1 {status} {reason}\r\nServer: nginx\r\nContent-Type: text/html\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + data

    def pod_port_open(self, namespace: str, pod: str, port: int) -> bool:
        with self.nodes.lock:
            try:
                _, runtime = self._locate(namespace, pod)
            except ContainerError:
                return False
            return self._server(runtime, port) is not None

    # ---- building a container --------------------------------------------------------

    def _forget_stopped(self) -> None:
        live = {
            slot.current.id
            for agent in self.nodes.agents.values()
            for pod in agent.pods.values()
            for slot in pod.slots.values()
            if slot.current is not None
        }
        for key in [k for k in self.files if k not in live]:
            del self.files[key]

    def _build_fs(
        self, agent: NodeAgent, pod: PodRuntime, spec: dict[str, Any], profile: ImageProfile
    ) -> VirtualFS:
        fs = VirtualFS()
        stamp = rfc3339(agent.clock.now())
        for directory in ("/bin", "/tmp", "/root", "/var", "/usr/bin", "/home", "/proc"):
            fs.mkdir(directory)
        fs.write("/etc/hostname", pod.name + "\n", mtime=stamp)
        fs.write(
            "/etc/hosts",
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost "
            "ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n"
            "fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            f"{pod.ip}\t{pod.name}\n",
            mtime=stamp,
        )
        fs.write(
            "/etc/resolv.conf",
            f"search {pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\noptions ndots:5\n",
            mtime=stamp,
        )
        fs.write("/etc/os-release", f'PRETTY_NAME="{profile.os_release}"\n', mtime=stamp)
        fs.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", mtime=stamp)
        for tool in sorted(profile.tools):
            if tool.isidentifier() or "-" in tool:
                fs.write(f"/bin/{tool}", "", mode=0o755, mtime=stamp)
                fs.write(f"/usr/bin/{tool}", "", mode=0o755, mtime=stamp)
        for path, content in profile.files.items():
            fs.write(path, content, mtime=stamp)
        self._mount(fs, pod, spec, stamp)
        return fs

    def _mount(
        self,
        fs: VirtualFS,
        pod: PodRuntime,
        spec: dict[str, Any],
        stamp: str,
        *,
        refresh: bool = False,
    ) -> None:
        volumes = {v.get("name"): v for v in pod.spec.get("volumes") or [] if isinstance(v, dict)}
        for mount in spec.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name")) or {}
            target = str(mount.get("mountPath") or "")
            if not target.startswith("/"):
                continue
            files = self._volume_files(fs, pod, volume, target, stamp)
            if files is None:
                continue
            projected = any(k in volume for k in ("configMap", "secret", "downwardAPI"))
            if refresh and ("hostPath" in volume or not projected):
                continue
            _place_files(fs, target, files, mount.get("subPath"), stamp, refresh=refresh)
        if refresh:
            return
        self._mount_service_account(fs, pod, stamp)

    def _volume_files(
        self, fs: VirtualFS, pod: PodRuntime, volume: dict[str, Any], target: str, stamp: str
    ) -> dict[str, str] | None:
        """The files a volume shows under its mount; None once a single host file is copied."""
        if "configMap" in volume:
            return self._config_map_files(pod, volume["configMap"])
        if "secret" in volume:
            return self._secret_files(pod, volume["secret"])
        if "hostPath" in volume:
            return self._host_path_files(fs, pod, volume["hostPath"], target, stamp)
        if "downwardAPI" in volume:
            return self._downward_api_files(pod, volume["downwardAPI"])
        return {}

    def _config_map_files(self, pod: PodRuntime, source: dict[str, Any]) -> dict[str, str]:
        obj = self.nodes.store.get("", "configmaps", pod.namespace, str(source.get("name")))
        files = dict((obj or {}).get("data") or {})
        for key, value in ((obj or {}).get("binaryData") or {}).items():
            files[key] = decode(base64.b64decode(value))
        return _select(files, source.get("items"))

    def _secret_files(self, pod: PodRuntime, source: dict[str, Any]) -> dict[str, str]:
        obj = self.nodes.store.get("", "secrets", pod.namespace, str(source.get("secretName")))
        files = {k: decode(base64.b64decode(v)) for k, v in ((obj or {}).get("data") or {}).items()}
        return _select(files, source.get("items"))

    def _host_path_files(
        self, fs: VirtualFS, pod: PodRuntime, source: dict[str, Any], target: str, stamp: str
    ) -> dict[str, str] | None:
        # A copy of the node's files at the container's start: reads see the
        # node's certificates and manifests; writes stay in the container.
        files: dict[str, str] = {}
        host = str(source.get("path") or "")
        node_fs = self._agent_of(pod).fs
        if node_fs.is_file(host):
            fs.write(target, node_fs.read(host), mtime=stamp)
            return None
        if node_fs.is_dir(host):
            for path in node_fs.walk_files(host)[:MAX_HOST_FILES]:
                files[path[len(host.rstrip("/")) + 1 :]] = node_fs.read(path)
        return files

    def _downward_api_files(self, pod: PodRuntime, source: dict[str, Any]) -> dict[str, str]:
        files: dict[str, str] = {}
        for item in source.get("items") or []:
            field_path = (item.get("fieldRef") or {}).get("fieldPath")
            if field_path:
                files[str(item.get("path"))] = self._field(pod, str(field_path))
        return files

    def _mount_service_account(self, fs: VirtualFS, pod: PodRuntime, stamp: str) -> None:
        automount = pod.spec.get("automountServiceAccountToken")
        if automount is not False and not pod.static:
            store = self.nodes.store
            root_ca = store.get("", "configmaps", pod.namespace, "kube-root-ca.crt") or {}
            fs.write(f"{SA_DIR}/namespace", pod.namespace, mtime=stamp)
            fs.write(f"{SA_DIR}/ca.crt", (root_ca.get("data") or {}).get("ca.crt", ""), mtime=stamp)
            account = pod.spec.get("serviceAccountName") or "default"
            fs.write(
                f"{SA_DIR}/token",
                _unsigned_token(pod.namespace, str(account), pod.name),
                mtime=stamp,
            )

    def _agent_of(self, pod: PodRuntime) -> NodeAgent:
        for agent in self.nodes.agents.values():
            if agent.pods.get(pod.key) is pod:
                return agent
        raise ContainerError(400, f'unable to upgrade connection: pod "{pod.name}" not found')

    def _field(self, pod: PodRuntime, path: str) -> str:
        obj = self.nodes.store.get("", "pods", pod.namespace, pod.name) or {}
        meta = obj.get("metadata") or {}
        simple = {
            "metadata.name": pod.name,
            "metadata.namespace": pod.namespace,
            "metadata.uid": str(meta.get("uid") or ""),
            "spec.nodeName": str((obj.get("spec") or {}).get("nodeName") or ""),
            "spec.serviceAccountName": str((obj.get("spec") or {}).get("serviceAccountName") or ""),
            "status.podIP": pod.ip,
            "status.hostIP": str((obj.get("status") or {}).get("hostIP") or ""),
        }
        if path in simple:
            return simple[path]
        for prefix, source in (
            ("metadata.labels", "labels"),
            ("metadata.annotations", "annotations"),
        ):
            values = meta.get(source) or {}
            if path == prefix:
                return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
            if path.startswith(prefix + "['") and path.endswith("']"):
                return str(values.get(path[len(prefix) + 2 : -2], ""))
        return ""

    def _env(self, pod: PodRuntime, spec: dict[str, Any]) -> dict[str, str]:
        env = self._service_link_env(pod)
        self._env_from(pod, spec, env)
        for item in spec.get("env") or []:
            name = str(item.get("name") or "")
            if "value" in item:
                env[name] = _expand_env(str(item.get("value") or ""), env)
                continue
            self._env_value_from(pod, name, item.get("valueFrom") or {}, env)
        return env

    def _service_link_env(self, pod: PodRuntime) -> dict[str, str]:
        # Service links (pkg/kubelet/kubelet_pods.go getServiceEnvVarMap): the
        # `kubernetes` Service and every Service of the pod's namespace.
        store = self.nodes.store
        env: dict[str, str] = {}
        services = [store.get("", "services", "default", "kubernetes")]
        if pod.spec.get("enableServiceLinks", True):
            services += store.list("", "services", namespace=pod.namespace)[0]
        for svc in services:
            if not svc:
                continue
            ip = (svc.get("spec") or {}).get("clusterIP")
            ports = (svc.get("spec") or {}).get("ports") or []
            if not ip or ip == "None" or not ports:
                continue
            name = svc["metadata"]["name"].upper().replace("-", "_")
            port = ports[0].get("port")
            env[f"{name}_SERVICE_HOST"] = str(ip)
            env[f"{name}_SERVICE_PORT"] = str(port)
            env[f"{name}_PORT"] = f"tcp://{ip}:{port}"
        return env

    def _env_from(self, pod: PodRuntime, spec: dict[str, Any], env: dict[str, str]) -> None:
        store = self.nodes.store
        for source in spec.get("envFrom") or []:
            prefix = str(source.get("prefix") or "")
            for kind, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                ref = source.get(kind)
                if not ref:
                    continue
                obj = store.get("", plural, pod.namespace, str(ref.get("name"))) or {}
                for key, value in (obj.get("data") or {}).items():
                    if plural == "secrets":
                        value = decode(base64.b64decode(value))
                    env[prefix + key] = str(value)

    def _env_value_from(
        self, pod: PodRuntime, name: str, source: dict[str, Any], env: dict[str, str]
    ) -> None:
        store = self.nodes.store
        if "fieldRef" in source:
            env[name] = self._field(pod, str(source["fieldRef"].get("fieldPath")))
        for kind, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            ref = source.get(kind)
            if not ref:
                continue
            obj = store.get("", plural, pod.namespace, str(ref.get("name"))) or {}
            value = (obj.get("data") or {}).get(ref.get("key"))
            if value is not None:
                env[name] = decode(base64.b64decode(value)) if plural == "secrets" else value


def _container_spec(pod: PodRuntime, name: str) -> dict[str, Any]:
    for c in [*(pod.spec.get("initContainers") or []), *(pod.spec.get("containers") or [])]:
        if c.get("name") == name:
            return c
    return {}


def _default_argv(profile: ImageProfile) -> list[str]:
    return {
        "nginx": ["nginx", "-g", "daemon off;"],
        "httpd": ["httpd-foreground"],
        "redis": ["redis-server"],
        "mysql": ["mysqld"],
        "postgres": ["postgres"],
    }.get(profile.name, ["sh"])


def _select(files: dict[str, str], items: list[dict[str, Any]] | None) -> dict[str, str]:
    if not items:
        return files
    selected: dict[str, str] = {}
    for item in items:
        key = item.get("key")
        if key is not None and key in files:
            selected[str(item.get("path"))] = files[key]
    return selected


def _place_files(
    fs: VirtualFS,
    target: str,
    files: dict[str, str],
    sub: str | None,
    stamp: str,
    *,
    refresh: bool,
) -> None:
    """Write a volume's files at its mount point (or its one subPath file)."""
    if sub:
        # A subPath mount is a copy made at start: it never updates (upstream).
        if refresh:
            return
        if sub in files:
            fs.write(target, files[sub], mtime=stamp)
        else:
            fs.mkdir(target)
        return
    if refresh and fs.is_dir(target):
        for stale in fs.listdir(target):
            if stale not in files:
                fs.remove(posixpath.join(target, stale), recursive=True)
    fs.mkdir(target)
    for key, value in files.items():
        path = posixpath.join(target, key)
        if not fs.is_file(path) or fs.read(path) != value:
            fs.write(path, value, mtime=stamp)


def _expand_env(value: str, env: dict[str, str]) -> str:
    # $(VAR) references to earlier variables (core/v1 EnvVar.value).
    for name, known in env.items():
        value = value.replace(f"$({name})", known)
    return value


def _unsigned_token(namespace: str, account: str, pod: str) -> str:
    def part(data: str) -> str:
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    header = part('{"alg":"RS256","kid":"sim"}')
    claims = part(
        '{"aud":["https://kubernetes.default.svc.cluster.local"],'
        '"iss":"https://kubernetes.default.svc.cluster.local",'
        f'"sub":"system:serviceaccount:{namespace}:{account}",'
        f'"kubernetes.io":{{"namespace":"{namespace}","pod":{{"name":"{pod}"}},'
        f'"serviceaccount":{{"name":"{account}"}}}}}}'
    )
    return f"{header}.{claims}.c2lt"


def _not_found_page(profile: ImageProfile) -> str:
    if profile.name == "httpd":
        return (
            '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
            "<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
            "<p>The requested URL was not found on this server.</p>\n</body></html>\n"
        )
    return (
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
        "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )

"""Containers as a shell sees them: `kubectl exec`, `attach`, `cp` and
`port-forward` reach a running container through `ContainerAccess`.

A container's file system is built when it is first entered (per container id, so a
restarted container starts from its image again, as upstream): the image's files
(`images.PROFILES`), `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, copies of the
mounted ConfigMaps, Secrets and downward API items, and the projected service-account
token (`/var/run/secrets/kubernetes.io/serviceaccount`). emptyDir, hostPath and
PersistentVolumeClaim volumes are mounts (`mounts.MountedFS`): their files live on the
node (or with the PersistentVolume, `volumes.py`), are shared by every container that
mounts them and outlive the container. The environment is the container's
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
from app.sim.nodes.containers.nc_listen import http_answer, nc_listening
from app.sim.nodes.containers.python_servers import python_listening, script_of
from app.sim.nodes.containers.shell import ContainerContext, ContainerShell, decode, encode
from app.sim.nodes.dataplane import Client, resolv_conf_for
from app.sim.nodes.mounts import MountedFS
from app.sim.nodes.runtime import repository_name
from app.sim.nodes.vfs import FsError, VirtualFS
from app.sim.nodes.volumes import volume_backing

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet import NodeAgent
    from app.sim.nodes.kubelet.records import PodRuntime, Slot

__all__ = ["ContainerAccess", "ContainerError", "ContainerShell", "decode", "encode"]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Loop turns replayed at most at once (a cluster left alone for days), and the lines
# a file written by a loop keeps (its oldest go): bounds on the simulator's memory.
MAX_REPLAYED_TURNS = 1000
MAX_FILE_LINES = 5000
# Scripts the kubelet's timeline runs itself: they wait, loop, read or serve.
_WAITS = re.compile(
    r"\b(sleep|while|until|tail|read|top|watch|nginx|httpd|redis-server|yes|timeout|nohup)\b"
)
# Network clients end on their own (`wget -qO- http://web`, `nslookup web`, `nc -z`,
# `ping -c 3`); these forms wait: ping without a count, nc listening or reading stdin.
_NETWORK_WAITS = re.compile(r"\bping\b(?![^;&|]*\s-c)|\bnc\b(?![^;&|]*\s-[a-z]*z)")


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
            self.nodes.touch()

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
                client=lambda: self.client(agent, runtime, fs),
                image=rec.image,
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
        if not spec.get("command") and profile.name == "curlimages/curl":
            # The image's entrypoint runs `curl ARGS` when the first argument is an
            # option, else the arguments as a command.
            argv = ["curl", *argv] if argv[0].startswith("-") else argv
        elif not spec.get("command") and profile.entrypoint:
            return None  # the image's entrypoint with arguments
        if posixpath.basename(argv[0]) not in profile.tools:
            return None  # fails to start (StartError)
        if spec.get("stdin") and not _ignores_stdin(argv):
            return None  # waits for input (`kubectl run -i`)
        if posixpath.basename(argv[0]) in ("sh", "ash", "bash"):
            if argv[1:2] != ["-c"]:
                return None  # an interactive shell or a script file
            script = argv[2] if len(argv) > 2 else ""
        else:
            script = " ".join(shlex.quote(a) for a in argv)
        if _WAITS.search(script) or _NETWORK_WAITS.search(script):
            return None
        with self.nodes.lock:
            agent = self._agent_of(pod)
            fs = self._build_fs(agent, pod, spec, profile)
            context = ContainerContext(
                pod.namespace,
                pod.name,
                str(spec.get("name")),
                pod.ip,
                profile,
                argv,
                client=lambda: self.client(agent, pod, fs),
                image=str(spec.get("image") or ""),
            )
            shell = ContainerShell(self.nodes, agent, fs, context, self._env(pod, spec))
            result = shell.run(script)
        return result.exit_code, result.stdout + result.stderr

    # ---- files the main process writes and follows ----------------------------------

    def replay_writes(self, pod: PodRuntime, slot: Slot, now: float) -> None:
        """Put what a running container's loop wrote since the last call into its files
        (`date >> /var/log/app.log` every 5 s), and note where a `tail -f` starts."""
        rec = slot.current
        if rec is None or not rec.running() or rec.started is None:
            return
        prog = rec.prog()
        if not prog.writes and not prog.follows:
            return
        fs = self._container_fs(pod, slot)
        if prog.follows and rec.skipped is None:
            lines = fs.read(prog.follows).splitlines() if fs.is_file(prog.follows) else []
            first = prog.tail_from
            rec.skipped = first - 1 if first > 0 else max(0, len(lines) + first)
        if not prog.writes:
            return
        elapsed = now - rec.started
        # `written` counts the one-off writes (in order), then the loop's turns.
        once = [w for w in prog.writes if w[0] is not None]
        done = rec.written
        for index, (offset, path, append, text) in enumerate(once):
            if index >= done and offset is not None and offset <= elapsed:
                _write_line(fs, path, append, prog.render(text, rec.started + offset, 0))
                done = index + 1
        if done >= len(once) and prog.repeat is not None and elapsed >= prog.repeat[0]:
            start, period, _ = prog.repeat
            turns = int((elapsed - start) // period) + 1
            for turn in range(max(done - len(once), turns - MAX_REPLAYED_TURNS), turns):
                moment = rec.started + start + turn * period
                for offset, path, append, text in prog.writes:
                    if offset is None:
                        _write_line(fs, path, append, prog.render(text, moment, turn))
            done = len(once) + turns
        rec.written = done

    def followed_lines(self, pod: PodRuntime, slot: Slot) -> list[str]:
        """What a container's `tail -f FILE` has printed: the file's lines since it
        started (with the ten before, as tail prints first)."""
        rec = slot.current
        if rec is None:
            return []
        path = rec.prog().follows
        fs = self._container_fs(pod, slot)
        if not path or not fs.is_file(path):
            return []
        lines = fs.read(path).splitlines()
        return lines[rec.skipped or 0 :]

    def _container_fs(self, pod: PodRuntime, slot: Slot) -> VirtualFS:
        rec = slot.current
        assert rec is not None
        fs = self.files.get(rec.id)
        if fs is None:
            spec = _container_spec(pod, slot.name)
            profile = profile_for(repository_name(rec.image))
            fs = self._build_fs(self._agent_of(pod), pod, spec, profile)
            self.files[rec.id] = fs
            self._forget_stopped()
        return fs

    # ---- the network a container reaches -----------------------------------------------

    def client(self, agent: NodeAgent, runtime: PodRuntime, fs: VirtualFS) -> Client:
        """The pod's end of connections, with the container's own /etc/hosts and
        /etc/resolv.conf (an edited resolv.conf changes how names resolve)."""
        resolv = fs.read("/etc/resolv.conf") if fs.is_file("/etc/resolv.conf") else ""
        hosts = fs.read("/etc/hosts") if fs.is_file("/etc/hosts") else ""
        return Client.for_pod(self.nodes, runtime, agent.name, resolv, hosts)

    def _server(self, pod: PodRuntime, port: int) -> tuple[Slot, tuple[str, str]] | None:
        """The container listening on `port` and what it speaks there."""
        for slot in pod.slots.values():
            rec = slot.current
            if rec is None or not rec.running():
                continue
            served = self.listening(pod, slot).get(port)
            if served is not None:
                return slot, served
        return None

    def listens(self, pod: PodRuntime, port: int) -> bool:
        return self._server(pod, port) is not None

    def listening(self, pod: PodRuntime, slot: Slot) -> dict[int, tuple[str, str]]:
        """port -> (protocol, document root) of the container's process. A catalogue
        server listens where its configuration says (a declared containerPort is only
        informational, as upstream), and not at all when the command replaces it;
        other images listen on their declared ports, a Python script where its
        source binds (`python_servers`) and `nc -l` on its port (`nc_listen`)."""
        rec = slot.current
        assert rec is not None
        profile = profile_for(repository_name(rec.image))
        spec = _container_spec(pod, slot.name)
        argv = [str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
        if not profile.serves:
            ports = {p: ("", "") for p in rec.prog().ports}
            if script_of(argv) is not None:
                ports.update(python_listening(argv, self._files_of(pod, slot, profile)))
            ports.update(nc_listening(argv))
            return ports
        if argv and not argv[0].startswith("-") and posixpath.basename(argv[0]) not in _SERVERS:
            return nc_listening(argv)
        if profile.name != "nginx":
            return dict(profile.serves)
        return _nginx_listening(self._files_of(pod, slot, profile), profile)

    def _files_of(self, pod: PodRuntime, slot: Slot, profile: ImageProfile) -> VirtualFS:
        rec = slot.current
        assert rec is not None
        fs = self.files.get(rec.id)
        if fs is None:
            agent = self._agent_of(pod)
            fs = self._build_fs(agent, pod, _container_spec(pod, slot.name), profile)
            self.files[rec.id] = fs
        return fs

    def serve(self, pod: PodRuntime, port: int, path: str) -> tuple[int, str]:
        found = self._server(pod, port)
        if found is None:
            raise OSError("Connection refused")
        slot, (protocol, root) = found
        if protocol == "nc":
            # What `nc -l` sends, when it is an HTTP response (`root` holds the text).
            answer = http_answer(root)
            if answer is None:
                raise OSError("Connection reset by peer")
            return answer
        if protocol != "http":
            raise OSError("Connection reset by peer")
        rec = slot.current
        assert rec is not None
        profile = profile_for(repository_name(rec.image))
        fs = self._files_of(pod, slot, profile)
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

    def port_protocol(self, namespace: str, pod: str, port: int) -> str | None:
        """What the pod's port speaks (`http`, `echo`, "" for a protocol this simulator
        does not answer), or None when nothing listens there (or the pod is gone)."""
        with self.nodes.lock:
            try:
                _, runtime = self._locate(namespace, pod)
            except ContainerError:
                return None
            found = self._server(runtime, port)
        return found[1][0] if found is not None else None

    def banner(self, pod: PodRuntime, port: int) -> str:
        """What a raw TCP client receives on connecting (an `nc -l` listener's text)."""
        found = self._server(pod, port)
        if found is None or found[1][0] != "nc":
            return ""
        return found[1][1]

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
        fs = MountedFS()
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
        fs.write("/etc/resolv.conf", resolv_conf_for(pod.spec, pod.namespace), mtime=stamp)
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
            backing = volume_backing(self.nodes, self._agent_of(pod), pod, volume)
            if backing is not None:
                if not refresh and isinstance(fs, MountedFS):
                    _mount_backing(fs, target, backing, mount, volume)
                continue
            files = self._volume_files(pod, volume)
            _place_files(fs, target, files, mount.get("subPath"), stamp, refresh=refresh)
        if refresh:
            return
        self._mount_service_account(fs, pod, stamp)

    def _volume_files(self, pod: PodRuntime, volume: dict[str, Any]) -> dict[str, str]:
        """The files a projected volume shows under its mount (a copy)."""
        if "configMap" in volume:
            return self._config_map_files(pod, volume["configMap"])
        if "secret" in volume:
            return self._secret_files(pod, volume["secret"])
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


def _ignores_stdin(argv: list[str]) -> bool:
    """A network client ends on its own even with stdin attached (`kubectl run -i
    --rm ... -- wget -qO- http://web`)."""
    name = posixpath.basename(argv[0])
    if name in ("wget", "curl", "nslookup", "dig", "host"):
        return True
    return name == "ping" and "-c" in " ".join(argv)


# The server binaries of the catalogue's server images (their entrypoints included).
_SERVERS = frozenset(
    {"nginx", "httpd", "httpd-foreground", "redis-server", "mysqld", "postgres",
     "docker-entrypoint.sh", "/docker-entrypoint.sh", "nginx-ingress-controller"}
)  # fmt: skip
_NGINX_LISTEN = re.compile(r"^\s*listen\s+(?:\S*:)?(\d+)\b", re.M)
_NGINX_ROOT = re.compile(r"^\s*root\s+([^;\s]+)\s*;", re.M)


def _nginx_listening(fs: VirtualFS, profile: ImageProfile) -> dict[int, tuple[str, str]]:
    """nginx's `listen` ports (and `root`) from /etc/nginx/conf.d/*.conf, as the
    official image includes them; the image's default when none is configured."""
    out: dict[int, tuple[str, str]] = {}
    folder = "/etc/nginx/conf.d"
    default_root = profile.serves.get(80, ("http", "/usr/share/nginx/html"))[1]
    names = sorted(fs.listdir(folder)) if fs.is_dir(folder) else []
    for name in names:
        path = posixpath.join(folder, name)
        if not name.endswith(".conf") or not fs.is_file(path):
            continue
        text = fs.read(path)
        root = _NGINX_ROOT.search(text)
        for port in _NGINX_LISTEN.findall(text):
            out.setdefault(int(port), ("http", root.group(1) if root else default_root))
    return out if names else dict(profile.serves)


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


def _mount_backing(
    fs: MountedFS,
    target: str,
    backing: tuple[VirtualFS, str],
    mount: dict[str, Any],
    volume: dict[str, Any],
) -> None:
    """Mount a volume's backing directory (or its `subPath`, created when missing),
    read-only when the mount or the pod's claim reference says so."""
    source, root = backing
    sub = str(mount.get("subPath") or "")
    if sub:
        root = posixpath.join(root, sub)
        if not source.exists(root):
            source.mkdir(root)
    read_only = mount.get("readOnly") or (volume.get("persistentVolumeClaim") or {}).get("readOnly")
    fs.mount(target, source, root, read_only=bool(read_only))


def _write_line(fs: VirtualFS, path: str, append: bool, line: str) -> None:
    try:
        old = fs.read(path) if append and fs.is_file(path) else ""
        lines = (old + line + "\n").splitlines(keepends=True)
        fs.write(path, "".join(lines[-MAX_FILE_LINES:]))
    except FsError:
        return  # a read-only mount, or a directory in the way: the write fails


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

"""The node side of the pod network: a client (a container or a node's shell) resolves
a name, connects, and the process listening at the far end answers.

`app.sim.network` decides where a connection lands (kube-proxy, NetworkPolicy, DNS);
this module finds the container behind the landing address, checks that it listens on
the port (else the pod answers with an RST: `Connection refused`) and serves HTTP from
it. When the destination is an ingress or Gateway controller's pod, the request is
routed by `app.sim.network.ingress.route` (host + path) and forwarded from the
controller's pod to the backend Service; no matching rule is the controller's 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.sim.network import ingress, ingress_tls
from app.sim.network.dns import Answer, ResolvConf, parse_resolv_conf
from app.sim.network.ingress_tls import ServedCertificate
from app.sim.network.path import (
    REFUSED,
    RESET,
    TIMEOUT,
    Landing,
    Source,
    Unreachable,
    connect,
    query,
)
from app.sim.network.view import ClusterView, Obj, key, spec
from app.sim.nodes import kubeapi
from app.sim.nodes.runtime import repository_name

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet.records import PodRuntime

# What the kubelet writes into a pod's /etc/resolv.conf for dnsPolicy ClusterFirst.
CLUSTER_DNS = "10.96.0.10"
# A node's resolver (systemd-resolved's stub): it knows the nodes, not cluster names.
NODE_RESOLVER = "127.0.0.53"
# Images of ingress and Gateway controllers (repository, last path element).
INGRESS_IMAGES = frozenset(
    {
        "controller",
        "ingress-nginx-controller",
        "nginx-ingress",
        "traefik",
        "envoy",
        "contour",
        "kong",
        "haproxy-ingress",
        "nginx-gateway-fabric",
    }
)
# How many controllers a request may cross (an ingress whose backend is an ingress).
MAX_HOPS = 3


class NameNotFound(OSError):
    """A host name that does not resolve (NXDOMAIN, or no name server answered)."""

    def __init__(self, name: str, timed_out: bool = False) -> None:
        super().__init__(f"bad address '{name}'")
        self.name = name
        self.timed_out = timed_out


class TlsMismatch(OSError):
    """A TLS client hello reached a port that speaks plain HTTP."""


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    # The certificate the server presented (an HTTPS request to ingress-nginx).
    tls: ServedCertificate | None = None


def is_ingress_controller(pod: Obj) -> bool:
    """Whether the pod runs an ingress or Gateway controller: the routing module's own
    `controller_of(pod)` when it has one, else the controller images above."""
    known = getattr(ingress, "controller_of", None)
    if callable(known):
        return known(pod) is not None
    for container in spec(pod).get("containers") or []:
        repository = repository_name(str(container.get("image") or ""))
        if repository.rsplit("/", 1)[-1] in INGRESS_IMAGES or "ingress" in repository:
            return True
    return False


def resolv_conf_for(pod_spec: Obj, namespace: str) -> str:
    """/etc/resolv.conf as the kubelet writes it for the pod's dnsPolicy and dnsConfig."""
    policy = pod_spec.get("dnsPolicy") or "ClusterFirst"
    if pod_spec.get("hostNetwork") and policy == "ClusterFirst":
        policy = "Default"
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    if policy == "Default":
        servers, options = [NODE_RESOLVER], ["edns0", "trust-ad"]
    elif policy != "None":
        servers = [CLUSTER_DNS]
        search = [f"{namespace}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
        options = ["ndots:5"]
    config = pod_spec.get("dnsConfig") or {}
    servers += [str(s) for s in config.get("nameservers") or []]
    search += [str(s) for s in config.get("searches") or []]
    for option in config.get("options") or []:
        name = str(option.get("name") or "")
        value = option.get("value")
        options = [o for o in options if o.split(":")[0] != name]
        options.append(f"{name}:{value}" if value is not None else name)
    lines = [f"search {' '.join(search)}"] if search else []
    lines += [f"nameserver {s}" for s in servers]
    lines += [f"options {' '.join(options)}"] if options else []
    return "\n".join(lines) + "\n"


class Client:
    """One end of connections: a pod's container or a node's shell."""

    def __init__(
        self,
        nodes: ClusterNodes,
        source: Source,
        resolv: str,
        hosts: str = "",
        runtime: PodRuntime | None = None,
    ) -> None:
        self.nodes = nodes
        self.source = source
        self.resolv: ResolvConf = parse_resolv_conf(resolv)
        self.hosts = _hosts(hosts)
        self.runtime = runtime
        self._view: ClusterView | None = None

    @classmethod
    def for_node(cls, nodes: ClusterNodes, node: str) -> Client:
        agent = nodes.agents[node]
        return cls(nodes, Source(agent.node_ip, node), f"nameserver {NODE_RESOLVER}\n")

    @classmethod
    def for_pod(
        cls, nodes: ClusterNodes, runtime: PodRuntime, node: str, resolv: str, hosts: str
    ) -> Client:
        obj = nodes.store.get("", "pods", runtime.namespace, runtime.name)
        return cls(nodes, Source(runtime.ip, node, obj), resolv, hosts, runtime)

    # ---- names --------------------------------------------------------------------

    def view(self) -> ClusterView:
        """A read of the cluster, kept for the client's life (one command line runs at
        one instant of the cluster clock); pod IPs are found through the node agents'
        own records (no listing of every pod)."""
        if self._view is None:
            self._view = ClusterView(self.nodes.store, self._locate)
        return self._view

    def _locate(self, ip: str) -> tuple[str, str] | None:
        for agent in self.nodes.agents.values():
            for runtime in agent.pods.values():
                if (
                    runtime.ip == ip
                    and not runtime.terminated
                    and not runtime.spec.get("hostNetwork")
                ):
                    return runtime.namespace, runtime.name
        return None

    def lookup(
        self, name: str, qtype: str = "A", view: ClusterView | None = None
    ) -> tuple[str, Answer]:
        """(server, answer) from the cluster DNS or the node resolver; Unreachable when
        no name server answers."""
        with self.nodes.lock:
            view = view or self.view()
            if self.resolv.nameservers[:1] == (NODE_RESOLVER,):
                return NODE_RESOLVER, self._node_answer(view, name)
            return query(view, self.source, self.resolv, name, qtype)

    def _node_answer(self, view: ClusterView, name: str) -> Answer:
        from app.sim.network.dns import Record

        ip = view.nodes.get(name.rstrip("."))
        if ip is None:
            return Answer(name, "NXDOMAIN")
        return Answer(name, records=[Record(name, "A", ip)])

    def address(self, host: str, view: ClusterView | None = None) -> str:
        """The IP a client connects to for `host`; NameNotFound otherwise."""
        if _is_ip(host):
            return host
        if host in self.hosts:
            return self.hosts[host]
        if host == "localhost":
            return "127.0.0.1"
        if self.runtime is None and host in self.nodes.agents:
            return self.nodes.agents[host].node_ip
        try:
            _, answer = self.lookup(host, view=view)
        except Unreachable as exc:
            raise NameNotFound(host, timed_out=True) from exc
        cname = [r.value for r in answer.records if r.type == "CNAME"]
        if not answer.addresses:
            if cname:
                return self.address(cname[0] + ".", view)
            raise NameNotFound(host)
        return answer.addresses[0]

    # ---- connections --------------------------------------------------------------

    def connect(
        self, host: str, port: int, protocol: str = "TCP", view: ClusterView | None = None
    ) -> Landing:
        """Open a connection (raises NameNotFound or Unreachable)."""
        with self.nodes.lock:
            view = view or self.view()
            ip = self.address(host, view)
            landing = connect(view, self.source, ip, port, protocol)
            if self._listener(landing) is None:
                raise Unreachable(REFUSED)
            return landing

    def banner(self, landing: Landing) -> str:
        """What the process behind a landed connection sends first (`nc -l`'s text)."""
        from app.sim.nodes.containers import ContainerAccess

        with self.nodes.lock:
            runtime = self._listener(landing)
            if runtime is None:
                return ""
            return ContainerAccess(self.nodes).banner(runtime, landing.port)

    def _listener(self, landing: Landing) -> PodRuntime | None:
        if landing.pod is not None:
            node = spec(landing.pod).get("nodeName")
            agent = self.nodes.agents.get(str(node))
            namespace, name = key(landing.pod)
            runtime = agent.find_pod(namespace, name) if agent else None
            if runtime is None or not _serves(self.nodes, runtime, landing.port):
                return None
            return runtime
        agent = self.nodes.agents.get(str(landing.node))
        for runtime in agent.pods.values() if agent else []:
            if runtime.spec.get("hostNetwork") and _serves(self.nodes, runtime, landing.port):
                return runtime
        return None

    def http(
        self,
        host: str,
        port: int,
        path: str,
        headers: dict[str, str] | None = None,
        scheme: str = "http",
        sni: str | None = None,
        method: str = "GET",
    ) -> Reply:
        """GET `path` from host:port (raises NameNotFound, Unreachable, or TlsMismatch
        for HTTPS to a plain HTTP port of ingress-nginx). `sni`: the name a TLS
        client sends (curl: the URL's host unless it is an address)."""
        headers = headers or {}
        with self.nodes.lock:
            landing = self.connect(host, port, view=self.view())
            runtime = self._listener(landing)
            if runtime is None:
                raise Unreachable(REFUSED)
            if runtime.labels.get("component") == "kube-apiserver":
                return _api_server(self.nodes.cluster, path, headers, scheme)
            virtual_host = headers.get("host", host).split(":", 1)[0]
            pod = landing.pod
            if pod is not None and is_ingress_controller(pod):
                tls = self._ingress_tls(pod, landing.port, scheme, sni)
                if isinstance(tls, Reply):
                    return tls
                if scheme == "http" and ingress_tls.redirects_to_https(
                    self.nodes.store, pod, virtual_host
                ):
                    return _redirect(virtual_host, path)
                reply = self._serve(runtime, landing, virtual_host, path, 0, (method, headers))
                reply.tls = tls
                return reply
            return self._serve(runtime, landing, virtual_host, path, 0, (method, headers))

    def _ingress_tls(
        self, controller: Obj, port: int, scheme: str, sni: str | None
    ) -> ServedCertificate | Reply | None:
        """The certificate ingress-nginx presents on its HTTPS port (443), nginx's 400
        for plain HTTP there, TlsMismatch for a TLS hello on its HTTP port (80)."""
        if ingress.controller_of(controller) is None:
            return None
        if port == 443 and scheme == "http":
            return Reply(400, _plain_http_page(), {"server": "nginx"})
        if port == 443:
            return ingress_tls.certificate_for(self.nodes.store, controller, sni)
        if scheme == "https":
            raise TlsMismatch("wrong version number")
        return None

    def _serve(
        self,
        runtime: PodRuntime,
        landing: Landing,
        host: str,
        path: str,
        hops: int,
        request: tuple[str, dict[str, str]] = ("GET", {}),
    ) -> Reply:
        """`request`: the method and headers (lower-case names) routing may match on."""
        from app.sim.nodes.containers import ContainerAccess

        if landing.pod is not None and is_ingress_controller(landing.pod) and hops < MAX_HOPS:
            return self._through_ingress(landing.pod, host, path, hops, request)
        try:
            status, body = ContainerAccess(self.nodes).serve(runtime, landing.port, path)
        except Unreachable:
            raise
        except OSError as exc:
            # A server that does not speak plain HTTP on that port drops the request.
            raise Unreachable(RESET) from exc
        return Reply(status, body, {"server": _server_header(runtime)})

    def _through_ingress(
        self, controller: Obj, host: str, path: str, hops: int, request: tuple[str, dict[str, str]]
    ) -> Reply:
        """An ingress/Gateway controller forwards to the backend its rules pick."""
        method, headers = request
        backend = ingress.route(self.nodes.store, controller, host, path, method, headers)
        if backend is None:
            return Reply(404, _controller_page(404), {"server": "nginx"})
        view = self.view()
        service = view.service(backend.namespace, backend.service)
        port = _backend_port(service, backend.port) if service is not None else None
        if service is None or port is None:
            return Reply(503, _controller_page(503), {"server": "nginx"})
        node = str(spec(controller).get("nodeName") or "")
        source = Source(str((controller.get("status") or {}).get("podIP") or ""), node, controller)
        try:
            landing = connect(view, source, str(spec(service).get("clusterIP")), port)
        except Unreachable as exc:
            status = 504 if exc.reason == TIMEOUT else 503
            return Reply(status, _controller_page(status), {"server": "nginx"})
        runtime = self._listener(landing)
        if runtime is None:
            return Reply(502, _controller_page(502), {"server": "nginx"})
        # ingress-nginx's rewrite-target hands the backend another path.
        return self._serve(runtime, landing, host, backend.path or path, hops + 1, request)


def _api_server(cluster: Any, path: str, headers: dict[str, str], scheme: str) -> Reply:
    if scheme != "https":
        # What the API server's TLS listener answers to plain HTTP.
        return Reply(400, "Client sent an HTTP request to an HTTPS server.\n")
    status, body = kubeapi.answer(cluster, path, headers)
    return Reply(status, body, {"content-type": "application/json"})


def _backend_port(service: Obj, port: int | str) -> int | None:
    for sp in spec(service).get("ports") or []:
        if sp.get("port") == port or (isinstance(port, str) and sp.get("name") == port):
            return int(sp["port"])
    return None


def _serves(nodes: ClusterNodes, runtime: PodRuntime, port: int) -> bool:
    from app.sim.nodes.containers import ContainerAccess

    return ContainerAccess(nodes).listens(runtime, port)


def _server_header(runtime: PodRuntime) -> str:
    for slot in runtime.slots.values():
        if slot.current is not None:
            name = repository_name(slot.current.image)
            if name == "httpd":
                return "Apache/2.4.65 (Unix)"
            if name == "nginx":
                return "nginx/1.29.1"
    return "nginx"


_REASONS = {
    404: "Not Found",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def reason(status: int) -> str:
    return {
        200: "OK",
        308: "Permanent Redirect",
        400: "Bad Request",
        403: "Forbidden",
        **_REASONS,
    }.get(status, "")


def _controller_page(status: int) -> str:
    text = f"{status} {reason(status)}"
    return (
        f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def _redirect(host: str, path: str) -> Reply:
    """ingress-nginx's ssl-redirect: `return 308 https://$host$request_uri`."""
    text = "308 Permanent Redirect"
    body = (
        f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Reply(308, body, {"server": "nginx", "location": f"https://{host}{path}"})


def _plain_http_page() -> str:
    """nginx's answer to plain HTTP on an `ssl` listener (error 497 shown as 400)."""
    title = "400 The plain HTTP request was sent to HTTPS port"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        "<center><h1>400 Bad Request</h1></center>\r\n"
        "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def _is_ip(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def _hosts(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and _is_ip(words[0]):
            for name in words[1:]:
                out.setdefault(name, words[0])
    return out

"""Cluster DNS as CoreDNS's `kubernetes` plugin answers it (Kubernetes docs "DNS for
Services and Pods"; coredns plugin/kubernetes README).

Names in the plugin's zone (cluster.local):

- `SVC.NS.svc.ZONE`: A the ClusterIP; for a headless Service one A per ready
  endpoint (all of them with publishNotReadyAddresses); for an ExternalName Service a
  CNAME to the external name.
- `HOST.SVC.NS.svc.ZONE`: A of the endpoint of a headless Service whose hostname is
  HOST (StatefulSet pods behind their governing Service).
- `_PORT._PROTO.SVC.NS.svc.ZONE`: SRV per named port (the ClusterIP's name as target,
  or one per endpoint of a headless Service).
- `A-B-C-D.NS.pod.ZONE`: A of the dashed address (`pods insecure`; `verified` also
  wants a pod with that IP in NS; `disabled`, the plugin's default, answers NXDOMAIN).
- `D.C.B.A.in-addr.arpa`: PTR of a Service IP or of an endpoint address.

Anything else goes to `forward`, which the simulated cluster cannot reach: NXDOMAIN.
`search_names` applies a resolv.conf search list the way the C library does (ndots).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.sim.network.corefile import KubernetesZone
from app.sim.network.view import ClusterView, Endpoint, Obj, is_headless, key, spec

# The search list and options the kubelet writes for dnsPolicy ClusterFirst.
DEFAULT_NDOTS = 5


@dataclass(frozen=True)
class Record:
    name: str
    type: str  # A, CNAME, SRV, PTR
    value: str  # an address, a name, or "priority weight port target" for SRV


@dataclass
class Answer:
    name: str
    rcode: str = "NOERROR"  # or NXDOMAIN
    records: list[Record] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [r.value for r in self.records if r.type == "A"]


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    ndots: int = 1


def parse_resolv_conf(text: str) -> ResolvConf:
    servers: list[str] = []
    search: tuple[str, ...] = ()
    ndots = 1
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = tuple(words[1:])
        elif words[0] == "options":
            for option in words[1:]:
                if option.startswith("ndots:") and option[6:].isdigit():
                    ndots = min(int(option[6:]), 15)
    return ResolvConf(tuple(servers), search, ndots)


def search_names(name: str, conf: ResolvConf) -> list[str]:
    """The fully-qualified names tried for `name`, in order (resolv.conf(5))."""
    if name.endswith("."):
        return [name.rstrip(".")]
    searched = [f"{name}.{domain.rstrip('.')}" for domain in conf.search]
    if name.count(".") >= conf.ndots:
        return [name, *searched]
    return [*searched, name]


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


class ZoneResolver:
    """Answers for the `kubernetes` plugin's zone over one read of the store."""

    def __init__(self, view: ClusterView, zone: KubernetesZone) -> None:
        self.view = view
        self.zone = zone

    def lookup(self, qname: str, qtype: str = "A") -> Answer:
        asked = qname.rstrip(".").lower()
        qname = self.zone.rewrite(asked)
        hosts = [ip for name, ip in self.zone.hosts if name == qname]
        if hosts and qtype.upper() == "A":
            return Answer(asked, records=[Record(asked, "A", ip) for ip in hosts])
        answer = self._lookup(qname, qtype)
        if qname != asked:
            # `rewrite name` answers under the name that was asked.
            answer.records = [Record(asked, r.type, r.value) for r in answer.records]
            answer.name = asked
        return answer

    def _lookup(self, qname: str, qtype: str) -> Answer:
        if qname.endswith(".in-addr.arpa"):
            return self._ptr(qname)
        for zone in self.zone.zones:
            if zone not in (".", "") and qname.endswith("." + zone):
                labels = qname[: -len(zone) - 1].split(".")
                return self._in_zone(qname, labels, qtype.upper())
        return Answer(qname, "NXDOMAIN")

    def _in_zone(self, qname: str, labels: list[str], qtype: str) -> Answer:
        if labels[-1] == "pod" and len(labels) == 3:
            return self._pod(qname, labels[0], labels[1])
        if labels[-1] != "svc" or len(labels) < 3:
            return Answer(qname, "NXDOMAIN")
        service = self.view.service(labels[-2], labels[-3])
        if service is None:
            return Answer(qname, "NXDOMAIN")
        rest = labels[:-3]
        if not rest:
            return self._service(qname, service, qtype)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(qname, service, rest[0][1:], rest[1][1:].upper())
        if len(rest) == 1 and is_headless(service):
            found = [e for e in self.view.ready_endpoints(service) if _host_label(e) == rest[0]]
            return self._addresses(qname, [e.ip for e in found])
        return Answer(qname, "NXDOMAIN")

    def _service_name(self, service: Obj) -> str:
        namespace, name = key(service)
        return f"{name}.{namespace}.svc.{self.zone.zones[0]}"

    def _service(self, qname: str, service: Obj, qtype: str) -> Answer:
        if spec(service).get("type") == "ExternalName":
            target = str(spec(service).get("externalName") or "").rstrip(".")
            return Answer(qname, records=[Record(qname, "CNAME", target)])
        if qtype == "SRV":
            return self._all_srv(qname, service)
        if is_headless(service):
            return self._addresses(qname, [e.ip for e in self.view.ready_endpoints(service)])
        return self._addresses(qname, [str(spec(service).get("clusterIP") or "")])

    def _addresses(self, qname: str, ips: list[str]) -> Answer:
        unique = list(dict.fromkeys(ip for ip in ips if ip))
        if not unique:
            return Answer(qname, "NXDOMAIN")
        return Answer(qname, records=[Record(qname, "A", ip) for ip in unique])

    def _srv(self, qname: str, service: Obj, port: str, protocol: str) -> Answer:
        records = [
            r for r in self._all_srv(qname, service, (port, protocol)).records if r.type == "SRV"
        ]
        return Answer(qname, "NOERROR" if records else "NXDOMAIN", records)

    def _all_srv(self, qname: str, service: Obj, only: tuple[str, str] | None = None) -> Answer:
        base = self._service_name(service)
        records: list[Record] = []
        for sp in spec(service).get("ports") or []:
            name, protocol = str(sp.get("name") or ""), str(sp.get("protocol") or "TCP")
            if not name or (only is not None and (name, protocol) != only):
                continue
            if not is_headless(service):
                records.append(Record(qname, "SRV", f"0 100 {sp.get('port')} {base}"))
                continue
            ready = self.view.ready_endpoints(service)
            weight = 100 // max(len(ready), 1)
            for ep in ready:
                port = ep.ports.get((name, protocol))
                if port is not None:
                    target = f"{_host_label(ep)}.{base}"
                    records.append(Record(qname, "SRV", f"0 {weight} {port} {target}"))
        return Answer(qname, "NOERROR" if records else "NXDOMAIN", records)

    def _pod(self, qname: str, dashed: str, namespace: str) -> Answer:
        ip = dashed.replace("-", ".")
        parts = ip.split(".")
        if self.zone.pods == "disabled" or len(parts) != 4 or not all(p.isdigit() for p in parts):
            return Answer(qname, "NXDOMAIN")
        if self.zone.pods == "verified":
            pod = self.view.pod_by_ip(ip)
            if pod is None or key(pod)[0] != namespace:
                return Answer(qname, "NXDOMAIN")
        return Answer(qname, records=[Record(qname, "A", ip)])

    def _ptr(self, qname: str) -> Answer:
        ip = ".".join(reversed(qname[: -len(".in-addr.arpa")].split(".")))
        service = self.view.service_by_ip(ip)
        if service is not None:
            return Answer(qname, records=[Record(qname, "PTR", self._service_name(service))])
        for svc in self.view.services:
            for ep in self.view.ready_endpoints(svc):
                if ep.ip == ip:
                    name = f"{_host_label(ep)}.{self._service_name(svc)}"
                    return Answer(qname, records=[Record(qname, "PTR", name)])
        return Answer(qname, "NXDOMAIN")


def _host_label(endpoint: Endpoint) -> str:
    return endpoint.hostname or _dashed(endpoint.ip)


def resolve(resolver: ZoneResolver, name: str, conf: ResolvConf, qtype: str = "A") -> Answer:
    """The first answer over the search list that is not NXDOMAIN (or the last NXDOMAIN)."""
    answer = Answer(name, "NXDOMAIN")
    for candidate in search_names(name, conf):
        answer = resolver.lookup(candidate, qtype)
        if answer.rcode != "NXDOMAIN":
            return answer
    return Answer(name.rstrip("."), "NXDOMAIN")

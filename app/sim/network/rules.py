"""The rules kube-proxy programs on a node, rendered the way the node's tools print
them: `iptables-save` / `iptables -t nat -L CHAIN -n` (iptables mode), `nft list
ruleset` (nftables mode) and `ipvsadm -Ln` (ipvs mode).

Chain names follow pkg/proxy/iptables/proxier.go: `KUBE-SVC-` + the first 16
characters of base32(sha256("ns/name:port" + protocol)), `KUBE-SEP-` the same over the
endpoint too. Rules exist only while kube-proxy runs on the node (`addons.proxy_mode`)
and follow the EndpointSlices: a Service without ready endpoints gets the filter
table's REJECT ("has no endpoints") instead of a KUBE-SVC chain.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from app.sim.network.addons import cluster_cidr, proxy_mode
from app.sim.network.view import ClusterView, Endpoint, Obj, is_headless, key, spec


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service with a ClusterIP, and its ready endpoints for that port."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # lower case, as iptables writes it
    cluster_ip: str
    port: int
    node_port: int | None
    endpoints: tuple[tuple[str, int], ...]

    @property
    def id(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def chain(self) -> str:
        return "KUBE-SVC-" + _hash(self.id + self.protocol)

    @property
    def external_chain(self) -> str:
        return "KUBE-EXT-" + _hash(self.id + self.protocol)

    def endpoint_chain(self, ip: str, port: int) -> str:
        return "KUBE-SEP-" + _hash(f"{self.id}{self.protocol}{ip}:{port}")


def service_ports(view: ClusterView) -> list[ServicePort]:
    out: list[ServicePort] = []
    for svc in view.services:
        if is_headless(svc) or not spec(svc).get("clusterIP") or _external_name(svc):
            continue
        ready = view.ready_endpoints(svc)
        for sp in spec(svc).get("ports") or []:
            out.append(_service_port(svc, sp, ready))
    return out


def _external_name(svc: Obj) -> bool:
    return spec(svc).get("type") == "ExternalName"


def _service_port(svc: Obj, sp: Obj, ready: list[Endpoint]) -> ServicePort:
    namespace, name = key(svc)
    port_name = str(sp.get("name") or "")
    protocol = str(sp.get("protocol") or "TCP")
    # kube-proxy's EndpointSliceCache sorts a port's endpoints by their "IP:port" string
    # (pkg/proxy/endpointslicecache.go, byEndpoint), whatever the slices' order.
    endpoints = tuple(
        sorted(
            (
                (e.ip, e.ports[(port_name, protocol)])
                for e in ready
                if (port_name, protocol) in e.ports
            ),
            key=lambda pair: f"{pair[0]}:{pair[1]}",
        )
    )
    node_port = (
        sp.get("nodePort") if spec(svc).get("type") in ("NodePort", "LoadBalancer") else None
    )
    return ServicePort(
        namespace,
        name,
        port_name,
        protocol.lower(),
        str(spec(svc).get("clusterIP")),
        int(sp.get("port") or 0),
        int(node_port) if node_port else None,
        endpoints,
    )


# ---- iptables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    chain: str
    target: str
    spec: str  # the iptables-save arguments before -j
    jump: str  # the target's own arguments
    protocol: str = "all"
    source: str = "0.0.0.0/0"
    destination: str = "0.0.0.0/0"
    detail: str = ""  # what `iptables -L` prints after the addresses

    def saved(self) -> str:
        text = f"-A {self.chain} {self.spec}".rstrip()
        return f"{text} -j {self.target}{(' ' + self.jump) if self.jump else ''}"


def _nat_rules(ports: list[ServicePort], cidr: str) -> list[Rule]:
    rules = [
        Rule(
            "PREROUTING",
            "KUBE-SERVICES",
            '-m comment --comment "kubernetes service portals"',
            "",
            detail="/* kubernetes service portals */",
        ),
        Rule(
            "OUTPUT",
            "KUBE-SERVICES",
            '-m comment --comment "kubernetes service portals"',
            "",
            detail="/* kubernetes service portals */",
        ),
        Rule(
            "POSTROUTING",
            "KUBE-POSTROUTING",
            '-m comment --comment "kubernetes postrouting rules"',
            "",
            detail="/* kubernetes postrouting rules */",
        ),
        Rule("KUBE-MARK-MASQ", "MARK", "", "--set-xmark 0x4000/0x4000", detail="MARK or 0x4000"),
    ]
    for sp in ports:
        if sp.endpoints:
            rules += _service_rules(sp, cidr)
    rules.append(
        Rule(
            "KUBE-SERVICES",
            "KUBE-NODEPORTS",
            '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
            'rule in this chain" -m addrtype --dst-type LOCAL',
            "",
            detail="/* kubernetes service nodeports; NOTE: this must be the last rule in "
            "this chain */ ADDRTYPE match dst-type LOCAL",
        )
    )
    return rules


def _service_rules(sp: ServicePort, cidr: str) -> list[Rule]:
    proto = sp.protocol
    comment = f'-m comment --comment "{sp.id} cluster IP"'
    match = f"-d {sp.cluster_ip}/32 -p {proto} {comment} -m {proto} --dport {sp.port}"
    shown = f"/* {sp.id} cluster IP */ {proto} dpt:{sp.port}"
    dst = sp.cluster_ip
    rules = [
        Rule("KUBE-SERVICES", sp.chain, match, "", proto, destination=dst, detail=shown),
        Rule(sp.chain, "KUBE-MARK-MASQ", f"! -s {cidr} {match}", "", proto, "!" + cidr, dst, shown),
    ]
    if sp.node_port:
        np_match = f'-p {proto} -m comment --comment "{sp.id}" -m {proto} --dport {sp.node_port}'
        np_shown = f"/* {sp.id} */ {proto} dpt:{sp.node_port}"
        rules += [
            Rule("KUBE-NODEPORTS", sp.external_chain, np_match, "", proto, detail=np_shown),
            Rule(
                sp.external_chain,
                "KUBE-MARK-MASQ",
                f'-m comment --comment "masquerade traffic for {sp.id} external destinations"',
                "",
                detail=f"/* masquerade traffic for {sp.id} external destinations */",
            ),
            Rule(sp.external_chain, sp.chain, "", ""),
        ]
    count = len(sp.endpoints)
    for index, (ip, port) in enumerate(sp.endpoints):
        sep = sp.endpoint_chain(ip, port)
        note = f'-m comment --comment "{sp.id} -> {ip}:{port}"'
        shown = f"/* {sp.id} -> {ip}:{port} */"
        if index < count - 1:
            probability = 1 / (count - index)
            note += f" -m statistic --mode random --probability {probability:.11f}"
            shown += f" statistic mode random probability {probability:.11f}"
        rules.append(Rule(sp.chain, sep, note, "", detail=shown))
        rules += [
            Rule(
                sep,
                "KUBE-MARK-MASQ",
                f'-s {ip}/32 -m comment --comment "{sp.id}"',
                "",
                source=ip,
                detail=f"/* {sp.id} */",
            ),
            Rule(
                sep,
                "DNAT",
                f'-p {proto} -m comment --comment "{sp.id}" -m {proto}',
                f"--to-destination {ip}:{port}",
                proto,
                detail=f"/* {sp.id} */ {proto} to:{ip}:{port}",
            ),
        ]
    return rules


def _filter_rules(ports: list[ServicePort]) -> list[Rule]:
    rules: list[Rule] = []
    for sp in ports:
        if sp.endpoints:
            continue
        proto = sp.protocol
        note = f'-m comment --comment "{sp.id} has no endpoints"'
        rules.append(
            Rule(
                "KUBE-SERVICES",
                "REJECT",
                f"-d {sp.cluster_ip}/32 -p {proto} {note} -m {proto} --dport {sp.port}",
                "--reject-with icmp-port-unreachable",
                proto,
                destination=sp.cluster_ip,
                detail=f"/* {sp.id} has no endpoints */ {proto} dpt:{sp.port} reject-with "
                "icmp-port-unreachable",
            )
        )
        if sp.node_port:
            rules.append(
                Rule(
                    "KUBE-EXTERNAL-SERVICES",
                    "REJECT",
                    f"-p {proto} {note} -m addrtype --dst-type LOCAL -m {proto} --dport "
                    f"{sp.node_port}",
                    "--reject-with icmp-port-unreachable",
                    proto,
                    detail=f"/* {sp.id} has no endpoints */ ADDRTYPE match dst-type LOCAL "
                    f"{proto} dpt:{sp.node_port} reject-with icmp-port-unreachable",
                )
            )
    return rules


_BUILTIN = {
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}
_BASE_CHAINS = {
    "nat": ("KUBE-MARK-MASQ", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-SERVICES"),
    "filter": ("KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-SERVICES"),
}


def table_rules(view: ClusterView, node: str, table: str) -> list[Rule] | None:
    """The rules of `table` kube-proxy keeps on `node`; None when it programs none."""
    if proxy_mode(view, node) != "iptables":
        return None
    ports = service_ports(view)
    return _nat_rules(ports, cluster_cidr(view)) if table == "nat" else _filter_rules(ports)


def _chains(table: str, rules: list[Rule] | None) -> list[str]:
    chains = list(_BUILTIN.get(table, ()))
    if rules is None:
        return chains
    for name in _BASE_CHAINS.get(table, ()):
        chains.append(name)
    for rule in rules:
        if rule.chain not in chains:
            chains.append(rule.chain)
    return chains


def iptables_save(view: ClusterView, node: str, only: str | None = None) -> str:
    out: list[str] = ["# Generated by iptables-save v1.8.10 (nf_tables)"]
    for table in ("filter", "nat"):
        if only and table != only:
            continue
        rules = table_rules(view, node, table)
        out.append(f"*{table}")
        for chain in _chains(table, rules):
            policy = "ACCEPT" if chain in _BUILTIN[table] else "-"
            out.append(f":{chain} {policy} [0:0]")
        out += [r.saved() for r in rules or []]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def iptables_list(view: ClusterView, node: str, table: str, chain: str | None) -> str | None:
    """`iptables -t TABLE -L [CHAIN] -n`; None when the chain does not exist."""
    rules = table_rules(view, node, table) or []
    chains = _chains(table, table_rules(view, node, table))
    if chain is not None and chain not in chains:
        return None
    blocks = []
    for name in [chain] if chain else chains:
        refs = sum(1 for r in rules if r.target == name)
        head = (
            f"Chain {name} (policy ACCEPT)"
            if name in _BUILTIN.get(table, ())
            else f"Chain {name} ({refs} references)"
        )
        lines = [head, f"{'target':<10} {'prot':<4} {'opt':<3} {'source':<20} {'destination':<20}"]
        for rule in rules:
            if rule.chain == name:
                lines.append(
                    f"{rule.target:<10} {rule.protocol:<4} {'--':<3} {rule.source:<20} "
                    f"{rule.destination:<20} {rule.detail}".rstrip()
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# ---- nftables and ipvs --------------------------------------------------------------


def nft_ruleset(view: ClusterView, node: str) -> str:
    """`nft list table ip kube-proxy` (empty when kube-proxy is not in nftables mode)."""
    if proxy_mode(view, node) != "nftables":
        return ""
    cidr = cluster_cidr(view)
    ports = service_ports(view)
    ips = sorted({sp.cluster_ip for sp in ports})
    lines = [
        "table ip kube-proxy {",
        '\tcomment "rules for kube-proxy"',
        "\tset cluster-ips {",
        "\t\ttype ipv4_addr",
        '\t\tcomment "Active ClusterIPs"',
        f"\t\telements = {{ {', '.join(ips)} }}" if ips else "",
        "\t}",
        "",
        "\tmap service-ips {",
        "\t\ttype ipv4_addr . inet_proto . inet_service : verdict",
        '\t\tcomment "ClusterIP, ExternalIP and LoadBalancer IP traffic"',
    ]
    live = [sp for sp in ports if sp.endpoints]
    entries = [
        f"{sp.cluster_ip} . {sp.protocol} . {sp.port} : goto {_nft_chain(sp)}" for sp in live
    ]
    if entries:
        lines.append("\t\telements = { " + ",\n\t\t\t     ".join(entries) + " }")
    lines += ["\t}", ""]
    dead = [sp for sp in ports if not sp.endpoints]
    lines += [
        "\tmap no-endpoint-services {",
        "\t\ttype ipv4_addr . inet_proto . inet_service : verdict",
        '\t\tcomment "vmap to drop or reject packets to services with no endpoints"',
    ]
    if dead:
        items = [
            f'{sp.cluster_ip} . {sp.protocol} . {sp.port} comment "{sp.id}" : goto reject-chain'
            for sp in dead
        ]
        lines.append("\t\telements = { " + ",\n\t\t\t     ".join(items) + " }")
    lines += ["\t}", ""]
    for sp in live:
        lines += _nft_service(sp, cidr)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nft_chain(sp: ServicePort) -> str:
    prefix = _hash(sp.id + sp.protocol)[:8]
    return f"service-{prefix}-{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}"


def _nft_service(sp: ServicePort, cidr: str) -> list[str]:
    chain = _nft_chain(sp)
    count = len(sp.endpoints)
    targets = ", ".join(
        f"{i} : goto endpoint-{_hash(f'{sp.id}{ip}:{port}')[:8]}-{sp.namespace}/{sp.name}/"
        f"{sp.protocol}/{sp.port_name}__{ip}/{port}"
        for i, (ip, port) in enumerate(sp.endpoints)
    )
    out = [
        f"\tchain {chain} {{",
        f"\t\tip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port} ip saddr != {cidr} jump "
        "mark-for-masquerade",
        f"\t\tnumgen random mod {count} vmap {{ {targets} }}",
        "\t}",
        "",
    ]
    for ip, port in sp.endpoints:
        out += [
            f"\tchain endpoint-{_hash(f'{sp.id}{ip}:{port}')[:8]}-{sp.namespace}/{sp.name}/"
            f"{sp.protocol}/{sp.port_name}__{ip}/{port} {{",
            f"\t\tip saddr {ip} jump mark-for-masquerade",
            f"\t\tmeta l4proto {sp.protocol} dnat to {ip}:{port}",
            "\t}",
            "",
        ]
    return out


def ipvsadm(view: ClusterView, node: str) -> str:
    """`ipvsadm -Ln`: a virtual server per ClusterIP (and node address for nodePorts)."""
    lines = [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]
    if proxy_mode(view, node) != "ipvs":
        return "\n".join(lines) + "\n"
    node_ip = view.nodes.get(node, "")
    for sp in sorted(service_ports(view), key=lambda s: (s.cluster_ip, s.port)):
        addresses = [f"{sp.cluster_ip}:{sp.port}"]
        if sp.node_port and node_ip:
            addresses.append(f"{node_ip}:{sp.node_port}")
        for address in addresses:
            lines.append(f"{sp.protocol.upper():<4} {address} rr")
            for ip, port in sp.endpoints:
                lines.append(f"  -> {f'{ip}:{port}':<28} Masq    1      0          0")
    return "\n".join(lines) + "\n"

"""Network clients of node shells and containers: `curl`, `wget`, `nc`, `nslookup`,
`host`, `dig` and `ping`, over `dataplane.Client` (names through the client's resolver,
connections through kube-proxy and NetworkPolicy).

Failures print what the real tools print: curl's exit 6 (`Could not resolve host`), 7
(`Couldn't connect to server`, a refused connection) and 28 (a timeout: a dropped
packet, `-m`/`--connect-timeout` or the kernel's connect timeout); busybox wget's
`bad address`, `can't connect to remote host` and `download timed out` (with `-T`).
`nslookup` prints busybox's format; busybox 1.28 images (the tag CKA tasks use) get
that version's older layout.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.sim.network import rules
from app.sim.network.dns import Answer, Record, ResolvConf
from app.sim.network.ingress_tls import ServedCertificate, issued_by_bundle
from app.sim.network.path import REFUSED, RESET, TIMEOUT, Unreachable
from app.sim.nodes.dataplane import Client, NameNotFound, Reply, TlsMismatch, reason
from app.sim.nodes.shell import Command, CommandResult, NodeShell, command, fail, ok, split_flags

TOOLS: dict[str, Command] = {}
# Linux's connect() gives up after the SYN retries (net.ipv4.tcp_syn_retries = 6).
KERNEL_CONNECT_MS = 134_120


def _tool(*names: str) -> Callable[[Command], Command]:
    def wrap(fn: Command) -> Command:
        for name in names:
            TOOLS[name] = fn
        return command(*names)(fn)

    return wrap


def client_of(sh: NodeShell) -> Client:
    factory = getattr(getattr(sh, "context", None), "client", None)
    if factory is not None:
        return factory()  # type: ignore[no-any-return]
    return Client.for_node(sh.nodes, sh.agent.name)


def split_url(url: str) -> tuple[str, str, int, str] | None:
    match = re.fullmatch(r"(?:(https?)://)?([^/:?#]+)(?::(\d+))?([/?].*)?", url)
    if match is None:
        return None
    scheme, host, port, path = match.groups()
    default = 443 if scheme == "https" else 80
    path = path or "/"
    return (
        scheme or "http",
        host,
        int(port) if port else default,
        path if path[0] == "/" else "/" + path,
    )


def unbundle(args: list[str], valued: str) -> list[str]:
    """`-qO-` -> `-q -O -`: a bundle of short options where a letter that takes a value
    takes the rest of the word."""
    out: list[str] = []
    for arg in args:
        if not arg.startswith("-") or arg.startswith("--") or len(arg) < 3:
            out.append(arg)
            continue
        body = arg[1:]
        for index, letter in enumerate(body):
            out.append("-" + letter)
            if letter in valued:
                if body[index + 1 :]:
                    out.append(body[index + 1 :])
                break
    return out


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# ---- curl ---------------------------------------------------------------------------

_CURL_VALUED = {
    "cacert",
    "resolve",
    "o",
    "m",
    "max-time",
    "connect-timeout",
    "w",
    "write-out",
    "H",
    "header",
    "X",
    "request",
    "d",
    "data",
    "u",
    "user",
    "A",
    "user-agent",
    "output",
}


def _curl_options(args: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(options, URLs, -H headers): every -H is kept, the rest last-one-wins."""
    headers: list[str] = []
    words = unbundle(args, "omwHXduA")
    kept: list[str] = []
    index = 0
    while index < len(words):
        if words[index] in ("-H", "--header") and index + 1 < len(words):
            headers.append(words[index + 1])
            index += 2
            continue
        kept.append(words[index])
        index += 1
    opts, rest = split_flags(kept, _CURL_VALUED)
    return opts, rest, headers


def _curl_timeout(opts: dict[str, str]) -> float | None:
    values = [_seconds(opts.get(k)) for k in ("connect-timeout", "m", "max-time")]
    present = [v for v in values if v is not None]
    return min(present) if present else None


@_tool("curl")
def _curl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest, header_lines = _curl_options(args)
    if not rest:
        return fail("curl: try 'curl --help' or 'curl --manual' for more information", 2)
    target = split_url(rest[0])
    if target is None:
        return fail("curl: (3) URL rejected: Bad hostname", 3)
    scheme, host, port, path = target
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    silent = "s" in opts or "silent" in opts
    show_errors = not silent or "S" in opts or "show-error" in opts
    # --resolve HOST:PORT:ADDRESS connects to ADDRESS; Host and SNI stay HOST.
    connect_to = _resolved(opts.get("resolve", ""), host, port)
    if connect_to != host:
        headers.setdefault("host", host if port in (80, 443) else f"{host}:{port}")
    sni = None if _is_address(host) else host
    try:
        reply = client_of(sh).http(connect_to, port, path, headers, scheme, sni, _method(opts))
    except TlsMismatch:
        text = "OpenSSL/3.5.1: error:0A00010B:SSL routines::wrong version number"
        return _curl_error(opts, 35, text, show_errors)
    except NameNotFound:
        return _curl_error(opts, 6, f"Could not resolve host: {host}", show_errors)
    except Unreachable as exc:
        if exc.reason == TIMEOUT:
            limit = _curl_timeout(opts)
            text = (
                f"Connection timed out after {int(limit * 1000) + 1} milliseconds"
                if limit is not None
                else f"Failed to connect to {host} port {port} after {KERNEL_CONNECT_MS} ms: "
                "Couldn't connect to server"
            )
            return _curl_error(opts, 28, text, show_errors)
        if exc.reason == RESET:
            return _curl_error(opts, 56, "Recv failure: Connection reset by peer", show_errors)
        text = f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server"
        return _curl_error(opts, 7, text, show_errors)
    if scheme == "https" and reply.tls is not None:
        problem = _verify_problem(sh, opts, reply.tls, host)
        if problem is not None and not ({"k", "insecure"} & set(opts)):
            return _curl_error(opts, 60, problem, show_errors)
    elif scheme == "https" and not ({"k", "insecure", "cacert"} & set(opts)):
        # The cluster's certificates are signed by its own CA (curl's default store
        # does not know it): -k, or --cacert with the service-account ca.crt.
        text = "SSL certificate problem: unable to get local issuer certificate"
        return _curl_error(opts, 60, text, show_errors)
    return _curl_reply(sh, opts, reply, host, port, path, headers, show_errors)


def _method(opts: dict[str, str]) -> str:
    """The request method: -X/--request, else HEAD for -I, POST with -d, else GET."""
    chosen = opts.get("X") or opts.get("request")
    if chosen:
        return chosen.upper()
    if "I" in opts or "head" in opts:
        return "HEAD"
    return "POST" if {"d", "data"} & set(opts) else "GET"


def _resolved(option: str, host: str, port: int) -> str:
    """The address `--resolve HOST:PORT:ADDRESS` gives host:port, else host."""
    name, _, rest = option.partition(":")
    wanted, _, address = rest.partition(":")
    if name.lower() == host.lower() and wanted == str(port) and address:
        return address.strip("[]")
    return host


def _verify_problem(
    sh: NodeShell, opts: dict[str, str], cert: ServedCertificate, host: str
) -> str | None:
    """What curl's certificate check says of the server's certificate (None: it
    passes). Trusted only through --cacert naming the issuing CA (or the certificate
    itself); then the name must match (subjectAltName, else the CN)."""
    path = opts.get("cacert")
    trusted = False
    if path and sh.fs.is_file(sh.path(path)):
        trusted = issued_by_bundle(cert, sh.fs.read(sh.path(path)))
    if not trusted:
        if cert.self_signed:
            return "SSL certificate problem: self-signed certificate"
        return "SSL certificate problem: unable to get local issuer certificate"
    if not cert.covers(host.lower()):
        return f"SSL: no alternative certificate subject name matches target host name '{host}'"
    return None


def _curl_error(opts: dict[str, str], code: int, text: str, show: bool) -> CommandResult:
    out = _write_out(opts, None)
    return CommandResult(code, out, f"curl: ({code}) {text}\n" if show else "")


def _write_out(opts: dict[str, str], reply: Reply | None) -> str:
    template = opts.get("w", opts.get("write-out"))
    if template is None:
        return ""
    code = f"{reply.status:03d}" if reply is not None else "000"
    size = str(len(reply.body.encode())) if reply is not None else "0"
    text = template.replace("%{http_code}", code).replace("%{response_code}", code)
    return text.replace("%{size_download}", size).replace("\\n", "\n")


def _head(reply: Reply) -> str:
    lines = [f"HTTP/1.1 {reply.status} {reason(reply.status)}".rstrip()]
    lines.append(f"Server: {reply.headers.get('server', 'nginx')}")
    lines += [
        "Content-Type: text/html",
        f"Content-Length: {len(reply.body.encode())}",
        "Connection: keep-alive",
    ]
    if "location" in reply.headers:
        lines.append(f"Location: {reply.headers['location']}")
    return "\r\n".join(lines) + "\r\n\r\n"


def _tls_lines(cert: ServedCertificate, verified: bool) -> str:
    """The certificate part of `curl -v` (OpenSSL build)."""

    def stamp(moment: datetime) -> str:
        return f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S %Y} GMT"

    if verified:
        result = "SSL certificate verify ok."
    elif cert.self_signed:
        result = "SSL certificate verify result: self-signed certificate (18), continuing anyway."
    else:
        result = (
            "SSL certificate verify result: unable to get local issuer certificate (20), "
            "continuing anyway."
        )
    return (
        "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384 / x25519 / RSASSA-PSS\n"
        "* Server certificate:\n"
        f"*  subject: {cert.subject}\n"
        f"*  start date: {stamp(cert.not_before)}\n"
        f"*  expire date: {stamp(cert.not_after)}\n"
        f"*  issuer: {cert.issuer}\n"
        f"*  {result}\n"
    )


def _curl_reply(
    sh: NodeShell,
    opts: dict[str, str],
    reply: Reply,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    show_errors: bool,
) -> CommandResult:
    if ("f" in opts or "fail" in opts) and reply.status >= 400:
        return _curl_error(
            opts, 22, f"The requested URL returned error: {reply.status}", show_errors
        )
    head_only = "I" in opts or "head" in opts
    body = _head(reply) if head_only else reply.body
    if "i" in opts or "include" in opts:
        body = _head(reply) + body
    err = ""
    if "v" in opts or "verbose" in opts:
        tls = ""
        if reply.tls is not None:
            tls = _tls_lines(reply.tls, _verify_problem(sh, opts, reply.tls, host) is None)
        err = (
            f"*   Trying {host}:{port}...\n* Connected to {host} port {port}\n"
            + tls
            + f"> {_method(opts)} {path} HTTP/1.1\n"
            f"> Host: {headers.get('host', host if port == 80 else f'{host}:{port}')}\n"
            "> User-Agent: curl/8.14.1\n> Accept: */*\n>\n"
            + "".join(f"< {line}\n" for line in _head(reply).split("\r\n") if line)
            + "<\n"
        )
    output = opts.get("o", opts.get("output"))
    if output and output != "-":
        if output != "/dev/null":
            sh.fs.write(sh.path(output), body, mtime=sh.stamp())
        body = ""
    return CommandResult(0, body + _write_out(opts, reply), err)


# ---- wget ---------------------------------------------------------------------------


@_tool("wget")
def _wget(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(
        unbundle(args, "OTUY"), {"O", "T", "timeout", "output-document", "U", "Y", "header"}
    )
    if not rest:
        return fail("BusyBox v1.37.0 multi-call binary.\n\nUsage: wget [-cqS] [-O FILE] URL", 1)
    target = split_url(rest[0])
    if target is None:
        return fail(f"wget: bad address '{rest[0]}'", 1)
    _scheme, host, port, path = target
    quiet = "q" in opts or "quiet" in opts
    client = client_of(sh)
    try:
        ip = client.address(host)
    except NameNotFound:
        # busybox names the address as the URL wrote it, port included (libbb's
        # str2sockaddr reports its whole "host:port" argument): `bad address 'api:8080'`.
        written = re.match(r"(?:https?://)?([^/?#]+)", rest[0])
        return fail(f"wget: bad address '{written.group(1) if written else host}'", 1)
    progress = "" if quiet else f"Connecting to {host}:{port} ({ip}:{port})\n"
    headers = {}
    if opts.get("header", "").lower().startswith("host:"):
        headers["host"] = opts["header"].split(":", 1)[1].strip()
    try:
        reply = client.http(ip, port, path, headers or {"host": host})
    except Unreachable as exc:
        if exc.reason == TIMEOUT and ("T" in opts or "timeout" in opts):
            return fail(f"{progress}wget: download timed out", 1)
        if exc.reason == RESET:
            return fail(f"{progress}wget: error getting response: {RESET}", 1)
        why = "Connection timed out" if exc.reason == TIMEOUT else REFUSED
        return fail(f"{progress}wget: can't connect to remote host ({ip}): {why}", 1)
    if reply.status >= 400:
        line = f"HTTP/1.1 {reply.status} {reason(reply.status)}".rstrip()
        return fail(f"{progress}wget: server returned error: {line}", 8)
    if "spider" in opts:
        return CommandResult(0, "", progress + ("" if quiet else "remote file exists\n"))
    output = opts.get("O", opts.get("output-document", ""))
    if output == "-":
        return CommandResult(0, reply.body, progress + ("" if quiet else "writing to stdout\n"))
    name = output or posixpath.basename(path.split("?", 1)[0]) or "index.html"
    sh.fs.write(sh.path(name), reply.body, mtime=sh.stamp())
    saved = "" if quiet else f"saving to '{name}'\n'{name}' saved\n"
    return CommandResult(0, "", progress + saved)


# ---- nc -----------------------------------------------------------------------------


@_tool("nc", "ncat", "netcat")
def _nc(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(unbundle(args, "w"), {"w", "W", "p", "s"})
    if "l" in opts:
        return fail("nc: listening works as a container's command (`nc -l -p PORT`)", 1)
    if len(rest) < 2 or not rest[1].split("-")[0].isdigit():
        return fail("BusyBox v1.37.0 multi-call binary.\n\nUsage: nc [OPTIONS] HOST PORT", 1)
    host = rest[0]
    verbose = "v" in opts
    protocol = "UDP" if "u" in opts else "TCP"
    client = client_of(sh)
    try:
        ip = client.address(host)
    except NameNotFound:
        return fail(f"nc: bad address '{host}'", 1)
    first, _, last = rest[1].partition("-")
    out: list[str] = []
    code = 0
    received = ""
    for port in range(int(first), int(last or first) + 1):
        try:
            landing = client.connect(ip, port, protocol)
        except Unreachable as exc:
            code = 1
            why = "Connection timed out" if exc.reason == TIMEOUT else REFUSED
            out.append(f"nc: {host} ({ip}:{port}): {why}\n")
            continue
        if verbose:
            out.append(f"{host} ({ip}:{port}) open\n")
        if "z" not in opts and not last:
            received = client.banner(landing)  # what the server sends (`nc -l`'s text)
    return CommandResult(code, received, "".join(out))


# ---- DNS ----------------------------------------------------------------------------

_NO_SERVERS = ";; connection timed out; no servers could be reached\n"


def _lookup(
    sh: NodeShell, name: str, qtype: str, server: str | None
) -> tuple[Client, str, Answer] | None:
    client = client_of(sh)
    if server:
        conf = client.resolv
        client.resolv = ResolvConf((server,), conf.search, conf.ndots)
    if _is_address(name):
        name = ".".join(reversed(name.split("."))) + ".in-addr.arpa."
        qtype = "PTR"
    try:
        used, answer = client.lookup(name, qtype)
    except Unreachable:
        return None
    return client, used, answer


def _is_address(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _old_busybox(sh: NodeShell) -> bool:
    image = str(getattr(getattr(sh, "context", None), "image", "") or "")
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return image.rsplit("/", 1)[-1].startswith("busybox") and tag.startswith("1.28")


@_tool("nslookup")
def _nslookup(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    qtype = "A"
    words = []
    for arg in args:
        if arg.startswith(("-type=", "-query=", "-q=")):
            qtype = arg.split("=", 1)[1].upper()
        elif not arg.startswith("-"):
            words.append(arg)
    if not words:
        return fail("BusyBox v1.37.0 multi-call binary.\n\nUsage: nslookup HOST [DNS_SERVER]", 1)
    name, server = words[0], (words[1] if len(words) > 1 else None)
    found = _lookup(sh, name, qtype, server)
    if found is None:
        return CommandResult(1, _NO_SERVERS, "")
    client, used, answer = found
    if _old_busybox(sh):
        return _nslookup_128(client, used, name, answer)
    head = f"Server:\t\t{used}\nAddress:\t{used}:53\n\n"
    if answer.rcode == "NXDOMAIN" or not answer.records:
        return CommandResult(1, head + f"** server can't find {name}: NXDOMAIN\n\n", "")
    return ok(head + "".join(_record_line(r) for r in answer.records) + "\n")


def _record_line(record: Record) -> str:
    if record.type == "A":
        return f"Name:\t{record.name}\nAddress: {record.value}\n"
    if record.type == "CNAME":
        return f"{record.name}\tcanonical name = {record.value}\n"
    if record.type == "SRV":
        return f"{record.name}\tservice = {record.value}\n"
    return f"{record.name}\tname = {record.value}\n"


def _nslookup_128(client: Client, used: str, name: str, answer: Answer) -> CommandResult:
    from app.sim.network.path import server_name
    from app.sim.network.view import ClusterView

    with client.nodes.lock:
        label = server_name(ClusterView(client.nodes.store), used)
    head = f"Server:    {used}\nAddress 1: {used}{(' ' + label) if label else ''}\n\n"
    if answer.rcode == "NXDOMAIN" or not answer.records:
        return CommandResult(1, head, f"nslookup: can't resolve '{name}'\n")
    if answer.records[0].type == "PTR":
        return ok(head + f"Name:      {name}\nAddress 1: {name} {answer.records[0].value}\n")
    lines = [f"Name:      {name}"]
    for index, record in enumerate(r for r in answer.records if r.type == "A"):
        lines.append(
            f"Address {index + 1}: {record.value} {_reverse(client, record.value)}".rstrip()
        )
    return ok(head + "\n".join(lines) + "\n")


def _reverse(client: Client, ip: str) -> str:
    try:
        _, answer = client.lookup(".".join(reversed(ip.split("."))) + ".in-addr.arpa.", "PTR")
    except Unreachable:
        return ""
    return answer.records[0].value if answer.records else ""


@_tool("host")
def _host(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(args, {"t"})
    if not rest:
        return fail("Usage: host [-t type] hostname [server]", 1)
    found = _lookup(sh, rest[0], opts.get("t", "A").upper(), rest[1] if len(rest) > 1 else None)
    if found is None:
        return CommandResult(1, ";; connection timed out; no servers could be reached\n", "")
    _, _, answer = found
    if not answer.records:
        return CommandResult(1, f"Host {rest[0]} not found: 3(NXDOMAIN)\n", "")
    words = {
        "A": "has address",
        "CNAME": "is an alias for",
        "SRV": "has SRV record",
        "PTR": "domain name pointer",
    }
    return ok("".join(f"{r.name} {words[r.type]} {r.value}\n" for r in answer.records))


@_tool("dig")
def _dig(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    short = "+short" in args
    words = [a for a in args if not a.startswith(("+", "-"))]
    server = next((w[1:] for w in words if w.startswith("@")), None)
    words = [w for w in words if not w.startswith("@")]
    qtype = "A"
    if len(words) > 1 and words[1].upper() in ("A", "SRV", "CNAME", "PTR"):
        qtype = words[1].upper()
    name = words[0] if words else "."
    found = _lookup(sh, name.rstrip(".") + ".", qtype, server)
    if found is None:
        return CommandResult(9, ";; communications error: timed out\n" + _NO_SERVERS, "")
    _, used, answer = found
    if short:
        return ok("".join(f"{r.value}{'.' if r.type != 'A' else ''}\n" for r in answer.records))
    status = answer.rcode
    lines = [
        f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 4242",
        f";; QUESTION SECTION:\n;{name.rstrip('.')}.\t\t\tIN\t{qtype}",
        "",
    ]
    if answer.records:
        lines.append(";; ANSWER SECTION:")
        lines += [f"{r.name}.\t30\tIN\t{r.type}\t{r.value}" for r in answer.records]
        lines.append("")
    lines.append(f";; SERVER: {used}#53({used}) (UDP)")
    return ok("\n".join(lines) + "\n")


# ---- ping ---------------------------------------------------------------------------


@_tool("ping")
def _ping(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(unbundle(args, "cWw"), {"c", "W", "w"})
    host = rest[0] if rest else ""
    count = int(opts.get("c", "4") or 4)
    client = client_of(sh)
    try:
        ip = client.address(host)
    except NameNotFound:
        return fail(f"ping: bad address '{host}'", 1)
    answers = _echo_replies(client, ip)
    lines = [f"PING {host} ({ip}): 56 data bytes"]
    if answers:
        lines += [f"64 bytes from {ip}: seq={n} ttl=64 time=0.081 ms" for n in range(count)]
    received = count if answers else 0
    lines += [
        "",
        f"--- {host} ping statistics ---",
        f"{count} packets transmitted, {received} packets received, "
        f"{0 if answers else 100}% packet loss",
    ]
    if answers:
        lines.append("round-trip min/avg/max = 0.081/0.081/0.081 ms")
    return CommandResult(0 if answers else 1, "\n".join(lines) + "\n", "")


def _echo_replies(client: Client, ip: str) -> bool:
    """Whether ICMP echo gets an answer: pods and nodes answer; a ClusterIP is only a
    DNAT rule for its ports (nobody answers in iptables mode)."""

    with client.nodes.lock:
        view = client.view()
        if ip == client.source.ip or ip.startswith("127."):
            return True
        return view.pod_by_ip(ip) is not None or view.node_by_ip(ip) is not None


# ---- kube-proxy's rules (node shells) ------------------------------------------------


def _view(sh: NodeShell) -> Any:
    from app.sim.network.view import ClusterView

    return ClusterView(sh.nodes.store)


@command("iptables-save", "iptables-nft-save", "iptables-legacy-save")
def _iptables_save(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, _ = split_flags(args, {"t", "table"})
    table = opts.get("t", opts.get("table"))
    if table not in (None, "nat", "filter", "mangle", "raw"):
        return fail(f"iptables-save: Table `{table}' does not exist", 1)
    return ok(rules.iptables_save(_view(sh), sh.agent.name, table))


@command("iptables", "iptables-nft", "iptables-legacy")
def _iptables(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(unbundle(args, "t"), {"t", "table"})
    table = opts.get("t", opts.get("table", "filter"))
    if table not in ("nat", "filter", "mangle", "raw"):
        return fail(
            f"iptables v1.8.10 (nf_tables): table '{table}' does not exist\n"
            "Perhaps iptables or your kernel needs to be upgraded.",
            3,
        )
    if "S" in opts or "list-rules" in opts:
        saved = rules.iptables_save(_view(sh), sh.agent.name, table)
        return ok(_list_rules(saved, rest[0] if rest else None))
    if "L" not in opts and "list" not in opts:
        return fail("iptables: only listing (-L, -S) is simulated: kube-proxy owns these rules", 2)
    chain = rest[0] if rest else None
    listing = rules.iptables_list(_view(sh), sh.agent.name, table, chain)
    if listing is None:
        return fail("iptables: No chain/target/match by that name.", 1)
    return ok(listing)


def _list_rules(saved: str, chain: str | None) -> str:
    """`iptables -S [CHAIN]` from iptables-save text: `-P` for built-in chains, `-N`
    for the others, then their `-A` rules."""
    out: list[str] = []
    for line in saved.splitlines():
        if line.startswith(":"):
            name, policy = line[1:].split()[:2]
            if chain is None or name == chain:
                out.append(f"-P {name} {policy}" if policy != "-" else f"-N {name}")
        elif line.startswith("-A") and (chain is None or line.split()[1] == chain):
            out.append(line)
    return "\n".join(out) + "\n"


@command("nft")
def _nft(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    words = [a for a in args if not a.startswith("-")]
    text = rules.nft_ruleset(_view(sh), sh.agent.name)
    if words[:2] == ["list", "ruleset"]:
        return ok(text)
    if words[:2] == ["list", "table"] and len(words) >= 3:
        name = words[-1]
        if name == "kube-proxy" and text:
            return ok(text)
        family = words[2] if len(words) >= 4 else "ip"
        return fail(
            f"Error: No such file or directory\nlist table {family} {name}\n"
            f"{' ' * (12 + len(family))}{'^' * len(name)}",
            1,
        )
    if words[:1] == ["list"] and words[1:2] == ["tables"]:
        return ok("table ip kube-proxy\n" if text else "")
    return fail("Error: only `nft list ruleset|tables|table ip kube-proxy` is simulated", 1)


@command("ipvsadm")
def _ipvsadm(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok(rules.ipvsadm(_view(sh), sh.agent.name))

"""CoreDNS's Corefile as the CoreDNS process reads it at start.

`parse(text, path)` returns the server blocks, or raises `CorefileError` with the line
CoreDNS logs before it exits (the caddyfile parser's `FILE:LINE - Error during parsing:
...`, prefixed with `plugin/NAME: ` when a plugin's setup refused its arguments). The
simulator only needs what the `kubernetes` plugin is told (its zones and `pods` mode)
and whether the file is one CoreDNS would run with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Plugins compiled into the upstream image (coredns/plugin.cfg), the ones a Corefile of
# a kubeadm cluster or a CKA task uses.
PLUGINS = frozenset(
    {
        "acl", "any", "auto", "autopath", "bind", "bufsize", "cache", "cancel", "chaos",
        "debug", "dns64", "dnssec", "dnstap", "errors", "file", "forward", "grpc", "header",
        "health", "hosts", "k8s_external", "kubernetes", "loadbalance", "local", "log",
        "loop", "metadata", "minimal", "nsid", "pprof", "prometheus", "ready", "reload",
        "rewrite", "root", "secondary", "template", "timeouts", "tls", "trace", "transfer",
        "tsig", "view", "whoami",
    }
)  # fmt: skip
_KUBERNETES_OPTIONS = frozenset(
    {
        "endpoint", "tls", "kubeconfig", "namespaces", "labels", "namespace_labels", "pods",
        "endpoint_pod_names", "ttl", "noendpoints", "fallthrough", "ignore", "multicluster",
        "startup_timeout", "apiserver_qps", "apiserver_burst", "apiserver_max_inflight",
    }
)  # fmt: skip
_TOKEN = re.compile(r'"[^"]*"|[{}]|[^\s{}"]+')


class CorefileError(Exception):
    """A Corefile CoreDNS refuses; the message is its log line."""


@dataclass
class Directive:
    name: str
    args: list[str]
    line: int
    block: list[Directive] = field(default_factory=list)


@dataclass
class ServerBlock:
    zones: list[str]
    directives: list[Directive]

    def plugin(self, name: str) -> Directive | None:
        return next((d for d in self.directives if d.name == name), None)


@dataclass(frozen=True)
class KubernetesZone:
    """What the `kubernetes` plugin serves: its zones and how it answers pod names,
    with the `hosts` entries and `rewrite name` rules of the same server block (both
    run before it, in CoreDNS's plugin order)."""

    zones: tuple[str, ...] = ("cluster.local",)
    pods: str = "insecure"  # disabled (the default), insecure or verified
    hosts: tuple[tuple[str, str], ...] = ()  # (name, address) inline in a hosts block
    rewrites: tuple[
        tuple[str, str, str], ...
    ] = ()  # (exact|prefix|suffix|substring|regex, from, to)

    def rewrite(self, qname: str) -> str:
        """The query name after the block's `rewrite name` rules (the first match)."""
        for kind, old, new in self.rewrites:
            changed = _rewritten(kind, old.rstrip("."), new.rstrip("."), qname)
            if changed is not None:
                return changed
        return qname


def _rewritten(kind: str, old: str, new: str, qname: str) -> str | None:
    if kind == "exact":
        return new if qname == old else None
    if kind == "prefix":
        return new + qname[len(old) :] if qname.startswith(old) else None
    if kind == "suffix":
        return qname[: -len(old)] + new if old and qname.endswith(old) else None
    if kind == "substring":
        return qname.replace(old, new) if old in qname else None
    if kind == "regex":
        try:
            match = re.fullmatch(old, qname)
        except re.error:
            return None
        return (
            re.sub(r"\{(\d+)\}", lambda m: match.group(int(m.group(1))) or "", new)
            if match
            else None
        )
    return None


def _lines(text: str) -> list[tuple[int, list[str]]]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = _TOKEN.findall(raw.split("#", 1)[0])
        if words:
            out.append((number, [w.strip('"') for w in words]))
    return out


def parse(text: str, path: str = "/etc/coredns/Corefile") -> list[ServerBlock]:
    """The server blocks of a Corefile; CorefileError when CoreDNS would not start."""
    lines = _lines(text)
    blocks: list[ServerBlock] = []
    index = 0
    last = lines[-1][0] if lines else 1
    while index < len(lines):
        number, words = lines[index]
        if words[-1] != "{" or len(words) < 2:
            raise CorefileError(
                f"{path}:{number} - Error during parsing: Unexpected token "
                f"'{words[-1]}', expecting '{{'"
            )
        directives, index = _body(lines, index + 1, path, last)
        blocks.append(ServerBlock([w.rstrip(":") for w in words[:-1]], directives))
    if not blocks:
        raise CorefileError(f"{path}:1 - Error during parsing: no server blocks defined")
    for block in blocks:
        _check_plugins(block, path)
    return blocks


def _body(
    lines: list[tuple[int, list[str]]], index: int, path: str, last: int
) -> tuple[list[Directive], int]:
    """The directives of a `{ ... }` block from `index`, and the index after its `}`."""
    out: list[Directive] = []
    while index < len(lines):
        number, words = lines[index]
        if words == ["}"]:
            return out, index + 1
        if words[-1] == "{":
            directive = Directive(words[0], words[1:-1], number)
            directive.block, index = _body(lines, index + 1, path, last)
            out.append(directive)
            continue
        if "{" in words or "}" in words:
            raise CorefileError(f"{path}:{number} - Error during parsing: Unexpected token")
        out.append(Directive(words[0], words[1:], number))
        index += 1
    raise CorefileError(f"{path}:{last} - Error during parsing: Unexpected EOF")


def _check_plugins(block: ServerBlock, path: str) -> None:
    for directive in block.directives:
        if directive.name not in PLUGINS:
            raise CorefileError(
                f"{path}:{directive.line} - Error during parsing: Unknown directive "
                f"'{directive.name}'"
            )
        if directive.name == "forward" and len(directive.args) < 2:
            raise CorefileError(
                f"plugin/forward: {path}:{directive.line} - Error during parsing: Wrong "
                "argument count or unexpected line ending after "
                f"'{directive.args[0] if directive.args else 'forward'}'"
            )
        if directive.name == "kubernetes":
            _check_kubernetes(directive, path)


def _check_kubernetes(directive: Directive, path: str) -> None:
    for option in directive.block:
        if option.name not in _KUBERNETES_OPTIONS:
            raise CorefileError(
                f"plugin/kubernetes: {path}:{option.line} - Error during parsing: unknown "
                f"property '{option.name}'"
            )
        if option.name == "pods" and option.args[:1] not in (
            ["disabled"],
            ["insecure"],
            ["verified"],
        ):
            raise CorefileError(
                f"plugin/kubernetes: {path}:{option.line} - Error during parsing: Wrong "
                "argument count or unexpected line ending after 'pods'"
            )


def kubernetes_zone(blocks: list[ServerBlock]) -> KubernetesZone | None:
    """The `kubernetes` plugin's zones and pod mode, None when no block has one."""
    for block in blocks:
        directive = block.plugin("kubernetes")
        if directive is None:
            continue
        zones = tuple(z.rstrip(".") for z in directive.args) or tuple(
            z.rstrip(".") for z in block.zones if z not in (".", ".:53")
        )
        pods = next((o.args[0] for o in directive.block if o.name == "pods"), "disabled")
        return KubernetesZone(zones or ("cluster.local",), pods, _hosts(block), _rewrites(block))
    return None


def _hosts(block: ServerBlock) -> tuple[tuple[str, str], ...]:
    """Inline `IP NAME...` entries of the block's `hosts` plugin."""
    directive = block.plugin("hosts")
    out: list[tuple[str, str]] = []
    for entry in directive.block if directive is not None else []:
        if entry.name.count(".") == 3 and entry.name.replace(".", "").isdigit():
            out += [(name.rstrip(".").lower(), entry.name) for name in entry.args]
    return tuple(out)


def _rewrites(block: ServerBlock) -> tuple[tuple[str, str, str], ...]:
    """`rewrite [continue|stop] name [exact|prefix|suffix|substring|regex] FROM TO`."""
    out: list[tuple[str, str, str]] = []
    for directive in block.directives:
        args = [a for a in directive.args if a not in ("continue", "stop")]
        if directive.name != "rewrite" or args[:1] != ["name"]:
            continue
        args = args[1:]
        kind = args[0] if args and args[0] in _REWRITE_KINDS else "exact"
        rest = args[1:] if args and args[0] in _REWRITE_KINDS else args
        if len(rest) >= 2:
            out.append((kind, rest[0].lower(), rest[1].lower()))
    return tuple(out)


_REWRITE_KINDS = frozenset({"exact", "prefix", "suffix", "substring", "regex"})

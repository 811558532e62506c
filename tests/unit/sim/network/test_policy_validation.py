"""NetworkPolicy validation and defaulting with upstream's paths and messages."""

from __future__ import annotations

from typing import Any

from app.sim.apiserver import validation as v
from app.sim.apiserver.defaults import apply_defaults
from app.sim.machinery.resources import builtin_registry

NETPOL = builtin_registry().by_kind("networking.k8s.io/v1", "NetworkPolicy")
assert NETPOL is not None


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"podSelector": {}, **spec},
    }


def messages(obj: dict[str, Any]) -> dict[str, str]:
    assert NETPOL is not None
    return {c.field: c.message for c in v.validate_object(obj, NETPOL)}


def test_a_complete_policy_is_valid() -> None:
    obj = policy(
        policyTypes=["Ingress", "Egress"],
        ingress=[
            {
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {}},
                ],
                "ports": [{"protocol": "TCP", "port": 6379}, {"port": "http"}],
            }
        ],
        egress=[
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"port": 32000, "endPort": 32768}],
            }
        ],
    )
    assert messages(obj) == {}


def test_ports_are_checked_as_upstream() -> None:
    obj = policy(
        ingress=[
            {
                "ports": [
                    {"protocol": "ICMP", "port": 0},
                    {"port": 100, "endPort": 90},
                    {"port": "web", "endPort": 90},
                    {"endPort": 90},
                    {"port": "Not_A_Name"},
                ]
            }
        ]
    )
    at = "spec.ingress[0].ports"
    assert messages(obj) == {
        f"{at}[0].protocol": 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        f"{at}[0].port": "Invalid value: 0: must be between 1 and 65535, inclusive",
        f"{at}[1].endPort": "Invalid value: 90: must be greater than or equal to `port`",
        f"{at}[2].endPort": "Invalid value: 90: may not be specified when `port` is non-numeric",
        f"{at}[3].endPort": "Invalid value: 90: may not be specified when `port` is not specified",
        f"{at}[4].port": (
            'Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), '
            "and hyphens (-)"
        ),
    }


def test_peers_need_one_kind_and_ip_blocks_stand_alone() -> None:
    obj = policy(
        ingress=[
            {
                "from": [
                    {},
                    {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
                    {"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}},
                ]
            }
        ]
    )
    assert messages(obj) == {
        "spec.ingress[0].from[0]": "Required value: must specify a peer",
        "spec.ingress[0].from[1]": "Forbidden: may not specify both ipBlock and another peer",
        "spec.ingress[0].from[2].namespaceSelector.matchExpressions[0].operator": (
            'Unsupported value: "Is": supported values: "In", "NotIn", "Exists", "DoesNotExist"'
        ),
    }


def test_ip_blocks_need_a_cidr_and_excepts_strictly_inside() -> None:
    obj = policy(
        egress=[
            {
                "to": [
                    {"ipBlock": {"cidr": ""}},
                    {"ipBlock": {"cidr": "10.0.0/8"}},
                    {"ipBlock": {"cidr": "10.1.2.3/16"}},
                    {
                        "ipBlock": {
                            "cidr": "10.0.0.0/16",
                            "except": ["10.0.0.0/16", "192.168.0.0/24", "10.0.1.0/24"],
                        }
                    },
                ]
            }
        ]
    )
    to = "spec.egress[0].to"
    subset = "must be a strict subset of `cidr`"
    assert messages(obj) == {
        f"{to}[0].ipBlock.cidr": "Required value",
        f"{to}[1].ipBlock.cidr": (
            'Invalid value: "10.0.0/8": must be a valid CIDR value, '
            "(e.g. 10.9.8.0/24 or 2001:db8::/64)"
        ),
        f"{to}[2].ipBlock.cidr": (
            'Invalid value: "10.1.2.3/16": must not have bits set beyond the prefix length'
        ),
        f"{to}[3].ipBlock.except[0]": f'Invalid value: "10.0.0.0/16": {subset}',
        f"{to}[3].ipBlock.except[1]": f'Invalid value: "192.168.0.0/24": {subset}',
    }


def test_policy_types_are_ingress_or_egress_at_most_twice() -> None:
    assert messages(policy(policyTypes=["Inbound"])) == {
        "spec.policyTypes[0]": 'Unsupported value: "Inbound": supported values: "Ingress", "Egress"'
    }
    three = messages(policy(policyTypes=["Ingress", "Egress", "Ingress"]))
    assert list(three) == ["spec.policyTypes"]
    assert three["spec.policyTypes"].endswith("may not specify more than two policyTypes")


def test_policy_types_default_from_the_rules_present() -> None:
    assert NETPOL is not None
    only_ingress = apply_defaults(policy(ingress=[{}]), NETPOL)
    assert only_ingress["spec"]["policyTypes"] == ["Ingress"]
    both = apply_defaults(policy(policyTypes=[], egress=[{"ports": [{"port": 53}]}]), NETPOL)
    assert both["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert both["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    kept = apply_defaults(policy(policyTypes=["Egress"]), NETPOL)
    assert kept["spec"]["policyTypes"] == ["Egress"]


INGRESS = builtin_registry().by_kind("networking.k8s.io/v1", "Ingress")


def ingress(host: str, service: dict[str, Any], tls_host: str = "ok.example.com") -> dict[str, Any]:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": service}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "rules": [{"host": host, "http": {"paths": [path]}}],
            "tls": [{"hosts": [tls_host], "secretName": "tls"}],
        },
    }


def ingress_messages(obj: dict[str, Any]) -> dict[str, str]:
    assert INGRESS is not None
    return {c.field: c.message for c in v.validate_object(obj, INGRESS)}


def test_ingress_hosts_and_backends_are_checked() -> None:
    good = ingress("*.example.com", {"name": "web", "port": {"name": "http"}})
    assert ingress_messages(good) == {}
    backend = "spec.rules[0].http.paths[0].backend"
    assert ingress_messages(ingress("10.0.0.1", {"name": "Web_1", "port": {}}, "*.bad*")) == {
        "spec.rules[0].host": 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
        f"{backend}.service.name": (
            'Invalid value: "Web_1": a DNS-1035 label must consist of lower case alphanumeric '
            "characters or '-', start with an alphabetic character, and end with an "
            "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ),
        backend: "Required value: port name or number is required",
        "spec.tls[0].hosts[0]": ingress_messages(ingress("a.example.com", {}, "*.bad*"))[
            "spec.tls[0].hosts[0]"
        ],
    }
    both = ingress_messages(
        ingress("a.example.com", {"name": "web", "port": {"name": "http", "number": 80}})
    )
    assert both == {backend: 'Invalid value: "": cannot set both port name & port number'}
    big = ingress_messages(ingress("a.example.com", {"name": "web", "port": {"number": 70000}}))
    assert big == {
        f"{backend}.service.port.number": (
            "Invalid value: 70000: must be between 1 and 65535, inclusive"
        )
    }
    wildcard = ingress_messages(ingress("*.bad*", {"name": "web", "port": {"number": 80}}))
    assert wildcard["spec.rules[0].host"].startswith(
        "Invalid value: \"*.bad*\": a wildcard DNS-1123 subdomain must start with '*.'"
    )

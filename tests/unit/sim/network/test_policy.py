"""NetworkPolicy evaluation (`app.sim.network.policy.allowed`) against a real store:
isolation per direction, peers, ports, ipBlock, node traffic, and policy changes."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim.machinery.store import ObjectStore
from app.sim.network.policy import NETWORK_POLICIES, Peer, allowed, namespace_policies

NODE01, NODE02 = "172.30.1.3", "172.30.1.4"


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


def _pod(
    name: str,
    namespace: str,
    ip: str,
    host: str,
    labels: dict[str, str],
    ports: list[dict[str, Any]] | None = None,
    host_network: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "nginx", "ports": ports or []}]
    }
    if host_network:
        spec["hostNetwork"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
        "status": {"phase": "Running", "podIP": ip, "hostIP": host},
    }


class World:
    """A store with namespaces, pods and helpers to add policies and ask `allowed`."""

    def __init__(self) -> None:
        self.store = ObjectStore()
        for ns in (
            _namespace("default"),
            _namespace("prod", team="prod"),
            _namespace("dev", team="dev"),
            _namespace("kube-system"),
        ):
            self.store.create("", "namespaces", ns)
        http = [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
        dns = [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
        ]
        pods = [
            _pod("web", "default", "10.244.1.10", NODE01, {"app": "web"}, http),
            _pod("client", "default", "10.244.2.10", NODE02, {"app": "client"}),
            _pod("db", "default", "10.244.1.11", NODE01, {"app": "db"}),
            _pod("api", "prod", "10.244.2.11", NODE02, {"app": "api"}),
            _pod("client", "prod", "10.244.2.12", NODE02, {"app": "client"}),
            _pod("api", "dev", "10.244.1.12", NODE01, {"app": "api"}),
            _pod("coredns", "kube-system", "10.244.1.2", NODE01, {"k8s-app": "kube-dns"}, dns),
            _pod("proxy", "kube-system", NODE02, NODE02, {"k8s-app": "proxy"}, host_network=True),
        ]
        self.pods: dict[str, dict[str, Any]] = {}
        for pod in pods:
            created = self.store.create("", "pods", pod)
            self.pods[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = created

    def peer(self, ref: str) -> Peer:
        """`ns/name` of a pod, or a bare IP (a node or an address outside the cluster)."""
        if "/" not in ref:
            return Peer(ref)
        pod = self.pods[ref]
        return Peer(pod["status"]["podIP"], pod)

    def policy(self, name: str, spec: dict[str, Any], namespace: str = "default") -> None:
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        self.store.create(*NETWORK_POLICIES, body)

    def allows(self, source: str, destination: str, port: int = 80, protocol: str = "TCP") -> bool:
        return allowed(self.store, self.peer(source), self.peer(destination), port, protocol)


@pytest.fixture
def world() -> World:
    return World()


WEB = {"matchLabels": {"app": "web"}}


def test_without_policies_every_connection_is_allowed(world: World) -> None:
    assert world.allows("default/client", "default/web")
    assert world.allows("prod/api", "default/db", 5432)
    assert world.allows("default/web", "8.8.8.8", 443)


def test_default_deny_ingress_isolates_every_pod_of_its_namespace_only(world: World) -> None:
    world.policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not world.allows("default/client", "default/web")
    assert not world.allows("prod/api", "default/db", 5432)
    # Other namespaces stay open, and egress from the isolated pods is not restricted.
    assert world.allows("default/web", "prod/api")
    assert world.allows("default/web", "8.8.8.8", 443)


def test_policy_without_rules_denies_only_the_pods_it_selects(world: World) -> None:
    world.policy("web-closed", {"podSelector": WEB, "ingress": []})
    assert not world.allows("default/client", "default/web")
    assert world.allows("default/client", "default/db")


def test_an_empty_rule_allows_everything(world: World) -> None:
    world.policy("default-deny", {"podSelector": {}})
    world.policy("web-open", {"podSelector": WEB, "ingress": [{}]})
    assert world.allows("prod/api", "default/web")
    assert world.allows("203.0.113.9", "default/web", 12345)
    assert not world.allows("prod/api", "default/db")


def test_pod_selector_peer_means_pods_of_the_policy_namespace(world: World) -> None:
    world.policy(
        "web-from-client",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        },
    )
    assert world.allows("default/client", "default/web")
    assert not world.allows("default/db", "default/web")
    # Same labels in another namespace: not selected by a bare podSelector.
    assert not world.allows("prod/client", "default/web")


def test_namespace_selector_peer_admits_every_pod_of_matching_namespaces(world: World) -> None:
    world.policy(
        "web-from-prod",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "prod"}}}]}],
        },
    )
    assert world.allows("prod/api", "default/web")
    assert world.allows("prod/client", "default/web")
    assert not world.allows("dev/api", "default/web")
    assert not world.allows("default/client", "default/web")


def test_namespace_selector_matches_the_automatic_name_label(world: World) -> None:
    world.policy(
        "web-from-dev",
        {
            "podSelector": WEB,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "dev"}
                            }
                        }
                    ]
                }
            ],
        },
    )
    assert world.allows("dev/api", "default/web")
    assert not world.allows("prod/api", "default/web")


def test_both_selectors_in_one_peer_must_both_match(world: World) -> None:
    world.policy(
        "and",
        {
            "podSelector": WEB,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "prod"}},
                            "podSelector": {"matchLabels": {"app": "client"}},
                        }
                    ]
                }
            ],
        },
    )
    assert world.allows("prod/client", "default/web")
    assert not world.allows("prod/api", "default/web")
    assert not world.allows("default/client", "default/web")


def test_selectors_in_separate_peers_add_up(world: World) -> None:
    world.policy(
        "or",
        {
            "podSelector": WEB,
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"team": "prod"}}},
                        {"podSelector": {"matchLabels": {"app": "client"}}},
                    ]
                }
            ],
        },
    )
    assert world.allows("prod/api", "default/web")
    assert world.allows("default/client", "default/web")
    assert not world.allows("dev/api", "default/web")
    assert not world.allows("default/db", "default/web")


def test_match_expressions_in_peer_selectors(world: World) -> None:
    world.policy(
        "not-dev",
        {
            "podSelector": WEB,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "team", "operator": "NotIn", "values": ["dev"]}
                                ]
                            }
                        }
                    ]
                }
            ],
        },
    )
    assert world.allows("prod/api", "default/web")
    assert world.allows("default/client", "default/web")
    assert not world.allows("dev/api", "default/web")


def test_ip_block_with_except_matches_pod_and_outside_addresses(world: World) -> None:
    world.policy(
        "web-from-block",
        {
            "podSelector": WEB,
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "10.244.2.0/24", "except": ["10.244.2.12/32"]}}]}
            ],
        },
    )
    assert world.allows("default/client", "default/web")  # 10.244.2.10
    assert world.allows("prod/api", "default/web")  # 10.244.2.11
    assert not world.allows("prod/client", "default/web")  # excepted
    assert not world.allows("dev/api", "default/web")  # 10.244.1.12
    assert not world.allows("198.51.100.7", "default/web")


def test_egress_ip_block_to_outside_addresses(world: World) -> None:
    world.policy(
        "client-out",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}],
        },
    )
    assert world.allows("default/client", "93.184.216.34", 443)
    assert not world.allows("default/client", "default/web")


def test_numeric_ports_and_protocols(world: World) -> None:
    world.policy(
        "web-ports",
        {
            "podSelector": WEB,
            "ingress": [
                {"ports": [{"port": 80}, {"protocol": "UDP", "port": 5353}, {"protocol": "SCTP"}]}
            ],
        },
    )
    assert world.allows("default/client", "default/web", 80)
    assert not world.allows("default/client", "default/web", 8080)
    assert not world.allows("default/client", "default/web", 80, "UDP")
    assert world.allows("default/client", "default/web", 5353, "UDP")
    assert not world.allows("default/client", "default/web", 5353, "TCP")
    # A port entry without a number covers every port of its protocol.
    assert world.allows("default/client", "default/web", 9999, "SCTP")


def test_end_port_makes_a_range(world: World) -> None:
    world.policy(
        "web-range",
        {
            "podSelector": WEB,
            "ingress": [{"ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}],
        },
    )
    assert world.allows("default/client", "default/web", 32000)
    assert world.allows("default/client", "default/web", 32768)
    assert not world.allows("default/client", "default/web", 31999)
    assert not world.allows("default/client", "default/web", 32769)


def test_named_ports_resolve_against_the_destination_pod(world: World) -> None:
    world.policy("web-http", {"podSelector": WEB, "ingress": [{"ports": [{"port": "http"}]}]})
    assert world.allows("default/client", "default/web", 80)
    assert not world.allows("default/client", "default/web", 8080)
    # The name exists only for TCP on the pod.
    assert not world.allows("default/client", "default/web", 80, "UDP")


def test_named_egress_port_follows_the_destination_containers(world: World) -> None:
    world.policy(
        "client-dns",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "egress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}],
        },
    )
    assert world.allows("default/client", "kube-system/coredns", 53, "UDP")
    assert not world.allows("default/client", "kube-system/coredns", 53, "TCP")
    # web has no port called dns: nothing matches, whatever the number.
    assert not world.allows("default/client", "default/web", 53, "UDP")


def test_egress_rules_default_the_policy_types_to_both_directions(world: World) -> None:
    world.policy(
        "client-to-web",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "egress": [{"to": [{"podSelector": WEB}]}],
        },
    )
    assert world.allows("default/client", "default/web")
    assert not world.allows("default/client", "default/db")
    # policyTypes defaulted to [Ingress, Egress]: no ingress rules, so client is closed.
    assert not world.allows("default/web", "default/client")


def test_explicit_policy_types_ignore_rules_of_the_other_direction(world: World) -> None:
    world.policy(
        "ingress-only",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Ingress"],
            "ingress": [{}],
            "egress": [{"to": [{"podSelector": WEB}]}],
        },
    )
    assert world.allows("default/client", "default/db")


def test_egress_only_policy_leaves_ingress_open(world: World) -> None:
    world.policy("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert not world.allows("default/client", "default/web")
    assert world.allows("prod/api", "default/web")


def test_dns_needs_its_own_egress_allowance(world: World) -> None:
    world.policy(
        "client-egress",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": WEB}], "ports": [{"port": 80}]}],
        },
    )
    assert world.allows("default/client", "default/web", 80)
    assert not world.allows("default/client", "kube-system/coredns", 53, "UDP")
    world.policy(
        "client-dns",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            }
                        }
                    ],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                }
            ],
        },
    )
    assert world.allows("default/client", "kube-system/coredns", 53, "UDP")
    assert world.allows("default/client", "kube-system/coredns", 53, "TCP")
    assert not world.allows("default/client", "default/db", 53, "UDP")


def test_both_ends_must_allow(world: World) -> None:
    world.policy(
        "client-out",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "egress": [{}],
            "policyTypes": ["Egress"],
        },
    )
    world.policy("web-closed", {"podSelector": WEB, "policyTypes": ["Ingress"]})
    assert not world.allows("default/client", "default/web")
    world.policy(
        "web-from-client",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        },
    )
    assert world.allows("default/client", "default/web")


def test_policies_add_up(world: World) -> None:
    world.policy(
        "from-client",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        },
    )
    world.policy(
        "from-prod",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "prod"}}}]}],
        },
    )
    assert world.allows("default/client", "default/web")
    assert world.allows("prod/api", "default/web")
    assert not world.allows("dev/api", "default/web")


def test_policy_changes_and_deletions_take_effect(world: World) -> None:
    world.policy("web-closed", {"podSelector": WEB, "ingress": []})
    assert not world.allows("default/client", "default/web")
    stored = world.store.get(*NETWORK_POLICIES, "default", "web-closed")
    assert stored is not None
    stored["spec"]["ingress"] = [{}]
    world.store.update(*NETWORK_POLICIES, stored)
    assert world.allows("default/client", "default/web")
    stored["spec"]["podSelector"] = {"matchLabels": {"app": "db"}}
    stored["spec"]["ingress"] = []
    del stored["metadata"]["resourceVersion"]
    world.store.update(*NETWORK_POLICIES, stored)
    assert world.allows("default/client", "default/web")
    assert not world.allows("default/client", "default/db")
    world.store.delete(*NETWORK_POLICIES, "default", "web-closed")
    assert world.allows("default/client", "default/db")


def test_pod_labels_decide_selection_at_connection_time(world: World) -> None:
    world.policy("web-closed", {"podSelector": WEB, "ingress": []})
    pod = dict(world.pods["default/db"])
    pod["metadata"] = {**pod["metadata"], "labels": {"app": "web"}}
    relabelled = Peer(pod["status"]["podIP"], pod)
    assert not allowed(world.store, world.peer("default/client"), relabelled, 80)


def test_traffic_with_the_pods_own_node_is_always_allowed(world: World) -> None:
    world.policy("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert world.allows(NODE01, "default/web")  # web runs on node01
    assert not world.allows(NODE02, "default/web")
    assert world.allows("default/web", NODE01, 10250)
    assert not world.allows("default/web", NODE02, 10250)


def test_a_pod_always_reaches_itself(world: World) -> None:
    world.policy("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert world.allows("default/web", "default/web")
    assert not world.allows("default/client", "default/web")


def test_host_network_pods_are_not_isolated_and_match_only_ip_blocks(world: World) -> None:
    world.policy("deny-all", {"podSelector": {}}, namespace="kube-system")
    assert world.allows("default/client", "kube-system/proxy", 10256)
    world.policy(
        "from-system-pods",
        {
            "podSelector": WEB,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            }
                        }
                    ]
                }
            ],
        },
    )
    assert not world.allows("kube-system/proxy", "default/web")
    world.policy(
        "from-node02",
        {"podSelector": WEB, "ingress": [{"from": [{"ipBlock": {"cidr": f"{NODE02}/32"}}]}]},
    )
    assert world.allows("kube-system/proxy", "default/web")


def test_policies_are_read_per_namespace_and_compiled_once_per_version(world: World) -> None:
    world.policy("a", {"podSelector": WEB})
    world.policy("b", {"podSelector": {}}, namespace="prod")
    first = namespace_policies(world.store, "default")
    again = namespace_policies(world.store, "default")
    assert len(first) == 1 and first[0] is again[0]
    assert [p.namespace for p in namespace_policies(world.store, "prod")] == ["prod"]


def test_a_restored_snapshot_replaces_the_policies_in_force(world: World) -> None:
    before = world.store.dump()
    world.policy("web-closed", {"podSelector": WEB, "ingress": []})
    assert not world.allows("default/client", "default/web")
    closed = world.store.dump()
    world.store.load(before)
    assert world.allows("default/client", "default/web")
    world.store.load(closed)
    assert not world.allows("default/client", "default/web")

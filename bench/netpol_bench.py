"""NetworkPolicy decisions: prints the cost of one `policy.allowed` call; asserts only
that the decisions come out as the policies say.

    python bench/netpol_bench.py [--policies 5 50] [--calls 2000]

For each policy count, a store holds that many NetworkPolicies in the destination's
namespace (each selecting its own app, allowing one namespace-and-pod peer on port
80) and 200 in another namespace; the bench times `allowed()` for a connection
between two pods of the namespace, one selected by a policy and one not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sim.machinery.store import ObjectStore  # noqa: E402
from app.sim.network.policy import NETWORK_POLICIES, Peer, allowed  # noqa: E402


def _pod(name: str, app: str, ip: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"podIP": ip, "hostIP": "172.30.1.3"},
    }


def _store(policies: int) -> ObjectStore:
    store = ObjectStore()
    for ns in ("default", "other"):
        labels = {"kubernetes.io/metadata.name": ns}
        store.create("", "namespaces", {"metadata": {"name": ns, "labels": labels}})
    peer = {"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": {}}
    for i in range(policies):
        spec = {
            "podSelector": {"matchLabels": {"app": f"app{i}"}},
            "ingress": [{"from": [peer], "ports": [{"port": 80}]}],
        }
        store.create(
            *NETWORK_POLICIES, {"metadata": {"name": f"p{i}", "namespace": "default"}, "spec": spec}
        )
    for i in range(200):
        body = {"metadata": {"name": f"p{i}", "namespace": "other"}, "spec": {"podSelector": {}}}
        store.create(*NETWORK_POLICIES, body)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    source = Peer("10.244.1.10", _pod("client", "client", "10.244.1.10"))
    isolated = Peer("10.244.2.10", _pod("web", "app0", "10.244.2.10"))
    open_pod = Peer("10.244.2.11", _pod("free", "free", "10.244.2.11"))
    for count in args.policies:
        store = _store(count)
        assert not allowed(store, source, isolated, 80)
        assert allowed(store, source, open_pod, 80)
        start = time.perf_counter()
        for _ in range(args.calls):
            allowed(store, source, isolated, 80)
        per_call = (time.perf_counter() - start) / args.calls
        print(f"{count:4d} policies in the namespace: {per_call * 1e6:7.0f} us per decision")


if __name__ == "__main__":
    main()

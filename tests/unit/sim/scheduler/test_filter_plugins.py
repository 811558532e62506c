"""Each Filter plugin alone: a node it accepts, a node it rejects, the exact reason."""

from __future__ import annotations

from app.sim.scheduler.framework import Code, CycleState, Status
from app.sim.scheduler.plugins import (
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    taint_toleration,
    volume_binding,
)
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import Snapshot
from tests.builders import make_node, make_pod, taint


def run_filter(plugin, pod, node: str, snap: Snapshot) -> Status | None:
    """PreFilter (when the plugin has one) then Filter on one node."""
    state = CycleState()
    info = PodInfo(pod, snap.priority_of(pod))
    if hasattr(plugin, "pre_filter"):
        status = plugin.pre_filter(state, info, snap)
        if status is not None and status.code == Code.SKIP:
            return None
        if status is not None:
            return status
    return plugin.filter(state, info, snap.get(node))


def test_node_name():
    plugin = node_name.new({})
    snap = Snapshot.build([make_node("a"), make_node("b")])
    pod = make_pod("p", spec={"nodeName": "a"})
    assert run_filter(plugin, pod, "a", snap) is None
    status = run_filter(plugin, pod, "b", snap)
    assert status.reasons == ("node(s) didn't match the requested node name",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_node_unschedulable_rejects_cordoned_nodes_unless_tolerated():
    plugin = node_unschedulable.new({})
    snap = Snapshot.build([make_node("open"), make_node("cordoned", unschedulable=True)])
    assert run_filter(plugin, make_pod("p"), "open", snap) is None
    status = run_filter(plugin, make_pod("p"), "cordoned", snap)
    assert status.reasons == ("node(s) were unschedulable",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    tolerant = make_pod(
        "t",
        spec={
            "tolerations": [
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists"},
            ]
        },
    )
    assert run_filter(plugin, tolerant, "cordoned", snap) is None


def test_taint_toleration_filter():
    plugin = taint_toleration.new({})
    snap = Snapshot.build(
        [
            make_node("tainted", taints=[taint("dedicated", "payments")]),
            make_node("soft", taints=[taint("spot", "true", "PreferNoSchedule")]),
        ]
    )
    status = run_filter(plugin, make_pod("p"), "tainted", snap)
    assert status.reasons == ("node(s) had untolerated taint(s)",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    # PreferNoSchedule never filters.
    assert run_filter(plugin, make_pod("p"), "soft", snap) is None
    equal = [{"key": "dedicated", "operator": "Equal", "value": "payments", "effect": "NoSchedule"}]
    assert run_filter(plugin, make_pod("q", spec={"tolerations": equal}), "tainted", snap) is None
    wrong_value = [{"key": "dedicated", "operator": "Equal", "value": "batch"}]
    assert run_filter(plugin, make_pod("r", spec={"tolerations": wrong_value}), "tainted", snap)
    exists_all = [{"operator": "Exists"}]
    assert (
        run_filter(plugin, make_pod("s", spec={"tolerations": exists_all}), "tainted", snap) is None
    )


def test_node_affinity_and_node_selector():
    plugin = node_affinity.new({})
    snap = Snapshot.build(
        [
            make_node("compute", labels={"workload": "compute", "gen": "5"}),
            make_node("general", labels={"workload": "general", "gen": "3"}),
        ]
    )
    selector = make_pod("sel", spec={"nodeSelector": {"workload": "compute"}})
    assert run_filter(plugin, selector, "compute", snap) is None
    status = run_filter(plugin, selector, "general", snap)
    assert status.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE

    def affinity(*exprs, fields=()):
        term = {"matchExpressions": list(exprs)}
        if fields:
            term["matchFields"] = list(fields)
        return {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            }
        }

    gt = make_pod("gt", spec=affinity({"key": "gen", "operator": "Gt", "values": ["4"]}))
    assert run_filter(plugin, gt, "compute", snap) is None
    assert run_filter(plugin, gt, "general", snap) is not None
    not_in = make_pod(
        "ni", spec=affinity({"key": "workload", "operator": "NotIn", "values": ["compute"]})
    )
    assert run_filter(plugin, not_in, "compute", snap) is not None
    assert run_filter(plugin, not_in, "general", snap) is None
    by_name = make_pod(
        "f",
        spec=affinity(fields=[{"key": "metadata.name", "operator": "In", "values": ["general"]}]),
    )
    assert run_filter(plugin, by_name, "general", snap) is None
    assert run_filter(plugin, by_name, "compute", snap) is not None
    # A pod without any node constraint skips the plugin.
    assert run_filter(plugin, make_pod("free"), "general", snap) is None


def test_node_ports():
    plugin = node_ports.new({})
    snap = Snapshot.build(
        [make_node("busy"), make_node("free")], [make_pod("web", node="busy", host_port=8080)]
    )
    pod = make_pod("p", host_port=8080)
    assert run_filter(plugin, pod, "free", snap) is None
    status = run_filter(plugin, pod, "busy", snap)
    assert status.reasons == ("node(s) didn't have free ports for the requested pod ports",)
    assert status.code == Code.UNSCHEDULABLE
    assert run_filter(plugin, make_pod("other", host_port=9090), "busy", snap) is None


def test_node_resources_fit_reasons():
    plugin = node_resources_fit.new({})
    snap = Snapshot.build(
        [
            make_node("small", cpu="2", memory="4Gi", pods="2"),
            make_node("big", cpu="8", memory="32Gi"),
        ],
        [make_pod("used", node="small", cpu="1500m", memory="3Gi")],
    )
    pod = make_pod("p", cpu="1", memory="2Gi")
    assert run_filter(plugin, pod, "big", snap) is None
    status = run_filter(plugin, pod, "small", snap)
    assert status.reasons == ("Insufficient cpu", "Insufficient memory")
    assert status.code == Code.UNSCHEDULABLE
    # Asking for more than the node has in total cannot be fixed by preemption.
    huge = make_pod("huge", cpu="16")
    status = run_filter(plugin, huge, "big", snap)
    assert status.reasons == ("Insufficient cpu",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    snap.add_pod(PodInfo(make_pod("second", node="small")))
    status = run_filter(plugin, make_pod("besteffort"), "small", snap)
    assert status.reasons == ("Too many pods",)


def test_node_resources_fit_extended_resources():
    plugin = node_resources_fit.new({})
    snap = Snapshot.build([make_node("gpu", extra={"nvidia.com/gpu": "1"}), make_node("cpu-only")])
    pod = make_pod("train")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    assert run_filter(plugin, pod, "gpu", snap) is None
    assert run_filter(plugin, pod, "cpu-only", snap).reasons == ("Insufficient nvidia.com/gpu",)


def _spread_snapshot(existing):
    nodes = [
        make_node(f"n-{zone}", labels={"topology.kubernetes.io/zone": zone}) for zone in "abc"
    ] + [make_node("no-zone")]
    return Snapshot.build(nodes, existing)


def _spread_pod(name, max_skew=1, extra=None):
    constraint = {
        "maxSkew": max_skew,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}},
        **(extra or {}),
    }
    return make_pod(name, labels={"app": "web"}, spec={"topologySpreadConstraints": [constraint]})


def test_pod_topology_spread_skew():
    plugin = pod_topology_spread.new({})
    snap = _spread_snapshot(
        [
            make_pod("w1", node="n-a", labels={"app": "web"}),
            make_pod("w2", node="n-b", labels={"app": "web"}),
        ]
    )
    pod = _spread_pod("w3")
    assert run_filter(plugin, pod, "n-c", snap) is None
    status = run_filter(plugin, pod, "n-a", snap)
    assert status.reasons == ("node(s) didn't match pod topology spread constraints",)
    assert status.code == Code.UNSCHEDULABLE
    status = run_filter(plugin, pod, "no-zone", snap)
    assert status.reasons == (
        "node(s) didn't match pod topology spread constraints (missing required label)",
    )
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    # maxSkew 2 allows a second pod in zone a.
    assert run_filter(plugin, _spread_pod("w4", max_skew=2), "n-a", snap) is None


def test_pod_topology_spread_min_domains():
    plugin = pod_topology_spread.new({})
    snap = _spread_snapshot(
        [make_pod(f"w{z}", node=f"n-{z}", labels={"app": "web"}) for z in "abc"]
    )
    # Three domains with one pod each: fine, unless five domains are required, which
    # makes the global minimum 0 and the skew 2.
    assert run_filter(plugin, _spread_pod("x"), "n-a", snap) is None
    status = run_filter(plugin, _spread_pod("y", extra={"minDomains": 5}), "n-a", snap)
    assert status is not None and status.code == Code.UNSCHEDULABLE


def _affinity_pod(name, kind, required=True, key="kubernetes.io/hostname", labels=None):
    term = {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": key}
    field = "requiredDuringSchedulingIgnoredDuringExecution"
    return make_pod(name, labels=labels or {}, spec={"affinity": {kind: {field: [term]}}})


def test_inter_pod_affinity_required_affinity():
    plugin = inter_pod_affinity.new({})
    snap = Snapshot.build(
        [make_node("with-cache"), make_node("empty")],
        [make_pod("cache", node="with-cache", labels={"app": "cache"})],
    )
    pod = _affinity_pod("web", "podAffinity")
    assert run_filter(plugin, pod, "with-cache", snap) is None
    status = run_filter(plugin, pod, "empty", snap)
    assert status.reasons == ("node(s) didn't match pod affinity rules",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_inter_pod_affinity_first_pod_matching_itself_may_go_anywhere():
    plugin = inter_pod_affinity.new({})
    snap = Snapshot.build([make_node("a"), make_node("b")])
    pod = _affinity_pod("cache-0", "podAffinity", labels={"app": "cache"})
    assert run_filter(plugin, pod, "a", snap) is None
    other = _affinity_pod("web", "podAffinity")
    assert run_filter(plugin, other, "a", snap) is not None


def test_inter_pod_anti_affinity_both_directions():
    plugin = inter_pod_affinity.new({})
    snap = Snapshot.build(
        [make_node("with-cache"), make_node("empty")],
        [make_pod("cache", node="with-cache", labels={"app": "cache"})],
    )
    status = run_filter(plugin, _affinity_pod("web", "podAntiAffinity"), "with-cache", snap)
    assert status.reasons == ("node(s) didn't match pod anti-affinity rules",)
    assert status.code == Code.UNSCHEDULABLE
    assert run_filter(plugin, _affinity_pod("web", "podAntiAffinity"), "empty", snap) is None
    # An existing pod's anti-affinity keeps matching pods off its node.
    loner = _affinity_pod("loner", "podAntiAffinity")
    loner["spec"]["nodeName"] = "empty"
    snap.add_pod(PodInfo(loner))
    status = run_filter(plugin, make_pod("c2", labels={"app": "cache"}), "empty", snap)
    assert status.reasons == ("node(s) didn't satisfy existing pods anti-affinity rules",)
    assert run_filter(plugin, make_pod("plain"), "empty", snap) is None


def test_inter_pod_affinity_respects_namespaces():
    plugin = inter_pod_affinity.new({})
    snap = Snapshot.build(
        [make_node("n")],
        [make_pod("cache", namespace="other", node="n", labels={"app": "cache"})],
        namespaces=[{"metadata": {"name": "other", "labels": {"team": "infra"}}}],
    )
    # Same-namespace default: the cache in "other" does not count.
    assert run_filter(plugin, _affinity_pod("web", "podAffinity"), "n", snap) is not None
    pod = _affinity_pod("web", "podAffinity")
    term = pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        0
    ]
    term["namespaceSelector"] = {"matchLabels": {"team": "infra"}}
    assert run_filter(plugin, pod, "n", snap) is None


def _claim(name, *, volume=None, storage_class="", size="1Gi"):
    claim = {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": storage_class,
        },
    }
    if volume:
        claim["spec"]["volumeName"] = volume
    return claim


def _volume(name, node, *, storage_class="", size="5Gi", claimed=False):
    volume = {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
        "status": {"phase": "Bound" if claimed else "Available"},
    }
    return volume


def _pod_with_claim(claim):
    return make_pod(
        "db", spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}
    )


def test_volume_binding_bound_claim_pins_the_node():
    plugin = volume_binding.new({})
    snap = Snapshot.build(
        [make_node("node01"), make_node("node02")],
        claims=[_claim("data", volume="pv-1")],
        volumes=[_volume("pv-1", "node01", claimed=True)],
    )
    pod = _pod_with_claim("data")
    assert run_filter(plugin, pod, "node01", snap) is None
    status = run_filter(plugin, pod, "node02", snap)
    assert status.reasons == ("node(s) didn't match PersistentVolume's node affinity",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_volume_binding_prefilter_errors():
    plugin = volume_binding.new({})
    snap = Snapshot.build(
        [make_node("node01")],
        claims=[_claim("immediate", storage_class="standard")],
        storage_classes=[
            {"metadata": {"name": "standard"}, "provisioner": "x", "volumeBindingMode": "Immediate"}
        ],
    )
    assert run_filter(plugin, _pod_with_claim("missing"), "node01", snap).reasons == (
        'persistentvolumeclaim "missing" not found',
    )
    assert run_filter(plugin, _pod_with_claim("immediate"), "node01", snap).reasons == (
        "pod has unbound immediate PersistentVolumeClaims",
    )


def test_volume_binding_wait_for_first_consumer():
    plugin = volume_binding.new({})
    local = {
        "metadata": {"name": "local"},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    snap = Snapshot.build(
        [make_node("node01"), make_node("node02")],
        claims=[_claim("data", storage_class="local")],
        volumes=[_volume("pv-local", "node02", storage_class="local")],
        storage_classes=[local],
    )
    pod = _pod_with_claim("data")
    status = run_filter(plugin, pod, "node01", snap)
    assert status.reasons == ("node(s) didn't find available persistent volumes to bind",)
    state = CycleState()
    info = PodInfo(pod)
    assert plugin.pre_filter(state, info, snap) is None
    assert plugin.filter(state, info, snap.get("node02")) is None
    (action,) = plugin.pre_bind(state, info, "node02")
    assert action.kind == "PersistentVolume" and action.name == "pv-local"
    assert action.patch["spec"]["claimRef"]["name"] == "data"

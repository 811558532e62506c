"""Scheduler plugins, one module each, and the registry of their factories."""

from __future__ import annotations

from app.sim.scheduler.framework import Registry


def default_registry() -> Registry:
    """A registry holding every in-tree plugin under its upstream name."""
    from app.sim.scheduler.plugins import (
        balanced_allocation,
        default_preemption,
        image_locality,
        inter_pod_affinity,
        node_affinity,
        node_name,
        node_ports,
        node_resources_fit,
        node_unschedulable,
        pod_topology_spread,
        scheduling_gates,
        taint_toleration,
        volume_binding,
        volume_restrictions,
    )

    registry = Registry()
    for module in (
        scheduling_gates,
        node_unschedulable,
        node_name,
        taint_toleration,
        node_affinity,
        node_ports,
        node_resources_fit,
        volume_restrictions,
        volume_binding,
        pod_topology_spread,
        inter_pod_affinity,
        default_preemption,
        balanced_allocation,
        image_locality,
    ):
        registry.register(module.NAME, module.new)
    return registry

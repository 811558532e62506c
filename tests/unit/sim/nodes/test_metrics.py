"""The usage model behind `kubectl top`: image idle usage, load commands, limits, and the
quantities the Metrics API prints (the scrape on a control plane is in
tests/integration/sim/test_metrics_server.py)."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim.apiserver.metrics_api import binary_quantity, decimal_quantity
from app.sim.nodes.metrics import MIB, container_usage

MILLI = 1_000_000  # nanocores per millicore


def container(
    image: str = "busybox", command: list[str] | None = None, **resources: dict[str, str]
) -> dict[str, Any]:
    return {"name": "app", "image": image, "command": command or [], "resources": resources}


def shell(script: str, image: str = "busybox", **resources: dict[str, str]) -> dict[str, Any]:
    return container(image, ["sh", "-c", script], **resources)


def test_idle_images_use_their_profile() -> None:
    nginx = container_usage(container("nginx:1.27"))
    assert (nginx.cpu_nanocores, nginx.memory_bytes) == (1 * MILLI, 4 * MIB)
    etcd = container_usage(container("registry.k8s.io/etcd:3.6.6-0"))
    assert etcd.cpu_nanocores == 22 * MILLI
    unknown = container_usage(container("example.com/team/app:1"))
    assert (unknown.cpu_nanocores, unknown.memory_bytes) == (1 * MILLI, 8 * MIB)


@pytest.mark.parametrize(
    ("script", "cores"),
    [
        ("while true; do :; done", 1),
        ("while :; do echo hi > /dev/null; done", 1),
        ("while true; do sleep 1; done", 0),
        ("while true; do wget -q -O- http://web; done", 0),
        ("dd if=/dev/zero of=/dev/null", 1),
        ("dd if=/dev/zero of=/dev/null & dd if=/dev/zero of=/dev/null", 2),
        ("sha256sum /dev/zero", 1),
        ("yes > /dev/null", 1),
        ("sleep 3600", 0),
    ],
)
def test_load_commands_keep_cores_busy(script: str, cores: int) -> None:
    usage = container_usage(shell(script), node_cores=4)
    assert usage.cpu_nanocores == cores * 1000 * MILLI  # busybox idles at 0m


def test_stress_cpu_and_vm_workers() -> None:
    usage = container_usage(
        container("polinux/stress", ["stress", "--cpu", "2", "--vm", "1", "--vm-bytes", "64M"]),
        node_cores=4,
    )
    assert usage.cpu_nanocores == (1 + 2000) * MILLI
    assert usage.memory_bytes == 8 * MIB + 64 * MIB


def test_limits_and_node_cores_cap_usage() -> None:
    limited = container_usage(
        shell("while true; do :; done", limits={"cpu": "250m", "memory": "2Mi"}), node_cores=2
    )
    assert (limited.cpu_nanocores, limited.memory_bytes) == (250 * MILLI, 1 * MIB)
    capped = container_usage(container("polinux/stress", ["stress", "--cpu", "8"]), node_cores=2)
    assert capped.cpu_nanocores == (1 + 2000) * MILLI
    memory = container_usage(
        container("polinux/stress", ["stress", "--vm", "2"], limits={"memory": "300Mi"})
    )
    assert memory.memory_bytes == 300 * MIB


@pytest.mark.parametrize(
    ("nanos", "text"), [(124_000_000, "124m"), (3_000_000_000, "3"), (148_489_388, "148489388n")]
)
def test_cpu_prints_as_a_canonical_quantity(nanos: int, text: str) -> None:
    assert decimal_quantity(nanos) == text


def test_memory_prints_as_a_canonical_binary_quantity() -> None:
    assert [binary_quantity(n) for n in (4 * MIB, 920_649_728, 1000)] == ["4Mi", "878Mi", "1000"]

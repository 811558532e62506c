"""The registry catalogue: which references pull and how the others fail."""

from __future__ import annotations

import pytest

from app.sim.nodes import registry
from app.sim.nodes.runtime import pull_error


@pytest.mark.parametrize(
    "image",
    [
        "nginx", "nginx:1.27", "nginx:1.27.3-alpine", "nginx:alpine", "nginx:stable",
        "busybox:1.36", "busybox", "redis:7.2", "httpd:2.4", "python:3.12-slim",
        "postgres:16", "mysql:8.0", "ubuntu:24.04", "curlimages/curl:8.10.1",
        "registry.k8s.io/kube-scheduler:v1.36.2", "registry.k8s.io/kube-scheduler:v1.35.0",
        "registry.k8s.io/etcd:3.6.4-0", "registry.k8s.io/pause:3.10.1",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        # Not in the catalogue and not near a catalogue name: an application image.
        "payment-api:3.2.0", "registry.example.com/api:2.4.1", "myteam/backend:1",
    ],
)  # fmt: skip
def test_catalogue_and_application_images_pull(image: str) -> None:
    assert pull_error(image, set()) is None


@pytest.mark.parametrize(
    ("image", "verdict"),
    [
        ("ngnix", "denied"), ("nignx:1.27", "denied"), ("busyboxx", "denied"),
        ("nginx:1.91", "not found"), ("nginx:latestt", "not found"),
        ("nginx:1.27-slim", "not found"), ("alpine:4.0", "not found"),
        ("registry.k8s.io/kube-scheduler:v1.99.0", "not found"),
        ("registry.k8s.io/kube-scheduler:v1.36.9", "not found"),
        ("registry.k8s.io/kube-scheduler:v1.38.0", "not found"),
        ("registry.k8s.io/kube-scheduler:v1.36.2-hotfix", "not found"),
        ("registry.k8s.io/kube-schedular:v1.36.2", "not found"),
    ],
)  # fmt: skip
def test_what_the_registry_lacks(image: str, verdict: str) -> None:
    error = pull_error(image, set())
    assert error is not None
    if verdict == "denied":
        assert error.startswith("rpc error: code = Unknown desc = failed to pull and unpack")
        assert "pull access denied, repository does not exist or may require authorization" in (
            error
        )
    else:
        assert error.startswith("rpc error: code = NotFound desc = failed to pull and unpack")
        assert error.endswith(": not found")


def test_lab_marked_images_fail_and_misspellings_need_a_near_name() -> None:
    assert pull_error("nginx:1.27", {"nginx:1.27"}) is not None
    assert registry.misspelt("ngnix") and registry.misspelt("redsi")
    assert not registry.misspelt("db") and not registry.misspelt("backend")

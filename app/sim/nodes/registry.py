"""What the registries a node pulls from hold: the simulator's image catalogue.

A pull of a reference the catalogue says does not exist fails as containerd reports it
through CRI (the kubelet then shows ErrImagePull and ImagePullBackOff):

- a Docker Hub repository one or two edits away from a catalogue image (`ngnix`,
  `busyboxx`, `redsi`) does not exist: `pull access denied, repository does not exist
  or may require authorization` (Docker Hub answers an unknown repository that way);
- a catalogue image with a tag it does not publish (`nginx:1.91`, `nginx:latestt`)
  and a registry.k8s.io repository or tag that does not exist
  (`registry.k8s.io/kube-scheduler:v1.99.0`): `<ref>: not found`.

Any other repository is taken for the lab's or learner's own application image (a
private registry a real cluster would have credentials for) and pulls. The catalogue is
documented in docs/nodes.md ("Image catalogue").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The cluster's own release: registry.k8s.io publishes no kube-* tag after it.
CURRENT_MINOR, CURRENT_PATCH = 36, 2
# registry.k8s.io keeps the control-plane images from this minor on.
OLDEST_MINOR = 20


@dataclass(frozen=True)
class Repo:
    """Tags one repository publishes: `latest` and `names`, and versions
    MAJOR[.MINOR[.PATCH]] (MINOR up to `majors[MAJOR]`, PATCH up to `max_patch`), each
    alone or with one of `variants` after a dash (`1.27-alpine`), and each variant
    alone (`alpine`)."""

    majors: dict[int, int]
    variants: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    max_patch: int = 30
    min_minor: int = 0

    def has_tag(self, tag: str) -> bool:
        if tag == "latest" or tag in self.names or tag in self.variants:
            return True
        version, _, variant = tag.partition("-")
        if variant and variant not in self.variants:
            return False
        return self._has_version(version)

    def _has_version(self, version: str) -> bool:
        if not re.fullmatch(r"\d+(\.\d+){0,2}", version):
            return False
        major, minor, patch = ([int(p) for p in version.split(".")] + [-1, -1])[:3]
        if major not in self.majors:
            return False
        if minor > self.majors[major] or 0 <= minor < self.min_minor:
            return False
        return patch <= self.max_patch


_DEBIAN = ("bookworm", "trixie", "bullseye", "slim", "bookworm-slim", "trixie-slim")
# Docker Hub's official images (docker.io/library/...) and a few well-known others.
CATALOGUE: dict[str, Repo] = {
    "nginx": Repo(
        {1: 29},
        ("alpine", "alpine-slim", "perl", "alpine-perl", "bookworm", "trixie"),
        ("stable", "mainline", "stable-alpine", "mainline-alpine"),
    ),
    "busybox": Repo({1: 37}, ("glibc", "musl", "uclibc"), ("stable", "unstable")),
    "alpine": Repo({3: 22}, (), ("edge",)),
    "httpd": Repo({2: 4}, ("alpine", "bookworm", "trixie"), max_patch=65),
    "redis": Repo({2: 8, 3: 2, 4: 0, 5: 0, 6: 2, 7: 4, 8: 2}, ("alpine", "bookworm")),
    "memcached": Repo({1: 6}, ("alpine", "bookworm"), max_patch=40),
    "mysql": Repo({5: 7, 8: 4, 9: 4}, ("oracle", "debian"), ("lts", "innovation"), 45),
    "mariadb": Repo({10: 11, 11: 8}, ("noble", "jammy"), ("lts",)),
    "postgres": Repo({n: 22 for n in range(9, 19)}, ("alpine", *_DEBIAN)),
    "mongo": Repo({n: 2 for n in range(3, 9)}, ("jammy", "noble")),
    "ubuntu": Repo(
        {n: 10 for n in range(14, 26)},
        (),
        ("rolling", "devel", "jammy", "noble", "focal", "bionic", "oracular", "plucky"),
    ),
    "debian": Repo({n: 12 for n in range(7, 14)}, ("slim",), (*_DEBIAN, "stable", "stable-slim")),
    "centos": Repo({6: 10, 7: 9, 8: 4}, (), ("centos7", "centos8")),
    "fedora": Repo({n: 0 for n in range(20, 43)}, (), ("rawhide",)),
    "python": Repo({2: 7, 3: 14}, ("alpine", *_DEBIAN)),
    "node": Repo({n: 20 for n in range(0, 25)}, ("alpine", "slim", "bookworm"), ("lts",)),
    "golang": Repo({1: 25}, ("alpine", *_DEBIAN)),
    "perl": Repo({5: 42}, ("slim", "threaded", *_DEBIAN)),
    "ruby": Repo({2: 7, 3: 4}, ("alpine", "slim", *_DEBIAN)),
    "bash": Repo({3: 2, 4: 4, 5: 3}),
    "traefik": Repo({1: 7, 2: 11, 3: 5}),
    "haproxy": Repo({1: 9, 2: 9, 3: 2}, ("alpine",), ("lts",)),
    "tomcat": Repo({n: 1 for n in range(7, 12)}, ("jdk17", "jdk21")),
    "rabbitmq": Repo({3: 13, 4: 1}, ("management", "alpine", "management-alpine")),
    "wordpress": Repo({n: 9 for n in range(4, 7)}, ("apache", "fpm", "php8.3", "php8.2")),
    "hello-world": Repo({}, (), ("linux", "nanoserver")),
    "registry": Repo({2: 8, 3: 0}),
    "fluentd": Repo({1: 19}),
    "curlimages/curl": Repo({7: 88, 8: 16}),
}
# Repositories under registry.k8s.io, with the versions the kube-* ones publish.
K8S_REGISTRY: dict[str, Repo | None] = {
    "kube-apiserver": None,
    "kube-controller-manager": None,
    "kube-scheduler": None,
    "kube-proxy": None,
    "etcd": Repo({3: 6}, ("0",), max_patch=30),
    "pause": Repo({3: 10}),
    "coredns/coredns": Repo({1: 14}, (), (), 10),
    "coredns": Repo({1: 14}, (), (), 10),
    "e2e-test-images/agnhost": Repo({2: 55}),
    "echoserver": Repo({1: 10}),
    "metrics-server/metrics-server": Repo({0: 8}),
    "ingress-nginx/controller": Repo({1: 13}),
    "busybox": Repo({1: 36}),
}


def kube_tag_exists(tag: str) -> bool:
    """`v1.MINOR.PATCH` that Kubernetes released: older minors, and the releases the
    nodes' package repositories offer (`packages.RELEASES`: the cluster's minor up to one
    patch past it and the next minor's first patches, what `kubeadm upgrade` pulls); no
    `v1.99.0`, no `v1.36.2-hotfix`."""
    from app.sim.nodes.packages import RELEASES

    match = re.fullmatch(r"v1\.(\d+)\.(\d+)", tag)
    if not match:
        return False
    minor, patch = int(match[1]), int(match[2])
    if f"1.{minor}" in RELEASES:
        return f"1.{minor}.{patch}" in RELEASES[f"1.{minor}"]
    return OLDEST_MINOR <= minor < CURRENT_MINOR and patch <= 20


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def misspelt(name: str) -> bool:
    """A Docker Hub repository name one or two edits from a catalogue image (one edit
    for names of five letters or fewer)."""
    if name in CATALOGUE or len(name) < 4:
        return False
    limit = 1 if len(name) <= 5 else 2
    return any(_distance(name, known) <= limit for known in CATALOGUE)


def lookup(repo: str, tag: str) -> str | None:
    """Whether the registry serves `repo:tag` (a normalised repository, as
    `docker.io/library/nginx`): None when it does, else `"denied"` for a repository that
    does not exist on Docker Hub, `"not found"` for an unknown tag or registry.k8s.io
    repository."""
    host, _, path = repo.partition("/")
    if host == "registry.k8s.io":
        if path not in K8S_REGISTRY:
            return "not found"
        known = K8S_REGISTRY[path]
        exists = kube_tag_exists(tag) if known is None else known.has_tag(tag.lstrip("v"))
        return None if exists or tag == "<none>" else "not found"
    if host != "docker.io":
        return None
    name = path.removeprefix("library/")
    if name in CATALOGUE:
        return None if tag == "<none>" or CATALOGUE[name].has_tag(tag) else "not found"
    return "denied" if misspelt(name) else None

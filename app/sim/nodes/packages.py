"""The Kubernetes packages of a node (the tools that manage them are in `apt.py`).

The state lives in the node's files, as on Debian: the repository line kubeadm's install
guide writes (`/etc/apt/sources.list.d/kubernetes.list`, one pkgs.k8s.io repository per
minor release), the package lists `apt-get update` downloads from it
(`/var/lib/apt/lists/`), and the installed packages with their hold marks
(`/var/lib/dpkg/status`). Installing a package changes the binary on disk only: the
kubelet runs its new version after `systemctl restart kubelet`.

Release catalogue (what pkgs.k8s.io serves here): every patch release of the cluster's
minor up to one patch past the installed one, and the first two patches of the next
minor (`RELEASES`). Packages are versioned `1.x.y-1.1`, as pkgs.k8s.io does.
"""

from __future__ import annotations

import re

from app.sim.nodes import components
from app.sim.nodes.vfs import VirtualFS

SOURCES = "/etc/apt/sources.list.d/kubernetes.list"
STATUS = "/var/lib/dpkg/status"
LISTS_DIR = "/var/lib/apt/lists"
PACKAGES = ("kubeadm", "kubectl", "kubelet")
OTHER_PACKAGES = {"cri-tools": "1.35.0-1.1", "kubernetes-cni": "1.7.1-1.1"}
REVISION = "-1.1"
_CURRENT = components.KUBERNETES_VERSION.lstrip("v")
_MAJOR, _MINOR, _PATCH = (int(x) for x in _CURRENT.split("."))
# minor ("1.36") -> its patch releases, oldest first.
RELEASES: dict[str, list[str]] = {
    f"{_MAJOR}.{_MINOR}": [f"{_MAJOR}.{_MINOR}.{p}" for p in range(_PATCH + 2)],
    f"{_MAJOR}.{_MINOR + 1}": [f"{_MAJOR}.{_MINOR + 1}.{p}" for p in range(2)],
}
REPO_PATTERN = re.compile(r"https://pkgs\.k8s\.io/core:/stable:/v(\d+\.\d+)/deb/?")
PACKAGE_SIZES = {"kubeadm": 12_160_000, "kubectl": 11_320_000, "kubelet": 15_640_000}


def repo_url(minor: str) -> str:
    return f"https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"


def sources_text(minor: str) -> str:
    return f"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] {repo_url(minor)} /\n"


def lists_path(minor: str) -> str:
    return f"{LISTS_DIR}/pkgs.k8s.io_core:_stable:_v{minor}_deb_Packages"


def lists_text(minor: str) -> str:
    stanzas = []
    for package in PACKAGES:
        for version in RELEASES.get(minor, []):
            stanzas.append(
                f"Package: {package}\nVersion: {version}{REVISION}\nArchitecture: amd64\n"
                f"Filename: {package}_{version}{REVISION}_amd64.deb\n"
                f"Size: {PACKAGE_SIZES[package]}\n"
            )
    return "\n".join(stanzas)


def status_text(packages: dict[str, tuple[str, bool]]) -> str:
    return "\n".join(
        f"Package: {name}\nStatus: {'hold' if held else 'install'} ok installed\n"
        f"Architecture: amd64\nVersion: {version}\n"
        for name, (version, held) in sorted(packages.items())
    )


def initial_files() -> dict[str, str]:
    """What a kubeadm node has: the repository of its minor, its lists fetched, the
    three packages installed at the cluster's version and held (the install guide's
    `apt-mark hold kubelet kubeadm kubectl`)."""
    minor = f"{_MAJOR}.{_MINOR}"
    installed = {p: (_CURRENT + REVISION, True) for p in PACKAGES}
    installed.update({p: (v, False) for p, v in OTHER_PACKAGES.items()})
    return {
        SOURCES: sources_text(minor),
        lists_path(minor): lists_text(minor),
        STATUS: status_text(installed),
    }


def installed(fs: VirtualFS) -> dict[str, tuple[str, bool]]:
    """{package: (version, held)} from the dpkg status file."""
    if not fs.is_file(STATUS):
        return {p: (_CURRENT + REVISION, True) for p in PACKAGES}
    out = {}
    for stanza in fs.read(STATUS).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.strip().splitlines() if ": " in line)
        if "Package" in fields and "Version" in fields:
            held = fields.get("Status", "").startswith("hold")
            out[fields["Package"]] = (fields["Version"], held)
    return out


def installed_version(fs: VirtualFS, package: str) -> str:
    """The installed Kubernetes version of `package` ("v1.36.2")."""
    version = installed(fs).get(package, (_CURRENT + REVISION, True))[0]
    return "v" + version.split("-", 1)[0]


def available(fs: VirtualFS) -> dict[str, list[tuple[str, str]]]:
    """{package: [(version, repository URL)]} from the downloaded lists, newest first."""
    out: dict[str, list[tuple[str, str]]] = {}
    if not fs.is_dir(LISTS_DIR):
        return out
    for name in fs.listdir(LISTS_DIR):
        match = re.match(r"pkgs\.k8s\.io_core:_stable:_v(\d+\.\d+)_deb_Packages$", name)
        if not match:
            continue
        for stanza in fs.read(f"{LISTS_DIR}/{name}").split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in stanza.strip().splitlines() if ": " in line
            )
            if "Package" in fields:
                out.setdefault(fields["Package"], []).append(
                    (fields["Version"], repo_url(match.group(1)))
                )
    for versions in out.values():
        versions.sort(key=lambda v: _key(v[0]), reverse=True)
    return out


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version))

"""`kubeadm upgrade plan|apply|node`: the cluster upgrade of kubeadm's guide
("Upgrading kubeadm clusters"), on the simulated nodes.

The cluster version is the running kube-apiserver's (its image tag); the kubeadm
version is the installed kubeadm package's. `apply` on the control-plane node checks
upstream's version policy (cmd/kubeadm/app/phases/upgrade/policy.go: no newer than the
kubeadm binary, one minor at a time, no downgrade), renews the certificates, and
rewrites the image tags of the kube-apiserver, kube-controller-manager and
kube-scheduler manifests: the kubelet restarts those pods on the new release. It also
moves the kube-proxy DaemonSet to the new image. `node` upgrades a worker's kubelet
configuration; the kubelet itself runs the new release once its package is installed
and the service restarted.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from app.sim.machinery.errors import ApiError
from app.sim.nodes import components, packages
from app.sim.nodes.shell import CommandResult, NodeShell, fail, ok, tabwrite

UPGRADED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
_CONFIG_HEADER = [
    '[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
    '"kube-system"...',
    "[upgrade/config] Use 'kubeadm init phase upload-config kubeadm --config "
    "your-config-file' to re-upload it.",
]
_FORCE = "Can be bypassed if you pass the --force flag"
_TRACE = "To see the stack trace of this error execute with --v=5 or higher"


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _minor(version: str) -> int:
    return _vkey(version)[1]


def cluster_version(sh: NodeShell) -> str:
    """The running API server's release ("v1.36.2")."""
    return sh.nodes.api_server_version() or components.KUBERNETES_VERSION


def _kubelets(sh: NodeShell) -> list[tuple[str, str]]:
    nodes, _ = sh.agent.store.list("", "nodes")
    return sorted(
        (
            n["metadata"]["name"],
            str(((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")),
        )
        for n in nodes
    )


def _targets(current: str) -> list[tuple[str, str]]:
    """(title, version) of the upgrades kubeadm offers: the newest patch of the
    cluster's minor, then the newest release of the next minor."""
    out = []
    minor = ".".join(current.lstrip("v").split(".")[:2])
    patches = packages.RELEASES.get(minor, [])
    if patches and _vkey(patches[-1]) > _vkey(current):
        out.append((f"Upgrade to the latest version in the v{minor} series:", "v" + patches[-1]))
    nxt = f"{_vkey(current)[0]}.{_minor(current) + 1}"
    if packages.RELEASES.get(nxt):
        out.append(("Upgrade to the latest stable version:", "v" + packages.RELEASES[nxt][-1]))
    return out


def plan(sh: NodeShell) -> CommandResult:
    if not sh.agent.control_plane:
        return _not_control_plane()
    current = cluster_version(sh)
    kubeadm = packages.installed_version(sh.fs, "kubeadm")
    minor = ".".join(current.lstrip("v").split(".")[:2])
    targets = _targets(current)
    out = [
        "[preflight] Running pre-flight checks.",
        *_CONFIG_HEADER,
        "[upgrade] Running cluster health checks",
        "[upgrade] Fetching available versions to upgrade to",
        f"[upgrade/versions] Cluster version: {current}",
        f"[upgrade/versions] kubeadm version: {kubeadm}",
    ]
    if not targets:
        out += ["", "Awesome, you're up-to-date! Enjoy!"]
        return ok("\n".join(out) + "\n")
    out.append(f"[upgrade/versions] Target version: {targets[-1][1]}")
    out.append(
        f"[upgrade/versions] Latest version in the v{minor} series: "
        f"{'v' + packages.RELEASES[minor][-1] if minor in packages.RELEASES else current}"
    )
    node = sh.agent.name
    coredns = components.COREDNS_IMAGE.rpartition(":")[2]
    for title, target in targets:
        kubelet_rows = [["COMPONENT", "NODE", "CURRENT", "TARGET"]]
        kubelet_rows += [["kubelet", name, version, target] for name, version in _kubelets(sh)]
        rows = [["COMPONENT", "NODE", "CURRENT", "TARGET"]]
        rows += [[c, node, current, target] for c in UPGRADED]
        rows += [
            ["kube-proxy", "", current.lstrip("v"), target],
            ["CoreDNS", "", coredns, coredns],
            ["etcd", node, components.ETCD_IMAGE_TAG, components.ETCD_IMAGE_TAG],
        ]
        out += [
            "",
            "Components that must be upgraded manually after you have upgraded the control "
            "plane with 'kubeadm upgrade apply':",
            tabwrite(kubelet_rows, minwidth=0, padding=3).rstrip("\n"),
            "",
            title,
            "",
            tabwrite(rows, minwidth=0, padding=3).rstrip("\n"),
            "",
            "You can now apply the upgrade by executing the following command:",
            "",
            f"\tkubeadm upgrade apply {target}",
        ]
        if _vkey(target) > _vkey(kubeadm):
            out += [
                "",
                f"Note: Before you can perform this upgrade, you have to update kubeadm to "
                f"{target}.",
            ]
        out += ["", "_" * 69, ""]
    return ok("\n".join(out) + "\n")


def _not_control_plane() -> CommandResult:
    return fail(
        f'couldn\'t create a Kubernetes client from file "/etc/kubernetes/admin.conf": '
        "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or "
        f"directory\n{_TRACE}"
    )


def _policy_errors(target: str, current: str, kubeadm: str, force: bool) -> list[str]:
    """The version policy kubeadm enforces (policy.go EnforceVersionPolicies):
    (skippable errors first, then mandatory ones) as message lines."""
    mandatory = []
    skippable = []
    if _minor(target) - _minor(current) > 1:
        mandatory.append(
            f'Specified version to upgrade to "{target}" is too high; kubeadm can upgrade '
            "only 1 minor version at a time"
        )
    if _minor(target) > _minor(kubeadm):
        mandatory.append(
            f'Specified version to upgrade to "{target}" is at least one minor release higher '
            f"than the kubeadm minor release ({_minor(target)} > {_minor(kubeadm)}). Such an "
            "upgrade is not supported"
        )
    if _vkey(target) < _vkey(current):
        mandatory.append(
            f'Specified version to upgrade to "{target}" is lower than the cluster version '
            f'"{current}". Downgrades are not supported yet'
        )
    if _vkey(target) > _vkey(kubeadm) and not mandatory:
        skippable.append(
            f'Specified version to upgrade to "{target}" is higher than the kubeadm version '
            f'"{kubeadm}". Upgrade kubeadm first using the tool you used to install kubeadm'
        )
    if mandatory:
        return [
            "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:",
            "",
            *[f"\t- {m}" for m in mandatory],
            "",
            "Please fix the misalignments highlighted above and try upgrading again",
            _TRACE,
        ]
    if skippable and not force:
        return [
            "[upgrade/version] FATAL: the --version argument is invalid due to these errors:",
            "",
            *[f"\t- {m}" for m in skippable],
            "",
            _FORCE,
            _TRACE,
        ]
    return []


def apply(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if not sh.agent.control_plane:
        return _not_control_plane()
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return fail(
            "[upgrade] missing version argument: pass the version to upgrade to, e.g. "
            f"kubeadm upgrade apply {components.KUBERNETES_VERSION}\n{_TRACE}"
        )
    target = words[0] if words[0].startswith("v") else "v" + words[0]
    if not re.fullmatch(r"v\d+\.\d+\.\d+", target):
        return fail(f'[upgrade/version] FATAL: version "{words[0]}" is not valid\n{_TRACE}')
    current = cluster_version(sh)
    kubeadm = packages.installed_version(sh.fs, "kubeadm")
    force = "--force" in args or "-f" in args
    out = [
        *_CONFIG_HEADER,
        "[upgrade/preflight] Running preflight checks",
        "[upgrade] Running cluster health checks",
        f'[upgrade/preflight] You have chosen to upgrade the cluster version to "{target}"',
        f"[upgrade/versions] Cluster version: {current}",
        f"[upgrade/versions] kubeadm version: {kubeadm}",
    ]
    errors = _policy_errors(target, current, kubeadm, force)
    if errors:
        return fail("\n".join(errors), 1, "\n".join(out) + "\n")
    minor = ".".join(target.lstrip("v").split(".")[:2])
    if target.lstrip("v") not in packages.RELEASES.get(minor, []):
        images = [f"registry.k8s.io/{c}:{target}" for c in UPGRADED]
        return fail(
            "[preflight] Some fatal errors occurred:\n"
            + "".join(
                f"\t[ERROR ImagePull]: failed to pull image {i}: rpc error: code = NotFound "
                f'desc = failed to pull and unpack image "{i}": not found\n'
                for i in images
            )
            + "[preflight] If you know what you are doing, you can make a check non-fatal with "
            "`--ignore-preflight-errors=...`\n" + _TRACE,
            1,
            "\n".join(out) + "\n",
        )
    yes = bool({"-y", "--yes"} & set(args)) or force
    if not yes:
        out.append("[upgrade] Are you sure you want to proceed? [y/N]: ")
        if stdin.strip().lower() not in ("y", "yes"):
            return fail(
                "won't proceed; the user didn't answer (Y|y) in order to continue\n" + _TRACE,
                1,
                "\n".join(out),
            )
    out += _upgrade_control_plane(sh, target)
    return ok("\n".join(out) + "\n")


def _upgrade_control_plane(sh: NodeShell, target: str) -> list[str]:
    from app.sim.nodes.kubeadm import renew

    stamp = sh.now().strftime("%Y-%m-%d-%H-%M-%S")
    backup = f"/etc/kubernetes/tmp/kubeadm-backup-manifests-{stamp}"
    out = [
        "[upgrade/preflight] Pulling images required for setting up a Kubernetes cluster",
        "[upgrade/preflight] This might take a minute or two, depending on the speed of your "
        "internet connection",
        f"[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "
        f'"{target}" (timeout: 5m0s)...',
        "[upgrade/staticpods] Writing new Static Pod manifests to "
        f'"/etc/kubernetes/tmp/kubeadm-upgraded-manifests-{stamp}"',
    ]
    # kubeadm renews the certificates of the control plane during the upgrade.
    renew(sh, "all")
    for component in UPGRADED:
        path = f"{components.MANIFESTS_DIR}/{component}.yaml"
        if not sh.fs.is_file(path):
            continue
        text = sh.fs.read(path)
        sh.fs.write(f"{backup}/{component}.yaml", text, mtime=sh.stamp())
        text = re.sub(
            rf"(registry\.k8s\.io/{component}):v[0-9][^\s\"'@]*",
            rf"\g<1>:{target}",
            text,
        )
        sh.fs.write(path, text, mtime=sh.stamp())
        out += [
            f'[upgrade/staticpods] Preparing for "{component}" upgrade',
            f'[upgrade/staticpods] Moving new manifest to "{path}" and backing up old manifest '
            f'to "{backup}/{component}.yaml"',
            "[upgrade/staticpods] Waiting for the kubelet to restart the component",
            f'[upgrade/staticpods] Component "{component}" upgraded successfully!',
        ]
    _upgrade_kube_proxy(sh, target)
    out += [
        "[upgrade/kubeconfig] The kubeconfig files for this node were successfully upgraded!",
        "[upgrade/kubelet-config] Writing kubelet configuration to file "
        '"/var/lib/kubelet/config.yaml"',
        "[upgrade/kubelet-config] The kubelet configuration for this node was successfully "
        "upgraded!",
        "[upgrade/bootstrap-token] Configuring bootstrap token and cluster-info RBAC rules",
        "[addons] Applied essential addon: CoreDNS",
        "[addons] Applied essential addon: kube-proxy",
        "",
        f'[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "{target}".',
        "",
        "[upgrade] Now please proceed with upgrading the rest of the nodes by following the "
        "right order.",
    ]
    return out


def _upgrade_kube_proxy(sh: NodeShell, target: str) -> None:
    store = sh.agent.store
    ds: dict[str, Any] | None = store.get("apps", "daemonsets", "kube-system", "kube-proxy")
    if ds is None:
        return
    for container in ds["spec"]["template"]["spec"].get("containers") or []:
        image = str(container.get("image") or "")
        if "kube-proxy:" in image:
            container["image"] = image.rpartition(":")[0] + ":" + target
    with contextlib.suppress(ApiError):
        store.update("apps", "daemonsets", ds)


def node(sh: NodeShell, args: list[str]) -> CommandResult:
    current = cluster_version(sh)
    kubeadm = packages.installed_version(sh.fs, "kubeadm")
    if _minor(kubeadm) > _minor(current) or _vkey(kubeadm) > _vkey(current):
        # The control plane first: a node cannot move past the cluster's version.
        return fail(
            "[upgrade] FATAL: the kubeadm version "
            f'"{kubeadm}" is newer than the cluster version "{current}": upgrade the control '
            "plane first with 'kubeadm upgrade apply' on the control-plane node\n" + _TRACE,
            1,
            "\n".join(_CONFIG_HEADER) + "\n",
        )
    out = [*_CONFIG_HEADER, "[upgrade/preflight] Running pre-flight checks"]
    if sh.agent.control_plane:
        out += [
            "[upgrade/preflight] Pulling images required for setting up a Kubernetes cluster",
            f"[upgrade/control-plane] Upgrading your Static Pod-hosted control plane instance "
            f'to version "{current}"...',
            "[upgrade/control-plane] The control plane instance for this node was successfully "
            "upgraded!",
        ]
    else:
        out += [
            "[upgrade/preflight] Skipping prepull. Not a control plane node.",
            "[upgrade/control-plane] Skipping phase. Not a control plane node.",
            "[upgrade/kubeconfig] Skipping phase. Not a control plane node.",
        ]
    out += [
        "[upgrade/kubelet-config] Writing kubelet configuration to file "
        '"/var/lib/kubelet/config.yaml"',
        "[upgrade/kubelet-config] The kubelet configuration for this node was successfully "
        "upgraded!",
        "[upgrade/addon] Skipping the addon/coredns phase. Not a control plane node.",
        "[upgrade/addon] Skipping the addon/kube-proxy phase. Not a control plane node.",
        "[upgrade] The configuration for this node was successfully upgraded!",
        "[upgrade] Now you should go ahead and upgrade the kubelet package using your package "
        "manager.",
    ]
    return ok("\n".join(out) + "\n")


def upgrade(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    """`kubeadm upgrade SUBCOMMAND ...` (args after "upgrade")."""
    words = [a for a in args if not a.startswith("-")]
    verb = words[0] if words else ""
    if verb == "plan":
        return plan(sh)
    if verb == "apply":
        return apply(sh, args[args.index("apply") + 1 :], stdin)
    if verb == "node":
        return node(sh, args)
    return fail(
        f'unknown command "{verb}" for "kubeadm upgrade"\nRun \'kubeadm upgrade --help\' for usage.'
        if verb
        else 'Error: missing subcommand; "upgrade" is not meant to be run on its own'
    )

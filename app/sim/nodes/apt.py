"""The node's package tools: `apt-get update|install`, `apt-cache madison|policy|show`,
`apt-mark hold|unhold|showhold`, `dpkg -l` and `kubelet --version`, on the package
state `packages.py` keeps in the node's files.
"""

from __future__ import annotations

import fnmatch

from app.sim.nodes.packages import (
    LISTS_DIR,
    PACKAGE_SIZES,
    RELEASES,
    REPO_PATTERN,
    SOURCES,
    STATUS,
    _key,
    available,
    installed,
    installed_version,
    lists_path,
    lists_text,
    repo_url,
    status_text,
)
from app.sim.nodes.shell import CommandResult, NodeShell, command, fail, ok
from app.sim.nodes.vfs import VirtualFS


def _write_installed(sh: NodeShell, packages: dict[str, tuple[str, bool]]) -> None:
    sh.fs.write(STATUS, status_text(packages), mtime=sh.stamp())


# ---- apt-get -------------------------------------------------------------------------


def _repositories(fs: VirtualFS) -> list[str]:
    """Repository URLs of the deb lines in the Kubernetes source list."""
    if not fs.is_file(SOURCES):
        return []
    urls = []
    for line in fs.read(SOURCES).splitlines():
        words = [w for w in line.split() if not w.startswith("[") and not w.endswith("]")]
        if words[:1] == ["deb"] and len(words) >= 2:
            urls.append(words[1])
    return urls


def apt_update(sh: NodeShell) -> CommandResult:
    out = [
        "Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease",
        "Hit:2 http://archive.ubuntu.com/ubuntu noble-updates InRelease",
    ]
    errors = []
    for old in [n for n in (sh.fs.listdir(LISTS_DIR) if sh.fs.is_dir(LISTS_DIR) else [])]:
        if old.startswith("pkgs.k8s.io_"):
            sh.fs.remove(f"{LISTS_DIR}/{old}")
    for i, url in enumerate(_repositories(sh.fs), start=3):
        match = REPO_PATTERN.fullmatch(url)
        minor = match.group(1) if match else ""
        if minor not in RELEASES:
            # pkgs.k8s.io answers 403 for a release it does not serve.
            base = url.rstrip("/")
            out.append(f"Err:{i} {base}  InRelease")
            out.append("  403  Forbidden [IP: 18.173.219.58 443]")
            errors.append(
                f"E: Failed to fetch {base}/InRelease  403  Forbidden [IP: 18.173.219.58 443]"
            )
            errors.append(f"E: The repository '{base}  InRelease' is not signed.")
            continue
        out.append(f"Get:{i} {url.rstrip('/')}  InRelease [1186 B]")
        out.append(f"Get:{i + 10} {url.rstrip('/')}  Packages [4865 B]")
        sh.fs.write(lists_path(minor), lists_text(minor), mtime=sh.stamp())
    out.append("Reading package lists... Done")
    if errors:
        return fail("\n".join(errors) + "\n", 100, "\n".join(out) + "\n")
    return ok("\n".join(out) + "\n")


def _parse_install(
    sh: NodeShell, words: list[str]
) -> tuple[dict[str, str], list[str]] | CommandResult:
    """{package: wanted version} of `apt-get install` arguments, or the error."""
    catalogue = available(sh.fs)
    current = installed(sh.fs)
    wanted: dict[str, str] = {}
    for word in words:
        name, _, version = word.partition("=")
        known = catalogue.get(name)
        if known is None and name not in current:
            return fail(f"E: Unable to locate package {name}", 100, _READING)
        versions = [v for v, _ in known or []]
        # apt matches a version with wildcards (`kubeadm='1.37.1-*'`), newest first.
        matching = [v for v in versions if fnmatch.fnmatchcase(v, version)] if version else []
        if version and not matching:
            return fail(f"E: Version '{version}' for '{name}' was not found", 100, _READING)
        wanted[name] = (matching or versions or [current[name][0]])[0]
    changed = [n for n, v in wanted.items() if current.get(n, ("", False))[0] != v]
    return wanted, changed


_READING = (
    "Reading package lists... Done\nBuilding dependency tree... Done\n"
    "Reading state information... Done\n"
)


def _plan_lines(
    wanted: dict[str, str], changed: list[str], current: dict[str, tuple[str, bool]]
) -> tuple[list[str], dict[str, list[str]]]:
    """apt's summary of an install: (lines, {"held"|"upgraded"|"downgraded"|"fresh":
    package names})."""
    out = [_READING.rstrip("\n")]
    out += [f"{n} is already the newest version ({wanted[n]})." for n in wanted if n not in changed]
    groups = {
        "held": [n for n in changed if current.get(n, ("", False))[1]],
        "downgraded": [
            n for n in changed if n in current and _key(wanted[n]) < _key(current[n][0])
        ],
        "fresh": [n for n in changed if n not in current],
    }
    groups["upgraded"] = [n for n in changed if n in current and n not in groups["downgraded"]]
    titles = (
        ("held", "The following held packages will be changed:"),
        ("upgraded", "The following packages will be upgraded:"),
        ("downgraded", "The following packages will be DOWNGRADED:"),
        ("fresh", "The following NEW packages will be installed:"),
    )
    for key, title in titles:
        if groups[key]:
            out += [title, "  " + " ".join(groups[key])]
    counts = f"{len(groups['upgraded'])} upgraded, {len(groups['fresh'])} newly installed, "
    if groups["downgraded"]:
        counts += f"{len(groups['downgraded'])} downgraded, "
    out.append(counts + "0 to remove and 0 not upgraded.")
    return out, groups


def _unpack(
    sh: NodeShell, wanted: dict[str, str], changed: list[str], current: dict[str, tuple[str, bool]]
) -> list[str]:
    """Download, unpack and set up the changed packages; their new versions recorded."""
    out = []
    for name in changed:
        minor = ".".join(wanted[name].split(".")[:2])
        out.append(
            f"Get:1 {repo_url(minor).rstrip('/')}  {name} {wanted[name]} "
            f"[{PACKAGE_SIZES.get(name, 1)} B]"
        )
    for name in changed:
        old = current.get(name, ("", False))[0]
        out.append(f"Preparing to unpack .../{name}_{wanted[name]}_amd64.deb ...")
        out.append(f"Unpacking {name} ({wanted[name]})" + (f" over ({old}) ..." if old else " ..."))
    for name in changed:
        out.append(f"Setting up {name} ({wanted[name]}) ...")
        current[name] = (wanted[name], current.get(name, ("", False))[1])
    if changed:
        _write_installed(sh, current)
    return out


def apt_install(sh: NodeShell, args: list[str]) -> CommandResult:
    flags = {a for a in args if a.startswith("-")}
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return ok(_READING + "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
    parsed = _parse_install(sh, words)
    if isinstance(parsed, CommandResult):
        return parsed
    wanted, changed = parsed
    current = installed(sh.fs)
    out, groups = _plan_lines(wanted, changed, current)
    yes = bool(flags & {"-y", "--yes", "--assume-yes", "-qy", "-yq"})
    refusal = None
    if groups["held"] and "--allow-change-held-packages" not in flags:
        refusal = (
            "E: Held packages were changed and -y was used without --allow-change-held-packages."
        )
    elif groups["downgraded"] and yes and "--allow-downgrades" not in flags:
        refusal = "E: Packages were downgraded and -y was used without --allow-downgrades."
    if refusal is not None:
        return fail(refusal, 100, "\n".join(out) + "\n")
    if changed and not yes:
        out.append("Do you want to continue? [Y/n] Abort.")
        return CommandResult(1, "\n".join(out) + "\n", "")
    out += _unpack(sh, wanted, changed, current)
    return ok("\n".join(out) + "\n")


@command("apt-get", "apt")
def _apt_get(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return fail("E: Invalid operation", 100)
    if words[0] == "update":
        return apt_update(sh)
    if words[0] == "install":
        return apt_install(sh, [a for a in args if a != "install"])
    if words[0] == "policy":
        return _policy(sh, words[1:])
    return fail(f"E: Invalid operation {words[0]}", 100)


# ---- apt-cache, apt-mark, dpkg -------------------------------------------------------


def _policy(sh: NodeShell, names: list[str]) -> CommandResult:
    catalogue = available(sh.fs)
    current = installed(sh.fs)
    out = []
    for name in names:
        mine = current.get(name, ("(none)", False))[0]
        versions = catalogue.get(name, [])
        out.append(f"{name}:")
        out.append(f"  Installed: {mine}")
        out.append(f"  Candidate: {versions[0][0] if versions else '(none)'}")
        out.append("  Version table:")
        for version, url in versions:
            mark = " *** " if version == mine else "     "
            out.append(f"{mark}{version} 500")
            out.append(f"        500 {url.rstrip('/')}  Packages")
    return ok("\n".join(out) + "\n")


@command("apt-cache")
def _apt_cache(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["madison"]:
        catalogue = available(sh.fs)
        out = []
        for name in words[1:]:
            for version, url in catalogue.get(name, []):
                out.append(f"{name:>10} | {version} | {url.rstrip('/')}  Packages")
        if not out:
            return fail("N: Unable to locate package " + " ".join(words[1:]), 0)
        return ok("\n".join(out) + "\n")
    if words[:1] == ["policy"]:
        return _policy(sh, words[1:])
    if words[:1] == ["show"] and len(words) > 1:
        versions = available(sh.fs).get(words[1], [])
        if not versions:
            return fail("E: No packages found", 100)
        return ok("".join(f"Package: {words[1]}\nVersion: {v}\n\n" for v, _ in versions))
    return fail(
        "E: No operation specified" if not words else f"E: Invalid operation {words[0]}", 100
    )


@command("apt-mark")
def _apt_mark(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    words = [a for a in args if not a.startswith("-")]
    current = installed(sh.fs)
    if words[:1] == ["showhold"]:
        return ok("".join(f"{n}\n" for n, (_, held) in sorted(current.items()) if held))
    if words[:1] not in (["hold"], ["unhold"]) or len(words) < 2:
        return fail("E: Invalid operation " + (words[0] if words else ""), 100)
    hold = words[0] == "hold"
    out = []
    for name in words[1:]:
        if name not in current:
            return fail(f"E: Unable to locate package {name}", 100)
        version, held = current[name]
        if held == hold:
            out.append(f"{name} was already {'set on hold' if hold else 'not on hold'}.")
            continue
        current[name] = (version, hold)
        out.append(f"{name} set on hold." if hold else f"Canceled hold on {name}.")
    _write_installed(sh, current)
    return ok("\n".join(out) + "\n")


@command("dpkg")
def _dpkg(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if not args or args[0] not in ("-l", "--list"):
        return fail("dpkg: error: need an action option", 2)
    rows = [
        "Desired=Unknown/Install/Remove/Purge/Hold",
        "| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend",
        "|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)",
        "||/ Name           Version      Architecture Description",
        "+++-==============-============-============-=================================",
    ]
    for name, (version, held) in sorted(installed(sh.fs).items()):
        if len(args) > 1 and not any(_glob(p, name) for p in args[1:]):
            continue
        rows.append(f"{'hi' if held else 'ii'}  {name:<14} {version:<12} amd64        {name}")
    return ok("\n".join(rows) + "\n")


def _glob(pattern: str, name: str) -> bool:
    return fnmatch.fnmatch(name, pattern)


@command("kubelet")
def _kubelet(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if "--version" in args or "version" in args:
        return ok(f"Kubernetes {installed_version(sh.fs, 'kubelet')}\n")
    return fail("kubelet: run by systemd on this node (systemctl status kubelet)")

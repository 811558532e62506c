"""systemd on a node: the kubelet and containerd units, their state, and the journal.

A unit is active or not, enabled or not, and remembers since when. The kubelet unit
can be "active" from systemd's point of view yet keep failing at start-up (a bad
config file): systemd then restarts it every RestartSec (10 s in kubeadm's unit), which
`systemctl status` shows as `activating (auto-restart) (Result: exit-code)` and the
journal shows as the same error repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# kubeadm's kubelet.service: Restart=always, RestartSec=10.
KUBELET_RESTART_SEC = 10.0
# How many journal entries a unit keeps (older ones roll off, as journald rotates).
JOURNAL_LIMIT = 2000

UNITS: dict[str, dict[str, str]] = {
    "kubelet": {
        "description": "kubelet: The Kubernetes Node Agent",
        "path": "/usr/lib/systemd/system/kubelet.service",
        "docs": "https://kubernetes.io/docs/",
        "binary": "/usr/bin/kubelet",
    },
    "containerd": {
        "description": "containerd container runtime",
        "path": "/usr/lib/systemd/system/containerd.service",
        "docs": "https://containerd.io",
        "binary": "/usr/bin/containerd",
    },
}


def unit_name(name: str) -> str:
    """`kubelet.service` -> `kubelet` (the key used here)."""
    return name[: -len(".service")] if name.endswith(".service") else name


@dataclass
class Unit:
    name: str
    enabled: bool = True
    active: bool = True
    since: float = 0.0  # epoch seconds of the last state change
    pid: int = 0
    # Set while the process keeps failing at start: the error and when it began.
    failing_since: float | None = None
    failure: list[str] = field(default_factory=list)
    exit_status: str = ""  # e.g. "1/FAILURE", "203/EXEC"


@dataclass
class JournalEntry:
    at: float
    unit: str
    source: str  # "systemd" or the process name
    text: str


class ServiceManager:
    """The units of one node and their journal."""

    def __init__(self, hostname: str, now: float) -> None:
        self.hostname = hostname
        self.units = {name: Unit(name, since=now, pid=_pid(name, 0)) for name in UNITS}
        self.journal: list[JournalEntry] = []
        self._starts = 0
        for name in UNITS:
            self.log(
                now, name, "systemd", f"Started {name}.service - {UNITS[name]['description']}."
            )

    def log(self, at: float, unit: str, source: str, text: str) -> None:
        self.journal.append(JournalEntry(at, unit, source, text))
        if len(self.journal) > JOURNAL_LIMIT:
            del self.journal[: len(self.journal) - JOURNAL_LIMIT]

    def start(self, name: str, now: float) -> None:
        unit = self.units[name]
        if unit.active:
            return
        self._starts += 1
        unit.active = True
        unit.since = now
        unit.pid = _pid(name, self._starts)
        unit.failing_since = None
        unit.failure = []
        unit.exit_status = ""
        self.log(now, name, "systemd", f"Started {name}.service - {UNITS[name]['description']}.")

    def stop(self, name: str, now: float) -> None:
        unit = self.units[name]
        if not unit.active:
            return
        desc = UNITS[name]["description"]
        self.log(now, name, "systemd", f"Stopping {name}.service - {desc}...")
        self.log(now, name, "systemd", f"{name}.service: Deactivated successfully.")
        self.log(now, name, "systemd", f"Stopped {name}.service - {desc}.")
        unit.active = False
        unit.since = now
        unit.failing_since = None
        unit.failure = []

    def restart(self, name: str, now: float) -> None:
        self.stop(name, now)
        self.start(name, now)

    def fail(self, name: str, now: float, lines: list[str], exit_status: str = "1/FAILURE") -> None:
        """Record that the unit's process exits at start with `lines` on stderr."""
        unit = self.units[name]
        if unit.failing_since is None or unit.failure != lines:
            unit.failing_since = now
            unit.failure = list(lines)
            unit.exit_status = exit_status

    def healthy(self, name: str) -> None:
        unit = self.units[name]
        unit.failing_since = None
        unit.failure = []
        unit.exit_status = ""

    def running(self, name: str) -> bool:
        """Active and not crash-looping."""
        unit = self.units[name]
        return unit.active and unit.failing_since is None

    # ---- output --------------------------------------------------------------------

    def entries(self, unit: str | None, now: float) -> list[JournalEntry]:
        """Journal entries of a unit (all units with None), including the repeated
        start failures systemd produced since the unit began failing."""
        out = [e for e in self.journal if unit is None or e.unit == unit]
        for name, u in self.units.items():
            if (unit is not None and name != unit) or u.failing_since is None or not u.active:
                continue
            attempt = 0
            t = u.failing_since
            # Show at most the last 20 restarts: journald would hold them all, a
            # learner needs the pattern and the message.
            count = int((now - t) // KUBELET_RESTART_SEC) + 1
            first = max(0, count - 20)
            for attempt in range(first, count):
                at = t + attempt * KUBELET_RESTART_SEC
                src = name if u.exit_status != "203/EXEC" else "systemd"
                if attempt:
                    out.append(
                        JournalEntry(
                            at,
                            name,
                            "systemd",
                            f"{name}.service: Scheduled restart job, restart counter is at "
                            f"{attempt}.",
                        )
                    )
                    out.append(
                        JournalEntry(
                            at,
                            name,
                            "systemd",
                            f"Started {name}.service - {UNITS[name]['description']}.",
                        )
                    )
                out.extend(JournalEntry(at, name, src, line) for line in u.failure)
                code, _, label = u.exit_status.partition("/")
                out.append(
                    JournalEntry(
                        at,
                        name,
                        "systemd",
                        f"{name}.service: Main process exited, code=exited, status={code}/{label}",
                    )
                )
                out.append(
                    JournalEntry(
                        at, name, "systemd", f"{name}.service: Failed with result 'exit-code'."
                    )
                )
        out.sort(key=lambda e: e.at)
        return out

    def status_text(self, name: str, now: float, cmdline: str) -> tuple[str, int]:
        """`systemctl status NAME` output and exit code (0 running, 3 not)."""
        unit = self.units[name]
        meta = UNITS[name]
        enabled = "enabled" if unit.enabled else "disabled"
        lines = [
            f"{'●' if unit.active else '○'} {name}.service - {meta['description']}",
            f"     Loaded: loaded ({meta['path']}; {enabled}; preset: enabled)",
        ]
        if name == "kubelet":
            lines += [
                "    Drop-In: /usr/lib/systemd/system/kubelet.service.d",
                "             └─10-kubeadm.conf",
            ]
        code = 0
        if not unit.active:
            lines.append(f"     Active: inactive (dead) since {_since(unit.since, now)}")
            code = 3
        elif unit.failing_since is not None:
            cycle = (now - unit.failing_since) % KUBELET_RESTART_SEC
            since = now - cycle
            lines.append(
                "     Active: activating (auto-restart) (Result: exit-code) since "
                f"{_since(since, now)}"
            )
            code = 3
        else:
            lines.append(f"     Active: active (running) since {_since(unit.since, now)}")
        lines.append(f"       Docs: {meta['docs']}")
        if unit.active and unit.failing_since is not None:
            lines.append(
                f"    Process: {unit.pid} ExecStart={cmdline} (code=exited, "
                f"status={unit.exit_status})"
            )
            lines.append(f"   Main PID: {unit.pid} (code=exited, status={unit.exit_status})")
        elif unit.active:
            lines += [
                f"   Main PID: {unit.pid} ({name})",
                "      Tasks: 14 (limit: 4558)",
                "     Memory: 41.2M (peak: 42.0M)",
                "        CPU: 3.104s",
                f"     CGroup: /system.slice/{name}.service",
                f"             └─{unit.pid} {cmdline}",
            ]
        recent = self.entries(name, now)[-10:]
        if recent:
            lines.append("")
            lines += [format_entry(e, self.hostname, self.units[e.unit].pid) for e in recent]
        return "\n".join(lines) + "\n", code

    def dump(self) -> dict[str, Any]:
        return {
            "units": {n: asdict(u) for n, u in self.units.items()},
            "journal": [[e.at, e.unit, e.source, e.text] for e in self.journal],
            "starts": self._starts,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.units = {n: Unit(**u) for n, u in data["units"].items()}
        self.journal = [JournalEntry(*e) for e in data.get("journal", [])]
        self._starts = data.get("starts", 0)


def _pid(name: str, starts: int) -> int:
    return (812 if name == "kubelet" else 604) + starts * 137


def _since(epoch: float, now: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{moment:%a %Y-%m-%d %H:%M:%S} UTC; {_ago(now - epoch)} ago"


def _ago(seconds: float) -> str:
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}min {s % 60}s" if s % 60 else f"{s // 60}min"
    if s < 86400:
        return f"{s // 3600}h {(s % 3600) // 60}min"
    return f"{s // 86400} day{'s' if s >= 172800 else ''} {(s % 86400) // 3600}h"


def format_entry(entry: JournalEntry, hostname: str, pid: int) -> str:
    """One journal line in journalctl's short format."""
    moment = datetime.fromtimestamp(entry.at, UTC)
    source = "systemd[1]" if entry.source == "systemd" else f"{entry.source}[{pid}]"
    return f"{moment:%b %d %H:%M:%S} {hostname} {source}: {entry.text}"

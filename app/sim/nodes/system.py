"""The node shell's system commands: systemctl, service, journalctl, ps, ss and netstat
over the node's services and kubelet.
"""

from __future__ import annotations

from app.sim.nodes.shell import COMMANDS, CommandResult, NodeShell, command, fail, ok, split_flags

# ---- services ----------------------------------------------------------------------------


@command("systemctl")
def _systemctl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import UNITS, unit_name

    opts, rest = split_flags(args)
    if not rest:
        return fail("systemctl: a verb is required")
    verb, names = rest[0], [unit_name(n) for n in rest[1:]]
    agent = sh.agent
    if verb == "daemon-reload":
        agent.daemon_reload()
        return ok()
    if verb == "cat":
        texts = []
        for n in names:
            meta = UNITS.get(n)
            if meta is None:
                return fail(f"No files found for {n}.service.")
            texts.append(f"# {meta['path']}\n" + sh.fs.read(meta["path"]))
            if n == "kubelet":
                from app.sim.nodes.components import KUBELET_DROPIN

                texts.append(f"\n# {KUBELET_DROPIN}\n" + sh.fs.read(KUBELET_DROPIN))
        return ok("".join(texts))
    if verb in ("list-units",):
        lines = ["  UNIT               LOAD   ACTIVE SUB     DESCRIPTION"]
        for n in UNITS:
            u = agent.services.units[n]
            state = (
                ("active", "running")
                if u.active and u.failing_since is None
                else (("activating", "auto-restart") if u.active else ("inactive", "dead"))
            )
            lines.append(
                f"  {n + '.service':<18} loaded {state[0]:<6} {state[1]:<7} "
                f"{UNITS[n]['description']}"
            )
        return ok("\n".join(lines) + "\n")
    if not names:
        return fail("Too few arguments.")
    for n in names:
        if n not in UNITS:
            return fail(f"Unit {n}.service could not be found.", 4 if verb == "status" else 5)
    out, code = [], 0
    warnings = []
    now = sh.now().timestamp()
    if (
        "kubelet" in names
        and verb in ("status", "start", "restart")
        and agent.unit_changed_on_disk()
    ):
        warnings.append(
            "Warning: The unit file, source configuration file or drop-ins of kubelet.service "
            "changed on disk. Run 'systemctl daemon-reload' to reload units.\n"
        )
    for n in names:
        unit = agent.services.units[n]
        if verb == "status":
            text, rc = agent.services.status_text(
                n, now, agent.kubelet_cmdline() if n == "kubelet" else "/usr/bin/containerd"
            )
            out.append(text)
            code = max(code, rc)
        elif verb == "start":
            agent.start_service(n)
        elif verb == "stop":
            agent.stop_service(n)
        elif verb in ("restart", "reload-or-restart", "try-restart"):
            agent.restart_service(n)
        elif verb == "enable":
            if not unit.enabled:
                out.append(
                    f"Created symlink /etc/systemd/system/multi-user.target.wants/{n}.service "
                    f"→ /usr/lib/systemd/system/{n}.service.\n"
                )
            unit.enabled = True
            if "now" in opts:
                agent.start_service(n)
        elif verb == "disable":
            if unit.enabled:
                out.append(f'Removed "/etc/systemd/system/multi-user.target.wants/{n}.service".\n')
            unit.enabled = False
            if "now" in opts:
                agent.stop_service(n)
        elif verb == "is-active":
            active_state = (
                "active"
                if unit.active and unit.failing_since is None
                else ("activating" if unit.active else "inactive")
            )
            out.append(active_state + "\n")
            code = max(code, 0 if active_state == "active" else 3)
        elif verb == "is-enabled":
            out.append(("enabled" if unit.enabled else "disabled") + "\n")
            code = max(code, 0 if unit.enabled else 1)
        else:
            return fail(f"Unknown command verb '{verb}'.")
    if verb in ("start", "stop", "restart"):
        # Give the kubelet its start-up pass at once, so status reads right after.
        agent.sync()
        sh.nodes._publish_logs()
    return CommandResult(code, "".join(out), "".join(warnings))


def _listening(sh: NodeShell, args: list[str]) -> list[tuple[str, int, str]]:
    flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    # Only listening TCP sockets are simulated: other selections show none.
    return sh.agent.listening() if "l" in flags or not args else []


@command("ss")
def _ss(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    lines = ["State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process"]
    for sock, pid, name in _listening(sh, args):
        lines.append(
            f'LISTEN 0      4096   {sock:>18}  {"0.0.0.0:*":>16} users:(("{name}",pid={pid},fd=3))'
        )
    return ok("\n".join(lines) + "\n")


@command("netstat")
def _netstat(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    lines = [
        "Active Internet connections (only servers)",
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       "
        "PID/Program name",
    ]
    for sock, pid, name in _listening(sh, args):
        wildcard = sock.startswith("*:")
        proto = "tcp6" if wildcard else "tcp"
        local = ":::" + sock[2:] if wildcard else sock
        peer = ":::*" if wildcard else "0.0.0.0:*"
        lines.append(f"{proto:<5} {0:>6} {0:>6} {local:<23} {peer:<23} LISTEN      {pid}/{name}")
    return ok("\n".join(lines) + "\n")


@command("service")
def _service(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if len(args) < 2:
        return fail("Usage: service < option > | --status-all | [ service_name [ command ] ]")
    return COMMANDS["systemctl"](sh, [args[1], args[0]], stdin)


@command("ps")
def _ps(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import UNITS

    agent = sh.agent
    procs: list[tuple[int, int, str]] = [(1, 0, "/sbin/init")]
    for name in UNITS:
        unit = agent.services.units[name]
        if unit.active and unit.failing_since is None:
            cmd = agent.kubelet_cmdline() if name == "kubelet" else UNITS[name]["binary"]
            procs.append((unit.pid, 1, cmd))
    for pod in sorted(agent.pods.values(), key=lambda p: p.created):
        for slot in pod.slots.values():
            cur = slot.current
            if cur is None or not cur.running():
                continue
            spec = agent._container_spec(pod, slot.name)
            argv = [str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
            shim_pid = cur.pid() - 1
            procs.append(
                (
                    shim_pid,
                    1,
                    "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io "
                    f"-id {pod.sandbox[:64]} -address /run/containerd/containerd.sock",
                )
            )
            procs.append((cur.pid(), shim_pid, " ".join(argv) or f"[{slot.name}]"))
    start = sh.now().strftime("%H:%M")
    if any(a in ("-ef", "-e", "-A", "-eF") for a in args):
        lines = ["UID          PID    PPID  C STIME TTY          TIME CMD"]
        lines += [
            f"root     {pid:>7} {ppid:>7}  0 {start} ?        00:00:01 {cmd}"
            for pid, ppid, cmd in procs
        ]
    else:
        lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
        lines += [
            f"root     {pid:>7}  0.3  1.0 1289460 41984 ?      Ssl  {start}   0:01 {cmd}"
            for pid, _, cmd in procs
        ]
    return ok("\n".join(lines) + "\n")


@command("journalctl")
def _journalctl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import format_entry, unit_name

    opts, _ = split_flags(args, with_value={"u", "n", "since", "until", "unit", "lines", "o"})
    unit = opts.get("u") or opts.get("unit")
    if unit is not None:
        unit = unit_name(unit)
    agent = sh.agent
    now = sh.now().timestamp()
    entries = agent.services.entries(unit, now)
    lines_opt = opts.get("n") or opts.get("lines")
    if lines_opt is None and "e" in opts:
        lines_opt = "1000"
    if lines_opt is not None and lines_opt.isdigit():
        entries = entries[-int(lines_opt) :]
    if "r" in opts or "reverse" in opts:
        entries = list(reversed(entries))
    if not entries:
        return ok("-- No entries --\n")
    pids = {n: u.pid for n, u in agent.services.units.items()}
    return ok("".join(format_entry(e, agent.name, pids.get(e.unit, 1)) + "\n" for e in entries))

"""The container runtime of a node (containerd as the kubelet sees it through CRI):
images, sandboxes, containers, and what a container's process does.

A container runs a `Program`: a small timeline derived from its image and command —
when it exits and with which code, what it logs, which ports it listens on and which
files it creates or removes (for exec probes). The shapes follow what learners meet in
CKA tasks: `busybox` with no command exits at once (shell without a terminal),
`sh -c 'echo hi; sleep 3600'` logs then sleeps, `exit 1` fails, servers such as nginx
run until killed and listen on their port.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.sim.nodes import registry

# Image repositories a node can pull whose default process is a long-running server:
# repository (last path element) -> (listening ports, startup log lines).
SERVER_IMAGES: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "nginx": (
        (80,),
        (
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to "
            "perform configuration",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
        ),
    ),
    "httpd": (
        (80,),
        (
            "AH00558: httpd: Could not reliably determine the server's fully qualified domain name",
            "[mpm_event:notice] AH00489: Apache/2.4.65 "
            "(Unix) configured -- resuming normal operations",
        ),
    ),
    "redis": ((6379,), ("# Server initialized", "* Ready to accept connections tcp")),
    "memcached": ((11211,), ()),
    "postgres": ((5432,), ("database system is ready to accept connections",)),
    "mysql": ((3306,), ("[Server] /usr/sbin/mysqld: ready for connections.",)),
    "pause": ((), ()),
    "coredns": ((53, 8080, 8181, 9153), (".:53", "CoreDNS-1.12.1", "linux/amd64, go1.24.1")),
    "kube-proxy": ((10249, 10256), ('"Using iptables proxy"',)),
    "agnhost": ((8080,), ()),
    "echoserver": ((8080,), ()),
    "traefik": ((80, 443), ()),
    "metrics-server": ((10250,), ('"Serving securely on [::]:10250"',)),
}
# Of those ports, the ones that only speak HTTPS (an HTTP probe gets a 400).
TLS_SERVER_PORTS: dict[str, tuple[int, ...]] = {"metrics-server": (10250,)}
# Images whose default command is a shell or a one-shot tool: without a command they
# exit 0 immediately (no terminal attached), which restartPolicy Always turns into
# CrashLoopBackOff.
SHELL_IMAGES = frozenset(
    {
        "busybox",
        "alpine",
        "ubuntu",
        "debian",
        "centos",
        "fedora",
        "bash",
        "curlimages/curl",
        "curl",
        "python",
        "node",
        "golang",
        "perl",
        "ruby",
    }
)

# Image sizes shown by `crictl images` (bytes, roughly upstream's compressed sizes).
IMAGE_SIZES: dict[str, int] = {
    "kube-apiserver": 27_069_000,
    "kube-controller-manager": 21_820_000,
    "kube-scheduler": 15_760_000,
    "kube-proxy": 25_960_000,
    "etcd": 58_940_000,
    "coredns": 22_380_000,
    "pause": 320_368,
    "nginx": 72_320_000,
    "busybox": 2_160_000,
}
# A reference is lower-case (repository) with an optional tag/digest (distribution's
# reference grammar, simplified).
_REFERENCE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*"
    r"(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


def normalize_image(image: str) -> str:
    """The fully-qualified reference containerd records (`nginx` ->
    `docker.io/library/nginx:latest`)."""
    ref = image.strip()
    name, digest = ([*ref.split("@", 1), ""])[:2]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = ("docker.io/library/" if "/" not in name else "docker.io/") + name
    return name + (f"@{digest}" if digest else "")


def split_image(ref: str) -> tuple[str, str]:
    """(repository, tag) of a normalised reference."""
    name = ref.split("@", 1)[0]
    repo, _, tag = name.rpartition(":")
    if "/" in tag or not repo:
        return name, "<none>"
    return repo, tag


def repository_name(image: str) -> str:
    """The short name used for behaviour look-ups: `registry.k8s.io/kube-scheduler:v1`
    -> `kube-scheduler`, `docker.io/library/nginx:1.27` -> `nginx`."""
    repo, _ = split_image(normalize_image(image))
    parts = repo.split("/")
    if parts[0] == "docker.io" and len(parts) > 2 and parts[1] == "library":
        return parts[-1]
    if parts[0] == "docker.io" and len(parts) > 2:
        return "/".join(parts[1:])
    return parts[-1]


def image_id(ref: str) -> str:
    return "sha256:" + hashlib.sha256(normalize_image(ref).encode()).hexdigest()


def invalid_image_reason(image: str) -> str | None:
    """The kubelet's InvalidImageName message for a malformed reference, else None."""
    if not image or not _REFERENCE.match(image.strip()):
        detail = (
            "repository name must be lowercase"
            if image and image.lower() != image
            else "invalid reference format"
        )
        if detail != "invalid reference format":
            detail = f"invalid reference format: {detail}"
        return (
            f'Failed to apply default image tag "{image}": couldn\'t parse image name '
            f'"{image}": {detail}'
        )
    return None


def pull_error(image: str, bad_images: set[str]) -> str | None:
    """Why pulling `image` fails (containerd's message through CRI), or None when the
    registry has it: images the lab marks bad, and what `registry.lookup` says the
    registries do not hold (misspelt repositories, unpublished tags)."""
    ref = normalize_image(image)
    repo, tag = split_image(ref)
    verdict = registry.lookup(repo, tag)
    if ref in {normalize_image(b) for b in bad_images} or image in bad_images:
        verdict = verdict or "not found"
    if verdict is None:
        return None
    if verdict == "denied":
        # Docker Hub's answer for a repository it does not have (or a private one).
        return (
            f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": pull access denied, repository does '
            "not exist or may require authorization: server message: insufficient_scope: "
            "authorization failed"
        )
    # containerd's wording for a tag (or registry.k8s.io repository) the registry lacks.
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )


def klog_line(severity: str, text: str, epoch: float) -> str:
    """`text` with klog's header (`I1126 14:17:12.123456       1 `) when severity is
    I, W or E; unchanged otherwise."""
    if not severity:
        return text
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{severity}{moment:%m%d %H:%M:%S.%f} {1:>7} {text}"


# ---- programs -----------------------------------------------------------------------

# Stand-ins in a program's texts for what busybox `date` prints and for a loop counter.
DATE_MARK = "\x01date\x01"
COUNT_MARK = "\x01count\x01"


@dataclass
class Program:
    """What a container's main process does, relative to its start time (seconds).

    `exit_after` None: runs until killed. `logs`: (offset, severity, text) where a
    severity of I/W/E adds a klog header with the time at rendering. `repeat`: a loop
    that logs `lines` every `period` seconds from `start`. `files`: (offset, path,
    present) changes seen by exec probes. `writes`: (offset, path, append, text) lines
    the process writes into files (`date >> /var/log/app.log`), once at `offset` or,
    with offset None, on every turn of the `repeat` loop. In the texts of `writes` and
    `repeat`, `DATE_MARK` stands for what `date` prints at that moment and
    `COUNT_MARK` for the loop's counter (`i=0` before it, `i=$((i+1))` in it), which
    `counter` (start, step) describes. `follows`: the file a `tail -f` prints as it
    grows, from its last `-tail_from` lines (`-n 10`, the default) or, when positive,
    from line `tail_from` (`-n +1`).
    `ports`: where HTTP/TCP probes connect; `tls_ports`: those of them that only speak
    HTTPS.
    """

    exit_after: float | None = None
    exit_code: int = 0
    logs: list[tuple[float, str, str]] = field(default_factory=list)
    repeat: tuple[float, float, list[tuple[str, str]]] | None = None
    files: list[tuple[float, str, bool]] = field(default_factory=list)
    writes: list[tuple[float | None, str, bool, str]] = field(default_factory=list)
    follows: str = ""
    tail_from: int = -10
    counter: tuple[int, int] | None = None
    ports: list[int] = field(default_factory=list)
    tls_ports: list[int] = field(default_factory=list)
    # "address:port" sockets as `ss -tlnp` shows them (filled for host-network servers).
    listen: list[str] = field(default_factory=list)
    reason: str = ""  # terminated reason when it exits ("Error", "Completed", ...)
    message: str = ""  # terminated message (the runtime's error for a StartError)
    functional: bool = True  # does its job (a control-plane component reaches the API)
    # A control-plane client (kube-scheduler, kube-controller-manager): the host path of
    # its kubeconfig and the notAfter (epoch) of the client certificate it loaded at
    # start; it keeps that certificate until it restarts (credentials.py).
    client_config: str = ""
    client_cert_expiry: float | None = None
    component: str = ""

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Program:
        prog = cls(**data)
        prog.logs = [tuple(x) for x in prog.logs]  # type: ignore[misc]
        prog.files = [tuple(x) for x in prog.files]  # type: ignore[misc]
        prog.writes = [tuple(x) for x in prog.writes]  # type: ignore[misc]
        if prog.counter is not None:
            prog.counter = (int(prog.counter[0]), int(prog.counter[1]))
        if prog.repeat is not None:
            lines = [(str(a), str(b)) for a, b in prog.repeat[2]]
            prog.repeat = (prog.repeat[0], prog.repeat[1], lines)
        return prog

    def lines_until(self, started: float, elapsed: float, limit: int = 5000) -> list[str]:
        """The log lines written in the first `elapsed` seconds of a process started
        at epoch second `started`."""
        return [line for _, line in self.timed_lines_until(started, elapsed, limit)]

    def timed_lines_until(
        self, started: float, elapsed: float, limit: int = 5000
    ) -> list[tuple[float, str]]:
        """`lines_until` with the epoch second each line was written."""
        out = [(o, klog_line(sev, text, started + o)) for o, sev, text in self.logs if o <= elapsed]
        if self.repeat is not None:
            start, period, lines = self.repeat
            t = start
            count = 0
            while t <= elapsed and count < limit:
                out.extend(
                    (t, klog_line(sev, self.render(text, started + t, count), started + t))
                    for sev, text in lines
                )
                t += period
                count += 1
            out.sort(key=lambda pair: pair[0])
        return [(started + offset, line) for offset, line in out][-limit:]

    def render(self, text: str, moment: float, turn: int) -> str:
        """A loop's text at `moment` (epoch seconds) on its turn `turn` (from 0)."""
        if DATE_MARK in text:
            stamp = datetime.fromtimestamp(moment, UTC)
            date = f"{stamp:%a %b} {stamp.day:>2} {stamp:%H:%M:%S} UTC {stamp:%Y}"
            text = text.replace(DATE_MARK, date)
        if COUNT_MARK in text and self.counter is not None:
            text = text.replace(COUNT_MARK, str(self.counter[0] + turn * self.counter[1]))
        return text

    def file_present(self, path: str, elapsed: float) -> bool:
        present = False
        for offset, p, exists in self.files:
            if offset <= elapsed and p == path:
                present = exists
        return present


_SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash"}


def _script_program(script: str, prog: Program) -> Program:
    """Interpret a small shell script: echo, sleep, touch, rm, exit, true/false and a
    `while true; do ...; done` loop (anything else is taken to succeed silently)."""
    t = 0.0
    unknown = False
    counters: dict[str, int] = {}
    loop = re.search(r"while\s+(true|:|\[\s*1\s*\])\s*;\s*do\s+(.*?);?\s*done", script, re.S)
    head = script[: loop.start()] if loop else script
    for raw in re.split(r";|&&|\n", head):
        raw = _last_stage(raw)
        if _redirected_write(raw, t, prog):
            unknown = False
            continue
        words = _words(raw)
        if not words:
            continue
        cmd, args = words[0], words[1:]
        assigned = re.fullmatch(r"(\w+)=(-?\d+)", cmd)
        if assigned and not args:
            counters[assigned.group(1)] = int(assigned.group(2))
        unknown = cmd not in ("touch", "rm", "true", "sleep", "mkdir", "cat", "date", ":")
        if cmd == "echo":
            prog.logs.append((t, "", " ".join(a for a in args if a != "-n")))
            unknown = False
        elif cmd == "sleep":
            value = args[0] if args else "0"
            if value in ("infinity", "inf"):
                prog.exit_after = None
                return prog
            t += _seconds(value)
        elif cmd == "touch":
            prog.files.extend((t, a, True) for a in args)
        elif cmd == "rm":
            prog.files.extend((t, a, False) for a in args if not a.startswith("-"))
        elif cmd == "exit":
            prog.exit_after = t
            prog.exit_code = int(args[0]) if args and args[0].isdigit() else 0
            return prog
        elif cmd == "false":
            prog.exit_after = t
            prog.exit_code = 1
            return prog
        elif cmd == "tail" and _follows(args):
            prog.follows = _follows(args)
            prog.tail_from = _tail_from(args)
            prog.exit_after = None
            return prog
        elif cmd in ("nginx", "httpd", "httpd-foreground", "redis-server"):
            prog.exit_after = None
            return prog
    if loop:
        return _loop_program(loop.group(2), t, prog, counters)
    # A script that ends by running some other program (a server binary) keeps
    # running; one made only of shell built-ins ends when they are done.
    prog.exit_after = None if unknown else t
    prog.exit_code = 0
    return prog


def _last_stage(command: str) -> str:
    """A pipeline into netcat as nc alone (`echo hi | nc -l -p 80`: the echo's output
    goes into the pipe, not to the log, and nc keeps the container running)."""
    if "||" in command or not _INTO_NC.search(command):
        return command
    return command.rsplit("|", 1)[1]


_INTO_NC = re.compile(r"\|\s*(?:\S*/)?(?:nc|netcat|ncat)\s[^|]*$")


def _loop_program(body: str, start: float, prog: Program, counters: dict[str, int]) -> Program:
    """A `while true` loop from `start`: what its body echoes and writes every turn,
    one turn per the sum of its sleeps."""
    period = 0.0
    lines: list[tuple[str, str]] = []
    step = re.search(r"\b(\w+)=\$\(\(\s*\1\s*([+-])\s*(\d+)\s*\)\)", body)
    counter = step.group(1) if step and step.group(1) in counters else ""
    if step and counter:
        amount = int(step.group(3)) * (-1 if step.group(2) == "-" else 1)
        prog.counter = (counters[counter], amount)
    for raw in re.split(r";|&&|\n", body):
        raw = _last_stage(raw)
        if _redirected_write(raw, None, prog, counter):
            continue
        words = _words(raw)
        if words and words[0] == "echo":
            text = " ".join(a for a in words[1:] if a != "-n")
            lines.append(("", _marked(text, counter)))
        elif words and words[0] == "sleep" and len(words) > 1:
            period += _seconds(words[1])
    has_writes = any(offset is None for offset, *_ in prog.writes)
    prog.repeat = (start, max(period, 1.0), lines) if lines or has_writes else None
    prog.exit_after = None
    return prog


_REDIRECT = re.compile(r"^(?P<cmd>.*?)\s*(?P<op>>>|>)\s*(?P<path>/\S+)\s*$", re.S)


def _marked(text: str, counter: str = "") -> str:
    """`text` with `$(date)` (and the loop counter `$i`) as their stand-ins."""
    text = text.replace("$(date)", DATE_MARK)
    if counter:
        text = re.sub(r"\$\{?" + counter + r"\b\}?", COUNT_MARK, text)
    return text


def _redirected_write(raw: str, offset: float | None, prog: Program, counter: str = "") -> bool:
    """`echo text >> /file` or `date > /file`: record the write (once at `offset`,
    or on every loop turn when None); False when `raw` is no such command."""
    match = _REDIRECT.match(raw.strip())
    if match is None:
        return False
    words = _words(match.group("cmd"))
    if not words or words[0] not in ("echo", "date"):
        return False
    if words[0] == "date":
        text = DATE_MARK
    else:
        text = _marked(" ".join(a for a in words[1:] if a != "-n"), counter)
    path = match.group("path").strip("'\"")
    prog.writes.append((offset, path, match.group("op") == ">>", text))
    return True


def _tail_from(args: list[str]) -> int:
    """Where `tail -n N` / `-n +N` / `-nN` starts: -N (last N lines) or +N (line N)."""
    for index, arg in enumerate(args):
        value = ""
        if arg in ("-n", "--lines") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("-n") and len(arg) > 2:
            value = arg[2:]
        elif arg.startswith("--lines="):
            value = arg.split("=", 1)[1]
        if value.startswith("+") and value[1:].isdigit():
            return max(int(value[1:]), 1)
        if value.lstrip("-").isdigit():
            return -abs(int(value))
    return -10


def _follows(args: list[str]) -> str:
    """The file `tail ARGS` follows (`-f`, `-F`, `--follow`), or ""."""
    follow = any(
        a in ("-f", "-F", "--follow", "--retry")
        or a.startswith("--follow=")
        or (a.startswith("-") and not a.startswith("--") and "f" in a.lower())
        for a in args
    )
    files = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-n", "-c", "-s"):
            skip = True
            continue
        if not a.startswith("-") and not a.startswith("+"):
            files.append(a)
    return files[-1] if follow and files else ""


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text.strip())
    except ValueError:
        return text.split()


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", value)
    if not match:
        return 0.0
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def program_for(container: dict[str, Any]) -> Program:
    """The behaviour of an ordinary (non control-plane) container from its image,
    command and args."""
    image = str(container.get("image") or "")
    short = repository_name(image)
    declared = [
        int(p["containerPort"])
        for p in container.get("ports") or []
        if isinstance(p, dict) and isinstance(p.get("containerPort"), int)
    ]
    default_ports, startup_logs = SERVER_IMAGES.get(short, ((), ()))
    prog = Program(ports=sorted(set(declared) | set(default_ports)))
    prog.tls_ports = list(TLS_SERVER_PORTS.get(short, ()))
    command = [str(x) for x in container.get("command") or []]
    args = [str(x) for x in container.get("args") or []]
    argv = command + args
    if not argv:
        if short in SHELL_IMAGES or short.split("/")[-1] in SHELL_IMAGES:
            # A shell with stdin open (`stdin: true`, as `kubectl run -i` sets) waits
            # for input; without it, it reads EOF and exits at once.
            prog.exit_after = None if container.get("stdin") else 0.0
            return prog
        prog.logs = [(0.0, "", line) for line in startup_logs]
        return prog
    missing = _missing_executable(short, command, args)
    if missing is not None:
        # runc cannot start a binary the image lacks: StartError, exit code 128, and
        # the runtime's message as the terminated state's message.
        prog.exit_after = 0.0
        prog.exit_code = 128
        prog.reason = "StartError"
        prog.message = missing
        return prog
    if argv[0] in _SHELLS and len(argv) >= 3 and argv[1] in ("-c", "-ec", "-xc"):
        return _script_program(argv[2], prog)
    return _script_program(" ".join(shlex.quote(a) for a in argv), prog)


def _missing_executable(repository: str, command: list[str], args: list[str]) -> str | None:
    """containerd's error when an image of the catalogue has no such executable (an
    image outside the catalogue may hold anything, so it is never refused). `command`
    replaces the image's entrypoint; `args` alone are the command only in an image
    without one (busybox), else the entrypoint's arguments."""
    from app.sim.nodes.containers.images import PROFILES

    profile = PROFILES.get(repository) or PROFILES.get(repository.rsplit("/", 1)[-1])
    if profile is None:
        return None
    argv = command or ([] if profile.entrypoint else args)
    executable = argv[0] if argv else ""
    if not executable or executable.rsplit("/", 1)[-1] in profile.tools:
        return None
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        "failed: runc create failed: unable to start container process: error during "
        f'container init: exec: "{executable}": executable file not found in $PATH: unknown'
    )

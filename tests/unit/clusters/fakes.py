"""Fake `kind` and `docker` executables (there is no container engine here).

Each records its arguments (and stdin) as one JSON line in `$FAKE_CLUSTER_LOG` and prints
plausible output:

- `kind create cluster ... --config FILE`: copies FILE into the record, prints kind's
  progress lines; `kind get kubeconfig`: prints `$FAKE_KUBECONFIG` (a file);
  `kind delete cluster`: prints `Deleting cluster ...`.
- `docker exec [-i] CONTAINER cat -- PATH`: prints `$FAKE_NODE_ROOT/CONTAINER/PATH`, exit 1
  with cat's message when missing; `docker exec -i CONTAINER sh -c 'cat > "$1"' sh PATH`
  writes stdin there; `docker exec CONTAINER sh -c CMD`: prints `ran: CMD` (exit 3 when
  CMD contains `fail`); `docker inspect ...`: prints `[]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, sys
from pathlib import Path

name = Path(sys.argv[0]).name
args = sys.argv[1:]
stdin = "" if sys.stdin.isatty() else sys.stdin.read()
record = {"tool": name, "args": args}
if stdin:
    record["stdin"] = stdin
if name == "kind" and args[:2] == ["create", "cluster"]:
    record["config"] = Path(args[args.index("--config") + 1]).read_text()
with open(os.environ["FAKE_CLUSTER_LOG"], "a") as log:
    log.write(json.dumps(record) + "\n")

def node_path(container, path):
    return Path(os.environ["FAKE_NODE_ROOT"]) / container / path.lstrip("/")

if name == "kind":
    if args[:2] == ["create", "cluster"]:
        cluster = args[args.index("--name") + 1]
        print(f'Creating cluster "{cluster}" ...', file=sys.stderr)
        print(" \u2713 Ensuring node image (kindest/node:v1.35.0) \U0001F5BC", file=sys.stderr)
        print(f"Set kubectl context to \"kind-{cluster}\"", file=sys.stderr)
    elif args[:2] == ["get", "kubeconfig"]:
        sys.stdout.write(Path(os.environ["FAKE_KUBECONFIG"]).read_text())
    elif args[:2] == ["delete", "cluster"]:
        print(f'Deleting cluster "{args[args.index("--name") + 1]}" ...', file=sys.stderr)
    sys.exit(0)

if name == "docker":
    if args[0] == "inspect":
        print("[]")
        sys.exit(0)
    rest = [a for a in args[1:] if a != "-i"]
    container, command = rest[0], rest[1:]
    if command[:2] == ["cat", "--"]:
        target = node_path(container, command[2])
        if not target.is_file():
            print(f"cat: {command[2]}: No such file or directory", file=sys.stderr)
            sys.exit(1)
        sys.stdout.write(target.read_text())
        sys.exit(0)
    if command[:3] == ["sh", "-c", 'cat > "$1"']:
        target = node_path(container, command[4])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stdin)
        sys.exit(0)
    if command[:2] == ["sh", "-c"]:
        print(f"ran: {command[2]}")
        sys.exit(3 if "fail" in command[2] else 0)
    sys.exit(125)
"""


def install_fakes(folder: Path) -> Path:
    """Write `kind` and `docker` into `folder/bin`; returns that folder."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("kind", "docker"):
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n{SCRIPT}")
        path.chmod(0o755)
    return bin_dir


def read_log(path: Path) -> list[dict]:
    """The recorded invocations, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]

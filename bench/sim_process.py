"""A `certprep sim serve` child process for the simulator benches (plain HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def start_sim_server(
    state: Path, extra_env: dict[str, str] | None = None, *, tls: bool = False
) -> tuple[subprocess.Popen, dict]:
    """Start the simulator on a free port with `state` as its state folder; returns the
    process and its `server.json` (`url`, `adminToken`) once `/healthz` answers.
    With `tls` it serves HTTPS (kubectl sends tokens over HTTPS only) and the
    returned dict's `verify` names its CA certificate."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    log = (state / "sim.log").open("w")
    command = [sys.executable, "-c", "from app.cli import main; main()", "sim", "serve"]
    transport = [] if tls else ["--insecure-http"]
    process = subprocess.Popen(
        [*command, "--port", "0", *transport, "--state-dir", str(state)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child keeps its own copy
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            info = json.loads((state / "server.json").read_text())
            info["verify"] = str(state / "ca.crt") if tls else True
            if requests.get(info["url"] + "/healthz", timeout=2, verify=info["verify"]).ok:
                return process, info
        except (OSError, ValueError, KeyError, requests.RequestException):
            pass
        if process.poll() is not None:
            raise SystemExit(f"simulator exited: {(state / 'sim.log').read_text()}")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("simulator did not start within 60 s")


def create_cluster(info: dict, nodes: int = 2) -> dict:
    """A new cluster through the admin API: its document (`server`, `token`, ...)."""
    created = requests.post(
        info["url"] + "/admin/clusters",
        json={"nodes": nodes},
        headers={"Authorization": f"Bearer {info['adminToken']}"},
        timeout=60,
        verify=info.get("verify", True),
    )
    created.raise_for_status()
    return created.json()


def cluster_session(token: str) -> requests.Session:
    """A session that sends `token` (one connection per session)."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    return session

"""The import contracts in `.importlinter` hold for the code, and they do catch a break.

The contracts: the simulator's groups depend one way (machinery <- apiserver <- client
<- controllers, scheduler, nodes <- composition); the simulator imports no Flask,
SQLAlchemy or other `app` module; grading never imports the simulator.
"""

from __future__ import annotations

import configparser
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"

LINT = (
    "from importlinter.cli import lint_imports; "
    "raise SystemExit(lint_imports(config_filename={config!r}, no_cache=True, no_logo=True))"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run every contract over the `app` package found in `tree`."""
    return subprocess.run(
        [sys.executable, "-c", LINT.format(config=str(CONFIG))],
        capture_output=True,
        text=True,
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return parser


def test_the_code_keeps_every_contract() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_the_simulator_contract_names_every_other_app_module() -> None:
    """A new top-level `app` module is forbidden to the simulator as soon as it exists."""
    forbidden = contracts()["importlinter:contract:sim-standalone"]["forbidden_modules"].split()
    others = {f"app.{m.name}" for m in pkgutil.iter_modules(app.__path__) if m.name != "sim"}
    assert others - set(forbidden) == set()


def test_a_back_import_breaks_the_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    sim = tmp_path / "app" / "sim"
    with (sim / "apiserver" / "pipeline.py").open("a") as f:
        f.write("\nfrom app.sim.nodes import ClusterNodes  # noqa: E402, F401\n")
    with (sim / "machinery" / "clock.py").open("a") as f:
        f.write("\nimport flask  # noqa: E402, F401\n")
    with (tmp_path / "app" / "grading" / "engine.py").open("a") as f:
        f.write("\nimport app.sim.server  # noqa: E402, F401\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 kept, 3 broken" in done.stdout
    assert "app.sim.apiserver.pipeline -> app.sim.nodes" in done.stdout
    assert "app.sim.machinery.clock -> flask" in done.stdout
    assert "app.grading.engine -> app.sim.server" in done.stdout

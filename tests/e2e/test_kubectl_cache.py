"""kubectl started by the tests keeps its discovery cache in a temporary folder, never in
the checkout or the real home."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from app.config import PROJECT_ROOT
from tests.fixtures.sim import kubectl_binary


def test_kubectl_cache_dir_is_a_temporary_folder() -> None:
    folder = Path(os.environ["KUBECACHEDIR"]).resolve()
    assert folder.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not folder.is_relative_to(PROJECT_ROOT.resolve())
    # kubectl itself reads the variable: its --cache-dir default is that folder.
    shown = subprocess.run(
        [kubectl_binary(), "options"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert (
        f"--cache-dir='{folder}'" in shown or f"--cache-dir='{os.environ['KUBECACHEDIR']}'" in shown
    )


def test_no_kubectl_cache_is_tracked() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert ".kube/" in ignored

"""A lab's cluster shape may ask for the optional ingress and Gateway API add-ons."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.grading.labfile import check_lab

EXAMPLE = Path(__file__).resolve().parents[3] / "labs" / "rbac-exact-permissions"


def _with_addons(tmp_path: Path, addons: str) -> Path:
    folder = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, folder)
    path = folder / "lab.yaml"
    path.write_text(path.read_text().replace("cluster:\n", f"cluster:\n  addons: {addons}\n", 1))
    return folder


def test_known_addons_load_into_the_shape(tmp_path: Path) -> None:
    lab, issues = check_lab(_with_addons(tmp_path, "[ingress-nginx, gateway-api]"))
    assert issues == []
    assert lab is not None
    assert lab.data["cluster"]["addons"] == ["ingress-nginx", "gateway-api"]


def test_an_unknown_addon_is_reported_with_its_line(tmp_path: Path) -> None:
    lab, issues = check_lab(_with_addons(tmp_path, "[traefik]"), display="lab.yaml")
    assert lab is None
    [issue] = issues
    assert issue.line == 16
    assert issue.message == ("cluster.addons[0]: Must be one of: ingress-nginx, gateway-api.")

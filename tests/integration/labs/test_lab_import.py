"""Importing lab folders into the database: idempotent, versioned by content hash,
retiring labs that left the folder only when asked to (`--prune`), refusing invalid
ones with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli.lab import lab
from app.models.lab import Lab
from app.services.errors import ValidationFailed
from app.services.labs import import_labs, lab_checks, lab_setup
from tests.fixtures.labs import make_lab_folder


def test_import_is_idempotent_and_versions_by_content(db_session: Any, tmp_path: Path) -> None:
    root = tmp_path / "labs"
    make_lab_folder(root, "lab-one", checks=3)
    make_lab_folder(root, "lab-two", checks=2)
    first = import_labs(root)
    assert (first.added, first.updated) == (["lab-one", "lab-two"], [])
    again = import_labs(root)
    assert again.unchanged == ["lab-one", "lab-two"] and not again.added and not again.updated
    row = db_session.scalar(select(Lab).where(Lab.slug == "lab-one"))
    old_hash = row.content_hash

    manifest = root / "lab-one" / "manifests" / "00-setup.yaml"
    manifest.write_text(manifest.read_text().replace("value-0", "changed"))
    changed = import_labs(root)
    assert changed.updated == ["lab-one"]
    db_session.expire_all()
    row = db_session.scalar(select(Lab).where(Lab.slug == "lab-one"))
    assert row.content_hash != old_hash and "changed" in row.manifests[0]["content"]

    setup = lab_setup(row)
    assert setup.shape["nodes"][0]["name"] == "controlplane" and setup.faults == []
    checks, policy = lab_checks(row)
    assert [c.id for c in checks] == ["cm-0", "cm-1", "cm-2"]
    assert checks[0].params["name"] == "cm-0" and policy.cheat_cap_percent is None

    shutil.rmtree(root / "lab-two")
    kept = import_labs(root)
    assert kept.retired == [] and kept.absent == ["lab-two"]
    retired = import_labs(root, prune=True)
    assert retired.retired == ["lab-two"] and retired.absent == []


def test_invalid_lab_is_refused_with_file_and_line(db_session: Any, tmp_path: Path) -> None:
    root = tmp_path / "labs"
    folder = make_lab_folder(root, "broken-lab", checks=1)
    text = (folder / "lab.yaml").read_text().replace("points: 1", "points: lots")
    (folder / "lab.yaml").write_text(text)
    with pytest.raises(ValidationFailed) as failure:
        import_labs(root)
    (problem,) = failure.value.errors["labs"]
    assert "broken-lab/lab.yaml:" in problem and "points" in problem
    assert db_session.scalar(select(Lab)) is None


@pytest.fixture
def command_env(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `certprep` commands at the test database."""
    monkeypatch.setenv("CERTPREP_DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", app_config["instance_dir"])


def test_lab_import_command(db_session: Any, command_env: None, tmp_path: Path) -> None:
    root = tmp_path / "labs"
    make_lab_folder(root, "cli-lab", checks=1)
    result = CliRunner().invoke(lab, ["import", str(root)])
    assert result.exit_code == 0, result.output
    assert "labs imported: added: 1" in result.output
    db_session.expire_all()
    assert db_session.scalar(select(Lab.slug)) == "cli-lab"


@pytest.mark.reliability
def test_importing_one_lab_retires_nothing_unless_pruning(
    db_session: Any, command_env: None, tmp_path: Path
) -> None:
    catalogue = tmp_path / "labs"
    for slug in ("lab-a", "lab-b", "lab-c"):
        make_lab_folder(catalogue, slug, checks=1)
    assert CliRunner().invoke(lab, ["import", str(catalogue)]).exit_code == 0
    subset = tmp_path / "subset"
    make_lab_folder(subset, "lab-new", checks=1)

    for target in (subset, subset / "lab-new"):  # a folder of labs, or one lab folder
        result = CliRunner().invoke(lab, ["import", str(target)])
        assert result.exit_code == 0, result.output
        assert "retired" not in result.output
        assert "kept (--prune retires them): lab-a, lab-b, lab-c" in result.output
    db_session.expire_all()
    live = db_session.scalars(select(Lab.slug).where(Lab.retired_at.is_(None)).order_by(Lab.slug))
    assert list(live) == ["lab-a", "lab-b", "lab-c", "lab-new"]

    pruned = CliRunner().invoke(lab, ["import", "--prune", str(subset)])
    assert pruned.exit_code == 0, pruned.output
    for slug in ("lab-a", "lab-b", "lab-c"):
        assert f"retired: {slug}" in pruned.output
    assert "labs imported: unchanged: 1, retired: 3" in pruned.output
    db_session.expire_all()
    live = db_session.scalars(select(Lab.slug).where(Lab.retired_at.is_(None)))
    assert list(live) == ["lab-new"]

"""A lab published under a new slug (`renamed_from`): importing it adds the new lab and
retires the old one without `--prune`, and the old row keeps its history."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.grading.labfile import check_lab
from app.models.lab import Lab
from app.services.labs import import_labs
from tests.fixtures.labs import make_lab_folder


def rename(root: Path, old: str, new: str) -> None:
    shutil.move(root / old, root / new)
    lab_file = root / new / "lab.yaml"
    lab_file.write_text(
        lab_file.read_text().replace(f"slug: {old}\n", f"slug: {new}\nrenamed_from: [{old}]\n")
    )


@pytest.mark.db
def test_importing_a_renamed_lab_retires_its_old_slug(db_session: Any, tmp_path: Path) -> None:
    root = tmp_path / "labs"
    make_lab_folder(root, "scheduler-typo", checks=2)
    make_lab_folder(root, "other-lab", checks=1)
    make_lab_folder(root, "left-alone", checks=1)
    assert import_labs(root).added == ["left-alone", "other-lab", "scheduler-typo"]
    old_id = db_session.scalar(select(Lab.id).where(Lab.slug == "scheduler-typo"))

    rename(root, "scheduler-typo", "pending-pods-1")
    shutil.rmtree(root / "left-alone")
    report = import_labs(root)
    assert report.added == ["pending-pods-1"]
    assert report.retired == ["scheduler-typo"]
    # A lab merely absent from the folder is still kept without --prune.
    assert report.absent == ["left-alone"]
    db_session.expire_all()
    old = db_session.scalar(select(Lab).where(Lab.slug == "scheduler-typo"))
    assert old.id == old_id and old.retired_at is not None
    new = db_session.scalar(select(Lab).where(Lab.slug == "pending-pods-1"))
    assert new.retired_at is None and new.spec["renamed_from"] == ["scheduler-typo"]
    # Importing again changes nothing.
    again = import_labs(root)
    assert again.retired == [] and "pending-pods-1" in again.unchanged


def test_a_lab_cannot_be_renamed_from_its_own_slug(tmp_path: Path) -> None:
    folder = make_lab_folder(tmp_path, "lab-x", checks=1)
    lab_file = folder / "lab.yaml"
    lab_file.write_text(
        lab_file.read_text().replace("slug: lab-x\n", "slug: lab-x\nrenamed_from: [lab-x]\n")
    )
    lab, issues = check_lab(folder)
    assert lab is None
    assert any("renamed from its own slug" in str(i) and ":3:" in str(i) for i in issues), issues

"""`certprep bank check|import` on hostile YAML: every file ends as `FILE:LINE: MESSAGE`
in seconds (an alias bomb, deep nesting, a self-referencing alias, control characters),
run as the real command in a child process so a hang fails the test instead of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from app.banks.loader import ContentLoadError, parse_text
from app.sim.machinery.safe_yaml import YamlLimitError, YamlLimits, load_yaml

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
HEADER = "spec: certprep/questions/v1\nbank: hostile\ntitle: Hostile\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`levels` anchored lists, each `width` aliases of the previous: width^levels nodes."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    # name: (file text, line of the problem, words in the message)
    "bomb": (HEADER + alias_bomb(), 9, "aliases expand to more than"),
    "deep": (HEADER + "questions: " + "[" * 5000 + "]" * 5000 + "\n", 4, "nested more than"),
    "self": (HEADER + "questions: &q [*q]\n", 4, "refers to a node that contains it"),
    "selfmap": (HEADER + "extra: &m {again: *m}\n", 4, "refers to a node that contains it"),
    "nul": (HEADER + 'questions: "a\x00b"\n', 4, "#x0000: control characters"),
    "bell": (HEADER + "title2: x\ny: \x07\n", 5, "#x0007"),
}


def run_cli(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """The `certprep` command in a child process on this tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    return result, time.monotonic() - started


def test_the_alias_bomb_is_under_half_a_kilobyte() -> None:
    # The file the report was about: 445 bytes that describe 9^9 strings.
    assert len(alias_bomb().encode()) < 600


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_parse_text_names_file_and_line(name: str) -> None:
    text, line, words = HOSTILE[name]
    with pytest.raises(ContentLoadError) as caught:
        parse_text(text, f"{name}.yaml")
    issue = caught.value.issue
    assert (issue.file, issue.line) == (f"{name}.yaml", line)
    assert words in issue.message and issue.message.startswith("invalid YAML: ")


@pytest.mark.parametrize("command", ["check", "import"])
def test_cli_reports_every_hostile_file_without_a_traceback(tmp_path: Path, command: str) -> None:
    for name, (text, _, _) in HOSTILE.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8", newline="\n")
    result, _ = run_cli("bank", command, str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name, (_, line, words) in HOSTILE.items():
        expected = f"{tmp_path / name}.yaml:{line}: invalid YAML: "
        found = [row for row in result.stderr.splitlines() if row.startswith(expected)]
        assert found and words in found[0], (name, result.stderr)


def test_cli_rejects_a_lab_file_holding_an_alias_bomb(tmp_path: Path) -> None:
    lab = tmp_path / "bomb-lab"
    lab.mkdir()
    (lab / "lab.yaml").write_text("spec: certprep/lab/v1\n" + alias_bomb(), encoding="utf-8")
    result, _ = run_cli("bank", "check", str(lab))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{lab / 'lab.yaml'}:7: invalid YAML: aliases expand" in result.stderr


def test_legitimate_anchors_and_merge_keys_still_load() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nmerged: {<<: *b, z: 3}\n"
    assert load_yaml(text) == yaml.safe_load(text)


def test_limits_count_expanded_nodes_depth_and_aliases() -> None:
    wide = "a: &a [1, 2, 3]\nb: [*a, *a, *a, *a]\n"  # root + (a, [1,2,3]) + (b, [4 x 4]) = 24 nodes
    assert load_yaml(wide, YamlLimits(max_nodes=24))["b"][3] == [1, 2, 3]
    with pytest.raises(YamlLimitError, match="more than 23 nodes"):
        load_yaml(wide, YamlLimits(max_nodes=23))
    with pytest.raises(YamlLimitError, match="more than 3 aliases"):
        load_yaml(wide, YamlLimits(max_aliases=3))
    # An alias repeats the depth of what it names (scalars count as a level):
    # mapping > b's list > *a's list > inner list > 1 is 5 deep.
    deep = "a: &a [[1]]\nb: [*a]\n"
    assert load_yaml(deep, YamlLimits(max_depth=5))["b"] == [[[1]]]
    with pytest.raises(YamlLimitError, match="nested more than 4 levels"):
        load_yaml(deep, YamlLimits(max_depth=4))

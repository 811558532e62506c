"""Sources, tracks and exam coverage: what `certprep bank check` enforces beyond the schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.banks.coverage import EXAM_WEIGHTS, coverage
from app.banks.draw import plan_draw
from app.banks.schemas import TYPE_SCHEMAS
from app.banks.validator import load_content
from app.cli.bank import bank
from tests.fixtures.bank_files import GOOD_NUMERIC, HEADER, issues_for, line_of, write

SEED = '    seed_section: "etcd / Distributed KV and Raft consensus"\n'
URL = "    source: https://kubernetes.io/docs/concepts/services-networking/network-policies/\n"


def test_a_question_without_seed_section_or_source_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    text = HEADER + GOOD_NUMERIC.replace(SEED, "")
    [(name, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert name == "etcd.yaml"
    assert line == line_of(text, "- id: etcd-quorum-five")
    assert message.startswith("questions[0].source: needs a source: `seed_section`")


def test_a_documentation_url_or_an_upstream_path_is_a_source(tmp_path: Path) -> None:
    upstream = "    source: kubernetes/kubernetes/pkg/proxy/nftables/proxier.go\n"
    text = (
        HEADER
        + GOOD_NUMERIC.replace(SEED, URL)
        + GOOD_NUMERIC.replace("etcd-quorum-five", "etcd-quorum-up").replace(SEED, upstream)
    )
    content = load_content([write(tmp_path, "etcd.yaml", text)])
    assert content.issues == []
    sources = [q.data["source"] for q in content.questions]
    assert sources[0].startswith("https://kubernetes.io/") and sources[1].endswith("proxier.go")
    assert all(q.data["seed_section"] == "" for q in content.questions)


def test_a_source_that_is_not_url_like_is_refused_at_its_line(tmp_path: Path) -> None:
    text = HEADER + GOOD_NUMERIC.replace(SEED, "    source: the docs\n")
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "source: the docs")
    assert message.startswith("questions[0].source: must be a URL")


def test_track_defaults_to_cka_and_blueprints_select_on_it(tmp_path: Path) -> None:
    openshift = GOOD_NUMERIC.replace("etcd-quorum-five", "etcd-ocp").replace(
        "    section: etcd\n", "    section: etcd\n    track: openshift\n"
    )
    content = load_content([write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC + openshift)])
    assert content.issues == []
    tracks = {q.data["id"]: q.data["track"] for q in content.questions}
    assert tracks == {"etcd-quorum-five": "cka", "etcd-ocp": "openshift"}
    pool = [q.attributes for q in content.questions]
    drawn = plan_draw(pool, [{"where": {"track": ["cka"]}, "count": 1}])
    assert [q["id"] for q in drawn] == ["etcd-quorum-five"]


def test_an_unknown_track_is_refused(tmp_path: Path) -> None:
    text = HEADER + GOOD_NUMERIC.replace(
        "    section: etcd\n", "    section: etcd\n    track: ckad\n"
    )
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "track: ckad")
    assert "must be one of: cka, openshift" in message


def _questions(per_domain: dict[str, int], types: tuple[str, ...] = tuple(TYPE_SCHEMAS)) -> list:
    return [
        {"domain": domain, "type": types[i % len(types)], "track": "cka"}
        for domain, count in per_domain.items()
        for i in range(count)
    ]


def test_coverage_at_the_exam_weights_has_no_problem() -> None:
    report = coverage(_questions({d: int(w) * 7 for d, w in EXAM_WEIGHTS.items()}))
    assert report.total == 700
    assert report.problems == []
    assert {r.domain: round(r.share, 1) for r in report.domains} == {
        d: float(w) for d, w in EXAM_WEIGHTS.items()
    }


def test_coverage_flags_a_domain_more_than_five_points_off_and_a_missing_type() -> None:
    counts = {d: int(w) * 7 for d, w in EXAM_WEIGHTS.items()}
    counts["Storage"] = 7  # 7 of 637: 1.1 %, weight 10 %
    questions = _questions(counts)
    questions = [q for q in questions if not (q["domain"] == "Storage" and q["type"] == "numeric")]
    questions.append({"domain": "Storage", "type": "numeric", "track": "openshift"})
    report = coverage(questions)
    assert report.other_tracks == {"openshift": 1}
    storage = next(r for r in report.domains if r.domain == "Storage")
    assert storage.count == 6 and storage.missing_types == ["numeric"]
    assert any("'Storage' has 0.9 %" in p and "off by -9.1 points" in p for p in report.problems)
    assert "domain 'Storage' has no question of type: numeric" in report.problems
    alone = coverage(_questions({**{d: 0 for d in EXAM_WEIGHTS}, "Storage": 10}))
    assert any("off by +90.0" in p for p in alone.problems)


def test_five_points_off_exactly_passes() -> None:
    counts = {
        "Troubleshooting": 35,
        "Cluster Architecture": 20,
        "Services & Networking": 20,
        "Workloads & Scheduling": 15,
        "Storage": 10,
    }
    assert coverage(_questions(counts)).problems == []
    counts = {**counts, "Troubleshooting": 36, "Cluster Architecture": 19}
    report = coverage(_questions(counts))
    assert [p.split("'")[1] for p in report.problems] == [
        "Troubleshooting",
        "Cluster Architecture",
    ]


def test_cli_prints_the_table_and_fails_on_coverage_only_when_asked(tmp_path: Path) -> None:
    write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC)
    runner = CliRunner()
    plain = runner.invoke(bank, ["check", str(tmp_path)])
    assert plain.exit_code == 0, plain.output
    assert "CKA track: 1 question(s)" in plain.output
    assert "Cluster Architecture" in plain.output and "100.0%" in plain.output
    strict = runner.invoke(bank, ["check", "--coverage", str(tmp_path)])
    assert strict.exit_code == 1
    assert "coverage: domain 'Cluster Architecture' has 100.0 %" in strict.output
    assert "coverage: domain 'Storage' has no question of type: single" in strict.output


def test_the_repository_questions_cover_the_exam() -> None:
    from app.cli.bank import default_content_paths

    content = load_content(default_content_paths())
    assert content.issues == []
    report = coverage(q.data for q in content.questions)
    assert report.problems == []
    assert report.total >= 450
    assert report.other_tracks.get("openshift", 0) > 0


def test_cli_without_paths_enforces_coverage_and_no_coverage_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "questions", "etcd.yaml", HEADER + GOOD_NUMERIC)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    default = runner.invoke(bank, ["check"])
    assert default.exit_code == 1
    # The file count includes the mock exam sets `bank check` falls back to (the
    # project's exams/, as for labs/, when the folder has none).
    counts = r"\d+ file\(s\), 1 bank\(s\), 1 question\(s\)"
    assert re.search(r"coverage error\(s\) in " + counts, default.output)
    relaxed = runner.invoke(bank, ["check", "--no-coverage"])
    assert relaxed.exit_code == 0, relaxed.output
    assert re.search(r"ok: " + counts, relaxed.output)


def _learner_texts(question: dict) -> list[str]:
    texts = [question["stem"], question["explanation"]]
    for key in ("options", "items", "prompts", "choices"):
        for entry in question.get(key, []):
            texts.extend(str(entry[k]) for k in ("text", "why") if k in entry)
    return texts


def test_the_repository_questions_follow_the_content_rules() -> None:
    from app.cli.bank import default_content_paths

    questions = [q.data for q in load_content(default_content_paths()).questions]
    shown = {
        str(entry["text"]).strip().casefold(): q["id"]
        for q in questions
        for key in ("options", "items", "choices")
        for entry in q.get(key, [])
    }
    for question in questions:
        # Learners never read the chapter's working name.
        assert not any("seed" in t.casefold() for t in _learner_texts(question)), question["id"]
        if question["type"] == "matching":
            pairs = [(p["id"], p["match"]) for p in question["prompts"]]
            assert not any(p[1:].isdigit() and p[1:] == c[1:] for p, c in pairs), question["id"]
            order = [c["id"] for c in question["choices"]][: len(pairs)]
            assert order != [c for _, c in pairs], question["id"]
        if question["type"] == "short_answer":
            for accepted in question["accept"]:
                owner = shown.get(accepted.strip().casefold())
                assert owner is None, f"{question['id']}: {accepted!r} is an option of {owner}"

"""The lab file format: the example lab loads, and each kind of mistake is reported
with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.grading.labfile import LabFileError, check_lab, load_lab, load_labs

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "labs" / "rbac-exact-permissions"


def test_example_lab_loads() -> None:
    lab = load_lab(EXAMPLE)
    assert lab.slug == "rbac-exact-permissions"
    assert [c.id for c in lab.checks] == [
        "role-exact-rules",
        "binding-to-jane",
        "jane-reads-pods",
        "jane-nothing-more",
    ]
    assert lab.policy.cheat_cap_percent == 20
    assert lab.hint_policy == "after_first_grade"
    assert lab.node_names == ["controlplane", "node01", "node02"]
    assert [p.name for p in lab.manifest_paths()] == [
        "00-namespace.yaml",
        "10-config.yaml",
        "20-role.yaml",
    ]
    guard = lab.checks[-1]
    assert guard.guard and guard.points == 0 and guard.kind == "access_review"
    # Kind-specific fields travel to the engine untouched.
    assert guard.params["cases"][0] == {
        "user": "jane",
        "verb": "create",
        "resource": "pods",
        "namespace": "dev",
        "allowed": False,
    }
    assert lab.lines["role-exact-rules"] < lab.lines["binding-to-jane"]


def test_load_labs_reads_every_lab_folder() -> None:
    labs, issues = load_labs(ROOT / "labs")
    assert issues == []
    assert "rbac-exact-permissions" in [lab.slug for lab in labs]


@pytest.fixture
def lab_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rbac-exact-permissions"
    shutil.copytree(EXAMPLE, target)
    return target


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "lab.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line_of(folder: Path, needle: str) -> int:
    for number, line in enumerate((folder / "lab.yaml").read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _line_of_after(folder: Path, after: int, needle: str) -> int:
    lines = (folder / "lab.yaml").read_text().splitlines()[after:]
    return next(i for i, line in enumerate(lines) if needle in line)


def _issues(folder: Path) -> list[tuple[int, str]]:
    lab, issues = check_lab(folder, display="lab.yaml")
    assert lab is None
    assert all(i.file == "lab.yaml" for i in issues)
    return [(i.line, i.message) for i in issues]


def test_unknown_top_level_field(lab_copy: Path) -> None:
    _edit(lab_copy, "difficulty: easy", "difficulty: easy\ndifficultly: hard")
    assert _issues(lab_copy) == [(_line_of(lab_copy, "difficultly"), "difficultly: unknown field")]


def test_unknown_check_kind(lab_copy: Path) -> None:
    _edit(lab_copy, "kind: match", "kind: matches")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "kind: matches")
    assert message.startswith("checks[1].kind: unknown check kind 'matches'; one of: absent")


def test_kind_specific_field_error_points_at_the_case(lab_copy: Path) -> None:
    _edit(
        lab_copy,
        "- {user: jane, verb: list, resource: pods, namespace: dev, allowed: true}",
        "- {user: jane, verb: list, resource: pods, namespace: dev}",
    )
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "{user: jane, verb: list, resource: pods, namespace: dev}")
    assert message == "checks[2].cases[1].allowed: missing required field"


def test_unknown_kind_field_is_reported(lab_copy: Path) -> None:
    _edit(lab_copy, "    resource: Role\n", "    resource: Role\n    labels: x\n")
    assert _issues(lab_copy) == [
        (_line_of(lab_copy, "labels: x"), "checks[0].labels: unknown field")
    ]


def test_bad_jmespath_expression(lab_copy: Path) -> None:
    _edit(lab_copy, "expr: length(rules)", "expr: length(rules")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "expr: length(rules")
    assert message.startswith("checks[0].assertions[0].expr: invalid JMESPath")


def test_assertion_needs_exactly_one_operator(lab_copy: Path) -> None:
    _edit(lab_copy, "        equals: 1\n", "        equals: 1\n        ge: 1\n")
    [(_, message)] = _issues(lab_copy)
    assert message.startswith("checks[0].assertions[0]: needs exactly one of equals")


def test_duplicate_check_id(lab_copy: Path) -> None:
    _edit(lab_copy, "id: binding-to-jane", "id: role-exact-rules")
    first = _line_of(lab_copy, "id: role-exact-rules")
    second = first + 1 + _line_of_after(lab_copy, first, "id: role-exact-rules")
    assert _issues(lab_copy) == [
        (second, f"duplicate check id 'role-exact-rules' (also line {first})")
    ]


def test_missing_manifest_file(lab_copy: Path) -> None:
    (lab_copy / "manifests" / "20-role.yaml").unlink()
    assert _issues(lab_copy) == [
        (_line_of(lab_copy, "manifests: ["), "no file manifests/20-role.yaml")
    ]


def test_manifest_outside_the_folder_is_refused(lab_copy: Path) -> None:
    _edit(lab_copy, "20-role.yaml]", "../lab.yaml]")
    assert _issues(lab_copy)[0][1] == "no file manifests/../lab.yaml"


def test_slug_must_equal_folder(lab_copy: Path) -> None:
    _edit(lab_copy, "slug: rbac-exact-permissions", "slug: rbac-other")
    assert _issues(lab_copy) == [
        (
            _line_of(lab_copy, "slug: rbac-other"),
            "slug 'rbac-other' must equal the folder name 'rbac-exact-permissions'",
        )
    ]


def test_guard_needs_a_cap(lab_copy: Path) -> None:
    _edit(lab_copy, "cheat_cap_percent: 20\n", "")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "guard: true")
    assert message == "a guard check needs the lab's cheat_cap_percent"


def test_control_plane_count(lab_copy: Path) -> None:
    _edit(lab_copy, "role: control-plane", "role: worker")
    [(_, message)] = _issues(lab_copy)
    assert message == "cluster.nodes: needs exactly one control-plane node; found 0"


def test_a_spare_node_is_simulator_only(lab_copy: Path) -> None:
    _edit(lab_copy, "role: worker", "role: spare")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "role: spare")
    assert message == "a spare node needs backends: [simulator]"
    _edit(lab_copy, "backends: [simulator, kind]", "backends: [simulator]")
    lab, issues = check_lab(lab_copy, display="lab.yaml")
    assert issues == [] and lab is not None
    assert [n["role"] for n in lab.data["cluster"]["nodes"]].count("spare") == 1


def test_unknown_node_in_fault_and_missing_script(lab_copy: Path) -> None:
    _edit(
        lab_copy,
        "  manifests: [",
        "  faults:\n"
        "    - {kind: node_service, node: node09, service: kubelet, state: stopped}\n"
        "  manifests: [",
    )
    (lab_copy / "cheat-wildcard-role").unlink()
    issues = _issues(lab_copy)
    assert (_line_of(lab_copy, "node: node09"), "unknown node 'node09'") in issues
    assert (
        _line_of(lab_copy, "script: cheat-wildcard-role"),
        "no script cheat-wildcard-role in the lab folder",
    ) in issues


def test_unknown_fault_kind(lab_copy: Path) -> None:
    _edit(
        lab_copy, "  manifests: [", "  faults:\n    - {kind: unplug, node: node01}\n  manifests: ["
    )
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "kind: unplug")
    assert message.startswith("setup.faults[0].kind: unknown fault kind 'unplug'")


def test_certificate_expiry_fault_is_simulator_only_and_needs_durations(
    lab_copy: Path,
) -> None:
    fault = (
        "  faults:\n"
        "    - kind: certificate_expiry\n"
        "      node: node01\n"
        "      paths: [/var/lib/kubelet/pki/kubelet-client-current.pem]\n"
        "      expires_in: -2d\n"
        "  manifests: ["
    )
    _edit(lab_copy, "  manifests: [", fault)
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "kind: certificate_expiry")
    assert message == "certificate_expiry needs backends: [simulator]"
    _edit(lab_copy, "backends: [simulator, kind]", "backends: [simulator]")
    lab, issues = check_lab(lab_copy, display="lab.yaml")
    assert issues == [] and lab is not None
    [loaded] = lab.data["setup"]["faults"]
    assert loaded["expires_in"] == "-2d" and loaded["lifetime"] == "365d"
    _edit(lab_copy, "expires_in: -2d", "expires_in: soon")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "expires_in: soon")
    assert message == 'setup.faults[0].expires_in: a duration such as "-2d" or "72h"'


def test_hint_penalty_cannot_exceed_points(lab_copy: Path) -> None:
    _edit(lab_copy, "hint_penalty: 1\n", "hint_penalty: 7\n")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "hint_penalty: 7")
    assert message == "checks[0].hint_penalty: must not exceed points"


def test_invalid_yaml_reports_the_parser_line(lab_copy: Path) -> None:
    _edit(lab_copy, "title: Exactly", "title: [Exactly")
    [(line, message)] = _issues(lab_copy)
    assert message.startswith("invalid YAML")
    assert line >= _line_of(lab_copy, "title: [Exactly")


def test_duplicate_yaml_key(lab_copy: Path) -> None:
    _edit(lab_copy, "difficulty: easy", "difficulty: easy\ndifficulty: hard")
    issues = _issues(lab_copy)
    assert any("duplicate key 'difficulty'" in m for _, m in issues)


def test_load_lab_raises_with_every_issue(lab_copy: Path) -> None:
    _edit(lab_copy, "version: 1", "version: 0")
    (lab_copy / "solution.md").unlink()
    with pytest.raises(LabFileError) as err:
        load_lab(lab_copy)
    assert len(err.value.issues) == 1  # schema errors stop before the file checks
    assert "version: Must be greater than or equal to 1." in str(err.value)


def test_missing_solution_md(lab_copy: Path) -> None:
    (lab_copy / "solution.md").unlink()
    assert _issues(lab_copy) == [(1, "no solution.md beside lab.yaml")]


EVERY_KIND = """
  - {id: k-exists, kind: exists, points: 1, message: m, apiVersion: v1, resource: Pod,
     namespace: dev, label_selector: app=web, where: "status.phase == 'Running'"}
  - {id: k-absent, kind: absent, points: 1, message: m, apiVersion: v1, resource: Pod,
     namespace: dev, field_selector: status.phase=Failed}
  - {id: k-count, kind: count, points: 1, message: m, apiVersion: v1, resource: Pod,
     namespace: dev, op: ">=", value: 3}
  - {id: k-cond, kind: condition_stable, points: 1, message: m, apiVersion: v1,
     resource: Node, name: node01, type: Ready, for_seconds: 30}
  - {id: k-events, kind: event_provenance, points: 1, message: m, namespace: dev,
     label_selector: app=web, min_objects: 3, after: grade_requested}
  - {id: k-file, kind: node_file, points: 1, message: m, node: controlplane,
     path: /etc/kubernetes/manifests/kube-scheduler.yaml,
     yaml: [{expr: "spec.containers[0].image", matches: "kube-scheduler"}]}
  - {id: k-cmd, kind: node_command, points: 1, message: m, node: node01,
     command: systemctl is-active kubelet, stdout_contains: active}
  - {id: k-probe, kind: probe_pod, points: 1, message: m, budget_seconds: 20,
     node_selector: {disktype: ssd}, tolerations: [{operator: Exists}]}
  - {id: k-pod-cmd, kind: pod_command, points: 1, message: m, namespace: shop,
     from_pod: {labels: {app: frontend}}, command: "wget -qO- -T 2 http://api:8080/",
     stdout_contains: ok}
"""


def test_every_kind_validates_in_a_lab_file(lab_copy: Path) -> None:
    from app.grading.checks import REGISTRY

    _edit(lab_copy, "\nselftests:", EVERY_KIND + "\nselftests:")
    lab = load_lab(lab_copy)
    assert sorted({c.kind for c in lab.checks}) == REGISTRY.names()
    events = next(c for c in lab.checks if c.id == "k-events")
    assert events.params == {
        "namespace": "dev",
        "label_selector": "app=web",
        "min_objects": 3,
        "after": "grade_requested",
    }


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            "{id: x, kind: count, points: 1, message: m, apiVersion: v1, resource: Pod, value: 3,"
            " op: '=>'}",
            "checks[4].op: Must be one of",
        ),
        (
            "{id: x, kind: probe_pod, points: 1, message: m, budget_seconds: 900}",
            "checks[4].budget_seconds: Must be greater than or equal to 1",
        ),
        (
            "{id: x, kind: node_file, points: 1, message: m, node: node01, path: etc/x,"
            " contains: a}",
            "checks[4].path: must be absolute",
        ),
        (
            "{id: x, kind: node_file, points: 1, message: m, node: node01, path: /etc/x}",
            "checks[4]: needs at least one of exists",
        ),
        (
            "{id: x, kind: node_command, points: 1, message: m, node: node07, command: ls}",
            "unknown node 'node07'",
        ),
        (
            "{id: x, kind: pod_command, points: 1, message: m, pod: a, label_selector: b,"
            " command: ls}",
            "checks[4]: needs exactly one of pod, label_selector, from_pod; found 2",
        ),
        (
            "{id: x, kind: event_provenance, points: 1, message: m, namespace: dev, after: lunch}",
            "checks[4].after: Must be one of",
        ),
        (
            "{id: x, kind: match, points: 1, message: m, object: {kind: Pod}}",
            "checks[4].object: needs apiVersion",
        ),
    ],
)
def test_kind_field_errors(lab_copy: Path, check: str, message: str) -> None:
    _edit(lab_copy, "\nselftests:", f"\n  - {check}\nselftests:")
    issues = _issues(lab_copy)
    assert len(issues) == 1, issues
    line, text = issues[0]
    assert message in text
    assert line >= _line_of(lab_copy, "id: x,")


def test_content_validator_checks_lab_files_once_registered(
    lab_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.banks import validator
    from app.banks.validator import load_content
    from app.grading.labfile import register_bank_checker

    # A registry of our own for this test: other tests see the validator unchanged.
    monkeypatch.setattr(validator, "SPEC_CHECKERS", {})
    register_bank_checker()
    register_bank_checker()  # idempotent
    assert load_content([EXAMPLE / "lab.yaml"]).issues == []
    _edit(lab_copy, "time_limit_minutes: 15", "time_limit_minutes: 0")
    [issue] = load_content([lab_copy / "lab.yaml"]).issues
    assert issue.line == _line_of(lab_copy, "time_limit_minutes: 0")
    assert issue.message.startswith("time_limit_minutes: Must be greater than or equal to 1")


def test_capacity_must_be_quantities(lab_copy: Path) -> None:
    _edit(lab_copy, 'capacity: {cpu: "2", memory: 4Gi, pods: 110}', "capacity: {cpu: two}")
    [(line, message)] = _issues(lab_copy)
    assert line == _line_of(lab_copy, "capacity: {cpu: two}")
    assert message.startswith("cluster.nodes[0].capacity: cpu: quantities must match")


def test_a_documentation_source_may_replace_the_seed_section(lab_copy: Path) -> None:
    line = next(
        text
        for text in (lab_copy / "lab.yaml").read_text().splitlines()
        if text.startswith("seed_section:")
    )
    _edit(lab_copy, line, "source: https://kubernetes.io/docs/reference/access-authn-authz/rbac/")
    lab = load_lab(lab_copy)
    assert lab.data["source"].endswith("/rbac/") and "seed_section" not in lab.data


def test_a_lab_must_name_what_it_rests_on(lab_copy: Path) -> None:
    line = next(
        text
        for text in (lab_copy / "lab.yaml").read_text().splitlines()
        if text.startswith("seed_section:")
    )
    _edit(lab_copy, line + "\n", "")
    [(_, message)] = _issues(lab_copy)
    assert message == "source: names no seed_section or source"

"""Server-side apply: managedFields, conflicts, force, shared ownership, removals."""

from __future__ import annotations

import copy

import pytest

from app.sim.apiserver import ssa
from app.sim.machinery.errors import ApiError

NOW = "2026-01-01T00:00:00Z"


def deployment(replicas: int | None = 3, image: str = "nginx:1.25", **labels: str) -> dict:
    spec: dict = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", **labels}},
        "spec": spec,
    }


def entries(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_apply_on_create_records_an_apply_entry():
    live = ssa.apply(None, deployment(), "platform", False, NOW)
    entry = entries(live)[("platform", "Apply")]
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"] == NOW
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}
    assert fields["f:metadata"]["f:labels"] == {"f:app": {}}
    assert "f:name" not in fields["f:metadata"]


def test_conflict_with_an_update_manager_names_manager_and_field():
    live = ssa.record_update(None, deployment(), "kubectl-client-side-apply", "Update", NOW)
    with pytest.raises(ApiError) as err:
        ssa.apply(live, deployment(replicas=5), "platform", False, NOW)
    assert err.value.code == 409
    assert err.value.reason == "Conflict"
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
        "apps/v1: .spec.replicas"
    )
    cause = err.value.status()["details"]["causes"][0]
    assert cause == {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
        "field": ".spec.replicas",
    }


def test_several_conflicts_are_grouped_by_manager():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    with pytest.raises(ApiError) as err:
        ssa.apply(live, deployment(replicas=4, image="nginx:2"), "beta", False, NOW)
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "alpha":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image'
    )


def test_same_value_is_shared_ownership_not_a_conflict():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    shared = ssa.apply(live, deployment(), "beta", False, NOW)
    owners = entries(shared)
    assert "f:replicas" in owners[("alpha", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:replicas" in owners[("beta", "Apply")]["fieldsV1"]["f:spec"]


def test_force_takes_ownership():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    forced = ssa.apply(live, deployment(replicas=9), "beta", True, NOW)
    assert forced["spec"]["replicas"] == 9
    owners = entries(forced)
    assert "f:replicas" not in owners[("alpha", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:replicas" in owners[("beta", "Apply")]["fieldsV1"]["f:spec"]


def test_dropping_a_field_from_the_config_removes_it_when_sole_owner():
    live = ssa.apply(None, deployment(tier="fe"), "alpha", False, NOW)
    again = ssa.apply(live, deployment(replicas=None), "alpha", False, NOW)
    assert "replicas" not in again["spec"]
    assert again["metadata"]["labels"] == {"app": "web"}


def test_dropping_a_co_owned_field_keeps_it():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    live = ssa.apply(live, deployment(), "beta", False, NOW)
    again = ssa.apply(live, deployment(replicas=None), "alpha", False, NOW)
    assert again["spec"]["replicas"] == 3


def test_apply_merges_keyed_lists_with_other_managers_items():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluent"}]}}},
    }
    merged = ssa.apply(live, sidecar, "beta", False, NOW)
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["nginx", "log"]


def test_record_update_moves_changed_fields_to_the_writer():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 6
    updated = ssa.record_update(live, scaled, "kubectl-scale", "Update", NOW)
    owners = entries(updated)
    assert owners[("kubectl-scale", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owners[("alpha", "Apply")]["fieldsV1"]["f:spec"]
    # Now alpha re-applying 3 conflicts with the scaler.
    with pytest.raises(ApiError) as err:
        ssa.apply(updated, deployment(), "alpha", False, NOW)
    assert '"kubectl-scale" using apps/v1: .spec.replicas' in err.value.message


def test_record_update_on_create_marks_new_maps():
    created = ssa.record_update(None, deployment(), "kubectl-create", "Update", NOW)
    fields = entries(created)[("kubectl-create", "Update")]["fieldsV1"]
    assert fields["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}


def test_removed_fields_leave_every_set():
    live = ssa.apply(None, deployment(tier="fe"), "alpha", False, NOW)
    edited = copy.deepcopy(live)
    del edited["metadata"]["labels"]["tier"]
    updated = ssa.record_update(live, edited, "kubectl-edit", "Update", NOW)
    labels = entries(updated)[("alpha", "Apply")]["fieldsV1"]["f:metadata"]["f:labels"]
    assert "f:tier" not in labels


def test_client_sent_managed_fields_win_and_one_empty_entry_clears():
    live = ssa.apply(None, deployment(), "alpha", False, NOW)
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in ssa.record_update(live, cleared, "x", "Update", NOW)["metadata"]


def test_fields_v1_round_trip_and_paths():
    paths = ssa.field_set(deployment())
    tree = ssa.to_fields_v1(paths)
    assert ssa.from_fields_v1(tree) == paths
    container = next(p for p in paths if p[-1] == ("f", "image"))
    assert ssa.path_string(container) == '.spec.template.spec.containers[name="nginx"].image'


def test_container_port_key_includes_the_default_protocol():
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    tree = ssa.to_fields_v1(ssa.field_set(obj))
    nginx = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in nginx["f:ports"]


@pytest.mark.parametrize(
    ("body", "manager"),
    [
        ({"kind": "Deployment", "metadata": {"name": "x"}}, "m"),
        ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}}, "m"),
        (deployment(), ""),
    ],
)
def test_apply_rejects_incomplete_requests(body, manager):
    with pytest.raises(ApiError) as err:
        ssa.apply(None, body, manager, False, NOW)
    assert err.value.code == 400


def test_default_manager_from_user_agent():
    assert ssa.default_manager(None, "kubectl-edit/v1.37.0 (linux/amd64) kubernetes/abc") == (
        "kubectl-edit"
    )
    assert ssa.default_manager("mine", "kubectl/v1.37.0") == "mine"
    assert ssa.default_manager(None, None) == "unknown"
    with pytest.raises(ApiError):
        ssa.default_manager("x" * 200, None)


def test_status_is_owned_only_through_the_status_subresource():
    with_status = deployment()
    with_status["status"] = {"replicas": 3}
    applied = ssa.apply(None, with_status, "alpha", False, NOW)
    assert "f:status" not in entries(applied)[("alpha", "Apply")]["fieldsV1"]
    assert "status" not in applied

    live = ssa.record_update(None, deployment(), "kubectl-create", "Update", NOW)
    reported = copy.deepcopy(live)
    reported["status"] = {"replicas": 3, "readyReplicas": 3}
    reported["spec"]["replicas"] = 99  # ignored by a status write
    updated = ssa.record_update(live, reported, "kube-controller-manager", "Update", NOW, "status")
    status_entry = next(
        e for e in updated["metadata"]["managedFields"] if e["manager"] == "kube-controller-manager"
    )
    assert status_entry["subresource"] == "status"
    assert status_entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}
    assert "f:replicas" in entries(updated)[("kubectl-create", "Update")]["fieldsV1"]["f:spec"]


def test_dropping_a_list_item_from_the_config_removes_it():
    two = deployment()
    two["spec"]["template"]["spec"]["containers"].append({"name": "log", "image": "fluent"})
    live = ssa.apply(None, two, "alpha", False, NOW)
    again = ssa.apply(live, deployment(), "alpha", False, NOW)
    names = [c["name"] for c in again["spec"]["template"]["spec"]["containers"]]
    assert names == ["nginx"]


def test_set_items_are_owned_one_by_one():
    with_finalizers = deployment()
    with_finalizers["metadata"]["finalizers"] = ["a.io/x", "b.io/y"]
    live = ssa.apply(None, with_finalizers, "alpha", False, NOW)
    owned = entries(live)[("alpha", "Apply")]["fieldsV1"]["f:metadata"]["f:finalizers"]
    assert owned == {'v:"a.io/x"': {}, 'v:"b.io/y"': {}}
    fewer = deployment()
    fewer["metadata"]["finalizers"] = ["a.io/x"]
    assert ssa.apply(live, fewer, "alpha", False, NOW)["metadata"]["finalizers"] == ["a.io/x"]

"""Test-data builders: one place for the objects tests make, each with short defaults
and keyword overrides (in the spirit of upstream Kubernetes' `st.MakePod()`).

Kubernetes objects are plain JSON-shaped dicts:

- `pod()`: a Pod manifest as a client sends it (no server fields);
- `make_pod()`, `make_node()`, `taint()`: a Pod or Node as the store holds it (uid,
  resourceVersion, status), the shape the scheduler reads;
- `deployment()`, `crd()`: a Deployment and a CustomResourceDefinition manifest.

Accounts and quizzes are database rows (inside an app context):

- `user()`: an account with an API token;
- `SAMPLE_BANK`, `import_bank()`: the sample question bank every quiz test uses, with
  `CORRECT` and `WRONG` responses per question;
- `QUIZ_DEFAULTS`, `quiz()`: a blueprint quiz over the sample bank.

Test modules import builders from here and fixtures from tests/fixtures/, never from
another test module.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

# --- accounts ---------------------------------------------------------------------------

DEFAULT_PASSWORD = "correct-horse-battery"
_emails = itertools.count(1)


def user(
    role: str = "learner",
    *,
    email: str | None = None,
    password: str | None = None,
    accommodation: float = 1.0,
) -> tuple[Any, str]:
    """A new account (a unique `userN@example.test` unless `email` is given, the
    password `DEFAULT_PASSWORD` unless `password` is) and an API token for it:
    `(user, token)`. Needs an app context."""
    from app.services.auth import issue_token
    from app.services.users import create_user

    account = create_user(
        email or f"user{next(_emails)}@example.test",
        role,
        password or DEFAULT_PASSWORD,
        accommodation,
    )
    return account, issue_token(account, label="test").token


# --- Kubernetes objects -----------------------------------------------------------------

_uids = itertools.count(1)


def pod(
    name: str = "web",
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    image: str = "nginx",
    container: str = "app",
    **spec: Any,
) -> dict[str, Any]:
    """A Pod manifest with one container; `labels` only when given, `spec` keys (e.g.
    `nodeName`, `tolerations`) added to the pod's spec."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        metadata["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": container, "image": image}], **spec},
    }


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    images: list[tuple[str, int]] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A stored Node with its hostname label, allocatable = capacity."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": dict(allocatable)},
    }
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if images:
        node["status"]["images"] = [{"names": [n], "sizeBytes": s} for n, s in images]
    return node


def make_pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: dict[str, str] | None = None,
    node: str | None = None,
    image: str = "nginx:1.27",
    priority: int | None = None,
    priority_class: str | None = None,
    scheduler_name: str | None = None,
    host_port: int | None = None,
    spec: dict[str, Any] | None = None,
    uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    """A stored Pod (uid, resourceVersion, creation time): Running when bound to
    `node`, else Pending; `cpu`/`memory` are the container's requests."""
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: dict[str, Any] = {"name": "main", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    if host_port is not None:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]
    pod_spec: dict[str, Any] = {"containers": [container], **(spec or {})}
    if node is not None:
        pod_spec["nodeName"] = node
    if priority is not None:
        pod_spec["priority"] = priority
    if priority_class is not None:
        pod_spec["priorityClassName"] = priority_class
    if scheduler_name is not None:
        pod_spec["schedulerName"] = scheduler_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{name}-{next(_uids)}",
            "resourceVersion": "1",
            "labels": labels or {},
            "creationTimestamp": created,
        },
        "spec": pod_spec,
        "status": {"phase": "Running" if node else "Pending"},
    }


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def deployment(
    name: str = "web", replicas: int = 3, image: str = "nginx:1.25", **spec: Any
) -> dict[str, Any]:
    """A Deployment manifest whose one container serves port 8080 (`http`); `spec`
    keys override the Deployment's spec."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def crd(
    kind: str = "Widget",
    group: str = "example.com",
    *,
    plural: str | None = None,
    short_names: list[str] | None = None,
    scope: str = "Namespaced",
    schema: dict[str, Any] | None = None,
    subresources: dict[str, Any] | None = None,
    more_versions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A CustomResourceDefinition of `kind` in `group`, served and stored as v1 (with
    `schema` and `subresources` when given), plus `more_versions` after it."""
    singular = kind.lower()
    plural = plural or f"{singular}s"
    names: dict[str, Any] = {"plural": plural, "singular": singular, "kind": kind}
    if short_names:
        names["shortNames"] = short_names
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True}
    if subresources is not None:
        version["subresources"] = subresources
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": names,
            "versions": [version, *(more_versions or [])],
        },
    }


# --- question banks and quizzes ---------------------------------------------------------

SAMPLE_BANK = """\
spec: certprep/questions/v1
bank: sample
title: Sample bank
questions:
  - id: sample-single
    version: 1
    type: single
    difficulty: easy
    domain: Cluster Architecture
    section: etcd
    topic: etcd-quorum
    seed_section: "etcd / Raft"
    source: https://etcd.io/docs/v3.5/faq/
    stem: Which member accepts writes in a Raft cluster?
    options:
      - {id: a, text: The leader, correct: true, why: SECRET-WHY-LEADER}
      - {id: b, text: Any follower, correct: false, why: SECRET-WHY-FOLLOWER}
      - {id: c, text: The oldest member, correct: false, why: SECRET-WHY-OLDEST}
    explanation: SECRET-EXPLANATION-SINGLE
  - id: sample-multiple
    version: 1
    type: multiple
    difficulty: medium
    domain: Cluster Architecture
    section: apiserver
    topic: admission
    seed_section: "API Server / Request flow"
    stem: Which stages run before a write reaches etcd?
    negative_marking: true
    options:
      - {id: a, text: Authentication, correct: true, why: SECRET-WHY-AUTHN}
      - {id: b, text: Scheduling, correct: false, why: SECRET-WHY-SCHED}
      - {id: c, text: Admission, correct: true, why: SECRET-WHY-ADMIT}
    explanation: SECRET-EXPLANATION-MULTIPLE
  - id: sample-true-false
    version: 1
    type: true_false
    difficulty: easy
    domain: Cluster Architecture
    section: etcd
    topic: etcd-access
    seed_section: "etcd / Access"
    stem: Only the API server talks to etcd.
    answer: true
    explanation: SECRET-EXPLANATION-TF
  - id: sample-ordering
    version: 1
    type: ordering
    difficulty: medium
    domain: Cluster Architecture
    section: apiserver
    topic: request-flow
    seed_section: "API Server / Request flow"
    stem: Put the request stages in order.
    items:
      - {id: authn, text: Authentication}
      - {id: authz, text: Authorization}
      - {id: admit, text: Admission}
      - {id: persist, text: Persist to etcd}
    explanation: SECRET-EXPLANATION-ORDERING
  - id: sample-matching
    version: 1
    type: matching
    difficulty: medium
    domain: Workloads & Scheduling
    section: scheduler
    topic: plugins
    seed_section: "Scheduler / Plugins"
    stem: Match each plugin to what it checks.
    prompts:
      - {id: p1, text: TaintToleration, match: c1}
      - {id: p2, text: NodeResourcesFit, match: c2}
    choices:
      - {id: c1, text: Taints on the node}
      - {id: c2, text: Free CPU and memory}
      - {id: c3, text: Image locality}
    explanation: SECRET-EXPLANATION-MATCHING
  - id: sample-short
    version: 1
    type: short_answer
    difficulty: easy
    domain: Workloads & Scheduling
    section: scheduler
    topic: binding
    seed_section: "Scheduler / Bind"
    stem: Which component sets spec.nodeName for a normal pod?
    accept: [kube-scheduler]
    accept_regex: ["(the )?kube-scheduler( process)?"]
    explanation: SECRET-EXPLANATION-SHORT
  - id: sample-numeric
    version: 1
    type: numeric
    difficulty: hard
    domain: Troubleshooting
    section: etcd
    topic: etcd-quorum
    seed_section: "etcd / Raft"
    stem: How many members of a 5-member etcd cluster may fail?
    answer: 2
    tolerance: 0
    unit: members
    explanation: SECRET-EXPLANATION-NUMERIC
"""


CORRECT = {
    "sample-single": {"choice": "a"},
    "sample-multiple": {"choices": ["a", "c"]},
    "sample-true-false": {"value": True},
    "sample-ordering": {"order": ["authn", "authz", "admit", "persist"]},
    "sample-matching": {"matches": {"p1": "c1", "p2": "c2"}},
    "sample-short": {"text": "Kube-Scheduler"},
    "sample-numeric": {"value": 2},
}


WRONG = {
    "sample-single": {"choice": "b"},
    "sample-multiple": {"choices": ["b"]},
    "sample-true-false": {"value": False},
    "sample-ordering": {"order": ["persist", "admit", "authz", "authn"]},
    "sample-matching": {"matches": {"p1": "c3", "p2": "c3"}},
    "sample-short": {"text": "kubelet"},
    "sample-numeric": {"value": 3},
}


QUIZ_DEFAULTS: dict[str, Any] = {
    "title": "Sample quiz",
    "description": "",
    "time_limit_minutes": 20,
    "pass_mark": 60,
    "attempts_allowed": 3,
    "grading_method": "highest",
    "shuffle_questions": True,
    "shuffle_options": True,
    "expiry_policy": "autosubmit",
    "grace_minutes": 0,
    "review_policy": "explanations",
    "review_after": "submit",
    "close_at": None,
    "draw": [{"where": {"bank": ["sample"]}, "count": 7}],
}


def import_bank(directory: Path, text: str = SAMPLE_BANK, name: str = "sample.yaml") -> Any:
    """Write `text` as a bank file under `directory` and import it; returns the report.
    Needs an app context."""
    from app.banks.validator import load_content
    from app.services.banks import import_content

    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    content = load_content([directory / name])
    assert content.issues == [], content.issues
    return import_content(content)


def quiz(slug: str = "sample-quiz", **overrides: Any) -> Any:
    """A blueprint quiz over the sample bank (`QUIZ_DEFAULTS` with `overrides`), added
    and committed. Needs an app context and the sample bank imported."""
    from app.extensions import db
    from app.models.quiz import Quiz, QuizSource

    row = Quiz(slug=slug, source=QuizSource.BLUEPRINT, **{**QUIZ_DEFAULTS, **overrides})
    db.session.add(row)
    db.session.commit()
    return row

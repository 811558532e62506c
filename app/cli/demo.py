"""`certprep demo seed`: a populated trainer dashboard for a first look.

Creates a trainer, twelve learners and a cohort, assigns quizzes, and plays a fortnight
of attempts through the real attempt services (so scores, breakdowns and the activity
log are what learners would produce) on a simulated clock: learners of varied ability,
each with a couple of weak topics, improving a little with each attempt. One attempt is
left in progress. The project's labs are imported and three of them assigned, with a
finished, graded session for most learners.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from app.cli.common import app_context

DEMO_PASSWORD = "certprep-demo"
DEMO_TRAINER = "trainer@certprep.example"
DEMO_COHORT = "CKA demo cohort"
DEMO_LEARNERS = 12
# The mock exam first, then a fixed-form checkpoint the seed creates (every attempt gets
# the same questions, so Cronbach's alpha is defined), then a section quiz.
CHECKPOINT_SLUG = "demo-checkpoint"
DEFAULT_QUIZZES = ("cka-architecture-mock-exam", CHECKPOINT_SLUG, "scheduler-essentials")
CHECKPOINT_SECTIONS = ("etcd", "scheduler")
CHECKPOINT_SIZE = 12
HISTORY_DAYS = 14
DEMO_LABS = 3


@dataclass
class SimulatedClock:
    """The clock the attempt services read while history is played back."""

    moment: datetime

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def _response(kind: str, body: dict[str, Any], right: bool, rng: random.Random) -> Any:
    """A right or wrong response to a question of type `kind` (None: left unanswered)."""
    if kind == "single":
        options = body["options"]
        good = [o["id"] for o in options if o.get("correct")]
        bad = [o["id"] for o in options if not o.get("correct")]
        if right or not bad:
            return {"choice": good[0]}
        # Wrong learners favour the first distractor, so distractor counts differ.
        return {"choice": bad[0] if rng.random() < 0.6 else rng.choice(bad)}
    if kind == "multiple":
        good = [o["id"] for o in body["options"] if o.get("correct")]
        bad = [o["id"] for o in body["options"] if not o.get("correct")]
        if right:
            return {"choices": good}
        return {"choices": good[:1] + bad[:1] if bad else good[:-1] or good}
    if kind == "true_false":
        return {"value": body["answer"] if right else not body["answer"]}
    if kind == "ordering":
        order = [item["id"] for item in body["items"]]
        if not right and len(order) > 1:
            index = rng.randrange(len(order) - 1)
            order[index], order[index + 1] = order[index + 1], order[index]
        return {"order": order}
    if kind == "matching":
        matches = {p["id"]: p["match"] for p in body["prompts"]}
        if not right and len(matches) > 1:
            first, second = list(matches)[:2]
            matches[first], matches[second] = matches[second], matches[first]
        return {"matches": matches}
    if kind == "short_answer":
        accepted = body.get("accept") or []
        if right and accepted:
            return {"text": accepted[0]}
        return {"text": "not sure"}
    if kind == "numeric":
        answer = body["answer"]
        return {"value": answer if right else answer + (body.get("tolerance") or 0) + 1}
    return None


DIFFICULTY_SHIFT = {"easy": 0.12, "medium": 0.0, "hard": -0.15}


def _play_attempt(
    user: Any, slug: str, ability: float, weak: set[str], rng: random.Random, clock: Any
) -> Any:
    """Start, answer and (when `clock` is not None) submit one attempt; returns it."""
    from app.services import attempts

    attempt, _ = attempts.start_attempt(user, slug)
    answers = []
    # By question id, not display order: the history depends on `rng` alone.
    for item in sorted(attempt.items, key=lambda i: i.question_uid):
        question = item.question
        chance = ability + DIFFICULTY_SHIFT.get(question.difficulty, 0.0)
        if question.topic in weak:
            chance -= 0.35
        if rng.random() < 0.05:
            continue  # skipped
        right = rng.random() < max(0.02, min(0.98, chance))
        answers.append((item.question_uid, _response(question.type, question.body, right, rng)))
    attempt_id = attempt.id
    for uid, response in answers:
        if clock is not None:
            clock.advance(seconds=rng.randint(20, 90))
        if response is not None:
            attempts.save_response(user, attempt_id, uid, response)
    if clock is None:
        return attempt
    return attempts.submit_attempt(user, attempt_id)


def seed_demo(
    quiz_slugs: Sequence[str] | None = None,
    learners: int = DEMO_LEARNERS,
    seed: int = 7,
    password: str = DEMO_PASSWORD,
    with_labs: bool = True,
    labs_root: Path | None = None,
) -> dict[str, Any]:
    """Fill the current app's database with the demo cohort; commits.

    Returns `{"trainer", "cohort_id", "learners", "attempts", "lab_grades", "created"}`;
    when the demo trainer already exists nothing is written and `created` is False.
    With `with_labs`, the labs under `labs_root` (default: the project's) are imported and
    graded sessions recorded (see `seed_lab_history`). Raises
    `click.ClickException` when none of the quizzes exist (import the banks first).
    """
    from flask import current_app
    from sqlalchemy import select

    from app.clock import CLOCK_CONFIG_KEY
    from app.extensions import db
    from app.models.base import utcnow
    from app.models.quiz import Quiz
    from app.services import cohorts
    from app.services.users import create_user, find_user_by_email

    existing = find_user_by_email(DEMO_TRAINER)
    if existing is not None:
        cohort = next(iter(db.session.scalars(cohorts.cohorts_query(existing))), None)
        return {
            "trainer": DEMO_TRAINER,
            "cohort_id": cohort.id if cohort else None,
            "learners": len(cohort.members) if cohort else 0,
            "attempts": 0,
            "lab_grades": 0,
            "created": False,
        }
    wanted = list(quiz_slugs or DEFAULT_QUIZZES)
    present = set(db.session.scalars(select(Quiz.slug).where(Quiz.slug.in_(wanted))))
    if not present:
        raise click.ClickException(
            f"none of the quizzes {', '.join(wanted)} exist; run `certprep bank import` first"
        )
    trainer = create_user(DEMO_TRAINER, "trainer", password)
    if quiz_slugs is None and create_checkpoint(trainer) is not None:
        present.add(CHECKPOINT_SLUG)
    slugs = [s for s in wanted if s in present]
    rng = random.Random(seed)
    cohort = cohorts.create_cohort(trainer, DEMO_COHORT)
    members = []
    for number in range(1, learners + 1):
        members.append(create_user(f"learner{number:02d}@certprep.example", "learner", password))
    cohorts.add_members(trainer, cohort.id, [m.email for m in members])
    real_now = utcnow()
    for offset, slug in enumerate(slugs):
        cohorts.assign(trainer, cohort.id, "quiz", slug, real_now + timedelta(days=7 + offset))

    topics = sorted(set(db.session.scalars(select_topics())))
    clock = SimulatedClock(real_now - timedelta(days=HISTORY_DAYS))
    played = 0
    current_app.config[CLOCK_CONFIG_KEY] = clock
    try:
        for index, learner in enumerate(members):
            ability = 0.3 + 0.65 * index / max(1, learners - 1)
            weak = set(rng.sample(topics, k=min(2, len(topics))))
            clock.moment = real_now - timedelta(days=HISTORY_DAYS, hours=-index * 5)
            main, *others = slugs
            for number in range(1 + index % 3):
                _play_attempt(learner, main, ability + 0.05 * number, weak, rng, clock)
                played += 1
                clock.advance(days=rng.randint(1, 3), minutes=rng.randint(0, 600))
            for position, slug in enumerate(others):
                # Everyone takes the checkpoint; later quizzes are optional.
                if position == 0 or rng.random() < 0.7:
                    _play_attempt(learner, slug, ability, weak, rng, clock)
                    played += 1
                    clock.advance(hours=rng.randint(2, 30))
    finally:
        current_app.config.pop(CLOCK_CONFIG_KEY, None)
    if with_labs:
        played_labs = seed_lab_history(trainer, cohort.id, members, rng, real_now, labs_root)
    else:
        played_labs = 0
    # One learner is in the middle of an attempt right now: it does not count yet.
    _play_attempt(members[0], slugs[-1], 0.5, set(), rng, None)
    return {
        "trainer": DEMO_TRAINER,
        "cohort_id": cohort.id,
        "learners": len(members),
        "attempts": played,
        "lab_grades": played_labs,
        "created": True,
    }


def seed_lab_history(
    trainer: Any,
    cohort_id: int,
    members: Sequence[Any],
    rng: random.Random,
    real_now: datetime,
    labs_root: Path | None = None,
) -> int:
    """Import the project's labs, assign the first DEMO_LABS by slug, and record one
    finished session per learner and lab (most learners) with a grade built from the
    lab's own checks; commits. Returns the number of grades (0 when the labs cannot be
    imported).

    The sessions are history: their clusters are gone (status `ended`), as for any lab
    done days ago. Each check passes with the learner's ability; a failed check's hint
    was revealed for about half the learners, costing its hint penalty on a later pass.
    """
    from app.extensions import db
    from app.models.lab import Grade, GradeStatus, LabSession, LabSessionStatus
    from app.services import activity, cohorts
    from app.services.errors import ServiceError
    from app.services.labs import import_labs, labs_query
    from app.services.progress import PASS_MARK

    try:
        import_labs(labs_root)
    except ServiceError:
        db.session.rollback()
        return 0
    # A few labs, so quizzes and labs both weigh in the readiness figures.
    labs = sorted(db.session.scalars(labs_query()), key=lambda lab: lab.slug)[:DEMO_LABS]
    graded = 0
    for lab in labs:
        cohorts.assign(trainer, cohort_id, "lab", lab.slug, real_now + timedelta(days=10))
    for index, learner in enumerate(members):
        ability = 0.35 + 0.6 * index / max(1, len(members) - 1)
        for lab in labs:
            if rng.random() < 0.2:
                continue  # not done yet
            ready_at = real_now - timedelta(days=rng.randint(1, 9), minutes=rng.randint(0, 600))
            limit = max(1, lab.time_limit_minutes)
            minutes = rng.randint(max(1, limit // 3), limit)
            checks, revealed, earned, possible = [], [], 0.0, 0.0
            for check in lab.spec.get("checks", []):
                points = float(check.get("points", 0))
                passed = bool(check.get("guard")) or rng.random() < ability
                hinted = check.get("hint") is not None and rng.random() < 0.5 and not passed
                if hinted:
                    revealed.append(check["id"])
                    passed = rng.random() < 0.6  # the hint helped on the re-grade
                gained = max(0.0, points - float(check.get("hint_penalty", 0) if hinted else 0))
                gained = gained if passed else 0.0
                earned += gained
                possible += points
                checks.append(
                    {"id": check["id"], "points": points, "earned": gained, "passed": passed}
                )
            percentage = round(100 * earned / possible, 2) if possible else 0.0
            finished = ready_at + timedelta(minutes=minutes)
            session = LabSession(
                lab=lab,
                user_id=learner.id,
                status=LabSessionStatus.ENDED,
                provider="simulator",
                content_hash=lab.content_hash,
                hints_revealed=revealed,
                created_at=ready_at,
                ready_at=ready_at,
                expires_at=ready_at + timedelta(minutes=lab.time_limit_minutes),
                ended_at=finished,
            )
            db.session.add(
                Grade(
                    session=session,
                    number=1,
                    status=GradeStatus.DONE,
                    requested_at=finished,
                    started_at=finished,
                    finished_at=finished,
                    runs=1,
                    earned=earned,
                    possible=possible,
                    percentage=percentage,
                    result={
                        "checks": checks,
                        "earned": earned,
                        "possible": possible,
                        "percentage": percentage,
                        "hints_revealed": revealed,
                    },
                )
            )
            db.session.flush()
            activity.record(learner.id, "started", "lab", lab.slug, ready_at, subject_id=session.id)
            activity.record(
                learner.id,
                "graded",
                "lab",
                lab.slug,
                finished,
                subject_id=session.id,
                percent=percentage,
                passed=percentage >= PASS_MARK,
            )
            graded += 1
    db.session.commit()
    return graded


def create_checkpoint(author: Any) -> Any:
    """A fixed-form quiz: every question of whole topics of CHECKPOINT_SECTIONS, topics
    taken in name order until about CHECKPOINT_SIZE questions (None when the banks lack
    those sections)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.question import Question
    from app.services.quizzes import create_custom_quiz

    rows = db.session.execute(
        select(Question.topic, func.count())
        .where(
            Question.is_current,
            Question.retired_at.is_(None),
            Question.section.in_(CHECKPOINT_SECTIONS),
        )
        .group_by(Question.topic)
        .order_by(Question.topic)
    ).all()
    topics, total = [], 0
    for topic, count in rows:
        if total >= CHECKPOINT_SIZE:
            break
        topics.append(topic)
        total += count
    if total < 2:
        return None
    return create_custom_quiz(
        author,
        {
            "slug": CHECKPOINT_SLUG,
            "title": "Demo checkpoint: etcd and the scheduler",
            "description": "Every question of a few etcd and scheduler topics, in one form.",
            "time_limit_minutes": 20,
            "pass_mark": 66,
            "attempts_allowed": 2,
            "grading_method": "highest",
            "shuffle_questions": True,
            "shuffle_options": True,
            "expiry_policy": "autosubmit",
            "grace_minutes": 0,
            "review_policy": "explanations",
            "review_after": "submit",
            "close_at": None,
            "draw": [
                {"where": {"section": list(CHECKPOINT_SECTIONS), "topic": topics}, "count": total}
            ],
        },
    )


def select_topics() -> Any:
    """The topics of the drawable questions."""
    from sqlalchemy import select

    from app.models.question import Question

    return select(Question.topic).where(Question.is_current, Question.retired_at.is_(None))


@click.group("demo")
def demo_group() -> None:
    """Demonstration data."""


@demo_group.command("seed")
@click.option(
    "--quiz",
    "quizzes",
    multiple=True,
    help="Quiz slug to assign and play (repeatable; default: the mock exam and two sections).",
)
@click.option("--learners", type=click.IntRange(1, 200), default=DEMO_LEARNERS, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the history.")
def seed(quizzes: tuple[str, ...], learners: int, seed: int) -> None:
    """Fill the instance with a demo cohort: a trainer, learners and their attempts.

    Migrates the database and imports the project's question banks first when no quiz
    exists yet. Does nothing when the demo trainer already exists.
    """
    import flask_migrate
    from sqlalchemy import func, select

    from app.cli.bank import default_content_paths
    from app.extensions import db
    from app.models.quiz import Quiz

    with app_context(create=True):
        flask_migrate.upgrade(revision="heads")
        if not db.session.scalar(select(func.count()).select_from(Quiz)):
            from app.banks.validator import load_content
            from app.services.banks import import_content

            content = load_content(default_content_paths())
            if content.issues:
                raise click.ClickException(
                    "the question banks have errors; see `certprep bank check`"
                )
            import_content(content)
        result = seed_demo(quizzes or None, learners=learners, seed=seed)
    if not result["created"]:
        click.echo(f"demo data already present (trainer {result['trainer']}); nothing changed")
        return
    click.echo(
        f"demo cohort {result['cohort_id']}: {result['learners']} learners,"
        f" {result['attempts']} submitted attempts, {result['lab_grades']} lab grades"
    )
    click.echo(f"log in at /dashboard/login as {result['trainer']} / {DEMO_PASSWORD}")
    click.echo(f"learners: learner01@certprep.example ... / {DEMO_PASSWORD}")


commands = [demo_group]

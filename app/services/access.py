"""Who may see and act on whose work: the one answer every staff path asks.

- A learner sees their own attempts, lab sessions and grades only.
- A trainer sees and acts on the learners of the cohorts they own (archived cohorts
  included: they stay readable) and on their own work; nothing else.
- An admin sees and acts on everyone.

A refusal is reported as `NotFound`, never `Forbidden`: a trainer cannot tell another
cohort's learner (or their attempt, session or grade) from one that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select

from app.extensions import db
from app.models.cohort import Cohort, CohortMember
from app.models.user import Role, User
from app.services.errors import NotFound


def is_staff(user: User) -> bool:
    """True for trainers and admins."""
    return user.role in (Role.TRAINER, Role.ADMIN)


def coached_learner_ids(trainer: User) -> Select[int]:
    """The ids of the learners in `trainer`'s cohorts, as a statement (for `IN`)."""
    return (
        select(CohortMember.user_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .join(User, User.id == CohortMember.user_id)
        .where(Cohort.owner_id == trainer.id, User.role == Role.LEARNER)
    )


def may_act_on(staff: User, learner_id: int) -> bool:
    """Whether `staff` may see and act on the work and account of user `learner_id`.

    Admins: anyone. Trainers: learner accounts in a cohort they own. Everyone else
    (learners included): nobody but themselves is covered here (see `may_see`).
    """
    if staff.role is Role.ADMIN:
        return True
    if staff.role is not Role.TRAINER:
        return False
    found = db.session.scalar(
        select(exists(coached_learner_ids(staff).where(CohortMember.user_id == learner_id)))
    )
    return bool(found)


def may_see(user: User, owner_id: int) -> bool:
    """Whether `user` may see a record (attempt, lab session, grade) owned by `owner_id`:
    their own, or one of a learner they may act on."""
    return owner_id == user.id or may_act_on(user, owner_id)


def ensure_may_act_on(staff: User, learner_id: int, message: str | None = None) -> None:
    """Raise `NotFound` unless `staff` may act on user `learner_id`."""
    if not may_act_on(staff, learner_id):
        raise NotFound(message or f"User {learner_id} not found.")


def learner_for(staff: User, learner_id: int) -> User:
    """The account `learner_id` when `staff` may act on it; `NotFound` otherwise."""
    ensure_may_act_on(staff, learner_id)
    learner = db.session.get(User, learner_id)
    if learner is None:
        raise NotFound(f"User {learner_id} not found.")
    return learner


def restrict_to_visible(stmt: Select[Any], user: User, owner_column: Any) -> Select[Any]:
    """`stmt` limited to rows `user` may see, `owner_column` being the owning user's id:
    all rows for admins, own rows and their cohorts' learners' for trainers, own rows
    for learners."""
    if user.role is Role.ADMIN:
        return stmt
    if user.role is Role.TRAINER:
        return stmt.where((owner_column == user.id) | owner_column.in_(coached_learner_ids(user)))
    return stmt.where(owner_column == user.id)


def visible_user_ids(user: User, candidates: list[int] | None) -> list[int] | None:
    """Of `candidates` (every account when None), the ids `user` may see; None stands for
    "everyone" and is only returned for admins."""
    if user.role is Role.ADMIN:
        return candidates
    allowed = set(db.session.scalars(coached_learner_ids(user))) if is_staff(user) else set()
    allowed.add(user.id)
    if candidates is None:
        return sorted(allowed)
    return [i for i in candidates if i in allowed]

"""Cohorts: create, rename, archive; members by email (one by one or from CSV), new
learner accounts; quiz and lab assignments with due dates; extra attempts.

Every change a trainer makes is recorded in the staff action log (`StaffAction`,
`record_action`), shown on the cohort and learner pages.

Visibility: a trainer sees only the cohorts they own, an admin sees all. Another
trainer's cohort is reported as missing (`NotFound`), so its existence does not leak.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.extensions import db
from app.models.base import utcnow
from app.models.cohort import AssignmentKind, Cohort, CohortAssignment, CohortMember
from app.models.quiz import Quiz
from app.models.staff import DueDateExtension, QuizAllowance, StaffAction
from app.models.user import Role, User
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.users import normalize_email

# Columns of a member CSV that may hold the address; otherwise the first column is used.
EMAIL_COLUMNS = ("email", "e-mail", "mail")
MAX_EXTRA_ATTEMPTS = 20


def record_action(
    actor: User,
    cohort_id: int | None,
    action: str,
    learner_id: int | None = None,
    **details: Any,
) -> None:
    """Add one entry to the staff action log (committed with the caller's change)."""
    db.session.add(
        StaffAction(
            actor_id=actor.id,
            cohort_id=cohort_id,
            learner_id=learner_id,
            action=action,
            details={k: v for k, v in details.items() if v is not None} or None,
            occurred_at=utcnow(),
        )
    )


def _moment(value: datetime | None) -> str | None:
    """A due date as the action log shows it (to the minute, UTC)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else None


def actions_of(cohort_id: int, learner_id: int | None = None, limit: int = 50) -> list[StaffAction]:
    """The latest staff actions on a cohort (on one learner of it), newest first."""
    stmt = (
        select(StaffAction)
        .where(StaffAction.cohort_id == cohort_id)
        .order_by(StaffAction.occurred_at.desc(), StaffAction.id.desc())
        .limit(limit)
    )
    if learner_id is not None:
        stmt = stmt.where(StaffAction.learner_id == learner_id)
    return list(db.session.scalars(stmt))


def _ensure_staff(user: User) -> None:
    if user.role not in (Role.TRAINER, Role.ADMIN):
        raise Forbidden("Cohorts are for trainers and admins.")


def cohorts_query(user: User, include_archived: bool = False) -> Select[tuple[Cohort]]:
    """Cohorts `user` may see (own for trainers, all for admins), by name."""
    _ensure_staff(user)
    stmt = select(Cohort).order_by(Cohort.name, Cohort.id)
    if user.role is not Role.ADMIN:
        stmt = stmt.where(Cohort.owner_id == user.id)
    if not include_archived:
        stmt = stmt.where(Cohort.archived_at.is_(None))
    return stmt


def get_cohort(user: User, cohort_id: int) -> Cohort:
    """The cohort, if `user` may see it. Raises `Forbidden` for learners and `NotFound`
    for an unknown cohort or another trainer's."""
    _ensure_staff(user)
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None or (user.role is not Role.ADMIN and cohort.owner_id != user.id):
        raise NotFound(f"Cohort {cohort_id} not found.")
    return cohort


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationFailed("A cohort needs a name.", errors={"name": ["empty"]})
    return cleaned


def create_cohort(owner: User, name: str) -> Cohort:
    """Create a cohort owned by `owner`; commits. Raises `Forbidden` for learners and
    `Conflict` when the owner already has a live cohort of that name."""
    _ensure_staff(owner)
    name = _clean_name(name)
    ensure_unique_name(owner, name)
    moment = utcnow()
    cohort = Cohort(name=name, owner_id=owner.id, created_at=moment, updated_at=moment)
    db.session.add(cohort)
    db.session.flush()
    record_action(owner, cohort.id, "created cohort", name=name)
    db.session.commit()
    return cohort


def update_cohort(
    user: User, cohort_id: int, *, name: str | None = None, archived: bool | None = None
) -> Cohort:
    """Rename and/or archive (or unarchive) a cohort; commits."""
    cohort = get_cohort(user, cohort_id)
    if name is not None:
        new_name = _clean_name(name)
        if new_name != cohort.name:
            record_action(user, cohort.id, "renamed cohort", old=cohort.name, name=new_name)
        cohort.name = new_name
    if archived is not None:
        if archived and cohort.archived_at is None:
            cohort.archived_at = utcnow()
            record_action(user, cohort.id, "archived cohort")
        elif not archived and cohort.archived_at is not None:
            cohort.archived_at = None
            record_action(user, cohort.id, "restored cohort")
    cohort.updated_at = utcnow()
    db.session.commit()
    return cohort


def members(cohort: Cohort) -> list[User]:
    """The cohort's learners, by email."""
    return sorted((m.user for m in cohort.members), key=lambda u: u.email)


def emails_from_csv(text: str) -> list[str]:
    """Email addresses from CSV text: the `email` column when a header names one, else the
    first column of every row. Blank rows are skipped. Raises `ValidationFailed` for CSV
    that cannot be parsed."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ValidationFailed(f"The CSV cannot be read: {exc}") from None
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = 0
    for name in EMAIL_COLUMNS:
        if name in header:
            column = header.index(name)
            rows = rows[1:]
            break
    return [row[column].strip() for row in rows if len(row) > column and row[column].strip()]


def add_members(user: User, cohort_id: int, emails: list[str]) -> dict[str, list[str]]:
    """Add existing accounts to the cohort by email; commits.

    Returns `{"added": [...], "already": [...], "unknown": [...], "refused": [...]}`;
    unknown addresses are reported, not created; trainer and admin accounts are refused
    (a cohort holds learners). Raises `ValidationFailed` when nothing was given.
    """
    cohort = get_cohort(user, cohort_id)
    wanted = list(dict.fromkeys(normalize_email(e) for e in emails if e.strip()))
    if not wanted:
        raise ValidationFailed("No email addresses given.", errors={"emails": ["empty"]})
    found = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(wanted)))}
    present = {m.user_id for m in cohort.members}
    report: dict[str, list[str]] = {"added": [], "already": [], "unknown": [], "refused": []}
    for email in wanted:
        account = found.get(email)
        if account is None:
            report["unknown"].append(email)
        elif account.role is not Role.LEARNER:
            report["refused"].append(email)
        elif account.id in present:
            report["already"].append(email)
        else:
            cohort.members.append(CohortMember(user_id=account.id, added_at=utcnow()))
            present.add(account.id)
            report["added"].append(email)
            record_action(user, cohort.id, "added member", account.id, email=email)
    cohort.updated_at = utcnow()
    db.session.commit()
    return report


def remove_member(user: User, cohort_id: int, member_id: int) -> None:
    """Remove learner `member_id` (a user id) from the cohort; commits. Their attempts and
    activity stay. Raises `NotFound` when they are not a member."""
    cohort = get_cohort(user, cohort_id)
    for member in cohort.members:
        if member.user_id == member_id:
            record_action(user, cohort.id, "removed member", member_id, email=member.user.email)
            cohort.members.remove(member)
            cohort.updated_at = utcnow()
            db.session.commit()
            return
    raise NotFound(f"User {member_id} is not a member of cohort {cohort_id}.")


def assign(
    user: User, cohort_id: int, kind: str, slug: str, due_at: datetime | None
) -> CohortAssignment:
    """Assign a quiz or lab to the cohort, or change the due date of an existing
    assignment; commits. Raises `NotFound` for an unknown quiz slug."""
    cohort = get_cohort(user, cohort_id)
    kind_value = AssignmentKind(kind)
    if kind_value is AssignmentKind.QUIZ and (
        db.session.scalar(select(Quiz.id).where(Quiz.slug == slug)) is None
    ):
        raise NotFound(f"Quiz {slug!r} not found.")
    due = _moment(due_at)
    for existing in cohort.assignments:
        if existing.kind is kind_value and existing.slug == slug:
            existing.due_at = due_at
            record_action(user, cohort.id, "changed due date", kind=kind, slug=slug, due_at=due)
            db.session.commit()
            return existing
    assignment = CohortAssignment(kind=kind_value, slug=slug, due_at=due_at, created_at=utcnow())
    cohort.assignments.append(assignment)
    record_action(user, cohort.id, "assigned", kind=kind, slug=slug, due_at=due)
    db.session.commit()
    return assignment


def extend_due_date(
    user: User, cohort_id: int, assignment_id: int, due_at: datetime | None
) -> CohortAssignment:
    """Move an assignment's due date (None: no due date); commits. Raises `NotFound`."""
    cohort = get_cohort(user, cohort_id)
    assignment = next((a for a in cohort.assignments if a.id == assignment_id), None)
    if assignment is None:
        raise NotFound(f"Assignment {assignment_id} not found in cohort {cohort_id}.")
    record_action(
        user,
        cohort.id,
        "changed due date",
        kind=assignment.kind.value,
        slug=assignment.slug,
        old=_moment(assignment.due_at),
        due_at=_moment(due_at),
    )
    assignment.due_at = due_at
    db.session.commit()
    return assignment


def extend_for_learner(
    user: User, cohort_id: int, learner_id: int, assignment_id: int, due_at: datetime | None
) -> CohortAssignment:
    """Give one member their own due date for an assignment (None: back to the
    cohort's); commits. Raises `NotFound` for an unknown member or assignment."""
    cohort, learner = member_of(user, cohort_id, learner_id)
    assignment = next((a for a in cohort.assignments if a.id == assignment_id), None)
    if assignment is None:
        raise NotFound(f"Assignment {assignment_id} not found in cohort {cohort_id}.")
    extension = db.session.scalar(
        select(DueDateExtension).where(
            DueDateExtension.assignment_id == assignment.id,
            DueDateExtension.user_id == learner.id,
        )
    )
    if due_at is None:
        if extension is not None:
            db.session.delete(extension)
    elif extension is None:
        db.session.add(
            DueDateExtension(
                assignment_id=assignment.id, user_id=learner.id, due_at=due_at, created_at=utcnow()
            )
        )
    else:
        extension.due_at = due_at
    record_action(
        user,
        cohort.id,
        "extended due date" if due_at else "removed due date extension",
        learner.id,
        kind=assignment.kind.value,
        slug=assignment.slug,
        due_at=_moment(due_at),
    )
    db.session.commit()
    return assignment


def member_of(user: User, cohort_id: int, learner_id: int) -> tuple[Cohort, User]:
    """The cohort and its member `learner_id`; `NotFound` when either is not visible."""
    cohort = get_cohort(user, cohort_id)
    for member in cohort.members:
        if member.user_id == learner_id:
            return cohort, member.user
    raise NotFound(f"User {learner_id} is not a member of cohort {cohort_id}.")


def grant_extra_attempts(
    user: User, cohort_id: int, learner_id: int, quiz_slug: str, extra: int = 1
) -> dict[str, Any]:
    """Give a member `extra` more attempts at a quiz (added to those granted before);
    commits. Returns `{"quiz", "extra_attempts", "attempts_allowed"}` (0 = unlimited).
    Raises `NotFound` for an unknown quiz or member, `ValidationFailed` for a count
    outside 1..MAX_EXTRA_ATTEMPTS."""
    from app.services.quizzes import attempts_allowed

    cohort, learner = member_of(user, cohort_id, learner_id)
    if not 1 <= extra <= MAX_EXTRA_ATTEMPTS:
        raise ValidationFailed(
            "The number of extra attempts is out of range.",
            errors={"extra": [f"Must be between 1 and {MAX_EXTRA_ATTEMPTS}."]},
        )
    quiz = db.session.scalar(select(Quiz).where(Quiz.slug == quiz_slug))
    if quiz is None:
        raise NotFound(f"Quiz {quiz_slug!r} not found.")
    allowance = db.session.scalar(
        select(QuizAllowance).where(
            QuizAllowance.user_id == learner.id, QuizAllowance.quiz_id == quiz.id
        )
    )
    if allowance is None:
        allowance = QuizAllowance(user_id=learner.id, quiz_id=quiz.id, extra_attempts=0)
        db.session.add(allowance)
    allowance.extra_attempts += extra
    allowance.updated_at = utcnow()
    record_action(user, cohort.id, "granted extra attempt", learner.id, quiz=quiz.slug, extra=extra)
    db.session.flush()
    result = {
        "quiz": quiz.slug,
        "extra_attempts": allowance.extra_attempts,
        "attempts_allowed": attempts_allowed(learner.id, quiz),
    }
    db.session.commit()
    return result


def set_member_accommodation(
    user: User, cohort_id: int, learner_id: int, accommodation: float
) -> User:
    """Set a member's time multiplier (see `attempts.set_accommodation`); commits."""
    from app.services import attempts
    from app.services.users import _check_accommodation

    cohort, learner = member_of(user, cohort_id, learner_id)
    _check_accommodation(accommodation)
    record_action(
        user,
        cohort.id,
        "set accommodation",
        learner.id,
        old=learner.accommodation,
        accommodation=accommodation,
    )
    return attempts.set_accommodation(user, learner.id, accommodation)


def create_learner(
    user: User, cohort_id: int, email: str, password: str | None = None
) -> tuple[User, str | None]:
    """Create a learner account in the cohort; commits. With `password` the account can
    log in at once; without, a one-time invitation is made and its token returned (the
    link sets the password). Trainers can only ever create learners. Raises `NotFound`,
    `Conflict` when the address is taken, `ValidationFailed` for a short password."""
    from app.services import invitations
    from app.services.users import create_user

    cohort = get_cohort(user, cohort_id)
    learner = create_user(email, Role.LEARNER, password, commit=False)
    cohort.members.append(CohortMember(user_id=learner.id, added_at=utcnow()))
    token = None if password is not None else invitations.create_invitation(learner, user)
    record_action(
        user,
        cohort.id,
        "created learner" if password is not None else "invited learner",
        learner.id,
        email=learner.email,
    )
    cohort.updated_at = utcnow()
    db.session.commit()
    return learner, token


def unassign(user: User, cohort_id: int, assignment_id: int) -> None:
    """Remove an assignment; commits. Raises `NotFound` for an unknown one."""
    cohort = get_cohort(user, cohort_id)
    for assignment in cohort.assignments:
        if assignment.id == assignment_id:
            record_action(
                user, cohort.id, "unassigned", kind=assignment.kind.value, slug=assignment.slug
            )
            cohort.assignments.remove(assignment)
            db.session.commit()
            return
    raise NotFound(f"Assignment {assignment_id} not found in cohort {cohort_id}.")


def cohort_view(cohort: Cohort) -> dict[str, Any]:
    """The cohort as `CohortSchema` renders it."""
    return {
        "id": cohort.id,
        "name": cohort.name,
        "owner_email": cohort.owner.email,
        "archived": cohort.archived_at is not None,
        "archived_at": cohort.archived_at,
        "created_at": cohort.created_at,
        "members": [{"id": u.id, "email": u.email} for u in members(cohort)],
        "assignments": [
            {"id": a.id, "kind": a.kind.value, "slug": a.slug, "due_at": a.due_at}
            for a in cohort.assignments
        ],
    }


def cohorts_of_learner(user: User) -> list[Cohort]:
    """Cohorts `user` is a member of."""
    return list(
        db.session.scalars(
            select(Cohort)
            .join(CohortMember, CohortMember.cohort_id == Cohort.id)
            .where(CohortMember.user_id == user.id)
            .order_by(Cohort.name)
        )
    )


def ensure_unique_name(owner: User, name: str) -> None:
    """Raise `Conflict` when `owner` already has a live cohort called `name`."""
    taken = db.session.scalar(
        select(Cohort.id).where(
            Cohort.owner_id == owner.id, Cohort.name == name, Cohort.archived_at.is_(None)
        )
    )
    if taken is not None:
        raise Conflict(f"You already have a cohort named {name!r}.")


def assignments_of_learner(user: User) -> list[dict[str, Any]]:
    """The work assigned to `user` through their live cohorts, earliest due first (no due
    date last): `{"cohort", "kind", "slug", "due_at"}`, their own due date when a trainer
    extended it."""
    own_dates = dict(
        db.session.execute(
            select(DueDateExtension.assignment_id, DueDateExtension.due_at).where(
                DueDateExtension.user_id == user.id
            )
        ).all()
    )
    rows = []
    for cohort in cohorts_of_learner(user):
        if cohort.archived_at is not None:
            continue
        for assignment in cohort.assignments:
            rows.append(
                {
                    "cohort": cohort.name,
                    "kind": assignment.kind.value,
                    "slug": assignment.slug,
                    "due_at": own_dates.get(assignment.id, assignment.due_at),
                }
            )
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        rows,
        key=lambda r: (r["due_at"].replace(tzinfo=None) if r["due_at"] else far, r["slug"]),
    )

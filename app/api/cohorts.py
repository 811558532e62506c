"""Cohorts: create, rename, archive, members, assignments, progress (JSON or CSV),
the learner's own progress, and the activity log as xAPI statements."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from sqlalchemy import select

from app.api.common import TEXT_BODY, SelectPage, auth_required, current_user
from app.api.parsing import Blueprint, request_body
from app.extensions import db
from app.models.cohort import Cohort
from app.models.user import Role, User
from app.schemas.cohorts import (
    AssignmentCreateSchema,
    AssignmentSchema,
    CohortCreateSchema,
    CohortListQuerySchema,
    CohortSchema,
    CohortUpdateSchema,
    DueDateInSchema,
    ExtraAttemptsInSchema,
    ExtraAttemptsSchema,
    LearnerAssignmentSchema,
    LearnerCreatedSchema,
    LearnerCreateSchema,
    LearnerProgressSchema,
    MembersAddSchema,
    MembersReportSchema,
    ProgressQuerySchema,
    ProgressSchema,
    StatementResultSchema,
    StatementsQuerySchema,
)
from app.services import activity, cohorts, progress, xapi
from app.services.errors import ValidationFailed

blp = Blueprint(
    "cohorts", __name__, description="Trainers' cohorts, progress and the activity log."
)

CSV_MIMETYPE = "text/csv"


class CohortViewPage(SelectPage):
    """Pages of cohorts rendered through `cohort_view`."""

    def view(self, row: Any) -> Any:
        return cohorts.cohort_view(row)


@blp.route("/cohorts")
class Cohorts(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(CohortListQuerySchema, location="query")
    @blp.response(200, CohortSchema(many=True))
    @blp.paginate(CohortViewPage)
    def get(self, query: dict[str, Any]) -> Any:
        """The caller's cohorts (all cohorts for admins), by name (paginated)."""
        return cohorts.cohorts_query(current_user(), query["include_archived"])

    @auth_required(Role.TRAINER)
    @blp.arguments(CohortCreateSchema)
    @blp.response(201, CohortSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a cohort owned by the caller. 409 when they have one of that name."""
        return cohorts.cohort_view(cohorts.create_cohort(current_user(), data["name"]))


@blp.route("/cohorts/<int:cohort_id>")
class CohortById(MethodView):
    @auth_required(Role.TRAINER)
    @blp.response(200, CohortSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, cohort_id: int) -> dict[str, Any]:
        """One cohort with its members and assignments (404 for another trainer's)."""
        return cohorts.cohort_view(cohorts.get_cohort(current_user(), cohort_id))

    @auth_required(Role.TRAINER)
    @blp.arguments(CohortUpdateSchema)
    @blp.response(200, CohortSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, data: dict[str, Any], cohort_id: int) -> dict[str, Any]:
        """Rename (`name`) and/or archive or restore (`archived`) a cohort."""
        cohort = cohorts.update_cohort(
            current_user(), cohort_id, name=data.get("name"), archived=data.get("archived")
        )
        return cohorts.cohort_view(cohort)


@blp.route("/cohorts/<int:cohort_id>/members")
class CohortMembers(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(MembersAddSchema)
    @blp.response(200, MembersReportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data: dict[str, Any], cohort_id: int) -> dict[str, list[str]]:
        """Add learners by email. Addresses without an account are listed in `unknown`."""
        return cohorts.add_members(current_user(), cohort_id, data["emails"])


@blp.route("/cohorts/<int:cohort_id>/members/csv")
class CohortMembersCsv(MethodView):
    @auth_required(Role.TRAINER)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {CSV_MIMETYPE: {"schema": {"type": "string"}}},
            "description": "CSV with an `email` column (or addresses in the first column).",
        }
    )
    @blp.response(200, MembersReportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, cohort_id: int) -> dict[str, list[str]]:
        """Add learners in bulk from a CSV body (`Content-Type: text/csv`)."""
        if request.mimetype != CSV_MIMETYPE:
            raise ValidationFailed("Send the CSV with Content-Type: text/csv.")
        text = request_body(request).decode("utf-8", errors="replace")
        if "\x00" in text:
            raise ValidationFailed("The CSV must not contain NUL characters.")
        return cohorts.add_members(current_user(), cohort_id, cohorts.emails_from_csv(text))


@blp.route("/cohorts/<int:cohort_id>/learners")
class CohortLearners(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(LearnerCreateSchema)
    @blp.response(201, LearnerCreatedSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], cohort_id: int) -> dict[str, Any]:
        """Create a learner account in the cohort (always a learner). With `password`
        it can log in at once; without, `invitation_url` is a one-time link (valid seven
        days) where the learner sets one. 409 when the address is taken."""
        learner, token = cohorts.create_learner(
            current_user(), cohort_id, data["email"], data["password"]
        )
        url = url_for("web.invitation", token=token, _external=True) if token else None
        return {
            "id": learner.id,
            "email": learner.email,
            "role": learner.role.value,
            "invitation_url": url,
        }


@blp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/extra-attempts")
class LearnerExtraAttempts(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(ExtraAttemptsInSchema)
    @blp.response(200, ExtraAttemptsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data: dict[str, Any], cohort_id: int, user_id: int) -> dict[str, Any]:
        """Grant a member `extra` more attempts at a quiz than its limit allows."""
        return cohorts.grant_extra_attempts(
            current_user(), cohort_id, user_id, data["quiz"], data["extra"]
        )


@blp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>/due-dates/<int:assignment_id>")
class LearnerDueDate(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(DueDateInSchema)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], cohort_id: int, user_id: int, assignment_id: int) -> None:
        """Give one member their own due date for an assignment (`null`: the cohort's)."""
        cohorts.extend_for_learner(
            current_user(), cohort_id, user_id, assignment_id, data["due_at"]
        )


@blp.route("/cohorts/<int:cohort_id>/members/<int:user_id>")
class CohortMemberById(MethodView):
    @auth_required(Role.TRAINER)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, cohort_id: int, user_id: int) -> None:
        """Remove a learner from the cohort (their attempts stay)."""
        cohorts.remove_member(current_user(), cohort_id, user_id)


@blp.route("/cohorts/<int:cohort_id>/assignments")
class CohortAssignments(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(AssignmentCreateSchema)
    @blp.response(201, AssignmentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data: dict[str, Any], cohort_id: int) -> Any:
        """Assign a quiz or lab with an optional due date (re-assigning changes the date)."""
        assignment = cohorts.assign(
            current_user(), cohort_id, data["kind"].value, data["slug"], data["due_at"]
        )
        return {
            "id": assignment.id,
            "kind": assignment.kind.value,
            "slug": assignment.slug,
            "due_at": assignment.due_at,
        }


@blp.route("/cohorts/<int:cohort_id>/assignments/<int:assignment_id>")
class CohortAssignmentById(MethodView):
    @auth_required(Role.TRAINER)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, cohort_id: int, assignment_id: int) -> None:
        """Remove an assignment."""
        cohorts.unassign(current_user(), cohort_id, assignment_id)


def wants_csv(requested_format: str | None) -> bool:
    """CSV when `?format=csv`, or when the Accept header prefers text/csv to JSON."""
    if requested_format:
        return requested_format == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


def csv_response(text: str, filename: str) -> Response:
    """A CSV download named `filename`."""
    return Response(
        text,
        mimetype=CSV_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blp.route("/cohorts/<int:cohort_id>/progress")
class CohortProgress(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(ProgressQuerySchema, location="query")
    @blp.response(200, ProgressSchema)
    @blp.alt_response(
        200,
        schema=TEXT_BODY,
        content_type=CSV_MIMETYPE,
        description="One row per learner (`?format=csv` or `Accept: text/csv`).",
        success=True,
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any], cohort_id: int) -> Any:
        """Progress per learner, domain and topic, readiness against 66 %, cohort
        aggregates. `text/csv` (one row per learner) with `?format=csv` or
        `Accept: text/csv`."""
        cohort = cohorts.get_cohort(current_user(), cohort_id)
        report = progress.cohort_progress(cohort)
        if wants_csv(query["format"]):
            return csv_response(progress.progress_csv(report), f"cohort-{cohort.id}-progress.csv")
        return report


@blp.route("/cohorts/<int:cohort_id>/gradebook")
class CohortGradebook(MethodView):
    @auth_required(Role.TRAINER)
    @blp.response(200, content_type=CSV_MIMETYPE)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, cohort_id: int) -> Response:
        """The gradebook as CSV: one row per learner, one column per assignment (best
        quiz result or lab grade in percent), then readiness and each CKA domain."""
        cohort = cohorts.get_cohort(current_user(), cohort_id)
        report = progress.cohort_progress(cohort)
        return csv_response(progress.gradebook_csv(report), f"cohort-{cohort.id}-gradebook.csv")


@blp.route("/me/progress")
class OwnProgress(MethodView):
    @auth_required()
    @blp.response(200, LearnerProgressSchema)
    def get(self) -> dict[str, Any]:
        """The caller's own progress over all their quiz attempts and lab grades."""
        return progress.own_progress(current_user())


@blp.route("/me/assignments")
class OwnAssignments(MethodView):
    @auth_required()
    @blp.response(200, LearnerAssignmentSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The quizzes and labs assigned to the caller by their cohorts' trainers, with
        due dates, earliest due first."""
        return cohorts.assignments_of_learner(current_user())


@blp.route("/cohorts/<int:cohort_id>/statements")
class CohortStatements(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(StatementsQuerySchema, location="query")
    @blp.response(200, StatementResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any], cohort_id: int) -> dict[str, Any]:
        """The members' activity log as xAPI statements in the order stored, `limit` per
        page; `more` is the URL of the next page (empty on the last)."""
        cohort: Cohort = cohorts.get_cohort(current_user(), cohort_id)
        ids = [m.user_id for m in cohort.members]
        events = activity.events_for(
            ids, since=query["since"], after_id=query["after"], limit=query["limit"]
        )
        users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
        result = xapi.statements(events, users, request.host_url.rstrip("/"), cohort)
        if len(events) == query["limit"]:
            result["more"] = url_for(
                "cohorts.CohortStatements",
                cohort_id=cohort_id,
                after=events[-1].id,
                limit=query["limit"],
                since=query["since"].isoformat() if query["since"] else None,
            )
        return result

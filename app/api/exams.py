"""Mock exams: the catalogue, attempts (start, status with the task texts and the timer,
kubeconfig, node shell, submit), results, and trainers' grades on demand."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from sqlalchemy import Select

from app.api.common import TEXT_BODY, SelectPage, auth_required, current_user
from app.api.parsing import Blueprint
from app.models.exam import Exam
from app.schemas.exams import (
    ExamAttemptQuerySchema,
    ExamAttemptSchema,
    ExamExecInSchema,
    ExamExecResultSchema,
    ExamGradeSchema,
    ExamSchema,
    ExamSummarySchema,
)
from app.services import exam_attempts, exam_grading, exams

blp = Blueprint("exams", __name__, description="Timed hands-on mock exams over several clusters.")


class AttemptViewPage(SelectPage):
    """Pages of attempts rendered through `attempt_view` for the caller."""

    def view(self, row: Any) -> Any:
        return exam_attempts.attempt_view(row, current_user())


@blp.route("/exams")
class Exams(MethodView):
    @auth_required()
    @blp.response(200, ExamSummarySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[Exam]:
        """Live mock exams, by title (paginated)."""
        return exams.exams_query()


@blp.route("/exams/<slug>")
class ExamBySlug(MethodView):
    @auth_required()
    @blp.response(200, ExamSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, slug: str) -> dict[str, Any]:
        """The exam: time limit, pass mark, contexts and per task its title, domain,
        context and weight (the task texts come with an attempt)."""
        return exams.exam_view(exams.get_exam(slug))


@blp.route("/exams/<slug>/attempts")
class ExamAttemptStart(MethodView):
    @auth_required()
    @blp.response(202, ExamAttemptSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, slug: str) -> dict[str, Any]:
        """Start an attempt: 202 with it `provisioning`; poll it until `running` (the
        timer starts then). 409 while another attempt of yours is not graded yet."""
        user = current_user()
        return exam_attempts.attempt_view(exam_attempts.start_attempt(user, slug), user)


@blp.route("/exam-attempts")
class ExamAttempts(MethodView):
    @auth_required()
    @blp.arguments(ExamAttemptQuerySchema, location="query")
    @blp.response(200, ExamAttemptSchema(many=True))
    @blp.paginate(AttemptViewPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Attempts, newest first (paginated): your own; trainers see their cohorts'
        learners' too, admins everyone's (filter by `exam`)."""
        return exam_attempts.attempts_query(current_user(), args.get("exam"))


@blp.route("/exam-attempts/<int:attempt_id>")
class ExamAttemptById(MethodView):
    @auth_required()
    @blp.response(200, ExamAttemptSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, attempt_id: int) -> dict[str, Any]:
        """The attempt: status, remaining time, contexts, the tasks and the grades."""
        user = current_user()
        return exam_attempts.attempt_view(exam_attempts.get_attempt(user, attempt_id), user)


@blp.route("/exam-attempts/<int:attempt_id>/kubeconfig")
class ExamAttemptKubeconfig(MethodView):
    @auth_required()
    @blp.response(200, TEXT_BODY, content_type="application/yaml", description="A kubeconfig file.")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, attempt_id: int) -> Response:
        """One kubeconfig with a context per cluster; 409 unless the attempt runs."""
        config = exam_attempts.kubeconfig(current_user(), attempt_id)
        return Response(config, mimetype="application/yaml")


@blp.route("/exam-attempts/<int:attempt_id>/exec")
class ExamAttemptExec(MethodView):
    @auth_required()
    @blp.arguments(ExamExecInSchema)
    @blp.response(200, ExamExecResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], attempt_id: int) -> dict[str, Any]:
        """Run a command on a node of one context's cluster (the node shell)."""
        return exam_attempts.node_exec(
            current_user(), attempt_id, data["context"], data["node"], data["command"]
        )


@blp.route("/exam-attempts/<int:attempt_id>/submit")
class ExamAttemptSubmit(MethodView):
    @auth_required()
    @blp.response(202, ExamAttemptSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, attempt_id: int) -> dict[str, Any]:
        """End the attempt and grade every task once (202, status `grading`);
        idempotent. The deadline submits by itself."""
        user = current_user()
        return exam_attempts.attempt_view(exam_attempts.submit(user, attempt_id), user)


@blp.route("/exam-attempts/<int:attempt_id>/result")
class ExamAttemptResult(MethodView):
    @auth_required()
    @blp.response(200, ExamGradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, attempt_id: int) -> dict[str, Any]:
        """The final grade: score, pass/fail, per-domain and per-task breakdown with the
        reference solutions; 409 until the attempt is graded."""
        return exam_grading.result_view(current_user(), attempt_id)


@blp.route("/exam-attempts/<int:attempt_id>/grades")
class ExamAttemptGrades(MethodView):
    @auth_required("trainer")
    @blp.response(202, ExamGradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, attempt_id: int) -> dict[str, Any]:
        """Trainers: grade the clusters as they are now (202, pending); the attempt goes
        on. A grade still open is returned instead of a second."""
        user = current_user()
        grade = exam_grading.request_grade(user, attempt_id)
        return exam_grading.grade_view(grade, user)


@blp.route("/exam-attempts/<int:attempt_id>/grades/<int:grade_id>")
class ExamAttemptGradeById(MethodView):
    @auth_required()
    @blp.response(200, ExamGradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, attempt_id: int, grade_id: int) -> dict[str, Any]:
        """One grade with its breakdown (candidates: the final one only)."""
        user = current_user()
        return exam_grading.grade_view(exam_grading.get_grade(user, attempt_id, grade_id), user)

"""Item statistics of quizzes and per-check statistics of labs (trainers)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.cohorts import CSV_MIMETYPE, csv_response, wants_csv
from app.api.common import TEXT_BODY, auth_required, current_user
from app.api.parsing import Blueprint
from app.models.user import Role
from app.schemas.statistics import LabStatisticsSchema, QuizStatisticsSchema, StatisticsQuerySchema
from app.services import access, cohorts, statistics

blp = Blueprint(
    "statistics", __name__, description="Item analysis of quizzes and labs for trainers."
)


@blp.route("/quizzes/<slug>/statistics")
class QuizStatistics(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, QuizStatisticsSchema)
    @blp.alt_response(
        200,
        schema=TEXT_BODY,
        content_type=CSV_MIMETYPE,
        description="One row per question (`?format=csv` or `Accept: text/csv`).",
        success=True,
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any], slug: str) -> Any:
        """Facility, discrimination (upper vs lower 27 %), distractor counts and
        Cronbach's alpha over submitted attempts (a trainer's own learners only; one
        cohort's with `cohort_id`), with flags and sample warnings.
        Per-question rows as `text/csv` with `?format=csv` or `Accept: text/csv`."""
        user = current_user()
        cohort = None
        if query["cohort_id"] is not None:
            cohort = cohorts.get_cohort(user, query["cohort_id"])
        # Without a cohort a trainer still sees only their own learners' attempts.
        report = statistics.quiz_statistics(slug, cohort, access.visible_user_ids(user, None))
        if wants_csv(query["format"]):
            return csv_response(statistics.statistics_csv(report), f"{slug}-statistics.csv")
        return report


@blp.route("/labs/<slug>/statistics")
class LabStatistics(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, LabStatisticsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any], slug: str) -> dict[str, Any]:
        """Per check: the share of learners who passed it and the hints used."""
        user = current_user()
        user_ids = None
        if query["cohort_id"] is not None:
            cohort = cohorts.get_cohort(user, query["cohort_id"])
            user_ids = [m.user_id for m in cohort.members]
        return statistics.lab_statistics(slug, access.visible_user_ids(user, user_ids))

"""Labs: the catalogue, one lab's tasks, and starting a session."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app.api.common import SelectPage, auth_required, current_user
from app.api.parsing import Blueprint
from app.models.lab import Lab
from app.schemas.labs import LabSchema, LabSessionSchema, LabSummarySchema
from app.services import lab_sessions, labs

blp = Blueprint("labs", __name__, description="Hands-on labs and starting lab sessions.")


@blp.route("/labs")
class Labs(MethodView):
    @auth_required()
    @blp.response(200, LabSummarySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[Lab]:
        """Live labs, by title (paginated)."""
        return labs.labs_query()


@blp.route("/labs/<slug>")
class LabBySlug(MethodView):
    @auth_required()
    @blp.response(200, LabSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, slug: str) -> dict[str, Any]:
        """The lab's metadata, nodes, tasks and checks (id, points and message only)."""
        return labs.lab_view(labs.get_lab(slug))


@blp.route("/labs/<slug>/sessions")
class LabSessionStart(MethodView):
    @auth_required()
    @blp.response(202, LabSessionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, slug: str) -> dict[str, Any]:
        """Start a session: 202 with the session in `provisioning`; poll it until
        `ready`. 409 when the learner already holds the limit of active sessions."""
        user = current_user()
        return lab_sessions.session_view(lab_sessions.start_session(user, slug), user)

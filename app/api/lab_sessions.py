"""Lab sessions: state, kubeconfig, node access, grades, ending a session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView

from app.api.common import TEXT_BODY, SelectPage, auth_required, current_user
from app.api.parsing import Blueprint
from app.schemas.labs import (
    ExecInSchema,
    ExecResultSchema,
    GradeSchema,
    GradeWaitQuerySchema,
    LabSessionQuerySchema,
    LabSessionSchema,
    NodeFileInSchema,
    NodeFileQuerySchema,
    NodeFileSchema,
    NodeFileWrittenSchema,
    NodeSchema,
)
from app.services import grades, lab_sessions
from app.services.labs import node_names

blp = Blueprint(
    "lab-sessions", __name__, description="Lab sessions: clusters, node access and grades."
)


class LabSessionViewPage(SelectPage):
    """Pages of lab sessions rendered through `session_view` for the caller."""

    def view(self, row: Any) -> Any:
        return lab_sessions.session_view(row, current_user())


@blp.route("/lab-sessions")
class LabSessions(MethodView):
    @auth_required()
    @blp.arguments(LabSessionQuerySchema, location="query")
    @blp.response(200, LabSessionSchema(many=True))
    @blp.paginate(LabSessionViewPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Sessions, newest first (paginated): the learner's own; everyone's for
        trainers and admins (filter by `lab`)."""
        return lab_sessions.sessions_query(current_user(), args.get("lab"))


@blp.route("/lab-sessions/<int:session_id>")
class LabSessionById(MethodView):
    @auth_required()
    @blp.response(200, LabSessionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, session_id: int) -> dict[str, Any]:
        """The session: status, expiry, nodes, tasks and its grades."""
        user = current_user()
        return lab_sessions.session_view(lab_sessions.get_session(user, session_id), user)

    @auth_required()
    @blp.response(200, LabSessionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, session_id: int) -> dict[str, Any]:
        """End the session now and free its cluster (idempotent)."""
        user = current_user()
        return lab_sessions.session_view(lab_sessions.end_session(user, session_id), user)


@blp.route("/lab-sessions/<int:session_id>/kubeconfig")
class LabSessionKubeconfig(MethodView):
    @auth_required()
    @blp.response(200, TEXT_BODY, content_type="application/yaml", description="A kubeconfig file.")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, session_id: int) -> Response:
        """The kubeconfig (YAML) for `kubectl`; 409 until the session is ready."""
        config = lab_sessions.kubeconfig(current_user(), session_id)
        return Response(config, mimetype="application/yaml")


@blp.route("/lab-sessions/<int:session_id>/nodes")
class LabSessionNodes(MethodView):
    @auth_required()
    @blp.response(200, NodeSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, session_id: int) -> list[dict[str, Any]]:
        """The session's nodes and their roles."""
        session = lab_sessions.get_session(current_user(), session_id)
        roles = {n["name"]: n["role"] for n in session.lab.spec["cluster"]["nodes"]}
        return [{"name": name, "role": roles[name]} for name in node_names(session.lab)]


@blp.route("/lab-sessions/<int:session_id>/nodes/<node>/files")
class LabSessionNodeFiles(MethodView):
    @auth_required()
    @blp.arguments(NodeFileQuerySchema, location="query")
    @blp.response(200, NodeFileSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, args: dict[str, Any], session_id: int, node: str) -> dict[str, Any]:
        """Read a file on a node (`?path=/etc/...`); 404 when it does not exist."""
        return lab_sessions.read_node_file(current_user(), session_id, node, args["path"])

    @auth_required()
    @blp.arguments(NodeFileQuerySchema, location="query")
    @blp.arguments(NodeFileInSchema)
    @blp.response(200, NodeFileWrittenSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(
        self, args: dict[str, Any], data: dict[str, Any], session_id: int, node: str
    ) -> dict[str, Any]:
        """Write a file on a node (`?path=...`, body `{"content": "..."}`)."""
        return lab_sessions.write_node_file(
            current_user(), session_id, node, args["path"], data["content"]
        )


@blp.route("/lab-sessions/<int:session_id>/nodes/<node>/exec")
class LabSessionNodeExec(MethodView):
    @auth_required()
    @blp.arguments(ExecInSchema)
    @blp.response(200, ExecResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], session_id: int, node: str) -> dict[str, Any]:
        """Run a command of the node command set (`crictl ps`, `systemctl status kubelet`,
        `cat`, `sed -i`, ...) and return its exit code and output."""
        return lab_sessions.exec_on_node(current_user(), session_id, node, data["command"])


@blp.route("/lab-sessions/<int:session_id>/grades")
class LabSessionGrades(MethodView):
    @auth_required()
    @blp.response(200, GradeSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, session_id: int) -> list[dict[str, Any]]:
        """Every grade of the session, oldest first."""
        user = current_user()
        return [grades.grade_view(g, user) for g in grades.grades_of(user, session_id)]

    @auth_required()
    @blp.response(202, GradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, session_id: int) -> dict[str, Any]:
        """Ask for a grade: 202 with the grade (pending); a grade already pending or
        running is returned instead of a new one. Poll (or long-poll) it by id."""
        user = current_user()
        return grades.grade_view(grades.request_grade(user, session_id), user)


@blp.route("/lab-sessions/<int:session_id>/grades/<int:grade_id>")
class LabSessionGradeById(MethodView):
    @auth_required()
    @blp.arguments(GradeWaitQuerySchema, location="query")
    @blp.response(200, GradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], session_id: int, grade_id: int) -> dict[str, Any]:
        """The grade; `?wait=30` holds the request until it is done or failed (at most
        that many seconds, 60 at most). Learners get per-check feedback (pass/fail,
        points, message, hint when allowed); trainers also detail and evidence."""
        user = current_user()
        grade = grades.get_grade(user, session_id, grade_id, wait=args["wait"])
        return grades.grade_view(grade, user)


@blp.route("/lab-sessions/<int:session_id>/grades/<int:grade_id>/events")
class LabSessionGradeEvents(MethodView):
    @auth_required()
    @blp.response(
        200,
        TEXT_BODY,
        content_type="text/event-stream",
        description="Server-sent events: `status` on each change, then `done` or `timeout`.",
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, session_id: int, grade_id: int) -> Response:
        """Server-sent events for one grade: `status` on each change, then `done` with
        the grade (as `GET .../grades/{grade_id}` returns it) and the stream ends; a
        `timeout` event ends it after 60 s."""
        user = current_user()
        events = grades.grade_events(user, session_id, grade_id)
        schema = GradeSchema()

        def stream() -> Iterator[str]:
            for name, grade in events:
                data = json.dumps(schema.dump(grades.grade_view(grade, user)))
                yield f"event: {name}\ndata: {data}\n\n"

        return Response(
            stream_with_context(stream()),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

"""The learner's web app: login, home, quizzes and the quiz player, labs and the lab
console (with the browser terminal of `app.web.terminal`), history.

Pages are server-rendered (Jinja); the quiz player and the lab console add small local
scripts (`app/web/static/*.js`) that call the REST API with the browser session (cookie
plus `X-CSRF-Token`, see `app.web.session`). The Content-Security-Policy allows only this
site's own scripts and styles: no inline script, no CDN.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.api.common import client_address
from app.clock import now
from app.models.user import Role, User
from app.services import attempts as attempts_service
from app.services import auth, lab_sessions
from app.services import labs as labs_service
from app.services.errors import ServiceError, TooManyRequests
from app.services.quiz_text import score_text
from app.web import learner_views as views
from app.web.session import (
    CSRF_FIELD,
    check_csrf,
    csrf_token,
    end_session,
    login_required,
    start_session,
    web_user,
)

bp = Blueprint(
    "learner",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

# Only this site's scripts, styles and API; JSON for scripts travels in non-executed
# `<script type="application/json">` blocks, so no inline script is needed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


# The lab console: the same, except that styles may be inline (xterm.js).
CONSOLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


@bp.record_once
def _configure(state: Any) -> None:
    app: Flask = state.app
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config["CERTPREP_SETTINGS"].env == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.jinja_env.globals.setdefault("csrf_field", CSRF_FIELD)


@bp.after_request
def _security_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # Pages show personal data: never cache them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_user": web_user, "now": now}


@bp.app_template_filter("score")
def format_score(value: float | None) -> str:
    """A score for people: at most one decimal (`12.3`, `12`), an em dash for none."""
    return score_text(value)


@bp.app_template_filter("when")
def format_when(value: datetime | None) -> str:
    """`2026-03-02 09:00 UTC`, or an em dash."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("duration")
def format_duration(seconds: float | None) -> str:
    """`1 h 05 min`, `12 min`, `40 s`."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@bp.app_template_filter("json_script")
def json_script(value: Any, element_id: str) -> Markup:
    """`value` as a JSON data block for the page's script (escaped for HTML)."""
    text = (
        json.dumps(value, default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return Markup(f'<script type="application/json" id="{element_id}">{text}</script>')


@bp.app_template_filter("inline_code")
def inline_code(text: str | None) -> Markup:
    """Content text with its `backquoted` parts as <code>, everything else escaped. The
    content is hard-wrapped YAML: a single line break becomes a space (a blank line
    stays, for pages that keep line breaks)."""
    flowing = re.sub(r"(?<=[^\n])\n(?=[^\n])", " ", (text or "").strip())
    parts = escape(flowing).split("`")
    html = "".join(
        f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)
    )
    return Markup(html)


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> tuple[str, int]:
    from app.errors import status_for

    status = status_for(error)
    return (
        render_template("learner/error.html", status=status, message=error.message, title="Error"),
        status,
    )


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return (
        render_template(
            "learner/error.html", status=status, message=error.description, title="Error"
        ),
        status,
    )


# ------------------------------------------------------------------------ login


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after login; anything else (another site, `//host`) becomes
    `default` (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return default


def login_view(default_next: str = "/") -> Any:
    """The login form (GET) and the password check (POST): on success a new browser
    session, then the `next` page."""
    error = None
    status = 200
    if request.method == "POST":
        check_csrf()
        try:
            issued = auth.login(
                request.form.get("email", ""), request.form.get("password", ""), client_address()
            )
        except TooManyRequests as exc:
            error, status = exc.message, 429
        except ServiceError as exc:
            error, status = exc.message, 401
        else:
            start_session(issued)
            return redirect(safe_next(request.args.get("next"), default_next))
    return (
        render_template(
            "learner/login.html",
            error=error,
            email=request.form.get("email", ""),
            next=request.args.get("next"),
            title="Log in",
        ),
        status,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    return login_view()


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    """End the browser session (its token is revoked) and return to the home page."""
    check_csrf()
    end_session()
    flash("You are logged out.", "info")
    return redirect(url_for("learner.login"))


# ------------------------------------------------------------------------- home


@bp.route("/")
def home() -> str:
    """What certprep is; for a logged-in user, where to continue and what is due."""
    user = web_user()
    context: dict[str, Any] = {}
    if user is not None:
        context = views.home_context(user)
    return render_template("learner/home.html", title="Home", **context)


@bp.route("/api")
@bp.route("/api/v1")
def api_index() -> Response:
    """A small JSON index of the API for people who type its base URL."""
    return jsonify(
        {
            "name": "certprep",
            "api": "/api/v1",
            "docs": "/api/docs",
            "openapi": "/api/openapi.json",
            "resources": [
                "/api/v1/me",
                "/api/v1/quizzes",
                "/api/v1/attempts",
                "/api/v1/labs",
                "/api/v1/lab-sessions",
                "/api/v1/cohorts",
            ],
        }
    )


# ---------------------------------------------------------------------- quizzes


@bp.route("/quizzes")
@login_required()
def quizzes(user: User) -> str:
    """Assigned quizzes first (due date, attempts left, best score), then the rest."""
    assigned, others = views.quiz_rows(user)
    return render_template(
        "learner/quizzes.html", assigned=assigned, others=others, title="Quizzes"
    )


@bp.route("/quizzes/<slug>")
@login_required()
def quiz_page(user: User, slug: str) -> str:
    """A quiz: description, time limit, attempts, the rules in plain words, start."""
    return render_template("learner/quiz.html", title="Quiz", **views.quiz_context(user, slug))


@bp.route("/quizzes/<slug>/start", methods=["POST"])
@login_required()
def start_quiz(user: User, slug: str) -> BaseResponse:
    """Start (or resume) an attempt; a new one only with the confirmation ticked."""
    check_csrf()
    open_attempt = views.open_attempt_of(user, slug)
    if open_attempt is None and request.form.get("confirm") != "yes":
        flash("Tick the box to confirm that starting uses one of your attempts.", "error")
        return redirect(url_for("learner.quiz_page", slug=slug))
    attempt, _ = attempts_service.start_attempt(user, slug)
    return redirect(url_for("learner.attempt_page", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
@login_required()
def attempt_page(user: User, attempt_id: int) -> str:
    """The quiz player while the attempt is open; its result and review afterwards."""
    attempt = attempts_service.get_attempt(user, attempt_id)
    if attempt.is_open:
        return render_template(
            "learner/player.html", title=attempt.quiz.title, **views.player_context(attempt)
        )
    return render_template(
        "learner/review.html",
        title=f"Review: {attempt.quiz.title}",
        **views.review_context(user, attempt),
    )


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@login_required()
def submit_attempt(user: User, attempt_id: int) -> BaseResponse:
    """Submit from the summary; then the review."""
    check_csrf()
    try:
        attempts_service.submit_attempt(user, attempt_id)
    except ServiceError as exc:
        if attempts_service.get_attempt(user, attempt_id).is_open:
            raise
        # Closed meanwhile (deadline, another tab): the page says what happened.
        flash(exc.message, "error")
    return redirect(url_for("learner.attempt_page", attempt_id=attempt_id))


# ------------------------------------------------------------------------- labs


@bp.route("/labs")
@login_required()
def labs(user: User) -> str:
    """Labs: assigned first, then the rest, with the learner's sessions."""
    assigned, others = views.lab_rows(user)
    return render_template("learner/labs.html", assigned=assigned, others=others, title="Labs")


@bp.route("/labs/<slug>")
@login_required()
def lab_page(user: User, slug: str) -> str:
    """A lab's description and tasks (nothing about the fault or its checks)."""
    lab = labs_service.get_lab(slug)
    view = labs_service.lab_view(lab)
    return render_template(
        "learner/lab.html",
        lab=view,
        active=views.active_sessions(user, slug),
        title=view["title"],
    )


@bp.route("/labs/<slug>/start", methods=["POST"])
@login_required()
def start_lab(user: User, slug: str) -> BaseResponse:
    """Start a session of the lab and open its console."""
    check_csrf()
    try:
        session = lab_sessions.start_session(user, slug)
    except ServiceError as exc:
        flash(views.lab_start_message(exc), "error")
        return redirect(url_for("learner.lab_page", slug=slug))
    return redirect(url_for("learner.lab_console", session_id=session.id))


@bp.route("/lab-sessions/<int:session_id>")
@login_required()
def lab_console(user: User, session_id: int) -> Response:
    """The lab console: tasks, time left, node file editor, grading, hints, stop."""
    session = lab_sessions.get_session(user, session_id)
    response = Response(
        render_template(
            "learner/console.html",
            title=session.lab.title,
            **views.console_context(user, session),
        ),
        mimetype="text/html",
    )
    # xterm.js sizes its rows with <style> elements it creates: styles (never scripts)
    # may be inline on this page.
    response.headers["Content-Security-Policy"] = CONSOLE_CONTENT_SECURITY_POLICY
    return response


@bp.route("/lab-sessions/<int:session_id>/stop", methods=["POST"])
@login_required()
def stop_lab(user: User, session_id: int) -> BaseResponse:
    """End the session and free its cluster."""
    check_csrf()
    lab_sessions.end_session(user, session_id)
    flash("The lab session is stopped.", "info")
    return redirect(url_for("learner.lab_console", session_id=session_id))


# ---------------------------------------------------------------------- history


@bp.route("/me/history")
@login_required()
def history(user: User) -> str:
    """Every attempt and lab session of the account, newest first."""
    return render_template("learner/history.html", title="History", **views.history_context(user))


def trainer_link(user: User | None) -> bool:
    """True when the user may open the trainer dashboard."""
    return user is not None and user.role in (Role.TRAINER, Role.ADMIN)

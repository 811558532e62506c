"""Dashboard pages: the blueprint, login, the trainer's cohorts, a learner's own progress
and invitations. The trainer console lives in `cohort_pages` (gradebook and cohort
actions), `learner_pages` (drill-down, reviews, learner actions) and `item_pages` (item
analysis and lab check statistics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.extensions import db
from app.models.user import Role, User
from app.services import cohorts, invitations, progress
from app.services.errors import ServiceError
from app.web.session import (
    CSRF_FIELD,
    check_csrf,
    csrf_token,
    end_session,
    login_required,
    web_user,
)
from app.web.text import render_markdown

bp = Blueprint(
    "web",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Pages allow nothing but this site's own stylesheet and forms; there is no script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Heat map bands (percent lower bounds), worst first; 66 is the CKA pass mark.
HEAT_BANDS = (0, 40, progress.PASS_MARK, 80)
HISTOGRAM_WIDTH = 400
HISTOGRAM_HEIGHT = 160


@bp.record_once
def _configure(state: Any) -> None:
    app: Flask = state.app
    # The session cookie is the login: keep it from cross-site requests and scripts.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Production is served over HTTPS: never send the session over plain HTTP there.
    if app.config["CERTPREP_SETTINGS"].env == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.jinja_env.globals.setdefault("csrf_field", CSRF_FIELD)


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        # Pages show personal data: never cache them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "current_user": web_user,
        "pass_mark": progress.PASS_MARK,
        "default_dir": default_sort_direction,
    }


def default_sort_direction(key: str) -> str:
    """The first direction a column sorts in: names A to Z, figures highest first."""
    return "asc" if key in ("email", "question") else "desc"


@bp.app_template_filter("pct")
def format_percent(value: float | None) -> str:
    """`57.1 %` (one decimal, for people), or an em dash when there is no value."""
    return "—" if value is None else f"{round(value, 1):g} %"


@bp.app_template_filter("points")
def format_points(value: float | None) -> str:
    """Points for people: at most two decimals (`12.25`, never `12.2501`)."""
    return "—" if value is None else f"{round(value, 2):g}"


@bp.app_template_filter("ratio")
def format_ratio(value: float | None) -> str:
    """A 0..1 index with two decimals (`0.73`), or an em dash."""
    return "—" if value is None else f"{value:.2f}"


@bp.app_template_filter("breakable")
def format_breakable(value: str) -> Markup:
    """A slug that may wrap after its hyphens (and nowhere else) in narrow headers."""
    return Markup("-<wbr>").join(escape(value).split("-"))


@bp.app_template_filter("md")
def format_markdown(value: str | None) -> Markup:
    """Question text rendered from its Markdown subset (see `app.web.text`)."""
    return render_markdown(value)


@bp.app_template_filter("when")
def format_moment(value: datetime | None) -> Markup:
    """A `<time>` element in UTC, or an em dash."""
    if value is None:
        return Markup("—")
    return Markup('<time datetime="{}">{} UTC</time>').format(
        value.isoformat(), value.strftime("%Y-%m-%d %H:%M")
    )


@bp.app_template_filter("minutes")
def format_minutes(seconds: float | None) -> str:
    """Seconds as whole minutes (`12 min`)."""
    return "—" if not seconds else f"{round(seconds / 60)} min"


def heat_band(value: float | None) -> str:
    """The CSS class of a heat map cell for mastery `value`."""
    if value is None:
        return "heat-none"
    band = sum(1 for low in HEAT_BANDS if value >= low) - 1
    return f"heat-{band}"


def histogram(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for the readiness histogram (inline SVG)."""
    tallest = max((b["count"] for b in buckets), default=0) or 1
    slot = HISTOGRAM_WIDTH / len(buckets)
    # Room below the axis for the bucket labels and above the tallest bar for its count.
    baseline = HISTOGRAM_HEIGHT - 20
    drawable = baseline - 16
    bars = []
    for index, bucket in enumerate(buckets):
        height = round(drawable * bucket["count"] / tallest, 1)
        bars.append(
            {
                **bucket,
                "passing": bucket["low"] >= progress.PASS_MARK,
                "x": round(index * slot + 2, 1),
                "y": round(baseline - height, 1),
                "width": round(slot - 4, 1),
                "height": height,
                "label_x": round(index * slot + slot / 2, 1),
            }
        )
    return {"width": HISTOGRAM_WIDTH, "height": HISTOGRAM_HEIGHT, "bars": bars}


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> tuple[str, int]:
    from app.errors import status_for

    status = status_for(error)
    return render_template("error.html", status=status, message=error.message), status


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return render_template("error.html", status=status, message=error.description), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login page moved to `/login`: a GET is redirected there (back to the
    dashboard afterwards); a POST from an old form is still checked here."""
    if request.method == "POST":
        from app.web.learner import login_view

        return login_view(default_next=url_for("web.home"))
    return redirect(url_for("learner.login", next=request.args.get("next") or url_for("web.home")))


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    """End the browser session (kept for old forms; the pages post to `/logout`)."""
    check_csrf()
    end_session()
    return redirect(url_for("learner.login"))


@bp.route("/")
@login_required()
def home(user: User) -> Any:
    """Trainers and admins: their cohorts. Learners: their own progress."""
    if user.role is Role.LEARNER:
        return redirect(url_for("web.own_progress"))
    listed = list(db.session.scalars(cohorts.cohorts_query(user)))
    summaries = [(c, len(c.members)) for c in listed]
    return render_template("cohorts.html", cohorts=summaries, title="Cohorts")


@bp.route("/cohorts", methods=["POST"])
@login_required(Role.TRAINER)
def create_cohort(user: User) -> BaseResponse:
    """Create a cohort from the form, then open it."""
    check_csrf()
    try:
        cohort = cohorts.create_cohort(user, request.form.get("name", ""))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.home"))
    flash(f"Cohort {cohort.name} created.", "info")
    return redirect(url_for("web.cohort_page", cohort_id=cohort.id))


@bp.route("/me")
@login_required()
def own_progress(user: User) -> str:
    """The logged-in learner's own progress."""
    row = progress.own_progress(user)
    return render_template(
        "learner.html", row=row, cohort=None, heat_band=heat_band, title="My progress"
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str) -> Any:
    """A one-time invitation link: the invited learner chooses a password, then logs in."""
    from app.services.users import MIN_PASSWORD_LENGTH

    email = invitations.invited_email(token)
    error, status = None, 200
    if request.method == "POST":
        check_csrf()
        try:
            invitations.redeem_invitation(token, request.form.get("password", ""))
        except ServiceError as exc:
            db.session.rollback()
            error, status = exc.message, 422
        else:
            flash("Your password is set; log in with it.", "info")
            return redirect(url_for("web.login"))
    page = render_template(
        "invitation.html",
        token=token,
        email=email,
        error=error,
        min_length=MIN_PASSWORD_LENGTH,
        title="Choose your password",
    )
    return page, status


# Pages registered on `bp` by their own modules.
from app.web import cohort_pages, item_pages, learner_pages  # noqa: E402, F401

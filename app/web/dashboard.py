"""Dashboard pages: login, the trainer's cohorts, a cohort's progress with charts and a
CSV download, item statistics, and a learner's own progress."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.api.cohorts import csv_response
from app.extensions import db
from app.models.user import Role, User
from app.services import cohorts, progress, statistics
from app.services.errors import ServiceError
from app.web.session import (
    CSRF_FIELD,
    check_csrf,
    csrf_token,
    end_session,
    login_required,
    web_user,
)

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
    return {"csrf_token": csrf_token, "current_user": web_user, "pass_mark": progress.PASS_MARK}


@bp.app_template_filter("pct")
def format_percent(value: float | None) -> str:
    """`57.14 %`, or an em dash when there is no value."""
    return "—" if value is None else f"{value:g} %"


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


@bp.route("/cohorts/<int:cohort_id>")
@login_required(Role.TRAINER)
def cohort_page(user: User, cohort_id: int) -> str:
    """A cohort's progress: summary, learners with readiness bars, domain heat map and
    readiness histogram."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    domains = sorted(report["aggregate"]["domains"])
    return render_template(
        "cohort.html",
        cohort=cohort,
        report=report,
        domains=domains,
        heat_band=heat_band,
        chart=histogram(report["aggregate"]["distribution"]),
        title=cohort.name,
    )


@bp.route("/cohorts/<int:cohort_id>/learners/<int:user_id>")
@login_required(Role.TRAINER)
def learner_page(user: User, cohort_id: int, user_id: int) -> str:
    """One learner of a cohort: mastery by domain and topic, weak topics, assignments."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    row = next((r for r in report["learners"] if r["user_id"] == user_id), None)
    if row is None:
        abort(404, description=f"User {user_id} is not a member of {cohort.name}.")
    return render_template(
        "learner.html", row=row, cohort=cohort, heat_band=heat_band, title=row["email"]
    )


@bp.route("/cohorts/<int:cohort_id>/members", methods=["POST"])
@login_required(Role.TRAINER)
def add_members(user: User, cohort_id: int) -> BaseResponse:
    """Add learners from the form's addresses (one per line, or commas)."""
    check_csrf()
    text = request.form.get("emails", "").replace(",", "\n")
    emails = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        report = cohorts.add_members(user, cohort_id, emails)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Added {len(report['added'])}, already members {len(report['already'])}.", "info")
        if report["unknown"]:
            flash("No account for: " + ", ".join(report["unknown"]), "error")
    return redirect(url_for("web.cohort_page", cohort_id=cohort_id))


@bp.route("/cohorts/<int:cohort_id>/progress.csv")
@login_required(Role.TRAINER)
def progress_download(user: User, cohort_id: int) -> Response:
    """The cohort's progress as CSV (the same as the API's)."""
    cohort = cohorts.get_cohort(user, cohort_id)
    report = progress.cohort_progress(cohort)
    return csv_response(progress.progress_csv(report), f"cohort-{cohort.id}-progress.csv")


def _quiz_statistics(user: User, slug: str) -> tuple[dict[str, Any], Any]:
    """The statistics report of quiz `slug` for the `?cohort_id=` of the request (all
    learners without it), and that cohort."""
    cohort = None
    cohort_id = request.args.get("cohort_id", type=int)
    if cohort_id is not None:
        cohort = cohorts.get_cohort(user, cohort_id)
    return statistics.quiz_statistics(slug, cohort), cohort


@bp.route("/quizzes/<slug>/statistics")
@login_required(Role.TRAINER)
def quiz_statistics(user: User, slug: str) -> str:
    """Item statistics of a quiz, optionally for one cohort (`?cohort_id=`)."""
    report, cohort = _quiz_statistics(user, slug)
    return render_template(
        "statistics.html", report=report, cohort=cohort, title=f"Statistics: {slug}"
    )


@bp.route("/quizzes/<slug>/statistics.csv")
@login_required(Role.TRAINER)
def statistics_download(user: User, slug: str) -> Response:
    """A quiz's per-question statistics as CSV (`?cohort_id=` as on the page)."""
    report, _ = _quiz_statistics(user, slug)
    return csv_response(statistics.statistics_csv(report), f"{slug}-statistics.csv")


@bp.route("/me")
@login_required()
def own_progress(user: User) -> str:
    """The logged-in learner's own progress."""
    row = progress.own_progress(user)
    return render_template(
        "learner.html", row=row, cohort=None, heat_band=heat_band, title="My progress"
    )

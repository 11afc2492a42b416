"""Progress and what the centre gets out: dashboards, the cohort matrix, item statistics, the
gradebook, evidence bundles and records of achievement.

A trainee sees only their own dashboard and record; assessors and centre admins see those of
their centre's trainees. Ids of another centre (or another trainee's, for a trainee) are 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from sandbox_crm.i18n import N_
from training_platform import (
    exports_service,
    i18n,
    progress_service,
    sandboxes,
    statistics_service,
)
from training_platform import review_service as reviews
from training_platform.db import get_session
from training_platform.errors import ServiceError, render_error
from training_platform.models import Cohort, Role, User
from training_platform.navigation import add_nav_item
from training_platform.security import role_required

bp = Blueprint("progress", __name__, url_prefix="/progress")
add_nav_item(bp, "progress.mine", N_("My progress"), roles=(Role.TRAINEE,), order=15)

STAFF = (Role.ASSESSOR, Role.CENTRE_ADMIN)
for _endpoint, _label, _order in (
    ("progress.cohorts", N_("Progress"), 40),
    ("progress.statistics", N_("Item statistics"), 41),
    ("progress.gradebook", N_("Gradebook"), 42),
):
    add_nav_item(bp, _endpoint, _label, roles=STAFF, section=N_("Results"), order=_order)

VIEWS = ("units", "prs")
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _is_staff() -> bool:
    return current_user.role in STAFF


def _trainee_or_404(user_id: int) -> User:
    """A trainee the current user may see: themself, or one of their centre's (staff)."""
    trainee = get_session().get(User, user_id)
    if trainee is None or trainee.role != Role.TRAINEE:
        abort(404)
    if trainee.id == current_user.id:
        return trainee
    if not _is_staff() or trainee.centre_id != current_user.centre_id:
        abort(404)
    return trainee


def _cohort_or_404(cohort_id: int) -> Cohort:
    cohort = get_session().get(Cohort, cohort_id)
    if cohort is None or cohort.centre_id != current_user.centre_id:
        abort(404)
    return cohort


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- dashboards ----------------------------------------------------------------------------------


@bp.get("")
@login_required
def mine():
    """A trainee's own dashboard; staff go to the cohorts."""
    if _is_staff():
        return redirect(url_for("progress.cohorts"))
    return _dashboard(current_user)


@bp.get("/trainees/<int:user_id>")
@login_required
def trainee(user_id: int):
    """One trainee's dashboard: their own, or one of the centre's for staff."""
    return _dashboard(_trainee_or_404(user_id))


def _dashboard(trainee: User):
    progress = progress_service.trainee_progress(get_session(), trainee, i18n.current_language())
    return render_template(
        "progress/trainee.html",
        progress=progress,
        own=trainee.id == current_user.id,
        statuses=progress_service.PrStatus,
    )


@bp.get("/trainees/<int:user_id>/record.pdf")
@login_required
def record(user_id: int):
    """The trainee's record of achievement as a PDF."""
    trainee = _trainee_or_404(user_id)
    data = exports_service.record_pdf(get_session(), trainee, i18n.current_language())
    return _download(data, f"record-of-achievement-{trainee.id}.pdf", "application/pdf")


# --- cohorts -------------------------------------------------------------------------------------


@bp.get("/cohorts")
@role_required(*STAFF)
def cohorts():
    """The centre's cohorts and trainees, with links to their progress."""
    session = get_session()
    cohorts = progress_service.centre_cohorts(session, current_user.centre_id)
    trainees = list(progress_service.trainees_of(session, current_user.centre_id, None))
    return render_template(
        "progress/cohorts.html",
        cohorts=cohorts,
        trainees=trainees,
        sizes={c.id: len(progress_service.cohort_trainees(session, c)) for c in cohorts},
    )


@bp.get("/cohorts/<int:cohort_id>")
@role_required(*STAFF)
def cohort(cohort_id: int):
    """A cohort's trainees × PRs, as a table with the status written in each cell."""
    chosen = _cohort_or_404(cohort_id)
    unit = request.args.get("unit") or None
    matrix = progress_service.cohort_matrix(
        get_session(), chosen, unit_code=unit, language=i18n.current_language()
    )
    return render_template(
        "progress/cohort.html",
        matrix=matrix,
        unknown_unit=unit is not None and matrix.unit_code is None,
        statuses=progress_service.PrStatus,
    )


# --- statistics ----------------------------------------------------------------------------------


@bp.get("/statistics")
@role_required(*STAFF)
def statistics():
    """Pass rates per check and data variant, and facility and discrimination per question."""
    session = get_session()
    everything = statistics_service.scenario_statistics(session, current_user.centre_id)
    scenario = request.args.get("scenario") or None
    shown = [s for s in everything if scenario is None or s.key == scenario]
    return render_template(
        "progress/statistics.html",
        scenarios=shown,
        keys=[(s.key, s.title) for s in everything],
        scenario=scenario,
        unknown_scenario=scenario is not None and not shown,
        gap=round(statistics_service.FAIRNESS_GAP * 100),
        min_variant=statistics_service.MIN_VARIANT_ATTEMPTS,
        min_discrimination=statistics_service.MIN_DISCRIMINATION_ATTEMPTS,
        group=round(statistics_service.DISCRIMINATION_GROUP * 100),
    )


# --- gradebook -----------------------------------------------------------------------------------


@bp.get("/gradebook")
@role_required(*STAFF)
def gradebook():
    """The gradebook export form: which cohort, which view, which format."""
    cohorts = progress_service.centre_cohorts(get_session(), current_user.centre_id)
    return render_template("progress/gradebook.html", cohorts=cohorts)


@bp.get("/gradebook/export")
@role_required(*STAFF)
def gradebook_export():
    """The gradebook as CSV (one view) or XLSX (both views), optionally for one cohort."""
    view = request.args.get("view", "units")
    file_format = request.args.get("format", "csv")
    if view not in VIEWS or file_format not in FORMATS:
        return render_error(400, N_("Choose a view (units or PRs) and a format (CSV or XLSX)."))
    cohort_arg = request.args.get("cohort", "")
    chosen = None
    if cohort_arg:
        if not cohort_arg.isdigit() or len(cohort_arg) > 18:
            abort(404)
        chosen = _cohort_or_404(int(cohort_arg))
    session = get_session()
    language = i18n.current_language()
    centre_id = current_user.centre_id
    suffix = f"cohort-{chosen.id}" if chosen else "all"
    if file_format == "xlsx":
        data = exports_service.gradebook_xlsx(
            [
                (
                    gettext("Units"),
                    exports_service.unit_headers(),
                    exports_service.gradebook_unit_rows(session, centre_id, chosen, language),
                ),
                (
                    gettext("PRs"),
                    exports_service.pr_headers(),
                    exports_service.gradebook_pr_rows(session, centre_id, chosen, language),
                ),
            ]
        )
        return _download(data, f"gradebook-{suffix}.xlsx", XLSX_TYPE)
    if view == "units":
        headers = exports_service.unit_headers()
        rows = exports_service.gradebook_unit_rows(session, centre_id, chosen, language)
    else:
        headers = exports_service.pr_headers()
        rows = exports_service.gradebook_pr_rows(session, centre_id, chosen, language)
    data = exports_service.gradebook_csv(headers, rows)
    return _download(data, f"gradebook-{view}-{suffix}.csv", "text/csv; charset=utf-8")


# --- evidence ------------------------------------------------------------------------------------


def _evidence(attempt_id: int) -> exports_service.Evidence:
    session = get_session()
    try:
        attempt = reviews.reviewable_attempt(session, current_user, attempt_id)
        return exports_service.evidence_for(
            session, sandboxes.get_store(), attempt, i18n.current_language()
        )
    except ServiceError:
        abort(404)


@bp.get("/attempts/<int:attempt_id>/evidence.pdf")
@role_required(*STAFF)
def evidence_pdf(attempt_id: int):
    """The evidence of one graded attempt as a PDF."""
    data = exports_service.evidence_pdf(_evidence(attempt_id))
    return _download(data, f"attempt-{attempt_id}-evidence.pdf", "application/pdf")


@bp.get("/attempts/<int:attempt_id>/evidence.zip")
@role_required(*STAFF)
def evidence_zip(attempt_id: int):
    """The evidence of one graded attempt as a zip of JSON, CSV files and the PDF."""
    data = exports_service.evidence_zip(_evidence(attempt_id))
    return _download(data, f"attempt-{attempt_id}-evidence.zip", "application/zip")

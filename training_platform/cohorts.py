"""Centre admin pages for cohorts: members, what they take, assessment windows and extensions."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from sandbox_crm.i18n import N_
from training_platform import (
    class_prep_service,
    cohorts_service,
    definitions_store,
    jobs,
    sandboxes,
    users_service,
)
from training_platform.cohorts_service import to_hk
from training_platform.db import get_session
from training_platform.errors import INVALID, ServiceError
from training_platform.i18n import format_datetime, translated
from training_platform.models import AssessmentWindow, Cohort, Role
from training_platform.navigation import add_nav_item
from training_platform.security import role_required
from training_platform.templating import version_title

bp = Blueprint("cohorts", __name__, url_prefix="/centre")
add_nav_item(
    bp, "cohorts.index", N_("Cohorts"), (Role.CENTRE_ADMIN,), section=N_("Centre"), order=61
)

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


@bp.app_template_filter("hk_datetime")
def hk_datetime(value: datetime | None) -> str:
    """A stored UTC time shown in Hong Kong time."""
    return format_datetime(to_hk(value)) if value else ""


def _hk_input(value: datetime | None) -> str:
    return to_hk(value).strftime(DATETIME_INPUT) if value else ""


def parse_hk(text: str, field: str, *, required: bool = True) -> datetime | None:
    """A date and time typed in Hong Kong time ("2026-12-01T09:00"), as stored UTC."""
    text = (text or "").strip()
    if not text:
        if required:
            raise ServiceError(INVALID, N_("Enter a date and time."), field=field)
        return None
    for pattern in (DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return cohorts_service.from_hk(datetime.strptime(text[:19], pattern))
        except ValueError:
            continue
    raise ServiceError(INVALID, N_("Enter a date and time such as 2026-12-01 09:00."), field=field)


def _whole(text: str, field: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise ServiceError(INVALID, N_("Enter a whole number."), field=field)
    return int(text)


def _cohort_or_404(cohort_id: int) -> Cohort:
    cohort = cohorts_service.centre_cohort(get_session(), current_user.centre_id, cohort_id)
    if cohort is None:
        abort(404)
    return cohort


def _window_or_404(window_id: int) -> AssessmentWindow:
    window = cohorts_service.centre_window(get_session(), current_user.centre_id, window_id)
    if window is None:
        abort(404)
    return window


def _run(change, done: str, back: str) -> object:
    """Run one change, commit it and say so; flash the refusal otherwise; go back."""
    session = get_session()
    try:
        change(session)
    except ServiceError as exc:
        session.rollback()
        flash(translated(exc.message), "error")
    else:
        session.commit()
        flash(gettext(done), "success")
    return redirect(back)


@bp.get("/cohorts")
@role_required(Role.CENTRE_ADMIN)
def index():
    """The centre's cohorts with their number of people."""
    session = get_session()
    cohorts = cohorts_service.list_cohorts(session, current_user.centre_id)
    return render_template("centre/cohorts/index.html", cohorts=cohorts)


@bp.post("/cohorts")
@role_required(Role.CENTRE_ADMIN)
def create():
    """Add a cohort."""
    session = get_session()
    try:
        cohort = cohorts_service.create_cohort(
            session, current_user, request.form.get("name", "")[:300]
        )
    except ServiceError as exc:
        session.rollback()
        flash(translated(exc.message), "error")
        return redirect(url_for("cohorts.index"))
    session.commit()
    flash(gettext("The cohort %(name)s was created.", name=cohort.name), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id))


@bp.get("/cohorts/<int:cohort_id>")
@role_required(Role.CENTRE_ADMIN)
def show(cohort_id: int):
    """A cohort: its people, units and scenarios, and assessment windows."""
    session = get_session()
    cohort = _cohort_or_404(cohort_id)
    centre_id = current_user.centre_id
    return render_template(
        "centre/cohorts/show.html",
        cohort=cohort,
        members=cohorts_service.members(session, cohort),
        candidates=cohorts_service.candidates(session, cohort),
        offerings=cohorts_service.offerings(session, cohort),
        units=definitions_store.current_units(session, centre_id),
        scenarios=definitions_store.current_scenarios(session, centre_id),
        windows=cohorts_service.windows_of(session, cohort),
        assessment_scenarios=cohorts_service.assessment_scenarios(session, centre_id),
        titles={v.key: v.title for v in definitions_store.current_scenarios(session, centre_id)},
    )


@bp.post("/cohorts/<int:cohort_id>/rename")
@role_required(Role.CENTRE_ADMIN)
def rename(cohort_id: int):
    """Rename a cohort."""
    cohort = _cohort_or_404(cohort_id)
    name = request.form.get("name", "")[:300]
    return _run(
        lambda s: cohorts_service.rename_cohort(s, current_user, cohort, name),
        N_("The cohort is renamed."),
        url_for("cohorts.show", cohort_id=cohort_id),
    )


@bp.post("/cohorts/<int:cohort_id>/archive")
@role_required(Role.CENTRE_ADMIN)
def archive(cohort_id: int):
    """Archive a cohort, or restore it (`restore=1`)."""
    cohort = _cohort_or_404(cohort_id)
    restore = request.form.get("restore") == "1"
    return _run(
        lambda s: cohorts_service.set_archived(s, current_user, cohort, not restore),
        N_("The cohort is restored.") if restore else N_("The cohort is archived."),
        url_for("cohorts.show", cohort_id=cohort_id),
    )


@bp.post("/cohorts/<int:cohort_id>/members")
@role_required(Role.CENTRE_ADMIN)
def add_members(cohort_id: int):
    """Add the chosen trainees and assessors to a cohort."""
    cohort = _cohort_or_404(cohort_id)
    chosen = [v for v in request.form.getlist("user") if v.isdigit() and len(v) < 18]

    def change(s):
        if not chosen:
            raise ServiceError(INVALID, N_("Choose at least one person to add."))
        for value in chosen:
            user = users_service.centre_user(s, current_user.centre_id, int(value))
            if user is None:
                raise ServiceError(INVALID, N_("Choose a trainee or assessor of your centre."))
            cohorts_service.add_member(s, current_user, cohort, user)

    return _run(
        change, N_("The cohort's people are saved."), url_for("cohorts.show", cohort_id=cohort_id)
    )


@bp.post("/cohorts/<int:cohort_id>/members/<int:user_id>/remove")
@role_required(Role.CENTRE_ADMIN)
def remove_member(cohort_id: int, user_id: int):
    """Take someone out of a cohort."""
    cohort = _cohort_or_404(cohort_id)
    user = users_service.centre_user(get_session(), current_user.centre_id, user_id)
    if user is None:
        abort(404)
    return _run(
        lambda s: cohorts_service.remove_member(s, current_user, cohort, user),
        N_("The person was taken out of the cohort."),
        url_for("cohorts.show", cohort_id=cohort_id),
    )


@bp.post("/cohorts/<int:cohort_id>/offerings")
@role_required(Role.CENTRE_ADMIN)
def add_offering(cohort_id: int):
    """Add a unit or scenario to what the cohort takes (`item` is "unit:KEY" or "scenario:KEY")."""
    cohort = _cohort_or_404(cohort_id)
    kind, _, key = request.form.get("item", "")[:200].partition(":")
    return _run(
        lambda s: cohorts_service.add_offering(s, current_user, cohort, kind, key),
        N_("The cohort's units and scenarios are saved."),
        url_for("cohorts.show", cohort_id=cohort_id, _anchor="offerings"),
    )


@bp.post("/cohorts/<int:cohort_id>/offerings/<int:offering_id>/remove")
@role_required(Role.CENTRE_ADMIN)
def remove_offering(cohort_id: int, offering_id: int):
    """Stop offering a unit or scenario to the cohort."""
    cohort = _cohort_or_404(cohort_id)
    return _run(
        lambda s: cohorts_service.remove_offering(s, current_user, cohort, offering_id),
        N_("The cohort's units and scenarios are saved."),
        url_for("cohorts.show", cohort_id=cohort_id, _anchor="offerings"),
    )


@bp.post("/cohorts/<int:cohort_id>/windows")
@role_required(Role.CENTRE_ADMIN)
def create_window(cohort_id: int):
    """Open an assessment to the cohort between two Hong Kong times."""
    cohort = _cohort_or_404(cohort_id)
    form = request.form

    def change(s):
        cohorts_service.create_window(
            s,
            current_user,
            cohort,
            scenario_key=form.get("scenario", "")[:200],
            opens_at=parse_hk(form.get("opens_at", ""), "opens_at"),
            closes_at=parse_hk(form.get("closes_at", ""), "closes_at"),
            max_attempts=_whole(form.get("max_attempts", ""), "max_attempts"),
            time_limit_minutes=_whole(form.get("time_limit_minutes", ""), "time_limit_minutes"),
        )

    return _run(
        change,
        N_("The assessment window is saved."),
        url_for("cohorts.show", cohort_id=cohort_id, _anchor="windows"),
    )


@bp.get("/windows/<int:window_id>")
@role_required(Role.CENTRE_ADMIN)
def window(window_id: int):
    """A window: each trainee's close and attempts, and extensions."""
    session = get_session()
    found = _window_or_404(window_id)
    version = definitions_store.current_version(
        session, "scenario", found.scenario_key, current_user.centre_id
    )
    preparation = class_prep_service.preparation_of_window(session, found)
    return render_template(
        "centre/cohorts/window.html",
        window=found,
        title=version_title(version) if version else found.scenario_key,
        progress=cohorts_service.window_progress(session, found),
        trainees=cohorts_service.cohort_trainees(session, found.cohort),
        closes_input=_hk_input(found.closes_at),
        preparation=preparation,
        preparation_job=jobs.class_preparation_job(session, preparation) if preparation else None,
        variant_spares=class_prep_service.variant_spares(version, preparation)
        if version and preparation
        else [],
        sandbox_kind=sandboxes.store_kind(),
    )


@bp.post("/windows/<int:window_id>/prepare")
@role_required(Role.CENTRE_ADMIN)
def prepare(window_id: int):
    """Make the spare sandboxes of the window's class now (a background job)."""
    found = _window_or_404(window_id)
    back = url_for("cohorts.window", window_id=window_id, _anchor="sandboxes")
    session = get_session()
    try:
        preparation = class_prep_service.prepare_window(session, current_user, found)
        job = jobs.queue_class_preparation(session, preparation)
    except ServiceError as exc:
        session.rollback()
        flash(translated(exc.message), "error")
        return redirect(back)
    session.commit()
    jobs.dispatch(job)
    flash(gettext("The class's sandboxes are being prepared."), "success")
    return redirect(back)


@bp.post("/windows/<int:window_id>/extensions")
@role_required(Role.CENTRE_ADMIN)
def extend(window_id: int):
    """Give one trainee a later close or extra attempts, with a reason."""
    found = _window_or_404(window_id)
    form = request.form
    trainee_arg = form.get("trainee", "")

    def change(s):
        trainee = (
            users_service.centre_user(s, current_user.centre_id, int(trainee_arg))
            if trainee_arg.isdigit() and len(trainee_arg) < 18
            else None
        )
        if trainee is None:
            raise ServiceError(INVALID, N_("Choose a trainee of this cohort."))
        cohorts_service.extend_window(
            s,
            current_user,
            found,
            trainee,
            closes_at=parse_hk(form.get("closes_at", ""), "closes_at", required=False),
            extra_attempts=_whole(form.get("extra_attempts", ""), "extra_attempts") or 0,
            reason=form.get("reason", "")[:3000],
        )

    return _run(
        change, N_("The extension is saved."), url_for("cohorts.window", window_id=window_id)
    )


@bp.post("/windows/<int:window_id>/close")
@role_required(Role.CENTRE_ADMIN)
def close_window(window_id: int):
    """Close a window now."""
    found = _window_or_404(window_id)
    return _run(
        lambda s: cohorts_service.close_window_now(s, current_user, found),
        N_("The window is closed."),
        url_for("cohorts.window", window_id=window_id),
    )


@bp.post("/windows/<int:window_id>/delete")
@role_required(Role.CENTRE_ADMIN)
def delete_window(window_id: int):
    """Remove a window in which no attempt was started."""
    found = _window_or_404(window_id)
    cohort_id = found.cohort_id
    session = get_session()
    try:
        cohorts_service.delete_window(session, current_user, found)
    except ServiceError as exc:
        session.rollback()
        flash(translated(exc.message), "error")
        return redirect(url_for("cohorts.window", window_id=window_id))
    session.commit()
    flash(gettext("The window was removed."), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort_id, _anchor="windows"))

"""Assessors' pages: the queue of graded attempts, the evidence, overrides, rubric and decision;
amendments, allocation, internal verification (moderation), appeals and a trainee's outcomes.

Centre admins may open the same pages read-only, allocate attempts and change the assessing
settings. Every other POST is for assessors of the trainee's centre; none of them opens the
sandbox for writing or changes the stored grading result. The forms carry the CSRF token by hand
(their fields depend on the scenario); CSRFProtect checks it before any of these views runs, and
the services validate every field. E-mail goes out after the change is committed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from sandbox_crm.i18n import N_
from training_platform import (
    appeal_service,
    assessing_settings,
    i18n,
    jobs,
    moderation_service,
    notifications,
    outcomes_service,
    regrade_service,
    results_service,
    sandboxes,
)
from training_platform import review_service as service
from training_platform.attempts_service import variant_label
from training_platform.db import get_session
from training_platform.errors import (
    CONFLICT,
    NOT_FOUND,
    ServiceError,
    flash_service_error,
    form_errors,
)
from training_platform.models import (
    Attempt,
    Cohort,
    Decision,
    DefinitionKind,
    DefinitionVersion,
    ModerationStatus,
    OverrideTarget,
    Role,
    User,
)
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.presenters.evidence import RECORD_PAGES, evidence_page
from training_platform.security import role_required
from training_platform.templating import version_title

READERS = (Role.ASSESSOR, Role.CENTRE_ADMIN)

bp = Blueprint("review", __name__, url_prefix="/review")
for _endpoint, _label, _roles, _order in (
    ("review.queue", N_("Review queue"), READERS, 30),
    ("review.moderation", N_("Moderation"), READERS, 31),
    ("review.appeals", N_("Appeals"), READERS, 32),
    ("review.settings", N_("Assessing settings"), (Role.CENTRE_ADMIN,), 33),
):
    add_nav_item(bp, _endpoint, _label, roles=_roles, section=N_("Assessment"), order=_order)

PER_PAGE = 25
LIST_PREVIEW = 12
TABLE_PREVIEW = 10


def _record_link(table: str, record_id: int, attempt_id: int) -> str | None:
    page = RECORD_PAGES.get(table)
    if page is None or page[0] not in current_app.view_functions:
        return None
    return url_for(page[0], attempt_id=attempt_id, **{page[1]: record_id})


def _assessing_context(attempt: Attempt) -> dict[str, Any]:
    """Decision versions, allocation, moderation and appeals of the attempt, and what the
    current user may do about each."""
    session = get_session()
    moderations = moderation_service.moderations_of(session, attempt)
    appeals = appeal_service.appeals_of(session, attempt)
    assessment = service.is_assessment(attempt)
    may_allocate = (
        assessment
        and attempt.status.value == "graded"
        and assessing_settings.may_allocate(session, current_user)
    )
    return {
        "versions": service.decision_versions(session, attempt),
        "current_version": service.current_version_number(session, attempt),
        "can_amend": service.can_amend(session, current_user, attempt),
        "assessment": assessment,
        "allocation": service.allocations_of(session, [attempt.id]).get(attempt.id),
        "allocation_choices": (
            assessing_settings.assessors_of(session, current_user.centre_id) if may_allocate else []
        ),
        "moderations": moderations,
        "moderatable": [m for m in moderations if moderation_service.can_moderate(current_user, m)],
        "appeals": appeals,
        "reviewable_appeals": [a for a in appeals if appeal_service.can_review(current_user, a)],
    }


def _evidence_context(attempt: Attempt, **extra: Any) -> dict[str, Any]:
    """The evidence page's view model, with the links and forms of this request."""
    context = evidence_page(get_session(), sandboxes.get_store(), attempt)
    if context is None:
        abort(404)
    return {
        **context,
        **_assessing_context(attempt),
        **_regrade_context(attempt),
        "record_link": lambda table, rid: _record_link(table, rid, attempt.id),
        "can_change": service.can_change(current_user, attempt),
        "crm_url": (
            url_for("crm.home", attempt_id=attempt.id)
            if "crm.home" in current_app.view_functions
            else None
        ),
        "errors": {},
        "values": {},
        **extra,
    }


def _regrade_context(attempt: Attempt) -> dict[str, Any]:
    """The attempt's grading history, a regrade waiting, and a decision a regrade flagged."""
    session = get_session()
    return {
        "grade_history": regrade_service.grade_history(session, attempt),
        "pending_regrade": regrade_service.pending_regrade(session, attempt),
        "regrade_flag": regrade_service.decision_flag(session, attempt),
    }


def _attempt_or_404(attempt_id: int) -> Attempt:
    try:
        return service.reviewable_attempt(get_session(), current_user, attempt_id)
    except ServiceError:
        abort(404)


def _fields_named(prefix: str) -> dict[str, str]:
    """The posted fields named "<prefix><id>", by id (one per rubric criterion)."""
    return {
        key.removeprefix(prefix): value
        for key, value in request.form.items()
        if key.startswith(prefix)
    }


def _refused(attempt: Attempt, key: str, error: ServiceError, values: dict) -> Any:
    """Roll back, and show the evidence page again with the problems beside the form (400).

    A form based on a decision that changed meanwhile gets 409, the page showing the current
    decision; other refusals keep their status (403 for a role that may not, else 400).
    """
    get_session().rollback()
    if error.code == NOT_FOUND:
        abort(404)
    context = _evidence_context(attempt, errors={key: form_errors(error)}, values={key: values})
    if error.field == "version":
        context["stale"] = True
    status = 409 if error.code == CONFLICT and error.field == "version" else error.http_status
    html = render_template("review/attempt.html", language=i18n.current_language(), **context)
    return html, status


# --- views -------------------------------------------------------------------------------------


QUEUE_STATE_LABELS = [
    ("awaiting", N_("Awaiting decision")),
    ("decided", N_("Decided")),
    ("amended", N_("Amended")),
    ("moderation", N_("In moderation")),
    ("appealed", N_("Appealed")),
    ("all", N_("All")),
]


def _queue_choices(session, centre_id: int) -> dict[str, Any]:
    """The options of the queue's filter form: cohorts, units, scenarios and assessors."""
    versions = session.scalars(
        select(DefinitionVersion)
        .where(
            DefinitionVersion.kind == DefinitionKind.SCENARIO,
            (DefinitionVersion.centre_id.is_(None)) | (DefinitionVersion.centre_id == centre_id),
        )
        .order_by(DefinitionVersion.key, DefinitionVersion.version)
    ).all()
    scenarios: dict[str, str] = {}
    for version in versions:
        scenarios[version.key] = version_title(version)
    return {
        "cohorts": session.scalars(
            select(Cohort).where(Cohort.centre_id == centre_id).order_by(Cohort.name)
        ).all(),
        "units": sorted({v.unit_code for v in versions}),
        "scenarios": sorted(scenarios.items()),
        "assessors": assessing_settings.assessors_of(session, centre_id),
    }


@bp.get("")
@role_required(*READERS)
def queue():
    """Graded attempts of the centre's trainees, filtered, searched, sorted and paginated."""
    filters, problems = service.parse_queue_filters(request.args, current_user.id)
    page_number = request.args.get("page", 1, type=int) or 1
    session = get_session()
    assessment_ids = service.assessment_scenario_ids(session, current_user.centre_id)
    page = paginate(
        session,
        service.queue_query(current_user.centre_id, filters=filters, assessment_ids=assessment_ids),
        page_number,
        PER_PAGE,
    )
    ids = [a.id for a in page.items]
    grades = results_service.latest_grade_records(session, ids)
    return render_template(
        "review/queue.html",
        page=page,
        grades=grades,
        filters=filters,
        state=filters.state,
        sort=filters.sort,
        direction=filters.direction,
        problems=[i18n.translated(p) for p in problems],
        states=[(value, gettext(label)) for value, label in QUEUE_STATE_LABELS],
        allocations=service.allocations_of(session, ids),
        flagged=regrade_service.flagged_attempt_ids(session, grades.values()),
        assessment_ids=assessment_ids,
        **_queue_choices(session, current_user.centre_id),
    )


@bp.get("/attempts/<int:attempt_id>")
@role_required(*READERS)
def attempt(attempt_id: int):
    """The evidence of one attempt, with the assessor's forms when it is still undecided."""
    found = _attempt_or_404(attempt_id)
    return render_template(
        "review/attempt.html", language=i18n.current_language(), **_evidence_context(found)
    )


@bp.get("/attempts/<int:attempt_id>/regrade-preview")
@role_required(*READERS)
def regrade_preview(attempt_id: int):
    """What grading the attempt again under the current graders would change (stores nothing)."""
    found = _attempt_or_404(attempt_id)
    preview = regrade_service.preview_regrade(get_session(), found)
    return render_template(
        "review/regrade_preview.html",
        attempt=found,
        preview=preview,
        variant=variant_label(found),
        pending=regrade_service.pending_regrade(get_session(), found),
    )


@bp.post("/attempts/<int:attempt_id>/regrade")
@role_required(*READERS)
def regrade(attempt_id: int):
    """Queue a regrade of one attempt; a worker stores the new result beside the old one."""
    session = get_session()
    found = session.get(Attempt, attempt_id)
    if found is None or found.trainee.centre_id != current_user.centre_id:
        abort(404)
    try:
        job = jobs.queue_regrade(session, current_user, found)
    except ServiceError as error:
        session.rollback()
        if error.code == NOT_FOUND:
            abort(404)
        flash_service_error(error)
        if found.status in service.REVIEWABLE:
            return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="grading"))
        return redirect(url_for("review.queue"))
    session.commit()
    jobs.dispatch(job)
    flash(
        gettext("The regrade is queued; its result will appear beside the earlier one."),
        "success",
    )
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="grading"))


def _regrade_version_or_404(version_id: int) -> DefinitionVersion:
    try:
        return regrade_service.regrade_version_or_404(get_session(), current_user, version_id)
    except ServiceError:
        abort(404)


@bp.get("/versions/<int:version_id>/regrade")
@role_required(*READERS)
def regrade_version(version_id: int):
    """The graded attempts of a scenario version that a regrade would grade again, to confirm."""
    version = _regrade_version_or_404(version_id)
    ready, waiting = regrade_service.regradable_attempts(get_session(), current_user, version)
    grades = results_service.latest_grade_records(get_session(), [a.id for a in ready + waiting])
    return render_template(
        "review/regrade_version.html",
        version=version,
        ready=ready,
        waiting=waiting,
        grades=grades,
    )


@bp.post("/versions/<int:version_id>/regrade")
@role_required(*READERS)
def regrade_version_apply(version_id: int):
    """Queue a regrade of every graded attempt of a scenario version, once confirmed."""
    version = _regrade_version_or_404(version_id)
    session = get_session()
    if request.form.get("confirm") != "yes":
        flash(
            gettext("Tick the box to confirm that every attempt listed is to be regraded."),
            "error",
        )
        return redirect(url_for("review.regrade_version", version_id=version.id))
    ready, _waiting = regrade_service.regradable_attempts(session, current_user, version)
    queued = []
    for found in ready:
        try:
            queued.append(jobs.queue_regrade(session, current_user, found))
        except ServiceError:
            continue  # queued meanwhile, or tried and failed: the Jobs page shows it
    session.commit()
    jobs.dispatch(queued)
    flash(
        ngettext(
            "%(num)d regrade is queued.",
            "%(num)d regrades are queued.",
            len(queued),
        ),
        "success" if queued else "info",
    )
    return redirect(url_for("review.regrade_version", version_id=version.id))


@bp.post("/attempts/<int:attempt_id>/overrides")
@role_required(Role.ASSESSOR)
def override(attempt_id: int):
    """Override one automatic status, keeping it beside the new one with the reason."""
    found = _attempt_or_404(attempt_id)
    target = request.form.get("target", "")
    values = {
        "target": target,
        "status": request.form.get("status", ""),
        "reason": request.form.get("reason", ""),
    }
    wanted = service.OverrideRequest(target, values["status"], values["reason"])
    try:
        service.record_overrides(get_session(), current_user, found, [wanted])
    except ServiceError as error:
        # The page has one form per target, plus one to choose a rule: answer beside the one used.
        key = request.form.get("form_key", "")
        if not key.startswith("override:") or len(key) > 200:
            key = f"override:{target}"
        return _refused(found, key, error, values)
    get_session().commit()
    flash(
        gettext(
            "Override recorded: %(target)s is now “%(status)s”.",
            target=target.replace(":", " "),
            status=wanted.status,
        ),
        "success",
    )
    return redirect(
        url_for("review.attempt", attempt_id=found.id, _anchor=_anchor(wanted.kind, target))
    )


def _anchor(kind: str, target: str) -> str:
    return {
        OverrideTarget.CHECK.value: "check-",
        OverrideTarget.ITEM.value: "item-",
        OverrideTarget.PDPO.value: "rule-",
        OverrideTarget.REQUIREMENT.value: "pr-",
    }.get(kind, "") + target.partition(":")[2]


@bp.post("/attempts/<int:attempt_id>/rubric/<item_id>")
@role_required(Role.ASSESSOR)
def score(attempt_id: int, item_id: str):
    """Score a written answer against its rubric (points per criterion and comments)."""
    found = _attempt_or_404(attempt_id)
    points = _fields_named("points-")
    comments = _fields_named("comment-")
    try:
        service.score_rubric(get_session(), current_user, found, item_id, points, comments)
    except ServiceError as error:
        values = {"points": points, "comments": comments}
        return _refused(found, f"rubric:{item_id}", error, values)
    get_session().commit()
    flash(gettext("Rubric scores saved for “%(item)s”.", item=item_id), "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor=f"item-{item_id}"))


@bp.post("/attempts/<int:attempt_id>/decision")
@role_required(Role.ASSESSOR)
def decide(attempt_id: int):
    """Record the unit decision; the attempt is then decided and its review closed."""
    found = _attempt_or_404(attempt_id)
    values = {
        "decision": request.form.get("decision", ""),
        "comment": request.form.get("comment", ""),
    }
    try:
        review = service.record_decision(
            get_session(),
            current_user,
            found,
            values["decision"],
            values["comment"],
            based_on=request.form.get("version"),
        )
    except ServiceError as error:
        return _refused(found, "decision", error, values)
    get_session().commit()
    notifications.notify_decision(
        found.trainee, service.decision_versions(get_session(), found)[-1]
    )
    if review.decision == Decision.COMPETENT:
        flash(gettext("Decision recorded: competent."), "success")
    else:
        flash(gettext("Decision recorded: not yet competent."), "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="decision"))


@bp.post("/attempts/<int:attempt_id>/amendments")
@role_required(Role.ASSESSOR)
def amend(attempt_id: int):
    """Amend the recorded decision with a reason; the earlier version is kept."""
    found = _attempt_or_404(attempt_id)
    values = {
        "decision": request.form.get("decision", ""),
        "comment": request.form.get("comment", ""),
        "reason": request.form.get("reason", ""),
    }
    try:
        version = service.amend_decision(
            get_session(),
            current_user,
            found,
            values["decision"],
            values["comment"],
            values["reason"],
            based_on=request.form.get("version"),
        )
    except ServiceError as error:
        return _refused(found, "amend", error, values)
    get_session().commit()
    notifications.notify_decision(found.trainee, version)
    flash(gettext("Decision amended; the earlier version is kept."), "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="decision"))


@bp.post("/attempts/<int:attempt_id>/allocation")
@role_required(*READERS)
def allocate(attempt_id: int):
    """Allocate an assessment attempt to an assessor (centre admins and lead assessors)."""
    found = _attempt_or_404(attempt_id)
    values = {"assessor": request.form.get("assessor", "")}
    try:
        allocation = service.allocate_attempt(
            get_session(), current_user, found, values["assessor"]
        )
    except ServiceError as error:
        return _refused(found, "allocation", error, values)
    get_session().commit()
    notifications.notify_allocation(allocation)
    flash(
        gettext("Allocated to %(name)s.", name=allocation.assessor.display_name),
        "success",
    )
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="allocation"))


# --- moderation --------------------------------------------------------------------------------


@bp.get("/moderation")
@role_required(*READERS)
def moderation():
    """Decisions waiting for internal verification, and agreement rates per assessor and unit."""
    session = get_session()
    pending = moderation_service.pending_moderations(session, current_user.centre_id)
    per_assessor, per_unit = moderation_service.agreement_rates(session, current_user.centre_id)
    return render_template(
        "review/moderation.html",
        pending=pending,
        mine=[m for m in pending if moderation_service.can_moderate(current_user, m)],
        per_assessor=per_assessor,
        per_unit=per_unit,
        settings=assessing_settings.settings_for(session, current_user.centre_id),
    )


@bp.post("/moderation/<int:moderation_id>")
@role_required(Role.ASSESSOR)
def moderate(moderation_id: int):
    """Agree or disagree with a sampled decision; a disagreement is e-mailed on."""
    session = get_session()
    try:
        found = moderation_service.moderation_for(session, current_user, moderation_id)
    except ServiceError:
        abort(404)
    attempt = _attempt_or_404(found.attempt_id)
    values = {
        "outcome": request.form.get("outcome", ""),
        "comment": request.form.get("comment", ""),
        "referred_to": request.form.get("referred_to", "assessor"),
    }
    try:
        moderation_service.record_moderation(
            session,
            current_user,
            found,
            values["outcome"],
            values["comment"],
            values["referred_to"],
        )
    except ServiceError as error:
        return _refused(attempt, f"moderation:{moderation_id}", error, values)
    session.commit()
    if found.status == ModerationStatus.DISAGREED:
        if found.referred_to == "lead":
            recipients = assessing_settings.lead_assessors(session, current_user.centre_id)
            recipients = [u for u in recipients if u.id != current_user.id] or [found.decided_by]
        else:
            recipients = [found.decided_by]
        notifications.notify_disagreement(found, recipients)
        flash(gettext("Disagreement recorded and sent on."), "success")
    else:
        flash(gettext("Agreement recorded."), "success")
    return redirect(url_for("review.attempt", attempt_id=attempt.id, _anchor="moderation"))


# --- appeals -----------------------------------------------------------------------------------


@bp.get("/appeals")
@role_required(*READERS)
def appeals():
    """The centre's open appeals, oldest first."""
    session = get_session()
    found = appeal_service.open_appeals(session, current_user.centre_id)
    return render_template(
        "review/appeals.html",
        appeals=found,
        reviewable={a.id for a in found if appeal_service.can_review(current_user, a)},
    )


@bp.post("/appeals/<int:appeal_id>")
@role_required(Role.ASSESSOR)
def settle_appeal(appeal_id: int):
    """Uphold or change an appealed decision; the trainee is told the outcome."""
    session = get_session()
    try:
        found = appeal_service.appeal_for(session, current_user, appeal_id)
    except ServiceError:
        abort(404)
    attempt = _attempt_or_404(found.attempt_id)
    values = {
        "outcome": request.form.get("outcome", ""),
        "comment": request.form.get("comment", ""),
        "decision": request.form.get("decision", ""),
    }
    try:
        appeal_service.decide_appeal(
            session,
            current_user,
            found,
            values["outcome"],
            values["comment"],
            decision=values["decision"],
            based_on=request.form.get("version"),
        )
    except ServiceError as error:
        return _refused(attempt, f"appeal:{appeal_id}", error, values)
    session.commit()
    if found.status.value == "changed":
        notifications.notify_decision(
            found.trainee, service.decision_versions(session, attempt)[-1]
        )
    notifications.notify_appeal_outcome(found)
    flash(gettext("Appeal outcome recorded; the trainee has been told."), "success")
    return redirect(url_for("review.attempt", attempt_id=attempt.id, _anchor="appeals"))


# --- settings and trainees ---------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@role_required(*READERS)
def settings():
    """The centre's moderation sample, appeal period and lead assessors (admins change them)."""
    session = get_session()
    errors: list[str] = []
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        if current_user.role != Role.CENTRE_ADMIN:
            abort(403)
        values = {
            "moderation_percent": request.form.get("moderation_percent", ""),
            "appeal_days": request.form.get("appeal_days", ""),
            "leads": request.form.getlist("leads"),
        }
        try:
            assessing_settings.save_settings(
                session,
                current_user,
                moderation_percent=values["moderation_percent"],
                appeal_days=values["appeal_days"],
                lead_ids=values["leads"],
            )
        except ServiceError as error:
            session.rollback()
            errors = form_errors(error)
            status = 400
        else:
            session.commit()
            flash(gettext("Assessing settings saved."), "success")
            return redirect(url_for("review.settings"))
    current = assessing_settings.settings_for(session, current_user.centre_id)
    leads = {u.id for u in assessing_settings.lead_assessors(session, current_user.centre_id)}
    html = render_template(
        "review/settings.html",
        current=current,
        leads=leads,
        assessors=assessing_settings.assessors_of(session, current_user.centre_id),
        errors=errors,
        values=values,
        editable=current_user.role == Role.CENTRE_ADMIN,
    )
    return html, status


@bp.get("/trainees/<int:trainee_id>")
@role_required(*READERS)
def trainee(trainee_id: int):
    """One trainee's unit outcomes and graded attempts, for assessors and admins."""
    session = get_session()
    person = session.get(User, trainee_id)
    if person is None or person.role != Role.TRAINEE or person.centre_id != current_user.centre_id:
        abort(404)
    attempts = session.scalars(
        select(Attempt)
        .where(Attempt.trainee_id == person.id, Attempt.status.in_(service.REVIEWABLE))
        .order_by(Attempt.submitted_at.desc(), Attempt.id.desc())
    ).all()
    return render_template(
        "review/trainee.html",
        person=person,
        outcomes=outcomes_service.unit_outcomes(session, person),
        attempts=attempts,
    )

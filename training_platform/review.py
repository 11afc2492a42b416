"""Assessors' pages: the queue of graded attempts, the evidence, overrides, rubric and decision.

Centre admins may open the same pages read-only. Every POST is for assessors of the trainee's
centre; none of them opens the sandbox for writing or changes the stored grading result. The
forms carry the CSRF token by hand (their fields depend on the scenario); CSRFProtect checks it
before any of these views runs, and the review service validates every field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from sandbox_crm.i18n import N_
from training_platform import i18n, regrade_service, results_service, sandboxes
from training_platform import review_service as service
from training_platform.attempts_service import variant_label
from training_platform.db import get_session
from training_platform.errors import NOT_FOUND, ServiceError, form_errors
from training_platform.models import Attempt, Decision, OverrideTarget, Role
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.presenters.evidence import RECORD_PAGES, evidence_page
from training_platform.security import role_required

bp = Blueprint("review", __name__, url_prefix="/review")
add_nav_item(
    bp,
    "review.queue",
    N_("Review queue"),
    roles=(Role.ASSESSOR, Role.CENTRE_ADMIN),
    section=N_("Assessment"),
    order=30,
)

READERS = (Role.ASSESSOR, Role.CENTRE_ADMIN)
PER_PAGE = 25
LIST_PREVIEW = 12
TABLE_PREVIEW = 10


def _record_link(table: str, record_id: int, attempt_id: int) -> str | None:
    page = RECORD_PAGES.get(table)
    if page is None or page[0] not in current_app.view_functions:
        return None
    return url_for(page[0], attempt_id=attempt_id, **{page[1]: record_id})


def _evidence_context(attempt: Attempt, **extra: Any) -> dict[str, Any]:
    """The evidence page's view model, with the links and forms of this request."""
    context = evidence_page(get_session(), sandboxes.get_store(), attempt)
    if context is None:
        abort(404)
    return {
        **context,
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
    """Roll back, and show the evidence page again with the problems beside the form (400)."""
    get_session().rollback()
    if error.code == NOT_FOUND:
        abort(404)
    context = _evidence_context(attempt, errors={key: form_errors(error)}, values={key: values})
    return render_template("review/attempt.html", language=i18n.current_language(), **context), 400


# --- views -------------------------------------------------------------------------------------


@bp.get("")
@role_required(*READERS)
def queue():
    """Graded attempts of the centre's trainees: awaiting a decision, decided, or all."""
    state = request.args.get("state", "awaiting")
    state = state if state in service.QUEUE_STATES else "awaiting"
    sort = request.args.get("sort", "submitted")
    sort = sort if sort in service.QUEUE_SORTS else "submitted"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    page_number = request.args.get("page", 1, type=int) or 1
    session = get_session()
    page = paginate(
        session,
        service.queue_query(current_user.centre_id, state=state, sort=sort, direction=direction),
        page_number,
        PER_PAGE,
    )
    grades = results_service.latest_grade_records(session, (a.id for a in page.items))
    return render_template(
        "review/queue.html",
        page=page,
        grades=grades,
        state=state,
        sort=sort,
        direction=direction,
        states=[("awaiting", "Awaiting decision"), ("decided", "Decided"), ("all", "All")],
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
    )


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
            get_session(), current_user, found, values["decision"], values["comment"]
        )
    except ServiceError as error:
        return _refused(found, "decision", error, values)
    get_session().commit()
    if review.decision == Decision.COMPETENT:
        flash(gettext("Decision recorded: competent."), "success")
    else:
        flash(gettext("Decision recorded: not yet competent."), "success")
    return redirect(url_for("review.attempt", attempt_id=found.id, _anchor="decision"))

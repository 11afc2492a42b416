"""A trainee's attempts: start one, read the brief, answer, hand in, and read the feedback.

The forms carry the CSRF token by hand (their fields depend on the scenario); CSRFProtect checks
it before any of these views runs, and the attempts service validates every field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from graders.definitions import MultipleChoiceItem, Scenario
from sandbox_crm.i18n import N_
from training_platform import appeal_service, crm_mount, definitions_store, i18n, jobs
from training_platform import attempts_service as service
from training_platform.cohorts_service import attempt_due_at, time_is_up
from training_platform.db import get_session
from training_platform.definitions_store import scenario_of
from training_platform.errors import ServiceError, flash_service_error
from training_platform.models import Attempt, AttemptStatus, JobStatus, Role
from training_platform.navigation import add_nav_item
from training_platform.presenters.result import present_result
from training_platform.regrade_service import regrade_note
from training_platform.results_service import latest_grade_records, result_for_trainee
from training_platform.security import role_required

bp = Blueprint("attempts", __name__)
add_nav_item(
    bp, "attempts.index", N_("My attempts"), roles=(Role.TRAINEE,), section=N_("Training"), order=20
)

# The CRM is mounted under /attempts/<id>/crm, so it is wired up together with this blueprint.
bp.record_once(lambda state: crm_mount.init_app(state.app))

ANY_ROLE = tuple(Role)
ANSWER_PREFIX = "answer-"
DELIVERABLE_PREFIX = "deliverable-"
GRADING_REFRESH_SECONDS = 3

# Briefs and questions are Markdown written by centres; raw HTML in them is shown as text.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@bp.app_template_filter("safe_markdown")
def safe_markdown(text: str | None) -> Markup:
    """Render Markdown to HTML with raw HTML disabled (it is escaped, never passed through)."""
    return Markup(_markdown.render(text or ""))  # noqa: S704 - markdown-it escapes raw HTML


@bp.app_template_filter("safe_markdown_inline")
def safe_markdown_inline(text: str | None) -> Markup:
    """Render one line of Markdown (an option or a prompt) without a wrapping paragraph."""
    return Markup(_markdown.renderInline(text or ""))  # noqa: S704 - raw HTML is escaped


def _attempt_or_404(attempt_id: int) -> Attempt:
    """The attempt if the signed-in user may see it; 404 otherwise, so ids reveal nothing."""
    attempt = service.visible_attempt(get_session(), current_user, attempt_id)
    if attempt is None:
        abort(404)
    return attempt


def _own_attempt_or_error(attempt_id: int) -> Attempt:
    """The attempt if it is the signed-in trainee's own; 404 if unseen, 403 if only viewable."""
    attempt = _attempt_or_404(attempt_id)
    if not service.is_owner(current_user, attempt):
        abort(403)
    return attempt


def answers_from_form(scenario: Scenario, form: MultiDict[str, str]) -> dict[str, Any]:
    """Read `answer-<item id>` fields: lists for multiple choice, text for everything else."""
    answers: dict[str, Any] = {}
    for key in form:
        if not key.startswith(ANSWER_PREFIX):
            continue
        item_id = key[len(ANSWER_PREFIX) :]
        item = scenario.item(item_id)
        answers[item_id] = (
            form.getlist(key) if isinstance(item, MultipleChoiceItem) else form.get(key, "")
        )
    return answers


def deliverables_from_form(form: MultiDict[str, str]) -> dict[str, str]:
    """Read `deliverable-<deliverable id>` fields."""
    return {
        key[len(DELIVERABLE_PREFIX) :]: value
        for key, value in form.items()
        if key.startswith(DELIVERABLE_PREFIX)
    }


@bp.get("/attempts")
@role_required(Role.TRAINEE)
def index():
    """The signed-in trainee's attempts, newest first."""
    session = get_session()
    attempts = service.attempts_for(session, current_user)
    grades = latest_grade_records(session, (a.id for a in attempts))
    variants = {a.id: service.variant_label(a) for a in attempts}
    return render_template(
        "attempts/index.html", attempts=attempts, grades=grades, variants=variants
    )


@bp.post("/scenarios/<int:version_id>/start")
@role_required(Role.TRAINEE)
def start(version_id: int):
    """Start an attempt at a scenario version in a new sandbox."""
    session = get_session()
    version = definitions_store.get_version(session, version_id)
    if version is None:
        abort(404)
    try:
        attempt = service.start_attempt(session, current_user, version)
    except ServiceError as exc:
        session.rollback()
        flash_service_error(exc)
        return redirect(url_for("catalogue.unit", code=version.unit_code))
    session.commit()
    flash(gettext("Your attempt has started, with its own sandbox CRM."), "success")
    return redirect(url_for("attempts.show", attempt_id=attempt.id))


@bp.get("/attempts/<int:attempt_id>")
@role_required(*ANY_ROLE)
def show(attempt_id: int):
    """The attempt page: brief, the CRM button, deliverables, questions and the submit form."""
    return _attempt_page(_attempt_or_404(attempt_id))


def _attempt_page(
    attempt: Attempt, answers: dict[str, Any] | None = None, answers_error: str | None = None
) -> tuple[str, int]:
    """Render the attempt page; refused answers are shown again as typed, with the reason."""
    can_work = service.can_work_on(current_user, attempt)
    language = i18n.current_language()
    page = render_template(
        "attempts/show.html",
        attempt=attempt,
        scenario=scenario_of(attempt),
        language=language,
        workspace=service.attempt_workspace(attempt, language=language),
        can_work=can_work,
        time_up=service.is_owner(current_user, attempt)
        and attempt.status == AttemptStatus.IN_PROGRESS
        and time_is_up(attempt),
        due_at=attempt_due_at(attempt),
        is_owner=service.is_owner(current_user, attempt),
        answers=answers if answers is not None and can_work else attempt.answers or {},
        answers_error=answers_error,
    )
    return page, 200 if answers_error is None else 400


@bp.post("/attempts/<int:attempt_id>/answers")
@role_required(*ANY_ROLE)
def save_answers(attempt_id: int):
    """Save the answers to the questions (all of them are checked first)."""
    attempt = _own_attempt_or_error(attempt_id)
    session = get_session()
    answers = answers_from_form(scenario_of(attempt), request.form)
    try:
        service.save_answers(session, attempt, answers)
    except ServiceError as exc:
        session.rollback()
        message = gettext("Your answers were not saved. %(reason)s", reason=gettext(exc.message))
        return _attempt_page(attempt, answers, message)
    session.commit()
    flash(gettext("Your answers are saved."), "success")
    return redirect(url_for("attempts.show", attempt_id=attempt_id, _anchor="questions"))


@bp.post("/attempts/<int:attempt_id>/submit")
@role_required(*ANY_ROLE)
def submit(attempt_id: int):
    """Hand in the attempt with the chosen deliverables and queue its grading.

    Submitting an attempt that is already handed in (a double click, a retry after a lost
    answer) queues nothing more and answers as the first submit did.
    """
    attempt = _own_attempt_or_error(attempt_id)
    session = get_session()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return _submitted(attempt)
    if request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm that your work is finished."), "error")
        return redirect(url_for("attempts.show", attempt_id=attempt_id, _anchor="submit"))
    try:
        service.submit_attempt(session, attempt, deliverables_from_form(request.form))
    except ServiceError as exc:
        session.rollback()
        session.refresh(attempt)
        if attempt.status != AttemptStatus.IN_PROGRESS:
            return _submitted(attempt)  # another request submitted it meanwhile
        flash_service_error(exc, gettext("Your attempt was not submitted.") + " ")
        return redirect(url_for("attempts.show", attempt_id=attempt_id, _anchor="submit"))
    job = jobs.queue_grading(session, attempt)
    session.commit()  # the hand-in and its grading job stand or fall together
    jobs.dispatch(job)
    return _submitted(attempt)


def _submitted(attempt: Attempt):
    """The answer to a submit: to the result page, which shows the grading's progress.

    An attempt handed in before grading was a job (or whose job row is missing) gets its job
    here, so that no attempt stays ungraded.
    """
    session = get_session()
    if attempt.status == AttemptStatus.SUBMITTED and jobs.grading_job(session, attempt) is None:
        job = jobs.queue_grading(session, attempt)
        session.commit()
        jobs.dispatch(job)
    flash(gettext("Your attempt is submitted."), "success")
    return redirect(url_for("attempts.result", attempt_id=attempt.id))


@bp.get("/attempts/<int:attempt_id>/result")
@role_required(*ANY_ROLE)
def result(attempt_id: int):
    """The feedback per PR, PDPO breaches, the recommendation and the assessor's decision."""
    attempt = _attempt_or_404(attempt_id)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return redirect(url_for("attempts.show", attempt_id=attempt_id))
    session = get_session()
    result = result_for_trainee(session, attempt, language=i18n.current_language())
    job = jobs.grading_job(session, attempt) if result is None else None
    return render_template(
        "attempts/result.html",
        attempt=attempt,
        scenario=scenario_of(attempt),
        language=i18n.current_language(),
        feedback=present_result(result) if result is not None else None,
        is_owner=service.is_owner(current_user, attempt),
        can_retry=service.can_retry(current_user, attempt),
        variant=service.variant_label(attempt),
        appeal=appeal_service.appeal_panel(get_session(), attempt),
        grading=job,
        regraded=regrade_note(session, attempt) if result is not None else None,
        # The page reloads itself (no script needed) while grading is still to come.
        refresh_seconds=GRADING_REFRESH_SECONDS if result is None and _pending(job) else None,
    )


def _pending(job: Any) -> bool:
    return job is None or job.status in (JobStatus.QUEUED, JobStatus.RUNNING)


@bp.post("/attempts/<int:attempt_id>/retry")
@role_required(*ANY_ROLE)
def retry(attempt_id: int):
    """Start a fresh attempt at the same practice scenario."""
    attempt = _own_attempt_or_error(attempt_id)
    session = get_session()
    try:
        new_attempt = service.retry_attempt(session, current_user, attempt)
    except ServiceError as exc:
        session.rollback()
        flash_service_error(exc)
        return redirect(url_for("attempts.result", attempt_id=attempt_id))
    session.commit()
    flash(gettext("A new attempt has started, with a fresh sandbox CRM."), "success")
    return redirect(url_for("attempts.show", attempt_id=new_attempt.id))

"""The jobs page: the centre's background work (grading, generating templates) and retrying it.

Assessors and centre admins see their centre's jobs, failed ones first, each with its status,
tries and last error; a failed one can be queued again.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from sandbox_crm.i18n import N_
from training_platform import jobs
from training_platform.db import get_session
from training_platform.errors import ServiceError, flash_service_error
from training_platform.models import ClassPreparation, DefinitionVersion, Job, Role
from training_platform.navigation import add_nav_item
from training_platform.security import role_required

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
add_nav_item(
    bp,
    "jobs.index",
    N_("Jobs"),
    roles=(Role.ASSESSOR, Role.CENTRE_ADMIN),
    section=N_("Assessment"),
    order=60,
)

READERS = (Role.ASSESSOR, Role.CENTRE_ADMIN)


@dataclass(frozen=True)
class JobRow:
    """One job as the page lists it: what it works on and a link there."""

    job: Job
    kind_label: str
    target: str
    link: str | None


def _row(job: Job) -> JobRow:
    label = jobs.KIND_LABELS.get(job.kind, job.kind)
    if job.kind == jobs.GRADE and job.target_id is not None:
        target = gettext("Attempt #%(id)s", id=job.target_id)
        link = url_for("attempts.result", attempt_id=job.target_id)
        return JobRow(job, label, target, link)
    if job.kind == jobs.REGRADE and job.target_id is not None:
        target = gettext("Attempt #%(id)s", id=job.target_id)
        return JobRow(job, label, target, url_for("review.attempt", attempt_id=job.target_id))
    if job.kind == jobs.TEMPLATE and job.target_id is not None:
        version = get_session().get(DefinitionVersion, job.target_id)
        if version is not None:
            variant = int(job.key.rpartition(":")[2]) + 1
            target = gettext(
                "%(key)s v%(version)s, data variant %(variant)s",
                key=version.key,
                version=version.version,
                variant=variant,
            )
            link = url_for("authoring.history", kind="scenario", key=version.key, origin="centre")
            return JobRow(job, label, target, link if version.centre_id is not None else None)
    if job.kind == jobs.PREPARE_CLASS and job.target_id is not None:
        preparation = get_session().get(ClassPreparation, job.target_id)
        if preparation is not None:
            target = gettext(
                "%(key)s, %(num)d trainees", key=preparation.scenario_key, num=preparation.trainees
            )
            link = None
            if preparation.window_id is not None and current_user.role == Role.CENTRE_ADMIN:
                link = url_for("cohorts.window", window_id=preparation.window_id)
            return JobRow(job, label, target, link)
    if job.kind == jobs.PREGENERATE and job.target_id is not None:
        version = get_session().get(DefinitionVersion, job.target_id)
        if version is not None:
            return JobRow(job, label, f"{version.key} v{version.version}", None)
    return JobRow(job, label, job.key, None)


@bp.get("")
@role_required(*READERS)
def index():
    """The centre's jobs, failed first, then running, queued and done."""
    rows = [_row(job) for job in jobs.jobs_for_centre(get_session(), current_user.centre_id)]
    return render_template("jobs/index.html", rows=rows)


@bp.post("/<int:job_id>/retry")
@role_required(*READERS)
def retry(job_id: int):
    """Queue a failed job of the centre again."""
    session = get_session()
    job = session.get(Job, job_id)
    if job is None or job.centre_id != current_user.centre_id:
        abort(404)
    try:
        jobs.retry_job(session, current_user, job)
    except ServiceError as exc:
        session.rollback()
        flash_service_error(exc)
        return redirect(url_for("jobs.index"))
    session.commit()
    jobs.dispatch(job)
    flash(gettext("The job is queued again."), "success")
    return redirect(url_for("jobs.index"))

"""Centre admins' pages: the centre's units and scenarios, uploads, version history, coverage."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from sandbox_crm.i18n import N_
from training_platform import authoring_service as service
from training_platform import i18n, jobs, sandboxes
from training_platform.db import get_session
from training_platform.errors import ServiceError
from training_platform.i18n import lazy
from training_platform.models import DefinitionKind, Role
from training_platform.navigation import add_nav_item
from training_platform.security import role_required

bp = Blueprint("authoring", __name__, url_prefix="/authoring")
add_nav_item(
    bp,
    "authoring.index",
    N_("Units & scenarios"),
    roles=(Role.CENTRE_ADMIN,),
    section=N_("Centre"),
    order=40,
)
add_nav_item(
    bp,
    "authoring.upload",
    N_("Upload YAML"),
    roles=(Role.CENTRE_ADMIN,),
    section=N_("Centre"),
    order=41,
)
add_nav_item(
    bp,
    "authoring.coverage",
    N_("Coverage"),
    roles=(Role.CENTRE_ADMIN,),
    section=N_("Centre"),
    order=42,
)

# Room for the multipart envelope around a file of the largest allowed size, so that the
# service (not the request parser) judges the file itself and can say how large it is.
UPLOAD_REQUEST_LIMIT = service.MAX_UPLOAD_BYTES + 64 * 1024
TOO_LARGE = N_("The file is larger than the %(limit)d KiB limit. Nothing was published.")


class UploadForm(FlaskForm):
    """A YAML file and what it holds."""

    file = FileField("YAML file")
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("auto", lazy("Detect from the file")),
            SelectChoice(DefinitionKind.UNIT.value, lazy("Unit of competency")),
            SelectChoice(DefinitionKind.SCENARIO.value, lazy("Scenario")),
        ],
        default="auto",
    )


@bp.url_value_preprocessor
def _allow_upload_envelope(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Raise the request limit a little for uploads; URL preprocessors run before CSRF parsing."""
    if endpoint == "authoring.upload":
        request.max_content_length = UPLOAD_REQUEST_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    """An oversize upload: the upload page again, with the limit, and nothing stored."""
    return render_template(
        "authoring/upload.html",
        form=UploadForm(formdata=None),
        error=gettext(TOO_LARGE, limit=service.MAX_UPLOAD_BYTES // 1024),
    ), 413


def _kind_or_404(kind: str) -> DefinitionKind:
    try:
        return DefinitionKind(kind)
    except ValueError:
        abort(404)


@bp.get("")
@role_required(Role.CENTRE_ADMIN)
def index():
    """Units and scenarios the centre sees, with their current version."""
    rows = service.catalogue(get_session(), current_user.centre_id)
    return render_template("authoring/index.html", rows=rows, kinds=list(DefinitionKind))


@bp.route("/upload", methods=["GET", "POST"])
@role_required(Role.CENTRE_ADMIN)
def upload():
    """Upload a unit or scenario; problems come back with file and line, and nothing is stored."""
    form = UploadForm()
    if request.method == "GET":
        return render_template("authoring/upload.html", form=form)
    if not form.validate_on_submit():
        return render_template("authoring/upload.html", form=form), 400
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        return render_template(
            "authoring/upload.html", form=form, error=gettext("Choose a YAML file to upload.")
        ), 400
    data = storage.read(service.MAX_UPLOAD_BYTES + 1)
    session = get_session()
    try:
        outcome = service.upload_definition(
            session,
            current_user,
            filename=storage.filename,
            data=data,
            kind=form.kind.data,
            template_dir=sandboxes.get_store().template_dir,
            limits=service.UploadLimits(
                max_customers=current_app.config.get("MAX_SCENARIO_CUSTOMERS"),
                max_plant_count=current_app.config.get("MAX_PLANT_COUNT"),
            ),
        )
    except ServiceError as refused:
        session.rollback()
        return render_template(
            "authoring/upload.html", form=form, error=refused.message
        ), refused.http_status
    if not outcome.ok:
        session.rollback()
        return render_template(
            "authoring/upload.html",
            form=form,
            error=outcome.message,
            problems=[str(problem) for problem in outcome.result.problems],
            filename=storage.filename,
        ), 400
    version = outcome.result.version
    queued = []
    if outcome.kind == DefinitionKind.SCENARIO and not outcome.result.unchanged:
        # Workers generate each data variant and run the self-tests in it; until they have,
        # the version is "being prepared" and attempts cannot start on it.
        queued = jobs.queue_templates(session, version)
    session.commit()
    jobs.dispatch(queued)
    if queued:
        session.refresh(version)  # the jobs may have run already (one machine, no worker)
    if queued and service.is_preparing(version):
        flash(
            gettext(
                "Published scenario %(key)s as version %(number)s. It is being prepared: "
                "trainees can start it once its data variants are ready.",
                key=version.key,
                number=version.version,
            ),
            "success",
        )
    elif queued and version.preparation == service.REFUSED:
        flash(
            gettext(
                "Version %(number)s of %(key)s was refused: its scripted runs did not behave "
                "as the file says. The problems are listed below.",
                key=version.key,
                number=version.version,
            ),
            "error",
        )
    else:
        flash(outcome.message, "info" if outcome.result.unchanged else "success")
    return redirect(
        url_for("authoring.history", kind=outcome.kind.value, key=version.key, origin="centre")
    )


@bp.get("/<kind>/<key>")
@role_required(Role.CENTRE_ADMIN)
def history(kind: str, key: str):
    """Every version of one unit or scenario, with its source and the diff from the one before."""
    definition_kind = _kind_or_404(kind)
    found = service.definition_history(
        get_session(), definition_kind, key, current_user.centre_id, request.args.get("origin")
    )
    if found is None:
        abort(404)
    session = get_session()
    return render_template(
        "authoring/history.html",
        kind=definition_kind,
        key=key,
        entries=found.entries,
        origin=found.origin,
        other=found.other,
        preparing={
            entry.version.id: jobs.template_jobs(session, entry.version)
            for entry in found.entries
            if service.is_preparing(entry.version)
        },
    )


@bp.get("/coverage")
@role_required(Role.CENTRE_ADMIN)
def coverage():
    """Every PR leaf and point of the centre's units against the checks and items that assess
    it, and whether each unit is ready for assessment."""
    units = service.coverage(get_session(), current_user.centre_id)
    return render_template("authoring/coverage.html", units=units, language=i18n.current_language())

"""Sign-up form and tracking pages: the forms with their written requirements, one form with
its fields, notices and sign-ups, and the tracking procedure with its settings.

Each page that changes data posts a plain form, calls one operation and redirects; a refusal is
shown beside the form and audited. No page needs JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from sandbox_crm.clock import sandbox_today
from sandbox_crm.collection.models import (
    FormConsentOption,
    FormReviewNote,
    PicsVersion,
    SignupForm,
    TrackingPurge,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.collection.operations import (
    AddFieldArgs,
    PublishArgs,
    add_form_field,
    add_form_review_note,
    change_form_field,
    current_pics,
    form_fields,
    publish_pics,
    purge_tracking_data,
    remove_form_field,
    retire_form,
    set_tracking_setting,
)
from sandbox_crm.collection.procedures import COLLECTION_REQUIREMENTS, FIELDS, TRACKING_STANDARD
from sandbox_crm.i18n import N_
from sandbox_crm.operations import OperationError
from sandbox_crm.web.core import (
    ListView,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    list_page,
    refused,
    submit_form,
)
from sandbox_crm.web.forms import ConfirmForm, limits
from sandbox_crm.web.i18n import translate

PER_PAGE = 50

# The codes these pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Membership"),
    N_("Newsletter"),
    N_("Eshop account"),
    N_("Event"),
    N_("Live"),
    N_("Retired"),
    N_("Obligatory"),
    N_("Voluntary"),
    N_("Analytics cookie"),
)


FORM_LIST = ListView(
    source="signup_forms",
    filters={"kind": "kind", "status": "status"},
    columns=["form_id", "code", "name", "kind", "status", "fields_changed_at"],
    sortable=("code", "kind", "status"),
    default_sort=("code", "asc"),
    per_page=PER_PAGE,
)


def _forms_context() -> dict[str, Any]:
    return {
        **FORM_LIST.context(),
        "requirements": [translate(text) for text in COLLECTION_REQUIREMENTS],
        "fields": {key: (translate(spec.label), spec.rule) for key, spec in FIELDS.items()},
    }


@bp.get("/forms")
def signup_forms() -> str:
    """The online sign-up forms, filterable and paginated, and the collection requirements."""
    return render_template("crm/signup_forms.html", **_forms_context())


def _form_context(form_id: int) -> dict[str, Any]:
    session = db()
    form = get_or_404(SignupForm, form_id, "sign-up form")
    listing = list_page(
        "signups",
        [{"field": "form_id", "op": "eq", "value": form.id}],
        columns=["signup_id", "submitted_at", "pics_id", "customer_id"],
        sortable=("submitted_at", "customer_id"),
        default_sort=("submitted_at", "desc"),
        per_page=PER_PAGE,
    )
    versions = session.scalars(
        select(PicsVersion)
        .where(PicsVersion.form_id == form.id)
        .order_by(PicsVersion.published_at.desc(), PicsVersion.id.desc())
    ).all()
    return {
        "form": form,
        "rows": form_fields(session, form.id),
        "pics": current_pics(session, form.id),
        "versions": versions,
        "version_names": {v.id: v.version for v in versions},
        "consents": session.scalars(
            select(FormConsentOption)
            .where(FormConsentOption.form_id == form.id)
            .order_by(FormConsentOption.id)
        ).all(),
        "notes": session.scalars(
            select(FormReviewNote)
            .where(FormReviewNote.form_id == form.id)
            .order_by(FormReviewNote.id)
        ).all(),
        "listing": listing,
        "fields": {key: translate(spec.label) for key, spec in FIELDS.items()},
        "field_limits": limits(AddFieldArgs, "purpose"),
        "contact_limits": limits(PublishArgs, "access_contact"),
        "confirm": ConfirmForm(),
    }


@bp.get("/forms/<int:form_id>")
def signup_form(form_id: int) -> str:
    """One form: its fields, its PICS versions, the consents it asks for and its sign-ups."""
    return render_template("crm/signup_form.html", **_form_context(form_id))


def _checked(name: str) -> bool:
    return request.form.get(name) in ("on", "true", "1", "yes")


_FORM_STEPS = {
    "add": ("add_form_field", N_("The field was added; publish a new PICS for the form.")),
    "remove": ("remove_form_field", N_("The field was removed; publish a new PICS for the form.")),
    "change": ("change_form_field", N_("The field was changed.")),
    "publish": ("publish_pics", N_("A new PICS version is published for the form.")),
    "retire": ("retire_form", N_("The form is retired.")),
    "note": ("add_form_review_note", N_("The review note is recorded.")),
}


def _run_form_step(form_id: int, step: str) -> None:
    form, session, staff = request.form, db(), actor()
    if step == "add":
        add_form_field(
            session,
            staff,
            form_id=form_id,
            field=form.get("field", ""),
            obligation=form.get("obligation", ""),
            purpose=form.get("purpose", ""),
            justification=form.get("justification", ""),
        )
    elif step == "remove":
        remove_form_field(session, staff, form_id=form_id, field=form.get("field", ""))
    elif step == "change":
        change_form_field(
            session,
            staff,
            form_id=form_id,
            field=form.get("field", ""),
            obligation=form.get("obligation") or None,
            purpose=form.get("purpose") or None,
            justification=form.get("justification") or None,
        )
    elif step == "publish":
        publish_pics(
            session,
            staff,
            form_id=form_id,
            purposes=form.get("purposes") or None,
            transferees=form.get("transferees") or None,
            marketing_transfer=_checked("marketing_transfer"),
            access_contact=form.get("access_contact", ""),
        )
    elif step == "retire":
        retire_form(session, staff, form_id=form_id, reason=form.get("reason", ""))
    else:
        add_form_review_note(session, staff, form_id=form_id, text=form.get("text", ""))


@bp.post("/forms/<int:form_id>/<any(add, remove, change, publish, retire, note):form_step>")
def signup_form_act(form_id: int, form_step: str) -> Response | tuple[str, int]:
    """Add, remove or change a field, publish the PICS, retire the form, or note the review."""
    get_or_404(SignupForm, form_id, "sign-up form")
    name, message = _FORM_STEPS[form_step]
    return submit_form(
        ConfirmForm(),
        name,
        lambda: _run_form_step(form_id, form_step),
        message,
        template="crm/signup_form.html",
        context=lambda: _form_context(form_id),
        endpoint="crm.signup_form",
        entity=("signup_form", form_id),
        form_id=form_id,
    )


def _tracking_context() -> dict[str, Any]:
    session = db()
    settings = {s.kind: s for s in session.scalars(select(TrackingSetting))}
    held = {
        kind: (count, oldest)
        for kind, count, oldest in session.execute(
            select(
                TrackingRecord.kind, func.count(), func.min(TrackingRecord.occurred_at)
            ).group_by(TrackingRecord.kind)
        )
    }
    today = sandbox_today(session)
    kinds = []
    for kind, standard in TRACKING_STANDARD.items():
        count, oldest = held.get(kind, (0, None))
        kinds.append(
            {
                "kind": kind,
                "label": translate(standard.label),
                "what": translate(standard.what),
                "standard": standard,
                "setting": settings.get(kind),
                "count": count,
                "oldest": oldest,
                "oldest_days": (today - oldest.date()).days if oldest else None,
            }
        )
    return {
        "kinds": kinds,
        "purges": session.scalars(
            select(TrackingPurge).order_by(TrackingPurge.id.desc()).limit(10)
        ).all(),
        "has_settings": bool(settings),
        "confirm": ConfirmForm(),
    }


@bp.get("/tracking")
def tracking() -> str:
    """The tracking procedure, the settings that implement it and the data held."""
    return render_template("crm/tracking.html", **_tracking_context())


def _int(name: str) -> int | None:
    text = (request.form.get(name) or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None


@bp.post("/tracking/<any(session, product_view, analytics_cookie):tracking_kind>")
def tracking_setting(tracking_kind: str) -> Response | tuple[str, int]:
    """Change one kind's retention or consent setting."""

    def run() -> Any:
        days = _int("retention_days")
        if days is None:
            raise OperationError(
                translate(N_("Days kept must be a whole number.")), "retention_days"
            )
        return set_tracking_setting(
            db(),
            actor(),
            kind=tracking_kind,
            retention_days=days,
            consent_required=_checked("consent_required"),
        )

    return submit_form(
        ConfirmForm(),
        "set_tracking_setting",
        run,
        N_("The tracking setting is saved."),
        template="crm/tracking.html",
        context=_tracking_context,
        endpoint="crm.tracking",
    )


@bp.post("/tracking/purge")
def tracking_purge() -> Response | tuple[str, int]:
    """Run the purge: delete tracking data older than each kind's retention."""
    if not ConfirmForm().validate_on_submit():
        return failed("crm/tracking.html", **_tracking_context())
    try:
        purge = purge_tracking_data(db(), actor())
    except OperationError as exc:
        return refused(
            "purge_tracking_data", exc, "crm/tracking.html", exc.message, **_tracking_context()
        )
    message = translate(N_("The purge ran and removed %(count)d records.")) % {
        "count": purge.removed
    }
    return done(message, "crm.tracking")

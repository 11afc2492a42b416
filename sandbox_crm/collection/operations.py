"""Online collection and tracking: edit a sign-up form, publish its PICS, retire it, note a
review; change a tracking setting and purge what the settings no longer allow.

Only Customer Service, Marketing, IT and Management staff (and administrators) may change how
the company collects and tracks (the sandbox's permission rule); anyone else is refused with a
clear message, and the door that called audits the refusal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.collection.models import (
    FormField,
    FormReviewNote,
    FormStatus,
    Obligation,
    PicsVersion,
    SignupForm,
    TrackingPurge,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.collection.procedures import FIELDS, TRACKING_KINDS
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import StaffUser
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    apply_changes,
    check_department,
    get_entity,
    operation,
)

__all__ = [
    "COLLECTION_DEPARTMENTS",
    "add_form_field",
    "add_form_review_note",
    "change_form_field",
    "current_pics",
    "form_fields",
    "publish_pics",
    "purge_tracking_data",
    "remove_form_field",
    "retire_form",
    "set_tracking_setting",
]

COLLECTION_DEPARTMENTS = frozenset({"customer_service", "marketing", "it", "management"})
"""Departments whose staff may change forms, notices and tracking settings."""

TEXT_MAX = 500
LIST_MAX = 2000
MAX_RETENTION_DAYS = 3650

FieldKey = Literal[
    "name_en",
    "name_zh",
    "email",
    "mobile",
    "district",
    "preferred_language",
    "birth_month",
    "gender",
    "address",
    "date_of_birth",
    "income",
    "family_status",
    "occupation",
    "hkid_partial",
    "hkid",
]
TrackingKind = Literal["session", "product_view", "analytics_cookie"]
assert set(FieldKey.__args__) == set(FIELDS)  # noqa: S101 - the catalogue and the choices agree
assert set(TrackingKind.__args__) == set(TRACKING_KINDS)  # noqa: S101


def _check_permission(actor: StaffUser) -> None:
    """Refuse accounts that may not change collection or tracking (and disabled accounts)."""
    check_department(
        actor,
        COLLECTION_DEPARTMENTS,
        Message(
            N_(
                "Your account may not change sign-up forms, collection notices or tracking"
                " settings: only Customer Service, Marketing, IT, Management and"
                " administrator accounts may."
            )
        ),
        admins=True,
    )


def _form(session: Session, form_id: int) -> SignupForm:
    return get_entity(session, SignupForm, form_id, "sign-up form")


def _live_form(session: Session, form_id: int) -> SignupForm:
    form = _form(session, form_id)
    if form.status != FormStatus.LIVE:
        raise OperationError(
            Message(N_("Form %(form)s is retired and can no longer be changed."), form=form.code),
            "form_id",
        )
    return form


def form_fields(session: Session, form_id: int) -> list[FormField]:
    """The fields of a form, in the order they were added."""
    return list(
        session.scalars(
            select(FormField).where(FormField.form_id == form_id).order_by(FormField.id)
        )
    )


def current_pics(session: Session, form_id: int) -> PicsVersion | None:
    """The PICS version in force for a form: the one published last."""
    return session.scalars(
        select(PicsVersion)
        .where(PicsVersion.form_id == form_id)
        .order_by(PicsVersion.published_at.desc(), PicsVersion.id.desc())
    ).first()


def _field(session: Session, form: SignupForm, field: str) -> FormField | None:
    return session.scalars(
        select(FormField).where(FormField.form_id == form.id, FormField.field == field)
    ).first()


class FormArgs(Args):
    """Arguments naming one sign-up form."""

    form_id: int = Arg(title="Form", description="The sign-up form's id.")


class AddFieldArgs(FormArgs):
    """Arguments of add_form_field."""

    field: FieldKey = Arg(title="Field", description="What the field collects.")
    obligation: Obligation = Arg(
        title="Obligatory or voluntary", description="obligatory or voluntary."
    )
    purpose: str = Arg(
        title="Purpose",
        min_length=1,
        max_length=TEXT_MAX,
        description="Why the field is collected.",
    )
    justification: str = Arg(
        "",
        title="Justification",
        max_length=TEXT_MAX,
        description="Why the purpose needs it (for fields outside the allow-list).",
    )


@operation(
    "add_form_field",
    args=AddFieldArgs,
    event="collection.field_add",
    description="Add a field to a sign-up form, obligatory or voluntary, with its purpose.",
)
def add_form_field(
    session: Session,
    actor: StaffUser,
    form_id: int,
    field: str,
    obligation: str,
    purpose: str,
    justification: str = "",
) -> FormField:
    """Add a field to a live form; the form's notice must then be published again."""
    _check_permission(actor)
    form = _live_form(session, form_id)
    if _field(session, form, field) is not None:
        raise OperationError(
            Message(
                N_("Form %(form)s already collects %(field)s."),
                form=form.code,
                field=Message(FIELDS[field].label),
            ),
            "field",
        )
    row = FormField(
        form_id=form.id,
        field=field,
        obligation=obligation,
        purpose=purpose,
        justification=justification,
    )
    session.add(row)
    form.fields_changed_at = sandbox_now(session)
    session.flush()
    record_event(
        session,
        actor,
        "collection.field_add",
        "form_field",
        row.id,
        after=snapshot(row, ["form_id", "field", "obligation", "purpose", "justification"]),
        details={"form_id": form.id},
    )
    return row


class FieldArgs(FormArgs):
    """Arguments naming one field of a form."""

    field: FieldKey = Arg(title="Field", description="The field, by key.")


@operation(
    "remove_form_field",
    args=FieldArgs,
    event="collection.field_remove",
    description="Stop collecting a field on a sign-up form.",
)
def remove_form_field(session: Session, actor: StaffUser, form_id: int, field: str) -> SignupForm:
    """Remove a field from a live form; sign-ups already received keep what they gave."""
    _check_permission(actor)
    form = _live_form(session, form_id)
    row = _field(session, form, field)
    if row is None:
        raise OperationError(
            Message(
                N_("Form %(form)s does not collect %(field)s."),
                form=form.code,
                field=Message(FIELDS[field].label),
            ),
            "field",
        )
    before = snapshot(row, ["field", "obligation", "purpose", "justification"])
    session.delete(row)
    form.fields_changed_at = sandbox_now(session)
    session.flush()
    record_event(
        session,
        actor,
        "collection.field_remove",
        "signup_form",
        form.id,
        before=before,
        details={"form_id": form.id, "field": field, "field_id": row.id},
    )
    return form


class ChangeFieldArgs(FieldArgs):
    """Arguments of change_form_field: only what is given changes."""

    obligation: Obligation | None = Arg(
        None, title="Obligatory or voluntary", description="obligatory or voluntary."
    )
    purpose: str | None = Arg(
        None, title="Purpose", min_length=1, max_length=TEXT_MAX, description="The new purpose."
    )
    justification: str | None = Arg(
        None, title="Justification", max_length=TEXT_MAX, description="The new justification."
    )


@operation(
    "change_form_field",
    args=ChangeFieldArgs,
    event="collection.field_change",
    description="Make a field obligatory or voluntary, or change its purpose or justification.",
)
def change_form_field(
    session: Session,
    actor: StaffUser,
    form_id: int,
    field: str,
    obligation: str | None = None,
    purpose: str | None = None,
    justification: str | None = None,
) -> FormField:
    """Change a field's obligation, purpose or justification on a live form."""
    _check_permission(actor)
    form = _live_form(session, form_id)
    row = _field(session, form, field)
    if row is None:
        raise OperationError(
            Message(
                N_("Form %(form)s does not collect %(field)s."),
                form=form.code,
                field=Message(FIELDS[field].label),
            ),
            "field",
        )
    values = {
        name: value
        for name, value in (
            ("obligation", obligation),
            ("purpose", purpose),
            ("justification", justification),
        )
        if value is not None and getattr(row, name) != value
    }
    if not values:
        raise OperationError(N_("Nothing to change: the values are the same as the current ones."))
    before = snapshot(row, list(values))
    for name, value in values.items():
        setattr(row, name, value)
    if "obligation" in values:
        form.fields_changed_at = sandbox_now(session)
    session.flush()
    record_event(
        session,
        actor,
        "collection.field_change",
        "form_field",
        row.id,
        before=before,
        after=snapshot(row, list(values)),
        details={"form_id": form.id, "field": field},
    )
    return row


def _lines(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [line.strip() for line in value.replace(";", "\n").splitlines() if line.strip()]


class PublishArgs(FormArgs):
    """Arguments of publish_pics; what is not given is kept from the version in force."""

    purposes: str | None = Arg(
        None,
        title="Purposes",
        max_length=LIST_MAX,
        description="The purposes, one a line (or separated by ';').",
    )
    transferees: str | None = Arg(
        None,
        title="Classes of transferees",
        max_length=LIST_MAX,
        description="Classes of persons the data may go to, one a line (or separated by ';').",
    )
    marketing_transfer: bool | None = Arg(
        None,
        title="Data go to others for direct marketing",
        description="Whether the data are given to other companies for their direct marketing.",
    )
    access_contact: str | None = Arg(
        None,
        title="Access and correction contact",
        max_length=200,
        description="The post or address to write to for access and correction ('' for none).",
    )

    @field_validator("purposes", "transferees")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not _lines(value):
            raise ValueError("give at least one line")
        return value


@operation(
    "publish_pics",
    args=PublishArgs,
    event="collection.pics_publish",
    description="Publish a new version of a form's PICS, stating its fields as they are now.",
)
def publish_pics(
    session: Session,
    actor: StaffUser,
    form_id: int,
    purposes: str | None = None,
    transferees: str | None = None,
    marketing_transfer: bool | None = None,
    access_contact: str | None = None,
) -> PicsVersion:
    """A new PICS version for a live form: its fields' obligations as the form has them now."""
    _check_permission(actor)
    form = _live_form(session, form_id)
    current = current_pics(session, form.id)
    rows = form_fields(session, form.id)
    if not rows:
        raise OperationError(
            Message(N_("Form %(form)s collects nothing: add a field first."), form=form.code),
            "form_id",
        )
    count = session.scalar(select(func.count()).where(PicsVersion.form_id == form.id)) or 0
    contact = (
        access_contact
        if access_contact is not None
        else (current.access_contact if current else "")
    )
    pics = PicsVersion(
        form_id=form.id,
        version=f"{form.code}-v{count + 1}",
        published_at=sandbox_now(session),
        purposes=_lines(purposes) or (list(current.purposes) if current else []),
        transferee_classes=_lines(transferees)
        or (list(current.transferee_classes) if current else []),
        transfers_for_marketing=(
            marketing_transfer
            if marketing_transfer is not None
            else bool(current and current.transfers_for_marketing)
        ),
        access_rights_stated=bool(contact.strip()),
        access_contact=contact.strip(),
        obligatory_fields=[r.field for r in rows if r.obligation == Obligation.OBLIGATORY],
        voluntary_fields=[r.field for r in rows if r.obligation == Obligation.VOLUNTARY],
        published_by_id=actor.id,
    )
    session.add(pics)
    session.flush()
    record_event(
        session,
        actor,
        "collection.pics_publish",
        "pics_version",
        pics.id,
        after=snapshot(
            pics,
            [
                "form_id",
                "version",
                "purposes",
                "transferee_classes",
                "transfers_for_marketing",
                "access_contact",
                "obligatory_fields",
                "voluntary_fields",
            ],
        ),
        details={"form_id": form.id, "replaces": current.id if current else None},
    )
    return pics


class RetireArgs(FormArgs):
    """Arguments of retire_form."""

    reason: str = Arg(title="Reason", min_length=1, max_length=TEXT_MAX, description="Why.")


@operation(
    "retire_form",
    args=RetireArgs,
    event="collection.form_retire",
    description="Retire a sign-up form that is no longer used; its sign-ups are kept.",
)
def retire_form(session: Session, actor: StaffUser, form_id: int, reason: str) -> SignupForm:
    """Stop a form collecting, with the reason."""
    _check_permission(actor)
    form = _live_form(session, form_id)
    form.status = FormStatus.RETIRED
    form.retired_at = sandbox_now(session)
    form.retire_reason = reason
    session.flush()
    record_event(
        session,
        actor,
        "collection.form_retire",
        "signup_form",
        form.id,
        before={"status": FormStatus.LIVE.value},
        after=snapshot(form, ["status", "retire_reason"]),
    )
    return form


class NoteArgs(FormArgs):
    """Arguments of add_form_review_note."""

    text: str = Arg(title="Note", min_length=1, max_length=TEXT_MAX, description="The note.")


@operation(
    "add_form_review_note",
    args=NoteArgs,
    event="collection.review_note",
    description="Record a note of a form's review: what was found and decided.",
)
def add_form_review_note(
    session: Session, actor: StaffUser, form_id: int, text: str
) -> FormReviewNote:
    """Add a review note to a form (retired forms too)."""
    _check_permission(actor)
    form = _form(session, form_id)
    note = FormReviewNote(
        form_id=form.id, text=text, written_at=sandbox_now(session), written_by_id=actor.id
    )
    session.add(note)
    session.flush()
    record_event(
        session,
        actor,
        "collection.review_note",
        "form_review_note",
        note.id,
        after=snapshot(note, ["form_id", "text"]),
        details={"form_id": form.id},
    )
    return note


class TrackingArgs(Args):
    """Arguments of set_tracking_setting: only what is given changes."""

    kind: TrackingKind = Arg(title="Kind of tracking data", description="The kind of data.")
    retention_days: int | None = Arg(
        None,
        title="Days kept",
        ge=1,
        le=MAX_RETENTION_DAYS,
        description=f"How many days the data are kept (1 to {MAX_RETENTION_DAYS}).",
    )
    consent_required: bool | None = Arg(
        None, title="Only with consent", description="Whether it is collected only with consent."
    )


@operation(
    "set_tracking_setting",
    args=TrackingArgs,
    event="tracking.setting_change",
    description="Change how long a kind of tracking data is kept, or whether it needs consent.",
)
def set_tracking_setting(
    session: Session,
    actor: StaffUser,
    kind: str,
    retention_days: int | None = None,
    consent_required: bool | None = None,
) -> TrackingSetting:
    """Change one tracking setting; the purge applies a shorter retention."""
    _check_permission(actor)
    setting = session.scalars(select(TrackingSetting).where(TrackingSetting.kind == kind)).first()
    if setting is None:
        raise OperationError(
            Message(N_("This company has no setting for %(kind)s."), kind=kind), "kind"
        )
    values = {"retention_days": retention_days, "consent_required": consent_required}
    apply_changes(
        session,
        actor,
        setting,
        {name: value for name, value in values.items() if value is not None},
        operation="tracking.setting_change",
        entity_type="tracking_setting",
        details={"kind": kind},
        stamp="changed_at",
    )
    return setting


class NoArgs(Args):
    """An operation with no arguments."""


@operation(
    "purge_tracking_data",
    args=NoArgs,
    event="tracking.purge",
    description="Delete the tracking data older than each kind's retention setting.",
)
def purge_tracking_data(session: Session, actor: StaffUser) -> TrackingPurge:
    """Apply the retention settings: delete each kind's records older than its period."""
    _check_permission(actor)
    settings = list(session.scalars(select(TrackingSetting).order_by(TrackingSetting.id)))
    if not settings:
        raise OperationError(N_("This company keeps no tracking data."))
    now = sandbox_now(session)
    removed: dict[str, int] = {}
    for setting in settings:
        cutoff = now - timedelta(days=setting.retention_days)
        result = session.execute(
            delete(TrackingRecord).where(
                TrackingRecord.kind == setting.kind, TrackingRecord.occurred_at < cutoff
            )
        )
        removed[setting.kind] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    purge = TrackingPurge(run_at=now, run_by_id=actor.id, removed=sum(removed.values()))
    session.add(purge)
    session.flush()
    record_event(
        session,
        actor,
        "tracking.purge",
        "tracking_purge",
        purge.id,
        after=snapshot(purge, ["removed"]),
        details={"removed": removed},
    )
    return purge

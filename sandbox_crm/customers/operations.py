"""Operations on customers, their contact points and their consent log."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.catalogue_data import CHANNEL_CONTACT_KINDS
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.consent import current_consent_status
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import (
    Channel,
    CollectionNotice,
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerStatus,
    StaffUser,
    Tier,
)
from sandbox_crm.operations.base import (
    Arg,
    Args,
    CustomerArgs,
    OperationError,
    apply_changes,
    get_customer,
    get_entity,
    operation,
)
from sandbox_crm.sources import PREFERRED_LANGUAGES

__all__ = [
    "CHANNEL_CONTACT_KINDS",
    "AddCustomerNoteArgs",
    "RecordConsentArgs",
    "UpdateContactPointArgs",
    "UpdateCustomerArgs",
    "ViewCustomerArgs",
    "EDITABLE_CUSTOMER_FIELDS",
    "add_customer_note",
    "current_consent_status",
    "record_consent",
    "update_contact_point",
    "update_customer",
    "view_customer",
]

EDITABLE_CUSTOMER_FIELDS: tuple[str, ...] = (
    "name_en",
    "name_zh",
    "district",
    "tier",
    "preferred_language",
    "status",
    "notes",
)

NOTE_MAX_LENGTH = 2000
NOTES_MAX_LENGTH = 20000
CONTACT_MAX_LENGTH = 300
EMAIL_MAX_LENGTH = 254
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")


class ViewCustomerArgs(CustomerArgs):
    """Arguments of view_customer."""


@operation(
    "view_customer",
    args=ViewCustomerArgs,
    event="customer.view",
    description="Open a customer's full record (an audited read).",
)
def view_customer(session: Session, actor: StaffUser, customer_id: int) -> Customer:
    """Open a customer's full record (an audited read)."""
    customer = get_customer(session, customer_id)
    record_event(
        session,
        actor,
        "customer.view",
        "customer",
        customer.id,
        details={"customer_id": customer.id, "member_no": customer.member_no},
    )
    return customer


District = Literal[tuple(DISTRICTS)]  # type: ignore[valid-type]
Language = Literal[PREFERRED_LANGUAGES]  # type: ignore[valid-type]


class UpdateCustomerArgs(CustomerArgs):
    """Arguments of update_customer: give only the fields to change."""

    name_en: str | None = Arg(
        None, title="English name", min_length=1, max_length=120, description="English name."
    )
    name_zh: str | None = Arg(
        None, title="Chinese name", max_length=40, description="Chinese name (empty to clear)."
    )
    district: District | None = Arg(
        None, title="District", description="One of the 18 districts; the region follows."
    )
    tier: Tier | None = Arg(None, title="Tier", description="Loyalty tier.")
    preferred_language: Language | None = Arg(
        None, title="Preferred language", description="Preferred language."
    )
    status: CustomerStatus | None = Arg(None, title="Status", description="Relationship status.")
    notes: str | None = Arg(
        None,
        title="Notes",
        max_length=NOTES_MAX_LENGTH,
        description="Replaces the whole notes text.",
    )

    @classmethod
    def from_call(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The customer and the ``changes`` mapping's fields, as one set of arguments."""
        values = {name: value for name, value in params.items() if name != "changes"}
        changes = params.get("changes")
        values.update(changes if isinstance(changes, dict) else {"changes": changes})
        return values

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The customer, and the fields given as a changes mapping (None only clears name_zh)."""
        given = self.model_fields_set - {"customer_id", "member_no"}
        changes = {
            name: getattr(self, name)
            for name in given
            if getattr(self, name) is not None or name == "name_zh"
        }
        if "name_zh" in changes:
            changes["name_zh"] = changes["name_zh"] or None
        return {"customer_id": self.record_id(session, actor), "changes": changes}


@operation(
    "update_customer",
    args=UpdateCustomerArgs,
    event="customer.update",
    description="Edit a customer's names, district, tier, language, status or notes.",
)
def update_customer(
    session: Session, actor: StaffUser, customer_id: int, changes: dict[str, Any]
) -> Customer:
    """Edit a customer's editable fields (the region follows the district)."""
    customer = get_customer(session, customer_id)
    if not changes:
        raise OperationError(N_("Give at least one field to change."))
    new = dict(changes)
    if "district" in new:
        new["region"] = DISTRICTS[new["district"]]
    if "status" in new and new["status"] != customer.status:
        closing = new["status"] == CustomerStatus.CLOSED
        new["closed_on"] = sandbox_today(session) if closing else None
    apply_changes(
        session,
        actor,
        customer,
        new,
        operation="customer.update",
        entity_type="customer",
        details={"customer_id": customer.id},
    )
    return customer


class AddCustomerNoteArgs(CustomerArgs):
    """Arguments of add_customer_note."""

    text: str = Arg(
        title="Note",
        min_length=1,
        max_length=NOTE_MAX_LENGTH,
        description="The note; it is appended with the date and your username.",
    )


@operation(
    "add_customer_note",
    args=AddCustomerNoteArgs,
    event="customer.add_note",
    description="Append a dated, signed note to a customer's record.",
)
def add_customer_note(session: Session, actor: StaffUser, customer_id: int, text: str) -> Customer:
    """Append a dated, signed line to a customer's notes."""
    customer = get_customer(session, customer_id)
    line = f"[{sandbox_today(session).isoformat()} {actor.username}] {text}"
    notes = f"{customer.notes}\n{line}" if customer.notes else line
    if len(notes) > NOTES_MAX_LENGTH:
        raise OperationError(N_("The customer's notes are full; edit them before adding more."))
    before = snapshot(customer, ["notes"])
    customer.notes = notes
    customer.updated_at = sandbox_now(session)
    record_event(
        session,
        actor,
        "customer.add_note",
        "customer",
        customer.id,
        before=before,
        after=snapshot(customer, ["notes"]),
        details={"customer_id": customer.id, "note": text},
    )
    return customer


def _clean_contact_value(kind: str, value: str) -> str:
    """The value in the form the contact's kind needs (the model checked it is text)."""
    if kind == ContactKind.EMAIL:
        if len(value) > EMAIL_MAX_LENGTH:
            raise OperationError(
                f"Email address is too long ({len(value)} characters; at most {EMAIL_MAX_LENGTH}).",
                "value",
            )
        if not _EMAIL_RE.match(value):
            raise OperationError(
                Message(N_("%(value)r is not a valid email address."), value=value), "value"
            )
        return value
    if kind in (ContactKind.MOBILE, ContactKind.PHONE):
        raw = value
        number = _PHONE_SEPARATORS.sub("", raw).removeprefix("+852")
        first_digits = "456789" if kind == ContactKind.MOBILE else "23"
        if len(number) != 8 or not number.isdigit() or number[0] not in first_digits:
            what = "mobile number" if kind == ContactKind.MOBILE else "fixed-line number"
            raise OperationError(
                f"{raw!r} is not a Hong Kong {what} (8 digits starting {', '.join(first_digits)}).",
                "value",
            )
        return number
    return value


class UpdateContactPointArgs(Args):
    """Arguments of update_contact_point."""

    contact_point_id: int | None = Arg(None, description="The contact point's id.")
    customer_id: int | None = Arg(None, description="Instead of the id: the customer's id ...")
    member_no: str | None = Arg(None, description="... or member number ...")
    kind: ContactKind | None = Arg(
        None, description="... and the kind of contact (its primary one)."
    )
    value: str | None = Arg(
        None,
        title="Value",
        min_length=1,
        max_length=CONTACT_MAX_LENGTH,
        description="Corrected value (an email, a phone number or an address).",
    )
    is_invalid: bool | None = Arg(
        None, title="Invalid flag", description="Flag the contact as invalid (or valid)."
    )

    @model_validator(mode="after")
    def _one_contact(self) -> UpdateContactPointArgs:
        by_customer = self.customer_id is not None or self.member_no is not None
        if self.contact_point_id is not None and (by_customer or self.kind is not None):
            raise ValueError("give contact_point_id, or a customer and kind, not both")
        if self.contact_point_id is None:
            if self.kind is None or (self.customer_id is None) == (self.member_no is None):
                raise ValueError(
                    "give contact_point_id, or kind with either customer_id or member_no"
                )
        return self

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The contact point (by id, or a customer's primary one of the kind) and the changes."""
        return {
            "contact_point_id": self._contact_point_id(session),
            "value": self.value,
            "is_invalid": self.is_invalid,
        }

    def _contact_point_id(self, session: Session) -> int:
        if self.contact_point_id is not None:
            return self.contact_point_id
        customer_id = self.customer_id
        if customer_id is None:
            customer_id = session.scalars(
                select(Customer.id).where(Customer.member_no == self.member_no)
            ).first()
            if customer_id is None:
                raise OperationError(
                    Message(
                        N_("There is no customer with member number %(number)r."),
                        number=self.member_no,
                    )
                )
        found = session.scalars(
            select(ContactPoint.id)
            .where(ContactPoint.customer_id == customer_id, ContactPoint.kind == self.kind)
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
            .limit(1)
        ).first()
        if found is None:
            raise OperationError(
                Message(N_("The customer has no %(kind)s contact."), kind=Message(self.kind))
            )
        return found


@operation(
    "update_contact_point",
    args=UpdateContactPointArgs,
    event="contact_point.update",
    description="Correct a contact point or flag it invalid.",
)
def update_contact_point(
    session: Session,
    actor: StaffUser,
    contact_point_id: int,
    value: str | None = None,
    is_invalid: bool | None = None,
) -> ContactPoint:
    """Correct a contact point's value and/or flag it as invalid (or valid again)."""
    contact = get_entity(session, ContactPoint, contact_point_id, "contact point")
    if value is None and is_invalid is None:
        raise OperationError(N_("Give a new value or an invalid flag to change."))
    new: dict[str, Any] = {}
    if value is not None:
        new["value"] = _clean_contact_value(contact.kind, value)
    if is_invalid is not None:
        new["is_invalid"] = is_invalid
    apply_changes(
        session,
        actor,
        contact,
        new,
        operation="contact_point.update",
        entity_type="contact_point",
        details={"customer_id": contact.customer_id, "kind": contact.kind},
    )
    return contact


def _sync_opt_out(session: Session, customer: Customer, channel: str) -> list[dict[str, Any]]:
    """Set opted_out on the contact points the channel reaches from the current DM consents.

    A contact point is opted out while direct marketing is withdrawn on any channel that reaches
    it (a mobile number is reached by SMS and by phone calls).
    """
    purpose = ConsentPurpose.DIRECT_MARKETING.value
    kinds = CHANNEL_CONTACT_KINDS[channel]
    changes = []
    for contact in customer.contact_points:
        if contact.kind not in kinds:
            continue
        reaching = [ch for ch, ks in CHANNEL_CONTACT_KINDS.items() if contact.kind in ks]
        withdrawn = any(
            current_consent_status(session, customer.id, purpose, ch) == ConsentStatus.WITHDRAWN
            for ch in reaching
        )
        if contact.opted_out != withdrawn:
            changes.append(
                {"contact_point_id": contact.id, "opted_out": [contact.opted_out, withdrawn]}
            )
            contact.opted_out = withdrawn
    return changes


def _recordable_status(value: Any) -> Any:
    if value == ConsentStatus.NOT_ASKED:
        raise ValueError(
            "not_asked means that no consent was recorded; record given, no_objection or withdrawn."
        )
    return value


class RecordConsentArgs(CustomerArgs):
    """Arguments of record_consent."""

    purpose: ConsentPurpose = Arg(title="Purpose", description="What the consent is for.")
    channel: Channel = Arg(title="Channel", description="The channel it covers.")
    status: Annotated[
        Literal["given", "no_objection", "withdrawn"], BeforeValidator(_recordable_status)
    ] = Arg(title="Status", description="The new status.")
    method: ConsentMethod = Arg(title="Method", description="How it was captured.")
    note: str = Arg(
        "", title="Note", max_length=NOTE_MAX_LENGTH, description="A note on the record."
    )
    notice_version: str | None = Arg(
        None, description="Collection notice (PICS) version; default: the one in effect today."
    )


@operation(
    "record_consent",
    args=RecordConsentArgs,
    event="consent.record",
    description=(
        "Record a customer's consent, no objection or withdrawal for a purpose and channel."
    ),
)
def record_consent(
    session: Session,
    actor: StaffUser,
    customer_id: int,
    purpose: str,
    channel: str,
    status: str,
    method: str,
    note: str = "",
    notice_version: str | None = None,
) -> ConsentRecord:
    """Append a consent record (never edits one) and keep contact points' opt-out flags in step.

    The record refers to ``notice_version`` if given, else to the collection notice in effect
    on the sandbox date.
    """
    customer = get_customer(session, customer_id)
    today = sandbox_today(session)
    if notice_version is not None:
        notice = session.scalars(
            select(CollectionNotice).where(CollectionNotice.version == notice_version)
        ).first()
        if notice is None:
            raise OperationError(
                Message(N_("Unknown collection notice %(notice)r."), notice=notice_version),
                "notice_version",
            )
    else:
        notice = session.scalars(
            select(CollectionNotice)
            .where(CollectionNotice.effective_from <= today)
            .order_by(CollectionNotice.effective_from.desc(), CollectionNotice.id.desc())
            .limit(1)
        ).first()
    previous = current_consent_status(session, customer.id, purpose, channel)
    record = ConsentRecord(
        customer_id=customer.id,
        purpose=purpose,
        channel=channel,
        status=status,
        method=method,
        captured_at=sandbox_now(session),
        notice_id=notice.id if notice is not None else None,
        recorded_by_id=actor.id,
        note=note,
    )
    session.add(record)
    session.flush()
    opt_out_changes = []
    if purpose == ConsentPurpose.DIRECT_MARKETING:
        opt_out_changes = _sync_opt_out(session, customer, channel)
    record_event(
        session,
        actor,
        "consent.record",
        "consent_record",
        record.id,
        before={"status": previous},
        after=snapshot(
            record,
            ["customer_id", "purpose", "channel", "status", "method", "captured_at", "notice_id"],
        ),
        details={
            "customer_id": customer.id,
            "consent_record_id": record.id,
            "contact_points": opt_out_changes,
        },
    )
    return record

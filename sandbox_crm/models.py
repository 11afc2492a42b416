"""The sandbox CRM's data model: the declarative base, the shared vocabulary and the core tables.

The model follows the shape of the open-source CRMs (customers with contact points and an
append-only consent log, orders with lines, report definitions shared with departments) and keeps
everything the graders need to observe privacy-relevant behaviour: report runs, exports, messages
and the audit log. Each CRM area declares its own tables in ``sandbox_crm/<area>/models.py``;
this module holds what they share (``SandboxBase``, the enumerations, ``SandboxMeta`` and
``AuditEvent``) and finds any area's model by its class name, so ``from sandbox_crm.models
import Customer`` works without this module listing the areas' tables.
"""

from __future__ import annotations

import enum
import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from sandbox_crm.company.models import StaffUser

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SandboxBase(DeclarativeBase):
    """Declarative base for every sandbox table (separate from the platform's own schema)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- enumerations -----------------------------------------------------------------------------


class Profile(enum.StrEnum):
    """Kind of company the sandbox simulates."""

    RETAIL = "retail"
    JEWELLERY = "jewellery"


class Region(enum.StrEnum):
    """Hong Kong's three regions (the Islands district counts as New Territories)."""

    HONG_KONG_ISLAND = "Hong Kong Island"
    KOWLOON = "Kowloon"
    NEW_TERRITORIES = "New Territories"


class Tier(enum.StrEnum):
    """Loyalty tier of a member."""

    CLASSIC = "classic"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class CustomerStatus(enum.StrEnum):
    """Whether the customer relationship is live."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"


class SourceSystem(enum.StrEnum):
    """System a customer record was first captured in."""

    POS = "pos"
    ESHOP = "eshop"
    CRM = "crm"
    EVENT = "event"


class ContactKind(enum.StrEnum):
    """Kind of contact point."""

    EMAIL = "email"
    MOBILE = "mobile"
    PHONE = "phone"
    ADDRESS = "address"


class Channel(enum.StrEnum):
    """Communication channel, used by consents, campaigns and messages."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class ConsentPurpose(enum.StrEnum):
    """What the customer's data may be used for."""

    DIRECT_MARKETING = "direct_marketing"
    THIRD_PARTY_MARKETING = "third_party_marketing"
    ANALYTICS = "analytics"


class ConsentStatus(enum.StrEnum):
    """State recorded by a consent record; the latest record per purpose and channel wins."""

    GIVEN = "given"
    NO_OBJECTION = "no_objection"
    WITHDRAWN = "withdrawn"
    NOT_ASKED = "not_asked"


class ConsentMethod(enum.StrEnum):
    """How a consent record was captured."""

    WRITTEN_FORM = "written_form"
    ONLINE_FORM = "online_form"
    ORAL = "oral"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    EMAIL_REPLY = "email_reply"
    MIGRATION = "migration"


class OrderStatus(enum.StrEnum):
    """Life cycle of a sales order."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class SalesChannel(enum.StrEnum):
    """Where an order was placed."""

    STORE = "store"
    ESHOP = "eshop"
    PHONE = "phone"


class MessageKind(enum.StrEnum):
    """Promotional messages are direct marketing under PDPO Part 6A; service messages are not."""

    PROMOTIONAL = "promotional"
    SERVICE = "service"


class ExportDestination(enum.StrEnum):
    """Where an export was sent; only the approved internal destinations are acceptable."""

    INTERNAL_SHARED_DRIVE = "internal_shared_drive"
    INTERNAL_EMAIL = "internal_email"
    PERSONAL_EMAIL = "personal_email"
    USB_DRIVE = "usb_drive"
    EXTERNAL_PARTY = "external_party"


APPROVED_EXPORT_DESTINATIONS = frozenset(
    {ExportDestination.INTERNAL_SHARED_DRIVE, ExportDestination.INTERNAL_EMAIL}
)


class Sensitivity(enum.StrEnum):
    """How sensitive a field is; drives masking, report sensitivity and PDPO checks."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


# --- the core tables: the sandbox's own facts and the audit log -------------------------------


class SandboxMeta(SandboxBase):
    """Key/value facts about the sandbox: profile, seed, company name, clock settings."""

    __tablename__ = "sandbox_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEvent(SandboxBase):
    """One entry of the audit log: who did what to which entity, when on the sandbox clock."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    operation: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[StaffUser | None] = relationship()


# --- the areas' tables ------------------------------------------------------------------------


def load_models() -> None:
    """Import every enabled area's models module, so that the metadata has all their tables."""
    from sandbox_crm.areas import ENABLED_AREAS  # imported here: areas come after the base

    for name in ENABLED_AREAS:
        try:
            importlib.import_module(f"sandbox_crm.{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"sandbox_crm.{name}.models":
                raise


def model_named(name: str) -> type[SandboxBase] | None:
    """The sandbox model class called ``name`` (any area's), or None."""
    load_models()
    return next((m.class_ for m in SandboxBase.registry.mappers if m.class_.__name__ == name), None)


def __getattr__(name: str) -> Any:
    """An area's model by class name, e.g. ``sandbox_crm.models.Customer``."""
    model = model_named(name) if name[:1].isupper() else None
    if model is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return model


# Every area's tables belong to the metadata as soon as the base is imported (their modules
# need only the names above), so create_all and sorted_tables always see the whole schema.
load_models()

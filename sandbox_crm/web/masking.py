"""How a staff role sees customers' protected fields on the CRM's pages: in full, masked, or not.

Every customer page and export asks this module for a ``FieldView`` (the acting staff member's
role, or a narrower role being previewed) and prints the values it presents, so the field
permissions set in the security area are applied in one place. A preview never shows more than
the acting staff member's own role sees: each field gets the lesser of the two access levels.

A sandbox without a security set-up (no roles, or an account without a role) shows identity
numbers and dates of birth masked and everything else in full, as the CRM always did. The
e-shop's pages show its ``cust_email``, ``mobile_no`` and browsing data through it too (all
shown in full unless a role says otherwise, so the import task can still match accounts).

Report runs and exports (the grading decision). A run keeps what the role that ran it could
see, and an export file holds what the role that exported it could see: a masked field's values
are stored masked, a hidden field's column is left out (of the stored cells and of the run's or
export's ``columns``), and the access each protected column had is recorded in the run's or
export's audit event (``field_access``, ``hidden_fields``). This is what a real CRM does (a
report runs with its runner's field-level security), and the PDPO rules that judge report
output and exports then judge what actually left the CRM: COL-07 reads the stored text (a
masked HKID is not a valid number, but a masked HKID column still counts as the column, as a
partial HKID is still an identifier), SEC-01 and SEC-02 read the columns (a hidden field is not
among them). The evidence of what the report selected is kept all the same: the report's
definition, which the report checks (``report.rows_match``, ``report.columns`` ...) judge and
re-run, and the run's and export's row keys. Storing full values and masking only on display
would keep, in the name of a role that may not see them, copies of numbers it never saw. A
stored run or file is shown later at the lesser of the access it was made with and the viewer's
current access (``FieldView.cap_cells``), so a role that lost access, or a role previewed, sees
no more.

Filters, sorts and summaries must not reveal what a mask hides: a report that filters, sorts or
groups by a field its runner does not see in full cannot be saved, run or exported by that role
(``query_problems``), except that a masked field may be tested for having a value at all, which
its mask shows anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.hkid import find_hkids
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import StaffUser
from sandbox_crm.security.fields import ACCESS_LEVELS, ALL_FIELDS, FIELD_LABELS, access_rank
from sandbox_crm.security.models import FieldPermission, SecurityRole, StaffAccess
from sandbox_crm.web.i18n import translate
from sandbox_crm.web.presentation import day, mask_dob, mask_hkid, money

DEFAULT_ACCESS: Mapping[str, str] = {
    "hkid": "masked",
    "date_of_birth": "masked",
    "spend_12m": "full",
    "cust_email": "full",
    "mobile_no": "full",
    "browsing": "full",
}
"""A field's access when no permission says otherwise (the CRM's long-standing behaviour)."""

HIDDEN_TEXT = N_("Not shown for your role")
"""What a page shows in place of a value the role may not see."""

_SPEND_BANDS = (100_000, 50_000, 10_000, 5_000, 1_000)


def mask_spend(value: Any) -> str:
    """Spend as a band (``HK$10,000+``), enough to recognise a good customer, not the amount."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return ""
    for floor in _SPEND_BANDS:
        if amount >= floor:
            return f"{money(floor)}+"
    return translate("under %(amount)s", amount=money(_SPEND_BANDS[-1]))


def mask_mobile(value: Any) -> str:
    """A phone number with its last four digits hidden: ``91234567`` -> ``9123****``."""
    text = str(value or "")
    return f"{text[:-4]}****" if len(text) > 4 else "*" * len(text)


def mask_email(value: Any) -> str:
    """An e-mail address with the name hidden after its first letter: ``c***@example.hk``."""
    name, at, domain = str(value or "").partition("@")
    return f"{name[:1]}***{at}{domain}" if name else ""


def _shown_dob(value: Any) -> str:
    return day(value) if isinstance(value, date) else str(value)


_MASKS: Mapping[str, Callable[[Any], str]] = {
    "hkid": mask_hkid,
    "date_of_birth": mask_dob,
    "spend_12m": mask_spend,
    "cust_email": mask_email,
    "mobile_no": mask_mobile,
}
_FULL: Mapping[str, Callable[[Any], str]] = {
    "date_of_birth": _shown_dob,
    "spend_12m": money,
}


@dataclass(frozen=True)
class Shown:
    """One protected value as a page prints it: the text and the access level that made it."""

    field: str
    access: str
    text: str

    @property
    def label(self) -> str:
        """The field's name in the reader's language."""
        return translate(FIELD_LABELS[self.field])

    @property
    def hidden(self) -> bool:
        """Whether the role may not see the value at all."""
        return self.access == "hidden"

    @property
    def masked(self) -> bool:
        """Whether part of the value is hidden from the role."""
        return self.access == "masked"

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True)
class FieldView:
    """The access a role has to each protected field, and the values it is shown."""

    role_code: str | None
    role_name: str
    access: Mapping[str, str]
    preview: bool = False
    """Whether this is a role being previewed rather than the acting staff member's own."""

    def level(self, field: str) -> str:
        """The access to a field: hidden, masked or full (fields nobody protects are full)."""
        if field not in ALL_FIELDS:
            return "full"
        return self.access.get(field, DEFAULT_ACCESS[field])

    def sees_in_full(self, field: str) -> bool:
        """Whether the role sees the field's whole value (and may search and sort by it)."""
        return self.level(field) == "full"

    def sees(self, field: str) -> bool:
        """Whether the role sees the field at all."""
        return self.level(field) != "hidden"

    def show(self, field: str, value: Any) -> Shown:
        """A value of a field as this role is shown it; empty values stay empty."""
        access = self.level(field)
        if value is None or value == "":
            return Shown(field, access, "" if access != "hidden" else translate(HIDDEN_TEXT))
        if access == "hidden":
            return Shown(field, access, translate(HIDDEN_TEXT))
        if access == "masked":
            mask = _MASKS.get(field)
            return Shown(field, access, mask(value) if mask else "*" * 8)
        return Shown(field, access, _FULL.get(field, str)(value))

    def rows(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Rows of customer fields with every protected field replaced by what the role sees."""
        return [
            {
                name: self.show(name, value) if name in ALL_FIELDS else value
                for name, value in row.items()
            }
            for row in rows
        ]

    @property
    def restricted(self) -> bool:
        """Whether any protected field is masked or hidden for this role."""
        return any(not self.sees_in_full(field) for field in ALL_FIELDS)

    def stored(self, field: str, value: Any) -> Any:
        """A value as a run's stored output or an exported file keeps it for this role: as it
        is when seen in full, its mask when masked, None when hidden (its column is left out)."""
        access = self.level(field)
        if access == "hidden":
            return None
        if access == "full" or value is None or value == "":
            return value
        mask = _MASKS.get(field)
        return mask(value) if mask else "*" * 8

    def visible_columns(self, columns: Iterable[str]) -> list[str]:
        """The columns this role sees at all, in their order."""
        return [name for name in columns if self.sees(name)]

    def hidden_columns(self, columns: Iterable[str]) -> list[str]:
        """The columns this role may not see, in their order."""
        return [name for name in columns if not self.sees(name)]

    def access_of(self, columns: Iterable[str]) -> dict[str, str]:
        """The access this role has to each protected field among ``columns``."""
        return {name: self.level(name) for name in columns if name in ALL_FIELDS}

    def cap_cells(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        made_with: Mapping[str, str],
    ) -> tuple[list[str], list[list[Any]]]:
        """Stored cells (a run's output, a file's body) as this role may see them now.

        ``made_with`` is the access each protected column had when the cells were stored (a
        column it does not name was stored in full, as runs were before masking). A column the
        role may not see is left out; a value stored in full that the role sees masked is
        masked; a value stored masked stays masked, whatever the role sees now.
        """
        keep = [i for i, name in enumerate(columns) if self.sees(name)]
        remask = {
            i
            for i in keep
            if self.level(columns[i]) == "masked" and made_with.get(columns[i], "full") == "full"
        }
        shown = []
        for row in rows:
            cells = [row[i] if i < len(row) else "" for i in keep]
            shown.append(
                [
                    self.stored(columns[i], cell) if i in remask else cell
                    for i, cell in zip(keep, cells, strict=True)
                ]
            )
        return [columns[i] for i in keep], shown


def _lesser(one: str, other: str) -> str:
    """The access level that shows less."""
    return one if access_rank(one) < access_rank(other) else other


def _role_of(session: Session, staff: StaffUser) -> SecurityRole | None:
    access = session.get(StaffAccess, staff.id)
    return access.role if access is not None else None


def _permissions(session: Session, role: SecurityRole) -> dict[str, str]:
    rows = session.execute(
        select(FieldPermission.field, FieldPermission.access).where(
            FieldPermission.role_id == role.id
        )
    ).all()
    return {field: access for field, access in rows if access in ACCESS_LEVELS}


def preview_roles(session: Session) -> list[SecurityRole]:
    """The roles a customer page can be previewed as, in the security area's order."""
    return list(session.scalars(select(SecurityRole).order_by(SecurityRole.id)))


def field_view(session: Session, staff: StaffUser, preview: str | None = None) -> FieldView:
    """How ``staff`` sees customers' protected fields, or a role ``preview`` (by code) as capped
    by the staff member's own access; an unknown preview code is ignored."""
    own_role = _role_of(session, staff)
    own = _permissions(session, own_role) if own_role is not None else {}
    own_view = FieldView(
        own_role.code if own_role else None,
        own_role.name if own_role else "",
        own,
    )
    if not preview or own_role is not None and preview == own_role.code:
        return own_view
    role = session.scalars(select(SecurityRole).where(SecurityRole.code == preview)).first()
    if role is None:
        return own_view
    theirs = _permissions(session, role)
    access = {
        field: _lesser(own_view.level(field), theirs.get(field, DEFAULT_ACCESS[field]))
        for field in ALL_FIELDS
    }
    return FieldView(role.code, role.name, access, preview=True)


PREVIEW_ARG = "as_role"
"""Query argument of the pages that show protected fields: the code of a role to preview."""


def request_field_view() -> FieldView:
    """How the acting staff member (or the role previewed with ``?as_role=``) sees protected
    fields on this request's page (computed once per request)."""
    from flask import g, request

    from sandbox_crm.web.core import actor, db

    if "crm_field_view" not in g:
        preview = request.args.get(PREVIEW_ARG, "").strip()[:32] or None
        g.crm_field_view = field_view(db(), actor(), preview)
    return g.crm_field_view


PRESENCE_OPS = frozenset({"is_null", "not_null"})
"""Operators that only test whether a field has a value, which a masked value shows anyway."""

_CANNOT_FILTER = N_("You cannot filter on %(field)s: your role does not see it in full.")
_CANNOT_FILTER_HIDDEN = N_("You cannot filter on %(field)s: your role may not see it.")
_CANNOT_SORT = N_("You cannot sort by %(field)s: your role does not see it in full.")
_CANNOT_SUMMARISE = N_(
    "You cannot group by %(field)s or show its lowest or highest value: your role does not see"
    " it in full."
)


def _condition_uses(condition: Any) -> Iterator[tuple[str, str]]:
    """Every (field, operator) a condition in the query language tests."""
    if not isinstance(condition, Mapping):
        return
    if "field" in condition:
        yield str(condition.get("field")), str(condition.get("op"))
        return
    for key in ("all", "any"):
        items = condition.get(key)
        if isinstance(items, list | tuple):
            for item in items:
                yield from _condition_uses(item)
    if "not" in condition:
        yield from _condition_uses(condition["not"])


def query_problems(
    view: FieldView,
    filters: Any,
    sort: Iterable[Any] = (),
    revealed: Iterable[str] = (),
) -> list[Message]:
    """Why a report's filters, sort or summary would reveal a field the role does not see in
    full (an empty list if they do not).

    A filter on such a field would work as an oracle (a masked role could find whose HKID
    starts A123 by filtering on it); a sort reveals the values' order. A masked field may still
    be tested for having a value (is_null, not_null). ``revealed`` are the fields a summary
    shows values of (its groups, its lowest and highest values).
    """
    problems: list[Message] = []
    seen: set[tuple[str, str]] = set()

    def add(template: str, field: str) -> None:
        if (template, field) not in seen:
            seen.add((template, field))
            problems.append(Message(template, field=Message(FIELD_LABELS[field])))

    for field, op in _condition_uses(filters):
        if field not in ALL_FIELDS or view.sees_in_full(field):
            continue
        if not view.sees(field):
            add(_CANNOT_FILTER_HIDDEN, field)
        elif op not in PRESENCE_OPS:
            add(_CANNOT_FILTER, field)
    for item in sort or ():
        field = item[0] if isinstance(item, list | tuple) and item else item
        if isinstance(field, str) and field in ALL_FIELDS and not view.sees_in_full(field):
            add(_CANNOT_SORT, field)
    for field in revealed:
        if field in ALL_FIELDS and not view.sees_in_full(field):
            add(_CANNOT_SUMMARISE, field)
    return problems


def hkid_search(view: FieldView, text: str) -> dict[str, Any] | None:
    """A condition finding a customer by an HKID number typed in full, for a role that sees
    identity numbers in full; None for any other role or text (the search must not reveal it)."""
    if not view.sees_in_full("hkid"):
        return None
    found = find_hkids(text.strip())
    if len(found) != 1 or found[0].end - found[0].start != len(text.strip()):
        return None
    return {"field": "hkid", "op": "eq", "value": found[0].value}

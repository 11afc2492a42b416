"""Authorisation rights per role, departments' access requests and staff-misuse flags.

A role's rights are its field permissions (CRM and e-shop fields: hidden, masked or full), its
record scope and whether it may bulk-export customer data; ``set_role_rights`` sets any of them
in one change. A department's access request is answered item by item (granted, granted in
part, refused with a reason), each decision applied to the role's rights, then closed with a
reply. Misuse flags raised from the staff access log are escalated or dismissed with a note.
Only IT, Management and administrator accounts may do any of this.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.clock import sandbox_now
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import StaffUser
from sandbox_crm.operations.base import Arg, Args, OperationError, get_entity, operation
from sandbox_crm.security.fields import ALL_FIELDS, access_rank, scope_rank
from sandbox_crm.security.models import (
    AccessRequest,
    AccessRequestItem,
    FieldPermission,
    MisuseFlag,
    RoleRights,
    SecurityRole,
)
from sandbox_crm.security.operations import (
    Access,
    Scope,
    check_security_permission,
    find_role,
)

__all__ = [
    "close_access_request",
    "decide_access_request_item",
    "review_misuse_flag",
    "role_rights",
    "set_role_rights",
]

REASON_MAX = 500

RequestItem = Literal[
    "hkid",
    "date_of_birth",
    "spend_12m",
    "cust_email",
    "mobile_no",
    "browsing",
    "scope",
    "bulk_export",
]
"""What a department may ask for: a protected field, the record scope or bulk export."""
REPLY_MAX = 2000


def role_rights(session: Session, role: SecurityRole) -> dict[str, Any]:
    """A role's rights: each field's access, its record scope and whether it may bulk-export."""
    rights: dict[str, Any] = dict.fromkeys(ALL_FIELDS, "hidden")
    for permission in session.scalars(
        select(FieldPermission).where(FieldPermission.role_id == role.id)
    ):
        rights[permission.field] = permission.access
    found = session.get(RoleRights, role.id)
    rights["scope"] = found.scope if found is not None else "own"
    rights["bulk_export"] = found.bulk_export if found is not None else False
    return rights


def _apply(
    session: Session, role: SecurityRole, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the changed rights of a role; the before and after of what changed."""
    current = role_rights(session, role)
    changed = {k: v for k, v in changes.items() if v is not None and current[k] != v}
    for name, value in changed.items():
        if name in ("scope", "bulk_export"):
            found = session.get(RoleRights, role.id)
            if found is None:
                found = RoleRights(role_id=role.id, scope="own", bulk_export=False)
                session.add(found)
            setattr(found, name, value)
            continue
        permission = session.scalars(
            select(FieldPermission).where(
                FieldPermission.role_id == role.id, FieldPermission.field == name
            )
        ).first()
        if permission is None:
            session.add(FieldPermission(role_id=role.id, field=name, access=value))
        else:
            permission.access = value
    session.flush()
    return {k: current[k] for k in changed}, changed


# --- a role's rights --------------------------------------------------------------------------


def _field_arg(label: str) -> Any:
    return Arg(default=None, title=label, description=f"{label}: full, masked or hidden.")


class SetRoleRightsArgs(Args):
    """Arguments of set_role_rights: the role and any of its rights (unset ones stay)."""

    role: str = Arg(min_length=1, max_length=32, title="Role", description="The role's code.")
    scope: Scope | None = Arg(
        default=None,
        title="Record scope",
        description="Which customers the role reaches: all, region, branch, own.",
    )
    bulk_export: bool | None = Arg(
        default=None, title="Bulk export", description="Whether the role may export in bulk."
    )
    hkid: Access | None = _field_arg("HKID number")
    date_of_birth: Access | None = _field_arg("Date of birth")
    spend_12m: Access | None = _field_arg("12-month spend")
    cust_email: Access | None = _field_arg("E-shop e-mail")
    mobile_no: Access | None = _field_arg("E-shop mobile")
    browsing: Access | None = _field_arg("Browsing data")


@operation(
    "set_role_rights",
    args=SetRoleRightsArgs,
    event="security.set_role_rights",
    description="Set a role's field permissions, record scope and bulk-export right at once.",
)
def set_role_rights(
    session: Session,
    actor: StaffUser,
    role: str,
    scope: str | None = None,
    bulk_export: bool | None = None,
    **fields: str | None,
) -> SecurityRole:
    """Set any of a role's rights; a change to nothing is refused."""
    check_security_permission(actor)
    found = find_role(session, role)
    before, after = _apply(session, found, {"scope": scope, "bulk_export": bulk_export, **fields})
    if not after:
        raise OperationError(N_("The role already has these rights: nothing to change."), "role")
    record_event(
        session,
        actor,
        "security.set_role_rights",
        "security_role",
        found.id,
        before=before,
        after=after,
        details={"role": found.code, "changes": after},
    )
    return found


# --- a department's access request ------------------------------------------------------------


class DecideAccessRequestItemArgs(Args):
    """Arguments of decide_access_request_item."""

    request_id: int = Arg(title="Access request", description="The access request's id.")
    item: RequestItem = Arg(
        title="Item",
        description="What was asked for: a field's name, scope or bulk_export.",
    )
    decision: Literal["granted", "partly", "refused"] = Arg(
        title="Decision", description="granted, partly (granted in part) or refused."
    )
    grant: Literal["masked", "own", "branch", "region"] | None = Arg(
        default=None,
        title="Granted instead",
        description="For a grant in part: masked for a field, or a narrower record scope.",
    )
    reason: str = Arg(
        default="",
        max_length=REASON_MAX,
        title="Reason",
        description="Why: required when an item is refused or granted in part.",
    )


def _partial_value(item: AccessRequestItem, grant: str | None) -> str:
    """What a grant in part gives, checked against what was asked for."""
    if item.item == "bulk_export":
        raise OperationError(
            N_("Bulk export can only be granted or refused, not granted in part."), "decision"
        )
    if item.item == "scope":
        if grant not in ("own", "branch", "region") or scope_rank(grant) >= scope_rank(
            item.requested
        ):
            raise OperationError(
                N_("A record scope granted in part must be narrower than the one asked for."),
                "grant",
            )
        return grant
    if grant != "masked" or access_rank(grant) >= access_rank(item.requested):
        raise OperationError(
            N_("A field granted in part is masked: choose masked, or refuse the item."), "grant"
        )
    return grant


LEAST = {"scope": "own", "bulk_export": False}


@operation(
    "decide_access_request_item",
    args=DecideAccessRequestItemArgs,
    event="security.decide_access_item",
    description=(
        "Grant, grant in part or refuse one item of a department's access request; the"
        " decision is applied to the role's rights."
    ),
)
def decide_access_request_item(
    session: Session,
    actor: StaffUser,
    request_id: int,
    item: str,
    decision: str,
    grant: str | None = None,
    reason: str = "",
) -> AccessRequestItem:
    """Decide one item and apply it; refusing or granting in part needs a reason.

    Refusing changes no right, except that an item granted earlier in the same request is
    taken back (hidden, own customers, no export).
    """
    check_security_permission(actor)
    request = get_entity(session, AccessRequest, request_id, "access request")
    found = session.scalars(
        select(AccessRequestItem).where(
            AccessRequestItem.request_id == request.id, AccessRequestItem.item == item
        )
    ).first()
    if found is None:
        raise OperationError(
            Message(N_("The request does not ask for %(item)s."), item=item), "item"
        )
    if request.status != "open":
        raise OperationError(N_("The request is already answered."), "request_id")
    return _decide(session, actor, request, found, decision, grant, reason)


def _decide(
    session: Session,
    actor: StaffUser,
    request: AccessRequest,
    item: AccessRequestItem,
    decision: str,
    grant: str | None,
    reason: str,
) -> AccessRequestItem:
    """Apply one decision to the role's rights, record it and audit it."""
    if decision != "granted" and not reason:
        raise OperationError(
            N_("Give a reason when you refuse an item or grant it in part."), "reason"
        )
    value: Any
    if decision == "granted":
        value = True if item.item == "bulk_export" else item.requested
    elif decision == "partly":
        value = _partial_value(item, grant)
    else:
        value = LEAST.get(item.item, "hidden") if item.granted is not None else None
    previous = snapshot(item, ["decision", "granted", "reason"])
    rights_before, rights_after = _apply(session, request.role, {item.item: value})
    item.decision = decision
    item.granted = None if decision == "refused" else str(value).lower()
    item.reason = reason or None
    session.flush()
    record_event(
        session,
        actor,
        "security.decide_access_item",
        "access_request",
        request.id,
        before={**previous, "rights": rights_before},
        after={**snapshot(item, ["decision", "granted", "reason"]), "rights": rights_after},
        details={
            "request_id": request.id,
            "item_id": item.id,
            "item": item.item,
            "role": request.role.code,
            "decision": decision,
        },
    )
    return item


class CloseAccessRequestArgs(Args):
    """Arguments of close_access_request."""

    request_id: int = Arg(title="Access request", description="The access request's id.")
    reply: str = Arg(
        min_length=1,
        max_length=REPLY_MAX,
        title="Reply",
        description="The reply to the department: what is granted, what is not and why.",
    )


@operation(
    "close_access_request",
    args=CloseAccessRequestArgs,
    event="security.answer_access_request",
    description="Answer a department's access request once every item is decided.",
)
def close_access_request(
    session: Session, actor: StaffUser, request_id: int, reply: str
) -> AccessRequest:
    """Record the reply and close the request; refused while an item is undecided."""
    check_security_permission(actor)
    request = get_entity(session, AccessRequest, request_id, "access request")
    if request.status != "open":
        raise OperationError(N_("The request is already answered."), "request_id")
    pending = session.scalars(
        select(AccessRequestItem.item).where(
            AccessRequestItem.request_id == request.id,
            AccessRequestItem.decision == "pending",
        )
    ).all()
    if pending:
        raise OperationError(
            Message(
                N_("Decide every item before answering; still undecided: %(items)s."),
                items=", ".join(pending),
            ),
            "request_id",
        )
    before = snapshot(request, ["status"])
    request.status = "answered"
    request.reply = reply
    request.decided_at = sandbox_now(session)
    request.decided_by_id = actor.id
    session.flush()
    record_event(
        session,
        actor,
        "security.answer_access_request",
        "access_request",
        request.id,
        before=before,
        after=snapshot(request, ["status", "reply"]),
        details={"request_id": request.id, "role": request.role.code},
    )
    return request


# --- staff misuse flags -----------------------------------------------------------------------


class ReviewMisuseFlagArgs(Args):
    """Arguments of review_misuse_flag."""

    flag_id: int = Arg(title="Flag", description="The misuse flag's id.")
    decision: Literal["escalated", "dismissed"] = Arg(
        title="Decision",
        description="escalated (to the Data Protection Officer and HR) or dismissed.",
    )
    note: str = Arg(
        min_length=1,
        max_length=REASON_MAX,
        title="Note",
        description="What the log shows and why it is escalated or dismissed.",
    )


@operation(
    "review_misuse_flag",
    args=ReviewMisuseFlagArgs,
    event="security.review_misuse_flag",
    description="Escalate or dismiss a staff-misuse flag from the access log, with a note.",
)
def review_misuse_flag(
    session: Session, actor: StaffUser, flag_id: int, decision: str, note: str
) -> MisuseFlag:
    """Escalate or dismiss a flag; an escalated flag cannot be dismissed afterwards."""
    check_security_permission(actor)
    flag = get_entity(session, MisuseFlag, flag_id, "misuse flag")
    if flag.status == "escalated":
        raise OperationError(N_("The flag is already escalated."), "flag_id")
    if flag.staff_id == actor.id:
        raise OperationError(N_("You cannot review a flag about your own account."), "flag_id")
    before = snapshot(flag, ["status", "note"])
    flag.status = decision
    flag.note = note
    flag.reviewed_at = sandbox_now(session)
    flag.reviewed_by_id = actor.id
    session.flush()
    record_event(
        session,
        actor,
        "security.review_misuse_flag",
        "misuse_flag",
        flag.id,
        before=before,
        after=snapshot(flag, ["status", "note"]),
        details={"flag_id": flag.id, "staff_id": flag.staff_id, "pattern": flag.pattern},
    )
    return flag

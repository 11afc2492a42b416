"""Importing the e-shop into the CRM, and the data-quality review queue.

Import: ``run_eshop_sync`` proposes candidate CRM customers for each account not yet decided,
with a score and reasons; the trainee then merges a true duplicate, links it, creates a new
customer, or leaves the account for review. Every decision writes a line of the import log
and an audit event. Merging and linking copy the account's newsletter consents into the CRM's
consent log with their own dates, so a later e-shop unsubscribe stays in force.

Data quality: ``run_quality_rules`` raises issues into the review queue; a profile-update
request asks the customer to complete their own details by a channel; an issue is closed with a
resolution and a reason. Nothing here fills a missing detail in: only the customer can.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import model_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sandbox_crm.audit import record_event, snapshot
from sandbox_crm.catalogue_data import CHANNEL_CONTACT_KINDS
from sandbox_crm.clock import sandbox_now
from sandbox_crm.consent import current_consent_status
from sandbox_crm.eshop.matching import (
    CANDIDATE_SCORE,
    MAX_CANDIDATES,
    CustomerKeys,
    crm_name,
    digits,
    reasons_for,
    score,
)
from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopConsent,
    EshopImportEntry,
    EshopMatch,
    EshopSync,
    IssueStatus,
    ProfileUpdateRequest,
    QualityIssue,
    QualityScan,
    ReconStatus,
)
from sandbox_crm.hk_provider import DISTRICTS, member_number
from sandbox_crm.i18n import N_, Message
from sandbox_crm.models import (
    CollectionNotice,
    ConsentPurpose,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerStatus,
    SourceSystem,
    StaffUser,
    Tier,
)
from sandbox_crm.operations.base import (
    Arg,
    Args,
    OperationError,
    get_customer,
    get_entity,
    operation,
)
from sandbox_crm.plants import looks_like_email

__all__ = [
    "QUALITY_RULES",
    "RESOLUTIONS",
    "close_quality_issue",
    "create_customer_from_eshop",
    "data_quality_findings",
    "leave_eshop_account_for_review",
    "link_eshop_account",
    "merge_eshop_account",
    "request_profile_update",
    "run_eshop_sync",
    "run_quality_rules",
    "usable_contact",
]

QUALITY_RULES = {
    "missing_district": N_("District missing"),
    "malformed_email": N_("E-mail address malformed"),
    "malformed_phone": N_("Mobile number malformed"),
    "stale_address": N_("Address flagged as out of date"),
    "duplicate_account": N_("Another active member has the same mobile number"),
    "name_mismatch": N_("Name differs from the linked e-shop account"),
}
RESOLUTIONS = ("corrected", "no_consented_channel", "not_an_issue", "duplicate_merged")
SETTLED = ("no_consented_channel", "not_an_issue")
"""Resolutions that record a decision: the rules do not raise the same issue again."""
NOTE_MAX = 500


def _account(session: Session, account_id: int) -> EshopAccount:
    return get_entity(session, EshopAccount, account_id, "e-shop account")


def _undecided(account: EshopAccount) -> None:
    if account.recon_status not in (ReconStatus.UNREVIEWED, ReconStatus.REVIEW):
        raise OperationError(
            Message(
                N_("E-shop account %(account)s is already %(status)s."),
                account=account.account_no,
                status=Message(account.recon_status),
            ),
            "account_id",
        )


def _keys(session: Session) -> list[CustomerKeys]:
    contacts: dict[int, dict[str, list[str]]] = {}
    for customer_id, kind, value in session.execute(
        select(ContactPoint.customer_id, ContactPoint.kind, ContactPoint.value).where(
            ContactPoint.kind.in_(("email", "mobile"))
        )
    ):
        contacts.setdefault(customer_id, {}).setdefault(kind, []).append(value)
    return [
        CustomerKeys(
            cid,
            name,
            district or "",
            tuple(contacts.get(cid, {}).get("email", ())),
            tuple(digits(v) for v in contacts.get(cid, {}).get("mobile", ())),
        )
        for cid, name, district in session.execute(
            select(Customer.id, Customer.name_en, Customer.district)
            .where(Customer.status != CustomerStatus.CLOSED.value)
            .order_by(Customer.id)
        )
    ]


def _log(
    session: Session,
    actor: StaffUser,
    account: EshopAccount,
    action: str,
    note: str,
    consents: int = 0,
) -> EshopImportEntry:
    entry = EshopImportEntry(
        account_id=account.id,
        action=action,
        customer_id=account.customer_id,
        consents_copied=consents,
        note=note,
        done_at=sandbox_now(session),
        done_by_id=actor.id,
    )
    session.add(entry)
    session.flush()
    return entry


class NoArgs(Args):
    """An operation with no arguments."""


@operation(
    "run_eshop_sync",
    args=NoArgs,
    event="eshop.sync",
    description="Compare the e-shop's undecided accounts with the CRM and list candidate matches.",
)
def run_eshop_sync(session: Session, actor: StaffUser) -> EshopSync:
    """Find candidate CRM customers, with a score and reasons, for every undecided account."""
    accounts = list(
        session.scalars(
            select(EshopAccount)
            .where(EshopAccount.recon_status.in_((ReconStatus.UNREVIEWED, ReconStatus.REVIEW)))
            .order_by(EshopAccount.id)
        )
    )
    if not accounts:
        raise OperationError(N_("Every e-shop account has already been decided."))
    ids = [a.id for a in accounts]
    session.execute(delete(EshopMatch).where(EshopMatch.account_id.in_(ids)))
    keys = _keys(session)
    now = sandbox_now(session)
    found: list[EshopMatch] = []
    for account in accounts:
        scored = []
        for customer in keys:
            reasons = reasons_for(account, customer)
            if reasons and score(reasons) >= CANDIDATE_SCORE:
                scored.append((-score(reasons), customer.customer_id, reasons))
        for negative, customer_id, reasons in sorted(scored)[:MAX_CANDIDATES]:
            match = EshopMatch(
                account_id=account.id,
                customer_id=customer_id,
                score=-negative,
                reasons=json.dumps(reasons),
                found_at=now,
            )
            session.add(match)
            found.append(match)
    sync = EshopSync(run_at=now, run_by_id=actor.id, accounts=len(accounts), candidates=len(found))
    session.add(sync)
    session.flush()
    record_event(
        session,
        actor,
        "eshop.sync",
        "eshop_sync",
        sync.id,
        after=snapshot(sync, ["accounts", "candidates"]),
        details={
            "candidates": [
                {"account_id": m.account_id, "customer_id": m.customer_id, "score": m.score}
                for m in found
            ],
        },
    )
    return sync


class AccountArgs(Args):
    """Arguments naming one e-shop account."""

    account_id: int = Arg(title="E-shop account", description="The e-shop account's id.")


class MatchArgs(AccountArgs):
    """Arguments of link_eshop_account."""

    customer_id: int | None = Arg(
        None,
        title="Customer",
        description="The CRM customer it is the same as (default: the sync's best candidate).",
    )
    note: str = Arg("", title="Note", max_length=NOTE_MAX, description="Why (optional).")


class MergeArgs(MatchArgs):
    """Arguments of merge_eshop_account."""

    consents: Literal["all", "crm_only"] = Arg(
        "all",
        title="Consents to keep",
        description="all (every e-shop consent record joins the CRM's log) or crm_only.",
    )


def _candidate(session: Session, account: EshopAccount, customer_id: int | None) -> EshopMatch:
    """The sync's candidate for this customer (its best candidate if none is named)."""
    query = select(EshopMatch).where(EshopMatch.account_id == account.id)
    if customer_id is not None:
        query = query.where(EshopMatch.customer_id == customer_id)
    match = session.scalars(query.order_by(EshopMatch.score.desc(), EshopMatch.id)).first()
    if match is None and customer_id is None:
        raise OperationError(
            Message(
                N_("E-shop account %(account)s has no candidate match: run the sync first."),
                account=account.account_no,
            ),
            "account_id",
        )
    if match is None:
        raise OperationError(
            Message(
                N_(
                    "Customer %(customer)s is not a candidate match for e-shop account"
                    " %(account)s: run the sync and choose one of its candidates."
                ),
                customer=customer_id,
                account=account.account_no,
            ),
            "customer_id",
        )
    return match


def _copy_consents(session: Session, actor: StaffUser, account: EshopAccount) -> list[int]:
    """Add the account's newsletter consents to the CRM's consent log, dates kept."""
    customer = session.get_one(Customer, account.customer_id)
    added = []
    for consent in session.scalars(
        select(EshopConsent).where(EshopConsent.account_id == account.id).order_by(EshopConsent.id)
    ):
        record = ConsentRecord(
            customer_id=customer.id,
            purpose=ConsentPurpose.DIRECT_MARKETING.value,
            channel=consent.channel,
            status=consent.status,
            method="online_form" if consent.status != "withdrawn" else "unsubscribe_link",
            captured_at=consent.captured_at,
            notice_id=customer.collection_notice_id,
            recorded_by_id=actor.id,
            note=f"From e-shop account {account.account_no} ({consent.method})",
        )
        session.add(record)
        session.flush()
        added.append(record.id)
    _sync_opt_outs(session, customer)
    return added


def _sync_opt_outs(session: Session, customer: Customer) -> None:
    """Mark the contact points of channels now withdrawn as opted out."""
    for channel, kinds in CHANNEL_CONTACT_KINDS.items():
        status = current_consent_status(
            session, customer.id, ConsentPurpose.DIRECT_MARKETING.value, channel
        )
        if status != "withdrawn":
            continue
        for point in customer.contact_points:
            if point.kind in kinds:
                point.opted_out = True


def _add_contact(session: Session, customer: Customer, kind: str, value: str | None) -> bool:
    if not value or any(p.kind == kind for p in customer.contact_points):
        return False
    session.add(ContactPoint(customer_id=customer.id, kind=kind, value=value, is_primary=True))
    session.flush()
    session.refresh(customer)
    return True


def _decide(
    session: Session,
    actor: StaffUser,
    account: EshopAccount,
    customer: Customer,
    action: str,
    note: str,
    keep_consents: bool,
    match: EshopMatch,
) -> EshopAccount:
    before = snapshot(account, ["recon_status", "customer_id"])
    account.customer_id = customer.id
    account.recon_status = action
    filled = []
    if action == ReconStatus.MERGED:
        if not customer.district and account.district:
            customer.district = account.district
            customer.region = DISTRICTS[account.district]
            filled.append("district")
        if _add_contact(session, customer, "email", account.cust_email):
            filled.append("email")
        if _add_contact(session, customer, "mobile", digits(account.mobile_no) or None):
            filled.append("mobile")
    session.flush()
    copied = _copy_consents(session, actor, account) if keep_consents else []
    entry = _log(session, actor, account, action, note, len(copied))
    record_event(
        session,
        actor,
        f"eshop.{'merge' if action == ReconStatus.MERGED else 'link'}",
        "eshop_account",
        account.id,
        before=before,
        after=snapshot(account, ["recon_status", "customer_id"]),
        details={
            "account_id": account.id,
            "customer_id": customer.id,
            "consent_record_ids": copied,
            "consents_dropped": 0 if keep_consents else _consent_count(session, account),
            "opt_outs_dropped": [] if keep_consents else _opt_outs(session, account),
            "filled": filled,
            "import_entry_id": entry.id,
            "score": match.score,
            "reasons": json.loads(match.reasons or "[]"),
        },
    )
    return account


def _consent_count(session: Session, account: EshopAccount) -> int:
    return len(
        list(session.scalars(select(EshopConsent.id).where(EshopConsent.account_id == account.id)))
    )


def _opt_outs(session: Session, account: EshopAccount) -> list[dict[str, str]]:
    """The account's unsubscribes, as the merge's event records those it did not keep."""
    return [
        {"channel": c.channel, "captured_at": c.captured_at.isoformat()}
        for c in session.scalars(
            select(EshopConsent)
            .where(EshopConsent.account_id == account.id, EshopConsent.status == "withdrawn")
            .order_by(EshopConsent.id)
        )
    ]


def _open_customer(session: Session, customer_id: int) -> Customer:
    customer = get_customer(session, customer_id)
    if customer.status == CustomerStatus.CLOSED:
        raise OperationError(N_("That customer's membership is closed."), "customer_id")
    return customer


def _undecided_match(
    session: Session, account_id: int, customer_id: int | None
) -> tuple[EshopAccount, EshopMatch, Customer]:
    """An account not yet decided, its chosen candidate match and that customer (not closed)."""
    account = _account(session, account_id)
    _undecided(account)
    match = _candidate(session, account, customer_id)
    return account, match, _open_customer(session, match.customer_id)


@operation(
    "merge_eshop_account",
    args=MergeArgs,
    event="eshop.merge",
    description="Merge an e-shop account into the CRM customer it duplicates.",
)
def merge_eshop_account(
    session: Session,
    actor: StaffUser,
    account_id: int,
    customer_id: int | None = None,
    note: str = "",
    consents: str = "all",
) -> EshopAccount:
    """Merge a true duplicate: fill what the CRM lacks, keep every consent record."""
    account, match, customer = _undecided_match(session, account_id, customer_id)
    keep = consents == "all"
    return _decide(session, actor, account, customer, ReconStatus.MERGED, note, keep, match)


@operation(
    "link_eshop_account",
    args=MatchArgs,
    event="eshop.link",
    description="Link an e-shop account to its CRM customer without changing the customer.",
)
def link_eshop_account(
    session: Session,
    actor: StaffUser,
    account_id: int,
    customer_id: int | None = None,
    note: str = "",
) -> EshopAccount:
    """Link an account to a candidate customer; its consents join the customer's log."""
    account, match, customer = _undecided_match(session, account_id, customer_id)
    return _decide(session, actor, account, customer, ReconStatus.LINKED, note, True, match)


class CreateArgs(AccountArgs):
    """Arguments of create_customer_from_eshop."""

    note: str = Arg("", title="Note", max_length=NOTE_MAX, description="Why (optional).")


@operation(
    "create_customer_from_eshop",
    args=CreateArgs,
    event="eshop.create",
    description="Create a new CRM customer from an e-shop account that matches nobody.",
)
def create_customer_from_eshop(
    session: Session, actor: StaffUser, account_id: int, note: str = ""
) -> EshopAccount:
    """A new customer from the account, with its contacts, notice and consents."""
    account = _account(session, account_id)
    _undecided(account)
    new_id = (session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1)) or 0) + 1
    now = sandbox_now(session)
    registered = account.registered_at.date()
    notice_id = session.scalar(
        select(CollectionNotice.id)
        .where(CollectionNotice.effective_from <= registered)
        .order_by(CollectionNotice.effective_from.desc(), CollectionNotice.id.desc())
        .limit(1)
    )
    district = account.district or ""
    customer = Customer(
        id=new_id,
        member_no=member_number(new_id),
        source_system=SourceSystem.ESHOP.value,
        name_en=crm_name(account),
        district=district,
        region=DISTRICTS.get(district, ""),
        tier=Tier.CLASSIC.value,
        status=CustomerStatus.ACTIVE.value,
        preferred_language="en",
        joined_on=registered,
        collection_notice_id=notice_id,
        notes="",
        created_at=now,
        updated_at=now,
    )
    session.add(customer)
    session.flush()
    _add_contact(session, customer, "email", account.cust_email)
    _add_contact(session, customer, "mobile", digits(account.mobile_no) or None)
    before = snapshot(account, ["recon_status", "customer_id"])
    account.customer_id = customer.id
    account.recon_status = ReconStatus.CREATED
    copied = _copy_consents(session, actor, account)
    entry = _log(session, actor, account, ReconStatus.CREATED, note, len(copied))
    record_event(
        session,
        actor,
        "eshop.create",
        "eshop_account",
        account.id,
        before=before,
        after=snapshot(account, ["recon_status", "customer_id"]),
        details={
            "account_id": account.id,
            "customer_id": customer.id,
            "consent_record_ids": copied,
            "import_entry_id": entry.id,
        },
    )
    return account


class ReviewArgs(AccountArgs):
    """Arguments of leave_eshop_account_for_review."""

    reason: str = Arg(
        title="Reason", min_length=1, max_length=NOTE_MAX, description="What needs checking."
    )


@operation(
    "leave_eshop_account_for_review",
    args=ReviewArgs,
    event="eshop.review",
    description="Leave an uncertain e-shop account for review, with the reason.",
)
def leave_eshop_account_for_review(
    session: Session, actor: StaffUser, account_id: int, reason: str
) -> EshopAccount:
    """Mark an account as left for review; nothing in the CRM changes."""
    account = _account(session, account_id)
    if account.recon_status == ReconStatus.REVIEW:
        raise OperationError(N_("The account is already left for review."), "account_id")
    _undecided(account)
    before = snapshot(account, ["recon_status"])
    account.recon_status = ReconStatus.REVIEW
    entry = _log(session, actor, account, ReconStatus.REVIEW, reason)
    record_event(
        session,
        actor,
        "eshop.review",
        "eshop_account",
        account.id,
        before=before,
        after=snapshot(account, ["recon_status"]),
        details={"account_id": account.id, "import_entry_id": entry.id, "reason": reason},
    )
    return account


# --- data quality -------------------------------------------------------------------------------


def _malformed_mobile(value: str) -> bool:
    number = digits(value)
    return not (len(number) == 8 and number[0] in "4569")


def data_quality_findings(session: Session) -> list[tuple[int, str, str]]:
    """(customer id, rule, detail) for every active customer a rule finds wanting."""
    found: list[tuple[int, str, str]] = []
    active = dict(
        session.execute(
            select(Customer.id, Customer.district).where(
                Customer.status == CustomerStatus.ACTIVE.value
            )
        ).all()
    )
    for cid in sorted(active):
        if not active[cid]:
            found.append((cid, "missing_district", ""))
    by_mobile: dict[str, list[int]] = {}
    for point in session.scalars(select(ContactPoint).order_by(ContactPoint.id)):
        if point.customer_id not in active:
            continue
        if point.kind == "email" and not looks_like_email(point.value.lower()):
            found.append((point.customer_id, "malformed_email", point.value))
        elif point.kind == "mobile" and _malformed_mobile(point.value):
            found.append((point.customer_id, "malformed_phone", point.value))
        elif point.kind == "address" and point.is_invalid:
            found.append((point.customer_id, "stale_address", ""))
        if point.kind == "mobile" and not _malformed_mobile(point.value):
            owners = by_mobile.setdefault(digits(point.value), [])
            if point.customer_id not in owners:
                owners.append(point.customer_id)
    for owners in by_mobile.values():
        for cid in sorted(owners)[1:]:
            found.append((cid, "duplicate_account", str(sorted(owners)[0])))
    for account in session.scalars(
        select(EshopAccount).where(EshopAccount.customer_id.isnot(None)).order_by(EshopAccount.id)
    ):
        customer = session.get(Customer, account.customer_id)
        if customer is None or customer.id not in active:
            continue
        if " ".join(crm_name(account).lower().split()) != " ".join(
            customer.name_en.lower().split()
        ):
            found.append((customer.id, "name_mismatch", account.account_no))
    return found


@operation(
    "run_quality_rules",
    args=NoArgs,
    event="quality.scan",
    description="Run the data-quality rules and raise new issues into the review queue.",
)
def run_quality_rules(session: Session, actor: StaffUser) -> QualityScan:
    """Raise an issue for each finding that has none still open or closed as reviewed.

    An issue closed because the customer cannot be asked, or as not an issue, is a decision
    already made: the rules do not raise it again. One closed as corrected is raised again if
    the rule still finds the same fault.
    """
    pending = {
        (i.customer_id, i.rule)
        for i in session.scalars(
            select(QualityIssue).where(
                (QualityIssue.status != IssueStatus.CLOSED) | QualityIssue.resolution.in_(SETTLED)
            )
        )
    }
    now = sandbox_now(session)
    raised = []
    for cid, rule, detail in data_quality_findings(session):
        if (cid, rule) in pending:
            continue
        pending.add((cid, rule))
        issue = QualityIssue(customer_id=cid, rule=rule, detail=detail, raised_at=now)
        session.add(issue)
        raised.append(issue)
    scan = QualityScan(run_at=now, run_by_id=actor.id, raised=len(raised))
    session.add(scan)
    session.flush()
    record_event(
        session,
        actor,
        "quality.scan",
        "quality_scan",
        scan.id,
        after=snapshot(scan, ["raised"]),
        details={
            "raised": [
                {"issue_id": i.id, "customer_id": i.customer_id, "rule": i.rule} for i in raised
            ]
        },
    )
    return scan


def _issue(session: Session, issue_id: int) -> QualityIssue:
    issue = get_entity(session, QualityIssue, issue_id, "data-quality issue")
    if issue.status == IssueStatus.CLOSED:
        raise OperationError(N_("The issue is already closed."), "issue_id")
    return issue


def usable_contact(session: Session, customer_id: int, channel: str) -> ContactPoint | None:
    """The customer's first contact point the channel reaches that is well formed and valid."""
    for point in session.scalars(
        select(ContactPoint)
        .where(
            ContactPoint.customer_id == customer_id,
            ContactPoint.kind.in_(CHANNEL_CONTACT_KINDS[channel]),
            ContactPoint.is_invalid.is_(False),
        )
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
    ):
        if point.kind == "email" and not looks_like_email(point.value.lower()):
            continue
        if point.kind == "mobile" and _malformed_mobile(point.value):
            continue
        return point
    return None


class IssueArgs(Args):
    """Arguments naming one data-quality issue: by id, or by its customer and rule."""

    issue_id: int | None = Arg(None, title="Issue", description="The data-quality issue's id.")
    customer_id: int | None = Arg(
        None, description="The customer's id (with rule, instead of issue_id)."
    )
    rule: str | None = Arg(None, description="The rule that raised it (with customer_id).")

    @model_validator(mode="after")
    def _one_issue(self) -> IssueArgs:
        if (self.issue_id is None) == (self.customer_id is None or self.rule is None):
            raise ValueError("give either issue_id or customer_id and rule")
        return self

    def call_arguments(self, session: Session, actor: StaffUser) -> dict[str, Any]:
        """The other fields by name, and the issue as ``issue_id``."""
        values = super().call_arguments(session, actor)
        customer_id, rule = values.pop("customer_id"), values.pop("rule")
        if values["issue_id"] is None:
            found = session.scalars(
                select(QualityIssue.id)
                .where(QualityIssue.customer_id == customer_id, QualityIssue.rule == rule)
                .order_by(QualityIssue.status == IssueStatus.CLOSED, QualityIssue.id.desc())
            ).first()
            if found is None:
                raise OperationError(
                    Message(
                        N_("Customer %(customer)s has no %(rule)s issue: run the rules first."),
                        customer=customer_id,
                        rule=rule,
                    )
                )
            values["issue_id"] = found
        return values


class RequestArgs(IssueArgs):
    """Arguments of request_profile_update."""

    channel: Literal["email", "sms", "post"] = Arg(
        title="Channel", description="email, sms or post: how the request reaches the customer."
    )


@operation(
    "request_profile_update",
    args=RequestArgs,
    event="quality.request",
    description="Ask the customer, by a channel, to check and complete their own details.",
)
def request_profile_update(
    session: Session, actor: StaffUser, issue_id: int, channel: str
) -> QualityIssue:
    """Send a profile-update request to a well-formed contact point of the channel."""
    issue = _issue(session, issue_id)
    point = usable_contact(session, issue.customer_id, channel)
    if point is None:
        raise OperationError(
            Message(
                N_("The customer has no valid contact point for %(channel)s."),
                channel=Message(channel),
            ),
            "channel",
        )
    consent = current_consent_status(
        session, issue.customer_id, ConsentPurpose.DIRECT_MARKETING.value, channel
    )
    request = ProfileUpdateRequest(
        customer_id=issue.customer_id,
        issue_id=issue.id,
        channel=channel,
        contact_point_id=point.id,
        sent_at=sandbox_now(session),
        sent_by_id=actor.id,
    )
    session.add(request)
    before = snapshot(issue, ["status"])
    issue.status = IssueStatus.REQUESTED
    session.flush()
    record_event(
        session,
        actor,
        "quality.request",
        "quality_issue",
        issue.id,
        before=before,
        after=snapshot(issue, ["status"]),
        details={
            "issue_id": issue.id,
            "customer_id": issue.customer_id,
            "request_id": request.id,
            "channel": channel,
            "contact_point_id": point.id,
            "consent_status": consent,
            "contact_opted_out": point.opted_out,
        },
    )
    return issue


class CloseArgs(IssueArgs):
    """Arguments of close_quality_issue."""

    resolution: Literal["corrected", "no_consented_channel", "not_an_issue", "duplicate_merged"] = (
        Arg(title="Resolution", description="How the issue ended.")
    )
    reason: str = Arg(
        title="Reason", min_length=1, max_length=NOTE_MAX, description="Why it can be closed."
    )


@operation(
    "close_quality_issue",
    args=CloseArgs,
    event="quality.close",
    description="Close a data-quality issue with its resolution and the reason.",
)
def close_quality_issue(
    session: Session, actor: StaffUser, issue_id: int, resolution: str, reason: str
) -> QualityIssue:
    """Close an open or requested issue with a resolution and a reason."""
    issue = _issue(session, issue_id)
    before = snapshot(issue, ["status", "resolution", "close_reason"])
    issue.status = IssueStatus.CLOSED
    issue.resolution = resolution
    issue.close_reason = reason
    issue.closed_at = sandbox_now(session)
    issue.closed_by_id = actor.id
    session.flush()
    record_event(
        session,
        actor,
        "quality.close",
        "quality_issue",
        issue.id,
        before=before,
        after=snapshot(issue, ["status", "resolution", "close_reason"]),
        details={"issue_id": issue.id, "customer_id": issue.customer_id, "rule": issue.rule},
    )
    return issue

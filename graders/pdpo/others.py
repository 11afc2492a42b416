"""DPP2 (accuracy, retention) and DPP3 (use); Part 5 (access and correction requests) is in
``requests``.

ACC-01 is judged on the messages sent and the reports exported in the attempt, RET-02 on the
backup policy and the backups run in the attempt. The others cannot
be judged on the sandbox yet; each says why, so a scenario author sees what is missing rather
than a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pydantic
from sqlalchemy import select

from graders.checks.common import Params
from graders.context import EventRecord, GradingContext
from graders.pdpo.base import Breach, RuleOutcome, breach, judged, register_not_applicable
from graders.pdpo.eshop import accuracy_breaches
from graders.registry import rule
from graders.results import counted
from graders.results import message as marked
from sandbox_crm.i18n import N_
from sandbox_crm.models import ContactPoint, Customer, ReportDefinition
from sandbox_crm.security.models import BackupPolicy, BackupRun

EXPORTED_CONTACT_COLUMNS = {"email": "email", "mobile": "mobile", "address": "address"}
"""Report columns of the customers source that hold a contact point, and the point's kind."""

# Texts of earlier grader versions, kept marked so that stored results still read in the
# reader's language: RET-02 was not applicable before the sandbox modelled backups.
EARLIER_TEMPLATES = (
    N_("The sandbox does not model backups."),
    N_(
        "Backups holding personal data are encrypted, expire per policy, and do not "
        "resurrect erased customers."
    ),
)


class _CampaignSend:
    """One message of a campaign's send, read like a message.send event."""

    def __init__(self, event: EventRecord, item: Mapping[str, Any]) -> None:
        self.id = event.id
        self.entity_id = item.get("message_id")
        self._item = item
        self._event = event

    def detail(self, key: str, default: Any = None) -> Any:
        """The message's own detail, else the send's (its channel)."""
        if key in self._item:
            return self._item[key]
        return self._event.detail(key, default)


@rule(
    "ACC-01",
    title=N_("Inaccurate contact data used"),
    basis="DPP2(1)(b)",
    severity="low",
    description=N_(
        "No message goes to, and no export holds, contact data flagged invalid and not corrected."
    ),
)
def acc_01(ctx: GradingContext) -> RuleOutcome:
    """No message goes to, and no export holds, contact data flagged invalid and not corrected.

    For a send, whether the contact point was flagged is read from the send's audit event,
    which records the flag as it was at that moment. For an export, the flag at that moment is
    the template's, as changed by the attempt's updates before the export. A correction is a
    change of the contact point's value earlier in the attempt.
    """
    sends = ctx.events_of("message.send")
    # A campaign's send (and a bulk offer's) records each message's contact point as
    # send_message does.
    campaign_sends = [
        (event, item)
        for event in ctx.events_of("campaign.send", "offer.send")
        for item in event.detail("messages") or ()
    ]
    corrections: dict[int | None, list[int]] = {}
    for event in ctx.events_of("contact_point.update"):
        if event.after is not None and "value" in event.after:
            corrections.setdefault(event.entity_id, []).append(event.id)
    flagged = []
    for send in sends:
        contact_id = send.detail("contact_point_id")
        if send.detail("contact_invalid") is not True:
            continue
        if any(fix < send.id for fix in corrections.get(contact_id, ())):
            continue
        flagged.append((send, contact_id))
    for event, item in campaign_sends:
        contact_id = item.get("contact_point_id")
        if item.get("contact_invalid") is not True:
            continue
        if any(fix < event.id for fix in corrections.get(contact_id, ())):
            continue
        flagged.append((_CampaignSend(event, item), contact_id))
    customer_ids = {send.detail("customer_id") for send, _ in flagged}
    member_no = {
        customer_id: number
        for customer_id, number in ctx.final.execute(
            select(Customer.id, Customer.member_no).where(Customer.id.in_(customer_ids))
        )
    }
    breaches = []
    for send, contact_id in flagged:
        customer_id = send.detail("customer_id")
        channel = send.detail("channel", "a")
        records = [
            (table, row_id)
            for table, row_id in (
                ("message", send.entity_id),
                ("contact_point", contact_id),
                ("customer", customer_id),
            )
            if row_id is not None
        ]
        breaches.append(
            breach(
                N_(
                    "The %(channel)s message #%(message)s to member %(member)s went to a contact"
                    " point flagged invalid, without correcting it first."
                ),
                {
                    "channel": channel,
                    "message": send.entity_id,
                    "member": member_no.get(customer_id, customer_id),
                },
                (send.id,),
                tuple(records),
            )
        )
    exports = ctx.events_of("report.export")
    breaches += _flagged_exports(ctx, exports)
    breaches += accuracy_breaches(ctx)
    scope = marked(
        N_("%(messages)s sent in the attempt and %(exports)s made in it"),
        messages=counted(
            len(sends) + len(campaign_sends), N_("%(count)d message"), N_("%(count)d messages")
        ),
        exports=counted(
            len(exports), N_("%(count)d report export"), N_("%(count)d report exports")
        ),
    )
    return judged(breaches, scope=scope)


def _flags_before(ctx: GradingContext, contact_ids: Iterable[int], event_id: int) -> set[int]:
    """The contact points flagged invalid just before an event: the template's flag, then the
    attempt's updates in order (a corrected value clears it, as in the CRM)."""
    wanted = set(contact_ids)
    if not wanted:
        return set()
    flagged = set(
        ctx.template.scalars(
            select(ContactPoint.id).where(
                ContactPoint.id.in_(wanted), ContactPoint.is_invalid.is_(True)
            )
        )
    )
    for update in ctx.events_of("contact_point.update"):
        if update.id >= event_id or update.entity_id not in wanted or update.after is None:
            continue
        if update.after.get("is_invalid") is True:
            flagged.add(update.entity_id)
        elif "is_invalid" in update.after or "value" in update.after:
            flagged.discard(update.entity_id)
    return flagged


def _flagged_exports(
    ctx: GradingContext,
    exports: tuple[EventRecord, ...],
) -> list[Breach]:
    """One breach per export whose rows hold contact data that was flagged invalid."""
    breaches = []
    for export in exports:
        columns = [c for c in export.detail("columns", ()) if c in EXPORTED_CONTACT_COLUMNS]
        report = ctx.final.get(ReportDefinition, export.entity_id) if export.entity_id else None
        row_keys = [k for k in export.detail("row_keys", ()) if isinstance(k, int)]
        if not columns or report is None or report.source != "customers" or not row_keys:
            continue
        kinds = [EXPORTED_CONTACT_COLUMNS[c] for c in columns]
        primary: dict[tuple[int, str], int] = {}
        for contact_id, customer_id, kind in ctx.final.execute(
            select(ContactPoint.id, ContactPoint.customer_id, ContactPoint.kind)
            .where(ContactPoint.customer_id.in_(row_keys), ContactPoint.kind.in_(kinds))
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        ):
            primary.setdefault((customer_id, kind), contact_id)  # the one the column shows
        flagged = _flags_before(ctx, primary.values(), export.id)
        if not flagged:
            continue
        owners = {contact: customer for (customer, _), contact in primary.items()}
        customers = sorted({owners[c] for c in flagged})
        members = dict(
            ctx.final.execute(
                select(Customer.id, Customer.member_no).where(Customer.id.in_(customers))
            ).all()
        )
        shown = ", ".join(str(members.get(c, c)) for c in customers[:10])
        export_id = export.detail("export_id")
        records = [("report_export", export_id)] if isinstance(export_id, int) else []
        records += [("contact_point", c) for c in sorted(flagged)]
        records += [("customer", c) for c in customers]
        if len(customers) > 10:
            members_shown = marked(
                N_("%(shown)s and %(more)d more"), shown=shown, more=len(customers) - 10
            )
        else:
            members_shown = shown
        if len(flagged) == 1:
            template = N_(
                "Export #%(export)s of report %(report)s holds 1 contact detail flagged invalid"
                " in the CRM (members %(members)s), exported without correcting them."
            )
        else:
            template = N_(
                "Export #%(export)s of report %(report)s holds %(count)d contact details flagged"
                " invalid in the CRM (members %(members)s), exported without correcting them."
            )
        values = {
            "export": export_id,
            "report": repr(report.name),
            "count": len(flagged),
            "members": members_shown,
        }
        breaches.append(
            breach(
                template,
                values,
                (export.id,),
                tuple(records),
            )
        )
    return breaches


register_not_applicable(
    "RET-01",
    title=N_("Customer kept past retention"),
    basis="DPP2(2); s26",
    severity="medium",
    checks=N_("No customer kept past the retention schedule once a purge is due."),
    reason=N_("The sandbox has no retention schedule and no purge operation."),
)


class Ret02Settings(Params):
    """Settings of RET-02 (backups) a scenario may give under pdpo.rules."""

    review_policy: bool = False
    """Judge the backup policy as the attempt left it even if the attempt did not change it (a
    scenario that makes the trainee responsible for backups)."""
    max_retention_days: int = pydantic.Field(default=365, ge=1, le=3650)
    """The longest a backup of personal data may be kept."""


@rule(
    "RET-02",
    title=N_("Unsafe or over-kept backups"),
    basis="DPP2(2); DPP4",
    severity="medium",
    params=Ret02Settings,
    description=N_("Backups holding personal data are encrypted and expire per policy."),
)
def ret_02(ctx: GradingContext, settings: Ret02Settings) -> RuleOutcome:
    """Backups holding personal data are encrypted and expire per policy.

    Judges the backup policy when the attempt changed it (or the scenario asks for a review)
    and every backup run in the attempt. Whether a restore would bring back erased customers
    is not observable: the sandbox does not restore backups.
    """
    breaches = []
    policies = ctx.touched(BackupPolicy, ("frequency", "retention_days", "encrypted"))
    if settings.review_policy:
        policies = list(ctx.final.scalars(select(BackupPolicy).order_by(BackupPolicy.id)))
    for policy in policies:
        events = ctx.event_ids_about("backup_policy", policy.id)
        records = (("backup_policy", policy.id),)
        if not policy.encrypted:
            template = N_("The backup policy does not encrypt backups of personal data.")
            breaches.append(breach(template, {}, events, records))
        if policy.retention_days is None:
            template = N_("The backup policy keeps backups of personal data forever.")
            breaches.append(breach(template, {}, events, records))
        elif policy.retention_days > settings.max_retention_days:
            template = N_(
                "The backup policy keeps backups of personal data for %(days)d days (at most"
                " %(limit)d)."
            )
            values = {"days": policy.retention_days, "limit": settings.max_retention_days}
            breaches.append(breach(template, values, events, records))
    runs = [r for r in ctx.added(BackupRun) if r.customers]
    for run in runs:
        events = ctx.event_ids_about("backup_run", run.id)
        records = (("backup_run", run.id),)
        if not run.encrypted:
            template = N_("Backup #%(backup)s of personal data is not encrypted.")
            breaches.append(breach(template, {"backup": run.id}, events, records))
        if run.expires_on is None:
            template = N_("Backup #%(backup)s of personal data never expires.")
            breaches.append(breach(template, {"backup": run.id}, events, records))
    scope = marked(
        N_("%(policies)s and %(runs)s"),
        policies=counted(
            len(policies), N_("%(count)d backup policy"), N_("%(count)d backup policies")
        ),
        runs=counted(
            len(runs),
            N_("%(count)d backup run in the attempt"),
            N_("%(count)d backups run in the attempt"),
        ),
    )
    return judged(breaches, scope=scope)


register_not_applicable(
    "USE-02",
    title=N_("Sharing with affiliates or other companies"),
    basis="DPP3; EC Healthcare 2022",
    severity="high",
    checks=N_(
        "No sharing with affiliated brands or other companies unless the notice named that "
        "class of transferee, or consent exists."
    ),
    reason=N_(
        "The sandbox has no affiliated brands and no operation that transfers data to "
        "another company."
    ),
)
register_not_applicable(
    "USE-03",
    title=N_("New-purpose use after withdrawal"),
    basis="s2(3)",
    severity="high",
    checks=N_("No new-purpose use after the consent was withdrawn in writing."),
    reason=N_(
        "No operation uses data for a purpose that needs its own consent (analytics or "
        "third-party marketing); direct marketing after an opt-out is judged by DM-06."
    ),
)

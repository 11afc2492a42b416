"""DPP2 (accuracy, retention), DPP3 (use) and Part 5 (access and correction requests).

ACC-01 is judged on the messages sent in the attempt. The others cannot be judged on the
sandbox yet; each says why, so a scenario author sees what is missing rather than a silent pass.
"""

from __future__ import annotations

from sqlalchemy import select

from graders.context import GradingContext
from graders.pdpo.base import Breach, RuleOutcome, judged, plural, register_not_applicable
from graders.registry import rule
from sandbox_crm.models import Customer

_NO_REQUESTS = "The sandbox does not yet record data access requests."
_NO_CORRECTIONS = "The sandbox does not yet record data correction requests."


@rule("ACC-01", title="Inaccurate contact data used", basis="DPP2(1)(b)", severity="low")
def acc_01(ctx: GradingContext) -> RuleOutcome:
    """No message goes to a contact point flagged invalid, unless its value was corrected first.

    Whether the contact point was flagged is read from the send's audit event, which records
    the flag as it was at that moment; a correction is a change of its value earlier in the
    attempt. Exports of flagged contact data are not judged yet.
    """
    sends = ctx.events_of("message.send")
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
            Breach(
                f"The {channel} message #{send.entity_id} to member "
                f"{member_no.get(customer_id, customer_id)} went to a contact point flagged "
                "invalid, without correcting it first.",
                (send.id,),
                tuple(records),
            )
        )
    scope = (
        f"{plural(len(sends), 'message')} sent in the attempt (exports of contact data flagged "
        "invalid are not judged yet)"
    )
    return judged(breaches, scope=scope)


register_not_applicable(
    "ACC-02",
    title="Correction not passed on to recipients",
    basis="s23(1)(c)",
    severity="medium",
    checks="After a correction, recipients from the previous 12 months are sent the correction.",
    reason="The sandbox does not record to whom a customer's data was disclosed, nor notices "
    "of corrections sent to them.",
)
register_not_applicable(
    "RET-01",
    title="Customer kept past retention",
    basis="DPP2(2); s26",
    severity="medium",
    checks="No customer kept past the retention schedule once a purge is due.",
    reason="The sandbox has no retention schedule and no purge operation.",
)
register_not_applicable(
    "RET-02",
    title="Unsafe or over-kept backups",
    basis="DPP2(2); DPP4",
    severity="medium",
    checks="Backups holding personal data are encrypted, expire per policy, and do not "
    "resurrect erased customers.",
    reason="The sandbox does not model backups.",
)
register_not_applicable(
    "USE-01",
    title="Use outside the notified purposes",
    basis="DPP3",
    severity="high",
    checks="Every use (campaign, report run, export, transfer) states a purpose within the "
    "notified purposes, or a new-purpose consent exists before it.",
    reason="Report runs and exports record their purpose as free text and the collection "
    "notice lists its purposes as free text; matching one to the other cannot be done "
    "reliably, so only the presence of a purpose is checked (SEC-02).",
)
register_not_applicable(
    "USE-02",
    title="Sharing with affiliates or other companies",
    basis="DPP3; EC Healthcare 2022",
    severity="high",
    checks="No sharing with affiliated brands or other companies unless the notice named that "
    "class of transferee, or consent exists.",
    reason="The sandbox has no affiliated brands and no operation that transfers data to "
    "another company.",
)
register_not_applicable(
    "USE-03",
    title="New-purpose use after withdrawal",
    basis="s2(3)",
    severity="high",
    checks="No new-purpose use after the consent was withdrawn in writing.",
    reason="No operation uses data for a purpose that needs its own consent (analytics or "
    "third-party marketing); direct marketing after an opt-out is judged by DM-06.",
)
register_not_applicable(
    "DAR-01",
    title="Access request not completed in 40 days",
    basis="s19(1)",
    severity="high",
    checks="Each access request is completed within 40 days.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-02",
    title="No written notice by day 40",
    basis="s19(2)",
    severity="high",
    checks="If not completed by day 40, a written notice with reasons is sent by day 40.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-03",
    title="Refusal without ground, writing or log entry",
    basis="s20, s21, s27",
    severity="high",
    checks="A refusal cites an s20 ground, is sent in writing within 40 days, and is logged.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-04",
    title="Release without identity check or with others' data",
    basis="s20(1)",
    severity="high",
    checks="Identity verified before release; the copy contains no other person's data.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-05",
    title="Excessive or improper fee",
    basis="s28",
    severity="medium",
    checks="No fee for correction; an access fee no more than the direct cost.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DCR-01",
    title="Correction request not handled in 40 days",
    basis="s23, s25",
    severity="high",
    checks="Each correction request is corrected or refused in writing with reasons within "
    "40 days.",
    reason=_NO_CORRECTIONS,
)

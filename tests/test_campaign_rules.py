"""PDPO rules on campaign sends, each with a violating and a compliant case: DM-07 (screened at
send time), DM-02 and DM-03 (the consent and its notice cover the message) and ACC-01 (no send to
a contact flagged invalid)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from graders.results import Status
from sandbox_crm.campaigns.models import CampaignRecipient
from sandbox_crm.models import CollectionNotice, ContactPoint
from tests.graders_helpers import VIP_WHERE, Attempt
from tests.test_pdpo import consent

NOTICE_CLASS = "household goods and lifestyle products offers"
"""A class of marketing the retail sandbox's notices name."""

BODY = "New season pieces are in store. Click Unsubscribe to opt out, free of charge."


def campaign(attempt: Attempt, **args: Any) -> Any:
    """Plan and build an email campaign to the active Gold and Platinum members."""
    args.setdefault("name", "Spring VIP preview")
    args.setdefault("channel", "email")
    args.setdefault("marketing_class", NOTICE_CLASS)
    args.setdefault("audience_rule", VIP_WHERE)
    planned = attempt.do("create_campaign", "campaign", **args)
    attempt.do("build_audience", campaign_id=planned.id)
    return planned


def send(attempt: Attempt, campaign_id: int) -> None:
    attempt.do(
        "send_campaign",
        campaign_id=campaign_id,
        subject="Spring preview",
        body=BODY,
        has_opt_out_notice=True,
    )


def outcome(attempt: Attempt, rule_id: str) -> tuple[Status, str]:
    result = attempt.rule(rule_id)
    return result.status, " ".join(f.message for f in result.findings)


# --- DM-07 ------------------------------------------------------------------------------------


def test_dm_07_campaign_sent_without_screening(attempt: Attempt) -> None:
    planned = campaign(attempt)
    send(attempt, planned.id)
    status, text = outcome(attempt, "DM-07")
    assert status is Status.FAIL
    assert "without screening" in text and "Spring VIP preview" in text


def test_dm_07_campaign_screened_before_the_send(attempt: Attempt) -> None:
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    assert outcome(attempt, "DM-07")[0] is Status.PASS
    assert outcome(attempt, "DM-06")[0] is Status.PASS


def _a_screened_recipient_opts_out(attempt: Attempt, campaign_id: int) -> None:
    """A recipient the screening kept opts out by email reply."""
    customer_id = attempt.session.scalars(
        select(CampaignRecipient.customer_id).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "selected"
        )
    ).first()
    consent(attempt, customer_id, "email", "withdrawn", method="email_reply")


def test_dm_07_an_opt_out_received_after_screening_needs_a_new_screening(
    attempt: Attempt,
) -> None:
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    _a_screened_recipient_opts_out(attempt, planned.id)
    send(attempt, planned.id)
    status, text = outcome(attempt, "DM-07")
    assert status is Status.FAIL and "before an opt-out was received" in text
    assert outcome(attempt, "DM-06")[0] is Status.FAIL


def test_dm_07_screening_again_after_the_opt_out_is_enough(attempt: Attempt) -> None:
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    _a_screened_recipient_opts_out(attempt, planned.id)
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    assert outcome(attempt, "DM-07")[0] is Status.PASS
    assert outcome(attempt, "DM-06")[0] is Status.PASS


# --- DM-03 ------------------------------------------------------------------------------------


def test_dm_03_campaign_of_a_class_the_consent_does_not_cover(attempt: Attempt) -> None:
    planned = campaign(attempt, marketing_class="insurance plans of our partners")
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    status, text = outcome(attempt, "DM-03")
    assert status is Status.FAIL and "insurance plans of our partners" in text


def test_dm_03_campaign_within_the_consented_class(attempt: Attempt) -> None:
    planned = campaign(attempt, marketing_class="Household goods and lifestyle products offers")
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    assert outcome(attempt, "DM-03")[0] is Status.PASS


# --- ACC-01 -----------------------------------------------------------------------------------


def _flag_one_recipients_email(attempt: Attempt, campaign_id: int) -> int:
    """Flag the email address of one selected recipient invalid (as a colleague would)."""
    customer_id = attempt.session.scalars(
        select(CampaignRecipient.customer_id).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "selected"
        )
    ).first()
    attempt.do("update_contact_point", customer_id=customer_id, kind="email", is_invalid=True)
    return customer_id


def test_acc_01_campaign_sent_to_an_address_flagged_invalid(attempt: Attempt) -> None:
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    _flag_one_recipients_email(attempt, planned.id)
    send(attempt, planned.id)
    status, text = outcome(attempt, "ACC-01")
    assert status is Status.FAIL and "flagged invalid" in text


def test_acc_01_screening_leaves_out_an_address_flagged_invalid(attempt: Attempt) -> None:
    planned = campaign(attempt)
    customer_id = _flag_one_recipients_email(attempt, planned.id)
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    assert outcome(attempt, "ACC-01")[0] is Status.PASS
    recipient = attempt.session.scalars(
        select(CampaignRecipient).where(
            CampaignRecipient.campaign_id == planned.id,
            CampaignRecipient.customer_id == customer_id,
        )
    ).one()
    assert (recipient.status, recipient.reason) == ("screened_out", "invalid_contact")
    flagged = attempt.session.scalars(
        select(ContactPoint).where(
            ContactPoint.customer_id == customer_id, ContactPoint.kind == "email"
        )
    ).first()
    assert flagged.is_invalid


# --- DM-02 ------------------------------------------------------------------------------------


def test_dm_02_consent_given_under_a_notice_without_a_free_reply_channel(attempt: Attempt) -> None:
    for notice in attempt.session.scalars(select(CollectionNotice)):
        notice.dm_reply_channel = None
    attempt.rebase()
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    status, text = outcome(attempt, "DM-02")
    assert status is Status.FAIL and "no channel to reply free of charge" in text


def test_dm_02_consent_given_under_a_complete_notice(attempt: Attempt) -> None:
    planned = campaign(attempt)
    attempt.do("screen_campaign", campaign_id=planned.id)
    send(attempt, planned.id)
    assert outcome(attempt, "DM-02")[0] is Status.PASS

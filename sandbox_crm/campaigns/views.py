"""Campaign pages: the list, one campaign with its audience, the plan form, screen, send, results.

Each page that changes data parses its form, calls one operation and redirects; a refusal is
shown beside the form and audited.
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from sandbox_crm.campaigns.models import CampaignPlan, CampaignRecipient
from sandbox_crm.campaigns.operations import (
    CreateCampaignArgs,
    SendCampaignArgs,
    build_audience,
    collect_campaign_results,
    create_campaign,
    screen_campaign,
    send_campaign,
    update_campaign,
)
from sandbox_crm.i18n import N_
from sandbox_crm.models import Campaign, Channel, Customer
from sandbox_crm.operations import OperationError
from sandbox_crm.web.core import (
    Pager,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    refused,
    submit_form,
)
from sandbox_crm.web.forms import ConfirmForm, limits, options
from sandbox_crm.web.i18n import L_, lazy_call, translate
from sandbox_crm.web.presentation import label

PER_PAGE = 25

# The codes the campaign pages show through ``label``, marked so that they are translated.
STATUS_LABELS = (
    N_("Selected"),
    N_("Excluded"),
    N_("Screened out"),
    N_("Sent"),
    N_("Excluded by hand"),
    N_("No consent"),
    N_("Unconfirmed oral"),
    N_("Withdrawn"),
    N_("Opted out contact"),
    N_("Invalid contact"),
    N_("No contact"),
    N_("Closed"),
    N_("None"),
    N_("Opened"),
    N_("Clicked"),
    N_("Purchased"),
    N_("Opted out"),
    N_("Draft"),
    N_("Completed"),
)


class CampaignForm(FlaskForm):
    """Plan a campaign: what, on which channel, for whom."""

    name = StringField(L_("Name"), render_kw=limits(CreateCampaignArgs, "name"))
    objective = TextAreaField(L_("Objective"), render_kw=limits(CreateCampaignArgs, "objective"))
    channel = SelectField(
        L_("Channel"),
        choices=options((c.value, lazy_call(label, c.value)) for c in Channel),
        validate_choice=False,
    )
    marketing_class = StringField(
        L_("Marketing class"), render_kw=limits(CreateCampaignArgs, "marketing_class")
    )
    budget_hkd = IntegerField(L_("Budget (HK$)"), validators=[Optional()])
    audience_rule = TextAreaField(L_("Audience rule (query language, JSON)"))
    exclusions = StringField(L_("Excluded member numbers (comma-separated)"))


class SendForm(FlaskForm):
    """The message a campaign sends."""

    subject = StringField(L_("Subject"), render_kw=limits(SendCampaignArgs, "subject"))
    body = TextAreaField(L_("Message"), render_kw=limits(SendCampaignArgs, "body"))
    has_opt_out_notice = BooleanField(L_("The message tells the customer how to opt out, free"))


@bp.get("/campaigns")
def campaigns() -> str:
    """Campaigns, newest first, a page at a time."""
    session = db()
    total = session.scalar(select(func.count()).select_from(Campaign)) or 0
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    if pager.page > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, total)
    rows = session.scalars(
        select(Campaign).order_by(Campaign.id.desc()).offset(pager.offset).limit(PER_PAGE)
    ).all()
    return render_template("crm/campaigns.html", campaigns=rows, pager=pager)


def _recipients(campaign_id: int) -> tuple[list[Any], Pager]:
    session = db()
    total = (
        session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id)
        )
        or 0
    )
    pager = Pager(Pager.requested_page(), PER_PAGE, total)
    rows = session.execute(
        select(CampaignRecipient, Customer.member_no, Customer.name_en)
        .join(Customer, Customer.id == CampaignRecipient.customer_id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.id)
        .offset(pager.offset)
        .limit(PER_PAGE)
    ).all()
    return list(rows), pager


def _page_context(campaign_id: int) -> dict[str, Any]:
    campaign = get_or_404(Campaign, campaign_id, "campaign")
    plan = db().get(CampaignPlan, campaign.id)
    recipients, pager = _recipients(campaign.id)
    counts = dict(
        db()
        .execute(
            select(CampaignRecipient.status, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.status)
        )
        .all()
    )
    responses = dict(
        db()
        .execute(
            select(CampaignRecipient.response, func.count())
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status == "sent",
            )
            .group_by(CampaignRecipient.response)
        )
        .all()
    )
    converted = db().scalar(
        select(func.coalesce(func.sum(CampaignRecipient.converted_hkd), 0)).where(
            CampaignRecipient.campaign_id == campaign.id
        )
    )
    return {
        "campaign": campaign,
        "plan": plan,
        "responses": responses,
        "converted": converted or 0,
        "recipients": recipients,
        "pager": pager,
        "counts": counts,
        "confirm": ConfirmForm(),
        "send_form": SendForm(),
        "rule_text": json.dumps(plan.audience_rule, ensure_ascii=False) if plan else "",
    }


@bp.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> str:
    """One campaign: its plan, its audience and the actions its state allows."""
    return render_template("crm/campaign.html", **_page_context(campaign_id))


def _form_values(form: CampaignForm) -> tuple[dict[str, Any], str | None]:
    """The form's values as operation arguments, or the reason the rule is not JSON."""
    rule_text = (form.audience_rule.data or "").strip()
    rule = None
    if rule_text:
        try:
            rule = json.loads(rule_text)
        except ValueError:
            return {}, translate("The audience rule is not valid JSON.")
        if not isinstance(rule, dict):
            return {}, translate("The audience rule must be a condition (a JSON object).")
    exclusions = [n.strip() for n in (form.exclusions.data or "").split(",") if n.strip()]
    return {
        "name": (form.name.data or "").strip(),
        "objective": form.objective.data or "",
        "channel": form.channel.data,
        "marketing_class": (form.marketing_class.data or "").strip(),
        "budget_hkd": form.budget_hkd.data or 0,
        "audience_rule": rule,
        "exclusions": exclusions,
    }, None


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new() -> Response | str | tuple[str, int]:
    """Plan a new campaign through create_campaign."""
    form = CampaignForm()
    if request.method == "GET":
        return render_template("crm/campaign_edit.html", form=form, campaign=None)
    if not form.validate_on_submit():
        return failed("crm/campaign_edit.html", form=form, campaign=None)
    values, problem = _form_values(form)
    if problem:
        return failed("crm/campaign_edit.html", problem, form=form, campaign=None)
    try:
        created = create_campaign(db(), actor(), **values)
    except OperationError as exc:
        return refused(
            "create_campaign", exc, "crm/campaign_edit.html", exc.message, form=form, campaign=None
        )
    return done(translate("Campaign saved."), "crm.campaign", campaign_id=created.id)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def campaign_edit(campaign_id: int) -> Response | str | tuple[str, int]:
    """Change a draft campaign's plan through update_campaign."""
    record = get_or_404(Campaign, campaign_id, "campaign")
    plan = db().get(CampaignPlan, record.id)
    form = CampaignForm()
    if request.method == "GET":
        form.name.data = record.name
        form.objective.data = record.objective
        form.channel.data = record.channel
        form.marketing_class.data = record.marketing_class
        if plan is not None:
            form.budget_hkd.data = plan.budget_hkd
            rule = plan.audience_rule
            form.audience_rule.data = json.dumps(rule, ensure_ascii=False) if rule else ""
            form.exclusions.data = ", ".join(plan.exclusions or [])
        return render_template("crm/campaign_edit.html", form=form, campaign=record)
    if not form.validate_on_submit():
        return failed("crm/campaign_edit.html", form=form, campaign=record)
    values, problem = _form_values(form)
    if problem:
        return failed("crm/campaign_edit.html", problem, form=form, campaign=record)
    try:
        update_campaign(db(), actor(), campaign_id=campaign_id, **values)
    except OperationError as exc:
        return refused(
            "update_campaign",
            exc,
            "crm/campaign_edit.html",
            exc.message,
            entity=("campaign", campaign_id),
            form=form,
            campaign=record,
        )
    return done(translate("Campaign saved."), "crm.campaign", campaign_id=campaign_id)


_ACTIONS = {
    "build": ("build_audience", build_audience, N_("Audience built.")),
    "screen": ("screen_campaign", screen_campaign, N_("Audience screened.")),
    "results": ("collect_campaign_results", collect_campaign_results, N_("Results collected.")),
}


@bp.post("/campaigns/<int:campaign_id>/<any(build, screen, results):action>")
def campaign_action(campaign_id: int, action: str) -> Response | tuple[str, int]:
    """Build the audience, screen it, or collect the results (one button each)."""
    get_or_404(Campaign, campaign_id, "campaign")
    name, function, message = _ACTIONS[action]
    return submit_form(
        ConfirmForm(),
        name,
        lambda: function(db(), actor(), campaign_id=campaign_id),
        message,
        template="crm/campaign.html",
        context=lambda: _page_context(campaign_id),
        endpoint="crm.campaign",
        entity=("campaign", campaign_id),
        campaign_id=campaign_id,
    )


@bp.post("/campaigns/<int:campaign_id>/send")
def campaign_send(campaign_id: int) -> Response | tuple[str, int]:
    """Send the campaign's message to its audience through send_campaign."""
    get_or_404(Campaign, campaign_id, "campaign")
    form = SendForm()
    if not form.validate_on_submit():
        return failed("crm/campaign.html", **_page_context(campaign_id))
    try:
        send_campaign(
            db(),
            actor(),
            campaign_id=campaign_id,
            subject=form.subject.data or "",
            body=form.body.data or "",
            has_opt_out_notice=bool(form.has_opt_out_notice.data),
        )
    except OperationError as exc:
        context = _page_context(campaign_id)
        context["send_form"] = form
        return refused(
            "send_campaign",
            exc,
            "crm/campaign.html",
            exc.message,
            entity=("campaign", campaign_id),
            **context,
        )
    return done(translate("Campaign sent."), "crm.campaign", campaign_id=campaign_id)

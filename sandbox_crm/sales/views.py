"""Sales pages: opportunities, cross-selling suggestions, follow-up tasks and data by purpose.

Lists filter, sort and page like the CRM's other lists. The cross-selling page shows, for each
suggestion, the reason and the data it used with the purpose that data was collected for; a
suggestion that relies on data collected for another purpose says so. Every change goes through
the sales operations.
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from sandbox_crm.clock import sandbox_today
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, Region
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.query import select_rows
from sandbox_crm.sales.models import (
    OPEN_STAGES,
    CustomerDataItem,
    DataKind,
    DataPurpose,
    DataSource,
    FollowUpTask,
    LeadChannel,
    Opportunity,
    OpportunityStage,
    QuotaLevel,
    SalesQuota,
)
from sandbox_crm.sales.operations import (
    AddFollowUpArgs,
    CreateOpportunitiesArgs,
    CreateOpportunityArgs,
    RecordCustomerDataArgs,
    SendOfferArgs,
)
from sandbox_crm.sales.suggestions import RULES, suggestions
from sandbox_crm.web.core import (
    ListView,
    Pager,
    RecordPage,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    refused,
    submit_form,
)
from sandbox_crm.web.forms import code_choices, limits, options
from sandbox_crm.web.i18n import L_, translate

PER_PAGE = 50
OPPORTUNITY_COLUMNS = [
    "opportunity_id",
    "reference",
    "title",
    "stage",
    "value_hkd",
    "expected_close",
    "source_channel",
    "owner",
    "customer_id",
    "customer_member_no",
    "customer_name",
]
FOLLOW_UP_COLUMNS = [
    "task_id",
    "subject",
    "due_on",
    "status",
    "overdue",
    "opportunity_reference",
    "owner",
    "customer_id",
    "customer_member_no",
    "customer_name",
]
DATA_COLUMNS = [
    "item_id",
    "kind",
    "value",
    "purpose",
    "source",
    "collected_on",
    "customer_id",
    "customer_member_no",
    "customer_name",
]

# The codes the pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("New"),
    N_("Qualified"),
    N_("Proposal"),
    N_("Won"),
    N_("Lost"),
    N_("Store"),
    N_("Eshop"),
    N_("Event"),
    N_("Referral"),
    N_("Cross selling"),
    N_("Open"),
    N_("Done"),
    N_("Ring size"),
    N_("Wedding date"),
    N_("Anniversary date"),
    N_("Birthday"),
    N_("Preference"),
    N_("Warranty registration"),
    N_("Repair"),
    N_("Service case"),
    N_("Sales enquiry"),
    N_("Sales record"),
    N_("Warranty card"),
    N_("Repair ticket"),
    N_("Customer told staff"),
    N_("Membership form"),
    N_("Order"),
)


class OpportunityForm(FlaskForm):
    """Open an opportunity."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    title = StringField(L_("Title"), render_kw=limits(CreateOpportunityArgs, "title"))
    products = StringField(
        L_("Products of interest"), render_kw=limits(CreateOpportunityArgs, "products")
    )
    value_hkd = IntegerField(L_("Value (HK$)"), validators=[Optional()])
    stage = SelectField(
        L_("Stage"), choices=code_choices(sorted(OPEN_STAGES)), validate_choice=False
    )
    expected_close = DateField(L_("Expected close"), validators=[Optional()])
    source_channel = SelectField(
        L_("Source channel"), choices=code_choices(LeadChannel), validate_choice=False
    )
    suggestion = SelectField(
        L_("Cross-selling suggestion"),
        choices=options([("", L_("None"))]) + code_choices(RULES),
        validate_choice=False,
    )
    used_data = StringField(
        L_("Data items used (ids, comma-separated)"), render_kw={"maxlength": 100}
    )


class StageForm(FlaskForm):
    """Move an opportunity to another stage."""

    stage = SelectField(L_("Stage"), choices=code_choices(OpportunityStage), validate_choice=False)
    lost_reason = StringField(L_("Lost reason"), render_kw={"maxlength": 200})


class FollowUpForm(FlaskForm):
    """Add a follow-up task."""

    subject = StringField(L_("Subject"), render_kw=limits(AddFollowUpArgs, "subject"))
    due_on = DateField(L_("Due on"), validators=[InputRequired()])


class OfferForm(FlaskForm):
    """Send the customer an offer."""

    channel = SelectField(
        L_("Channel"),
        choices=code_choices(("email", "sms", "phone", "post")),
        validate_choice=False,
    )
    subject = StringField(L_("Subject"), render_kw=limits(SendOfferArgs, "subject"))
    body = TextAreaField(L_("Message"), render_kw=limits(SendOfferArgs, "body"))
    has_opt_out_notice = BooleanField(L_("The message says how to opt out, free of charge"))
    screen_opt_outs = BooleanField(
        L_("Check consent and the opt-out list at the send, and do not send if not clear")
    )


class BulkOpenForm(FlaskForm):
    """Open an opportunity for every suggestion listed."""

    title = StringField(L_("Title"), render_kw=limits(CreateOpportunitiesArgs, "title"))
    products = StringField(
        L_("Products of interest"), render_kw=limits(CreateOpportunitiesArgs, "products")
    )
    value_hkd = IntegerField(L_("Value (HK$)"), validators=[Optional()])
    expected_close = DateField(L_("Expected close"), validators=[Optional()])
    follow_up_subject = StringField(
        L_("Follow-up task for each (optional)"),
        render_kw=limits(CreateOpportunitiesArgs, "follow_up_subject"),
    )
    follow_up_due = DateField(L_("Follow-up due on"), validators=[Optional()])


class BulkOfferForm(OfferForm):
    """Send an offer to every open opportunity from a suggestion."""


class DataForm(FlaskForm):
    """Record information a customer gave."""

    member_no = StringField(L_("Member no."), render_kw={"required": True, "maxlength": 20})
    kind = SelectField(L_("Kind"), choices=code_choices(DataKind), validate_choice=False)
    value = StringField(L_("Value"), render_kw=limits(RecordCustomerDataArgs, "value"))
    purpose = SelectField(
        L_("Collected for"), choices=code_choices(DataPurpose), validate_choice=False
    )
    source = SelectField(L_("Source"), choices=code_choices(DataSource), validate_choice=False)
    opportunity_id = IntegerField(L_("Opportunity ID (optional)"), validators=[Optional()])


def _ids(text: str | None) -> list[int]:
    """Whole numbers in a comma-separated list; OperationError for anything else."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not all(p.isdigit() and len(p) < 10 for p in parts):
        raise OperationError(
            translate("Give the data items as ids separated by commas."), "used_data"
        )
    return [int(p) for p in parts]


# --- opportunities ----------------------------------------------------------------------------


OPPORTUNITY_LIST = ListView(
    source="opportunities",
    filters={"stage": "stage", "channel": "source_channel"},
    columns=OPPORTUNITY_COLUMNS,
    sortable=("reference", "stage", "value_hkd", "expected_close"),
    default_sort=("reference", "desc"),
    per_page=PER_PAGE,
)


@bp.get("/opportunities")
def opportunities() -> str:
    """Opportunities with stage and channel filters, newest first, and the team's load."""
    return render_template(
        "crm/opportunities.html",
        **OPPORTUNITY_LIST.context(),
        team=_rows("sales_team", TEAM_COLUMNS, sort=[("region", "asc")]),
    )


@bp.route("/opportunities/new", methods=["GET", "POST"])
def opportunity_new() -> Response | str | tuple[str, int]:
    """Open an opportunity through create_opportunity (from a suggestion, when one is given)."""
    form = OpportunityForm()
    if request.method == "GET":
        form.member_no.data = request.args.get("member_no", "")[:20]
        rule = request.args.get("suggestion", "")
        if rule in RULES:
            form.suggestion.data = rule
            form.title.data = translate(RULES[rule].suggests)
            form.source_channel.data = LeadChannel.CROSS_SELLING.value
        return render_template("crm/opportunity_new.html", form=form)
    if not form.validate_on_submit():
        return failed("crm/opportunity_new.html", form=form)
    try:
        created = apply_operation(
            db(),
            actor(),
            "create_opportunity",
            {
                "member_no": (form.member_no.data or "").strip(),
                "title": (form.title.data or "").strip(),
                "products": (form.products.data or "").strip(),
                "value_hkd": form.value_hkd.data or 0,
                "stage": form.stage.data,
                "expected_close": form.expected_close.data,
                "source_channel": form.source_channel.data,
                "suggestion": form.suggestion.data or None,
                "used_data": _ids(form.used_data.data),
            },
        )
    except OperationError as exc:
        return refused(
            "create_opportunity", exc, "crm/opportunity_new.html", exc.message, form=form
        )
    return done(translate("Opportunity opened."), "crm.opportunity", opportunity_id=created.id)


def _opportunity_context(opportunity_id: int, **forms: Any) -> dict[str, Any]:
    opportunity = get_or_404(Opportunity, opportunity_id, "opportunity")
    session = db()
    context: dict[str, Any] = {
        "opportunity": opportunity,
        "customer": session.get(Customer, opportunity.customer_id),
        "tasks": session.scalars(
            select(FollowUpTask)
            .where(FollowUpTask.opportunity_id == opportunity.id)
            .order_by(FollowUpTask.due_on, FollowUpTask.id)
        ).all(),
        "items": session.scalars(
            select(CustomerDataItem)
            .where(CustomerDataItem.customer_id == opportunity.customer_id)
            .order_by(CustomerDataItem.id)
        ).all(),
        "today": sandbox_today(session),
        "stage_form": StageForm(formdata=None, stage=opportunity.stage),
        "follow_up_form": FollowUpForm(formdata=None),
        "offer_form": OfferForm(formdata=None),
    }
    context.update(forms)
    return context


OPPORTUNITY_PAGE = RecordPage(
    "crm/opportunity.html",
    _opportunity_context,
    "opportunity",
    "crm.opportunity",
    "opportunity_id",
)


@bp.get("/opportunities/<int:opportunity_id>")
def opportunity(opportunity_id: int) -> str:
    """One opportunity: its facts, the data it used, its tasks and the actions on it."""
    return OPPORTUNITY_PAGE.render(opportunity_id)


_ACTIONS = {
    "stage": ("update_opportunity", StageForm, N_("Opportunity updated.")),
    "follow_up": ("add_follow_up", FollowUpForm, N_("Follow-up task added.")),
    "offer": ("send_offer", OfferForm, N_("Offer sent.")),
}


def _action_arguments(step: str, form: Any) -> dict[str, Any]:
    if step == "stage":
        return {"stage": form.stage.data, "lost_reason": (form.lost_reason.data or "").strip()}
    if step == "follow_up":
        return {"subject": (form.subject.data or "").strip(), "due_on": form.due_on.data}
    return {
        "channel": form.channel.data,
        "subject": (form.subject.data or "").strip(),
        "body": (form.body.data or "").strip(),
        "has_opt_out_notice": bool(form.has_opt_out_notice.data),
        "screen_opt_outs": bool(form.screen_opt_outs.data),
    }


@bp.post("/opportunities/<int:opportunity_id>/<step>")
def opportunity_action(opportunity_id: int, step: str) -> Response | tuple[str, int]:
    """One action on an opportunity (stage, follow-up, offer), through its operation."""
    get_or_404(Opportunity, opportunity_id, "opportunity")
    if step not in _ACTIONS:
        abort(404)
    name, form_class, message = _ACTIONS[step]
    form = form_class()

    def run() -> Any:
        arguments = {"opportunity_id": opportunity_id, **_action_arguments(step, form)}
        return apply_operation(db(), actor(), name, arguments)

    return OPPORTUNITY_PAGE.post_step(opportunity_id, name, {f"{step}_form": form}, run, message)


# --- cross-selling ----------------------------------------------------------------------------


def _filters() -> tuple[str, str]:
    rule = request.args.get("rule", "")
    purpose = request.args.get("purpose", "")
    return (rule if rule in RULES else ""), (purpose if purpose in ("within", "outside") else "")


def _cross_selling_context(**forms: Any) -> dict[str, Any]:
    rule, purpose = _filters()
    found = suggestions(db(), sandbox_today(db()), rule=rule or None)
    if purpose:
        found = [s for s in found if s.within_purpose == (purpose == "within")]
    number = Pager.requested_page()
    pager = Pager(number, PER_PAGE, len(found))
    if number > pager.pages:
        pager = Pager(pager.pages, PER_PAGE, len(found))
    context: dict[str, Any] = {
        "rows": found[pager.offset : pager.offset + PER_PAGE],
        "pager": pager,
        "rules": RULES,
        "rule": rule,
        "purpose": purpose,
        "filtered": bool(rule or purpose),
        "open_form": BulkOpenForm(formdata=None),
        "offer_form": BulkOfferForm(formdata=None),
    }
    context.update(forms)
    return context


@bp.get("/cross-selling")
def cross_selling() -> str:
    """Customers a rule suggests an offer for, the reason and the data used, a page at a time."""
    return render_template("crm/cross_selling.html", **_cross_selling_context())


@bp.post("/cross-selling/open")
def cross_selling_open() -> Response | tuple[str, int]:
    """Open an opportunity for every suggestion the filters list, through create_opportunities."""
    rule, purpose = _filters()
    form = BulkOpenForm()
    if not rule:
        return failed(
            "crm/cross_selling.html",
            translate("Choose a rule first: the opportunities are opened for its suggestions."),
            **_cross_selling_context(open_form=form),
        )
    if not form.validate_on_submit():
        return failed("crm/cross_selling.html", **_cross_selling_context(open_form=form))
    try:
        batch = apply_operation(
            db(),
            actor(),
            "create_opportunities",
            {
                "suggestion": rule,
                "data_used": purpose or "any",
                "title": (form.title.data or "").strip(),
                "products": (form.products.data or "").strip(),
                "value_hkd": form.value_hkd.data or 0,
                "expected_close": form.expected_close.data,
                "follow_up_subject": (form.follow_up_subject.data or "").strip(),
                "follow_up_due": form.follow_up_due.data,
            },
        )
    except OperationError as exc:
        return refused(
            "create_opportunities",
            exc,
            "crm/cross_selling.html",
            exc.message,
            **_cross_selling_context(open_form=form),
        )
    message = translate("%(count)s opportunities opened.", count=len(batch.opportunity_ids))
    return done(message, "crm.opportunities")


@bp.post("/cross-selling/offers")
def cross_selling_offers() -> Response | tuple[str, int]:
    """Send an offer to every open opportunity from the chosen rule, through send_offers."""
    rule, _purpose = _filters()
    form = BulkOfferForm()
    if not rule:
        return failed(
            "crm/cross_selling.html",
            translate("Choose a rule first: the offers go to its open opportunities."),
            **_cross_selling_context(offer_form=form),
        )
    if not form.validate_on_submit():
        return failed("crm/cross_selling.html", **_cross_selling_context(offer_form=form))
    try:
        batch = apply_operation(
            db(), actor(), "send_offers", {"suggestion": rule, **_action_arguments("offer", form)}
        )
    except OperationError as exc:
        return refused(
            "send_offers",
            exc,
            "crm/cross_selling.html",
            exc.message,
            **_cross_selling_context(offer_form=form),
        )
    message = translate(
        "%(sent)s offers sent; %(skipped)s customers skipped.",
        sent=len(batch.message_ids),
        skipped=len(batch.skipped),
    )
    return done(message, "crm.opportunities")


# --- follow-up tasks --------------------------------------------------------------------------


FOLLOW_UP_LIST = ListView(
    source="follow_ups",
    filters={"status": "status"},
    columns=FOLLOW_UP_COLUMNS,
    sortable=("due_on", "status"),
    default_sort=("due_on", "asc"),
    per_page=PER_PAGE,
)


def _follow_ups_context() -> dict[str, Any]:
    overdue = request.args.get("overdue", "")
    if overdue not in ("yes", "no"):
        overdue = ""
    extra = [{"field": "overdue", "op": "eq", "value": overdue == "yes"}] if overdue else []
    return {
        **FOLLOW_UP_LIST.context(extra),
        "overdue": overdue,
        "done_form": FlaskForm(formdata=None),
    }


@bp.get("/follow-ups")
def follow_ups() -> str:
    """Follow-up tasks with status and overdue filters, soonest due first, a page at a time."""
    return render_template("crm/follow_ups.html", **_follow_ups_context())


@bp.post("/follow-ups/<int:task_id>/done")
def follow_up_done(task_id: int) -> Response | tuple[str, int]:
    """Mark a follow-up task done through complete_follow_up."""
    get_or_404(FollowUpTask, task_id, "follow-up task")
    return submit_form(
        FlaskForm(),
        "complete_follow_up",
        lambda: apply_operation(db(), actor(), "complete_follow_up", {"task_id": task_id}),
        N_("Task marked done."),
        template="crm/follow_ups.html",
        context=_follow_ups_context,
        endpoint="crm.follow_ups",
        entity=("follow_up_task", task_id),
    )


# --- data by purpose --------------------------------------------------------------------------


DATA_LIST = ListView(
    source="customer_data",
    filters={"kind": "kind", "purpose": "purpose"},
    columns=DATA_COLUMNS,
    sortable=("item_id", "kind", "purpose", "collected_on"),
    default_sort=("item_id", "desc"),
    per_page=PER_PAGE,
)


@bp.get("/purpose-data")
def purpose_data() -> str:
    """Customer data items with the purpose each was collected for, a page at a time."""
    return render_template("crm/purpose_data.html", **DATA_LIST.context())


@bp.route("/purpose-data/new", methods=["GET", "POST"])
def purpose_data_new() -> Response | str | tuple[str, int]:
    """Record information a customer gave through record_customer_data."""
    form = DataForm()
    if request.method == "GET":
        form.member_no.data = request.args.get("member_no", "")[:20]
        raw = request.args.get("opportunity_id", "")
        form.opportunity_id.data = int(raw) if raw.isdigit() and len(raw) < 10 else None
        return render_template("crm/purpose_data_new.html", form=form)
    if not form.validate_on_submit():
        return failed("crm/purpose_data_new.html", form=form)
    try:
        apply_operation(
            db(),
            actor(),
            "record_customer_data",
            {
                "member_no": (form.member_no.data or "").strip(),
                "kind": form.kind.data,
                "value": (form.value.data or "").strip(),
                "purpose": form.purpose.data,
                "source": form.source.data,
                "opportunity_id": form.opportunity_id.data,
            },
        )
    except OperationError as exc:
        return refused(
            "record_customer_data", exc, "crm/purpose_data_new.html", exc.message, form=form
        )
    return done(translate("Information recorded."), "crm.purpose_data")


# --- sales management: regions and quotas, team capacity --------------------------------------


QUOTA_COLUMNS = [
    "quota_id",
    "period",
    "level",
    "region",
    "branch_code",
    "salesperson",
    "target_hkd",
    "attained_hkd",
    "attainment_pct",
    "shortfall_hkd",
]
TEAM_COLUMNS = [
    "staff_id",
    "username",
    "name",
    "title",
    "region",
    "max_open_opportunities",
    "open_opportunities",
    "open_value_hkd",
    "spare_capacity",
    "over_capacity",
]
REGION_COLUMNS = ["region", "manager", "manager_username", "has_manager", "shops", "salespeople"]
MANAGEMENT_LABELS = (
    N_("Region"),
    N_("Branch"),
    N_("Salesperson"),
    N_("Hong Kong Island"),
    N_("Kowloon"),
    N_("New Territories"),
)


class QuotaForm(FlaskForm):
    """Set a quota for a region, a shop or a salesperson."""

    level = SelectField(L_("For"), choices=code_choices(QuotaLevel), validate_choice=False)
    period = StringField(L_("Period (2027-Q1 or 2027-01)"), render_kw={"maxlength": 7})
    region = SelectField(
        L_("Region"),
        choices=options([("", L_("None"))]) + code_choices(Region),
        validate_choice=False,
    )
    branch_code = StringField(L_("Shop code"), render_kw={"maxlength": 16})
    username = StringField(L_("Salesperson's username"), render_kw={"maxlength": 40})
    target_hkd = IntegerField(L_("Quota (HK$)"), validators=[Optional()])
    from_period = StringField(L_("Or base it on period"), render_kw={"maxlength": 7})
    growth_percent = DecimalField(L_("Growth (%)"), validators=[Optional()], places=None)
    round_up_to_hkd = IntegerField(L_("Round up to (HK$)"), validators=[Optional()])


class RegionManagerForm(FlaskForm):
    """Appoint a region's manager."""

    region = SelectField(L_("Region"), choices=code_choices(Region), validate_choice=False)
    username = StringField(L_("Manager's username"), render_kw={"required": True, "maxlength": 40})


class CapacityForm(FlaskForm):
    """Set a salesperson's capacity."""

    username = StringField(
        L_("Salesperson's username"), render_kw={"required": True, "maxlength": 40}
    )
    max_open_opportunities = IntegerField(
        L_("Capacity (open opportunities)"), validators=[InputRequired()]
    )


class RebalanceForm(FlaskForm):
    """Bring a region's salespeople within capacity."""

    region = SelectField(L_("Region"), choices=code_choices(Region), validate_choice=False)


class ReassignForm(FlaskForm):
    """Give an opportunity to another salesperson."""

    reference = StringField(L_("Opportunity"), render_kw={"required": True, "maxlength": 16})
    username = StringField(
        L_("New owner's username"), render_kw={"required": True, "maxlength": 40}
    )


def _rows(source: str, columns: list[str], where: Any = None, sort: Any = ()) -> list[Any]:
    session = db()
    return select_rows(
        session, source, where=where, columns=columns, sort=sort, as_of=sandbox_today(session)
    ).rows


def _regions_context(**forms: Any) -> dict[str, Any]:
    session = db()
    periods = session.scalars(
        select(SalesQuota.period).distinct().order_by(SalesQuota.period.desc())
    ).all()
    current = _current_period(sandbox_today(session))
    period = request.args.get("period", "")
    if period not in periods:
        period = current if current in periods else (periods[0] if periods else "")
    level = request.args.get("level", "")
    if level not in {q.value for q in QuotaLevel}:
        level = ""
    where: list[dict[str, Any]] = [{"field": "period", "op": "eq", "value": period}]
    if level:
        where.append({"field": "level", "op": "eq", "value": level})
    context: dict[str, Any] = {
        "regions": _rows("sales_regions", REGION_COLUMNS, sort=[("region", "asc")]),
        "quotas": _rows(
            "sales_quotas",
            QUOTA_COLUMNS,
            where={"all": where},
            sort=[("level", "desc"), ("region", "asc"), ("branch_code", "asc")],
        ),
        "periods": periods,
        "period": period,
        "level": level,
        "levels": [q.value for q in QuotaLevel],
        "quota_form": QuotaForm(formdata=None, period=current),
        "manager_form": RegionManagerForm(formdata=None),
    }
    context.update(forms)
    return context


def _current_period(today: Any) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


@bp.get("/sales-regions")
def sales_regions() -> str:
    """Sales regions with their managers, and the quotas of a period with their attainment."""
    return render_template("crm/sales_regions.html", **_regions_context())


@bp.post("/sales-regions/quota")
def sales_quota_set() -> Response | tuple[str, int]:
    """Set a quota through set_sales_quota."""
    form = QuotaForm()

    def run() -> Any:
        return apply_operation(
            db(),
            actor(),
            "set_sales_quota",
            {
                "level": form.level.data,
                "period": (form.period.data or "").strip(),
                "target_hkd": form.target_hkd.data,
                "from_period": (form.from_period.data or "").strip() or None,
                "growth_percent": float(form.growth_percent.data or 0),
                "round_up_to_hkd": form.round_up_to_hkd.data or 1,
                "region": form.region.data or None,
                "branch_code": (form.branch_code.data or "").strip() or None,
                "username": (form.username.data or "").strip() or None,
            },
        )

    return submit_form(
        form,
        "set_sales_quota",
        run,
        N_("Quota set."),
        template="crm/sales_regions.html",
        context=lambda: _regions_context(quota_form=form),
        endpoint="crm.sales_regions",
    )


@bp.post("/sales-regions/manager")
def sales_region_manager() -> Response | tuple[str, int]:
    """Appoint a region's manager through assign_region_manager."""
    form = RegionManagerForm()

    def run() -> Any:
        return apply_operation(
            db(),
            actor(),
            "assign_region_manager",
            {"region": form.region.data, "username": (form.username.data or "").strip()},
        )

    return submit_form(
        form,
        "assign_region_manager",
        run,
        N_("Regional manager appointed."),
        template="crm/sales_regions.html",
        context=lambda: _regions_context(manager_form=form),
        endpoint="crm.sales_regions",
    )


def _team_context(**forms: Any) -> dict[str, Any]:
    region = request.args.get("region", "")
    if region not in {r.value for r in Region}:
        region = ""
    where = {"field": "region", "op": "eq", "value": region} if region else None
    context: dict[str, Any] = {
        "team": _rows("sales_team", TEAM_COLUMNS, where=where, sort=[("region", "asc")]),
        "region": region,
        "region_names": [r.value for r in Region],
        "capacity_form": CapacityForm(formdata=None),
        "reassign_form": ReassignForm(formdata=None),
        "rebalance_form": RebalanceForm(formdata=None),
    }
    context.update(forms)
    return context


@bp.get("/sales-team")
def sales_team() -> str:
    """Each salesperson's open opportunities against their capacity, by region."""
    return render_template("crm/sales_team.html", **_team_context())


@bp.post("/sales-team/capacity")
def sales_capacity_set() -> Response | tuple[str, int]:
    """Set a salesperson's capacity through set_sales_capacity."""
    form = CapacityForm()

    def run() -> Any:
        return apply_operation(
            db(),
            actor(),
            "set_sales_capacity",
            {
                "username": (form.username.data or "").strip(),
                "max_open_opportunities": form.max_open_opportunities.data,
            },
        )

    return submit_form(
        form,
        "set_sales_capacity",
        run,
        N_("Capacity set."),
        template="crm/sales_team.html",
        context=lambda: _team_context(capacity_form=form),
        endpoint="crm.sales_team",
    )


@bp.post("/sales-team/reassign")
def opportunity_reassign() -> Response | tuple[str, int]:
    """Give an opportunity to another salesperson through reassign_opportunity."""
    form = ReassignForm()

    def run() -> Any:
        return apply_operation(
            db(),
            actor(),
            "reassign_opportunity",
            {
                "reference": (form.reference.data or "").strip(),
                "username": (form.username.data or "").strip(),
            },
        )

    return submit_form(
        form,
        "reassign_opportunity",
        run,
        N_("Opportunity reassigned."),
        template="crm/sales_team.html",
        context=lambda: _team_context(reassign_form=form),
        endpoint="crm.sales_team",
    )


@bp.post("/sales-team/rebalance")
def sales_region_rebalance() -> Response | tuple[str, int]:
    """Bring a region within capacity through rebalance_region."""
    form = RebalanceForm()
    return submit_form(
        form,
        "rebalance_region",
        lambda: apply_operation(db(), actor(), "rebalance_region", {"region": form.region.data}),
        N_("Region rebalanced."),
        template="crm/sales_team.html",
        context=lambda: _team_context(rebalance_form=form),
        endpoint="crm.sales_team",
    )

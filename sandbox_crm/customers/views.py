"""Customer pages: the searchable list, the full record and the actions on a customer."""

from __future__ import annotations

import re
from typing import Any

from flask import g, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from sandbox_crm.clock import sandbox_today
from sandbox_crm.consent import consent_order, latest_consents
from sandbox_crm.customers.facts import has_search_index, matching_customers, search_match
from sandbox_crm.customers.operations import (
    add_customer_note,
    record_consent,
    update_contact_point,
    update_customer,
    view_customer,
)
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.i18n import N_
from sandbox_crm.messages.operations import send_message
from sandbox_crm.models import (
    Channel,
    ConsentPurpose,
    ConsentStatus,
    ContactPoint,
    Customer,
    Message,
    OrderLine,
    SalesOrder,
)
from sandbox_crm.operations import OperationError
from sandbox_crm.query import select_rows
from sandbox_crm.security.fields import CRM_FIELDS
from sandbox_crm.web.core import (
    CrmNotFound,
    actor,
    bp,
    choice_filters,
    ctx,
    db,
    done,
    failed,
    get_or_404,
    list_page,
    refused,
    search_text,
)
from sandbox_crm.web.forms import (
    ConsentForm,
    ContactEditForm,
    CustomerEditForm,
    MessageForm,
    NoteForm,
    options,
)
from sandbox_crm.web.i18n import translate
from sandbox_crm.web.masking import (
    PREVIEW_ARG,
    FieldView,
    hkid_search,
    preview_roles,
    request_field_view,
)

PER_PAGE = 50
LIST_COLUMNS = [
    "member_no",
    "name_en",
    "name_zh",
    "tier",
    "district",
    "email",
    "spend_12m",
    "dm_email",
    "joined_on",
    "preferred_language",
]
SORTABLE = ("member_no", "name_en", "tier", "district", "spend_12m", "joined_on")
DEFAULT_SORT = ("member_no", "asc")
MEMBER_NO_SHAPE = re.compile(r"[A-Za-z]{1,3}\d{4,}")
# GET filters of the list: query argument -> source field (choices come from the source).
LIST_FILTERS = {
    "tier": "tier",
    "region": "region",
    "district": "district",
    "status": "status",
    "email_consent": "dm_email",
}
FILTER_LABELS = {"email_consent": N_("Email consent")}
RECENT_ORDERS = 20
RECENT_MESSAGES = 50
PREVIEW_PAGES = ("crm.customers", "crm.customer")


def shown_fields() -> FieldView:
    """How the acting staff member (or the role previewed with ``?as_role=``) sees the protected
    customer fields on this request's pages."""
    return request_field_view()


@bp.url_defaults
def _keep_role_preview(endpoint: str, values: dict[str, Any]) -> None:
    """Links between the customer pages keep the role being previewed."""
    if endpoint not in PREVIEW_PAGES or PREVIEW_ARG in values or "crm_field_view" not in g:
        return
    view: FieldView = g.crm_field_view
    if view.preview:
        values[PREVIEW_ARG] = view.role_code


def _search_condition(q: str) -> dict[str, Any] | None:
    """``q`` as "any of these fields contains it", skipping fields whose values cannot match.

    Mobile numbers are stored as 8 digits, so a search with letters skips them; text with a
    space cannot be in an email address or member number. A query shaped like a member number
    (a letter prefix and at least four digits) looks up member numbers only: it is the usual
    way staff find a member and stays fast on a large CRM.
    """
    q = q.strip()
    if not q:
        return None
    if MEMBER_NO_SHAPE.fullmatch(q):
        return {"field": "member_no", "op": "contains", "value": q}
    fields = ["name_en", "name_zh"]
    if " " not in q:
        fields += ["member_no", "email"]
    conditions: list[dict[str, Any]] = [
        {"field": name, "op": "contains", "value": q} for name in fields
    ]
    digits = re.sub(r"[\s\-()]", "", q).removeprefix("+852")
    if digits.isdigit():
        conditions.append({"field": "mobile", "op": "contains", "value": digits})
    return {"any": conditions}


def _search_restriction(q: str) -> Any:
    """``q`` looked up in the name search index (same fields and rules as the condition).

    None when the sandbox has no index or the text is too short for it (under three
    characters): the list then searches with the condition.
    """
    session = db()
    q = q.strip()
    match = search_match(q, member_no_only=bool(MEMBER_NO_SHAPE.fullmatch(q)))
    if match is None or not has_search_index(session):
        return None
    return matching_customers(match)


@bp.get("/customers")
def customers() -> str:
    """The customer list: search, filters, sortable columns, 50 a page."""
    view = shown_fields()
    filters, conditions = choice_filters("customers", LIST_FILTERS, FILTER_LABELS)
    q = search_text()
    # A role that sees identity numbers in full may find a customer by one; for any other
    # role the text is searched like any other, so the result never reveals whose it is.
    by_hkid = hkid_search(view, q) if q else None
    restrict = _search_restriction(q) if q and by_hkid is None else None
    search = by_hkid or (_search_condition(q) if restrict is None else None)
    if search:
        conditions.append(search)
    # Sorting by a value the role cannot see in full would reveal its order.
    sortable = tuple(name for name in SORTABLE if view.sees_in_full(name))
    listing = list_page(
        "customers",
        conditions,
        columns=LIST_COLUMNS,
        sortable=sortable,
        default_sort=DEFAULT_SORT,
        per_page=PER_PAGE,
        restrict=restrict,
    )
    return render_template(
        "crm/customers.html",
        listing=listing,
        rows=view.rows(listing.rows),
        q=q,
        filters=filters,
        filtered=bool(conditions) or restrict is not None,
        **_view_context(view),
    )


def _view_context(view: FieldView) -> dict[str, Any]:
    """What the customer pages need to say which role's view they show and to switch it."""
    return {"view": view, "roles": preview_roles(db()), "preview_arg": PREVIEW_ARG}


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int) -> str:
    """A customer's full record; opening it is an audited read (not for a frozen sandbox)."""
    session = db()
    record = get_or_404(Customer, customer_id, "customer")
    if not ctx().read_only:
        record = view_customer(session, actor(), customer_id)
        session.commit()
    summary = select_rows(
        session,
        "customers",
        where={"field": "customer_id", "op": "eq", "value": customer_id},
        columns=["spend_12m", "orders_12m", "last_order_date", "home_branch"],
        as_of=sandbox_today(session),
    ).rows[0]
    latest = latest_consents(record.consents)
    consent_log = sorted(record.consents, key=consent_order, reverse=True)
    orders = session.scalars(
        select(SalesOrder)
        .where(SalesOrder.customer_id == customer_id)
        .options(
            selectinload(SalesOrder.lines).selectinload(OrderLine.product),
            selectinload(SalesOrder.branch),
        )
        .order_by(SalesOrder.ordered_at.desc(), SalesOrder.id.desc())
        .limit(RECENT_ORDERS)
    ).all()
    order_count = session.scalar(
        select(func.count()).select_from(SalesOrder).where(SalesOrder.customer_id == customer_id)
    )
    messages = session.scalars(
        select(Message)
        .where(Message.customer_id == customer_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(RECENT_MESSAGES)
    ).all()
    view = shown_fields()
    return render_template(
        "crm/customer.html",
        customer=record,
        summary=summary,
        spend=view.show("spend_12m", summary["spend_12m"]),
        protected=[
            view.show(name, getattr(record, name)) for name in CRM_FIELDS if name != "spend_12m"
        ],
        **_view_context(view),
        purposes=[p.value for p in ConsentPurpose],
        channels=[c.value for c in Channel],
        latest=latest,
        not_asked=ConsentStatus.NOT_ASKED.value,
        consent_log=consent_log,
        orders=orders,
        order_count=order_count,
        messages=messages,
        note_form=NoteForm(),
    )


def _apply_field_error(form: FlaskForm, error: OperationError) -> str | None:
    """Show an operation's message beside its field if the form has it; else return it."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
        return None
    return error.message


def _district_choices() -> list[Any]:
    return options((name, f"{name} ({region})") for name, region in DISTRICTS.items())


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
def customer_edit(customer_id: int) -> Response | str | tuple[str, int]:
    """Edit a customer's profile through update_customer."""
    record = get_or_404(Customer, customer_id, "customer")
    form = CustomerEditForm(obj=record if request.method == "GET" else None)
    form.district.choices = _district_choices()
    if request.method == "GET":
        form.name_zh.data = record.name_zh or ""
        return render_template("crm/customer_edit.html", customer=record, form=form)
    if not form.validate_on_submit():
        return failed("crm/customer_edit.html", customer=record, form=form)
    changes = {
        "name_en": form.name_en.data,
        "name_zh": form.name_zh.data or "",
        "district": form.district.data,
        "tier": form.tier.data,
        "status": form.status.data,
        "preferred_language": form.preferred_language.data,
        "notes": (form.notes.data or "").replace("\r\n", "\n"),
    }
    try:
        update_customer(db(), actor(), customer_id, changes)
    except OperationError as exc:
        error = _apply_field_error(form, exc)
        return refused(
            "update_customer",
            exc,
            "crm/customer_edit.html",
            error,
            entity=("customer", customer_id),
            customer=record,
            form=form,
        )
    return done(translate("Customer profile saved."), "crm.customer", customer_id=customer_id)


@bp.route("/customers/<int:customer_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def contact_edit(customer_id: int, contact_id: int) -> Response | str | tuple[str, int]:
    """Correct a contact point or flag it invalid through update_contact_point."""
    record = get_or_404(Customer, customer_id, "customer")
    contact = db().get(ContactPoint, contact_id)
    if contact is None or contact.customer_id != record.id:
        raise CrmNotFound("contact point")
    form = ContactEditForm(obj=contact if request.method == "GET" else None)
    context = {"customer": record, "contact": contact, "form": form}
    if request.method == "GET":
        return render_template("crm/contact_edit.html", **context)
    if not form.validate_on_submit():
        return failed("crm/contact_edit.html", **context)
    try:
        update_contact_point(
            db(),
            actor(),
            contact_id,
            value=form.value.data or "",
            is_invalid=bool(form.is_invalid.data),
        )
    except OperationError as exc:
        error = _apply_field_error(form, exc)
        return refused(
            "update_contact_point",
            exc,
            "crm/contact_edit.html",
            error,
            entity=("contact_point", contact_id),
            **context,
        )
    return done(translate("Contact details saved."), "crm.customer", customer_id=customer_id)


@bp.route("/customers/<int:customer_id>/notes/new", methods=["GET", "POST"])
def customer_note(customer_id: int) -> Response | str | tuple[str, int]:
    """Add a note to a customer through add_customer_note."""
    record = get_or_404(Customer, customer_id, "customer")
    form = NoteForm()
    if request.method == "GET":
        return render_template("crm/customer_note.html", customer=record, form=form)
    if not form.validate_on_submit():
        return failed("crm/customer_note.html", customer=record, form=form)
    try:
        add_customer_note(db(), actor(), customer_id, form.text.data or "")
    except OperationError as exc:
        error = _apply_field_error(form, exc)
        return refused(
            "add_customer_note",
            exc,
            "crm/customer_note.html",
            error,
            entity=("customer", customer_id),
            customer=record,
            form=form,
        )
    return done(translate("Note added."), "crm.customer", customer_id=customer_id)


@bp.route("/customers/<int:customer_id>/consents/new", methods=["GET", "POST"])
def customer_consent(customer_id: int) -> Response | str | tuple[str, int]:
    """Record a consent change through record_consent (the log is append-only)."""
    record = get_or_404(Customer, customer_id, "customer")
    form = ConsentForm()
    if request.method == "GET":
        form.channel.data = request.args.get("channel", form.channel.data)
        form.purpose.data = request.args.get("purpose", form.purpose.data)
    context = {"customer": record, "form": form, "latest": latest_consents(record.consents)}
    if request.method == "GET":
        return render_template("crm/customer_consent.html", **context)
    if not form.validate_on_submit():
        return failed("crm/customer_consent.html", **context)
    try:
        record_consent(
            db(),
            actor(),
            customer_id,
            form.purpose.data,
            form.channel.data,
            form.status.data,
            form.method.data,
            form.note.data or "",
        )
    except OperationError as exc:
        error = _apply_field_error(form, exc)
        return refused(
            "record_consent",
            exc,
            "crm/customer_consent.html",
            error,
            entity=("customer", customer_id),
            **context,
        )
    return done(translate("Consent recorded."), "crm.customer", customer_id=customer_id)


@bp.route("/customers/<int:customer_id>/messages/new", methods=["GET", "POST"])
def customer_message(customer_id: int) -> Response | str | tuple[str, int]:
    """Send an email or SMS to a customer through send_message."""
    record = get_or_404(Customer, customer_id, "customer")
    form = MessageForm()
    context = {"customer": record, "form": form, "latest": latest_consents(record.consents)}
    if request.method == "GET":
        return render_template("crm/customer_message.html", **context)
    if not form.validate_on_submit():
        return failed("crm/customer_message.html", **context)
    try:
        message = send_message(
            db(),
            actor(),
            customer_id=customer_id,
            channel=form.channel.data,
            kind=form.kind.data,
            subject=form.subject.data or "",
            body=form.body.data or "",
            has_opt_out_notice=bool(form.has_opt_out_notice.data),
        )
    except OperationError as exc:
        error = _apply_field_error(form, exc)
        return refused(
            "send_message",
            exc,
            "crm/customer_message.html",
            error,
            entity=("customer", customer_id),
            **context,
        )
    return done(
        translate("Message sent to %(address)s.", address=message.to_address),
        "crm.customer",
        customer_id=customer_id,
    )

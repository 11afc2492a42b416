"""E-shop import and data-quality pages: lists, one account or issue, and their actions.

Each page that changes data posts a plain form, calls one operation and redirects; a refusal is
shown beside the form and audited. No page needs JavaScript. The accounts' e-mail and mobile and
their browsing data are shown as the acting role (or the role previewed) may see them, through
the CRM's one presenter (``sandbox_crm.web.masking``).
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from sandbox_crm.consent import current_consent_status
from sandbox_crm.eshop.matching import REASONS
from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopActivity,
    EshopConsent,
    EshopImportEntry,
    EshopMatch,
    EshopOrder,
    ProfileUpdateRequest,
    QualityIssue,
)
from sandbox_crm.eshop.operations import (
    QUALITY_RULES,
    RESOLUTIONS,
    close_quality_issue,
    create_customer_from_eshop,
    leave_eshop_account_for_review,
    link_eshop_account,
    merge_eshop_account,
    request_profile_update,
    run_eshop_sync,
    run_quality_rules,
    usable_contact,
)
from sandbox_crm.i18n import N_
from sandbox_crm.models import ConsentPurpose, Customer
from sandbox_crm.web.core import (
    ListView,
    actor,
    bp,
    db,
    done,
    failed,
    get_or_404,
    submit_form,
)
from sandbox_crm.web.forms import ConfirmForm
from sandbox_crm.web.i18n import translate
from sandbox_crm.web.masking import PREVIEW_ARG, FieldView, preview_roles, request_field_view

PER_PAGE = 50

# The codes these pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Unreviewed"),
    N_("Merged"),
    N_("Linked"),
    N_("Created"),
    N_("Review"),
    N_("Open"),
    N_("Requested"),
    N_("Corrected"),
    N_("No consented channel"),
    N_("Not an issue"),
    N_("Duplicate merged"),
    N_("Missing district"),
    N_("Malformed email"),
    N_("Malformed phone"),
    N_("Stale address"),
    N_("Duplicate account"),
    N_("Name mismatch"),
    N_("Session"),
    N_("Product view"),
    N_("Wishlist"),
    N_("Cart abandoned"),
    N_("Newsletter signup"),
    N_("Unsubscribe link"),
)


# --- the e-shop -----------------------------------------------------------------------------


ACCOUNT_LIST = ListView(
    source="eshop_accounts",
    filters={"recon_status": "recon_status"},
    columns=[
        "account_id",
        "account_no",
        "first_name",
        "last_name",
        "cust_email",
        "mobile_no",
        "recon_status",
        "customer_id",
    ],
    sortable=("account_no", "last_name", "recon_status"),
    default_sort=("account_no", "asc"),
    per_page=PER_PAGE,
)


CONTACT_FIELDS = ("cust_email", "mobile_no")
"""The e-shop's protected contact fields, as its pages show them."""


def _view_context(view: FieldView) -> dict[str, Any]:
    """What a page needs to say which role's view it shows and to switch it."""
    return {"view": view, "roles": preview_roles(db()), "preview_arg": PREVIEW_ARG}


def _list_context() -> dict[str, Any]:
    context = ACCOUNT_LIST.context()
    view = request_field_view()
    log = (
        db().scalars(select(EshopImportEntry).order_by(EshopImportEntry.id.desc()).limit(20)).all()
    )
    return {
        **context,
        "rows": view.rows(context["listing"].rows),
        "log": log,
        "confirm": ConfirmForm(),
        **_view_context(view),
    }


def _behaviour(view: FieldView, activities: list[EshopActivity]) -> dict[str, Any]:
    """The account's browsing data as the role may see it: a timeline in full, how many of
    each kind when masked, nothing when hidden."""
    level = view.level("browsing")
    counts: dict[str, int] = {}
    if level == "masked":
        for activity in activities:
            counts[activity.kind] = counts.get(activity.kind, 0) + 1
    return {
        "level": level,
        "activities": activities if level == "full" else [],
        "counts": sorted(counts.items()),
    }


@bp.get("/eshop")
def eshop_accounts() -> str:
    """The e-shop's accounts with their import status, filterable and paginated."""
    return render_template("crm/eshop_accounts.html", **_list_context())


def _account_context(account_id: int) -> dict[str, Any]:
    session = db()
    account = get_or_404(EshopAccount, account_id, "e-shop account")
    matches = session.scalars(
        select(EshopMatch)
        .where(EshopMatch.account_id == account.id)
        .order_by(EshopMatch.score.desc(), EshopMatch.customer_id)
    ).all()
    candidates = [
        {
            "match": m,
            "customer": session.get(Customer, m.customer_id),
            "reasons": [translate(REASONS[r][1]) for r in json.loads(m.reasons or "[]")],
        }
        for m in matches
    ]
    view = request_field_view()
    activities = list(
        session.scalars(
            select(EshopActivity)
            .where(EshopActivity.account_id == account.id)
            .order_by(EshopActivity.occurred_at)
        )
    )
    return {
        "account": account,
        "contact": {name: view.show(name, getattr(account, name)) for name in CONTACT_FIELDS},
        "behaviour": _behaviour(view, activities),
        **_view_context(view),
        "candidates": candidates,
        "orders": session.scalars(
            select(EshopOrder)
            .where(EshopOrder.account_id == account.id)
            .order_by(EshopOrder.placed_at)
        ).all(),
        "consents": session.scalars(
            select(EshopConsent)
            .where(EshopConsent.account_id == account.id)
            .order_by(EshopConsent.captured_at)
        ).all(),
        "log": session.scalars(
            select(EshopImportEntry)
            .where(EshopImportEntry.account_id == account.id)
            .order_by(EshopImportEntry.id)
        ).all(),
        "confirm": ConfirmForm(),
    }


@bp.get("/eshop/<int:account_id>")
def eshop_account(account_id: int) -> str:
    """One e-shop account: its details, behaviour, consents, candidates and decisions."""
    return render_template("crm/eshop_account.html", **_account_context(account_id))


@bp.post("/eshop/sync")
def eshop_sync() -> Response | tuple[str, int]:
    """Run the sync: candidate matches for every undecided account."""
    return submit_form(
        ConfirmForm(),
        "run_eshop_sync",
        lambda: run_eshop_sync(db(), actor()),
        N_("Sync run: candidate matches listed."),
        template="crm/eshop_accounts.html",
        context=_list_context,
        endpoint="crm.eshop_accounts",
    )


def _int(name: str) -> int | None:
    text = (request.form.get(name) or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


_DECISIONS = {
    "merge": ("merge_eshop_account", N_("The account was merged into the customer.")),
    "link": ("link_eshop_account", N_("The account was linked to the customer.")),
    "create": ("create_customer_from_eshop", N_("A new customer was created from the account.")),
    "review": ("leave_eshop_account_for_review", N_("The account is left for review.")),
}


@bp.post("/eshop/<int:account_id>/<any(merge, link, create, review):decision>")
def eshop_decide(account_id: int, decision: str) -> Response | tuple[str, int]:
    """Merge, link, create or leave for review, one form each."""
    get_or_404(EshopAccount, account_id, "e-shop account")
    name, message = _DECISIONS[decision]

    def run() -> None:
        form = request.form
        session, staff = db(), actor()
        if decision in ("merge", "link"):
            customer_id = _int("customer_id")
            if decision == "merge":
                merge_eshop_account(
                    session,
                    staff,
                    account_id=account_id,
                    customer_id=customer_id,
                    note=form.get("note", ""),
                    consents=form.get("consents", "all"),
                )
            else:
                link_eshop_account(
                    session,
                    staff,
                    account_id=account_id,
                    customer_id=customer_id,
                    note=form.get("note", ""),
                )
        elif decision == "create":
            create_customer_from_eshop(
                session, staff, account_id=account_id, note=form.get("note", "")
            )
        else:
            leave_eshop_account_for_review(
                session, staff, account_id=account_id, reason=form.get("reason", "")
            )

    return submit_form(
        ConfirmForm(),
        name,
        run,
        message,
        template="crm/eshop_account.html",
        context=lambda: _account_context(account_id),
        endpoint="crm.eshop_account",
        entity=("eshop_account", account_id),
        account_id=account_id,
    )


# --- data quality ---------------------------------------------------------------------------


ISSUE_LIST = ListView(
    source="quality_issues",
    filters={"rule": "rule", "status": "status"},
    columns=["issue_id", "customer_id", "rule", "status", "raised_at", "resolution"],
    sortable=("raised_at", "rule", "status", "customer_id"),
    default_sort=("raised_at", "desc"),
    per_page=PER_PAGE,
)


def _queue_context() -> dict[str, Any]:
    return {
        **ISSUE_LIST.context(),
        "rules": {code: translate(text) for code, text in QUALITY_RULES.items()},
        "confirm": ConfirmForm(),
    }


@bp.get("/quality")
def quality_issues() -> str:
    """The data-quality review queue, filterable by rule and status, paginated."""
    return render_template("crm/quality_issues.html", **_queue_context())


def _issue_context(issue_id: int) -> dict[str, Any]:
    session = db()
    issue = get_or_404(QualityIssue, issue_id, "data-quality issue")
    customer = session.get_one(Customer, issue.customer_id)
    channels = []
    for channel in ("email", "sms", "post"):
        point = usable_contact(session, customer.id, channel)
        status = current_consent_status(
            session, customer.id, ConsentPurpose.DIRECT_MARKETING.value, channel
        )
        channels.append({"channel": channel, "point": point, "consent": status})
    return {
        "issue": issue,
        "customer": customer,
        "rule_label": translate(QUALITY_RULES.get(issue.rule, issue.rule)),
        "channels": channels,
        "requests": session.scalars(
            select(ProfileUpdateRequest)
            .where(ProfileUpdateRequest.issue_id == issue.id)
            .order_by(ProfileUpdateRequest.id)
        ).all(),
        "resolutions": RESOLUTIONS,
        "confirm": ConfirmForm(),
    }


@bp.get("/quality/<int:issue_id>")
def quality_issue(issue_id: int) -> str:
    """One issue: the customer's channels and consents, requests sent, and the close form."""
    return render_template("crm/quality_issue.html", **_issue_context(issue_id))


@bp.post("/quality/scan")
def quality_scan() -> Response | tuple[str, int]:
    """Run the data-quality rules."""
    if not ConfirmForm().validate_on_submit():
        return failed("crm/quality_issues.html", **_queue_context())
    run_quality_rules(db(), actor())
    return done(translate(N_("The rules ran; new issues are in the queue.")), "crm.quality_issues")


@bp.post("/quality/<int:issue_id>/<any(request, close):step>")
def quality_act(issue_id: int, step: str) -> Response | tuple[str, int]:
    """Send a profile-update request, or close the issue."""
    get_or_404(QualityIssue, issue_id, "data-quality issue")
    form = request.form
    if step == "request":
        name, message = "request_profile_update", N_("The profile-update request was sent.")
    else:
        name, message = "close_quality_issue", N_("The issue is closed.")

    def run() -> Any:
        if step == "request":
            return request_profile_update(
                db(), actor(), issue_id=issue_id, channel=form.get("channel", "")
            )
        return close_quality_issue(
            db(),
            actor(),
            issue_id=issue_id,
            resolution=form.get("resolution", ""),
            reason=form.get("reason", ""),
        )

    return submit_form(
        ConfirmForm(),
        name,
        run,
        message,
        template="crm/quality_issue.html",
        context=lambda: _issue_context(issue_id),
        endpoint="crm.quality_issue",
        entity=("quality_issue", issue_id),
        issue_id=issue_id,
    )

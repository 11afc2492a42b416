"""Report sources of the e-shop and the data-quality queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    DateTime,
    String,
    case,
    cast,
    exists,
    false,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, aliased
from sqlalchemy.sql.elements import ColumnElement

from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopActivity,
    EshopImportEntry,
    EshopOrder,
    IssueStatus,
    QualityIssue,
    ReconStatus,
)
from sandbox_crm.eshop.operations import QUALITY_RULES, RESOLUTIONS
from sandbox_crm.i18n import N_
from sandbox_crm.models import Customer, OrderStatus, SalesChannel, SalesOrder, Sensitivity
from sandbox_crm.sources import (
    QUALIFYING_ORDER_STATUSES,
    SOURCES,
    Field,
    QueryScope,
    Source,
    column_field,
    enum_values,
    index_fields,
)

P, INT = Sensitivity.PERSONAL, Sensitivity.INTERNAL

SOURCES.add(
    "eshop_accounts",
    Source(
        name="eshop_accounts",
        label=N_("E-shop accounts"),
        model=EshopAccount,
        key_field="account_id",
        fields=index_fields(
            column_field("account_id", "Account ID", "int", INT, EshopAccount.id),
            column_field("account_no", "Account no.", "str", INT, EshopAccount.account_no),
            column_field("first_name", "First name", "str", P, EshopAccount.first_name),
            column_field("last_name", "Last name", "str", P, EshopAccount.last_name),
            column_field("cust_email", "cust_email", "str", P, EshopAccount.cust_email),
            column_field("mobile_no", "mobile_no", "str", P, EshopAccount.mobile_no),
            column_field("district", "District", "str", P, EshopAccount.district),
            column_field("status_code", "Status code", "str", INT, EshopAccount.status_code),
            column_field(
                "preferred_channel", "Preferred channel", "str", INT, EshopAccount.preferred_channel
            ),
            column_field(
                "registered_at", "Registered", "datetime", INT, EshopAccount.registered_at
            ),
            column_field(
                "recon_status",
                "Import status",
                "enum",
                INT,
                EshopAccount.recon_status,
                choices=enum_values(ReconStatus),
            ),
            column_field("customer_id", "CRM customer ID", "int", INT, EshopAccount.customer_id),
        ),
        default_columns=("account_no", "last_name", "first_name", "cust_email", "recon_status"),
    ),
)

SOURCES.add(
    "eshop_import_log",
    Source(
        name="eshop_import_log",
        label=N_("E-shop import log"),
        model=EshopImportEntry,
        key_field="entry_id",
        fields=index_fields(
            column_field("entry_id", "Entry ID", "int", INT, EshopImportEntry.id),
            column_field("account_id", "Account ID", "int", INT, EshopImportEntry.account_id),
            column_field(
                "action",
                "Action",
                "enum",
                INT,
                EshopImportEntry.action,
                choices=enum_values(ReconStatus),
            ),
            column_field(
                "customer_id", "CRM customer ID", "int", INT, EshopImportEntry.customer_id
            ),
            column_field(
                "consents_copied", "Consents copied", "int", INT, EshopImportEntry.consents_copied
            ),
            column_field("note", "Note", "str", INT, EshopImportEntry.note),
            column_field("done_at", "Done at", "datetime", INT, EshopImportEntry.done_at),
        ),
        default_columns=("done_at", "account_id", "action", "customer_id", "consents_copied"),
    ),
)

SOURCES.add(
    "quality_issues",
    Source(
        name="quality_issues",
        label=N_("Data-quality issues"),
        model=QualityIssue,
        key_field="issue_id",
        fields=index_fields(
            column_field("issue_id", "Issue ID", "int", INT, QualityIssue.id),
            column_field("customer_id", "Customer ID", "int", INT, QualityIssue.customer_id),
            column_field(
                "rule", "Rule", "enum", INT, QualityIssue.rule, choices=tuple(QUALITY_RULES)
            ),
            column_field(
                "status",
                "Status",
                "enum",
                INT,
                QualityIssue.status,
                choices=enum_values(IssueStatus),
            ),
            column_field("raised_at", "Raised at", "datetime", INT, QualityIssue.raised_at),
            column_field(
                "resolution",
                "Resolution",
                "enum",
                INT,
                QualityIssue.resolution,
                choices=RESOLUTIONS,
            ),
            column_field("close_reason", "Reason closed", "str", INT, QualityIssue.close_reason),
        ),
        default_columns=("raised_at", "customer_id", "rule", "status"),
    ),
)


# --- sales activity from both systems ---------------------------------------------------------
#
# The CRM's orders and the e-shop's orders are two systems' records of sales. A person who
# shops in both has a CRM customer number and an e-shop account number; once the account is
# linked to (or merged into) the CRM customer, ``customer_key`` is the same for both, so
# counting different customer_key values counts people once. ``system_customer`` is each
# system's own number: counting it counts a person in both systems twice.

_ESHOP_STATUS = {
    "PD": OrderStatus.PAID.value,
    "SH": OrderStatus.SHIPPED.value,
    "DL": OrderStatus.COMPLETED.value,
    "CX": OrderStatus.CANCELLED.value,
    "RF": OrderStatus.REFUNDED.value,
}
ESHOP_SALE_CODES: tuple[str, ...] = tuple(
    code for code, status in _ESHOP_STATUS.items() if status in QUALIFYING_ORDER_STATUSES
)
"""E-shop status codes that count as a sale (paid, shipped, delivered)."""


def _eshop_status(code: Any) -> Any:
    return case(*((code == k, v) for k, v in _ESHOP_STATUS.items()), else_="pending")


def _crm_key(customer_id: Any) -> Any:
    return literal("C") + cast(customer_id, String)


def _eshop_key(account_no: Any) -> Any:
    return literal("E") + account_no


def _crm_sale_before(customer_id: Any, moment: Any) -> Any:
    """A CRM sale to the customer before ``moment``."""
    earlier = aliased(SalesOrder)
    return exists().where(
        earlier.customer_id == customer_id,
        earlier.status.in_(QUALIFYING_ORDER_STATUSES),
        earlier.ordered_at < moment,
    )


def _eshop_sale_before(account_ids: Any, moment: Any) -> Any:
    """An e-shop sale before ``moment`` on an account ``account_ids(account_id_column)`` allows."""
    earlier = aliased(EshopOrder)
    return exists().where(
        account_ids(earlier.account_id),
        earlier.status_code.in_(ESHOP_SALE_CODES),
        earlier.placed_at < moment,
    )


def _linked_accounts(customer_id: Any) -> Any:
    """Accounts linked to the CRM customer, as a condition on an account id column."""
    linked = aliased(EshopAccount)
    return lambda column: column.in_(select(linked.id).where(linked.customer_id == customer_id))


def _sales_lines() -> Any:
    """Both systems' orders as one set of rows (CRM orders keep their id; e-shop ids negated)."""
    crm_name = select(Customer.name_en).where(Customer.id == SalesOrder.customer_id)
    crm = select(
        SalesOrder.id.label("line_id"),
        literal("crm").label("system"),
        SalesOrder.order_no.label("order_ref"),
        SalesOrder.channel.label("channel"),
        SalesOrder.status.label("status"),
        SalesOrder.ordered_at.label("placed_at"),
        SalesOrder.total_hkd.label("total_hkd"),
        SalesOrder.customer_id.label("crm_customer_id"),
        _crm_key(SalesOrder.customer_id).label("customer_key"),
        _crm_key(SalesOrder.customer_id).label("system_customer"),
        crm_name.scalar_subquery().label("customer_name"),
        or_(
            _crm_sale_before(SalesOrder.customer_id, SalesOrder.ordered_at),
            _eshop_sale_before(_linked_accounts(SalesOrder.customer_id), SalesOrder.ordered_at),
        ).label("repeat_buyer"),
    )
    account = aliased(EshopAccount)
    eshop = (
        select(
            (-EshopOrder.id).label("line_id"),
            literal("eshop").label("system"),
            EshopOrder.order_ref.label("order_ref"),
            literal(SalesChannel.ESHOP.value).label("channel"),
            _eshop_status(EshopOrder.status_code).label("status"),
            EshopOrder.placed_at.label("placed_at"),
            EshopOrder.total_hkd.label("total_hkd"),
            account.customer_id.label("crm_customer_id"),
            case(
                (account.customer_id.isnot(None), _crm_key(account.customer_id)),
                else_=_eshop_key(account.account_no),
            ).label("customer_key"),
            _eshop_key(account.account_no).label("system_customer"),
            (account.first_name + literal(" ") + account.last_name).label("customer_name"),
            case(
                (
                    account.customer_id.isnot(None),
                    or_(
                        _crm_sale_before(account.customer_id, EshopOrder.placed_at),
                        _eshop_sale_before(
                            _linked_accounts(account.customer_id), EshopOrder.placed_at
                        ),
                    ),
                ),
                else_=_eshop_sale_before(lambda column: column == account.id, EshopOrder.placed_at),
            ).label("repeat_buyer"),
        )
        .select_from(EshopOrder)
        .join(account, account.id == EshopOrder.account_id)
    )
    return union_all(crm, eshop).subquery("sales_line")


class _ViewBase(DeclarativeBase):
    """Read-only row sets over several tables: mapped for querying, never created."""


_SALES = _sales_lines()


class SalesLine(_ViewBase):
    """One order from either system, as the sales source reads it."""

    __table__ = _SALES
    __mapper_args__ = {"primary_key": [_SALES.c.line_id]}


def _col(name: str) -> Callable[[QueryScope], Any]:
    """Builder: the sales rows' column ``name``."""
    column = _SALES.c[name]
    return lambda scope: column


_SALE_STATUS = case(
    (_SALES.c.status.in_(QUALIFYING_ORDER_STATUSES), true()),
    else_=false(),
)

SOURCES.add(
    "sales",
    Source(
        name="sales",
        label=N_("Sales, both systems"),
        model=SalesLine,
        key_field="line_id",
        fields=index_fields(
            Field("line_id", "Line ID", "int", INT, _col("line_id"), nullable=False),
            Field(
                "system",
                "System",
                "enum",
                INT,
                _col("system"),
                choices=("crm", "eshop"),
                nullable=False,
                description=N_("The system the order was recorded in: the CRM or the e-shop."),
            ),
            Field("order_ref", "Order no.", "str", INT, _col("order_ref"), nullable=False),
            Field(
                "channel",
                "Channel",
                "enum",
                INT,
                _col("channel"),
                choices=enum_values(SalesChannel),
                nullable=False,
            ),
            Field(
                "status",
                "Status",
                "enum",
                INT,
                _col("status"),
                choices=enum_values(OrderStatus),
                nullable=False,
                description=N_("The order's status; the e-shop's codes read as the CRM's."),
            ),
            Field(
                "is_sale",
                "Counts as a sale",
                "bool",
                INT,
                lambda scope: _SALE_STATUS,
                description=N_("Paid, shipped or completed (not pending, cancelled or refunded)."),
                nullable=False,
            ),
            Field("placed_at", "Placed at", "datetime", INT, _col("placed_at"), nullable=False),
            Field("total_hkd", "Total (HK$)", "int", INT, _col("total_hkd"), nullable=False),
            Field(
                "crm_customer_id",
                "CRM customer ID",
                "int",
                INT,
                _col("crm_customer_id"),
            ),
            Field(
                "customer_key",
                "Customer (both systems)",
                "str",
                INT,
                _col("customer_key"),
                nullable=False,
                description=N_(
                    "One key per person: the CRM customer, or the e-shop account when it is not"
                    " linked to a CRM customer. Count its values to count customers once."
                ),
            ),
            Field(
                "system_customer",
                "Customer number in its system",
                "str",
                INT,
                _col("system_customer"),
                nullable=False,
                description=N_(
                    "The CRM customer number or the e-shop account number: a person who shops"
                    " in both systems has one of each."
                ),
            ),
            Field(
                "customer_name",
                "Customer name",
                "str",
                P,
                _col("customer_name"),
            ),
            Field(
                "repeat_buyer",
                "Returning customer",
                "bool",
                INT,
                _col("repeat_buyer"),
                nullable=False,
                description=N_(
                    "The customer had bought before this order, in either system (a paid,"
                    " shipped or completed order)."
                ),
            ),
        ),
        default_columns=("order_ref", "system", "channel", "placed_at", "total_hkd"),
    ),
)


class _DayLater(ColumnElement[Any]):
    """A date-time plus one day, in each database's own date arithmetic.

    SQLite keeps date-times as text, where ``+ interval`` means nothing; PostgreSQL has
    intervals.
    """

    inherit_cache = True
    type = DateTime()

    def __init__(self, moment: Any) -> None:
        self.moment = moment


@compiles(_DayLater)
def _day_later_default(element: _DayLater, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.moment, **kw)} + INTERVAL '1 day')"


@compiles(_DayLater, "sqlite")
def _day_later_sqlite(element: _DayLater, compiler: Any, **kw: Any) -> str:
    # The same text form SQLAlchemy stores ("YYYY-MM-DD HH:MM:SS.ffffff"), so that text
    # comparison orders it with the stored values.
    moment = compiler.process(element.moment, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, '+1 day') || '.000000')"


def _converted(scope: QueryScope) -> Any:
    """An e-shop sale on the same account within 24 hours of the session's start."""
    order = aliased(EshopOrder)
    return exists().where(
        order.account_id == EshopActivity.account_id,
        order.status_code.in_(ESHOP_SALE_CODES),
        order.placed_at >= EshopActivity.occurred_at,
        order.placed_at < _DayLater(EshopActivity.occurred_at),
    )


def _activity_account(column: Any) -> Any:
    def build(scope: QueryScope) -> Any:
        return (
            select(column)
            .where(EshopAccount.id == EshopActivity.account_id)
            .correlate(EshopActivity)
            .scalar_subquery()
        )

    return build


SOURCES.add(
    "eshop_activity",
    Source(
        name="eshop_activity",
        label=N_("E-shop activity"),
        model=EshopActivity,
        key_field="activity_id",
        fields=index_fields(
            column_field("activity_id", "Activity ID", "int", INT, EshopActivity.id),
            column_field("account_id", "Account ID", "int", INT, EshopActivity.account_id),
            Field(
                "account_no", "Account no.", "str", INT, _activity_account(EshopAccount.account_no)
            ),
            column_field(
                "kind",
                "Activity",
                "enum",
                INT,
                EshopActivity.kind,
                choices=("session", "product_view", "wishlist", "cart_abandoned"),
            ),
            column_field("occurred_at", "When", "datetime", INT, EshopActivity.occurred_at),
            Field(
                "converted",
                "Ordered within 24 hours",
                "bool",
                INT,
                _converted,
                description=N_(
                    "The account placed an order that counts as a sale within 24 hours of this"
                    " activity (for a session: the session converted)."
                ),
                nullable=False,
            ),
        ),
        default_columns=("occurred_at", "account_no", "kind", "converted"),
    ),
)

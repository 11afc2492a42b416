"""Report sources of the e-shop and the data-quality queue."""

from __future__ import annotations

from sandbox_crm.eshop.models import (
    EshopAccount,
    EshopImportEntry,
    IssueStatus,
    QualityIssue,
    ReconStatus,
)
from sandbox_crm.eshop.operations import QUALITY_RULES, RESOLUTIONS
from sandbox_crm.i18n import N_
from sandbox_crm.models import Sensitivity
from sandbox_crm.sources import SOURCES, Source, column_field, enum_values, index_fields

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

"""DPP1 (collection) and the Code of Practice on the Identity Card Number: rules COL-01 to COL-08.

Only what the trainee did counts: customers whose HKID fields changed in the attempt, free text
written or changed in the attempt, and report runs and exports made in the attempt. HKID numbers
the generator planted in the template are not the trainee's findings until the trainee copies
them somewhere new (a report run, an export, another note).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from graders.checks.common import column_names
from graders.context import GradingContext
from graders.pdpo.base import (
    Breach,
    RuleOutcome,
    breach,
    judged,
    mask_hkid,
    register_not_applicable,
)
from graders.registry import rule
from graders.results import counted
from graders.results import message as marked
from sandbox_crm.hkid import find_hkids, is_valid_hkid
from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    Campaign,
    ConsentRecord,
    ContactPoint,
    Customer,
    Message,
    ReportDefinition,
    ReportExport,
    ReportRun,
    SandboxBase,
)

HKID_FIELD = "hkid"
"""The report field that shows a customer's HKID number."""

FREE_TEXT: tuple[tuple[type[SandboxBase], tuple[str, ...]], ...] = (
    (Customer, ("name_en", "name_zh", "notes", "hkid_basis")),
    (ContactPoint, ("value",)),
    (ConsentRecord, ("note",)),
    (Message, ("subject", "body")),
    (Campaign, ("name", "objective")),
    (ReportDefinition, ("name", "description", "purpose")),
    (ReportExport, ("purpose",)),
)
"""Free-text columns COL-07 reads in rows added or changed in the attempt."""


def _has_value(value: str | None) -> bool:
    return bool((value or "").strip())


def _hkids(text: str | None) -> set[str]:
    return {m.value for m in find_hkids(text or "")}


def _masked(values: Sequence[str] | set[str]) -> str:
    return ", ".join(mask_hkid(v) for v in sorted(values))


@rule(
    "COL-04",
    title=N_("HKID number stored without need"),
    basis="DPP1(1); ID Code 2.3",
    severity="high",
    description=N_(
        "No full or partial HKID is stored on a customer in the attempt without a recorded basis."
    ),
)
def col_04(ctx: GradingContext) -> RuleOutcome:
    """No full or partial HKID is stored on a customer in the attempt without a recorded basis."""
    customers = ctx.touched(Customer, ("hkid", "hkid_basis"))
    breaches = []
    for customer in customers:
        if not _has_value(customer.hkid) or _has_value(customer.hkid_basis):
            continue
        if is_valid_hkid(customer.hkid or ""):
            template = N_(
                "A full HKID number (%(hkid)s) is stored for member %(member)s with no recorded"
                " basis; membership, loyalty or marketing never needs one."
            )
        else:
            template = N_(
                "A partial HKID number (%(hkid)s) is stored for member %(member)s with no"
                " recorded basis; membership, loyalty or marketing never needs one."
            )
        breaches.append(
            breach(
                template,
                {"hkid": mask_hkid(customer.hkid or ""), "member": customer.member_no},
                ctx.event_ids_about("customer", customer.id, "customer.update"),
                (("customer", customer.id),),
            )
        )
    scope = counted(
        len(customers),
        N_("%(count)d customer whose HKID details changed in the attempt"),
        N_("%(count)d customers whose HKID details changed in the attempt"),
    )
    return judged(breaches, scope=scope)


def _template_texts(
    ctx: GradingContext, model: type[SandboxBase], columns: tuple[str, ...], ids: list[int]
) -> dict[int, tuple[Any, ...]]:
    table = model.__table__  # type: ignore[attr-defined]
    stmt = select(table.c.id, *(table.c[c] for c in columns)).where(table.c.id.in_(ids))
    return {row[0]: tuple(row[1:]) for row in ctx.template.execute(stmt)}


def _free_text_breaches(ctx: GradingContext) -> tuple[list[Breach], int]:
    breaches: list[Breach] = []
    examined = 0
    for model, columns in FREE_TEXT:
        rows = ctx.touched(model, columns)
        examined += len(rows)
        if not rows:
            continue
        table = model.__tablename__
        before = _template_texts(ctx, model, columns, [r.id for r in rows])
        for row in rows:
            old = before.get(row.id, (None,) * len(columns))
            for column, old_text in zip(columns, old, strict=True):
                new = _hkids(getattr(row, column)) - _hkids(old_text)
                if not new:
                    continue
                if len(new) == 1:
                    template = N_(
                        "1 HKID number (%(hkids)s) written into the %(column)s of %(table)s"
                        " #%(row)s."
                    )
                else:
                    template = N_(
                        "%(count)d HKID numbers (%(hkids)s) written into the %(column)s of"
                        " %(table)s #%(row)s."
                    )
                values = {
                    "count": len(new),
                    "hkids": _masked(new),
                    "column": column.replace("_", " "),
                    "table": table.replace("_", " "),
                    "row": row.id,
                }
                breaches.append(
                    breach(
                        template,
                        values,
                        ctx.event_ids_about(table, row.id),
                        ((table, row.id),),
                    )
                )
    return breaches, examined


# What a report run or an export holds: the HKID column, HKID numbers in its text, or both.
_OUTPUT_TEMPLATES = {
    ("report_run", True, 0): N_("Report run #%(row)s includes the HKID column."),
    ("report_run", False, 1): N_("Report run #%(row)s holds 1 HKID number (%(hkids)s)."),
    ("report_run", False, 2): N_("Report run #%(row)s holds %(count)d HKID numbers (%(hkids)s)."),
    ("report_run", True, 1): N_(
        "Report run #%(row)s includes the HKID column and holds 1 HKID number (%(hkids)s)."
    ),
    ("report_run", True, 2): N_(
        "Report run #%(row)s includes the HKID column and holds %(count)d HKID numbers (%(hkids)s)."
    ),
    ("report_export", True, 0): N_("Export #%(row)s includes the HKID column."),
    ("report_export", False, 1): N_("Export #%(row)s holds 1 HKID number (%(hkids)s)."),
    ("report_export", False, 2): N_("Export #%(row)s holds %(count)d HKID numbers (%(hkids)s)."),
    ("report_export", True, 1): N_(
        "Export #%(row)s includes the HKID column and holds 1 HKID number (%(hkids)s)."
    ),
    ("report_export", True, 2): N_(
        "Export #%(row)s includes the HKID column and holds %(count)d HKID numbers (%(hkids)s)."
    ),
}


def _output_breach(
    ctx: GradingContext, table: str, row_id: int, columns: list[str], text: str
) -> Breach | None:
    has_column = HKID_FIELD in columns
    found = _hkids(text)
    if not has_column and not found:
        return None
    template = _OUTPUT_TEMPLATES[(table, has_column, min(len(found), 2))]
    values = {"row": row_id, "count": len(found), "hkids": _masked(found)}
    return breach(template, values, ctx.event_ids_about(table, row_id), ((table, row_id),))


@rule(
    "COL-07",
    title=N_("HKID number in free text, report output or export"),
    basis="DPP1(1), DPP4; ID Code 2.7",
    severity="high",
    description=N_(
        "No valid HKID number is written into free text, a report run or an export in the attempt."
    ),
)
def col_07(ctx: GradingContext) -> RuleOutcome:
    """No valid HKID number is written into free text, a report run or an export in the attempt."""
    breaches, examined = _free_text_breaches(ctx)
    runs = ctx.added(ReportRun)
    for run in runs:
        found = _output_breach(ctx, "report_run", run.id, column_names(run.columns), run.output_csv)
        if found is not None:
            breaches.append(found)
    exports = ctx.added(ReportExport)
    for export in exports:
        names = column_names(export.columns) or column_names(export.report.columns)
        found = _output_breach(ctx, "report_export", export.id, names, export.content)
        if found is not None:
            breaches.append(found)
    scope = marked(
        N_("%(records)s with text written in the attempt, %(runs)s and %(exports)s"),
        records=counted(examined, N_("%(count)d record"), N_("%(count)d records")),
        runs=counted(len(runs), N_("%(count)d report run"), N_("%(count)d report runs")),
        exports=counted(len(exports), N_("%(count)d export"), N_("%(count)d exports")),
    )
    return judged(breaches, scope=scope)


def _hkid_core(hkid: str) -> tuple[str, str]:
    """The letters and the digits of an HKID (without its check character)."""
    compact = re.sub(r"\(.*?\)|[^A-Z0-9]", "", hkid.upper())
    match = re.match(r"([A-Z]{1,2})([0-9]{3,6})", compact)
    return (match.group(1), match.group(2)) if match else ("", "")


@rule(
    "COL-08",
    title=N_("Member number derived from an HKID"),
    basis="ID Code 2.8",
    severity="medium",
    description=N_(
        "A member number set in the attempt is not derived from the customer's HKID number."
    ),
)
def col_08(ctx: GradingContext) -> RuleOutcome:
    """A member number set in the attempt is not derived from the customer's HKID number."""
    customers = ctx.touched(Customer, ("member_no", "hkid"))
    breaches = []
    for customer in customers:
        letters, digits = _hkid_core(customer.hkid or "")
        member = re.sub(r"[^A-Z0-9]", "", (customer.member_no or "").upper())
        if not digits or not member:
            continue
        derived = (len(digits) == 6 and digits in member) or (
            len(digits) >= 4 and f"{letters}{digits[:4]}" in member
        )
        if derived:
            breaches.append(
                breach(
                    N_(
                        "Member number of customer #%(customer)s is derived from their HKID"
                        " number (%(hkid)s)."
                    ),
                    {"customer": customer.id, "hkid": mask_hkid(customer.hkid or "")},
                    ctx.event_ids_about("customer", customer.id, "customer.update"),
                    (("customer", customer.id),),
                )
            )
    scope = counted(
        len(customers),
        N_("%(count)d customer whose member number or HKID changed in the attempt"),
        N_("%(count)d customers whose member number or HKID changed in the attempt"),
    )
    return judged(breaches, scope=scope)


register_not_applicable(
    "COL-01",
    title=N_("No collection notice recorded at collection"),
    basis="DPP1(3)",
    severity="medium",
    checks=N_(
        "A customer created through a collection channel has the PICS version recorded as "
        "shown at or before creation."
    ),
    reason=N_(
        "The sandbox has no operation that creates customers, so no personal data is "
        "collected from a customer during an attempt."
    ),
)
register_not_applicable(
    "COL-02",
    title=N_("Incomplete collection notice"),
    basis="DPP1(3)",
    severity="medium",
    checks=N_(
        "The active PICS states purposes, transferee classes, obligatory/voluntary fields, "
        "access and correction rights and the data-access officer."
    ),
    reason=N_(
        "Collection notices are generated company set-up and no operation edits them, so "
        "an attempt cannot make a notice better or worse."
    ),
)
register_not_applicable(
    "COL-03",
    title=N_("Excessive data at membership sign-up"),
    basis="DPP1(1)",
    severity="medium",
    checks=N_("Membership sign-up stores only fields on the purpose allow-list."),
    reason=N_(
        "The sandbox has no membership sign-up operation, so the fields collected at "
        "sign-up cannot be observed."
    ),
)
register_not_applicable(
    "COL-05",
    title=N_("HKID number without a permitted basis"),
    basis="ID Code 2.3",
    severity="high",
    checks=N_(
        "Any stored HKID has a recorded permitted basis linked to the order or document "
        "that needed it."
    ),
    reason=N_(
        "The basis of a stored HKID is free text with no link to an order or document, so "
        "it cannot be checked against one; COL-04 reports an HKID stored with no basis at all."
    ),
)

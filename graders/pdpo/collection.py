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
    judged,
    mask_hkid,
    plural,
    register_not_applicable,
)
from graders.registry import rule
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
)
def col_04(ctx: GradingContext) -> RuleOutcome:
    """No full or partial HKID is stored on a customer in the attempt without a recorded basis."""
    customers = ctx.touched(Customer, ("hkid", "hkid_basis"))
    breaches = []
    for customer in customers:
        if not _has_value(customer.hkid) or _has_value(customer.hkid_basis):
            continue
        kind = "A full" if is_valid_hkid(customer.hkid or "") else "A partial"
        breaches.append(
            Breach(
                f"{kind} HKID number ({mask_hkid(customer.hkid or '')}) is stored for member "
                f"{customer.member_no} with no recorded basis; membership, loyalty or marketing "
                "never needs one.",
                ctx.event_ids_about("customer", customer.id, "customer.update"),
                (("customer", customer.id),),
            )
        )
    scope = f"{plural(len(customers), 'customer')} whose HKID details changed in the attempt"
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
                breaches.append(
                    Breach(
                        f"{plural(len(new), 'HKID number')} ({_masked(new)}) written into the "
                        f"{column.replace('_', ' ')} of {table.replace('_', ' ')} #{row.id}.",
                        ctx.event_ids_about(table, row.id),
                        ((table, row.id),),
                    )
                )
    return breaches, examined


def _output_breach(
    ctx: GradingContext, what: str, table: str, row_id: int, columns: list[str], text: str
) -> Breach | None:
    problems = []
    if HKID_FIELD in columns:
        problems.append("includes the HKID column")
    found = _hkids(text)
    if found:
        problems.append(f"holds {plural(len(found), 'HKID number')} ({_masked(found)})")
    if not problems:
        return None
    return Breach(
        f"{what} #{row_id} {' and '.join(problems)}.",
        ctx.event_ids_about(table, row_id),
        ((table, row_id),),
    )


@rule(
    "COL-07",
    title=N_("HKID number in free text, report output or export"),
    basis="DPP1(1), DPP4; ID Code 2.7",
    severity="high",
)
def col_07(ctx: GradingContext) -> RuleOutcome:
    """No valid HKID number is written into free text, a report run or an export in the attempt."""
    breaches, examined = _free_text_breaches(ctx)
    runs = ctx.added(ReportRun)
    for run in runs:
        breach = _output_breach(
            ctx, "Report run", "report_run", run.id, column_names(run.columns), run.output_csv
        )
        if breach is not None:
            breaches.append(breach)
    exports = ctx.added(ReportExport)
    for export in exports:
        names = column_names(export.columns) or column_names(export.report.columns)
        breach = _output_breach(ctx, "Export", "report_export", export.id, names, export.content)
        if breach is not None:
            breaches.append(breach)
    scope = (
        f"{plural(examined, 'record')} with text written in the attempt, "
        f"{plural(len(runs), 'report run')} and {plural(len(exports), 'export')}"
    )
    return judged(breaches, scope=scope)


def _hkid_core(hkid: str) -> tuple[str, str]:
    """The letters and the digits of an HKID (without its check character)."""
    compact = re.sub(r"\(.*?\)|[^A-Z0-9]", "", hkid.upper())
    match = re.match(r"([A-Z]{1,2})([0-9]{3,6})", compact)
    return (match.group(1), match.group(2)) if match else ("", "")


@rule(
    "COL-08", title=N_("Member number derived from an HKID"), basis="ID Code 2.8", severity="medium"
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
                Breach(
                    f"Member number of customer #{customer.id} is derived from their HKID "
                    f"number ({mask_hkid(customer.hkid or '')}).",
                    ctx.event_ids_about("customer", customer.id, "customer.update"),
                    (("customer", customer.id),),
                )
            )
    scope = f"{plural(len(customers), 'customer')} whose member number or HKID changed"
    return judged(breaches, scope=scope + " in the attempt")


register_not_applicable(
    "COL-01",
    title=N_("No collection notice recorded at collection"),
    basis="DPP1(3)",
    severity="medium",
    checks="A customer created through a collection channel has the PICS version recorded as "
    "shown at or before creation.",
    reason="The sandbox has no operation that creates customers, so no personal data is "
    "collected from a customer during an attempt.",
)
register_not_applicable(
    "COL-02",
    title=N_("Incomplete collection notice"),
    basis="DPP1(3)",
    severity="medium",
    checks="The active PICS states purposes, transferee classes, obligatory/voluntary fields, "
    "access and correction rights and the data-access officer.",
    reason="Collection notices are generated company set-up and no operation edits them, so "
    "an attempt cannot make a notice better or worse.",
)
register_not_applicable(
    "COL-03",
    title=N_("Excessive data at membership sign-up"),
    basis="DPP1(1)",
    severity="medium",
    checks="Membership sign-up stores only fields on the purpose allow-list.",
    reason="The sandbox has no membership sign-up operation, so the fields collected at "
    "sign-up cannot be observed.",
)
register_not_applicable(
    "COL-05",
    title=N_("HKID number without a permitted basis"),
    basis="ID Code 2.3",
    severity="high",
    checks="Any stored HKID has a recorded permitted basis linked to the order or document "
    "that needed it.",
    reason="The basis of a stored HKID is free text with no link to an order or document, so "
    "it cannot be checked against one; COL-04 reports an HKID stored with no basis at all.",
)

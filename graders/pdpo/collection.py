"""DPP1 (collection) and the Code of Practice on the Identity Card Number: rules COL-01 to COL-08.

For customers' records only what the trainee did counts: customers whose HKID fields changed in
the attempt, free text written or changed in the attempt, and report runs and exports made in
the attempt. HKID numbers the generator planted in the template are not the trainee's findings
until the trainee copies them somewhere new (a report run, an export, another note).

The online sign-up forms are judged as they stand at the end of the attempt (COL-01 to COL-05):
a live form is collecting now, so what it asks and the notice it shows are the company's
practice whoever set them up. A sandbox without forms has nothing to judge there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from graders.checks.common import column_names
from graders.context import GradingContext
from graders.pdpo.base import (
    Breach,
    RuleOutcome,
    breach,
    judge_each,
    judged,
    mask_hkid,
)
from graders.registry import rule
from graders.results import counted
from graders.results import message as marked
from sandbox_crm.collection.models import (
    FormKind,
    FormStatus,
    Obligation,
    PicsVersion,
    Signup,
    SignupForm,
)
from sandbox_crm.collection.operations import current_pics, form_fields
from sandbox_crm.collection.procedures import (
    IDENTIFIER_FIELDS,
    JUSTIFICATION_MIN_LENGTH,
    JUSTIFY_FIELDS,
)
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

NO_HKID_FORMS = (FormKind.MEMBERSHIP, FormKind.NEWSLETTER, FormKind.EVENT)
"""Sign-up forms whose purpose can never need an HKID number (COL-04)."""


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
    forms = [f for f in _live_forms(ctx) if f.kind in NO_HKID_FORMS]
    for form in forms:
        asked = [r for r in form_fields(ctx.final, form.id) if r.field in IDENTIFIER_FIELDS]
        for row in asked:
            breaches.append(
                _form_breach(
                    ctx,
                    form,
                    N_(
                        "Form %(form)s asks for the %(field)s (%(obligation)s); a membership,"
                        " loyalty, newsletter or event sign-up never needs one."
                    ),
                    field=row.field.replace("_", " "),
                    obligation=marked(
                        N_("obligatory")
                        if row.obligation == Obligation.OBLIGATORY
                        else N_("voluntary")
                    ),
                )
            )
    scope = marked(
        N_("%(customers)s and %(forms)s"),
        customers=counted(
            len(customers),
            N_("%(count)d customer whose HKID details changed in the attempt"),
            N_("%(count)d customers whose HKID details changed in the attempt"),
        ),
        forms=counted(
            len(forms),
            N_("%(count)d live sign-up form for membership or marketing"),
            N_("%(count)d live sign-up forms for membership or marketing"),
        ),
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


def _live_forms(ctx: GradingContext) -> list[SignupForm]:
    return list(
        ctx.final.scalars(
            select(SignupForm).where(SignupForm.status == FormStatus.LIVE).order_by(SignupForm.id)
        )
    )


def _form_scope(forms: Sequence[SignupForm]) -> Any:
    return counted(
        len(forms), N_("%(count)d live sign-up form"), N_("%(count)d live sign-up forms")
    )


def _form_breach(ctx: GradingContext, form: SignupForm, template: str, **values: Any) -> Breach:
    events = [e.id for e in ctx.events_for("signup_form", form.id)]
    events += [e.id for e in ctx.events if e.detail("form_id") == form.id]
    return breach(
        template, {"form": form.code, **values}, sorted(set(events)), (("signup_form", form.id),)
    )


def _field_list(keys: Sequence[str]) -> str:
    return ", ".join(k.replace("_", " ") for k in keys)


@rule(
    "COL-01",
    title=N_("No collection notice recorded at collection"),
    basis="DPP1(3)",
    severity="medium",
    description=N_(
        "Every live sign-up form shows a PICS that covers what it collects, and every sign-up"
        " records the PICS shown at or before it."
    ),
)
def col_01(ctx: GradingContext) -> RuleOutcome:
    """Every live form collects under a PICS covering its fields; sign-ups record the PICS."""
    forms = _live_forms(ctx)
    breaches = []
    for form in forms:
        pics = current_pics(ctx.final, form.id)
        if pics is None:
            breaches.append(
                _form_breach(ctx, form, N_("Form %(form)s collects data with no PICS published."))
            )
            continue
        stated = set(pics.obligatory_fields) | set(pics.voluntary_fields)
        unstated = [r.field for r in form_fields(ctx.final, form.id) if r.field not in stated]
        if unstated:
            breaches.append(
                _form_breach(
                    ctx,
                    form,
                    N_(
                        "Form %(form)s collects %(fields)s, which its PICS in force (%(version)s)"
                        " does not mention: publish a new PICS before collecting them."
                    ),
                    fields=_field_list(unstated),
                    version=pics.version,
                )
            )
    published = {p.id: p.published_at for p in ctx.final.scalars(select(PicsVersion))}
    signups = list(ctx.final.scalars(select(Signup).order_by(Signup.id)))
    for signup in signups:
        shown = published.get(signup.pics_id) if signup.pics_id is not None else None
        if shown is None or shown > signup.submitted_at:
            breaches.append(
                breach(
                    N_("Sign-up #%(signup)s has no PICS recorded as shown at or before it."),
                    {"signup": signup.id},
                    (),
                    (("signup", signup.id),),
                )
            )
    scope = marked(
        N_("%(forms)s and %(signups)s"),
        forms=_form_scope(forms),
        signups=counted(len(signups), N_("%(count)d sign-up"), N_("%(count)d sign-ups")),
    )
    return judged(breaches, scope=scope)


@rule(
    "COL-02",
    title=N_("Incomplete collection notice"),
    basis="DPP1(3)",
    severity="medium",
    description=N_(
        "The PICS in force of each live form states purposes, transferee classes, each field as"
        " obligatory or voluntary as the form has it, and the access and correction contact."
    ),
)
def col_02(ctx: GradingContext) -> RuleOutcome:
    """The PICS of each live form is complete and states each field's status as the form has it."""
    forms = _live_forms(ctx)

    def find(form: SignupForm) -> Iterator[Breach]:
        pics = current_pics(ctx.final, form.id)
        if pics is None:
            return
        missing = []
        if not [p for p in pics.purposes if str(p).strip()]:
            missing.append(N_("the purposes"))
        if not [t for t in pics.transferee_classes if str(t).strip()]:
            missing.append(N_("the classes of transferees"))
        if not pics.access_rights_stated or not (pics.access_contact or "").strip():
            missing.append(N_("the right of access and correction and whom to ask"))
        for part in missing:
            yield _form_breach(
                ctx,
                form,
                N_("The PICS in force for form %(form)s (%(version)s) does not state %(part)s."),
                version=pics.version,
                part=marked(part),
            )
        rows = {r.field: r.obligation for r in form_fields(ctx.final, form.id)}
        stated = {f: Obligation.OBLIGATORY.value for f in pics.obligatory_fields}
        stated.update({f: Obligation.VOLUNTARY.value for f in pics.voluntary_fields})
        wrong = sorted(f for f in set(rows) & set(stated) if rows[f] != stated[f])
        gone = sorted(set(stated) - set(rows))
        if wrong or gone:
            yield _form_breach(
                ctx,
                form,
                N_(
                    "The PICS in force for form %(form)s (%(version)s) misstates what the"
                    " form collects: %(fields)s."
                ),
                version=pics.version,
                fields=_field_list(wrong + gone),
            )

    return judge_each(forms, find, scope=_form_scope(forms))


def _justified(text: str | None) -> bool:
    return len((text or "").strip()) >= JUSTIFICATION_MIN_LENGTH


@rule(
    "COL-03",
    title=N_("Excessive data at membership sign-up"),
    basis="DPP1(1)",
    severity="medium",
    description=N_(
        "A live membership form collects only fields on the purpose allow-list, or records a"
        " justification for each other field."
    ),
)
def col_03(ctx: GradingContext) -> RuleOutcome:
    """Membership forms ask only for allow-listed fields, or record why they need another."""
    forms = [f for f in _live_forms(ctx) if f.kind == FormKind.MEMBERSHIP]

    def find(form: SignupForm) -> Iterator[Breach]:
        excess = [
            r.field
            for r in form_fields(ctx.final, form.id)
            if r.field in JUSTIFY_FIELDS and not _justified(r.justification)
        ]
        if excess:
            yield _form_breach(
                ctx,
                form,
                N_(
                    "Membership form %(form)s collects %(fields)s with no recorded"
                    " justification; membership does not need them."
                ),
                fields=_field_list(excess),
            )

    scope = counted(
        len(forms), N_("%(count)d live membership form"), N_("%(count)d live membership forms")
    )
    return judge_each(forms, find, scope=scope)


@rule(
    "COL-05",
    title=N_("HKID number without a permitted basis"),
    basis="ID Code 2.3",
    severity="high",
    description=N_(
        "A live form that collects an HKID number records the permitted basis that needs it."
    ),
)
def col_05(ctx: GradingContext) -> RuleOutcome:
    """A live form collecting an HKID number records the permitted basis that needs it."""
    forms = _live_forms(ctx)

    def find(form: SignupForm) -> Iterator[Breach]:
        unjustified = [
            r.field
            for r in form_fields(ctx.final, form.id)
            if r.field in IDENTIFIER_FIELDS and not _justified(r.justification)
        ]
        if unjustified:
            yield _form_breach(
                ctx,
                form,
                N_(
                    "Form %(form)s collects %(fields)s with no recorded basis: an HKID number"
                    " is collected only where a law or a transaction needs it."
                ),
                fields=_field_list(unjustified),
            )

    return judge_each(forms, find, scope=_form_scope(forms))

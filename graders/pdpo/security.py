"""DPP4 (security) and staff misuse: rules SEC-01 to SEC-04 and BR-01.

Judged on what the attempt added: report shares, report definitions whose columns changed,
report runs and exports, the field permissions, roles' rights (record scope, bulk export) and
staff accounts the attempt changed (or all of them, when the scenario makes the trainee
responsible for a security review), (SEC-04) the customer records the trainee opened and the
staff-misuse flags the trainee reviewed. Incident records are not modelled, so BR-01 is not
applicable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pydantic
from sqlalchemy import select

from graders.checks.common import Params, column_names, department_codes
from graders.context import GradingContext
from graders.pdpo.base import (
    MARKETING_DEPARTMENTS,
    PURPOSE_MIN_LENGTH,
    Breach,
    RuleOutcome,
    breach,
    export_columns,
    holds_personal_data,
    judged,
    purpose_problem,
    register_not_applicable,
)
from graders.registry import rule
from graders.results import counted
from graders.results import message as marked
from sandbox_crm.deliverables import DELIVERABLE_KINDS
from sandbox_crm.i18n import N_
from sandbox_crm.models import (
    APPROVED_EXPORT_DESTINATIONS,
    ExportDestination,
    ReportDefinition,
    ReportExport,
    ReportRun,
    ReportShare,
    SalesOrder,
    Sensitivity,
    StaffUser,
)
from sandbox_crm.security.fields import SENSITIVE_FIELDS
from sandbox_crm.security.models import FieldPermission, MisuseFlag, SecurityRole, StaffAccess
from sandbox_crm.security.rights import role_rights
from sandbox_crm.sources import SOURCES, Field

# Finding templates of earlier grader versions, kept marked so that stored results still read
# in the reader's language.
EARLIER_TEMPLATES = (
    N_(
        "%(shares)s made or changed, %(exports)s and %(runs)s made in the attempt, and"
        " %(permissions)s (store roles' bulk export is not observable yet)"
    ),
    N_("Export #%(export)s of personal data: %(problem)s."),
    N_(
        "%(shares)s made or changed, %(exports)s and %(runs)s made in the attempt (store"
        " roles' bulk export is not observable yet)"
    ),
    N_(
        "Staff accounts are generated company set-up and the sandbox has no "
        "operation that changes them, so an attempt cannot cause or cure an "
        "account weakness."
    ),
)

HIDDEN_FROM_MARKETING = ("hkid", "date_of_birth")
"""Report fields marketing and analytics staff must never see (SEC-01)."""


def _is_marketing_role(code: str) -> bool:
    """Marketing and analytics roles, including a team's own (online_marketing)."""
    return code in MARKETING_DEPARTMENTS or code.endswith(("_marketing", "_analytics"))


def _is_store_role(code: str) -> bool:
    """Shop-floor roles, which never bulk-export (SEC-01)."""
    return code == "store" or code.startswith("store_")


def _roles_judged(ctx: GradingContext, review_all: bool) -> list[tuple[SecurityRole, dict]]:
    """Each role with its final rights: every role, or those whose rights the attempt changed."""
    judged_roles = []
    for role in ctx.final.scalars(select(SecurityRole).order_by(SecurityRole.id)):
        rights = role_rights(ctx.final, role)
        if not review_all:
            before = ctx.template.get(SecurityRole, role.id)
            if before is not None and role_rights(ctx.template, before) == rights:
                continue
        judged_roles.append((role, rights))
    return judged_roles


def _role_events(ctx: GradingContext, role: SecurityRole) -> tuple[int, ...]:
    """The events that changed a role's rights, directly or by answering a request."""
    return tuple(
        e.id
        for e in ctx.events
        if e.operation.startswith("security.")
        and (
            (e.entity_type == "security_role" and e.entity_id == role.id)
            or e.detail("role") == role.code
        )
    )


def _fields(source: str) -> Mapping[str, Field]:
    return SOURCES[source].fields if source in SOURCES else {}


class Sec01Settings(Params):
    """Settings of SEC-01 (access limited to need) a scenario may give under pdpo.rules."""

    review_field_permissions: bool = False
    """Judge every role's field permissions and bulk-export right as the attempt left them (a
    scenario that makes the trainee responsible for access rights); otherwise only those the
    attempt set."""


def _field_permission_breaches(ctx: GradingContext, review_all: bool) -> tuple[list[Breach], int]:
    """Marketing or analytics roles that see HKID or date of birth in full."""
    query = (
        select(FieldPermission, SecurityRole.code)
        .join(SecurityRole, SecurityRole.id == FieldPermission.role_id)
        .order_by(FieldPermission.id)
    )
    if not review_all:
        touched = {p.id for p in ctx.touched(FieldPermission, ("access",))}
        query = query.where(FieldPermission.id.in_(touched))
    rows = ctx.final.execute(query).all()
    breaches = [
        breach(
            N_("The %(role)s role sees %(field)s in full."),
            {"role": code, "field": permission.field},
            ctx.event_ids_about("field_permission", permission.id),
            (("field_permission", permission.id),),
        )
        for permission, code in rows
        if _is_marketing_role(code)
        and permission.field in HIDDEN_FROM_MARKETING
        and permission.access == "full"
    ]
    return breaches, len(rows)


def _store_export_breaches(ctx: GradingContext, review_all: bool) -> list[Breach]:
    """Store roles allowed to bulk-export customer data."""
    return [
        breach(
            N_("The %(role)s role may bulk-export customer data."),
            {"role": role.code},
            _role_events(ctx, role),
            (("security_role", role.id),),
        )
        for role, rights in _roles_judged(ctx, review_all)
        if _is_store_role(role.code) and rights["bulk_export"]
    ]


@rule(
    "SEC-01",
    title=N_("Marketing sees HKID or date of birth"),
    basis="DPP4(1)",
    severity="high",
    params=Sec01Settings,
    description=N_(
        "No report with HKID or date of birth is shared with, exported for or run by marketing."
    ),
)
def sec_01(ctx: GradingContext, settings: Sec01Settings) -> RuleOutcome:
    """No report with HKID or date of birth is shared with, exported for or run by marketing.

    Nor does a marketing or analytics role see those fields in full in the CRM: the field
    permissions the attempt set, or every role's when the scenario asks for a review.
    """
    new_shares = set(ctx.added_ids(ReportShare))
    changed_reports = {r.id for r in ctx.touched(ReportDefinition, ("columns", "is_deleted"))}
    shares = [
        s
        for s in ctx.final.scalars(select(ReportShare).order_by(ReportShare.id))
        if s.id in new_shares or s.report_id in changed_reports
    ]
    exports = ctx.added(ReportExport)
    runs = ctx.added(ReportRun)
    runners = {
        staff_id: department_id
        for staff_id, department_id in ctx.final.execute(
            select(StaffUser.id, StaffUser.department_id).where(
                StaffUser.id.in_({r.run_by_id for r in runs})
            )
        )
    }
    codes = department_codes(
        ctx.final,
        [s.department_id for s in shares]
        + [e.for_department_id for e in exports]
        + list(runners.values()),
    )
    breaches = []
    for share in shares:
        department = codes.get(share.department_id, "")
        report = share.report
        hidden = [c for c in column_names(report.columns) if c in HIDDEN_FROM_MARKETING]
        if department not in MARKETING_DEPARTMENTS or not hidden or report.is_deleted:
            continue
        breaches.append(
            breach(
                N_(
                    "Report #%(report)s (%(name)r) shows %(fields)s and is shared with the"
                    " %(department)s department."
                ),
                {
                    "report": report.id,
                    "name": report.name,
                    "fields": ", ".join(hidden),
                    "department": department,
                },
                ctx.event_ids_about("report_share", share.id)
                + ctx.event_ids_about("report_definition", report.id),
                (("report_share", share.id), ("report_definition", report.id)),
            )
        )
    for export in exports:
        department = codes.get(export.for_department_id or 0, "")
        hidden = [c for c in export_columns(export) if c in HIDDEN_FROM_MARKETING]
        if department not in MARKETING_DEPARTMENTS or not hidden:
            continue
        breaches.append(
            breach(
                N_("Export #%(export)s for the %(department)s department includes %(fields)s."),
                {"export": export.id, "department": department, "fields": ", ".join(hidden)},
                ctx.event_ids_about("report_export", export.id),
                (("report_export", export.id), ("report_definition", export.report_id)),
            )
        )
    for run in runs:
        department = codes.get(runners.get(run.run_by_id, 0), "")
        hidden = [c for c in column_names(run.columns) if c in HIDDEN_FROM_MARKETING]
        if department not in MARKETING_DEPARTMENTS or not hidden:
            continue
        breaches.append(
            breach(
                N_(
                    "Report run #%(run)s, by a member of the %(department)s department, shows"
                    " %(fields)s."
                ),
                {"run": run.id, "department": department, "fields": ", ".join(hidden)},
                ctx.event_ids_about("report_run", run.id),
                (("report_run", run.id), ("report_definition", run.report_id)),
            )
        )
    permission_breaches, permissions = _field_permission_breaches(
        ctx, settings.review_field_permissions
    )
    breaches += permission_breaches
    breaches += _store_export_breaches(ctx, settings.review_field_permissions)
    scope = marked(
        N_(
            "%(shares)s made or changed, %(exports)s and %(runs)s made in the attempt, and"
            " %(permissions)s, with store roles' bulk-export rights"
        ),
        shares=counted(len(shares), N_("%(count)d report share"), N_("%(count)d report shares")),
        exports=counted(len(exports), N_("%(count)d export"), N_("%(count)d exports")),
        runs=counted(len(runs), N_("%(count)d report run"), N_("%(count)d report runs")),
        permissions=counted(
            permissions,
            N_("%(count)d field permission judged"),
            N_("%(count)d field permissions judged"),
        ),
    )
    return judged(breaches, scope=scope)


class Sec02Settings(Params):
    """Settings of SEC-02 (safe exports) a scenario may give under pdpo.rules."""

    review_role_rights: bool = False
    """Judge every role's export right as the attempt left it; otherwise only the roles whose
    rights the attempt changed."""


def _unminimised_export_rights(ctx: GradingContext, review_all: bool) -> list[Breach]:
    """Roles that may bulk-export and see HKID or date of birth in full: their exports carry
    those fields whole, so they cannot be minimised."""
    found = []
    for role, rights in _roles_judged(ctx, review_all):
        full = [f for f in SENSITIVE_FIELDS if rights[f] == "full"]
        if rights["bulk_export"] and full and not role.is_admin:
            found.append(
                breach(
                    N_(
                        "The %(role)s role may bulk-export customer data with %(fields)s in"
                        " full: its exports cannot be minimised."
                    ),
                    {"role": role.code, "fields": ", ".join(full)},
                    _role_events(ctx, role),
                    (("security_role", role.id),),
                )
            )
    return found


@rule(
    "SEC-02",
    title=N_("Unsafe export of personal data"),
    basis="DPP4, DPP3",
    severity="high",
    params=Sec02Settings,
    description=N_(
        "Every export of personal data has a purpose, approved destination, encryption, few fields."
    ),
)
def sec_02(ctx: GradingContext, settings: Sec02Settings) -> RuleOutcome:
    """Every export of personal data has a purpose, approved destination, encryption, few fields.

    Every export made in the attempt is judged on its own: a correct export does not excuse
    another one. A role (other than an administrator's) allowed to bulk-export while it sees
    HKID or date of birth in full is a breach too: its exports cannot be minimised.
    """
    exports = ctx.added(ReportExport)
    breaches = []
    personal_exports = 0
    for export in exports:
        if not holds_personal_data(export):
            continue
        names = export_columns(export)
        fields = _fields(export.report.source)
        personal_exports += 1
        events = ctx.event_ids_about("report_export", export.id)
        records = (("report_export", export.id), ("report_definition", export.report_id))
        problems: list[tuple[str, dict[str, object]]] = []
        purpose = (export.purpose or "").strip()
        if not purpose:
            problems.append((N_("Export #%(export)s of personal data: no purpose recorded."), {}))
        elif purpose_problem(purpose):
            template = N_(
                "Export #%(export)s of personal data: purpose %(purpose)s is too vague (under"
                " %(minimum)d characters)."
            )
            problems.append((template, {"purpose": repr(purpose), "minimum": PURPOSE_MIN_LENGTH}))
        if export.destination not in APPROVED_EXPORT_DESTINATIONS:
            template = N_(
                "Export #%(export)s of personal data: destination %(destination)s is not an"
                " approved internal destination."
            )
            problems.append((template, {"destination": export.destination}))
        if not export.encrypted:
            template = N_("Export #%(export)s of personal data: the file is not encrypted.")
            problems.append((template, {}))
        sensitive = [
            n for n in names if n in fields and fields[n].sensitivity is Sensitivity.SENSITIVE
        ]
        if sensitive:
            template = N_(
                "Export #%(export)s of personal data: fields not minimised: it includes %(fields)s."
            )
            problems.append((template, {"fields": ", ".join(sensitive)}))
        breaches += [
            breach(template, {"export": export.id, **values}, events, records)
            for template, values in problems
        ]
    breaches += _unminimised_export_rights(ctx, settings.review_role_rights)
    scope = counted(
        personal_exports,
        N_("%(count)d export of personal data made in the attempt"),
        N_("%(count)d exports of personal data made in the attempt"),
    )
    return judged(breaches, scope=scope)


class Sec03Settings(Params):
    """Settings of SEC-03 (leavers and privileged accounts) a scenario may give under pdpo.rules."""

    review_accounts: bool = False
    """Judge every account as the attempt left it (a scenario that makes the trainee responsible
    for reviewing accounts); otherwise only the accounts the attempt changed."""
    dormant_days: int = pydantic.Field(default=90, ge=1, le=3650)
    """An active administrator account not signed in for longer than this is dormant."""


@rule(
    "SEC-03",
    title=N_("Leavers, dormant privileged accounts or missing MFA"),
    basis="DPP4(1); Kwong's Art Jewellery 2025; Adastria 2025",
    severity="high",
    params=Sec03Settings,
    description=N_(
        "Leavers' accounts are disabled by their leaving date; no dormant privileged account;"
        " MFA on admin accounts."
    ),
)
def sec_03(ctx: GradingContext, settings: Sec03Settings) -> RuleOutcome:
    """Leavers' accounts are disabled; no dormant privileged account; MFA on admin accounts.

    MFA on remote accounts is not judged: no operation sets MFA, so an attempt cannot cure it.
    """
    changed = {
        e.entity_id
        for e in ctx.events
        if e.entity_type == "staff_user" and e.operation.startswith("security.")
    }
    query = select(StaffUser).where(StaffUser.is_active.is_(True)).order_by(StaffUser.id)
    if not settings.review_accounts:
        query = query.where(StaffUser.id.in_({c for c in changed if c is not None}))
    accounts = list(ctx.final.scalars(query))
    last_sign_in = _last_sign_in(ctx)
    today = ctx.as_of
    breaches: list[Breach] = []
    for staff in accounts:
        events = ctx.event_ids_about("staff_user", staff.id)
        records = (("staff_user", staff.id),)
        values = {"account": staff.username}
        if staff.left_on is not None and staff.left_on <= today:
            template = N_("The account %(account)s of a leaver (left %(left)s) is still active.")
            left = {**values, "left": str(staff.left_on)}
            breaches.append(breach(template, left, events, records))
            continue
        if not staff.is_admin:
            continue
        seen = last_sign_in.get(staff.id)
        if seen is not None and (today - seen.date()).days > settings.dormant_days:
            template = N_(
                "The administrator account %(account)s has not signed in for %(days)d days and"
                " is still active."
            )
            days = (today - seen.date()).days
            breaches.append(breach(template, {**values, "days": days}, events, records))
        elif not staff.mfa_enabled:
            template = N_("The administrator account %(account)s has no multi-factor sign-in.")
            breaches.append(breach(template, values, events, records))
    scope = counted(
        len(accounts),
        N_("%(count)d active staff account reviewed"),
        N_("%(count)d active staff accounts reviewed"),
    )
    return judged(breaches, scope=scope)


def _last_sign_in(ctx: GradingContext) -> dict[int, Any]:
    """Each account's last sign-in, where the security set-up records it."""
    rows = ctx.final.execute(select(StaffAccess.staff_id, StaffAccess.last_sign_in_at))
    return {staff_id: seen for staff_id, seen in rows if seen is not None}


OUTSIDE_COMPANY_DESTINATIONS = frozenset(
    {ExportDestination.PERSONAL_EMAIL.value, ExportDestination.EXTERNAL_PARTY.value}
)
"""Export destinations that take a file outside the company (SEC-04): a personal mailbox or
another party. A USB drive or an unapproved internal channel is unsafe (SEC-02) but stays in
the company's hands."""

LISTED_LOOKUPS = 20
"""How many member numbers a SEC-04 finding names in its message (the records list all)."""


class Sec04Settings(Params):
    """Settings of SEC-04 (staff misuse) that a scenario may give under pdpo.rules."""

    max_unrelated_lookups: int = pydantic.Field(default=20, ge=0, le=100_000)
    """How many customer records unrelated to the task the trainee may open before it is
    flagged as a bulk look-up with no business reason (default 20). A record is related when
    it is in the output of a report the trainee ran or exported, is one of the scenario's
    planted situations, or the trainee changed it or sent it a message in the attempt."""
    review_misuse_flags: bool = False
    """The trainee is responsible for the staff-misuse flags: a flag about real misuse left
    open is a finding too (dismissing one always is)."""


def _customer_ids_named(value: object) -> Iterator[int]:
    """Every ``customer_id`` in an event's details, at any depth."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "customer_id" and isinstance(item, int) and not isinstance(item, bool):
                yield item
            else:
                yield from _customer_ids_named(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _customer_ids_named(item)


def _output_customers(ctx: GradingContext, source: str, keys: Iterable[object]) -> set[int]:
    """The customers in a report's output, given its source and row keys."""
    ids = {k for k in keys if isinstance(k, int) and not isinstance(k, bool)}
    if not ids or source not in ("customers", "orders"):
        return set()
    if source == "customers":
        return ids
    found: set[int] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        found.update(
            ctx.final.scalars(select(SalesOrder.customer_id).where(SalesOrder.id.in_(chunk)))
        )
    return found


def _planted_customers(ctx: GradingContext) -> set[int]:
    """Customers the scenario's planted situations are about (not planted staff accounts)."""
    return ctx.info().planted_customers()


def related_customers(ctx: GradingContext) -> set[int]:
    """Customers the attempt has a business reason to open (see Sec04Settings)."""

    def compute() -> set[int]:
        related = _planted_customers(ctx)
        query = select(ReportDefinition.id, ReportDefinition.source)
        reports: dict[int, str] = {row.id: row.source for row in ctx.final.execute(query)}
        for event in ctx.events:
            if event.operation == "customer.view":
                continue
            if event.entity_type == "customer" and event.entity_id is not None:
                related.add(event.entity_id)
            related.update(_customer_ids_named(event.details))
            if event.operation == "report.export":
                source = reports.get(event.detail("report_id") or event.entity_id or 0, "")
                related |= _output_customers(ctx, source, event.detail("row_keys") or ())
        for run in ctx.added(ReportRun):
            related |= _output_customers(ctx, reports.get(run.report_id, ""), run.row_keys)
        return related

    return ctx.memo("sec04_related_customers", compute)


def _task_reports(ctx: GradingContext) -> set[int]:
    """Ids of the reports the trainee submitted as the task's deliverables."""
    if ctx.scenario is None:
        return set(ctx.deliverables.values())
    kinds = {d.id: d.kind for d in ctx.scenario.deliverables}
    return {
        entity_id
        for deliverable_id, entity_id in ctx.deliverables.items()
        if _entity_type_of(kinds.get(deliverable_id)) == "report_definition"
    }


def _entity_type_of(kind: str | None) -> str | None:
    """The entity type of a deliverable kind's records (None for an unknown kind)."""
    found = DELIVERABLE_KINDS.find(kind)
    return found.entity_type if found is not None else None


@rule(
    "SEC-04",
    title=N_("Staff misuse of personal data"),
    basis="s64",
    severity="critical",
    params=Sec04Settings,
    description=N_(
        "Bulk look-ups or exports with no business reason and data sent outside the company."
    ),
)
def sec_04(ctx: GradingContext, settings: Sec04Settings) -> RuleOutcome:
    """Bulk look-ups or exports with no business reason and data sent outside the company.

    Flags opening more customer records unrelated to the task than the scenario allows, an
    export of personal data sent outside the company (a personal mailbox, another party), and
    an export of personal data with no purpose at all of a report that is not the task's.
    Searches in the customer list are not audited, so a customer found only by a search counts
    as unrelated: the allowance is there for that.
    """
    views = [
        e
        for e in ctx.events_of("customer.view")
        if e.actor_id == ctx.trainee_staff_id and e.entity_id is not None
    ]
    related = related_customers(ctx)
    unrelated: dict[int, list[int]] = {}
    member_no: dict[int, str] = {}
    for event in views:
        customer_id = int(event.entity_id)  # type: ignore[arg-type]
        if customer_id in related:
            continue
        unrelated.setdefault(customer_id, []).append(event.id)
        member_no.setdefault(customer_id, str(event.detail("member_no") or customer_id))
    breaches: list[Breach] = []
    limit = settings.max_unrelated_lookups
    if len(unrelated) > limit:
        labels = [member_no[c] for c in sorted(unrelated)]
        shown: str | dict[str, object] = ", ".join(labels[:LISTED_LOOKUPS])
        if len(labels) > LISTED_LOOKUPS:
            more = len(labels) - LISTED_LOOKUPS
            shown = marked(N_("%(shown)s and %(more)d more"), shown=shown, more=more)
        if len(unrelated) == 1:
            template = N_(
                "1 customer record unrelated to the task was opened (more than the %(limit)d"
                " allowed without a business reason): %(shown)s."
            )
        else:
            template = N_(
                "%(count)d customer records unrelated to the task were opened (more than the"
                " %(limit)d allowed without a business reason): %(shown)s."
            )
        breaches.append(
            breach(
                template,
                {"count": len(unrelated), "limit": limit, "shown": shown},
                tuple(sorted(e for ids in unrelated.values() for e in ids)),
                tuple(("customer", c) for c in sorted(unrelated)),
            )
        )
    exports = [e for e in ctx.added(ReportExport) if holds_personal_data(e)]
    task_reports = _task_reports(ctx)
    for export in exports:
        events = ctx.event_ids_about("report_export", export.id)
        records = (("report_export", export.id), ("report_definition", export.report_id))
        rows = counted(export.row_count, N_("%(count)d row"), N_("%(count)d rows"))
        if export.destination in OUTSIDE_COMPANY_DESTINATIONS:
            breaches.append(
                breach(
                    N_(
                        "Export #%(export)s of personal data (%(rows)s) was sent outside the"
                        " company: %(destination)s."
                    ),
                    {"export": export.id, "rows": rows, "destination": export.destination},
                    events,
                    records,
                )
            )
        elif not (export.purpose or "").strip() and export.report_id not in task_reports:
            breaches.append(
                breach(
                    N_(
                        "Export #%(export)s of personal data (%(rows)s) from report #%(report)s"
                        " (%(name)r), which is not part of the task, records no purpose: an"
                        " export with no business reason."
                    ),
                    {
                        "export": export.id,
                        "rows": rows,
                        "report": export.report_id,
                        "name": export.report.name,
                    },
                    events,
                    records,
                )
            )
    breaches += _misuse_flag_breaches(ctx, settings.review_misuse_flags)
    opened = len({e.entity_id for e in views})
    scope = marked(
        N_(
            "%(opened)s opened (%(unrelated)d unrelated to the task, %(limit)d allowed) and"
            " %(exports)s of personal data in the attempt"
        ),
        opened=counted(opened, N_("%(count)d customer record"), N_("%(count)d customer records")),
        unrelated=len(unrelated),
        limit=limit,
        exports=counted(len(exports), N_("%(count)d export"), N_("%(count)d exports")),
    )
    return judged(breaches, scope=scope)


def _misuse_flag_breaches(ctx: GradingContext, review_all: bool) -> list[Breach]:
    """Flags about planted misuse that the trainee dismissed (or, under review, left open)."""
    truth = {
        int(key): value
        for key, value in (ctx.template_info().plant_details.get("staff_misuse") or {}).items()
        if key.isdigit() and value != "legitimate"
    }
    found = []
    for flag in ctx.final.scalars(
        select(MisuseFlag).where(MisuseFlag.id.in_(truth)).order_by(MisuseFlag.id)
    ):
        if flag.status == "escalated" or (flag.status == "open" and not review_all):
            continue
        template = (
            N_(
                "Flag #%(flag)s (%(summary)s) shows staff misuse of customer data but was"
                " dismissed."
            )
            if flag.status == "dismissed"
            else N_(
                "Flag #%(flag)s (%(summary)s) shows staff misuse of customer data and was not"
                " escalated."
            )
        )
        found.append(
            breach(
                template,
                {"flag": flag.id, "summary": flag.summary},
                ctx.event_ids_about("misuse_flag", flag.id),
                (("misuse_flag", flag.id), ("staff_user", flag.staff_id)),
            )
        )
    return found


register_not_applicable(
    "BR-01",
    title=N_("Breach handling out of order"),
    basis="DPP4; PCPD breach guidance 2023",
    severity="medium",
    checks=N_(
        "A security incident record has containment, risk assessment, a documented "
        "notification decision and closure, in that order."
    ),
    reason=N_("The sandbox does not record security incidents."),
)

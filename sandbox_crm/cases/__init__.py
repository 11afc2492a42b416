"""Customer service automation: cases from every channel, with SLA, owner, escalation and closure.

A case is what a customer asked for or complained about (a repair, a resizing, a complaint, an
enquiry, a warranty claim, a request for a copy of their data). It is due within its kind's SLA,
assigned to a member of staff, may be escalated, gets replies (chosen from the CRM's honest and
misleading statements, so that they can be judged) and follow-ups, and closes with a resolution.
Generated for the ``jewellery`` profile only.
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

AREA = Area(
    name="cases",
    label=N_("Service cases"),
    version="3",
    # 2: service_case.refusal_ground, the s20 ground of a refused access request.
    # 3: automation rules (case_rule, service_agent, case_rule_run), a case's priority,
    #    response due time and the rule that acted on it or on one of its steps.
    upgrades={
        "2": add_missing("service_case"),
        "3": add_missing(
            "case_rule", "service_agent", "case_rule_run", "service_case", "case_update"
        ),
    },
    modules=(
        "sandbox_crm.cases.models",
        "sandbox_crm.cases.generation",
        "sandbox_crm.cases.operations",
        "sandbox_crm.cases.automation",
        "sandbox_crm.cases.sources",
        "sandbox_crm.cases.plants",
    ),
    views=("sandbox_crm.cases.views", "sandbox_crm.cases.rule_views"),
    has_templates=True,
    nav=(NavLink("crm.cases", "Cases", "note", active=("crm.case",)),),
    stages=(
        Stage(
            "cases.cases",
            "sandbox_crm.cases.generation:cases",
            after=("customers.customers", "company.staff"),
        ),
    ),
    record_pages={"service_case": ("crm.case", "case_id")},
    call_entities={"case_id": "service_case"},
)

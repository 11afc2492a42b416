"""Automation rule pages: the ordered list with the agents' loads, the rule form, the preview.

Each change is a form that calls one operation and redirects; a refusal is shown on the page it
came from and audited. The preview changes nothing; applying is a separate button.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import Optional

from sandbox_crm.cases.automation import (
    NAME_MAX_LENGTH,
    agent_loads,
    ordered_rules,
    preview_case_rules,
)
from sandbox_crm.cases.models import (
    Acknowledgement,
    AgentTeam,
    CaseChannel,
    CaseKind,
    CaseRule,
    Priority,
    ServiceAgent,
)
from sandbox_crm.company.models import Branch, Department
from sandbox_crm.i18n import N_
from sandbox_crm.models import Region, StaffUser, Tier
from sandbox_crm.operations import OperationError, apply_operation
from sandbox_crm.web.core import actor, bp, db, done, get_or_404, refused
from sandbox_crm.web.forms import ConfirmForm, code_choices, options
from sandbox_crm.web.i18n import L_, translate

# Codes the rule pages show through ``label``, marked so that they are translated.
CODE_LABELS = (
    N_("Urgent"),
    N_("High"),
    N_("Normal"),
    N_("Low"),
    N_("Senior"),
    N_("General"),
    N_("Reference only"),
    N_("With case details"),
    N_("With offer"),
    N_("Acknowledge"),
    N_("Priority"),
    N_("Assign"),
    N_("Escalate"),
)


def _checkboxes(label: Any, values: Any) -> SelectMultipleField:
    return SelectMultipleField(
        label,
        choices=code_choices(values),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validate_choice=False,
    )


class RuleForm(FlaskForm):
    """What a rule matches (empty: any) and what it does."""

    name = StringField(L_("Name"), render_kw={"required": True, "maxlength": NAME_MAX_LENGTH})
    is_active = BooleanField(L_("Active"), default=True)
    position = IntegerField(L_("Order (1 is tried first)"), validators=[Optional()])
    kinds = _checkboxes(L_("Case kinds"), CaseKind)
    channels = _checkboxes(L_("Channels"), CaseChannel)
    tiers = _checkboxes(L_("Customer tiers"), Tier)
    regions = _checkboxes(L_("Customer regions"), Region)
    branch = SelectField(L_("Customer's home branch"), validate_choice=False)
    assign = SelectField(L_("Assign to"), validate_choice=False)
    priority = SelectField(
        L_("Priority (first response due)"),
        choices=[*options([("", "—")]), *code_choices(Priority)],
        validate_choice=False,
    )
    acknowledgement = SelectField(
        L_("Acknowledgement on the case's channel"),
        choices=code_choices(Acknowledgement),
        validate_choice=False,
    )
    escalate_to = SelectField(
        L_("Escalate when the response time is missed, to"), validate_choice=False
    )


class MoveForm(FlaskForm):
    """A rule's new place in the order."""

    position = StringField(L_("Order"), render_kw={"maxlength": 4})


def _fill_choices(form: RuleForm) -> None:
    session = db()
    branches = session.execute(select(Branch.code, Branch.name).order_by(Branch.code)).all()
    form.branch.choices = [*options([("", "—")]), *options((c, f"{c} {n}") for c, n in branches)]
    agents = session.execute(
        select(StaffUser.username, StaffUser.full_name, ServiceAgent.team)
        .join(ServiceAgent, ServiceAgent.staff_id == StaffUser.id)
        .where(StaffUser.is_active.is_(True))
        .order_by(ServiceAgent.team, StaffUser.full_name)
    ).all()
    teams = [
        (f"team:{t.value}", translate("Team: %(team)s", team=translate(t.name.title())))
        for t in AgentTeam
    ]
    form.assign.choices = options(
        [("", "—"), *teams, *((f"agent:{u}", f"{n} ({u})") for u, n, _ in agents)]
    )
    managers = session.execute(
        select(StaffUser.username, StaffUser.full_name)
        .join(Department, Department.id == StaffUser.department_id)
        .where(
            StaffUser.is_active.is_(True),
            Department.code.in_(("customer_service", "management")),
        )
        .order_by(StaffUser.full_name)
    ).all()
    form.escalate_to.choices = options([("", "—"), *((u, f"{n} ({u})") for u, n in managers)])


def _fill_from(form: RuleForm, rule: CaseRule) -> None:
    session = db()
    form.name.data = rule.name
    form.is_active.data = rule.is_active
    form.position.data = rule.position
    form.kinds.data = list(rule.kinds)
    form.channels.data = list(rule.channels)
    form.tiers.data = list(rule.tiers)
    form.regions.data = list(rule.regions)
    branch = session.get(Branch, rule.branch_id) if rule.branch_id else None
    form.branch.data = branch.code if branch else ""
    person = session.get(StaffUser, rule.assign_to_id) if rule.assign_to_id else None
    form.assign.data = (
        f"agent:{person.username}"
        if person
        else (f"team:{rule.assign_team}" if rule.assign_team else "")
    )
    form.priority.data = rule.priority
    form.acknowledgement.data = rule.acknowledgement
    manager = session.get(StaffUser, rule.escalate_to_id) if rule.escalate_to_id else None
    form.escalate_to.data = manager.username if manager else ""


def _values(form: RuleForm) -> dict[str, Any]:
    assign = form.assign.data or ""
    return {
        "name": (form.name.data or "").strip(),
        "kinds": list(form.kinds.data or []),
        "channels": list(form.channels.data or []),
        "tiers": list(form.tiers.data or []),
        "regions": list(form.regions.data or []),
        "branch": form.branch.data or "",
        "assign_team": assign.removeprefix("team:") if assign.startswith("team:") else "",
        "assign_to": assign.removeprefix("agent:") if assign.startswith("agent:") else "",
        "priority": form.priority.data or "",
        "acknowledgement": form.acknowledgement.data or "none",
        "escalate_to": form.escalate_to.data or "",
    }


def _rules_context() -> dict[str, Any]:
    session = db()
    loads = agent_loads(session)
    agents = session.execute(
        select(ServiceAgent, StaffUser)
        .join(StaffUser, StaffUser.id == ServiceAgent.staff_id)
        .order_by(ServiceAgent.team, StaffUser.full_name)
    ).all()
    staff = {s.id: s for s in session.scalars(select(StaffUser))}
    branches = {b.id: b for b in session.scalars(select(Branch))}
    return {
        "rules": ordered_rules(session),
        "agents": [(a, s, loads.get(s.id, 0)) for a, s in agents],
        "staff_by_id": staff,
        "branches": branches,
        "confirm": ConfirmForm(),
        "move_form": MoveForm(),
    }


@bp.get("/cases/rules")
def case_rules() -> str:
    """The automation rules in the order they are tried, and the agents' loads."""
    return render_template("crm/case_rules.html", **_rules_context())


def _save(form: RuleForm, rule: CaseRule | None) -> Response | tuple[str, int] | str:
    template = "crm/case_rule.html"
    if not form.validate_on_submit():
        return render_template(template, form=form, rule=rule), 400
    values = _values(form)
    try:
        if rule is None:
            values["is_active"] = bool(form.is_active.data)
            values["position"] = form.position.data or None
            saved = apply_operation(db(), actor(), "create_case_rule", values)
        else:
            values["rule_id"] = rule.id
            if values["name"] == rule.name:
                values.pop("name")
            saved = apply_operation(db(), actor(), "update_case_rule", values)
    except OperationError as exc:
        name = "create_case_rule" if rule is None else "update_case_rule"
        entity = None if rule is None else ("case_rule", rule.id)
        return refused(name, exc, template, exc.message, entity=entity, form=form, rule=rule)
    return done(translate("Rule saved."), "crm.case_rule_edit", rule_id=saved.id)


@bp.route("/cases/rules/new", methods=["GET", "POST"])
def case_rule_new() -> Response | tuple[str, int] | str:
    """A new rule through create_case_rule."""
    form = RuleForm()
    _fill_choices(form)
    if form.is_submitted():
        return _save(form, None)
    form.acknowledgement.data = Acknowledgement.REFERENCE_ONLY.value
    return render_template("crm/case_rule.html", form=form, rule=None)


@bp.route("/cases/rules/<int:rule_id>", methods=["GET", "POST"])
def case_rule_edit(rule_id: int) -> Response | tuple[str, int] | str:
    """One rule's form through update_case_rule."""
    rule = get_or_404(CaseRule, rule_id, "rule")
    form = RuleForm()
    _fill_choices(form)
    if form.is_submitted():
        return _save(form, rule)
    _fill_from(form, rule)
    return render_template("crm/case_rule.html", form=form, rule=rule)


_STEPS = {
    "enable": ("enable_case_rule", N_("Rule switched on.")),
    "disable": ("disable_case_rule", N_("Rule switched off.")),
    "move": ("move_case_rule", N_("Rule moved.")),
}


@bp.post("/cases/rules/<int:rule_id>/<any(enable, disable, move):rule_step>")
def case_rule_action(rule_id: int, rule_step: str) -> Response | tuple[str, int]:
    """Switch a rule on or off, or move it in the order."""
    get_or_404(CaseRule, rule_id, "rule")
    name, message = _STEPS[rule_step]
    form = MoveForm() if rule_step == "move" else ConfirmForm()
    values: dict[str, Any] = {"rule_id": rule_id}
    if not form.validate_on_submit():
        return refused(
            name,
            OperationError(translate("The form has expired; try again.")),
            "crm/case_rules.html",
            translate("The form has expired; try again."),
            entity=("case_rule", rule_id),
            **_rules_context(),
        )
    if rule_step == "move":
        raw = (form.position.data or "").strip()
        if not raw.isdigit() or int(raw) < 1:
            error = OperationError(translate("Give the new place as a whole number from 1."))
            return refused(
                name,
                error,
                "crm/case_rules.html",
                error.message,
                entity=("case_rule", rule_id),
                **_rules_context(),
            )
        values["position"] = int(raw)
    try:
        apply_operation(db(), actor(), name, values)
    except OperationError as exc:
        return refused(
            name,
            exc,
            "crm/case_rules.html",
            exc.message,
            entity=("case_rule", rule_id),
            **_rules_context(),
        )
    return done(translate(message), "crm.case_rules")


@bp.get("/cases/rules/preview")
def case_rules_preview() -> str:
    """What the active rules would do to the open queue now; nothing changes."""
    steps = preview_case_rules(db(), actor())
    db().rollback()
    return render_template(
        "crm/case_rules_preview.html", steps=steps, confirm=ConfirmForm(), error=None
    )


@bp.post("/cases/rules/apply")
def case_rules_apply() -> Response | tuple[str, int]:
    """Apply the active rules to the open queue through apply_case_rules."""
    form = ConfirmForm()
    context = {"steps": [], "confirm": form}
    if not form.validate_on_submit():
        error = translate("The form has expired; try again.")
        return refused(
            "apply_case_rules",
            OperationError(error),
            "crm/case_rules_preview.html",
            error,
            **context,
        )
    try:
        steps = apply_operation(db(), actor(), "apply_case_rules", {}).steps
    except OperationError as exc:
        return refused(
            "apply_case_rules", exc, "crm/case_rules_preview.html", exc.message, **context
        )
    taken = len([s for s in steps if not s.skipped])
    return done(translate("Rules applied: %(count)s step(s) taken.", count=taken), "crm.case_rules")

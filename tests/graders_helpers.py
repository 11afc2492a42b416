"""Fixtures and helpers for the grader tests: an attempt on a generated sandbox, small definitions.

The root conftest registers this module as a plugin. The ``attempt`` fixture is a fresh clone
of the small generated sandbox with the template beside it;
``attempt.do(...)`` applies an operation as the trainee would (and commits, like a click),
``attempt.rebase()`` makes the current state the template, so a test can set up "what was there
before the attempt" directly.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from graders.context import GradingContext
from graders.definitions.models import Scenario, Unit
from graders.engine import run_rule
from graders.registry import CHECKS, PDPO_RULES, isolated, load_builtin
from graders.results import Outcome, RuleResult
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.models import Customer, StaffUser
from sandbox_crm.operations import apply_operation
from sandbox_crm.query import select_keys
from sandbox_crm.store import SandboxStore
from tests.sandbox_fixtures import SANDBOX_KEY, SANDBOX_TODAY

UNIT_CODE = "105077L3"

VIP_WHERE: dict[str, Any] = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}
CONSENTING_EMAIL: dict[str, Any] = {
    "field": "dm_email",
    "op": "in",
    "value": ["given", "no_objection"],
}
VIP_CONSENTING: dict[str, Any] = {"all": [*VIP_WHERE["all"], CONSENTING_EMAIL]}
GOOD_COLUMNS = ["member_no", "name_en", "email", "tier", "district", "spend_12m"]
GOOD_PURPOSE = "Email invitations to the spring VIP preview evening (Marketing)"


@dataclass
class Attempt:
    """A trainee's attempt in progress: the final sandbox, its template and the deliverables."""

    store: SandboxStore
    spec: GenerationSpec
    session: Session
    template: Session
    actor: StaffUser
    workdir: Path
    deliverables: dict[str, int] = field(default_factory=dict)
    _engines: list[Any] = field(default_factory=list)

    def do(self, op: str, deliverable: str | None = None, **args: Any) -> Any:
        """Apply one operation as the trainee and commit; optionally record it as a deliverable."""
        entity = apply_operation(self.session, self.actor, op, args)
        self.session.commit()
        if deliverable is not None:
            self.deliverables[deliverable] = entity.id
        return entity

    def report(self, deliverable: str | None = "report", **args: Any) -> Any:
        """Create a customers report (the VIP list with consent, unless args say otherwise)."""
        args.setdefault("name", "VIP list")
        args.setdefault("source", "customers")
        args.setdefault("columns", GOOD_COLUMNS)
        args.setdefault("filters", VIP_CONSENTING)
        return self.do("create_report", deliverable, **args)

    def export(self, report_id: int, **args: Any) -> Any:
        """Export a report (by default correctly: purpose, internal drive, encrypted, Marketing)."""
        args.setdefault("purpose", GOOD_PURPOSE)
        args.setdefault("destination", "internal_shared_drive")
        args.setdefault("for_department", "marketing")
        args.setdefault("encrypted", True)
        return self.do("export_report", report_id=report_id, **args)

    def context(self, **changes: Any) -> GradingContext:
        """A grading context over the template and the current final state."""
        self.session.commit()
        inputs: dict[str, Any] = {
            "template": self.template,
            "final": self.session,
            "deliverables": self.deliverables,
            "answers": {},
            "trainee_staff_id": self.actor.id,
        }
        inputs.update(changes)
        return GradingContext.build(**inputs)

    def check(self, name: str, params: Mapping[str, Any], **changes: Any) -> Outcome:
        """Run one registered check type directly and return its outcome."""
        load_builtin()
        check_type = CHECKS.get(name)
        parsed = check_type.params_model.model_validate(dict(params))
        return check_type.func(self.context(**changes), parsed)

    def rule(self, rule_id: str) -> RuleResult:
        """Run one PDPO rule through the engine and return its result."""
        load_builtin()
        return run_rule(self.context(), PDPO_RULES.get(f"pdpo.{rule_id}"))

    def customer_ids(self, where: Any) -> list[int]:
        """Ids of the customers matching a condition in the final sandbox, sorted."""
        return sorted(select_keys(self.session, "customers", where, SANDBOX_TODAY))

    def customer(self, where: Any, index: int = 0) -> Customer:
        """One customer matching a condition (the index-th by id)."""
        ids = self.customer_ids(where)
        assert len(ids) > index, f"no customer #{index} matches {where}"
        customer = self.session.get(Customer, ids[index])
        assert customer is not None
        return customer

    def rebase(self) -> None:
        """Make the current final state the template, as if the attempt started now."""
        self.session.commit()
        path = self.workdir / f"template-{len(self._engines)}.sqlite"
        shutil.copyfile(self.store.path(SANDBOX_KEY), path)
        engine = create_engine(f"sqlite:///{path}")
        self._engines.append(engine)
        self.template.close()
        self.template = Session(bind=engine)

    def close(self) -> None:
        """Close the sessions and engines this attempt opened."""
        self.template.close()
        for engine in self._engines:
            engine.dispose()


@pytest.fixture
def attempt(
    sandbox_store: SandboxStore,
    sandbox_spec: GenerationSpec,
    sandbox_session: Session,
    sandbox_actor: StaffUser,
    tmp_path: Path,
) -> Iterator[Attempt]:
    """A fresh attempt on the small generated sandbox, with its untouched template beside it."""
    with sandbox_store.template_session(sandbox_spec) as template:
        state = Attempt(
            sandbox_store, sandbox_spec, sandbox_session, template, sandbox_actor, tmp_path
        )
        try:
            yield state
        finally:
            state.close()


@pytest.fixture
def isolated_registry() -> Iterator[None]:
    """Let a test register checks and rules; the registries are restored afterwards."""
    with isolated():
        yield


@pytest.fixture
def unit() -> Unit:
    """A small unit (105077L3) with three PRs, enough for roll-up tests."""
    return make_unit()


@pytest.fixture
def scenario_factory() -> Callable[..., Scenario]:
    """Factory: ``scenario_factory(checks=[...], items=[...])`` builds a scenario of the unit."""
    return make_scenario


def make_unit() -> Unit:
    """A small unit with three PRs, enough for roll-up tests."""
    return Unit.model_validate(
        {
            "code": UNIT_CODE,
            "title": "Compile customer relationship management (CRM) system data",
            "industry": "Retail",
            "functional_area": "Customer Services",
            "level": 3,
            "credit": 3,
            "range": "Compiling CRM data in a retail company.",
            "performance_requirements": [
                {
                    "id": "1",
                    "title": "Knowledge of CRM system",
                    "items": [{"id": "1.1", "text": "Understand the objectives of CRM."}],
                },
                {
                    "id": "2",
                    "title": "Compile CRM system data",
                    "items": [
                        {"id": "2.1", "text": "Compile data to the needs of the department."},
                        {"id": "2.2", "text": "Give each department the level of detail needed."},
                    ],
                },
            ],
            "assessment_criteria": ["Use the CRM system effectively to compile data."],
        }
    )


def feedback(name: str) -> dict[str, str]:
    """Trainee-safe feedback texts that name the check, so tests can tell them apart."""
    return {"pass": f"{name}: well done.", "fail": f"{name}: not yet."}


def make_scenario(
    checks: list[dict[str, Any]] | None = None, items: list[dict[str, Any]] | None = None
) -> Scenario:
    """A scenario of unit 105077L3 with the given checks and items and one report deliverable."""
    return Scenario.model_validate(
        {
            "id": f"{UNIT_CODE}-grader-test",
            "unit": UNIT_CODE,
            "title": "Grader test",
            "crm": {
                "profile": "retail",
                "seed": 4207,
                "customers": 150,
                "today": SANDBOX_TODAY.isoformat(),
                "acting_as": {"department": "customer_service", "title": "CRM Officer"},
            },
            "brief": "Build the VIP report.",
            "deliverables": [{"id": "report", "kind": "saved_report", "title": "The report"}],
            "checks": checks or [],
            "items": items or [],
        }
    )


def trainee_of(session: Session) -> StaffUser:
    """The trainee's staff user in a sandbox session."""
    return session.scalars(select(StaffUser).where(StaffUser.is_trainee.is_(True))).one()

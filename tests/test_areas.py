"""CRM areas: declared generation order, and what every area contributes."""

from __future__ import annotations

import pytest

from sandbox_crm.areas import (
    ENABLED_AREAS,
    Area,
    Stage,
    enabled_areas,
    evidence_detail_keys,
    ordered_stages,
    record_pages,
)


def noop(run: object) -> None:
    """A stage that makes nothing."""


def test_stages_follow_their_after_whatever_the_declaration_order():
    late = Area("late", "Late", stages=(Stage("late.one", noop, after=("early.two",)),))
    early = Area(
        "early",
        "Early",
        stages=(Stage("early.one", noop), Stage("early.two", noop, after=("early.one",))),
    )
    names = [s.name for s in ordered_stages([late, early])]
    assert names == ["early.one", "early.two", "late.one"]


def test_an_unknown_or_circular_after_is_an_error():
    lost = Area("a", "A", stages=(Stage("a.one", noop, after=("b.gone",)),))
    with pytest.raises(ValueError, match="unknown stage"):
        ordered_stages([lost])
    loop = Area(
        "a",
        "A",
        stages=(Stage("a.one", noop, after=("a.two",)), Stage("a.two", noop, after=("a.one",))),
    )
    with pytest.raises(ValueError, match="wait on each other: a.one, a.two"):
        ordered_stages([loop])


def test_the_enabled_areas_generate_in_the_order_the_data_depends_on():
    assert [a.name for a in enabled_areas()] == list(ENABLED_AREAS)
    names = [s.name for s in ordered_stages()]
    assert names.index("company.staff") < names.index("customers.customers")
    assert names.index("customers.customers") < names.index("orders.orders")
    assert names.index("messages.campaigns") < names.index("reports.reports")


def test_evidence_hints_come_from_the_areas():
    assert evidence_detail_keys()["customer_id"] == "customer"
    assert evidence_detail_keys()["report_id"] == "report_definition"
    assert record_pages()["customer"] == ("crm.customer", "customer_id")


def test_a_template_key_changes_with_the_areas_and_their_versions(monkeypatch):
    from datetime import date

    from sandbox_crm import generator

    spec = generator.GenerationSpec(profile="retail", seed=1, customers=10, today=date(2026, 3, 1))
    before = spec.cache_key()
    assert spec.cache_key() == before
    versions = {area.name: area.version for area in enabled_areas()}
    monkeypatch.setattr(
        generator, "area_versions", lambda: {**versions, "customers": versions["customers"] + ".1"}
    )
    bumped = spec.cache_key()
    monkeypatch.setattr(generator, "area_versions", lambda: {**versions, "wishlists": "1"})
    assert len({before, bumped, spec.cache_key()}) == 3

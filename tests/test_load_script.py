"""The class load script (scripts/load_class.py) starts the scenario it prepares the class for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from training_platform import definitions_store
from training_platform.models import DefinitionKind

ROOT = Path(__file__).resolve().parents[1]


def _load_class_module():
    spec = importlib.util.spec_from_file_location("load_class", ROOT / "scripts" / "load_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_load_script_starts_the_vip_report_among_the_units_scenarios(
    client_as, trainee, shipped_definitions, db_session: Session
) -> None:
    load_class = _load_class_module()
    page = client_as(trainee).get(f"/units/{load_class.UNIT}").get_data(as_text=True)
    vip = definitions_store.current_version(
        db_session, DefinitionKind.SCENARIO, f"{load_class.UNIT}-marketing-vip-report", None
    )
    starts = page.count('class="scenario-start"')
    assert starts > 1  # the unit offers other scenarios beside the class's
    assert load_class.start_action(page) == f"/scenarios/{vip.id}/start"


def test_the_load_script_says_so_when_the_unit_page_offers_no_start_for_its_scenario() -> None:
    load_class = _load_class_module()
    other = '<li class="scenario-item"><h3>Another scenario</h3><form action="/scenarios/9/start">'
    with pytest.raises(RuntimeError, match="offers no start"):
        load_class.start_action(other)

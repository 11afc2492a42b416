"""The catalogue: every unit with its PRs, the scenarios that assess them, starting an attempt."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from markupsafe import escape
from sqlalchemy import select

from tests.platform_fixtures import FIXTURE_ROOT, SCENARIO_ID, UNIT_CODE
from training_platform.definitions_store import publish
from training_platform.models import Attempt, Centre, DefinitionKind
from training_platform.sandboxes import get_store

SHIPPED_UNITS = Path(__file__).resolve().parent.parent / "units"
SHIPPED_CODES = sorted(path.stem for path in SHIPPED_UNITS.glob("*.yaml"))


def _leaves(code: str, units_dir: Path = SHIPPED_UNITS) -> list[tuple[str, str]]:
    data = yaml.safe_load((units_dir / f"{code}.yaml").read_text(encoding="utf-8"))
    return [
        (str(leaf["id"]), " ".join(str(leaf["text"]).split()))
        for group in data["performance_requirements"]
        for leaf in group["items"]
    ]


def test_catalogue_lists_every_published_unit(client_as, trainee, published_definitions):
    page = client_as(trainee).get("/units")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    data = yaml.safe_load((FIXTURE_ROOT / "units" / f"{UNIT_CODE}.yaml").read_text())
    assert UNIT_CODE in html
    assert str(escape(" ".join(data["title"].split()))) in html
    assert f'href="/units/{UNIT_CODE}"' in html


def test_unit_page_shows_every_pr_leaf_of_the_test_unit(client_as, trainee, published_definitions):
    html = " ".join(client_as(trainee).get(f"/units/{UNIT_CODE}").get_data(as_text=True).split())
    for leaf_id, text in _leaves(UNIT_CODE, FIXTURE_ROOT / "units"):
        assert f'id="pr-{leaf_id}"' in html
        assert str(escape(text)) in html


@pytest.mark.parametrize("code", SHIPPED_CODES)
def test_each_shipped_unit_page_shows_every_pr_leaf(client_as, trainee, shipped_definitions, code):
    page = client_as(trainee).get(f"/units/{code}")
    assert page.status_code == 200
    html = " ".join(page.get_data(as_text=True).split())
    leaves = _leaves(code)
    assert leaves
    for leaf_id, text in leaves:
        assert f'id="pr-{leaf_id}"' in html
        assert str(escape(text)) in html
    assert "Assessment criteria" in html


def test_unit_page_lists_its_scenarios_with_the_prs_they_assess(
    client_as, trainee, published_definitions
):
    html = client_as(trainee).get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    assert "Gold members for an email invitation" in html
    assert "Start attempt" in html
    for pr in ("1.1", "1.2", "2.1", "2.2"):
        assert f'href="#pr-{pr}"' in html
    assert "You have not attempted this unit yet." in html


def test_staff_browse_the_catalogue_but_cannot_start(client_as, assessor, published_definitions):
    client = client_as(assessor)
    assert client.get("/units").status_code == 200
    html = client.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    assert "Gold members for an email invitation" in html
    assert "Start attempt" not in html


def test_unknown_unit_is_not_found(client_as, trainee, published_definitions):
    assert client_as(trainee).get("/units/999999L3").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, published_definitions):
    response = client.get("/units")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_starting_an_attempt_opens_a_sandbox_and_the_brief(
    client_as, trainee, practice_scenario, db_session, sandbox_settings
):

    client = client_as(trainee)
    response = client.post(f"/scenarios/{practice_scenario.id}/start")
    assert response.status_code == 302
    attempt = db_session.scalars(select(Attempt)).one()
    assert response.headers["Location"].endswith(f"/attempts/{attempt.id}")
    assert attempt.sandbox_key == f"attempt-{attempt.id}"
    assert get_store(sandbox_settings).exists(attempt.sandbox_key)

    html = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "{{" not in html and "}}" not in html
    assert "Grace from the <strong>Marketing</strong> department" in html
    assert "active Gold members" in html
    assert "Open the CRM" in html
    assert f'href="/attempts/{attempt.id}/crm/' in html

    unit_page = client.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    assert f"#{attempt.id}" in unit_page


def test_a_trainee_cannot_start_another_centres_scenario(
    client_as, trainee, db_session, published_definitions
):
    other = Centre(slug="elsewhere", name="Elsewhere Centre")
    db_session.add(other)
    db_session.commit()
    source = next((FIXTURE_ROOT / "scenarios" / UNIT_CODE).glob("*.yaml"))
    text = source.read_text(encoding="utf-8")
    text = text.replace(f"id: {SCENARIO_ID}", f"id: {UNIT_CODE}-elsewhere-report")
    result = publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=text,
        filename="elsewhere.yaml",
        centre_id=other.id,
        user_id=None,
    )
    assert result.ok, result.problems
    db_session.commit()

    client = client_as(trainee)
    assert f"{UNIT_CODE}-elsewhere" not in client.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    response = client.post(f"/scenarios/{result.version.id}/start", follow_redirects=True)
    assert "not offered by your centre" in response.get_data(as_text=True)
    assert db_session.scalars(select(Attempt)).first() is None

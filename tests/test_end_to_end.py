"""End to end through the web client, the way people use Practicum.

The trainee's path: catalogue, start, build the report in the CRM's own forms, share, run and
export it, answer, submit, and read the feedback per PR.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.platform_fixtures import UNIT_CODE, reference_answers
from training_platform.models import Attempt, AttemptStatus

COLUMNS = ["member_no", "name_en", "email", "tier"]
FILTERS = [
    ("tier", "eq", "gold"),
    ("status", "eq", "active"),
    ("dm_email", "in", "given, no_objection"),
]


def _report_form() -> dict:
    data: dict = {
        "name": "Gold members – email invitation",
        "description": "",
        "purpose": "Marketing email invitation for Gold members",
        "source": "customers",
        "columns": COLUMNS,
        "match": "all",
        "sort_field": "name_en",
        "sort_dir": "asc",
    }
    for index, (field, op, value) in enumerate(FILTERS):
        data[f"filters-{index}-field"] = field
        data[f"filters-{index}-op"] = op
        data[f"filters-{index}-value"] = value
    return data


def _answer_form(answers: dict) -> dict:
    return {f"answer-{item_id}": value for item_id, value in answers.items()}


def test_a_trainee_builds_the_report_in_the_crm_and_reads_the_feedback(
    client_as, trainee, practice_scenario, db_session
):
    client = client_as(trainee)

    # Catalogue -> unit -> start.
    assert client.get("/", follow_redirects=True).request.path == "/units"
    unit_page = client.get(f"/units/{UNIT_CODE}").get_data(as_text=True)
    start_url = f"/scenarios/{practice_scenario.id}/start"
    assert f'action="{start_url}"' in unit_page
    attempt_url = client.post(start_url).headers["Location"]
    attempt = db_session.scalars(select(Attempt)).one()
    assert attempt_url.endswith(f"/attempts/{attempt.id}")
    crm = f"/attempts/{attempt.id}/crm"
    assert f'href="{crm}/"' in client.get(attempt_url).get_data(as_text=True)

    # The report builder, then sharing, running and exporting in the CRM.
    assert client.get(f"{crm}/reports/new").status_code == 200
    saved = client.post(f"{crm}/reports/new", data=_report_form())
    assert saved.status_code == 302, saved.get_data(as_text=True)
    report_url = saved.headers["Location"]
    report_id = int(re.search(r"/reports/(\d+)$", report_url).group(1))
    shared = client.post(
        f"{crm}/reports/{report_id}/shares", data={"department": "marketing", "can_export": "y"}
    )
    assert shared.status_code == 302
    run = client.post(f"{crm}/reports/{report_id}/runs")
    assert run.status_code == 302
    assert client.get(run.headers["Location"]).status_code == 200
    exported = client.post(
        f"{crm}/reports/{report_id}/exports",
        data={
            "purpose": "Email invitations for Gold members (Marketing)",
            "destination": "internal_shared_drive",
            "for_department": "marketing",
            "encrypted": "y",
        },
    )
    assert exported.status_code == 302

    # Back on the attempt page: answers, the deliverable, submit.
    page = client.get(attempt_url).get_data(as_text=True)
    assert f'<option value="{report_id}">Gold members – email invitation' in page
    saved_answers = client.post(
        f"{attempt_url}/answers", data=_answer_form(reference_answers(attempt))
    )
    assert saved_answers.status_code == 302
    submitted = client.post(
        f"{attempt_url}/submit", data={"deliverable-report": str(report_id), "confirm": "yes"}
    )
    assert submitted.headers["Location"].endswith(f"{attempt_url}/result")

    db_session.expire_all()
    attempt = db_session.get(Attempt, attempt.id)
    assert attempt.status == AttemptStatus.GRADED
    result = client.get(f"{attempt_url}/result").get_data(as_text=True)
    assert "Pending assessor review" in result
    assert "not yet competent" not in result.lower()
    assert result.count('badge-pass">Demonstrated') >= 3  # 2.2 awaits the written answer
    assert "Not demonstrated" not in result
    assert "No breaches" in result

    # The handed-in CRM is read-only now, for the trainee as well.
    refused = client.post(f"{crm}/reports/{report_id}/runs", follow_redirects=True)
    assert "read-only" in refused.get_data(as_text=True)

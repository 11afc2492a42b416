"""Definition texts in two languages: loading, validation, resolution, the brief and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graders.definitions import (
    DefinitionError,
    LocalText,
    Scenario,
    json_schemas,
    load_definitions,
    load_scenario_text,
    load_unit_text,
    localised,
)
from graders.definitions.models import _local_texts
from graders.runner import render_brief, run_scripted_attempt
from sandbox_crm.store import SandboxStore
from tests.platform_fixtures import apply_reference_solution, reference_answers
from tests.test_definitions_loader import SCENARIO, line_of
from training_platform import attempts_service, definitions_store, i18n
from training_platform.models import DefinitionKind

ROOT = Path(__file__).resolve().parents[1]
VIP_FILE = ROOT / "scenarios" / "105077L3" / "marketing-vip-report.yaml"
VIP_ZH_TITLE = "為市場推廣部編製每月貴賓會員報告"
ZH_BRIEF = (
    "你是 **{{ company }}** 的 **{{ staff_name }}**（今天是 {{ today }}）。"
    "CRM 現時共有 {{ gold_members }} 名現役金卡會員。"
)


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_scenario_text(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def bilingual_copy(text: str, brief_zh: str | None = None) -> str:
    """An English-only scenario with every text also given in zh-Hant (marked, or brief_zh)."""
    model = load_scenario_text(text, "s.yaml").model
    data = yaml.safe_load(text)
    for _, _, loc, value in _local_texts(model):
        node = data
        for part in loc[:-1]:
            node = node[part]
        chinese = brief_zh if loc == ("brief",) and brief_zh else f"（中文）{value}"
        node[loc[-1]] = {"en": str(value), "zh-Hant": chinese}
    data["languages"] = ["en", "zh-Hant"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def one_language(text: str) -> str:
    """A bilingual scenario with every text reduced to its first language, as before."""
    model = load_scenario_text(text, "s.yaml").model
    data = yaml.safe_load(text)
    for _, _, loc, value in _local_texts(model):
        node = data
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = str(value)
    del data["languages"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# --- the format ---------------------------------------------------------------------------------


def test_plain_and_bilingual_texts_both_load():
    plain = load_scenario_text(SCENARIO, "plain.yaml").model
    assert plain.languages == ["en"]
    assert localised(plain.title, "zh-Hant") == "Monthly VIP report for the Marketing department"

    vip = load_scenario_text(VIP_FILE.read_text(encoding="utf-8"), "vip.yaml").model
    assert vip.languages == ["en", "zh-Hant"]
    assert localised(vip.title, "zh-Hant") == VIP_ZH_TITLE
    assert localised(vip.title, "en") == "Monthly VIP report for the Marketing department"
    assert localised(vip.items[0].options[1].text, "zh-Hant").startswith("更了解客戶")


def test_a_text_missing_a_declared_language_is_reported_at_its_line():
    text = VIP_FILE.read_text(encoding="utf-8").replace(f"  zh-Hant: {VIP_ZH_TITLE}\n", "")
    found = problems(text)
    assert found == [
        f"s.yaml:{line_of(text, 'title:')} title: the zh-Hant text is missing "
        "(declared languages: en, zh-Hant)"
    ]


def test_a_plain_string_in_a_bilingual_scenario_lacks_the_other_language():
    text = SCENARIO.replace("mode: practice\n", "mode: practice\nlanguages: [en, zh-Hant]\n")
    found = problems(text)
    assert f"s.yaml:{line_of(text, 'title:')} title: the zh-Hant text is missing" in found[0]
    assert all("zh-Hant text is missing" in p for p in found)


def test_an_undeclared_language_is_reported():
    text = SCENARIO.replace(
        "title: Monthly VIP report for the Marketing department",
        "title: {en: Monthly VIP report, zh-Hant: 每月貴賓會員報告}",
    )
    found = problems(text)
    assert len(found) == 1
    assert f"s.yaml:{line_of(text, 'title:')} title.zh-Hant:" in found[0]
    assert '"zh-Hant" is not a declared language (en)' in found[0]


def test_a_language_key_must_be_a_language_code():
    text = SCENARIO.replace(
        "title: Monthly VIP report for the Marketing department", "title: {english: Report}"
    )
    assert '"english" is not a language code' in problems(text)[0]


def test_the_json_schema_shows_both_forms():
    schema = json_schemas()["scenario"]
    title = schema["properties"]["title"]
    forms = {form["type"] for form in title["anyOf"]}
    assert forms == {"string", "object"}
    assert "languages" in schema["properties"]


# --- resolution ---------------------------------------------------------------------------------


def test_localised_falls_back_to_the_first_declared_language():
    bilingual = load_scenario_text(bilingual_copy(SCENARIO), "b.yaml").model
    # Written zh-Hant first, the declared order still makes English the fallback.
    swapped = bilingual.model_dump(mode="json", by_alias=True)
    swapped["title"] = {"zh-Hant": "報告", "en": "Report"}
    model = Scenario.model_validate(swapped)
    assert str(model.title) == "Report"
    assert localised(model.title, "fr") == "Report"
    assert localised(model.title, "zh-Hant") == "報告"
    assert localised(model.title, "zh_Hant_HK") == "報告"
    assert localised(model.title, "zh-HK") == "報告"
    assert localised(model.title, None) == "Report"
    assert localised("plain", "zh-Hant") == "plain"
    assert localised(None, "en") == ""


def test_local_text_survives_copying():
    import copy

    text = LocalText({"en": "a", "zh-Hant": "乙"})
    assert copy.deepcopy(text).translations == {"en": "a", "zh-Hant": "乙"}


def test_the_brief_renders_in_chinese_with_the_computed_figures():
    vip = load_scenario_text(VIP_FILE.read_text(encoding="utf-8"), "vip.yaml").model
    values = {
        "vip_members": 1234,
        "company": "Harbour Retail",
        "staff_name": "陳大文",
        "staff_title": "CRM Officer",
        "today": "Monday 16 March 2026",
    }
    chinese = render_brief(vip.brief, values, "zh-Hant")
    assert "CRM 現時共有 1,234 名現役金卡及白金卡會員。" in chinese
    assert "**Harbour Retail** 客戶服務部" in chinese and "{{" not in chinese
    english = render_brief(vip.brief, values, "en")
    assert "The CRM currently holds 1,234 active Gold and Platinum members." in english
    assert render_brief(vip.brief, values) == english


# --- grading ------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path, sandbox_template_dir: Path) -> Iterator[SandboxStore]:
    store = SandboxStore(tmp_path / "sandboxes", sandbox_template_dir)
    yield store
    store.dispose()


def _small(scenario: Scenario) -> Scenario:
    plants = [p.model_copy(update={"count": min(p.count, 2)}) for p in scenario.crm.plant]
    crm = scenario.crm.model_copy(update={"customers": 400, "plant": plants})
    return scenario.model_copy(update={"crm": crm})


def _outcome(result: Any) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "checks": [(c.check_id, c.status.value, c.score, c.message) for c in result.checks],
        "items": [(i.item_id, i.status.value, i.score) for i in result.items],
        "pdpo": [(r.rule_id, r.status.value) for r in result.pdpo],
    }


def test_grading_is_the_same_whichever_language_the_scenario_is_read_in(store):
    loaded = load_definitions(ROOT)
    bilingual = _small(loaded.scenarios["105077L3-marketing-vip-report"].model)
    english_text = one_language(VIP_FILE.read_text(encoding="utf-8"))
    english = _small(load_scenario_text(english_text, "en.yaml").model)
    unit = loaded.units["105077L3"].model
    runs = [
        run_scripted_attempt(
            store,
            f"run-{n}",
            scenario=scenario,
            unit=unit,
            steps=scenario.reference_solution,
            answers=scenario.reference_answers,
        ).result
        for n, scenario in enumerate((english, bilingual))
    ]
    assert _outcome(runs[0]) == _outcome(runs[1])
    assert runs[0].verdict.value == "pending_review"  # the written answer awaits an assessor


# --- the attempt page ---------------------------------------------------------------------------


@pytest.fixture
def bilingual_attempt(sandbox_settings, db_session, trainee, practice_scenario):
    """An attempt at a bilingual copy of the test scenario."""
    text = bilingual_copy(practice_scenario.source_text, ZH_BRIEF).replace(
        "id: 999002L3-gold-list", "id: 999002L3-gold-list-zh"
    )
    result = definitions_store.publish(
        db_session,
        kind=DefinitionKind.SCENARIO,
        text=text,
        filename="zh.yaml",
        centre_id=trainee.centre_id,
        user_id=None,
    )
    assert result.ok, result.problems
    db_session.commit()
    with sandbox_settings.app_context():
        attempt = attempts_service.start_attempt(db_session, trainee, result.version)
    db_session.commit()
    return attempt


def test_the_attempt_page_shows_the_chinese_brief_in_chinese(
    client_as, trainee, bilingual_attempt, monkeypatch
):
    client = client_as(trainee)
    english = client.get(f"/attempts/{bilingual_attempt.id}").get_data(as_text=True)
    assert "The CRM currently holds" in english and "CRM 現時共有" not in english

    monkeypatch.setattr(i18n, "current_language", lambda: "zh-Hant")
    chinese = client.get(f"/attempts/{bilingual_attempt.id}").get_data(as_text=True)
    assert "CRM 現時共有" in chinese and "名現役金卡會員。" in chinese
    assert "The CRM currently holds" not in chinese
    assert "{{" not in chinese
    assert "（中文）" in chinese  # the title, questions and options follow the language


def test_the_result_page_gives_the_scenarios_feedback_in_the_readers_language(
    sandbox_settings, db_session, client_as, trainee, bilingual_attempt, monkeypatch
):
    deliverables = apply_reference_solution(sandbox_settings, bilingual_attempt)
    with sandbox_settings.app_context():
        attempts_service.save_answers(
            db_session, bilingual_attempt, reference_answers(bilingual_attempt)
        )
        attempts_service.submit_attempt(db_session, bilingual_attempt, deliverables)
        attempts_service.grade_attempt_record(db_session, bilingual_attempt)
    db_session.commit()
    scenario = definitions_store.scenario_of(bilingual_attempt)
    passed = str(scenario.checks[0].feedback.pass_)
    client = client_as(trainee)

    english = client.get(f"/attempts/{bilingual_attempt.id}/result").get_data(as_text=True)
    assert passed in english and f"（中文）{passed}" not in english

    monkeypatch.setattr(i18n, "current_language", lambda: "zh-Hant")
    chinese = client.get(f"/attempts/{bilingual_attempt.id}/result").get_data(as_text=True)
    assert f"（中文）{passed}" in chinese


def test_a_unit_may_be_bilingual_but_then_needs_both_languages_everywhere():
    text = (ROOT / "units" / "105077L3.yaml").read_text(encoding="utf-8")
    model = load_unit_text(text, "u.yaml").model
    data = yaml.safe_load(text)
    for _, _, loc, value in _local_texts(model):
        node = data
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = {"en": str(value), "zh-Hant": f"（中文）{value}"}
    undeclared = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(DefinitionError) as caught:
        load_unit_text(undeclared, "u.yaml")
    assert '"zh-Hant" is not a declared language (en)' in str(caught.value)

    data["languages"] = ["en", "zh-Hant"]
    unit = load_unit_text(yaml.safe_dump(data, allow_unicode=True), "u.yaml").model
    assert localised(unit.title, "zh-Hant") == f"（中文）{model.title}"
    assert localised(unit.leaves()[0].text, "en") == model.leaves()[0].text

    data["title"] = str(model.title)
    with pytest.raises(DefinitionError) as caught:
        load_unit_text(yaml.safe_dump(data, allow_unicode=True), "u.yaml")
    assert [p.path for p in caught.value.problems] == ["title"]
    assert "the zh-Hant text is missing" in caught.value.problems[0].message


def test_every_language_of_the_brief_may_use_only_defined_placeholders():
    text = VIP_FILE.read_text(encoding="utf-8")
    wrong = text.replace("CRM 現時共有 {{ vip_members }} 名", "CRM 現時共有 {{ vip_count }} 名")
    found = problems(wrong)
    assert len(found) == 1
    assert "brief: {{ vip_count }} is not defined in facts" in found[0]

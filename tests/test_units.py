"""The unit files in units/: they load, keep the SCS structure and carry the corrected text."""

import re
from collections import Counter
from pathlib import Path

import pytest

from graders.definitions import Industry, Point, Unit, load_unit, load_units

REPO = Path(__file__).resolve().parents[1]
UNITS_DIR = REPO / "units"
SEEDS_DIR = REPO.parent / "shared" / "seeds"

GROUPS = {"105077L3": 3, "107186L4": 4, "107189L5": 3, "108970L3": 3, "105086L6": 3}
"""Expected number of numbered PR groups per unit."""

SEED_WORDING = {
    "Pledge of customer relationship": "Piedge of customer relationship",
    "Retain existing customers": "Retain existing customer soft",
    "Master the techniques of operating E-CRM system": (
        "Master the techniques of operating E- CRM system"
    ),
}
"""Corrected text -> what the seed has, for the faithfulness check against the seed files."""


@pytest.fixture(scope="module")
def units() -> dict[str, Unit]:
    return {code: loaded.model for code, loaded in load_units(UNITS_DIR).items()}


def _strings(value: object) -> list[str]:
    """Every string value in a dumped model."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _point_texts(points: list[str | Point]) -> list[str]:
    texts: list[str] = []
    for point in points:
        if isinstance(point, Point):
            texts.append(point.text)
            texts += _point_texts(point.points)
        else:
            texts.append(point)
    return texts


def test_all_five_units_load(units: dict[str, Unit]) -> None:
    assert set(units) == set(GROUPS)


@pytest.mark.parametrize("code", sorted(GROUPS))
def test_unit_file_is_named_after_its_code(code: str) -> None:
    loaded = load_unit(UNITS_DIR / f"{code}.yaml")
    assert loaded.model.code == code
    assert len(loaded.content_hash) == 64


@pytest.mark.parametrize("code", sorted(GROUPS))
def test_structure_groups_and_leaves(units: dict[str, Unit], code: str) -> None:
    unit = units[code]
    assert len(unit.performance_requirements) == GROUPS[code]
    assert [g.id for g in unit.performance_requirements] == [
        str(n) for n in range(1, GROUPS[code] + 1)
    ]
    for group in unit.performance_requirements:
        assert group.title.strip()
        for n, leaf in enumerate(group.items, start=1):
            assert leaf.id == f"{group.id}.{n}"
            assert leaf.text.strip()
    assert unit.assessment_criteria
    assert unit.level == int(code[-1])


@pytest.mark.parametrize("code", sorted(GROUPS))
def test_no_duplicate_texts_within_a_unit(units: dict[str, Unit], code: str) -> None:
    unit = units[code]
    leaf_texts = Counter(leaf.text for leaf in unit.leaves())
    assert [t for t, n in leaf_texts.items() if n > 1] == []
    for leaf in unit.leaves():
        point_texts = Counter(_point_texts(leaf.points))
        assert [t for t, n in point_texts.items() if n > 1] == [], leaf.id


@pytest.mark.parametrize("code", sorted(GROUPS))
def test_extraction_defects_are_corrected(units: dict[str, Unit], code: str) -> None:
    strings = _strings(units[code].model_dump())
    text = "\n".join(strings)
    assert "Piedge" not in text
    assert "customer soft" not in text
    assert "E- CRM" not in text
    assert "Specification of Competency Standards" not in text
    assert "Unit of Competency" not in text
    assert "<p>" not in text and "<ul" not in text and "•" not in text
    # The stray fragment after 105086L6's Competency text is not a statement of its own.
    assert "Personal Data (Privacy) Ordinance" not in strings


def test_full_ids_and_lookup(units: dict[str, Unit]) -> None:
    unit = units["105077L3"]
    leaf = unit.find("105077L3/2.4")
    assert leaf is not None
    assert leaf.text == (
        "Ensure that only the authorized departments/units can access relevant data or reports"
    )
    assert unit.find("2.4") is leaf
    assert unit.full_id("2.4") == "105077L3/2.4"
    assert unit.find("2.9") is None
    assert unit.find("105086L6/2.4") is None
    assert unit.group_of("2.4") is unit.performance_requirements[1]
    assert unit.leaf_ids() == [
        "1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2",
    ]  # fmt: skip


def test_spot_check_faithful_texts(units: dict[str, Unit]) -> None:
    compile_data = units["105077L3"]
    assert compile_data.title == "Compile customer relationship management (CRM) system data"
    assert compile_data.industry is Industry.RETAIL
    assert compile_data.functional_area == "Customer Services"
    assert (compile_data.credit, compile_data.credit_note) == (3, "for reference only")
    assert compile_data.range is not None and compile_data.range.startswith(
        "This unit of competency (UoC) is applicable to customer service staff"
    )
    assert compile_data.find("1.2").points == [
        "Category, level and time limit of information stored",
        "Method, procedures and authority of accessing information",
        "Method of compiling data or reports",
    ]
    assert compile_data.find("1.5").text == "Master the techniques of operating E-CRM system"
    assert compile_data.remark == ""

    online = units["107186L4"]
    assert online.range is None
    assert online.description == (
        "Record the online sales activities of customers and implement effective and "
        "standardized information management."
    )
    assert online.find("3.2").text == "Set the authorization right to assess customer information"

    technology = units["107189L5"]
    concept = technology.find("1.2")
    assert [p.text for p in concept.points] == ["Comprehensive", "Integrative", "Intelligent"]
    assert len(technology.find("2.1").points) == 4

    jewellery = units["108970L3"]
    assert jewellery.industry is Industry.JEWELLERY
    assert (jewellery.credit, jewellery.credit_note) == (3, None)
    assert jewellery.performance_requirements[2].title == "Professionalism"
    assert jewellery.find("2.7").points == [
        "Access rights setting",
        "Automatic data backup",
        "Security control for access by remote branches",
    ]
    assert jewellery.find("2.6").points[0].startswith("Real-time update of order status")

    strategy = units["105086L6"]
    assert [g.title for g in strategy.performance_requirements][:2] == [
        "Knowledge of CRM strategies",
        "Formulate the CRM framework",
    ]
    assert strategy.find("3.2").text == "Pledge of customer relationship"
    assert strategy.find("2.5").text == "Criteria for classification of customer churn"
    assert "Retain existing customers" in _point_texts(strategy.find("1.1").points)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="seed texts not available")
@pytest.mark.parametrize("code", sorted(GROUPS))
def test_every_text_comes_from_the_seed(units: dict[str, Unit], code: str) -> None:
    seed = _normalise((SEEDS_DIR / f"{code}.txt").read_text(encoding="utf-8"))
    unit = units[code]
    texts = [unit.title, unit.range or unit.description or "", *unit.assessment_criteria]
    for group in unit.performance_requirements:
        texts.append(group.title)
        for leaf in group.items:
            texts += [leaf.text, *_point_texts(leaf.points)]
    for text in texts:
        wording = SEED_WORDING.get(text, text)
        assert _normalise(wording) in seed, text

"""The discrimination report: perturbations of a rows expectation, and where they are caught."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.definitions import Scenario, load_scenario
from graders.discrimination import criterion_text, discriminate, perturbations
from sandbox_crm.store import SandboxStore

FIXTURE = Path(__file__).parent / "fixtures" / "discrimination"
SILVER_LIST = FIXTURE / "scenarios" / "999001L3" / "999001L3-silver-list.yaml"

VIP = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "status", "op": "eq", "value": "active"},
        {"field": "spend_12m", "op": "ge", "value": 8000},
    ]
}


def by_label(source: str, condition, nearest=None) -> dict:
    return {p.label: p.where for p in perturbations(source, condition, nearest)}


# --- perturbations (no sandbox) ---------------------------------------------------------------


def test_each_criterion_of_an_all_is_dropped_in_turn():
    changed = by_label("customers", VIP)
    assert changed["drop status eq active"] == {"all": [VIP["all"][0], VIP["all"][2]]}
    assert changed["drop tier in [gold, platinum]"] == {"all": VIP["all"][1:]}
    assert changed["drop spend_12m ge 8000"] == {"all": VIP["all"][:2]}


def test_each_value_of_an_in_list_is_dropped_but_not_the_only_one():
    changed = by_label("customers", VIP)
    assert changed["tier in [gold, platinum]: drop gold"]["all"][0]["value"] == ["platinum"]
    assert changed["tier in [gold, platinum]: drop platinum"]["all"][0]["value"] == ["gold"]
    single = by_label("customers", {"field": "tier", "op": "in", "value": ["gold"]})
    assert list(single) == ["drop tier in [gold]"]


def test_a_lone_criterion_dropped_leaves_every_row():
    assert by_label("customers", {"field": "status", "op": "eq", "value": "active"}) == {
        "drop status eq active": None
    }


def test_a_threshold_moves_to_the_nearest_values_in_the_data():
    data = [7500, 7950, 8000, 8100]

    def nearest(field, value, side):
        assert field == "spend_12m"
        below = [v for v in data if v < value or (side == "le" and v == value)]
        above = [v for v in data if v > value or (side == "ge" and v == value)]
        return (below[-1] if below else None) if side in ("lt", "le") else above[0]

    changed = by_label("customers", VIP, nearest)
    assert changed["spend_12m ge 8000: move down"]["all"][2]["value"] == 7950
    # Past the smallest value that is in: the members at exactly 8,000 drop out.
    assert changed["spend_12m ge 8000: move up"]["all"][2]["value"] == 8001
    strict = by_label("customers", {"field": "spend_12m", "op": "lt", "value": 8000}, nearest)
    assert strict["spend_12m lt 8000: move down"]["value"] == 7950
    assert strict["spend_12m lt 8000: move up"]["value"] == 8001


def test_without_data_a_threshold_moves_by_one_step():
    money = by_label("customers", {"field": "spend_12m", "op": "gt", "value": 100})
    assert money["spend_12m gt 100: move down"]["value"] == 99
    assert money["spend_12m gt 100: move up"]["value"] == 101
    day = by_label("customers", {"field": "joined_on", "op": "le", "value": "2025-12-31"})
    assert day["joined_on le 2025-12-31: move down"]["value"] == "2025-12-30"
    assert day["joined_on le 2025-12-31: move up"]["value"] == "2026-01-01"
    relative = by_label("customers", {"field": "joined_on", "op": "ge", "value": {"days_ago": 90}})
    assert relative["joined_on ge 90 days ago: move down"]["value"] == {"days_ago": 91}
    assert relative["joined_on ge 90 days ago: move up"]["value"] == {"days_ago": 89}


def test_both_bounds_of_between_move():
    changed = by_label("customers", {"field": "spend_12m", "op": "between", "value": [10, 20]})
    assert changed["spend_12m between [10, 20]: move low bound down"]["value"] == [9, 20]
    assert changed["spend_12m between [10, 20]: move high bound up"]["value"] == [10, 21]


def test_members_of_any_and_not_are_dropped_and_thresholds_inside_them_move():
    condition = {
        "any": [
            {"field": "tier", "op": "eq", "value": "platinum"},
            {"not": {"field": "spend_12m", "op": "lt", "value": 5000}},
        ]
    }
    changed = by_label("customers", condition)
    assert changed["drop tier eq platinum"] == {"any": [condition["any"][1]]}
    assert changed["drop not (spend_12m lt 5000)"] == {"any": [condition["any"][0]]}
    assert "drop spend_12m lt 5000" not in changed  # "not" of nothing is no criterion
    moved = changed["spend_12m lt 5000: move down"]
    assert moved["any"][1] == {"not": {"field": "spend_12m", "op": "lt", "value": 4999}}


def test_labels_do_not_depend_on_the_data_and_the_condition_is_left_alone():
    original = copy.deepcopy(VIP)
    plain = [p.label for p in perturbations("customers", VIP)]
    with_data = [p.label for p in perturbations("customers", VIP, lambda f, v, s: None)]
    assert plain == with_data
    assert VIP == original


def test_criterion_text():
    assert criterion_text({"field": "joined_on", "op": "is_null"}) == "joined_on is_null"
    assert criterion_text({"any": [VIP["all"][1], VIP["all"][2]]}) == (
        "any of (status eq active; spend_12m ge 8000)"
    )


# --- evaluation on a small generated sandbox (two variants of 80 customers) --------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxStore]:
    root = tmp_path_factory.mktemp("discrimination")
    store = SandboxStore(root / "sandboxes", root / "templates")
    yield store
    store.dispose()


@pytest.fixture
def silver_list() -> Scenario:
    return load_scenario(SILVER_LIST).model


def with_expectation(scenario: Scenario, where, either_way=None) -> Scenario:
    """The scenario with its rows check expecting ``where`` (and tolerating ``either_way``)."""
    check = scenario.checks[0]
    params = {**check.params, "expect": {"where": where}}
    if either_way is not None:
        params["either_way"] = either_way
    return scenario.model_copy(update={"checks": [check.model_copy(update={"params": params})]})


def test_a_discriminating_expectation_is_caught_in_every_variant(store, silver_list):
    results = {r.label: r for r in discriminate(store, silver_list)}
    assert set(results) == {"drop tier eq silver", "drop status eq active"}
    for result in results.values():
        assert result.ok, result
        assert result.caught_in == len(result.differing) == 2
        assert result.check_id == "rows" and result.scenario_id == "999001L3-silver-list"


def test_a_criterion_that_changes_nothing_in_the_data_is_not_caught(store, silver_list):
    where = copy.deepcopy(silver_list.checks[0].params["expect"]["where"])
    where["all"].append({"field": "spend_12m", "op": "ge", "value": 0})
    results = {r.label: r for r in discriminate(store, with_expectation(silver_list, where))}
    redundant = results["drop spend_12m ge 0"]
    assert not redundant.ok and redundant.caught_in == 0 and redundant.differing == (0, 0)
    assert results["drop status eq active"].ok


def test_rows_tolerated_either_way_do_not_count_as_caught(store, silver_list):
    where = silver_list.checks[0].params["expect"]["where"]
    live = {"field": "status", "op": "in", "value": ["inactive", "closed"]}
    results = {r.label: r for r in discriminate(store, with_expectation(silver_list, where, live))}
    assert results["drop status eq active"].differing == (0, 0)
    assert results["drop tier eq silver"].ok


def test_an_expectation_without_a_source_is_reported(store, silver_list):
    # The source comes from expect.source, or else from the report the reference solution builds.
    assert silver_list.checks[0].params["expect"].get("source") is None
    assert not any(r.problem for r in discriminate(store, silver_list))
    orphan = silver_list.model_copy(update={"reference_solution": []})
    (result,) = discriminate(store, orphan)
    assert not result.ok and "give expect.source" in result.problem

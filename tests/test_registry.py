"""The one registry type: decorator registration, duplicate and unknown names, isolation."""

from __future__ import annotations

import pytest

from graders.registry import CHECKS, PDPO_RULES
from sandbox_crm.deliverables import DELIVERABLE_KINDS
from sandbox_crm.operations import OPERATIONS
from sandbox_crm.plants import PLANTS
from sandbox_crm.registry import DuplicateNameError, Registry, UnknownNameError
from sandbox_crm.sources import SOURCES


def test_decorator_registers_under_the_name_and_keeps_order():
    colours: Registry[object] = Registry("colour")

    @colours.register("red")
    def red() -> str:
        return "r"

    colours.add("blue", "b")
    assert colours.get("red") is red
    assert colours["blue"] == "b"
    assert colours.names() == ["blue", "red"]
    assert colours.in_order() == ["red", "blue"]
    assert "red" in colours and "green" not in colours and len(colours) == 2
    assert colours.find("green") is None


def test_a_name_registered_twice_is_an_error():
    colours: Registry[str] = Registry("colour")
    colours.add("red", "r")
    with pytest.raises(DuplicateNameError, match="colour 'red' is already registered"):
        colours.add("red", "other")
    assert colours.get("red") == "r"


def test_an_unknown_name_lists_the_known_ones():
    colours: Registry[str] = Registry("colour")
    colours.add("red", "r")
    colours.add("blue", "b")
    with pytest.raises(UnknownNameError) as caught:
        colours.get("green")
    assert str(caught.value) == "unknown colour 'green'; known: blue, red"


def test_isolated_restores_the_entries():
    colours: Registry[str] = Registry("colour")
    colours.add("red", "r")
    with colours.isolated(empty=True):
        assert len(colours) == 0
        colours.add("green", "g")
    assert colours.names() == ["red"]
    with colours.isolated():
        colours.add("blue", "b")
        assert colours.names() == ["blue", "red"]
    assert colours.names() == ["red"]


def test_load_imports_the_explicit_module_list():
    sources: Registry[object] = Registry("report source", ("sandbox_crm.sources",))
    sources.load()  # imports without registering anything here
    with pytest.raises(ModuleNotFoundError):
        Registry("x", ("sandbox_crm.no_such_module",)).load()


@pytest.mark.parametrize(
    "registry", [CHECKS, PDPO_RULES, OPERATIONS, PLANTS, SOURCES, DELIVERABLE_KINDS]
)
def test_every_kind_of_entry_uses_the_one_registry_type(registry):
    assert isinstance(registry, Registry)
    registry.load()
    assert len(registry) > 0
    name = registry.in_order()[0]
    with registry.isolated(), pytest.raises(DuplicateNameError):
        registry.add(name, registry.get(name))

"""One service error type, rendered the same way by every door: pages, the CLI and JSON."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from graders.definitions import DefinitionError
from graders.definitions.loader import Problem
from sandbox_crm.operations import OperationError
from training_platform.errors import (
    CONFLICT,
    INVALID,
    INVALID_DEFINITION,
    NOT_FOUND,
    TOO_LARGE,
    ServiceError,
    exit_with,
)


def test_an_invalid_input_lists_each_problem_and_sums_them_up():
    error = ServiceError.invalid(["Answer question 1.", "Answer question 2."], field="answers")
    assert error.code == INVALID
    assert error.message == "Answer question 1. Answer question 2."
    assert error.messages == ("Answer question 1.", "Answer question 2.")
    assert error.to_dict() == {
        "code": "invalid",
        "message": "Answer question 1. Answer question 2.",
        "field": "answers",
        "problems": ["Answer question 1.", "Answer question 2."],
    }


def test_a_single_message_is_its_own_problem():
    error = ServiceError(CONFLICT, "This attempt has already been submitted.")
    assert error.messages == ("This attempt has already been submitted.",)
    assert str(error) == "This attempt has already been submitted."
    assert error.to_dict()["problems"] == ["This attempt has already been submitted."]


@pytest.mark.parametrize(
    ("code", "status"), [(INVALID, 400), (CONFLICT, 400), (NOT_FOUND, 404), (TOO_LARGE, 413)]
)
def test_each_code_has_its_http_status(code, status):
    assert ServiceError(code, "No.").http_status == status


def test_definition_problems_are_adapted_with_file_and_line():
    problem = Problem("units/x.yaml", 7, "performance_requirements", "is required")
    error = ServiceError.from_definition_error(DefinitionError([problem]))
    assert error.code == INVALID_DEFINITION
    assert error.problems == (str(problem),)
    assert "units/x.yaml" in error.problems[0] and "7" in error.problems[0]


def test_an_operation_refusal_keeps_its_field():
    error = ServiceError.from_operation_error(OperationError("Choose a department.", "department"))
    assert (error.code, error.message, error.field) == (
        INVALID,
        "Choose a department.",
        "department",
    )


def test_the_cli_prints_the_message_and_problems_and_exits_2():
    @click.command()
    def refuse() -> None:
        exit_with(ServiceError.invalid(["First problem.", "Second problem."]))

    result = CliRunner().invoke(refuse)
    assert result.exit_code == 2
    assert "First problem." in result.output and "Second problem." in result.output


def test_a_command_that_succeeds_exits_0():
    @click.command()
    def fine() -> None:
        click.echo("done")

    assert CliRunner().invoke(fine).exit_code == 0


def test_a_view_that_lets_a_service_error_through_answers_with_the_error_page(app):
    @app.get("/refuse/<code>")
    def refuse(code: str):
        raise ServiceError(code, "That cannot be done now.")

    client = app.test_client()
    conflict = client.get(f"/refuse/{CONFLICT}")
    assert conflict.status_code == 400
    assert "That cannot be done now." in conflict.get_data(as_text=True)
    assert client.get(f"/refuse/{NOT_FOUND}").status_code == 404

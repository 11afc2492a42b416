"""Imports flow one way (training_platform -> graders -> sandbox_crm), checked by import-linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("importlinter")
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "lint-imports is not installed (it comes with the test extra)"
    return subprocess.run(
        [command, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_packages_keep_the_contracts():
    result = _lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _package(root: Path, name: str, modules: dict[str, str]) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for module, text in modules.items():
        (root / name / f"{module}.py").write_text(text)


def _sketch(root: Path) -> None:
    """Three tiny packages that import the right way, under the project's own contracts."""
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    _package(root, "training_platform", {"views": "import graders.engine\nimport flask\n"})
    _package(root, "graders", {"engine": "import sandbox_crm.models\n"})
    _package(root, "sandbox_crm", {"models": "VALUE = 1\n"})
    (root / "flask.py").write_text("")
    # The modules the contracts name inside a package, empty.
    config = tomllib.loads((root / "pyproject.toml").read_text())
    for contract in config["tool"]["importlinter"]["contracts"]:
        for layer in contract.get("layers", ()):
            package, _, module = layer.partition(".")
            if module:
                (root / package / f"{module}.py").write_text("")


@pytest.mark.parametrize(
    ("package", "module", "text", "broken"),
    [
        ("sandbox_crm", "models", "from graders import engine\n", "training_platform -> graders"),
        ("graders", "engine", "def run():\n    import training_platform\n", "one way"),
        ("graders", "engine", "import flask\n", "without the web framework"),
        (
            "training_platform",
            "results_service",
            "import training_platform.review_service\n",
            "without cycles",
        ),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(tmp_path, package, module, text, broken):
    _sketch(tmp_path)
    (tmp_path / package / f"{module}.py").write_text(text)

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and broken in result.stdout


def test_the_sketch_packages_pass_when_they_import_the_right_way(tmp_path):
    _sketch(tmp_path)

    result = _lint_imports(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr

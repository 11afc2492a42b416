"""The repository's top-level names must not collide with Python's standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def importable_top_level_names() -> set[str]:
    """Names that `import NAME` could find at the repo root: packages, plain folders, modules."""
    names = set()
    for entry in REPO_ROOT.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)  # a folder imports as a (namespace) package even without __init__
        elif entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
    return names


def test_no_top_level_name_shadows_the_standard_library():
    names = importable_top_level_names()
    assert {"training_platform", "sandbox_crm", "graders"} <= names
    clashes = sorted(names & set(sys.stdlib_module_names))
    assert clashes == [], f"these top-level names shadow standard modules: {clashes}"


def test_packages_import_from_the_repo_root():
    script = (
        "import platform, uuid, training_platform, sandbox_crm, graders\n"
        "assert not platform.__file__.startswith(r'%s'), platform.__file__\n"
        "print(platform.python_version())\n" % REPO_ROOT
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr

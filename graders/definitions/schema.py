"""JSON Schemas of the definition files, for completion and validation in centres' editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graders.definitions.models import Scenario, Unit

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of each definition kind, keyed "unit" and "scenario"."""
    return {
        name: {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}
        for name, model in (("unit", Unit), ("scenario", Scenario))
    }


def write_json_schemas(out_dir: str | Path) -> list[Path]:
    """Write unit.schema.json and scenario.schema.json into out_dir; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, schema in json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths.append(path)
    return paths

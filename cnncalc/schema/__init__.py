"""The JSON contracts cnncalc writes, by name, and their JSON Schemas (shipped beside this file).

`cnncalc.plan/1` is `cnncalc plan --format json` and `Report.to_json()`: keys may
be added within a version, never renamed or removed. Later outputs get names of
their own (`cnncalc.compare/1`, `cnncalc.sweep/1`). Importing this module is free:
the schemas are generated from the pydantic models only by `generate()`.
"""

from __future__ import annotations

import json
from pathlib import Path

PLAN = "cnncalc.plan/1"

_HERE = Path(__file__).resolve().parent
_FILES = {PLAN: "plan.schema.json"}


def path(name: str = PLAN) -> Path:
    """The shipped JSON Schema file of a contract."""
    return _HERE / _FILES[name]


def load(name: str = PLAN) -> dict:
    return json.loads(path(name).read_text(encoding="utf-8"))


def generate(name: str = PLAN) -> dict:
    """The JSON Schema of a contract, generated from its pydantic model (what `path()` ships)."""
    from ..report import Report

    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}


def text(name: str = PLAN) -> str:
    """The schema as the shipped file holds it; `python -m cnncalc.schema` rewrites that file."""
    return json.dumps(generate(name), indent=2) + "\n"

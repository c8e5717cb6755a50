"""The JSON contracts cnncalc writes, by name, and their JSON Schemas (shipped beside this file).

`cnncalc.plan/1` is `cnncalc plan --format json` and `Report.to_json()`: keys may
be added within a version, never renamed or removed. Later outputs get names of
their own (`cnncalc.compare/1`, `cnncalc.sweep/1`). Importing this module is free:
the schemas are generated from the pydantic models by `schema/generate.py`
(`python -m cnncalc.schema` rewrites the shipped files).
"""

from __future__ import annotations

from pathlib import Path

PLAN = "cnncalc.plan/1"

_HERE = Path(__file__).resolve().parent
_FILES = {PLAN: "plan.schema.json"}


def path(name: str = PLAN) -> Path:
    """The shipped JSON Schema file of a contract."""
    return _HERE / _FILES[name]


def load(name: str = PLAN) -> dict:
    import json

    return json.loads(path(name).read_text(encoding="utf-8"))

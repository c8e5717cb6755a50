"""The JSON Schemas generated from the pydantic models: what `schema.path()` ships, and what
`python -m cnncalc.schema` rewrites (a test fails while a shipped file is stale)."""

from __future__ import annotations

import json

from ..report import Report
from . import PLAN


def generate(name: str = PLAN) -> dict:
    """The JSON Schema of a contract, generated from its pydantic model."""
    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}


def text(name: str = PLAN) -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(generate(name), indent=2) + "\n"

"""`cnncalc schema`: the JSON Schema of plan's JSON."""

from __future__ import annotations

import typer

from .application import app, finish
from .io import emit
from .options import ForceOpt, OutputOpt

SCHEMA_HELP = """Print the JSON Schema of `cnncalc plan --format json` (the contract cnncalc.plan/1), for
validating its output in scripts and CI. Keys may be added within a version, never renamed or removed.

\b
Examples:
  cnncalc schema > plan.schema.json
  cnncalc plan vgg16 -f json | check-jsonschema --schemafile plan.schema.json -
"""


@app.command("schema", help=SCHEMA_HELP)
def schema_command(ctx: typer.Context, output: OutputOpt = None, force: ForceOpt = False) -> None:
    def run() -> int:
        from .. import schema

        emit(schema.path(schema.PLAN).read_text(encoding="utf-8"), output, force)
        return 0

    finish(run, ctx)

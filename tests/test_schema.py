"""The JSON contract cnncalc.plan/1, published once: a JSON Schema generated from the Report
model, shipped in the package, and every JSON output validated against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import cnncalc
from cnncalc import schema, zoo
from cnncalc.schema.generate import generate
from cnncalc.render import render

GOLDEN = Path(__file__).parent / "golden"


def strict(node):
    """The schema with no key left undeclared: what cnncalc writes must be exactly what it publishes.
    (The shipped schema lets consumers accept keys added later within the version.)"""
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


VALIDATOR = jsonschema.Draft202012Validator(strict(schema.load()))


def test_the_shipped_schema_is_the_models():
    assert schema.load() == generate(), "stale: run python -m cnncalc.schema"
    assert schema.load()["$id"] == cnncalc.plan("INPUT 8x8x3 -> RELU").schema_ == "cnncalc.plan/1"


def test_the_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(schema.load())


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_json_validates(path):
    VALIDATOR.validate(json.loads(path.read_text()))


@pytest.mark.parametrize("name", zoo.names())
def test_every_example_validates(name):
    VALIDATOR.validate(json.loads(render(cnncalc.plan(zoo.path(name).read_text(), batch=2), "json")))


def test_the_validator_catches_a_missing_an_extra_and_a_mistyped_key():
    data = json.loads((GOLDEN / "cifar.json").read_text())
    for broken in ({k: v for k, v in data.items() if k != "totals"}, {**data, "surprise": 1},
                   {**data, "batch": "two"}):
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(broken)


def test_an_unsupported_metric_validates_as_null(monkeypatch):
    from cnncalc.kinds import UNSUPPORTED, Conv

    monkeypatch.setattr(Conv, "macs", UNSUPPORTED)
    VALIDATOR.validate(json.loads(cnncalc.plan("INPUT 8x8x3 -> CONV3-4").to_json()))


def test_cli_prints_the_shipped_schema():
    from conftest import run_cli


    result = run_cli(*["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == schema.load()


@pytest.mark.parametrize("args", [
    ["resnet18", "--device", "cpu"], ["resnet18", "--dtype", "int8", "--budget", "1GiB"],
    ["resnet18", "--budget", "4GiB"], ["resnet18", "--budget", "4GiB", "--max-input"],
    ["resnet18", "--amp", "bfloat16", "--freeze", "9"], ["resnet18", "--checkpoint", "5-11", "--fit-rule", "notes"],
    ["resnet18", "--amp", "bfloat16", "--checkpoint", "5-11"],
    ["INPUT 8x8x3 -> CONV3-4 -> LOCAL3-4 -> FC-2"],  # LOCAL: no training rule, the peaks null
])
def test_what_the_command_line_writes_validates(args):
    # the command line builds the contract as plain dicts (planner.run), not through the pydantic models
    from conftest import run_cli


    result = run_cli(*["plan", *args, "-f", "json"])
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        VALIDATOR.validate(json.loads(result.output))
    else:  # a refused combination is a one-line error
        assert result.output.startswith("error: ") and "Traceback" not in result.output

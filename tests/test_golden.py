"""Golden files for every rendered format, plus the invariant that rows sum to the totals.

Regenerate after an intended change with:  python -m pytest tests/test_golden.py --update-golden
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import cnncalc
from cnncalc import zoo
from cnncalc.render import FORMATS, render

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
DESIGNS = {
    "vgg16": zoo.path("vgg16"),
    "resnet18": HERE / "designs" / "resnet18.cnn",
    "inception": HERE / "designs" / "inception.cnn",
    "cifar": HERE / "designs" / "cifar.cnn",
}
SUFFIX = {"table": "txt", "markdown": "md", "json": "json", "csv": "csv"}


def report(name: str):
    return cnncalc.plan(DESIGNS[name].read_text(), batch=4)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", DESIGNS)
def test_golden(name, fmt, update_golden):
    text = render(report(name), fmt)
    path = GOLDEN / f"{name}.{SUFFIX[fmt]}"
    if update_golden:
        path.write_text(text)
    assert path.exists(), f"missing {path}: run pytest --update-golden"
    assert text == path.read_text()


@pytest.mark.parametrize("name", DESIGNS)
def test_json_rows_sum_to_totals(name):
    data = json.loads((GOLDEN / f"{name}.json").read_text())
    rows, totals = data["layers"], data["totals"]
    assert data["schema"] == "cnncalc.plan/1"
    assert sum(r["params"] for r in rows) == totals["params"]
    assert sum(r["weights"] + r["biases"] for r in rows) == totals["params"]
    assert sum(r["buffers"] for r in rows) == totals["buffers"]
    assert sum(r["macs"] for r in rows) == totals["macs"]
    assert totals["flops"] == 2 * totals["macs"]
    stored = [r for r in rows if r["memory_bytes"]]
    assert sum(r["activations"] for r in stored) == totals["activations"]
    memory = totals["memory"]
    assert sum(r["memory_bytes"] for r in rows) == memory["forward_bytes_per_image"]
    assert memory["forward_bytes"] == memory["forward_bytes_per_image"] * data["batch"]
    assert sum(r["saved_bytes"] for r in rows) == memory["saved_bytes"]
    assert [r["index"] for r in rows] == list(range(len(rows)))


@pytest.mark.parametrize("name", DESIGNS)
def test_csv_rows_sum_to_totals(name):
    rows = list(csv.DictReader(io.StringIO((GOLDEN / f"{name}.csv").read_text())))
    totals = json.loads((GOLDEN / f"{name}.json").read_text())["totals"]
    total = rows.pop()  # the last row is the totals, marked kind=total; readers drop it before summing
    assert total["kind"] == "total" and total["name"] == "total" and total["index"] == ""
    assert [r for r in rows if r["kind"] == "total"] == []
    assert sum(int(r["params"]) for r in rows) == totals["params"] == int(total["params"])
    assert sum(int(r["macs"]) for r in rows) == totals["macs"] == int(total["macs"])
    assert (sum(int(r["memory_bytes"]) for r in rows) == totals["memory"]["forward_bytes_per_image"]
            == int(total["memory_bytes"]))
    for key in ("weights", "biases", "buffers", "saved_bytes"):
        assert sum(int(r[key]) for r in rows) == int(total[key]), key
    assert int(total["weights"]) + int(total["biases"]) == totals["params"]
    assert int(total["buffers"]) == totals["buffers"] and int(total["saved_bytes"]) == totals["memory"]["saved_bytes"]
    assert sum(int(r["activations"]) for r in rows if int(r["memory_bytes"])) == totals["activations"] \
        == int(total["activations"])
    assert {k for k, v in total.items() if v} == {"name", "kind", "params", "weights", "biases", "buffers", "macs",
                                                  "activations", "memory_bytes", "saved_bytes"}


@pytest.mark.parametrize("name", DESIGNS)
def test_markdown_and_table_show_the_totals(name):
    r = report(name)
    for fmt in ("markdown", "table"):
        text = (GOLDEN / f"{name}.{SUFFIX[fmt]}").read_text()
        assert f"{r.totals.params:,}" in text and f"{r.totals.macs:,}" in text
        assert text.count("\n") > len(r.layers)


def test_json_contract_keys():
    data = json.loads(render(report("resnet18"), "json"))
    assert {"schema", "input", "batch", "dtype", "layers", "totals", "warnings", "assumptions"} <= set(data)
    assert data["input"] == {"h": 224, "w": 224, "c": 3}
    row = data["layers"][0]
    assert {"index", "name", "kind", "output", "params", "weights", "biases", "macs", "activations",
            "memory_bytes", "rf", "fits", "problem"} <= set(row)
    assert row["rf"] == {"size": [1, 1], "stride": [1, 1], "padding": [0, 0]}
    assert {"params", "buffers", "macs", "flops", "activations", "memory"} <= set(data["totals"])
    assert {"params_bytes", "forward_bytes", "training_bytes"} <= set(data["totals"]["memory"])
    kinds = {r["kind"] for r in data["layers"]}
    assert kinds <= set("input conv dwconv deconv local pool gap fc flatten bn act dropout lrn upsample id "
                        "concat add".split())
    assert {"add", "id", "bn", "gap"} <= kinds


@pytest.mark.parametrize("name", [*DESIGNS, *zoo.names()])
def test_contract_dict_and_pydantic_report_agree(name):
    # the command line renders planner.plan_data; the library returns the validated Report
    from cnncalc.planner import plan_data

    path = DESIGNS.get(name) or zoo.path(name)
    data = plan_data(path.read_text(), batch=2)
    assert render(data, "json") == cnncalc.plan(path.read_text(), batch=2).model_dump_json(by_alias=True,
                                                                                          indent=2) + "\n"


def test_table_gives_way_on_a_narrow_terminal():
    text = render(report("resnet18"), "table", width=80)
    header = text.splitlines()[0]
    assert header.split() == ["#", "layer", "output", "memory/image", "params", "MACs"]
    assert text.splitlines()[1].split() == ["(float32)"]  # a title's parenthesis goes below it
    assert all(len(line) <= 80 for line in text.splitlines()[:75])
    assert ("(hidden to fit 80 columns: saved/batch of 4, RF size/stride/pad, weights; widen the terminal, choose "
            "them with --columns, or use --format markdown)") in " ".join(text.splitlines())
    assert all(len(line) <= 80 for line in text.splitlines())
    assert render(report("resnet18"), "table", width=120).splitlines()[0].split()[-2:] == ["RF", "size/stride/pad"]
    unlimited = render(report("resnet18"), "table").splitlines()[0]
    assert "weights" in unlimited and unlimited.endswith("saved/batch of 4")
    strict = cnncalc.plan(DESIGNS["resnet18"].read_text(), batch=4, fit_rule="notes")  # its stem is a misfit
    colored = render(strict, "table", width=140, color=True)
    assert "\033[1m" in colored and "CONV7-64/2 (p3)\033[31m !\033[0m" in colored  # its default padding shown

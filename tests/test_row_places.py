"""Each row's place (issue 22): `path`, where it is in the design (its block calls and X*N repeats), and
`module`, its module in the exported network (tests/test_torch.py checks that one against the built Net)."""

from __future__ import annotations

import json

import cnncalc
from conftest import run_cli


def test_a_row_is_placed_by_its_calls_and_repeats():
    rows = cnncalc.plan("resnet50").layers
    assert [rows[i].path for i in (0, 4, 5, 16, 17, 27, 28, 39)] == [
        None, None, "first(64, 1)", "first(64, 1)", "bottleneck(64)*2 #1", "bottleneck(64)*2 #1",
        "bottleneck(64)*2 #2", "first(128, 2)"]


def test_nested_calls_and_repeats_are_named_outermost_first():
    design = "a(c) = CONV1-c -> RELU\nb(c) = [a(c)]*2 -> POOL2\nINPUT 8x8x4 -> b(4)*2 -> GAP -> FC-3"
    paths = [row.path for row in cnncalc.plan(design).layers]
    # a call alone in a group is recorded as the group: a [..]*N repeat, numbered
    assert paths[1:6] == ["b(4)*2 #1 > [..]*2 #1", "b(4)*2 #1 > [..]*2 #1", "b(4)*2 #1 > [..]*2 #2",
                          "b(4)*2 #1 > [..]*2 #2", "b(4)*2 #1"]
    assert paths[6] == "b(4)*2 #2 > [..]*2 #1" and paths[-1] is None


def test_module_names_follow_the_export():
    rows = cnncalc.plan("resnet18").layers
    assert rows[0].module is None and rows[1].module == "layers.conv1"
    assert rows[6].module == "layers.basic1.add1.arms.1.conv2"  # a block call is an nn.Sequential of its rows
    assert rows[-1].module == "layers.fc1"


def test_json_has_both_and_the_table_shows_them_on_request():
    data = json.loads(run_cli("plan", "resnet18", "-f", "json").stdout)
    assert data["layers"][6]["path"] == "basic(64)*2 #1"
    assert data["layers"][6]["module"] == "layers.basic1.add1.arms.1.conv2"
    table = run_cli("plan", "resnet18", "--columns", "name,path,module").stdout
    assert "basic(64)*2 #1" in table and "layers.basic1.add1.arms.1.conv2" in table

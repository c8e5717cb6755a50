"""The table shows the design's structure: the `blocks` the expansion records (block calls,
[..] groups, X*N repeats, branches), `--depth` folding rows into them, the branch gutter, the
padding a default chose, `--columns` and the percentage columns.

Folding is a view: JSON and CSV keep every layer, and every view's rows still sum to the totals.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from conftest import run_cli as run

from cnncalc import zoo
from cnncalc.kinds import MERGES as MERGE_KINDS
from cnncalc.planner import plan_data
from cnncalc.render import render
from cnncalc.render.columns import ALL, DEFAULT, percent, select
from cnncalc.render.structure import ASCII, fold, gutters, labels, max_level

HERE = Path(__file__).parent
DESIGNS = {name: zoo.path(name).read_text() for name in zoo.names()} | {
    p.stem: p.read_text() for p in (HERE / "designs").glob("*.cnn")}
SUMMED = ("params", "weights", "biases", "buffers", "macs", "memory_bytes", "saved_bytes")


def names(design: str, **settings) -> list[tuple]:
    return [(b["kind"], b["name"], b["level"], b["first"], b["last"]) for b in plan_data(design, **settings)["blocks"]]


# -- the blocks the expansion records -------------------------------------------------------------

def test_resnet18_blocks_are_its_calls_repeat_branches_and_groups():
    data = plan_data(DESIGNS["resnet18"])
    blocks = data["blocks"]
    first = blocks[0]
    assert first == {"id": 0, "kind": "repeat", "name": "basic(64)*2", "text": "basic(64)*2", "parent": None,
                     "level": 1, "depth": 0, "arm": None, "first": 5, "last": 20, "repeat": 2,
                     "line": first["line"], "column": first["column"], "source": "design",
                     "params": 2 * (2 * (3 * 3 * 64) * 64 + 2 * 2 * 64), "weights": 2 * (2 * (3 * 3 * 64) * 64 + 2 * 64),
                     "biases": 2 * 2 * 64, "buffers": 2 * 2 * 2 * 64, "macs": first["macs"],
                     "memory_bytes": first["memory_bytes"], "saved_bytes": first["saved_bytes"],
                     "activations": first["activations"]}
    assert [(b["kind"], b["name"], b["parent"], b["level"], b["first"], b["last"]) for b in blocks[1:4]] == [
        ("call", "basic(64)", 0, 2, 5, 12),
        ("branch", "(ID + [CONV3-C -> BN -> RELU -> CONV3-C -> BN])", 1, 3, 5, 11),
        ("group", "[CONV3-C -> BN -> RELU -> CONV3-C -> BN]", 2, 4, 6, 10)]
    assert (blocks[3]["depth"], blocks[3]["arm"]) == (1, 2)  # the residual arm
    top = [b["name"] for b in blocks if b["level"] == 1]
    assert top == ["basic(64)*2", "down(128)", "basic(128)", "down(256)", "basic(256)", "down(512)", "basic(512)"]


@pytest.mark.parametrize("name", DESIGNS)
def test_blocks_nest_without_repeating_and_sum_their_rows(name):
    data = plan_data(DESIGNS[name], batch=2)
    rows, blocks = data["layers"], data["blocks"]
    ranges = set()
    for b in blocks:
        assert 1 <= b["first"] <= b["last"] < len(rows)
        assert (b["first"], b["last"]) not in ranges  # a record never spans the rows of another
        ranges.add((b["first"], b["last"]))
        inside = rows[b["first"]:b["last"] + 1]
        for key in SUMMED:
            assert b[key] == sum(r[key] for r in inside), key
        assert b["activations"] == sum(r["activations"] for r in inside if r["memory_bytes"])
        assert all(r["depth"] >= b["depth"] for r in inside)
        assert b["kind"] in ("call", "group", "repeat", "branch")
        assert (b["repeat"] is not None) == (b["kind"] == "repeat")
        if b["kind"] == "branch":
            assert rows[b["last"]]["kind"] in MERGE_KINDS and rows[b["last"]]["depth"] == b["depth"]
        if b["parent"] is None:
            assert b["level"] == 1
        else:
            parent = blocks[b["parent"]]
            assert parent["id"] < b["id"] and b["level"] == parent["level"] + 1
            assert parent["first"] <= b["first"] <= b["last"] <= parent["last"]
    for a in blocks:  # siblings never overlap
        for b in blocks:
            if a["id"] < b["id"] and a["parent"] == b["parent"]:
                assert a["last"] < b["first"] or b["last"] < a["first"]
    assert len(blocks) <= 2 * len(rows)


@pytest.mark.parametrize("design, expected", [
    # X*N: the repeat, and each copy of a group
    ("INPUT 8x8x3 -> [CONV3-4 -> RELU]*2",
     [("repeat", "[CONV3-4 -> RELU]*2", 1, 1, 4), ("group", "[CONV3-4 -> RELU]", 2, 1, 2),
      ("group", "[CONV3-4 -> RELU]", 2, 3, 4)]),
    # the sugar's rows are the same; the long hand has no structure
    ("INPUT 8x8x3 -> CONV3-4 -> RELU -> CONV3-4 -> RELU", []),
    # a repeated layer; X*1 is only the repeat; X*0 and an excluded optional make nothing
    ("INPUT 8x8x3 -> RELU*3 -> [CONV3-4 -> RELU]*1 -> [POOL2*0] -> FC-2*0",
     [("repeat", "RELU*3", 1, 1, 3), ("repeat", "[CONV3-4 -> RELU]*1", 1, 4, 5)]),
    # a group that is a block's whole body, or [X] around one item, is the block, or the outer group
    ("stem = [CONV3-8 -> RELU]\nINPUT 8x8x3 -> stem -> [[POOL2]] -> [stem]",
     [("call", "stem", 1, 1, 2), ("group", "[[POOL2]]", 1, 3, 3), ("group", "[stem]", 1, 4, 5)]),
    # a variable count and block arguments are shown with their values; the text stays as written
    ("N = 3\nb(C) = [CONV3-C -> RELU]\nINPUT 8x8x3 -> b(2*N)*N",
     [("repeat", "b(6)*3", 1, 1, 6), ("call", "b(6)", 2, 1, 2), ("call", "b(6)", 2, 3, 4), ("call", "b(6)", 2, 5, 6)]),
    # a cached block call replayed in a branch: the levels, depths and arms follow the place
    ("b = [CONV3-4 -> RELU] -> POOL2\nINPUT 16x16x3 -> b -> (b | [b])",
     [("call", "b", 1, 1, 3), ("group", "[CONV3-4 -> RELU]", 2, 1, 2),
      ("branch", "(b | [b])", 1, 4, 10), ("call", "b", 2, 4, 6), ("group", "[CONV3-4 -> RELU]", 3, 4, 5),
      ("group", "[b]", 2, 7, 9), ("group", "[CONV3-4 -> RELU]", 3, 7, 8)]),
])
def test_the_records_of_small_designs(design, expected):
    assert names(design) == expected


def test_a_replayed_record_takes_the_branch_position_of_its_place():
    data = plan_data("b = [CONV3-4 -> RELU] -> POOL2\nINPUT 16x16x3 -> b -> (b | [b])")
    where = [(b["name"], b["depth"], b["arm"], b["parent"]) for b in data["blocks"]]
    assert where == [("b", 0, None, None), ("[CONV3-4 -> RELU]", 0, None, 0), ("(b | [b])", 0, None, None),
                     ("b", 1, 1, 2), ("[CONV3-4 -> RELU]", 1, 1, 3), ("[b]", 1, 2, 2), ("[CONV3-4 -> RELU]", 1, 2, 5)]


def test_the_text_is_as_written_without_comments_and_the_count_bound_on_the_command_line():
    design = "INPUT 8x8x3 -> [CONV -> # a comment\n   RELU]*N -> FC"
    data = plan_data(design, defines=["N=2", "conv.filters=4", "fc.out=2"])
    repeat = data["blocks"][0]
    assert (repeat["name"], repeat["text"], repeat["line"], repeat["column"]) == (
        "[CONV -> RELU]*2", "[CONV -> RELU]*N", 1, 16)
    block = plan_data("INPUT 8x8x3 -> b", defines=["b=[CONV3-4 -> RELU]"])["blocks"][0]
    assert (block["kind"], block["name"], block["source"]) == ("call", "b", "design")


def test_sugar_and_long_hand_plan_the_same_layers():
    sugar = plan_data("INPUT 8x8x3 -> [CONV3-4 -> RELU]*2")
    long = plan_data("INPUT 8x8x3 -> CONV3-4 -> RELU -> CONV3-4 -> RELU")
    written = ("line", "column", "path")  # where each row is written: the repeat, or the long hand's place
    strip = [{k: v for k, v in r.items() if k not in written} for r in sugar["layers"]]
    assert strip == [{k: v for k, v in r.items() if k not in written} for r in long["layers"]]
    assert len(sugar["blocks"]) == 3 and long["blocks"] == []


# -- folding: --depth -----------------------------------------------------------------------------

def shown(data: dict, depth: int | None) -> list[tuple[str, str]]:
    return [(str(r["index"]), label) for r, label in zip(fold(data, depth), labels(fold(data, depth)))]


def test_resnet18_at_depth_one_shows_its_top_level_items():
    data = plan_data(DESIGNS["resnet18"])
    assert shown(data, 1) == [
        ("0", "INPUT 224x224x3"), ("1", "CONV7-64/2 (p3)"), ("2", "BN"), ("3", "RELU"), ("4", "POOL3/2p1"),
        ("5-20", "basic(64) x2"), ("21-29", "down(128)"), ("30-37", "basic(128)"), ("38-46", "down(256)"),
        ("47-54", "basic(256)"), ("55-63", "down(512)"), ("64-71", "basic(512)"), ("72", "GAP"), ("73", "FC-1000")]
    # a group or branch folded is named by its rows at the call's arguments (issue 22: it showed the template's
    # CONV3-C, not the network's CONV3-64)
    assert shown(data, 3)[5:12] == [
        ("5-11", "(ID + [CONV3-64 -> BN -> RELU -> CONV3-64 -> BN])"), ("12", "RELU"),
        ("13-19", "(ID + [CONV3-64 -> BN -> RELU -> CONV3-64 -> BN])"), ("20", "RELU"),
        ("21-22", "┌1 [CONV1-128/2 -> BN]"), ("23-27", "├2 [CONV3-128/2 -> BN -> RELU -> CONV3-128 -> BN]"),
        ("28", "└─ ADD")]


@pytest.mark.parametrize("name", DESIGNS)
def test_every_view_partitions_the_rows_and_sums_to_the_totals(name):
    data = plan_data(DESIGNS[name], batch=2)
    totals, rows = data["totals"], data["layers"]
    deepest = max_level(data)
    for depth in range(1, deepest + 2):
        view = fold(data, depth)
        covered = []
        for r in view:
            first, _, last = str(r["index"]).partition("-")
            covered += range(int(first), int(last or first) + 1)
        assert covered == list(range(len(rows)))
        assert sum(r["params"] for r in view) == totals["params"]
        assert sum(r["macs"] for r in view) == totals["macs"]
        assert sum(r["memory_bytes"] for r in view) == totals["memory"]["forward_bytes_per_image"]
        assert sum(r["saved_bytes"] for r in view) == totals["memory"]["saved_bytes"]
        assert sum(r["buffers"] for r in view) == totals["buffers"]
        stored = sum(r["activations"] for r in view if "block" in r) + sum(
            r["activations"] for r in view if "block" not in r and r["memory_bytes"])
        assert stored == totals["activations"]
    assert fold(data, deepest + 1) == rows  # past the deepest level, every layer


def numbers(text: str, header_lines: int, column: int) -> list[int]:
    lines = text.split("\n\n")[0].splitlines()[header_lines:]
    return [int(line.split()[column].replace(",", "")) for line in lines]


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "mobilenet_v2", "inception", "cifar"])
def test_the_rendered_views_sum_to_the_totals(name):
    # the invariant on the text itself, table and markdown, at every depth
    data = plan_data(DESIGNS[name])
    for depth in range(1, max_level(data) + 2):
        table = render(data, "table", depth=depth, columns="index,params,macs")
        assert sum(numbers(table, 1, 1)) == data["totals"]["params"]
        assert sum(numbers(table, 1, 2)) == data["totals"]["macs"]
        md = render(data, "markdown", depth=depth, columns="params,macs,index")
        cells = [line.strip("|").split("|") for line in md.split("\n\n")[0].splitlines()[2:]]
        assert sum(int(c[0].replace(",", "")) for c in cells) == data["totals"]["params"]
        assert sum(int(c[1].replace(",", "")) for c in cells) == data["totals"]["macs"]


def test_a_folded_block_with_a_misfit_is_marked():
    data = plan_data("INPUT 7x7x3 -> [CONV3-10/5p0 -> RELU] -> FC-2")
    table = render(data, "table", depth=1, columns="index,name")
    assert "\n1-2  [CONV3-10/5p0 -> RELU] !\n" in table
    assert "| \\[CONV3-10/5p0 -> RELU\\] ⚠ |" in render(data, "markdown", depth=1)  # brackets escaped


def test_folding_is_a_view_json_and_csv_keep_every_layer():
    for fmt in ("json", "csv"):
        result = run("plan", "resnet18", "-f", fmt, "--depth", "1")
        assert result.exit_code == 2
        assert f"--depth shapes the table and markdown; {fmt.upper()} always lists every layer" in result.stderr
    assert run("plan", "resnet18", "-o", "x.json", "--depth", "1", "--columns", "name").exit_code == 2
    data = json.loads(run("plan", "resnet18", "-f", "json").stdout)
    assert len(data["layers"]) == 74 and len(data["blocks"]) == 28
    rows = list(csv.DictReader(io.StringIO(run("plan", "resnet18", "-f", "csv").stdout)))
    assert len(rows) == 75  # every layer and the totals row


def test_depth_in_the_cli():
    folded = run("plan", "resnet18", "--depth", "1").stdout
    assert " 5-20  basic(64) x2 " in folded and "CONV3-64 " not in folded.split("\n\n")[0]
    assert run("plan", "resnet18", "--depth", "99").stdout == run("plan", "resnet18").stdout
    assert run("plan", "resnet18", "--depth", "0").exit_code == 2


# -- the branch gutter ------------------------------------------------------------------------------

NESTED = ("INPUT 8x8x3 -> ((CONV3-4 | CONV3-4) | (CONV1-4 -> (ID + CONV3-4) | POOL3/1p1)) -> (ID + ID) "
          "-> CONV3-4")


@pytest.mark.parametrize("design, expected", [
    (NESTED, ["INPUT 8x8x3", "┌1┌1 CONV3-4", "│ ├2 CONV3-4", "│ └─ CONCAT", "├2┌1 CONV1-4", "│ │ ┌1 ID",
              "│ │ ├2 CONV3-4", "│ │ └─ ADD", "│ ├2 POOL3/1p1", "│ └─ CONCAT", "└─ CONCAT", "┌1 ID", "├2 ID",
              "└─ ADD", "CONV3-4"]),
    # an arm that starts with a branch: the outer arm's number shows on its first row
    ("INPUT 8x8x3 -> (CONV1-4 | (CONV1-2 | CONV1-2))",
     ["INPUT 8x8x3", "┌1 CONV1-4", "├2┌1 CONV1-2", "│ ├2 CONV1-2", "│ └─ CONCAT", "└─ CONCAT"]),
    # two branches in a row, each opened and closed
    ("INPUT 8x8x3 -> (ID + ID) -> (ID + ID)",
     ["INPUT 8x8x3", "┌1 ID", "├2 ID", "└─ ADD", "┌1 ID", "├2 ID", "└─ ADD"]),
])
def test_the_gutter_marks_every_arm(design, expected):
    assert labels(plan_data(design)["layers"]) == expected


def test_the_gutter_in_ascii_and_in_markdown():
    data = plan_data("INPUT 8x8x3 -> (CONV1-4 -> RELU | CONV1-4)")
    assert gutters(data["layers"], ASCII) == ["", "/1 ", "|  ", "+2 ", "\\- "]
    text = render(data, "table", ascii=True)
    assert not set("┌├│└─") & set(text) and "\n2  |  RELU " in text
    md = render(data, "markdown")
    assert "| 1 | ┌1&nbsp;CONV1-4 |" in md and "| 2 | │&nbsp;&nbsp;RELU |" in md and "| 4 | └─&nbsp;CONCAT |" in md


# -- the padding a default chose --------------------------------------------------------------------

@pytest.mark.parametrize("design, name, pad, label", [
    ("INPUT 7x7x3 -> CONV3-10/2", "CONV3-10/2", [1, 1], "CONV3-10/2 (p1)"),  # the notes' P=0 would give 3x3
    ("INPUT 7x7x3 -> CONV3-10/2p1", "CONV3-10/2", [1, 1], "CONV3-10/2 (p1)"),  # written: the name drops it
    ("INPUT 7x7x3 -> CONV3-10/2p0", "CONV3-10/2p0", None, "CONV3-10/2p0"),
    ("INPUT 8x8x3 -> CONV3-10", "CONV3-10", None, "CONV3-10"),  # stride 1 keeps the size: as the notes write it
    ("INPUT 8x8x3 -> CONV4-10", "CONV4-10", [1, 1], "CONV4-10 (p1)"),  # an even kernel: 7x7 out
    ("INPUT 8x8x3 -> CONV3-10d2", "CONV3-10d2", None, "CONV3-10d2"),
    ("INPUT 8x8x3 -> DWCONV3/2", "DWCONV3/2", [1, 1], "DWCONV3/2 (p1)"),
    ("INPUT 8x8x3 -> LOCAL3-4/2", "LOCAL3-4/2", [1, 1], "LOCAL3-4/2 (p1)"),
    ("INPUT 9x8x3 -> CONV(filters=4, kernel=3x5, s=2)", "CONV3x5-4/2", [1, 2], "CONV3x5-4/2 (p1x2)"),
    ("INPUT 9x9x3 -> POOL3/2", "POOL3/2", None, "POOL3/2"),
    ("INPUT 8x8x3 -> DECONV4-4/2", "DECONV4-4/2", None, "DECONV4-4/2"),
])
def test_the_table_shows_a_default_padding_where_it_changes_the_size(design, name, pad, label):
    data = plan_data(design)
    row = data["layers"][1]
    assert (row["name"], row["implied_pad"]) == (name, pad)
    assert labels(data["layers"])[1] == label
    assert f" {label} " in render(data, "table") and f"| {label} |" in render(data, "markdown")


def test_the_notes_vggnet_rows_stay_as_the_notes_write_them():
    data = plan_data(DESIGNS["vgg16"])
    assert all(r["implied_pad"] is None for r in data["layers"])
    assert labels(data["layers"])[1:3] == ["CONV3-64", "RELU"]


# -- --columns, percentages, titles -----------------------------------------------------------------

def test_columns_take_the_contracts_keys():
    result = run("plan", "vgg16", "--columns", "name,output,activations,params,params_pct,macs,macs_pct,"
                                                "memory_bytes,memory_pct")
    assert result.exit_code == 0
    header, units, conv = result.stdout.splitlines()[:3][0], result.stdout.splitlines()[1], \
        result.stdout.splitlines()[3]
    assert header.split() == ["layer", "output", "activations/image", "params", "params", "%", "MACs", "MACs", "%",
                              "memory/image", "memory", "%"]
    assert units.split() == ["(float32)"]
    # the notes: CONV3-64: [224x224x64] memory: 224*224*64=3.2M weights: (3*3*3)*64 = 1,728
    assert conv.split()[:4] == ["CONV3-64", "224x224x64", "3.2M", "1,792"]


@pytest.mark.parametrize("text, message", [
    ("name,foo", "unknown column 'foo' (columns: index, name, kind, output, memory_bytes, memory_pct, formula"),
    ("name,param", "unknown column 'param'; did you mean 'params'? (columns: index, name,"),
    ("name,params,name", "column 'name' is named twice in --columns"),
    ("", "--columns names at least one column (columns: index, name,"),
])
def test_a_bad_column_is_named_with_the_valid_ones(text, message):
    result = run("plan", "vgg16", "--columns", text)
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr


def test_every_column_renders_and_the_default_set_is_unchanged():
    data = plan_data(DESIGNS["resnet18"], batch=4)
    text = render(data, "table", columns=",".join(ALL))
    assert len(text.split("\n\n")[0].splitlines()) == 2 + len(data["layers"])
    assert render(data, "table") == render(data, "table", columns=",".join(DEFAULT))
    assert [c.key for c in select(" params , MACs ")] == ["params", "macs"]


@pytest.mark.parametrize("part, whole, text", [
    (1, 4, "25.0%"), (0, 10, "0%"), (1, 10_000, "<0.1%"), (5, 10_000, "0.1%"), (None, 10, "?"), (3, 3, "100.0%"),
])
def test_percent(part, whole, text):
    assert percent(part, whole) == text


def test_the_percentages_show_where_the_cost_is():
    data = plan_data(DESIGNS["vgg16"])
    text = render(data, "table", columns="name,params_pct,macs_pct,memory_pct")
    fc1 = next(line for line in text.splitlines() if line.startswith("FC-4096"))
    assert fc1.split()[1] == f"{100 * 102_764_544 / 138_357_544:.1f}%"  # the notes: most weights in FC1
    shares = [float(line.split()[1].rstrip("%")) for line in text.split("\n\n")[0].splitlines()[2:]
              if not line.split()[1].startswith("<")]
    assert 99.5 <= sum(shares) <= 100.5


def test_memory_columns_say_per_image_or_per_batch():
    data = plan_data(DESIGNS["cifar"], batch=8, dtype="float16")
    md_header = render(data, "markdown").splitlines()[0]
    assert "| memory/image (float16) |" in md_header and "| saved/batch of 8 |" in md_header
    lines = render(data, "table").splitlines()
    assert "memory/image" in lines[0] and lines[0].endswith("saved/batch of 8") and lines[1].split() == ["(float16)"]
    assert "activations/image" in render(data, "table", columns="activations")


def test_the_library_renders_views_too():
    data = plan_data(DESIGNS["resnet18"])
    with pytest.raises(Exception, match="--depth shapes the table and markdown"):
        render(data, "json", depth=1)
    assert re.search(r"^ 5-20  basic\(64\) x2", render(data, "table", depth=1), re.M)

"""Pictures: `cnncalc draw` (render/svg.py), `plan --format html` (render/html.py), Report.to_svg/to_html.

The SVG is checked as a drawing, not as text: it parses as XML; it has one node per row of the
folded view (or per folded block), one merge node per merge row, an edge for every edge of the
design's graph (derived here from the table's branch gutter, an implementation of its own) and no
other; no two boxes overlap, no edge runs through a box it does not join, every label fits its
box by the committed width table, and past MAX_BOXES a drawing folds and says so. The browser
checks the same with a real font in tests/test_browser.py.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from conftest import run_cli as run

import cnncalc
from cnncalc import zoo
from cnncalc.errors import SettingsError
from cnncalc.planner import plan_data
from cnncalc.render import render
from cnncalc.render.fontwidths import CHARACTERS, WIDTHS, read_widths, width
from cnncalc.render.html import render_html, table_tree
from cnncalc.render.structure import MERGES, fold, gutters, max_level
from cnncalc.render.svg import GLYPH, MAX_BOXES, draw, render_svg, strips

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NS = "{http://www.w3.org/2000/svg}"

# two of the networks the issue names, too long for the built-ins: ResNet-152 (ResNet-50 with 8 and 36
# bottlenecks in its middle stages, as benchmarks/bench.py builds it) and torchvision's DenseNet-121
RESNET152 = zoo.path("resnet50").read_text().replace("bottleneck(128)*3", "bottleneck(128)*7").replace(
    "bottleneck(256)*5", "bottleneck(256)*35")
DENSENET121 = """conv.bias = false
dl = (ID | [BN -> RELU -> CONV1-128 -> BN -> RELU -> CONV3-32])
transition(C) = BN -> RELU -> CONV1-C -> AVGPOOL2
INPUT 224x224x3 -> CONV7-64/2 -> BN -> RELU -> POOL3/2p1
  -> dl*6 -> transition(128) -> dl*12 -> transition(256)
  -> dl*24 -> transition(512) -> dl*16 -> BN -> RELU -> GAP -> FC-1000
"""
# every built-in design, and a squeeze-and-excitation gate (the product merge) with a misfit
DESIGNS = {name: zoo.path(name).read_text() for name in zoo.names()}
DESIGNS |= {"resnet152": RESNET152, "densenet121": DENSENET121,
            "se": "INPUT 16x16x32 -> CONV3-32 -> (ID .* [GAP -> CONV1-8 -> RELU -> CONV1-32 -> SIGMOID]) -> FC-10",
            "misfit": "INPUT 7x7x3 -> CONV3-10/5p0 -> RELU -> (CONV1-4 | [CONV3-4 -> (ID + CONV1-4)])"}
MISFIT = DESIGNS["misfit"]
# the commands that regenerate docs/ (README, "Pictures"): the picture, then its draw options
DOC_PICTURES = {"resnet18.svg": ("resnet18",), "vgg16.svg": ("vgg16", "--emphasis", "params"),
                "vgg16-volumes.svg": ("vgg16", "--style", "volumes")}

_plans: dict[str, dict] = {}


def data(name: str) -> dict:
    if name not in _plans:
        _plans[name] = plan_data(DESIGNS[name])
    return _plans[name]


# -- reading a drawing back ------------------------------------------------------------------------------------

class Box:
    def __init__(self, x, y, w, h, key):
        self.x, self.y, self.w, self.h, self.key = x, y, w, h, key

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)

    def crossed_by(self, a, b) -> bool:
        """Does the axis-aligned segment a-b pass through this box's inside (its border excluded)?"""
        x0, x1, y0, y1 = self.x + 0.5, self.x + self.w - 0.5, self.y + 0.5, self.y + self.h - 0.5
        lo_x, hi_x, lo_y, hi_y = min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])
        return lo_x < x1 and hi_x > x0 and lo_y < y1 and hi_y > y0


class Picture:
    """The parts of a drawing the tests look at, in the drawing's own coordinates."""

    def __init__(self, svg: str):
        self.root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
        self.width, self.height = float(self.root.get("width")), float(self.root.get("height"))
        body = next(g for g in self.root.iter(NS + "g") if g.get("transform", "").startswith("translate"))
        self.dx, self.dy = map(float, re.findall(r"[\d.]+", body.get("transform")))
        self.nodes, self.merges, self.frames, self.volumes = {}, {}, [], {}
        for g in self.root.iter(NS + "g"):
            cls = (g.get("class") or "").split()
            if "node" in cls:
                rect = g.find(NS + "rect")
                assert g.get("data-row") not in self.nodes, "two nodes for one row"
                self.nodes[g.get("data-row")] = (self.box(rect, g.get("data-row")), g)
            elif "merge" in cls:
                c = g.find(NS + "circle")
                r = float(c.get("r"))
                box = Box(float(c.get("cx")) - r, float(c.get("cy")) - r, 2 * r, 2 * r, g.get("data-row"))
                assert g.get("data-row") not in self.merges
                self.merges[g.get("data-row")] = (box, g)
            elif "frame" in cls:
                self.frames.append((self.box(g.find(NS + "rect"), g.get("data-rows")), g))
            elif "volume-box" in cls:
                self.volumes[g.get("data-row")] = g
        self.edges, self.skips, self.segments = set(), {}, []
        for p in self.root.iter(NS + "path"):
            cls = (p.get("class") or "").split()
            if "edge" not in cls:
                continue
            ends = (p.get("data-from"), p.get("data-to"))
            if "skip" in cls:
                assert p.get("data-row") not in self.skips
                self.skips[p.get("data-row")] = ends
            else:
                assert ends not in self.edges, f"edge {ends} drawn twice"
                self.edges.add(ends)
            points = [tuple(map(float, xy.split(","))) for xy in re.findall(r"[ML]([-\d.]+,[-\d.]+)", p.get("d"))]
            self.segments.append((ends, points))

    @property
    def last(self) -> str:
        """The last row (or folded block) this picture draws, as 'row N' or 'rows N-M'."""
        key = max([*self.nodes, *self.merges, *self.skips], key=lambda k: int(k.split("-")[-1]))
        return f"rows {key}" if "-" in key else f"row {key}"

    @staticmethod
    def box(rect, key) -> Box:
        return Box(*(float(rect.get(k)) for k in ("x", "y", "width", "height")), key)

    def caption(self) -> str:
        return " / ".join(t.text for t in self.root.iter(NS + "text") if t.get("class") == "caption")


def expected_graph(view: list[dict]):
    """The edges of the view's graph, from the table's gutter (structure.gutters, ASCII marks: / a branch
    opens, + another arm, | the arm goes on, \\- a merge): a row follows the last row of its arm, an
    arm's first row the row before its branch, a merge every arm's last row. An arm that is only ID is
    a shortcut: {ID row: (from, to)}."""
    key = [str(r["index"]) for r in view]
    edges, skips = set(), {}
    frames: list[dict] = []  # the open branches, outermost first: the row before it, its arms' rows
    current = None  # the last row at the top level

    def cursor(level: int):
        if level == 0:
            return current
        frame = frames[level - 1]
        return key[frame["arm"][-1]] if frame["arm"] else frame["input"]

    def place(level: int, i: int) -> None:
        nonlocal current
        if level == 0:
            current = key[i]
        else:
            frames[level - 1]["arm"].append(i)

    for i, gutter in enumerate(gutters(view, ("/", "+", "|", "\\", "-"))):
        cells = re.findall(r"[/+|]", gutter)
        for level, cell in enumerate(cells, start=1):
            if cell == "/":
                del frames[level - 1:]
                frames.append({"input": cursor(level - 1), "arms": [], "arm": []})
            elif cell == "+":
                frame = frames[level - 1]
                frame["arms"].append(frame["arm"])
                frame["arm"] = []
        if "\\-" in gutter:  # a merge closes the branch one level in
            assert len(frames) == len(cells) + 1
            frame = frames.pop()
            side = view[i]["kind"] == "output"  # a side head's output: what follows reads the branch's input
            for arm in [*frame["arms"], frame["arm"]]:
                if len(arm) == 1 and view[arm[0]]["kind"] == "id" and "block" not in view[arm[0]]:
                    edges.discard((frame["input"], key[arm[0]]))
                    skips[key[arm[0]]] = (frame["input"], key[i])
                else:
                    edges.add((key[arm[-1]], key[i]))
        elif cursor(len(cells)) is not None:
            edges.add((cursor(len(cells)), key[i]))
        if "\\-" in gutter and side:
            if frame["input"] is not None:
                place(len(cells), key.index(frame["input"]))
        else:
            place(len(cells), i)
    return edges, skips


def check_picture(report: dict, drawing) -> Picture:
    """Every structural promise of a blocks drawing."""
    picture = Picture(drawing.svg)
    check_graph(fold(report, drawing.depth), [picture])
    check_layout(picture)
    return picture


def check_graph(view: list[dict], pictures: list[Picture]) -> None:
    """The pictures (one, or the strips of one) draw the view's graph: each row once, each edge once."""
    nodes, merges, skips, edges = {}, {}, {}, set()
    for picture in pictures:
        assert not set(picture.nodes) & set(nodes) and not set(picture.merges) & set(merges)
        assert not set(picture.skips) & set(skips) and not picture.edges & edges
        nodes |= picture.nodes
        merges |= picture.merges
        skips |= picture.skips
        edges |= picture.edges
    merge_rows = {str(r["index"]) for r in view if r["kind"] in MERGES and "block" not in r}
    expected_edges, expected_skips = expected_graph(view)
    assert set(merges) == merge_rows  # one merge node per merge row
    assert skips == expected_skips  # shortcuts: around the arms, into the merge
    # one node per other row or folded block, each row drawn once
    assert set(nodes) == {str(r["index"]) for r in view} - merge_rows - set(skips)
    assert edges == expected_edges


def check_layout(picture: Picture) -> None:
    """No two boxes overlap, no edge runs through a box it does not join, text fits, frames hold their
    rows, everything lies on the canvas."""
    boxes = [b for b, _ in picture.nodes.values()] + [b for b, _ in picture.merges.values()]
    for i, a in enumerate(boxes):  # no two boxes overlap
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a.key, b.key)
    for (start, end), points in picture.segments:  # no edge runs through a box it does not join
        for a, b in zip(points, points[1:]):
            for box in boxes:
                if box.key not in (start, end):
                    assert not box.crossed_by(a, b), (start, end, box.key)
    for box, g in picture.nodes.values():  # text fits its box, with room to spare on both sides
        for t in g.iter(NS + "text"):
            assert width(t.text, float(t.get("font-size"))) <= box.w - 12, (t.text, box.w)
    for frame, g in picture.frames:  # a frame holds its rows' boxes, and no other
        first, last = map(int, frame.key.split("-"))
        for box in boxes:
            rows = [int(n) for n in box.key.split("-")]
            inside = first <= rows[0] and rows[-1] <= last
            assert inside == (frame.x <= box.x and box.x + box.w <= frame.x + frame.w
                              and frame.y <= box.y and box.y + box.h <= frame.y + frame.h), (frame.key, box.key)
            assert inside or not frame.overlaps(box)
    for box in boxes + [f for f, _ in picture.frames]:  # inside the canvas
        assert 0 <= box.x + picture.dx and box.x + box.w + picture.dx <= picture.width
        assert 0 <= box.y + picture.dy and box.y + box.h + picture.dy <= picture.height
    captions = [t for t in picture.root.iter(NS + "text") if t.get("class") == "caption"]
    assert all(width(t.text, 12) <= picture.width for t in captions)


# -- the block diagram -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction", ["down", "right"])
@pytest.mark.parametrize("name", DESIGNS)
def test_every_row_is_drawn_once_and_the_edges_are_the_graphs(name, direction):
    report = data(name)
    depths = {None, 1, max_level(report) or 1, 2 if max_level(report) >= 2 else 1}
    for depth in sorted(depths, key=lambda d: d or 99):
        if depth is None and len(report["layers"]) > 3 * MAX_BOXES:
            continue  # the unfolded ResNet-152 is drawn (and checked) by the next test
        drawing = draw(report, depth=depth, direction=direction)
        check_picture(report, drawing)


def test_a_deep_drawing_is_checked_whole():
    report = data("resnet152")
    drawing = draw(report, depth=max_level(report))
    assert len(fold(report, drawing.depth)) == 239
    check_picture(report, drawing)


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "resnet152", "densenet121", "vgg16", "misfit"])
def test_strips_cut_the_diagram_between_elements_and_keep_every_edge(name):
    """The HTML report's diagram: columns at most a page long, the first with the caption, each other
    one continuing the last row of the one before (its first edge comes from that row)."""
    report = data(name)
    svgs, depth, note = strips(report, height=560)
    assert (depth, note) == tuple(draw(report))[1:]
    pictures = [Picture(svg) for svg in svgs]
    check_graph(fold(report, depth), pictures)
    for k, picture in enumerate(pictures):
        check_layout(picture)
        if k:
            first = [t.text for t in picture.root.iter(NS + "text") if t.get("class") == "caption"]
            assert first == [f"continued from {pictures[k - 1].last}"]
    assert len(pictures) > 1 or name in ("vgg16", "misfit")
    for picture in pictures:
        boxes = [b for b, _ in picture.nodes.values()] + [b for b, _ in picture.merges.values()]
        assert max(b.y + b.h for b in boxes) <= 560 + 20 or len(picture.frames) + len(boxes) == 1
    assert len({p.root.find(NS + "defs/" + NS + "marker").get("id") for p in pictures}) == len(pictures)


def test_the_graph_of_a_residual_and_an_inception_block():
    """The edges are what the design says, written out by hand."""
    report = plan_data("INPUT 8x8x4 -> (ID + [CONV3-4 -> BN]) -> (CONV1-2 | POOL3/1p1 -> CONV1-2) -> FC-2")
    picture = check_picture(report, draw(report))
    assert picture.skips == {"1": ("0", "4")}
    assert picture.edges == {("0", "2"), ("2", "3"), ("3", "4"), ("4", "5"), ("4", "6"), ("6", "7"), ("5", "8"),
                             ("7", "8"), ("8", "9")}
    assert [g.find(NS + "text").text for _, g in picture.merges.values()] == ["+", "C"]
    se = check_picture(data("se"), draw(data("se")))
    assert [g.find(NS + "text").text for _, g in se.merges.values()] == ["\u00d7"] and se.skips == {"2": ("1", "8")}


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_designs_draw_as_their_graph(chooser):
    """Chains, [..] groups, repeats, named blocks and nested add and concat branches (with ID arms),
    each item keeping a 16x16x8 volume, at every depth and in both directions."""
    design = "blk = CONV3-8 -> RELU\nINPUT 16x16x8 -> " + chooser.draw(_chain(0))
    report = plan_data(design)
    for depth in [None, *range(1, max_level(report) + 1)]:
        for direction in ("down", "right"):
            check_picture(report, draw(report, depth=depth, direction=direction))


def _chain(level: int):
    layer = st.sampled_from(["CONV3-8", "CONV1-8", "BN", "RELU", "POOL3/1p1", "DWCONV3", "blk"])
    arm = st.one_of(st.just("ID"), st.deferred(lambda: _chain(level + 1))) if level < 3 else st.just("ID")
    options = [layer, layer.map(lambda t: f"[{t}]*2")]
    if level < 3:
        inner = st.deferred(lambda: _chain(level + 1))
        options += [inner.map(lambda t: f"[{t}]"), inner.map(lambda t: f"[{t}]*2"),
                    st.lists(arm, min_size=2, max_size=3).map(lambda arms: "(" + " + ".join(arms) + ")"),
                    st.lists(arm, min_size=2, max_size=3).map(lambda arms: "(" + " | ".join(arms) + ") -> CONV1-8")]
    return st.lists(st.one_of(options), min_size=1, max_size=3).map(" -> ".join)


def test_text_that_would_not_fit_is_clipped_and_whole_in_the_tooltip():
    report = plan_data("INPUT 8x8x3 -> " + "[CONV3-4 -> RELU -> CONV3-4 -> BN -> RELU -> CONV1-4 -> BN]")
    picture = check_picture(report, draw(report, depth=1))
    (box, g), = [v for k, v in picture.nodes.items() if k == "1-7"]
    assert g.find(NS + "text").text.endswith("\u2026") and len(g.find(NS + "text").text) == 44
    assert g.find(NS + "title").text.startswith("rows 1-7: [CONV3-4 -> RELU -> CONV3-4 -> BN -> RELU -> CONV1-4 -> BN]"
                                                "\nas written: [CONV3-4 -> RELU -> CONV3-4 -> BN -> RELU -> CONV1-4 -> "
                                                "BN]\n")


# -- folding -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, depth", [("resnet152", 2), ("densenet121", 2), ("googlenet", 2),
                                         ("resnet50", 3), ("mobilenet_v2", 3)])
def test_a_long_design_folds_to_the_deepest_depth_that_fits_and_says_so(name, depth):
    report = data(name)
    assert len(report["layers"]) > MAX_BOXES
    drawing = draw(report)
    assert drawing.depth == depth
    assert len(fold(report, depth)) <= MAX_BOXES < len(fold(report, depth + 1) if depth < max_level(report)
                                                          else report["layers"])
    assert drawing.note.startswith(f"folded to depth {depth} ({len(fold(report, depth))} boxes): "
                                   f"{len(report['layers'])} rows make")
    picture = Picture(drawing.svg)
    assert drawing.note in picture.caption() and drawing.note in picture.root.find(NS + "desc").text
    assert len(picture.nodes) + len(picture.merges) + len(picture.skips) == len(fold(report, depth))


def test_a_long_design_without_blocks_is_drawn_whole_and_says_why():
    report = plan_data("INPUT 8x8x3 -> " + " -> ".join(["CONV3-4", "RELU"] * 60))
    drawing = draw(report)
    assert drawing.depth is None and drawing.note.startswith("drawn whole: 121 rows make 121 boxes, more than 100, "
                                                             "and no block folds them")
    assert drawing.note in Picture(drawing.svg).caption()


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "squeezenet1_0", "alexnet"])
def test_a_short_design_is_drawn_whole(name):
    drawing = draw(data(name))
    assert drawing.depth is None and drawing.note is None
    assert "folded" not in Picture(drawing.svg).caption()


def test_an_asked_depth_wins_and_is_stated():
    report = data("resnet152")
    drawing = draw(report, depth=4)
    assert drawing.depth == 4 and drawing.note is None
    assert "folded at depth 4 (--depth)" in Picture(drawing.svg).caption()
    assert len(Picture(drawing.svg).nodes) > MAX_BOXES


def test_folded_blocks_are_marked_and_named_as_the_table_names_them():
    report = data("resnet18")
    picture = Picture(draw(report, depth=1).svg)
    box, g = picture.nodes["5-20"]
    assert "block" in g.get("class") and g.get("data-kind") == "repeat"
    assert [t.text for t in g.iter(NS + "text")] == ["basic(64) x2", "56x56x64"]
    assert len(g.findall(NS + "rect")) == 2  # a double border: several rows inside


def test_unfolded_top_level_blocks_are_framed_with_their_names():
    picture = Picture(draw(data("googlenet"), depth=2).svg)
    names = [g.find(NS + "text").text for _, g in picture.frames]
    assert names[:3] == ["c1(64)", "c3(192)", "inception(64, 96, 128, 16, 32, 32)"]
    assert Picture(draw(data("googlenet"), depth=1).svg).frames == []


# -- the volumes style ------------------------------------------------------------------------------------------

def test_volumes_draw_a_chain_scaled_by_log2_of_each_side():
    report = data("vgg16")
    picture = Picture(draw(report, style="volumes").svg)
    drawn = [r for r in report["layers"] if r["kind"] not in ("act", "bn", "dropout", "lrn", "id")]
    assert list(picture.volumes) == [str(r["index"]) for r in drawn]
    assert len(drawn) == 22 and picture.nodes == {} and picture.edges == set()
    for row in drawn:
        g = picture.volumes[str(row["index"])]
        faces = {p.get("class"): [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
                 for p in g.iter(NS + "polygon")}
        (x0, y0), (x1, _), (_, y2), _ = faces["front"]
        out = row["output"]
        assert x1 - x0 == pytest.approx(4 + 4 * math.log2(out["c"]), abs=0.1)  # width: C
        assert y2 - y0 == pytest.approx(4 + 9 * math.log2(out["h"]), abs=0.1)  # height: H
        depth = faces["lid"][1][0] - faces["lid"][0][0]
        assert depth == pytest.approx(0.7 * (2 + 4 * math.log2(out["w"])), abs=0.1)  # depth: W
        assert [t.text for t in g.iter(NS + "text")][1] == f"{out['h']}x{out['w']}x{out['c']}"
    boxes = [Box(*_extent(g), k) for k, g in picture.volumes.items()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _extent(g):
    points = [tuple(map(float, xy.split(","))) for p in g.iter(NS + "polygon") for xy in p.get("points").split()]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def test_volumes_of_a_branchy_design_fold_its_branches_or_name_the_row():
    drawing = draw(data("resnet18"), style="volumes")
    assert drawing.depth == 2 and "branches" in drawing.note
    assert "56x56x64" in drawing.svg
    with pytest.raises(SettingsError, match=r"row 5 \(ID\) is in a branch: fold the branches with --depth 2 or "
                                            r"less, or use --style blocks"):
        draw(data("resnet18"), depth=4, style="volumes")
    first = next(r for r in fold(data("resnet18"), 3) if r["depth"])  # a folded arm
    with pytest.raises(SettingsError, match=re.escape(f"rows {first['index']} ({first['name']}) is in a branch")):
        draw(data("resnet18"), depth=3, style="volumes")
    assert draw(plan_data("INPUT 8x8x3 -> (CONV1-4 | CONV3-4)"), style="volumes").depth == 1  # the branch, one box
    with pytest.raises(SettingsError, match=r"no depth folds them \(the report records no blocks"):
        draw(cnncalc.check("INPUT 8x8x3 -> (CONV1-4 | CONV3-4)"), style="volumes")


# -- emphasis, misfits, colour -----------------------------------------------------------------------------------

@pytest.mark.parametrize("emphasis, key, whole, said", [
    ("params", "params", lambda t: t["params"], "params (138,357,544)"),
    ("macs", "macs", lambda t: t["macs"], "MACs (15,470,264,320)"),
    ("memory", "memory_bytes", lambda t: t["memory"]["forward_bytes_per_image"],
     "forward memory per image (58.1 MiB, float32)")])
def test_emphasis_bars_are_each_boxs_share(emphasis, key, whole, said):
    report = data("vgg16")
    picture = Picture(draw(report, emphasis=emphasis).svg)
    bars = [g for g in picture.root.iter(NS + "g") if g.get("class") == "bar"]
    assert len(bars) == len(report["layers"])
    for row, g in zip(report["layers"], bars):
        share = row[key] / whole(report["totals"])
        assert float(g.get("data-share")) == pytest.approx(share, abs=1e-6)
        filled = float(g.findall(NS + "rect")[1].get("width"))
        assert filled == pytest.approx(max(48 * share, 1.0 if share else 0.0), abs=0.01)
    assert f"bars: each box's share of the {said}" in picture.caption()
    check_picture(report, draw(report, emphasis=emphasis))
    check_picture(report, draw(report, emphasis=emphasis, direction="right"))


@pytest.mark.parametrize("color", [True, False])
def test_a_misfit_is_marked_by_a_glyph_and_a_border_not_only_by_colour(color):
    report = data("misfit")
    picture = check_picture(report, draw(report, color=color))
    box, g = picture.nodes["1"]
    rect = g.find(NS + "rect")
    assert "misfit" in g.get("class") and g.find(NS + "text").text == f"CONV3-10/5p0 {GLYPH}"
    assert float(rect.get("stroke-width")) > 2 and rect.get("stroke-dasharray")
    assert g.find(NS + "title").text.endswith("\n" + report["layers"][1]["problem"])
    fine = [g for k, (b, g) in picture.nodes.items() if k != "1"]
    assert all(GLYPH not in "".join(t.text for t in g.iter(NS + "text")) for g in fine)
    colours = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', draw(report, color=color).svg))
    greys = {c for c in colours if c[1:3] == c[3:5] == c[5:7] or c in ("#1f2933", "#52606d")}
    assert (colours == greys) == (not color)


def test_no_color_on_the_command_line_draws_in_grey(tmp_path):
    coloured = run("draw", MISFIT).stdout
    plain = run("draw", MISFIT, env={"NO_COLOR": "1"}).stdout
    assert "#fde4e1" in coloured and "#fde4e1" not in plain and "#b42318" not in plain
    assert plain.count(GLYPH) == coloured.count(GLYPH) > 0


# -- escaping ----------------------------------------------------------------------------------------------------

EVIL = "<script>alert('x')</script> & \"q\" \x01 ]]> \ud800"


def test_every_label_is_escaped_in_svg_and_html():
    report = plan_data("INPUT 8x8x3 -> [CONV3-4 -> RELU] -> (ID + CONV3-4) -> FC-2")
    for row in report["layers"]:
        row["name"] = EVIL + row["name"]
    for block in report["blocks"]:
        block["name"] = EVIL
    report["warnings"] = [EVIL]
    report["assumptions"] = [EVIL]
    clean = EVIL.replace("\x01", "\ufffd").replace("\ud800", "\ufffd")
    for depth in (None, 1):
        for style in ("blocks", "volumes") if depth else ("blocks",):
            svg = render_svg(report, depth=depth, style=style)
            texts = [t.text for t in ET.fromstring(svg).iter(NS + "text")]
            assert any(t.startswith(clean[:30]) for t in texts) and "<script>" not in svg
    page = render_html(report, title=EVIL)
    assert "<script" not in page and "&lt;script&gt;" in page
    parser = HTMLParser()
    parser.feed(page.replace("\ud800", ""))  # HTML itself may hold a lone surrogate only as text


# -- the HTML report ------------------------------------------------------------------------------------------------

class Page(HTMLParser):
    """The tags, ids, links and rows of an HTML report."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.rows: list[str] = []
        self.opened: list[bool] = []
        self.sources: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
            if attrs["id"].startswith("row-"):
                self.rows.append(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "details":
            self.opened.append("open" in attrs)
        for key in ("src", "srcset", "xlink:href"):
            if key in attrs:
                self.sources.append(attrs[key])
        if tag == "link":
            self.sources.append(attrs.get("href", ""))


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "googlenet", "misfit", "resnet152"])
def test_the_html_report_holds_every_row_block_and_section_and_nothing_outside(name):
    report = data(name)
    page = render_html(report, title=name)
    parsed = Page(page)
    assert parsed.rows == [f"row-{r['index']}" for r in report["layers"]]  # every row, in order, once
    blocks = [f"block-{b['id']}" for b in report["blocks"]]
    assert [i for i in parsed.ids if i.startswith("block-")] == blocks
    assert parsed.tags.count("details") >= len(blocks) and all(parsed.opened)  # all open without --depth
    for key in ("diagram", "layers", "totals", "fit", "assumptions"):
        assert key in parsed.ids
    assert parsed.tags.count("svg") >= 1 and parsed.tags.count("script") == 0 and parsed.sources == []
    assert not re.search(r"(?<!xmlns=\")https?://", page)  # nothing fetched: the SVG namespace is a name
    assert all(link.startswith("#") for link in parsed.links)
    assert {link for link in parsed.links if link.startswith("#row-")} <= {f"#{r}" for r in parsed.rows}
    for label, text in cnncalc.render.sections.totals_lines(report):
        assert f"<th>{label}</th><td>{text.replace('&', '&amp;')}</td>" in page.replace("&#x27;", "'")
    drawing = draw(report)
    if drawing.note:
        assert drawing.note in page


def test_the_html_reports_misfits_link_to_their_rows():
    report = data("misfit")
    page = render_html(report)
    problem = report["problems"][0]
    assert f'<a href="#row-{problem["index"]}">{problem["message"]}' in page.replace("&#x27;", "'")
    assert f'<div class="r misfit" id="row-{problem["index"]}"' in page
    assert f"CONV3-10/5p0 {GLYPH}" in page
    resnet = data("resnet50")  # notes: windows that drop only padding or a stride's gap
    page = render_html(resnet).replace("&#x27;", "'")
    assert resnet["notes"] and all(f'<a href="#row-{n["index"]}">{n["message"]}' in page for n in resnet["notes"])


def test_the_html_table_nests_blocks_and_arms():
    report = plan_data("INPUT 8x8x3 -> [CONV3-4 -> RELU]*2 -> (CONV1-2 -> RELU | [CONV3-2 -> BN] | POOL3/1p1)")
    tree = table_tree(report)
    shape = [(item[0], item[1]["name"] if item[0] == "block" else item[1]["index"]) for item in tree]
    assert shape == [("row", 0), ("block", "[CONV3-4 -> RELU]*2"), ("block", "(CONV1-2 -> RELU | [CONV3-2 -> BN] | POOL3/1p1)")]
    branch = tree[2][2]
    assert [(i[0], i[1] if i[0] == "arm" else i[1]["name"] if i[0] == "block" else i[1]["index"]) for i in branch] \
        == [("arm", 1), ("block", "[CONV3-2 -> BN]"), ("row", 9), ("row", 10)]
    assert [i[1]["index"] for i in branch[0][2]] == [5, 6]


def test_an_html_depth_closes_that_levels_blocks():
    report = data("resnet18")
    parsed = Page(render_html(report, depth=1))
    level = {b["id"]: b["level"] for b in report["blocks"]}
    closed = [int(i.split("-")[1]) for i, o in zip([i for i in parsed.ids if i.startswith("block-")], parsed.opened)
              if not o]
    assert closed and all(level[b] == 1 for b in closed)


def test_html_prints_on_landscape_pages_in_a_font_that_fits():
    page = render_html(data("resnet152"))
    assert "@page { size: A4 landscape; margin: 10mm; }" in page
    template = re.search(r"grid-template-columns: ([\d ch]+);", page).group(1)
    characters = sum(int(w) for w in re.findall(r"(\d+)ch", template)) + 2 * (template.count("ch") - 1)
    size = float(re.search(r"\.grid \{ font-size: ([\d.]+)px", page).group(1))
    assert characters * size * 0.61 <= 1040


# -- the library and the command line -----------------------------------------------------------------------------

def test_report_methods_equal_the_renderers():
    report = cnncalc.plan("resnet18")
    contract = report.model_dump(by_alias=True)
    assert report.to_svg() == render_svg(contract)
    assert report.to_svg(depth=2, emphasis="macs", direction="right", color=False) == render_svg(
        contract, depth=2, emphasis="macs", direction="right", color=False)
    assert report.to_html(title="resnet18") == render_html(contract, title="resnet18")
    assert report.to_html(depth=1) == render(contract, "html", depth=1, color=True)
    assert "<details><summary><b>Diagram</b></summary><svg" in report._repr_html_()
    with pytest.raises(SettingsError, match="unknown style 'cubes' \\(choose from blocks, volumes\\)"):
        report.to_svg(style="cubes")
    with pytest.raises(SettingsError, match="depth is a whole number from 1"):
        report.to_svg(depth=0)


def test_draw_writes_svg_to_standard_output_or_a_file_atomically(tmp_path):
    result = run("draw", "resnet18")
    assert result.exit_code == 0 and result.stdout == render_svg(data("resnet18"))
    assert result.stderr == ""
    out = tmp_path / "net.svg"
    assert run("draw", "resnet18", "-o", str(out)).exit_code == 0
    assert out.read_text() == result.stdout
    again = run("draw", "vgg16", "-o", str(out))
    assert again.exit_code == 2 and again.stderr == f"error: {out} exists; pass --force to overwrite it\n"
    assert out.read_text() == result.stdout  # kept
    assert run("draw", "vgg16", "-o", str(out), "--force").exit_code == 0
    assert out.read_text() == render_svg(plan_data(DESIGNS["vgg16"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]  # no temporary file left


def test_draw_says_on_standard_error_when_it_folds():
    result = run("draw", "resnet50", "--emphasis", "params", "--direction", "right")
    note = draw(data("resnet50")).note
    assert result.exit_code == 0 and result.stderr == f"note: {note}\n"
    assert result.stdout == render_svg(data("resnet50"), emphasis="params", direction="right")
    assert run("draw", "resnet50", "--depth", "1").stderr == ""


def test_draw_takes_the_settings_that_change_the_numbers():
    result = run("draw", "INPUT -> CONV3-C -> RELU", "-D", "C=8", "--input", "9x9x3", "--dtype", "fp16",
                 "--fit-rule", "notes")
    assert result.exit_code == 0
    assert result.stdout == render_svg(plan_data("INPUT -> CONV3-C -> RELU", defines=["C=8"], input="9x9x3",
                                                 dtype="float16", fit_rule="notes"))
    assert "9x9x8" in result.stdout and "memory 1.3 KiB" in result.stdout  # 9*9*8 values of 2 bytes


@pytest.mark.parametrize("args, message", [
    (("INPUT 8x8x3 -> [CONV3-4",), "error: expected ']' to close the '[' at column 16, found end of input"),
    (("resnet18", "--style", "volumes", "--depth", "4"), "error: the volumes style draws a chain, and row 5 (ID)"),
    (("vgg16", "--style", "volumes", "--direction", "down"), "error: the volumes style is drawn left to right"),
    (("vgg16", "--style", "cubes"), "Invalid value for '--style'"),
    (("vgg16", "--emphasis", "flops"), "Invalid value for '--emphasis'"),
    (("vgg16", "--depth", "0"), "Invalid value for '--depth'"),
    (("vgg16", "-o", "vgg16.png"), "error: cnncalc draw writes SVG, not .png: use -o NAME.svg"),
    (("no/such/file.cnn",), "error: no such design file: no/such/file.cnn"),
])
def test_draw_refuses_bad_input_in_one_line_with_exit_code_2(args, message):
    result = run("draw", *args)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_plan_writes_the_html_report_by_format_or_extension(tmp_path):
    page = run("plan", "googlenet", "--format", "html").stdout
    assert page == render_html(data("googlenet"), title="googlenet")
    out = tmp_path / "report.html"
    assert run("plan", "googlenet", "-o", str(out)).exit_code == 0 and out.read_text() == page
    assert run("plan", "googlenet", "-o", str(out)).exit_code == 2  # exists: kept without --force
    assert run("plan", "vgg16", "-o", str(out), "--force", "--depth", "1").exit_code == 0
    assert out.read_text() == render_html(plan_data(DESIGNS["vgg16"]), depth=1, title="vgg16")
    plain = run("plan", MISFIT, "-f", "html", env={"NO_COLOR": "1"}).stdout
    assert "#b42318" not in plain and GLYPH in plain and "<h1>INPUT 7x7x3 -&gt; CONV3-10/5p0" in plain
    refused = run("plan", "vgg16", "-f", "html", "--columns", "name,params")
    assert refused.exit_code == 2 and refused.stderr.startswith("error: --columns shapes the table and markdown; "
                                                                "the HTML report shows every column")


def test_html_is_plans_alone():
    """compare and sweep write no HTML: their -o FILE.html keeps their default format."""
    result = run("compare", "vgg16", "vgg11", "-f", "html")
    assert result.exit_code == 2 and "Invalid value for '--format'" in result.stderr


def test_drawing_adds_nothing_to_the_start_of_other_commands():
    code = ("import sys, cnncalc.cli; bad = [m for m in sys.modules if m.startswith(('cnncalc.render.svg', "
            "'cnncalc.render.html', 'cnncalc.render.fontwidths', 'xml'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the committed pictures and width table ------------------------------------------------------------------------

@pytest.mark.skipif(not DOCS.is_dir(), reason="no docs/ folder in this tree (a source distribution without it)")
@pytest.mark.parametrize("picture", DOC_PICTURES)
def test_the_readmes_pictures_are_current(picture):
    """Regenerate with the README's command (section "Pictures"):
    cnncalc draw resnet18 -o docs/resnet18.svg --force; ... (see DOC_PICTURES)."""
    name, *options = DOC_PICTURES[picture]
    result = run("draw", name, *options)
    assert result.exit_code == 0
    assert (DOCS / picture).read_text() == result.stdout, f"docs/{picture} is stale: regenerate it (README, Pictures)"


def test_the_readmes_command_regenerates_exactly_these_pictures():
    """The README's <!-- docs-command --> block (section "Pictures") is the command that writes docs/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if "<!-- docs-command -->" not in readme:
        pytest.skip("README.md has no <!-- docs-command --> block yet")
    command = readme.split("<!-- docs-command -->", 1)[1].split("```", 2)[1].strip()
    assert command == " && ".join("cnncalc draw " + " ".join([*options, "-o", f"docs/{picture}", "--force"])
                                  for picture, options in DOC_PICTURES.items())


FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.skipif(not FONT.exists(), reason=f"{FONT} is not installed (Debian: fonts-dejavu-core)")
def test_the_width_table_is_the_fonts():
    assert WIDTHS == read_widths(str(FONT))
    assert set(WIDTHS) == set(CHARACTERS)


def test_widths_add_up_and_an_unknown_character_counts_as_the_widest():
    assert width("CONV3-64", 10) == pytest.approx(10 * sum(WIDTHS[c] for c in "CONV3-64"))
    assert width("\u4e00", 12) == 12 * max(WIDTHS.values())


SE_RESNET = """conv.bias = false
se(C) = (ID .* [GAP -> CONV1-(C/16) -> RELU -> CONV1-C -> SIGMOID])
bottleneck(C) = (ID + [CONV1-C -> BN -> RELU -> CONV3-C -> BN -> RELU -> CONV1-(4*C) -> BN -> se(4*C)]) -> RELU
first(C, S) = ([CONV1-C -> BN -> RELU -> CONV3-C/S -> BN -> RELU -> CONV1-(4*C) -> BN -> se(4*C)]
               + [CONV1-(4*C)/S -> BN]) -> RELU
INPUT 224x224x3 -> CONV7-64/2 -> BN -> RELU -> POOL3/2p1 -> first(64, 1) -> bottleneck(64)*2 -> first(128, 2)
  -> bottleneck(128)*3 -> GAP -> FC-1000"""


@pytest.mark.parametrize("design", [SE_RESNET, "resnet50", "densenet121", "inception_v3"])
def test_no_column_of_the_html_diagram_holds_a_lone_box(design):
    """Issue 22: the page-long columns cut a SE-ResNet into pieces, several holding a single RELU box: a box
    alone stays with the column before it (a little longer), and no column passes the page."""
    from cnncalc.render.html import STRIP_PX
    from cnncalc.render.svg import strips

    report = plan_data(zoo.path(design).read_text() if zoo.path(design) else design)
    pieces = strips(report, height=STRIP_PX)[0]
    assert len(pieces) > 1
    for svg in pieces[1:]:  # the first holds the caption and INPUT
        boxes = svg.count('class="node') + svg.count('class="merge')
        assert boxes > 1, svg[:300]
        assert float(re.search(r'<svg[^>]* height="([\d.]+)"', svg).group(1)) <= 718  # a landscape A4 page

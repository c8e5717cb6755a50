"""The markdown report, read back by a real CommonMark + GFM-table renderer (markdown-it-py).

Every table cell and every bullet of the sections must show a reader exactly the plain text
that the table renderer shows (columns.cells/header, sections.*), with no emphasis, link,
code, HTML or block (heading, nested list, quote) that the text did not ask for. What the
texts can hold: layer names are canonical (CONV3-64/2, DROPOUT(0.5)); the weights formula
holds '*'; fit lines and warnings quote the design's label (a zoo name such as
mobilenet_v2, or whatever a library caller passes) and the text of a -D definition,
comments included, verbatim. The synthetic reports below go further than the parser lets
a design go, as the renderer takes any contract dict.
"""

from __future__ import annotations

import copy

import pytest
from markdown_it import MarkdownIt

from cnncalc import zoo
from cnncalc.planner import plan_data
from cnncalc.render.columns import NAME, cells, header
from cnncalc.render.markdown import render_markdown
from cnncalc.render.sections import fit_lines, totals_lines
from cnncalc.render.structure import display_name, gutters

MD = MarkdownIt("commonmark").enable("table")
NBSP = "\u00a0"
NASTY = "a*b*c _d_ e|f <b>g</b> [h](i) `j` \\k &amp; ~~l~~ ![m](n) <http://o> **p** __q__"
# texts that would open a block at the start of a bullet (or wreck a table row)
LEADING = ["# heading", "## h2", "- item", "+ item", "* item", "1. one", "2) two", "> quote", "```", "~~~",
           "---", "***", "___", "<div>x</div>", "[ref]: /url", "=", "|", "1.5 KiB stays", "#hashtag"]


def expected_table(report: dict) -> list[list[str]]:
    rows = [header(report)]
    for r, gutter in zip(report["layers"], gutters(report["layers"])):  # the branch gutter, as the table's
        row = cells(r)
        row[NAME] = gutter.replace(" ", NBSP) + display_name(r) + ("" if r["fits"] else " ⚠")
        rows.append(row)
    return rows


def expected_sections(report: dict) -> dict[str, list[str]]:
    sections = {"Totals": [f"{name}: {text}" for name, text in totals_lines(report)], "Fit": fit_lines(report)}
    if report["warnings"]:
        sections["Warnings"] = report["warnings"]
    sections["Assumptions"] = report["assumptions"]
    return sections


def plain(inline) -> str:
    """The text a reader sees in an inline token; fails on anything but plain text."""
    children = [t for t in inline.children if not (t.type == "text" and t.content == "")]
    odd = [t.type for t in children if t.type != "text"]
    assert not odd, f"{inline.content!r} renders {odd}"
    return "".join(t.content for t in children)


def read(markdown: str) -> tuple[list[list[str]], dict[str, list[str]]]:
    """The rendered table (rows of cell texts, header first) and the sections (bold title: item texts).
    Asserts the document is exactly one table, then bold titles each followed by a flat bullet list."""
    tokens = MD.parse(markdown)
    i = 0

    def take(kind: str):
        nonlocal i
        assert i < len(tokens) and tokens[i].type == kind, \
            f"expected {kind}, got {tokens[i].type if i < len(tokens) else 'the end'} at {tokens[i - 1].content!r}"
        i += 1
        return tokens[i - 1]

    take("table_open")
    table = []
    while tokens[i].type != "table_close":
        token = take(tokens[i].type)
        if token.type == "tr_open":
            table.append([])
        elif token.type in ("th_open", "td_open"):
            table[-1].append(plain(take("inline")))
        else:
            assert token.type in ("thead_open", "thead_close", "tbody_open", "tbody_close", "tr_close",
                                  "th_close", "td_close"), token.type
    take("table_close")
    sections = {}
    while i < len(tokens):
        take("paragraph_open")
        title = [t for t in take("inline").children if t.content or t.type != "text"]
        assert [t.type for t in title] == ["strong_open", "text", "strong_close"], title
        take("paragraph_close")
        items = sections[title[1].content] = []
        take("bullet_list_open")
        while tokens[i].type == "list_item_open":
            take("list_item_open")
            take("paragraph_open")
            items.append(plain(take("inline")))
            take("paragraph_close")
            take("list_item_close")
        take("bullet_list_close")
    return table, sections


def check(report: dict) -> None:
    table, sections = read(render_markdown(report))
    want = expected_table(report)
    assert len(table) == len(want)
    for got, row in zip(table, want):
        assert got == row
    assert sections == expected_sections(report)


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_design_reads_back_as_its_plain_text(name):
    # labelled as `cnncalc plan NAME` labels it, so fit lines quote names such as mobilenet_v2
    check(plan_data(zoo.path(name).read_text(), batch=2, label=name))


def test_vgg16_formulas_are_not_emphasis():
    text = render_markdown(plan_data(zoo.path("vgg16").read_text()))
    assert "<em>" not in MD.render(text)
    table, _ = read(text)
    assert table[2][4] == "(3*3*3)*64 = 1,728"  # row 1, after the header and row 0


def test_a_label_and_definitions_full_of_markdown_reach_fit_lines_and_warnings():
    # the label and the -D text (its comment included) are quoted verbatim in fit lines and warnings
    report = plan_data("INPUT 32x32x3 -> (b | POOL3/2) -> UPSAMPLE2 -> CONV3-4", label=f"my_net_{NASTY}.cnn",
                       defines=[f"b=CONV3-8/2p0 -> RELU # {NASTY}"])
    assert any("*" in line and "<b>" in line for line in fit_lines(report))
    assert any("<b>" in w for w in report["warnings"])
    check(report)


def test_texts_that_would_open_blocks_stay_text():
    report = copy.deepcopy(plan_data(zoo.path("resnet18").read_text(), label="resnet18"))
    report["warnings"] = [*LEADING, NASTY, "trailing backslash \\", "     indented", "a\nb"]
    report["assumptions"] = [*LEADING, "&nbsp; &#42; &lt; &copy; entities"]
    for row, text in zip(report["layers"], [*LEADING, NASTY, "x_y_z", "*", "_", "\\", "a\\|b"]):
        row["name"] = text
    report["layers"][1]["formula"] = NASTY
    table, sections = read(render_markdown(report))
    want = expected_table(report)
    assert [r[NAME] for r in table] == [r[NAME] for r in want]
    assert table[2][4] == NASTY
    # a line break cannot survive in a bullet or a cell: it reads as the space a paragraph would show
    expected = expected_sections(report)
    expected["Warnings"][-1] = "a b"
    expected["Warnings"][-2] = "indented"  # leading spaces of a paragraph are not shown
    assert sections == expected


def test_misfit_marker_and_branch_depth_survive():
    report = plan_data("INPUT 32x32x3 -> (CONV3-8/2p0 -> RELU | [POOL3/2]) -> CONV3-4")
    text = render_markdown(report)
    assert "| ┌1&nbsp;CONV3-8/2p0 ⚠ |" in text  # the gutter's spacing is intended HTML
    table, _ = read(text)
    names = [row[NAME] for row in table[1:]]
    assert names[:4] == ["INPUT 32x32x3", f"┌1{NBSP}CONV3-8/2p0 ⚠", f"│{NBSP * 2}RELU", f"├2{NBSP}POOL3/2 ⚠"]
    assert names[4] == f"└─{NBSP}CONCAT"
    html = MD.render(text)
    assert "<strong>Fit</strong>" in html and "<table>" in html


def test_depth_two_indents_twice():
    report = plan_data("INPUT 32x32x3 -> (CONV3-8 | (CONV1-4 | CONV3-4)) -> CONV3-4")
    table, _ = read(render_markdown(report))
    names = [row[NAME] for row in table[1:]]
    assert names[1:6] == [f"┌1{NBSP}CONV3-8", f"├2┌1{NBSP}CONV1-4", f"│{NBSP}├2{NBSP}CONV3-4", f"│{NBSP}└─{NBSP}CONCAT",
                          f"└─{NBSP}CONCAT"]

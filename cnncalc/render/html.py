"""The report as one self-contained HTML file (`plan --format html`): the diagram, the whole table
with its blocks and branch arms foldable, each row's share of memory, params and MACs as a bar,
the totals, the fit report with every misfit linked to its row, warnings and assumptions.

Nothing is fetched: the CSS is inline, the diagram is inline SVG (render/svg.py), the fonts are
the reader's own, and folding is HTML's <details>, which needs no script. The table is a grid of
monospace cells whose widths are counted here in characters (`ch`), so that every nested
<details> lines up with the header; printing lays it out on landscape pages in a font size
counted to fit their width, so no column is cut.
"""

from __future__ import annotations

from html import escape

from .columns import ALL, COLUMNS, cells, header
from .sections import answer_line, fit_lines, totals_lines
from .structure import display_name, folded
from .table import title_lines
from .svg import GLYPH, LABEL_MAX, arm_paths, box_label, share, strips, summary_line
from .units import volume

# each share, with its bar, right after the column of what it is a share of
BARS = {"memory_bytes": "memory", "params": "params", "macs": "macs"}
COLUMNS_HTML = tuple(c for column in COLUMNS
                     for c in (column, *([ALL[f"{BARS[column.key]}_pct"]] if column.key in BARS else [])))
SHARES = {i: c.key.removesuffix("_pct") for i, c in enumerate(COLUMNS_HTML) if c.key.endswith("_pct")}
NAME = next(i for i, c in enumerate(COLUMNS_HTML) if c.key == "name")
OUTPUT = next(i for i, c in enumerate(COLUMNS_HTML) if c.key == "output")
BAR_CH = 6  # a bar's full length, in characters
PCT_CH = 6  # "100.0%"
STRIP_PX = 560  # the diagram's columns are at most this long: a landscape page holds one row of them
PAGE_PX = 1040  # the width of a landscape A4 page inside 10 mm margins, in CSS px (273 mm at 96 per inch)
MONO_CH = 0.61  # a monospace character's advance, in ems (DejaVu Sans Mono 0.602, Menlo 0.602, Courier 0.6)

# What each part is: a layer's row, a folded block (with its rows inside), an arm of a branch that is
# not a block of its own (with its rows inside). Plain tuples: the tree is built once per report.
ROW, BLOCK, ARM = "row", "block", "arm"


def render_html(report: dict, depth: int | None = None, title: str = "", color: bool = True) -> str:
    """The report as an HTML document. `depth` folds the diagram and closes the table's blocks of that
    level (their rows stay in the file, a click away); `title` names the design (a file or a built-in
    name); `color` False styles in black and grey alone (NO_COLOR), misfits still marked by a glyph."""
    pictures = strips(report, depth=depth, height=STRIP_PX, color=color, links=True)[0]  # its note: in the first
    items = table_tree(report)
    widths = column_widths(report, items)
    name = title or "design"
    summary = summary_line(report)
    answer = answer_line(report)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>cnncalc: {escape(name)}</title>", f"<style>{stylesheet(widths, color)}</style>", "</head>", "<body>",
        f"<header><h1>{escape(name)}</h1><p>{escape(summary)}</p>"
        + (f'<p class="answer">{escape(answer)}</p>' if answer else ""),
        '<nav><a href="#diagram">Diagram</a> \u00b7 <a href="#layers">Layers</a> \u00b7 <a href="#totals">Totals</a>'
        ' \u00b7 <a href="#fit">Fit</a> \u00b7 <a href="#assumptions">Assumptions</a></nav></header>',
        '<section id="diagram"><h2>Diagram</h2>',
        '<p class="note">Each box links to its row of the table; hover over a box for its figures.'
        + (" The diagram is cut into columns a page long: read them left to right." if len(pictures) > 1 else "")
        + "</p>",
        f'<div class="diagram">{"".join(pictures)}</div></section>',
        '<section id="layers"><h2>Layers</h2>',
        '<p class="note">A block or arm of a branch folds and opens with a click on its row (\u25be open, '
        f'\u25b8 folded), which shows its sums. {GLYPH}: a window that does not fit (see Fit).</p>',
        f'<div class="grid" role="table">{head_row(report)}{"".join(render_items(items, report, depth, 0))}</div>',
        "</section>",
        section("totals", "Totals", "<table class=\"totals\">" + "".join(
            f"<tr><th>{escape(label)}</th><td>{escape(text)}</td></tr>" for label, text in totals_lines(report))
            + "</table>"),
        section("fit", "Fit", bullets(fit_items(report)), "" if report["fits"] else "misfit"),
        section("warnings", "Warnings", bullets([(w, None) for w in report["warnings"]])) if report["warnings"] else "",
        section("assumptions", "Assumptions", bullets([(a, None) for a in report["assumptions"]])),
        f'<footer>cnncalc {escape(_version())} \u00b7 {escape(report["schema"])} \u00b7 batch {report["batch"]}, '
        f'{escape(report["dtype"])}, {escape(report["optimizer"])}</footer>',
        "</body>", "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _version() -> str:
    from ..version import __version__

    return __version__


def section(key: str, title: str, body: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<section id="{key}"{klass}><h2>{escape(title)}</h2>{body}</section>'


def bullets(items: list[tuple]) -> str:
    """A list; an item with a row index links to that row; a third element is the item's class (a misfit's
    colour, a note's)."""
    out = []
    for text, index, *cls in items:
        inner = escape(text) if index is None else f'<a href="#row-{index}">{escape(text)}</a>'
        klass = f' class="{cls[0]}"' if cls and cls[0] else ""
        out.append(f"<li{klass}>{inner}</li>")
    return "<ul>" + "".join(out) + "</ul>"


def fit_items(report: dict) -> list[tuple[str, int | None, str]]:
    """The fit report's lines (sections.fit_lines, as the table prints them), each misfit and note
    with the row it is about and its class: fit_lines lists the misfits, then any input that fits them
    all, then the notes; or, when everything fits, a summary line, then the notes."""
    lines = fit_lines(report)
    notes = [(n["index"], "fitnote") for n in report.get("notes", ())]
    if report["fits"]:
        targets = [(None, ""), *notes]
    else:
        misfits = [(p["index"], "misfit") for p in report["problems"]]
        targets = misfits + [(None, "")] * (len(lines) - len(misfits) - len(notes)) + notes
    return [(line, index, cls) for line, (index, cls) in zip(lines, targets)]


# -- the table's tree: rows, blocks, arms -------------------------------------------------------------------------

def table_tree(report: dict) -> list[tuple]:
    """The rows nested into the design's blocks (report["blocks"]) and each branch's arms:
    (ROW, row), (BLOCK, block, items), (ARM, number, items); an arm that is a single row or a
    single block is that item alone."""
    rows = report["layers"]
    paths = arm_paths(rows)
    children: dict[int | None, list[dict]] = {}
    for b in report.get("blocks") or ():
        children.setdefault(b["parent"], []).append(b)

    def content(first: int, last: int, kids: list[dict], prefix: tuple) -> list[tuple]:
        starts = {b["first"]: b for b in kids if b["depth"] == len(prefix)}
        out, i = [], first
        while i <= last:
            if i in starts:
                b = starts[i]
                out.append((BLOCK, b, content(b["first"], b["last"], children.get(b["id"], []), prefix)))
                i = b["last"] + 1
            elif len(paths[i]) == len(prefix):
                out.append((ROW, rows[i]))
                i += 1
            else:  # a branch: its arms, then its merge, the next row at this depth
                merge = next(j for j in range(i, last + 1) if len(paths[j]) == len(prefix))
                out.extend(arms(i, merge - 1, kids, prefix))
                i = merge
        return out

    def arms(first: int, last: int, kids: list[dict], prefix: tuple) -> list[tuple]:
        out, i = [], first
        while i <= last:
            arm = paths[i][len(prefix)]
            end = i
            while end + 1 <= last and paths[end + 1][len(prefix)] == arm:
                end += 1
            inside = [b for b in kids if i <= b["first"] and b["last"] <= end]
            items = content(i, end, inside, prefix + (arm,))
            out.extend(items if len(items) == 1 else [(ARM, arm, items)])
            i = end + 1
        return out

    return content(0, len(rows) - 1, children.get(None, []), ())


# -- the table's cells --------------------------------------------------------------------------------------------

def row_texts(row: dict, report: dict) -> list[str]:
    """A row's (or a folded block's) cells as the table writes them, the name as the diagram's boxes
    write it: clipped past LABEL_MAX characters (whole in its tooltip), with the misfit glyph."""
    texts = cells(row, report, COLUMNS_HTML)
    texts[NAME] = box_label(row)
    return texts


def _arm_texts(number, items: list[tuple]) -> list[str]:
    last = _last_row(items)
    texts = [""] * len(COLUMNS_HTML)
    texts[NAME] = f"arm {number}"
    texts[OUTPUT] = volume(last["output"])
    return texts


def _last_row(items: list[tuple]) -> dict:
    kind, *rest = items[-1]
    if kind == ROW:
        return rest[0]
    return _last_row(rest[-1])


def _texts(item: tuple, report: dict) -> list[str]:
    kind = item[0]
    if kind == ROW:
        return row_texts(item[1], report)
    if kind == BLOCK:
        return row_texts(folded(item[1], report["layers"]), report)
    return _arm_texts(item[1], item[2])


def column_widths(report: dict, items: list[tuple]) -> list[int]:
    """Each column's width in characters: its widest cell or title; the name column's cells count
    their indentation (2 per level) and marker (2); a share column holds a bar and a percentage."""
    widths = [max(len(t) for t in titles) for titles in zip(*title_lines(header(report, COLUMNS_HTML)))]

    def visit(entries: list[tuple], level: int) -> None:
        for item in entries:
            texts = _texts(item, report)
            for i, t in enumerate(texts):
                widths[i] = max(widths[i], len(t) + (2 * level + 2 if i == NAME else 0))
            if item[0] != ROW:
                visit(item[2], level + 1)

    visit(items, 0)
    for i in SHARES:
        widths[i] = max(widths[i], BAR_CH + 1 + PCT_CH)
    return widths


def head_row(report: dict) -> str:
    """The header, a title ending in a parenthesis on two lines (`memory/image` over `(float32)`), as the
    terminal table writes it: a column is then as wide as its numbers."""
    titles = ["\n".join(t).rstrip("\n") for t in zip(*title_lines(header(report, COLUMNS_HTML)))]
    return ('<div class="r head" role="row">' + "".join(
        f'<span class="{"num" if c.right else "txt"}" role="columnheader">{escape(t)}</span>'
        for c, t in zip(COLUMNS_HTML, titles)) + "</div>")


def cells_html(texts: list[str], report: dict, row: dict | None, level: int) -> str:
    out = []
    for i, (c, t) in enumerate(zip(COLUMNS_HTML, texts)):
        if i == NAME:
            whole = display_name(row) if row is not None and len(display_name(row)) > LABEL_MAX else ""
            tip = f' title="{escape(whole)}"' if whole else ""
            out.append(f'<span class="n" role="cell" style="padding-left:{2 * level}ch"{tip}>{escape(t)}</span>')
        elif i in SHARES and row is not None:
            out.append(bar(row, report, SHARES[i], t))
        else:
            out.append(f'<span class="{"num" if c.right else "txt"}" role="cell">{escape(t)}</span>')
    return "".join(out)


def bar(row: dict, report: dict, key: str, text: str) -> str:
    """A share as a bar BAR_CH characters long at 100%, and its percentage."""
    fraction, _ = share(row, report, key)
    length = BAR_CH * fraction
    if 0 < length < 0.15:
        length = 0.15  # a share that is not 0 stays visible
    return (f'<span class="num pct" role="cell"><span class="track"><span class="bar" '
            f'style="width:{length:.2f}ch"></span></span>{escape(text):>{PCT_CH}}</span>')


def render_items(items: list[tuple], report: dict, depth: int | None, level: int):
    """The rows as grid rows, each block and arm as <details> around its rows; a block of level
    `depth` starts closed, as the folded table shows it."""
    for item in items:
        kind = item[0]
        if kind == ROW:
            row = item[1]
            misfit = "" if row["fits"] else " misfit"
            yield (f'<div class="r{misfit}" id="row-{row["index"]}" role="row">'
                   f'{cells_html(row_texts(row, report), report, row, level)}</div>')
            continue
        if kind == BLOCK:
            shown = folded(item[1], report["layers"])
            is_open = depth is None or item[1]["level"] != depth
            misfit = "" if shown["fits"] else " misfit"
            summary = (f'<summary class="r sum{misfit}" role="row" id="block-{item[1]["id"]}">'
                       f'{cells_html(row_texts(shown, report), report, shown, level)}</summary>')
        else:
            is_open = True
            summary = f'<summary class="r sum arm" role="row">{cells_html(_arm_texts(item[1], item[2]), report, None, level)}</summary>'
        yield f'<details{" open" if is_open else ""}>{summary}'
        yield from render_items(item[2], report, depth, level + 1)
        yield "</details>"


# -- the style sheet ----------------------------------------------------------------------------------------------

def _palette(color: bool) -> str:
    """The page's colours: ink, muted text, a misfit's, a note's, the linked row's, the bars'."""
    ink, muted, warn, note, accent, bar = (("#1f2933", "#52606d", "#b42318", "#8a5a00", "#fff3bf", "#3b6fb6")
                                           if color else ("#000", "#444", "#000", "#444", "#eee", "#444"))
    return (f":root {{ --ink: {ink}; --muted: {muted}; --warn: {warn}; --note: {note}; --target: {accent}; "
            f"--bar: {bar}; --line: #d5dae0; }}")


def stylesheet(widths: list[int], color: bool) -> str:
    """The page's CSS: the grid's column widths in ch, and a print font small enough for every column
    to fit a landscape page."""
    template = " ".join(f"{w}ch" for w in widths)
    line = sum(widths) + 2 * (len(widths) - 1)  # characters, with the 2ch gaps
    print_px = min(9.0, int(PAGE_PX / (line * MONO_CH) * 10) / 10)
    # on screen the table's font shrinks (to 8px at least) until its whole line fits the window: every column
    # stays in view at 1400 px; past that the grid scrolls
    fit = f"clamp(8px, calc((100vw - 64px) / {line * MONO_CH:.1f}), 12px)"
    return f"""
{_palette(color)}
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
  margin: 24px; max-width: none; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
h2 {{ font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }}
header p {{ margin: 0 0 4px; }}
nav, .note, footer {{ color: var(--muted); font-size: 13px; }}
a {{ color: inherit; }}
.diagram {{ display: flex; flex-wrap: wrap; align-items: flex-start; gap: 4px 12px; border: 1px solid var(--line);
  padding: 4px; }}
.diagram svg {{ display: block; break-inside: avoid; }}
.grid {{ font: 12px/1.55 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: {fit};
  overflow-x: auto; }}
.r {{ display: grid; grid-template-columns: {template}; column-gap: 2ch; white-space: pre; width: max-content; }}
.r > .num {{ text-align: right; }}
.head {{ font-weight: bold; border-bottom: 1px solid var(--ink); }}
details > summary {{ list-style: none; cursor: pointer; }}
details > summary::-webkit-details-marker {{ display: none; }}
summary.sum {{ font-weight: bold; }}
summary.arm {{ font-weight: normal; font-style: italic; color: var(--muted); }}
details > summary > .n::before {{ content: "\\25be  "; }}
details:not([open]) > summary > .n::before {{ content: "\\25b8  "; }}
div.r > .n {{ margin-left: 2ch; }}
.r:hover {{ background: #f3f5f7; }}
.misfit {{ color: var(--warn); }}
li.misfit {{ color: var(--warn); }}
li.fitnote {{ color: var(--note); }}
:target {{ background: var(--target); outline: 1px solid var(--warn); }}
.pct {{ display: flex; justify-content: space-between; gap: 1ch; }}
.track {{ display: inline-block; width: {BAR_CH}ch; height: 0.8em; align-self: center; border: 1px solid var(--line);
  box-sizing: border-box; }}
.bar {{ display: block; height: 100%; background: var(--bar); -webkit-print-color-adjust: exact;
  print-color-adjust: exact; }}
table.totals {{ border-collapse: collapse; }}
table.totals th {{ text-align: left; vertical-align: top; padding: 2px 16px 2px 0; white-space: nowrap; }}
table.totals td {{ padding: 2px 0; }}
footer {{ margin-top: 32px; }}
@media print {{
  @page {{ size: A4 landscape; margin: 10mm; }}
  body {{ margin: 0; font-size: 10px; }}
  h2 {{ break-after: avoid; }}
  nav {{ display: none; }}
  .diagram {{ border: 0; padding: 0; }}
  .diagram svg {{ max-width: 100%; height: auto; }}
  .grid {{ font-size: {print_px}px; overflow: visible; }}
  .r {{ break-inside: avoid; }}
  .r:hover {{ background: none; }}
}}
""".strip()

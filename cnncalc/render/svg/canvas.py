"""The drawings' sizes, colours and texts, and the canvas both styles draw on: labels, tooltips, bars, the
caption, the SVG document."""

from __future__ import annotations

import math
import re
from html import escape

from ..columns import ALL as COLUMNS, totals_of
from ..fontwidths import FONT_FAMILY, width as text_width
from ..structure import display_name
from ..units import binary, short, volume

MAX_BOXES = 100  # more and an unfolded drawing folds (a ResNet-50's 187 rows are a 9,000-pixel column)

# sizes in px; the font sizes are those the width table is scaled by
NAME_SIZE, SMALL_SIZE, CAPTION_SIZE = 12, 10.5, 12
PAD = 8  # between a box's text and its border
BOX_H = 34  # two lines: the name, the output volume
MIN_W = 56
GAP = 20  # between elements along the flow: edges bend in its middle
LANE_GAP = 18  # between the arms of a branch
SKIP_GAP = 14  # between a branch's arms and its first shortcut lane, and between lanes
MERGE_R = 10
BAR_GAP, BAR_LEN, BAR_H = 6, 48, 7  # the emphasis bar beside a box, then its percentage
MARGIN = 16
LINE = 17  # between caption lines
FRAME_HEAD = 24 + GAP // 2  # down: from a frame's top to its first element (the label's band, half a gap)
FRAME_HEAD_R = GAP // 2 + 2  # right: from a frame's side to its first element
FRAME_PAD = 8
LABEL_MAX = 44  # characters of a box's name; longer names end in "…" (the tooltip has them whole)
GLYPH = "\u26a0"  # marks a row (or a block holding one) that does not fit

EMPHASIS_KEYS = {"memory": "memory_bytes", "params": "params", "macs": "macs"}
# in colour a layer's box is filled by its kind (the kind's `fill`), a folded block's in BLOCK_FILL; without
# colour every box is white and only shape and text speak
BLOCK_FILL = "#fff1cc"
INK, MUTED, WARN, WARN_FILL, BAR = "#1f2933", "#52606d", "#b42318", "#fde4e1", "#3b6fb6"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """A text for an XML element or attribute: escaped, and characters XML cannot hold replaced."""
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def num(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")


def clip(name: str) -> str:
    """A name of at most LABEL_MAX characters, ending in "…" when it was longer."""
    return name if len(name) <= LABEL_MAX else name[:LABEL_MAX - 1] + "\u2026"


def box_label(row: dict) -> str:
    """A box's first line: the name (with an implied padding), the misfit glyph."""
    return clip(display_name(row)) + ("" if row["fits"] else " " + GLYPH)


def rows_text(row: dict) -> str:
    """'row 5', or 'rows 5-12' for a folded block."""
    index = row["index"]
    return f"rows {index}" if isinstance(index, str) and "-" in index else f"row {index}"


def tooltip(row: dict) -> str:
    """What hovering over a box shows: the rows, name, output and figures, and why it does not fit."""
    where = rows_text(row)
    figures = [f"output {volume(row['output'])}"]
    for label, key, unit in (("params", "params", None), ("MACs", "macs", None), ("memory", "memory_bytes", "b")):
        if row.get(key) is not None:
            figures.append(f"{label} {binary(row[key]) if unit else f'{row[key]:,}'}")
    written = row["block"]["text"] if "block" in row else ""
    written = f"\nas written: {written}" if written and written != row["block"]["name"] else ""
    problem = f"\n{row['problem']}" if row.get("problem") else ""
    return f"{where}: {display_name(row)}{written}\n" + ", ".join(figures) + problem


def caption_lines(report: dict, depth: int | None, note: str | None, emphasis: str | None, style: str) -> list[str]:
    """The lines above the drawing: the design in one line, how it is folded, what marks mean."""
    lines = [summary_line(report)]
    if note:
        lines.append(note)
    elif depth is not None:
        lines.append(f"folded at depth {depth} (--depth): a block's box sums its rows")
    if emphasis:
        lines.append(f"bars: each box's share of the {whole_text(report, emphasis)}")
    if style == "volumes":
        lines.append("each volume H x W x C: height, depth and width grow with log2 of H, W and C; "
                     "layers that keep their input's shape (activations, normalisation, dropout, ID) are not drawn")
    return lines


def summary_line(report: dict) -> str:
    """The design in one line: input, rows, params, MACs, fit."""
    t, v = report["totals"], report["input"]
    misfits = len(report["problems"])
    return (f"INPUT {v['h']}x{v['w']}x{v['c']} \u00b7 {len(report['layers']):,} rows \u00b7 {t['params']:,} params "
            f"\u00b7 {short(t['macs'])} MACs \u00b7 "
            + (f"{misfits} misfit{'s' * (misfits != 1)} ({GLYPH})" if misfits else "every layer fits"))


def whole_text(report: dict, emphasis: str) -> str:
    whole = totals_of(emphasis)(report)
    if emphasis == "memory":
        return f"forward memory per image ({binary(whole)}, {report['dtype']})"
    return f"{'MACs' if emphasis == 'macs' else 'params'} ({whole:,})"


def share(row: dict, report: dict, emphasis: str) -> tuple[float, str]:
    """A row's share of the emphasised total: a fraction for the bar, the table's percentage text."""
    part, whole = row.get(EMPHASIS_KEYS[emphasis]), totals_of(emphasis)(report)
    fraction = part / whole if part and whole else 0.0
    return fraction, COLUMNS[f"{emphasis}_pct"].cell(row, report)


# -- SVG pieces shared by both styles ---------------------------------------------------------------------------


class Canvas:
    """Collects SVG elements and the extent they cover; writes the document."""

    def __init__(self, report: dict, emphasis: str | None, color: bool, links: bool) -> None:
        self.report, self.emphasis, self.color, self.links = report, emphasis, color, links
        self.parts: list[str] = []
        self.width = self.height = 0.0
        self.marker = "cnncalc-arrow"  # the arrowhead's id: unique per SVG of one page (strips())

    def cover(self, x: float, y: float) -> None:
        self.width, self.height = max(self.width, x), max(self.height, y)

    def add(self, element: str, right: float, bottom: float) -> None:
        self.parts.append(element)
        self.cover(right, bottom)

    def label(self, x: float, y: float, value: str, size: float = SMALL_SIZE, anchor: str = "middle",
              fill: str = MUTED, cls: str = "") -> str:
        klass = f' class="{cls}"' if cls else ""
        return (f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}" '
                f'fill="{fill if self.color else MUTED if fill == MUTED else INK}"{klass}>{text(value)}</text>')

    def open_node(self, row: dict, cls: str) -> str:
        """A row's group, with its tooltip, as a link to its table row when asked."""
        index = row["index"]
        kind = row["block"]["kind"] if "block" in row else row["kind"]
        misfit = "" if row["fits"] else " misfit"
        head = (f'<g class="{cls}{misfit}" data-row="{text(index)}" data-kind="{text(kind)}">'
                f'<title>{text(tooltip(row))}</title>')
        if self.links:
            first = str(index).split("-")[0]
            head = f'<a href="#row-{text(first)}">' + head
        return head

    def close_node(self) -> str:
        return "</g></a>" if self.links else "</g>"

    def bar(self, row: dict, x: float, y: float) -> tuple[str, float]:
        """The emphasis bar from (x, y) (its top left) and its percentage: the SVG and its width."""
        fraction, pct = share(row, self.report, self.emphasis)
        length = BAR_LEN * fraction
        if 0 < length < 1:
            length = 1.0  # a share that is not 0 stays visible
        fill = BAR if self.color else INK
        svg = (f'<g class="bar" data-share="{fraction:.6f}"><rect x="{num(x)}" y="{num(y)}" width="{num(BAR_LEN)}" '
               f'height="{BAR_H}" fill="none" stroke="{MUTED}" stroke-width="0.5"/>'
               f'<rect x="{num(x)}" y="{num(y)}" width="{length:.2f}" height="{BAR_H}" fill="{fill}"/>'
               + self.label(x + BAR_LEN + 4, y + BAR_H, pct, 10, "start") + "</g>")
        return svg, BAR_LEN + 4 + text_width("100.0%", 10)

    def document(self, caption: list[str]) -> str:
        """The SVG document: the caption lines at the top, then what was drawn below them."""
        top = MARGIN + LINE * len(caption) + 6
        width = max(self.width, *(text_width(line, CAPTION_SIZE) for line in caption)) + 2 * MARGIN
        height = self.height + top + MARGIN
        head = [f'<svg xmlns="http://www.w3.org/2000/svg" class="cnncalc-diagram" width="{math.ceil(width)}" '
                f'height="{math.ceil(height)}" viewBox="0 0 {math.ceil(width)} {math.ceil(height)}" '
                f'font-family="{text(FONT_FAMILY)}" role="img">',
                f"<title>{text(caption[0])}</title>", f"<desc>{text(' / '.join(caption[1:]) or caption[0])}</desc>",
                f'<defs><marker id="{self.marker}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
                f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="{MUTED}"/></marker>'
                "</defs>", '<rect width="100%" height="100%" fill="#ffffff"/>']
        head += [self.label(MARGIN, MARGIN + LINE * i + 10, line, CAPTION_SIZE, "start", INK if i == 0 else MUTED,
                            "caption") for i, line in enumerate(caption)]
        return "\n".join([*head, f'<g transform="translate({MARGIN},{top})">', *self.parts, "</g>", "</svg>"]) + "\n"


# -- the block diagram ------------------------------------------------------------------------------------------

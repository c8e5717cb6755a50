"""Pictures of a design as SVG: a block diagram (`cnncalc draw`), or a chain of 3D volumes.

Pure functions over the report's contract dict, like the other renderers: the rows of
`structure.fold` (every layer, or the design's blocks with `depth`) become the boxes, so the
diagram folds exactly as the table does.

The block diagram (style "blocks") lays the rows out top to bottom (direction "down") or left
to right ("right"): one box per row or folded block, labelled with its name and output volume;
a branch's arms as parallel lanes joined by a round merge node (+ add, C concat, × multiply); an arm that is
only `ID` (a residual shortcut) as an edge drawn around the other arms into the merge's side.
`emphasis` adds a bar beside each box: its share of the total memory, params or MACs. A row
that does not fit is marked by a glyph (⚠) and a thicker border, so that colour is never the
only signal (`color=False` draws in black and grey alone).

The volumes style draws a chain as the course notes draw VGG and AlexNet: each output volume a
3D box whose height, depth and width grow with log2 of H, W and C, the layer that makes it above
it; rows that keep their input's shape in place (activations, BN, dropout, LRN, ID) are not
drawn. It needs a view without branches: fold them (`depth`) or use the blocks style.

Past MAX_BOXES boxes a drawing without `depth` folds to the deepest depth that fits and says so
in its caption (and `Drawing.note`). Text is measured with the committed width table of
render/fontwidths.py, so boxes fit their labels without a browser.

Layout, in brief: every element (a row, or a branch with its merge) is measured as its length
along the flow ("main") and its extent to each side of the flow's centre line ("cross"); a chain
stacks its elements along the centre line, a branch puts its arms side by side around it and its
shortcut lanes outside them. Edges bend halfway through the gap before their target, where no
box is, so they never cross one.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import NamedTuple

from ..errors import SettingsError
from .formats import DIRECTIONS, DRAW_STYLES as STYLES, EMPHASES, check_view
from .columns import ALL as COLUMNS, _totals
from .fontwidths import FONT_FAMILY, width as text_width
from ..kinds import KINDS, MERGES
from .structure import display_name, fold, max_level
from .units import binary, short, volume

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


class Drawing(NamedTuple):
    svg: str
    depth: int | None  # the depth drawn (None: every row)
    note: str | None  # why it was folded, when it was folded without being asked


def render_svg(report, depth: int | None = None, style: str = "blocks", emphasis: str | None = None,
               direction: str | None = None, color: bool = True, links: bool = False) -> str:
    """The diagram as an SVG document; see draw()."""
    return draw(report, depth, style, emphasis, direction, color, links).svg


def draw(report, depth: int | None = None, style: str = "blocks", emphasis: str | None = None,
         direction: str | None = None, color: bool = True, links: bool = False) -> Drawing:
    """Draw the report (the contract dict, or a Report). `depth` folds as `plan --depth` does
    (None: every row, or past MAX_BOXES the deepest depth that fits); `style` blocks or volumes;
    `emphasis` memory, params or macs adds share bars; `direction` down or right (blocks; volumes
    are drawn left to right); `color` False draws in black and grey; `links` makes each box a link
    to `#row-N` (the HTML report's table rows). Bad settings raise a SettingsError."""
    if not isinstance(report, dict):
        report = report.model_dump(by_alias=True)
    check_settings(style, emphasis, direction, depth)
    if direction is None:
        direction = "right" if style == "volumes" else "down"
    depth, note = choose_depth(report, depth, style)
    view = fold(report, depth)
    caption = caption_lines(report, depth, note, emphasis, style)
    if style == "volumes":
        body = _Volumes(report, view, emphasis, color, links)
    else:
        body = _Blocks(report, emphasis, direction == "down", color, links).draw(blocks_chain(report, view, depth))
    return Drawing(body.document(caption), depth, note)


def strips(report: dict, depth: int | None = None, height: float = 600, color: bool = True,
           links: bool = False) -> tuple[list[str], int | None, str | None]:
    """The block diagram (top to bottom) cut into SVGs at most `height` px long (their captions aside),
    for a page to set side by side and to print without cutting a box: the first has the caption, each
    other one says which row it continues from. Returns them, the depth drawn and draw()'s note."""
    depth, note = choose_depth(report, depth)
    view = fold(report, depth)
    pieces = _Blocks(report, None, True, color, links).split(blocks_chain(report, view, depth), height)
    out = []
    for k, piece in enumerate(pieces):
        before = _exit(pieces[k - 1][-1]) if k else None
        caption = [f"continued from {rows_text({'index': before})}"] if k else \
            caption_lines(report, depth, note, None, "blocks")
        canvas = _Blocks(report, None, True, color, links)
        canvas.marker = f"cnncalc-arrow-{k}"
        out.append(canvas.draw(piece, before).document(caption))
    return out, depth, note


def blocks_chain(report: dict, view: list[dict], depth: int | None) -> list:
    """What the block diagram draws: the view as a tree, its open top-level blocks framed."""
    return framed(tree(view), report, view, depth)


def check_settings(style: str, emphasis: str | None, direction: str | None, depth) -> None:
    """A SettingsError naming the choices for a style, emphasis, direction or depth that is not one."""
    for name, value, choices in (("style", style, STYLES), ("emphasis", emphasis, EMPHASES),
                                 ("direction", direction, DIRECTIONS)):
        if value is not None and value not in choices:
            raise SettingsError(f"unknown {name} {value!r} (choose from {', '.join(choices)})")
    if style == "volumes" and direction == "down":
        raise SettingsError("the volumes style is drawn left to right: leave out --direction, or use --style blocks")
    check_view("table", depth, None)  # depth as the table takes it


# -- what is drawn: the depth, and the view as a tree of chains and branches ------------------------------------

def choose_depth(report: dict, depth: int | None, style: str = "blocks") -> tuple[int | None, str | None]:
    """The depth to draw and, when it was chosen here, why. An asked depth is kept (a volumes drawing
    with a branch in it is an error). Otherwise every row while they make at most MAX_BOXES boxes
    (and, for volumes, a chain); else the deepest depth that does, or depth 1."""
    if depth is not None:
        if style == "volumes":
            check_chain(report, depth)
        return depth, None
    deepest = max_level(report)
    drawable = [d for d in (None, *range(deepest, 0, -1))  # deepest first
                if style != "volumes" or _branch_row(fold(report, d)) is None]
    if not drawable:
        check_chain(report, None)  # raises: no depth folds every branch
    boxes = {d: _boxes(report, d, style) for d in drawable}
    chosen = next((d for d in drawable if boxes[d] <= MAX_BOXES), min(drawable, key=boxes.get))
    rows, whole = len(report["layers"]), _boxes(report, None, style)
    if chosen is None:
        return None, None if whole <= MAX_BOXES else (
            f"drawn whole: {rows:,} rows make {whole:,} boxes, more than {MAX_BOXES}, and no block folds them "
            f"(write repeats as X*N, or group layers with [..] or a block, to fold them)")
    why = (f"{rows:,} rows make {whole:,} boxes, more than {MAX_BOXES}" if whole > MAX_BOXES
           else "its rows hold branches, which volumes cannot draw")
    return chosen, (f"folded to depth {chosen} ({boxes[chosen]:,} boxes): {why}; choose with --depth N "
                    f"(1 to {deepest})")


def _boxes(report: dict, depth: int | None, style: str) -> int:
    view = fold(report, depth)
    if style == "volumes":
        return sum(1 for r in view if _drawn_volume(r))
    return len(view)


def _branch_row(view: list[dict]) -> dict | None:
    return next((r for r in view if r["depth"] > 0), None)


def check_chain(report: dict, depth: int | None) -> None:
    """The volumes style draws a chain: a SettingsError naming the first row inside a branch, and the
    depths that fold every branch."""
    row = _branch_row(fold(report, depth))
    if row is None:
        return
    chains = [d for d in range(max_level(report), 0, -1) if _branch_row(fold(report, d)) is None]
    hint = (f"fold the branches with --depth {chains[0]}" + (" or less" if chains[0] > 1 else "")
            if chains else "no depth folds them (the report records no blocks: cnncalc.check() leaves them out)")
    raise SettingsError(f"the volumes style draws a chain, and {rows_text(row)} ({row['name']}) is in a "
                        f"branch: {hint}, or use --style blocks")


def _drawn_volume(row: dict) -> bool:
    return "block" in row or not KINDS[row["kind"]].elementwise  # element-wise rows are not drawn as volumes


class Branch(NamedTuple):
    arms: list[list]  # each a chain: rows, branches and frames
    skips: list[dict]  # the arms that are only an ID row: shortcut edges
    merge: dict  # the concat, add or mul row


class Frame(NamedTuple):
    """A top-level block the view does not fold, drawn as a labelled outline around its elements, so
    that its name (basic(64) x2, inception(64, ...)) stays in the picture."""

    block: dict
    items: list
    part: int = 0  # a frame cut by strips(): its pieces after the first say "continued"


def tree(view: list[dict]) -> list:
    """The view as a chain of rows and Branches. A row belongs to the arm that its path names: its
    own arm at its depth and, at each outer depth, the arm of the next row at that depth (as the
    table's gutter reads it: render/structure.py)."""
    paths = arm_paths(view)
    chain, i = _chain(view, paths, 0, ())
    if i != len(view):
        raise ValueError(f"row {view[i]['index']} closes no branch")
    return chain


def framed(chain: list, report: dict, view: list[dict], depth: int | None) -> list:
    """The top-level chain with each top-level block the view leaves open (depth None or above 1)
    that spans more than one row of the view wrapped in a Frame."""
    if depth == 1:
        return chain
    blocks = [b for b in report.get("blocks") or () if b["level"] == 1]
    out, i = [], 0
    for b in blocks:
        while i < len(chain) and _span(chain[i])[1] < b["first"]:
            out.append(chain[i])
            i += 1
        j = i
        while j < len(chain) and _span(chain[j])[1] <= b["last"]:
            j += 1
        if j - i > 1 or (j - i == 1 and isinstance(chain[i], Branch)):  # more than one row of the view
            out.append(Frame(b, chain[i:j]))
            i = j
    return out + chain[i:]


def _span(element) -> tuple[int, int]:
    """The first and last row an element of the tree covers."""
    if isinstance(element, Frame):
        return _span(element.items[0])[0], _span(element.items[-1])[1]
    if isinstance(element, Branch):
        firsts = [_span(arm[0])[0] for arm in element.arms] + [_span(r)[0] for r in element.skips]
        return min(firsts), _span(element.merge)[1]
    index = element["index"]
    if isinstance(index, int):
        return index, index
    first, _, last = str(index).partition("-")
    return int(first), int(last or first)


def _exit(element):
    """The index of the row an element ends in: what the next element's edge comes from."""
    if isinstance(element, Frame):
        return _exit(element.items[-1])
    if isinstance(element, Branch):
        return element.merge["index"]
    return element["index"]


def arm_paths(view: list[dict]) -> list[tuple]:
    """Each row's arm at every branch depth around it, from the outermost (() at the top level)."""
    paths, following = [()] * len(view), {}
    for i in range(len(view) - 1, -1, -1):
        d = view[i]["depth"]
        if d:
            paths[i] = (*(following.get(level) for level in range(1, d)), view[i]["arm"])
            following[d] = view[i]["arm"]
    return paths


def _is_merge(row: dict) -> bool:
    return row["kind"] in MERGES and "block" not in row


def _chain(view, paths, i: int, prefix: tuple) -> tuple[list, int]:
    depth, out = len(prefix), []
    while i < len(view) and len(paths[i]) >= depth and paths[i][:depth] == prefix:
        if len(paths[i]) == depth:
            out.append(view[i])
            i += 1
        else:
            branch, i = _branch(view, paths, i, prefix)
            out.append(branch)
    return out, i


def _branch(view, paths, i: int, prefix: tuple) -> tuple[Branch, int]:
    depth, arms, skips = len(prefix), [], []
    while i < len(view) and len(paths[i]) > depth and paths[i][:depth] == prefix:
        arm, i = _chain(view, paths, i, prefix + (paths[i][depth],))
        if len(arm) == 1 and isinstance(arm[0], dict) and "block" not in arm[0] and KINDS[arm[0]["kind"]].skip:
            skips.append(arm[0])
        else:
            arms.append(arm)
    if i == len(view) or not _is_merge(view[i]) or len(paths[i]) != depth:
        where = view[i]["index"] if i < len(view) else "the end"
        raise ValueError(f"a branch is not closed by a merge (at row {where})")
    return Branch(arms, skips, view[i]), i + 1


# -- text -------------------------------------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """A text for an XML element or attribute: escaped, and characters XML cannot hold replaced."""
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def _n(x: float) -> str:
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
        lines.append(f"bars: each box's share of the {_whole_text(report, emphasis)}")
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


def _whole_text(report: dict, emphasis: str) -> str:
    whole = _totals(emphasis)(report)
    if emphasis == "memory":
        return f"forward memory per image ({binary(whole)}, {report['dtype']})"
    return f"{'MACs' if emphasis == 'macs' else 'params'} ({whole:,})"


def share(row: dict, report: dict, emphasis: str) -> tuple[float, str]:
    """A row's share of the emphasised total: a fraction for the bar, the table's percentage text."""
    part, whole = row.get(EMPHASIS_KEYS[emphasis]), _totals(emphasis)(report)
    fraction = part / whole if part and whole else 0.0
    return fraction, COLUMNS[f"{emphasis}_pct"].cell(row, report)


# -- SVG pieces shared by both styles ---------------------------------------------------------------------------

class _Canvas:
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
        return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
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
        svg = (f'<g class="bar" data-share="{fraction:.6f}"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(BAR_LEN)}" '
               f'height="{BAR_H}" fill="none" stroke="{MUTED}" stroke-width="0.5"/>'
               f'<rect x="{_n(x)}" y="{_n(y)}" width="{length:.2f}" height="{BAR_H}" fill="{fill}"/>'
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

class _Extent(NamedTuple):
    main: float  # along the flow
    left: float  # to the left of the centre line (above it when the flow runs right)
    right: float  # to the right (below)


class _Blocks(_Canvas):
    """The block diagram of a view: measure, then place, element by element."""

    def __init__(self, report: dict, emphasis: str | None, down: bool, color: bool, links: bool) -> None:
        super().__init__(report, emphasis, color, links)
        self.down = down
        self.sizes: dict[int, _Extent] = {}
        self.bar_at: dict[int, float] = {}  # down: where a row's bar starts, from the centre line (align_bars)

    def draw(self, chain: list, incoming: str | None = None) -> _Blocks:
        """Place a chain (of tree() and framed()) on this canvas; `incoming` (a row's index) starts it
        with an edge from that row, above the drawing (a strip continuing another)."""
        if self.emphasis and self.down:
            self.align_bars(chain)
        cross = self.chain_extent(chain).left
        source = None if incoming is None else ((0.0, cross), incoming)
        self.place_chain(chain, 0.0 if incoming is None else GAP, cross, source)
        return self

    def align_bars(self, chain: list) -> None:
        """Down: the emphasis bars of one lane (a chain, and the frames in it) start on one line, past its
        widest box, so that their lengths compare at a glance; a branch's arm is a lane of its own, unless it
        is the only one (beside shortcuts), drawn on the centre line."""
        rows, branches, todo = [], [], list(chain)
        while todo:
            element = todo.pop()
            if isinstance(element, Frame):
                todo.extend(element.items)
            elif isinstance(element, Branch) and len(element.arms) == 1:
                todo.extend(element.arms[0])
            elif isinstance(element, Branch):
                branches.append(element)
            else:
                rows.append(element)
        half = max((self.box(r)[0] / 2 for r in rows), default=0.0)
        self.bar_at.update((id(r), half) for r in rows)
        for branch in branches:
            for arm in branch.arms:
                self.align_bars(arm)

    def split(self, chain: list, height: float) -> list[list]:
        """The chain cut into pieces at most `height` long along the flow, between its elements; a frame
        longer than that is cut between its own elements into frames of the same block."""
        pieces, piece, length = [], [], 0.0
        for element in chain:
            size = self.extent(element).main
            if isinstance(element, Frame) and size > height and len(element.items) > 1:
                parts = self.split(element.items, height - FRAME_HEAD - FRAME_PAD)
                elements = [Frame(element.block, part, k) for k, part in enumerate(parts)]
            else:
                elements = [element]
            for e in elements:
                size = self.extent(e).main
                if piece and length + GAP + size > height:
                    pieces.append(piece)
                    piece, length = [], 0.0
                length += (GAP if piece else 0.0) + size
                piece.append(e)
        return pieces + ([piece] if piece else [])

    # coordinates: (main, cross) -> (x, y)
    def xy(self, main: float, cross: float) -> tuple[float, float]:
        return (cross, main) if self.down else (main, cross)

    # -- measuring --
    def box(self, row: dict) -> tuple[float, float]:
        """A row's box, width and height: its two lines and the padding."""
        w = max(text_width(box_label(row), NAME_SIZE), text_width(volume(row["output"]), SMALL_SIZE)) + 2 * PAD
        return float(max(MIN_W, math.ceil(w))), float(BOX_H)

    def bar_width(self) -> float:
        return BAR_GAP + BAR_LEN + 4 + text_width("100.0%", 10) if self.emphasis else 0.0

    def extent(self, element) -> _Extent:
        key = id(element)
        if key not in self.sizes:
            if isinstance(element, Branch):
                self.sizes[key] = self.branch_extent(element)[0]
            elif isinstance(element, Frame):
                self.sizes[key] = self.frame_extent(element)
            else:
                self.sizes[key] = self.node_extent(element)
        return self.sizes[key]

    def node_extent(self, row: dict) -> _Extent:
        w, h = self.box(row)
        if self.down:
            return _Extent(h, w / 2, self.bar_at.get(id(row), w / 2) + self.bar_width())
        return _Extent(max(w, self.bar_width() - BAR_GAP), h / 2, h / 2 + (BAR_GAP + BAR_H if self.emphasis else 0))

    def merge_label(self, row: dict) -> str:
        return f"{row['name']} {volume(row['output'])}" + ("" if row["fits"] else " " + GLYPH)

    def merge_extent(self, row: dict) -> _Extent:
        label = text_width(self.merge_label(row), SMALL_SIZE)
        if self.down:  # the label left of the circle: shortcuts come in from the right
            return _Extent(2 * MERGE_R, MERGE_R + 6 + label, MERGE_R)
        return _Extent(max(2 * MERGE_R, label), MERGE_R + 6 + SMALL_SIZE, MERGE_R)

    def chain_extent(self, chain: list) -> _Extent:
        sizes = [self.extent(e) for e in chain]
        return _Extent(sum(s.main for s in sizes) + GAP * max(len(sizes) - 1, 0),
                       max((s.left for s in sizes), default=0.0), max((s.right for s in sizes), default=0.0))

    def arms_layout(self, branch: Branch) -> tuple[list[float], list[_Extent], float, float]:
        """Each arm's centre (relative to the branch's centre line), the arms' extents, and how far
        the arms reach to the left and right: one arm stays on the centre line, several are centred
        as a group."""
        sizes = [self.chain_extent(arm) for arm in branch.arms]
        if KINDS[branch.merge["kind"]].side:  # a side head: beside the line the network goes on along
            centres = [sizes[0].left + LANE_GAP]
        elif len(sizes) == 1:
            centres = [0.0]
        else:
            total = sum(s.left + s.right for s in sizes) + LANE_GAP * (len(sizes) - 1)
            at, centres = -total / 2, []
            for s in sizes:
                centres.append(at + s.left)
                at += s.left + s.right + LANE_GAP
        left = max((s.left - c for s, c in zip(sizes, centres)), default=0.0)
        right = max((c + s.right for s, c in zip(sizes, centres)), default=0.0)
        return centres, sizes, left, right

    def branch_extent(self, branch: Branch) -> tuple[_Extent, list[float], list[_Extent], float]:
        """The branch's extent, its arms' centres and extents, and where its first shortcut lane runs."""
        centres, sizes, left, right = self.arms_layout(branch)
        merge = self.merge_extent(branch.merge)
        if KINDS[branch.merge["kind"]].side:  # its output node ends the head's lane, its label on the right
            label = text_width(self.merge_label(branch.merge), SMALL_SIZE)
            merge = _Extent(merge.main, 0.0, centres[0] + MERGE_R + 6 + label if self.down else centres[0] + merge.right)
        lane = max(right, MERGE_R) + SKIP_GAP
        lanes = lane + SKIP_GAP * (len(branch.skips) - 1) + 2 if branch.skips else 0.0
        arms_main = max((s.main for s in sizes), default=0.0)
        main = arms_main + GAP + merge.main if sizes else merge.main + 2 * GAP  # shortcuts only: room to bend
        return _Extent(main, max(left, merge.left), max(right, merge.right, lanes)), centres, sizes, lane

    def frame_label(self, frame: Frame) -> str:
        b = frame.block
        name = f"{b['name'].removesuffix('*' + str(b['repeat']))} x{b['repeat']}" if b["repeat"] is not None \
            else b["name"]
        return clip(name) + (" (continued)" if frame.part else "")

    def frame_extent(self, frame: Frame) -> _Extent:
        """Down: a band above the elements holds the label, right of the centre line (where only the
        edge coming in runs); right: the band is above the elements."""
        inner = self.chain_extent(frame.items)
        label = text_width(self.frame_label(frame), SMALL_SIZE)
        if self.down:
            return _Extent(FRAME_HEAD + inner.main + FRAME_PAD, inner.left + FRAME_PAD,
                           max(inner.right + FRAME_PAD, 8 + label + FRAME_PAD))
        return _Extent(max(2 * FRAME_HEAD_R + inner.main, label + 2 * FRAME_PAD), inner.left + FRAME_HEAD,
                       inner.right + FRAME_PAD)

    # -- placing: each returns its exit, (main, cross), for the next element's edge --
    def place_chain(self, chain: list, main: float, cross: float, source) -> tuple[float, float] | None:
        for element in chain:
            source = self.place(element, main, cross, source)
            main += self.extent(element).main + GAP
        return source

    def place(self, element, main: float, cross: float, source):
        if isinstance(element, Branch):
            return self.place_branch(element, main, cross, source)
        if isinstance(element, Frame):
            return self.place_frame(element, main, cross, source)
        return self.place_node(element, main, cross, source)

    def edge(self, source, target, row_from, row_to, cls: str = "edge") -> None:
        """An edge from source's exit to target's entry (both (main, cross)), bending halfway through
        the gap before the target."""
        (m0, c0), (m1, c1) = source, target
        bend = m1 - GAP / 2
        points = [(m0, c0)] if c0 == c1 else [(m0, c0), (bend, c0), (bend, c1)]
        points.append((m1, c1))
        self.path(points, cls, f'data-from="{text(row_from)}" data-to="{text(row_to)}"')

    def path(self, points, cls: str, data: str, arrow: bool = True) -> None:
        d = " ".join(("M" if i == 0 else "L") + "{},{}".format(*map(_n, self.xy(*p))) for i, p in enumerate(points))
        marker = f' marker-end="url(#{self.marker})"' if arrow else ""
        self.parts.append(f'<path class="{cls}" {data} d="{d}" fill="none" stroke="{MUTED}" stroke-width="1.2"'
                          f'{marker}/>')

    def place_node(self, row: dict, main: float, cross: float, source):
        w, h = self.box(row)
        x, y = self.xy(main, cross)
        x, y = (x - w / 2, y) if self.down else (x, y - h / 2)
        if source is not None:
            self.edge(source[0], (main, cross), source[1], row["index"])
        self.add(self.node_svg(row, x, y, w, h), x + w, y + h)
        if self.emphasis:
            bx, by = (cross + self.bar_at.get(id(row), w / 2) + BAR_GAP, y + (h - BAR_H) / 2) if self.down \
                else (x, y + h + BAR_GAP)
            svg, bar_w = self.bar(row, bx, by)
            self.add(svg, bx + bar_w, by + BAR_H)
        length = h if self.down else w
        return (main + length, cross), row["index"]

    def node_svg(self, row: dict, x: float, y: float, w: float, h: float) -> str:
        folded = "block" in row
        kind = row["block"]["kind"] if folded else row["kind"]
        misfit = not row["fits"]
        fill = (WARN_FILL if misfit else BLOCK_FILL if folded else KINDS[kind].fill) if self.color else "#ffffff"
        stroke = WARN if misfit and self.color else INK
        width = 2.5 if misfit else 1
        dash = ' stroke-dasharray="5,2"' if misfit else ""
        parts = [self.open_node(row, "node block" if folded else "node"),
                 f'<rect class="box" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="4" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>']
        if folded:  # a double border: this box holds several rows
            parts.append(f'<rect x="{_n(x + 3)}" y="{_n(y + 3)}" width="{_n(w - 6)}" height="{_n(h - 6)}" rx="2" '
                         f'fill="none" stroke="{stroke}" stroke-width="0.6"/>')
        parts.append(self.label(x + w / 2, y + 15, box_label(row), NAME_SIZE, fill=WARN if misfit else INK,
                                cls="name"))
        parts.append(self.label(x + w / 2, y + 28, volume(row["output"]), cls="volume"))
        return "".join(parts) + self.close_node()

    def place_branch(self, branch: Branch, main: float, cross: float, source):
        extent, centres, sizes, lane = self.branch_extent(branch)
        exits = []
        for arm, centre in zip(branch.arms, centres):
            exits.append(self.place_chain(arm, main, cross + centre, source))
        merge = self.merge_extent(branch.merge)
        top = main + extent.main - merge.main
        centre_main = top + merge.main / 2
        if KINDS[branch.merge["kind"]].side:  # the head ends in its output; the network goes on from its input
            at = cross + centres[0]
            self.edge(exits[0][0], (centre_main - MERGE_R, at), exits[0][1], branch.merge["index"])
            self.place_merge(branch.merge, centre_main, at, label_right=True)
            if source is None:
                return None
            end = (centre_main + MERGE_R, cross)
            self.path([source[0], end], "trunk", f'data-from="{text(source[1])}"', arrow=False)  # past the head
            return end, source[1]
        for exit_ in exits:
            self.edge(exit_[0], (centre_main - MERGE_R, cross), exit_[1], branch.merge["index"])
        for k, skip in enumerate(branch.skips):
            self.skip(skip, source, main - GAP / 2, (centre_main, cross), cross + lane + SKIP_GAP * k,
                      branch.merge["index"])
        self.place_merge(branch.merge, centre_main, cross)
        return (centre_main + MERGE_R, cross), branch.merge["index"]

    def place_frame(self, frame: Frame, main: float, cross: float, source):
        extent = self.frame_extent(frame)
        inner = self.chain_extent(frame.items)
        a = self.xy(main, cross - extent.left)
        b = self.xy(main + extent.main, cross + extent.right)
        x, y, w, h = a[0], a[1], b[0] - a[0], b[1] - a[1]
        block = frame.block
        if self.down:
            label = self.label(cross + 8, main + 13, self.frame_label(frame), anchor="start", cls="frame-name")
            start = main + FRAME_HEAD
        else:
            label = self.label(x + FRAME_PAD, y + 13, self.frame_label(frame), anchor="start", cls="frame-name")
            start = main + (extent.main - inner.main) / 2
        self.add(f'<g class="frame" data-block="{block["id"]}" data-rows="{block["first"]}-{block["last"]}">'
                 f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="6" fill="none" '
                 f'stroke="{MUTED}" stroke-width="0.8" stroke-dasharray="3,3"/>{label}</g>', x + w, y + h)
        return self.place_chain(frame.items, start, cross, source)

    def skip(self, row: dict, source, bend: float, target, lane: float, merge_index) -> None:
        """A shortcut (an arm that is only ID): from the branch's input around the arms, into the merge's
        side, turning at `bend`, half a gap before the arms."""
        if source is None:
            return  # nothing before the branch (a design opening with one): the merge shows its arms
        (m0, c0), row_from = source
        m1, c1 = target
        self.path([(m0, c0), (bend, c0), (bend, lane), (m1, lane), (m1, c1 + MERGE_R)], "edge skip",
                  f'data-row="{text(row["index"])}" data-from="{text(row_from)}" data-to="{text(merge_index)}"')
        x, y = self.xy(m1, lane)
        self.cover(x + 2, y + 2)

    def place_merge(self, row: dict, centre_main: float, cross: float, label_right: bool = False) -> None:
        x, y = self.xy(centre_main, cross)
        misfit = not row["fits"]
        symbol = MERGES[row["kind"]].symbol
        stroke = WARN if misfit and self.color else INK
        parts = [self.open_node(row, "merge"),
                 f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{MERGE_R}" fill="#ffffff" stroke="{stroke}" '
                 f'stroke-width="{2.5 if misfit else 1.2}"/>',
                 self.label(x, y + 4.5, symbol, 13, fill=INK, cls="symbol")]
        label = self.merge_label(row)
        if self.down and label_right:
            parts.append(self.label(x + MERGE_R + 6, y + 4, label, anchor="start", cls="volume"))
        elif self.down:
            parts.append(self.label(x - MERGE_R - 6, y + 4, label, anchor="end", cls="volume"))
        else:
            parts.append(self.label(x, y - MERGE_R - 6, label, cls="volume"))
        self.add("".join(parts) + self.close_node(), x + MERGE_R, y + MERGE_R)


# -- the volumes style ------------------------------------------------------------------------------------------

def _log_size(n: int, base: float, per_doubling: float) -> float:
    return base + per_doubling * math.log2(max(n, 1))


class _Volumes(_Canvas):
    """A chain of 3D volumes, left to right, wrapped into rows of at most ROW_WIDTH px."""

    ROW_WIDTH = 1100
    SLOT_GAP = 22

    def __init__(self, report: dict, view: list[dict], emphasis: str | None, color: bool, links: bool) -> None:
        super().__init__(report, emphasis, color, links)
        items = [r for r in view if _drawn_volume(r)]
        shapes = [self.shape(r) for r in items]
        tallest = max((h + d for _, h, d in shapes), default=0.0)
        row_h = LINE + tallest + 2 * LINE + (BAR_H + 6 if emphasis else 0)
        x, y = 0.0, 0.0
        previous = None  # the right edge of the volume before, in this line
        for row, shape in zip(items, shapes):
            slot = self.slot_width(row, shape)
            if x and x + slot > self.ROW_WIDTH:
                x, y, previous = 0.0, y + row_h + LINE, None
            left, right = self.volume(row, shape, x, y, slot, tallest)
            if previous is not None and left - previous > 12:  # the flow, from one volume to the next
                middle = y + LINE + tallest / 2
                self.parts.append(f'<path class="flow" d="M{_n(previous + 4)},{_n(middle)} L{_n(left - 4)},'
                                  f'{_n(middle)}" stroke="{MUTED}" stroke-width="1" marker-end="url(#{self.marker})"/>')
            previous = right
            x += slot + self.SLOT_GAP

    @staticmethod
    def shape(row: dict) -> tuple[float, float, float]:
        """The volume's front width (C), height (H) and oblique depth (W), each growing with log2."""
        out = row["output"]
        return _log_size(out["c"], 4, 4), _log_size(out["h"], 4, 9), _log_size(out["w"], 2, 4)

    def slot_width(self, row: dict, shape) -> float:
        c, _, d = shape
        texts = [box_label(row), volume(row["output"])]
        return max(c + d * 0.7, *(text_width(t, SMALL_SIZE if i else NAME_SIZE) for i, t in enumerate(texts)),
                   BAR_LEN + 4 + text_width("100.0%", 10) if self.emphasis else 0)

    def volume(self, row: dict, shape, x: float, y: float, slot: float, tallest: float) -> tuple[float, float]:
        """Draw a row's volume in its slot; its left and right edges."""
        c, h, d = shape
        dx, dy = d * 0.7, d * 0.7
        left = x + (slot - c - dx) / 2
        top = y + LINE + (tallest - h - dy) / 2 + dy  # the front face's top; faces centred in the band
        misfit = not row["fits"]
        stroke = WARN if misfit and self.color else INK
        front, side, lid = (("#dbe8f7", "#a9c4e6", "#eef4fb") if not misfit else (WARN_FILL, "#f4b4ab", "#fff1ef")) \
            if self.color else ("#ffffff", "#d9d9d9", "#f2f2f2")
        width = 2.5 if misfit else 1
        faces = [
            ("front", [(left, top), (left + c, top), (left + c, top + h), (left, top + h)], front),
            ("lid", [(left, top), (left + dx, top - dy), (left + c + dx, top - dy), (left + c, top)], lid),
            ("side", [(left + c, top), (left + c + dx, top - dy), (left + c + dx, top + h - dy), (left + c, top + h)],
             side),
        ]
        parts = [self.open_node(row, "volume-box")]
        parts += [f'<polygon class="{name}" points="{" ".join(f"{_n(px)},{_n(py)}" for px, py in points)}" '
                  f'fill="{fill}" stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"/>'
                  for name, points, fill in faces]
        centre = x + slot / 2
        parts.append(self.label(centre, y + 11, box_label(row), NAME_SIZE, fill=WARN if misfit else INK, cls="name"))
        below = y + LINE + tallest + LINE
        parts.append(self.label(centre, below, volume(row["output"]), cls="volume"))
        self.add("".join(parts) + self.close_node(), x + slot, below + 4)
        if self.emphasis:
            svg, bar_w = self.bar(row, centre - (BAR_LEN + 4 + text_width("100.0%", 10)) / 2, below + 6)
            self.add(svg, x + slot, below + 6 + BAR_H)
        return left, left + c + dx

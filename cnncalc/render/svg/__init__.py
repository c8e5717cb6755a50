"""Pictures of a design as SVG: a block diagram (`cnncalc draw`), or a chain of 3D volumes.

Pure functions over the report's contract dict, like the other renderers: the rows of
`structure.fold` (every layer, or the design's blocks with `depth`) become the boxes, so the
diagram folds exactly as the table does.

    __init__.py  draw(), strips(), the depth drawn and the settings' checks
    tree.py      what the block diagram draws: the view as chains, branches, frames
    canvas.py    sizes, colours, texts, and the canvas both styles draw on
    blocks.py    the block diagram's layout           volumes.py   the volumes style

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

from typing import NamedTuple

from ...errors import SettingsError
from ..formats import DIRECTIONS, EMPHASES, check_view
from ..formats import DRAW_STYLES as STYLES
from ..structure import fold, max_level
from .blocks import BlockDiagram
from .canvas import GLYPH, LABEL_MAX, MAX_BOXES, box_label, caption_lines, rows_text, share, summary_line
from .tree import arm_paths, exit_row, framed, tree
from .volumes import VolumeChain, drawn_volume

__all__ = ["GLYPH", "LABEL_MAX", "MAX_BOXES", "Drawing", "arm_paths", "box_label", "draw", "render_svg", "share", "strips",
           "summary_line"]


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
        body = VolumeChain(report, view, emphasis, color, links)
    else:
        body = BlockDiagram(report, emphasis, direction == "down", color, links).draw(blocks_chain(report, view, depth))
    return Drawing(body.document(caption), depth, note)


def strips(report: dict, depth: int | None = None, height: float = 600, color: bool = True,
           links: bool = False) -> tuple[list[str], int | None, str | None]:
    """The block diagram (top to bottom) cut into SVGs at most `height` px long (their captions aside),
    for a page to set side by side and to print without cutting a box: the first has the caption, each
    other one says which row it continues from. Returns them, the depth drawn and draw()'s note."""
    depth, note = choose_depth(report, depth)
    view = fold(report, depth)
    pieces = BlockDiagram(report, None, True, color, links).split(blocks_chain(report, view, depth), height)
    out = []
    for k, piece in enumerate(pieces):
        before = exit_row(pieces[k - 1][-1]) if k else None
        caption = [f"continued from {rows_text({'index': before})}"] if k else \
            caption_lines(report, depth, note, None, "blocks")
        canvas = BlockDiagram(report, None, True, color, links)
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
    choices = sorted(d for d in drawable if d is not None)  # the depths this style can draw (volumes: chains)
    span = f"{choices[0]} to {choices[-1]}" if len(choices) > 1 else f"{choices[0]}"
    return chosen, f"folded to depth {chosen} ({boxes[chosen]:,} boxes): {why}; choose with --depth N ({span})"


def _boxes(report: dict, depth: int | None, style: str) -> int:
    view = fold(report, depth)
    if style == "volumes":
        return sum(1 for r in view if drawn_volume(r))
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

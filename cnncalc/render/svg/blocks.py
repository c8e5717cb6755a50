"""The block diagram: boxes along the flow, a branch's arms side by side, shortcut lanes outside them,
frames around open blocks; down or right."""

from __future__ import annotations

import math
from typing import NamedTuple

from ...kinds import KINDS, MERGES
from .canvas import (BAR_GAP, BAR_H, BAR_LEN, BLOCK_FILL, BOX_H, FRAME_HEAD, FRAME_HEAD_R, FRAME_PAD, GAP, GLYPH, INK,
                     LANE_GAP, MERGE_R, MIN_W, MUTED, NAME_SIZE, PAD, SKIP_GAP, SMALL_SIZE, WARN, WARN_FILL, Canvas,
                     box_label, clip, num, text, text_width, volume)
from .tree import Branch, Frame

# px a piece may grow past its length to keep a lone box: with the captions, a column stays inside a landscape A4
# page (718 px) when the length is the HTML report's 560
LONE_SLACK = 84


class Extent(NamedTuple):
    main: float  # along the flow
    left: float  # to the left of the centre line (above it when the flow runs right)
    right: float  # to the right (below)


class BlockDiagram(Canvas):
    """The block diagram of a view: measure, then place, element by element."""

    def __init__(self, report: dict, emphasis: str | None, down: bool, color: bool, links: bool) -> None:
        super().__init__(report, emphasis, color, links)
        self.down = down
        self.sizes: dict[int, Extent] = {}
        self.bar_at: dict[int, float] = {}  # down: where a row's bar starts, from the centre line (align_bars)

    def draw(self, chain: list, incoming: str | None = None) -> BlockDiagram:
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
        longer than that is cut between its own elements into frames of the same block. A piece of one box
        stays with the piece before it, which may then be up to LONE_SLACK longer (a column of one RELU box
        said nothing)."""
        kept: list[list] = []
        for piece in self._cut(chain, height):
            if kept and len(piece) == 1 and not isinstance(piece[0], (Frame, Branch)):
                before = sum(self.extent(e).main for e in kept[-1]) + GAP * (len(kept[-1]) - 1)
                if before + GAP + self.extent(piece[0]).main <= height + LONE_SLACK:
                    kept[-1] = kept[-1] + piece
                    continue
            kept.append(piece)
        return kept

    def _cut(self, chain: list, height: float) -> list[list]:
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

    def extent(self, element) -> Extent:
        key = id(element)
        if key not in self.sizes:
            if isinstance(element, Branch):
                self.sizes[key] = self.branch_extent(element)[0]
            elif isinstance(element, Frame):
                self.sizes[key] = self.frame_extent(element)
            else:
                self.sizes[key] = self.node_extent(element)
        return self.sizes[key]

    def node_extent(self, row: dict) -> Extent:
        w, h = self.box(row)
        if self.down:
            return Extent(h, w / 2, self.bar_at.get(id(row), w / 2) + self.bar_width())
        return Extent(max(w, self.bar_width() - BAR_GAP), h / 2, h / 2 + (BAR_GAP + BAR_H if self.emphasis else 0))

    def merge_label(self, row: dict) -> str:
        return f"{row['name']} {volume(row['output'])}" + ("" if row["fits"] else " " + GLYPH)

    def merge_extent(self, row: dict) -> Extent:
        label = text_width(self.merge_label(row), SMALL_SIZE)
        if self.down:  # the label left of the circle: shortcuts come in from the right
            return Extent(2 * MERGE_R, MERGE_R + 6 + label, MERGE_R)
        return Extent(max(2 * MERGE_R, label), MERGE_R + 6 + SMALL_SIZE, MERGE_R)

    def chain_extent(self, chain: list) -> Extent:
        sizes = [self.extent(e) for e in chain]
        return Extent(sum(s.main for s in sizes) + GAP * max(len(sizes) - 1, 0),
                       max((s.left for s in sizes), default=0.0), max((s.right for s in sizes), default=0.0))

    def arms_layout(self, branch: Branch) -> tuple[list[float], list[Extent], float, float]:
        """Each arm's centre (relative to the branch's centre line), the arms' extents, and how far
        the arms reach to the left and right: one arm stays on the centre line, several are centred
        as a group."""
        sizes = [self.chain_extent(arm) for arm in branch.arms]
        if KINDS[branch.merge["kind"]].side:  # a side head: beside the line the network goes on along
            centres = [(sizes[0].left if sizes else MERGE_R) + LANE_GAP]  # {ID}: the output node alone
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

    def branch_extent(self, branch: Branch) -> tuple[Extent, list[float], list[Extent], float]:
        """The branch's extent, its arms' centres and extents, and where its first shortcut lane runs."""
        centres, sizes, left, right = self.arms_layout(branch)
        merge = self.merge_extent(branch.merge)
        if KINDS[branch.merge["kind"]].side:  # its output node ends the head's lane, its label on the right
            label = text_width(self.merge_label(branch.merge), SMALL_SIZE)
            merge = Extent(merge.main, 0.0, centres[0] + MERGE_R + 6 + label if self.down else centres[0] + merge.right)
        lane = max(right, MERGE_R) + SKIP_GAP
        lanes = lane + SKIP_GAP * (len(branch.skips) - 1) + 2 if branch.skips else 0.0
        arms_main = max((s.main for s in sizes), default=0.0)
        main = arms_main + GAP + merge.main if sizes else merge.main + 2 * GAP  # shortcuts only: room to bend
        return Extent(main, max(left, merge.left), max(right, merge.right, lanes)), centres, sizes, lane

    def frame_label(self, frame: Frame) -> str:
        b = frame.block
        name = f"{b['name'].removesuffix('*' + str(b['repeat']))} x{b['repeat']}" if b["repeat"] is not None \
            else b["name"]
        return clip(name) + (" (continued)" if frame.part else "")

    def frame_extent(self, frame: Frame) -> Extent:
        """Down: a band above the elements holds the label, right of the centre line (where only the
        edge coming in runs); right: the band is above the elements."""
        inner = self.chain_extent(frame.items)
        label = text_width(self.frame_label(frame), SMALL_SIZE)
        if self.down:
            return Extent(FRAME_HEAD + inner.main + FRAME_PAD, inner.left + FRAME_PAD,
                           max(inner.right + FRAME_PAD, 8 + label + FRAME_PAD))
        return Extent(max(2 * FRAME_HEAD_R + inner.main, label + 2 * FRAME_PAD), inner.left + FRAME_HEAD,
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
        d = " ".join(("M" if i == 0 else "L") + "{},{}".format(*map(num, self.xy(*p))) for i, p in enumerate(points))
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
                 f'<rect class="box" x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="4" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>']
        if folded:  # a double border: this box holds several rows
            parts.append(f'<rect x="{num(x + 3)}" y="{num(y + 3)}" width="{num(w - 6)}" height="{num(h - 6)}" rx="2" '
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
            head = exits[0] if exits else source  # {ID}: the head's output is the branch's input
            if head is not None:
                self.edge(head[0], (centre_main - MERGE_R, at), head[1], branch.merge["index"])
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
                 f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="6" fill="none" '
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
                 f'<circle cx="{num(x)}" cy="{num(y)}" r="{MERGE_R}" fill="#ffffff" stroke="{stroke}" '
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

"""The volumes style: a chain of 3D boxes, each output volume's height, depth and width growing with log2 of
H, W and C, as the course notes draw VGG and AlexNet."""

from __future__ import annotations

import math

from ...kinds import KINDS
from .canvas import (BAR_H, BAR_LEN, INK, LINE, MUTED, NAME_SIZE, SMALL_SIZE, WARN, WARN_FILL, Canvas, box_label, num,
                     text_width, volume)


def drawn_volume(row: dict) -> bool:
    return "block" in row or not KINDS[row["kind"]].elementwise  # element-wise rows are not drawn as volumes


def _log_size(n: int, base: float, per_doubling: float) -> float:
    return base + per_doubling * math.log2(max(n, 1))


class VolumeChain(Canvas):
    """A chain of 3D volumes, left to right, wrapped into rows of at most ROW_WIDTH px."""

    ROW_WIDTH = 1100
    SLOT_GAP = 22

    def __init__(self, report: dict, view: list[dict], emphasis: str | None, color: bool, links: bool) -> None:
        super().__init__(report, emphasis, color, links)
        items = [r for r in view if drawn_volume(r)]
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
                self.parts.append(f'<path class="flow" d="M{num(previous + 4)},{num(middle)} L{num(left - 4)},'
                                  f'{num(middle)}" stroke="{MUTED}" stroke-width="1" marker-end="url(#{self.marker})"/>')
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
        parts += [f'<polygon class="{name}" points="{" ".join(f"{num(px)},{num(py)}" for px, py in points)}" '
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

"""The design's structure as the expander records it: every block call, [..] group, X*N repeat and
branch, by the range of report rows it made (`Block`), and how the drawings and the JSON name it."""

from __future__ import annotations

from ..errors import Span, excerpt


class Block:
    """One block call, group, repeat or branch of the design, by the rows it made.

    kind:   "call", "group", "repeat" or "branch"
    span:   where it is written (its `text`); `label`: the span whose text names it, when `name` is None
    name:   the call with its arguments' values (`basic(64)`), a repeated layer's name (`RELU`), or None
    parent: the index of the record around it in LayerGraph.blocks, or None at the top level
    level:  1 for an item of the architecture's chain, +1 inside each record
    first, last: its first and last row (0 is INPUT)
    repeat: N of X*N, else None
    depth, arm: the branch depth and arm it sits in, as its rows' `depth` and `arm`
    """

    __slots__ = ("arm", "depth", "first", "kind", "label", "last", "level", "name", "parent", "repeat", "span")

    def __init__(self, kind: str, span: Span, label: Span, name: str | None, parent: int | None, level: int,
                 first: int, last: int, repeat: int | None, depth: int, arm: int | None) -> None:
        self.kind, self.span, self.label, self.name, self.parent = kind, span, label, name, parent
        self.level, self.first, self.last, self.repeat, self.depth, self.arm = level, first, last, repeat, depth, arm

    def __repr__(self) -> str:
        return f"Block({self.kind!r}, rows {self.first}-{self.last}, level {self.level}, parent {self.parent})"


def written(span: Span, width: int) -> str:
    """A piece of design as written, comments dropped and white space collapsed, at most `width` characters."""
    start, end = span.start, span.end
    text = "\n".join(line.partition("#")[0] for line in span.source.text[start:min(end, start + 4 * width + 200)]
                     .split("\n"))
    return excerpt(text, width, len(text) + (end - start > 4 * width + 200))


def row_paths(blocks: list[Block], rows: int) -> list[str | None]:
    """Each row's place in the design, by the block calls and X*N repeats around it, outermost first:
    `bottleneck(64)*2 #1 > ...`; a call repeated is named once, by its repeat. None where a row is in
    neither (and for INPUT). One pass over the records, each over its rows."""
    parts: list[list[str] | None] = [None] * rows
    names: list[str | None] = []  # each record's own segment, for its children to compare
    for b in blocks:
        segment = None
        if b.kind == "repeat" and b.repeat:
            segment = f"{b.name or '[..]'}*{b.repeat}"
        elif b.kind == "call" and not (b.parent is not None and blocks[b.parent].kind == "repeat"
                                       and blocks[b.parent].name == b.name):
            segment = b.name
        names.append(segment)
        if segment is None:
            continue
        size = (b.last - b.first + 1) // b.repeat if b.kind == "repeat" else 0
        for row in range(b.first, min(b.last + 1, rows)):
            text = f"{segment} #{(row - b.first) // size + 1}" if size else segment
            if parts[row] is None:
                parts[row] = [text]
            else:
                parts[row].append(text)
    return [None if p is None else " > ".join(p) for p in parts]

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

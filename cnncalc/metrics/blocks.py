"""The report's `blocks`: each record of the design's structure (graph/blocks.py) with the sums of the
rows it made."""

from __future__ import annotations

from itertools import accumulate

from ..graph.blocks import Block, written

BLOCK_SUMS = ("params", "weights", "biases", "buffers", "macs", "memory_bytes", "saved_bytes")


def block_contract(blocks: list[Block], rows: list[dict]) -> list[dict]:
    """The records as the JSON contract's `blocks`: each with its rows' sums (null when a row in it
    does not know the metric); `activations` counts, as totals.activations does, only the rows that
    add memory. Prefix sums: linear in rows and records."""
    if not blocks:
        return []
    partial = any(r["unsupported"] for r in rows)  # else no metric of any row is null
    sums = {key: list(accumulate((r[key] or 0 for r in rows) if partial else (r[key] for r in rows), initial=0))
            for key in BLOCK_SUMS}
    sums["activations"] = list(accumulate((r["activations"] if r["memory_bytes"] else 0 for r in rows), initial=0))
    unknown = {key: list(accumulate((r[key] is None for r in rows), initial=0)) for key in BLOCK_SUMS} if partial else {}
    names = _Names()
    out = []
    for i, b in enumerate(blocks):
        lo, hi = b.first, b.last + 1
        line, column, text = names.place(b)
        block = {"id": i, "kind": b.kind, "name": names.name(b), "text": text, "parent": b.parent, "level": b.level,
                 "depth": b.depth, "arm": b.arm, "first": b.first, "last": b.last, "repeat": b.repeat,
                 "line": line, "column": column, "source": b.span.source.label or "design"}
        for key, prefix in sums.items():
            block[key] = prefix[hi] - prefix[lo]
        for key, prefix in unknown.items():
            if prefix[hi] - prefix[lo]:
                block[key] = None
        out.append(block)
    return out


class _Names:
    """A record's name and place, each text made once for the many records written at one place (the
    copies of a repeat, the calls of a block)."""

    def __init__(self) -> None:
        self.places: dict[int, tuple[int, int, str]] = {}  # by span: line, column, the text as written
        self.labels: dict[int, str] = {}  # the shorter text that names a group, a branch or a repeated one

    def place(self, b: Block) -> tuple[int, int, str]:
        key = id(b.span)
        if key not in self.places:
            self.places[key] = (*b.span.line_col(), written(b.span, 80))
        return self.places[key]

    def name(self, b: Block) -> str:
        if b.name is not None:
            name = b.name
        else:
            label = id(b.label)
            if label not in self.labels:
                self.labels[label] = written(b.label, 48)
            name = self.labels[label]
        return name if b.repeat is None else f"{name}*{b.repeat}"

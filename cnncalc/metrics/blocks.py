"""The report's `blocks`: each record of the design's structure (graph/blocks.py) with the sums of the
rows it made."""

from __future__ import annotations

from itertools import accumulate
from operator import itemgetter, sub

from ..graph.blocks import Block, written

BLOCK_SUMS = ("params", "weights", "biases", "buffers", "macs", "memory_bytes", "saved_bytes")


def block_contract(blocks: list[Block], rows: list[dict]) -> list[dict]:
    """The records as the JSON contract's `blocks`: each with its rows' sums (null when a row in it
    does not know the metric); `activations` counts, as totals.activations does, only the rows that
    add memory. Prefix sums: linear in rows and records."""
    if not blocks:
        return []
    ends = [b.first for b in blocks], [b.last + 1 for b in blocks]
    columns = {key: list(map(itemgetter(key), rows)) for key in BLOCK_SUMS}
    unknown = {}
    if any(map(itemgetter("unsupported"), rows)):  # else no metric of any row is null
        unknown = {key: _sums([value is None for value in values], ends) for key, values in columns.items()}
        columns = {key: [value or 0 for value in values] for key, values in columns.items()}
    columns["activations"] = [count if memory else 0 for count, memory in zip(map(itemgetter("activations"), rows),
                                                                                 columns["memory_bytes"])]
    names = _Names()
    out = []
    sums = zip(*[_sums(values, ends) for values in columns.values()])  # in the order of BLOCK_SUMS, activations
    for i, (b, (params, weights, biases, buffers, macs, memory, saved, activations)) in enumerate(zip(blocks, sums)):
        line, column, text = names.place(b)
        out.append({"id": i, "kind": b.kind, "name": names.name(b), "text": text, "parent": b.parent, "level": b.level,
                    "depth": b.depth, "arm": b.arm, "first": b.first, "last": b.last, "repeat": b.repeat,
                    "line": line, "column": column, "source": b.span.source.label or "design",
                    "params": params, "weights": weights, "biases": biases, "buffers": buffers, "macs": macs,
                    "memory_bytes": memory, "saved_bytes": saved, "activations": activations})
    for key, counts in unknown.items():
        for block, count in zip(out, counts):
            if count:
                block[key] = None
    return out


def _sums(values: list, ends: tuple[list[int], list[int]]) -> list:
    """Each block's sum of `values` (one per row), by prefix sums; `ends`: the blocks' first rows and the
    rows after their last."""
    prefix = list(accumulate(values, initial=0))
    at = prefix.__getitem__
    return list(map(sub, map(at, ends[1]), map(at, ends[0])))


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

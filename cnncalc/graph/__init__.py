"""The expanded design: a tree of layers and branches (`LayerGraph`), made by `expand` from the syntax
tree, and walked in execution order by `walk`."""

from __future__ import annotations

from ..kinds import Input, Item, Volume


class LayerGraph:
    """The expanded design: its input, then everything after it in execution order; `blocks`, the
    block calls, groups, repeats and branches the rows came from (expand.Block, by row range)."""

    __slots__ = ("input", "items", "assumptions", "blocks", "written", "warnings")

    def __init__(self, input: Input, items: list[Item], assumptions: list[str] | None = None,
                 blocks: list | None = None, written: Volume | None = None, warnings: list[str] | None = None) -> None:
        self.input = input
        self.items = items
        self.assumptions = assumptions or []
        self.blocks = blocks or []
        self.written = written  # the input size the design itself writes, when --input or -D input= overrides it
        self.warnings = warnings or []  # what the report warns of before its rows (a -D that changes nothing)

"""The names of the exported network's modules (`cnncalc export --to pytorch`), without writing it: each
row's module as `named_modules()` names it, for the report's `module` key. The export's writer names its
modules with the same `Names`, so the two cannot drift (tests/test_torch.py builds the network and checks)."""

from __future__ import annotations

from ..kinds import Branch
from . import LayerGraph
from .walk import Walk


def call_base(name: str | None) -> str:
    """The module name of a block call (before its number): the block's name as written, lower case
    (`bneck(64, 24)` -> `bneck`), or `block` where that is no Python name."""
    base = (name or "").partition("(")[0].strip().lower()
    return base if base.isidentifier() and base.isascii() else "block"


class Names:
    """The exported network's module names, given in the walk's order: a row's module by its kind's base and a
    count (conv1, bn1, add1), a block call's nn.Sequential by the block's name (bneck1), named at its first
    row, an outer call before an inner one. The export's writer and `module_paths` share it."""

    def __init__(self, blocks: list | None) -> None:
        self.counts: dict[str, int] = {}
        # the design's block calls, innermost first: (first row, last row, module name base)
        self.calls = sorted(((b.first, b.last, call_base(b.name)) for b in blocks or () if b.kind == "call"),
                            key=lambda c: (c[1] - c[0], c[0]))
        self.starting: dict[int, list] = {}  # first row -> the calls that start there, the outermost first
        for call in sorted(self.calls, key=lambda c: (c[0], c[0] - c[1])):
            self.starting.setdefault(call[0], []).append(call)
        self.by_first = {row: list(calls) for row, calls in self.starting.items()}  # kept: the writer's
        self.call_names: dict[tuple, str] = {}

    def name(self, base: str) -> str:
        self.counts[base] = self.counts.get(base, 0) + 1
        return f"{base}{self.counts[base]}"

    def open(self, row: int) -> list[tuple]:
        """The calls that start at this row, named now (each once), the outermost first."""
        opened = self.starting.pop(row, [])
        for call in opened:
            self.call_names[call] = self.name(call[2])
        return opened


class _Paths(Walk):
    """The qualified name of each row's module in the exported Net (`named_modules()`), in row order: the
    writer's names (`Names`), inside `layers`, each block call's nn.Sequential and each branch's arms."""

    def __init__(self, blocks: list | None) -> None:
        self.modules = Names(blocks)
        self.row = 0
        self.paths: list[str | None] = [None]  # INPUT has no module
        self.stack = ["layers"]  # the containers around the current row
        self.ends: dict[int, int] = {}  # a call's last row -> the calls (containers) that close after it
        self.branches: list[str] = []  # the open branches' names
        self.bases: dict = {}  # a layer -> its module's base name (its kind's emit): a design repeats layers
        self.shapes: dict = {}  # (a layer, its input) -> (its output, its base name)
        self.pending: dict[int, list] = {}  # a first row -> the calls named there, not yet opened as containers
        self.counted: dict[int, int] = {}  # id(item) -> its rows
        self.chains: list[set[int]] = []  # the open chains' item ends (chain())

    def helper(self, name: str, source: str) -> None:
        """A kind's emitter asks for a helper module: not needed for names."""

    def chain(self, items: list) -> None:
        """The rows at which this chain's items end: a call that starts with one of its items is its
        container only if it ends with one of them too (the writer wraps those items); one that ends inside
        an item waits for that item's own chain."""
        ends, row = set(), self.row
        for item in items:
            row += self.rows(item)
            ends.add(row)
        self.chains.append(ends)

    def opening(self) -> None:
        """Before an item: the calls that start at its first row, named (all of them, the outermost first,
        as the writer names them), and those this chain holds opened as containers."""
        first = self.row + 1
        opened = self.modules.open(first)
        if opened:
            self.pending.setdefault(first, []).extend(opened)
        waiting = self.pending.get(first)
        if not waiting:
            return
        ends = self.chains[-1]
        for call in [c for c in waiting if c[1] in ends]:
            waiting.remove(call)
            self.stack.append(self.modules.call_names[call])
            self.ends[call[1]] = self.ends.get(call[1], 0) + 1

    def rows(self, item) -> int:
        """The rows an item makes: a layer one, a branch its arms' and its merge's."""
        known = self.counted.get(id(item))
        if known is None:
            known = self.counted[id(item)] = (1 if not isinstance(item, Branch) else
                                              1 + sum(self.rows(i) for arm in item.arms for i in arm))
        return known

    def named(self, name: str) -> None:
        """The next row's module; then the calls that end with it close."""
        self.row += 1
        self.paths.append(".".join((*self.stack, name)))
        for _ in range(self.ends.pop(self.row, 0)):
            self.stack.pop()

    def layer(self, layer, x, depth: int, arm: int | None):
        self.opening()
        key = (layer, x)  # a design repeats its layer objects: each shape and module base computed once
        known = self.shapes.get(key)
        if known is None:
            y = layer.apply(x)[0]
            base = self.bases.get(layer)
            if base is None:
                base = self.bases[layer] = layer.emit(self, x, y, False)[0]
            known = self.shapes[key] = (y, base)
        self.named(self.modules.name(known[1]))
        return known[0]

    def branch(self, branch: Branch, x, depth: int, arm: int | None):
        self.opening()
        self.branches.append(self.modules.name(branch.kind))
        return super().branch(branch, x, depth, arm)

    def arm(self, branch: Branch, x, index: int):
        if index > 1:
            self.stack.pop()
            self.chains.pop()  # the arm before's chain
        self.stack.append(f"{self.branches[-1]}.arms.{index - 1}")
        return branch.arm_input(x)

    def merge(self, branch: Branch, x, ends: list, names: list[str], depth: int, arm: int | None):
        self.stack.pop()
        self.chains.pop()  # the last arm's chain
        self.named(self.branches.pop())
        return branch.after(x, branch.join(ends, names))


def module_paths(graph: LayerGraph) -> list[str | None]:
    """Each row's module in the exported network, as `named_modules()` names it (None for INPUT)."""
    paths = _Paths(graph.blocks)
    paths.walk(graph.items, graph.input.size)
    return paths.paths

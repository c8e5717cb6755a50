"""The expander's items: the layers a design makes, counted before anything is expanded, then each
item expanded in turn (a layer, a [..] group, a branch, a repeat, an optional, a block call), with
the records of the design's structure (graph/blocks.py) as the expansion goes."""

from __future__ import annotations

from ..dsl import ast
from ..errors import DesignError, Span, excerpt
from ..graph.blocks import Block
from ..kinds import MERGES, OPERATORS, Branch, Item
from ..kinds.base import INPLACE
from .layers import Deferred
from .scope import MAX_DEPTH, Local
from .values import NeedsInput


class Items:
    """Counting and expanding (a mixin of the Expander: its state is the Expander's)."""

    # -- counting (before expanding) -------------------------------------------------
    def count(self, node: ast.Node, local: Local) -> int:
        self.enter(node.span)
        try:
            match node:
                case ast.Layer(word=word):
                    if word == "INPUT":
                        raise DesignError("INPUT can only be the first layer of the architecture", node.span)
                    n = 1
                case ast.Chain(terms=terms):
                    n = 0
                    for t in terms:
                        n += self.count(t, local)
                        self.limit(n, t.span)
                case ast.Branch(arms=arms):
                    n = 1
                    for a in arms:
                        n += self.count(a, local)
                        self.limit(n, a.span)
                case ast.Repeat(body=body, count=count):
                    times = self.repeat_count(count, local)
                    n = times * self.count(body, local) if times else 0
                case ast.Optional(body=body):
                    n = self.count(body, local) if self.include_optional else 0
                case ast.Ref() if node.name in local:
                    bound = self.bound(node, local)
                    n = self.in_scope(bound, self.count, bound.node, bound.local)
                case ast.Ref():
                    block, call_local, key = self.call(node, local)
                    if key not in self.counts:
                        self.calls.append(node.name)
                        try:
                            self.counts[key] = self.count(block.body, call_local)
                        finally:
                            self.calls.pop()
                    n = self.counts[key]
            self.limit(n, node.span)
            return n
        finally:
            self.depth -= 1

    def limit(self, n: int, span: Span) -> None:
        if n + 1 > self.max_layers:
            raise DesignError(f"the design expands to more than {self.max_layers:,} layers "
                              f"(raise the limit with --max-layers)", span)

    def enter(self, span: Span) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH * 2:
            self.depth = 0
            raise DesignError(f"blocks and brackets are nested more than {MAX_DEPTH} levels deep", span)

    def repeat_count(self, count: ast.Expr, local: Local) -> int:
        times = self.eval(count, local)
        if times < 0:
            raise DesignError(f"a repeat count cannot be negative, got {times}", count.span)
        return times

    # -- expansion --------------------------------------------------------------------
    # `sole`: the node makes exactly the rows of the record around it (or of a node that makes them and
    # is itself not recorded), so it is not recorded: the ranges of the records never repeat.
    def expand_chain(self, node: ast.Chain, local: Local, out: list[Item], sole: bool) -> None:
        """A chain that is not an item of its own: the architecture, a block's body, a branch's arm."""
        self.enter(node.span)
        try:
            self.terms(node.terms, local, out, sole)
        finally:
            self.depth -= 1

    def terms(self, terms: list[ast.Node], local: Local, out: list[Item], sole: bool) -> None:
        if len(terms) == 1:
            self.expand(terms[0], local, out, sole)
            return
        for t in terms:
            self.expand(t, local, out, False)

    def expand(self, node: ast.Node, local: Local, out: list[Item], sole: bool = False) -> None:
        """An item: a layer, a [..] group, a branch, a repeat, an optional or a block call."""
        self.enter(node.span)
        try:
            match node:
                case ast.Layer():
                    self.expand_layer(node, local, out)
                case ast.Chain(terms=terms):  # a [..] group
                    index = None if sole else self.open("group", node.span)
                    self.terms(terms, local, out, True)
                    self.close(index)
                case ast.Branch():
                    self.expand_branch(node, local, out, sole)
                case ast.Repeat():
                    self.expand_repeat(node, local, out, sole)
                case ast.Optional(body=body):
                    if self.include_optional:
                        self.note_optional(node.span)
                        self.expand(body, local, out, sole)
                case ast.Ref() if node.name in local:  # a parameter that stands for a layer or block
                    bound = self.bound(node, local)
                    self.in_scope(bound, self.expand, bound.node, bound.local, out, sole)
                case ast.Ref():
                    self.expand_call(node, local, out, sole)
        finally:
            self.depth -= 1

    def expand_layer(self, node: ast.Layer, local: Local, out: list[Item]) -> None:
        try:
            out.append(self.layer(node, local))
        except NeedsInput:
            out.append(Deferred(node, local))
            self.deferred = True
        self.row += 1

    def expand_branch(self, node: ast.Branch, local: Local, out: list[Item], sole: bool) -> None:
        """Each arm in turn, at one branch depth more, then the merge's row."""
        index = None if sole else self.open("branch", node.span)
        around = self.branch_depth, self.branch_arm
        self.branch_depth += 1
        expanded = []
        for i, arm in enumerate(node.arms, start=1):
            self.branch_arm = i
            items: list[Item] = []
            self.expand_chain(arm, local, items, sole=False)
            expanded.append(items)
        self.branch_depth, self.branch_arm = around
        kind = OPERATORS[node.mode]
        out.append(Branch(kind, expanded, node.span, self.merge_inplace(kind, local),
                          self.merge_setting(kind, "dense", local)))
        self.row += 1  # the merge's row
        self.close(index)

    def merge_setting(self, kind: str, attr: str, local: Local):
        """A merge's `kind.attr` default as set in the design (`concat.dense = true`), else the built-in; False
        for a kind without the setting."""
        setting = next((s for s in MERGES[kind].settings if s.attr == attr), None)
        if setting is None:
            return False
        value = self.default(kind, attr, None)
        return setting.default if value is None else self.read(setting, value, f"{kind}.{attr}", local)

    def merge_inplace(self, kind: str, local: Local) -> bool:
        """A merge's `kind.inplace` default (`add.inplace = true`), unless the kind-less `inplace = false`
        turns every in-place operation off."""
        everywhere = self.defaults.get(("", "inplace"))
        if everywhere is not None and not self.read(INPLACE, everywhere.value, "inplace", local):
            return False
        return self.merge_setting(kind, "inplace", local)

    def expand_repeat(self, node: ast.Repeat, local: Local, out: list[Item], sole: bool) -> None:
        """X*N: X expanded once, its items and records repeated (layer models are immutable: repeats
        share them)."""
        body = node.body
        times = self.repeat_count(node.count, local)
        if not times:
            return
        index = None if sole else self.open("repeat", node.span, body.span, repeat=times)
        first, start = self.row, len(self.records)
        once: list[Item] = []
        self.expand(body, local, once, sole or times == 1)
        rows, end = self.row - first, len(self.records)
        if end > start:
            for k in range(1, times):
                self.replay(start, end, k * rows, len(self.parents) + 1, self.branch_depth)
        self.row += rows * (times - 1)
        out.extend(once * times)
        if index is not None:
            self.records[index].name = self.item_name(body, local, once)
        self.close(index)

    def note_optional(self, span: Span) -> None:
        """An included optional is said once in the report's assumptions."""
        line, col = span.line_col()
        start, end = span.start, span.end
        text = excerpt(span.source.text[start:min(end, start + 241)], 60, end - start)
        self.optionals[(start, end)] = (f"optional '{text}' at line {line}, column {col} is included "
                                        f"(--optional exclude drops it)")

    def expand_call(self, node: ast.Ref, local: Local, out: list[Item], sole: bool) -> None:
        """A block call: its body expanded once for each set of arguments, the items and records of a
        call with the same arguments copied."""
        block, call_local, key = self.call(node, local)
        index = None if sole else self.open("call", node.span, name=self.call_name(key, node))
        cached = self.expansions.get(key)
        if cached is None:
            first, start, level = self.row, len(self.records), len(self.parents) + 1
            self.calls.append(node.name)
            try:
                items = []
                self.expand_chain(block.body, call_local, items, sole=True)
            finally:
                self.calls.pop()
            cached = self.expansions[key] = (items, self.row - first, first, start, len(self.records), level,
                                             self.branch_depth)
        else:
            items, rows, first, start, end, level, depth = cached
            if end > start:
                self.replay(start, end, self.row - first, level, depth)
            self.row += rows
        out.extend(items)
        self.close(index)

    # -- the structure's records -----------------------------------------------------------
    def open(self, kind: str, span: Span, label: Span | None = None, name: str | None = None,
             repeat: int | None = None) -> int:
        index = len(self.records)
        self.records.append(Block(kind, span, label or span, name, self.parents[-1] if self.parents else None,
                                 len(self.parents) + 1, self.row, self.row - 1, repeat, self.branch_depth,
                                 self.branch_arm))
        self.parents.append(index)
        return index

    def close(self, index: int | None) -> None:
        if index is None:
            return
        self.parents.pop()
        block = self.records[index]
        block.last = self.row - 1
        if block.last < block.first:  # no rows (X*0 inside, an optional excluded): nothing to fold
            del self.records[index:]

    def replay(self, start: int, end: int, shift: int, level: int, depth: int) -> None:
        """Copy the records blocks[start:end], made where a record's level was `level` and the branch
        depth `depth`, to the rows `shift` further on, here (a repeat's next copy, a cached block call)."""
        base = len(self.records)
        parent = self.parents[-1] if self.parents else None
        levels = len(self.parents) + 1 - level
        depths = self.branch_depth - depth
        arm = self.branch_arm
        for b in self.records[start:end]:
            up = b.parent
            self.records.append(Block(b.kind, b.span, b.label, b.name,
                                     base + up - start if up is not None and up >= start else parent,
                                     b.level + levels, b.first + shift, b.last + shift, b.repeat, b.depth + depths,
                                     arm if b.depth == depth else b.arm))

    @staticmethod
    def call_name(key: tuple, node: ast.Ref) -> str:
        """basic(64): the block's name and its arguments' values; `stem` without parentheses."""
        name, args = key
        return name if node.args is None else f"{name}({', '.join(map(str, args))})"

    def item_name(self, node: ast.Node, local: Local, items: list[Item]) -> str | None:
        """A repeated item's name, or None for the text as written: a layer's (RELU), a call's (basic(64))."""
        if isinstance(node, ast.Layer) and items:
            return items[0].name
        if isinstance(node, ast.Ref):
            return self.call_name(self.call(node, local)[2], node)
        return None

"""Expand a parsed design into a LayerGraph: repeats, optionals, variables,
blocks and layer defaults resolved into a tree of layers and branches.

A layer's settings are resolved by one loop over its kind's declared settings
(`cnncalc.layers`): the layer's own value, else the `kind.attr` default, else
the family's (`conv.*` for DWCONV, DECONV, LOCAL), else the setting's built-in
default; then the kind's own checks across settings.

The number of layers a design expands to is counted first, without expanding,
so a repetition that would make more than `max_layers` layers is refused at
once instead of after filling memory.

As it expands, the expander records the design's structure (`Block`): every block call
(`basic(64)`), `[..]` group, `X*N` repeat and `( | )` or `( + )` branch, by the range of
report rows it made, so that a table can fold rows into what the design wrote. A record
that would span exactly the rows of the one around it (the group that is a block's whole
body, `[X]` around a single item, the item of `X*1`) is left out, and so is one that makes
no rows: the ranges then nest without repeating, at most two records a row.
"""

from __future__ import annotations

import re

from itertools import accumulate

from .dsl import ast
from .dsl.names import refuse_unused, unread_defaults
from .dsl.written import numeric_settings, written_settings
from .dsl.parser import parse, parse_definition
from .errors import DesignError, DesignSyntaxError, Span, did_you_mean, excerpt
from .graph import LayerGraph
from .graph.walk import Walk, arm_name
from .kinds import (LAYERS, MAX_VALUE, OPERATORS, REQUIRED, SAME_PAD, SHARED_SETTINGS, WORDS, Branch, Input,
                    Item, Layer, Setting, Volume, same_pad, split_word)
from .settings import MAX_LAYERS

MAX_DEPTH = 100  # blocks within blocks, brackets within brackets: at most this deep
MAX_EVAL_DEPTH = 200  # parentheses and variables defined by variables, nested



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

    __slots__ = ("kind", "span", "label", "name", "parent", "level", "first", "last", "repeat", "depth", "arm")

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


BLOCK_SUMS = ("params", "weights", "biases", "buffers", "macs", "memory_bytes", "saved_bytes")


def block_contract(blocks: list[Block], rows: list[dict]) -> list[dict]:
    """The records as the JSON contract's `blocks`: each with its rows' sums (null when a row in it
    does not know the metric); `activations` counts, as totals.activations does, only the rows that
    add memory. Prefix sums: linear in rows and records."""
    if not blocks:
        return []
    partial = any(r["unsupported"] for r in rows)  # else no metric of any row is null
    sums, unknown = {}, {}
    for key in BLOCK_SUMS:
        if partial:
            sums[key] = list(accumulate((r[key] or 0 for r in rows), initial=0))
            unknown[key] = list(accumulate((r[key] is None for r in rows), initial=0))
        else:
            sums[key] = list(accumulate((r[key] for r in rows), initial=0))
    stored = list(accumulate((r["activations"] if r["memory_bytes"] else 0 for r in rows), initial=0))
    params, weights, biases, buffers, macs, memory_bytes, saved_bytes = (sums[key] for key in BLOCK_SUMS)
    texts: dict[int, str] = {}  # the text as written, by span
    names: dict[int, str] = {}  # the shorter text that names a group, a branch or a repeated one
    places: dict[int, tuple[int, int]] = {}
    out = []
    for i, b in enumerate(blocks):
        lo, hi = b.first, b.last + 1
        key = id(b.span)
        if key not in texts:
            texts[key] = written(b.span, 80)
            places[key] = b.span.line_col()
        if b.name is not None:
            name = b.name
        else:
            label = id(b.label)
            if label not in names:
                names[label] = written(b.label, 48)
            name = names[label]
        if b.repeat is not None:
            name = f"{name}*{b.repeat}"
        line, column = places[key]
        block = {"id": i, "kind": b.kind, "name": name, "text": texts[key], "parent": b.parent, "level": b.level,
                 "depth": b.depth, "arm": b.arm, "first": b.first, "last": b.last, "repeat": b.repeat,
                 "line": line, "column": column, "source": b.span.source.label or "design",
                 "params": params[hi] - params[lo], "weights": weights[hi] - weights[lo],
                 "biases": biases[hi] - biases[lo], "buffers": buffers[hi] - buffers[lo], "macs": macs[hi] - macs[lo],
                 "memory_bytes": memory_bytes[hi] - memory_bytes[lo], "saved_bytes": saved_bytes[hi] - saved_bytes[lo],
                 "activations": stored[hi] - stored[lo]}
        if partial:
            for metric in BLOCK_SUMS:
                if unknown[metric][hi] - unknown[metric][lo]:
                    block[metric] = None
        out.append(block)
    return out


def build(text: str, defines: list[str] | tuple[str, ...] = (), input_size: tuple[int, int, int] | None = None,
          optional: str = "include", max_layers: int = MAX_LAYERS, label: str = "") -> LayerGraph:
    """Parse and expand a design. `defines` are `NAME=VALUE` texts that override the design's own;
    one that binds a variable or block the design never uses is an error (`dsl.names`)."""
    design = parse(text, label)
    overrides = [parse_definition(d) for d in defines]
    refuse_unused([design], overrides)
    graph = _Expander(design, overrides, input_size, optional, max_layers).run()
    graph.warnings = [unread_warning(s) for s in unread_defaults([design], overrides)]
    return graph


def unread_warning(statement: ast.DefaultDef) -> str:
    """A -D layer default that no layer reads (dsl.names.unread_defaults): it changes nothing."""
    kind = statement.kind
    return (f"-D {statement.span.source.text} changes nothing: every {kind.upper()} layer of the design gives its "
            f"own {statement.attr} (or there is none)")


class Bound:
    """A block's argument that is a layer, a group or a block call (`mb(16, HARDSWISH)`): the node and
    the caller's bindings it is expanded with, wherever the block uses the parameter."""

    __slots__ = ("node", "local", "key", "text", "calls")

    def __init__(self, node: ast.Node, local: dict, calls: list[str]) -> None:
        self.node, self.local = node, local
        self.calls = tuple(calls)  # the blocks being expanded where it was written: its own recursion check
        self.key = (id(node), tuple(sorted(local.items(), key=lambda kv: kv[0])))
        self.text = excerpt(node.span.source.text[node.span.start:node.span.end], 40)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, Bound) and self.key == other.key

    def __str__(self) -> str:
        return self.text


_NODES = (ast.Layer, ast.Ref, ast.Chain, ast.Branch, ast.Repeat, ast.Optional)
IN = "in"  # in a layer's settings, the channel count of its input: CONV1-(in/2)


class _NeedsInput(Exception):
    """A layer's setting reads `in`: the layer is made once its input is known (Deferred)."""


class Deferred:
    """A layer whose settings read `in`, made by resolve_inputs once its input's channels are known."""

    __slots__ = ("node", "local", "span", "kind")

    def __init__(self, node: ast.Layer, local: dict) -> None:
        self.node, self.local, self.span, self.kind = node, local, node.span, "deferred"


Local = dict  # a block's parameters while it expands: name -> int, or Bound


class _Expander:
    def __init__(self, design: ast.Design, overrides: list[ast.Statement], input_size, optional: str,
                 max_layers: int) -> None:
        self.design = design
        self.include_optional = optional == "include"
        self.max_layers = max_layers
        self.input_size = input_size
        self.variables: dict[str, ast.VarDef] = {}
        self.blocks: dict[str, ast.BlockDef] = {}
        self.defaults: dict[tuple[str, str], ast.DefaultDef] = {}
        self.input_from_define = False
        for statement in design.statements:
            self.define(statement)
        for statement in overrides:
            self.define(statement, override=True)
        self.values: dict[str, int] = {}  # evaluated variables
        self.evaluating: list[str] = []
        self.eval_depth = 0
        self.default_cache: dict[tuple[str, str], object] = {}
        self.plans: dict[ast.Layer, tuple] = {}  # layer_plan's, by node
        self.counts: dict[tuple, int] = {}
        self.expansions: dict[tuple, list[Item]] = {}
        self.calls: list[str] = []  # blocks being expanded, for recursion errors
        self.depth = 0
        self.optionals: dict[tuple[int, int], str] = {}
        # the structure (Block records), as the expansion goes: the next row's index, the open records,
        # and the branch depth and arm the expansion is in
        self.row = 1
        self.records: list[Block] = []
        self.parents: list[int] = []
        self.branch_depth = 0
        self.branch_arm: int | None = None
        self.reading_layer = False  # a layer's settings are being read (where `in` may be)
        self.deferred = False  # some layer reads `in`: resolve_inputs makes it

    # -- definitions ----------------------------------------------------------
    def define(self, statement: ast.Statement, override: bool = False) -> None:
        """Record a definition; `override` (a -D) replaces the design's own instead of clashing."""
        match statement:
            case ast.VarDef(name=name):
                if name in self.blocks and not override:
                    raise DesignSyntaxError(f"'{name}' is already defined as a block", statement.span)
                self.blocks.pop(name, None)
                if name in self.variables and not override:
                    raise DesignSyntaxError(f"'{name}' is defined twice", statement.span)
                self.variables[name] = statement
            case ast.BlockDef(name=name):
                if (name in self.blocks or name in self.variables) and not override:
                    raise DesignSyntaxError(f"'{name}' is defined twice", statement.span)
                self.variables.pop(name, None)
                self.blocks[name] = statement
            case ast.DefaultDef():
                self.define_default(statement, override)

    def define_default(self, statement: ast.DefaultDef, override: bool) -> None:
        """`kind.attr = value`, or a kind-less setting (`input = …`, `inplace = …`)."""
        kind, attr = statement.kind, statement.attr
        allowed = LAYERS[kind].default_attrs() if kind else SHARED_SETTINGS
        if attr not in allowed:
            what = f"'{kind}.{attr}'" if kind else f"'{attr}'"
            options = ", ".join(f"{kind}.{a}" if kind else a for a in allowed) or "none"
            raise DesignSyntaxError(f"unknown setting {what}{did_you_mean(attr, allowed)} (settings: {options})",
                                    statement.span)
        key = (kind, attr)
        if key in self.defaults and not override:
            raise DesignSyntaxError(f"'{kind + '.' if kind else ''}{attr}' is set twice", statement.span)
        self.defaults[key] = statement
        if key == ("", "input") and override:
            self.input_from_define = True

    # -- evaluation -------------------------------------------------------------
    def eval(self, expr: ast.Expr, local: Local) -> int:
        """An integer expression's value. A chain such as 1+2+3 is a left-leaning tree as deep as it
        is long, so it is folded in a loop; what still recurses (parentheses, variables defined by
        variables) is bounded by MAX_EVAL_DEPTH instead of by Python's stack."""
        self.eval_depth += 1
        try:
            if self.eval_depth > MAX_EVAL_DEPTH:
                raise DesignError(f"expressions and variables nest more than {MAX_EVAL_DEPTH} levels deep", expr.span)
            match expr:
                case ast.Num(value=value):
                    return value
                case ast.Var(name=name) if name == IN and name not in local:
                    if self.reading_layer and not self.evaluating:
                        raise _NeedsInput
                    raise DesignError(f"'{IN}' is the channel count of a layer's input: it can be used only in "
                                      f"a layer's settings, such as CONV1-({IN}/2)", expr.span)
                case ast.Var(name=name):
                    value = local[name] if name in local else self.variable(name, expr.span)
                    if isinstance(value, Bound):
                        raise DesignError(f"'{name}' is a layer or block ({value.text}), not a number", expr.span)
                    return value
                case ast.Call(name=name, args=args):
                    return self.call_function(expr, [self.eval(a, local) for a in args])
                case ast.Neg(operand=operand):
                    return -self.eval(operand, local)
                case ast.BinOp():
                    chain = []
                    node = expr
                    while isinstance(node, ast.BinOp):
                        chain.append(node)
                        node = node.left
                    value = self.eval(node, local)
                    for op_node in reversed(chain):
                        value = self.apply(op_node, value, self.eval(op_node.right, local))
                    return value
            raise AssertionError(expr)
        finally:
            self.eval_depth -= 1

    @staticmethod
    def apply(node: ast.BinOp, a: int, b: int) -> int:
        op = node.op
        if op == "+":
            value = a + b
        elif op == "-":
            value = a - b
        elif op == "*":
            value = a * b
        elif op == "//":
            if b == 0:
                raise DesignError("division by zero", node.span)
            value = a // b
        else:
            if b == 0:
                raise DesignError("division by zero", node.span)
            if a % b:
                raise DesignError(f"{a}/{b} does not divide exactly (expressions are whole numbers)", node.span)
            value = a // b
        if abs(value) > MAX_VALUE:
            raise DesignError(f"number too large: {a} {op} {b} exceeds 10^15", node.span)
        return value

    @staticmethod
    def call_function(node: ast.Call, args: list[int]) -> int:
        """min, max, and make_divisible(v, d[, least]) as the papers' code rounds widths (torchvision's
        _make_divisible): the multiple of d nearest v (halves up), at least `least` (default d), plus d
        when that falls more than 10% below v; in integers, exactly."""
        if node.name == "min":
            return min(args)
        if node.name == "max":
            return max(args)
        v, d = args[0], args[1]
        least = args[2] if len(args) == 3 else d
        if d < 1:
            raise DesignError(f"make_divisible's divisor is at least 1, got {d}", node.span)
        value = max(least, (v + d // 2) // d * d)
        value = value + d if 10 * value < 9 * v else value
        if value > MAX_VALUE:
            raise DesignError(f"number too large: make_divisible gives {value}, past 10^15", node.span)
        return value

    def variable(self, name: str, span: Span) -> int:
        if name in self.values:
            return self.values[name]
        definition = self.variables.get(name)
        if definition is None:
            if name in self.blocks:
                raise DesignError(f"'{name}' is a block, not a number", span)
            raise self.unbound([(name, span)])
        if name in self.evaluating:
            cycle = " -> ".join(self.evaluating[self.evaluating.index(name):] + [name])
            raise DesignError(f"variable '{name}' is defined in terms of itself ({cycle})", definition.span)
        self.evaluating.append(name)
        try:
            value = self.eval(definition.value, {})
        finally:
            self.evaluating.pop()
        self.values[name] = value
        return value

    @staticmethod
    def unbound(names: list[tuple[str, Span]]) -> DesignError:
        listed = ", ".join(n for n, _ in names)
        first = names[0][0]
        if split_word(first) is not None:  # CONV3-RELU: a layer word where a number goes, never a variable
            return DesignError(f"'{first}' is a layer, not a number: a number, a variable or a (expression) goes "
                               f"here, and a layer after '->'", names[0][1])
        noun, pronoun = ("variable", "it") if len(names) == 1 else ("variables", "each")
        binds = " ".join(f"-D {n}=..." for n, _ in names)
        suffix = _SUFFIXED.fullmatch(first)
        hint = (f"; if {suffix[1]} is the number and {suffix[2]} a suffix, write ({suffix[1]}){suffix[2]}: a "
                f"variable before p, d or g needs parentheses" if suffix else "")
        return DesignError(
            f"unbound {noun} {listed}: give {pronoun} a value in the design ({first} = 2) "
            f"or on the command line ({binds}){hint}", names[0][1])

    # -- the whole design ---------------------------------------------------------
    def run(self) -> LayerGraph:
        chain = self.design.chain
        assert chain is not None
        self.check_free_variables(chain)
        terms = chain.terms
        input_node = terms[0] if isinstance(terms[0], ast.Layer) and terms[0].word == "INPUT" else None
        body = ast.Chain(terms[1:] if input_node else terms, chain.span)
        self.count(body, {})  # refuses a design past max_layers before anything is expanded
        items: list[Item] = []
        self.expand_chain(body, {}, items, sole=False)
        graph_input = self.resolve_input(input_node, chain.span)
        if self.deferred:
            items = self.resolve_inputs(items, graph_input.size)[0]
        return LayerGraph(graph_input, items, list(self.optionals.values()), self.records,
                          written=self.written_input(input_node))

    def resolve_input(self, node: ast.Layer | None, chain_span: Span) -> Input:
        span = node.span if node else Span(chain_span.source, chain_span.start, chain_span.start + 1)
        if node is not None:
            extra = set(node.args) - {"size"}
            if extra or node.positional:
                raise DesignError("INPUT takes only a size, as in INPUT 224x224x3", node.span)
        if self.input_size is not None:
            h, w, c = self.input_size
        elif ("", "input") in self.defaults and (self.input_from_define or node is None or "size" not in node.args):
            h, w, c = self.size3(self.defaults[("", "input")].value)
        elif node is not None and "size" in node.args:
            h, w, c = self.size3(node.args["size"])
        else:
            raise DesignError("the input has no size: write INPUT 224x224x3, set input = 224x224x3, "
                              "or pass --input 224x224x3", span)
        return Input("INPUT", span, size=Volume(h, w, c))

    def written_input(self, node: ast.Layer | None) -> Volume | None:
        """The size the design writes for its input (INPUT's, else `input = …`), when something else set
        it (--input, -D input=); None otherwise, or when it does not evaluate on its own."""
        overridden = self.input_size is not None or self.input_from_define
        value = (node.args["size"] if node is not None and "size" in node.args else
                 self.defaults[("", "input")].value if ("", "input") in self.defaults and not self.input_from_define
                 else None)
        if not overridden or value is None:
            return None
        try:
            return Volume(*self.size3(value))
        except DesignError:
            return None

    def size3(self, value: ast.Value) -> tuple[int, int, int]:
        if not isinstance(value, ast.Size) or len(value.dims) != 3:
            raise DesignError("an input size is height x width x channels, such as 224x224x3", value.span)
        dims = tuple(self.eval(d, {}) for d in value.dims)
        for d, node in zip(dims, value.dims):
            if d < 1:
                raise DesignError(f"input sizes must be at least 1, got {d}", node.span)
        return dims  # type: ignore[return-value]

    def check_free_variables(self, chain: ast.Chain) -> None:
        """Name every unbound variable at once, with the first one's position."""
        unbound: dict[str, Span] = {}
        seen_blocks: set[str] = set()

        def expr(e: ast.Value, bound: frozenset[str]) -> None:
            for var in ast.variables_in(e):
                name = var.name
                if name not in bound and name not in self.variables and name not in self.blocks and name != IN:
                    unbound.setdefault(name, var.span)

        def node(n: ast.Node, bound: frozenset[str], depth: int) -> None:
            if depth > MAX_DEPTH:
                return  # expansion reports the depth with its position
            match n:
                case ast.Layer(word=word, args=args, positional=positional):
                    numeric = numeric_settings(word)
                    for key, v in args.items():
                        if key in numeric:  # true/false/max/avg and unknown keys: reported where they are read
                            expr(v, bound)
                    for v in positional:
                        expr(v, bound)
                case ast.Chain(terms=terms):
                    for t in terms:
                        node(t, bound, depth + 1)
                case ast.Branch(arms=arms):
                    for a in arms:
                        node(a, bound, depth + 1)
                case ast.Repeat(body=body, count=count):
                    node(body, bound, depth + 1)  # source order: the body is written before its count
                    expr(count, bound)
                case ast.Optional(body=body):
                    node(body, bound, depth + 1)
                case ast.Ref(name=name, args=args):
                    for a in args or ():
                        if isinstance(a, _NODES):
                            node(a, bound, depth + 1)
                        else:
                            expr(a, bound)
                    block = None if name in bound else self.blocks.get(name)
                    if block is not None and name not in seen_blocks:
                        seen_blocks.add(name)
                        node(block.body, frozenset(block.params), depth + 1)

        node(chain, frozenset(), 0)
        for d in self.defaults.values():
            expr(d.value, frozenset())
        for v in self.variables.values():
            expr(v.value, frozenset())
        if unbound:
            raise self.unbound(list(unbound.items()))

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

    def call(self, node: ast.Ref, local: Local) -> tuple[ast.BlockDef, dict[str, int], tuple]:
        block = self.blocks.get(node.name)
        alias, seen = node.name, set()
        while block is None and alias in self.variables and isinstance(self.variables[alias].value, ast.Var) \
                and alias not in seen:  # `a = b` read as a variable before b was known to be a block
            seen.add(alias)
            alias = self.variables[alias].value.name
            block = self.blocks.get(alias)
        if block is None:
            if node.name in self.variables:
                raise DesignError(f"'{node.name}' is a variable (a number), not a layer or block", node.span)
            hint = did_you_mean(node.name, self.blocks) or did_you_mean(node.name.upper(), WORDS)
            raise DesignError(f"unknown layer or block '{node.name}'{hint}", node.span)
        given = len(node.args or ())
        if given != len(block.params):
            wanted = f"{block.name}({', '.join(block.params)})" if block.params else block.name
            raise DesignError(f"block '{block.name}' takes {len(block.params)} argument"
                              f"{'' if len(block.params) == 1 else 's'} ({wanted}), got {given}", node.span)
        if node.name in self.calls:
            cycle = " -> ".join(self.calls[self.calls.index(node.name):] + [node.name])
            raise DesignError(f"block '{node.name}' uses itself ({cycle}); blocks cannot be recursive", node.span)
        args = tuple(self.argument(a, local) for a in node.args or ())
        return block, dict(zip(block.params, args)), (node.name, args)

    def argument(self, arg, local: dict):
        """A block's argument: a number, or a Bound layer, group or block (a bare name that is a block, or
        a parameter bound to one, passes it on)."""
        if isinstance(arg, _NODES):
            return Bound(arg, local, self.calls)
        if isinstance(arg, ast.Var):
            value = local.get(arg.name)
            if isinstance(value, Bound):
                return value
            if value is None and arg.name in self.blocks:
                return Bound(ast.Ref(arg.name, None, arg.span), {}, self.calls)
        return self.eval(arg, local)

    def in_scope(self, bound: Bound, run, *args):
        """Run count or expand on a bound argument where it was written: a block passed to itself,
        `level(64, level(128, two(1024)))`, is not recursion."""
        calls, self.calls = self.calls, list(bound.calls)
        try:
            return run(*args)
        finally:
            self.calls = calls

    def bound(self, node: ast.Ref, local: dict) -> Bound | None:
        """The layer or block a parameter used as a layer stands for (None: not a parameter)."""
        if node.name not in local:
            return None
        value = local[node.name]
        if not isinstance(value, Bound):
            raise DesignError(f"'{node.name}' is a number ({value}), not a layer or block", node.span)
        if node.args is not None:
            raise DesignError(f"'{node.name}' stands for {value.text}: give it its arguments where the block "
                              f"is called", node.span)
        return value

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
                    try:
                        out.append(self.layer(node, local))
                    except _NeedsInput:
                        out.append(Deferred(node, local))
                        self.deferred = True
                    self.row += 1
                case ast.Chain(terms=terms):  # a [..] group
                    index = None if sole else self.open("group", node.span)
                    self.terms(terms, local, out, True)
                    self.close(index)
                case ast.Branch(mode=mode, arms=arms):
                    index = None if sole else self.open("branch", node.span)
                    around = self.branch_depth, self.branch_arm
                    self.branch_depth += 1
                    expanded = []
                    for i, arm in enumerate(arms, start=1):
                        self.branch_arm = i
                        items: list[Item] = []
                        self.expand_chain(arm, local, items, sole=False)
                        expanded.append(items)
                    self.branch_depth, self.branch_arm = around
                    out.append(Branch(OPERATORS[mode], expanded, node.span))
                    self.row += 1  # the merge's row
                    self.close(index)
                case ast.Repeat(body=body, count=count):
                    times = self.repeat_count(count, local)
                    if times:
                        index = None if sole else self.open("repeat", node.span, body.span, repeat=times)
                        first, start = self.row, len(self.records)
                        once: list[Item] = []
                        self.expand(body, local, once, sole or times == 1)
                        rows, end = self.row - first, len(self.records)
                        if end > start:
                            for k in range(1, times):
                                self.replay(start, end, k * rows, len(self.parents) + 1, self.branch_depth)
                        self.row += rows * (times - 1)
                        out.extend(once * times)  # layer models are immutable: repeats share them
                        if index is not None:
                            self.records[index].name = self.item_name(body, local, once)
                        self.close(index)
                case ast.Optional(body=body):
                    if self.include_optional:
                        line, col = node.span.line_col()
                        start, end = node.span.start, node.span.end
                        text = excerpt(node.span.source.text[start:min(end, start + 241)], 60, end - start)
                        self.optionals[(node.span.start, node.span.end)] = (
                            f"optional '{text}' at line {line}, column {col} is included "
                            f"(--optional exclude drops it)")
                        self.expand(body, local, out, sole)
                case ast.Ref() if node.name in local:  # a parameter that stands for a layer or block
                    bound = self.bound(node, local)
                    self.in_scope(bound, self.expand, bound.node, bound.local, out, sole)
                case ast.Ref():
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
                        cached = self.expansions[key] = (items, self.row - first, first, start, len(self.records),
                                                         level, self.branch_depth)
                    else:
                        items, rows, first, start, end, level, depth = cached
                        if end > start:
                            self.replay(start, end, self.row - first, level, depth)
                        self.row += rows
                    out.extend(items)
                    self.close(index)
        finally:
            self.depth -= 1

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

    # -- layers -------------------------------------------------------------------------
    def default(self, kind: str, attr: str, family: str | None) -> ast.Value | None:
        """The `kind.attr` default as written, falling back on the family's (conv.* for the conv family)."""
        key = (kind, attr)
        if key in self.default_cache:
            return self.default_cache[key]
        statement = self.defaults.get(key)
        if statement is None and family is not None:
            statement = self.defaults.get((family, attr))
        value = None if statement is None else statement.value
        self.default_cache[key] = value
        return value

    def layer(self, node: ast.Layer, local: Local) -> Layer:
        """The layer a node means: each declared setting from the layer's own value, else the kind's
        default, else the family's, else the setting's built-in default; then the kind's checks."""
        word = node.word
        cls, written, unset = self.layer_plan(node)
        values: dict[str, object] = {}
        spans: dict[str, Span] = {}
        for setting, value in written:
            values[setting.field] = self.read(setting, value, word, local)
            spans[setting.key] = value.span
        for setting in unset:
            default = setting.default
            if default is REQUIRED:
                raise _missing(cls, setting, word, node.span)
            values[setting.field] = default(values) if callable(default) else default
        for setting in cls.settings:
            if setting.read == "pad" and values.get(setting.field) == SAME_PAD:
                values[setting.field] = same_pad(values["kernel"], values["dilation"])
            elif setting.field not in values:  # a setting other words of the kind take: its default
                values[setting.field] = setting.default
        values.update(cls.fixed.get(word, {}))
        layer = cls(word, node.span, **values)
        layer.check(lambda key: spans.get(key, node.span))
        return layer

    def layer_plan(self, node: ast.Layer) -> tuple[type[Layer], tuple, tuple[Setting, ...]]:
        """What making a node's layer takes besides the values of its variables (the same for every
        call of it in one expansion): its class; its settings with their values as written, its own or
        else the kind's or the family's default; and the settings left unset, computed defaults last."""
        plan = self.plans.get(node)
        if plan is None:
            word = node.word
            cls = WORDS[word]
            if cls is Input:
                raise DesignError("INPUT can only be the first layer of the architecture", node.span)
            given = written_settings(cls, node)
            written = []
            unset: list[Setting] = []
            for setting in cls.settings_for(word):
                value = given.get(setting.key)
                if value is None and setting.attr:
                    if setting.shared:
                        statement = self.defaults.get(("", setting.attr))
                        value = statement.value if statement is not None else None
                    else:
                        value = self.default(cls.kind, setting.attr, cls.family)
                if value is None:
                    unset.append(setting)
                else:
                    written.append((setting, value))
            plan = self.plans[node] = (cls, tuple(written), tuple(sorted(unset, key=lambda s: callable(s.default))))
        return plan

    def read(self, setting: Setting, value: ast.Value, word: str, local: Local):
        """A setting's value as its reader reads it, or an error that names the layer and the setting."""
        self.reading_layer = True
        try:
            return _READERS[setting.read](self, setting, value, word, local)
        finally:
            self.reading_layer = False

    def resolve_inputs(self, items: list[Item], x: Volume) -> tuple[list[Item], Volume]:
        """The items with every Deferred layer made, its `in` the channels of its input there (a block's
        branches are copied where they hold one: expansions share them); and the volume after them."""
        made, y = _Inputs(self).walk(items, ([], x))
        return (items if _same(made, items) else made), y


def _same(made: list, items: list) -> bool:
    return len(made) == len(items) and all(a is b for a, b in zip(made, items))


class _Inputs(Walk):
    """The walk that makes deferred layers: the state is the items made so far and the volume."""

    def __init__(self, expander: _Expander) -> None:
        self.expander = expander

    def layer(self, layer, state, depth: int, arm: int | None):
        out, x = state
        if isinstance(layer, Deferred):
            layer = self.expander.layer(layer.node, {**layer.local, IN: x.c})
        out.append(layer)
        return out, layer.apply(x)[0]

    def arm(self, branch: Branch, state, index: int):
        return [], branch.arm_input(state[1])

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        out, x = state
        arms = [end[0] for end in ends]
        if not all(_same(a, b) for a, b in zip(arms, branch.arms)):
            branch = Branch(branch.kind, arms, branch.span)
        out.append(branch)
        return out, branch.after(x, branch.join([end[1] for end in ends], [arm_name(a) for a in arms]))


# -- the readers a Setting names: (expander, setting, value as written, layer word, local bindings) --
def _read_bool(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> bool:
    if not isinstance(value, ast.Word) or value.word not in ("true", "false"):
        raise DesignError(f"{word}: {setting.key} is true or false", value.span)
    return value.word == "true"


def _read_choice(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> str:
    text = value.word if isinstance(value, ast.Word) else value.name if isinstance(value, ast.Var) else None
    if text is None or text.lower() not in setting.choices:
        got = f", got {text}" if text is not None else ""
        raise DesignError(f"{word}: {setting.key} is one of {', '.join(setting.choices)}{got}", value.span)
    return text.lower()


def _read_float(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> float:
    if isinstance(value, ast.Float):
        return value.value
    if isinstance(value, ast.BinOp) and value.op == "/":  # a fraction: DROPPATH(3/170), p = 0.1 * 3/17
        numerator, denominator = x.eval(value.left, local), x.eval(value.right, local)
        if denominator == 0:
            raise DesignError("division by zero", value.span)
        return numerator / denominator
    if isinstance(value, _EXPR):
        return float(x.eval(value, local))
    raise DesignError(f"{word}: {setting.key} must be a number", value.span)


def _read_int(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> int:
    if not isinstance(value, _EXPR):
        raise DesignError(f"{word}: {setting.label} must be a whole number", value.span)
    return _at_least(setting, x.eval(value, local), word, value.span)


def _read_pair(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> tuple[int, int]:
    """One number for both axes, or HxW."""
    if isinstance(value, ast.Size):
        if len(value.dims) != 2:
            raise DesignError(f"{word}: {setting.label} is one number or HxW", value.span)
        pair = (x.eval(value.dims[0], local), x.eval(value.dims[1], local))
    elif isinstance(value, _EXPR):
        n = x.eval(value, local)
        pair = (n, n)
    else:
        raise DesignError(f"{word}: {setting.label} must be a number or HxW", value.span)
    for n in pair:
        _at_least(setting, n, word, value.span)
    return pair


def _read_pad(x: _Expander, setting: Setting, value: ast.Value, word: str, local: Local):
    """A pair, or `same` (SAME_PAD, resolved once kernel and dilation are known) or `valid` (0)."""
    if not isinstance(value, ast.Word):
        return _read_pair(x, setting, value, word, local)
    if value.word not in ("same", "valid"):
        raise DesignError(f"{word}: pad is a number, HxW, same or valid", value.span)
    return SAME_PAD if value.word == "same" else (0, 0)


def _at_least(setting: Setting, n: int, word: str, span: Span) -> int:
    if n < setting.minimum:
        raise DesignError(f"{word}: {setting.label} must be at least {setting.minimum}, got {n}", span)
    return n


# `size3` is INPUT's, read by resolve_input
_READERS = {"bool": _read_bool, "choice": _read_choice, "float": _read_float, "int": _read_int, "pair": _read_pair,
            "pad": _read_pad}
_EXPR = (ast.Num, ast.Var, ast.BinOp, ast.Neg, ast.Call)


def _missing(cls: type[Layer], setting: Setting, word: str, span: Span) -> DesignError:
    """'CONV has no filter count: write CONV3-64, or set conv.filters = 64 …'"""
    example = cls.example
    value = example.split("-")[-1].split("/")[0]
    return DesignError(f"{word} has no {setting.noun}: write {example}, or set {cls.kind}.{setting.attr} = {value} "
                       f"in the design (or -D {cls.kind}.{setting.attr}=...)", span)


_SUFFIXED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?)([pdgPDG][0-9]+(?:[pdgPDG][0-9]+)*)")  # C then p0, d2g4: CONV3-Cp0

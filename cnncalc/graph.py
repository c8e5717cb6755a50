"""Expand a parsed design into a LayerGraph: repeats, optionals, variables,
blocks and layer defaults resolved into a tree of layer models and branches.

The number of layers a design expands to is counted first, without expanding,
so a repetition that would make more than `max_layers` layers is refused at
once instead of after filling memory.
"""

from __future__ import annotations

from typing import Literal

from . import layers as L
from .dsl import ast
from .dsl.parser import parse, parse_definition
from .dsl.words import WORDS
from .errors import DesignError, DesignSyntaxError, Span

# Default limit on the rows a design expands to (input, layers and merges), checked before expanding.
# Ten times the largest published CNNs (DenseNet-264: about 1,500 rows), and small enough that
# plan() answers within a second at the limit; --max-layers raises it.
MAX_LAYERS = 25_000
MAX_DEPTH = 100  # blocks within blocks, brackets within brackets: at most this deep
MAX_VALUE = 10**15  # no number in a design may exceed this
MAX_EVAL_DEPTH = 200  # parentheses and variables defined by variables, nested

# keyword spellings accepted for the canonical setting keys
_ALIASES = {
    "stride": "s", "pad": "p", "padding": "p", "dilation": "d", "groups": "g",
    "out": "filters", "out_features": "filters", "out_channels": "filters", "k": "kernel",
    "kernel_size": "kernel", "output_padding": "op", "ceil_mode": "ceil", "negative_slope": "slope",
    "alpha": "slope", "scale_factor": "scale",
}

# the settings each kind accepts, canonical keys
_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("size",),
    "conv": ("kernel", "filters", "s", "p", "d", "g", "bias"),
    "dwconv": ("kernel", "mult", "s", "p", "d", "bias"),
    "deconv": ("kernel", "filters", "s", "p", "d", "g", "op", "bias"),
    "local": ("kernel", "filters", "s", "p", "bias"),
    "pool": ("kernel", "s", "p", "d", "ceil", "type"),
    "gap": (), "flatten": (), "bn": (), "id": (),
    "fc": ("filters", "bias"),
    "act": ("slope", "inplace"),
    "dropout": ("p", "inplace"),
    "lrn": ("size",),
    "upsample": ("scale",),
}
_POSITIONAL = {"dropout": "p", "upsample": "scale", "lrn": "size", "fc": "filters", "act": "slope"}
_KEY_WORDS = {"kernel": "kernel", "filters": "filters", "s": "stride", "p": "pad", "d": "dilation",
              "g": "groups", "op": "output_padding"}

# the attributes a `kind.attr = value` default may set
_DEFAULT_ATTRS: dict[str, tuple[str, ...]] = {
    "conv": ("filters", "kernel", "stride", "pad", "dilation", "groups", "bias"),
    "dwconv": ("kernel", "stride", "pad", "dilation", "mult", "bias"),
    "deconv": ("filters", "kernel", "stride", "pad", "dilation", "groups", "bias"),
    "local": ("filters", "kernel", "stride", "pad", "bias"),
    "pool": ("kernel", "stride", "pad", "type", "ceil"),
    "fc": ("out", "bias"),
    "dropout": ("p",),
    "upsample": ("scale",),
    "lrn": ("size",),
    "": ("input", "inplace"),
}
_CONV_FAMILY = ("dwconv", "deconv", "local")  # fall back on conv.* defaults
_WORD_KEYS = ("bias", "ceil", "inplace", "type")  # settings that take a word, not a number


class Branch:
    """Parallel arms over one input, merged by concatenation ("concat") or sum ("add")."""

    __slots__ = ("mode", "arms", "span")

    def __init__(self, mode: Literal["concat", "add"], arms: list[list[Item]], span: Span) -> None:
        self.mode = mode
        self.arms = arms
        self.span = span


Item = L._Layer | Branch


class LayerGraph:
    """The expanded design: its input, then everything after it in execution order."""

    __slots__ = ("input", "items", "assumptions")

    def __init__(self, input: L.Input, items: list[Item]) -> None:
        self.input = input
        self.items = items
        self.assumptions: list[str] = []


def did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def build(text: str, defines: list[str] | tuple[str, ...] = (), input_size: tuple[int, int, int] | None = None,
          optional: str = "include", max_layers: int = MAX_LAYERS, label: str = "") -> LayerGraph:
    """Parse and expand a design. `defines` are `NAME=VALUE` texts that override the design's own."""
    design = parse(text, label)
    overrides = [parse_definition(d) for d in defines]
    return _Expander(design, overrides, input_size, optional, max_layers).run()


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
        self.counts: dict[tuple, int] = {}
        self.expansions: dict[tuple, list[Item]] = {}
        self.calls: list[str] = []  # blocks being expanded, for recursion errors
        self.depth = 0
        self.optionals: dict[tuple[int, int], str] = {}

    # -- definitions ----------------------------------------------------------
    def define(self, statement: ast.Statement, override: bool = False) -> None:
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
            case ast.DefaultDef(kind=kind, attr=attr):
                allowed = _DEFAULT_ATTRS.get(kind, ())
                if attr not in allowed:
                    what = f"'{kind}.{attr}'" if kind else f"'{attr}'"
                    options = ", ".join(f"{kind}.{a}" if kind else a for a in allowed) or "none"
                    raise DesignSyntaxError(
                        f"unknown setting {what}{did_you_mean(attr, allowed)} (settings: {options})", statement.span)
                key = (kind, attr)
                if key in self.defaults and not override:
                    raise DesignSyntaxError(f"'{kind + '.' if kind else ''}{attr}' is set twice", statement.span)
                self.defaults[key] = statement
                if key == ("", "input") and override:
                    self.input_from_define = True

    # -- evaluation -------------------------------------------------------------
    def eval(self, expr: ast.Expr, local: dict[str, int]) -> int:
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
                case ast.Var(name=name):
                    return local[name] if name in local else self.variable(name, expr.span)
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
        else:
            if b == 0:
                raise DesignError("division by zero", node.span)
            if a % b:
                raise DesignError(f"{a}/{b} does not divide exactly (expressions are whole numbers)", node.span)
            value = a // b
        if abs(value) > MAX_VALUE:
            raise DesignError(f"number too large: {a} {op} {b} exceeds 10^15", node.span)
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
        noun, pronoun = ("variable", "it") if len(names) == 1 else ("variables", "each")
        binds = " ".join(f"-D {n}=..." for n, _ in names)
        return DesignError(
            f"unbound {noun} {listed}: give {pronoun} a value in the design ({first} = 2) "
            f"or on the command line ({binds})", names[0][1])

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
        self.expand(body, {}, items)
        graph = LayerGraph(self.resolve_input(input_node, chain.span), items)
        graph.assumptions.extend(self.optionals.values())
        return graph

    def resolve_input(self, node: ast.Layer | None, chain_span: Span) -> L.Input:
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
        return L.Input(word="INPUT", h=h, w=w, c=c, span=span)

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
                if name not in bound and name not in self.variables and name not in self.blocks:
                    unbound.setdefault(name, var.span)

        def node(n: ast.Node, bound: frozenset[str], depth: int) -> None:
            if depth > MAX_DEPTH:
                return  # expansion reports the depth with its position
            match n:
                case ast.Layer(args=args, positional=positional):
                    for key, v in args.items():
                        if key not in _WORD_KEYS:  # true/false/max/avg: checked where they are read
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
                        expr(a, bound)
                    block = self.blocks.get(name)
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
    def count(self, node: ast.Node, local: dict[str, int]) -> int:
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

    def repeat_count(self, count: ast.Expr, local: dict[str, int]) -> int:
        times = self.eval(count, local)
        if times < 0:
            raise DesignError(f"a repeat count cannot be negative, got {times}", count.span)
        return times

    def call(self, node: ast.Ref, local: dict[str, int]) -> tuple[ast.BlockDef, dict[str, int], tuple]:
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
        args = tuple(self.eval(a, local) for a in node.args or ())
        return block, dict(zip(block.params, args)), (node.name, args)

    # -- expansion --------------------------------------------------------------------
    def expand(self, node: ast.Node, local: dict[str, int], out: list[Item]) -> None:
        self.enter(node.span)
        try:
            match node:
                case ast.Layer():
                    out.append(self.layer(node, local))
                case ast.Chain(terms=terms):
                    for t in terms:
                        self.expand(t, local, out)
                case ast.Branch(mode=mode, arms=arms):
                    expanded = []
                    for arm in arms:
                        items: list[Item] = []
                        self.expand(arm, local, items)
                        expanded.append(items)
                    out.append(Branch("concat" if mode == "|" else "add", expanded, node.span))
                case ast.Repeat(body=body, count=count):
                    times = self.repeat_count(count, local)
                    if times:
                        once: list[Item] = []
                        self.expand(body, local, once)
                        out.extend(once * times)  # layer models are immutable: repeats share them
                case ast.Optional(body=body):
                    if self.include_optional:
                        line, col = node.span.line_col()
                        text = node.span.source.text[node.span.start:node.span.end]
                        self.optionals[(node.span.start, node.span.end)] = (
                            f"optional '{text}' at line {line}, column {col} is included "
                            f"(--optional exclude drops it)")
                        self.expand(body, local, out)
                case ast.Ref():
                    block, call_local, key = self.call(node, local)
                    if key not in self.expansions:
                        self.calls.append(node.name)
                        try:
                            items = []
                            self.expand(block.body, call_local, items)
                        finally:
                            self.calls.pop()
                        self.expansions[key] = items
                    out.extend(self.expansions[key])
        finally:
            self.depth -= 1

    # -- layers -------------------------------------------------------------------------
    def default(self, kind: str, attr: str):
        """The evaluated `kind.attr` default, falling back on conv.* for the conv family."""
        key = (kind, attr)
        if key in self.default_cache:
            return self.default_cache[key]
        statement = self.defaults.get(key)
        if statement is None and kind in _CONV_FAMILY:
            statement = self.defaults.get(("conv", attr))
        value = None if statement is None else statement.value
        self.default_cache[key] = value
        return value

    def layer(self, node: ast.Layer, local: dict[str, int]) -> L._Layer:
        word = node.word
        kind = WORDS[word]
        if word == "INPUT":
            raise DesignError("INPUT can only be the first layer of the architecture", node.span)
        args: dict[str, ast.Value] = {}
        allowed = _KEYS[kind]
        for key, value in node.args.items():
            canonical = key if kind == "dropout" and key == "p" else _ALIASES.get(key, key)
            if kind == "upsample" and canonical == "kernel":
                canonical = "scale"
            if canonical not in allowed:
                if canonical == "filters":
                    raise DesignError(f"{word} takes no filter count", value.span)
                options = ", ".join(f"{k}=" for k in allowed) or "none"
                raise DesignError(f"{word} has no setting '{key}'{did_you_mean(key, allowed)} "
                                  f"(its settings: {options})", value.span)
            if canonical in args:
                raise DesignError(f"{word}: '{_KEY_WORDS.get(canonical, canonical)}' is given twice", value.span)
            args[canonical] = value
        for value in node.positional:
            key = _POSITIONAL.get(kind)
            if key is None or key in args or (kind == "act" and word not in ("LEAKYRELU", "ELU")):
                raise DesignError(f"{word} takes no positional setting here; write key=value", value.span)
            args[key] = value
        r = _Resolver(self, node, local, args)
        match kind:
            case "conv":
                kernel, stride, pad, dil = r.geometry("conv", 3)
                return L.Conv(word=word, span=node.span, filters=r.filters("conv", "CONV3-64"), kernel=kernel,
                              stride=stride, pad=pad, dilation=dil, groups=r.int("g", "conv", "groups", 1),
                              bias=r.bool("bias", "conv", "bias", True))
            case "dwconv":
                kernel, stride, pad, dil = r.geometry("dwconv", 3)
                return L.DWConv(word=word, span=node.span, kernel=kernel, stride=stride, pad=pad, dilation=dil,
                                mult=r.int("mult", "dwconv", "mult", 1), bias=r.bool("bias", "dwconv", "bias", True))
            case "deconv":
                kernel, stride, pad, dil = r.geometry("deconv", 3, pad_same=False)
                op = r.pair("op", None, None, (0, 0), minimum=0)
                return L.Deconv(word=word, span=node.span, filters=r.filters("deconv", "DECONV4-64/2"),
                                kernel=kernel, stride=stride, pad=pad, dilation=dil, output_padding=op,
                                groups=r.int("g", "deconv", "groups", 1), bias=r.bool("bias", "deconv", "bias", True))
            case "local":
                kernel, stride, pad, dil = r.geometry("local", 3)
                return L.Local(word=word, span=node.span, filters=r.filters("local", "LOCAL3-64"), kernel=kernel,
                               stride=stride, pad=pad, dilation=dil, bias=r.bool("bias", "local", "bias", True))
            case "pool":
                kernel = r.pair("kernel", "pool", "kernel", (2, 2), minimum=1)
                stride = r.pair("s", "pool", "stride", kernel, minimum=1)
                pad = r.pair("p", "pool", "pad", (0, 0), minimum=0)
                dil = r.pair("d", None, None, (1, 1), minimum=1)
                ptype = "max" if word == "MAXPOOL" else "avg" if word == "AVGPOOL" else r.word(
                    "type", "pool", "type", "max", ("max", "avg"))
                for axis in (0, 1):
                    if pad[axis] * 2 > kernel[axis]:
                        raise DesignError(f"{word}: padding {pad[axis]} is more than half the window "
                                          f"{kernel[axis]} (PyTorch refuses this)", r.span("p"))
                if ptype == "avg" and dil != (1, 1):
                    raise DesignError("average pooling has no dilation", r.span("d"))
                return L.Pool(word=word, span=node.span, type=ptype, kernel=kernel, stride=stride, pad=pad,
                              dilation=dil, ceil=r.bool("ceil", "pool", "ceil", False))
            case "gap":
                return L.GlobalPool(word=word, span=node.span, type="max" if word == "GMP" else "avg")
            case "fc":
                return L.FC(word=word, span=node.span, out=r.filters("fc", "FC-10", attr="out"),
                            bias=r.bool("bias", "fc", "bias", True))
            case "flatten":
                return L.Flatten(word=word, span=node.span)
            case "bn":
                return L.BatchNorm(word=word, span=node.span)
            case "act":
                slope = r.float("slope", None, None, None)
                return L.Activation(word=word, span=node.span, slope=slope,
                                    inplace=r.bool("inplace", "", "inplace", True))
            case "dropout":
                p = r.float("p", "dropout", "p", 0.5)
                if not 0.0 <= p < 1.0:
                    raise DesignError(f"a dropout probability is in [0, 1), got {p:g}", r.span("p"))
                return L.Dropout(word=word, span=node.span, p=p, inplace=r.bool("inplace", "", "inplace", True))
            case "lrn":
                return L.LRN(word=word, span=node.span, size=r.int("size", "lrn", "size", 5, minimum=1))
            case "upsample":
                return L.Upsample(word=word, span=node.span, scale=r.int("scale", "upsample", "scale", 2, minimum=1))
            case "id":
                return L.Identity(word=word, span=node.span)
        raise AssertionError(kind)


class _Resolver:
    """Reads one layer's settings: the layer's own value, else the default, else the built-in."""

    def __init__(self, expander: _Expander, node: ast.Layer, local: dict[str, int], args: dict[str, ast.Value]):
        self.x = expander
        self.node = node
        self.local = local
        self.args = args

    def span(self, key: str) -> Span:
        value = self.args.get(key)
        return value.span if value is not None else self.node.span

    def lookup(self, key: str, kind: str | None, attr: str | None) -> ast.Value | None:
        if key in self.args:
            return self.args[key]
        if kind is None or attr is None:
            return None
        if kind == "" and attr == "inplace":
            statement = self.x.defaults.get(("", "inplace"))
            return statement.value if statement else None
        return self.x.default(kind, attr)

    def int(self, key: str, kind: str | None, attr: str | None, builtin: int | None, minimum: int = 1) -> int:
        value = self.lookup(key, kind, attr)
        if value is None:
            return builtin  # type: ignore[return-value]
        if not isinstance(value, (ast.Num, ast.Var, ast.BinOp, ast.Neg)):
            raise DesignError(f"{self.node.word}: {_KEY_WORDS.get(key, key)} must be a whole number", value.span)
        n = self.x.eval(value, self.local)
        if n < minimum:
            raise DesignError(f"{self.node.word}: {_KEY_WORDS.get(key, key)} must be at least {minimum}, got {n}",
                              value.span)
        return n

    def pair(self, key: str, kind: str | None, attr: str | None, builtin: tuple[int, int], minimum: int) -> tuple[int, int]:
        value = self.lookup(key, kind, attr)
        if value is None:
            return builtin
        name = _KEY_WORDS.get(key, key)
        if isinstance(value, ast.Size):
            if len(value.dims) != 2:
                raise DesignError(f"{self.node.word}: {name} is one number or HxW", value.span)
            pair = (self.x.eval(value.dims[0], self.local), self.x.eval(value.dims[1], self.local))
        elif isinstance(value, (ast.Num, ast.Var, ast.BinOp, ast.Neg)):
            n = self.x.eval(value, self.local)
            pair = (n, n)
        else:
            raise DesignError(f"{self.node.word}: {name} must be a number or HxW", value.span)
        for n in pair:
            if n < minimum:
                raise DesignError(f"{self.node.word}: {name} must be at least {minimum}, got {n}", value.span)
        return pair

    def geometry(self, kind: str, kernel_default: int, pad_same: bool = True):
        kernel = self.pair("kernel", kind, "kernel", (kernel_default, kernel_default), minimum=1)
        stride = self.pair("s", kind, "stride", (1, 1), minimum=1)
        dil = self.pair("d", kind, "dilation", (1, 1), minimum=1)
        same = L.same_pad(kernel, dil)
        value = self.lookup("p", kind, "pad")
        if isinstance(value, ast.Word):
            if value.word not in ("same", "valid"):
                raise DesignError(f"{self.node.word}: pad is a number, HxW, same or valid", value.span)
            pad = same if value.word == "same" else (0, 0)
        else:
            pad = self.pair("p", kind, "pad", same if pad_same else (0, 0), minimum=0)
        return kernel, stride, pad, dil

    def filters(self, kind: str, example: str, attr: str = "filters") -> int:
        value = self.lookup("filters", kind, attr)
        if value is None:
            what = "output count" if kind == "fc" else "filter count"
            raise DesignError(f"{self.node.word} has no {what}: write {example}, or set {kind}.{attr} = "
                              f"{example.split('-')[-1].split('/')[0]} in the design (or -D {kind}.{attr}=...)",
                              self.node.span)
        return self.int("filters", kind, attr, None)

    def bool(self, key: str, kind: str | None, attr: str | None, builtin: bool) -> bool:
        value = self.lookup(key, kind, attr)
        if value is None:
            return builtin
        if not isinstance(value, ast.Word) or value.word not in ("true", "false"):
            raise DesignError(f"{self.node.word}: {key} is true or false", value.span)
        return value.word == "true"

    def word(self, key: str, kind: str, attr: str, builtin: str, choices: tuple[str, ...]) -> str:
        value = self.lookup(key, kind, attr)
        if value is None:
            return builtin
        text = value.word if isinstance(value, ast.Word) else value.name if isinstance(value, ast.Var) else None
        if text is None or text.lower() not in choices:
            raise DesignError(f"{self.node.word}: {key} is one of {', '.join(choices)}", value.span)
        return text.lower()

    def float(self, key: str, kind: str | None, attr: str | None, builtin: float | None) -> float | None:
        value = self.lookup(key, kind, attr)
        if value is None:
            return builtin
        if isinstance(value, ast.Float):
            return value.value
        if isinstance(value, (ast.Num, ast.Var, ast.BinOp, ast.Neg)):
            return float(self.x.eval(value, self.local))
        raise DesignError(f"{self.node.word}: {key} must be a number", value.span)



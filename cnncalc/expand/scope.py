"""The expander's names: definitions (variables, blocks, layer defaults) and their overrides, block
calls and their arguments, a parameter that stands for a layer or block, and unbound names reported
all at once."""

from __future__ import annotations

from ..dsl import ast
from ..dsl.written import numeric_settings
from ..errors import DesignError, DesignSyntaxError, Span, did_you_mean, excerpt
from ..kinds import KINDS, LAYERS, SHARED_SETTINGS, WORDS
from ..limits import MAX_NESTING as MAX_DEPTH

IN = "in"  # in a layer's settings, the channel count of its input: CONV1-(in/2)


class Bound:
    """A block's argument that is a layer, a group or a block call (`mb(16, HARDSWISH)`): the node and
    the caller's bindings it is expanded with, wherever the block uses the parameter."""

    __slots__ = ("calls", "key", "local", "node", "text")

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


_NODES = (ast.Layer, ast.Ref, ast.Chain, ast.Branch, ast.Repeat, ast.Optional)  # what a block argument may be
Local = dict  # a block's parameters while it expands: name -> int, or Bound


class Scope:
    """Definitions and block calls (a mixin of the Expander: its state is the Expander's)."""

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
        allowed = KINDS[kind].default_attrs() if kind else SHARED_SETTINGS
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

    def check_free_variables(self, chain: ast.Chain) -> None:
        """Name every unbound variable at once, with the first one's position; a default that takes a word
        (true or false, a choice) is read instead, so that a wrong word is named where it is set."""
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
            setting = word_setting(d)
            if setting is None:
                expr(d.value, frozenset())
            else:  # true or false, a choice: read now, a wrong word an error even where no layer reads it
                self.read(setting, d.value, f"{d.kind}.{d.attr}" if d.kind else d.attr, {})
        for v in self.variables.values():
            expr(v.value, frozenset())
        if unbound:
            raise self.unbound(list(unbound.items()))

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


def word_setting(default: ast.DefaultDef):
    """The Setting a `kind.attr = value` (or the kind-less `inplace = value`) sets when it takes a word, true or
    false or one of its choices, rather than a number whose variables must be bound; else None. (`add.inplace =
    yes` is told the words it takes, not that `yes` is an unbound variable.)"""
    classes = [KINDS[default.kind]] if default.kind else KINDS.values()
    return next((s for cls in classes for s in cls.settings
                 if s.attr == default.attr and (s.shared or default.kind) and s.read in ("bool", "choice")), None)

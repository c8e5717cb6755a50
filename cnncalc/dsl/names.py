"""The names a design uses, and the `-D` definitions that no design uses.

A `-D NAME=VALUE` that binds a variable or a block the design never uses would
change nothing, silently: `-D n=3` for a design written with `N` leaves every
number as it was. Such a definition is an error, with a did-you-mean.

What counts as a use of a name: the name written as a reference anywhere in the
design's text, as a variable (in a shorthand `CONV3-C/S`, `CONV1-(6*C)`, a
keyword setting, a count `*N`, an input size, a block call's arguments, the value
of a variable or of a layer default) or as a block (`stem`, `basic(64)`), in the
architecture or in any block body, called or not, in an optional item or not
(`--optional exclude` does not make its names unused): what the user wrote is
never a false error. Not uses: a definition of the name itself (`N = 2` alone is
not a use of N), and, inside a block `basic(C) = …`, its parameter C (each call
gives C; a `-D C=…` does not reach it).

A `-D` that is used makes the names its own value refers to used
(`-D b=[CONV3-C] -D C=64` for a design that uses b); a `-D` that is not used
does not. Layer defaults (`-D conv.filters=64`, `kind.attr=…`) and the kind-less
settings (`-D input=…`, `-D inplace=…`) are never an error: they set what a
design may or may not read, and the names their values use are used.

The work is one pass over the syntax tree and the definitions, without
recursion and without evaluating anything: linear in the size of the design,
whatever its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DesignError, Span
from . import ast
from .parser import parse, parse_definition

LISTED = 8  # the names an error lists, at most, when it has nothing closer to suggest


class Names:
    """The names one design uses (`used`, in the order first written), the names it defines, and
    the block parameters (parameter -> the first block that has it), for messages."""

    __slots__ = ("used", "defined", "params")

    def __init__(self, design: ast.Design) -> None:
        self.used: dict[str, None] = {}
        self.defined: dict[str, None] = {}
        self.params: dict[str, str] = {}
        if design.chain is not None:
            _collect(design.chain, frozenset(), self.used)
        for statement in design.statements:
            if isinstance(statement, ast.BlockDef):
                self.defined[statement.name] = None
                for param in statement.params:
                    self.params.setdefault(param, statement.name)
                _collect(statement.body, frozenset(statement.params), self.used)
            else:
                if isinstance(statement, ast.VarDef):
                    self.defined[statement.name] = None
                _collect(statement.value, frozenset(), self.used)


def unused(designs: Sequence[ast.Design], overrides: Sequence[ast.Statement]) -> list[ast.Statement]:
    """The `-D` variables and blocks (parsed `overrides`) that none of `designs` uses, in -D order.
    Layer defaults and settings are never among them."""
    named = [s for s in overrides if not isinstance(s, ast.DefaultDef)]
    if not named:
        return []
    return _unused([Names(d) for d in designs], overrides, named)


def _unused(names: list[Names], overrides: Sequence[ast.Statement], named: list[ast.Statement]) -> list[ast.Statement]:
    roots: dict[str, None] = {}  # what layer defaults given with -D use: used by every design
    refers: dict[str, list[dict[str, None]]] = {}  # a -D name -> the names its value(s) use
    for statement in overrides:
        if isinstance(statement, ast.DefaultDef):
            _collect(statement.value, frozenset(), roots)
        elif isinstance(statement, ast.BlockDef):
            refers.setdefault(statement.name, []).append(
                _collect(statement.body, frozenset(statement.params), {}))
        else:
            refers.setdefault(statement.name, []).append(_collect(statement.value, frozenset(), {}))
    used_by_any: set[str] = set()
    for design in names:
        used = set(design.used)
        used.update(roots)
        pending = list(used)
        waiting = dict(refers)
        while pending:  # each -D's value is read once, when its name is first found used
            for refs in waiting.pop(pending.pop(), ()):
                for name in refs:
                    if name not in used:
                        used.add(name)
                        pending.append(name)
        used_by_any.update(s.name for s in named if s.name in used)
    return [s for s in named if s.name not in used_by_any]


def refuse_unused(designs: Sequence[ast.Design], overrides: Sequence[ast.Statement]) -> None:
    """Raise a DesignError at the first `-D` variable or block that none of `designs` uses.
    A command that takes several designs passes them all: a -D is an error only when no design
    uses it."""
    named = [s for s in overrides if not isinstance(s, ast.DefaultDef)]
    if not named:
        return
    names = [Names(d) for d in designs]
    left = _unused(names, overrides, named)
    if left:
        raise unused_error(left[0], names)


def unread_defaults(designs: Sequence[ast.Design], overrides: Sequence[ast.Statement]) -> list[ast.DefaultDef]:
    """The `-D kind.attr=…` layer defaults (parsed `overrides`) that no layer of any design reads: every
    layer of that kind (or of a kind of its family) gives the setting itself, or there is none. Such a
    default changes nothing. A layer that cannot be read (an unknown word or setting) counts as reading
    it: the expansion reports that layer."""
    from ..kinds import WORDS
    from .written import written_settings

    wanted = [s for s in overrides if isinstance(s, ast.DefaultDef) and s.kind]
    if not wanted:
        return []
    layers = _layer_nodes([*designs, ast.Design(list(overrides), None)], merges=True)
    read: set[tuple[str, str]] = set()
    for node in layers:
        if type(node) is ast.Branch:  # a merge reads its kind's defaults (`add.inplace`)
            read.update(_merge_defaults(node))
            continue
        cls = WORDS.get(node.word)
        try:
            given = written_settings(cls, node) if cls is not None else None
        except DesignError:
            given = None
        if given is None:
            read.update((s.kind, s.attr) for s in wanted)
            continue
        for setting in cls.settings_for(node.word):
            if setting.attr and not setting.shared and setting.key not in given:
                read.update((kind, setting.attr) for kind in (cls.kind, cls.family) if kind)
    return [s for s in wanted if (s.kind, s.attr) not in read]


def _merge_defaults(node: ast.Branch) -> list[tuple[str, str]]:
    """The `kind.attr` defaults a merge reads (`add.inplace` for a sum)."""
    from ..kinds import MERGES, OPERATORS

    kind = OPERATORS.get(node.mode)
    return [(kind, attr) for attr in MERGES[kind].default_attrs()] if kind else []


def _layer_nodes(designs: Sequence[ast.Design], merges: bool = False) -> list:
    """Every layer node written in the designs (and with `merges` every branch node): in their chains, block
    bodies, variables bound to layers and a block call's layer arguments. An explicit stack, as _collect's."""
    stack: list = []
    for design in designs:
        if design.chain is not None:
            stack.append(design.chain)
        for statement in design.statements:
            stack.append(statement.body if isinstance(statement, ast.BlockDef) else statement.value)
    out = []
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Layer:
            out.append(node)
        elif kind is ast.Chain:
            stack.extend(node.terms)
        elif kind is ast.Branch:
            stack.extend(node.arms)
            if merges:
                out.append(node)
        elif kind in (ast.Repeat, ast.Optional):
            stack.append(node.body)
        elif kind is ast.Ref and node.args:
            stack.extend(node.args)
    return out


def unused_defines(text: str, defines: Sequence[str] = (), label: str = "") -> list[str]:
    """The names bound by `defines` (`NAME=VALUE` texts) that the design `text` never uses, in -D
    order, each once. A caller with several designs keeps the names that every design returns."""
    statements = unused([parse(text, label)], [parse_definition(d) for d in defines])
    return list(dict.fromkeys(s.name for s in statements))


def unused_error(statement: ast.VarDef | ast.BlockDef, names: Sequence[Names]) -> DesignError:
    """'n' is not used by the design, so this -D would change nothing; did you mean 'N'?"""
    from ..errors import did_you_mean

    name = statement.name
    span = Span(statement.span.source, statement.span.start, statement.span.start + len(name))
    used: dict[str, None] = {}
    for n in names:
        used.update(n.used)
    design = "the design" if len(names) == 1 else "any of the designs"
    head = f"'{name}' is not used by {design}, so this -D would change nothing"
    block = next((n.params[name] for n in names if name in n.params), None)
    if block is not None:
        return DesignError(f"{head}: '{name}' is a parameter of block '{block}', "
                           f"which each call gives, as in {block}(...)", span)
    folded = {}
    for u in used:
        folded.setdefault(u.lower(), u)
    close = folded.get(name.lower())
    hint = f"; did you mean '{close}'?" if close is not None else did_you_mean(name, used)
    if hint:
        return DesignError(head + hint, span)
    if any(name in n.defined for n in names):
        return DesignError(f"'{name}' is defined by {design} but never used, so this -D would change nothing",
                           span)
    if not used:
        return DesignError(f"{head} (the design uses no variables or blocks)", span)
    listed = ", ".join(list(used)[:LISTED]) + (", ..." if len(used) > LISTED else "")
    return DesignError(f"{head} (names it uses: {listed})", span)


def _collect(root: ast.Node | ast.Value, bound: frozenset[str], out: dict[str, None]) -> dict[str, None]:
    """Add to `out` the names that `root` (a chain, a layer, an expression…) refers to as variables
    or blocks, except the `bound` ones (a block's parameters), in source order. An explicit stack:
    `RELU????…` and `1+2+3…` are trees as deep as they are long."""
    stack: list = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is ast.Var:
            if node.name not in bound:
                out[node.name] = None
        elif kind is ast.BinOp:
            push(node.right)
            push(node.left)
        elif kind is ast.Chain:
            extend(reversed(node.terms))
        elif kind is ast.Layer:
            extend(reversed(node.positional))
            extend(reversed(node.args.values()))
        elif kind is ast.Ref:
            if node.name not in bound:
                out[node.name] = None
            if node.args:
                extend(reversed(node.args))
        elif kind is ast.Repeat:
            push(node.count)
            push(node.body)
        elif kind is ast.Optional:
            push(node.body)
        elif kind is ast.Branch:
            extend(reversed(node.arms))
        elif kind is ast.Neg:
            push(node.operand)
        elif kind is ast.Size:
            extend(reversed(node.dims))
        elif kind is ast.Call:
            extend(reversed(node.args))
        # Num, Word, Float: no names
    return out

"""Sweep a design over a grid of bindings: `cnncalc sweep DESIGN --vary N=1..4 --vary C=32,64,128`.

The design is parsed once. Each point of the grid binds its values as `-D` definitions would
(variables, blocks, layer defaults such as `conv.filters`), or sets the input size or the batch;
only the expansion is redone, and only when a definition changed (a point that varies only the
input or the batch reuses the expanded graph). The measures each point needs decide how it is
walked: the measures of one pass over the layers (params, MACs, memory, fit, receptive field)
take a lean walk here, which sums the rows without building them; the saved-tensor
rules, the training simulation or a budget take the planner's own walk. Either way a point's
numbers are `plan`'s for the same bindings (tests/test_sweep.py checks this on random grids).

A point that cannot be computed (a kernel larger than its input, groups that do not divide) is
counted and summarised by reason; it never stops the sweep. Rows are yielded as they are
computed, in constant memory, unless an ordering needs them: `sort` without `top` keeps every
row that passes, `sort` with `top` keeps the best `top`, `pareto` keeps the current front;
`summary` says which.

The ranges (`--vary`):
    NAME=V1,V2,...     the values as written (numbers, true/false, sizes, any -D value without a comma)
    NAME=A..B          every whole number from A to B
    NAME=A..B:STEP     from A to B in steps of STEP
    items mix: N=1,2,4..16:4.  NAME is a variable, a block, a layer default (conv.filters), `input`
    (HxWxC sizes, or a side S for S x S with the design's channels) or `batch`.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence

from . import measures as M
from .dsl import ast
from .dsl import names as dsl_names
from .dsl.parser import Parser, parse
from .errors import CnnCalcError, SettingsError, Source, Span
from .expand import _Expander
from .graph import LayerGraph
from .graph.walk import Walk
from .kinds import MAX_VALUE, UNSUPPORTED, Branch, Input, Layer, Volume
from .kinds.geometry import START
from .metrics import fit, receptive
from .metrics.rows import Lean, numbers
from .metrics.totals import Sums, measures, totals
from .settings import Settings, parse_size, settings_of
from .where import Names, condition, keys

SCHEMA = "cnncalc.sweep/1"
MAX_POINTS = 10_000_000  # the default limit on a grid's size (--max-points)
DEFAULT_COLUMNS = ("params", "macs", "forward_bytes", "training_peak_bytes", "fits")
SPECIAL = ("input", "batch")  # varied names that are settings, not definitions
GRAPHS = 256  # expanded graphs kept for reuse across points
COMPILE_AT = 40  # walks of a graph shape before it is compiled (compiling costs 30 to 60 walks)
VARIANTS = 8  # compiled points kept per graph shape (each for other outcomes of the tests on its numbers)
WALK_REUSE = 0.8  # the share of rows the one-pass walk has met before from which it beats a compiled point
POINTS = 1024  # graph shapes kept with their compiled points; then they start afresh
SHARED = 50_000  # layers, block expansions and counts kept across points; then they start afresh
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_INT = re.compile(r"[0-9]+")


# -- the ranges --------------------------------------------------------------------------------------
class Values(Sequence):
    """The values of one varied name: ranges and single values, in order, never materialised."""

    def __init__(self, parts: list[range | list]) -> None:
        self.parts = parts
        self.length = sum(len(p) for p in parts)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        for part in self.parts:
            if i < len(part):
                return part[i]
            i -= len(part)
        raise IndexError(i)

    def __iter__(self):
        for part in self.parts:
            yield from part

    @property
    def numeric(self) -> bool:
        return all(isinstance(p, range) or all(isinstance(v, int) for v in p) for p in self.parts)


class Vary:
    """One `--vary NAME=...`: the name, its values, and the text it was read from (for carets)."""

    def __init__(self, name: str, values: Values, source: Source, name_span: tuple[int, int]) -> None:
        self.name, self.values, self.source, self.name_span = name, values, source, name_span

    def error(self, message: str, start: int | None = None, end: int | None = None) -> SettingsError:
        start, end = (self.name_span if start is None else (start, end if end is not None else start + 1))
        return SettingsError(message, Span(self.source, start, max(end, start + 1)))

    def __repr__(self) -> str:
        return f"Vary({self.name!r}, {len(self.values)} values)"


def parse_vary(text: str) -> Vary:
    """`N=1..4`, `C=32,64,128`, `W=16..512:16`, `input=32x32x3,64x64x3`, `conv.bias=true,false`."""
    source = Source(text, "--vary")

    def error(message: str, start: int, end: int | None = None) -> SettingsError:
        return SettingsError(message, Span(source, start, max(end if end is not None else start + 1, start + 1)))

    name_text, eq, spec = text.partition("=")
    name = name_text.strip()
    lead = len(name_text) - len(name_text.lstrip())
    if not eq:
        raise error("expected NAME=VALUES, such as N=1..4, C=32,64,128 or W=16..512:16", 0, len(text))
    if not _NAME.fullmatch(name):
        raise error(f"'{name}' is not a name: a variable (N), a block, a layer default (conv.filters), input "
                    f"or batch", lead, lead + len(name))
    parts: list[range | list] = []
    offset = len(name_text) + 1
    singles: list = []
    for item in spec.split(","):
        start = offset + len(item) - len(item.lstrip())
        offset += len(item) + 1
        value = item.strip()
        if not value:
            raise error(f"an empty value in --vary {name}=: write values between the commas", start)
        if ".." in value and not value.startswith("["):
            low, _, rest = value.partition("..")
            high, colon, step = rest.partition(":")
            numbers = [low.strip(), high.strip()] + ([step.strip()] if colon else [])
            if not all(_INT.fullmatch(n) for n in numbers):
                raise error(f"a range is A..B or A..B:STEP with whole numbers, such as 1..4 or 16..512:16; "
                            f"got '{value}'", start, start + len(value))
            a, b, s = int(numbers[0]), int(numbers[1]), int(numbers[2]) if colon else 1
            if max(a, b) > MAX_VALUE:
                raise error("numbers in a range are at most 10^15", start, start + len(value))
            if s < 1:
                raise error(f"the step of {value} must be at least 1", start, start + len(value))
            if a > b:
                raise error(f"the range {value} is empty: write the smaller number first ({b}..{a})",
                            start, start + len(value))
            if singles:
                parts.append(singles)
                singles = []
            parts.append(range(a, b + 1, s))
        else:
            singles.append(int(value) if _INT.fullmatch(value) else value)
    if singles:
        parts.append(singles)
    return Vary(name, Values(parts), source, (lead, lead + len(name)))


def vary_from(name: str, values) -> Vary:
    """A library caller's `vary={"N": range(1, 5), "C": [32, 64]}` entry (or a "N=1..4" text)."""
    if isinstance(values, str):
        return parse_vary(f"{name}={values}")
    if isinstance(values, range):
        parts = [values]
    else:
        try:
            items = list(values)
        except TypeError:
            items = [values]
        parts = [[_text_value(v) for v in items]]
    text = f"{name}=..."
    vary = Vary(name, Values(parts), Source(text, "vary"), (0, len(name)))
    if not _NAME.fullmatch(name):
        raise vary.error(f"'{name}' is not a name: a variable (N), a block, a layer default (conv.filters), "
                         f"input or batch")
    return vary


def _text_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)):
        return "x".join(map(str, value))
    return str(value)


# -- the fast walk --------------------------------------------------------------------------------
class _Totals(Walk):
    """One pass over an expanded graph for the "walk" measures, the planner's rules row by row
    (shapes, params, MACs, stored memory, fit, receptive field) summed on the way, no rows kept.
    A layer's numbers at an input are computed once and kept (layers are immutable, and the
    expansion shares equal ones across points: _Expansion). The state is the volume and its field."""

    MEMO = 100_000  # (layer, input) entries kept; then the memo starts afresh

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.memo: dict = {}
        self.asked = self.computed = 0  # rows looked up, rows computed

    def run(self, graph: LayerGraph) -> tuple[Sums, bool, int, object]:
        """The sums, whether every window passes the fit rule, the rows and the quoted receptive field."""
        if len(self.memo) > self.MEMO:
            self.memo.clear()
        self.params = self.buffers = self.macs = self.stored = self.rows = 0
        self.partial: set[str] = set()
        self.fits = True
        self.spatial = True  # no global layer (GAP, FC, FLATTEN) yet
        self.last_rf = START
        self.walk(graph.items, self.layer(graph.input, (graph.input.size, START), 0, None))
        return Sums(self.params, self.buffers, self.macs, self.stored, 0), self.fits, self.rows, self.last_rf

    def layer(self, layer: Layer, state, depth: int, arm: int | None):
        x, rf = state
        known = self.memo.get((layer, x))
        self.asked += 1
        if known is None:
            self.computed += 1
            y, windows = layer.apply(x)
            ok = windows is None or (windows[0].fits and windows[1].fits) or not any(
                fit.judge(w, self.rule) == "misfit" for w in windows if not w.fits)
            known = self.memo[(layer, x)] = (y, ok, *self.numbers(layer, x, y))
        rule = layer.receptive
        if rule is UNSUPPORTED:
            self.partial.add("rf")
            rf = None
        elif rf is not None:
            rf = rule(rf, x)
        return self.count(layer, depth, known, rf)

    def arm(self, branch: Branch, state, index: int):
        return branch.arm_input(state[0]), state[1]

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        x, rf = state
        outs = [end[0] for end in ends]
        y = branch.join(outs, names)
        merged, _ = receptive.merge(branch.fields(outs, y, [end[1] for end in ends]))
        y_after, rf_after = self.count(branch, depth, (y, True, *self.numbers(branch, x, y)),
                                       rf if branch.side else merged)  # after a side head: the field of its input
        return branch.after(x, y_after), rf_after

    def count(self, item, depth: int, known: tuple, rf):
        """Add a row's numbers; quote the field at the last top-level row before the first global layer."""
        y, ok, params, buffers, macs, stored, partial = known
        self.rows += 1
        self.params += params
        self.buffers += buffers
        self.macs += macs
        self.stored += stored
        if not ok:
            self.fits = False
        if partial:
            self.partial.update(partial)
        if self.spatial and depth == 0:
            if item.acts_globally:
                self.spatial = False
            else:
                self.last_rf = rf
        return y, rf

    @staticmethod
    def numbers(item, x: Volume, y: Volume) -> tuple:
        """(params, buffers, MACs, stored elements, the metrics not known) of one row (rows.numbers)."""
        weights, biases, buffers, macs, stored, partial = numbers(item, x, y)
        return weights + biases, buffers, macs, stored, partial


class _Expansion(_Expander):
    """The expander, with what it builds kept across points (`shared`):
      - a layer node read with the same values of the names it may read (its own settings' names and
        those of every layer default), under the same defaults, is the same layer, built once;
      - a block call with the same arguments, under the same definitions of every block it reaches and
        the same values of every variable they read (and the same defaults), at the same depth, makes
        the same rows: counted and expanded once;
      - the check that every variable is bound depends only on which names are defined: done once.
    Anything unusual (a name that does not evaluate, an alias of a block) is left to the expander,
    uncached. The structure records (`LayerGraph.blocks`) are not made: a sweep reports no blocks."""

    def __init__(self, design, overrides, input_size, optional: str, max_layers: int, shared: dict) -> None:
        super().__init__(design, overrides, input_size, optional, max_layers)
        self.shared = shared
        self.signature: tuple | None = None
        self.block_signatures: dict = {}

    def run(self) -> LayerGraph:
        graph = super().run()
        if getattr(graph, "blocks", None):
            graph.blocks = []
        return graph

    def open(self, *args, **kwargs) -> None:  # the structure's records: none (a sweep reports no blocks)
        return None

    def replay(self, *args) -> None:
        pass

    def settings_signature(self) -> tuple:
        """The layer defaults as written, and the values of the names they read."""
        if self.signature is None:
            names = tuple(dict.fromkeys(v.name for statement in self.defaults.values()
                                        for v in ast.variables_in(statement.value)))
            self.default_names = names
            self.signature = (tuple(self.defaults.items()),
                              tuple(self.variable(n, None) if n in self.variables else None for n in names))
        return self.signature

    def check_free_variables(self, chain) -> None:
        key = (chain, frozenset(self.variables), frozenset(self.blocks))
        checked = self.shared["checked"]
        if key not in checked:
            super().check_free_variables(chain)
            checked[key] = True

    def layer(self, node, local):
        stats = self.shared["stats"]
        try:
            defaults = self.settings_signature()
            free = self.shared["free"]
            names = free.get(node)
            if names is None:
                own = [v.name for value in (*node.positional, *node.args.values()) for v in ast.variables_in(value)]
                names = free[node] = tuple(dict.fromkeys((*own, *self.default_names)))
            values = tuple(local[n] if n in local else self.variable(n, node.span) if n in self.variables else None
                           for n in names)
        except CnnCalcError:
            return super().layer(node, local)
        key = (node, defaults, values)
        layers = self.shared["layers"]
        layer = layers.get(key)
        stats[0] += 1
        if layer is None:
            stats[1] += 1
            layer = layers[key] = super().layer(node, local)
            self.shared["nodes"][layer] = node
        return layer

    def layer_plan(self, node) -> tuple:
        """The expander's plan of a node's layer, kept across points under the same defaults."""
        key = (node, self.settings_signature())
        plans = self.shared["plans"]
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = super().layer_plan(node)
        return plan

    def block_key(self, node, local) -> tuple | None:
        """What a block call's rows depend on, or None where the call is unusual (left uncached)."""
        block = self.blocks.get(node.name)
        if block is None or len(node.args or ()) != len(block.params) or node.name in self.calls:
            return None
        try:
            args = tuple(self.eval(a, local) for a in node.args or ())
            signature = self.block_signatures.get(block)
            if signature is None:
                signature = self.block_signatures[block] = self.reached(block)
            return (block, args, signature, self.settings_signature(), self.depth, self.include_optional)
        except CnnCalcError:
            return None

    def reached(self, block) -> tuple:
        """The blocks a block reaches (their definitions) and the variables they read (their values)."""
        direct = self.shared["direct"]
        seen: dict[str, None] = {}
        parts = []
        stack = [block]
        while stack:
            b = stack.pop()
            names = direct.get(b)
            if names is None:
                names = direct[b] = tuple(dsl_names._collect(b.body, frozenset(b.params), {}))
            for name in names:
                if name in seen:
                    continue
                seen[name] = None
                if name in self.blocks:
                    parts.append((name, self.blocks[name]))
                    stack.append(self.blocks[name])
                elif name in self.variables:
                    parts.append((name, self.variable(name, None)))
                else:
                    parts.append((name, None))
        return tuple(parts)

    def count_key(self, node, local) -> tuple | None:
        """What a block call's row count depends on (block_key with only the arguments the count reads:
        count_reads), or None where the call is unusual."""
        block = self.blocks.get(node.name)
        if block is None or len(node.args or ()) != len(block.params) or node.name in self.calls:
            return None
        reads = self.count_reads(block)
        if reads is None:
            return self.block_key(node, local)
        try:
            args = tuple(self.eval(node.args[i], local) for i in reads)
            signature = self.block_signatures.get(block)
            if signature is None:
                signature = self.block_signatures[block] = self.reached(block)
            return ("count", block, args, signature, self.settings_signature(), self.depth, self.include_optional)
        except CnnCalcError:
            return None

    def count_reads(self, block, busy: frozenset = frozenset()) -> tuple[int, ...] | None:
        """The positions of the parameters a block's row count may depend on: read by a repeat's count,
        used as a layer or block, or passed where a called block's count reads them (None: a call to
        something other than a block, or a cycle; the whole call is then the key)."""
        known = self.shared["reads"]
        if block in known:
            return known[block]
        params = frozenset(block.params)
        read: set[str] = set()
        stack = [block.body]
        result: tuple[int, ...] | None = ()
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Repeat:
                read.update(dsl_names._collect(node.count, frozenset(), {}).keys() & params)
                stack.append(node.body)
            elif kind is ast.Chain:
                stack.extend(node.terms)
            elif kind is ast.Branch:
                stack.extend(node.arms)
            elif kind is ast.Optional:
                stack.append(node.body)
            elif kind is ast.Ref:
                if node.name in params:
                    read.add(node.name)
                    continue
                called = self.blocks.get(node.name)
                inner = None if called is None or called in busy else self.count_reads(called, busy | {block})
                if inner is None or len(node.args or ()) != len(called.params):
                    result = None
                    break
                for i in inner:
                    read.update(dsl_names._collect(node.args[i], frozenset(), {}).keys() & params)
        if result is not None:
            result = tuple(i for i, name in enumerate(block.params) if name in read)
        known[block] = result
        return result

    def count(self, node, local):
        if type(node) is not ast.Ref:
            return super().count(node, local)
        key = self.count_key(node, local)
        counts = self.shared["counts"]
        n = None if key is None else counts.get(key)
        if n is None or n + 1 > self.max_layers:
            n = super().count(node, local)
            if key is not None:
                counts[key] = n
        return n

    def expand(self, node, local, out, *args, **kwargs):
        if type(node) is not ast.Ref:
            return super().expand(node, local, out, *args, **kwargs)
        key = self.block_key(node, local)
        expansions = self.shared["expansions"]
        known = None if key is None else expansions.get(key)
        if known is None and key is not None:
            known = self.from_template(key)
            if known is not None:
                expansions[key] = known
        if known is None:
            items: list = []
            super().expand(node, local, items, *args, **kwargs)
            if key is not None:
                expansions[key] = (items, self.count(node, local))
                self.keep_template(key, expansions[key])
            out.extend(items)
            return None
        items, rows = known
        if hasattr(self, "row"):
            self.row += rows  # the next rows' numbers, as the expander counts them
        out.extend(items)
        return None


    # A leaf block (no block calls, no parameter used as a layer, no optional, no repeat counted by a
    # parameter) makes the same items at any arguments but for its layers, each built from the same node
    # with the call's arguments: a call with new arguments rebuilds another call's items (`templates`).
    def is_leaf(self, block) -> bool:
        leaves = self.shared["leaves"]
        leaf = leaves.get(block)
        if leaf is None:
            params = frozenset(block.params)
            stack, leaf = [block.body], True
            while stack and leaf:
                node = stack.pop()
                kind = type(node)
                if kind in (ast.Ref, ast.Optional):
                    leaf = False
                elif kind is ast.Repeat:
                    leaf = not (dsl_names._collect(node.count, frozenset(), {}).keys() & params)
                    stack.append(node.body)
                elif kind is ast.Chain:
                    stack.extend(node.terms)
                elif kind is ast.Branch:
                    stack.extend(node.arms)
            leaves[block] = leaf
        return leaf

    def keep_template(self, key: tuple, made: tuple) -> None:
        block = key[0]
        if self.is_leaf(block) and self.made_of_nodes(made[0]):
            self.shared["templates"][(block, *key[2:])] = made

    def made_of_nodes(self, items) -> bool:
        """Every layer of the items was built here from a node (none deferred, none uncached)."""
        nodes = self.shared["nodes"]
        return all(all(self.made_of_nodes(arm) for arm in item.arms) if isinstance(item, Branch) else item in nodes
                   for item in items)

    def from_template(self, key: tuple) -> tuple | None:
        """A leaf block's items at these arguments, rebuilt from another call's (None: no such call)."""
        block, args = key[0], key[1]
        template = self.shared["templates"].get((block, *key[2:]))
        if template is None:
            return None
        items, rows = template
        return self.rebuild(items, dict(zip(block.params, args))), rows

    def rebuild(self, items: list, local: dict) -> list:
        nodes = self.shared["nodes"]
        return [Branch(item.kind, [self.rebuild(arm, local) for arm in item.arms], item.span)
                if isinstance(item, Branch) else self.layer(nodes[item], local) for item in items]


def _shared(stats: list[int]) -> dict:
    """What _Expansion keeps across points; `stats`: [layers asked for, layers built]."""
    return {"layers": {}, "free": {}, "counts": {}, "expansions": {}, "direct": {}, "checked": {}, "reads": {},
            "plans": {},
            "nodes": {}, "leaves": {}, "templates": {}, "stats": stats}


class Failures:
    """Points that could not be computed, grouped by reason: the message with its numbers masked
    and its position, so that one layer's kernel being too large at many sizes is one reason."""

    def __init__(self) -> None:
        self.groups: dict[tuple, list] = {}
        self.count = 0

    @staticmethod
    def reason(error: CnnCalcError) -> tuple[str, int, str]:
        """(the message, its position, the text to show): what add() needs, small enough to send
        from a worker process."""
        return error.message, error.span.start if error.span is not None else -1, str(error)

    def add(self, reason: tuple[str, int, str], index: int, point: dict) -> None:
        self.count += 1
        message, start, text = reason
        key = (re.sub(r"\d+", "#", message), start)
        group = self.groups.get(key)
        if group is None:
            self.groups[key] = [1, text, index, point]
        else:
            group[0] += 1

    def summary(self) -> list[dict]:
        ordered = sorted(self.groups.values(), key=lambda g: (-g[0], g[2]))
        return [{"reason": message, "count": count, "example": {"index": index, "point": point}}
                for count, message, index, point in ordered]


class Sweep:
    """An iterable of the grid's rows (dicts): `index` (the point's place in the grid, the last
    --vary changing fastest), `point` (its bindings) and the `columns`' measures; with `pareto`,
    `ties` (the other rows of the front equal to it on every named measure). `total` is the grid's
    size; `summary` is complete once the rows have been read."""

    def __init__(self, design, *, vary, where: str | None = None, sort: str | None = None, top: int | None = None,
                 pareto: str | None = None, columns: str | Sequence[str] | None = None, defines=(),
                 label: str | None = None, max_points: int = MAX_POINTS,
                 progress: Callable[[int], None] | None = None, jobs: int = 1, settings: Settings | None = None,
                 **options) -> None:
        from .source import design_text, define_texts

        self._spec = dict(design=design, vary=vary, where=where, sort=sort, top=top, pareto=pareto, columns=columns,
                          defines=defines, label=label, max_points=max_points, settings=settings, **options)
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
            raise SettingsError(f"jobs is a number of processes (0: one per core), got {jobs!r}")
        self.jobs = jobs or os.cpu_count() or 1

        from .errors import excerpt

        text, label = design_text(design, label)
        self.label = label
        self.name = label or excerpt(text, 60)  # the design as the header names it
        self.settings = settings_of(settings, options)
        self.progress = progress
        self.design = parse(text, label)
        self.defines = list(define_texts(defines))
        self.overrides = [Parser(Source(d, f"-D {d}")).definition() for d in self.defines]
        self._statements: dict[tuple[str, object], object] = {}
        self.varied = self._varies(vary)
        self.total = math.prod(len(v.values) for v in self.varied)
        if not isinstance(max_points, int) or max_points < 1:
            raise SettingsError(f"max_points must be at least 1, got {max_points!r}")
        if self.total > max_points:
            raise SettingsError(f"the sweep has {self.total:,} points, more than the limit of {max_points:,} "
                                f"(narrow the ranges, or raise --max-points)")
        self._check_names()
        names = Names({v.name: v.values.numeric for v in self.varied})
        self.where = None if where is None else condition(where, names)
        self.sort = [] if sort is None else keys(sort, names, "--sort")
        self.pareto = [] if pareto is None else keys(pareto, names, "--pareto")
        if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
            raise SettingsError(f"top must be a whole number of at least 1, got {top!r}")
        self.top = top
        if pareto is not None and len(self.pareto) < 2:
            raise SettingsError("a Pareto front needs at least two measures, such as --pareto -macs,+params")
        self.columns = self._columns(columns)
        read = [*self.columns, *(self.where.names if self.where else ()), *(n for n, _ in self.sort),
                *(n for n, _ in self.pareto)]
        self.needs = M.costliest(n for n in read if n in M.MEASURES)
        # the peaks beside the training step's that a point must simulate (the CUDA replay is most of a plan)
        self.want = frozenset({"inference"} & {"inference" for n in read if n == "inference_peak_bytes"}
                              | {"cuda" for n in read if n == "cuda_total_bytes"})
        if self.needs == "budget" and self.settings.budget is None:
            raise SettingsError("max_batch needs a budget: add --budget 8GiB (budget= in the library)")
        if self.settings.budget is not None and self.needs in ("walk", "plan"):
            self.needs = "budget"  # a budget was asked for: its answer is computed (and max_batch shown)
        self.summary: dict = {}
        self._graphs: dict[tuple, LayerGraph] = {}
        self._walker = _Totals(self.settings.fit_rule)
        self._memo: dict = {}  # the lean planner walk's numbers per item, input and flow (planner.Lean)
        self._traces: dict = {}  # the training step's compiled traces by structure (metrics/traced.py)
        self._points: dict[tuple, _Shape] = {}  # the graph shapes met, with their compiled points
        self._shapes: dict[int, tuple] = {}  # id of a graph's items -> (the items, their layers, the graph's shape)
        self._shared = _shared([0, 0])  # what expansions keep across points (_Expansion)
        self.stats = {"expansions": 0, "compiled": 0, "replayed": 0}  # how much was reused: see cache()

    # -- set-up -------------------------------------------------------------------------------------
    def _varies(self, vary) -> list[Vary]:
        if isinstance(vary, str):
            vary = [vary]
        if hasattr(vary, "items"):
            varied = [vary_from(name, values) for name, values in vary.items()]
        else:
            varied = [v if isinstance(v, Vary) else parse_vary(v) for v in vary]
        if not varied:
            raise SettingsError("a sweep needs at least one --vary NAME=VALUES, such as --vary N=1..4")
        seen: dict[str, Vary] = {}
        for v in varied:
            if v.name in seen:
                raise v.error(f"'{v.name}' is varied twice: give all its values in one --vary")
            if M.resolve(v.name) is not None:
                raise v.error(f"'{v.name}' is a measure's name; a design variable of that name cannot be varied "
                              f"here")
            seen[v.name] = v
            if v.name == "batch":
                for value in v.values.parts:
                    bad = next((x for x in (value if isinstance(value, list) else [value[0]])
                                if not isinstance(x, int) or x < 1), None)
                    if bad is not None:
                        raise v.error(f"batch takes whole numbers of at least 1, got {bad!r}")
            elif v.name == "input":
                for part in v.values.parts:
                    for value in part if isinstance(part, list) else ():
                        if not isinstance(value, int):
                            parse_size(value, "a varied input")
            else:
                for part in v.values.parts:
                    for value in part if isinstance(part, list) else part[:1]:
                        self._statement(v, value)
        return varied

    def _statement(self, vary: Vary, value):
        """The parsed definition NAME=VALUE (parsed once per value)."""
        key = (vary.name, value)
        statement = self._statements.get(key)
        if statement is None:
            text = f"{vary.name}={value}"
            statement = self._statements[key] = Parser(Source(text, f"--vary {text}")).definition()
        return statement

    def _check_names(self) -> None:
        """A -D or a varied name that the design never uses is an error, as `plan`'s -D is."""
        dsl_names.refuse_unused([self.design], self.overrides)
        varied = [v for v in self.varied if v.name not in SPECIAL]
        statements = [self._statement(v, v.values[0]) for v in varied]
        unused = dsl_names.unused([self.design], [*self.overrides, *statements])
        for v, statement in zip(varied, statements):
            if statement in unused:
                message = dsl_names.unused_error(statement, [dsl_names.Names(self.design)]).message
                raise v.error(message.replace("this -D", "this --vary"))
        unread = dsl_names.unread_defaults([self.design], [*self.overrides, *statements])
        for v, statement in zip(varied, statements):
            if statement in unread:  # every row would be the same
                raise v.error(f"--vary {v.name} changes nothing: every {statement.kind.upper()} layer of the design "
                              f"gives its own {statement.attr} (or there is none)")

    def _columns(self, columns) -> list[str]:
        if columns is None:
            chosen = list(DEFAULT_COLUMNS)
            if self.settings.budget is not None:
                chosen.insert(chosen.index("fits"), "max_batch")
            return chosen
        if not isinstance(columns, str):
            columns = ",".join(columns)
        measures = Names()
        chosen = [name for name, _ in keys(columns, measures, "--columns", signs=False)]
        return chosen

    def cache(self) -> dict:
        """How much the sweep reused so far: expansions done, layers built of those asked for, and
        layer rows computed of those walked (the lean walk), each with its hit rate; graph shapes
        compiled and points replayed from them (the saved-tensor and peak measures)."""
        asked, built = self._shared["stats"]
        walked, computed = self._walker.asked, self._walker.computed
        return {"expansions": self.stats["expansions"], "layers_asked": asked, "layers_built": built,
                "layer_hit_rate": 1 - built / asked if asked else None, "rows_walked": walked,
                "rows_computed": computed, "row_hit_rate": 1 - computed / walked if walked else None,
                "shapes_compiled": self.stats["compiled"], "points_replayed": self.stats["replayed"]}

    # -- one point ------------------------------------------------------------------------------------
    def graph(self, point: dict) -> LayerGraph:
        """The expanded design at a point (the input set by the point or the settings)."""
        s = self.settings
        defines = tuple((v.name, point[v.name]) for v in self.varied if v.name not in SPECIAL)
        graph = self._graphs.get(defines)
        if graph is None:
            statements = [*self.overrides, *(self._statement(v, point[v.name]) for v in self.varied
                                             if v.name not in SPECIAL)]
            base = s.input
            side = point.get("input")
            if isinstance(side, str):
                base = parse_size(side)
            self.stats["expansions"] += 1
            if sum(len(v) for v in self._shared.values() if isinstance(v, dict)) > SHARED:
                self._shared = _shared(self._shared["stats"])
            graph = _Expansion(self.design, statements, base, s.optional, s.max_layers, self._shared).run()
            if len(self._graphs) >= GRAPHS:
                self._graphs.clear()
            self._graphs[defines] = graph
        if "input" in point:
            size = point["input"]
            if isinstance(size, int):
                volume = Volume(size, size, graph.input.size.c)
            else:
                volume = parse_size(size)
            if volume != graph.input.size:
                graph = copy.copy(graph)  # the same layers, another input
                graph.input = Input(graph.input.word, graph.input.span, size=volume)
        return graph

    def measure(self, point: dict) -> dict:
        """The measures of one point: all of the "walk" ones, or all there are (the planner's walk)."""
        from .planner import analyze

        s = self.settings
        graph = self.graph(point)
        batch = point.get("batch", s.batch)
        if self.needs in ("walk", "plan", "peaks") and not self.want and self.lean_walks:
            return self.lean_measures(graph, batch)  # the lean walks: no other peak, no budget
        at = s if batch == s.batch else s.but(batch=batch)
        return M.values(analyze(graph, at, self.needs in ("peaks", "budget"), fixes=False, want=self.want).data,
                        M.MEASURES)

    @property
    def lean_walks(self) -> bool:
        """Every parameter trains and nothing is checkpointed: the lean walks know the step (metrics/rows.Lean)."""
        s = self.settings
        return s.freeze is None and not s.checkpoint and not s.max_input

    def lean(self, graph: LayerGraph, batch, memo: dict):
        """The planner's lean walk of a graph with the sweep's settings (metrics/rows.Lean)."""
        return Lean(graph, self.settings, self.needs == "peaks", batch, memo=memo, traces=self._traces)

    def lean_measures(self, graph: LayerGraph, batch: int) -> dict:
        """A lean walk's measures (the one-pass sums for the "walk" measures, else the planner's lean
        walk), or a compiled point's (metrics/traced.py), which has them all. A graph shape walked
        COMPILE_AT times is compiled there; a compiled point is kept only if it equals the walk there.
        For the "walk" measures alone a shape is compiled only while most rows are new to the sweep
        (their sums cost less than a replay once they are met again: WALK_REUSE).
        Where every compiled point of the shape refuses a point (a number took the walk another way: a
        window that fits at one input size and not at another), the walk answers, and COMPILE_AT such
        points compile another variant, up to VARIANTS. A shape whose replays turn out no faster than
        its walks (the sums of layers already met cost little) goes back to walking."""
        from .metrics import traced

        known = self._shapes.get(id(graph.items))  # a graph met before at another input or batch: its shape
        if known is None or known[0] is not graph.items:
            if len(self._shapes) >= GRAPHS:
                self._shapes.clear()
            layers, shape = traced.shape_of(graph)
            known = self._shapes[id(graph.items)] = (graph.items, layers[1:], shape)
        layers, shape = [graph.input, *known[1]], known[2]
        entry = self._points.get(shape)
        if entry is None:
            if len(self._points) >= POINTS:
                self._points.clear()
            entry = self._points[shape] = _Shape()
        clock = time.perf_counter
        for compiled in entry.variants:
            start = clock()
            values = compiled(layers, batch)
            if values is not None:
                entry.replayed(clock() - start)
                self.stats["replayed"] += 1
                return values
        start = clock()
        walk = self.needs == "walk"
        if walk:
            s, walker = self.settings, self._walker
            asked, computed = walker.asked, walker.computed
            counted, fits, rows, rf = walker.run(graph)
            values = measures(totals(counted, s.dtype_bytes, batch, s.optimizer), fits, rows, rf)
            entry.rows(walker.asked - asked, walker.computed - computed)
        else:
            values = self.lean(graph, batch, self._memo).measures()
        entry.walked(clock() - start)
        if entry.due() and walk and entry.computed < (1 - WALK_REUSE) * entry.asked:
            entry.compiled(None)  # its rows are mostly met before: the one-pass walk stays
        elif entry.due():
            self.stats["compiled"] += 1
            made = traced.compile_point(graph, self.lean)
            replayed = None if made is None else made(layers, batch)
            # kept if equal where it was compiled; else (not recordable, or, which would be a bug, not equal) walked
            entry.compiled(made if replayed is not None and all(replayed[k] == v for k, v in values.items())
                           else None)
        return values

    # -- the rows -------------------------------------------------------------------------------------
    def points(self) -> Iterator[tuple[int, dict]]:
        names = [v.name for v in self.varied]
        for index, combo in enumerate(itertools.product(*(v.values for v in self.varied))):
            yield index, dict(zip(names, combo))

    def point(self, index: int) -> dict:
        """The bindings of the grid's point `index` (the last --vary changing fastest)."""
        values = []
        for v in reversed(self.varied):
            index, i = divmod(index, len(v.values))
            values.append((v.name, v.values[i]))
        return dict(reversed(values))

    def outcome(self, point: dict) -> tuple[dict | None, tuple | None]:
        """(the measures, None), or (None, the failure's reason) for a point that cannot be computed."""
        try:
            return self.measure(point), None
        except CnnCalcError as e:
            return None, Failures.reason(e)

    def results(self) -> Iterator[tuple[int, dict, dict | None, tuple | None]]:
        """(index, point, measures, failure) for every point in order; with `jobs`, computed by that many
        worker processes, a few chunks ahead of the reader (so memory stays bounded)."""
        if self.jobs <= 1 or self.total < 2 * CHUNK:
            for index, point in self.points():
                yield (index, point, *self.outcome(point))
            return
        import multiprocessing
        from collections import deque

        global _WORKER
        # Linux forks the workers, each a copy of this sweep, parsed and checked; elsewhere they start
        # afresh and rebuild it (a script calling sweep(jobs=...) then needs `if __name__ == "__main__":`)
        fork = sys.platform.startswith("linux")
        context = multiprocessing.get_context("fork" if fork else "spawn")
        starts = iter(range(0, self.total, CHUNK))
        _WORKER = self if fork else None
        with context.Pool(self.jobs, initializer=None if fork else _start_worker,
                          initargs=() if fork else (self._spec,)) as pool:
            pending = deque(pool.apply_async(_work, (start, min(start + CHUNK, self.total)))
                            for start in itertools.islice(starts, 3 * self.jobs))
            while pending:
                batch = pending.popleft().get()
                start = next(starts, None)
                if start is not None:
                    pending.append(pool.apply_async(_work, (start, min(start + CHUNK, self.total))))
                for index, values, failure in batch:
                    yield index, self.point(index), values, failure

    def __iter__(self) -> Iterator[dict]:
        failures = Failures()
        computed = passed = 0
        stopped = False
        kept_most = 0
        note = None
        sorting = self._sort_key(self.sort) if self.sort else None
        front = _Front(self.pareto) if self.pareto else None
        kept: list[dict] = []
        columns = self.columns
        where = self.where
        progress = self.progress
        done = emitted = 0
        next_report = 0.0
        for index, point, values, failure in self.results():
            done += 1
            if progress is not None and done % 64 == 0 and time.monotonic() >= next_report:
                next_report = time.monotonic() + 0.1
                progress(done)
            if failure is not None:
                failures.add(failure, index, point)
                continue
            computed += 1
            if where is not None and not where.test({**values, **point}):
                continue
            passed += 1
            row = {"index": index, "point": point}
            for name in columns:
                row[name] = values[name]
            if front is not None:
                front.add(row, values)
                kept_most = max(kept_most, len(front.rows))
            elif sorting is not None:
                kept.append((sorting(row, values), row))
                if self.top is not None and len(kept) >= 2 * self.top:
                    kept.sort(key=lambda pair: pair[0])
                    del kept[self.top:]
                kept_most = max(kept_most, len(kept))
            else:
                emitted += 1
                yield row
                if self.top is not None and emitted >= self.top:
                    stopped = True
                    break
        if progress is not None:
            progress(done)
        shown: list[dict] = []
        if front is not None:
            rows = front.result()
            order = self._sort_key(self.sort or self.pareto)
            rows.sort(key=lambda row: order(row, front.values[row["index"]]))
            shown = rows if self.top is None else rows[:self.top]
            note = (f"--pareto keeps only the current front in memory (at most {kept_most:,} rows at once); "
                    f"the front is {len(rows):,} rows")
            self.summary["front"] = len(rows)
            self.summary["ties"] = sum(1 for row in rows if row["ties"])
        elif sorting is not None:
            kept.sort(key=lambda pair: pair[0])
            shown = [row for _, row in (kept if self.top is None else kept[:self.top])]
            note = (f"--sort without --top keeps every row that passes in memory to sort them ({kept_most:,} rows)"
                    if self.top is None else f"--sort with --top {self.top} keeps at most {2 * self.top:,} rows")
        for row in shown:
            emitted += 1
            yield row
        self.summary.update({
            "points": self.total, "evaluated": done, "computed": computed, "failed": failures.count,
            "filtered": computed - passed, "passed": passed, "shown": emitted,
            "stopped": (f"--top {self.top} without --sort: stopped after the first {self.top} rows that pass"
                        if stopped else None),
            "kept": note, "failures": failures.summary()})

    def _sort_key(self, order: list[tuple[str, int]]):
        def key(row: dict, values: dict) -> tuple:
            out = []
            for name, direction in order:
                value = values[name] if name in values else row["point"].get(name)
                if value is None or not isinstance(value, (int, float)):
                    out.append((1, 0))
                else:
                    out.append((0, -value if direction > 0 else value))
            out.append(row["index"])
            return tuple(out)

        return key

    def header(self) -> dict:
        """What a rendering states before the rows: the design, the grid, the settings and options."""
        return {"schema": SCHEMA, "design": self.name, "vary": {v.name: _describe(v.values) for v in self.varied},
                "defines": self.defines, "settings": self.settings.public(), "points": self.total,
                "where": None if self.where is None else self.where.text,
                "sort": [f"{'+' if d > 0 else '-'}{n}" for n, d in self.sort],
                "pareto": [f"{'+' if d > 0 else '-'}{n}" for n, d in self.pareto], "top": self.top,
                "names": [v.name for v in self.varied], "columns": self.columns}


class _Shape:
    """A graph shape's compiled points (Sweep.lean_measures), and what its walks and replays cost."""

    __slots__ = ("variants", "since", "closed", "walks", "walk_seconds", "replays", "replay_seconds", "asked",
                 "computed")

    TRIAL = 32  # replays timed before a shape's compiled points are judged

    def __init__(self) -> None:
        self.variants: list = []
        self.since = 0  # walks since the last compile
        self.closed = False  # never compiled again
        self.walks = self.replays = 0
        self.walk_seconds = self.replay_seconds = 0.0
        self.asked = self.computed = 0  # the one-pass walk's rows looked up and computed, for this shape

    def rows(self, asked: int, computed: int) -> None:
        self.asked += asked
        self.computed += computed

    def walked(self, seconds: float) -> None:
        self.since += 1
        self.walks += 1
        self.walk_seconds += seconds

    def due(self) -> bool:
        return not self.closed and self.since >= COMPILE_AT and len(self.variants) < VARIANTS

    def compiled(self, made) -> None:
        self.since = 0
        if made is None:
            self.closed = True
        else:
            self.variants.append(made)

    def replayed(self, seconds: float) -> None:
        self.replays += 1
        self.replay_seconds += seconds
        if self.replays == self.TRIAL and self.replay_seconds / self.replays >= self.walk_seconds / self.walks:
            self.variants, self.closed = [], True  # no faster than walking


CHUNK = 256  # points a worker process computes at a time
_WORKER: Sweep | None = None  # in a worker process: its copy of the sweep


def _start_worker(spec: dict) -> None:
    global _WORKER
    _WORKER = Sweep(**spec)


def _work(start: int, stop: int) -> list[tuple]:
    """(index, measures, failure) for the points start..stop-1, in a worker process."""
    sweep = _WORKER
    assert sweep is not None
    out = []
    for index in range(start, stop):
        values, failure = sweep.outcome(sweep.point(index))
        out.append((index, values, failure))
    return out


def _describe(values: Values) -> list:
    """The values as a JSON list: a range as "A..B:STEP" text, single values as themselves."""
    out = []
    for part in values.parts:
        if isinstance(part, range):
            out.append(f"{part.start}..{part[-1]}" + (f":{part.step}" if part.step != 1 else ""))
        else:
            out.extend(part)
    return out


class _Front:
    """The Pareto front, kept as rows arrive: a row stays while no other row is at least as good on
    every named measure and better on one. Rows equal on every measure are all kept (ties)."""

    def __init__(self, order: list[tuple[str, int]]) -> None:
        self.order = order
        self.rows: list[dict] = []
        self.vectors: list[tuple] = []
        self.values: dict[int, dict] = {}

    def vector(self, row: dict, values: dict) -> tuple:
        out = []
        for name, direction in self.order:
            value = values[name] if name in values else row["point"].get(name)
            out.append(math.inf if value is None or not isinstance(value, (int, float))
                       else (-value if direction > 0 else value))
        return tuple(out)

    def add(self, row: dict, values: dict) -> None:
        v = self.vector(row, values)
        if any(dominates(w, v) for w in self.vectors):
            return
        keep = [i for i, w in enumerate(self.vectors) if not dominates(v, w)]
        if len(keep) != len(self.vectors):
            for i in set(range(len(self.vectors))) - set(keep):
                del self.values[self.rows[i]["index"]]
            self.rows = [self.rows[i] for i in keep]
            self.vectors = [self.vectors[i] for i in keep]
        self.rows.append(row)
        self.vectors.append(v)
        self.values[row["index"]] = values

    def result(self) -> list[dict]:
        groups: dict[tuple, int] = {}
        for v in self.vectors:
            groups[v] = groups.get(v, 0) + 1
        for row, v in zip(self.rows, self.vectors):
            row["ties"] = groups[v] - 1
        return list(self.rows)


def dominates(a: tuple, b: tuple) -> bool:
    """a is at least as good as b on every measure and better on one (smaller is better)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(vectors: Sequence[tuple]) -> list[int]:
    """The indices of the vectors (smaller is better on each axis) that no other vector dominates,
    kept online as _Front does; tests check it against the definition."""
    front: list[int] = []
    for i, v in enumerate(vectors):
        if any(dominates(vectors[j], v) for j in front):
            continue
        front = [j for j in front if not dominates(v, vectors[j])]
        front.append(i)
    return sorted(front)


def sweep(design, *, vary, where: str | None = None, sort: str | None = None, top: int | None = None,
          pareto: str | None = None, columns=None, defines=(), label: str | None = None,
          max_points: int = MAX_POINTS, progress: Callable[[int], None] | None = None, jobs: int = 1,
          settings: Settings | None = None, **options) -> Sweep:
    """Sweep a design over a grid: an iterable of rows, one per point that passes `where`.

    design: a design text, a built-in name or a Path (as plan()); vary: {"N": range(1, 5), "C": [32, 64],
    "input": ["32x32x3", "64x64x3"], "batch": [32, 64]} or texts ["N=1..4", "C=32,64", "W=16..512:16"];
    where: a condition ("params < 5M and training_peak < 8GiB and fits"); sort: "macs" or "-macs,+params"
    (-: smaller first, +: larger first); top: keep the first (or best, with sort) this many; pareto:
    "-macs,+params" (-: smaller is better), only the front is yielded; columns: the measures each row
    holds (cnncalc.measures.MEASURES); defines: as plan()'s, for every point; progress: called with the
    number of points done; max_points: refuse larger grids; jobs: worker processes (0: one per core;
    each starts a Python, so it pays off from a few thousand points); settings (a cnncalc.Settings) and
    options: plan()'s (input, batch, dtype, optimizer, amp, memory_rules, budget, freeze, checkpoint,
    max_input, ...), shared by every point.

    Errors in the options raise CnnCalcError at once; points that cannot be computed are counted in
    `summary["failures"]` by reason. Each row is {"index", "point", *columns}.

    >>> rows = list(sweep("INPUT 32x32x3 -> CONV3-C -> RELU", vary={"C": [8, 16]}, columns="params"))
    >>> [r["params"] for r in rows]  # (3*3*3)*C + C
    [224, 448]
    """
    return Sweep(design, vary=vary, where=where, sort=sort, top=top, pareto=pareto, columns=columns,
                 defines=defines, label=label, max_points=max_points, progress=progress, jobs=jobs, settings=settings,
                 **options)

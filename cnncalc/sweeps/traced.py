"""Sweeps' numbers compiled per structure, so that a point replays them in a fraction of their cost.

Two designs whose steps differ only in their numbers (volumes, parameter counts, saved bytes, the
storages' sizes, the batch) make the same operations in the same order: the simulation's choices
read the steps' kinds, storages and flags, and its numbers only where it tests one (a bias of 0
elements allocates nothing, a broadcast factor is summed when its size differs from the output's).
`compile_peak` runs the simulation once with symbols in place of the numbers: each symbol
computes its concrete value and records its arithmetic, and each test of one records a guard.
The timeline records each allocation's size, each free and each sample. The result is the
source of one Python function of the steps, the storages' sizes and the batch that checks the
guards (None when one differs: the caller simulates), computes the sizes and replays the
timeline's total: the peak of live bytes, to the byte the simulation's. `structure` is the key a
compiled function is valid for: every field of every step that is not a number.

`compile_point` goes one step earlier: the planner's lean walk of an expanded graph, then the
simulation, with symbols for every whole number of every layer (its settings, the input's size)
and the batch. Its function takes a graph of the same `shape_of` (the same layer classes and words,
the same branches) and returns all the walk's measures, or None where a guard differs (a window
that fits at one input size and not at another, groups that divide or not).

What makes this safe: a symbol refuses what it cannot record (hashing, conversion to int or
float, indexing): the structure is then not compiled, and its points are walked and simulated. A
symbol's least value (`low`) is only what the layers' readers enforce (a setting's minimum, a
volume of at least 1x1x1) or a guard proved. Text built from a symbol (a formula, a message) holds
its concrete value: no measure is text. The sweep keeps a compiled point only if it equals the walk
where it was compiled, and tests/test_traced.py checks every built-in design and random grids.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import FunctionType

from ..graph import LayerGraph
from ..kinds import UNSUPPORTED, Branch, Volume
from ..simulate.step import peak_of
from ..simulate.steps import Setup, Step
from ..simulate.timeline import Timeline, granular

NUMBERS = ("weights", "biases", "buffers")  # a step's counts (ints, or None where not known)


def structure(steps: list[Step], sizes: list[int], setup: Setup) -> tuple:
    """What a compiled peak depends on beside numbers: the setup, which storages hold nothing (views),
    and each step's kind, storages and flags, which of its counts are unknown (None) or 0, and what it
    saves (which extra bytes are 0, not how many)."""
    return (setup, len(sizes), tuple(i for i, n in enumerate(sizes) if not n), tuple(
        (s.kind, s.sids_in, s.sid_out, s.saves if s.saves is UNSUPPORTED else
         (s.saves[0], s.saves[1], not s.saves[2], not s.saves[3]), s.grad, s.holds, s.trainable, s.ckpt, s.relaid,
         s.copy, s.splits, s.side, s.keeps, s.weights is None or not s.weights,
         s.biases is None or not s.biases, s.buffers is None or not s.buffers,
         s.weights is None, s.biases is None, s.buffers is None) for s in steps))


class Untraceable(Exception):
    """The simulation used a number in a way a symbol cannot record."""


class Trace:
    """The source being written: leaves (reads of the concrete steps), named values, guards."""

    def __init__(self, named: bool = False) -> None:
        self.lines: list[str] = []
        self.names: dict[str, str] = {}  # expression -> the variable holding it
        self.guards: dict[str, bool] = {}  # expression -> the truth it had
        self.leaves: dict[str, Sym] = {}  # path -> the number read there
        self.named = named  # each leaf read once into a variable (else read where it is used)

    def leaf(self, value: int, path: str, low: int | None = None) -> Sym:
        """The number at `path` of the concrete arguments (its value here, at least `low` everywhere)."""
        sym = self.leaves.get(path)
        if sym is None:
            sym = self.leaves[path] = Sym(value, self.name(path) if self.named else path, self, low=low)
        return sym

    def name(self, expr: str) -> str:
        """A variable holding the expression's value (written once)."""
        if expr.isidentifier():
            return expr
        var = self.names.get(expr)
        if var is None:
            var = self.names[expr] = f"v{len(self.names)}"
            self.lines.append(f"    {var} = {expr}")
        return var

    def guard(self, expr: str, truth: bool) -> None:
        known = self.guards.get(expr)
        if known is None:
            self.guards[expr] = truth
            self.lines.append(f"    if {'not ' if truth else ''}({expr}): return None")
        elif known != truth:  # cannot be: the same expression has one value
            raise Untraceable(expr)


class Sym:
    """A number of the simulation: its concrete value, the expression that computes it, and the least
    value it is known to take wherever the structure is the same and the guards hold (`low`, or None),
    which decides some tests without a guard (a product of counts is never 0)."""

    __slots__ = ("v", "e", "trace", "depth", "low")

    DEEPEST = 40  # operations nested in one expression; a deeper one is held in a variable first
    LONGEST = 48  # characters of an expression; a longer one is held in a variable

    def __init__(self, v: int, e: str, trace: Trace, depth: int = 0, low: int | None = None) -> None:
        self.v, self.e, self.trace, self.depth, self.low = v, e, trace, depth, low

    def _op(self, other, symbol: str, fn, reflected: bool = False):
        if type(other) is Sym:
            value, expr, depth, low = other.v, other.e, other.depth, other.low
        elif type(other) is int:
            value, expr, depth, low = other, str(other), 0, other
            if value in (0, 1):
                same = self._identity(value, symbol, reflected)
                if same is not None:
                    return same
        else:
            return NotImplemented
        mine = self.e
        if max(depth, self.depth) >= self.DEEPEST:  # a long sum: its parts in variables
            mine, expr, depth = self.trace.name(mine), self.trace.name(expr), 0
        else:
            depth = max(depth, self.depth)
        a, b = (low, self.low) if reflected else (self.low, low)
        text = f"({expr}{symbol}{mine})" if reflected else f"({mine}{symbol}{expr})"
        if len(text) > self.LONGEST:  # computed once, in a variable, however often it is used
            text, depth = self.trace.name(text), -1
        return Sym(fn(value, self.v) if reflected else fn(self.v, value), text, self.trace, depth + 1,
                   _least(symbol, a, b, type(other) is int and not reflected and symbol == "-" and value))

    def _identity(self, value: int, symbol: str, reflected: bool):
        """x + 0, x - 0, x * 1, x // 1: x; x * 0: 0; else None (an operation to record)."""
        if value == 0 and (symbol == "+" or (symbol == "-" and not reflected)):
            return self
        if symbol == "*":
            return self if value == 1 else 0
        if value == 1 and symbol == "//" and not reflected:
            return self
        return None

    def __add__(self, o):
        return self._op(o, "+", int.__add__)

    def __radd__(self, o):
        return self._op(o, "+", int.__add__, True)

    def __sub__(self, o):
        return self._op(o, "-", int.__sub__)

    def __rsub__(self, o):
        return self._op(o, "-", int.__sub__, True)

    def __mul__(self, o):
        return self._op(o, "*", int.__mul__)

    def __rmul__(self, o):
        return self._op(o, "*", int.__mul__, True)

    def __floordiv__(self, o):
        return self._op(o, "//", int.__floordiv__)

    def __rfloordiv__(self, o):
        return self._op(o, "//", int.__floordiv__, True)

    def __mod__(self, o):
        return self._op(o, "%", int.__mod__)

    def __rmod__(self, o):
        return self._op(o, "%", int.__mod__, True)

    def __neg__(self):
        return Sym(-self.v, f"(-{self.e})", self.trace, self.depth + 1)

    def _test(self, other, symbol: str) -> bool:
        if type(other) is Sym:
            value, expr = other.v, other.e
        elif type(other) is int:
            value, expr = other, str(other)
        else:
            raise Untraceable(f"a number compared with {type(other).__name__}")
        truth = _COMPARE[symbol](self.v, value)
        low = self.low
        if type(other) is int and low is not None and (low > value or (low == value and symbol in (">=", "<"))):
            return truth  # decided by what the number is known to be at least: no guard
        self.trace.guard(f"{self.e}{symbol}{expr}", truth)
        if type(other) is int:  # what the guard proves from here on
            least = {(">", True): value + 1, (">=", True): value, ("==", True): value, ("<", False): value,
                     ("<=", False): value + 1}.get((symbol, truth))
            if least is not None and (low is None or least > low):
                self.low = least
        return truth

    def __eq__(self, o):  # type: ignore[override]
        return self._test(o, "==")

    def __ne__(self, o):  # type: ignore[override]
        return self._test(o, "!=")

    def __lt__(self, o):
        return self._test(o, "<")

    def __le__(self, o):
        return self._test(o, "<=")

    def __gt__(self, o):
        return self._test(o, ">")

    def __ge__(self, o):
        return self._test(o, ">=")

    def __bool__(self) -> bool:
        return self._test(0, "!=")

    def __format__(self, spec: str) -> str:  # text (a formula, a message) is not a measure: the concrete value
        return format(self.v, spec)

    __hash__ = None  # type: ignore[assignment]  # a number as a key: not recordable

    def _refuse(self, *args):
        raise Untraceable("a number used as an index, a key or a float")

    __index__ = __int__ = __float__ = __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __abs__ = _refuse


_COMPARE = {"==": int.__eq__, "!=": int.__ne__, "<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__}


def _least(symbol: str, a: int | None, b: int | None, minus: int | bool) -> int | None:
    """The least value of `a symbol b` from the least values of its operands (None: unknown); `minus`:
    the whole number subtracted, when the right side is one."""
    if symbol == "-":
        return a - minus if a is not None and minus is not False and type(minus) is int else None
    if a is None or b is None or a < 0 or b < 0:
        return None
    if symbol == "+":
        return a + b
    if symbol == "*":
        return a * b
    if symbol in ("//", "%"):
        return 0 if b >= 1 else None
    return None


class _Volume(Volume):
    """A volume of symbols whose size is read as the concrete volume's `size`."""

    def __new__(cls, h, w, c, size):
        volume = super().__new__(cls, h, w, c)
        volume._size = size
        return volume

    @property
    def size(self):
        return self._size


class _Proxy:
    """A layer (or a branch) as the walk and the simulation read it: a whole number of its own (or a pair
    of them, or a volume) is a leaf, at least its setting's minimum; a word, a flag, a fraction or None
    a guard on the concrete one's. What its class declares is the class's: a rule, bound to the proxy (so
    that it reads the numbers through it), a trait as it is (the same for every layer of a shape, which
    is keyed by class). Its class is the concrete one's (isinstance sees a Layer)."""

    def __init__(self, obj, at: str, trace: Trace) -> None:
        self._obj, self._at, self._trace = obj, at, trace
        self._low = {setting.field: setting.minimum for setting in getattr(type(obj), "settings", ())}

    @property
    def __class__(self):  # type: ignore[override]
        return type(self._obj)

    def __getattr__(self, name: str):
        obj = self._obj
        if name in STRUCTURAL or name in COSMETIC:
            return getattr(obj, name)
        own = getattr(obj, "__dict__", {})
        if name not in own:  # declared by its class
            for klass in type(obj).__mro__:
                found = klass.__dict__.get(name, _MISSING)
                if isinstance(found, (FunctionType, property)):
                    return found.__get__(self)
                if found is not _MISSING:
                    break
            return getattr(obj, name)
        value = own[name]
        path, low = f"{self._at}.{name}", self._low.get(name)
        if type(value) is int:
            return self._trace.leaf(value, path, low)
        if type(value) in (tuple, Volume) and all(type(v) is int for v in value):
            low = 1 if type(value) is Volume else low
            parts = tuple(self._trace.leaf(v, f"{path}[{k}]", low) for k, v in enumerate(value))
            return Volume(*parts) if type(value) is Volume else parts
        if value is None or type(value) in (str, bool, float):
            self._trace.guard(f"{path} == {value!r}", True)
            return value
        raise Untraceable(f"a layer's {name} of type {type(value).__name__}")


_MISSING = object()
STRUCTURAL = ("kind", "word")  # decided by a layer's class and word (in `shape_of`)
COSMETIC = ("name", "span")  # read for messages only: passed on as they are


class _Recorder(Timeline):
    """The timeline, recorded: each allocation adds a named size to the total, each free takes it off,
    each sample is where the peak may be."""

    def __init__(self, block: int, trace: Trace) -> None:
        super().__init__(block, {})
        self.trace = trace
        self.ops: list[tuple[str, str] | None] = []  # ("+" or "-", the size's variable), None: a sample

    def alloc(self, key, size, category: str) -> None:
        if key not in self.live and size:
            if self.block != 1:
                size = granular(size, self.block)
            var = self.trace.name(size.e) if type(size) is Sym else str(size)
            self.live[key] = (var, category)
            self.ops.append(("+", var))

    def alloc_all(self, keys: list, sizes: list, category: str) -> None:
        for key, size in zip(keys, sizes):
            self.alloc(key, size, category)

    def free(self, key) -> None:
        entry = self.live.pop(key, None)
        if entry is not None:
            self.ops.append(("-", entry[0]))

    def keep(self, sid: int, change: int) -> None:
        self.kept[sid] = self.kept.get(sid, 0) + change  # the categories do not change the total

    def sample(self, phase: str, index: int | None) -> None:
        self.ops.append(None)


def compile_peak(steps: list[Step], sizes: list[int], setup: Setup) -> Callable | None:
    """A function (steps, storage sizes, batch) -> the training step's peak of live bytes, or None
    where the steps differ from these in a number the simulation tested; for every list of steps of
    the same `structure`. None when the simulation cannot be recorded."""
    trace = Trace()  # every step's numbers are leaves, most never used: each read where it is used
    leaf = trace.leaf

    def count(value: int, path: str) -> Sym | int:
        """A count the structure says is 0 wherever it is 0 here (and at least 1 elsewhere)."""
        return leaf(value, path, 1) if value else 0

    def volume(v: Volume, path: str) -> Volume:
        # every volume is at least 1x1x1 (shapes refuses an empty one)
        return _Volume(leaf(v.h, f"{path}.h", 1), leaf(v.w, f"{path}.w", 1), leaf(v.c, f"{path}.c", 1),
                       leaf(v.size, f"{path}.size", 1))

    symbolic = []
    for i, s in enumerate(steps):
        at = f"S[{i}]"
        changes = {"x": volume(s.x, f"{at}.x"), "y": volume(s.y, f"{at}.y"),
                   "item": _Proxy(s.item, f"{at}.item", trace)}
        for field in NUMBERS:
            value = getattr(s, field)
            if value is not None:
                changes[field] = count(value, f"{at}.{field}")
        if s.saves is not UNSUPPORTED:
            changes["saves"] = (*s.saves[:2], count(s.saves[2], f"{at}.saves[2]"),
                                count(s.saves[3], f"{at}.saves[3]"))
        symbolic.append(s._replace(**changes))
    storage = [count(n, f"Z[{sid}]") for sid, n in enumerate(sizes)]
    batch = leaf(1, "B", 1)
    recorder = _Recorder(setup.block, trace)
    try:
        peak_of(symbolic, storage, setup, batch, timeline=recorder)
    except (Untraceable, TypeError):
        return None
    return _function("peak", "S, Z, B", [*trace.lines, "    t = p = 0", *_replay(recorder.ops), "    return p"])


def _replay(ops: list) -> list[str]:
    """The lines that replay a recorded timeline: its total changed between samples, its peak kept."""
    lines = []
    pending: list[str] = []  # the changes since the last sample
    for op in ops:
        if op is not None:
            pending.append(f"{op[0]} {op[1]}")
        elif pending:
            lines.append(f"    t = t {' '.join(pending)}")
            lines.append("    if t > p: p = t")
            pending = []
    return lines


def _function(name: str, arguments: str, body: list[str]) -> Callable:
    source = f"def {name}({arguments}):\n" + "\n".join(body) + "\n"
    namespace: dict = {}
    exec(compile(source, f"<cnncalc traced {name}>", "exec"), namespace)
    fn = namespace[name]
    fn.source = source
    return fn


# -- a whole point: from the expanded graph to its measures ------------------------------------------

def shape_of(graph: LayerGraph) -> tuple[list, tuple]:
    """The graph's layers in walk order (its input first), and its shape: each layer's class and
    word, each branch's kind and arms. A compiled point is valid for every graph of the same shape
    whose numbers pass its guards."""
    layers = [graph.input]

    def shape(items) -> tuple:
        out = []
        for item in items:
            if isinstance(item, Branch):
                out.append((item.kind, tuple(shape(arm) for arm in item.arms)))
            else:
                layers.append(item)
                out.append((type(item), item.word))
        return tuple(out)

    return layers, (type(graph.input), shape(graph.items))


class _NoMemo:
    """The walk's memo while it is traced: nothing kept (a symbol cannot be a key)."""

    def get(self, key):
        return None

    def __setitem__(self, key, value) -> None:
        pass

    def __len__(self) -> int:
        return 0


def compile_point(graph: LayerGraph, walker: Callable) -> Callable | None:
    """A function (the layers of a graph of the same shape, in `shape_of`'s order; the batch) -> the
    measures the planner's lean walk gives (sweeps/lean.py), its training peak replayed; or
    None where a number takes the walk or the simulation another way. `walker(graph, batch, memo)`
    makes the lean walk with the sweep's settings. None when the walk cannot be recorded."""
    trace = Trace(named=True)  # a setting is read where the walk first reads it, into a variable
    count = itertools.count()

    def proxy(layer) -> _Proxy:
        return _Proxy(layer, f"L[{next(count)}]", trace)

    def items(chain) -> list:
        return [item.with_arms([items(arm) for arm in item.arms]) if isinstance(item, Branch)
                else proxy(item) for item in chain]

    first = proxy(graph.input)
    symbolic = LayerGraph(first, items(graph.items), graph.assumptions, [], graph.written)
    batch = trace.leaf(1, "B", 1)
    lean = walker(symbolic, batch, _NoMemo())
    recorder = _Recorder(lean.setup.block, trace)

    def peak() -> Sym:
        peak_of(lean.steps, lean.storages.sizes, lean.setup, batch, timeline=recorder)
        return Sym(0, "p", trace)  # the replay's peak, computed after the lines

    lean.peak = peak
    try:
        values = lean.measures()
        returned = {}
        for key, value in values.items():
            if type(value) is Sym:
                returned[key] = value.e
            elif value is None or type(value) in (int, bool):
                returned[key] = repr(value)
            else:
                raise Untraceable(f"a measure of type {type(value).__name__}")
    except (Untraceable, TypeError):
        return None
    body = [*trace.lines, "    t = p = 0", *_replay(recorder.ops),
            "    return {" + ", ".join(f"{key!r}: {expr}" for key, expr in returned.items()) + "}"]
    return _function("point", "L, B", body)

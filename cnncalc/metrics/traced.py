"""The training simulation compiled for one structure, so a sweep replays it at a point in a fraction
of its cost.

Two designs whose steps differ only in their numbers (volumes, parameter counts, saved bytes, the
storages' sizes, the batch) make the same operations in the same order: the simulation's choices
read the steps' kinds, storages and flags, and its numbers only where it tests one (a bias of 0
elements allocates nothing, a broadcast factor is summed when its size differs from the output's).
`compile_peak` runs the simulation once with symbols in place of the numbers: each symbol
computes its concrete value and records its arithmetic, and each test of one records a guard.
The timeline records each allocation's size, each free and each sample. The result is the
source of one Python function of the steps, the storages' sizes and the batch that checks the
guards (None when one differs: the caller simulates), computes the sizes and replays the
timeline's total: the peak of live bytes, to the byte the simulation's.

A symbol refuses what it cannot record (hashing, conversion to int, indexing): such a structure
is not compiled, and its points are simulated. `structure` is the key a compiled function is
valid for: every field of every step that is not a number.
"""

from __future__ import annotations

from collections.abc import Callable

from ..layers import Volume
from . import UNSUPPORTED
from .training import Setup, Step, _Timeline, simulate

NUMBERS = ("weights", "biases", "buffers")  # a step's counts (ints, or None where not known)


def structure(steps: list[Step], sizes: list[int], setup: Setup) -> tuple:
    """What a compiled peak depends on beside numbers: the setup, which storages hold nothing (views),
    and each step's kind, storages and flags, which of its counts are unknown (None) or 0, and what it
    saves (which extra bytes are 0, not how many)."""
    return (setup, len(sizes), tuple(i for i, n in enumerate(sizes) if not n), tuple(
        (s.kind, s.sids_in, s.sid_out, s.saves if s.saves is UNSUPPORTED else
         (s.saves[0], s.saves[1], not s.saves[2], not s.saves[3]), s.grad, s.holds, s.trainable, s.ckpt, s.relaid,
         s.copy, s.splits, s.side, s.unmodelled, s.weights is None or not s.weights,
         s.biases is None or not s.biases, s.buffers is None or not s.buffers,
         s.weights is None, s.biases is None, s.buffers is None) for s in steps))


class Untraceable(Exception):
    """The simulation used a number in a way a symbol cannot record."""


class _Trace:
    """The source being written: leaves (reads of the concrete steps), named values, guards."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, str] = {}  # expression -> the variable holding it
        self.guards: dict[str, bool] = {}  # expression -> the truth it had

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
    """A number of the simulation: its concrete value and the expression that computes it."""

    __slots__ = ("v", "e", "trace", "depth", "positive")

    DEEPEST = 40  # operations nested in one expression; a deeper one is held in a variable first

    def __init__(self, v: int, e: str, trace: _Trace, depth: int = 0, positive: bool = False) -> None:
        self.v, self.e, self.trace, self.depth = v, e, trace, depth
        self.positive = positive  # at least 1 wherever the structure is the same: its truth needs no guard

    def _op(self, other, symbol: str, fn, reflected: bool = False, keeps_sign: bool = False):
        if type(other) is Sym:
            value, expr, depth, positive = other.v, other.e, other.depth, other.positive
        elif type(other) is int:
            value, expr, depth, positive = other, str(other), 0, other > 0
        else:
            return NotImplemented
        mine = self.e
        if max(depth, self.depth) >= self.DEEPEST:  # a long sum: its parts in variables
            mine, expr, depth = self.trace.name(mine), self.trace.name(expr), 0
        else:
            depth = max(depth, self.depth)
        positive = keeps_sign and positive and self.positive  # sums and products of positive numbers
        if reflected:
            return Sym(fn(value, self.v), f"({expr}{symbol}{mine})", self.trace, depth + 1, positive)
        return Sym(fn(self.v, value), f"({mine}{symbol}{expr})", self.trace, depth + 1, positive)

    def __add__(self, o):
        return self._op(o, "+", int.__add__, keeps_sign=True)

    def __radd__(self, o):
        return self._op(o, "+", int.__add__, True, keeps_sign=True)

    def __sub__(self, o):
        return self._op(o, "-", int.__sub__)

    def __rsub__(self, o):
        return self._op(o, "-", int.__sub__, True)

    def __mul__(self, o):
        return self._op(o, "*", int.__mul__, keeps_sign=True)

    def __rmul__(self, o):
        return self._op(o, "*", int.__mul__, True, keeps_sign=True)

    def __floordiv__(self, o):
        return self._op(o, "//", int.__floordiv__)

    def __rfloordiv__(self, o):
        return self._op(o, "//", int.__floordiv__, True)

    def __neg__(self):
        return Sym(-self.v, f"(-{self.e})", self.trace, self.depth + 1)

    def _test(self, other, symbol: str, fn) -> bool:
        if type(other) is Sym:
            value, expr = other.v, other.e
        elif type(other) is int:
            value, expr = other, str(other)
        else:
            raise Untraceable(f"a number compared with {type(other).__name__}")
        truth = fn(self.v, value)
        self.trace.guard(f"{self.e}{symbol}{expr}", truth)
        return truth

    def __eq__(self, o):  # type: ignore[override]
        return self._test(o, "==", int.__eq__)

    def __ne__(self, o):  # type: ignore[override]
        return self._test(o, "!=", int.__ne__)

    def __lt__(self, o):
        return self._test(o, "<", int.__lt__)

    def __le__(self, o):
        return self._test(o, "<=", int.__le__)

    def __gt__(self, o):
        return self._test(o, ">", int.__gt__)

    def __ge__(self, o):
        return self._test(o, ">=", int.__ge__)

    def __bool__(self) -> bool:
        if self.positive:
            return True
        truth = self.v != 0
        self.trace.guard(self.e, truth)
        return truth

    __hash__ = None  # type: ignore[assignment]  # a number as a key: not recordable

    def _refuse(self, *args):
        raise Untraceable("a number used as an index, a key or a float")

    __index__ = __int__ = __float__ = __truediv__ = __rtruediv__ = __mod__ = __pow__ = _refuse


class _Volume(Volume):
    """A volume of symbols whose size is read as the concrete volume's `size`."""

    def __new__(cls, h, w, c, size):
        volume = super().__new__(cls, h, w, c)
        volume._size = size
        return volume

    @property
    def size(self):
        return self._size


class _Item:
    """A layer (or branch) as the simulation reads it: a whole number is a leaf, any other value a
    guard on the concrete layer's."""

    def __init__(self, item, at: str, trace: _Trace, leaf) -> None:
        self._item, self._at, self._trace, self._leaf = item, at, trace, leaf

    def __getattr__(self, name: str):
        value = getattr(self._item, name)
        path = f"{self._at}.{name}"
        if type(value) is int:
            return self._leaf(value, path)
        if value is None or type(value) in (str, bool):
            self._trace.guard(f"{path} == {value!r}", True)
            return value
        raise Untraceable(f"a layer's {name} of type {type(value).__name__}")


class _Recorder(_Timeline):
    """The timeline, recorded: each allocation adds a named size to the total, each free takes it off,
    each sample is where the peak may be."""

    def __init__(self, block: int, trace: _Trace) -> None:
        super().__init__(block, {})
        self.trace = trace
        self.ops: list[tuple[str, str] | None] = []  # ("+" or "-", the size's variable), None: a sample

    def alloc(self, key, size, category: str) -> None:
        if key not in self.live and size:
            if self.block != 1:
                size = -(-size // self.block) * self.block
            var = self.trace.name(size.e) if type(size) is Sym else str(size)
            self.live[key] = (var, category)
            self.ops.append(("+", var))

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
    trace = _Trace()
    leaves: dict[str, Sym] = {}

    def leaf(value: int, path: str, positive: bool = False) -> Sym:
        sym = leaves.get(path)
        if sym is None:  # read where it is used (a read costs less than a variable per leaf)
            sym = leaves[path] = Sym(value, path, trace, positive=positive)
        return sym

    def count(value: int, path: str) -> Sym | int:
        """A count the structure says is 0 wherever it is 0 here (and at least 1 elsewhere)."""
        return leaf(value, path, True) if value else 0

    def volume(v: Volume, path: str) -> Volume:
        # every volume is at least 1x1x1 (shapes refuses an empty one)
        return _Volume(leaf(v.h, f"{path}.h", True), leaf(v.w, f"{path}.w", True), leaf(v.c, f"{path}.c", True),
                       leaf(v.size, f"{path}.size", True))

    symbolic = []
    for i, s in enumerate(steps):
        at = f"S[{i}]"
        changes = {"x": volume(s.x, f"{at}.x"), "y": volume(s.y, f"{at}.y"), "item": _Item(s.item, f"{at}.item",
                                                                                         trace, leaf)}
        for field in NUMBERS:
            value = getattr(s, field)
            if value is not None:
                changes[field] = count(value, f"{at}.{field}")
        if s.saves is not UNSUPPORTED:
            changes["saves"] = (*s.saves[:2], count(s.saves[2], f"{at}.saves[2]"),
                                count(s.saves[3], f"{at}.saves[3]"))
        symbolic.append(s._replace(**changes))
    storage = [count(n, f"Z[{sid}]") for sid, n in enumerate(sizes)]
    batch = leaf(1, "B", True)
    recorder = _Recorder(setup.block, trace)
    try:
        simulate(symbolic, storage, dtype_bytes=setup.dtype_bytes, batch=batch, optimizer=setup.optimizer,
                 foreach=setup.foreach, block=setup.block, device=setup.device, accumulate=setup.accumulate,
                 amp=setup.amp, timeline=recorder)
    except (Untraceable, TypeError):
        return None
    body = list(trace.lines)
    body.append("    t = p = 0")
    pending: list[str] = []  # the changes since the last sample
    for op in recorder.ops:
        if op is not None:
            pending.append(f"{op[0]} {op[1]}")
        elif pending:
            body.append(f"    t = t {' '.join(pending)}")
            body.append("    if t > p: p = t")
            pending = []
    body.append("    return p")
    source = "def peak(S, Z, B):\n" + "\n".join(body) + "\n"
    namespace: dict = {}
    exec(compile(source, "<cnncalc traced peak>", "exec"), namespace)
    fn = namespace["peak"]
    fn.source = source
    return fn

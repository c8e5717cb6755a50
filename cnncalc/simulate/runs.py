"""Runs of repeated units: a design that repeats a unit of rows many times (`[CONV3-16 -> RELU]*50000`, the
blocks of a ResNet stage) makes, for every unit, the operations of the unit before it, moved by a unit. The
simulations run the design shortened to KEPT of its units and let the middle one (TEMPLATE) stand for those
left out: its events repeated, each copy's keys moved by one more unit, and what follows it raised by what a
unit leaves alive.

A run (`find_run`) is a stretch of units equal relative to themselves: the same layer objects, volumes,
saves and parameters, every storage they name moved by the same count a unit (`sids`), the storages'
sizes repeating with it. Each unit names only its own storages and the unit before's; nothing before the
run names its storages, nothing after it names any but the last unit's. What the simulations hold of a
storage or a row (its readers, views, dtype, whether it requires grad, is kept or is live) is then decided
by the unit and the one before, so it repeats too; the simulation checks it on the three middle units of
the shortened design (their events equal, moved by a unit) and runs the whole design where they are not.
"""

from __future__ import annotations

from itertools import groupby, repeat
from operator import itemgetter
from typing import NamedTuple

from .steps import Step
from .timeline import Log, Timeline

KEPT = 5  # units of a run the shortened design keeps: two before the template, the template, two after
TEMPLATE = 2  # the unit whose events stand for the units left out
FEWEST = 8  # a run of fewer units is simulated whole


# A Step's fields: those a unit's rows have as the unit before's, and those naming storages (moved by a unit)
EQUAL_FIELDS = ("kind", "item", "x", "y", "saves", "weights", "biases", "buffers", "grad", "trainable", "ckpt",
                "relaid", "side")
STORAGE_FIELDS = ("sids_in", "sid_out", "holds", "copy", "splits", "keeps", "no_grad")
SAME = itemgetter(*map(Step._fields.index, EQUAL_FIELDS))
ITEM = itemgetter(Step._fields.index("item"))
OTHERS = itemgetter(*map(Step._fields.index, STORAGE_FIELDS[2:]))  # holds, copy, splits, keeps, no_grad
NONE = (None, None, (), (), ())


class Run(NamedTuple):
    """Units of `rows` rows from row `start`, `count` of them; the first unit's storages start at `sid`,
    each unit's `sids` after the one before, its parameter tensors (of the network's, in order) at `param`,
    `params` a unit."""

    start: int
    rows: int
    count: int
    sid: int
    sids: int
    param: int
    params: int

    @property
    def left_out(self) -> int:
        """Units the shortened design leaves out."""
        return self.count - KEPT

    def row(self, unit: int) -> int:
        """The first row of a unit."""
        return self.start + unit * self.rows

    def storage(self, unit: int) -> int:
        """The first storage of a unit."""
        return self.sid + unit * self.sids

    def tensor(self, unit: int) -> int:
        """The first parameter tensor of a unit."""
        return self.param + unit * self.params


def named(s: Step) -> list[int]:
    """The storages a row names."""
    sids = [*s.sids_in, s.sid_out, *s.splits, *s.keeps, *s.no_grad]
    if s.holds is not None:
        sids.append(s.holds)
    if s.copy is not None:
        sids.append(s.copy)
    return sids


def moved(s: Step, move) -> Step:
    """The row with every storage it names moved by `move` (a function of the storage)."""
    return s._replace(sids_in=tuple(map(move, s.sids_in)), sid_out=move(s.sid_out),
                      holds=None if s.holds is None else move(s.holds), copy=None if s.copy is None else move(s.copy),
                      splits=tuple(map(move, s.splits)), keeps=tuple(map(move, s.keeps)),
                      no_grad=tuple(map(move, s.no_grad)))


def find_run(steps: list[Step], sizes: list[int]) -> Run | None:
    """The longest run of FEWEST units or more (None: none, or one that would leave out less than a tenth of
    the rows): from the longest stretch of rows whose layer object comes again the same number
    of rows later, as many units as are equal, moved by a unit."""
    n = len(steps)
    gap = [0] * n  # rows to the next row of the same layer object (0: none)
    seen: dict[int, int] = {}
    for i, item in enumerate(map(id, map(ITEM, steps))):
        last = seen.get(item)
        if last is not None:
            gap[last] = i - last
        seen[item] = i
    length, start, rows = _longest(gap[1:], 1)
    if not rows or (length + rows) // rows < FEWEST:
        return None
    run = _checked(steps, sizes, start, rows, (length + rows) // rows)
    # worth it where it leaves out a tenth of the rows or more (a row simulated costs ten times its events copied)
    return run if run is not None and 10 * run.left_out * run.rows >= n else None


def _checked(steps: list[Step], sizes: list[int], start: int, rows: int, units: int) -> Run | None:
    """The longest run among `units` units of `rows` rows from `start` whose units are each the one before
    moved by the same count of storages (the first may differ: it reads the batch, which requires no grad),
    or None."""
    middle = start + units // 2 * rows
    d = steps[middle].sid_out - steps[middle - rows].sid_out  # storages a unit
    if d <= 0:
        return None
    rows_of = steps[start:start + units * rows]
    fields, where, outs = list(map(SAME, rows_of)), [_relative(s) for s in rows_of], [s.sid_out for s in rows_of]
    same = [a == b and x == y and o2 - o1 == d
            for a, b, x, y, o1, o2 in zip(fields, fields[rows:], where, where[rows:], outs, outs[rows:])]
    steps_on = [all(same[unit * rows:(unit + 1) * rows]) for unit in range(units - 1)]  # unit + 1 is unit moved
    length, first, equal = _longest(steps_on, 0)
    count = length + 1 if equal else 1  # the units of the longest stretch, and the one before its first
    return _bounded(steps, sizes, start + first * rows, rows, count, d) if count >= FEWEST else None


def _longest(values: list, offset: int) -> tuple[int, int, object]:
    """The longest stretch of equal true values: its length, where it starts (+ `offset`), its value;
    (0, offset, 0) when none."""
    best, at = (0, offset, 0), offset
    for value, group in groupby(values):
        length = len(list(group))
        if value and length > best[0]:
            best = (length, at, value)
        at += length
    return best


def _bounded(steps: list[Step], sizes: list[int], start: int, rows: int, count: int, d: int) -> Run | None:
    """The run of `count` equal units of `rows` rows from `start`, `d` storages a unit, when its rows name
    only their unit's storages and the unit before's, no row after it names those of a unit before its last,
    and the storages' sizes repeat a unit; else None."""
    first = steps[start:start + rows]
    if any(s.ckpt is not None or s.side for s in first):  # rows in a checkpointed segment or a side head
        return None
    before = max(_storages(steps[:start]), default=-1)
    sid = min(sid for sid in _storages(first) if sid > before)  # the first storage the run makes
    run = Run(start, rows, count, sid, d, _tensors(steps[:start]), _tensors(first))
    if not all(run.storage(0) <= sid < run.storage(2) for sid in _storages(steps[run.row(1):run.row(2)])):
        return None
    last = run.storage(count - 1)
    if any(run.sid <= sid < last for sid in _storages(steps[run.row(count):])):
        return None
    return run if sizes[run.storage(1):run.storage(count)] == sizes[run.sid:last] else None


def _storages(rows: list[Step]) -> list[int]:
    """The storages the rows name."""
    return [sid for s in rows for sid in named(s)]


def _tensors(rows: list[Step]) -> int:
    """The parameter tensors of the rows."""
    return sum(1 for s in rows for n in (s.weights, s.biases) if n)



def _relative(s: Step):
    """The storages a row names, relative to its output's (a unit's rows are the unit before's moved by `d`
    storages when their other fields are equal and these are)."""
    out, ins = s.sid_out, s.sids_in
    others = OTHERS(s)
    if others == NONE and len(ins) == 1:
        return ins[0] - out
    holds, copy, splits, keeps, no_grad = others
    return (tuple(sid - out for sid in ins), None if holds is None else holds - out,
            None if copy is None else copy - out, tuple(sid - out for sid in splits), tuple(sid - out for sid in keeps),
            tuple(sid - out for sid in no_grad))


def shorten(steps: list[Step], sizes: list[int], run: Run) -> tuple[list[Step], list[int]]:
    """The design with KEPT units of the run: the rows after it name the storages of the last unit kept
    where they named the run's last, and their own storages as many fewer as the units left out make."""
    last, drop = run.storage(run.count - 1), run.left_out * run.sids
    after = [moved(s, lambda sid: sid - drop if sid >= last else sid) for s in steps[run.row(run.count):]]
    return steps[:run.row(KEPT)] + after, sizes[:run.storage(KEPT)] + sizes[run.storage(run.count):]


# The tuple keys of the simulations' tensors, by their first item: what their other items are, in order
# ("r": a row, "s": a storage, "p": a parameter tensor, "-": another number, such as an arm's; a key may stop
# early). A storage is an int key; a string names one tensor of the step. A key not here (a checkpoint's, the
# optimizer's) stops the shortening: the whole design is simulated.
KEY_ITEMS = {
    "extra": "r", "temp": "r", "grad_in": "r-", "grad_in32": "r", "grad_split": "r", "sum": "rs", "catcast": "r-",
    "gcast": "r-", "xcast": "r", "bcast": "r", "wcast": "r", "gw_low": "r", "gb_low": "r", "grad_p": "p",
    "grad_new": "p", "grad_relaid": "p", "grad_crop": "r-", "grad_sum": "r-", "grad_cast": "r-",
    # a side head's loss tensors, by its number
    "log_softmax": "-", "loss": "-", "total_weight": "-", "grad_nll": "-", "grad_logits": "-", "grad_out_low": "-",
    "targets": "-",
}


class Mover:
    """Moves keys by whole units: a storage, a row or a parameter tensor from unit `unit`'s on (those
    before stay). KeyError for a tuple key KEY_ITEMS does not know."""

    def __init__(self, run: Run, unit: int) -> None:
        self.first = {"s": run.storage(unit), "r": run.row(unit), "p": run.tensor(unit)}
        self.unit = {"s": run.sids, "r": run.rows, "p": run.params}

    def steps(self, keys: list) -> list:
        """What a unit adds to each key: an int to an int key, a tuple to a tuple key's items, None where
        it stays."""
        first, unit = self.first, self.unit
        sid, sids = first["s"], unit["s"]
        out: list = []
        for key in keys:
            if type(key) is int:
                out.append(sids if key >= sid else None)
            elif type(key) is tuple:
                items = KEY_ITEMS[key[0]]
                if len(key) > len(items) + 1:
                    raise KeyError(key)
                step = tuple(0 if what == "-" or item < first[what] else unit[what] for item, what in zip(key[1:], items))
                out.append(step if any(step) else None)
            else:
                out.append(None)
        return out

    def moved(self, keys: list, units: int) -> list:
        """The keys moved by `units` units."""
        return moved_by(keys, self.steps(keys), units)


def moved_by(keys: list, steps: list, units: int) -> list:
    """Keys moved by `units` units, by what a unit adds to each (Mover.steps)."""
    return [key if step is None else key + units * step if type(step) is int
            else (key[0], *[item + units * d for item, d in zip(key[1:], step)]) for key, step in zip(keys, steps)]


class Marked(Timeline):
    """A timeline that keeps every sample with the totals by category (`samples`: phase, row, bytes, totals)
    and logs its events (from the forward pass); `mark()` says where the events and the totals stand."""

    def __init__(self, block: int) -> None:
        super().__init__(block, {})
        self.log = Log()
        self.log.mark_forward()
        self.samples: list[tuple] = []

    def sample(self, phase: str, index: int | None) -> None:
        self.samples.append((phase, index, self.total, tuple(self.sums.values())))

    def mark(self) -> tuple[int, tuple[int, ...]]:
        return len(self.log.keys), tuple(self.sums.values())


def steady(t: Marked, marks: list[tuple[int, tuple]], run: Run, backward: bool) -> tuple[int, ...] | None:
    """What each of three units leaves alive, by category, when their events (between the four `marks`, in
    the order they run: `backward`, last to first) are each the one before's moved by a unit, and their
    samples each the one before's raised by what it leaves alive; else None."""
    keys, sizes = t.log.keys, t.log.sizes
    (a, at_a), (b, at_b), (c, at_c), (d, at_d) = marks
    if not (b - a == c - b == d - c and sizes[a:b] == sizes[b:c] == sizes[c:d]):
        return None
    left = [tuple(y - x for x, y in zip(before, after)) for before, after in ((at_a, at_b), (at_b, at_c), (at_c, at_d))]
    if not left[0] == left[1] == left[2]:
        return None
    phase, units = ("backward", (3, 2, 1)) if backward else ("forward", (1, 2, 3))
    sampled = [[sums for p, row, _, sums in t.samples if p == phase and row is not None
                and run.row(unit) <= row < run.row(unit + 1)] for unit in units]
    for before, after in zip(sampled, sampled[1:]):
        if len(before) != len(after) or any(added(x, left[0]) != y for x, y in zip(before, after)):
            return None
    try:
        if backward:
            return left[0] if Mover(run, 0).moved(keys[b:d], 1) == keys[a:c] else None
        return left[0] if Mover(run, 0).moved(keys[a:c], 1) == keys[b:d] else None
    except KeyError:
        return None


def copies(keys: list, lo: int, hi: int, run: Run, units: range) -> list:
    """The events from `lo` to `hi` (the template unit's) once for each count of units in `units`, moved by it
    (KeyError: a key KEY_ITEMS does not know). Built a key of the template at a time, for all the copies."""
    template, n = keys[lo:hi], len(units)
    columns: list = []
    for key, step in zip(template, Mover(run, 1).steps(template)):
        if step is None:
            columns.append(repeat(key, n))
        elif type(step) is int:
            columns.append(_counted(key, step, units))
        else:
            columns.append(zip(repeat(key[0], n), *[_counted(item, d, units) if d else repeat(item, n)
                                                    for item, d in zip(key[1:], step)]))
    return [key for keys_of_copy in zip(*columns) for key in keys_of_copy]


def _counted(value: int, step: int, units: range) -> range:
    """`value` moved by `step` for each count in `units`."""
    return range(value + units.start * step, value + units.stop * step, units.step * step)


def later(keys: list, lo: int, hi: int, run: Run, unit: int) -> list:
    """The events from `lo` to `hi` with the keys from unit `unit`'s on moved by the units left out (KeyError:
    a key KEY_ITEMS does not know)."""
    return Mover(run, unit).moved(keys[lo:hi], run.left_out)


def added(a: tuple[int, ...], b: tuple[int, ...], times: int = 1) -> tuple[int, ...]:
    """The totals by category `a` and `times` `b`."""
    return tuple(x + times * y for x, y in zip(a, b))

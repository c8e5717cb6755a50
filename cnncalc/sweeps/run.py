"""Sweep a design over a grid of bindings: `cnncalc sweep DESIGN --vary N=1..4 --vary C=32,64,128`.

The design is parsed once. Each point of the grid binds its values as `-D` definitions would
(variables, blocks, layer defaults such as `conv.filters`), or sets the input size or the batch;
only the expansion is redone, and only when a definition changed (a point that varies only the
input or the batch reuses the expanded graph). The measures each point needs decide how it is
walked (sweeps/points.py); either way a point's numbers are `plan`'s for the same bindings
(tests/test_sweep.py checks this on random grids).

A point that cannot be computed (a kernel larger than its input, groups that do not divide) is
counted and summarised by reason; it never stops the sweep. Rows are yielded as they are
computed, in constant memory, unless an ordering needs them: `sort` without `top` keeps every
row that passes, `sort` with `top` keeps the best `top`, `pareto` keeps the current front;
`summary` says which.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial

from .. import measures as M
from ..dsl import names as dsl_names
from ..dsl.parser import Parser, parse
from ..errors import CnnCalcError, SettingsError, Source, excerpt, visible
from ..settings import Settings, settings_of
from ..source import define_texts, design_text
from ..where import Names, condition, keys
from ..where import columns as column_names
from .grid import SPECIAL, describe, first_values, varied
from .order import Order
from .points import Points

SCHEMA = "cnncalc.sweep/1"
MAX_POINTS = 10_000_000  # the default limit on a grid's size (--max-points)
DEFAULT_COLUMNS = ("params", "macs", "forward_bytes", "training_peak_bytes", "fits")


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
        self._spec = dict(design=design, vary=vary, where=where, sort=sort, top=top, pareto=pareto, columns=columns,
                          defines=defines, label=label, max_points=max_points, settings=settings, **options)
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
            raise SettingsError(f"jobs is a number of processes (0: one per core), got {jobs!r}")
        self.jobs = jobs or os.cpu_count() or 1
        text, label = design_text(design, label)
        self.label = label
        self.name = visible(label or excerpt(text, 60))  # the design as the header names it
        self.settings = settings_of(settings, options)
        self.progress = progress
        self.design = parse(text, label)
        self.defines = list(define_texts(defines))
        self.overrides = [Parser(Source(d, f"-D {d}")).definition() for d in self.defines]
        self.varied = varied(vary)
        self.total = math.prod(len(v.values) for v in self.varied)
        if not isinstance(max_points, int) or max_points < 1:
            raise SettingsError(f"max_points must be at least 1, got {max_points!r}")
        if self.total > max_points:
            raise SettingsError(f"the sweep has {self.total:,} points, more than the limit of {max_points:,} "
                                f"(narrow the ranges, or raise --max-points)")
        self.points_ = Points(self.design, self.overrides, self.varied, self.settings, "walk", frozenset())
        for v in self.varied:
            if v.name not in SPECIAL:
                for value in first_values(v):
                    self.points_.statement(v, value)
        self._check_names()
        self._order(where, sort, top, pareto)
        self.columns = self._columns(columns)
        self.points_.needs, self.points_.want = self._needs()
        self.summary: dict = {}

    def _order(self, where: str | None, sort: str | None, top: int | None, pareto: str | None) -> None:
        """--where, --sort, --top and --pareto, read against the measures and the varied names."""
        names = Names({v.name: v.values.numeric for v in self.varied})
        self.where = None if where is None else condition(where, names)
        self.sort = [] if sort is None else keys(sort, names, "--sort")
        self.pareto = [] if pareto is None else keys(pareto, names, "--pareto")
        if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
            raise SettingsError(f"top must be a whole number of at least 1, got {top!r}")
        self.top = top
        if pareto is not None and len(self.pareto) < 2:
            raise SettingsError("a Pareto front needs at least two measures, such as --pareto -macs,+params")

    def _needs(self) -> tuple[str, frozenset]:
        """What the measures read need (cnncalc.measures' NEEDS), and the peaks beside the training step's
        a point must simulate (the CUDA replay is most of a plan)."""
        read = [*self.columns, *(self.where.names if self.where else ()), *(n for n, _ in self.sort),
                *(n for n, _ in self.pareto)]
        needs = M.costliest(n for n in read if n in M.MEASURES)
        want = frozenset({"inference" for n in read if n == "inference_peak_bytes"}
                         | {"cuda" for n in read if n == "cuda_total_bytes"})
        if needs == "budget" and self.settings.budget is None:
            raise SettingsError("max_batch needs a budget: add --budget 8GiB (budget= in the library)")
        if "max_input" in read and not self.settings.max_input:
            raise SettingsError("max_input needs --max-input and a budget: add --budget 8GiB --max-input "
                                "(budget=, max_input=True in the library)")
        if self.settings.budget is not None and needs in ("walk", "plan"):
            needs = "budget"  # a budget was asked for: its answer is computed (and max_batch shown)
        return needs, want

    @property
    def needs(self) -> str:
        return self.points_.needs

    def _check_names(self) -> None:
        """A -D or a varied name that the design never uses is an error, as `plan`'s -D is."""
        dsl_names.refuse_unused([self.design], self.overrides)
        varied = [v for v in self.varied if v.name not in SPECIAL]
        statements = [self.points_.statement(v, v.values[0]) for v in varied]
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
            if self.settings.max_input:
                chosen.insert(chosen.index("fits"), "max_input")
            return chosen
        return column_names(columns)

    # -- one point: sweeps/points.py ---------------------------------------------------------------------
    def cache(self) -> dict:
        """How much the sweep reused so far (Points.cache)."""
        return self.points_.cache()

    def measure(self, point: dict) -> dict:
        return self.points_.measure(point)

    def lean(self, graph, batch, memo: dict):
        return self.points_.lean(graph, batch, memo)

    def graph(self, point: dict):
        return self.points_.graph(point)

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
        from .workers import chunks

        global _WORKER
        # Linux forks the workers, each a copy of this sweep, parsed and checked; elsewhere they start
        # afresh and rebuild it (a script calling sweep(jobs=...) then needs `if __name__ == "__main__":`)
        fork = sys.platform.startswith("linux")
        _WORKER = self if fork else None
        for batch in chunks(self.jobs, CHUNK, self.total, partial(_start_worker, None if fork else self._spec), fork):
            for index, values, failure in batch:
                yield index, self.point(index), values, failure

    def passing(self, failures: Failures, counts: dict) -> Iterator[tuple[dict, dict]]:
        """(row, measures) of every point computed that meets --where, in order; failures counted by reason,
        progress reported (at most ten times a second)."""
        next_report = 0.0
        for index, point, values, failure in self.results():
            counts["done"] += 1
            if self.progress is not None and counts["done"] % 64 == 0 and time.monotonic() >= next_report:
                next_report = time.monotonic() + 0.1
                self.progress(counts["done"])
            if failure is not None:
                failures.add(failure, index, point)
                continue
            counts["computed"] += 1
            if self.where is not None and not self.where.test({**values, **point}):
                continue
            counts["passed"] += 1
            row = {"index": index, "point": point}
            for name in self.columns:
                row[name] = values[name]
            yield row, values

    def __iter__(self) -> Iterator[dict]:
        failures = Failures()
        counts = {"done": 0, "computed": 0, "passed": 0, "shown": 0}
        order = Order(self.sort, self.pareto, self.top)
        stopped = False
        for row, values in self.passing(failures, counts):
            if not order.streams:
                order.add(row, values)
                continue
            counts["shown"] += 1
            yield row
            if self.top is not None and counts["shown"] >= self.top:
                stopped = True
                break
        if self.progress is not None:
            self.progress(counts["done"])
        shown, note = order.result(self.summary)
        for row in shown:
            counts["shown"] += 1
            yield row
        self.summary.update({
            "points": self.total, "evaluated": counts["done"], "computed": counts["computed"],
            "failed": failures.count, "filtered": counts["computed"] - counts["passed"], "passed": counts["passed"],
            "shown": counts["shown"],
            "stopped": (f"--top {self.top} without --sort: stopped after the first {self.top} rows that pass"
                        if stopped else None),
            "kept": note, "failures": failures.summary()})

    def __repr__(self) -> str:
        return f"<Sweep of {self.name}: {self.total:,} points over {', '.join(v.name for v in self.varied)}>"

    def render(self, fmt: str = "table") -> str:
        """The whole sweep as `cnncalc sweep --format FMT` writes it (table, markdown, json, jsonl, csv, html):
        its points are computed now."""
        from ..render.sweep import chunks

        return "".join(chunks(self.header(), iter(self), lambda: self.summary, fmt, ties=bool(self.pareto)))

    def __str__(self) -> str:
        return self.render("table")

    def _repr_html_(self) -> str:
        return self.render("html")

    def header(self) -> dict:
        """What a rendering states before the rows: the design, the grid, the settings and options."""
        return {"schema": SCHEMA, "design": self.name, "vary": {v.name: describe(v.values) for v in self.varied},
                "defines": self.defines, "settings": self.settings.public(), "points": self.total,
                "where": None if self.where is None else self.where.text,
                "sort": [f"{'+' if d > 0 else '-'}{n}" for n, d in self.sort],
                "pareto": [f"{'+' if d > 0 else '-'}{n}" for n, d in self.pareto], "top": self.top,
                "names": [v.name for v in self.varied], "columns": self.columns}


CHUNK = 256  # points a worker process computes at a time
_WORKER: Sweep | None = None  # in a worker process: its copy of the sweep


def _start_worker(spec: dict | None) -> Callable[[int, int], list[tuple]]:
    """In a worker process: its sweep (the parent's copy where it forked, else rebuilt from spec) and
    the function that computes a chunk of it."""
    sweep = _WORKER if spec is None else Sweep(**spec)
    assert sweep is not None
    return partial(_work, sweep)


def _work(sweep: Sweep, start: int, stop: int) -> list[tuple]:
    """(index, measures, failure) for the points start..stop-1."""
    out = []
    for index in range(start, stop):
        values, failure = sweep.outcome(sweep.point(index))
        out.append((index, values, failure))
    return out


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

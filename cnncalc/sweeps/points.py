"""One point of a sweep: its expanded graph and its measures, with what the sweep reuses across points
(expansions, layers' numbers, compiled traces and compiled points) kept here."""

from __future__ import annotations

import copy
import time

from .. import measures as M
from ..dsl.parser import Parser
from ..errors import Source
from ..graph import LayerGraph
from ..kinds import Input, Volume
from ..metrics.totals import measures, totals
from ..planner import analyze
from ..settings import Settings, parse_size
from . import traced
from .expansion import SHARED, Expansion, shared
from .grid import SPECIAL, Vary
from .lean import Lean
from .sums import Totals

GRAPHS = 256  # expanded graphs kept for reuse across points
COMPILE_AT = 40  # walks of a graph shape before it is compiled (compiling costs 30 to 60 walks)
VARIANTS = 8  # compiled points kept per graph shape (each for other outcomes of the tests on its numbers)
WALK_REUSE = 0.8  # the share of rows the one-pass walk has met before from which it beats a compiled point
POINTS = 1024  # graph shapes kept with their compiled points; then they start afresh


class Points:
    """The measures of a sweep's points. `needs`: what the measures read needs ("walk", "plan", "peaks",
    "budget": cnncalc.measures); `want`: the peaks beside the training step's to simulate."""

    def __init__(self, design, overrides: list, varied: list[Vary], settings: Settings, needs: str,
                 want: frozenset) -> None:
        self.design, self.overrides, self.varied, self.settings = design, overrides, varied, settings
        self.needs, self.want = needs, want
        self.statements: dict[tuple[str, object], object] = {}
        self.graphs: dict[tuple, LayerGraph] = {}
        self.walker = Totals(settings.fit_rule)
        self.memo: dict = {}  # the lean planner walk's numbers per item, input and flow (sweeps/lean.py)
        self.traces: dict = {}  # the training step's compiled traces by structure (sweeps/traced.py)
        self.shapes_met: dict[tuple, Shape] = {}  # the graph shapes met, with their compiled points
        self.shapes: dict[int, tuple] = {}  # id of a graph's items -> (the items, their layers, the graph's shape)
        self.shared = shared([0, 0, 0])  # what expansions keep across points (sweeps/expansion.py)
        self.stats = {"expansions": 0, "compiled": 0, "replayed": 0}  # how much was reused: see cache()

    def statement(self, vary: Vary, value):
        """The parsed definition NAME=VALUE (parsed once per value)."""
        key = (vary.name, value)
        statement = self.statements.get(key)
        if statement is None:
            text = f"{vary.name}={value}"
            statement = self.statements[key] = Parser(Source(text, f"--vary {text}")).definition()
        return statement

    def cache(self) -> dict:
        """How much the sweep reused so far: expansions done, leaf blocks rebuilt from another call's
        items, layers built of those asked for, and layer rows computed of those walked (the lean walk),
        each with its hit rate; graph shapes compiled and points replayed from them (the saved-tensor and
        peak measures)."""
        asked, built, rebuilt = self.shared["stats"]
        walked, computed = self.walker.asked, self.walker.computed
        return {"expansions": self.stats["expansions"], "blocks_rebuilt": rebuilt, "layers_asked": asked,
                "layers_built": built, "layer_hit_rate": 1 - built / asked if asked else None, "rows_walked": walked,
                "rows_computed": computed, "row_hit_rate": 1 - computed / walked if walked else None,
                "shapes_compiled": self.stats["compiled"], "points_replayed": self.stats["replayed"]}

    def graph(self, point: dict) -> LayerGraph:
        """The expanded design at a point (the input set by the point or the settings)."""
        s = self.settings
        defines = tuple((v.name, point[v.name]) for v in self.varied if v.name not in SPECIAL)
        graph = self.graphs.get(defines)
        if graph is None:
            statements = [*self.overrides, *(self.statement(v, point[v.name]) for v in self.varied
                                             if v.name not in SPECIAL)]
            side = point.get("input")
            base = parse_size(side) if isinstance(side, str) else s.input
            self.stats["expansions"] += 1
            if sum(len(v) for v in self.shared.values() if isinstance(v, dict)) > SHARED:
                self.shared = shared(self.shared["stats"])
            graph = Expansion(self.design, statements, base, s.optional, s.max_layers, self.shared).run()
            if len(self.graphs) >= GRAPHS:
                self.graphs.clear()
            self.graphs[defines] = graph
        if "input" in point:
            size = point["input"]
            volume = Volume(size, size, graph.input.size.c) if isinstance(size, int) else parse_size(size)
            if volume != graph.input.size:
                graph = copy.copy(graph)  # the same layers, another input
                graph.input = Input(graph.input.word, graph.input.span, size=volume)
        return graph

    def measure(self, point: dict) -> dict:
        """The measures of one point: all of the "walk" ones, or all there are (the planner's walk)."""
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
        """Every parameter trains and nothing is checkpointed: the lean walks know the step (sweeps/lean.py)."""
        s = self.settings
        return s.freeze is None and not s.checkpoint and not s.max_input

    def lean(self, graph: LayerGraph, batch, memo: dict) -> Lean:
        """The planner's lean walk of a graph with the sweep's settings (sweeps/lean.py)."""
        return Lean(graph, self.settings, self.needs == "peaks", batch, memo=memo, traces=self.traces)

    def shape(self, graph: LayerGraph) -> tuple[list, Shape]:
        """The graph's layers in the order a compiled point reads them, and its shape's entry."""
        known = self.shapes.get(id(graph.items))  # a graph met before at another input or batch: its shape
        if known is None or known[0] is not graph.items:
            if len(self.shapes) >= GRAPHS:
                self.shapes.clear()
            layers, shape = traced.shape_of(graph)
            known = self.shapes[id(graph.items)] = (graph.items, layers[1:], shape)
        entry = self.shapes_met.get(known[2])
        if entry is None:
            if len(self.shapes_met) >= POINTS:
                self.shapes_met.clear()
            entry = self.shapes_met[known[2]] = Shape()
        return [graph.input, *known[1]], entry

    def lean_measures(self, graph: LayerGraph, batch: int) -> dict:
        """A lean walk's measures (the one-pass sums for the "walk" measures, else the planner's lean
        walk), or a compiled point's (sweeps/traced.py), which has them all. A graph shape walked
        COMPILE_AT times is compiled there; a compiled point is kept only if it equals the walk there.
        For the "walk" measures alone a shape is compiled only while most rows are new to the sweep
        (their sums cost less than a replay once they are met again: WALK_REUSE).
        Where every compiled point of the shape refuses a point (a number took the walk another way: a
        window that fits at one input size and not at another), the walk answers, and COMPILE_AT such
        points compile another variant, up to VARIANTS. A shape whose replays turn out no faster than
        its walks (the sums of layers already met cost little) goes back to walking."""
        layers, entry = self.shape(graph)
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
            s, walker = self.settings, self.walker
            asked, computed = walker.asked, walker.computed
            counted, fits, rows, rf = walker.run(graph)
            values = measures(totals(counted, s.dtype_bytes, batch, s.optimizer), fits, rows, rf)
            entry.rows(walker.asked - asked, walker.computed - computed)
        else:
            values = self.lean(graph, batch, self.memo).measures()
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


class Shape:
    """A graph shape's compiled points (Points.lean_measures), and what its walks and replays cost."""

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

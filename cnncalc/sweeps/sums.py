"""A sweep's one-pass walk for the measures of one pass over the layers: the planner's rules row by row,
summed on the way, no rows kept."""

from __future__ import annotations

from ..graph import LayerGraph
from ..graph.walk import Walk
from ..kinds import UNSUPPORTED, Branch, Layer, Volume
from ..kinds.geometry import START
from ..metrics import fit, receptive
from ..metrics.totals import Sums
from ..metrics.rows import numbers


class Totals(Walk):
    """One pass over an expanded graph for the "walk" measures, the planner's rules row by row
    (shapes, params, MACs, stored memory, fit, receptive field) summed on the way, no rows kept.
    A layer's numbers at an input are computed once and kept (layers are immutable, and the
    expansion shares equal ones across points: sweeps/expansion.py). The state is the volume and its field."""

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
        """(params, buffers, MACs, stored elements, the metrics not known) of one row (metrics/rows.py,
        numbers), an unknown metric counted 0."""
        weights, biases, buffers, _, macs, stored, partial = numbers(item, x, y)
        params, buffers = (0, 0) if weights is None else (weights + biases, buffers)
        return params, buffers, macs or 0, stored or 0, partial

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
    (shapes, params, MACs, stored memory, fit, receptive field) summed once the walk ends, no rows kept.
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
        self.seen: list[tuple] = []  # each row's numbers, summed at the end (a call less a row)
        self.partial: set[str] = set()
        self.spatial = True  # no global layer (GAP, FC, FLATTEN) yet
        self.last_rf = START
        self.walk(graph.items, self.layer(graph.input, (graph.input.size, START), 0, None))
        params = buffers = macs = stored = 0
        fits = True
        for _, ok, p, b, m, s, partial in self.seen:
            params += p
            buffers += b
            macs += m
            stored += s
            if not ok:
                fits = False
            if partial:
                self.partial.update(partial)
        return Sums(params, buffers, macs, stored, 0), fits, len(self.seen), self.last_rf

    def layer(self, layer: Layer, state, depth: int, arm: int | None):
        x, rf = state
        key = (layer, x)
        known = self.memo.get(key)
        self.asked += 1
        if known is None:
            self.computed += 1
            y, windows = layer.apply(x)
            ok = windows is None or (windows[0].fits and windows[1].fits) or not any(
                fit.judge(w, self.rule) == "misfit" for w in windows if not w.fits)
            known = self.memo[key] = (y, ok, *self.numbers(layer, x, y))
        rule = layer.receptive
        if rule is UNSUPPORTED:
            self.partial.add("rf")
            rf = None
        elif rf is not None:
            rf = rule(rf, x)
        self.seen.append(known)
        if depth == 0 and self.spatial:
            self.quote(layer, rf)
        return known[0], rf

    def arm(self, branch: Branch, state, index: int):
        return branch.arm_input(state[0]), state[1]

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        x, rf = state
        outs = [end[0] for end in ends]
        y = branch.join(outs, names)
        merged, _ = receptive.merge(branch.fields(outs, y, [end[1] for end in ends]))
        key = (branch, x, y)
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = (y, True, *self.numbers(branch, x, y))
        self.seen.append(known)
        rf_after = rf if branch.side else merged  # after a side head: the field of its input
        if depth == 0 and self.spatial:
            self.quote(branch, rf_after)
        return branch.after(x, y), rf_after

    def quote(self, item, rf) -> None:
        """The receptive field is quoted at the last top-level row before the first global layer."""
        if item.acts_globally:
            self.spatial = False
        else:
            self.last_rf = rf

    @staticmethod
    def numbers(item, x: Volume, y: Volume) -> tuple:
        """(params, buffers, MACs, stored elements, the metrics not known) of one row (metrics/rows.py,
        numbers), an unknown metric counted 0."""
        weights, biases, buffers, _, macs, stored, partial = numbers(item, x, y)
        params, buffers = (0, 0) if weights is None else (weights + biases, buffers)
        return params, buffers, macs or 0, stored or 0, partial

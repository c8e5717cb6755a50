"""The planner's walk for a sweep (`Lean`): the same storages, flows and training steps as a plan's, the
rows' numbers summed rather than kept."""

from __future__ import annotations

from .. import simulate
from ..graph import LayerGraph
from ..kinds import UNSUPPORTED, Branch, Item, Layer, Volume
from ..metrics import fit, saved
from ..metrics.rows import Rows
from ..metrics.totals import Sums, measures, totals
from ..settings import Settings
from ..simulate.steps import Step
from . import traced


def numbers(item: Item, x: Volume, y: Volume) -> tuple:
    """(weights, biases, buffers, MACs, stored elements, the metrics not known) of one row by its kind's
    rules, for sums: an UNSUPPORTED metric counts 0 and is named."""
    partial = []
    weights = biases = buffers = macs = stored = 0
    if item.params is UNSUPPORTED:
        partial.append("params")
    else:
        weights, biases, buffers, _ = item.params(x, y)
    if item.macs is UNSUPPORTED:
        partial.append("macs")
    else:
        macs = item.macs(x, y)
    if item.stored is UNSUPPORTED:
        partial.append("memory")
    elif item.stored(y):
        stored = y.h * y.w * y.c
    return weights, biases, buffers, macs, stored, tuple(partial)


class Lean(Rows):
    """The planner's walk for a sweep: the same storages, flows and training steps, but the rows'
    numbers summed rather than kept (no row, text or warning), each item's numbers at an input and flow
    computed once (`memo`, kept across points: layers are immutable and a sweep's expansions share
    equal ones), and the training step's peak replayed from its compiled trace (sweeps/traced.py)
    once its structure has been seen before (`traces`, kept across points). `measures()` gives what
    `measures.values` gives of the full report, which tests/test_sweep.py and tests/test_traced.py check.
    Every parameter trains (a sweep with frozen rows or checkpoints takes the full walk)."""

    MEMO = 100_000  # entries kept in `memo`; then it starts afresh
    COMPILE_AT = 8  # a structure's sightings before it is compiled (compiling costs about 13 simulations)

    def __init__(self, graph: LayerGraph, settings: Settings, peaks: bool, batch, *, memo: dict,
                 traces: dict) -> None:
        super().__init__(graph, settings, peaks, batch)
        if len(memo) > self.MEMO:
            memo.clear()
        self.memo, self.traces = memo, traces
        self.params = self.buffers = self.macs = self.stored = self.saved_bytes = 0
        self.partial: set[str] = set()
        self.fits = True
        self.spatial = True  # no global layer (GAP, FC, FLATTEN) at the top level yet
        self.last_rf = None  # the receptive field after the last spatial top-level row

    def measures(self) -> dict:
        """Every measure of measures.MEASURES: the inference peak, the GPU total and max_batch are null
        (the sweep asks the full walk for them)."""
        self.run()
        s = self.settings
        values = measures(totals(Sums(self.params, self.buffers, self.macs, self.stored, self.saved_bytes),
                                 self.size, self.batch, s.optimizer), self.fits, len(self.steps), self.last_rf,
                          saved=True)
        if self.peaks and s.trains and simulate.supported(self.steps, self.setup.amp):
            values["training_peak_bytes"] = self.peak()
        return values

    def peak(self) -> int:
        """The training step's peak: replayed from its structure's compiled trace where there is one; a
        structure is compiled when seen COMPILE_AT times (one that cannot be is simulated from then on)."""
        steps, sizes, setup = self.steps, self.storages.sizes, self.setup
        key = traced.structure(steps, sizes, setup)
        compiled = self.traces.get(key, 0)
        if type(compiled) is int:  # sightings so far
            compiled = self.traces[key] = (compiled + 1 if compiled + 1 < self.COMPILE_AT
                                           else traced.compile_peak(steps, sizes, setup))
        if callable(compiled):
            peak = compiled(steps, sizes, self.batch)
            if peak is not None:
                return peak
        return simulate.peak_of(steps, sizes, setup, self.batch).bytes

    def started(self, rf) -> None:
        self.last_rf = rf

    def quote(self, item: Item, depth: int, rf) -> None:
        """The receptive field is quoted at the last top-level row before the first global layer."""
        if depth == 0 and self.spatial:
            if item.acts_globally:
                self.spatial = False
            else:
                self.last_rf = rf

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        state = super().merge(branch, state, ends, names, depth, arm)
        self.quote(branch, depth, state[1])
        return state

    def layer(self, layer: Layer, state, depth: int, arm: int | None):
        x, rf, sid, flow = state
        key = (layer, x)
        known = self.memo.get(key)
        if known is None:
            y, windows = layer.apply(x)
            known = self.memo[key] = (y, windows is None or (windows[0].fits and windows[1].fits) or not any(
                fit.judge(w, self.settings.fit_rule) == "misfit" for w in windows if not w.fits))
        y, ok = known
        if not ok:
            self.fits = False
        sid_out, copy = self.storage_of(layer, x, y, flow, sid)
        rf_rule = layer.receptive
        rf_out = None if rf is None or rf_rule is UNSUPPORTED else rf_rule(rf, x)
        flow = self.add(layer, x, y, depth=depth, arm=arm, place=None, rf=rf_out, rf_rule=rf_rule, problem=None,
                        flow=flow, sids_in=(sid,), sid_out=sid_out, copy=copy)
        self.quote(layer, depth, rf_out)
        return y, rf_out, sid_out, flow

    def add(self, item: Item, x: Volume, y: Volume, *, flow: saved.Flow, sids_in: tuple[int, ...], sid_out: int,
            rf_rule, holds: int | None = None, splits: tuple[int, ...] = (), copy: int | None = None,
            **row) -> saved.Flow:
        key = (item, x, flow)
        known = self.memo.get(key)
        if known is None:
            weights, biases, buffers, macs, stored, partial = numbers(item, x, y)
            owns = "params" in partial or weights + biases > 0
            saves, after = saved.apply(item, x, y, flow, owns, self.size, self.storages.device)
            relaid = isinstance(item, Layer) and item.relaid_weight(x, y, flow.channels_last)
            if "params" in partial:
                weights = biases = buffers = None
            known = self.memo[key] = (weights, biases, buffers, macs, stored, partial, saves, after, relaid)
        weights, biases, buffers, macs, stored, partial, saves, after, relaid = known
        if weights is not None:
            self.params += weights + biases
            self.buffers += buffers
        self.macs += macs
        self.stored += stored
        if partial:
            self.partial.update(partial)
        if rf_rule is UNSUPPORTED:
            self.partial.add("rf")
        if saves is UNSUPPORTED:
            self.partial.add("saved")
        else:
            kept = item.kept(saves, (copy,) if copy is not None else sids_in, self.requires.get)
            self.saved_bytes += self.storages.charge(saves, kept, sid_out)
        self.steps.append(Step(item.kind, item, x, y, sids_in, sid_out, saves, weights, biases, buffers,
                                        flow.grad, holds, True, relaid=relaid, splits=splits, copy=copy))
        self.requires[sid_out] = after.grad
        return after

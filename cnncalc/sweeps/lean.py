"""The planner's walk for a sweep (`Lean`): the same storages, flows and training steps as a plan's, the
rows' numbers summed rather than kept."""

from __future__ import annotations

from .. import simulate
from ..graph import LayerGraph
from ..kinds import UNSUPPORTED, Branch, Item, Layer
from ..metrics import fit
from ..metrics.rows import Numbers, Rows
from ..metrics.totals import Sums, measures, totals
from ..settings import Settings
from . import traced


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
        self.memo, self.traces = memo, traces  # Layer.apply and Numbers, kept across points
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
        y, windows = self.shape(layer, x)
        if windows is not None and not (windows[0].fits and windows[1].fits) and self.fits:
            self.fits = not any(fit.judge(w, self.settings.fit_rule) == "misfit" for w in windows if not w.fits)
        sid_out, copy = self.storage_of(layer, x, y, flow, sid)
        rf_rule = layer.receptive
        rf_out = None if rf is None or rf_rule is UNSUPPORTED else rf_rule(rf, x)
        flow = self.add(layer, x, y, depth=depth, arm=arm, place=None, rf=rf_out, problem=None, flow=flow,
                        sids_in=(sid,), sid_out=sid_out, copy=copy)
        self.quote(layer, depth, rf_out)
        return y, rf_out, sid_out, flow

    def record(self, known: Numbers, index: int, depth: int, arm: int | None, place, rf, problem: str | None,
               note: str | None, saved_bytes: int | None) -> None:
        """The row's numbers summed: an UNSUPPORTED metric counts 0 and is named in `partial`."""
        if known.params is not None:
            self.params += known.params
            self.buffers += known.buffers
        self.macs += known.macs or 0
        self.stored += known.stored or 0
        if known.unsupported:
            self.partial.update(known.unsupported)
        if saved_bytes is not None:
            self.saved_bytes += saved_bytes

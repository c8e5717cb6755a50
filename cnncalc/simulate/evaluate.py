"""The peak of a forward pass in evaluation mode under no_grad (inference): the network, the batch and
the outputs still to be read; nothing is kept for a backward pass, dropouts and crops hand on their input
(their kind's `identity_in_eval`). Under autocast the casts of every parameter stay cached until the pass
ends (they are leaves that require grad), each kind running as its `autocast` rule says."""

from __future__ import annotations

from ..kinds.base import CAST, FLOAT32, PROMOTE, WIDENS
from .steps import Step, aliased, model, readers, reads, view_bases
from .timeline import Log, Timeline


def inference(steps: list[Step], storage_sizes: list[int], *, dtype_bytes: int, batch: int, block: int = 1,
              device: str = "cuda", amp: int | None = None, log: Log | None = None) -> int:
    """The peak of live tensor bytes; `amp`: autocast's dtype bytes; `log` records the allocations (as
    simulate.step.peak_of's does)."""
    t = Timeline(block, {})
    t.log = log
    model(t, steps, dtype_bytes)
    if log is not None:
        log.mark_forward()
    evaluated = [s for s in steps if not s.side]  # side heads run in training only
    Pass(t, evaluated, storage_sizes, dtype_bytes, batch, device, amp).run()
    return t.peak.bytes


class Pass:
    """One forward pass in evaluation mode on a timeline that holds the network."""

    def __init__(self, t: Timeline, steps: list[Step], sizes: list[int], dtype_bytes: int, batch: int, device: str,
                 low: int | None) -> None:
        self.steps = steps  # without the side heads: they run in training only
        self.t, self.sizes, self.dtype_bytes, self.batch, self.device, self.low = (t, sizes, dtype_bytes, batch,
                                                                                   device, low)
        self.alias = view_bases(self.steps)  # views, and in evaluation a dropout's output: its input's storage
        self.readers = readers(self.steps, self.alias)
        self.dt: dict[int, int] = {}  # storage -> bytes per value

    def run(self, at: dict[int, int] | None = None) -> None:
        """The pass; `at`: rows -> where the events and totals stand when each starts (simulate/runs.py), filled in."""
        t, first = self.t, self.steps[0]
        self.dt[first.sid_out] = self.dtype_bytes
        t.alloc(first.sid_out, self.sizes[first.sid_out] * self.dtype_bytes * self.batch, "other")
        t.sample("forward", 0)
        for index, s in enumerate(self.steps[1:], start=1):
            if at is not None and index in at:
                at[index] = t.mark()
            self.row(index, s)
        for key in [k for k in t.live if isinstance(k, tuple) and k[0] in ("bcast", "wcast")]:
            t.free(key)  # autocast exits: its cache goes

    def row(self, index: int, s: Step) -> None:
        t, alias, batch = self.t, self.alias, self.batch
        ins = [aliased(alias, sid) for sid in reads(s)]
        din = self.dt.get(ins[0], self.dtype_bytes)
        if s.item.identity_in_eval:
            alias[s.sid_out] = ins[0]
            self.dt[s.sid_out] = din
            self.readers[ins[0]] += self.readers.pop(s.sid_out, 0) - 1
            self.done(ins[1:])  # what else it holds until it has run (a block call's input, Step.keeps)
            return
        rule = s.item.autocast if self.low is not None else None
        if rule == FLOAT32:
            dout, temp = s.item.amp_evaluate(s.x, din, self.low, batch, din, self.device)
        else:
            dout = self.casts(index, s, din, rule)
            temp = s.item.transient(s, False, din, self.device, batch)
            if s.copy is not None:  # the copy it makes of its input first (an FC's flattened copy, a dense unit's cat)
                self.dt[s.copy] = din
                t.alloc(s.copy, s.x.size * din * batch, "other")
        self.dt[s.sid_out] = dout
        out = aliased(alias, s.sid_out)
        if out not in t.live or not s.item.shares_storage:
            t.alloc(out, self.sizes[s.sid_out] * dout * batch, "other")
        if temp:
            t.alloc("temp", temp, "other")
        t.sample("forward", index)
        t.free("temp")
        t.free(("xcast", index))
        t.free(("catcast", index))
        if s.copy is not None and self.readers.get(s.copy, 0) <= 0:
            t.free(s.copy)  # unless a later row holds it (a dense unit's head: simulate/steps.py reads)
        self.done(ins)

    def done(self, ins: list[int]) -> None:
        """A row has read these storages: each goes when nothing else reads it (the batch stays)."""
        for sid in ins:
            self.readers[sid] -= 1
            if self.readers[sid] <= 0 and sid != self.steps[0].sid_out:
                self.t.free(sid)

    def casts(self, index: int, s: Step, din: int, rule) -> int:
        """The row's output dtype under autocast, and the casts it makes first (a convolution's or FC's
        parameters, cached, and its float32 input; a concatenation's low arms)."""
        t, low, batch = self.t, self.low, self.batch
        if rule == CAST:
            if s.biases:
                t.alloc(("bcast", index), s.biases * low, "other")
            if s.weights:
                t.alloc(("wcast", index), s.weights * low, "other")
            if din != low:
                t.alloc(("xcast", index), s.x.size * low * batch, "other")
            return low
        if rule == PROMOTE and s.sid_out in s.sids_in:  # a sum in place keeps the dtype of what it overwrites
            return self.dt[aliased(self.alias, s.sid_out)]
        if rule == PROMOTE:
            dins = [self.dt[aliased(self.alias, sid)] for sid in s.sids_in]
            dout = max(dins)
            if s.item.concatenates:  # cat casts its low arms to float32 for the call
                cast = sum(self.sizes[sid] * dout * batch for sid, d in zip(s.sids_in, dins) if d != dout)
                if cast:
                    t.alloc(("catcast", index), cast, "other")
            return dout
        if rule == WIDENS:
            return 4  # float32: its float32 parameter promotes a low input
        return din

"""Mixed precision: the peak of a training step and of inference under autocast (`--amp`).

The step is training.py's, with the forward pass and the loss under
`torch.autocast(dtype=bfloat16 or float16)`; parameters, their gradients and the optimizer's state
stay float32. Every storage has a dtype (`dt`: 2 or 4 bytes a value). The rules, each measured with
MemTracker on PyTorch 2.13's CPU autocast (float16 and bfloat16 alike, to the byte):

- convolutions and FC run in low precision: they cast their bias and weight (autocast caches the
  casts of parameters until it exits: a bias cast lives until the loss, a weight cast is saved until
  the layer's backward) and a float32 input (saved instead of it); their output is low precision;
- every other layer runs in its input's dtype; LRN's avg_pool3d is a float32 operation, so LRN
  outputs float32 (its operations are listed in lrn_forward and lrn_backward); a concat of mixed
  dtypes casts its low arms to float32, an add and a product promote;
- the loss casts the logits to float32 (cross_entropy is a float32 operation); backward casts the
  output's gradient back;
- a cast layer's backward makes low-precision gradients of its input and parameters, frees what it
  saved, delivers its input's gradient (cast back to float32 when its input was), then casts each
  parameter's gradient to float32 (both alive for a moment);
- BN keeps its statistics in float32 (under FakeTensorMode in the input's dtype: `fake`).

In evaluation (evaluate()), the casts of every parameter stay cached until the pass ends.
"""

from __future__ import annotations

from ..kinds.base import APPLIED, CAST, FLOAT32, PROMOTE
from . import training as T

LOW = 2  # bytes of a value of float16 or bfloat16
F32 = 4


class AmpStep(T._TrainingStep):
    """One training step under autocast: the float32 step's timeline (training._TrainingStep) with a
    dtype per storage, the casts autocast makes and caches, and the casts of the backward pass."""

    def __init__(self, steps, sizes, batch: int, block: int, device: str, events=None, low: int = LOW,
                 timeline=None, fake: bool = False):
        super().__init__(steps, sizes, F32, batch, block, device, events, timeline)
        self.N = batch
        self.low = low
        self.dt: dict[int, int] = {}  # storage -> bytes per value
        self.fake = fake  # FakeTensorMode's rule: BN's saved statistics take the input's dtype
        self.bias_casts: list = []

    def vol(self, sid: int) -> int:
        return self.sizes[sid] * self.dt[sid] * self.N

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self) -> None:
        t, steps, N = self.t, self.steps, self.N
        first, out = steps[0], steps[-1].y
        self.dt[first.sid_out] = F32
        t.alloc(first.sid_out, self.vol(first.sid_out), "activation")
        t.alloc("targets", N * out.h * out.w * T.TARGET_BYTES, "other")
        t.sample("forward", 0)
        for index, s in enumerate(steps[1:], start=1):
            rule = s.item.autocast
            din = self.dt[s.sids_in[0]]
            saves_in, saves_out, per_image, per_batch = s.saves
            if rule == CAST:
                if s.biases:
                    t.alloc(("bcast", index), s.biases * self.low, "other")  # cached until autocast exits
                    self.bias_casts.append(("bcast", index))
                if s.weights:
                    t.alloc(("wcast", index), s.weights * self.low, "saved")  # cached, and saved for backward
                if din != self.low:
                    t.alloc(("xcast", index), s.x.size * self.low * N, "saved")  # saved instead of the input
                self.dt[s.sid_out] = self.low
                t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
                t.sample("forward", index)
                if din == self.low:
                    t.keep(self.input_storage(s), +1)
            elif rule == FLOAT32 and din == self.low:
                s.item.amp_forward(self, index, s)
            elif rule == PROMOTE:
                douts = {self.dt[sid] for sid in s.sids_in}
                dout = max(douts)
                self.dt[s.sid_out] = dout
                if s.item.concatenates and len(douts) > 1:  # cat promotes: copies of the low arms, for the call
                    for j, sid in enumerate(s.sids_in):
                        if self.dt[sid] != dout:
                            t.alloc(("catcast", index, j), self.sizes[sid] * dout * N, "other")
                t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
                t.sample("forward", index)
                for j in range(len(s.sids_in)):
                    t.free(("catcast", index, j))
                for sid in self.kept_in(s):  # a product keeps its factors
                    t.keep(sid, +1)
            else:
                self.dt[s.sid_out] = din
                per_image, per_batch = s.item.autocast_extra(s.saves, din, self.device, self.fake)
                t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
                if per_image or per_batch:
                    t.alloc(("extra", index), per_image * N + per_batch, "saved")
                elif not s.grad and (temp := s.item.transient(s, True, din, self.device, N)):
                    t.alloc("temp", temp, "other")
                t.sample("forward", index)
                t.free("temp")
                for wanted, sid in ((saves_in, self.input_storage(s)), (saves_out, s.sid_out)):
                    if wanted:
                        t.keep(sid, +1)
            self.finish_reads(s)

    # -- the loss ----------------------------------------------------------------------------------------
    def loss(self) -> None:
        t, last = self.t, self.steps[-1]
        self.logits = last.y.size * F32 * self.N
        self.out_dt = self.dt[last.sid_out]
        if self.out_dt != F32:
            t.alloc("logits_cast", self.logits, "other")  # cross_entropy is a float32 op of CPU autocast
        t.alloc("log_softmax", self.logits, "saved")
        t.sample("loss", None)
        t.alloc("loss", T.SCALAR_BYTES, "other")
        t.alloc("total_weight", T.SCALAR_BYTES, "saved")
        t.sample("loss", None)
        t.free("logits_cast")
        for key in self.bias_casts:  # autocast exits: its cache goes; the biases' casts were kept by it only
            t.free(key)
        self.output_read(last)

    # -- backward ----------------------------------------------------------------------------------------
    def grad_bytes(self, sid: int) -> int:
        return self.vol(sid)

    def value_bytes(self, sid: int) -> int:
        return self.dt[sid]

    def output_gradient(self):
        """The loss's float32 gradient, cast back to the output's dtype (the logits' cast's backward)."""
        if self.out_dt == F32:
            return "grad_logits"
        self.t.alloc("grad_out_low", self.logits // F32 * self.out_dt, "other")
        self.t.sample("backward", None)
        self.t.free("grad_logits")
        return "grad_out_low"

    def row_backward(self, index: int, s, param_i: int) -> None:
        t, N = self.t, self.N
        ops = s.item.backward
        if callable(ops):
            return ops(self, index, s)
        if ops is None:  # views and merges
            if s.sids_in != (s.sid_out,):
                key = self.grads.pop(s.sid_out)
                dout = self.dt[s.sid_out]
                for j, sid in enumerate(s.sids_in):
                    if self.dt[sid] != dout:  # the engine casts the gradient to the input's dtype
                        cast = ("gcast", index, j)
                        t.alloc(cast, self.sizes[sid] * self.dt[sid] * N, "other")
                        t.sample("backward", index)
                        self.refs[cast] = 0
                        self.deliver(sid, cast, index)
                        if self.refs[cast] == 0:
                            t.free(cast)
                    else:
                        self.deliver(sid, key, index)
                self.unref(key)
            return
        if s.item.autocast == FLOAT32 and self.dt[s.sids_in[0]] == self.low:
            return s.item.amp_backward(self, index, s)
        din = self.dt[s.sids_in[0]]
        key = self.grads.pop(s.sid_out)
        new = None
        cast = s.item.autocast == CAST
        for op in ops:
            if op == APPLIED:
                continue
            for what in op:
                if what == "input" and s.grad:
                    new = ("grad_in", index)
                    t.alloc(new, s.x.size * (self.low if cast else din) * N, "other")
                elif what == "weight" and s.weights:
                    if cast:
                        t.alloc(("gw_low", index), s.weights * self.low, "other")
                    else:
                        t.alloc(("grad_p", param_i), s.weights * F32, "gradients")
                elif what == "bias" and s.biases:
                    if cast:
                        t.alloc(("gb_low", index), s.biases * self.low, "other")
                    else:
                        t.alloc(("grad_p", param_i + 1), s.biases * F32, "gradients")
                elif isinstance(what, tuple):
                    t.alloc(("temp", index), what[1] * s.x.size * din * N, "other")
            t.sample("backward", index)
            t.free(("temp", index))
        self.unref(key)
        saves_in, saves_out, _, _ = s.saves
        t.free(("extra", index))
        if cast:
            t.free(("wcast", index))
            if din != self.low:
                t.free(("xcast", index))
            else:
                t.keep(self.input_storage(s), -1)
                self.release(self.input_storage(s))
        else:
            for wanted, sid in ((saves_in, self.input_storage(s)), (saves_out, s.sid_out)):
                if wanted:
                    t.keep(sid, -1)
                    self.release(sid)
        if new is not None and cast and din != self.low:  # the input cast's backward: back to float32
            t.alloc(("grad_in32", index), s.x.size * din * N, "other")
            t.sample("backward", index)
            t.free(new)
            new = ("grad_in32", index)
        if new is not None:
            self.refs[new] = 0
            self.deliver(s.sids_in[0], new, index)
            if self.refs[new] == 0:
                t.free(new)
        if cast:  # the parameters' casts' backward: float32 gradients, then the low ones go
            if s.weights:
                t.alloc(("grad_p", param_i), s.weights * F32, "gradients")
                t.sample("backward", index)
                t.free(("gw_low", index))
            if s.biases:
                t.alloc(("grad_p", param_i + (1 if s.weights else 0)), s.biases * F32, "gradients")
                t.sample("backward", index)
                t.free(("gb_low", index))


def evaluate(t, steps, sizes, batch: int, device: str, low: int = LOW) -> None:
    """One forward pass in evaluation mode under no_grad and autocast, on a timeline that holds the
    network. The casts of the parameters are cached even under no_grad (they are leaves that
    require grad): every one lives until autocast exits, at the end of the pass."""
    alias = T.view_bases(steps)
    readers = T._readers(steps, alias)
    first = steps[0]
    dt = {first.sid_out: F32}
    t.alloc(first.sid_out, sizes[first.sid_out] * F32 * batch, "other")
    t.sample("forward", 0)
    for index, s in enumerate(steps[1:], start=1):
        reads = [T.aliased(alias, sid) for sid in T._read(s)]
        din = dt[reads[0]]
        if s.item.identity_in_eval:
            alias[s.sid_out] = reads[0]
            dt[s.sid_out] = din
            readers[reads[0]] += readers.pop(s.sid_out, 0) - 1
            continue
        out = T.aliased(alias, s.sid_out)
        rule = s.item.autocast
        temp = 0
        if rule == CAST:
            if s.biases:
                t.alloc(("bcast", index), s.biases * low, "other")
            if s.weights:
                t.alloc(("wcast", index), s.weights * low, "other")
            if din != low:
                t.alloc(("xcast", index), s.x.size * low * batch, "other")
            dout = low
        elif rule == PROMOTE:
            dins = [dt[T.aliased(alias, sid)] for sid in s.sids_in]
            dout = max(dins)
            if s.item.concatenates:  # cat casts its low arms to float32 for the call
                cast = sum(sizes[sid] * dout * batch for sid, d in zip(s.sids_in, dins) if d != dout)
                if cast:
                    t.alloc(("catcast", index), cast, "other")
        elif rule == FLOAT32:
            dout, temp = s.item.amp_evaluate(s.x, din, low, batch, din, device)
        else:
            dout = din
        dt[s.sid_out] = dout
        if out not in t.live or not s.item.shares_storage:
            t.alloc(out, sizes[s.sid_out] * dout * batch, "other")
        if rule != FLOAT32:
            temp = s.item.transient(s, False, din, device, batch)
        if temp:
            t.alloc("temp", temp, "other")
        t.sample("forward", index)
        t.free("temp")
        t.free(("xcast", index))
        t.free(("catcast", index))
        for sid in reads:
            readers[sid] -= 1
            if readers[sid] <= 0 and sid != first.sid_out:
                t.free(sid)
    for key in [k for k in t.live if isinstance(k, tuple) and k[0] in ("bcast", "wcast")]:
        t.free(key)

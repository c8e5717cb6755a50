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

from . import training as T

LOW = 2  # bytes of a value of float16 or bfloat16
F32 = 4
CAST_KINDS = ("conv", "dwconv", "deconv", "fc")  # autocast runs these in low precision
AMP = {"float16": LOW, "bfloat16": LOW}  # --amp: the autocast dtype's bytes


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
            kind = s.kind
            din = self.dt[s.sids_in[0]]
            saves_in, saves_out, per_image, per_batch = s.saves
            if kind in CAST_KINDS:
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
            elif kind == "lrn" and din == self.low:
                self.lrn_forward(index, s)
            elif kind in ("concat", "add", "mul"):
                douts = {self.dt[sid] for sid in s.sids_in}
                dout = max(douts)
                self.dt[s.sid_out] = dout
                if kind == "concat" and len(douts) > 1:  # cat promotes: copies of the low arms, for the call
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
                if kind in ("act", "droppath") or (kind == "dropout" and self.device != "cuda"):
                    per_image = per_image * din // F32  # a copy or noise of the input's dtype (saved.py: float32)
                if kind == "bn" and per_batch and self.fake:
                    per_batch = per_batch * din // F32  # real kernels keep the statistics in float32
                t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
                if per_image or per_batch:
                    t.alloc(("extra", index), per_image * N + per_batch, "saved")
                elif not s.grad and (temp := T.TRANSIENT[kind](s, True, din, self.device) * N):
                    t.alloc("temp", temp, "other")
                t.sample("forward", index)
                t.free("temp")
                for wanted, sid in ((saves_in, self.input_storage(s)), (saves_out, s.sid_out)):
                    if wanted:
                        t.keep(sid, +1)
            self.finish_reads(s)

    def lrn_forward(self, index, s) -> None:
        """F.local_response_norm on a low-precision input: square and pad in low precision, then
        avg_pool3d (a float32 op of CPU autocast) on a float32 copy; the rest promotes to float32."""
        t, N = self.t, self.N
        X = s.x.size * N
        P = (s.x.c + s.item.size - 1) * s.x.h * s.x.w * N
        k = ("lrn", index)
        t.alloc((k, "sq"), self.low * X, "other")
        t.alloc((k, "pad"), self.low * P, "other")
        t.sample("forward", index)
        t.free((k, "sq"))
        t.alloc((k, "P32"), F32 * P, "saved")  # saved by avg_pool3d
        t.sample("forward", index)
        t.alloc((k, "avg"), F32 * X, "other")
        t.sample("forward", index)
        t.free((k, "pad"))
        t.alloc((k, "mul"), F32 * X, "other")
        t.sample("forward", index)
        t.alloc((k, "add"), F32 * X, "saved")  # saved by pow
        t.sample("forward", index)
        t.free((k, "mul"))
        t.alloc((k, "pow"), F32 * X, "saved")  # saved by div
        t.sample("forward", index)
        t.free((k, "avg"))
        self.dt[s.sid_out] = F32
        t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
        t.sample("forward", index)
        t.keep(s.sids_in[0], +1)  # x, saved by mul and div

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
        kind = s.kind
        ops = T.BACKWARD[kind]
        if ops is T.Product:
            return self.product_backward(index, s)
        if ops is T.Slices:
            return self.crop_backward(index, s)
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
        if kind == "lrn" and self.dt[s.sids_in[0]] == self.low:
            return self.lrn_backward(index, s)
        din = self.dt[s.sids_in[0]]
        key = self.grads.pop(s.sid_out)
        new = None
        cast = kind in CAST_KINDS
        for op in ops:
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

    def lrn_backward(self, index: int, s) -> None:
        t, N = self.t, self.N
        X = s.x.size * N
        P = (s.x.c + s.item.size - 1) * s.x.h * s.x.w * N
        k = ("lrnb", index)
        f = ("lrn", index)
        g = self.grads.pop(s.sid_out)
        # div's backward: the other's gradient -grad*((x/div)/div), then the input's grad/div
        for name in ("t1", "t2", "neg", "go"):
            t.alloc((k, name), F32 * X, "other")
            t.sample("backward", index)
        t.alloc((k, "gs32"), F32 * X, "other")
        for name in ("t1", "t2", "neg"):
            t.free((k, name))
        t.sample("backward", index)
        t.alloc((k, "gs"), self.low * X, "other")  # cast to x's dtype by the engine
        t.sample("backward", index)
        t.free((k, "gs32"))
        self.unref(g)
        t.free((f, "pow"))
        # pow's backward
        for name in ("pw", "ms", "gadd"):
            t.alloc((k, name), F32 * X, "other")
            t.sample("backward", index)
        t.free((k, "pw"))
        t.free((k, "ms"))
        t.free((k, "go"))
        t.free((f, "add"))
        # mul(alpha)'s backward
        t.alloc((k, "ga"), F32 * X, "other")
        t.sample("backward", index)
        t.free((k, "gadd"))
        # avg_pool3d's backward
        t.alloc((k, "gp32"), F32 * P, "other")
        t.sample("backward", index)
        t.free((k, "ga"))
        t.free((f, "P32"))
        t.alloc((k, "gp"), self.low * P, "other")  # the cast's backward
        t.sample("backward", index)
        t.free((k, "gp32"))
        t.alloc((k, "gpad"), self.low * X, "other")  # pad's backward
        t.sample("backward", index)
        t.free((k, "gp"))
        # x*x's backward: two products, summed with div's
        t.alloc((k, "m1"), self.low * X, "other")
        t.sample("backward", index)
        t.alloc((k, "m2"), self.low * X, "other")
        t.sample("backward", index)
        t.free((k, "gpad"))
        t.keep(s.sids_in[0], -1)
        self.release(s.sids_in[0])
        t.alloc((k, "a1"), self.low * X, "other")
        t.sample("backward", index)
        t.free((k, "m1"))
        t.alloc((k, "a2"), self.low * X, "other")
        t.sample("backward", index)
        for name in ("a1", "m2", "gs"):
            t.free((k, name))
        new = (k, "a2")
        self.refs[new] = 0
        self.deliver(s.sids_in[0], new, index)
        if self.refs[new] == 0:
            t.free(new)


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
        if s.kind in T.IDENTITY_IN_EVAL:
            alias[s.sid_out] = reads[0]
            dt[s.sid_out] = din
            readers[reads[0]] += readers.pop(s.sid_out, 0) - 1
            continue
        out = T.aliased(alias, s.sid_out)
        if s.kind in CAST_KINDS:
            if s.biases:
                t.alloc(("bcast", index), s.biases * low, "other")
            if s.weights:
                t.alloc(("wcast", index), s.weights * low, "other")
            if din != low:
                t.alloc(("xcast", index), s.x.size * low * batch, "other")
            dout = low
        elif s.kind in ("concat", "add", "mul"):
            dins = [dt[T.aliased(alias, sid)] for sid in s.sids_in]
            dout = max(dins)
            if s.kind == "concat":  # cat casts its low arms to float32 for the call
                cast = sum(sizes[sid] * dout * batch for sid, d in zip(s.sids_in, dins) if d != dout)
                if cast:
                    t.alloc(("catcast", index), cast, "other")
        elif s.kind == "lrn" and din == low:
            dout = F32
        else:
            dout = din
        dt[s.sid_out] = dout
        if out not in t.live or s.kind not in ("flatten", "id"):
            t.alloc(out, sizes[s.sid_out] * dout * batch, "other")
        temp = T.TRANSIENT[s.kind](s, False, din, device) * batch if s.kind != "lrn" else 0
        if s.kind == "lrn" and din == low:
            X = s.x.size * batch
            P = (s.x.c + s.item.size - 1) * s.x.h * s.x.w * batch
            # square and pad (low), the float32 copy of the padded square, avg_pool3d's output; then
            # (the padded tensors gone, nothing saved) three float32 volumes: avg, mul, add / pow
            temp = max(low * X + low * P, low * P + F32 * P + F32 * X, 3 * F32 * X) - F32 * X
        elif s.kind == "lrn":
            temp = T.TRANSIENT["lrn"](s, False, din, device) * batch
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

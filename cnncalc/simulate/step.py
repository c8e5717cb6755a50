"""The peak of live tensor bytes in one training step, simulated as PyTorch runs it.

The step (the one `cnncalc.pytorch.memory` measures with PyTorch's MemTracker):

    x = randn(N, C, H, W); y = randint(classes, (N, H_out, W_out))   the batch and its int64 targets
    loss = cross_entropy(net(x), y)          log-softmax over the channels, per output pixel
    loss.backward(); optimizer.step(); optimizer.zero_grad(set_to_none=True)

in the steady state (the optimizer's state exists). The walk records one `Step` per row; this replays
them as a timeline of operations, each allocating its outputs, the total sampled after each operation
(as MemTracker does), then freeing what nothing references any more:

- forward: a layer allocates its output (unless in place or a view) and what it keeps for the backward
  pass (indices, statistics, copies: its kind's `saves`); its input is freed once its last reader has
  run, unless a layer saved it. Nothing before the first layer with parameters is recorded.
- the loss: log-softmax (kept) and the loss with its total weight.
- backward, in reverse: each layer allocates the gradient of its input (views pass it on) and of its
  parameters (which live until zero_grad), then frees its output's gradient and what it saved.
  Gradients meeting at a tensor read by several layers are summed into a new tensor.
- the optimizer step: its temporaries (Adam's denominators), then zero_grad frees the gradients.

Frozen layers (Step.trainable false: fine-tuning), measured with MemTracker on 1,516 cases with
checkpointing (simulate/checkpoint.py), all equal to the byte: a row records autograd (saves, runs a
backward) when its input requires grad or it owns trainable parameters; a frozen row makes only its
input's gradient; the optimizer's state and temporaries cover the trainable parameters only; a frozen
BN before any trainable layer makes its statistics and frees them at once.

Every storage has a dtype (`dt`: bytes a value). Without autocast it is the parameters' dtype. Under
autocast (`--amp`: the forward pass and the loss under torch.autocast, parameters, gradients and the
optimizer's state float32), each kind says how it runs (its `autocast` rule), measured with MemTracker
on PyTorch 2.13's CPU autocast (float16 and bfloat16 alike, to the byte):

- CAST (convolutions, FC) run in low precision: they cast their bias and weight (autocast caches the
  casts of parameters until it exits: a bias cast lives until the loss, a weight cast is saved until
  the layer's backward) and a float32 input (saved instead of it); their output is low precision.
  Their backward makes low-precision gradients of its input and parameters, frees what it saved,
  delivers its input's gradient (cast back to float32 when its input was), then casts each
  parameter's gradient to float32 (both alive for a moment);
- SAME: a layer runs in its input's dtype (what it saves beside its input in that dtype too, as its
  `autocast_extra` says; BN keeps its statistics in float32, FakeTensorMode in the input's dtype);
- PROMOTE: a merge runs in the widest of its inputs' dtypes (a concatenation casts its low arms first);
- FLOAT32: LRN on a low input runs through float32 operations (its amp_forward and amp_backward);
- the loss casts the logits to float32 (cross_entropy is a float32 operation); backward casts the
  output's gradient back; a view's gradient is cast to each input's dtype.
"""

from __future__ import annotations

from ..kinds.base import CAST, FLOAT32, PROMOTE, WIDENS
from ..settings import OPTIMIZERS
from .backward import F32, Backward, main_key, side_key
from .checkpoint import Checkpointing
from .steps import (
    Setup,
    Step,
    model,
    readers,
    reads,
    records,
    requires_grad,
    view_bases,
)
from .timeline import SCALAR_BYTES, STEP_BYTES, TARGET_BYTES, Log, Peak, Timeline


def peak_of(steps: list[Step], storage_sizes: list[int], setup: Setup, batch: int, events: list | None = None,
            fake: bool = False, log: Log | None = None, timeline: Timeline | None = None) -> Peak:
    """The peak of one training step. `log` receives every allocation and free (for the CUDA allocator's
    model), with where the forward pass and the optimizer step start; `events`, a
    list, receives (phase, row, live bytes) after every operation. With gradient accumulation the
    gradients of that many micro-batches are summed before the optimizer's step: the last micro-batch
    starts with every parameter's gradient alive, and its backward adds each new gradient into it in
    place. `fake`: FakeTensorMode's rules where they differ (under autocast); `timeline`: the one to run
    on (sweeps/traced.py records it)."""
    run = TrainingStep(steps, storage_sizes, setup, batch, events, timeline, fake)
    run.t.log = log
    run.steady_state(setup.optimizer)
    if log is not None:
        log.mark_forward()
    run.forward()
    run.loss()
    run.backward()
    run.optimizer_step(setup.optimizer, setup.foreach)
    return run.t.peak


class TrainingStep(Checkpointing, Backward):
    """The timeline of one training step, phase by phase."""

    def __init__(self, steps: list[Step], storage_sizes: list[int], setup: Setup, batch: int,
                 events: list | None = None, timeline: Timeline | None = None, fake: bool = False) -> None:
        self.steps, self.sizes, self.dtype_bytes = steps, storage_sizes, setup.dtype_bytes
        self.batch = self.N = batch
        self.device = setup.device
        self.low = setup.amp  # autocast's dtype bytes, or None
        self.fake = fake  # FakeTensorMode's rule: BN's saved statistics take the input's dtype
        self.per = setup.dtype_bytes * batch  # bytes of one value per image, for the batch
        self.t = Timeline(setup.block, {}) if timeline is None else timeline
        self.kept: dict[int, int] = self.t.kept  # storage -> how many layers keep it for backward
        self.t.events = events
        self.dt: dict[int, int] = {}  # storage -> bytes per value
        self.tensors = [n for s in steps for n in (s.weights, s.biases) if n]  # parameter tensors, in order
        trainable = [s.trainable for s in steps for n in (s.weights, s.biases) if n]
        self.trained = [n for n, yes in zip(self.tensors, trainable) if yes]  # the optimizer's parameters
        self.trained_at = [i for i, yes in enumerate(trainable) if yes]  # their places among all
        self.base = view_bases(steps)
        self.readers = readers(steps, self.base)  # storage -> rows still to read it
        # the side heads' outputs (Step.side), which the loss reads after the network's own (the last step
        # outside them: a design may end with a side head)
        self.sides = [s for s in steps if s.item.side]
        self.main = next(s for s in reversed(steps) if not s.side)
        # held: the batch until the step ends; the network's output and the side heads' until the loss has read them
        # (a side head at the end may read the network's output: its last reader is then the loss, not the head)
        self.held = {steps[0].sid_out, self.base.get(self.main.sid_out, self.main.sid_out),
                     *(s.sid_out for s in self.sides)}
        self.refs: dict[object, int] = {}  # gradient tensors, by key: how many storages' gradients they are
        self.accumulating = setup.accumulate > 1  # gradients of earlier micro-batches are alive
        self.grads: dict[int, object] = {}  # storage -> the key of its gradient so far
        self.req = requires_grad(steps, self.base)  # storage -> whether it requires grad
        self.segments = self.segments_of()  # checkpointed segment -> its rows, input and saving rows
        self.remap: dict[int, dict] = {}  # segment -> storage -> the key of its recomputed tensor
        # under autocast: the casts only its cache keeps (the biases', a checkpointed row's weight's), until it exits
        self.autocast_cache: list = []
        # rows -> where the events and totals stand when each starts, forward and backward (simulate/runs.py)
        self.forward_at: dict | None = None
        self.backward_at: dict | None = None

    # -- storages -----------------------------------------------------------------------------------------
    def vol(self, sid: int) -> int:
        """The bytes of a storage, for the batch."""
        return self.sizes[sid] * self.dt[sid] * self.N

    def value_bytes(self, sid: int) -> int:
        """The bytes of one value of a storage (autocast gives storages their own dtypes; a channel split's half
        has the dtype of what it halves)."""
        dt = self.dt.get(sid)
        return dt if dt is not None else self.dt.get(self.base.get(sid, sid), self.dtype_bytes)

    def grad_bytes(self, sid: int) -> int:
        """The bytes of the gradient of a storage, for the batch."""
        return self.sizes[sid] * self.value_bytes(sid) * self.N

    def transient(self, s: Step) -> int:
        """What a row that records nothing allocates beside its output, freed at once (a frozen BN
        before any trainable layer: native_batch_norm's saved mean and inverse std, 2C float32)."""
        return s.item.transient(s, True, self.dtype_bytes, self.device, self.batch)

    def input_storage(self, s: Step) -> int:
        """The storage of the row's (first) input; of a view, what it views."""
        sid = s.sids_in[0]
        return self.base.get(sid, sid)

    def kept_in(self, s: Step) -> tuple[int, ...]:
        """The input storages the row keeps for its backward (its kind's `kept`); keeping a view keeps
        the storage it is a view of."""
        kept = s.item.kept(s.saves, (s.copy,) if s.copy is not None else s.sids_in, self.req.get)
        return tuple(self.base.get(sid, sid) for sid in kept) if self.base else kept

    def drop_saved(self, index: int, s: Step) -> None:
        """The row's backward node lets go of what it saved."""
        self.t.free(("extra", index))
        for sid in (*self.kept_in(s), *((s.sid_out,) if s.saves[1] else ())):
            self.unkeep(s, sid)

    def unkeep(self, s: Step, sid: int) -> None:
        """A row stops keeping a storage (a checkpointed row: its recomputed tensor)."""
        keys = self.remap.get(s.ckpt) if s.ckpt is not None else None
        key = keys.get(sid, sid) if keys is not None else sid
        self.t.keep(key, -1)
        if isinstance(key, tuple):
            if self.kept.get(key, 0) <= 0:
                self.t.free(key)
        else:
            self.release(key)

    def finish_reads(self, s: Step) -> None:
        """The row has read its inputs: each is freed when nothing else reads, keeps or holds it (a
        view's readers read what it views: view_bases, so a crop's keep its input alive)."""
        base = self.base
        for sid in reads(s):
            sid = base.get(sid, sid)
            self.readers[sid] -= 1
            self.release(sid)

    def release(self, sid: int) -> None:
        """Free a storage nothing reads, keeps or holds any more."""
        if self.readers.get(sid, 0) <= 0 and self.kept.get(sid, 0) <= 0 and sid not in self.held:
            self.t.free(sid)

    # -- the step's phases ------------------------------------------------------------------------------------
    def steady_state(self, optimizer: str, with_model: bool = True) -> None:
        """The network (parameters, buffers; unless `with_model` is false: the timeline has it) and the
        optimizer's state."""
        t, size = self.t, self.dtype_bytes
        if with_model:
            model(t, self.steps, size)
        if self.accumulating:
            earlier_gradients(t, self.tensors, self.trained_at, size)
        self.optimizer_state(optimizer)

    def optimizer_state(self, optimizer: str) -> None:
        optimizer_state(self.t, self.trained, self.dtype_bytes, optimizer, self.device)

    def forward(self) -> None:
        """The batch and its targets, then every row: its output and what it keeps; inputs freed after."""
        t, steps = self.t, self.steps
        first, out = steps[0], self.main.y
        self.dt[first.sid_out] = self.dtype_bytes
        t.alloc(first.sid_out, self.vol(first.sid_out), "activation")
        t.alloc("targets", self.batch * out.h * out.w * TARGET_BYTES, "other")
        for k, side in enumerate(self.sides):  # a side head's targets, made with the network's
            t.alloc(("targets", k), self.batch * side.y.h * side.y.w * TARGET_BYTES, "other")
        t.sample("forward", 0)
        at = self.forward_at
        for index, s in enumerate(steps[1:], start=1):
            if at is not None and index in at:
                at[index] = t.mark()
            rule = s.item.autocast if self.low is not None else None
            din = self.value_bytes(s.sids_in[0])
            if rule == CAST:
                self.cast_forward(index, s, din)
            elif rule == FLOAT32 and din == self.low:
                s.item.amp_forward(self, index, s)
            else:
                self.row_forward(index, s, din, rule)
            self.finish_reads(s)
            seg = self.segments.get(s.ckpt)
            if seg is not None and index == seg["rows"][-1] and not seg["packs"]:
                # the frame lives through the segment's forward; with nothing saved it goes then
                self.t.keep(seg["input"], -1)
                self.release(seg["input"])

    def row_forward(self, index: int, s: Step, din: int, rule) -> None:
        """A row in its input's dtype (a merge under autocast: the widest of its inputs'): its output, and
        what it keeps; checkpointed, what it would keep is made and freed at once."""
        t = self.t
        _, saves_out, per_image, per_batch = s.saves
        if rule is not None:  # under autocast
            per_image, per_batch = s.item.autocast_extra(s.saves, din, self.device, self.fake)
        kept = self.kept_in(s)
        seg = self.segments.get(s.ckpt)
        if seg is not None and index == seg["rows"][0]:
            t.keep(seg["input"], +1)  # the checkpoint's frame holds its input
        if s.copy is not None:  # the flattened copy of its input, first
            self.dt[s.copy] = din
            t.alloc(s.copy, s.x.size * din * self.N, "activation")
        self.dt[s.sid_out] = self.out_dtype(index, s, din, rule)
        t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
        if seg is not None and records(s):
            # checkpointed: its saved tensors are packed as empty holders; what it would save beside its
            # input and output is made and freed at once
            temp = s.item.checkpointed(s, self.dtype_bytes, self.device, self.batch)
            if temp:
                t.alloc("temp", temp, "other")
            kept, saves_out = (), False
        elif per_image or per_batch:
            t.alloc(("extra", index), per_image * self.batch + per_batch, "saved")
        elif (s.holds is not None or not records(s)) and (temp := s.item.transient(s, True, din, self.device,
                                                                                       self.batch)):
            t.alloc("temp", temp, "other")  # made by the operation (a merge's partial sum), kept by nothing
        t.sample("forward", index)
        t.free("temp")
        for j in range(len(s.sids_in) if rule == PROMOTE else 0):
            t.free(("catcast", index, j))
        for sid in (*kept, *((s.sid_out,) if saves_out else ())):
            t.keep(sid, +1)
        if s.copy is not None:
            self.release(s.copy)

    def out_dtype(self, index: int, s: Step, din: int, rule) -> int:
        """The bytes of a value of the row's output: its input's, under autocast a merge's widest input's (its
        casts made), SCALE's float32 (WIDENS)."""
        if rule == WIDENS:
            return F32
        if rule == PROMOTE and s.sid_out in s.sids_in:  # a sum in place keeps the dtype of what it overwrites
            return self.dt[s.sid_out]
        return (self.promote(index, s) or din) if rule == PROMOTE else din

    def promote(self, index: int, s: Step) -> int:
        """A merge under autocast: the widest of its inputs' dtypes; a concatenation of mixed dtypes casts
        its low arms first (copies, for the call)."""
        douts = {self.dt[sid] for sid in s.sids_in}
        dout = max(douts)
        if s.item.concatenates and len(douts) > 1:
            for j, sid in enumerate(s.sids_in):
                if self.dt[sid] != dout:
                    self.t.alloc(("catcast", index, j), self.sizes[sid] * dout * self.N, "other")
        return dout

    def cast_forward(self, index: int, s: Step, din: int) -> None:
        """A convolution or FC under autocast: in low precision, with its casts. A frozen row that autograd does
        not record (a frozen prefix) casts its parameters (autocast caches only what requires grad) and its
        input for the operation alone."""
        t, low = self.t, self.low
        if not records(s):
            casts = [(("bcast", index), s.biases * low), (("wcast", index), s.weights * low),
                     (("xcast", index), s.x.size * low * self.N if din != low else 0)]
            for key, size in casts:
                t.alloc(key, size, "other")
            self.dt[s.sid_out] = low
            t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
            t.sample("forward", index)
            for key, _ in casts:
                t.free(key)
            return
        seg = self.segments.get(s.ckpt)
        if seg is not None and index == seg["rows"][0]:
            t.keep(seg["input"], +1)  # the checkpoint's frame holds its input
        self.make_casts(index, s, din, seg is not None)
        self.dt[s.sid_out] = low
        t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
        t.sample("forward", index)
        if seg is not None:  # checkpointed: nothing saved, the input's cast made for the operation alone
            t.free(("xcast", index))
        elif din == low:
            t.keep(self.input_storage(s), +1)

    def make_casts(self, index: int, s: Step, din: int, checkpointed: bool) -> None:
        """A recorded convolution's or FC's casts under autocast: its bias's (cached until autocast exits), its
        weight's (cached, and saved for backward; checkpointed, cached only: the recomputation casts again) and
        its input's where it is not low (saved instead of the input)."""
        t, low = self.t, self.low
        if s.biases:
            t.alloc(("bcast", index), s.biases * low, "other")
            self.autocast_cache.append(("bcast", index))
        if s.weights:
            t.alloc(("wcast", index), s.weights * low, "other" if checkpointed else "saved")
            if checkpointed:
                self.autocast_cache.append(("wcast", index))
        if din != low:
            t.alloc(("xcast", index), s.x.size * low * self.N, "saved")

    def loss(self) -> None:
        """Log-softmax over the channels (kept for its backward), then the loss and its total weight; with
        side heads the same for each, in order, then the sum of the losses, after which the outputs and the
        separate losses go. Under autocast the logits are cast to float32 first (cross_entropy is a float32
        operation), and autocast's cache goes when it exits."""
        t, last = self.t, self.main
        self.out_dt = self.value_bytes(last.sid_out)
        self.cast_logits = self.low is not None and self.out_dt != F32
        if self.cast_logits:
            t.alloc("logits_cast", last.y.size * F32 * self.N, "other")
        self.output_loss(last, main_key)
        for k, side in enumerate(self.sides):
            t.free("logits_cast")  # cross_entropy has returned: its float32 cast of the logits goes
            if self.low is not None and self.value_bytes(side.sid_out) != F32:
                t.alloc("logits_cast", side.y.size * F32 * self.N, "other")
            self.output_loss(side, side_key(k))
        if self.sides:
            if len(self.sides) > 1:  # three losses or more are summed pairwise: a partial sum beside the last
                t.alloc("loss_partial", SCALAR_BYTES, "other")
            t.alloc("loss_sum", SCALAR_BYTES, "other")
            t.sample("loss", None)
            t.free("loss_partial")
            t.free("loss")
            for k, side in enumerate(self.sides):
                t.free(("loss", k))
                self.held.discard(side.sid_out)
                self.release(side.sid_out)
        t.free("logits_cast")
        self.exit_autocast()
        self.output_read(last)

    def exit_autocast(self) -> None:
        """Autocast exits (after the loss, or a checkpointed segment's recomputation): its cache goes, and with
        it the casts nothing else keeps."""
        for key in self.autocast_cache:
            self.t.free(key)
        self.autocast_cache = []

    def output_read(self, last: Step) -> None:
        """cross_entropy has returned: the network's output (a view's: what it views), held until then, goes
        unless a layer keeps it or it is the batch."""
        out = self.base.get(last.sid_out, last.sid_out)
        if out != self.steps[0].sid_out:
            self.held.discard(out)
        self.readers[out] = 0
        self.release(out)

    def output_loss(self, s: Step, key) -> None:
        """One output's cross-entropy: its log-softmax (kept for its backward), then the loss and its total
        weight; with side heads, an output that needs no gradient keeps neither (no backward reads them).
        `key(name)`: the keys of this output's tensors."""
        t = self.t
        t.alloc(key("log_softmax"), s.y.size * self.per, "saved")
        t.sample("loss", None)
        t.alloc(key("loss"), SCALAR_BYTES, "other")
        t.alloc(key("total_weight"), SCALAR_BYTES, "saved")
        t.sample("loss", None)
        if self.sides and not self.graded(s):
            t.free(key("log_softmax"))
            t.free(key("total_weight"))

    def optimizer_step(self, optimizer: str, foreach: bool) -> None:
        optimizer_step(self.t, self.trained, self.dtype_bytes, optimizer, foreach)


def earlier_gradients(t: Timeline, tensors: list[int], trained_at: list[int], size: int) -> None:
    """With gradient accumulation, the earlier micro-batches' gradients: one for each trainable parameter
    (`trained_at`: their places among the parameter tensors, `tensors`: the elements of each)."""
    for i in trained_at:
        t.alloc(("grad_p", i), tensors[i] * size, "gradients")


def optimizer_state(t: Timeline, trained: list[int], size: int, optimizer: str, device: str) -> None:
    """The optimizer's state: one tensor per trainable parameter (`trained`: their elements) per moment (and
    Adam's step, on the CPU)."""
    for i, n in enumerate(trained):
        for c in range(OPTIMIZERS[optimizer]):
            t.alloc(("state", c, i), n * size, "optimizer")
        if optimizer == "adam" and device == "cpu":  # on CUDA the steps stay on the CPU
            t.alloc(("step", i), STEP_BYTES, "optimizer")


def optimizer_step(t: Timeline, trained: list[int], size: int, optimizer: str, foreach: bool) -> None:
    """In place, but for Adam's denominators: all at once (foreach), or one parameter at a time while
    the last one's lives (the for-loop)."""
    if t.log is not None:
        t.log.mark_optimizer()
    if optimizer != "adam":
        return
    if foreach:
        for i, n in enumerate(trained):
            t.alloc(("denom", i), n * size, "other")
        t.sample("optimizer", None)
        return
    for i, n in enumerate(trained):
        t.alloc(("sqrt", i), n * size, "other")
        t.sample("optimizer", None)
        t.alloc(("denom", i), n * size, "other")
        t.sample("optimizer", None)
        t.free(("sqrt", i))
        t.free(("denom", i - 1))

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

from ..kinds.base import APPLIED, CAST, FLOAT32, PROMOTE
from ..settings import OPTIMIZERS
from .checkpoint import Checkpointing
from .steps import Setup, Step, model, readers, reads, records, requires_grad, view_bases
from .timeline import SCALAR_BYTES, STEP_BYTES, TARGET_BYTES, Log, Peak, Timeline

F32 = 4  # bytes of a float32 value: the parameters' under autocast


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


def _main_key(name: str) -> str:
    """The keys of the network's own output's loss tensors ("log_softmax", …)."""
    return name


def _side_key(k: int):
    """The keys of side head k's loss tensors (("log_softmax", k), …)."""
    return lambda name: (name, k)


class TrainingStep(Checkpointing):
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
        self.bias_casts: list = []  # under autocast: the biases' casts, cached until autocast exits

    # -- storages -----------------------------------------------------------------------------------------
    def vol(self, sid: int) -> int:
        """The bytes of a storage, for the batch."""
        return self.sizes[sid] * self.dt[sid] * self.N

    def value_bytes(self, sid: int) -> int:
        """The bytes of one value of a storage (autocast gives storages their own dtypes)."""
        return self.dt.get(sid, self.dtype_bytes)

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
        if self.accumulating:  # the earlier micro-batches' gradients
            for i in self.trained_at:
                t.alloc(("grad_p", i), self.tensors[i] * size, "gradients")
        self.optimizer_state(optimizer)

    def optimizer_state(self, optimizer: str) -> None:
        """The optimizer's state: one tensor per trainable parameter per moment (and Adam's step, on
        the CPU)."""
        t, size = self.t, self.dtype_bytes
        for i, n in enumerate(self.trained):
            for c in range(OPTIMIZERS[optimizer]):
                t.alloc(("state", c, i), n * size, "optimizer")
            if optimizer == "adam" and self.device == "cpu":  # on CUDA the steps stay on the CPU
                t.alloc(("step", i), STEP_BYTES, "optimizer")

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
        for index, s in enumerate(steps[1:], start=1):
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
            t.alloc(s.copy, s.x.size * self.per, "activation")
        casts = self.promote(index, s) if rule == PROMOTE else 0
        self.dt[s.sid_out] = casts or din
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
        elif not records(s) and (temp := s.item.transient(s, True, din, self.device, self.batch)):
            t.alloc("temp", temp, "other")  # made by the operation, kept by nothing: freed at once
        t.sample("forward", index)
        t.free("temp")
        for j in range(len(s.sids_in) if rule == PROMOTE else 0):
            t.free(("catcast", index, j))
        for sid in (*kept, *((s.sid_out,) if saves_out else ())):
            t.keep(sid, +1)
        if s.copy is not None:
            self.release(s.copy)

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
        """A convolution or FC under autocast: in low precision, with its casts."""
        t, low = self.t, self.low
        if s.biases:
            t.alloc(("bcast", index), s.biases * low, "other")  # cached until autocast exits
            self.bias_casts.append(("bcast", index))
        if s.weights:
            t.alloc(("wcast", index), s.weights * low, "saved")  # cached, and saved for backward
        if din != low:
            t.alloc(("xcast", index), s.x.size * low * self.N, "saved")  # saved instead of the input
        self.dt[s.sid_out] = low
        t.alloc(s.sid_out, self.vol(s.sid_out), "activation")
        t.sample("forward", index)
        if din == low:
            t.keep(self.input_storage(s), +1)

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
        self.output_loss(last, _main_key)
        for k, side in enumerate(self.sides):
            self.output_loss(side, _side_key(k))
        if self.sides:
            t.alloc("loss_sum", SCALAR_BYTES, "other")
            t.sample("loss", None)
            t.free("loss")
            for k, side in enumerate(self.sides):
                t.free(("loss", k))
                self.held.discard(side.sid_out)
                self.release(side.sid_out)
        t.free("logits_cast")
        for key in self.bias_casts:  # autocast exits: its cache goes; the biases' casts were kept by it only
            t.free(key)
        self.output_read(last)

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

    def loss_backward(self, s: Step, key):
        """One output's cross-entropy backward: the gradient of its log-softmax, then of its logits (whose
        key it returns), what it kept freed on the way."""
        t = self.t
        t.alloc(key("grad_nll"), s.y.size * self.per, "other")
        t.sample("backward", None)
        t.free(key("total_weight"))
        t.alloc(key("grad_logits"), s.y.size * self.per, "other")
        t.sample("backward", None)
        t.free(key("grad_nll"))
        t.free(key("log_softmax"))
        return key("grad_logits")

    def output_gradient(self):
        """The key of the network output's gradient, once the loss's backward has made it; under autocast
        the float32 gradient cast back to the output's dtype (the logits' cast's backward)."""
        if not self.cast_logits:
            return "grad_logits"
        self.t.alloc("grad_out_low", self.main.y.size * self.out_dt * self.N, "other")
        self.t.sample("backward", None)
        self.t.free("grad_logits")
        return "grad_out_low"

    def graded(self, s: Step) -> bool:
        """Does the output of this step (the network's, or a side head's) require grad? With side heads
        one of them may not, and its loss then has no backward."""
        return self.req.get(self.base.get(s.sid_out, s.sid_out), False)

    def unref(self, key) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.t.free(key)

    def deliver(self, sid: int, key, index: int) -> None:
        """A gradient arrives at a storage; a second one is summed with the first into a new tensor.
        A storage that does not require grad (a branch's arm that reads the network's input without
        parameters) gets none: autograd does not compute it."""
        if not self.req.get(sid, True):
            return
        self.refs[key] = self.refs.get(key, 0) + 1
        if sid not in self.grads:
            self.grads[sid] = key
            return
        total = ("sum", index, sid)
        self.t.alloc(total, self.grad_bytes(sid), "other")
        self.t.sample("backward", index)
        self.refs[total] = 1
        self.unref(self.grads[sid])
        self.unref(key)
        self.grads[sid] = total

    def hand_on(self, sid: int, key, index: int) -> None:
        """Deliver a gradient made for `sid`, and free it when no storage took it."""
        self.refs[key] = 0
        self.deliver(sid, key, index)
        if self.refs[key] == 0:
            self.t.free(key)

    def backward(self) -> None:
        """The loss's backward, then every row's in reverse, as far as the first layer with parameters."""
        t, steps = self.t, self.steps
        t.alloc("grad_loss", SCALAR_BYTES, "other")  # held by backward() until the end
        t.sample("backward", None)
        for k in reversed(range(len(self.sides))):  # the side heads' losses were made last: their backward first
            side = self.sides[k]
            if not self.graded(side):
                continue
            grad = self.loss_backward(side, _side_key(k))
            self.refs[grad] = 0
            self.deliver(side.sid_out, grad, len(steps))
            if self.refs[grad] == 0:
                t.free(grad)
        if not self.sides or self.graded(self.main):
            self.loss_backward(self.main, _main_key)
            self.deliver(self.main.sid_out, self.output_gradient(), len(steps))
        param_i = len(self.tensors)
        splits = self.split_starts()
        for index in range(len(steps) - 1, 0, -1):
            s = steps[index]
            mine = [n for n in (s.weights, s.biases) if n]
            param_i -= len(mine)
            if s.grad or (mine and s.trainable):  # before the first trainable layer: no backward
                seg = self.segments.get(s.ckpt)
                if seg is not None and seg["packs"] and index == seg["packs"][-1]:
                    self.recompute(seg)  # its first saved tensor unpacked
                self.row_backward(index, s, param_i)
            if index in splits:
                self.split_backward(index, steps[splits[index]])
        t.free("grad_loss")

    @property
    def gradient(self) -> str:
        """The key of a parameter's gradient made by a backward: its own, or a new one to add to it. (Under
        autocast the new one is taken as added into its own, the measurement of issue 23 aside.)"""
        return "grad_new" if self.accumulating and self.low is None else "grad_p"

    def row_backward(self, index: int, s: Step, param_i: int) -> None:
        """A row's backward: its kind's operations (or its own backward, run on this simulation), then its
        output's gradient and what it kept are freed and its input's gradient delivered; a view or a merge
        hands its gradient on (cast to each input's dtype where it differs)."""
        ops = s.item.backward
        if callable(ops):
            return ops(self, index, s)
        if ops is None:
            return self.views_backward(index, s)
        if self.low is not None and s.item.autocast == FLOAT32 and self.dt[s.sids_in[0]] == self.low:
            return s.item.amp_backward(self, index, s)
        return self.ops_backward(index, s, param_i, ops)

    def views_backward(self, index: int, s: Step) -> None:
        if s.sids_in == (s.sid_out,):
            return
        t = self.t
        key = self.grads.pop(s.sid_out)
        dout = self.value_bytes(s.sid_out)
        for j, sid in enumerate(s.sids_in):
            if self.value_bytes(sid) != dout:  # the engine casts the gradient to the input's dtype
                cast = ("gcast", index, j)
                t.alloc(cast, self.sizes[sid] * self.dt[sid] * self.N, "other")
                t.sample("backward", index)
                self.hand_on(sid, cast, index)
            else:
                self.deliver(sid, key, index)
        self.unref(key)

    def ops_backward(self, index: int, s: Step, param_i: int, ops) -> None:
        """The operations of a kind's backward, each a sample; then what it kept goes and its input's
        gradient is delivered."""
        t = self.t
        cast = self.low is not None and s.item.autocast == CAST
        din = self.value_bytes(s.sids_in[0])
        key = self.grads.pop(s.sid_out)
        new = None
        dropped = False
        for op in ops:
            if op == APPLIED:
                if s.ckpt is not None:
                    # a recomputed tensor dies with its node's apply, before the engine's own operations (a
                    # saved one lives until release_variables, after)
                    self.drop_saved(index, s)
                    dropped = True
                continue
            for what in op:
                if what == "input" and s.grad:
                    new = ("grad_in", index)
                    t.alloc(new, s.x.size * (self.low if cast else din) * self.N, "other")
                elif what in ("weight", "bias"):
                    self.param_gradient(index, s, param_i, what, cast)
                elif isinstance(what, tuple):
                    t.alloc(("temp", index), what[1] * s.x.size * din * self.N, "other")
            t.sample("backward", index)
            t.free(("temp", index))
        if self.accumulating:  # the new gradients were added into the parameters' own
            for i in range(param_i, param_i + 2):
                t.free(("grad_new", i))
        self.unref(key)
        if cast:
            self.drop_casts(index, s, din)
        elif not dropped:
            self.drop_saved(index, s)
        seg = self.segments.get(s.ckpt)
        if seg is not None and seg["packs"] and index == seg["packs"][0]:
            # the checkpoint's frame (and the input it holds) goes with the last node holding its tensors,
            # at release_variables: before the input's gradient is delivered
            t.keep(seg["input"], -1)
            self.release(seg["input"])
        if new is not None and cast and din != self.low:  # the input cast's backward: back to float32
            t.alloc(("grad_in32", index), s.x.size * din * self.N, "other")
            t.sample("backward", index)
            t.free(new)
            new = ("grad_in32", index)
        if new is not None:
            self.hand_on(s.sids_in[0], new, index)
        if cast:
            self.cast_gradients(index, s, param_i)
        elif s.relaid and s.weights and s.trainable and not self.accumulating:
            # AccumulateGrad, next: the weight's gradient copied into the parameter's layout, then the first goes
            t.alloc(("grad_relaid", param_i), s.weights * self.dtype_bytes, "gradients")
            t.sample("backward", index)
            t.free((self.gradient, param_i))

    def param_gradient(self, index: int, s: Step, param_i: int, what: str, cast: bool) -> None:
        """A parameter's gradient, made by the backward: low-precision under autocast's cast (cast to
        float32 after: cast_gradients), else the parameter's own dtype (kept until zero_grad)."""
        n = s.weights if what == "weight" else s.biases
        if not n or not s.trainable:
            return
        if cast:
            self.t.alloc(("gw_low" if what == "weight" else "gb_low", index), n * self.low, "other")
        else:
            self.t.alloc((self.gradient, param_i + (what == "bias")), n * self.dtype_bytes, "gradients")

    def drop_casts(self, index: int, s: Step, din: int) -> None:
        """A cast row's backward lets go of what it saved: its weight's cast, and its input's (or its input)."""
        self.t.free(("extra", index))
        self.t.free(("wcast", index))
        if din != self.low:
            self.t.free(("xcast", index))
        else:
            self.t.keep(self.input_storage(s), -1)
            self.release(self.input_storage(s))

    def cast_gradients(self, index: int, s: Step, param_i: int) -> None:
        """The parameters' casts' backward: float32 gradients, then the low ones go."""
        t = self.t
        if s.weights:
            t.alloc(("grad_p", param_i), s.weights * F32, "gradients")
            t.sample("backward", index)
            t.free(("gw_low", index))
        if s.biases:
            t.alloc(("grad_p", param_i + (1 if s.weights else 0)), s.biases * F32, "gradients")
            t.sample("backward", index)
            t.free(("gb_low", index))

    def split_starts(self) -> dict[int, int]:
        """A channel split's first row (its arms' first) -> its merge's row: where its backward runs."""
        starts = {}
        for m, s in enumerate(self.steps):
            if s.splits:
                starts[min(i for i, r in enumerate(self.steps) if set(r.sids_in) & set(s.splits))] = m
        return starts

    def split_backward(self, index: int, merge: Step) -> None:
        """The split (torch.chunk) once its arms' backward has run: its halves' gradients concatenated
        into one for the input (SplitBackward), then they go."""
        keys = [self.grads.pop(half) for half in merge.splits if half in self.grads]
        if not keys:
            return
        new = ("grad_split", index)
        self.t.alloc(new, self.grad_bytes(merge.holds), "other")
        self.t.sample("backward", index)
        for key in keys:
            self.unref(key)
        self.hand_on(merge.holds, new, index)

    def optimizer_step(self, optimizer: str, foreach: bool) -> None:
        """In place, but for Adam's denominators: all at once (foreach), or one parameter at a time while
        the last one's lives (the for-loop)."""
        if self.t.log is not None:
            self.t.log.mark_optimizer()
        if optimizer != "adam":
            return
        t, size = self.t, self.dtype_bytes
        if foreach:
            for i, n in enumerate(self.trained):
                t.alloc(("denom", i), n * size, "other")
            t.sample("optimizer", None)
            return
        for i, n in enumerate(self.trained):
            t.alloc(("sqrt", i), n * size, "other")
            t.sample("optimizer", None)
            t.alloc(("denom", i), n * size, "other")
            t.sample("optimizer", None)
            t.free(("sqrt", i))
            t.free(("denom", i - 1))

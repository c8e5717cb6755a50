"""The backward half of the simulated training step (a mixin of simulate/step.py's TrainingStep): the
loss's backward, then each row's in reverse, as its kind's `backward` rule says, the gradients that
meet at a storage summed, a channel split's halves concatenated, and under autocast the casts'
backward."""

from __future__ import annotations

from ..kinds.base import APPLIED, CAST, FLOAT32, WIDENS
from .steps import Step
from .timeline import SCALAR_BYTES

F32 = 4  # bytes of a float32 value: the parameters' under autocast


def main_key(name: str) -> str:
    """The keys of the network's own output's loss tensors ("log_softmax", …)."""
    return name


def side_key(k: int):
    """The keys of side head k's loss tensors (("log_softmax", k), …)."""
    return lambda name: (name, k)


class Backward:
    """The loss's and the rows' backward (a mixin: its state is the TrainingStep's)."""

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
            grad = self.loss_backward(side, side_key(k))
            dt = self.value_bytes(side.sid_out)
            if self.low is not None and dt != F32:  # the logits' cast's backward: back to the head's dtype
                low = side_key(k)("grad_out_low")
                t.alloc(low, side.y.size * dt * self.N, "other")
                t.sample("backward", None)
                t.free(grad)
                grad = low
            self.refs[grad] = 0
            self.deliver(side.sid_out, grad, len(steps))
            if self.refs[grad] == 0:
                t.free(grad)
        if not self.sides or self.graded(self.main):
            self.loss_backward(self.main, main_key)
            self.deliver(self.main.sid_out, self.output_gradient(), len(steps))
        param_i = len(self.tensors)
        splits = self.split_starts()
        at = self.backward_at
        for index in range(len(steps) - 1, 0, -1):
            if at is not None and index in at:
                at[index] = t.mark()
            s = steps[index]
            mine = [n for n in (s.weights, s.biases) if n]
            param_i -= len(mine)
            if s.grad or (mine and s.trainable):  # before the first trainable layer: no backward
                seg = self.segments.get(s.ckpt)
                if seg is not None and seg["packs"] and index == seg["packs"][-1]:
                    self.recompute(seg)  # its first saved tensor unpacked
                self.row_backward(index, s, param_i)
            for merge in splits.get(index, ()):  # a split nested in another's arm first
                self.split_backward(index, steps[merge])
        t.free("grad_loss")

    @property
    def gradient(self) -> str:
        """The key of a parameter's gradient made by a backward: its own, or (accumulating) a new one that
        AccumulateGrad adds into its own, then frees."""
        return "grad_new" if self.accumulating else "grad_p"

    def row_backward(self, index: int, s: Step, param_i: int) -> None:
        """A row's backward: its kind's operations (or its own backward, run on this simulation), then its
        output's gradient and what it kept are freed and its input's gradient delivered; a view or a merge
        hands its gradient on (cast to each input's dtype where it differs)."""
        ops = s.item.backward
        if callable(ops):
            return ops(self, index, s)
        if ops is None:
            return self.views_backward(index, s)
        if self.low is not None and s.item.autocast == FLOAT32 and self.value_bytes(s.sids_in[0]) == self.low:
            return s.item.amp_backward(self, index, s)
        return self.ops_backward(index, s, param_i, ops)

    def views_backward(self, index: int, s: Step) -> None:
        if s.sids_in == (s.sid_out,):
            return
        t = self.t
        key = self.grads.pop(s.sid_out)
        dout = self.value_bytes(s.sid_out)
        for j, sid in enumerate(s.sids_in):
            if sid in s.no_grad:
                continue
            if self.value_bytes(sid) != dout:  # the engine casts the gradient to the input's dtype
                cast = ("gcast", index, j)
                t.alloc(cast, self.sizes[sid] * self.value_bytes(sid) * self.N, "other")
                t.sample("backward", index)
                self.hand_on(sid, cast, index)
            else:
                self.deliver(sid, key, index)
        self.unref(key)

    def ops_backward(self, index: int, s: Step, param_i: int, ops) -> None:
        """The operations of a kind's backward, each a sample; then what it kept goes and its input's
        gradient is delivered."""
        cast = self.low is not None and s.item.autocast == CAST
        din = self.value_bytes(s.sids_in[0])
        work = F32 if self.low is not None and s.item.autocast == WIDENS else din  # what its operations make
        key = self.grads.pop(s.sid_out)
        new, dropped = self.run_ops(index, s, param_i, ops, cast, work)
        if self.accumulating:  # the new gradients were added into the parameters' own
            for i in range(param_i, param_i + 2):
                self.t.free(("grad_new", i))
        self.unref(key)
        if not dropped:
            if cast:
                self.drop_casts(index, s, din)
            else:
                self.drop_saved(index, s)
        self.end_frame(index, s)
        if new is not None and ((cast and din != self.low) or work != din):
            # the input cast's backward (back to float32), or the engine's cast to a low input's dtype
            self.t.alloc(("grad_in32", index), s.x.size * din * self.N, "other")
            self.t.sample("backward", index)
            self.t.free(new)
            new = ("grad_in32", index)
        if new is not None:
            self.hand_on(s.sids_in[0], new, index)
        if cast:
            self.cast_gradients(index, s, param_i)
        elif s.relaid and s.weights and s.trainable and not self.accumulating:
            # AccumulateGrad, next: the weight's gradient copied into the parameter's layout, then the first goes
            self.t.alloc(("grad_relaid", param_i), s.weights * self.dtype_bytes, "gradients")
            self.t.sample("backward", index)
            self.t.free((self.gradient, param_i))

    def run_ops(self, index: int, s: Step, param_i: int, ops, cast: bool, din: int) -> tuple[object, bool]:
        """Each operation's outputs (the input's gradient, the parameters', a temporary), a sample, then the
        temporary goes (one made just before APPLIED after the operation after it); a checkpointed row drops what
        it recomputed at APPLIED. Returns the key of the input's gradient (None: none made) and whether what it
        kept was dropped."""
        t = self.t
        new = None
        dropped = False
        for k, op in enumerate(ops):
            if op == APPLIED:
                if s.ckpt is not None:
                    # a recomputed tensor dies with its node's apply, before the engine's own operations (a
                    # saved one lives until release_variables, after)
                    if cast:
                        self.drop_casts(index, s, din)
                    else:
                        self.drop_saved(index, s)
                    dropped = True
                continue
            for what in op:
                if what == "input" and s.grad:
                    new = ("grad_in", index)
                    t.alloc(new, s.x.size * (self.low if cast else din) * self.N, "other")
                elif what in ("weight", "bias"):
                    self.param_gradient(index, s, param_i, what, cast)
                elif isinstance(what, tuple):  # ("temp", k input volumes) or ("temp", values per image of x)
                    values = what[1](s.item, s.x) if callable(what[1]) else what[1] * s.x.size
                    t.alloc(("temp", index), values * din * self.N, "other")
            t.sample("backward", index)
            if k + 1 == len(ops) or ops[k + 1] != APPLIED:  # a temporary made just before the apply returns
                t.free(("temp", index))  # is what the engine's operation after it reads (SCALE's sum_to)
        return new, dropped

    def end_frame(self, index: int, s: Step) -> None:
        """The checkpoint's frame (and the input it holds) goes with the last node holding its tensors, at
        release_variables: before the input's gradient is delivered."""
        seg = self.segments.get(s.ckpt)
        if seg is not None and seg["packs"] and index == seg["packs"][0]:
            self.t.keep(seg["input"], -1)
            self.release(seg["input"])

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
            self.unkeep(s, self.input_storage(s))  # checkpointed: its recomputed input

    def cast_gradients(self, index: int, s: Step, param_i: int) -> None:
        """The parameters' casts' backward: float32 gradients, then the low ones go; accumulating, each float32
        gradient lives beside the parameter's own until AccumulateGrad has added it in (measured with real
        runs: VGG16 bfloat16 with two micro-batches was 11.4% low); a weight gradient made channels last is
        copied into the parameter's layout (ConvNeXt-T's downsampling after LAYERNORM: 0.39% low)."""
        t, key = self.t, self.gradient
        for n, i, low in ((s.weights, param_i, "gw_low"), (s.biases, param_i + (1 if s.weights else 0), "gb_low")):
            if n:
                t.alloc((key, i), n * F32, "gradients")
                t.sample("backward", index)
                t.free((low, index))
                if self.accumulating:
                    t.free((key, i))
                elif s.relaid and low == "gw_low":  # the cast kept the low gradient's layout (channels last):
                    t.alloc(("grad_relaid", i), n * F32, "gradients")  # AccumulateGrad copies it into the
                    t.sample("backward", index)  # parameter's layout, then the cast's goes
                    t.free((key, i))

    def split_starts(self) -> dict[int, list[int]]:
        """A channel split's first row (its arms' first, which may read a half of a half) -> the rows of
        the merges whose backward runs there, inner splits (written first) first."""
        parent = {half: s.holds for s in self.steps for half in s.splits}  # a half -> the storage it halves
        starts: dict[int, list[int]] = {}
        for m, s in enumerate(self.steps):
            if s.splits:
                halves = set(s.splits)
                for i, r in enumerate(self.steps):
                    if any(_within(parent, sid, halves) for sid in r.sids_in):
                        starts.setdefault(i, []).append(m)
                        break
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


def _within(parent: dict[int, int], sid: int, halves: set[int]) -> bool:
    """Whether a storage is one of `halves` or a half of one, however deeply split."""
    while True:
        if sid in halves:
            return True
        if sid not in parent:
            return False
        sid = parent[sid]

"""The peak of live tensor bytes in one training step, simulated as PyTorch runs it.

The step (the one `cnncalc.pytorch.memory` measures with PyTorch's MemTracker):

    x = randn(N, C, H, W); y = randint(classes, (N, H_out, W_out))   the batch and its int64 targets
    loss = cross_entropy(net(x), y)          log-softmax over the channels, per output pixel
    loss.backward(); optimizer.step(); optimizer.zero_grad(set_to_none=True)

in the steady state (the optimizer's state exists). The walk records one `Step` per row; this
replays them as a timeline of operations, each allocating its outputs, the total sampled after
each operation (as MemTracker does), then freeing what nothing references any more:

- forward: a layer allocates its output (unless in place or a view) and what it keeps for the
  backward pass (indices, statistics, copies: saved.py); its input is freed once its last reader
  has run, unless a layer saved it. Nothing before the first layer with parameters is recorded.
- the loss: log-softmax (kept) and the loss with its total weight.
- backward, in reverse: each layer allocates the gradient of its input (views pass it on) and of
  its parameters (which live until zero_grad), then frees its output's gradient and what it saved.
  Gradients meeting at a tensor read by several layers are summed into a new tensor.
- the optimizer step: its temporaries (Adam's denominators), then zero_grad frees the gradients.

Frozen layers (Step.trainable false: fine-tuning) and activation checkpointing (Step.ckpt: the
segment a row belongs to, run under torch.utils.checkpoint without reentrance), measured with
MemTracker on 1,516 cases, all equal to the byte:

- a row records autograd (saves, runs a backward) when its input requires grad or it owns trainable
  parameters; a frozen row makes only its input's gradient; the optimizer's state and temporaries
  cover the trainable parameters only; a frozen BN before any trainable layer makes its statistics
  and frees them at once (a frozen FC whose input requires grad keeps only its weight: planner);
- a checkpointed row keeps nothing in forward (what it would save beside its input and output is
  made and freed at once); the checkpoint's frame holds the segment's input through its forward
  and, when a row of it saved anything, until the backward of its first such row releases it
  (before that row's input gradient is delivered); the backward of the segment's last saving row
  starts by recomputing the segment, in training mode, up to its last saved tensor (early stop).

Each kind says what its forward makes beside its output (`transient`), its backward's operations
(`backward`), what a checkpoint recomputes and where it stops (`checkpointed`, `packs_after_op`), and
how it runs under autocast (kinds/base.py). A kind whose backward or transient rule is UNSUPPORTED
leaves the training peak out (named in totals.partial).
"""

from __future__ import annotations

from typing import NamedTuple

from ..kinds import UNSUPPORTED, Volume
from ..kinds.base import APPLIED, NOTHING
from .allocator import CachingAllocator
from ..settings import AMP_DTYPES, OPTIMIZERS as OPTIMIZER_STATE

TARGET_BYTES = 8  # the targets are int64, one per output pixel
SCALAR_BYTES = 4  # the loss, its total weight and the gradient of the loss are float32 scalars
STEP_BYTES = 4  # Adam's per-parameter `step` is a float32 scalar tensor, kept on the CPU
BATCHES_TRACKED_BYTES = 8  # BN's num_batches_tracked is an int64 scalar


class Step(NamedTuple):
    """A row as the training simulation sees it."""

    kind: str
    item: object  # the Layer, or the Branch of a merge
    x: Volume  # its input volume (a merge's: the branch's input)
    y: Volume
    sids_in: tuple[int, ...]  # the storages it reads (a merge: its arms' outputs)
    sid_out: int
    saves: tuple  # saved.Saved, or UNSUPPORTED
    weights: int | None  # elements of its weight tensor, of its bias tensor, of its buffers
    biases: int | None
    buffers: int | None
    grad: bool  # its input requires grad
    holds: int | None = None  # a merge: the branch's input, which the branch holds until it merges
    trainable: bool = True  # its parameters require grad (False: frozen; they still count as parameters)
    ckpt: int | None = None  # the checkpointed segment the row belongs to (None: not checkpointed)
    relaid: bool = False  # its weight's gradient is made in another layout and copied (saved.relaid_weight)
    copy: int | None = None  # FC flattening a channels-last or cropped volume: the storage of the copy it makes
    splits: tuple[int, ...] = ()  # a channel split's merge: the storages (views, no bytes) its arms read
    side: bool = False  # in a side head (or its output row): it runs in training only
    unmodelled: bool = False  # the network's output laid out channels last, which the loss copies: not modelled


def records(s: Step) -> bool:
    """Autograd records the row: its input requires grad or it owns trainable parameters."""
    return s.grad or bool(s.trainable and (s.weights or s.biases))


class Peak(NamedTuple):
    bytes: int
    phase: str  # forward, loss, backward, optimizer
    index: int | None  # the row running then (None outside the layers)
    breakdown: dict[str, int]  # params, buffers, gradients, optimizer, saved, other


CUDA_BLOCK = 512  # the CUDA caching allocator rounds every tensor up to a multiple of 512 bytes


class _Timeline:
    """Live storages by key, with their bytes and category, the totals by category kept as they
    change (so a sample costs the same whatever the design's size), and the peak over samples.
    An activation, keyed by its storage's number, counts as "saved" while a layer keeps it for
    backward, else "other"; every other key is a string or a tuple."""

    def __init__(self, block: int, kept: dict[int, int]) -> None:
        self.live: dict[object, tuple[int, str]] = {}
        self.log: list | None = None  # (key, bytes, category) allocated, (key, None, "") freed, when recorded
        self.sums = dict.fromkeys(("params", "buffers", "gradients", "optimizer", "saved", "other"), 0)
        self.total = 0
        self.peak = Peak(0, "", None, {})
        self.block = block
        self.kept = kept
        self.events: list[tuple[str, int | None, int]] | None = None  # (phase, row, total) when traced

    def alloc(self, key, size: int, category: str) -> None:
        if key not in self.live and size:  # a view of no bytes of its own (a crop's) allocates nothing
            if self.block != 1:
                size = -(-size // self.block) * self.block
            if category == "activation":
                category = "saved" if self.kept.get(key, 0) > 0 else "other"
            self.live[key] = (size, category)
            self.sums[category] += size
            self.total += size
            if self.log is not None:
                self.log.append((key, size, category))

    def free(self, key) -> None:
        entry = self.live.pop(key, None)
        if entry is not None:
            self.sums[entry[1]] -= entry[0]
            self.total -= entry[0]
            if self.log is not None:
                self.log.append((key, None, ""))

    def keep(self, sid: int, change: int) -> None:
        """A layer starts (+1) or stops (-1) keeping a storage for backward."""
        before = self.kept.get(sid, 0)
        self.kept[sid] = before + change
        key = sid
        if key in self.live and (before > 0) != (before + change > 0):
            size, category = self.live[key]
            now = "saved" if before + change > 0 else "other"
            self.sums[category] -= size
            self.sums[now] += size
            self.live[key] = (size, now)

    def sample(self, phase: str, index: int | None) -> None:
        if self.total <= self.peak.bytes and self.events is None:
            return
        if self.events is not None:
            self.events.append((phase, index, self.total))
        if self.total > self.peak.bytes:
            self.peak = Peak(self.total, phase, index, dict(self.sums))


def supported(steps: list[Step], amp: int | None = None) -> bool:
    """Does the simulation know every row? (A kind's rule UNSUPPORTED, or under --amp its autocast rule.)"""
    return not any(s.item.backward is UNSUPPORTED or s.item.transient is UNSUPPORTED or s.saves is UNSUPPORTED
                   or s.weights is None or (amp is not None and s.item.autocast is UNSUPPORTED)
                   or (s.item.subview and s.ckpt is not None)  # recomputed views: not modelled
                   or (s.copy is not None and (amp is not None or s.ckpt is not None))
                   or (s.side and s.ckpt is not None)  # a checkpointed side head: not modelled
                   or s.unmodelled for s in steps)


class Cuda(NamedTuple):
    """What the CUDA device holds beside the allocator's reserved memory: stated assumptions."""

    context: int  # the CUDA context (driver, kernels)
    workspace: int  # cuBLAS/cuDNN workspaces


class Setup(NamedTuple):
    """How the step runs: the parameters' dtype bytes, the optimizer and its implementation, the
    device's rules, gradient accumulation, autocast's dtype bytes (None: no autocast), and on CUDA
    what the device holds beside the allocator's segments."""

    dtype_bytes: int
    optimizer: str = "sgd"
    device: str = "cuda"
    foreach: bool = True
    accumulate: int = 1
    amp: int | None = None
    cuda: Cuda | None = None

    @property
    def block(self) -> int:
        return CUDA_BLOCK if self.device == "cuda" else 1


def setup_of(settings) -> Setup:
    """How the step runs at these Settings (settings.py)."""
    low = None if settings.amp is None else AMP_DTYPES[settings.amp]
    return Setup(settings.dtype_bytes, settings.optimizer, settings.memory_rules, settings.uses_foreach,
                 settings.accumulate, low, Cuda(settings.cuda_context, settings.cuda_workspace))


ALL_PEAKS = frozenset({"inference", "cuda"})  # what add_peaks computes beside the training step's peak


def add_peaks(totals: dict, steps: list[Step], storage_sizes: list[int], setup: Setup, *, batch: int,
              budget: int | None = None, budget_for: str = "training", want: frozenset = ALL_PEAKS) -> dict | None:
    """Add the simulated peaks to the report's totals (`totals.memory`; on CUDA also `totals.memory.cuda`),
    or name them in `partial`; with a budget, return the report's `budget`: the largest batch that fits.
    `want` may leave out the inference peak or the CUDA figures (null then: a sweep that reads neither)."""
    memory = totals["memory"]
    if not supported(steps, setup.amp):
        memory.update(training_peak_bytes=None, peak=None, inference_peak_bytes=None, cuda=None)
        totals["partial"] = sorted({*totals["partial"], "training_peak"})
        return None if budget is None else {"bytes": budget, "for": budget_for, "max_batch": None,
                                            "batch_1_bytes": None, "max_input": None}
    logs: dict[str, list] | None = ({"training": [], "inference": []} if setup.device == "cuda" and "cuda" in want
                                    else None)
    peak = peak_of(steps, storage_sizes, setup, batch, log=logs and logs["training"])
    order = ("params", "buffers", "gradients", "optimizer", "saved", "other")
    memory["training_peak_bytes"] = peak.bytes
    memory["peak"] = {"phase": peak.phase, "index": peak.index,
                      "breakdown": {k: peak.breakdown.get(k, 0) for k in order}}
    memory["inference_peak_bytes"] = None if not ({"inference", "cuda"} & want) else inference(
        steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block, device=setup.device,
        amp=setup.amp, log=logs and logs["inference"])
    memory["cuda"] = None
    if logs is not None:
        cuda = setup.cuda or Cuda(0, 0)
        around = cuda.context + cuda.workspace
        reserved = replay(logs["training"])
        inferring = replay(logs["inference"])
        memory["cuda"] = {"allocated_bytes": peak.bytes, "reserved_bytes": reserved, "context_bytes": cuda.context,
                          "workspace_bytes": cuda.workspace, "total_bytes": reserved + around,
                          "inference_reserved_bytes": inferring, "inference_total_bytes": inferring + around}
    if budget is None:
        return None
    most, one = largest_batch(steps, storage_sizes, budget, setup, budget_for)
    return {"bytes": budget, "for": budget_for, "max_batch": most, "batch_1_bytes": one, "max_input": None}


def peak_of(steps: list[Step], storage_sizes: list[int], setup: Setup, batch: int, events: list | None = None,
            fake: bool = False, log: list | None = None, timeline: _Timeline | None = None) -> Peak:
    """The peak of one training step (see simulate)."""
    return simulate(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, optimizer=setup.optimizer,
                    foreach=setup.foreach, block=setup.block, device=setup.device, events=events,
                    accumulate=setup.accumulate, amp=setup.amp, fake=fake, log=log, timeline=timeline)


def allocated(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """The simulated peak of live tensor bytes: of a training step, or of inference."""
    if mode == "inference":
        return inference(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block,
                         device=setup.device, amp=setup.amp)
    return peak_of(steps, storage_sizes, setup, batch).bytes


def held(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """What a budget must hold at `batch`: the simulated peak (of a training step, or of inference); on
    CUDA the allocator's reserved memory, the context and the workspaces."""
    if setup.device == "cuda" and setup.cuda is not None:
        return setup.cuda.context + setup.cuda.workspace + cuda_reserved(steps, storage_sizes, setup, mode, batch)
    return allocated(steps, storage_sizes, setup, mode, batch)


def largest_batch(steps: list[Step], storage_sizes: list[int], budget: int, setup: Setup, mode: str,
                  most: int = 10**15) -> tuple[int, int]:
    """The largest batch (the micro-batch, with gradient accumulation) whose simulated peak (of a
    training step, or of inference) fits in `budget` bytes, and the peak at batch 1; on CUDA the peak
    is what the device holds: the allocator's reserved memory, the context and the workspaces. A
    doubling then a bisection finds it in about 2*log2(batch) simulations (on CUDA first on the
    allocated peak, a lower bound, then on the reserved memory below that): exact against the
    simulation (the answer fits, one more does not); 0 when even batch 1 does not fit."""
    if setup.device == "cuda" and setup.cuda is not None:
        around = setup.cuda.context + setup.cuda.workspace  # the device holds these and the allocated peak
        most = _search(lambda n: allocated(steps, storage_sizes, setup, mode, n) + around, budget, most)
        one = held(steps, storage_sizes, setup, mode, 1)
        fits = 0 if most == 0 or one > budget else _search(lambda n: held(steps, storage_sizes, setup, mode, n),
                                                           budget, most)
        return fits, one
    return (_search(lambda n: allocated(steps, storage_sizes, setup, mode, n), budget, most),
            allocated(steps, storage_sizes, setup, mode, 1))


def _search(peak, budget: int, most: int) -> int:
    """The largest batch n <= most with peak(n) <= budget (0 when not even 1): the answer fits and one
    more does not, whether or not peak grows with every batch."""
    if peak(1) > budget:
        return 0
    low, high = 1, 2
    while high <= most and peak(high) <= budget:
        low, high = high, high * 2
    high = min(high, most + 1)
    while high - low > 1:  # peak(low) fits, peak(high) does not (or is past the limit)
        mid = (low + high) // 2
        low, high = (mid, high) if peak(mid) <= budget else (low, mid)
    return low


def inference(steps: list[Step], storage_sizes: list[int], *, dtype_bytes: int, batch: int, block: int = 1,
              device: str = "cuda", amp: int | None = None, log: list | None = None) -> int:
    """The peak of a forward pass in evaluation mode under no_grad: parameters, buffers, the batch and
    the outputs still to be read; nothing is kept for a backward pass, dropout passes its input on.
    `amp`: under autocast (metrics/amp.py); `log` records the allocations (see simulate)."""
    t = _Timeline(block, {})
    t.log = log
    _model(t, steps, dtype_bytes)
    if log is not None:
        log.append(FORWARD)
    _evaluate_any(t, steps, storage_sizes, dtype_bytes, batch, device, amp)
    return t.peak.bytes


def _evaluate_any(t: _Timeline, steps: list[Step], storage_sizes: list[int], dtype_bytes: int, batch: int,
                  device: str, amp: int | None) -> None:
    if amp is None:
        _evaluate(t, steps, storage_sizes, dtype_bytes, batch, device)
    else:
        from .amp import evaluate

        evaluate(t, steps, storage_sizes, batch, device, amp)


def _evaluate(t: _Timeline, steps: list[Step], storage_sizes: list[int], dtype_bytes: int, batch: int,
              device: str) -> None:
    """One forward pass in evaluation mode under no_grad, on a timeline that holds the network."""
    steps = [s for s in steps if not s.side]  # side heads run in training only
    alias = view_bases(steps)  # views, and in evaluation mode a dropout's output: its input's storage
    readers = _readers(steps, alias)
    first = steps[0]
    t.alloc(first.sid_out, storage_sizes[first.sid_out] * dtype_bytes * batch, "other")
    t.sample("forward", 0)
    for index, s in enumerate(steps[1:], start=1):
        reads = [aliased(alias, sid) for sid in _read(s)]
        if s.item.identity_in_eval:
            alias[s.sid_out] = reads[0]
            readers[reads[0]] += readers.pop(s.sid_out, 0) - 1
            continue
        t.alloc(aliased(alias, s.sid_out), storage_sizes[s.sid_out] * dtype_bytes * batch, "other")
        temp = (s.item.transient(s, False, dtype_bytes, device, batch)
                + (s.x.size * dtype_bytes * batch if s.copy is not None else 0))  # an FC's flattened copy
        if temp:
            t.alloc("temp", temp, "other")
        t.sample("forward", index)
        t.free("temp")
        for sid in reads:
            readers[sid] -= 1
            if readers[sid] <= 0 and sid != first.sid_out:
                t.free(sid)


MODEL = ("params", "buffers", "optimizer")  # what lives from one step to the next


FORWARD, OPTIMIZER = ("#forward", None, ""), ("#optimizer", None, "")  # markers in a recorded log


def cuda_reserved(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """The bytes the CUDA caching allocator has reserved after two training steps (or two inference
    passes) from a fresh process: the simulated step's allocations, recorded once and replayed."""
    log: list = []
    if mode == "inference":
        inference(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=CUDA_BLOCK, device="cuda",
                  amp=setup.amp, log=log)
    else:
        peak_of(steps, storage_sizes, setup._replace(device="cuda"), batch, log=log)
    return replay(log)


def replay(log: list) -> int:
    """A recorded step replayed through the model of the CUDA caching allocator (metrics/allocator.py):
    the network moved to the device, a first step whose optimizer state appears at its optimizer step,
    then a step in the steady state; the bytes reserved then."""
    start = log.index(FORWARD)
    before, step = log[:start], log[start + 1:]
    allocator = CachingAllocator()
    for key, size, category in before:  # the network
        if category in ("params", "buffers"):
            allocator.malloc(key, size)
    state = [entry for entry in before if entry[2] == "optimizer"]
    for first in (True, False):
        if not first:
            for key, size, _ in before:  # the steady state: what lives from step to step
                if size is not None and key not in allocator.used:
                    allocator.malloc(key, size)
        for key, size, _ in step:
            if key == OPTIMIZER[0]:
                if first:  # the optimizer's state appears at its first step
                    for k, n, _ in state:
                        allocator.malloc(k, n)
            elif size is None:
                allocator.free(key)
            elif key not in allocator.used:
                allocator.malloc(key, size)
        kept = {key for key, _, category in before if category in MODEL}
        for key in [k for k in allocator.used if k not in kept]:  # the loop drops the batch, zero_grad the grads
            allocator.free(key)
    return allocator.reserved


def _model(t: _Timeline, steps: list[Step], dtype_bytes: int) -> None:
    """The network itself: its parameter tensors, and its buffers (BN's running statistics and
    num_batches_tracked)."""
    for i, n in enumerate(n for s in steps for n in (s.weights, s.biases) if n):
        t.alloc(("param", i), n * dtype_bytes, "params")
    counters = sum(1 for s in steps if s.item.counts_batches)
    buffers = sum(s.buffers for s in steps) * dtype_bytes + counters * BATCHES_TRACKED_BYTES
    if buffers:
        t.alloc("buffers", buffers, "buffers")


def aliased(alias: dict[int, int], sid: int) -> int:
    """The storage a storage stands for in evaluation mode, through views and identities (a split's half
    of a drop-path's output is its input's)."""
    while sid in alias:
        sid = alias[sid]
    return sid


def view_bases(steps: list[Step]) -> dict[int, int]:
    """The storages that are views of part of another, with no bytes of their own -> the storage they
    are views of: a crop's output (the kind's `subview`), a channel split's halves (Step.splits). Whoever reads or
    keeps one reads or keeps that storage."""
    base: dict[int, int] = {}
    for s in steps:
        if s.item.subview:
            base[s.sid_out] = base.get(s.sids_in[0], s.sids_in[0])
        for half in s.splits:
            base[half] = base.get(s.holds, s.holds)
    return base


def requires_grad(steps: list[Step], base: dict[int, int]) -> dict[int, bool]:
    """Storage -> whether it requires grad: a layer's output does when its input does or it has
    trainable parameters; a merge's when any arm's does; a view's when what it views does; the batch
    does not."""
    req = {steps[0].sid_out: False}
    for s in steps[1:]:
        if s.holds is not None:  # a merge: its step's `grad` is its output's
            req[s.sid_out] = s.grad
        else:
            read = base.get(s.sids_in[0], s.sids_in[0])
            req[s.sid_out] = req.get(read, False) or bool(s.trainable and (s.weights or s.biases))
    for view, seen in base.items():
        req.setdefault(view, req.get(seen, False))
    return req


def _read(s: Step) -> tuple[int, ...]:
    """The storages a row holds until it has run: its inputs, and a merge also its branch's input."""
    return s.sids_in if s.holds is None else (*s.sids_in, s.holds)


def _readers(steps: list[Step], base: dict[int, int]) -> dict[int, int]:
    """Storage -> the rows that read it (a view's readers read what it views)."""
    readers: dict[int, int] = {}
    for s in steps[1:]:
        for sid in _read(s):
            sid = base.get(sid, sid)
            readers[sid] = readers.get(sid, 0) + 1
    return readers


def simulate(steps: list[Step], storage_sizes: list[int], *, dtype_bytes: int, batch: int, optimizer: str,
             foreach: bool = False, block: int = 1, device: str = "cuda", events: list | None = None,
             accumulate: int = 1, amp: int | None = None, fake: bool = False, log: list | None = None,
             timeline: _Timeline | None = None) -> Peak:
    """The peak of one training step (see the module's docstring); `block`: allocation granularity;
    `log`, a list, receives every allocation and free (for the CUDA allocator's model), with markers
    where the forward pass and the optimizer step start;
    `events`, a list, receives (phase, row, live bytes) after every operation. With `accumulate` > 1
    the gradients of that many micro-batches of `batch` are summed before the optimizer's step: the
    last micro-batch starts with every parameter's gradient alive, and its backward adds each new
    gradient into it in place. `amp`: the bytes of autocast's dtype (metrics/amp.py; the parameters
    are then float32); `fake`: FakeTensorMode's rules where they differ (amp only); `timeline`: the one
    to run on (metrics/traced.py records it)."""
    run = _step(steps, storage_sizes, dtype_bytes, batch, block, device, events, amp, timeline, fake=fake)
    run.t.log = log
    run.accumulating = accumulate > 1
    run.steady_state(optimizer)
    if log is not None:
        log.append(FORWARD)
    run.forward()
    run.loss()
    run.backward()
    run.optimizer_step(optimizer, foreach)
    return run.t.peak


def _step(steps, storage_sizes, dtype_bytes: int, batch: int, block: int, device: str, events, amp: int | None,
          timeline: _Timeline | None = None, fake: bool = False) -> _TrainingStep:
    """The step's timeline: float32 or pure low precision, or autocast's when `amp` is set."""
    if amp is None:
        return _TrainingStep(steps, storage_sizes, dtype_bytes, batch, block, device, events, timeline)
    from .amp import AmpStep

    return AmpStep(steps, storage_sizes, batch, block, device, events, amp, timeline, fake)


def _main_key(name: str) -> str:
    """The keys of the network's own output's loss tensors ("log_softmax", …)."""
    return name


def _side_key(k: int):
    """The keys of side head k's loss tensors (("log_softmax", k), …)."""
    return lambda name: (name, k)


class _TrainingStep:
    """The timeline of one training step, phase by phase."""

    def __init__(self, steps: list[Step], storage_sizes: list[int], dtype_bytes: int, batch: int, block: int,
                 device: str, events: list | None, timeline: _Timeline | None = None) -> None:
        self.steps, self.sizes, self.dtype_bytes = steps, storage_sizes, dtype_bytes
        self.batch, self.device = batch, device
        self.per = dtype_bytes * batch  # bytes of one value per image, for the batch
        self.t = _Timeline(block, {}) if timeline is None else timeline
        self.kept: dict[int, int] = self.t.kept  # storage -> how many layers keep it for backward
        self.t.events = events
        self.tensors = [n for s in steps for n in (s.weights, s.biases) if n]  # parameter tensors, in order
        trainable = [s.trainable for s in steps for n in (s.weights, s.biases) if n]
        self.trained = [n for n, yes in zip(self.tensors, trainable) if yes]  # the optimizer's parameters
        self.trained_at = [i for i, yes in enumerate(trainable) if yes]  # their places among all
        self.base = view_bases(steps)
        self.readers = _readers(steps, self.base)  # storage -> rows still to read it
        # the side heads' outputs (Step.side), which the loss reads after the network's own (the last step
        # outside them: a design may end with a side head)
        self.sides = [s for s in steps if s.item.side]
        self.main = next(s for s in reversed(steps) if not s.side)
        # held: the batch until the step ends; the network's output and the side heads' until the loss has read them
        # (a side head at the end may read the network's output: its last reader is then the loss, not the head)
        self.held = {steps[0].sid_out, self.base.get(self.main.sid_out, self.main.sid_out),
                     *(s.sid_out for s in self.sides)}
        self.refs: dict[object, int] = {}  # gradient tensors, by key: how many storages' gradients they are
        self.accumulating = False  # gradients of earlier micro-batches are alive (gradient accumulation)
        self.grads: dict[int, object] = {}  # storage -> the key of its gradient so far
        self.req = requires_grad(steps, self.base)  # storage -> whether it requires grad
        self.segments = self._segments()  # checkpointed segment -> its rows, input and saving rows
        self.remap: dict[int, dict] = {}  # segment -> storage -> the key of its recomputed tensor

    def _segments(self) -> dict:
        segments: dict = {}
        for index, s in enumerate(self.steps):
            if s.ckpt is not None:
                segments.setdefault(s.ckpt, {"rows": []})["rows"].append(index)
        for seg in segments.values():
            rows = seg["rows"]
            first = self.steps[rows[0]].sids_in[0]
            seg["input"] = self.base.get(first, first)  # a split's half: the input it views
            seg["packs"] = [i for i in rows if self.packs(self.steps[i])]
        return segments

    def packs(self, s: Step) -> bool:
        """The row's backward node holds saved tensors (parameters included): unpacking them is what
        starts a checkpointed segment's recomputation."""
        return records(s) and (s.saves != NOTHING or s.item.packs_params)

    def recompute(self, seg: dict) -> None:
        """The segment's forward again, in training mode, from its held input, up to the last saved
        tensor (early stop): each row's output and what it saves, a sample after each operation;
        the tensors nothing saves are freed as their readers run, and the rest when it stops."""
        t, per = self.t, self.per
        last = seg["packs"][-1]
        rows = [i for i in seg["rows"] if i <= last]
        keys = {seg["input"]: seg["input"]}
        readers: dict = {}
        for i in rows:
            for sid in _read(self.steps[i]):
                readers[sid] = readers.get(sid, 0) + 1
        made = []
        s = self.steps[rows[0]]
        for i in rows:
            s = self.steps[i]
            _, saves_out, per_image, per_batch = s.saves
            recording = records(s)
            before = i == last and not s.item.packs_after_op(s)  # stopped before the operation ran
            if not before and s.sid_out not in keys:
                keys[s.sid_out] = ("re", s.ckpt, s.sid_out)
                t.alloc(keys[s.sid_out], self.sizes[s.sid_out] * per, "activation")
                made.append(keys[s.sid_out])
            if recording and (per_image or per_batch):
                t.alloc(("extra", i), per_image * self.batch + per_batch, "saved")
            elif not recording and (temp := self.transient(s)):
                t.alloc("temp", temp, "other")
            t.sample("recompute", i)
            t.free("temp")
            if recording:
                for sid in self.kept_in(s):
                    t.keep(keys[sid], +1)
                if saves_out and not before:
                    t.keep(keys[s.sid_out], +1)
            if before:
                break
            for sid in _read(s):
                readers[sid] -= 1
                key = keys.get(sid)
                if readers[sid] <= 0 and key is not None and key != seg["input"] and self.kept.get(key, 0) <= 0:
                    t.free(key)
        for key in made:  # stopped: what nothing saved goes
            if self.kept.get(key, 0) <= 0:
                t.free(key)
        self.remap[s.ckpt] = keys

    def transient(self, s: Step) -> int:
        """What a row that records nothing allocates beside its output, freed at once (a frozen BN
        before any trainable layer: native_batch_norm's saved mean and inverse std, 2C float32)."""
        return s.item.transient(s, True, self.dtype_bytes, self.device, self.batch)

    def input_storage(self, s: Step) -> int:
        """The storage of the row's (first) input; of a view, what it views."""
        sid = s.sids_in[0]
        return self.base.get(sid, sid)

    def kept_in(self, s: Step) -> tuple[int, ...]:
        """The input storages the row keeps for its backward (saved.kept_inputs); keeping a view keeps
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
        for sid in _read(s):
            sid = base.get(sid, sid)
            self.readers[sid] -= 1
            self.release(sid)

    def release(self, sid: int) -> None:
        """Free a storage nothing reads, keeps or holds any more."""
        if self.readers.get(sid, 0) <= 0 and self.kept.get(sid, 0) <= 0 and sid not in self.held:
            self.t.free(sid)

    def steady_state(self, optimizer: str, model: bool = True) -> None:
        """The network (parameters, buffers; unless `model` is false: the timeline has it) and the
        optimizer's state."""
        t, size = self.t, self.dtype_bytes
        if model:
            _model(t, self.steps, size)
        if self.accumulating:  # the earlier micro-batches' gradients
            for i in self.trained_at:
                t.alloc(("grad_p", i), self.tensors[i] * size, "gradients")
        self.optimizer_state(optimizer)

    def optimizer_state(self, optimizer: str) -> None:
        """The optimizer's state: one tensor per trainable parameter per moment (and Adam's step, on
        the CPU)."""
        t, size = self.t, self.dtype_bytes
        for i, n in enumerate(self.trained):
            for c in range(OPTIMIZER_STATE[optimizer]):
                t.alloc(("state", c, i), n * size, "optimizer")
            if optimizer == "adam" and self.device == "cpu":  # on CUDA the steps stay on the CPU
                t.alloc(("step", i), STEP_BYTES, "optimizer")

    def forward(self) -> None:
        """The batch and its targets, then every row: its output and what it keeps; inputs freed after."""
        t, steps, per = self.t, self.steps, self.per
        first, out = steps[0], self.main.y
        t.alloc(first.sid_out, self.sizes[first.sid_out] * per, "activation")
        t.alloc("targets", self.batch * out.h * out.w * TARGET_BYTES, "other")
        for k, side in enumerate(self.sides):  # a side head's targets, made with the network's
            t.alloc(("targets", k), self.batch * side.y.h * side.y.w * TARGET_BYTES, "other")
        t.sample("forward", 0)
        for index, s in enumerate(steps[1:], start=1):
            _, saves_out, per_image, per_batch = s.saves
            kept = self.kept_in(s)
            seg = self.segments.get(s.ckpt)
            if seg is not None and index == seg["rows"][0]:
                t.keep(seg["input"], +1)  # the checkpoint's frame holds its input
            if s.copy is not None:  # the flattened copy of its input, first
                t.alloc(s.copy, s.x.size * per, "activation")
            t.alloc(s.sid_out, self.sizes[s.sid_out] * per, "activation")
            if seg is not None and records(s):
                # checkpointed: its saved tensors are packed as empty holders; what it would save beside its
                # input and output is made and freed at once
                temp = s.item.checkpointed(s, self.dtype_bytes, self.device, self.batch)
                if temp:
                    t.alloc("temp", temp, "other")
                kept, saves_out = (), False
            elif per_image or per_batch:
                t.alloc(("extra", index), per_image * self.batch + per_batch, "saved")
            elif not records(s) and (temp := self.transient(s)):
                t.alloc("temp", temp, "other")  # made by the operation, kept by nothing: freed at once
            t.sample("forward", index)
            t.free("temp")
            for sid in (*kept, *((s.sid_out,) if saves_out else ())):
                t.keep(sid, +1)
            if s.copy is not None:
                self.release(s.copy)
            self.finish_reads(s)
            if seg is not None and index == seg["rows"][-1] and not seg["packs"]:
                # the frame lives through the segment's forward; with nothing saved it goes then
                t.keep(seg["input"], -1)
                self.release(seg["input"])

    def loss(self) -> None:
        """Log-softmax over the channels (kept for its backward), then the loss and its total weight; with
        side heads the same for each, in order, then the sum of the losses, after which the outputs and the
        separate losses go."""
        t, last = self.t, self.main
        self.logits = last.y.size * self.per
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

    def graded(self, s: Step) -> bool:
        """Does the output of this step (the network's, or a side head's) require grad? With side heads
        one of them may not, and its loss then has no backward."""
        return self.req.get(self.base.get(s.sid_out, s.sid_out), False)

    def unref(self, key) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.t.free(key)

    def grad_bytes(self, sid: int) -> int:
        """The bytes of the gradient of a storage, for the batch."""
        return self.sizes[sid] * self.per

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

    def output_gradient(self):
        """The key of the network output's gradient, once the loss's backward has made it."""
        return "grad_logits"

    @property
    def gradient(self) -> str:
        """The key of a parameter's gradient made by a backward: its own, or a new one to add to it."""
        return "grad_new" if self.accumulating else "grad_p"

    def row_backward(self, index: int, s: Step, param_i: int) -> None:
        """A row's backward: its kind's operations (or its own backward, run on this simulation), then its
        output's gradient and what it kept are freed and its input's gradient delivered; a view or a merge
        hands its gradient on."""
        t, ops = self.t, s.item.backward
        if callable(ops):
            return ops(self, index, s)
        if ops is None:
            if s.sids_in != (s.sid_out,):
                key = self.grads.pop(s.sid_out)
                for sid in s.sids_in:
                    self.deliver(sid, key, index)
                self.unref(key)
            return
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
                    t.alloc(new, s.x.size * self.per, "other")
                elif what == "weight" and s.weights and s.trainable:
                    t.alloc((self.gradient, param_i), s.weights * self.dtype_bytes, "gradients")
                elif what == "bias" and s.biases and s.trainable:
                    t.alloc((self.gradient, param_i + 1), s.biases * self.dtype_bytes, "gradients")
                elif isinstance(what, tuple):
                    t.alloc(("temp", index), what[1] * s.x.size * self.per, "other")
            t.sample("backward", index)
            t.free(("temp", index))
        if self.accumulating:  # the new gradients were added into the parameters' own
            for i in range(param_i, param_i + 2):
                t.free(("grad_new", i))
        self.unref(key)
        if not dropped:
            self.drop_saved(index, s)
        seg = self.segments.get(s.ckpt)
        if seg is not None and seg["packs"] and index == seg["packs"][0]:
            # the checkpoint's frame (and the input it holds) goes with the last node holding its tensors,
            # at release_variables: before the input's gradient is delivered
            t.keep(seg["input"], -1)
            self.release(seg["input"])
        if new is not None:
            self.refs[new] = 0
            self.deliver(s.sids_in[0], new, index)
            if self.refs[new] == 0:
                t.free(new)
        if s.relaid and s.weights and s.trainable and not self.accumulating:
            # AccumulateGrad, next: the weight's gradient copied into the parameter's layout, then the first goes
            t.alloc(("grad_relaid", param_i), s.weights * self.dtype_bytes, "gradients")
            t.sample("backward", index)
            t.free((self.gradient, param_i))

    def value_bytes(self, sid: int) -> int:
        """The bytes of one value of a storage (autocast gives storages their own dtypes)."""
        return self.dtype_bytes

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
        t, new = self.t, ("grad_split", index)
        t.alloc(new, self.grad_bytes(merge.holds), "other")
        t.sample("backward", index)
        for key in keys:
            self.unref(key)
        self.refs[new] = 0
        self.deliver(merge.holds, new, index)
        if self.refs[new] == 0:
            t.free(new)

    def optimizer_step(self, optimizer: str, foreach: bool) -> None:
        """In place, but for Adam's denominators: all at once (foreach), or one parameter at a time while
        the last one's lives (the for-loop)."""
        if self.t.log is not None:
            self.t.log.append(OPTIMIZER)
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

"""The rows as the simulations see them (`Step`, one a row, recorded by the planner's walk), how a run
is set up (`Setup`), and what follows from the rows for every run: which storages are views of
another, which require grad, who reads each, and the network's own tensors."""

from __future__ import annotations

from typing import NamedTuple

from ..kinds import UNSUPPORTED, Branch, Volume
from ..kinds.base import CAST, FLOAT32
from ..settings import AMP_DTYPES
from .timeline import BATCHES_TRACKED_BYTES, CUDA_BLOCK, Timeline


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
    relaid: bool = False  # its weight's gradient is made in another layout and copied (the kind's relaid_weight)
    copy: int | None = None  # FC flattening a channels-last or cropped volume: the storage of the copy it makes
    splits: tuple[int, ...] = ()  # a channel split's merge: the storages (views, no bytes) its arms read
    side: bool = False  # in a side head (or its output row): it runs in training only
    keeps: tuple[int, ...] = ()  # the inputs of the block calls that end here: a module's input lives until it
    # returns (its caller's frame holds it), in torchvision's models as in cnncalc's export
    no_grad: tuple[int, ...] = ()  # inputs its backward sends nothing, though their storage requires grad now (a
    # sum in place into a frozen arm's output: the storage is the sum's)


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


def records(s: Step) -> bool:
    """Autograd records the row: its input requires grad or it owns trainable parameters."""
    return s.grad or bool(s.trainable and (s.weights or s.biases))


def supported(steps: list[Step], amp: int | None = None) -> bool:
    """Does the simulation know every row? (A kind's rule UNSUPPORTED, or under --amp its autocast rule.)"""
    return unsupported(steps, amp) is None


def unsupported(steps: list[Step], amp: int | None = None) -> tuple[int, str] | None:
    """The first row the simulation does not know, and why (None: it knows every row)."""
    halves = _halves(steps) if amp is not None else set()
    for index, s in enumerate(steps):
        why = _unknown(s, amp, halves)
        if why:
            return index, why
    return None


def _halves(steps: list[Step]) -> set[int]:
    """The storages that are a channel split's half, or a view of one."""
    halves = {half for s in steps for half in s.splits}
    for s in steps:
        if s.item.subview and s.sids_in[0] in halves:
            halves.add(s.sid_out)
    return halves


def _unknown(s: Step, amp: int | None, halves: set[int]) -> str:
    if s.item.backward is UNSUPPORTED or s.item.transient is UNSUPPORTED or s.saves is UNSUPPORTED or s.weights is None:
        return "its kind's memory rules are not known"
    if amp is not None and s.item.autocast is UNSUPPORTED:
        return "its kind under autocast (--amp) is not measured yet"
    if amp is not None and s.item.autocast == FLOAT32 and s.sids_in[0] in halves:
        # measured: at batch 1 PyTorch holds 48 bytes more than this simulation (INPUT 8x8x4 -> CONV3-4 ->
        # (ID || LRN(3)) -> CONV3-4, bfloat16); equal at batch 2 and 3
        return "a float32 operation of autocast (--amp) on a channel split's half is not modelled yet"
    return (_unknown_checkpointed(s, amp) if s.ckpt is not None else "") or (
        _unknown_copy(s) if s.copy is not None and amp is not None else "")


def _unknown_checkpointed(s: Step, amp: int | None) -> str:
    """What the simulation does not know of a row in a checkpointed segment."""
    flattens = s.copy is not None and (s.item.flat_copy is not None or s.item.orders_input)
    if s.item.subview or flattens or s.side:
        return ("a checkpointed segment recomputing a view, a flattening copy or a side head is not modelled yet "
                "(checkpoint the segments around it)")
    if s.copy is not None or (isinstance(s.item, Branch) and s.item.dense):  # a dense block's first unit copies
        return ("a checkpointed dense unit (concat.dense) is not modelled yet (checkpoint the segments around it, "
                "or plan one concatenation a unit: -D concat.dense=false)")
    if amp is not None and s.item.autocast == FLOAT32:
        return "a float32 operation of autocast (--amp) in a checkpointed segment is not modelled yet " \
               "(checkpoint the segments around it)"
    return ""


def _unknown_copy(s: Step) -> str:
    """What the simulation does not know of a row that copies its input first (a flattening, or a dense block's
    first unit: cat of one tensor), under autocast."""
    if s.item.flat_copy is not None or s.item.orders_input:
        return "flattening a channels-last or cropped volume under autocast (--amp) is not modelled yet"
    if s.item.autocast in (CAST, FLOAT32):
        return ("a dense block's first unit starting with a convolution, an FC or LRN under autocast (--amp) is not "
                "modelled yet (start its arm with a BN)")
    return ""


def model(t: Timeline, steps: list[Step], dtype_bytes: int) -> None:
    """The network itself: its parameter tensors, and its buffers (BN's running statistics and
    num_batches_tracked)."""
    sizes = [n * dtype_bytes for s in steps for n in (s.weights, s.biases) if n]
    t.alloc_all([("param", i) for i in range(len(sizes))], sizes, "params")
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
    are views of: a crop's output (the kind's `subview`), a channel split's halves (Step.splits).
    Whoever reads or keeps one reads or keeps that storage."""
    base: dict[int, int] = {}
    for s in steps:
        if s.item.subview:
            base[s.sid_out] = base.get(s.sids_in[0], s.sids_in[0])
        for half in s.splits:
            base[half] = base.get(s.holds, s.holds)
    # a channel split nested in a channel split's arm is written (its merge's row) before the outer one:
    # its halves view a half, which views the storage that has the bytes
    return {view: aliased(base, seen) for view, seen in base.items()}


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


def reads(s: Step) -> tuple[int, ...]:
    """The storages a row holds until it has run: its inputs, a merge also its branch's input, and the last
    row of a block call the call's input."""
    held = s.sids_in if s.holds is None else (*s.sids_in, s.holds)
    return (*held, *s.keeps) if s.keeps else held


def readers(steps: list[Step], base: dict[int, int]) -> dict[int, int]:
    """Storage -> the rows that read it (a view's readers read what it views)."""
    count: dict[int, int] = {}
    for s in steps[1:]:
        for sid in reads(s):
            sid = base.get(sid, sid)
            count[sid] = count.get(sid, 0) + 1
    return count

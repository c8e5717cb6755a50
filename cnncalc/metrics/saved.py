"""What autograd saves for the backward pass, in training mode, per layer.

Measured on torch 2.13 with `torch.autograd.graph.saved_tensors_hooks` over the
network that `cnncalc export --to pytorch` writes, counting each storage once
and leaving out parameters and buffers:

    conv, depthwise, transposed   the input
    locally connected             the unfolded input: C_in*k_h*k_w*H_out*W_out values
    FC                            the input (flattened: a view of the same storage)
    max pool                      the input + int64 indices, one per output value
    average pool                  the input
    GAP                           nothing (the backward needs only the size); GMP: input + C int64 indices
    BN                            the input + per-channel mean and inverse std (2C float32, not per image)
    RELU LEAKYRELU ELU            the output, which in place is the input's storage
    SIGMOID TANH SOFTMAX          the output (never in place in PyTorch)
    RELU6 SILU HARDSWISH          the input; in place, a private copy of it (a new volume)
    HARDSIGMOID
    GELU                          the input (never in place in PyTorch)
    DROPOUT                       a 1-byte mask per value on CUDA (its fused kernel); on the CPU, a noise
                                  tensor of the input's dtype (`device="cpu"`)
    DROPPATH                      its noise: one value of the input's dtype per image
    LRN                           the input, the padded square ((C + size - 1)*H*W values) and two more volumes
    UPSAMPLE, FLATTEN, ID, concat, add   nothing
    mul (A .* B)                  each factor whose partner requires grad (mul's backward multiplies the
                                  gradient by the other factor)

A tensor saved by several layers (a ReLU's output that the next convolution also
saves) is counted once, by the first layer that saves it: `Storages` keeps that
bookkeeping over the walk.
"""

from __future__ import annotations

from typing import NamedTuple

from ..layers import Layer, Volume
from . import UNSUPPORTED

SAVES_OUTPUT = ("RELU", "SIGMOID", "TANH", "SOFTMAX")  # out of place, these save their result
COPIES_WHEN_INPLACE = ("RELU6", "SILU", "HARDSWISH", "HARDSIGMOID")  # in place, these keep a copy of their input
CAN_BE_INPLACE = ("RELU", "RELU6", "LEAKYRELU", "ELU", "SILU", "HARDSWISH", "HARDSIGMOID")  # torch's inplace=
INDEX_BYTES = 8  # int64 indices of max pooling
STAT_BYTES = 4  # BN's saved mean and inverse std are float32
MASK_BYTES = 1  # dropout's mask on CUDA

Saved = tuple[bool, bool, int, int]  # saves its input, saves its output, extra bytes per image, per batch


# may hand on their input's storage (a view; dropout and drop-path in evaluation mode)
TRANSPARENT = ("flatten", "id", "dropout", "droppath")
# their output is a view in the exported network (FLATTEN, FC's N x C x 1 x 1, a crop's slices, the channel
# shuffle's final view of its copy): an in-place layer on a view makes autograd copy the whole base in the
# backward pass, so nothing runs in place on one
VIEW_OUTPUTS = ("flatten", "fc", "crop", "shuffle")


def kept_inputs(kind: str, saves: Saved, sids_in: tuple[int, ...], requires) -> tuple[int, ...]:
    """The input storages a row keeps for backward: its input when it saves it; a product each factor
    whose partner requires grad (`requires`: storage -> whether it requires grad)."""
    if not saves[0]:
        return ()
    if kind == "mul":
        a, b = sids_in
        return tuple(sid for sid, other in ((a, b), (b, a)) if requires(other))
    return sids_in[:1]


def runs_inplace(layer: Layer, protected: bool) -> bool:
    """Does the layer overwrite its input in PyTorch? Not when that input is `protected` (see protects)."""
    return layer.kind == "act" and layer.inplace and layer.word in CAN_BE_INPLACE and not protected


def shares_storage(layer: Layer, protected: bool) -> bool:
    """Is the output the input's storage (in place, or a view)?"""
    return layer.kind in ("flatten", "id") or runs_inplace(layer, protected)


NOTHING: Saved = (False, False, 0, 0)


class Flow(NamedTuple):
    """What the walk knows of the tensor between two layers.

    protected: no layer may overwrite it in place. A chain's input is protected (the network's is the
        caller's tensor, a branch's is read by the other arms), and so is an output its layer saves for
        the backward pass whenever it records one (RELU -> RELU: the second may not write what the first
        saved; decided as if the input required grad, so the exported network is safe either way), or a
        view of one.
    grad: it requires a gradient: a layer with parameters comes before it. Until then autograd records
        nothing: layers save nothing and run no backward (the input does not require grad).
    channels_last: it is laid out channels last: LAYERNORM's output (a permuted view), and what the
        layers after it make from it (see layout_after)."""

    protected: bool
    grad: bool
    channels_last: bool = False


START = Flow(protected=True, grad=False)
# the kinds whose output takes its input's memory layout (PyTorch's convolutions, pooling, norms and
# element-wise operations follow a channels-last input); LAYERNORM makes it; the others make contiguous ones
KEEPS_LAYOUT = ("conv", "dwconv", "deconv", "pool", "adaptive", "bn", "groupnorm", "act", "dropout", "droppath",
                "scale", "id", "upsample")


def layout_after(kind: str, channels_last: bool) -> bool:
    return kind == "layernorm" or (channels_last and kind in KEEPS_LAYOUT)


def merged_layout(kind: str, outs: list[Volume], y: Volume, layouts: list[bool]) -> bool:
    """A merge's layout: a concatenation is channels last when every arm is; a sum or a product takes
    its first full-size arm's (the operand PyTorch's element-wise kernels lay their output out by)."""
    if kind in ("concat", "split"):
        return all(layouts)
    return next(cl for out, cl in zip(outs, layouts) if out == y)


def relaid_weight(layer: Layer, x: Volume, y: Volume, channels_last: bool) -> bool:
    """Does the layer's weight gradient come out in another layout than its parameter's, so that
    autograd's AccumulateGrad copies it (both alive at once)? A convolution on a channels-last input
    makes a channels-last weight gradient; that differs from the parameter's layout when the weight's
    input channels (per group) and its window are both larger than 1 (measured with MemTracker)."""
    if not channels_last or layer.kind not in ("conv", "deconv") or layer.kernel == (1, 1):
        return False
    per_group = (x.c if layer.kind == "conv" else y.c) // layer.groups
    return per_group > 1


def apply(layer: Layer, x: Volume, y: Volume, flow: Flow, has_params: bool, dtype_bytes: int,
          device: str = "cuda") -> tuple[Saved | object, Flow]:
    """What the layer keeps for backward (UNSUPPORTED where not known), and the flow after it.
    A layer whose saved tensors are not known protects its output."""
    rule = SAVED[layer.kind]
    grad = flow.grad or has_params
    layout = layout_after(layer.kind, flow.channels_last)
    if rule is UNSUPPORTED:
        return UNSUPPORTED, Flow(True, grad, layout)
    recorded = rule(layer, x, y, flow.protected, dtype_bytes, device)
    protected = (flow.protected and layer.kind in TRANSPARENT) or recorded[1] or layer.kind in VIEW_OUTPUTS
    return recorded if grad else NOTHING, Flow(protected, grad, layout)


def _input(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return True, False, 0, 0


def _nothing(item, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return False, False, 0, 0


def _local(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    # the unfolded input (C*k*k values per output position), in a buffer at least as large as the input:
    # measured, a stride larger than the kernel (fewer columns than input values) still keeps the input's size
    cols = x.c * layer.kernel[0] * layer.kernel[1] * y.h * y.w
    return False, False, max(cols, x.h * x.w * x.c) * size, 0


def _pool(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return True, False, (y.h * y.w * y.c * INDEX_BYTES if layer.type == "max" else 0), 0


def _adaptive(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    if layer.type == "max":
        return True, False, y.h * y.w * y.c * INDEX_BYTES, 0
    return (False, False, 0, 0) if (y.h, y.w) == (1, 1) else (True, False, 0, 0)


def _gap(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return (True, False, y.c * INDEX_BYTES, 0) if layer.type == "max" else (False, False, 0, 0)


def _bn(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return True, False, 0, 2 * x.c * STAT_BYTES


def _layernorm(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return True, False, 2 * x.h * x.w * STAT_BYTES, 0  # its input + a float32 mean and inverse std per position


def _groupnorm(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return True, False, 2 * layer.groups * STAT_BYTES, 0  # its input + a float32 mean and inverse std per group


def _act(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    inplace = runs_inplace(layer, protected)
    if inplace and layer.word in COPIES_WHEN_INPLACE:
        return False, False, x.h * x.w * x.c * size, 0
    if inplace or layer.word in SAVES_OUTPUT:
        return False, True, 0, 0
    return True, False, 0, 0


def _dropout(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    return False, False, y.h * y.w * y.c * (MASK_BYTES if device == "cuda" else size), 0


def _noise_per_image(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    # input * noise keeps the noise, one value of the input's dtype per image (the input needs no keeping:
    # the noise does not require grad)
    return False, False, size, 0


def _lrn(layer, x: Volume, y: Volume, protected: bool, size: int, device: str) -> Saved:
    padded = (x.c + layer.size - 1) * x.h * x.w
    return True, False, (padded + 2 * x.h * x.w * x.c) * size, 0


# one arm per row kind: (layer, input, output, input protected, dtype bytes, device) -> Saved
SAVED = {
    "input": _nothing,
    "conv": _input,
    "pool": _pool,
    "adaptive": _adaptive,
    "fc": _input,
    "dwconv": _input,
    "deconv": _input,
    "local": _local,
    "dropout": _dropout,
    "droppath": _noise_per_image,
    "upsample": _nothing,
    "lrn": _lrn,
    "crop": _nothing,  # a view
    "shuffle": _nothing,
    "gap": _gap,
    "flatten": _nothing,
    "bn": _bn,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "scale": _input,  # gain * x keeps x for the gain's gradient (and the gain)
    "act": _act,
    "id": _nothing,
    "concat": _nothing,
    "add": _nothing,
    "mul": _input,  # both factors, each as far as the other requires grad: kept_inputs
    "split": _nothing,
    "output": _nothing,
}


def saved(layer: Layer, x: Volume, y: Volume, protected: bool, dtype_bytes: int, device: str = "cuda") -> Saved:
    """(saves its input, saves its output, extra bytes per image, extra bytes per batch); `protected`:
    the input may not be overwritten in place (see protects)."""
    return SAVED[layer.kind](layer, x, y, protected, dtype_bytes, device)


class Storages:
    """The tensors of one forward pass, for counting each saved storage once: `new` registers an
    output volume, `charge` adds what a layer saves and returns its bytes for the batch."""

    __slots__ = ("sizes", "saved", "dtype_bytes", "batch", "device", "base", "strided")

    def __init__(self, dtype_bytes: int, batch: int, device: str) -> None:
        self.sizes: list[int] = []  # values per image of each storage, by id
        self.base: dict[int, int] = {}  # a view of part of a storage (a crop's) -> that storage
        self.strided: set[int] = set()  # views whose values are not laid out in order (a crop's)
        self.saved: set[int] = set()  # ids already saved by some layer
        self.dtype_bytes, self.batch, self.device = dtype_bytes, batch, device

    def new(self, y: Volume) -> int:
        self.sizes.append(y.h * y.w * y.c)
        return len(self.sizes) - 1

    def output(self, layer: Layer, y: Volume, protected: bool, sid_in: int) -> int:
        """The storage of a layer's output: its input's, in place or as a view; else a new one. A crop, a
        view of another size, has a storage of its own that holds nothing (training.SUBVIEWS)."""
        if layer.kind == "crop":
            self.strided.add(self.view(sid_in))
            return len(self.sizes) - 1
        return sid_in if shares_storage(layer, protected) else self.new(y)

    def view(self, of: int) -> int:
        """A view of part of a storage (a crop's output, a channel split's half): a storage of its own
        that holds nothing; keeping it keeps what it views."""
        self.sizes.append(0)
        self.base[len(self.sizes) - 1] = self.base.get(of, of)
        return len(self.sizes) - 1

    def charge(self, saves: Saved, kept_in: tuple[int, ...], sid_out: int) -> int:
        """Bytes the layer adds to what autograd keeps for the backward pass, for the batch; `kept_in`:
        the input storages it keeps (kept_inputs)."""
        _, saves_out, per_image, per_batch = saves
        total = per_image * self.batch + per_batch
        for wanted, sid in (*((True, sid) for sid in kept_in), (saves_out, sid_out)):
            sid = self.base.get(sid, sid)  # keeping a view keeps what it is a view of
            if wanted and sid not in self.saved:
                self.saved.add(sid)
                total += self.sizes[sid] * self.dtype_bytes * self.batch
        return total

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
    GELU                          the input (never in place in PyTorch)
    DROPOUT                       a 1-byte mask per value on CUDA (its fused kernel); on the CPU, a noise
                                  tensor of the input's dtype (`device="cpu"`)
    LRN                           the input, the padded square ((C + size - 1)*H*W values) and two more volumes
    UPSAMPLE, FLATTEN, ID, concat, add   nothing

A tensor saved by several layers (a ReLU's output that the next convolution also
saves) is counted once, by the first layer that saves it.
"""

from __future__ import annotations

from .. import layers as L
from .shapes import Shape

SAVES_OUTPUT = ("RELU", "SIGMOID", "TANH", "SOFTMAX")  # out of place, these save their result
COPIES_WHEN_INPLACE = ("RELU6", "SILU", "HARDSWISH")  # in place, these keep a copy of their input
CAN_BE_INPLACE = ("RELU", "RELU6", "LEAKYRELU", "ELU", "SILU", "HARDSWISH")  # torch modules with inplace=
INDEX_BYTES = 8  # int64 indices of max pooling
STAT_BYTES = 4  # BN's saved mean and inverse std are float32
MASK_BYTES = 1  # dropout's mask on CUDA


def runs_inplace(layer: L._Layer, first_in_arm: bool) -> bool:
    """Does the layer overwrite its input in PyTorch? Not at the start of a branch arm,
    where the other arms still read that input."""
    return (layer.kind == "act" and layer.inplace and layer.word in CAN_BE_INPLACE and not first_in_arm)


def shares_storage(layer: L._Layer, first_in_arm: bool) -> bool:
    """Is the output the input's storage (in place, or a view)?"""
    return layer.kind in ("flatten", "id") or runs_inplace(layer, first_in_arm)


def saved(layer: L._Layer, x: Shape, y: Shape, first_in_arm: bool, dtype_bytes: int, device: str = "cuda"
          ) -> tuple[bool, bool, int, int]:
    """(saves its input, saves its output, extra bytes per image, extra bytes per batch)."""
    volume_in = x.h * x.w * x.c
    volume_out = y.h * y.w * y.c
    match layer.kind:
        case "conv" | "dwconv" | "deconv" | "fc":
            return True, False, 0, 0
        case "local":
            return False, False, x.c * layer.kernel[0] * layer.kernel[1] * y.h * y.w * dtype_bytes, 0
        case "pool":
            return True, False, (volume_out * INDEX_BYTES if layer.type == "max" else 0), 0
        case "gap":
            return (True, False, y.c * INDEX_BYTES, 0) if layer.type == "max" else (False, False, 0, 0)
        case "bn":
            return True, False, 0, 2 * x.c * STAT_BYTES
        case "act":
            inplace = runs_inplace(layer, first_in_arm)
            if inplace and layer.word in COPIES_WHEN_INPLACE:
                return False, False, volume_in * dtype_bytes, 0
            if inplace or layer.word in SAVES_OUTPUT:
                return False, True, 0, 0
            return True, False, 0, 0
        case "dropout":
            return False, False, volume_out * (MASK_BYTES if device == "cuda" else dtype_bytes), 0
        case "lrn":
            padded = (x.c + layer.size - 1) * x.h * x.w
            return True, False, (padded + 2 * volume_in) * dtype_bytes, 0
    return False, False, 0, 0  # upsample, flatten, id: nothing

"""Multiply-accumulates per image. FLOPs are reported as 2 x MACs, labelled so.

Only convolutions (of every kind) and fully connected layers count; bias adds,
pooling, normalisation, activations and merges count 0, as in torchvision's
published `_ops` figures.
"""

from __future__ import annotations

from ..layers import Layer, Volume


def _conv(layer, x: Volume, y: Volume) -> int:
    # H_out*W_out*K outputs, each a dot product of k_h*k_w*C_in/groups
    return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1] * x.c // layer.groups)


def _local(layer, x: Volume, y: Volume) -> int:
    # as a convolution: every output is a k_h*k_w*C_in dot product
    return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1] * x.c)


def _dwconv(layer, x: Volume, y: Volume) -> int:
    # every output channel is a k_h*k_w dot product over one input channel
    return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1])


def _deconv(layer, x: Volume, y: Volume) -> int:
    # each input value is scattered through a k_h*k_w*(K/groups) kernel (PyTorch's own count)
    return x.h * x.w * x.c * (layer.kernel[0] * layer.kernel[1] * layer.filters // layer.groups)


def _fc(layer, x: Volume, y: Volume) -> int:
    # in*out, the input flattened
    return x.h * x.w * x.c * layer.out


def _none(item, x: Volume, y: Volume) -> int:
    # no multiplications counted (pooling, normalisation, activations, data movement, merges)
    return 0


# one arm per row kind: (layer, input volume, output volume) -> MACs per image
MACS = {
    "input": _none,
    "conv": _conv,
    "pool": _none,
    "adaptive": _none,
    "fc": _fc,
    "dwconv": _dwconv,
    "deconv": _deconv,
    "local": _local,
    "dropout": _none,
    "droppath": _none,
    "upsample": _none,
    "lrn": _none,
    "crop": _none,
    "shuffle": _none,
    "gap": _none,
    "flatten": _none,
    "bn": _none,
    "layernorm": _none,  # normalisation counts 0
    "groupnorm": _none,
    "scale": _none,  # an element-wise product counts 0
    "act": _none,
    "id": _none,
    "concat": _none,
    "add": _none,
    "mul": _none,  # element-wise products count 0, as sums do
    "split": _none,
    "output": _none,
}


def macs(layer: Layer, x: Volume, y: Volume) -> int:
    return MACS[layer.kind](layer, x, y)

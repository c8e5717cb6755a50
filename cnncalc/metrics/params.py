"""Learnable parameters (what PyTorch's `parameters()` counts) and buffers.

Each arm returns (weights, biases, buffers, formula); the formula is the
weights' arithmetic as the CS231n notes write it: `(3*3*3)*64 = 1,728`.
"""

from __future__ import annotations

from ..layers import Layer, Volume

Params = tuple[int, int, int, str]


def _formula(expression: str, value: int) -> str:
    return f"{expression} = {value:,}"


def _conv(layer, x: Volume, y: Volume) -> Params:
    # (k_h*k_w*C_in/groups)*K weights + K biases: the notes' "F*F*D1 weights per filter".
    # A transposed convolution's C_in x K/groups x k_h x k_w weights are the same count.
    kh, kw = layer.kernel
    per_filter = f"{x.c}" if layer.groups == 1 else f"{x.c}/{layer.groups}"
    weights = kh * kw * (x.c // layer.groups) * layer.filters
    biases = layer.filters if layer.bias else 0
    return weights, biases, 0, _formula(f"({kh}*{kw}*{per_filter})*{layer.filters}", weights)


def _dwconv(layer, x: Volume, y: Volume) -> Params:
    # one k_h*k_w filter per output channel, each over a single input channel
    kh, kw = layer.kernel
    weights = kh * kw * y.c
    biases = y.c if layer.bias else 0
    return weights, biases, 0, _formula(f"({kh}*{kw}*1)*{y.c}", weights)


def _local(layer, x: Volume, y: Volume) -> Params:
    # no sharing: (k*k*C_in)*K weights and K biases at each of the H_out*W_out positions
    kh, kw = layer.kernel
    weights = kh * kw * x.c * layer.filters * y.h * y.w
    biases = layer.filters * y.h * y.w if layer.bias else 0
    return weights, biases, 0, _formula(f"({kh}*{kw}*{x.c})*{layer.filters}*{y.h}*{y.w}", weights)


def _fc(layer, x: Volume, y: Volume) -> Params:
    # in*out weights + out biases, the input flattened: the notes' 7*7*512*4096
    inputs = x.h * x.w * x.c
    weights = inputs * layer.out
    biases = layer.out if layer.bias else 0
    shape = f"{x.c}" if (x.h, x.w) == (1, 1) else f"{x.h}*{x.w}*{x.c}"
    return weights, biases, 0, _formula(f"{shape}*{layer.out}", weights)


def _bn(layer, x: Volume, y: Volume) -> Params:
    # a scale and a shift per channel (C + C); running mean and variance are buffers (2C)
    return x.c, x.c, 2 * x.c, _formula(f"2*{x.c}", 2 * x.c)


def _norm(layer, x: Volume, y: Volume) -> Params:
    # a gain and a shift per channel (C + C), no buffers: the statistics are the batch's, always
    return x.c, x.c, 0, _formula(f"2*{x.c}", 2 * x.c)


def _scale(layer, x: Volume, y: Volume) -> Params:
    return x.c, 0, 0, _formula(f"{x.c}", x.c)


def _none(item, x: Volume, y: Volume) -> Params:
    # nothing to learn
    return 0, 0, 0, ""


# one arm per row kind: (layer, input volume, output volume) -> (weights, biases, buffers, formula)
PARAMS = {
    "input": _none,
    "conv": _conv,
    "pool": _none,
    "adaptive": _none,
    "fc": _fc,
    "dwconv": _dwconv,
    "deconv": _conv,
    "local": _local,
    "dropout": _none,
    "droppath": _none,
    "upsample": _none,
    "lrn": _none,
    "crop": _none,
    "shuffle": _none,
    "gap": _none,
    "flatten": _none,
    "bn": _bn,
    "layernorm": _norm,
    "groupnorm": _norm,
    "scale": _scale,
    "act": _none,
    "id": _none,
    "concat": _none,
    "add": _none,
    "mul": _none,
    "split": _none,
    "output": _none,
}


def params(layer: Layer, x: Volume, y: Volume) -> Params:
    """(weights, biases, buffers, formula) of a layer with input x and output y."""
    return PARAMS[layer.kind](layer, x, y)

"""Multiply-accumulates per image. FLOPs are reported as 2 x MACs, labelled so.

Only convolutions (of every kind) and fully connected layers count; bias adds,
pooling, normalisation, activations and merges count 0, as in torchvision's
published `_ops` figures.
"""

from __future__ import annotations

from .. import layers as L
from .shapes import Shape


def macs(layer: L._Layer, x: Shape, y: Shape) -> int:
    match layer.kind:
        case "conv":
            # H_out*W_out*K outputs, each a dot product of k_h*k_w*C_in/groups
            return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1] * x.c // layer.groups)
        case "local":
            # as a convolution: every output is a k_h*k_w*C_in dot product
            return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1] * x.c)
        case "dwconv":
            # every output channel is a k_h*k_w dot product over one input channel
            return y.h * y.w * y.c * (layer.kernel[0] * layer.kernel[1])
        case "deconv":
            # each input value is scattered through a k_h*k_w*(K/groups) kernel (PyTorch's own count)
            return x.h * x.w * x.c * (layer.kernel[0] * layer.kernel[1] * layer.filters // layer.groups)
        case "fc":
            # in*out, the input flattened
            return x.h * x.w * x.c * layer.out
    return 0

"""Receptive field per axis, as in Araujo et al., "Computing Receptive Fields
of Convolutional Neural Networks" (Distill, 2019).

State per axis: size r, effective stride (jump) j, effective padding P.
    r += (k_eff - 1) * j;  P += p * j;  j *= s;   k_eff = d*(k-1) + 1
FC, GAP and FLATTEN act as a window over the whole input. After a transposed
convolution or an upsampling the field is not an integer map of the input, so
it is reported as unavailable (None) rather than guessed.
"""

from __future__ import annotations

from .. import layers as L
from .shapes import Shape

RF = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # (size, stride, padding), each (H, W)

START: RF = ((1, 1), (1, 1), (0, 0))


def _slide(rf: RF, kernel, stride, pad, dilation) -> RF:
    (rh, rw), (jh, jw), (ph, pw) = rf
    kh = dilation[0] * (kernel[0] - 1) + 1
    kw = dilation[1] * (kernel[1] - 1) + 1
    return ((rh + (kh - 1) * jh, rw + (kw - 1) * jw),
            (jh * stride[0], jw * stride[1]),
            (ph + pad[0] * jh, pw + pad[1] * jw))


def receptive(layer: L._Layer, rf: RF | None, x: Shape) -> RF | None:
    if rf is None:
        return None
    match layer.kind:
        case "conv" | "dwconv" | "local" | "pool":
            return _slide(rf, layer.kernel, layer.stride, layer.pad, layer.dilation)
        case "fc" | "gap" | "flatten":
            # one window over the whole input
            return _slide(rf, (x.h, x.w), (1, 1), (0, 0), (1, 1))
        case "deconv" | "upsample":
            return None
    return rf  # pointwise layers: BN, activations, dropout, LRN (across channels), ID


def merge(fields: list[RF | None]) -> tuple[RF | None, bool]:
    """The arm with the largest field wins, per axis; also whether the arms' strides differ."""
    if any(f is None for f in fields):
        return None, False
    best_h = max(fields, key=lambda f: f[0][0])
    best_w = max(fields, key=lambda f: f[0][1])
    merged = ((best_h[0][0], best_w[0][1]), (best_h[1][0], best_w[1][1]), (best_h[2][0], best_w[2][1]))
    strides_differ = len({f[1] for f in fields}) > 1
    return merged, strides_differ

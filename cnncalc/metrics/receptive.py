"""Receptive field per axis, as in Araujo et al., "Computing Receptive Fields
of Convolutional Neural Networks" (Distill, 2019).

State per axis: size r, effective stride (jump) j, effective padding P.
    r += (k_eff - 1) * j;  P += p * j;  j *= s;   k_eff = d*(k-1) + 1
FC, GAP and FLATTEN act as a window over the whole input. Output pixel u sees the
input positions [u*j - P, u*j - P + r - 1]; at a merge whose arms share j on an
axis, the field is the union of the arms' windows there: P = max(P_a) and
r = max(r_a - P_a) + max(P_a); a product's 1x1xC gate arm (squeeze-and-excitation) is
left out of the union: its GAP makes it global by construction. After a transposed
convolution or an upsampling the field is not an integer map of the input, so
it is reported as unavailable (None) rather than guessed.
"""

from __future__ import annotations

from ..layers import GLOBAL_KINDS, Layer, Volume
from .shapes import effective_kernel

RF = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # (size, stride, padding), each (H, W)

START: RF = ((1, 1), (1, 1), (0, 0))


def _slide(rf: RF, kernel, stride, pad, dilation) -> RF:
    (rh, rw), (jh, jw), (ph, pw) = rf
    kh = effective_kernel(kernel[0], dilation[0])
    kw = effective_kernel(kernel[1], dilation[1])
    return ((rh + (kh - 1) * jh, rw + (kw - 1) * jw),
            (jh * stride[0], jw * stride[1]),
            (ph + pad[0] * jh, pw + pad[1] * jw))


def _window(layer, rf: RF, x: Volume) -> RF:
    return _slide(rf, layer.kernel, layer.stride, layer.pad, layer.dilation)


def _adaptive(layer, rf: RF, x: Volume) -> RF | None:
    # a regular window where the output divides the input (k = s = H/h); else windows of two sizes: none
    if x.h % layer.size[0] or x.w % layer.size[1]:
        return None
    kernel = (x.h // layer.size[0], x.w // layer.size[1])
    return _slide(rf, kernel, kernel, (0, 0), (1, 1))


def _crop(layer, rf: RF, x: Volume) -> RF:
    # output pixel u is input pixel u + offset: the field's start moves by offset * j
    (rh, rw), (jh, jw), (ph, pw) = rf
    top, left = layer.offsets(x)
    return (rh, rw), (jh, jw), (ph - top * jh, pw - left * jw)


def _whole_input(layer, rf: RF, x: Volume) -> RF:
    return _slide(rf, (x.h, x.w), (1, 1), (0, 0), (1, 1))


def _pointwise(layer, rf: RF, x: Volume) -> RF:
    return rf


def _fractional(layer, rf: RF, x: Volume) -> None:
    return None


# one arm per kind: (layer, the field of its input, its input volume) -> the field of its output
RECEPTIVE = {
    "input": _pointwise,  # the walk starts from START, one pixel
    "conv": _window,
    "pool": _window,
    "adaptive": _adaptive,
    "fc": _whole_input,
    "dwconv": _window,
    "deconv": _fractional,
    "local": _window,
    "dropout": _pointwise,
    "droppath": _pointwise,
    "upsample": _fractional,
    "lrn": _pointwise,  # across channels only
    "crop": _crop,
    "shuffle": _pointwise,  # across channels only
    "gap": _whole_input,
    "flatten": _whole_input,
    "bn": _pointwise,
    "layernorm": _pointwise,  # across channels only
    "groupnorm": _whole_input,  # each group is normalised over every position
    "scale": _pointwise,
    "act": _pointwise,
    "id": _pointwise,
}


def receptive(layer: Layer, rf: RF | None, x: Volume) -> RF | None:
    """The field after the layer; None once it is not defined (after DECONV or UPSAMPLE)."""
    return None if rf is None else RECEPTIVE[layer.kind](layer, rf, x)


def _union(fields: list[RF], axis: int) -> tuple[tuple[int, int, int], bool]:
    """(size, stride, padding) of the merge along one axis, and whether the arms' strides differ there.
    Equal strides: the union of the arms' windows. Different strides: the largest field (an estimate)."""
    stride = fields[0][1][axis]
    if any(f[1][axis] != stride for f in fields[1:]):
        best = max(fields, key=lambda f: f[0][axis])
        return (best[0][axis], best[1][axis], best[2][axis]), True
    pad = max(f[2][axis] for f in fields)
    return (max(f[0][axis] - f[2][axis] for f in fields) + pad, stride, pad), False


def spatial_arms(kind: str, outs: list[Volume], y: Volume, fields: list[RF | None]) -> list[RF | None]:
    """The fields a merge's field is the union of: a product's 1x1xC arms broadcast over the other's
    H x W are gates (squeeze-and-excitation), global by construction: left out, so that the field
    stays the spatial path's."""
    if kind != "mul":
        return fields
    return [f for out, f in zip(outs, fields) if out == y] or fields


def merge(fields: list[RF | None]) -> tuple[RF | None, bool]:
    """The field after a merge, per axis; also whether the arms' strides differ on an axis."""
    if any(f is None for f in fields):
        return None, False
    (rh, jh, ph), differ_h = _union(fields, 0)
    (rw, jw, pw), differ_w = _union(fields, 1)
    return ((rh, rw), (jh, jw), (ph, pw)), differ_h or differ_w


def last_spatial(rows: list) -> int:
    """Index of the last row before the first global layer (GAP, FC, FLATTEN) outside a branch (a
    squeeze-and-excitation gate's GAP is inside one): where receptive fields are quoted. Rows are the
    contract's dicts or Report rows."""
    last = 0
    for i, row in enumerate(rows):
        kind, depth = (row["kind"], row["depth"]) if isinstance(row, dict) else (row.kind, row.depth)
        if kind in GLOBAL_KINDS and depth == 0:
            break
        last = i
    return last

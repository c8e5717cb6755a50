"""Output volumes (H x W x C per image) and the "fit" of every window.

Conventions (PyTorch's Conv2d/MaxPool2d documentation and the CS231n notes):
    out = floor((in + 2p - d*(k-1) - 1) / s) + 1                     per axis
    a window fits when (in + 2p - d*(k-1) - 1) is divisible by s      (the notes: "must be integers")
    ceil mode: out = ceil(…) + 1, less one if the last window would start in the right padding
    transposed: out = (in-1)*s - 2p + d*(k-1) + 1 + output_padding
"""

from __future__ import annotations

from typing import NamedTuple

from .. import layers as L
from ..errors import DesignError


class Shape(NamedTuple):
    h: int
    w: int
    c: int

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"


class AxisFit:
    """How one window slides along one axis: axis "H" or "W", the input size on it, the
    effective kernel d*(k-1)+1, padding, stride, the output size, and ceil mode."""

    __slots__ = ("axis", "size", "kernel", "pad", "stride", "out", "ceil")

    def __init__(self, axis: str, size: int, kernel: int, pad: int, stride: int, out: int, ceil: bool) -> None:
        self.axis, self.size, self.kernel, self.pad, self.stride, self.out, self.ceil = \
            axis, size, kernel, pad, stride, out, ceil

    @property
    def span(self) -> int:
        """in + 2p - k_eff: the distance the window travels."""
        return self.size + 2 * self.pad - self.kernel

    @property
    def fits(self) -> bool:
        return self.span % self.stride == 0

    @property
    def arithmetic(self) -> str:
        exact = self.span / self.stride + 1
        text = f"{exact:.2f}".rstrip("0").rstrip(".")
        return f"({self.size} - {self.kernel} + 2*{self.pad})/{self.stride} + 1 = {text}"

    @property
    def uncovered(self) -> int:
        """Rows/columns at the end of the padded input that no window covers (floor mode)."""
        return self.span % self.stride

    @property
    def dropped(self) -> int:
        """Real input rows/columns (not padding) that no window covers; 0 in ceil mode."""
        return 0 if self.ceil else max(0, self.uncovered - self.pad)

    def pads_that_fit(self, limit: int = 3) -> list[int]:
        fits = [p for p in range(0, self.kernel) if (self.size + 2 * p - self.kernel) % self.stride == 0
                and self.size + 2 * p >= self.kernel]
        return sorted(fits, key=lambda p: (abs(p - self.pad), p))[:limit]

    def strides_that_fit(self, limit: int = 3) -> list[int]:
        top = max(self.stride * 2, 4)
        fits = [s for s in range(1, top + 1) if self.span % s == 0 and s != self.stride]
        return sorted(fits, key=lambda s: (abs(s - self.stride), s))[:limit]

    def inputs_that_fit(self) -> list[int]:
        """The nearest input sizes, below and above, for which this window fits."""
        below = self.size - self.uncovered
        above = below + self.stride
        return [n for n in (below, above) if n + 2 * self.pad >= self.kernel and n >= 1]


def window(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool, layer: L._Layer,
           axis: str) -> AxisFit:
    k_eff = dilation * (kernel - 1) + 1
    span = size + 2 * pad - k_eff
    if span < 0:
        what = f"dilated kernel {k_eff}" if dilation > 1 else f"kernel {kernel}"
        raise DesignError(f"{layer.name}: the {what} is larger than the padded input "
                          f"({size} + 2*{pad} = {size + 2 * pad}) along {axis}", layer.span)
    out = span // stride + 1
    if ceil and span % stride:
        out += 1
        if (out - 1) * stride >= size + pad:  # PyTorch: the last window must start inside the input or left padding
            out -= 1
    return AxisFit(axis, size, k_eff, pad, stride, out, ceil)


def _windows(layer, shape: Shape, ceil: bool = False) -> tuple[AxisFit, AxisFit]:
    return (window(shape.h, layer.kernel[0], layer.stride[0], layer.pad[0], layer.dilation[0], ceil, layer, "H"),
            window(shape.w, layer.kernel[1], layer.stride[1], layer.pad[1], layer.dilation[1], ceil, layer, "W"))


def _check_groups(layer, channels: int, groups: int) -> None:
    if channels % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {channels} input channels", layer.span)
    if layer.filters % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {layer.filters} filters", layer.span)


def _transposed(size: int, layer: L.Deconv, axis: int) -> int:
    s, p, d, k, op = layer.stride[axis], layer.pad[axis], layer.dilation[axis], layer.kernel[axis], \
        layer.output_padding[axis]
    if op >= max(s, d):
        raise DesignError(f"{layer.name}: output padding {op} must be smaller than the stride or the dilation",
                          layer.span)
    out = (size - 1) * s - 2 * p + d * (k - 1) + 1 + op
    if out < 1:
        raise DesignError(f"{layer.name}: the output would be {out} along {'HW'[axis]} "
                          f"(({size} - 1)*{s} - 2*{p} + {d}*({k} - 1) + 1 + {op})", layer.span)
    return out


def output(layer: L._Layer, shape: Shape) -> tuple[Shape, tuple[AxisFit, AxisFit] | None]:
    """The layer's output volume, and its two windows where it slides one."""
    match layer.kind:
        case "conv" | "local":
            groups = layer.groups if layer.kind == "conv" else 1
            _check_groups(layer, shape.c, groups)
            fits = _windows(layer, shape)
            return Shape(fits[0].out, fits[1].out, layer.filters), fits
        case "dwconv":
            fits = _windows(layer, shape)
            return Shape(fits[0].out, fits[1].out, shape.c * layer.mult), fits
        case "deconv":
            _check_groups(layer, shape.c, layer.groups)
            return Shape(_transposed(shape.h, layer, 0), _transposed(shape.w, layer, 1), layer.filters), None
        case "pool":
            fits = _windows(layer, shape, layer.ceil)
            return Shape(fits[0].out, fits[1].out, shape.c), fits
        case "gap":
            return Shape(1, 1, shape.c), None
        case "fc" :
            return Shape(1, 1, layer.out), None
        case "flatten":
            return Shape(1, 1, shape.h * shape.w * shape.c), None
        case "upsample":
            return Shape(shape.h * layer.scale, shape.w * layer.scale, shape.c), None
        case "lrn" | "bn" | "act" | "dropout" | "id":
            return shape, None
    raise AssertionError(layer.kind)


def merge(mode: str, shapes: list[Shape], names: list[str], span) -> Shape:
    """Concatenation needs equal H x W and adds channels; a sum needs equal shapes."""
    first = shapes[0]
    for i, other in enumerate(shapes[1:], start=1):
        if mode == "concat" and (other.h, other.w) != (first.h, first.w):
            raise DesignError(f"cannot concatenate branches of different height x width: branch 1 ({names[0]}) "
                              f"gives {first}, branch {i + 1} ({names[i]}) gives {other}", span)
        if mode == "add" and other != first:
            raise DesignError(f"cannot add branches of different shapes: branch 1 ({names[0]}) gives {first}, "
                              f"branch {i + 1} ({names[i]}) gives {other}", span)
    if mode == "concat":
        return Shape(first.h, first.w, sum(s.c for s in shapes))
    return first


class SearchExhausted(Exception):
    """The input-size search used up its budget of layer visits."""


def size_if_fits(items: list, axis: int, size: int, budget: list[int]) -> int | None:
    """The size along `axis` after `items`, or None unless every window fits (for input-size fixes).
    Each layer visited spends one unit of budget[0]; SearchExhausted when none is left."""
    budget[0] -= len(items)
    if budget[0] < 0:
        raise SearchExhausted
    for item in items:
        if not isinstance(item, L._Layer):  # a branch: every arm must fit and agree
            sizes = {size_if_fits(arm, axis, size, budget) for arm in item.arms}
            if len(sizes) != 1 or None in sizes:
                return None
            size = sizes.pop()
            continue
        kind = item.kind
        if kind in ("conv", "local", "dwconv", "pool"):
            k_eff = item.dilation[axis] * (item.kernel[axis] - 1) + 1
            span = size + 2 * item.pad[axis] - k_eff
            if span < 0 or span % item.stride[axis]:
                return None
            size = span // item.stride[axis] + 1
        elif kind == "deconv":
            s, p, d, k = item.stride[axis], item.pad[axis], item.dilation[axis], item.kernel[axis]
            size = (size - 1) * s - 2 * p + d * (k - 1) + 1 + item.output_padding[axis]
            if size < 1:
                return None
        elif kind in ("gap", "fc", "flatten"):
            size = 1
        elif kind == "upsample":
            size *= item.scale
    return size

"""Sliding windows, written once: the output size, the fit, and the receptive field's step.

Conventions (PyTorch's Conv2d/MaxPool2d documentation and the CS231n notes):
    k_eff = d*(k-1) + 1                                                 the dilated kernel
    out = floor((in + 2p - k_eff) / s) + 1                              per axis
    a window fits when (in + 2p - k_eff) is divisible by s              (the notes: "must be integers")
    ceil mode: out = ceil(…) + 1, less one if the last window would start in the right padding; PyTorch
               runs it even when the window is larger than the padded input, as long as out >= 1
    transposed: out = (in-1)*s - 2p + d*(k-1) + 1 + output_padding
    receptive field (Araujo et al., Distill 2019): r += (k_eff - 1)*j;  P += p*j;  j *= s
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import DesignError
from .base import Volume

RF = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # (size, stride, padding), each (H, W)
START: RF = ((1, 1), (1, 1), (0, 0))  # one pixel


class Window(NamedTuple):
    """How one window slides along one axis: axis "H" or "W", the input size on it, the
    effective kernel d*(k-1)+1, padding, stride, the output size, and ceil mode."""

    axis: str
    size: int
    kernel: int
    pad: int
    stride: int
    out: int
    ceil: bool

    @property
    def span(self) -> int:
        """in + 2p - k_eff: the distance the window travels."""
        return self.size + 2 * self.pad - self.kernel

    @property
    def fits(self) -> bool:
        return (self.size + 2 * self.pad - self.kernel) % self.stride == 0


def effective_kernel(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def slide(size: int, k_eff: int, stride: int, pad: int, ceil: bool = False) -> int | None:
    """Output size of a window sliding over `size`, or None when there is no output (floor mode: the
    window is larger than the padded input). As PyTorch's pooling_output_shape, with // rounding down."""
    span = size + 2 * pad - k_eff
    if not ceil:
        return span // stride + 1 if span >= 0 else None
    out = (span + stride - 1) // stride + 1
    if (out - 1) * stride >= size + pad:  # PyTorch: the last window must start inside the input or left padding
        out -= 1
    return out if out >= 1 else None


def transposed(size: int, stride: int, pad: int, dilation: int, kernel: int, output_padding: int) -> int:
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1 + output_padding


def window(layer, size: int, axis: int, ceil: bool = False) -> Window:
    """The layer's window along one axis (0: H, 1: W); an error when the kernel is larger than the padded input."""
    kernel, stride, pad, dilation = layer.kernel[axis], layer.stride[axis], layer.pad[axis], layer.dilation[axis]
    k_eff = effective_kernel(kernel, dilation)
    out = slide(size, k_eff, stride, pad, ceil)
    if out is None:
        what = f"dilated kernel {k_eff}" if dilation > 1 else f"kernel {kernel}"
        raise DesignError(f"{layer.name}: the {what} is larger than the padded input "
                          f"({size} + 2*{pad} = {size + 2 * pad}) along {'HW'[axis]}"
                          + (f", and ceil mode leaves no window at stride {stride}" if ceil else ""), layer.span)
    return Window("HW"[axis], size, k_eff, pad, stride, out, ceil)


def windows(layer, x: Volume, ceil: bool = False) -> tuple[Window, Window]:
    return window(layer, x.h, 0, ceil), window(layer, x.w, 1, ceil)


def axis_window(layer, axis: int, size: int, ceil: bool = False) -> tuple[int, Window] | None:
    """The size after the layer's window along one axis and the window, or None where the window is
    larger than the padded input (the fit search: no error, only no size)."""
    k_eff = effective_kernel(layer.kernel[axis], layer.dilation[axis])
    pad, stride = layer.pad[axis], layer.stride[axis]
    if size + 2 * pad - k_eff < 0:
        return None
    out = slide(size, k_eff, stride, pad, ceil)
    return out, Window("HW"[axis], size, k_eff, pad, stride, out, ceil)


def check_groups(layer, channels: int, groups: int) -> None:
    if channels % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {channels} input channels", layer.span)
    if layer.filters % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {layer.filters} filters", layer.span)


def rf_slide(rf: RF, kernel, stride, pad, dilation) -> RF:
    """The receptive field after a window: r += (k_eff - 1)*j; P += p*j; j *= s, per axis."""
    (rh, rw), (jh, jw), (ph, pw) = rf
    kh = effective_kernel(kernel[0], dilation[0])
    kw = effective_kernel(kernel[1], dilation[1])
    return ((rh + (kh - 1) * jh, rw + (kw - 1) * jw),
            (jh * stride[0], jw * stride[1]),
            (ph + pad[0] * jh, pw + pad[1] * jw))


def rf_whole(rf: RF, x: Volume) -> RF:
    """The field after one window over the whole input (FC, GAP, FLATTEN, GROUPNORM)."""
    return rf_slide(rf, (x.h, x.w), (1, 1), (0, 0), (1, 1))

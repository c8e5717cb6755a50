"""The convolutions: CONV, DWCONV (depthwise), DECONV (transposed) and LOCAL (locally connected).

Parameters: (k_h*k_w*C_in/groups)*K weights + K biases (the notes' "F*F*D1 weights per filter"); a
transposed convolution's C_in x K/groups x k_h x k_w weights are the same count. MACs: every output is
a dot product of k_h*k_w*C_in/groups (a transposed one scatters every input through k_h*k_w*K/groups,
PyTorch's own count). Autograd keeps the input (LOCAL: the unfolded input).
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from ..errors import DesignError, Span
from .base import (BIAS, CAST, DILATION, FILTERS, GROUPS, INPUT, KERNEL, ONE_OP, PAD, SAME, STRIDE, UNSUPPORTED, Layer,
                   Setting, Volume, formula, pair_text, same_pad, saved_extras, suffix)
from .geometry import axis_window, check_groups, rf_slide, transposed, windows


class Sliding(Layer):
    """A kind whose window slides over its input: its fit, fixes and receptive field follow the window."""

    def axis(self, axis: int, size: int):
        return axis_window(self, axis, size, getattr(self, "ceil", False))

    def receptive(self, rf, x: Volume):
        return rf_slide(rf, self.kernel, self.stride, self.pad, self.dilation)

    def no_field(self, x: Volume) -> str | None:
        return None

    def pad_limit(self, w) -> int:
        """The largest padding a fix may offer: less than the window."""
        return w.kernel - 1


class Convolution(Sliding):
    """The family: a new tensor out, the input kept, its parameters cast under autocast."""

    family = "conv"
    # traits
    keeps_layout = packs_params = keeps_input_when_frozen = True
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    makes_channels_last = counts_batches = batch_statistics = grows_with_input = elementwise = skip = False
    flat_copy = None
    orders_input = False
    fill = "#dbe8f7"
    # rules
    backward = ONE_OP  # convolution_backward: the input's, the weight's and the bias's gradients at once
    autocast = CAST
    checkpointed = saved_extras

    def stored(self, y: Volume) -> int:
        return y.size

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return INPUT

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 0

    def packs_after_op(self, step) -> bool:
        return False

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2], saves[3]

    def implied_pad(self, x: Volume, y: Volume) -> list[int] | None:
        """The "same" default d*(k-1)//2 where it changes the size: CONV3-10/2 on a 7x7 input uses [1, 1],
        which the notes' arithmetic (P = 0) would not assume; VGG's CONV3-64 keeps its input's size."""
        pad = self.pad
        if pad == (0, 0) or pad != same_pad(self.kernel, self.dilation) or (y.h, y.w) == (x.h, x.w):
            return None
        return [pad[0], pad[1]]

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        """A convolution on a channels-last input makes a channels-last weight gradient, which autograd's
        AccumulateGrad copies when that differs from the parameter's layout: when the weight's input
        channels (per group) and its window are both larger than 1 (measured with MemTracker)."""
        return False


class Conv(Convolution):
    kind = "conv"
    words = ("CONV",)
    settings = (KERNEL, FILTERS, STRIDE, PAD, DILATION, GROUPS, BIAS)
    attached = "kernel"
    family = None
    example = "CONV3-64"

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{pair_text(self.kernel)}-{self.filters}"
        text += suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"g{self.groups}" if self.groups != 1 else "")

    def output(self, x: Volume):
        check_groups(self, x.c, self.groups)
        h, w = windows(self, x)
        return Volume(h.out, w.out, self.filters), (h, w)

    def params(self, x: Volume, y: Volume):
        # (k_h*k_w*C_in/groups)*K weights + K biases
        kh, kw = self.kernel
        per_filter = f"{x.c}" if self.groups == 1 else f"{x.c}/{self.groups}"
        weights = kh * kw * (x.c // self.groups) * self.filters
        biases = self.filters if self.bias else 0
        return weights, biases, 0, formula(f"({kh}*{kw}*{per_filter})*{self.filters}", weights)

    def macs(self, x: Volume, y: Volume) -> int:
        # H_out*W_out*K outputs, each a dot product of k_h*k_w*C_in/groups
        return y.h * y.w * y.c * (self.kernel[0] * self.kernel[1] * x.c // self.groups)

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return channels_last and self.kernel != (1, 1) and x.c // self.groups > 1

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "conv", (f"nn.Conv2d({x.c}, {y.c}, kernel_size={self.kernel}, stride={self.stride}, "
                        f"padding={self.pad}, dilation={self.dilation}, groups={self.groups}, bias={self.bias})")


class DWConv(Convolution):
    """Depthwise convolution: groups = input channels, filters = mult * input channels."""

    kind = "dwconv"
    words = ("DWCONV",)
    settings = (KERNEL, Setting("mult", "mult", "int", 1), STRIDE, PAD, DILATION, BIAS)
    attached = "kernel"

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{pair_text(self.kernel)}"
        text += suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"(mult={self.mult})" if self.mult != 1 else "")

    def output(self, x: Volume):
        h, w = windows(self, x)
        return Volume(h.out, w.out, x.c * self.mult), (h, w)

    def params(self, x: Volume, y: Volume):
        # one k_h*k_w filter per output channel, each over a single input channel
        kh, kw = self.kernel
        weights = kh * kw * y.c
        biases = y.c if self.bias else 0
        return weights, biases, 0, formula(f"({kh}*{kw}*1)*{y.c}", weights)

    def macs(self, x: Volume, y: Volume) -> int:
        # every output channel is a k_h*k_w dot product over one input channel
        return y.h * y.w * y.c * (self.kernel[0] * self.kernel[1])

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "conv", (f"nn.Conv2d({x.c}, {y.c}, kernel_size={self.kernel}, stride={self.stride}, "
                        f"padding={self.pad}, dilation={self.dilation}, groups={x.c}, bias={self.bias})")


class Deconv(Convolution):
    """Transposed convolution; padding defaults to 0."""

    kind = "deconv"
    words = ("DECONV",)
    settings = (KERNEL, FILTERS, STRIDE, PAD.but(default=(0, 0)), DILATION, GROUPS,
                Setting("op", "output_padding", "pair", (0, 0), minimum=0, aliases=("output_padding",), attr=None),
                BIAS)
    attached = "kernel"
    example = "DECONV4-64/2"

    def check(self, where: Callable[[str], Span]) -> None:
        for axis in (0, 1):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise DesignError(f"{self.name}: output padding {self.output_padding[axis]} must be smaller than "
                                  f"the stride or the dilation", self.span)

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{pair_text(self.kernel)}-{self.filters}"
        text += suffix(self.stride, self.pad, self.dilation, (1, 1), (0, 0))
        text += f"g{self.groups}" if self.groups != 1 else ""
        return text + (f"(op={pair_text(self.output_padding)})" if self.output_padding != (0, 0) else "")

    def _size(self, size: int, axis: int) -> int:
        s, p, d, k, op = (self.stride[axis], self.pad[axis], self.dilation[axis], self.kernel[axis],
                          self.output_padding[axis])
        out = transposed(size, s, p, d, k, op)
        if out < 1:
            raise DesignError(f"{self.name}: the output would be {out} along {'HW'[axis]} "
                              f"(({size} - 1)*{s} - 2*{p} + {d}*({k} - 1) + 1 + {op})", self.span)
        return out

    def output(self, x: Volume):
        check_groups(self, x.c, self.groups)
        return Volume(self._size(x.h, 0), self._size(x.w, 1), self.filters), None

    params = Conv.params

    def macs(self, x: Volume, y: Volume) -> int:
        # each input value is scattered through a k_h*k_w*(K/groups) kernel (PyTorch's own count)
        return x.h * x.w * x.c * (self.kernel[0] * self.kernel[1] * self.filters // self.groups)

    def receptive(self, rf, x: Volume):
        return None  # outputs map to fractions of an input pixel

    def no_field(self, x: Volume) -> str:
        return "a transposed or upsampling layer maps outputs to fractions of an input pixel"

    def axis(self, axis: int, size: int):
        out = transposed(size, self.stride[axis], self.pad[axis], self.dilation[axis], self.kernel[axis],
                         self.output_padding[axis])
        return (out, None) if out >= 1 else None

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return channels_last and self.kernel != (1, 1) and y.c // self.groups > 1

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "deconv", (f"nn.ConvTranspose2d({x.c}, {y.c}, kernel_size={self.kernel}, stride={self.stride}, "
                          f"padding={self.pad}, output_padding={self.output_padding}, groups={self.groups}, "
                          f"bias={self.bias}, dilation={self.dilation})")


LOCAL2D = '''
class Local2d(nn.Module):
    """Locally connected: a convolution whose weights differ at every output position."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, out_size, bias=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        positions = out_size[0] * out_size[1]
        taps = in_channels * kernel_size[0] * kernel_size[1]
        self.out_size = out_size
        self.weight = nn.Parameter(torch.randn(positions, taps, out_channels) * taps ** -0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels, *out_size)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = nn.functional.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        out = torch.einsum("ntl,lto->nol", cols, self.weight).reshape(x.shape[0], -1, *self.out_size)
        return out if self.bias is None else out + self.bias
'''


class Local(Convolution):
    """Locally connected: a convolution without parameter sharing."""

    kind = "local"
    words = ("LOCAL",)
    settings = (KERNEL, FILTERS, STRIDE, PAD, DILATION, BIAS)
    attached = "kernel"
    example = "LOCAL3-64"
    backward = UNSUPPORTED  # not simulated: the training peak is left out
    autocast = SAME  # not simulated under autocast either

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{pair_text(self.kernel)}-{self.filters}"
        return text + suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))

    def output(self, x: Volume):
        h, w = windows(self, x)
        return Volume(h.out, w.out, self.filters), (h, w)

    def params(self, x: Volume, y: Volume):
        # no sharing: (k*k*C_in)*K weights and K biases at each of the H_out*W_out positions
        kh, kw = self.kernel
        weights = kh * kw * x.c * self.filters * y.h * y.w
        biases = self.filters * y.h * y.w if self.bias else 0
        return weights, biases, 0, formula(f"({kh}*{kw}*{x.c})*{self.filters}*{y.h}*{y.w}", weights)

    def macs(self, x: Volume, y: Volume) -> int:
        # as a convolution: every output is a k_h*k_w*C_in dot product
        return y.h * y.w * y.c * (self.kernel[0] * self.kernel[1] * x.c)

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        # the unfolded input (C*k*k values per output position), in a buffer at least as large as the input:
        # measured, a stride larger than the kernel (fewer columns than input values) still keeps the input's size
        cols = x.c * self.kernel[0] * self.kernel[1] * y.h * y.w
        return False, False, max(cols, x.h * x.w * x.c) * size, 0

    transient = UNSUPPORTED

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("Local2d", LOCAL2D)
        return "local", (f"Local2d({x.c}, {y.c}, kernel_size={self.kernel}, stride={self.stride}, "
                         f"padding={self.pad}, dilation={self.dilation}, out_size={(y.h, y.w)}, bias={self.bias})")

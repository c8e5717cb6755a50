"""Pooling: POOL (max or average), ADAPTIVEPOOL (to a fixed size) and GAP/GMP (global).

No parameters and no MACs (torchvision's counts). Max pooling keeps its input and one int64 index per
output value for backward (made in evaluation too); average pooling only its input; GAP nothing (its
backward needs only the size), GMP its input and C indices.
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from ..errors import DesignError, Span
from .base import (DILATION, INDEX_BYTES, INPUT, KERNEL, NOTHING, ONE_OP, PAD, SAME, STRIDE, Layer, Setting, Volume,
                   no_macs, nothing_learned, pair_text, saved_extras, suffix)
from .conv import Sliding
from .geometry import rf_slide, rf_whole, windows


class Pooling(Layer):
    """The family: no parameters, a new tensor out, max pooling's indices beside it."""

    # traits
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    makes_channels_last = packs_params = counts_batches = batch_statistics = grows_with_input = False
    elementwise = skip = False
    keeps_layout = keeps_input_when_frozen = True
    flat_copy = None
    orders_input = False
    fill = "#dff0d8"
    # rules
    params = nothing_learned
    macs = no_macs
    backward = ONE_OP
    autocast = SAME
    checkpointed = saved_extras

    def stored(self, y: Volume) -> int:
        return y.size

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        """Max pooling's int64 indices, made in evaluation too (freed at once where nothing keeps them)."""
        return step.y.size * INDEX_BYTES * batch if self.type == "max" else 0

    def packs_after_op(self, step) -> bool:
        return self.type == "max"  # the indices, made by the operation

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2], saves[3]

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return False


class Pool(Pooling, Sliding):
    kind = "pool"
    words = ("POOL", "MAXPOOL", "AVGPOOL")
    settings = (KERNEL.but(default=(2, 2)), STRIDE.but(default=lambda v: v["kernel"]),
                PAD.but(read="pair", default=(0, 0)), DILATION.but(attr=None),
                Setting("ceil", "ceil", "bool", False, aliases=("ceil_mode",)),
                Setting("type", "type", "choice", "max", choices=("max", "avg")))
    attached = "kernel"
    fixed = {"MAXPOOL": {"type": "max"}, "AVGPOOL": {"type": "avg"}}

    def check(self, where: Callable[[str], Span]) -> None:
        for axis in (0, 1):
            if self.pad[axis] * 2 > self.kernel[axis]:
                raise DesignError(f"{self.word}: padding {self.pad[axis]} is more than half the window "
                                  f"{self.kernel[axis]} (PyTorch refuses this)", where("p"))
        if self.type == "avg" and self.dilation != (1, 1):
            raise DesignError("average pooling has no dilation", where("d"))

    @cached_property
    def name(self) -> str:
        word = self.word if self.word != "POOL" or self.type == "max" else "AVGPOOL"
        text = f"{word}{pair_text(self.kernel)}" + suffix(self.stride, self.pad, self.dilation, self.kernel, (0, 0))
        return text + ("(ceil)" if self.ceil else "")

    def output(self, x: Volume):
        h, w = windows(self, x, self.ceil)
        return Volume(h.out, w.out, x.c), (h, w)

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return True, False, (y.size * INDEX_BYTES if self.type == "max" else 0), 0

    def pad_limit(self, w) -> int:
        """Less than the window, and at most half its kernel (PyTorch refuses more: check)."""
        return min(w.kernel - 1, self.kernel["HW".index(w.axis)] // 2)

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        if self.type == "max":
            return "pool", (f"nn.MaxPool2d(kernel_size={self.kernel}, stride={self.stride}, padding={self.pad}, "
                            f"dilation={self.dilation}, ceil_mode={self.ceil})")
        return "avgpool", (f"nn.AvgPool2d(kernel_size={self.kernel}, stride={self.stride}, padding={self.pad}, "
                           f"ceil_mode={self.ceil})")


class AdaptivePool(Pooling):
    """Pooling to a fixed output size (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d): output cell i takes
    the input rows floor(i*H/h) to ceil((i+1)*H/h) - 1, so what follows does not change with the input
    size (torchvision's VGG and AlexNet heads)."""

    kind = "adaptive"
    words = ("ADAPTIVEPOOL", "ADAPTIVEAVGPOOL", "ADAPTIVEMAXPOOL")
    settings = (Setting("size", "size", "pair", aliases=("output_size",), attr=None, noun="output size"),
                Setting("type", "type", "choice", "avg", choices=("max", "avg"), attr=None))
    attached = "size"
    positional = "size"
    fixed = {"ADAPTIVEAVGPOOL": {"type": "avg"}, "ADAPTIVEMAXPOOL": {"type": "max"}}
    example = "ADAPTIVEAVGPOOL7"
    pins_size = True
    fill = "#ffffff"

    @cached_property
    def name(self) -> str:
        word = self.word if self.word != "ADAPTIVEPOOL" else f"ADAPTIVE{self.type.upper()}POOL"
        return f"{word}{pair_text(self.size)}"

    def output(self, x: Volume):
        return Volume(self.size[0], self.size[1], x.c), None

    def stored(self, y: Volume) -> int:
        return y.size  # a new tensor, even when the size does not change

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        if self.type == "max":
            return True, False, y.size * INDEX_BYTES, 0
        return NOTHING if (y.h, y.w) == (1, 1) else INPUT

    def packs_after_op(self, step) -> bool:
        return False

    def receptive(self, rf, x: Volume):
        # a regular window where the output divides the input (k = s = H/h); else windows of two sizes: none
        if x.h % self.size[0] or x.w % self.size[1]:
            return None
        kernel = (x.h // self.size[0], x.w // self.size[1])
        return rf_slide(rf, kernel, kernel, (0, 0), (1, 1))

    def no_field(self, x: Volume) -> str:
        return f"its {x.h}x{x.w} input is not a multiple of its output, so its windows differ in size"

    def axis(self, axis: int, size: int):
        return self.size[axis], None  # its windows cover the input, always

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        size = f"({self.size[0]}, {self.size[1]})"
        if self.type == "max":
            return "adaptivemax", f"nn.AdaptiveMaxPool2d({size})"
        return "adaptiveavg", f"nn.AdaptiveAvgPool2d({size})"


class GlobalPool(Pooling):
    kind = "gap"
    words = ("GAP", "GMP")
    fixed = {"GAP": {"type": "avg"}, "GMP": {"type": "max"}}
    acts_globally = pins_size = True
    keeps_layout = False

    def output(self, x: Volume):
        return Volume(1, 1, x.c), None

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        # GAP: nothing (its backward needs only the size); GMP: its input and C indices
        return (True, False, y.c * INDEX_BYTES, 0) if self.type == "max" else NOTHING

    def receptive(self, rf, x: Volume):
        return rf_whole(rf, x)

    def no_field(self, x: Volume) -> None:
        return None

    def axis(self, axis: int, size: int):
        return 1, None

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        if self.type == "max":
            return "gmp", "nn.AdaptiveMaxPool2d(1)"
        return "gap", "nn.AdaptiveAvgPool2d(1)"

"""The layers that see their whole input as one vector: FC (fully connected) and FLATTEN.

FC: in*out weights + out biases and in*out MACs, the input flattened (the notes' 7*7*512*4096); it
keeps its input (flattened: a view of the same storage) for the weight's gradient. In the exported
network both make N x C x 1 x 1 views; flattening a volume not laid out N x C x H x W (channels last,
a crop) copies it first.
"""

from __future__ import annotations

from functools import cached_property

from .base import (APPLIED, BIAS, CAST, FILTERS, INPUT, NOTHING, SAME, VIEWS, Layer, Volume, formula, no_macs,
                   nothing_learned, saved_extras)
from .geometry import rf_whole

DENSE = '''
class Dense(nn.Linear):
    """A fully connected layer on the flattened input; the output is N x C x 1 x 1 (Net's forward
    flattens a final one to N x C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.flatten(x, 1))[:, :, None, None]
'''
FLAT = '''
class Flat(nn.Module):
    """Flatten to N x (C*H*W) x 1 x 1: volumes stay four-dimensional."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)[:, :, None, None]
'''


class Vector(Layer):
    """The family: one window over the whole input, a vector per image, a view in the export."""

    # traits
    acts_globally = view_output = True
    pins_size = shares_storage = transparent = subview = identity_in_eval = keeps_layout = False
    makes_channels_last = counts_batches = batch_statistics = elementwise = skip = orders_input = False
    # rules
    backward = VIEWS
    checkpointed = saved_extras

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 0

    def packs_after_op(self, step) -> bool:
        return False

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2], saves[3]

    def receptive(self, rf, x: Volume):
        return rf_whole(rf, x)

    def no_field(self, x: Volume) -> None:
        return None

    def axis(self, axis: int, size: int):
        return 1, None

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return False


class FC(Vector):
    kind = "fc"
    words = ("FC", "LINEAR", "DENSE")  # the notes', PyTorch's and Keras's names
    settings = (FILTERS.but(field="out", attr="out", label="filters", noun="output count"), BIAS)
    positional = "filters"
    example = "FC-10"
    # traits
    pins_size = packs_params = grows_with_input = True
    keeps_input_when_frozen = False  # addmm keeps its input only for the weight's gradient
    flat_copy = "input"  # a copy of a volume laid out otherwise, beside its output
    fill = "#eee0f4"
    # rules
    # addmm's backward: two products; then, its apply returned, the engine sums the broadcast bias's gradient
    backward = (("input",), ("weight",), APPLIED, ("bias",))
    autocast = CAST
    checkpointed = saved_extras

    @cached_property
    def name(self) -> str:
        return f"{self.word}-{self.out}"

    def output(self, x: Volume):
        return Volume(1, 1, self.out), None

    def params(self, x: Volume, y: Volume):
        # in*out weights + out biases, the input flattened: the notes' 7*7*512*4096
        inputs = x.h * x.w * x.c
        weights = inputs * self.out
        biases = self.out if self.bias else 0
        shape = f"{x.c}" if (x.h, x.w) == (1, 1) else f"{x.h}*{x.w}*{x.c}"
        return weights, biases, 0, formula(f"{shape}*{self.out}", weights)

    def macs(self, x: Volume, y: Volume) -> int:
        # in*out, the input flattened
        return x.h * x.w * x.c * self.out

    def stored(self, y: Volume) -> int:
        return y.size

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return INPUT

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("Dense", DENSE)
        return "fc", f"Dense({x.h * x.w * x.c}, {self.out}, bias={self.bias})"


class Flatten(Vector):
    kind = "flatten"
    words = ("FLATTEN",)
    # traits
    shares_storage = transparent = keeps_input_when_frozen = True
    packs_params = grows_with_input = False
    flat_copy = "output"  # a volume laid out otherwise is copied: the copy is its output
    fill = "#f1f1f1"
    # rules
    params = nothing_learned
    macs = no_macs
    autocast = SAME

    def output(self, x: Volume):
        return Volume(1, 1, x.size), None

    def stored(self, y: Volume) -> int:
        return 0  # a view

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return NOTHING

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("Flat", FLAT)
        return "flatten", "Flat()"

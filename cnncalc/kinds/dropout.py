"""Dropouts: DROPOUT (of values) and DROPPATH (stochastic depth: of whole images' volumes).

No parameters, no MACs; the identity in evaluation mode. In training DROPOUT keeps a 1-byte mask per
value on CUDA (its fused kernel) and a noise tensor of the input's dtype on the CPU; DROPPATH keeps its
noise, one value of the input's dtype per image (input * noise: the input needs no keeping).
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from ..errors import DesignError, Span
from .base import INPLACE, MASK_BYTES, ONE_OP, SAME, Layer, Setting, Volume, no_macs, nothing_learned, saved_extras

DROPPATH = '''
class DropPath(nn.Module):
    """Stochastic depth, as torchvision.ops.StochasticDepth(p, "row"): in training each image's volume
    is dropped with probability p and the others scaled by 1/(1-p); the identity in evaluation."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        survival = 1.0 - self.p
        noise = torch.empty([x.shape[0], 1, 1, 1], dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival)
'''


class Dropping(Layer):
    """The family: the same volume out; its input handed on in evaluation."""

    # traits
    transparent = identity_in_eval = keeps_layout = elementwise = keeps_input_when_frozen = True
    acts_globally = pins_size = shares_storage = view_output = subview = makes_channels_last = False
    packs_params = counts_batches = batch_statistics = grows_with_input = skip = False
    flat_copy = None
    orders_input = False
    fill = "#f1f1f1"
    # rules
    params = nothing_learned
    macs = no_macs
    backward = ONE_OP  # the output's gradient times the mask or the noise
    autocast = SAME
    checkpointed = saved_extras

    def output(self, x: Volume):
        return x, None

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def packs_after_op(self, step) -> bool:
        return False

    def receptive(self, rf, x: Volume):
        return rf

    def no_field(self, x: Volume) -> None:
        return None

    def axis(self, axis: int, size: int):
        return size, None

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return False


class Dropout(Dropping):
    kind = "dropout"
    words = ("DROPOUT",)
    settings = (Setting("p", "p", "float", 0.5), INPLACE)
    positional = "p"

    def check(self, where: Callable[[str], Span]) -> None:
        if not 0.0 <= self.p < 1.0:
            raise DesignError(f"a dropout probability is in [0, 1), got {self.p:g}", where("p"))

    @cached_property
    def name(self) -> str:
        return f"DROPOUT({self.p:g})"

    def stored(self, y: Volume) -> int:
        return 0 if self.inplace else y.size

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return False, False, y.size * (MASK_BYTES if device == "cuda" else size), 0

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        # training: a mask (CUDA) or a noise tensor of the dtype (CPU); evaluation: nothing, the input goes on
        return step.y.size * (MASK_BYTES if device == "cuda" else size) * batch if training else 0

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        # the CPU's noise is of the input's dtype; CUDA's mask is one byte a value
        return (saves[2] if device == "cuda" else saves[2] * din // 4), saves[3]

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "dropout", f"nn.Dropout(p={self.p!r})"


class DropPath(Dropping):
    """Stochastic depth (torchvision's StochasticDepth, mode "row"): in training each image's volume is
    dropped with probability p, the others scaled by 1/(1-p); the identity in evaluation."""

    kind = "droppath"
    words = ("DROPPATH", "STOCHASTICDEPTH")
    settings = (Setting("p", "p", "float", attr=None, noun="drop probability"),)
    positional = "p"
    example = "DROPPATH(0.1)"

    def check(self, where: Callable[[str], Span]) -> None:
        if not 0.0 < self.p < 1.0:
            why = "at 0 it does nothing: leave the layer out" if self.p <= 0 else "at 1 it drops every path"
            raise DesignError(f"a drop-path probability is in (0, 1), got {self.p:g} ({why})", where("p"))

    @cached_property
    def name(self) -> str:
        return f"DROPPATH({self.p:g})"

    def stored(self, y: Volume) -> int:
        return y.size  # input * noise: a new tensor in training

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        # input * noise keeps the noise, one value of the input's dtype per image (the input needs no keeping:
        # the noise does not require grad)
        return False, False, size, 0

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return size * batch if training else 0  # its noise; in evaluation the input goes on

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2] * din // 4, saves[3]

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("DropPath", DROPPATH)
        return "droppath", f"DropPath({self.p!r})"

"""Activations: one kind, each word the PyTorch module it means, whose behaviour cnncalc follows.

No parameters, no MACs. In place (`inplace`, true by default, where PyTorch's module takes it) they
store nothing new. What autograd keeps, measured on torch 2.13 (saved_tensors_hooks):
    RELU LEAKYRELU ELU                        the output, which in place is the input's storage
    SIGMOID TANH SOFTMAX                      the output (never in place in PyTorch)
    RELU6 SILU HARDSWISH HARDSIGMOID          the input; in place, a private copy of it (a new volume)
    GELU                                      the input (never in place in PyTorch)
Adding an activation word is one line in MODULES (and its row in SAVES where it saves its output or
copies its input in place).
"""

from __future__ import annotations

from functools import cached_property

from .base import INPLACE, ONE_OP, SAME, Layer, Setting, Volume, no_macs, nothing_learned, saved_extras

# each word and the PyTorch module it means (torch.nn.<name>), and whether the module can run in place
MODULES = {
    "RELU": ("ReLU", True), "RELU6": ("ReLU6", True), "LEAKYRELU": ("LeakyReLU", True), "ELU": ("ELU", True),
    "GELU": ("GELU", False), "SILU": ("SiLU", True), "SIGMOID": ("Sigmoid", False), "TANH": ("Tanh", False),
    "HARDSWISH": ("Hardswish", True), "HARDSIGMOID": ("Hardsigmoid", True), "SOFTMAX": ("Softmax", False),
}
SAVES_OUTPUT = ("RELU", "SIGMOID", "TANH", "SOFTMAX")  # out of place, these save their result
COPIES_WHEN_INPLACE = ("RELU6", "SILU", "HARDSWISH", "HARDSIGMOID")  # in place, these keep a copy of their input


class Activation(Layer):
    kind = "act"
    MODULES = {word: module for word, (module, _) in MODULES.items()}  # word -> torch.nn.<module>
    words = tuple(MODULES)
    settings = (Setting("slope", "slope", "float", None, aliases=("negative_slope", "alpha"), attr=None,
                        words=("LEAKYRELU", "ELU")), INPLACE)
    positional = "slope"
    # traits
    elementwise = keeps_input_when_frozen = True
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    makes_channels_last = packs_params = counts_batches = batch_statistics = grows_with_input = skip = False
    flat_copy = None
    orders_input = False
    fill = "#f1f1f1"
    # rules
    params = nothing_learned
    macs = no_macs
    backward = ONE_OP
    autocast = SAME
    checkpointed = saved_extras

    @cached_property
    def keeps_layout(self) -> bool:
        # softmax's output is contiguous whatever its input's layout (measured, torch 2.13 CPU); the
        # element-wise others take their input's
        return self.word != "SOFTMAX"

    def output(self, x: Volume):
        return x, None

    def stored(self, y: Volume) -> int:
        return 0 if self.inplace else y.size

    def runs_inplace(self, protected: bool) -> bool:
        """Does it overwrite its input in PyTorch? Not when that input is `protected` (saved.Flow)."""
        return self.inplace and MODULES[self.word][1] and not protected

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        inplace = self.runs_inplace(protected)
        if inplace and self.word in COPIES_WHEN_INPLACE:
            return False, False, x.size * size, 0
        if inplace or self.word in SAVES_OUTPUT:
            return False, True, 0, 0
        return True, False, 0, 0

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 0

    def packs_after_op(self, step) -> bool:
        return step.saves[1]  # its result

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2] * din // 4, saves[3]  # an in-place copy of its input, in the input's dtype

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

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        args = []
        if self.slope is not None:
            args.append(f"{self.slope!r}")
        if self.word == "SOFTMAX":
            args.append("dim=1")
        if inplace:
            args.append("inplace=True")
        return self.word.lower(), f"nn.{self.MODULES[self.word]}({', '.join(args)})"


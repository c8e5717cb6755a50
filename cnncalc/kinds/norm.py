"""Normalisation: BN, LAYERNORM, GROUPNORM, LRN, and SCALE (a learnable gain per channel).

BN learns a scale and a shift per channel (2C) and keeps running mean and variance as buffers (2C);
LAYERNORM and GROUPNORM learn 2C and keep none (their statistics are the batch's, always); SCALE learns
C. Normalisation counts 0 MACs. Autograd keeps the input and float32 statistics (BN: 2C for the
batch; LAYERNORM: a mean and an inverse std per position; GROUPNORM: per group); LRN keeps its input,
its padded square ((C + size - 1)*H*W values) and two more volumes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from ..errors import DesignError, Span
from .base import (APPLIED, EPS, FLOAT32, INPUT, ONE_OP, SAME, STAT_BYTES, UNSUPPORTED, WIDENS, Layer, Setting, Volume,
                   check_eps, formula, no_macs, nothing_learned, saved_extras)
from .geometry import rf_slide

LAYERNORM2D = '''
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at each position of an N x C x H x W volume (torchvision's
    ConvNeXt LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''
LAYERSCALE = '''
class LayerScale(nn.Module):
    """A learnable gain per channel (layer scale), starting at `init`."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * x
'''


def _eps(layer) -> str:
    """A norm's eps as an argument, where it is not PyTorch's default."""
    return f", eps={layer.eps!r}" if layer.eps != 1e-5 else ""


class Normalization(Layer):
    """The family: the same volume out, a new tensor; statistics computed, kept for backward."""

    # traits
    elementwise = keeps_layout = packs_params = keeps_input_when_frozen = True
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    makes_channels_last = counts_batches = batch_statistics = grows_with_input = skip = False
    flat_copy = None
    orders_input = False
    fill = "#f1f1f1"
    # rules
    macs = no_macs  # normalisation counts 0
    backward = ONE_OP  # the input's and the parameters' gradients at once
    statistic = "channel"  # what one statistic is over, for the warning of batch_statistics
    refuses = "train"  # what PyTorch then refuses: BN's running statistics serve evaluation

    def statistic_values(self, x: Volume, batch: int) -> int:
        """The values one statistic is computed over in training (batch_statistics: PyTorch refuses one):
        BN's, a channel over the batch and every position."""
        return x.h * x.w * batch
    autocast = UNSUPPORTED  # not measured under autocast yet: the peak is left out there
    checkpointed = saved_extras

    def output(self, x: Volume):
        return x, None

    def stored(self, y: Volume) -> int:
        return y.size

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def packs_after_op(self, step) -> bool:
        return True  # the statistics it computes

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2], saves[3]

    def receptive(self, rf, x: Volume):
        return rf  # across channels only

    def no_field(self, x: Volume) -> None:
        return None

    def axis(self, axis: int, size: int):
        return size, None

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return False


class BatchNorm(Normalization):
    """eps and momentum change no count; they are carried into the export (nn.BatchNorm2d's)."""

    kind = "bn"
    words = ("BN", "BATCHNORM", "BATCHNORM2D")
    settings = (EPS, Setting("momentum", "momentum", "float", 0.1, attr="momentum"))
    counts_batches = batch_statistics = True
    autocast = SAME

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, "BN")
        if not 0.0 <= self.momentum <= 1.0:
            raise DesignError(f"BN's momentum is in [0, 1] (PyTorch's default 0.1), got {self.momentum:g}",
                              where("momentum"))

    def params(self, x: Volume, y: Volume):
        # a scale and a shift per channel (C + C); running mean and variance are buffers (2C)
        return x.c, x.c, 2 * x.c, formula(f"2*{x.c}", 2 * x.c)

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return True, False, 0, 2 * x.c * STAT_BYTES  # the input + per-channel mean and inverse std, float32

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        # in training, unrecorded (frozen, before any trainable layer): its statistics, made and freed at once
        return 2 * step.x.c * STAT_BYTES if training else 0

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        # real kernels keep the statistics in float32; FakeTensorMode in the input's dtype
        return saves[2], (saves[3] * din // 4 if fake else saves[3])

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "bn", (f"nn.BatchNorm2d({x.c}" + _eps(self)
                      + (f", momentum={self.momentum!r}" if self.momentum != 0.1 else "") + ")")


def _norm_params(self, x: Volume, y: Volume):
    # a gain and a shift per channel (C + C), no buffers: the statistics are the batch's, always
    return x.c, x.c, 0, formula(f"2*{x.c}", 2 * x.c)


class LayerNorm(Normalization):
    """Normalises the C channels at each position, with a gain and a shift per channel (nn.LayerNorm
    over channels, as torchvision's ConvNeXt's LayerNorm2d); eps is carried into the export."""

    kind = "layernorm"
    words = ("LAYERNORM", "LN")
    settings = (EPS,)
    makes_channels_last = True  # a permuted view: what follows is laid out channels last
    # and a view: an activation after it in place would make autograd wrap its backward in CopySlices (a copy
    # of the whole gradient and a clone of it, measured: -31.9% at LAYERNORM -> RELU), so none runs in place
    view_output = True
    keeps_layout = False
    params = _norm_params
    autocast = SAME  # CPU autocast runs layer_norm in its input's dtype, the gain, shift and statistics float32

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, self.word)

    @cached_property
    def name(self) -> str:
        return self.word

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return True, False, 2 * x.h * x.w * STAT_BYTES, 0  # its input + a float32 mean and inverse std per position

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        # real kernels keep the statistics in float32; FakeTensorMode in the input's dtype (as BN's)
        return (saves[2] * din // 4 if fake else saves[2]), saves[3]

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 2 * step.x.h * step.x.w * STAT_BYTES * batch  # its statistics, in both modes

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("LayerNorm2d", LAYERNORM2D)
        return "ln", f"LayerNorm2d({x.c}" + _eps(self) + ")"


class GroupNorm(Normalization):
    """Normalises each of G groups of channels over the group's channels and positions, with a gain and
    a shift per channel (nn.GroupNorm)."""

    kind = "groupnorm"
    words = ("GROUPNORM", "GN")
    settings = (Setting("groups", "groups", "int", aliases=("g", "num_groups"), noun="group count"),
                EPS)
    positional = "groups"
    example = "GROUPNORM(32)"
    params = _norm_params
    batch_statistics = True  # PyTorch checks the batch times a group's values, as BN's: one is refused
    statistic = "group"
    refuses = "run"  # in evaluation too: F.group_norm checks in both modes (measured, torch 2.13)
    # at::group_norm: X = input.contiguous(suggest_memory_format) on the CPU (a channels-last input stays so),
    # input.contiguous() on CUDA; native_group_norm saves X (measured with saved_tensors_hooks, torch 2.13 CPU)
    orders_input = True
    autocast = SAME  # as LAYERNORM: in its input's dtype, the gain, shift and statistics float32

    def statistic_values(self, x: Volume, batch: int) -> int:
        return batch * (x.c // self.groups) * x.h * x.w

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, self.word)

    @cached_property
    def name(self) -> str:
        return f"{self.word}({self.groups})"

    def output(self, x: Volume):
        if x.c % self.groups:
            raise DesignError(f"{self.name}: {self.groups} groups do not divide the {x.c} channels", self.span)
        return x, None

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return True, False, 2 * self.groups * STAT_BYTES, 0  # its input + a float32 mean and inverse std per group

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 2 * self.groups * STAT_BYTES * batch  # its statistics, in both modes

    def receptive(self, rf, x: Volume):
        """Each group is normalised over every position, and the output keeps H x W: every output pixel
        sees the whole input. As a window that holds for every pixel (not only the first, as one of the
        input's size would): 2H-1 x 2W-1, same-padded (H-1, W-1), stride 1, which covers the whole input
        from any pixel."""
        return rf_slide(rf, (2 * x.h - 1, 2 * x.w - 1), (1, 1), (x.h - 1, x.w - 1), (1, 1))

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "gn", f"nn.GroupNorm({self.groups}, {x.c}" + _eps(self) + ")"


class Scale(Normalization):
    """A learnable gain per channel (layer scale: ConvNeXt, CaiT), `init` its starting value."""

    kind = "scale"
    words = ("SCALE", "LAYERSCALE")
    settings = (Setting("init", "init", "float", 1e-6, attr="init"),)
    positional = "init"
    # gain * x: the gain's gradient is made at the input's size (a temporary) beside the input's; after the
    # node's apply the engine sums it to C (sum_to): a checkpointed row's recomputed input has gone by then
    backward = ((("temp", 1), "input"), APPLIED, ("weight",))
    autocast = WIDENS  # under autocast a low input times the float32 gain is float32 (measured, torch 2.13 CPU)

    def params(self, x: Volume, y: Volume):
        return x.c, 0, 0, formula(f"{x.c}", x.c)

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return INPUT  # gain * x keeps x for the gain's gradient (and the gain)

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 0

    def packs_after_op(self, step) -> bool:
        return False

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("LayerScale", LAYERSCALE)
        return "scale", f"LayerScale({x.c}, {self.init!r})"


class LRN(Normalization):
    """Local response normalisation across channels, as F.local_response_norm computes it."""

    kind = "lrn"
    words = ("LRN",)
    settings = (Setting("size", "size", "int", 5),)
    positional = "size"
    packs_params = False
    params = nothing_learned
    # F.local_response_norm's 19 operations peak at the fourth, four input volumes above the state before
    # it (the divisor's gradient), or at avg_pool3d's backward, the padded square above it (higher where
    # C + size - 1 > 4C: one channel at size 5), and end with the input's gradient (measured, torch 2.13)
    backward = ((("temp", 4),), (("temp", lambda self, x: self.padded(x)),), ("input",))
    autocast = FLOAT32  # avg_pool3d is a float32 operation of CPU autocast: amp_forward, amp_backward

    def padded(self, x: Volume) -> int:
        """The padded square's values: (C + size - 1)*H*W."""
        return (x.c + self.size - 1) * x.h * x.w

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return True, False, (self.padded(x) + 2 * x.size) * size, 0

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        # unrecorded, F.local_response_norm holds the square and then its padded copy P, or three volumes
        return max(self.padded(step.x), 2 * step.x.size) * size * batch

    def packs_after_op(self, step) -> bool:
        return False

    def checkpointed(self, step, size: int, device: str, batch: int) -> int:
        return self.transient(step, True, size, device, batch)  # its operations' intermediates, as unrecorded

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "lrn", f"nn.LocalResponseNorm({self.size})"

    # -- under autocast, on a low-precision input (CPU autocast's rules, measured with MemTracker) --------
    def amp_forward(self, sim, index: int, s) -> None:
        """Square and pad in low precision, then avg_pool3d (a float32 op of CPU autocast) on a float32
        copy; the rest promotes to float32."""
        t, N, low, F32 = sim.t, sim.N, sim.low, 4
        X = s.x.size * N
        P = self.padded(s.x) * N
        k = ("lrn", index)
        t.alloc((k, "sq"), low * X, "other")
        t.alloc((k, "pad"), low * P, "other")
        t.sample("forward", index)
        t.free((k, "sq"))
        t.alloc((k, "P32"), F32 * P, "saved")  # saved by avg_pool3d
        t.sample("forward", index)
        t.alloc((k, "avg"), F32 * X, "other")
        t.sample("forward", index)
        t.free((k, "pad"))
        t.alloc((k, "mul"), F32 * X, "other")
        t.sample("forward", index)
        t.alloc((k, "add"), F32 * X, "saved")  # saved by pow
        t.sample("forward", index)
        t.free((k, "mul"))
        t.alloc((k, "pow"), F32 * X, "saved")  # saved by div
        t.sample("forward", index)
        t.free((k, "avg"))
        sim.dt[s.sid_out] = F32
        t.alloc(s.sid_out, sim.vol(s.sid_out), "activation")
        t.sample("forward", index)
        t.keep(sim.input_storage(s), +1)  # x (what a channel split's half views), saved by mul and div

    def amp_backward(self, sim, index: int, s) -> None:
        t, N, low, F32 = sim.t, sim.N, sim.low, 4
        X = s.x.size * N
        P = self.padded(s.x) * N
        k = ("lrnb", index)
        f = ("lrn", index)
        g = sim.grads.pop(s.sid_out)
        # div's backward: the other's gradient -grad*((x/div)/div), then the input's grad/div
        for name in ("t1", "t2", "neg", "go"):
            t.alloc((k, name), F32 * X, "other")
            t.sample("backward", index)
        t.alloc((k, "gs32"), F32 * X, "other")
        for name in ("t1", "t2", "neg"):
            t.free((k, name))
        t.sample("backward", index)
        t.alloc((k, "gs"), low * X, "other")  # cast to x's dtype by the engine
        t.sample("backward", index)
        t.free((k, "gs32"))
        sim.unref(g)
        t.free((f, "pow"))
        # pow's backward
        for name in ("pw", "ms", "gadd"):
            t.alloc((k, name), F32 * X, "other")
            t.sample("backward", index)
        t.free((k, "pw"))
        t.free((k, "ms"))
        t.free((k, "go"))
        t.free((f, "add"))
        # mul(alpha)'s backward
        t.alloc((k, "ga"), F32 * X, "other")
        t.sample("backward", index)
        t.free((k, "gadd"))
        # avg_pool3d's backward
        t.alloc((k, "gp32"), F32 * P, "other")
        t.sample("backward", index)
        t.free((k, "ga"))
        t.free((f, "P32"))
        t.alloc((k, "gp"), low * P, "other")  # the cast's backward
        t.sample("backward", index)
        t.free((k, "gp32"))
        t.alloc((k, "gpad"), low * X, "other")  # pad's backward
        t.sample("backward", index)
        t.free((k, "gp"))
        # x*x's backward: two products, summed with div's
        t.alloc((k, "m1"), low * X, "other")
        t.sample("backward", index)
        t.alloc((k, "m2"), low * X, "other")
        t.sample("backward", index)
        t.free((k, "gpad"))
        t.keep(sim.input_storage(s), -1)
        sim.release(sim.input_storage(s))
        t.alloc((k, "a1"), low * X, "other")
        t.sample("backward", index)
        t.free((k, "m1"))
        t.alloc((k, "a2"), low * X, "other")
        t.sample("backward", index)
        for name in ("a1", "m2", "gs"):
            t.free((k, name))
        sim.hand_on(s.sids_in[0], (k, "a2"), index)

    def amp_evaluate(self, x: Volume, din: int, low: int, batch: int, size: int, device: str) -> tuple[int, int]:
        """In evaluation under autocast: (its output's dtype bytes, what it makes beside its output)."""
        if din != low:
            return din, max(self.padded(x), 2 * x.size) * din * batch
        X, P, F32 = x.size * batch, self.padded(x) * batch, 4
        # square and pad (low), the float32 copy of the padded square, avg_pool3d's output; then (the padded
        # tensors gone, nothing saved) three float32 volumes: avg, mul, add / pow
        return F32, max(low * X + low * P, low * P + F32 * P + F32 * X, 3 * F32 * X) - F32 * X
